"""Driver for the Analog Devices ADXL345 accelerometer on I2C: tilt and vibration of a pole.

The chip runs in FIFO stream mode: it converts continuously at the output data rate and keeps
the latest 32 samples, so the host reads a contiguous stretch of signal without hard timing.
`Adxl345.samples(n)` drains the FIFO into a ring of contiguous samples shared by every reader
(tilt averages a few, vibration takes a burst) and waits only when fewer than n are there.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

from edge.drivers.bus import I2CBus, RegisterIO, known_chip
from edge.drivers.errors import ChipIdError, DeviceTimeoutError, DriverError

__all__ = [
    "ADXL345_ADDRESS",
    "ADXL345_DEVID",
    "FIFO_DEPTH",
    "RATE_CODES",
    "Adxl345",
    "Adxl345Config",
    "Sample",
]

ADXL345_ADDRESS = 0x53  # ALT ADDRESS pin low; 0x1D when high
ADXL345_DEVID = 0xE5
FIFO_DEPTH = 32

REG_DEVID = 0x00
REG_BW_RATE = 0x2C
REG_POWER_CTL = 0x2D
REG_INT_ENABLE = 0x2E
REG_DATA_FORMAT = 0x31
REG_DATAX0 = 0x32
REG_FIFO_CTL = 0x38
REG_FIFO_STATUS = 0x39

_MEASURE = 0x08
_FULL_RES = 0x08
_FIFO_STREAM = 0x80
# Full resolution: 3.9 mg/LSB typical at every range (256 LSB/g), datasheet table 1.
_G_PER_LSB = 1.0 / 256.0
_UNPACK = struct.Struct("<hhh").unpack

# BW_RATE rate codes; above 800 Hz the 400 kHz I2C bus cannot keep up (datasheet, "Serial
# communications"), so those are left out.
RATE_CODES: dict[float, int] = {
    800.0: 0x0D,
    400.0: 0x0C,
    200.0: 0x0B,
    100.0: 0x0A,
    50.0: 0x09,
    25.0: 0x08,
    12.5: 0x07,
    6.25: 0x06,
}
_RANGE_CODES = {2: 0, 4: 1, 8: 2, 16: 3}

Sample = tuple[float, float, float]  # (x, y, z) in g


@dataclass(frozen=True, slots=True, kw_only=True)
class Adxl345Config:
    """rate_hz: output data rate; range_g: full scale; ring_size: contiguous samples kept."""

    rate_hz: float = 100.0  # first bending modes of street poles are 1-10 Hz
    range_g: int = 2  # sway stays far below 2 g; the smallest range has the least noise
    ring_size: int = 256

    def __post_init__(self) -> None:
        if self.rate_hz not in RATE_CODES:
            raise ValueError(f"rate_hz must be one of {sorted(RATE_CODES)}, got {self.rate_hz}")
        if self.range_g not in _RANGE_CODES:
            raise ValueError(f"range_g must be one of {sorted(_RANGE_CODES)}, got {self.range_g}")
        if not FIFO_DEPTH <= self.ring_size <= 4096:
            raise ValueError(f"ring_size must be in [{FIFO_DEPTH}, 4096], got {self.ring_size}")


class Adxl345:
    """One ADXL345. Construct, then `init()` (checks the chip id and configures it)."""

    def __init__(
        self,
        bus: I2CBus,
        address: int = ADXL345_ADDRESS,
        config: Adxl345Config | None = None,
        *,
        bus_name: str = "i2c",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._io = RegisterIO(bus, address, device="ADXL345", bus_name=bus_name)
        self.config = config if config is not None else Adxl345Config()
        self._sleep = sleep
        self._ring: deque[Sample] = deque(maxlen=self.config.ring_size)
        self.ready = False

    @property
    def where(self) -> str:
        return self._io.where

    def init(self) -> None:
        """Check DEVID, configure in standby (as the datasheet recommends), then measure."""
        self.ready = False
        devid = self._io.read_u8(REG_DEVID)
        if devid != ADXL345_DEVID:
            raise ChipIdError(
                device="ADXL345",
                where=self.where,
                register=REG_DEVID,
                expected=ADXL345_DEVID,
                found=devid,
                hint=known_chip(REG_DEVID, devid),
            )
        io = self._io
        io.write_u8(REG_POWER_CTL, 0x00)
        io.write_u8(REG_INT_ENABLE, 0x00)
        io.write_u8(REG_BW_RATE, RATE_CODES[self.config.rate_hz])
        data_format = _FULL_RES | _RANGE_CODES[self.config.range_g]
        io.write_u8(REG_DATA_FORMAT, data_format)
        readback = io.read_u8(REG_DATA_FORMAT)
        if readback != data_format:
            raise DriverError(
                f"DATA_FORMAT reads back 0x{readback:02x} after writing 0x{data_format:02x}",
                device="ADXL345",
                where=self.where,
            )
        io.write_u8(REG_FIFO_CTL, 0x00)  # bypass first: empties the FIFO
        io.write_u8(REG_FIFO_CTL, _FIFO_STREAM | (FIFO_DEPTH // 2))
        io.write_u8(REG_POWER_CTL, _MEASURE)
        self._ring.clear()
        self.ready = True

    def _drain(self) -> None:
        io = self._io
        entries = io.read_u8(REG_FIFO_STATUS) & 0x3F
        if entries == 0 and not io.read_u8(REG_POWER_CTL) & _MEASURE:
            # Nothing new and not measuring: the chip reset (brown-out) behind our back. Without
            # this check the ring would go on serving samples from before the reset.
            self.ready = False
            self._ring.clear()
            raise DriverError(
                "chip is in standby (POWER_CTL measure bit clear): it has reset or lost power; "
                "needs init() again",
                device="ADXL345",
                where=self.where,
            )
        if entries >= FIFO_DEPTH:
            # A full FIFO may have overwritten samples since the last drain, so what the ring
            # holds would not join up with what follows: start the contiguous stretch afresh.
            self._ring.clear()
        append = self._ring.append
        for _ in range(entries):  # each 6-byte read from DATAX0 pops one FIFO entry
            x, y, z = _UNPACK(bytes(io.read_block(REG_DATAX0, 6)))
            append((x * _G_PER_LSB, y * _G_PER_LSB, z * _G_PER_LSB))

    def samples(self, n: int, *, timeout_s: float = 1.0) -> list[Sample]:
        """The latest n contiguous samples in g, oldest first; waits only if fewer are held."""
        if not 1 <= n <= self.config.ring_size:
            raise ValueError(f"n must be in [1, {self.config.ring_size}], got {n}")
        self._drain()
        waited_s = 0.0
        while len(self._ring) < n:
            wait_s = (n - len(self._ring)) / self.config.rate_hz
            if waited_s + wait_s > timeout_s:
                raise DeviceTimeoutError(
                    f"FIFO gave {len(self._ring)} of {n} samples in {waited_s:.2f} s at "
                    f"{self.config.rate_hz:g} Hz; the chip may have dropped to standby",
                    device="ADXL345",
                    where=self.where,
                )
            self._sleep(wait_s)
            waited_s += wait_s
            self._drain()
        ring = self._ring
        return list(islice(ring, len(ring) - n, None))

    def standby(self) -> None:
        """Stop converting (saves ~100 µA); `init()` starts it again."""
        self.ready = False
        self._io.write_u8(REG_POWER_CTL, 0x00)
