"""MAVProxy, an independent MAVLink ground station, flies the simulated vehicle over UDP: it
detects the vehicle, downloads and sets parameters, uploads and downloads a mission (its own
mission protocol code), changes modes, arms, and follows the AUTO flight to touchdown. Commands
are typed into MAVProxy's console through a pipe, as a user would.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.vehicle import HomePosition, Mode, SimVehicleServer

pytestmark = pytest.mark.integration

HOME = HomePosition(lat_deg=35.0, lon_deg=139.0, alt_m=50.0)
MAVPROXY = Path(sys.executable).with_name("mavproxy.py")
# QGC WPL 110: seq, current, frame, command, p1-p4, lat, lon, alt, autocontinue. Item 0 is home.
MISSION = """QGC WPL 110
0\t1\t0\t16\t0\t0\t0\t0\t35.0\t139.0\t50\t1
1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t15\t1
2\t0\t3\t16\t0\t0\t0\t0\t35.0003\t139.0\t15\t1
3\t0\t3\t206\t5\t0\t0\t0\t0\t0\t0\t1
4\t0\t3\t16\t0\t0\t0\t0\t35.0003\t139.0003\t15\t1
5\t0\t3\t20\t0\t0\t0\t0\t0\t0\t0\t1
"""


class Console:
    """MAVProxy with its console on a pipe; output lines are collected by a reader thread."""

    def __init__(self, master: str, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [str(MAVPROXY), f"--master={master}", f"--state-basedir={workdir}", "--nowait"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=workdir,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.transcript: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip())

    def type(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, pattern: str, timeout_s: float = 15.0) -> re.Match[str]:
        end = time.monotonic() + timeout_s
        while (left := end - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.transcript.append(line)
            if found := re.search(pattern, line):
                return found
        tail = "\n".join(self.transcript[-25:])
        raise AssertionError(f"MAVProxy never printed {pattern!r}; last lines:\n{tail}")

    def close(self) -> int:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()  # EOF on the console makes MAVProxy exit
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


@pytest.fixture
def mavproxy_and_vehicle(tmp_path: Path) -> Iterator[tuple[Console, SimVehicleServer]]:
    if not MAVPROXY.exists():
        pytest.skip(f"MAVProxy not installed next to {sys.executable}")
    with SimVehicleServer(home=HOME, speedup=5.0) as srv:
        host, port = srv.address
        console = Console(f"udpout:{host}:{port}", tmp_path)
        try:
            yield console, srv
        finally:
            console.close()


def test_mavproxy_flies_the_simulated_vehicle(
    mavproxy_and_vehicle: tuple[Console, SimVehicleServer], tmp_path: Path
) -> None:
    mp, srv = mavproxy_and_vehicle
    mp.expect(r"Detected vehicle 1:1")
    mp.expect(r"Mode STABILIZE")
    count = int(mp.expect(r"Received (\d+) parameters").group(1))
    assert count == len(srv.vehicle.params)

    mp.type("param set WPNAV_SPEED 800")
    assert srv.wait_for(lambda v: v.params["WPNAV_SPEED"] == 800, timeout_s=10)
    mp.type("param fetch WPNAV_SPEED")  # MAVProxy's cache follows the vehicle's PARAM_VALUE
    mp.type("param show WPNAV_SPEED")
    mp.expect(r"WPNAV_SPEED\s+800")

    mission = tmp_path / "mission.txt"
    mission.write_text(MISSION)
    mp.type(f"wp load {mission}")
    mp.expect(r"Got MISSION_ACK: TYPE_MISSION: ACCEPTED")
    with srv.locked() as vehicle:
        assert [i.command for i in vehicle.mission_items[1:]] == [22, 16, 206, 16, 20]
    mp.type("wp list")
    mp.expect(r"^206 3 .* p1=5\.0")  # the download shows the camera item back
    mp.expect(r"Saved 6 waypoints")

    mp.type("mode guided")
    mp.expect(r"Mode GUIDED")
    mp.type("arm throttle")
    mp.expect(r"^ARMED")
    mp.type("mode auto")
    mp.expect(r"AP: Mission: 1 Takeoff")
    mp.expect(r"waypoint 4", timeout_s=30)  # MISSION_CURRENT as MAVProxy reports it
    mp.expect(r"AP: Mission: 5 RTL", timeout_s=30)
    mp.expect(r"^DISARMED", timeout_s=40)
    with srv.locked() as vehicle:
        assert vehicle.mode is Mode.AUTO and vehicle.landed
        # Item 3 runs as the leg to WP 2 starts and nothing turns it off: 33 m north, 27 m
        # east and 43 m back home at one photo per 5 m.
        assert 18 <= vehicle.photo_count <= 21
    # MAVProxy ends by itself on console EOF; its main() always exits with status 1 then.
    assert mp.close() in (0, 1)
