"""What a flight may take (timeouts) and how it is run (options); validated on creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FlightOptions", "FlightTimeouts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlightTimeouts:
    """Seconds each wait may take before the flight ends with FlightTimeout."""

    connect_s: float = 30.0  # first heartbeat and the vehicle's basic state
    armable_s: float = 120.0  # GPS fix and EKF ready (a cold GPS start takes a minute)
    mode_s: float = 10.0  # a mode change to show in the heartbeat
    upload_s: float = 60.0  # the whole mission upload, until the vehicle's ACK
    arm_s: float = 15.0
    takeoff_s: float = 90.0  # climb to mission altitude
    stall_s: float = 60.0  # no new mission item and no movement for this long
    link_s: float = 15.0  # no heartbeat for this long = link lost
    total_s: float | None = None  # take-off to landing; None: 2x the plan's estimate + 5 min
    land_s: float = 300.0  # from the start of the return to disarmed on the ground
    collect_s: float = 60.0  # photo files to appear in --photos-from

    def __post_init__(self) -> None:
        for name in FlightTimeouts.__dataclass_fields__:
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"timeout {name} must be positive, got {v}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FlightOptions:
    plan_path: Path
    connection: str
    out_dir: Path
    photos_from: Path | None = None
    timeouts: FlightTimeouts = field(default_factory=FlightTimeouts)
    min_battery_pct: float = 80.0  # refuse to take off with less (a full pack is expected)
    position_tolerance_m: float = 5.0  # photo vs planned trigger point, for the summary
