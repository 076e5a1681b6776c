"""Exceptions of the simulated vehicle.

Exception tree::

    VehicleSimError              root: anything this package raises on purpose
    ├── VehicleConfigError       bad home / fault / parameter / address text or value
    └── VehicleServerError       the network shell could not start (bind failed, renderer missing)

Malformed or unknown MAVLink from a peer is never an exception: the vehicle counts it and goes
on, like a real autopilot does.
"""

from __future__ import annotations

__all__ = ["VehicleConfigError", "VehicleServerError", "VehicleSimError"]


class VehicleSimError(Exception):
    """Root of the simulated vehicle's exceptions."""


class VehicleConfigError(VehicleSimError, ValueError):
    """A configuration value is invalid; the message names the option and the expected form."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


class VehicleServerError(VehicleSimError):
    """The socket shell around the vehicle could not be set up."""
