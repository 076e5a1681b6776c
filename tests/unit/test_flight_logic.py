"""Pure parts of the flight: mission upload state machine, photo records and matching,
photo files, the flight folder, option validation."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest

from inspection.flight import (
    FlightError,
    FlightFolder,
    FlightTimeouts,
    MissionUpload,
    find_photo_files,
    match_to_plan,
    record_from_feedback,
)
from inspection.flight._dronekit import check_connection_string, split_connection_string
from inspection.geo import destination
from inspection.mission import MissionItem, home_item

LAT0, LON0 = 36.5590, 139.8980


def _items(n: int) -> list[MissionItem]:
    wp = MissionItem(command=16, frame=3, x=LAT0, y=LON0, z=30.0)
    return [home_item(LAT0, LON0), *([wp] * (n - 1))]


# -- mission upload --------------------------------------------------------------------------


def _run(up: MissionUpload, script: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Feed vehicle messages; return what the uploader sent, as 'NAME[:seq]'."""
    sent = [o.name for o in up.start(0.0)]
    for t, (name, fields) in enumerate(script, start=1):
        for out in up.receive(name, fields, float(t) * 0.01):
            sent.append(f"{out.name}:{out.fields['seq']}" if "seq" in out.fields else out.name)
    return sent


@pytest.mark.parametrize(
    ("script", "sent", "done", "error"),
    [
        # ArduPilot asks with MISSION_REQUEST, the spec with MISSION_REQUEST_INT: both answered.
        (
            [
                ("MISSION_REQUEST", {"seq": 0}),
                ("MISSION_REQUEST_INT", {"seq": 1}),
                ("MISSION_REQUEST", {"seq": 2}),
                ("MISSION_ACK", {"type": 0}),
            ],
            ["MISSION_COUNT", "MISSION_ITEM_INT:0", "MISSION_ITEM_INT:1", "MISSION_ITEM_INT:2"],
            True,
            None,
        ),
        # A repeated request (our item was lost) is answered again.
        (
            [
                ("MISSION_REQUEST", {"seq": 0}),
                ("MISSION_REQUEST", {"seq": 0}),
                ("MISSION_REQUEST", {"seq": 1}),
                ("MISSION_REQUEST", {"seq": 2}),
                ("MISSION_ACK", {"type": 0}),
            ],
            [
                "MISSION_COUNT",
                "MISSION_ITEM_INT:0",
                "MISSION_ITEM_INT:0",
                "MISSION_ITEM_INT:1",
                "MISSION_ITEM_INT:2",
            ],
            True,
            None,
        ),
        # An ACCEPTED before the last item belongs to another transfer: not success.
        (
            [("MISSION_ACK", {"type": 0}), ("MISSION_REQUEST", {"seq": 0})],
            ["MISSION_COUNT", "MISSION_ITEM_INT:0"],
            False,
            None,
        ),
        ([("MISSION_ACK", {"type": 4})], ["MISSION_COUNT"], False, "MAV_MISSION_NO_SPACE"),
        ([("MISSION_ACK", {"type": 99})], ["MISSION_COUNT"], False, "MAV_MISSION_RESULT 99"),
        ([("MISSION_REQUEST", {"seq": 7})], ["MISSION_COUNT"], False, "asked for item 7"),
    ],
)
def test_mission_upload(
    script: list[tuple[str, dict[str, Any]]], sent: list[str], done: bool, error: str | None
) -> None:
    up = MissionUpload(_items(3))
    assert _run(up, script) == sent
    assert up.done is done
    if error is None:
        assert up.error is None
    else:
        assert up.error is not None and error in up.error


def test_mission_upload_resends_then_gives_up() -> None:
    up = MissionUpload(_items(2))
    up.start(0.0)
    assert up.tick(1.0) == []  # not silent long enough yet
    resent = [o.name for t in range(1, 10) for o in up.tick(t * 1.6)]
    assert resent == ["MISSION_COUNT"] * 5
    assert up.error is not None and "no answer" in up.error


def test_mission_item_int_fields() -> None:
    up = MissionUpload(_items(2))
    up.start(0.0)
    (out,) = up.receive("MISSION_REQUEST", {"seq": 1}, 0.1)
    f = out.fields
    assert f["x"] == round(LAT0 * 1e7) and f["y"] == round(LON0 * 1e7) and f["z"] == 30.0
    assert f["frame"] == 3 and f["command"] == 16 and f["autocontinue"] == 1


# -- photo records ---------------------------------------------------------------------------


def _feedback(idx: int, lat: float, lon: float, **kw: Any) -> dict[str, Any]:
    f = {
        "time_usec": 1_700_000_000_500_000,
        "img_idx": idx,
        "lat": round(lat * 1e7),
        "lng": round(lon * 1e7),
        "alt_msl": 130.0,
        "alt_rel": 30.0,
        "roll": 0.5,
        "pitch": -3.0,
        "yaw": -80.0,
    }
    f.update(kw)
    return f


def test_record_from_camera_feedback() -> None:
    r = record_from_feedback(_feedback(3, LAT0, LON0), gimbal_pitch_deg=-45.0)
    assert r.img_idx == 3 and r.time_unix_s == pytest.approx(1_700_000_000.5)
    assert r.lat_deg == pytest.approx(LAT0, abs=1e-7) and r.alt_rel_m == 30.0
    # The camera looks along the nose at the commanded pitch; yaw normalised to [0, 360).
    assert r.camera_heading_deg == pytest.approx(280.0) and r.camera_pitch_deg == -45.0
    assert (
        record_from_feedback(_feedback(1, 0, 0, time_usec=0), gimbal_pitch_deg=-90.0).time_unix_s
        is None
    )


def test_match_to_plan_measures_error_and_cross_track() -> None:
    planned = [destination(LAT0, LON0, 90.0, d) for d in (0.0, 10.0, 20.0, 30.0)]
    beside = destination(*destination(LAT0, LON0, 90.0, 12.0), 0.0, 1.5)  # 2 m on, 1.5 m off
    recs = [
        record_from_feedback(_feedback(1, *planned[0]), gimbal_pitch_deg=-45.0),
        record_from_feedback(_feedback(2, *beside), gimbal_pitch_deg=-45.0),
    ]
    out = match_to_plan(recs, planned, [0, 0, 0, 0])
    assert out[0].planned_index == 0 and out[0].planned_error_m == pytest.approx(0.0, abs=0.01)
    assert out[1].planned_index == 1
    assert out[1].planned_error_m == pytest.approx(math.hypot(2.0, 1.5), abs=0.02)
    assert out[1].cross_track_m == pytest.approx(1.5, abs=0.02)
    assert match_to_plan(recs, []) == recs


def test_find_photo_files(tmp_path: Path) -> None:
    for name in ("IMG_0001.jpg", "IMG_0002.JPG", "DSC00003.jpeg", "notes.txt", "cover.jpg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "IMG_0002.jpg").write_bytes(b"x")  # same number twice (case differs)
    files, warnings = find_photo_files(tmp_path)
    assert sorted(files) == [1, 2, 3]
    assert any("cover.jpg" in w for w in warnings)
    assert any("image number 2" in w for w in warnings)


# -- flight folder ---------------------------------------------------------------------------


def test_flight_folder_collects_photos_and_writes_poses(tmp_path: Path) -> None:
    plan = tmp_path / "m.plan"
    plan.write_text("{}", encoding="utf-8")
    cam = tmp_path / "sd"
    cam.mkdir()
    (cam / "IMG_0001.jpg").write_bytes(b"jpeg")
    (cam / "IMG_0001.txt").write_text("0 0.5 0.5 0.1 0.1\n", encoding="utf-8")
    (cam / "IMG_0001.json").write_text(
        json.dumps({"pose": {"heading_deg": 91.0, "pitch_deg": -44.0, "roll_deg": 0.2}}), "utf-8"
    )
    (cam / "IMG_0009.jpg").write_bytes(b"stray")
    folder = FlightFolder(tmp_path / "flight")
    folder.prepare(plan)
    recs = [record_from_feedback(_feedback(i, LAT0, LON0), gimbal_pitch_deg=-45.0) for i in (1, 2)]
    out, missing, warnings = folder.collect_photos(recs, cam)
    assert missing == [2]
    assert out[0].photo == "IMG_0001.jpg" and out[0].labels == "IMG_0001.txt"
    assert (out[0].camera_heading_deg, out[0].camera_pitch_deg) == (91.0, -44.0)
    assert any("no CAMERA_FEEDBACK" in w and "[9]" in w for w in warnings)
    folder.write_poses(out)
    csv_text = (tmp_path / "flight" / "poses.csv").read_bytes()
    assert csv_text.startswith(b"\xef\xbb\xbf")  # BOM: Excel in Japan reads UTF-8
    geo = json.loads((tmp_path / "flight" / "poses.geojson").read_text(encoding="utf-8"))
    assert geo["features"][0]["properties"]["photo"] == "IMG_0001.jpg"
    folder.write_summary({"status": "ok"})
    with pytest.raises(FlightError, match="already holds a flight"):
        FlightFolder(tmp_path / "flight").prepare(plan)


def test_flight_log_does_not_change_the_console(tmp_path: Path) -> None:
    plan = tmp_path / "m.plan"
    plan.write_text("{}", encoding="utf-8")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    console = Collect()
    root = logging.getLogger()
    root.addHandler(console)
    lg = logging.getLogger("inspection.flight.test")
    before = (logging.getLogger("inspection").level, logging.getLogger("inspection").propagate)
    try:
        folder = FlightFolder(tmp_path / "f")
        folder.prepare(plan)
        folder.open_log()
        lg.info("for the file only")
        lg.warning("for both")
        folder.close_log()
    finally:
        root.removeHandler(console)
    log_text = (tmp_path / "f" / "flight.log").read_text(encoding="utf-8")
    assert "for the file only" in log_text and "for both" in log_text
    if root.getEffectiveLevel() > logging.INFO:
        assert seen == ["for both"]
    after = logging.getLogger("inspection")
    assert (after.level, after.propagate) == before


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/dev/ttyUSB0,57600", ("/dev/ttyUSB0", 57600)),
        ("COM4,115200", ("COM4", 115200)),
        ("udp:127.0.0.1:14550", ("udp:127.0.0.1:14550", None)),
        ("udpout:10.0.0.2:14560", ("udpout:10.0.0.2:14560", None)),
        ("tcp:127.0.0.1:5760", ("tcp:127.0.0.1:5760", None)),
    ],
)
def test_connection_strings(text: str, expected: tuple[str, int | None]) -> None:
    assert split_connection_string(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "udp:127.0.0.1:14550",
        "udpout:10.0.0.2:14560",
        "tcp:localhost:5760",
        "/dev/ttyUSB0,57600",
        "/dev/ttyACM0",
        "COM4,115200",
    ],
)
def test_good_connection_strings(text: str) -> None:
    check_connection_string(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("udp:127.0.0.1", "expected udp:HOST:PORT"),
        ("udpout:host:port", "expected udpout:HOST:PORT"),
        ("tcp:127.0.0.1:70000", "expected tcp:HOST:PORT"),
        ("http://x:1", "unknown scheme 'http'"),
        ("", "serial DEVICE"),
    ],
)
def test_bad_connection_strings(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_connection_string(text)


def test_timeouts_validate() -> None:
    with pytest.raises(ValueError, match="armable_s must be positive"):
        FlightTimeouts(armable_s=0.0)
    assert FlightTimeouts(total_s=None).total_s is None
