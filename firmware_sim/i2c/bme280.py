"""Register-level emulator of the Bosch BME280 humidity/pressure/temperature sensor (I2C side).

The chip stores per-device trimming constants (0x88..0xA1, 0xE1..0xE7) and reports raw ADC
counts; the host turns them into °C, hPa and %RH with Bosch's compensation formulas. To make the
real driver's formulas produce the intended weather, this emulator inverts the datasheet's
double-precision formulas analytically (each is a quadratic in the raw value) and rounds to the
ADC resolution that the oversampling setting gives. Emulated: chip id, soft reset with NVM copy,
sleep/forced/normal modes with datasheet timing, ctrl_hum latching on a ctrl_meas write, the
status bits, IIR filter, skipped measurements, data shadowing in burst reads.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from firmware_sim.faults import FaultInjector, SimClock
from firmware_sim.i2c.bus import I2CNack
from firmware_sim.signals import EnvironmentSample, EnvironmentSource

__all__ = [
    "BME280_CHIP_ID",
    "Bme280Calibration",
    "Bme280Emulator",
    "forward_double",
    "measurement_time_ms",
    "raw_from_values",
]

BME280_CHIP_ID = 0x60

_REG_CALIB00 = 0x88
_REG_CALIB26 = 0xE1
_REG_ID = 0xD0
_REG_RESET = 0xE0
_REG_CTRL_HUM = 0xF2
_REG_STATUS = 0xF3
_REG_CTRL_MEAS = 0xF4
_REG_CONFIG = 0xF5
_REG_DATA = 0xF7
_RESET_WORD = 0xB6
_NVM_COPY_NS = 2_000_000  # start-up time of the datasheet: 2 ms
_SKIPPED_20BIT = 0x80000
_SKIPPED_16BIT = 0x8000

_OVERSAMPLING = (0, 1, 2, 4, 8, 16, 16, 16)  # osrs_x code -> factor, 0 = skipped
_STANDBY_MS = (0.5, 62.5, 125.0, 250.0, 500.0, 1000.0, 10.0, 20.0)  # t_sb code -> ms (BME280)
_FILTER = (1, 2, 4, 8, 16, 16, 16, 16)  # filter code -> coefficient, 1 = off


def measurement_time_ms(osrs_t: int, osrs_p: int, osrs_h: int, *, maximum: bool = False) -> float:
    """Conversion time of one measurement cycle (datasheet section 9.1), from osrs codes."""
    t, p, h = _OVERSAMPLING[osrs_t & 7], _OVERSAMPLING[osrs_p & 7], _OVERSAMPLING[osrs_h & 7]
    if maximum:
        return 1.25 + 2.3 * t + (2.3 * p + 0.575 if p else 0.0) + (2.3 * h + 0.575 if h else 0.0)
    return 1.0 + 2.0 * t + (2.0 * p + 0.5 if p else 0.0) + (2.0 * h + 0.5 if h else 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Bme280Calibration:
    """Trimming parameters as burnt into the NVM of one chip (names from the datasheet)."""

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

    def __post_init__(self) -> None:
        if not (0 < self.dig_t1 < 65536 and 0 < self.dig_p1 < 65536 and self.dig_t2 > 0):
            raise ValueError("dig_T1, dig_P1 must be unsigned 16-bit and dig_T2 positive")
        if not (0 <= self.dig_h1 < 256 and 0 <= self.dig_h3 < 256 and -128 <= self.dig_h6 < 128):
            raise ValueError("dig_H1, dig_H3 must be unsigned 8-bit and dig_H6 signed 8-bit")
        if not (-2048 <= self.dig_h4 < 2048 and -2048 <= self.dig_h5 < 2048):
            raise ValueError("dig_H4 and dig_H5 are signed 12-bit")

    @classmethod
    def typical(cls, seed: int | None = None) -> Bme280Calibration:
        """Constants of the datasheet example (humidity: values read from retail chips),
        varied per seed by the few tenths of a percent that separate real chips."""
        rng = random.Random(seed)

        def vary(value: int, spread: int) -> int:
            return value if seed is None else value + rng.randint(-spread, spread)

        return cls(
            dig_t1=vary(27504, 300),
            dig_t2=vary(26435, 300),
            dig_t3=-1000,
            dig_p1=vary(36477, 200),
            dig_p2=-10685,
            dig_p3=3024,
            dig_p4=vary(2855, 100),
            dig_p5=140,
            dig_p6=-7,
            dig_p7=15500,
            dig_p8=-14600,
            dig_p9=6000,
            dig_h1=75,
            dig_h2=vary(362, 10),
            dig_h3=0,
            dig_h4=vary(313, 10),
            dig_h5=50,
            dig_h6=30,
        )

    def registers(self) -> tuple[bytes, bytes]:
        """NVM contents as the chip exposes them: 0x88..0xA1 (26 bytes), 0xE1..0xE7 (7 bytes)."""
        block1 = struct.pack(
            "<HhhHhhhhhhhhxB",
            self.dig_t1,
            self.dig_t2,
            self.dig_t3,
            self.dig_p1,
            self.dig_p2,
            self.dig_p3,
            self.dig_p4,
            self.dig_p5,
            self.dig_p6,
            self.dig_p7,
            self.dig_p8,
            self.dig_p9,
            self.dig_h1,
        )
        h4, h5 = self.dig_h4 & 0xFFF, self.dig_h5 & 0xFFF
        block2 = struct.pack("<hB", self.dig_h2, self.dig_h3) + bytes(
            [h4 >> 4, (h4 & 0x0F) | ((h5 & 0x0F) << 4), h5 >> 4, self.dig_h6 & 0xFF]
        )
        return block1, block2


def forward_double(
    adc_t: int, adc_p: int, adc_h: int, cal: Bme280Calibration
) -> tuple[float, float, float, int]:
    """Datasheet appendix 8.1 double formulas: (°C, Pa, %RH, t_fine). Used to check inversion."""
    u = adc_t / 131072.0 - cal.dig_t1 / 8192.0
    s = 8.0 * u * cal.dig_t2 + u * u * cal.dig_t3
    t_fine = int(s)
    v1 = t_fine / 2.0 - 64000.0
    v2 = v1 * v1 * cal.dig_p6 / 32768.0 + v1 * cal.dig_p5 * 2.0
    v2 = v2 / 4.0 + cal.dig_p4 * 65536.0
    v1 = (cal.dig_p3 * v1 * v1 / 524288.0 + cal.dig_p2 * v1) / 524288.0
    v1 = (1.0 + v1 / 32768.0) * cal.dig_p1
    q = (1048576.0 - adc_p - v2 / 4096.0) * 6250.0 / v1
    p = q + (cal.dig_p9 * q * q / 2147483648.0 + q * cal.dig_p8 / 32768.0 + cal.dig_p7) / 16.0
    h0 = t_fine - 76800.0
    k = _humidity_gain(cal, h0)
    x = (adc_h - (cal.dig_h4 * 64.0 + cal.dig_h5 / 16384.0 * h0)) * k
    h = min(100.0, max(0.0, x * (1.0 - cal.dig_h1 * x / 524288.0)))
    return s / 5120.0, p, h, t_fine


def _humidity_gain(cal: Bme280Calibration, h0: float) -> float:
    return (
        cal.dig_h2
        / 65536.0
        * (1.0 + cal.dig_h6 / 67108864.0 * h0 * (1.0 + cal.dig_h3 / 67108864.0 * h0))
    )


def _ideal_raw_t(temperature_c: float, cal: Bme280Calibration) -> float:
    # T·5120 = 8·T2·u + T3·u², u = adc/131072 - T1/8192; the stable root of the quadratic.
    s = temperature_c * 5120.0
    b = 8.0 * cal.dig_t2
    if cal.dig_t3 == 0:
        u = s / b
    else:
        u = 2.0 * s / (b + math.sqrt(max(0.0, b * b + 4.0 * cal.dig_t3 * s)))
    return (u + cal.dig_t1 / 8192.0) * 131072.0


def _t_fine(adc_t: int, cal: Bme280Calibration) -> int:
    u = adc_t / 131072.0 - cal.dig_t1 / 8192.0
    return int(8.0 * u * cal.dig_t2 + u * u * cal.dig_t3)


def _ideal_raw_p(pressure_pa: float, t_fine: int, cal: Bme280Calibration) -> float:
    v1 = t_fine / 2.0 - 64000.0
    v2 = v1 * v1 * cal.dig_p6 / 32768.0 + v1 * cal.dig_p5 * 2.0
    v2 = v2 / 4.0 + cal.dig_p4 * 65536.0
    v1 = (cal.dig_p3 * v1 * v1 / 524288.0 + cal.dig_p2 * v1) / 524288.0
    v1 = (1.0 + v1 / 32768.0) * cal.dig_p1
    # p = q + (P9·q²/2^31 + P8·q/2^15 + P7)/16: solve a·q² + b·q + c = 0 for the root near p.
    a = cal.dig_p9 / 34359738368.0
    b = 1.0 + cal.dig_p8 / 524288.0
    c = cal.dig_p7 / 16.0 - pressure_pa
    q = -2.0 * c / (b + math.sqrt(max(0.0, b * b - 4.0 * a * c)))
    return 1048576.0 - v2 / 4096.0 - q * v1 / 6250.0


def _ideal_raw_h(humidity_pct: float, t_fine: int, cal: Bme280Calibration) -> float:
    h0 = t_fine - 76800.0
    m = cal.dig_h1 / 524288.0  # H = x·(1 - m·x)
    x = 2.0 * humidity_pct / (1.0 + math.sqrt(max(0.0, 1.0 - 4.0 * m * humidity_pct)))
    return x / _humidity_gain(cal, h0) + cal.dig_h4 * 64.0 + cal.dig_h5 / 16384.0 * h0


def _quantize(value: float, step: int, top: int) -> int:
    return min(top, max(0, round(value / step) * step))


def raw_from_values(
    sample: EnvironmentSample, cal: Bme280Calibration, *, bits_t: int = 20, bits_p: int = 20
) -> tuple[int, int, int]:
    """Raw (adc_T, adc_P, adc_H) that the datasheet formulas turn into `sample`."""
    adc_t = _quantize(_ideal_raw_t(sample.temperature_c, cal), 1 << (20 - bits_t), 0xFFFFF)
    t_fine = _t_fine(adc_t, cal)
    adc_p = _quantize(
        _ideal_raw_p(sample.pressure_hpa * 100.0, t_fine, cal), 1 << (20 - bits_p), 0xFFFFF
    )
    adc_h = _quantize(_ideal_raw_h(sample.humidity_pct, t_fine, cal), 1, 0xFFFF)
    return adc_t, adc_p, adc_h


class Bme280Emulator:
    """One BME280 on an emulated bus. Attach with `bus.attach(0x76, emulator)`.

    noise: add the datasheet's RMS noise (0.005 °C, 1.3 Pa, 0.02 %RH at oversampling ×1,
    shrinking with √oversampling); off for exact round-trip tests.
    """

    def __init__(
        self,
        model: EnvironmentSource,
        clock: SimClock,
        *,
        seed: int,
        faults: FaultInjector | None = None,
        calibration: Bme280Calibration | None = None,
        chip_id: int = BME280_CHIP_ID,
        noise: bool = True,
    ) -> None:
        self._model = model
        self._clock = clock
        self._rng = random.Random(seed)
        self._faults = faults if faults is not None else FaultInjector((), seed=seed)
        self.calibration = (
            calibration if calibration is not None else Bme280Calibration.typical(seed)
        )
        self._chip_id = chip_id
        self._noise = noise
        self._regs = bytearray(256)
        self._override: EnvironmentSample | None = None
        self.power_on_reset()

    def power_on_reset(self) -> None:
        block1, block2 = self.calibration.registers()
        self._regs[:] = bytes(256)
        self._regs[_REG_CALIB00 : _REG_CALIB00 + len(block1)] = block1
        self._regs[_REG_CALIB26 : _REG_CALIB26 + len(block2)] = block2
        self._regs[_REG_ID] = self._chip_id
        self._store_raw(_SKIPPED_20BIT, _SKIPPED_20BIT, _SKIPPED_16BIT)
        self._reset_ns = self._clock.true_ns()
        self._osrs_h_active = 0
        self._mode = 0
        self._t0_ns = 0
        self._meas_ns = 0
        self._period_ns = 1
        self._done_k = -1
        self._filtered: tuple[float, float] | None = None

    def set_environment(self, sample: EnvironmentSample | None) -> None:
        """Pin what the chip senses (tests); None returns to the weather model."""
        self._override = sample

    # ---------------------------------------------------------------- conversion

    def _store_raw(self, adc_t: int, adc_p: int, adc_h: int) -> None:
        r = self._regs
        r[0xF7], r[0xF8], r[0xF9] = adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0x0F) << 4
        r[0xFA], r[0xFB], r[0xFC] = adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0x0F) << 4
        r[0xFD], r[0xFE] = adc_h >> 8, adc_h & 0xFF

    def _convert(self, t_ns: int, cycles: int) -> None:
        elapsed_s = (t_ns - self._clock.start_ns) * 1e-9
        faults = self._faults
        if faults and faults.is_active("stuck", elapsed_s):
            return  # a hung converter leaves the data registers as they were
        env = self._override if self._override is not None else self._model.sample(t_ns * 1e-9)
        ctrl = self._regs[_REG_CTRL_MEAS]
        os_t, os_p = _OVERSAMPLING[ctrl >> 5], _OVERSAMPLING[(ctrl >> 2) & 7]
        os_h = _OVERSAMPLING[self._osrs_h_active]
        temp, press, hum = env.temperature_c, env.pressure_hpa, env.humidity_pct
        if self._noise:
            gauss = self._rng.gauss
            temp += gauss(0.0, 0.005 / math.sqrt(max(os_t, 1)))
            press += gauss(0.0, 0.013 / math.sqrt(max(os_p, 1)))
            hum += gauss(0.0, 0.02 / math.sqrt(max(os_h, 1)))
        if faults:
            spike = faults.spike(elapsed_s)
            if spike is not None:
                name, amount = spike
                if name == "temperature_c":
                    temp += amount
                elif name == "pressure_hpa":
                    press += amount
                else:
                    hum += amount
        # The sensing elements saturate outside the operating range.
        temp = min(85.0, max(-40.0, temp))
        press = min(1100.0, max(300.0, press))
        hum = min(100.0, max(0.0, hum))
        cal = self.calibration
        ideal_t = _ideal_raw_t(temp, cal)
        coefficient = _FILTER[(self._regs[_REG_CONFIG] >> 2) & 7]
        if coefficient > 1:
            ideal_p = _ideal_raw_p(press * 100.0, _t_fine(round(ideal_t), cal), cal)
            if self._filtered is None:
                self._filtered = (ideal_t, ideal_p)
            ft, fp = self._filtered
            for _ in range(min(cycles, 4 * coefficient)):  # enough cycles to converge
                ft += (ideal_t - ft) / coefficient
                fp += (ideal_p - fp) / coefficient
            self._filtered = (ft, fp)
            adc_t = _quantize(ft, 1, 0xFFFFF)  # filtered outputs carry 20 bits
            adc_p = _quantize(fp, 1, 0xFFFFF)
            adc_h = _quantize(_ideal_raw_h(hum, _t_fine(adc_t, cal), cal), 1, 0xFFFF)
        else:
            # Unfiltered resolution: 16 bits at ×1 (code 1), one more bit per doubling up to 20.
            adc_t, adc_p, adc_h = raw_from_values(
                EnvironmentSample(temperature_c=temp, pressure_hpa=press, humidity_pct=hum),
                cal,
                bits_t=min(20, 15 + max(1, ctrl >> 5)),
                bits_p=min(20, 15 + max(1, (ctrl >> 2) & 7)),
            )
        self._store_raw(
            adc_t if os_t else _SKIPPED_20BIT,
            adc_p if os_p else _SKIPPED_20BIT,
            adc_h if os_h else _SKIPPED_16BIT,
        )

    def _update(self, now_ns: int) -> None:
        """Finish the conversions that completed before now."""
        if self._mode == 0:
            return
        if self._mode == 3:  # normal: cycle k completes at t0 + k·period + t_meas
            k = (now_ns - self._t0_ns - self._meas_ns) // self._period_ns
            if k > self._done_k:
                self._convert(self._t0_ns + k * self._period_ns + self._meas_ns, k - self._done_k)
                self._done_k = k
        elif now_ns >= self._t0_ns + self._meas_ns:  # forced: one conversion, then sleep
            self._convert(self._t0_ns + self._meas_ns, 1)
            self._mode = 0
            self._regs[_REG_CTRL_MEAS] &= 0xFC

    def _status(self, now_ns: int) -> int:
        measuring = False
        if self._mode == 3:
            measuring = (now_ns - self._t0_ns) % self._period_ns < self._meas_ns
        elif self._mode in (1, 2):
            measuring = now_ns < self._t0_ns + self._meas_ns
        im_update = now_ns - self._reset_ns < _NVM_COPY_NS
        return (0x08 if measuring else 0) | (0x01 if im_update else 0)

    # ---------------------------------------------------------------- bus side

    def _check_dropout(self, now_ns: int, what: str) -> None:
        if self._faults and self._faults.fires("dropout", (now_ns - self._clock.start_ns) * 1e-9):
            raise I2CNack(f"BME280 dropout {what}")

    def read(self, register: int, length: int) -> list[int]:
        now_ns = self._clock.true_ns()
        self._check_dropout(now_ns, f"reading 0x{register:02x}")
        self._update(now_ns)  # once per transaction: a burst read sees one coherent sample
        regs = self._regs
        out = [regs[(register + i) & 0xFF] for i in range(length)]
        if register <= _REG_STATUS < register + length:
            out[_REG_STATUS - register] = self._status(now_ns)
        if register <= _REG_RESET < register + length:
            out[_REG_RESET - register] = 0x00
        return out

    def write(self, register: int, data: Sequence[int]) -> None:
        now_ns = self._clock.true_ns()
        self._check_dropout(now_ns, f"writing 0x{register:02x}")
        self._update(now_ns)
        # BME280 multi-byte writes are (register, value) pairs, not auto-increment.
        pairs = [(register, data[0])] if data else []
        rest = list(data[1:])
        pairs += [(rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2)]
        for reg, value in pairs:
            self._write_register(reg & 0xFF, value & 0xFF, now_ns)

    def _write_register(self, reg: int, value: int, now_ns: int) -> None:
        if reg == _REG_RESET:
            if value == _RESET_WORD:
                self.power_on_reset()
                self._reset_ns = now_ns
            return
        if reg == _REG_CTRL_HUM:
            self._regs[reg] = value & 0x07  # takes effect at the next ctrl_meas write
        elif reg == _REG_CONFIG:
            if self._mode != 3:  # "writes to config in normal mode may be ignored"
                self._regs[reg] = value & 0xFD
        elif reg == _REG_CTRL_MEAS:
            self._regs[reg] = value
            self._osrs_h_active = self._regs[_REG_CTRL_HUM] & 0x07
            self._start(value & 0x03, now_ns)

    def _start(self, mode: int, now_ns: int) -> None:
        ctrl = self._regs[_REG_CTRL_MEAS]
        meas_ms = measurement_time_ms(ctrl >> 5, (ctrl >> 2) & 7, self._osrs_h_active)
        self._meas_ns = round(meas_ms * 1e6)
        self._mode = mode
        self._t0_ns = now_ns
        if mode == 3:
            standby_ms = _STANDBY_MS[self._regs[_REG_CONFIG] >> 5]
            self._period_ns = self._meas_ns + round(standby_ms * 1e6)
            self._done_k = -1
