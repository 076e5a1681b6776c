"""Flights that must fail fast and clearly: nobody at the address, a vehicle that never
becomes armable, a link lost in the air, a mission the vehicle refuses, a wrong site."""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.vehicle import FaultKind, FaultSpec, HomePosition, SimVehicleServer
from inspection.flight import (
    FlightError,
    FlightOptions,
    FlightTimeout,
    FlightTimeouts,
    LinkLost,
    VehicleRejected,
    fly,
)
from inspection.flight.cli import add_parser as add_fly_parser
from inspection.geo import destination
from inspection.mission import Corridor, MissionParams, MissionPlan, plan_mission, write_plan

pytestmark = pytest.mark.integration

LAT0, LON0 = 36.5590, 139.8980
SPEEDUP = 20.0
QUICK = FlightTimeouts(connect_s=2.0, armable_s=3.0, mode_s=5.0, upload_s=10.0, link_s=2.0)


@pytest.fixture(scope="module")
def plan() -> MissionPlan:
    lat, lon = destination(LAT0, LON0, 100.0, 300.0)
    return plan_mission(Corridor(((LON0, LAT0), (lon, lat))), MissionParams(sides="left"))


@pytest.fixture
def plan_path(plan: MissionPlan, tmp_path: Path) -> Path:
    return write_plan(plan, tmp_path / "m.plan")


@pytest.fixture
def vehicle(plan: MissionPlan, request: pytest.FixtureRequest) -> Iterator[SimVehicleServer]:
    """A simulated vehicle at the plan's home; `faults` via indirect parametrisation."""
    faults: tuple[FaultSpec, ...] = getattr(request, "param", ())
    with SimVehicleServer(
        listen="udp:127.0.0.1:0",
        home=HomePosition(lat_deg=plan.home[0], lon_deg=plan.home[1]),
        speedup=SPEEDUP,
        faults=faults,
    ) as server:
        yield server


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _url(server: SimVehicleServer) -> str:
    host, port = server.address
    return f"udpout:{host}:{port}"


def _opts(plan_path: Path, connection: str, out: Path, **kw: Any) -> FlightOptions:
    return FlightOptions(plan_path=plan_path, connection=connection, out_dir=out, **kw)


def _summary(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "summary.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("scheme", "kind"),
    [
        ("udpout", socket.SOCK_DGRAM),  # sends into the void
        ("udp", socket.SOCK_DGRAM),  # listens, nobody sends
        ("tcp", socket.SOCK_STREAM),  # connection refused
    ],
)
def test_unreachable_vehicle(plan_path: Path, tmp_path: Path, scheme: str, kind: int) -> None:
    connection = f"{scheme}:127.0.0.1:{_free_port(kind)}"
    out = tmp_path / "flight"
    started = time.monotonic()
    with pytest.raises(FlightError) as info:
        fly(_opts(plan_path, connection, out, timeouts=QUICK))
    elapsed = time.monotonic() - started
    err = info.value
    assert err.stage == "connect"
    assert "could not connect to a vehicle" in str(err) and connection in str(err)
    if scheme == "tcp":
        assert "cannot open the link" in str(err) and "refused" in str(err)
    else:
        assert isinstance(err, FlightTimeout) and err.waited_for == "heartbeat"
    # pymavlink retries a refused TCP connection 3 times, 1 s apart; UDP waits connect_s.
    assert elapsed < 8.0
    s = _summary(out)
    assert s["status"] == "failed" and s["errors"][0]["stage"] == "connect"


@pytest.mark.parametrize(
    "vehicle", [(FaultSpec(kind=FaultKind.GPS_LOSS, at_s=0.0),)], indirect=True
)
def test_vehicle_never_armable(vehicle: SimVehicleServer, plan_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "flight"
    started = time.monotonic()
    with pytest.raises(FlightTimeout) as info:
        fly(_opts(plan_path, _url(vehicle), out, timeouts=QUICK))
    err = info.value
    assert err.stage == "preflight" and "armable" in err.waited_for
    assert "GPS fix type" in str(err)
    assert time.monotonic() - started < QUICK.connect_s + QUICK.armable_s + 3.0
    with vehicle.locked() as v:
        assert not v.armed  # nothing was sent that could make it fly
    assert _summary(out)["errors"][0]["stage"] == "preflight"


def test_link_lost_in_flight(vehicle: SimVehicleServer, plan_path: Path, tmp_path: Path) -> None:
    """The vehicle goes silent once airborne: LinkLost within link_s, summary written."""

    def cut_link_when_airborne() -> None:
        if vehicle.wait_for(lambda v: v.alt_rel_m > 10.0, timeout_s=30.0):
            vehicle.inject_fault(FaultKind.LINK_LOSS)

    cutter = threading.Thread(target=cut_link_when_airborne, daemon=True)
    cutter.start()
    out = tmp_path / "flight"
    with pytest.raises(LinkLost) as info:
        fly(_opts(plan_path, _url(vehicle), out, timeouts=QUICK))
    cutter.join(timeout=5.0)
    err = info.value
    assert err.silent_s >= QUICK.link_s
    assert "stopped answering" in str(err) and "failsafe" in str(err)
    s = _summary(out)
    assert s["status"] == "failed" and s["errors"][0]["stage"] in ("takeoff", "mission")


def test_mission_rejected(vehicle: SimVehicleServer, plan_path: Path, tmp_path: Path) -> None:
    """A mission bigger than the vehicle's storage: its NACK ends the upload, nothing flies."""
    doc = json.loads(plan_path.read_text(encoding="utf-8"))
    wp = next(it for it in doc["mission"]["items"] if it["command"] == 16)
    doc["mission"]["items"] += [dict(wp, doJumpId=1000 + i) for i in range(750)]
    big = tmp_path / "big.plan"
    big.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(VehicleRejected) as info:
        fly(_opts(big, _url(vehicle), tmp_path / "flight", timeouts=QUICK))
    assert info.value.stage == "upload" and info.value.reason == "MAV_MISSION_NO_SPACE"
    with vehicle.locked() as v:
        assert not v.armed


def test_vehicle_outside_geofence(plan_path: Path, tmp_path: Path) -> None:
    far = destination(LAT0, LON0, 0.0, 2000.0)  # 2 km north of the corridor
    with (
        SimVehicleServer(
            listen="udp:127.0.0.1:0",
            home=HomePosition(lat_deg=far[0], lon_deg=far[1]),
            speedup=SPEEDUP,
        ) as server,
        pytest.raises(FlightError, match="outside the plan's geofence") as info,
    ):
        fly(_opts(plan_path, _url(server), tmp_path / "flight", timeouts=QUICK))
    assert info.value.stage == "preflight"


def test_existing_flight_folder_is_not_overwritten(plan_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "flight"
    out.mkdir()
    (out / "summary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(FlightError, match="already holds a flight") as info:
        fly(_opts(plan_path, "udpout:127.0.0.1:9", out))
    assert info.value.stage == "setup"
    assert (out / "summary.json").read_text(encoding="utf-8") == "{}"


def _fly_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="michimori inspect")
    add_fly_parser(parser.add_subparsers())
    args = parser.parse_args(["fly", *argv])
    return int(args.func(args))


def test_cli_unreachable_vehicle(
    plan_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port(socket.SOCK_DGRAM)
    code = _fly_cli(
        "--plan",
        str(plan_path),
        "--connect",
        f"udpout:127.0.0.1:{port}",
        "--out",
        str(tmp_path / "f"),
        "--connect-timeout",
        "1.5",
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "error (connect): could not connect to a vehicle" in err
    assert "summary.json" in err


def test_cli_bad_connection_string_is_bad_input(
    plan_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _fly_cli(
        "--plan", str(plan_path), "--connect", "udp:127.0.0.1", "--out", str(tmp_path / "f")
    )
    assert code == 2
    assert "expected udp:HOST:PORT" in capsys.readouterr().err


def test_cli_bad_plan_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.plan"
    bad.write_text('{"fileType": "Plan", "version": 1, "mission": {"items": []}}', "utf-8")
    code = _fly_cli(
        "--plan", str(bad), "--connect", "udp:127.0.0.1:14550", "--out", str(tmp_path / "f")
    )
    assert code == 2
    assert "the mission has no items" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()
