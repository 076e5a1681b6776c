"""Mission planning: corridor validation, footprint maths, legs, trigger points, limits."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspection.camera import CameraIntrinsics
from inspection.geo import LocalFrame, destination
from inspection.mission import (
    Corridor,
    CorridorError,
    MissionParams,
    PlanError,
    PlanLimitError,
    PlanLimits,
    compute_footprint,
    corridor_from_geojson,
    load_corridor,
    mission_items,
    plan_mission,
    validate_corridor_coordinates,
    waypoints_text,
)
from inspection.mission._geometry import (
    distance_to_polyline,
    distance_trigger_points,
    find_self_intersection,
    offset_polyline,
    point_in_polygon,
)
from inspection.mission._mavlink_items import (
    MAV_CMD_CONDITION_YAW,
    MAV_CMD_DO_CHANGE_SPEED,
    MAV_CMD_DO_MOUNT_CONTROL,
    MAV_CMD_DO_SET_CAM_TRIGG_DIST,
    MAV_CMD_NAV_RETURN_TO_LAUNCH,
    MAV_CMD_NAV_TAKEOFF,
    MAV_CMD_NAV_WAYPOINT,
)
from inspection.mission._model import Side

LAT0, LON0 = 36.5590, 139.8980  # Utsunomiya, near the shipped example corridor
EXAMPLE = (
    Path(__file__).resolve().parents[2] / "firmware_sim/world/data/utsunomiya_corridor.geojson"
)


def _line(*en: tuple[float, float]) -> list[list[float]]:
    """[lon, lat] positions from (east, north) metres around (LAT0, LON0)."""
    f = LocalFrame(LAT0, LON0)
    out = []
    for e, n in en:
        lat, lon, _ = f.to_geodetic(e, n, 0.0)
        out.append([lon, lat])
    return out


def _straight(length_m: float = 400.0, bearing: float = 90.0) -> Corridor:
    lat, lon = destination(LAT0, LON0, bearing, length_m)
    return Corridor(((LON0, LAT0), (lon, lat)))


def _enu(corridor: Corridor, latlon: tuple[tuple[float, float], ...]) -> np.ndarray:
    f = corridor.frame
    lat = np.array([p[0] for p in latlon])
    lon = np.array([p[1] for p in latlon])
    return f.to_enu_array(lat, lon, np.zeros_like(lat))[:, :2]


# -- corridor input ------------------------------------------------------------------------

GOOD = _line((0, 0), (100, 0), (200, 50))
WORLD_LIKE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "corridor",
            "properties": {"feature_type": "corridor"},
            "geometry": {"type": "LineString", "coordinates": GOOD},
        },
        {
            "type": "Feature",
            "properties": {"feature_type": "fixture", "kind": "guardrail"},
            "geometry": {"type": "LineString", "coordinates": _line((10, 8), (30, 8))},
        },
        {
            "type": "Feature",
            "properties": {"feature_type": "fixture", "kind": "sign"},
            "geometry": {"type": "Point", "coordinates": GOOD[0]},
        },
    ],
}


@pytest.mark.parametrize(
    ("doc", "n_vertices"),
    [
        ({"type": "LineString", "coordinates": GOOD}, 3),
        (
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": GOOD},
            },
            3,
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "LineString", "coordinates": GOOD}}
                ],
            },
            3,
        ),
        (WORLD_LIKE, 3),
        # A vertex drawn twice (GIS double-click) is one vertex.
        ({"type": "LineString", "coordinates": [GOOD[0], GOOD[0], *GOOD[1:]]}, 3),
        # Positions with an altitude are accepted; the altitude is ignored.
        ({"type": "LineString", "coordinates": [[*p, 120.0] for p in GOOD]}, 3),
    ],
)
def test_corridor_inputs_accepted(doc: dict[str, Any], n_vertices: int) -> None:
    c = corridor_from_geojson(doc, source="t.geojson")
    assert len(c.lonlat) == n_vertices
    assert c.length_m == pytest.approx(100 + math.hypot(100, 50), abs=0.05)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"type": "Point", "coordinates": GOOD[0]}, "expected a LineString"),
        ({"type": "MultiLineString", "coordinates": [GOOD]}, "MultiLineString"),
        ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}}, "'Polygon'"),
        ({"type": "FeatureCollection", "features": []}, "no LineString feature"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "LineString", "coordinates": GOOD}},
                    {"type": "Feature", "geometry": {"type": "LineString", "coordinates": GOOD}},
                ],
            },
            "none marked as the corridor",
        ),
        ({"type": "LineString", "coordinates": [GOOD[0]]}, "at least 2 positions"),
        ({"type": "LineString", "coordinates": "0,0 1,1"}, "list of [lon, lat]"),
        (
            {"type": "LineString", "coordinates": [[LAT0, LON0], [LAT0, LON0 + 0.01]]},
            "did you swap them",
        ),
        ({"type": "LineString", "coordinates": [GOOD[0], ["a", 1]]}, "position 1"),
        ({"type": "LineString", "coordinates": [GOOD[0], [math.nan, 36.0]]}, "not finite"),
        ({"type": "LineString", "coordinates": [GOOD[0], GOOD[0]]}, "same point"),
        ({"type": "LineString", "coordinates": _line((0, 0), (30, 0))}, "at least 50 m"),
        # A Z whose last stroke crosses its first.
        # Retraced along a parallel of latitude: not exactly collinear in the local frame.
        (
            {
                "type": "LineString",
                "coordinates": [[139.898, 36.559], [139.896, 36.559], [139.897, 36.559]],
            },
            "turns back on itself at position 1",
        ),
        (
            {"type": "LineString", "coordinates": _line((0, 0), (100, 0), (0, 60), (50, -40))},
            "crosses or touches itself: segment 0",
        ),
        # Touching: a vertex lying exactly on an earlier segment.
        (
            {"type": "LineString", "coordinates": _line((0, 0), (100, 0), (100, 50), (50, 0))},
            "crosses or touches itself",
        ),
        (
            {"type": "LineString", "coordinates": _line((0, 0), (100, 0), (40, 0))},
            "turns back on itself at position 1",
        ),
        (
            {"type": "LineString", "coordinates": _line((0, 0), (100, 0), (100, 80), (0, 0))},
            "a loop",
        ),
    ],
)
def test_corridor_inputs_rejected(doc: Any, message: str) -> None:
    with pytest.raises(CorridorError, match=None) as info:
        corridor_from_geojson(doc, source="bad.geojson")
    assert message in str(info.value)
    assert str(info.value).startswith("bad.geojson: ")


def test_load_corridor_file_errors(tmp_path: Path) -> None:
    with pytest.raises(CorridorError, match="file not found"):
        load_corridor(tmp_path / "missing.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "LineString", "coordinates": [', encoding="utf-8")
    with pytest.raises(CorridorError, match=r"bad.geojson: not valid JSON \(line 1"):
        load_corridor(bad)
    world_dir = tmp_path / "world"
    world_dir.mkdir()
    (world_dir / "world.geojson").write_text(json.dumps(WORLD_LIKE), encoding="utf-8")
    assert len(load_corridor(world_dir).lonlat) == 3


def test_shipped_example_corridor_loads() -> None:
    c = load_corridor(EXAMPLE)
    assert 900 < c.length_m < 1100


def test_validate_corridor_is_usable_on_its_own() -> None:
    """The pure check firmware_sim.world can share: returns cleaned (lon, lat) tuples."""
    out = validate_corridor_coordinates(GOOD)
    assert out == tuple((p[0], p[1]) for p in GOOD)


@pytest.mark.parametrize(
    ("pts", "hit"),
    [
        ([(0, 0), (10, 0), (10, 10)], None),
        ([(0, 0), (10, 0), (5, 5), (5, -5)], (0, 2)),
        ([(0, 0), (10, 0), (10, 10), (0, 10), (0, 1)], None),  # a near-loop that stays open
        ([(0, 0), (10, 0), (5, 0)], (0, 1)),  # fold back
        ([(0, 0), (10, 0), (5, 0.001)], (0, 1)),  # fold back within a millimetre
        ([(0, 0), (10, 0), (5, 0.1)], None),  # a hairpin, 10 cm apart: no contact
        ([(0, 0), (10, 0), (10, 10), (5, 0)], (0, 2)),  # touch at a vertex
    ],
)
def test_find_self_intersection(pts: list[tuple[float, float]], hit: Any) -> None:
    assert find_self_intersection(np.array(pts, dtype=float)) == hit


# -- footprint and trigger distance ----------------------------------------------------------


@pytest.mark.parametrize(
    ("alt", "pitch"),
    [(30.0, -90.0), (30.0, -45.0), (50.0, -60.0), (25.0, -40.0)],
)
def test_footprint_matches_closed_form(alt: float, pitch: float) -> None:
    cam = CameraIntrinsics.from_hfov(1000, 600, 80.0)
    fp = compute_footprint(MissionParams(alt_m=alt, gimbal_pitch_deg=pitch, camera=cam))
    half_v = math.atan((cam.height_px / 2) / cam.fy_px)
    dep = math.radians(-pitch)
    near = alt / math.tan(dep + half_v)
    far = alt / math.tan(dep - half_v)
    assert fp.near_m == pytest.approx(near, rel=1e-6)
    assert fp.far_m == pytest.approx(far, rel=1e-6)
    assert fp.length_m == pytest.approx(far - near, rel=1e-6)
    assert fp.centre_m == pytest.approx(alt / math.tan(dep), abs=1e-6)
    slant = alt / math.sin(dep)
    assert fp.centre_width_m == pytest.approx(2 * slant * 500 / cam.fx_px, rel=1e-3)


def test_trigger_distance_is_footprint_times_one_minus_overlap() -> None:
    for overlap in (0.5, 0.75, 0.9):
        params = MissionParams(forward_overlap=overlap)
        plan = plan_mission(_straight(), params)
        assert plan.trigger_distance_m == pytest.approx(
            compute_footprint(params).length_m * (1 - overlap)
        )


def test_distance_trigger_follows_ardupilot_rule() -> None:
    # Straight: every D along the path, first photo at the start.
    shots = distance_trigger_points(np.array([[0.0, 0.0], [100.0, 0.0]]), 10.0)
    assert len(shots) == 11
    assert np.allclose(np.diff(shots[:, 0]), 10.0, atol=0.06)
    # Around a right angle the straight-line distance from the last photo decides.
    shots = distance_trigger_points(np.array([[0.0, 0.0], [15.0, 0.0], [15.0, 15.0]]), 10.0)
    gaps = np.linalg.norm(np.diff(shots, axis=0), axis=1)
    assert np.allclose(gaps, 10.0, atol=0.06)


# -- legs, coverage, items -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sides", "lateral"), [("left", [12.0]), ("right", [-12.0]), ("both", [12.0, -12.0])]
)
def test_legs_fly_beside_the_corridor(sides: Side, lateral: list[float]) -> None:
    corridor = _straight(400.0, bearing=90.0)  # eastwards: left = north
    plan = plan_mission(corridor, MissionParams(sides=sides, offset_m=12.0))
    assert [leg.side for leg in plan.legs] == (["left", "right"] if sides == "both" else [sides])
    for leg, lat_off in zip(plan.legs, lateral, strict=True):
        wps = _enu(corridor, leg.waypoints)
        assert np.allclose(wps[:, 1], lat_off, atol=0.05)
        trig = _enu(corridor, leg.triggers)
        gaps = np.linalg.norm(np.diff(trig, axis=0), axis=1)
        assert np.allclose(gaps, plan.trigger_distance_m, atol=0.1)
    if sides == "both":  # out along the left, back along the right
        assert _enu(corridor, plan.legs[1].waypoints)[0, 0] > 300


@pytest.mark.parametrize(
    ("overlap", "pitch"), [(0.5, -45.0), (0.75, -45.0), (0.6, -90.0), (0.8, -60.0)]
)
def test_every_corridor_point_is_in_two_photos(overlap: float, pitch: float) -> None:
    """The planning promise: with overlap >= 50 % each point of the centre line lies in the
    centre-column footprint [near, far] ahead of at least two planned photos, on each leg."""
    corridor = _straight(300.0, bearing=30.0)
    params = MissionParams(forward_overlap=overlap, gimbal_pitch_deg=pitch, sides="both")
    plan = plan_mission(corridor, params)
    fp = plan.footprint
    xy = corridor.enu()
    u = (xy[1] - xy[0]) / np.linalg.norm(xy[1] - xy[0])
    for k, leg in enumerate(plan.legs):
        direction = u if k == 0 else -u
        along = _enu(corridor, leg.triggers) @ direction
        for s in np.arange(0.0, corridor.length_m + 0.01, 1.0):
            g = (xy[0] + s * u) @ direction
            ahead = g - along
            seen = np.count_nonzero((ahead >= fp.near_m - 1e-6) & (ahead <= fp.far_m + 1e-6))
            assert seen >= 2, f"leg {k}: point {s:.0f} m along the corridor in {seen} photos"


def test_expected_photo_count() -> None:
    plan = plan_mission(_straight(500.0), MissionParams(sides="left"))
    leg = plan.legs[0]
    assert plan.expected_photos == len(leg.triggers)
    d = plan.trigger_distance_m
    assert len(leg.triggers) == math.floor(leg.length_m / d + 1e-9) + 1
    # Leg = corridor + run-in (centre + D) + run-out (D - centre), lengthened so that it ends
    # D - 1 m after the last photo (photos lag a little; a waypoint counts as reached early).
    assert plan.corridor.length_m + 2 * d - 0.01 <= leg.length_m
    assert leg.length_m <= plan.corridor.length_m + 3 * d + 0.01
    end = _enu(plan.corridor, leg.waypoints[-1:])[0]
    last = _enu(plan.corridor, leg.triggers[-1:])[0]
    assert float(np.linalg.norm(end - last)) == pytest.approx(d - 1.0, abs=0.01)


def test_geofence_holds_the_route() -> None:
    corridor = corridor_from_geojson(
        {"type": "LineString", "coordinates": _line((0, 0), (150, 20), (300, 120), (420, 130))}
    )
    plan = plan_mission(corridor)
    fence = _enu(corridor, plan.geofence)
    for leg in plan.legs:
        for p in _enu(corridor, leg.waypoints):
            assert point_in_polygon(p, fence)
    assert point_in_polygon(_enu(corridor, (plan.home,))[0], fence)
    # The fence hugs the corridor: no vertex farther than offset + margin + run-in.
    xy = corridor.enu()
    reach = 12.0 + 15.0 + plan.footprint.centre_m + 2 * plan.trigger_distance_m
    assert max(distance_to_polyline(p, xy) for p in fence) <= reach * 1.5


def test_mission_items_layout() -> None:
    plan = plan_mission(
        _straight(), MissionParams(sides="both", speed_m_s=6.0, gimbal_pitch_deg=-50.0)
    )
    items = mission_items(plan)
    wp, trig, speed, mount, rtl, yaw = (
        MAV_CMD_NAV_WAYPOINT,
        MAV_CMD_DO_SET_CAM_TRIGG_DIST,
        MAV_CMD_DO_CHANGE_SPEED,
        MAV_CMD_DO_MOUNT_CONTROL,
        MAV_CMD_NAV_RETURN_TO_LAUNCH,
        MAV_CMD_CONDITION_YAW,
    )
    # ArduPilot runs DO items when the NAV item before them starts: see _mavlink_items.
    # fmt: off
    assert [it.command for it in items] == [
        MAV_CMD_NAV_TAKEOFF,
        wp, speed, mount, yaw,  # to leg 0's start: speed, gimbal, nose along the leg
        wp, trig,  # leaving leg 0's start: camera on
        wp, trig, yaw,  # to leg 1's start: camera off (leg 0 done), nose along leg 1
        wp, trig,  # leaving leg 1's start: camera on
        rtl, trig,  # home: camera off
    ]
    # fmt: on
    assert items[2].param2 == 6.0 and items[3].param1 == -50.0 and items[3].z == 2.0
    assert items[1].param1 == 2.0 and items[7].param1 == 2.0  # hold at each leg start
    assert items[4].param1 == pytest.approx(90.0, abs=0.5)  # the corridor runs east
    assert items[9].param1 == pytest.approx(270.0, abs=0.5)  # leg 1 comes back west
    trigs = [it for it in items if it.command == trig]
    assert [(t.param1 > 0, t.param3) for t in trigs] == [(True, 1.0), (False, 0.0)] * 2
    assert trigs[0].param1 == pytest.approx(plan.trigger_distance_m)
    wps = [it for it in items if it.command == MAV_CMD_NAV_WAYPOINT]
    assert len(wps) == sum(len(leg.waypoints) for leg in plan.legs)
    assert all(w.z == plan.params.alt_m for w in wps)
    f = wps[0].int_fields(5)
    assert f["x"] == round(wps[0].x * 1e7) and f["seq"] == 5 and f["frame"] == 3
    with_home = mission_items(plan, with_home=True)
    assert with_home[0].frame == 0 and len(with_home) == len(items) + 1


def test_waypoints_text_is_qgc_wpl_110() -> None:
    plan = plan_mission(_straight())
    lines = waypoints_text(plan).splitlines()
    assert lines[0] == "QGC WPL 110"
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 12 for r in rows)
    assert [int(r[0]) for r in rows] == list(range(len(rows)))
    assert rows[0][1] == "1" and all(r[1] == "0" for r in rows[1:])
    assert len(rows) == len(mission_items(plan)) + 1


# -- limits ----------------------------------------------------------------------------------


def _tight_bend() -> Corridor:
    return corridor_from_geojson(
        {"type": "LineString", "coordinates": _line((0, 0), (100, 0), (100, 8), (0, 8.5))}
    )


@pytest.mark.parametrize(
    ("corridor", "params", "limits", "error", "message"),
    [
        (None, {"alt_m": 200.0}, {}, PlanLimitError, "above the limit of 149 m"),
        (None, {"alt_m": 12.0}, {}, PlanLimitError, "below the minimum of 20 m"),
        (None, {"alt_m": 60.0}, {"max_alt_m": 50.0}, PlanLimitError, "above the limit of 50 m"),
        (None, {"speed_m_s": 18.0}, {}, PlanLimitError, "at most 15 m/s"),
        (None, {"forward_overlap": 0.3}, {}, PlanLimitError, "only one photo"),
        (None, {"gimbal_pitch_deg": -10.0}, {}, PlanLimitError, "reaches the horizon"),
        (None, {"gimbal_pitch_deg": 10.0}, {}, PlanLimitError, "must be in [-90, 0)"),
        (
            None,
            {"alt_m": 20.0, "gimbal_pitch_deg": -90.0, "forward_overlap": 0.9, "speed_m_s": 12.0},
            {},
            PlanLimitError,
            "faster than the camera",
        ),
        ("long", {}, {}, PlanLimitError, "split the corridor"),
        (None, {}, {"battery_endurance_s": 120.0}, PlanLimitError, "the battery allows 1.4 min"),
        (
            None,
            {"home": destination(LAT0, LON0, 0.0, 300.0)},
            {},
            PlanLimitError,
            "outside the geofence",
        ),
        (
            None,
            {
                "offset_m": 80.0,
                "alt_m": 20.0,
                "gimbal_pitch_deg": -90.0,
                "speed_m_s": 2.0,
                "sides": "left",
            },
            {},
            PlanLimitError,
            "centre line is out of view",
        ),
        ("bend", {"offset_m": 12.0}, {}, PlanError, "bends too tightly"),
    ],
)
def test_limits(
    corridor: str | None,
    params: dict[str, Any],
    limits: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    c = {"long": _straight(9000.0), "bend": _tight_bend(), None: _straight()}[corridor]
    with pytest.raises(error) as info:
        plan_mission(c, MissionParams(**params), PlanLimits(**limits))
    assert message in str(info.value)


def test_battery_error_says_how_long_a_corridor_fits() -> None:
    with pytest.raises(PlanLimitError) as info:
        plan_mission(_straight(4000.0))
    err = info.value
    assert err.name == "flight_time_s" and err.value > err.limit
    fits = float(str(err).split("at most ~")[1].split(" m")[0])
    # The suggested length really fits.
    plan_mission(_straight(fits * 0.98))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sides": "middle"}, "sides must be"),
        ({"offset_m": -3.0}, "offset_m must be >= 0"),
        ({"alt_m": math.inf}, "alt_m must be finite"),
        ({"speed_m_s": "fast"}, "speed_m_s must be a number"),
        ({"home": (95.0, 139.0)}, "not a valid latitude"),
    ],
)
def test_mission_params_validate(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        MissionParams(**kwargs)


def test_narrow_view_warns() -> None:
    narrow = CameraIntrinsics.from_hfov(1280, 720, 20.0)
    plan = plan_mission(
        _straight(),
        MissionParams(camera=narrow, sides="left", offset_m=2.0, alt_m=20.0, speed_m_s=1.0),
    )
    assert any("not the whole" in w for w in plan.warnings)


def test_offset_polyline_keeps_distance_on_bends() -> None:
    pts = np.array([[0.0, 0.0], [100.0, 0.0], [150.0, 60.0], [300.0, 60.0]])
    for offset in (10.0, -10.0):
        off = offset_polyline(pts, offset)
        assert len(off) == len(pts)  # gentle bends: mitred, no bevel vertices
        for a, b in itertools.pairwise(off):
            assert distance_to_polyline((a + b) / 2, pts) == pytest.approx(10.0, abs=0.01)
        assert min(distance_to_polyline(p, pts) for p in off) == pytest.approx(10.0, abs=0.01)


# -- the `inspect plan` command ----------------------------------------------------------------


def _plan_cli(*argv: str) -> int:
    import argparse

    from inspection.mission.cli import add_parser

    parser = argparse.ArgumentParser(prog="michimori inspect")
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["plan", *argv])
    return int(args.func(args))


def test_cli_plans_the_example_corridor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "u.plan"
    wpl = tmp_path / "u.waypoints"
    code = _plan_cli("--corridor", str(EXAMPLE), "--out", str(out), "--waypoints", str(wpl))
    assert code == 0
    text = capsys.readouterr().out
    assert "photos     one every" in text and f"wrote      {out}" in text
    assert json.loads(out.read_text(encoding="utf-8"))["fileType"] == "Plan"
    assert wpl.read_text(encoding="utf-8").startswith("QGC WPL 110\n")


@pytest.mark.parametrize(
    ("corridor", "extra", "message"),
    [
        ('{"type": "LineString", "coordinates": [[139.9, 36.5]]}', (), "at least 2 positions"),
        ("{nope", (), "not valid JSON"),
        (
            json.dumps(
                {"type": "LineString", "coordinates": _line((0, 0), (100, 0), (0, 60), (50, -40))}
            ),
            (),
            "crosses or touches itself",
        ),
        (
            json.dumps({"type": "LineString", "coordinates": _line((0, 0), (9000, 0))}),
            (),
            "split the corridor",
        ),
        (None, ("--alt", "300"), "above the limit of 149 m"),
        (None, ("--alt", "5"), "below the minimum of 20 m"),
        (None, ("--image-size", "big"), "--image-size must be WxH"),
    ],
)
def test_cli_bad_input_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    corridor: str | None,
    extra: tuple[str, ...],
    message: str,
) -> None:
    path = EXAMPLE
    if corridor is not None:
        path = tmp_path / "c.geojson"
        path.write_text(corridor, encoding="utf-8")
    out = tmp_path / "x.plan"
    assert _plan_cli("--corridor", str(path), "--out", str(out), *extra) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(("alt", "pitch"), [(30.0, -90.0), (120.0, -90.0), (100.0, -50.0)])
def test_own_legs_always_inside_own_fence(alt: float, pitch: float) -> None:
    """Long trigger distances (high, nadir) stretch legs past the corridor ends: the fence
    must follow, or the planner would reject its own route."""
    corridor = _straight(600.0, bearing=45.0)
    plan = plan_mission(corridor, MissionParams(alt_m=alt, gimbal_pitch_deg=pitch, speed_m_s=5))
    fence = _enu(corridor, plan.geofence)
    for leg in plan.legs:
        assert all(point_in_polygon(p, fence) for p in _enu(corridor, leg.waypoints))
