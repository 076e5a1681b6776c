"""The agent's seam (edge.sensors) on an emulated node: fields, errors, faults, recovery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.sensors import MEASUREMENTS, Sensor, SensorError, SensorSpec, open_sensors
from firmware_sim.faults import Fault, SimClock
from firmware_sim.i2c.bme280 import Bme280Emulator
from firmware_sim.i2c.bus import EmulatedI2CBus
from firmware_sim.node import EmulatedNode, open_emulated_sensors
from firmware_sim.signals import Site, WeatherModel

START_NS = 1_750_000_000 * 10**9
TOKYO = (35.6812, 139.7671)


def node(faults: list[Fault] | None = None, seed: int = 21) -> EmulatedNode:
    return EmulatedNode("pole-t1", seed, *TOKYO, faults or [], start_ns=START_NS, realtime=False)


def by_name(sensors: list[Sensor]) -> dict[str, Sensor]:
    return {s.name: s for s in sensors}


@pytest.fixture
def healthy() -> Iterator[tuple[EmulatedNode, dict[str, Sensor]]]:
    with node() as n:
        sensors = open_emulated_sensors(n, gnss_port=None)
        yield n, by_name(sensors)
        for s in sensors:
            s.close()


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("tilt", {"tilt_x_deg": float, "tilt_y_deg": float}),
        ("vibration", {"accel_rms_g": float, "accel_peak_g": float}),
        ("environment", {"temperature_c": float, "humidity_pct": float, "pressure_hpa": float}),
        (
            "link",
            {
                "registered": bool,
                "rat": str,
                "rsrp_dbm": float,
                "sinr_db": float,
                "rssi_dbm": float,
            },
        ),
    ],
)
def test_fields_and_types(
    healthy: tuple[EmulatedNode, dict[str, Sensor]], name: str, fields: dict[str, type]
) -> None:
    _, sensors = healthy
    reading = sensors[name].read()
    assert {k: type(v) for k, v in reading.items()} == fields


def test_order_and_plausible_values(healthy: tuple[EmulatedNode, dict[str, Sensor]]) -> None:
    n, sensors = healthy
    assert list(sensors) == [m for m in MEASUREMENTS if m != "gnss"]
    n.clock.advance(2.0)
    tilt = sensors["tilt"].read()
    assert abs(float(tilt["tilt_x_deg"])) < 1.0 and abs(float(tilt["tilt_y_deg"])) < 1.0
    vib = sensors["vibration"].read()
    assert 0.0 < float(vib["accel_rms_g"]) < float(vib["accel_peak_g"]) < 0.2
    weather = sensors["environment"].read()
    assert 5.0 < float(weather["temperature_c"]) < 35.0
    assert 980.0 < float(weather["pressure_hpa"]) < 1040.0


def test_same_seed_same_readings() -> None:
    def run() -> list[dict[str, Any]]:
        with node(seed=5) as n:
            sensors = open_emulated_sensors(n, gnss_port=None)
            out = []
            for _ in range(5):
                n.clock.advance(0.7)
                out += [s.read() for s in sensors]
            for s in sensors:
                s.close()
            return out

    assert run() == run()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tilt_samples": 0}, "tilt_samples"),
        ({"vibration_samples": 1}, "vibration_samples"),
        ({"i2c_bus": None}, "i2c_bus is None"),
        ({"accel_address": 0x76, "bme280_address": 0x76}, "both at address 0x76"),
        ({"gnss_baud": 9601}, "not a standard NMEA baud"),
        ({"gnss_stale_after_s": 0.0}, "must be > 0"),
    ],
)
def test_spec_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SensorSpec(**kwargs)


def test_unopenable_real_bus_names_the_device() -> None:
    spec = SensorSpec(i2c_bus=99, gnss_port=None)
    with pytest.raises(SensorError, match=r"^tilt sensor: cannot open /dev/i2c-99: .*raspi-config"):
        open_sensors(spec)


def bmp280_spec(clock: SimClock, n: EmulatedNode) -> SensorSpec:
    bus = EmulatedI2CBus(1)
    bus.attach(0x53, n.accel)
    model = WeatherModel(Site(lat_deg=35.0, lon_deg=135.0), 1)
    bus.attach(0x76, Bme280Emulator(model, clock, seed=1, chip_id=0x58))
    return SensorSpec(i2c_bus=bus, gnss_port=None, sleep=clock.sleep)


def test_wrong_chip_fails_open_when_strict() -> None:
    with node() as n:
        with pytest.raises(SensorError, match=r"environment sensor: BME280 at i2c-1 address 0x76.*"
                           r"reads 0x58.*BMP280") as info:  # fmt: skip
            open_sensors(bmp280_spec(n.clock, n))
        assert (info.value.sensor, info.value.where, info.value.address) == (
            "environment", "i2c-1", 0x76,
        )  # fmt: skip
        assert not n.accel.measuring  # the tilt sensor opened first was closed again


def test_wrong_chip_is_left_failing_when_not_strict() -> None:
    with node() as n:
        sensors = by_name(open_sensors(bmp280_spec(n.clock, n), strict=False))
        assert "tilt_x_deg" in sensors["tilt"].read()
        with pytest.raises(SensorError, match="BMP280"):
            sensors["environment"].read()
        for s in sensors.values():
            s.close()


def read_all(sensor: Sensor, clock: SimClock, count: int, step_s: float) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        clock.advance(step_s)
        out.append(sensor.read())
    return out


def test_stuck_accelerometer_repeats_the_same_tilt() -> None:
    with node([Fault(target="accel", kind="stuck", start_s=10.0)]) as n:
        tilt = by_name(open_emulated_sensors(n, gnss_port=None))["tilt"]
        before = read_all(tilt, n.clock, 3, 0.5)
        assert len({r["tilt_x_deg"] for r in before}) == 3  # noise: every reading differs
        n.clock.advance(10.0)
        during = read_all(tilt, n.clock, 4, 0.5)
        assert len({(r["tilt_x_deg"], r["tilt_y_deg"]) for r in during}) == 1
        tilt.close()


def test_accelerometer_spike_is_an_outlier_in_the_burst() -> None:
    # Sporadic, as real spikes are: with probability 1 every sample would shift, an offset.
    spike = Fault(
        target="accel", kind="spike", start_s=5.0, duration_s=1.0, magnitude=1.5, probability=0.1
    )
    with node([spike]) as n:
        vibration = by_name(open_emulated_sensors(n, gnss_port=None))["vibration"]
        calm = read_all(vibration, n.clock, 3, 1.0)
        assert max(float(r["accel_peak_g"]) for r in calm) < 0.1
        n.clock.advance(2.5)  # inside the spike window
        assert float(vibration.read()["accel_peak_g"]) > 1.0
        vibration.close()


@pytest.mark.parametrize(
    ("target", "sensor", "message"),
    [
        ("accel", "tilt", r"tilt sensor: ADXL345 at i2c-1 address 0x53: .*errno 121"),
        ("accel", "vibration", r"vibration sensor: ADXL345 at i2c-1 address 0x53: .*errno 121"),
        ("bme280", "environment", r"environment sensor: BME280 at i2c-1 address 0x76: .*errno 121"),
        ("link", "link", r"link sensor: modem at .*status_text: status unavailable: modem did not"),
    ],
)
def test_dropout_raises_then_recovers(target: str, sensor: str, message: str) -> None:
    with node([Fault(target=target, kind="dropout", start_s=5.0, duration_s=2.0)]) as n:
        s = by_name(open_emulated_sensors(n, gnss_port=None))[sensor]
        n.clock.advance(1.0)
        s.read()
        n.clock.advance(4.5)
        with pytest.raises(SensorError, match=message):
            s.read()
        n.clock.advance(2.0)
        assert s.read()  # re-initialised the chip and carried on
        s.close()


def test_bme280_spike_and_stuck() -> None:
    faults = [
        Fault(target="bme280", kind="spike", start_s=10.0, duration_s=1.0, magnitude=40.0),
        Fault(target="bme280", kind="stuck", start_s=20.0, duration_s=30.0),
    ]
    with node(faults) as n:
        env = by_name(open_emulated_sensors(n, gnss_port=None))["environment"]
        base = float(read_all(env, n.clock, 1, 9.5)[0]["temperature_c"])
        n.clock.advance(0.6)
        assert float(env.read()["temperature_c"]) - base == pytest.approx(40.0, abs=0.5)
        # Reads at 13, 16, 19, 22, 25 s: from the last one before 20 s on, nothing changes.
        stuck = read_all(env, n.clock, 5, 3.0)[2:]
        assert len({tuple(r.values()) for r in stuck}) == 1
        env.close()


def test_link_no_service_reports_unregistered_without_signal() -> None:
    with node([Fault(target="link", kind="no_service", start_s=5.0)]) as n:
        link = by_name(open_emulated_sensors(n, gnss_port=None))["link"]
        assert link.read()["registered"] is True
        n.clock.advance(6.0)
        assert link.read() == {"registered": False, "rat": "LTE"}


def test_link_from_a_status_file(tmp_path: Path) -> None:
    status = tmp_path / "modem.status"
    with node() as n:
        n.modem.write_status_file(status)
        sensors = open_sensors(SensorSpec(i2c_bus=None, accel_address=None, bme280_address=None,
                                          gnss_port=None, link_source=status))  # fmt: skip
        assert [s.name for s in sensors] == ["link"]
        assert sensors[0].read()["registered"] is True
        status.unlink()
        with pytest.raises(SensorError, match=f"modem at {status}: status unavailable"):
            sensors[0].read()


def test_clock_jump_moves_the_node_clock_not_the_world() -> None:
    with node([Fault(target="clock", kind="clock_jump", start_s=30.0, magnitude=-3600.0)]) as n:
        n.clock.advance(29.0)
        assert n.clock.now_ns() - n.clock.true_ns() == 0
        n.clock.advance(2.0)
        assert n.clock.now_ns() - n.clock.true_ns() == -3600 * 10**9
        assert n.clock.true_ns() == START_NS + 31 * 10**9


def test_brownout_of_the_accelerometer_is_recovered() -> None:
    with node() as n:
        sensors = by_name(open_emulated_sensors(n, gnss_port=None))
        tilt = sensors["tilt"]
        tilt.read()
        n.accel.power_on_reset()  # back in standby with default registers
        n.clock.advance(1.0)
        with pytest.raises(SensorError, match=r"standby .*lost power.*re-initialise"):
            tilt.read()
        assert tilt.read()
        assert n.accel.measuring
        for s in sensors.values():
            s.close()
        assert not n.accel.measuring  # closing tilt and vibration put it back in standby
