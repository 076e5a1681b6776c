"""Errors of an inspection flight. Each names the stage and what was being waited for.

    FlightError (RuntimeError)       root: the flight could not start, or ended badly
    ├── FlightTimeout                a wait ran out (heartbeat, armable, mode, ack, progress...)
    ├── VehicleRejected              the vehicle said no (mission NACK, arming refused)
    └── LinkLost                     the vehicle stopped answering mid-flight

`stage` is one of: setup, connect, preflight, upload, arm, takeoff, mission, land, collect.
"""

from __future__ import annotations

__all__ = ["FlightError", "FlightTimeout", "LinkLost", "VehicleRejected"]


class FlightError(RuntimeError):
    """The flight failed; the message says what happened and what to do next."""

    def __init__(self, message: str, *, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


class FlightTimeout(FlightError):
    """Waited `timeout_s` for `waited_for` and it did not happen."""

    def __init__(self, message: str, *, stage: str, waited_for: str, timeout_s: float) -> None:
        super().__init__(message, stage=stage)
        self.waited_for = waited_for
        self.timeout_s = timeout_s


class VehicleRejected(FlightError):
    """The vehicle refused a request; `reason` is its answer (e.g. MAV_MISSION_NO_SPACE)."""

    def __init__(self, message: str, *, stage: str, reason: str) -> None:
        super().__init__(message, stage=stage)
        self.reason = reason


class LinkLost(FlightError):
    """No heartbeat from the vehicle for `silent_s` seconds."""

    def __init__(self, message: str, *, stage: str, silent_s: float) -> None:
        super().__init__(message, stage=stage)
        self.silent_s = silent_s
