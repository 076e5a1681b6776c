"""The I2C seam of the edge drivers: the smbus2.SMBus subset they call, and register helpers.

On a Raspberry Pi the drivers get `smbus2.SMBus(1)`; in tests, firmware_sim's emulated bus.
Any object with these methods will do; OSErrors it raises become `BusError` with context.
"""

from __future__ import annotations

import errno
from typing import Protocol

from edge.drivers.errors import BusError

__all__ = ["I2CBus", "RegisterIO", "known_chip"]

# What Linux i2c-dev adapters report for a NACK: EREMOTEIO on the Pi's bcm2835, ENXIO elsewhere.
_NACK_ERRNOS = frozenset({errno.EREMOTEIO, errno.ENXIO})

# What sits at a chip-id register when it is not the chip we expected: makes a wiring or
# address mix-up obvious in the error message instead of "wrong id".
_KNOWN_IDS: dict[tuple[int, int], str] = {
    (0x00, 0xE5): "an ADXL345 accelerometer",
    (0x00, 0xAD): "an ADXL355/357 accelerometer",
    (0xD0, 0x60): "a BME280",
    (0xD0, 0x58): "a BMP280, which has no humidity sensor",
    (0xD0, 0x56): "a BMP280 engineering sample, which has no humidity sensor",
    (0xD0, 0x57): "a BMP280 engineering sample, which has no humidity sensor",
    (0xD0, 0x61): "a BME680",
    (0xD0, 0x55): "a BMP180",
}


def known_chip(register: int, value: int) -> str:
    """A hint naming the chip that answers with `value` at `register`, or what 0x00/0xFF mean."""
    name = _KNOWN_IDS.get((register, value))
    if name is not None:
        return f"; the chip there looks like {name}"
    if value in (0x00, 0xFF):
        return "; nothing sensible answers there: check the address and wiring"
    return ""


class I2CBus(Protocol):
    """The smbus2.SMBus methods the drivers use (positional arguments only, as they call them)."""

    def read_byte_data(self, i2c_addr: int, register: int, /) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int, /) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int, /) -> list[int]: ...


class RegisterIO:
    """Register access to one chip, turning OSError into BusError that names chip and address."""

    __slots__ = ("_address", "_bus", "device", "where")

    def __init__(self, bus: I2CBus, address: int, *, device: str, bus_name: str) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"7-bit I2C address must be in 0x03..0x77, got 0x{address:02x}")
        self._bus = bus
        self._address = address
        self.device = device
        self.where = f"{bus_name} address 0x{address:02x}"

    def _error(self, action: str, exc: OSError) -> BusError:
        reason = exc.strerror or str(exc)
        if exc.errno in _NACK_ERRNOS:
            reason += "; the chip did not acknowledge (absent, unpowered or hung)"
        return BusError(
            f"{action} failed (errno {exc.errno}): {reason}",
            device=self.device,
            where=self.where,
            errno=exc.errno,
        )

    def read_u8(self, register: int) -> int:
        try:
            return self._bus.read_byte_data(self._address, register)
        except OSError as exc:
            raise self._error(f"reading register 0x{register:02x}", exc) from exc

    def write_u8(self, register: int, value: int) -> None:
        try:
            self._bus.write_byte_data(self._address, register, value)
        except OSError as exc:
            raise self._error(f"writing 0x{value:02x} to register 0x{register:02x}", exc) from exc

    def read_block(self, register: int, length: int) -> list[int]:
        try:
            return self._bus.read_i2c_block_data(self._address, register, length)
        except OSError as exc:
            raise self._error(
                f"reading {length} bytes from register 0x{register:02x}", exc
            ) from exc
