"""The ADXL345 driver against the register-level emulator: FIFO, formats, tilt, faults, ids."""

from __future__ import annotations

import errno
import math
import struct

import pytest

from edge.drivers.adxl345 import Adxl345, Adxl345Config
from edge.drivers.errors import BusError, ChipIdError, DeviceTimeoutError, DriverError
from firmware_sim.faults import Fault, FaultInjector, SimClock
from firmware_sim.i2c.adxl345 import Adxl345Emulator
from firmware_sim.i2c.bme280 import Bme280Emulator
from firmware_sim.i2c.bus import EmulatedI2CBus
from firmware_sim.signals import EnvironmentSample

START_NS = 1_750_000_000 * 10**9
ADDRESS = 0x53


class Scripted:
    """Gravity from a fixed tilt plus an optional sine along x: a signal with known answers."""

    def __init__(
        self,
        tilt_x_deg: float = 0.0,
        tilt_y_deg: float = 0.0,
        amp_g: float = 0.0,
        f_hz: float = 0.0,
    ) -> None:
        gx, gy = math.sin(math.radians(tilt_x_deg)), math.sin(math.radians(tilt_y_deg))
        self.gravity = (gx, gy, math.sqrt(1.0 - gx * gx - gy * gy))
        self.amp_g = amp_g
        self.f_hz = f_hz

    def accel_g(self, t_s: float) -> tuple[float, float, float]:
        gx, gy, gz = self.gravity
        return gx + self.amp_g * math.sin(2 * math.pi * ((self.f_hz * t_s) % 1.0)), gy, gz


def make(
    source: Scripted | None = None,
    *,
    faults: list[Fault] | None = None,
    noise_g: float = 0.0,
    device_id: int = 0xE5,
    nack_errno: int = errno.EREMOTEIO,
) -> tuple[SimClock, EmulatedI2CBus, Adxl345Emulator]:
    clock = SimClock(start_ns=START_NS, realtime=False)
    chip = Adxl345Emulator(
        source or Scripted(),
        clock,
        seed=5,
        faults=FaultInjector(faults or (), seed=5),
        noise_g=noise_g,
        device_id=device_id,
    )
    bus = EmulatedI2CBus(1, nack_errno=nack_errno)
    bus.attach(ADDRESS, chip)
    return clock, bus, chip


def driver(clock: SimClock, bus: EmulatedI2CBus, **config: object) -> Adxl345:
    cfg = Adxl345Config(**config)  # type: ignore[arg-type]
    return Adxl345(bus, ADDRESS, cfg, bus_name="i2c-1", sleep=clock.sleep)


def tilt_of(samples: list[tuple[float, float, float]]) -> tuple[float, float]:
    n = len(samples)
    mx, my, mz = (sum(s[i] for s in samples) / n for i in range(3))
    return (
        math.degrees(math.atan2(mx, math.hypot(my, mz))),
        math.degrees(math.atan2(my, math.hypot(mx, mz))),
    )


def test_init_configures_the_chip() -> None:
    clock, bus, chip = make()
    driver(clock, bus, rate_hz=200.0, range_g=4).init()
    assert chip.measuring
    assert chip.output_data_rate_hz == 200.0
    assert bus.read_byte_data(ADDRESS, 0x31) == 0x08 | 0x01  # FULL_RES, ±4 g
    assert bus.read_byte_data(ADDRESS, 0x38) >> 6 == 0b10  # stream mode


@pytest.mark.parametrize(
    ("device_id", "message"),
    [
        (0xAD, "reads 0xad, expected 0xe5 .*ADXL355/357"),
        (0x00, "reads 0x00.*check the address and wiring"),
        (0x33, r"reads 0x33, expected 0xe5 \(ADXL345\)$"),
    ],
)
def test_wrong_chip_id_is_a_clear_error(device_id: int, message: str) -> None:
    clock, bus, _ = make(device_id=device_id)
    with pytest.raises(ChipIdError, match=message) as info:
        driver(clock, bus).init()
    assert "ADXL345 at i2c-1 address 0x53" in str(info.value)


def test_bme280_at_the_accelerometer_address_is_refused() -> None:
    clock = SimClock(start_ns=START_NS, realtime=False)
    bus = EmulatedI2CBus(1)

    class Still:
        def sample(self, t_s: float) -> EnvironmentSample:
            return EnvironmentSample(temperature_c=20.0, humidity_pct=50.0, pressure_hpa=1000.0)

    bus.attach(ADDRESS, Bme280Emulator(Still(), clock, seed=1))
    with pytest.raises(ChipIdError, match="register 0x00 reads 0x00"):
        driver(clock, bus).init()


@pytest.mark.parametrize("nack_errno", [errno.EREMOTEIO, errno.ENXIO])
def test_nothing_at_the_address(nack_errno: int) -> None:
    clock = SimClock(start_ns=START_NS, realtime=False)
    with pytest.raises(BusError, match=f"reading register 0x00 failed \\(errno {nack_errno}\\)"):
        driver(clock, EmulatedI2CBus(1, nack_errno=nack_errno)).init()


@pytest.mark.parametrize(
    ("tilt_x", "tilt_y", "noise_g"),
    [(0.0, 0.0, 0.0), (1.0, -2.0, 0.0), (5.0, 3.0, 0.0), (-10.0, 0.5, 0.0), (2.5, 2.5, 0.004)],
)
def test_tilt_from_gravity(tilt_x: float, tilt_y: float, noise_g: float) -> None:
    clock, bus, _ = make(Scripted(tilt_x, tilt_y), noise_g=noise_g)
    adxl = driver(clock, bus)
    adxl.init()
    got_x, got_y = tilt_of(adxl.samples(32))
    # One LSB is 1/256 g ≈ 0.22°: without noise to dither it, half an LSB is the error bound.
    assert got_x == pytest.approx(tilt_x, abs=0.15)
    assert got_y == pytest.approx(tilt_y, abs=0.15)


@pytest.mark.parametrize(("amp_g", "f_hz"), [(0.05, 12.5), (0.1, 25.0), (0.5, 12.5)])
def test_burst_rms_of_a_known_sine(amp_g: float, f_hz: float) -> None:
    clock, bus, _ = make(Scripted(amp_g=amp_g, f_hz=f_hz))
    adxl = driver(clock, bus)
    adxl.init()
    xs = [s[0] for s in adxl.samples(32)]  # 0.32 s: whole periods of both frequencies
    mean = sum(xs) / len(xs)
    rms = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
    assert rms == pytest.approx(amp_g / math.sqrt(2), rel=0.05, abs=0.004)


def test_fifo_fills_at_the_data_rate_and_caps_at_32() -> None:
    clock, bus, _ = make()
    driver(clock, bus, rate_hz=100.0).init()
    assert bus.read_byte_data(ADDRESS, 0x39) == 0
    clock.advance(0.105)
    assert bus.read_byte_data(ADDRESS, 0x39) == 10
    bus.read_i2c_block_data(ADDRESS, 0x32, 6)  # one 6-byte read pops one entry
    assert bus.read_byte_data(ADDRESS, 0x39) == 9
    clock.advance(1.0)
    assert bus.read_byte_data(ADDRESS, 0x39) == 32
    assert bus.read_byte_data(ADDRESS, 0x30) & 0x01  # overrun


def test_samples_wait_for_the_fifo_then_share_the_ring() -> None:
    clock, bus, _ = make(noise_g=0.004)
    adxl = driver(clock, bus)
    adxl.init()
    first = adxl.samples(32)
    assert clock.elapsed_s() == pytest.approx(0.32, abs=0.02)  # waited via the clock's sleep
    again = adxl.samples(16)
    assert again == first[-16:]  # no new conversions yet: the latest 16 of the same stretch
    clock.advance(0.05)
    assert adxl.samples(32)[-5:] != first[-5:]


def test_samples_time_out_when_the_fifo_cannot_fill_in_time() -> None:
    clock, bus, _ = make()
    adxl = driver(clock, bus)
    adxl.init()
    with pytest.raises(DeviceTimeoutError, match=r"FIFO gave 0 of 32 samples in 0\.00 s at 100 Hz"):
        adxl.samples(32, timeout_s=0.1)  # 32 samples take 0.32 s at 100 Hz


def test_chip_found_in_standby_is_reported_not_served_from_the_ring() -> None:
    clock, bus, _ = make()
    adxl = driver(clock, bus)
    adxl.init()
    assert len(adxl.samples(32)) == 32
    bus.write_byte_data(ADDRESS, 0x2D, 0x00)  # as after a brown-out: standby
    with pytest.raises(DriverError, match=r"standby .*needs init"):
        adxl.samples(8)
    assert not adxl.ready


@pytest.mark.parametrize(
    ("data_format", "g", "expected"),
    [
        (0x08, 1.0, 256),  # full resolution: 256 LSB/g at every range
        (0x0B, -1.0, -256),
        (0x0B, 20.0, 4095),  # ±16 g full resolution: 13 bits, saturates
        (0x00, 1.0, 256),  # 10-bit ±2 g
        (0x01, 1.0, 128),  # 10-bit ±4 g
        (0x03, 1.0, 32),  # 10-bit ±16 g
        (0x00, 3.0, 511),  # 10-bit ±2 g saturates
        (0x04, 1.0, 256 << 6),  # left-justified 10-bit
    ],
)
def test_data_format_encoding(data_format: int, g: float, expected: int) -> None:
    class Constant:
        def accel_g(self, t_s: float) -> tuple[float, float, float]:
            return (g, 0.0, 0.0)

    clock = SimClock(start_ns=START_NS, realtime=False)
    bus = EmulatedI2CBus(1)
    bus.attach(ADDRESS, Adxl345Emulator(Constant(), clock, seed=1, noise_g=0.0))
    bus.write_byte_data(ADDRESS, 0x31, data_format)
    bus.write_byte_data(ADDRESS, 0x2D, 0x08)  # measure, bypass mode
    clock.advance(0.05)
    x, _, _ = struct.unpack("<hhh", bytes(bus.read_i2c_block_data(ADDRESS, 0x32, 6)))
    assert x == (expected if expected < 32768 else expected - 65536)


def test_offset_registers_shift_the_output() -> None:
    clock, bus, _ = make()
    bus.write_byte_data(ADDRESS, 0x1E, 0x100 - 4)  # OFSX -4 LSB = -62.4 mg
    adxl = driver(clock, bus)
    adxl.init()
    mean_x = sum(s[0] for s in adxl.samples(8)) / 8
    assert mean_x == pytest.approx(-0.0624, abs=0.004)


def test_emulator_reads_are_register_faithful() -> None:
    _, bus, _ = make()
    assert bus.read_byte_data(ADDRESS, 0x00) == 0xE5
    assert bus.read_i2c_block_data(ADDRESS, 0x2C, 2) == [0x0A, 0x00]  # auto-increment
    bus.write_byte_data(ADDRESS, 0x00, 0x12)  # DEVID is read-only
    assert bus.read_byte_data(ADDRESS, 0x00) == 0xE5
    with pytest.raises(ValueError, match="cannot exceed 32"):
        bus.read_i2c_block_data(ADDRESS, 0x32, 33)


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (Fault(target="accel", kind="stuck", start_s=0.5), "stuck"),
        (Fault(target="accel", kind="spike", start_s=0.5, magnitude=3.0, probability=0.2), "spike"),
        (Fault(target="accel", kind="dropout", start_s=0.5, duration_s=1.0), "dropout"),
    ],
)
def test_faults_show_in_samples(fault: Fault, check: str) -> None:
    clock, bus, _ = make(Scripted(amp_g=0.05, f_hz=3.0), faults=[fault], noise_g=0.004)
    adxl = driver(clock, bus, range_g=4)
    adxl.init()
    clock.advance(0.6)
    if check == "dropout":
        with pytest.raises(BusError, match="errno 121") as info:
            adxl.samples(16)
        assert info.value.errno == errno.EREMOTEIO
        clock.advance(1.0)
        adxl.init()  # what the sensor layer does after a failure
        assert len(adxl.samples(16)) == 16
        return
    clock.advance(0.5)
    burst = adxl.samples(32)
    if check == "stuck":
        assert len(set(burst)) == 1
    else:
        peaks = [abs(x) for x, _, _ in burst]
        assert max(peaks) > 2.0  # the outliers stand far above the 0.05 g sway
        assert sum(p > 2.0 for p in peaks) < 20
