"""Driver for the Bosch BME280 temperature/pressure/humidity sensor on I2C.

Reads the chip's trimming parameters (0x88..0xA1, 0xE1..0xE7) once at init and applies the
datasheet's compensation formulas to the raw ADC counts: the double-precision ones of appendix
8.1 by default, or the integer ones of section 4.2.3 (bit-exact with Bosch's reference code).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from edge.drivers.bus import I2CBus, RegisterIO, known_chip
from edge.drivers.errors import ChipIdError, DeviceTimeoutError, DriverError

__all__ = [
    "BME280_ADDRESS",
    "BME280_CHIP_ID",
    "Bme280",
    "Bme280Config",
    "Bme280Reading",
    "Calibration",
    "compensate_double",
    "compensate_int",
]

BME280_ADDRESS = 0x76  # SDO to GND, as on most breakout boards; 0x77 with SDO high
BME280_CHIP_ID = 0x60

REG_CALIB00 = 0x88
REG_ID = 0xD0
REG_RESET = 0xE0
REG_CALIB26 = 0xE1
REG_CTRL_HUM = 0xF2
REG_STATUS = 0xF3
REG_CTRL_MEAS = 0xF4
REG_CONFIG = 0xF5
REG_DATA = 0xF7

_RESET_WORD = 0xB6
_STATUS_MEASURING = 0x08
_STATUS_IM_UPDATE = 0x01
_SKIPPED = 0x80000  # what the data registers hold before any conversion (reset value)
_OSRS_CODES = {1: 1, 2: 2, 4: 3, 8: 4, 16: 5}
_FILTER_CODES = {0: 0, 2: 1, 4: 2, 8: 3, 16: 4}
_STANDBY_CODES = {0.5: 0, 62.5: 1, 125.0: 2, 250.0: 3, 500.0: 4, 1000.0: 5, 10.0: 6, 20.0: 7}


@dataclass(frozen=True, slots=True)
class Calibration:
    """Trimming parameters of one chip, named as in the datasheet's table 16."""

    dig_t1: int
    dig_t2: int
    dig_t3: int
    dig_p1: int
    dig_p2: int
    dig_p3: int
    dig_p4: int
    dig_p5: int
    dig_p6: int
    dig_p7: int
    dig_p8: int
    dig_p9: int
    dig_h1: int
    dig_h2: int
    dig_h3: int
    dig_h4: int
    dig_h5: int
    dig_h6: int

    @classmethod
    def from_registers(cls, block1: Sequence[int], block2: Sequence[int]) -> Calibration:
        """block1: 26 bytes from 0x88; block2: 7 bytes from 0xE1."""
        if len(block1) != 26 or len(block2) != 7:
            raise ValueError(f"calibration needs 26 + 7 bytes, got {len(block1)} + {len(block2)}")
        t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1 = struct.unpack(
            "<HhhHhhhhhhhhxB", bytes(block1)
        )
        h2, h3 = struct.unpack("<hB", bytes(block2[0:3]))
        e4, e5, e6 = block2[3], block2[4], block2[5]
        # H4 and H5 are 12-bit signed values sharing the nibbles of 0xE5.
        h4 = _signed((e4 << 4) | (e5 & 0x0F), 12)
        h5 = _signed((e6 << 4) | (e5 >> 4), 12)
        h6 = _signed(block2[6], 8)
        return cls(t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


@dataclass(frozen=True, slots=True)
class Bme280Reading:
    temperature_c: float
    pressure_hpa: float
    humidity_pct: float


def compensate_double(adc_t: int, adc_p: int, adc_h: int, cal: Calibration) -> Bme280Reading:
    """Datasheet appendix 8.1 (double precision)."""
    var1 = (adc_t / 16384.0 - cal.dig_t1 / 1024.0) * cal.dig_t2
    d = adc_t / 131072.0 - cal.dig_t1 / 8192.0
    var2 = d * d * cal.dig_t3
    t_fine = int(var1 + var2)  # C's (BME280_S32_t) cast truncates toward zero, as int() does
    temperature = (var1 + var2) / 5120.0

    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * cal.dig_p6 / 32768.0
    var2 = var2 + var1 * cal.dig_p5 * 2.0
    var2 = var2 / 4.0 + cal.dig_p4 * 65536.0
    var1 = (cal.dig_p3 * var1 * var1 / 524288.0 + cal.dig_p2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * cal.dig_p1
    if var1 == 0.0:
        pressure = 0.0  # the datasheet's guard against dividing by zero
    else:
        p = 1048576.0 - adc_p
        p = (p - var2 / 4096.0) * 6250.0 / var1
        var1 = cal.dig_p9 * p * p / 2147483648.0
        var2 = p * cal.dig_p8 / 32768.0
        pressure = p + (var1 + var2 + cal.dig_p7) / 16.0

    h = t_fine - 76800.0
    h = (adc_h - (cal.dig_h4 * 64.0 + cal.dig_h5 / 16384.0 * h)) * (
        cal.dig_h2
        / 65536.0
        * (1.0 + cal.dig_h6 / 67108864.0 * h * (1.0 + cal.dig_h3 / 67108864.0 * h))
    )
    h = h * (1.0 - cal.dig_h1 * h / 524288.0)
    humidity = min(100.0, max(0.0, h))
    return Bme280Reading(temperature, pressure / 100.0, humidity)


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero); Python's // floors."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def compensate_int(adc_t: int, adc_p: int, adc_h: int, cal: Calibration) -> Bme280Reading:
    """Datasheet section 4.2.3 (32-bit temperature and humidity, 64-bit pressure)."""
    var1 = (((adc_t >> 3) - (cal.dig_t1 << 1)) * cal.dig_t2) >> 11
    var2 = (((((adc_t >> 4) - cal.dig_t1) * ((adc_t >> 4) - cal.dig_t1)) >> 12) * cal.dig_t3) >> 14
    t_fine = var1 + var2
    temperature_centi = (t_fine * 5 + 128) >> 8

    v1 = t_fine - 128000
    v2 = v1 * v1 * cal.dig_p6
    v2 = v2 + ((v1 * cal.dig_p5) << 17)
    v2 = v2 + (cal.dig_p4 << 35)
    v1 = ((v1 * v1 * cal.dig_p3) >> 8) + ((v1 * cal.dig_p2) << 12)
    v1 = (((1 << 47) + v1) * cal.dig_p1) >> 33
    if v1 == 0:
        pressure_q24_8 = 0
    else:
        p = 1048576 - adc_p
        p = _c_div(((p << 31) - v2) * 3125, v1)
        v1 = (cal.dig_p9 * (p >> 13) * (p >> 13)) >> 25
        v2 = (cal.dig_p8 * p) >> 19
        pressure_q24_8 = ((p + v1 + v2) >> 8) + (cal.dig_p7 << 4)

    x = t_fine - 76800
    x = ((((adc_h << 14) - (cal.dig_h4 << 20) - (cal.dig_h5 * x)) + 16384) >> 15) * (
        (
            (((((x * cal.dig_h6) >> 10) * (((x * cal.dig_h3) >> 11) + 32768)) >> 10) + 2097152)
            * cal.dig_h2
            + 8192
        )
        >> 14
    )
    x = x - (((((x >> 15) * (x >> 15)) >> 7) * cal.dig_h1) >> 4)
    x = min(419430400, max(0, x))
    humidity_q22_10 = x >> 12
    return Bme280Reading(
        temperature_centi / 100.0, pressure_q24_8 / 25600.0, humidity_q22_10 / 1024.0
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Bme280Config:
    """Settings of the datasheet's "weather monitoring" case by default, in normal mode so a
    read never waits for a conversion (forced mode waits ~10 ms per read)."""

    mode: Literal["normal", "forced"] = "normal"
    oversampling_t: int = 1
    oversampling_p: int = 1
    oversampling_h: int = 1
    filter_coefficient: int = 0  # 0 = IIR filter off
    standby_ms: float = 62.5
    compensation: Literal["double", "int"] = "double"

    def __post_init__(self) -> None:
        if self.mode not in ("normal", "forced"):
            raise ValueError(f"mode must be 'normal' or 'forced', got {self.mode!r}")
        for name in ("oversampling_t", "oversampling_p", "oversampling_h"):
            if getattr(self, name) not in _OSRS_CODES:
                raise ValueError(f"{name} must be one of {sorted(_OSRS_CODES)}")
        if self.filter_coefficient not in _FILTER_CODES:
            raise ValueError(f"filter_coefficient must be one of {sorted(_FILTER_CODES)}")
        if self.standby_ms not in _STANDBY_CODES:
            raise ValueError(f"standby_ms must be one of {sorted(_STANDBY_CODES)}")
        if self.compensation not in ("double", "int"):
            raise ValueError(f"compensation must be 'double' or 'int', got {self.compensation!r}")

    def max_measurement_s(self) -> float:
        """Datasheet 9.1 maximum conversion time for these oversampling settings."""
        t, p, h = self.oversampling_t, self.oversampling_p, self.oversampling_h
        return (1.25 + 2.3 * t + 2.3 * p + 0.575 + 2.3 * h + 0.575) / 1000.0


class Bme280:
    """One BME280. Construct, then `init()` (checks the chip id, resets, reads calibration)."""

    def __init__(
        self,
        bus: I2CBus,
        address: int = BME280_ADDRESS,
        config: Bme280Config | None = None,
        *,
        bus_name: str = "i2c",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._io = RegisterIO(bus, address, device="BME280", bus_name=bus_name)
        self.config = config if config is not None else Bme280Config()
        self._sleep = sleep
        self.calibration: Calibration | None = None
        self._compensate = (
            compensate_double if self.config.compensation == "double" else compensate_int
        )
        self.ready = False

    @property
    def where(self) -> str:
        return self._io.where

    def _wait_status_clear(self, mask: int, first_wait_s: float, what: str) -> None:
        self._sleep(first_wait_s)
        for _ in range(10):
            if not self._io.read_u8(REG_STATUS) & mask:
                return
            self._sleep(0.001)
        raise DeviceTimeoutError(
            f"{what} did not finish ({first_wait_s * 1000 + 10:.0f} ms)",
            device="BME280",
            where=self.where,
        )

    def init(self) -> None:
        self.ready = False
        io = self._io
        chip_id = io.read_u8(REG_ID)
        if chip_id != BME280_CHIP_ID:
            raise ChipIdError(
                device="BME280",
                where=self.where,
                register=REG_ID,
                expected=BME280_CHIP_ID,
                found=chip_id,
                hint=known_chip(REG_ID, chip_id),
            )
        io.write_u8(REG_RESET, _RESET_WORD)
        self._wait_status_clear(_STATUS_IM_UPDATE, 0.002, "NVM copy after soft reset")
        self.calibration = Calibration.from_registers(
            io.read_block(REG_CALIB00, 26), io.read_block(REG_CALIB26, 7)
        )
        cfg = self.config
        # ctrl_hum only takes effect at the next ctrl_meas write, and config writes are ignored
        # in normal mode: hence this order, with ctrl_meas (which may start normal mode) last.
        io.write_u8(REG_CTRL_HUM, _OSRS_CODES[cfg.oversampling_h])
        io.write_u8(
            REG_CONFIG,
            (_STANDBY_CODES[cfg.standby_ms] << 5) | (_FILTER_CODES[cfg.filter_coefficient] << 2),
        )
        io.write_u8(REG_CTRL_MEAS, self._ctrl_meas(0x03 if cfg.mode == "normal" else 0x00))
        if cfg.mode == "normal":
            # The measuring bit is set for most of each cycle in normal mode, so it says little:
            # wait out the first conversion instead; read_raw() notices if it never came.
            self._sleep(cfg.max_measurement_s())
        self.ready = True

    def _ctrl_meas(self, mode_bits: int) -> int:
        cfg = self.config
        return (
            (_OSRS_CODES[cfg.oversampling_t] << 5)
            | (_OSRS_CODES[cfg.oversampling_p] << 2)
            | mode_bits
        )

    def read_raw(self) -> tuple[int, int, int]:
        """(adc_T, adc_P, adc_H) from one burst read, triggering a conversion in forced mode."""
        if self.config.mode == "forced":
            self._io.write_u8(REG_CTRL_MEAS, self._ctrl_meas(0x01))
            self._wait_status_clear(
                _STATUS_MEASURING, self.config.max_measurement_s(), "forced conversion"
            )
        d = self._io.read_block(REG_DATA, 8)  # one burst: the chip shadows it against updates
        adc_p = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4)
        adc_t = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4)
        adc_h = (d[6] << 8) | d[7]
        if adc_t == _SKIPPED or adc_p == _SKIPPED:
            self.ready = False
            raise DriverError(
                "data registers hold their reset value 0x80000: the chip has reset or is not "
                "converting; it needs init() again",
                device="BME280",
                where=self.where,
            )
        return adc_t, adc_p, adc_h

    def read(self) -> Bme280Reading:
        if self.calibration is None:
            raise DriverError("read() before init()", device="BME280", where=self.where)
        adc_t, adc_p, adc_h = self.read_raw()
        return self._compensate(adc_t, adc_p, adc_h, self.calibration)

    def sleep_mode(self) -> None:
        """Stop converting (0.1 µA in sleep mode); `init()` starts it again."""
        self.ready = False
        self._io.write_u8(REG_CTRL_MEAS, self._ctrl_meas(0x00))
