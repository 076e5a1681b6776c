"""Mission items and the MAVLink mission transfer protocol (upload, download, clear), shaped like
ArduPilot's MissionItemProtocol: item 0 is home, uploads are answered with MISSION_REQUEST (or
MISSION_REQUEST_INT when configured), both MISSION_ITEM and MISSION_ITEM_INT are accepted, and a
download answers in the form it was asked in. Pure: it returns the messages to send.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

__all__ = [
    "GLOBAL_FRAMES",
    "NAV_COMMANDS",
    "SUPPORTED_COMMANDS",
    "MissionItem",
    "MissionProtocol",
]

m = mavlink2

GLOBAL_FRAMES = frozenset(
    {
        m.MAV_FRAME_GLOBAL,
        m.MAV_FRAME_GLOBAL_RELATIVE_ALT,
        m.MAV_FRAME_GLOBAL_INT,
        m.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
        m.MAV_FRAME_GLOBAL_TERRAIN_ALT,
        m.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT,
    }
)
ABSOLUTE_ALT_FRAMES = frozenset({m.MAV_FRAME_GLOBAL, m.MAV_FRAME_GLOBAL_INT})
_SUPPORTED_FRAMES = GLOBAL_FRAMES | {m.MAV_FRAME_MISSION}

NAV_COMMANDS = frozenset(
    {
        m.MAV_CMD_NAV_WAYPOINT,
        m.MAV_CMD_NAV_LOITER_TIME,
        m.MAV_CMD_NAV_RETURN_TO_LAUNCH,
        m.MAV_CMD_NAV_LAND,
        m.MAV_CMD_NAV_TAKEOFF,
    }
)
SUPPORTED_COMMANDS = NAV_COMMANDS | {
    m.MAV_CMD_DO_CHANGE_SPEED,
    m.MAV_CMD_DO_SET_CAM_TRIGG_DIST,
    m.MAV_CMD_DO_DIGICAM_CONTROL,
    m.MAV_CMD_DO_MOUNT_CONTROL,
    m.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW,
    m.MAV_CMD_CONDITION_YAW,
}

# ArduPilot boards with 16 KiB of mission storage hold about this many items.
MAX_ITEMS = 700
# ArduPilot re-requests a missing item after 1 s and gives up an upload after 8 s of silence.
REQUEST_RETRY_S = 1.0
UPLOAD_TIMEOUT_S = 8.0


@dataclass(frozen=True, slots=True)
class MissionItem:
    """A stored mission item in MISSION_ITEM_INT form (x/y = lat/lon * 1e7 in global frames)."""

    seq: int
    frame: int
    command: int
    current: int = 0
    autocontinue: int = 1
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0
    y: int = 0
    z: float = 0.0

    @property
    def is_nav(self) -> bool:
        return self.command in NAV_COMMANDS

    @property
    def lat_deg(self) -> float:
        return self.x / 1e7

    @property
    def lon_deg(self) -> float:
        return self.y / 1e7

    @property
    def has_location(self) -> bool:
        return self.frame in GLOBAL_FRAMES and (self.x != 0 or self.y != 0)

    @classmethod
    def from_message(cls, msg: Any) -> MissionItem | int:
        """Build from MISSION_ITEM or MISSION_ITEM_INT; returns a MAV_MISSION_RESULT on error."""
        is_int = msg.get_type() == "MISSION_ITEM_INT"
        if msg.command not in SUPPORTED_COMMANDS:
            return int(m.MAV_MISSION_UNSUPPORTED)
        if msg.frame not in _SUPPORTED_FRAMES:
            return int(m.MAV_MISSION_UNSUPPORTED_FRAME)
        if not math.isfinite(msg.z):
            return int(m.MAV_MISSION_INVALID_PARAM7)
        if is_int:
            x, y = int(msg.x), int(msg.y)
        else:
            if not (math.isfinite(msg.x) and math.isfinite(msg.y)):
                return int(m.MAV_MISSION_INVALID_PARAM5_X)
            scale = 1e7 if msg.frame in GLOBAL_FRAMES else 1.0
            x, y = round(msg.x * scale), round(msg.y * scale)
        if msg.frame in GLOBAL_FRAMES:
            if abs(x) > 900_000_000:
                return int(m.MAV_MISSION_INVALID_PARAM5_X)
            if abs(y) > 1_800_000_000:
                return int(m.MAV_MISSION_INVALID_PARAM6_Y)
        return cls(
            seq=int(msg.seq),
            frame=int(msg.frame),
            command=int(msg.command),
            current=int(msg.current),
            autocontinue=int(msg.autocontinue),
            param1=float(msg.param1),
            param2=float(msg.param2),
            param3=float(msg.param3),
            param4=float(msg.param4),
            x=x,
            y=y,
            z=float(msg.z),
        )

    def to_message(self, *, as_int: bool, target_system: int, target_component: int) -> Any:
        fields = (
            target_system,
            target_component,
            self.seq,
            self.frame,
            self.command,
            self.current,
            self.autocontinue,
            self.param1,
            self.param2,
            self.param3,
            self.param4,
        )
        if as_int:
            return m.MAVLink_mission_item_int_message(*fields, self.x, self.y, self.z, 0)
        scale = 1e-7 if self.frame in GLOBAL_FRAMES else 1.0
        return m.MAVLink_mission_item_message(*fields, self.x * scale, self.y * scale, self.z, 0)


def _ack(msg: Any, result: int) -> Any:
    mission_type = getattr(msg, "mission_type", 0)
    return m.MAVLink_mission_ack_message(
        msg.get_srcSystem(), msg.get_srcComponent(), result, mission_type
    )


_HOME_PLACEHOLDER = MissionItem(seq=0, frame=m.MAV_FRAME_GLOBAL, command=m.MAV_CMD_NAV_WAYPOINT)


class MissionProtocol:
    """Stored mission plus the transfer state machine. `items[0]` is the home slot; the vehicle
    answers downloads of item 0 with its current home, as ArduPilot does."""

    def __init__(self, *, request_int: bool = False) -> None:
        self._request_int = request_int
        self.items: list[MissionItem] = [_HOME_PLACEHOLDER]
        self.generation = 0  # bumps whenever the stored mission changes
        self.receiving = False
        self._partner = (0, 0)
        self._expected = 0
        self._buffer: list[MissionItem] = []
        self._last_receive_s = 0.0
        self._last_request_s = 0.0

    @property
    def count(self) -> int:
        """Items including home, as MISSION_COUNT reports."""
        return len(self.items)

    # -- upload -------------------------------------------------------------------------------

    def on_count(self, msg: Any, now_s: float) -> list[Any]:
        if msg.mission_type != m.MAV_MISSION_TYPE_MISSION:
            return [_ack(msg, m.MAV_MISSION_UNSUPPORTED)]
        sender = (msg.get_srcSystem(), msg.get_srcComponent())
        if self.receiving and sender != self._partner:
            return [_ack(msg, m.MAV_MISSION_DENIED)]
        if msg.count > MAX_ITEMS:
            return [_ack(msg, m.MAV_MISSION_NO_SPACE)]
        if msg.count == 0:
            self.receiving = False
            self._replace([self.items[0]])
            return [_ack(msg, m.MAV_MISSION_ACCEPTED)]
        self.receiving = True
        self._partner = sender
        self._expected = msg.count
        self._buffer = []
        self._last_receive_s = now_s
        return [self._request(now_s)]

    def on_item(self, msg: Any, now_s: float) -> list[Any]:
        if not self.receiving or msg.mission_type != m.MAV_MISSION_TYPE_MISSION:
            # A late duplicate of the last item, or an item nobody asked for: ArduPilot ignores it.
            return []
        if (msg.get_srcSystem(), msg.get_srcComponent()) != self._partner:
            return [_ack(msg, m.MAV_MISSION_DENIED)]
        if msg.seq != len(self._buffer):
            return [_ack(msg, m.MAV_MISSION_INVALID_SEQUENCE)]
        item = MissionItem.from_message(msg)
        if isinstance(item, int):
            self.receiving = False
            return [_ack(msg, item)]
        self._buffer.append(item)
        self._last_receive_s = now_s
        if len(self._buffer) < self._expected:
            return [self._request(now_s)]
        self.receiving = False
        self._replace(self._buffer)
        self._buffer = []
        return [_ack(msg, m.MAV_MISSION_ACCEPTED)]

    def tick(self, now_s: float, timeout_scale: float) -> list[Any]:
        """Resend a lost request, or cancel an upload whose sender went quiet."""
        if not self.receiving:
            return []
        if now_s - self._last_receive_s > UPLOAD_TIMEOUT_S * timeout_scale:
            self.receiving = False
            return [
                m.MAVLink_mission_ack_message(
                    *self._partner, m.MAV_MISSION_OPERATION_CANCELLED, m.MAV_MISSION_TYPE_MISSION
                )
            ]
        if now_s - self._last_request_s > REQUEST_RETRY_S * timeout_scale:
            return [self._request(now_s)]
        return []

    def _request(self, now_s: float) -> Any:
        self._last_request_s = now_s
        seq = len(self._buffer)
        if self._request_int:
            return m.MAVLink_mission_request_int_message(*self._partner, seq, 0)
        return m.MAVLink_mission_request_message(*self._partner, seq, 0)

    def _replace(self, items: list[MissionItem]) -> None:
        self.items = list(items) if items else [_HOME_PLACEHOLDER]
        self.generation += 1

    # -- download and clear -------------------------------------------------------------------

    def on_request_list(self, msg: Any) -> list[Any]:
        sender = (msg.get_srcSystem(), msg.get_srcComponent())
        if msg.mission_type != m.MAV_MISSION_TYPE_MISSION:
            # No fences or rally points here: report them as empty so GCSs carry on.
            return [m.MAVLink_mission_count_message(*sender, 0, msg.mission_type)]
        if self.receiving:
            return [_ack(msg, m.MAV_MISSION_DENIED)]
        return [m.MAVLink_mission_count_message(*sender, self.count, 0)]

    def on_request(self, msg: Any, home_item: MissionItem) -> list[Any]:
        if msg.mission_type != m.MAV_MISSION_TYPE_MISSION:
            return [_ack(msg, m.MAV_MISSION_UNSUPPORTED)]
        if self.receiving:
            return [_ack(msg, m.MAV_MISSION_DENIED)]
        if not 0 <= msg.seq < self.count:
            return [_ack(msg, m.MAV_MISSION_INVALID_SEQUENCE)]
        item = home_item if msg.seq == 0 else self.items[msg.seq]
        return [
            item.to_message(
                as_int=msg.get_type() == "MISSION_REQUEST_INT",
                target_system=msg.get_srcSystem(),
                target_component=msg.get_srcComponent(),
            )
        ]

    def on_clear_all(self, msg: Any, *, allowed: bool) -> list[Any]:
        if msg.mission_type != m.MAV_MISSION_TYPE_MISSION:
            return [_ack(msg, m.MAV_MISSION_ACCEPTED)]
        if self.receiving or not allowed:
            return [_ack(msg, m.MAV_MISSION_ERROR)]
        self._replace([self.items[0]])
        return [_ack(msg, m.MAV_MISSION_ACCEPTED)]
