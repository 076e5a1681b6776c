"""The simulated vehicle on real sockets: pymavlink's mavutil and dronekit as clients over UDP
(vehicle listening, and vehicle sending to a listening GCS with --out), TCP, the CLI process,
and photos reaching the on_photo callback and CAMERA_FEEDBACK.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymavlink import mavutil

from firmware_sim.vehicle import HomePosition, Mode, PhotoTaken, SimVehicle, SimVehicleServer

pytestmark = pytest.mark.integration

HOME = HomePosition(lat_deg=36.5551, lon_deg=139.8826, alt_m=120.0, heading_deg=45.0)
REPO = Path(__file__).resolve().parents[2]
m = mavutil.mavlink


@pytest.fixture
def server() -> Iterator[SimVehicleServer]:
    with SimVehicleServer(home=HOME, speedup=10.0) as srv:
        yield srv


def connect_udpout(srv: SimVehicleServer) -> Any:
    host, port = srv.address
    conn = mavutil.mavlink_connection(f"udpout:{host}:{port}", source_system=255)
    # A UDP vehicle answers whoever talks to it: say hello first. Not with a GCS HEARTBEAT:
    # this client does not keep sending them, and a GCS that goes quiet trips the GCS failsafe.
    conn.mav.request_data_stream_send(1, 1, m.MAV_DATA_STREAM_ALL, 4, 1)
    return conn


def recv(conn: Any, kind: str | list[str], timeout_s: float = 5.0, **fields: Any) -> Any:
    """Next message of `kind` whose fields match; fails the test on timeout."""
    end = time.monotonic() + timeout_s
    while (left := end - time.monotonic()) > 0:
        msg = conn.recv_match(type=kind, blocking=True, timeout=left)
        if msg is not None and all(getattr(msg, k) == v for k, v in fields.items()):
            return msg
    raise AssertionError(f"no {kind} {fields or ''} within {timeout_s} s")


def test_mavutil_client_heartbeat_params_and_arming(server: SimVehicleServer) -> None:
    conn = connect_udpout(server)
    try:
        hb = conn.wait_heartbeat(timeout=5)
        assert hb is not None
        assert (hb.type, hb.autopilot) == (m.MAV_TYPE_QUADROTOR, m.MAV_AUTOPILOT_ARDUPILOTMEGA)
        assert conn.flightmode == "STABILIZE"
        assert hb.get_srcSystem() == 1

        conn.mav.param_request_list_send(1, 1)
        first = recv(conn, "PARAM_VALUE")
        names = {first.param_id}
        while len(names) < first.param_count:
            names.add(recv(conn, "PARAM_VALUE").param_id)
        assert {"WPNAV_SPEED", "RTL_ALT", "FENCE_ENABLE", "ARMING_CHECK"} <= names

        conn.param_set_send("RTL_ALT", 3000)
        assert recv(conn, "PARAM_VALUE", param_id="RTL_ALT").param_value == 3000
        with server.locked() as vehicle:
            assert vehicle.params["RTL_ALT"] == 3000

        assert server.wait_for(lambda v: v.autopilot.gps_ok, timeout_s=5)
        conn.set_mode("GUIDED")
        assert recv(conn, "COMMAND_ACK", command=m.MAV_CMD_DO_SET_MODE).result == 0
        conn.arducopter_arm()
        ack = recv(conn, "COMMAND_ACK", command=m.MAV_CMD_COMPONENT_ARM_DISARM)
        assert ack.result == m.MAV_RESULT_ACCEPTED
        conn.motors_armed_wait()  # returns once a HEARTBEAT says armed
        assert conn.flightmode == "GUIDED"
    finally:
        conn.close()


def test_garbage_datagrams_do_not_stop_the_vehicle(server: SimVehicleServer) -> None:
    rng = random.Random(7)
    host, port = server.address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        for _ in range(200):
            raw.sendto(
                bytes(rng.randrange(256) for _ in range(rng.randrange(1, 280))), (host, port)
            )
        # A well-framed MAVLink 2 packet with an id nobody knows.
        raw.sendto(
            bytes([0xFD, 2, 0, 0, 1, 255, 190, 0x39, 0x30, 0x00, 1, 2, 0xAB, 0xCD]), (host, port)
        )
    assert server.wait_for(lambda v: v.bad_packets > 0, timeout_s=5)
    conn = connect_udpout(server)
    try:
        assert conn.wait_heartbeat(timeout=5) is not None
        conn.mav.param_request_read_send(1, 1, b"ARMING_CHECK", -1)
        assert recv(conn, "PARAM_VALUE", param_id="ARMING_CHECK").param_value == 1
    finally:
        conn.close()


def test_out_sends_to_a_listening_ground_station() -> None:
    gcs = mavutil.mavlink_connection("udpin:127.0.0.1:0", source_system=255)
    port = gcs.port.getsockname()[1]
    try:
        with SimVehicleServer(home=HOME, out=[f"udp:127.0.0.1:{port}"], speedup=5.0):
            assert gcs.wait_heartbeat(timeout=5) is not None
            # The GCS answers on the same path, like MAVProxy or QGC listening on 14550.
            gcs.mav.param_request_read_send(1, 1, b"WPNAV_SPEED", -1)
            assert recv(gcs, "PARAM_VALUE", param_id="WPNAV_SPEED").param_value == 500
            # Not duplicated although the GCS is now both an --out target and a peer.
            t0 = recv(gcs, "SYSTEM_TIME").time_boot_ms
            t1 = recv(gcs, "SYSTEM_TIME").time_boot_ms
            assert t1 > t0
    finally:
        gcs.close()


def test_tcp_listener_serves_a_client() -> None:
    with SimVehicleServer(listen="tcp:127.0.0.1:0", home=HOME, speedup=5.0) as srv:
        host, port = srv.address
        conn = mavutil.mavlink_connection(f"tcp:{host}:{port}", source_system=255)
        try:
            assert conn.wait_heartbeat(timeout=5) is not None
            conn.mav.param_request_read_send(1, 1, b"BATT_CAPACITY", -1)
            assert recv(conn, "PARAM_VALUE", param_id="BATT_CAPACITY").param_value == 5200
        finally:
            conn.close()


def test_auto_mission_photos_reach_callback_and_camera_feedback() -> None:
    photos: list[PhotoTaken] = []

    def on_photo(photo: PhotoTaken) -> None:
        photos.append(photo)

    with SimVehicleServer(home=HOME, speedup=10.0, on_photo=on_photo) as srv:
        conn = connect_udpout(srv)
        try:
            conn.wait_heartbeat(timeout=5)
            lat, lon = HOME.lat_deg, HOME.lon_deg
            frame = m.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
            items = [
                (m.MAV_FRAME_GLOBAL_INT, m.MAV_CMD_NAV_WAYPOINT, 0, 0, 0, HOME.alt_m),
                (frame, m.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 15),
                (frame, m.MAV_CMD_NAV_WAYPOINT, 0, round(lat * 1e7), round(lon * 1e7), 15),
                (frame, m.MAV_CMD_DO_SET_CAM_TRIGG_DIST, 8, 0, 0, 0),
                (
                    frame,
                    m.MAV_CMD_NAV_WAYPOINT,
                    0,
                    round((lat + 0.0005) * 1e7),
                    round(lon * 1e7),
                    15,
                ),
                (frame, m.MAV_CMD_NAV_RETURN_TO_LAUNCH, 0, 0, 0, 0),
                # DO items run when the NAV item before them starts: camera off as RTL begins.
                (frame, m.MAV_CMD_DO_SET_CAM_TRIGG_DIST, 0, 0, 0, 0),
            ]
            conn.mav.mission_count_send(1, 1, len(items))
            for _ in items:
                req = recv(conn, ["MISSION_REQUEST", "MISSION_REQUEST_INT"])
                fr, cmd, p1, x, y, z = items[req.seq]
                conn.mav.mission_item_int_send(1, 1, req.seq, fr, cmd, 0, 1, p1, 0, 0, 0, x, y, z)
            assert recv(conn, "MISSION_ACK").type == m.MAV_MISSION_ACCEPTED

            assert srv.wait_for(lambda v: v.autopilot.gps_ok, timeout_s=5)
            conn.set_mode("GUIDED")
            conn.arducopter_arm()
            conn.motors_armed_wait()
            conn.set_mode("AUTO")
            # Keep reading while the mission flies: a UDP client that stops reading loses packets.
            feedback = []
            while True:
                msg = recv(conn, ["CAMERA_FEEDBACK", "HEARTBEAT"], timeout_s=30)
                if msg.get_type() == "CAMERA_FEEDBACK":
                    feedback.append(msg)
                elif not msg.base_mode & m.MAV_MODE_FLAG_SAFETY_ARMED:
                    break
            assert srv.vehicle.mode is Mode.AUTO and srv.vehicle.landed
        finally:
            conn.close()
    # 0.0005 deg of latitude is 55.5 m: photos every 8 m along that leg, the last at 48 m.
    assert len(photos) == 6
    assert [f.img_idx for f in feedback] == [p.index for p in photos]
    assert all(p.alt_rel_m == pytest.approx(15, abs=1) for p in photos)


def test_dronekit_connects_uploads_and_flies(server: SimVehicleServer) -> None:
    from dronekit import Command, VehicleMode, connect

    host, port = server.address
    vehicle = connect(f"udpout:{host}:{port}", wait_ready=True, timeout=20, heartbeat_timeout=10)
    try:
        assert vehicle.mode is not None and vehicle.mode.name == "STABILIZE"
        assert vehicle.parameters["WPNAV_SPEED"] == 500
        vehicle.wait_ready("autopilot_version", timeout=10)
        assert str(vehicle.version) == "APM:Copter-4.5.7"
        assert vehicle.capabilities.mission_int and vehicle.capabilities.command_int
        assert server.wait_for(lambda v: v.autopilot.gps_ok, timeout_s=5)
        cmds = vehicle.commands
        cmds.download()
        cmds.wait_ready(timeout=10)
        assert vehicle.home_location is not None
        assert vehicle.home_location.lat == pytest.approx(HOME.lat_deg)
        cmds.clear()
        frame = m.MAV_FRAME_GLOBAL_RELATIVE_ALT
        cmds.add(Command(0, 0, 0, frame, m.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 0, 0, 10))
        cmds.add(
            Command(
                0,
                0,
                0,
                frame,
                m.MAV_CMD_NAV_WAYPOINT,
                0,
                0,
                0,
                0,
                0,
                0,
                HOME.lat_deg + 0.0002,
                HOME.lon_deg,
                10,
            )
        )
        cmds.add(Command(0, 0, 0, frame, m.MAV_CMD_NAV_LAND, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        cmds.upload(timeout=10)
        with server.locked() as v:
            assert len(v.mission_items) == 4
        vehicle.wait_for_mode(VehicleMode("GUIDED"), timeout=10)
        vehicle.wait_for_armable(timeout=10)
        vehicle.arm(wait=True, timeout=10)
        vehicle.wait_simple_takeoff(8, epsilon=0.5, timeout=20)
        vehicle.mode = VehicleMode("AUTO")
        assert server.wait_for(lambda v: v.mode is Mode.AUTO and not v.armed, timeout_s=30)
        lat, _, alt = server.vehicle.position()
        assert lat == pytest.approx(HOME.lat_deg + 0.0002, abs=2e-5) and alt == 0
    finally:
        vehicle.close()


RUN_CLI = textwrap.dedent(
    """
    import argparse, logging, sys
    from firmware_sim.vehicle.cli import add_parser
    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser(prog="michimori sim")
    add_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(sys.argv[1:])
    sys.exit(args.func(args))
    """
)


def run_cli(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "vehicle", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def test_cli_process_serves_and_stops_cleanly_on_sigterm() -> None:
    proc = run_cli(
        "--listen", "udp:127.0.0.1:0", "--home", "35.5,139.5,10,90", "--speedup", "5",
        "--fault", "gps-loss@1000", "--param", "SIM_WIND_SPD=4",
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()  # "listening udp:127.0.0.1:PORT"
        assert line.startswith("listening udp:127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        conn = mavutil.mavlink_connection(f"udpout:127.0.0.1:{port}", source_system=255)
        try:
            conn.mav.heartbeat_send(m.MAV_TYPE_GCS, m.MAV_AUTOPILOT_INVALID, 0, 0, 0)
            assert conn.wait_heartbeat(timeout=5) is not None
            conn.mav.param_request_read_send(1, 1, b"SIM_WIND_SPD", -1)
            assert recv(conn, "PARAM_VALUE", param_id="SIM_WIND_SPD").param_value == 4
            home = recv(conn, "HOME_POSITION")
            assert (home.latitude, home.longitude, home.altitude) == (355000000, 1395000000, 10000)
        finally:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "simulated vehicle stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.parametrize(
    "args",
    [
        ("--home", "35.5"),
        ("--fault", "meteor@10"),
        ("--param", "NOT_A_PARAM=1"),
        ("--speedup", "0"),
        ("--listen", "udp:127.0.0.1"),
        ("--frames-out", "frames"),  # needs --world
    ],
)
def test_cli_rejects_bad_input_with_exit_2(args: tuple[str, ...], tmp_path: Path) -> None:
    proc = run_cli("--listen", "udp:127.0.0.1:0", *args, cwd=tmp_path)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2, err
    assert "sim vehicle:" in err


def test_frames_rendered_for_every_photo_from_the_world(tmp_path: Path) -> None:
    world_pkg = pytest.importorskip("firmware_sim.world")
    pytest.importorskip("firmware_sim.render")
    corridor, road = world_pkg.load_corridor(world_pkg.DEFAULT_CORRIDOR)
    world_path = world_pkg.save_world(
        world_pkg.generate_world(corridor, road, seed=3), tmp_path / "world.geojson"
    )
    frames = tmp_path / "frames"
    with SimVehicleServer(speedup=10.0, world_path=world_path, frames_dir=frames, seed=3) as srv:
        home = srv.vehicle.config.home
        # Home comes from the world: its origin, facing along the road.
        assert (home.lat_deg, home.lon_deg, home.alt_m) == (
            corridor.frame.lat0_deg,
            corridor.frame.lon0_deg,
            0.0,
        )
        conn = connect_udpout(srv)
        try:
            conn.wait_heartbeat(timeout=5)
            assert srv.wait_for(lambda v: v.autopilot.gps_ok, timeout_s=5)
            conn.set_mode("GUIDED")
            conn.arducopter_arm()
            conn.motors_armed_wait()
            conn.mav.command_long_send(1, 1, m.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 0, 20)
            assert srv.wait_for(lambda v: v.alt_rel_m > 19.5, timeout_s=20)
            conn.mav.command_long_send(1, 1, m.MAV_CMD_DO_MOUNT_CONTROL, 0, -45, 0, 0, 0, 0, 0, 2)
            assert srv.wait_for(lambda v: v.autopilot.gimbal.pitch_deg <= -45, timeout_s=5)
            for n in (1, 2):
                conn.mav.command_long_send(
                    1, 1, m.MAV_CMD_DO_DIGICAM_CONTROL, 0, 0, 0, 0, 0, 1, 0, 0
                )

                def taken(v: SimVehicle, n: int = n) -> bool:
                    return v.photo_count >= n

                assert srv.wait_for(taken, timeout_s=5)
        finally:
            conn.close()
    # close() finished the queued frames: one JPEG with its sidecars per photo.
    assert srv.frames_written == 2
    for stem in ("IMG_0001", "IMG_0002"):
        assert (frames / f"{stem}.jpg").stat().st_size > 10_000
        assert (frames / f"{stem}.txt").exists()
        pose = json.loads((frames / f"{stem}.json").read_text())["pose"]
        assert pose["pitch_deg"] == -45 and pose["alt_m"] == pytest.approx(20, abs=0.6)
        assert pose["heading_deg"] == pytest.approx(home.heading_deg, abs=0.5)
