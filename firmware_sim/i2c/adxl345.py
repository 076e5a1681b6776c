"""Register-level emulator of the Analog Devices ADXL345 3-axis accelerometer (I2C side).

Faithful where a driver can tell: DEVID, BW_RATE output data rates, POWER_CTL measure/standby,
DATA_FORMAT (range, FULL_RES, justify), offset registers, the 32-entry FIFO in bypass, FIFO and
stream modes (a data read pops one entry), FIFO_STATUS and INT_SOURCE, and auto-increment. Samples
sit on the ODR grid of the node's true time and come from the signal model plus converter noise.
Not emulated: tap/activity/free-fall detection, self-test deflection, interrupt pins, sleep/link.
"""

from __future__ import annotations

import math
import random
import struct
from collections import deque
from collections.abc import Sequence

from firmware_sim.faults import FaultInjector, SimClock
from firmware_sim.i2c.bus import I2CNack
from firmware_sim.signals import AccelSource

__all__ = ["ADXL345_DEVID", "Adxl345Emulator"]

ADXL345_DEVID = 0xE5

_DEVID = 0x00
_OFSX, _OFSY, _OFSZ = 0x1E, 0x1F, 0x20
_ACT_TAP_STATUS = 0x2B
_BW_RATE = 0x2C
_POWER_CTL = 0x2D
_INT_SOURCE = 0x30
_DATA_FORMAT = 0x31
_DATAX0 = 0x32
_DATAZ1 = 0x37
_FIFO_CTL = 0x38
_FIFO_STATUS = 0x39
_LAST_REGISTER = 0x39
_READ_ONLY = frozenset({_DEVID, _ACT_TAP_STATUS, _INT_SOURCE, _FIFO_STATUS, *range(0x32, 0x38)})

_FIFO_DEPTH = 32
_MODE_BYPASS, _MODE_FIFO, _MODE_STREAM, _MODE_TRIGGER = 0, 1, 2, 3
_MEASURE = 0x08
_OFFSET_G_PER_LSB = 0.0156  # datasheet: 15.6 mg/LSB in OFSX/OFSY/OFSZ
_PACK = struct.Struct("<HHH").pack


def _rate_hz(bw_rate: int) -> float:
    """Output data rate for BW_RATE bits 3:0: 3200 Hz at 0xF, halving per step down."""
    return 3200.0 / (1 << (15 - (bw_rate & 0x0F)))


class Adxl345Emulator:
    """One ADXL345 on an emulated bus. Attach with `bus.attach(0x53, emulator)`."""

    def __init__(
        self,
        model: AccelSource,
        clock: SimClock,
        *,
        seed: int,
        faults: FaultInjector | None = None,
        noise_g: float = 0.004,
        device_id: int = ADXL345_DEVID,
    ) -> None:
        self._model = model
        self._clock = clock
        self._rng = random.Random(seed)
        self._faults = faults if faults is not None else FaultInjector((), seed=seed)
        self._noise_g = noise_g  # ~1 LSB rms at 100 Hz, as the datasheet's noise figure
        self._device_id = device_id
        self._regs = bytearray(0x40)
        self._fifo: deque[tuple[float, float, float]] = deque()
        self.power_on_reset()

    # ---------------------------------------------------------------- state

    def power_on_reset(self) -> None:
        """Register defaults after power-up (also what a brown-out leaves behind)."""
        self._regs[:] = bytes(len(self._regs))
        self._regs[_DEVID] = self._device_id
        self._regs[_BW_RATE] = 0x0A  # 100 Hz
        self._regs[_INT_SOURCE] = 0x02
        self._fifo.clear()
        self._measuring = False
        self._t0_ns = 0
        self._last_k = 0
        self._odr_hz = _rate_hz(self._regs[_BW_RATE])
        self._out = (0.0, 0.0, 0.0)
        self._fresh = False
        self._overrun = False
        self._stuck: tuple[float, float, float] | None = None
        self._last_g = (0.0, 0.0, 1.0)
        self._recompute_format()

    def _recompute_format(self) -> None:
        fmt = self._regs[_DATA_FORMAT]
        range_code = fmt & 0x03
        if fmt & 0x08:  # FULL_RES: 3.9 mg/LSB at every range, more bits as the range grows
            self._lsb_per_g = 256.0
            bits = 10 + range_code
        else:
            self._lsb_per_g = 256.0 / (1 << range_code)
            bits = 10
        self._max_count = (1 << (bits - 1)) - 1
        self._min_count = -(1 << (bits - 1))
        self._shift = 16 - bits if fmt & 0x04 else 0  # justify bit: left-justified (MSB) mode
        ofs = [
            (b - 256 if b > 127 else b) * _OFFSET_G_PER_LSB for b in self._regs[_OFSX : _OFSZ + 1]
        ]
        self._offset_g = (ofs[0], ofs[1], ofs[2])

    def _fifo_mode(self) -> int:
        return self._regs[_FIFO_CTL] >> 6

    def _sample(self, k: int) -> tuple[float, float, float]:
        t_ns = self._t0_ns + round(k * 1e9 / self._odr_hz)
        elapsed_s = (t_ns - self._clock.start_ns) * 1e-9
        faults = self._faults
        if faults and faults.is_active("stuck", elapsed_s):
            if self._stuck is None:
                self._stuck = self._last_g  # a frozen converter repeats its last output
            return self._stuck
        self._stuck = None
        ax, ay, az = self._model.accel_g(t_ns * 1e-9)
        gauss = self._rng.gauss
        noise = self._noise_g
        ax += gauss(0.0, noise)
        ay += gauss(0.0, noise)
        az += gauss(0.0, noise)
        if faults:
            spike = faults.spike(elapsed_s)
            if spike is not None:
                axis, amount = spike
                if axis == "x":
                    ax += amount
                elif axis == "y":
                    ay += amount
                else:
                    az += amount
        g = (ax, ay, az)
        self._last_g = g
        return g

    def _update(self, now_ns: int) -> None:
        """Produce the samples the chip converted between the last access and now."""
        if not self._measuring:
            return
        produced = math.floor((now_ns - self._t0_ns) * 1e-9 * self._odr_hz)
        if produced <= self._last_k:
            return
        mode = self._fifo_mode()
        if mode == _MODE_BYPASS:
            self._out = self._sample(produced)
            self._fresh = True
        else:
            first = self._last_k + 1
            if produced - first >= _FIFO_DEPTH:
                # Older samples would be overwritten anyway; skip generating them.
                self._overrun = True
                first = produced - _FIFO_DEPTH + 1
            fifo = self._fifo
            for k in range(first, produced + 1):
                if len(fifo) >= _FIFO_DEPTH:
                    self._overrun = True
                    if mode == _MODE_FIFO:
                        break  # FIFO mode stops collecting when full
                    fifo.popleft()
                fifo.append(self._sample(k))
        self._last_k = produced

    def _encode(self, g: tuple[float, float, float]) -> list[int]:
        lsb, lo, hi, shift = self._lsb_per_g, self._min_count, self._max_count, self._shift
        ox, oy, oz = self._offset_g
        x = min(hi, max(lo, round((g[0] + ox) * lsb))) << shift
        y = min(hi, max(lo, round((g[1] + oy) * lsb))) << shift
        z = min(hi, max(lo, round((g[2] + oz) * lsb))) << shift
        return list(_PACK(x & 0xFFFF, y & 0xFFFF, z & 0xFFFF))  # little-endian, two's complement

    def _latch(self) -> tuple[float, float, float]:
        if self._fifo_mode() != _MODE_BYPASS and self._fifo:
            return self._fifo[0]
        return self._out

    def _after_data_read(self) -> None:
        if self._fifo_mode() != _MODE_BYPASS and self._fifo:
            self._out = self._fifo.popleft()
            self._overrun = False
        self._fresh = False

    def _read_register(self, reg: int) -> int:
        if reg == _FIFO_STATUS:
            return min(len(self._fifo), _FIFO_DEPTH)
        if reg == _INT_SOURCE:
            in_fifo = len(self._fifo)
            ready = self._fresh if self._fifo_mode() == _MODE_BYPASS else in_fifo > 0
            watermark = in_fifo >= (self._regs[_FIFO_CTL] & 0x1F) > 0
            return (0x80 if ready else 0) | (0x02 if watermark else 0) | int(self._overrun)
        if reg > _LAST_REGISTER:
            return 0x00
        return self._regs[reg]

    # ---------------------------------------------------------------- bus side

    def read(self, register: int, length: int) -> list[int]:
        now_ns = self._clock.true_ns()
        if self._faults and self._faults.fires("dropout", (now_ns - self._clock.start_ns) * 1e-9):
            raise I2CNack(f"ADXL345 dropout at register 0x{register:02x}")
        self._update(now_ns)
        if register == _DATAX0 and length == 6:  # the usual burst: one sample, one FIFO pop
            data = self._encode(self._latch())
            self._after_data_read()
            return data
        out: list[int] = []
        sample: list[int] | None = None
        for i in range(length):
            reg = (register + i) & 0xFF
            if _DATAX0 <= reg <= _DATAZ1:
                if sample is None:  # one transaction reads one coherent sample
                    sample = self._encode(self._latch())
                out.append(sample[reg - _DATAX0])
            else:
                out.append(self._read_register(reg))
        if sample is not None:
            self._after_data_read()
        return out

    def write(self, register: int, data: Sequence[int]) -> None:
        now_ns = self._clock.true_ns()
        if self._faults and self._faults.fires("dropout", (now_ns - self._clock.start_ns) * 1e-9):
            raise I2CNack(f"ADXL345 dropout writing register 0x{register:02x}")
        self._update(now_ns)
        for i, value in enumerate(data):  # multi-byte writes auto-increment on the ADXL345
            self._write_register((register + i) & 0xFF, value & 0xFF, now_ns)

    def _write_register(self, reg: int, value: int, now_ns: int) -> None:
        if reg > _LAST_REGISTER or reg in _READ_ONLY or reg < 0x1D:
            return  # reserved and read-only registers ignore writes
        old = self._regs[reg]
        self._regs[reg] = value
        if reg == _POWER_CTL:
            measuring = bool(value & _MEASURE)
            if measuring and not self._measuring:
                self._t0_ns = now_ns
                self._last_k = 0
            self._measuring = measuring
        elif reg == _BW_RATE:
            self._odr_hz = _rate_hz(value)
            if self._measuring:  # restart the sample grid at the new rate
                self._t0_ns = now_ns
                self._last_k = 0
        elif reg == _FIFO_CTL:
            if (old >> 6) != (value >> 6):  # a mode change empties the FIFO
                self._fifo.clear()
                self._overrun = False
        elif reg in (_DATA_FORMAT, _OFSX, _OFSY, _OFSZ):
            self._recompute_format()

    # ---------------------------------------------------------------- inspection for tests

    @property
    def output_data_rate_hz(self) -> float:
        return self._odr_hz

    @property
    def measuring(self) -> bool:
        return self._measuring
