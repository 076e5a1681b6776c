"""Value types of mission planning: what the operator asks for, the limits it must respect,
and the plan that comes out. Frozen, validated on creation, units in the names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from inspection.camera import DEFAULT_INTRINSICS, CameraIntrinsics

from ._corridor import Corridor
from ._exceptions import PlanError

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_PARAMS",
    "FootprintInfo",
    "Leg",
    "LegSide",
    "MissionParams",
    "MissionPlan",
    "PlanLimits",
    "Side",
]

Side = Literal["left", "right", "both"]
LegSide = Literal["left", "right"]
LatLon = tuple[float, float]


def _finite(owner: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PlanError(f"{owner}: {name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise PlanError(f"{owner}: {name} must be finite, got {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionParams:
    """What to fly. `alt_m` is height above the take-off point (home), flat ground assumed.

    `offset_m` is how far from the corridor centre line the drone flies (over the sidewalk,
    not over traffic); `sides` picks the left, right or both sides of the road as seen
    along the corridor's direction. The camera looks along the direction of travel, tilted
    down by `gimbal_pitch_deg` (0 horizon, -90 straight down). `forward_overlap` is the share
    of one photo's length (along its centre column) that the next photo sees again.
    """

    alt_m: float = 30.0
    offset_m: float = 12.0
    sides: Side = "both"
    speed_m_s: float = 5.0
    gimbal_pitch_deg: float = -45.0
    forward_overlap: float = 0.75
    # Road strip (each side of the centre line) that must be in view: Japanese urban arterial
    # roads with two lanes each way put poles and signs up to ~11 m from the centre line.
    inspect_half_width_m: float = 12.0
    camera: CameraIntrinsics = field(default=DEFAULT_INTRINSICS)
    home: LatLon | None = None  # (lat_deg, lon_deg); None: the start of the first leg

    def __post_init__(self) -> None:
        _finite(
            "mission",
            alt_m=self.alt_m,
            offset_m=self.offset_m,
            speed_m_s=self.speed_m_s,
            gimbal_pitch_deg=self.gimbal_pitch_deg,
            forward_overlap=self.forward_overlap,
            inspect_half_width_m=self.inspect_half_width_m,
        )
        if self.sides not in ("left", "right", "both"):
            raise PlanError(f"mission: sides must be left, right or both, got {self.sides!r}")
        if self.offset_m < 0:
            raise PlanError(
                f"mission: offset_m must be >= 0 (use sides to pick the side), got {self.offset_m}"
            )
        if self.inspect_half_width_m < 0:
            raise PlanError("mission: inspect_half_width_m must be >= 0")
        if self.home is not None:
            lat, lon = self.home
            _finite("mission", home_lat_deg=lat, home_lon_deg=lon)
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                raise PlanError(f"mission: home ({lat}, {lon}) is not a valid latitude/longitude")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanLimits:
    """What the plan must respect. Defaults suit a small inspection quadcopter in Japan."""

    # Japan's Civil Aeronautics Act needs MLIT permission at 150 m above ground or higher.
    max_alt_m: float = 149.0
    # Light poles are ~10-12 m tall; 20 m keeps a margin over them and street trees.
    min_alt_m: float = 20.0
    # ArduCopter's WPNAV_SPEED tops out at 20 m/s; inspection photos blur well before that.
    max_speed_m_s: float = 15.0
    min_forward_overlap: float = 0.5  # below 50 % a point on the road may be in only one photo
    max_forward_overlap: float = 0.95
    # Most drone cameras cannot store full-size photos faster than about one a second.
    min_photo_interval_s: float = 1.0
    # Usable flight time of the battery from full to empty at cruise (hover ~ cruise for a quad).
    battery_endurance_s: float = 20 * 60.0
    # Keep this share of the battery unused: wind, a go-around, a slow landing.
    battery_reserve_fraction: float = 0.3
    climb_rate_m_s: float = 2.5  # ArduCopter WPNAV_SPEED_UP default 250 cm/s
    descent_rate_m_s: float = 1.5  # ArduCopter WPNAV_SPEED_DN default 150 cm/s
    # Time lost at each waypoint to slow down, turn and speed up again.
    waypoint_overhead_s: float = 2.0
    # Geofence: this much beyond the flight path on every side (GPS error, overshoot in wind).
    fence_margin_m: float = 15.0
    # Some flight controllers store only ~700 mission items (Pixhawk 1 EEPROM).
    max_mission_items: int = 700

    def __post_init__(self) -> None:
        _finite(
            "limits",
            max_alt_m=self.max_alt_m,
            min_alt_m=self.min_alt_m,
            max_speed_m_s=self.max_speed_m_s,
            min_forward_overlap=self.min_forward_overlap,
            max_forward_overlap=self.max_forward_overlap,
            min_photo_interval_s=self.min_photo_interval_s,
            battery_endurance_s=self.battery_endurance_s,
            battery_reserve_fraction=self.battery_reserve_fraction,
            climb_rate_m_s=self.climb_rate_m_s,
            descent_rate_m_s=self.descent_rate_m_s,
            waypoint_overhead_s=self.waypoint_overhead_s,
            fence_margin_m=self.fence_margin_m,
        )
        if not 0 < self.min_alt_m < self.max_alt_m:
            raise PlanError(
                f"limits: need 0 < min_alt_m < max_alt_m, got {self.min_alt_m}, {self.max_alt_m}"
            )
        if not 0.0 <= self.min_forward_overlap <= self.max_forward_overlap < 1.0:
            raise PlanError("limits: need 0 <= min_forward_overlap <= max_forward_overlap < 1")
        if not 0.0 <= self.battery_reserve_fraction < 1.0:
            raise PlanError(
                f"limits: battery_reserve_fraction must be in [0, 1), "
                f"got {self.battery_reserve_fraction}"
            )
        for name in (
            "max_speed_m_s",
            "battery_endurance_s",
            "climb_rate_m_s",
            "descent_rate_m_s",
            "fence_margin_m",
        ):
            if getattr(self, name) <= 0:
                raise PlanError(f"limits: {name} must be positive, got {getattr(self, name)}")
        if self.min_photo_interval_s < 0 or self.waypoint_overhead_s < 0:
            raise PlanError("limits: min_photo_interval_s and waypoint_overhead_s must be >= 0")
        if self.max_mission_items < 3:
            raise PlanError(f"limits: max_mission_items too small: {self.max_mission_items}")

    @property
    def usable_flight_time_s(self) -> float:
        return self.battery_endurance_s * (1.0 - self.battery_reserve_fraction)


DEFAULT_PARAMS = MissionParams()
DEFAULT_LIMITS = PlanLimits()


@dataclass(frozen=True, slots=True)
class FootprintInfo:
    """Ground coverage of one photo from the planned altitude and gimbal pitch (flat ground).

    Distances along track are from the point below the drone, positive ahead; `length_m`
    is far - near, the extent along the image centre column.
    """

    near_m: float
    centre_m: float  # where the optical axis meets the ground
    far_m: float
    length_m: float
    near_width_m: float  # across track, at the bottom image edge
    centre_width_m: float  # across track, through the image centre
    gsd_centre_m: float  # ground size of one pixel at the image centre


@dataclass(frozen=True, slots=True)
class Leg:
    """One pass along the corridor with the camera on: waypoints and where photos are due."""

    side: LegSide
    waypoints: tuple[LatLon, ...]  # (lat_deg, lon_deg), in flying order
    triggers: tuple[LatLon, ...]  # planned photo positions (distance trigger), in order
    length_m: float


@dataclass(frozen=True, slots=True)
class MissionPlan:
    """A planned corridor inspection. Build it with `plan_mission`."""

    corridor: Corridor
    params: MissionParams
    limits: PlanLimits
    home: LatLon
    legs: tuple[Leg, ...]
    footprint: FootprintInfo
    trigger_distance_m: float
    geofence: tuple[LatLon, ...]  # inclusion polygon (lat_deg, lon_deg), not closed
    path_length_m: float  # home -> legs -> home, horizontal
    est_flight_time_s: float
    warnings: tuple[str, ...] = ()

    @property
    def expected_photos(self) -> int:
        return sum(len(leg.triggers) for leg in self.legs)

    @property
    def trigger_points(self) -> tuple[LatLon, ...]:
        return tuple(p for leg in self.legs for p in leg.triggers)
