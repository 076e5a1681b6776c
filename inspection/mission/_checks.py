"""Safety and feasibility checks of a mission: altitude and speed limits, photo rate, camera
view, geofence and battery. Each raises PlanLimitError saying what to change.
"""

from __future__ import annotations

from ._exceptions import PlanLimitError
from ._model import FootprintInfo, MissionParams, PlanLimits

__all__ = [
    "check_camera_view",
    "check_endurance",
    "check_home_in_fence",
    "check_mission_items",
    "check_params",
    "check_photo_rate",
]


def check_params(params: MissionParams, limits: PlanLimits) -> None:
    """Altitude, speed and overlap against the limits."""
    if params.alt_m > limits.max_alt_m:
        raise PlanLimitError(
            f"altitude {params.alt_m:g} m is above the limit of {limits.max_alt_m:g} m "
            "(in Japan flying at 150 m or more above ground needs MLIT permission); lower --alt",
            name="alt_m",
            value=params.alt_m,
            limit=limits.max_alt_m,
        )
    if params.alt_m < limits.min_alt_m:
        raise PlanLimitError(
            f"altitude {params.alt_m:g} m is below the minimum of {limits.min_alt_m:g} m "
            "(clearance over light poles and trees); raise --alt",
            name="alt_m",
            value=params.alt_m,
            limit=limits.min_alt_m,
        )
    if not 0.0 < params.speed_m_s <= limits.max_speed_m_s:
        raise PlanLimitError(
            f"speed {params.speed_m_s:g} m/s must be above 0 and at most "
            f"{limits.max_speed_m_s:g} m/s",
            name="speed_m_s",
            value=params.speed_m_s,
            limit=limits.max_speed_m_s,
        )
    if not limits.min_forward_overlap <= params.forward_overlap <= limits.max_forward_overlap:
        raise PlanLimitError(
            f"forward overlap {params.forward_overlap:.0%} must be within "
            f"{limits.min_forward_overlap:.0%}..{limits.max_forward_overlap:.0%} "
            "(below 50 % a fixture can end up in only one photo)",
            name="forward_overlap",
            value=params.forward_overlap,
            limit=limits.min_forward_overlap,
        )
    if not -90.0 <= params.gimbal_pitch_deg < 0.0:
        raise PlanLimitError(
            f"gimbal pitch {params.gimbal_pitch_deg:g}° must be in [-90, 0) "
            "(0 = horizon, -90 = straight down)",
            name="gimbal_pitch_deg",
            value=params.gimbal_pitch_deg,
            limit=-90.0,
        )


def check_photo_rate(trigger_m: float, params: MissionParams, limits: PlanLimits) -> None:
    """The camera must manage one photo every trigger distance at the planned speed."""
    interval_s = trigger_m / params.speed_m_s
    if interval_s < limits.min_photo_interval_s:
        max_speed = trigger_m / limits.min_photo_interval_s
        raise PlanLimitError(
            f"one photo every {trigger_m:.1f} m at {params.speed_m_s:g} m/s is one every "
            f"{interval_s:.2f} s, faster than the camera's {limits.min_photo_interval_s:g} s; "
            f"fly at most {max_speed:.1f} m/s, lower the overlap or fly higher",
            name="speed_m_s",
            value=params.speed_m_s,
            limit=max_speed,
        )


def check_camera_view(
    fp: FootprintInfo, params: MissionParams, lateral_offsets_m: list[float]
) -> list[str]:
    """The corridor must be in view from the legs' lateral offsets (positive = left).

    Returns warnings when the inspected strip is only partly covered; raises when the
    centre line itself is out of view (the mission would photograph the wrong place).
    """
    half = fp.centre_width_m / 2.0
    covered = [(o - half, o + half) for o in lateral_offsets_m]
    if not any(lo <= 0.0 <= hi for lo, hi in covered):
        raise PlanLimitError(
            f"the road centre line is out of view: from {params.offset_m:g} m to the side the "
            f"camera sees {half:.1f} m either way at {params.alt_m:g} m; lower --offset or fly "
            "higher",
            name="offset_m",
            value=params.offset_m,
            limit=half,
        )
    hw = params.inspect_half_width_m
    lo = min(c[0] for c in covered)
    hi = max(c[1] for c in covered)
    warnings = []
    if lo > -hw or hi < hw:
        warnings.append(
            f"the camera covers {lo:+.1f} m..{hi:+.1f} m across the road (centre row), not the "
            f"whole ±{hw:g} m strip to inspect: fixtures at the road edge may be missed; "
            "fly both sides, higher, or with a smaller offset"
        )
    return warnings


def check_home_in_fence(distance_outside_m: float, fence_width_m: float) -> None:
    """The take-off point must be inside the geofence or the autopilot will not arm."""
    if distance_outside_m > 0.0:
        raise PlanLimitError(
            f"home is {distance_outside_m:.0f} m outside the geofence (the corridor "
            f"± {fence_width_m:.0f} m); take off nearer the corridor or raise --fence-margin",
            name="home",
            value=distance_outside_m,
            limit=0.0,
        )


def check_mission_items(count: int, limits: PlanLimits) -> None:
    if count > limits.max_mission_items:
        raise PlanLimitError(
            f"the mission has {count} items, more than the {limits.max_mission_items} a flight "
            "controller may store; simplify the corridor line or split it",
            name="mission_items",
            value=float(count),
            limit=float(limits.max_mission_items),
        )


def check_endurance(
    est_flight_time_s: float,
    path_length_m: float,
    corridor_length_m: float,
    fixed_time_s: float,
    params: MissionParams,
    limits: PlanLimits,
) -> None:
    """The estimated flight must fit the battery minus its reserve.

    `fixed_time_s` is the part of the estimate that does not grow with the corridor (climb,
    descent): used to say how long a corridor would fit.
    """
    usable = limits.usable_flight_time_s
    if est_flight_time_s <= usable:
        return
    scale = (usable - fixed_time_s) / max(est_flight_time_s - fixed_time_s, 1e-9)
    fits_m = max(0.0, corridor_length_m * scale)
    raise PlanLimitError(
        f"the mission needs about {est_flight_time_s / 60:.1f} min ({path_length_m:.0f} m at "
        f"{params.speed_m_s:g} m/s plus climb, turns and landing) but the battery allows "
        f"{usable / 60:.1f} min ({limits.battery_endurance_s / 60:.1f} min endurance minus "
        f"{limits.battery_reserve_fraction:.0%} reserve); split the corridor into parts of "
        f"at most ~{fits_m:.0f} m (it is {corridor_length_m:.0f} m), or fly one side only",
        name="flight_time_s",
        value=est_flight_time_s,
        limit=usable,
    )
