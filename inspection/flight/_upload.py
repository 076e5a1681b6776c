"""Mission upload as a pure state machine (MAVLink mission protocol, GCS side).

Feed it the vehicle's MISSION_REQUEST(_INT) and MISSION_ACK messages as (name, fields) and
send what it returns; call `tick` regularly so a lost message is sent again. It finishes
only on the vehicle's MISSION_ACK: unlike dronekit's `commands.upload()`, a rejected
mission is an error here, not a silent success.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspection.mission import MissionItem

__all__ = ["MISSION_RESULTS", "MissionUpload", "Outgoing"]

MISSION_RESULTS = {
    0: "MAV_MISSION_ACCEPTED",
    1: "MAV_MISSION_ERROR",
    2: "MAV_MISSION_UNSUPPORTED_FRAME",
    3: "MAV_MISSION_UNSUPPORTED",
    4: "MAV_MISSION_NO_SPACE",
    5: "MAV_MISSION_INVALID",
    6: "MAV_MISSION_INVALID_PARAM1",
    7: "MAV_MISSION_INVALID_PARAM2",
    8: "MAV_MISSION_INVALID_PARAM3",
    9: "MAV_MISSION_INVALID_PARAM4",
    10: "MAV_MISSION_INVALID_PARAM5_X",
    11: "MAV_MISSION_INVALID_PARAM6_Y",
    12: "MAV_MISSION_INVALID_PARAM7",
    13: "MAV_MISSION_INVALID_SEQUENCE",
    14: "MAV_MISSION_DENIED",
    15: "MAV_MISSION_OPERATION_CANCELLED",
}
# ArduPilot re-requests after 1 s; we resend a little later so the two do not collide.
RETRY_S = 1.5
# Resends without any answer before the upload is given up (the link is gone).
MAX_RETRIES = 5


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send: MAVLink message name and its fields (targets filled in by the link)."""

    name: str
    fields: Mapping[str, Any] = field(default_factory=dict)


class MissionUpload:
    """Upload `items` (item 0 is ArduPilot's home slot) to a vehicle."""

    def __init__(self, items: Sequence[MissionItem]) -> None:
        if not items:
            raise ValueError("a mission upload needs at least the home item")
        self._items = tuple(items)
        self._last_sent: Outgoing | None = None
        self._last_activity_s = 0.0
        self._retries = 0
        self.highest_sent = -1
        self.done = False
        self.error: str | None = None

    @property
    def count(self) -> int:
        return len(self._items)

    @property
    def finished(self) -> bool:
        return self.done or self.error is not None

    def start(self, now_s: float) -> list[Outgoing]:
        return [self._send(Outgoing("MISSION_COUNT", {"count": self.count}), now_s)]

    def receive(self, name: str, fields: Mapping[str, Any], now_s: float) -> list[Outgoing]:
        if self.finished:
            return []
        if name in ("MISSION_REQUEST", "MISSION_REQUEST_INT"):
            seq = int(fields.get("seq", -1))
            if not 0 <= seq < self.count:
                self.error = f"vehicle asked for item {seq} of a {self.count}-item mission"
                return []
            self._retries = 0
            self.highest_sent = max(self.highest_sent, seq)
            item = self._items[seq]
            return [self._send(Outgoing("MISSION_ITEM_INT", item.int_fields(seq)), now_s)]
        if name == "MISSION_ACK":
            result = int(fields.get("type", -1))
            if result == 0:
                if self.highest_sent == self.count - 1:
                    self.done = True
                # An ACCEPTED before the last item belongs to an earlier transfer: ignore it.
                return []
            self.error = MISSION_RESULTS.get(result, f"MAV_MISSION_RESULT {result}")
        return []

    def tick(self, now_s: float) -> list[Outgoing]:
        """Resend the last message after RETRY_S of silence; give up after MAX_RETRIES."""
        if self.finished or self._last_sent is None:
            return []
        if now_s - self._last_activity_s < RETRY_S:
            return []
        if self._retries >= MAX_RETRIES:
            self.error = (
                f"no answer from the vehicle after {MAX_RETRIES} resends "
                f"(last sent {self._last_sent.name})"
            )
            return []
        self._retries += 1
        return [self._send(self._last_sent, now_s)]

    def _send(self, out: Outgoing, now_s: float) -> Outgoing:
        self._last_sent = out
        self._last_activity_s = now_s
        return out
