"""What a flight reads from a loaded plan when the plan may come from QGroundControl
(without Michimori's planning data): take-off altitude, gimbal pitch, time budget."""

from __future__ import annotations

import logging
import math

from inspection.mission import LoadedPlan

from ._exceptions import FlightError

__all__ = ["default_total_s", "gimbal_pitch", "takeoff_alt"]

log = logging.getLogger(__name__)


def takeoff_alt(plan: LoadedPlan) -> float:
    for it in plan.items:
        if it.command == 22:  # MAV_CMD_NAV_TAKEOFF
            return it.z
    raise FlightError(
        f"{plan.path}: no take-off item (MAV_CMD_NAV_TAKEOFF) to read the altitude from",
        stage="setup",
    )


def gimbal_pitch(plan: LoadedPlan) -> float:
    """The camera pitch a plan without our planning data commands (DO_MOUNT_CONTROL or
    DO_GIMBAL_MANAGER_PITCHYAW); straight down when it commands none."""
    for it in plan.items:
        if it.command in (205, 1000) and math.isfinite(it.param1):
            return it.param1
    log.warning(
        "%s does not point the gimbal; photo poses assume it looks straight down", plan.path
    )
    return -90.0


def default_total_s(plan: LoadedPlan) -> float:
    if plan.meta is not None:
        return 2.0 * plan.meta.est_flight_time_s + 300.0
    return 3600.0
