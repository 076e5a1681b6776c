"""Corridor inspection missions: read a road corridor, plan waypoints beside it with a
distance-triggered camera, check them against limits, and export QGroundControl .plan files
and MAVLink mission items. Pure: no vehicle, no network.

    corridor = load_corridor("corridor.geojson")
    plan = plan_mission(corridor, MissionParams(alt_m=30, sides="both"))
    write_plan(plan, "corridor.plan")
"""

# Exports load on first use (PEP 562) so that the CLI module in this package, which argparse
# imports for --help, does not pull in numpy.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._corridor import (
        MAX_CORRIDOR_VERTICES,
        MIN_CORRIDOR_LENGTH_M,
        Corridor,
        corridor_from_geojson,
        load_corridor,
        validate_corridor_coordinates,
    )
    from ._exceptions import CorridorError, PlanError, PlanFileError, PlanLimitError
    from ._mavlink_items import MissionItem, home_item, mission_items, waypoints_text
    from ._model import (
        DEFAULT_LIMITS,
        DEFAULT_PARAMS,
        FootprintInfo,
        Leg,
        MissionParams,
        MissionPlan,
        PlanLimits,
    )
    from ._planner import compute_footprint, plan_mission
    from ._qgc import LoadedPlan, PlanMeta, plan_from_qgc, plan_to_qgc, read_plan, write_plan

_EXPORTS = {
    "Corridor": "._corridor",
    "CorridorError": "._exceptions",
    "DEFAULT_LIMITS": "._model",
    "DEFAULT_PARAMS": "._model",
    "FootprintInfo": "._model",
    "Leg": "._model",
    "LoadedPlan": "._qgc",
    "MAX_CORRIDOR_VERTICES": "._corridor",
    "MIN_CORRIDOR_LENGTH_M": "._corridor",
    "MissionItem": "._mavlink_items",
    "MissionParams": "._model",
    "MissionPlan": "._model",
    "PlanError": "._exceptions",
    "PlanFileError": "._exceptions",
    "PlanLimitError": "._exceptions",
    "PlanLimits": "._model",
    "PlanMeta": "._qgc",
    "compute_footprint": "._planner",
    "corridor_from_geojson": "._corridor",
    "home_item": "._mavlink_items",
    "load_corridor": "._corridor",
    "mission_items": "._mavlink_items",
    "plan_from_qgc": "._qgc",
    "plan_mission": "._planner",
    "plan_to_qgc": "._qgc",
    "read_plan": "._qgc",
    "validate_corridor_coordinates": "._corridor",
    "waypoints_text": "._mavlink_items",
    "write_plan": "._qgc",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_PARAMS",
    "MAX_CORRIDOR_VERTICES",
    "MIN_CORRIDOR_LENGTH_M",
    "Corridor",
    "CorridorError",
    "FootprintInfo",
    "Leg",
    "LoadedPlan",
    "MissionItem",
    "MissionParams",
    "MissionPlan",
    "PlanError",
    "PlanFileError",
    "PlanLimitError",
    "PlanLimits",
    "PlanMeta",
    "compute_footprint",
    "corridor_from_geojson",
    "home_item",
    "load_corridor",
    "mission_items",
    "plan_from_qgc",
    "plan_mission",
    "plan_to_qgc",
    "read_plan",
    "validate_corridor_coordinates",
    "waypoints_text",
    "write_plan",
]
