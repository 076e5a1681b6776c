"""The simulated vehicle as a pure protocol object, in the manner of h11: feed it the bytes a
ground station sent (`receive_data`), advance its clock (`step`), collect the MAVLink 2 packets
it wants to send (`drain_packets`) and the events it reports (`next_event`). No sockets, no
threads, no wall clock: tests drive it directly, the UDP shell in `_server` drives it in real time.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from firmware_sim.vehicle._autopilot import Autopilot
from firmware_sim.vehicle._commands import CommandHandler
from firmware_sim.vehicle._config import FaultKind, FaultSpec, VehicleConfig
from firmware_sim.vehicle._events import MissionItemReached, PhotoTaken, StatusText, VehicleEvent
from firmware_sim.vehicle._mission import MissionItem, MissionProtocol
from firmware_sim.vehicle._modes import Mode, Outcome
from firmware_sim.vehicle._params import ParamStore
from firmware_sim.vehicle._telemetry import StreamScheduler, Telemetry

__all__ = ["TICK_S", "SimVehicle"]

logger = logging.getLogger(__name__)
m = mavlink2

# Internal physics/autopilot step: ArduPilot runs its camera and navigation at 50 Hz.
TICK_S = 0.02
HEARTBEAT_INTERVAL_S = 1.0
# In-process consumers drain events every loop; the bound only stops a run that never drains
# them (a test that only looks at the wire) from growing without limit.
EVENT_BACKLOG = 10_000
# Messages that carry target_system/target_component are for us when the component is one of
# these: the autopilot, broadcast, or the gimbal and camera it drives.
_OUR_COMPONENTS = frozenset({0, m.MAV_COMP_ID_GIMBAL, m.MAV_COMP_ID_CAMERA})


@dataclass(slots=True)
class _ScheduledFault:
    spec: FaultSpec
    started: bool = False
    ended: bool = False


class SimVehicle:
    """A MAVLink 2 ArduCopter-alike, stepped on an explicit simulated clock."""

    def __init__(self, config: VehicleConfig | None = None) -> None:
        self.config = config if config is not None else VehicleConfig()
        cfg = self.config
        self.params = ParamStore(cfg.param_overrides)
        self.params.set("SYSID_THISMAV", cfg.system_id)
        self.mission = MissionProtocol(request_int=cfg.mission_request_int)
        self.autopilot = Autopilot(cfg, self.params, self.mission)
        self._mav = m.MAVLink(None, srcSystem=cfg.system_id, srcComponent=cfg.component_id)
        self._mav.robust_parsing = True
        self._telemetry = Telemetry(
            self.autopilot, system_id=cfg.system_id, component_id=cfg.component_id
        )
        self._streams = StreamScheduler()
        self._commands = CommandHandler(self)
        self._outgoing: list[bytes] = []
        self._events: deque[VehicleEvent] = deque(maxlen=EVENT_BACKLOG)
        self._pending_s = 0.0
        self._next_heartbeat_s = 0.0
        self._mission_generation = self.mission.generation
        self._home_generation = self.autopilot.home_generation
        self._faults = [_ScheduledFault(f) for f in cfg.faults]
        self.link_lost = False
        self.packets_received = 0
        self.bad_packets = 0
        self.unknown_packets = 0

    # -- the h11-style surface ----------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from a peer (any framing: partial packets are kept for the next call)."""
        if self.link_lost or not data:
            return
        try:
            msgs = self._mav.parse_buffer(data) or []
        except m.MAVError as exc:
            # robust_parsing turns bad frames into BAD_DATA; anything still raised is counted.
            self.bad_packets += 1
            logger.debug("undecodable MAVLink input dropped: %s", exc)
            return
        for msg in msgs:
            self._handle(msg)
        self._flush_events()

    def step(self, dt_s: float) -> None:
        """Advance simulated time by `dt_s` seconds (internally in 20 ms ticks)."""
        if not (math.isfinite(dt_s) and dt_s >= 0):
            raise ValueError(f"dt_s must be a finite number >= 0, got {dt_s!r}")
        self._pending_s += dt_s
        while self._pending_s >= TICK_S - 1e-9:
            self._pending_s -= TICK_S
            self._tick()
        self._send_due_telemetry()

    def drain_packets(self) -> list[bytes]:
        """MAVLink packets to send, one frame each, oldest first."""
        out, self._outgoing = self._outgoing, []
        return out

    def data_to_send(self) -> bytes:
        return b"".join(self.drain_packets())

    def next_event(self) -> VehicleEvent | None:
        return self._events.popleft() if self._events else None

    # -- read-only conveniences for owners and tests ------------------------------------------

    @property
    def time_s(self) -> float:
        return self.autopilot.time_s

    @property
    def mode(self) -> Mode:
        return self.autopilot.mode

    @property
    def armed(self) -> bool:
        return self.autopilot.armed

    @property
    def landed(self) -> bool:
        return self.autopilot.airframe.landed

    @property
    def alt_rel_m(self) -> float:
        return self.autopilot.alt_rel_m

    def position(self) -> tuple[float, float, float]:
        """True (lat_deg, lon_deg, alt above home m), whatever the GPS says."""
        af = self.autopilot.airframe
        lat, lon = self.autopilot.latlon_of(af.e_m, af.n_m)
        return lat, lon, self.autopilot.alt_rel_m

    @property
    def mission_items(self) -> tuple[MissionItem, ...]:
        """Stored mission including the home slot at index 0."""
        return tuple(self.mission.items)

    @property
    def photo_count(self) -> int:
        return self.autopilot.trigger.image_index

    def inject_fault(self, kind: FaultKind, duration_s: float | None = None) -> None:
        """Start a fault now (same effect as a scheduled `--fault`)."""
        spec = FaultSpec(kind=kind, at_s=self.time_s, duration_s=duration_s)
        fault = _ScheduledFault(spec)
        self._faults.append(fault)
        self._update_faults()

    # -- clock --------------------------------------------------------------------------------

    def _tick(self) -> None:
        ap = self.autopilot
        self._update_faults()
        ap.tick(TICK_S)
        for msg in self.mission.tick(ap.time_s, self.config.gcs_timeout_scale):
            self._send(msg)
        if self.mission.generation != self._mission_generation:
            self._mission_generation = self.mission.generation
            if not ap.runner.running:
                ap.runner.reset()
        if ap.home_generation != self._home_generation:
            self._home_generation = ap.home_generation
            self._send(self._telemetry.home_position())
        self._flush_events()

    def _send_due_telemetry(self) -> None:
        now = self.time_s
        if now + 1e-9 >= self._next_heartbeat_s:
            self._send(self._telemetry.heartbeat())
            self._next_heartbeat_s = now + HEARTBEAT_INTERVAL_S
        for name in self._streams.due(now):
            self._send(self._telemetry.build(name))

    def _update_faults(self) -> None:
        now = self.time_s
        for fault in self._faults:
            spec = fault.spec
            if not fault.started and now + 1e-9 >= spec.at_s:
                fault.started = True
                for_text = f" for {spec.duration_s:g} s" if spec.duration_s else ""
                logger.warning("fault injected: %s at t=%.1f s%s", spec.kind.value, now, for_text)
                if spec.kind is FaultKind.LOW_BATTERY:
                    self.autopilot.drop_battery_to_low()
                    fault.ended = True
            end = None if spec.duration_s is None else spec.at_s + spec.duration_s
            if fault.started and not fault.ended and end is not None and now + 1e-9 >= end:
                fault.ended = True
                logger.warning("fault cleared: %s at t=%.1f s", spec.kind.value, now)
        active = {f.spec.kind for f in self._faults if f.started and not f.ended}
        self.autopilot.gps_fault = FaultKind.GPS_LOSS in active
        link_lost = FaultKind.LINK_LOSS in active
        if link_lost and not self.link_lost:
            self.autopilot.link_down_since_s = now
        elif not link_lost:
            self.autopilot.link_down_since_s = None
        self.link_lost = link_lost

    # -- output -------------------------------------------------------------------------------

    def _send(self, msg: Any | None) -> None:
        if msg is None or self.link_lost:
            return
        self._outgoing.append(msg.pack(self._mav))

    def status_text(self, severity: int, text: str) -> None:
        # STATUSTEXT holds 50 bytes; ArduPilot truncates too.
        raw = text.encode("utf-8", errors="replace")[:50]
        self._send(m.MAVLink_statustext_message(severity, raw, 0, 0))
        self._events.append(StatusText(severity=severity, text=text))

    def _flush_events(self) -> None:
        ap = self.autopilot
        while ap.events:
            event = ap.events.popleft()
            if isinstance(event, StatusText):
                self.status_text(event.severity, event.text)
                continue
            if isinstance(event, PhotoTaken):
                self._send(_camera_feedback(event))
            elif isinstance(event, MissionItemReached):
                self._send(m.MAVLink_mission_item_reached_message(event.seq))
                self._send(self._telemetry.mission_current())
            self._events.append(event)

    def send_outcome_text(self, outcome: Outcome) -> None:
        if not outcome.accepted and outcome.reason:
            prearm = outcome.reason.startswith(("PreArm", "Arm"))
            self.status_text(2 if prearm else 4, outcome.reason)

    # -- input --------------------------------------------------------------------------------

    def _for_us(self, msg: Any) -> bool:
        target = getattr(msg, "target_system", None)
        if target is not None and target not in (0, self.config.system_id):
            return False
        component = getattr(msg, "target_component", None)
        if component is None:
            return True
        return component == self.config.component_id or component in _OUR_COMPONENTS

    def _handle(self, msg: Any) -> None:
        name = msg.get_type()
        if name == "BAD_DATA":
            self.bad_packets += 1
            return
        self.packets_received += 1
        if not self._for_us(msg):
            return
        handler = getattr(self, f"_on_{name.lower()}", None)
        if handler is None:
            handler = self._commands.handler_for(name)
        if handler is None:
            self.unknown_packets += 1
            return
        handler(msg)

    def _on_heartbeat(self, msg: Any) -> None:
        if msg.type == m.MAV_TYPE_GCS:
            self.autopilot.gcs_heartbeat()

    def _on_param_request_list(self, msg: Any) -> None:
        for index in range(len(self.params)):
            self._send_param(index)

    def _on_param_request_read(self, msg: Any) -> None:
        index = msg.param_index if msg.param_index >= 0 else self.params.index_of(msg.param_id)
        if index is not None and 0 <= index < len(self.params):
            self._send_param(index)

    def _on_param_set(self, msg: Any) -> None:
        index = self.params.index_of(msg.param_id)
        if index is None or not self.params.set(msg.param_id, msg.param_value):
            return  # ArduPilot ignores unknown names and NaN values
        self._send_param(index)

    def _send_param(self, index: int) -> None:
        name, value, mav_type = self.params.entry(index)
        self._send(
            m.MAVLink_param_value_message(
                name.encode("ascii"), value, mav_type, len(self.params), index
            )
        )

    def _on_request_data_stream(self, msg: Any) -> None:
        rate = msg.req_message_rate if msg.start_stop else 0
        self._streams.set_group_rate(msg.req_stream_id, rate)

    def set_message_interval(self, msg_id: int, interval_us: float) -> bool:
        name = m.mavlink_map[msg_id].msgname if msg_id in m.mavlink_map else ""
        return self._streams.set_interval(name, interval_us)

    def send_message_by_id(self, msg_id: int) -> bool:
        """MAV_CMD_REQUEST_MESSAGE: send one message now if the vehicle can build it."""
        if msg_id not in m.mavlink_map:
            return False
        name = m.mavlink_map[msg_id].msgname
        special = {
            "AUTOPILOT_VERSION": self._telemetry.autopilot_version,
            "HEARTBEAT": self._telemetry.heartbeat,
            "HOME_POSITION": self._telemetry.home_position,
            "MISSION_CURRENT": self._telemetry.mission_current,
        }
        msg = special[name]() if name in special else self._telemetry.build(name)
        if msg is None:
            return False
        self._send(msg)
        return True

    def send_now(self, msg: Any) -> None:
        self._send(msg)

    @property
    def telemetry(self) -> Telemetry:
        return self._telemetry

    def home_item(self) -> MissionItem:
        ap = self.autopilot
        if not ap.home_set:
            return MissionItem(seq=0, frame=m.MAV_FRAME_GLOBAL, command=m.MAV_CMD_NAV_WAYPOINT)
        lat, lon = ap.latlon_of(ap.home_enu[0], ap.home_enu[1])
        return MissionItem(
            seq=0,
            frame=m.MAV_FRAME_GLOBAL,
            command=m.MAV_CMD_NAV_WAYPOINT,
            x=round(lat * 1e7),
            y=round(lon * 1e7),
            z=ap.home_alt_msl_m,
        )


def _camera_feedback(photo: PhotoTaken) -> Any:
    return m.MAVLink_camera_feedback_message(
        int(photo.time_unix_s * 1e6),
        0,
        0,
        photo.index,
        round(photo.lat_deg * 1e7),
        round(photo.lon_deg * 1e7),
        photo.alt_msl_m,
        photo.alt_rel_m,
        photo.vehicle_roll_deg,
        photo.vehicle_pitch_deg,
        photo.vehicle_yaw_deg,
        0.0,
        m.CAMERA_FEEDBACK_PHOTO,
        photo.index,
    )
