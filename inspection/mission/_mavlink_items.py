"""Mission items as MAVLink sees them (MISSION_ITEM_INT fields), built from a MissionPlan.

The layout is ArduPilot's: item 0 is home (the autopilot overwrites it). ArduPilot runs the
DO items that follow a NAV item as soon as that NAV item *starts* (AP_Mission), so each DO
item sits after the NAV item whose start is the moment it must act:

    TAKEOFF
    WAYPOINT leg 0 start (hold 2 s)   DO_CHANGE_SPEED, DO_MOUNT_CONTROL, CONDITION_YAW
                                      <- on the way there: speed, gimbal, nose along the leg
    WAYPOINT leg 0 second point       DO_SET_CAM_TRIGG_DIST D (+ one photo now)  <- at the start
    WAYPOINT ... leg 0 end
    WAYPOINT leg 1 start (hold 2 s)   DO_SET_CAM_TRIGG_DIST 0, CONDITION_YAW  <- at leg 0's end
    WAYPOINT leg 1 second point       DO_SET_CAM_TRIGG_DIST D
    ...
    RETURN_TO_LAUNCH                  DO_SET_CAM_TRIGG_DIST 0  <- at the end of the last leg

The camera looks where the nose points; CONDITION_YAW turns the nose along the leg before
its first photo (the next waypoint then keeps it there: "face next waypoint"). DO items
straight after TAKEOFF are avoided: ArduPilot skips them when the mission starts in the air
(take-off in GUIDED first). No pymavlink here: the numbers are MAVLink's common-dialect
constants, named below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inspection.geo import bearing_deg

from ._exceptions import PlanError
from ._model import MissionPlan

__all__ = [
    "GLOBAL_FRAMES",
    "MAV_CMD_CONDITION_YAW",
    "MAV_CMD_DO_CHANGE_SPEED",
    "MAV_CMD_DO_MOUNT_CONTROL",
    "MAV_CMD_DO_SET_CAM_TRIGG_DIST",
    "MAV_CMD_NAV_LAND",
    "MAV_CMD_NAV_RETURN_TO_LAUNCH",
    "MAV_CMD_NAV_TAKEOFF",
    "MAV_CMD_NAV_WAYPOINT",
    "MAV_FRAME_GLOBAL",
    "MAV_FRAME_GLOBAL_RELATIVE_ALT",
    "MAV_FRAME_MISSION",
    "MissionItem",
    "home_item",
    "mission_items",
    "waypoints_text",
]

MAV_CMD_NAV_WAYPOINT = 16
MAV_CMD_NAV_RETURN_TO_LAUNCH = 20
MAV_CMD_NAV_LAND = 21
MAV_CMD_NAV_TAKEOFF = 22
MAV_CMD_CONDITION_YAW = 115
MAV_CMD_DO_CHANGE_SPEED = 178
MAV_CMD_DO_MOUNT_CONTROL = 205
MAV_CMD_DO_SET_CAM_TRIGG_DIST = 206

MAV_FRAME_GLOBAL = 0
MAV_FRAME_MISSION = 2
MAV_FRAME_GLOBAL_RELATIVE_ALT = 3
MAV_FRAME_GLOBAL_INT = 5
MAV_FRAME_GLOBAL_RELATIVE_ALT_INT = 6
MAV_FRAME_GLOBAL_TERRAIN_ALT = 10
MAV_FRAME_GLOBAL_TERRAIN_ALT_INT = 11
# Frames whose x/y are latitude/longitude: MISSION_ITEM_INT carries them as degrees * 1e7.
GLOBAL_FRAMES = frozenset(
    {
        MAV_FRAME_GLOBAL,
        MAV_FRAME_GLOBAL_RELATIVE_ALT,
        MAV_FRAME_GLOBAL_INT,
        MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
        MAV_FRAME_GLOBAL_TERRAIN_ALT,
        MAV_FRAME_GLOBAL_TERRAIN_ALT_INT,
    }
)

_MAV_MOUNT_MODE_MAVLINK_TARGETING = 2
_SPEED_TYPE_GROUND = 1
# Hover at each leg's start so the gimbal (~90°/s) has settled and the first photo is taken
# from a still pose.
LEG_START_HOLD_S = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionItem:
    """One MAVLink mission item. x/y are latitude/longitude in degrees for global frames,
    else params 5 and 6; z is altitude (metres) or param 7."""

    command: int
    frame: int = MAV_FRAME_MISSION
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    autocontinue: bool = True

    def __post_init__(self) -> None:
        for name in ("param1", "param2", "param3", "param4", "x", "y", "z"):
            v = float(getattr(self, name))
            object.__setattr__(self, name, v)  # ints given for params are floats on the wire
            # MAVLink uses NaN for "unset" in params 1-4 (QGC writes null); x/y/z must be real.
            if not math.isfinite(v) and (name in ("x", "y", "z") or not math.isnan(v)):
                raise PlanError(f"mission item {self.command}: {name} must be finite, got {v}")
        if self.is_global and not (-90.0 <= self.x <= 90.0 and -180.0 <= self.y <= 180.0):
            raise PlanError(
                f"mission item {self.command}: latitude/longitude ({self.x}, {self.y}) out of range"
            )

    @property
    def is_global(self) -> bool:
        return self.frame in GLOBAL_FRAMES

    @property
    def params(self) -> tuple[float, float, float, float, float, float, float]:
        return (
            self.param1,
            self.param2,
            self.param3,
            self.param4,
            self.x,
            self.y,
            self.z,
        )

    def int_fields(self, seq: int) -> dict[str, float | int]:
        """Fields of MISSION_ITEM_INT (without target ids and mission_type)."""
        if self.is_global:
            x, y = round(self.x * 1e7), round(self.y * 1e7)
        else:
            x, y = round(self.x), round(self.y)
        return {
            "seq": seq,
            "frame": self.frame,
            "command": self.command,
            "current": 0,
            "autocontinue": int(self.autocontinue),
            "param1": self.param1,
            "param2": self.param2,
            "param3": self.param3,
            "param4": self.param4,
            "x": x,
            "y": y,
            "z": self.z,
        }


def mission_items(plan: MissionPlan, *, with_home: bool = False) -> list[MissionItem]:
    """The plan as MAVLink mission items; `with_home` prepends item 0 (ArduPilot's home)."""
    p = plan.params
    items: list[MissionItem] = []
    if with_home:
        items.append(home_item(plan.home[0], plan.home[1]))
    items.append(
        MissionItem(
            command=MAV_CMD_NAV_TAKEOFF,
            frame=MAV_FRAME_GLOBAL_RELATIVE_ALT,
            x=plan.home[0],
            y=plan.home[1],
            z=p.alt_m,
        )
    )
    camera_off = MissionItem(command=MAV_CMD_DO_SET_CAM_TRIGG_DIST, param1=0.0)
    for k, leg in enumerate(plan.legs):
        first, second, *rest = leg.waypoints
        items.append(_waypoint(first, p.alt_m, hold_s=LEG_START_HOLD_S))
        if k == 0:
            items.append(
                MissionItem(
                    command=MAV_CMD_DO_CHANGE_SPEED,
                    param1=_SPEED_TYPE_GROUND,
                    param2=p.speed_m_s,
                    param3=-1.0,  # -1: leave the throttle alone
                )
            )
            items.append(
                MissionItem(
                    command=MAV_CMD_DO_MOUNT_CONTROL,
                    param1=p.gimbal_pitch_deg,
                    z=_MAV_MOUNT_MODE_MAVLINK_TARGETING,
                )
            )
        else:
            items.append(camera_off)  # runs on reaching the previous leg's end
        # Last of the DO items: ArduPilot holds later DO items until a CONDITION_* is done.
        items.append(
            MissionItem(
                command=MAV_CMD_CONDITION_YAW,
                param1=round(bearing_deg(*first, *second), 2),
                param3=0.0,  # 0: turn the shorter way
                param4=0.0,  # absolute heading
            )
        )
        items.append(_waypoint(second, p.alt_m))
        # Runs on reaching the leg's start; param3 = 1 takes the first photo there at once.
        items.append(
            MissionItem(
                command=MAV_CMD_DO_SET_CAM_TRIGG_DIST, param1=plan.trigger_distance_m, param3=1.0
            )
        )
        items.extend(_waypoint(wp, p.alt_m) for wp in rest)
    items.append(MissionItem(command=MAV_CMD_NAV_RETURN_TO_LAUNCH))
    items.append(camera_off)  # runs when the return starts, i.e. at the last leg's end
    return items


def home_item(lat_deg: float, lon_deg: float, alt_m: float = 0.0) -> MissionItem:
    """Item 0 for ArduPilot: a waypoint at home (its altitude is absolute)."""
    return MissionItem(
        command=MAV_CMD_NAV_WAYPOINT, frame=MAV_FRAME_GLOBAL, x=lat_deg, y=lon_deg, z=alt_m
    )


def _waypoint(latlon: tuple[float, float], alt_m: float, *, hold_s: float = 0.0) -> MissionItem:
    return MissionItem(
        command=MAV_CMD_NAV_WAYPOINT,
        frame=MAV_FRAME_GLOBAL_RELATIVE_ALT,
        param1=hold_s,
        x=latlon[0],
        y=latlon[1],
        z=alt_m,
    )


def waypoints_text(plan: MissionPlan, *, home_alt_amsl_m: float = 0.0) -> str:
    """The mission in MAVLink's plain-text format ("QGC WPL 110", tab-separated), which
    Mission Planner, MAVProxy (`wp load`) and QGroundControl read. Line 0 is home."""
    lines = ["QGC WPL 110"]
    items = [home_item(plan.home[0], plan.home[1], home_alt_amsl_m), *mission_items(plan)]
    for i, it in enumerate(items):
        fields = [i, 1 if i == 0 else 0, it.frame, it.command, *it.params, int(it.autocontinue)]
        lines.append("\t".join(_wpl(v) for v in fields))
    return "\n".join(lines) + "\n"


def _wpl(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    return "nan" if math.isnan(v) else repr(float(v))
