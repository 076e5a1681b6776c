"""The BME280 driver against the register-level emulator: compensation, modes, faults, ids."""

from __future__ import annotations

import errno
from dataclasses import asdict
from typing import Any

import pytest

from edge.drivers.bme280 import (
    Bme280,
    Bme280Config,
    Calibration,
    compensate_double,
    compensate_int,
)
from edge.drivers.errors import BusError, ChipIdError, DriverError
from firmware_sim.faults import Fault, FaultInjector, SimClock
from firmware_sim.i2c.adxl345 import Adxl345Emulator
from firmware_sim.i2c.bme280 import Bme280Calibration, Bme280Emulator, raw_from_values
from firmware_sim.i2c.bus import EmulatedI2CBus
from firmware_sim.signals import EnvironmentSample

START_NS = 1_750_000_000 * 10**9
ADDRESS = 0x76

# The BMP280 datasheet's worked example (section 3.12) plus typical humidity constants.
EXAMPLE = Calibration(
    27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
    75, 362, 0, 313, 50, 30,
)  # fmt: skip


class Fixed:
    """An environment that only changes when a test says so."""

    def __init__(self, sample: EnvironmentSample) -> None:
        self.value = sample

    def sample(self, t_s: float) -> EnvironmentSample:
        return self.value


class Level:
    """An accelerometer lying still and level."""

    def accel_g(self, t_s: float) -> tuple[float, float, float]:
        return (0.0, 0.0, 1.0)


def env(t: float, p: float, h: float) -> EnvironmentSample:
    return EnvironmentSample(temperature_c=t, pressure_hpa=p, humidity_pct=h)


def make(
    sample: EnvironmentSample = env(21.5, 1005.0, 55.0),  # noqa: B008 - frozen value object
    *,
    faults: list[Fault] | None = None,
    chip_id: int = 0x60,
    noise: bool = False,
    seed: int = 1,
) -> tuple[SimClock, EmulatedI2CBus, Bme280Emulator, Fixed]:
    clock = SimClock(start_ns=START_NS, realtime=False)
    source = Fixed(sample)
    chip = Bme280Emulator(
        source,
        clock,
        seed=seed,
        faults=FaultInjector(faults or (), seed=seed),
        chip_id=chip_id,
        noise=noise,
    )
    bus = EmulatedI2CBus(1)
    bus.attach(ADDRESS, chip)
    return clock, bus, chip, source


def driver(clock: SimClock, bus: EmulatedI2CBus, **config: Any) -> Bme280:
    return Bme280(bus, ADDRESS, Bme280Config(**config), bus_name="i2c-1", sleep=clock.sleep)


def test_datasheet_worked_example() -> None:
    # BMP280 datasheet 3.12: adc_T 519888 -> 25.08 °C, adc_P 415148 -> 100653.27 Pa.
    double = compensate_double(519888, 415148, 30000, EXAMPLE)
    integer = compensate_int(519888, 415148, 30000, EXAMPLE)
    assert double.temperature_c == pytest.approx(25.0825, abs=1e-4)
    assert integer.temperature_c == 25.08
    assert double.pressure_hpa * 100 == pytest.approx(100653.27, abs=0.02)
    assert integer.pressure_hpa * 100 == pytest.approx(100653.27, abs=0.02)
    assert integer.humidity_pct == pytest.approx(double.humidity_pct, abs=0.01)


@pytest.mark.parametrize("seed", [None, 1, 2, 3, 99])
def test_calibration_registers_round_trip(seed: int | None) -> None:
    nvm = Bme280Calibration.typical(seed)
    parsed = Calibration.from_registers(*nvm.registers())
    assert asdict(parsed) == {k: getattr(nvm, k) for k in asdict(parsed)}


def test_negative_12_bit_humidity_constants_unpack() -> None:
    base = asdict(Bme280Calibration.typical(None))
    nvm = Bme280Calibration(**{**base, "dig_h4": -5, "dig_h5": -2048, "dig_h6": -7})
    parsed = Calibration.from_registers(*nvm.registers())
    assert (parsed.dig_h4, parsed.dig_h5, parsed.dig_h6) == (-5, -2048, -7)


CONDITIONS = [
    env(-39.87, 301.3, 0.7),
    env(-12.34, 850.25, 21.1),
    env(0.005, 1013.25, 50.0),
    env(21.337, 1002.71, 63.42),
    env(35.61, 1021.6, 88.88),
    env(60.2, 1099.4, 99.6),
    env(84.91, 700.0, 12.3),
]


@pytest.mark.parametrize("compensation", ["double", "int"])
@pytest.mark.parametrize("oversampling", [1, 16])
@pytest.mark.parametrize("sample", CONDITIONS, ids=lambda s: f"{s.temperature_c}C")
def test_round_trip_intended_value_to_driver_reading(
    sample: EnvironmentSample, oversampling: int, compensation: str
) -> None:
    clock, bus, _, _ = make(sample)
    bme = driver(
        clock,
        bus,
        oversampling_t=oversampling,
        oversampling_p=oversampling,
        compensation=compensation,
    )
    bme.init()
    reading = bme.read()
    assert reading.temperature_c == pytest.approx(sample.temperature_c, abs=0.01)
    assert reading.pressure_hpa == pytest.approx(sample.pressure_hpa, abs=0.1)
    assert reading.humidity_pct == pytest.approx(sample.humidity_pct, abs=0.1)


def test_inversion_is_exact_to_the_adc_step_for_a_table_of_chips() -> None:
    for seed in range(20):
        cal = Bme280Calibration.typical(seed)
        host = Calibration.from_registers(*cal.registers())
        for sample in CONDITIONS:
            reading = compensate_double(*raw_from_values(sample, cal), host)
            assert reading.temperature_c == pytest.approx(sample.temperature_c, abs=0.001)
            assert reading.pressure_hpa == pytest.approx(sample.pressure_hpa, abs=0.005)
            assert reading.humidity_pct == pytest.approx(sample.humidity_pct, abs=0.005)


@pytest.mark.parametrize(
    ("chip_id", "message"),
    [
        (0x58, "reads 0x58, expected 0x60 .*BMP280, which has no humidity sensor"),
        (0x61, "reads 0x61.*BME680"),
        (0x00, "reads 0x00.*check the address and wiring"),
        (0x42, r"reads 0x42, expected 0x60 \(BME280\)$"),
    ],
)
def test_wrong_chip_id_is_a_clear_error(chip_id: int, message: str) -> None:
    clock, bus, _, _ = make(chip_id=chip_id)
    with pytest.raises(ChipIdError, match=message) as info:
        driver(clock, bus).init()
    assert "BME280 at i2c-1 address 0x76" in str(info.value)
    assert info.value.found == chip_id


def test_accelerometer_at_the_bme280_address_is_refused() -> None:
    clock = SimClock(start_ns=START_NS, realtime=False)
    bus = EmulatedI2CBus(1)
    bus.attach(ADDRESS, Adxl345Emulator(Level(), clock, seed=1))
    with pytest.raises(ChipIdError, match="register 0xd0 reads 0x00"):
        driver(clock, bus).init()


@pytest.mark.parametrize("nack_errno", [errno.EREMOTEIO, errno.ENXIO])
def test_absent_chip_raises_bus_error_with_errno(nack_errno: int) -> None:
    clock = SimClock(start_ns=START_NS, realtime=False)
    bus = EmulatedI2CBus(1, nack_errno=nack_errno)
    with pytest.raises(BusError, match=f"errno {nack_errno}.*did not acknowledge") as info:
        driver(clock, bus).init()
    assert info.value.errno == nack_errno


def test_forced_mode_waits_for_the_conversion() -> None:
    clock, bus, _, source = make()
    bme = driver(clock, bus, mode="forced")
    bme.init()
    before = clock.elapsed_s()
    assert bme.read().temperature_c == pytest.approx(21.5, abs=0.01)
    assert 0.008 < clock.elapsed_s() - before < 0.02  # slept the ~9.3 ms maximum, not longer
    # Back in sleep mode after one conversion: the chip holds the value.
    source.value = env(30.0, 1005.0, 55.0)
    assert bus.read_byte_data(ADDRESS, 0xF4) & 0x03 == 0
    assert bme.read().temperature_c == pytest.approx(30.0, abs=0.01)


def test_normal_mode_updates_once_per_standby_period() -> None:
    clock, bus, _, source = make()
    bme = driver(clock, bus, standby_ms=1000.0)
    bme.init()
    assert bme.read().temperature_c == pytest.approx(21.5, abs=0.01)
    source.value = env(25.0, 1005.0, 55.0)
    clock.advance(0.5)
    assert bme.read().temperature_c == pytest.approx(21.5, abs=0.01)  # next cycle not yet done
    clock.advance(0.6)
    assert bme.read().temperature_c == pytest.approx(25.0, abs=0.01)


def test_ctrl_hum_only_takes_effect_on_a_ctrl_meas_write() -> None:
    clock, bus, _, _ = make()
    bus.write_byte_data(ADDRESS, 0xF4, 0b001_001_01)  # forced, T and P ×1, humidity still off
    bus.write_byte_data(ADDRESS, 0xF2, 0x01)  # too late for this conversion
    clock.advance(0.02)
    data = bus.read_i2c_block_data(ADDRESS, 0xF7, 8)
    assert (data[6] << 8) | data[7] == 0x8000  # skipped measurement
    assert (data[3] << 12) | (data[4] << 4) | (data[5] >> 4) != 0x80000


def test_soft_reset_sets_im_update_and_restores_defaults() -> None:
    clock, bus, _, _ = make()
    bus.write_byte_data(ADDRESS, 0xF5, 0xA0)
    bus.write_byte_data(ADDRESS, 0xE0, 0xB6)
    assert bus.read_byte_data(ADDRESS, 0xF3) & 0x01  # copying NVM
    assert bus.read_byte_data(ADDRESS, 0xF5) == 0x00
    assert bus.read_byte_data(ADDRESS, 0xE0) == 0x00  # reset register reads 0
    clock.advance(0.002)
    assert bus.read_byte_data(ADDRESS, 0xF3) == 0x00


def test_config_writes_are_ignored_in_normal_mode() -> None:
    _, bus, _, _ = make()
    bus.write_byte_data(ADDRESS, 0xF4, 0b001_001_11)
    bus.write_byte_data(ADDRESS, 0xF5, 0xA0)
    assert bus.read_byte_data(ADDRESS, 0xF5) == 0x00


def test_iir_filter_smooths_a_step() -> None:
    clock, bus, _, source = make()
    bme = driver(clock, bus, filter_coefficient=16, standby_ms=0.5)
    bme.init()
    clock.advance(1.0)
    assert bme.read().temperature_c == pytest.approx(21.5, abs=0.01)
    source.value = env(31.5, 1005.0, 55.0)
    clock.advance(0.0085)  # about one cycle: only 1/16 of the step
    assert bme.read().temperature_c == pytest.approx(21.5 + 10.0 / 16, abs=0.2)
    assert bme.read().humidity_pct == pytest.approx(55.0, abs=0.1)  # humidity is not filtered


def test_chip_reset_behind_the_drivers_back_is_detected() -> None:
    clock, bus, chip, _ = make()
    bme = driver(clock, bus)
    bme.init()
    chip.power_on_reset()  # a brown-out: sleep mode, data registers at 0x80000
    with pytest.raises(DriverError, match="reset value 0x80000"):
        bme.read()
    assert not bme.ready
    bme.init()
    assert bme.read().temperature_c == pytest.approx(21.5, abs=0.01)


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (Fault(target="bme280", kind="stuck", start_s=1.0), "stuck"),
        (Fault(target="bme280", kind="spike", start_s=1.0, magnitude=40.0), "spike"),
        (
            Fault(
                target="bme280", kind="spike", start_s=1.0, magnitude=-50.0, field="pressure_hpa"
            ),
            "pressure_spike",
        ),
        (Fault(target="bme280", kind="dropout", start_s=1.0, duration_s=2.0), "dropout"),
    ],
)
def test_faults_show_in_readings(fault: Fault, check: str) -> None:
    clock, bus, _, source = make(faults=[fault], noise=True)
    bme = driver(clock, bus)
    bme.init()
    clock.advance(0.5)
    healthy = bme.read()
    source.value = env(23.0, 1008.0, 50.0)  # the weather moves on...
    clock.advance(1.0)  # ...while the fault is active
    if check == "dropout":
        with pytest.raises(BusError, match="errno 121"):
            bme.read()
        clock.advance(2.0)
        assert bme.read().temperature_c == pytest.approx(23.0, abs=0.05)
        return
    readings = []
    for _ in range(5):
        readings.append(bme.read())
        clock.advance(0.1)
    if check == "stuck":
        assert all(r == healthy for r in readings)
    elif check == "spike":
        assert all(r.temperature_c == pytest.approx(63.0, abs=0.1) for r in readings)
    else:
        assert all(r.pressure_hpa == pytest.approx(958.0, abs=0.1) for r in readings)
