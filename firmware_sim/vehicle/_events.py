"""Events the pure vehicle reports to its owner (besides the MAVLink it sends): photos taken,
status texts and mission items reached. The socket shell turns photos into rendered frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from inspection.camera import CameraPose

__all__ = ["MissionItemReached", "PhotoTaken", "StatusText", "VehicleEvent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PhotoTaken:
    """One camera trigger. Camera angles are where the stabilised gimbal points (earth frame:
    pitch 0 = horizon, -90 = nadir; heading clockwise from north); vehicle angles are the
    airframe's attitude, which is what CAMERA_FEEDBACK reports, as ArduPilot does."""

    index: int
    time_boot_s: float
    time_unix_s: float
    lat_deg: float
    lon_deg: float
    alt_msl_m: float
    alt_rel_m: float
    heading_deg: float
    camera_pitch_deg: float
    camera_roll_deg: float
    vehicle_roll_deg: float
    vehicle_pitch_deg: float
    vehicle_yaw_deg: float

    def __post_init__(self) -> None:
        if self.index < 1:
            raise ValueError(f"photo index starts at 1, got {self.index}")

    def to_camera_pose(self) -> CameraPose:
        """The pose in the renderer's terms (imported lazily: inspection.camera pulls numpy)."""
        from inspection.camera import CameraPose

        return CameraPose(
            lat_deg=self.lat_deg,
            lon_deg=self.lon_deg,
            alt_m=self.alt_rel_m,
            heading_deg=self.heading_deg,
            pitch_deg=self.camera_pitch_deg,
            roll_deg=self.camera_roll_deg,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusText:
    """A STATUSTEXT the vehicle sent (MAV_SEVERITY: 2 critical, 4 warning, 6 info)."""

    severity: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionItemReached:
    """A mission NAV item finished (MISSION_ITEM_REACHED was sent)."""

    seq: int


VehicleEvent: TypeAlias = PhotoTaken | StatusText | MissionItemReached
