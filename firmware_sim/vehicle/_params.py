"""The simulated vehicle's parameter table: a small, realistic subset of ArduCopter's parameters
(same names, units and defaults unless a comment says why not) and the store behind
PARAM_REQUEST_LIST / PARAM_REQUEST_READ / PARAM_SET.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["PARAM_DEFS", "PARAM_NAMES", "ParamDef", "ParamStore"]

# MAV_PARAM_TYPE values (common.xml); kept literal so this module stays free of pymavlink.
_INT8 = 2
_INT16 = 4
_INT32 = 6
_REAL32 = 9

_INT_RANGES = {_INT8: (-128, 127), _INT16: (-32768, 32767), _INT32: (-(2**31), 2**31 - 1)}


@dataclass(frozen=True, slots=True)
class ParamDef:
    """One parameter: ArduPilot name (at most 16 characters), default, MAV_PARAM_TYPE, meaning."""

    name: str
    default: float
    mav_type: int
    doc: str

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= 16 or not self.name.isascii():
            raise ValueError(f"parameter name must be 1-16 ASCII characters: {self.name!r}")


PARAM_DEFS: tuple[ParamDef, ...] = (
    ParamDef("SYSID_THISMAV", 1, _INT16, "MAVLink system id of this vehicle"),
    ParamDef("SYSID_MYGCS", 255, _INT16, "system id of the ground station"),
    ParamDef("FRAME_CLASS", 1, _INT8, "1 = quad"),
    ParamDef("FRAME_TYPE", 1, _INT8, "1 = X"),
    ParamDef("ARMING_CHECK", 1, _INT32, "pre-arm checks: 0 = off, else on"),
    ParamDef("DISARM_DELAY", 10, _INT8, "s on the ground before auto-disarm; 0 = never"),
    ParamDef("ANGLE_MAX", 3000, _INT16, "max lean angle, cdeg"),
    ParamDef("ATC_SLEW_YAW", 6000, _REAL32, "yaw slew rate in auto modes, cdeg/s"),
    ParamDef("WP_YAW_BEHAVIOR", 2, _INT8, "0 never change yaw, 1 face next wp, 2 except RTL"),
    ParamDef("WPNAV_SPEED", 500, _REAL32, "horizontal speed in AUTO/GUIDED, cm/s"),
    ParamDef("WPNAV_SPEED_UP", 250, _REAL32, "climb rate, cm/s"),
    ParamDef("WPNAV_SPEED_DN", 150, _REAL32, "descent rate, cm/s"),
    ParamDef("WPNAV_ACCEL", 250, _REAL32, "horizontal acceleration, cm/s/s"),
    ParamDef("WPNAV_RADIUS", 200, _REAL32, "waypoint acceptance radius, cm"),
    ParamDef("RTL_ALT", 1500, _INT32, "RTL return altitude above home, cm; 0 = current"),
    ParamDef("RTL_ALT_FINAL", 0, _INT32, "RTL final altitude, cm; 0 = land"),
    ParamDef("RTL_SPEED", 0, _INT16, "RTL horizontal speed, cm/s; 0 = WPNAV_SPEED"),
    ParamDef("RTL_LOIT_TIME", 5000, _INT32, "RTL hover time above home before landing, ms"),
    ParamDef("LAND_SPEED", 50, _INT16, "final descent rate below 10 m, cm/s"),
    ParamDef("LAND_SPEED_HIGH", 0, _INT16, "descent rate above 10 m, cm/s; 0 = WPNAV_SPEED_DN"),
    ParamDef("AUTO_OPTIONS", 0, _INT32, "bit 0: allow arming in AUTO"),
    # ArduCopter ships FS_GCS_ENABLE=0; the simulator enables it so link loss ends in RTL,
    # which is what the fault injection is for.
    ParamDef("FS_GCS_ENABLE", 1, _INT8, "GCS failsafe: 0 off, 1 RTL, 2 continue AUTO, 5 LAND"),
    ParamDef("FS_GCS_TIMEOUT", 5, _REAL32, "GCS heartbeat timeout, s"),
    ParamDef("FS_EKF_ACTION", 1, _INT8, "EKF (position lost) failsafe: 1 LAND, 2 ALT_HOLD"),
    ParamDef("BATT_MONITOR", 4, _INT8, "4 = analog voltage and current"),
    ParamDef("BATT_CAPACITY", 5200, _INT32, "battery capacity, mAh"),
    # ArduCopter ships the mAh thresholds at 0 (off); the simulator models capacity, not a
    # discharge curve, so it triggers on remaining mAh.
    ParamDef("BATT_LOW_MAH", 1040, _REAL32, "low-battery failsafe below this remaining mAh"),
    ParamDef("BATT_CRT_MAH", 520, _REAL32, "critical-battery failsafe below this remaining mAh"),
    ParamDef("BATT_FS_LOW_ACT", 2, _INT8, "low-battery action: 0 none, 1 LAND, 2 RTL"),
    ParamDef("BATT_FS_CRT_ACT", 1, _INT8, "critical-battery action: 0 none, 1 LAND, 2 RTL"),
    ParamDef("BATT_ARM_MAH", 0, _INT32, "refuse to arm below this remaining mAh"),
    ParamDef("FENCE_ENABLE", 0, _INT8, "geofence on/off"),
    ParamDef("FENCE_TYPE", 3, _INT8, "bit 0 max altitude, bit 1 circle around home"),
    ParamDef("FENCE_ACTION", 1, _INT8, "0 report only, 1 RTL (LAND without position), 2 LAND"),
    ParamDef("FENCE_ALT_MAX", 100, _REAL32, "fence max altitude above home, m"),
    ParamDef("FENCE_RADIUS", 300, _REAL32, "fence circle radius around home, m"),
    ParamDef("FENCE_MARGIN", 2, _REAL32, "fence margin, m"),
    ParamDef("CAM_TRIGG_DIST", 0, _REAL32, "take a photo every this many metres; 0 = off"),
    ParamDef("CAM_MIN_INTERVAL", 0, _INT16, "minimum time between photos, ms"),
    ParamDef("CAM_AUTO_ONLY", 0, _INT8, "1 = distance triggering only in AUTO"),
    ParamDef("MNT1_PITCH_MIN", -90, _INT16, "gimbal pitch lower limit, deg"),
    ParamDef("MNT1_PITCH_MAX", 20, _INT16, "gimbal pitch upper limit, deg"),
    ParamDef("SIM_WIND_SPD", 0, _REAL32, "simulated wind speed, m/s"),
    ParamDef("SIM_WIND_DIR", 180, _REAL32, "direction the simulated wind comes from, deg"),
    ParamDef("SIM_GPS_DISABLE", 0, _INT8, "1 = simulated GPS has no signal"),
    # SITL's default is 12.6 V (3S); a 4S pack is more typical of an inspection quad.
    ParamDef("SIM_BATT_VOLTAGE", 16.8, _REAL32, "full-charge battery voltage, V"),
)

PARAM_NAMES: frozenset[str] = frozenset(p.name for p in PARAM_DEFS)


def _coerce(mav_type: int, value: float) -> float:
    """Store what the autopilot would: integer types are rounded and clamped like a C cast."""
    if mav_type in _INT_RANGES:
        low, high = _INT_RANGES[mav_type]
        return float(min(high, max(low, round(value))))
    # REAL32: the wire type is float32, so keep what a float32 can hold.
    return float(value)


class ParamStore:
    """Ordered parameter values with index lookup (PARAM_VALUE carries both name and index)."""

    def __init__(self, overrides: Iterable[tuple[str, float]] = ()) -> None:
        self._defs = PARAM_DEFS
        self._index = {p.name: i for i, p in enumerate(self._defs)}
        self._values = [float(p.default) for p in self._defs]
        for name, value in overrides:
            if not self.set(name, value):
                raise KeyError(f"unknown parameter or invalid value: {name}={value}")

    def __len__(self) -> int:
        return len(self._defs)

    def __iter__(self) -> Iterator[str]:
        return (p.name for p in self._defs)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def index_of(self, name: str) -> int | None:
        return self._index.get(name.upper())

    def entry(self, index: int) -> tuple[str, float, int]:
        """(name, value, MAV_PARAM_TYPE) of the parameter at `index`."""
        p = self._defs[index]
        return p.name, self._values[index], p.mav_type

    def __getitem__(self, name: str) -> float:
        return self._values[self._index[name]]

    def set(self, name: str, value: float) -> bool:
        """Set a parameter; False (and no change) for an unknown name or a non-finite value,
        which ArduPilot ignores too."""
        index = self._index.get(name.upper())
        if index is None or not math.isfinite(value):
            return False
        self._values[index] = _coerce(self._defs[index].mav_type, value)
        return True

    def as_dict(self) -> dict[str, float]:
        return {p.name: v for p, v in zip(self._defs, self._values, strict=True)}
