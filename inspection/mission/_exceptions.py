"""Errors raised while reading a corridor, planning a mission or reading a .plan file.

PlanError (ValueError)          root: anything the planner refuses, with a precise message
├── CorridorError               the corridor GeoJSON is unreadable, invalid or self-intersecting
├── PlanLimitError              a parameter or the planned mission breaks a limit
│                               (altitude, speed, battery, geofence, ...)
└── PlanFileError               a .plan file cannot be read back
"""

from __future__ import annotations

__all__ = ["CorridorError", "PlanError", "PlanFileError", "PlanLimitError"]


class PlanError(ValueError):
    """Root of the mission-planning errors; the message says what is wrong and what to do."""


class CorridorError(PlanError):
    """The corridor input is unusable; `source` names the file (or '<memory>'), `detail` is
    the message without it (for callers that name the input their own way)."""

    def __init__(self, message: str, *, source: str = "<memory>") -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.detail = message


class PlanLimitError(PlanError):
    """A value breaks a limit; `name` is the parameter, `value` and `limit` what was compared."""

    def __init__(self, message: str, *, name: str, value: float, limit: float) -> None:
        super().__init__(message)
        self.name = name
        self.value = value
        self.limit = limit


class PlanFileError(PlanError):
    """A .plan file is not a QGroundControl plan we can fly; `path` names the file."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
