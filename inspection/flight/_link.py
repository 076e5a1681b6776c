"""The one seam between the flight procedure and a vehicle: `VehicleLink`.

The procedure sees plain snapshots and (name, fields) message events, never dronekit or
pymavlink objects; `_dronekit.py` is the real implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["MessageCallback", "VehicleLink", "VehicleSnapshot"]

# Called from the link's receive thread: must not block and must not raise.
MessageCallback = Callable[[str, Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class VehicleSnapshot:
    """The vehicle's state as last reported; None = not reported (yet)."""

    mode: str | None
    armed: bool
    armable: bool
    lat_deg: float | None
    lon_deg: float | None
    alt_rel_m: float | None  # above home
    alt_msl_m: float | None
    heading_deg: float | None
    groundspeed_m_s: float | None
    gps_fix_type: int | None  # 0-1 no fix, 2 2D, 3 3D, 4+ DGPS/RTK
    satellites: int | None
    battery_pct: float | None
    battery_v: float | None
    heartbeat_age_s: float | None
    system_status: str | None
    ekf_ok: bool

    @property
    def has_position(self) -> bool:
        return self.lat_deg is not None and self.lon_deg is not None


class VehicleLink(Protocol):
    """What an inspection flight needs from a vehicle. Commands only send; the procedure
    waits for their effect in snapshots or messages, with its own timeouts."""

    @property
    def address(self) -> str: ...

    def snapshot(self) -> VehicleSnapshot: ...

    def subscribe(self, names: Iterable[str], callback: MessageCallback) -> None: ...

    def send(self, name: str, fields: Mapping[str, Any]) -> None:
        """Send a MAVLink message by name (e.g. MISSION_COUNT); targets are filled in."""
        ...

    def set_mode(self, mode: str) -> None: ...

    def arm(self) -> None: ...

    def takeoff(self, alt_m: float) -> None: ...

    def close(self) -> None: ...
