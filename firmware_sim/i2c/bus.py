"""An emulated I2C bus with the smbus2.SMBus method subset that the edge drivers use.

Chips attach at 7-bit addresses; a transfer to an empty address, or to a chip that refuses it
(a dropout fault), raises OSError with the errno Linux's i2c-dev gives for a NACK, so driver
error handling runs exactly as on a Raspberry Pi.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

__all__ = ["I2C_BLOCK_MAX", "EmulatedI2CBus", "I2CDevice", "I2CNack"]

# smbus2 refuses longer SMBus block transfers with ValueError (I2C_SMBUS_BLOCK_MAX in the kernel).
I2C_BLOCK_MAX = 32


class I2CNack(Exception):
    """Raised by an emulated chip to NACK a transfer, as a browned-out or absent chip does."""


class I2CDevice(Protocol):
    """What an emulated chip offers the bus: register reads and writes, one transaction each."""

    def read(self, register: int, length: int) -> list[int]: ...

    def write(self, register: int, data: Sequence[int]) -> None: ...


class EmulatedI2CBus:
    """Drop-in for smbus2.SMBus(n) in tests: read_byte_data, write_byte_data, block transfers.

    nack_errno: EREMOTEIO is what the Raspberry Pi's i2c-bcm2835 adapter returns for a NACK
    ("[Errno 121] Remote I/O error"); some other adapters return ENXIO.
    """

    def __init__(self, bus_number: int = 1, *, nack_errno: int = errno.EREMOTEIO) -> None:
        if nack_errno not in (errno.EREMOTEIO, errno.ENXIO, errno.EIO):
            raise ValueError(f"nack_errno must be EREMOTEIO, ENXIO or EIO, got {nack_errno}")
        self.bus_number = bus_number
        self._nack_errno = nack_errno
        self._devices: dict[int, I2CDevice] = {}
        self._lock = threading.Lock()  # i2c-dev serialises transfers on one adapter too
        self._closed = False
        self.transactions = 0

    def __repr__(self) -> str:
        addresses = ", ".join(f"0x{a:02x}" for a in sorted(self._devices))
        return f"EmulatedI2CBus(i2c-{self.bus_number}, devices=[{addresses}])"

    def attach(self, address: int, device: I2CDevice) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"7-bit I2C address must be in 0x03..0x77, got 0x{address:02x}")
        if address in self._devices:
            raise ValueError(f"address 0x{address:02x} on i2c-{self.bus_number} is taken")
        self._devices[address] = device

    def detach(self, address: int) -> None:
        self._devices.pop(address, None)

    def _device(self, i2c_addr: int) -> I2CDevice:
        if self._closed:
            raise OSError(errno.EBADF, f"i2c-{self.bus_number} is closed")
        device = self._devices.get(i2c_addr)
        if device is None:
            raise OSError(self._nack_errno, os.strerror(self._nack_errno))
        return device

    def _nack(self, exc: I2CNack) -> OSError:
        return OSError(self._nack_errno, os.strerror(self._nack_errno))

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        with self._lock:
            self.transactions += 1
            device = self._device(i2c_addr)
            try:
                return device.read(register & 0xFF, 1)[0]
            except I2CNack as exc:
                raise self._nack(exc) from None

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        if not 0 <= value <= 0xFF:
            raise ValueError(f"byte value out of range: {value}")
        with self._lock:
            self.transactions += 1
            device = self._device(i2c_addr)
            try:
                device.write(register & 0xFF, (value,))
            except I2CNack as exc:
                raise self._nack(exc) from None

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if length > I2C_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {I2C_BLOCK_MAX} bytes")
        with self._lock:
            self.transactions += 1
            device = self._device(i2c_addr)
            try:
                return device.read(register & 0xFF, length)
            except I2CNack as exc:
                raise self._nack(exc) from None

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        if len(data) > I2C_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {I2C_BLOCK_MAX} bytes")
        with self._lock:
            self.transactions += 1
            device = self._device(i2c_addr)
            try:
                device.write(register & 0xFF, data)
            except I2CNack as exc:
                raise self._nack(exc) from None

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> EmulatedI2CBus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
