"""Hardware drivers of the edge node: ADXL345, BME280, NMEA GNSS receiver, modem link status.

Drivers take their bus or port from the caller (smbus2.SMBus on a Pi, an emulated bus in
tests) and raise `DriverError` subclasses that name the device and where it sits.
"""

from edge.drivers.bus import I2CBus
from edge.drivers.errors import (
    BusError,
    ChipIdError,
    DeviceTimeoutError,
    DriverError,
    GnssNoFixError,
    LinkStatusError,
    NmeaError,
)

__all__ = [
    "BusError",
    "ChipIdError",
    "DeviceTimeoutError",
    "DriverError",
    "GnssNoFixError",
    "I2CBus",
    "LinkStatusError",
    "NmeaError",
]
