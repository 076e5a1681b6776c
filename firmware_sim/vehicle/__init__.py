"""Simulated ArduCopter-like vehicle speaking MAVLink 2: a pure, clock-stepped protocol object
(`SimVehicle`) and a thin UDP/TCP shell around it (`SimVehicleServer`, `michimori sim vehicle`).

Names are imported on first use so that `firmware_sim.vehicle.cli` stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_sim.vehicle._config import (
        DEFAULT_HOME,
        Endpoint,
        FaultKind,
        FaultSpec,
        HomePosition,
        VehicleConfig,
    )
    from firmware_sim.vehicle._errors import (
        VehicleConfigError,
        VehicleServerError,
        VehicleSimError,
    )
    from firmware_sim.vehicle._events import (
        MissionItemReached,
        PhotoTaken,
        StatusText,
        VehicleEvent,
    )
    from firmware_sim.vehicle._mission import MissionItem
    from firmware_sim.vehicle._modes import Mode
    from firmware_sim.vehicle._params import PARAM_DEFS, ParamDef
    from firmware_sim.vehicle._server import SimVehicleServer, home_from_world
    from firmware_sim.vehicle._state import TICK_S, SimVehicle

_EXPORTS = {
    "DEFAULT_HOME": "_config",
    "Endpoint": "_config",
    "FaultKind": "_config",
    "FaultSpec": "_config",
    "HomePosition": "_config",
    "VehicleConfig": "_config",
    "VehicleConfigError": "_errors",
    "VehicleServerError": "_errors",
    "VehicleSimError": "_errors",
    "MissionItemReached": "_events",
    "PhotoTaken": "_events",
    "StatusText": "_events",
    "VehicleEvent": "_events",
    "MissionItem": "_mission",
    "Mode": "_modes",
    "PARAM_DEFS": "_params",
    "ParamDef": "_params",
    "SimVehicleServer": "_server",
    "home_from_world": "_server",
    "TICK_S": "_state",
    "SimVehicle": "_state",
}

__all__ = [
    "DEFAULT_HOME",
    "PARAM_DEFS",
    "TICK_S",
    "Endpoint",
    "FaultKind",
    "FaultSpec",
    "HomePosition",
    "MissionItem",
    "MissionItemReached",
    "Mode",
    "ParamDef",
    "PhotoTaken",
    "SimVehicle",
    "SimVehicleServer",
    "StatusText",
    "VehicleConfig",
    "VehicleConfigError",
    "VehicleEvent",
    "VehicleServerError",
    "VehicleSimError",
    "home_from_world",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
