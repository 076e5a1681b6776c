"""Exceptions of the edge drivers; every one names the device and where it sits (bus or port).

DriverError                   root: catch this to handle any hardware failure
 ├── BusError                 an I2C transfer failed (NACK, arbitration, bus closed); wraps OSError
 ├── ChipIdError              the chip at the address is not the one the driver drives
 ├── DeviceTimeoutError       the device produced no data in time (FIFO, conversion, NMEA)
 ├── NmeaError                a sentence failed its checksum or could not be parsed
 ├── GnssNoFixError           the receiver talks but has no position fix
 └── LinkStatusError          the modem status could not be read or parsed
"""

from __future__ import annotations

__all__ = [
    "BusError",
    "ChipIdError",
    "DeviceTimeoutError",
    "DriverError",
    "GnssNoFixError",
    "LinkStatusError",
    "NmeaError",
]


class DriverError(Exception):
    """A device failed; `device` is the part (ADXL345, BME280, GNSS, modem), `where` its place."""

    def __init__(self, message: str, *, device: str, where: str) -> None:
        super().__init__(f"{device} at {where}: {message}")
        self.device = device
        self.where = where


class BusError(DriverError):
    """An I2C transfer failed; `errno` is the OSError's (121 EREMOTEIO = NACK on a Pi)."""

    def __init__(self, message: str, *, device: str, where: str, errno: int | None) -> None:
        super().__init__(message, device=device, where=where)
        self.errno = errno


class ChipIdError(DriverError):
    """The id register holds another chip's id: wrong address, wrong part or a dead chip."""

    def __init__(
        self, *, device: str, where: str, register: int, expected: int, found: int, hint: str
    ) -> None:
        super().__init__(
            f"chip id register 0x{register:02x} reads 0x{found:02x}, expected 0x{expected:02x} "
            f"({device}){hint}",
            device=device,
            where=where,
        )
        self.register = register
        self.expected = expected
        self.found = found


class DeviceTimeoutError(DriverError):
    """The device did not deliver data within the time it should have."""


class NmeaError(DriverError):
    """A malformed NMEA sentence; `line` is the offending text."""

    def __init__(self, message: str, *, where: str, line: str) -> None:
        super().__init__(f"{message}: {line!r}", device="GNSS", where=where)
        self.line = line


class GnssNoFixError(DriverError):
    """The receiver reports no usable position (quality 0 or RMC status V)."""


class LinkStatusError(DriverError):
    """The modem status source failed or held something we cannot read."""
