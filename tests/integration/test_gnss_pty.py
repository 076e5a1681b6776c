"""The real GNSS driver reads NMEA through pyserial from the emulated receiver on a pty."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import pytest

from edge.drivers.errors import DeviceTimeoutError, DriverError, GnssNoFixError
from edge.drivers.gnss import GnssReceiver
from edge.sensors import SensorError
from firmware_sim.faults import Fault, FaultInjector, SimClock
from firmware_sim.gnss import GnssEmulator
from firmware_sim.node import EmulatedNode, open_emulated_sensors
from firmware_sim.signals import GnssModel, Site

pytestmark = pytest.mark.integration

SITE = Site(lat_deg=35.6812, lon_deg=139.7671, alt_m=40.0)
RATE_HZ = 10.0  # fast epochs keep the test short


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., GnssEmulator]]:
    made: list[GnssEmulator] = []

    def make(faults: list[Fault] | None = None, seed: int = 3) -> GnssEmulator:
        clock = SimClock(start_ns=time.time_ns(), realtime=True)
        emulator = GnssEmulator(
            GnssModel(SITE, seed),
            clock,
            faults=FaultInjector(faults or (), seed=seed),
            rate_hz=RATE_HZ,
        )
        made.append(emulator.start())
        return emulator

    yield make
    for emulator in made:
        emulator.stop()
        assert emulator.error is None


def wait_for_new_epoch(rx: GnssReceiver, after: float, timeout_s: float) -> float:
    """Fixes arrive on the receiver's schedule: read (never blocks), else wait on the port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fix = rx.current_fix()
        if fix.utc.timestamp() > after:
            return fix.utc.timestamp()
        rx.wait_for_data(deadline - time.monotonic())
    raise AssertionError(f"no epoch after {after} within {timeout_s} s")


def test_reads_real_fixes_through_pyserial(emulator_factory: Callable[..., GnssEmulator]) -> None:
    emulator = emulator_factory()
    with GnssReceiver(emulator.port_path, baud=9600, stale_after_s=2.0) as rx:
        fix = rx.current_fix()  # blocks only until the first epoch
        assert fix.has_fix
        assert fix.fix_quality in (1, 2)
        assert fix.satellites >= 4
        assert fix.hdop is not None and fix.hdop < 2.0
        assert fix.lat_deg is not None and fix.lon_deg is not None
        north_m = (fix.lat_deg - SITE.lat_deg) * 111_320.0
        east_m = (fix.lon_deg - SITE.lon_deg) * 111_320.0 * math.cos(math.radians(SITE.lat_deg))
        assert math.hypot(north_m, east_m) < 5.0
        assert abs(fix.utc.timestamp() - time.time()) < 2.0  # true UTC of the emulated world
        later = wait_for_new_epoch(rx, fix.utc.timestamp(), timeout_s=5.0)
        assert later - fix.utc.timestamp() == pytest.approx(1 / RATE_HZ, abs=0.35)
        assert rx.assembler.errors == 0


def test_no_fix_is_an_error_naming_the_port(emulator_factory: Callable[..., GnssEmulator]) -> None:
    emulator = emulator_factory([Fault(target="gnss", kind="no_fix")])
    with GnssReceiver(emulator.port_path, stale_after_s=2.0) as rx:
        with pytest.raises(GnssNoFixError, match=f"GNSS at {emulator.port_path}: no position fix"):
            rx.current_fix()
        assert rx.current().fix_quality == 0  # the epoch itself still arrives


def test_silent_receiver_times_out(emulator_factory: Callable[..., GnssEmulator]) -> None:
    emulator = emulator_factory([Fault(target="gnss", kind="dropout")])
    with GnssReceiver(emulator.port_path, stale_after_s=0.5) as rx:
        started = time.monotonic()
        with pytest.raises(DeviceTimeoutError, match="no complete GGA\\+RMC epoch within"):
            rx.current()
        assert 0.4 < time.monotonic() - started < 2.0
        started = time.monotonic()
        with pytest.raises(DeviceTimeoutError):
            rx.current()  # later reads fail at once instead of blocking the agent again
        assert time.monotonic() - started < 0.2


def test_receiver_unplugged_is_an_error_not_a_hang(
    emulator_factory: Callable[..., GnssEmulator],
) -> None:
    emulator = emulator_factory()
    with GnssReceiver(emulator.port_path, stale_after_s=2.0) as rx:
        rx.current_fix()
        emulator.stop()
        with pytest.raises(DriverError, match=r"serial read failed|receiver silent"):
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                rx.current()
                rx.wait_for_data(0.5)


def test_gnss_sensor_on_an_emulated_node() -> None:
    faults = [Fault(target="gnss", kind="no_fix", start_s=3600.0)]
    with EmulatedNode(
        "pole-gnss", 8, SITE.lat_deg, SITE.lon_deg, faults, gnss_rate_hz=RATE_HZ
    ) as node:
        sensors = {s.name: s for s in open_emulated_sensors(node, link_source=None)}
        try:
            fields = sensors["gnss"].read()
            assert set(fields) == {
                "lat_deg", "lon_deg", "alt_m", "hdop", "satellites", "fix_quality",
                "gnss_time_unix_s",
            }  # fmt: skip
            assert fields["lat_deg"] == pytest.approx(SITE.lat_deg, abs=1e-4)
            node.clock.advance(3600.0)  # into the no-fix window of the emulated world
            # Three more epochs sent: at least the last but one has reached the port.
            assert node.gnss.wait_sent(node.gnss.epochs_sent + 3, timeout_s=5.0)
            with pytest.raises(
                SensorError, match=r"gnss sensor: GNSS at /dev/pts/.*no position fix"
            ):
                sensors["gnss"].read()
        finally:
            for sensor in sensors.values():
                sensor.close()
