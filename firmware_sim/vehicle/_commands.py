"""Handlers for the simulated vehicle's control messages: COMMAND_LONG / COMMAND_INT (with
COMMAND_ACK and a STATUSTEXT reason on refusal), SET_MODE, guided position and velocity targets,
the mission protocol messages and gimbal control. Field values are validated here; a malformed
value is refused, never raised.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from firmware_sim.vehicle._mission import ABSOLUTE_ALT_FRAMES, GLOBAL_FRAMES
from firmware_sim.vehicle._modes import Mode, Outcome

if TYPE_CHECKING:
    from firmware_sim.vehicle._state import SimVehicle

__all__ = ["CommandHandler"]

m = mavlink2

FORCE_MAGIC = 21196  # MAV_CMD_COMPONENT_ARM_DISARM param2 that skips checks
_ACCEPTED: int = m.MAV_RESULT_ACCEPTED
_FAILED: int = m.MAV_RESULT_FAILED
_UNSUPPORTED: int = m.MAV_RESULT_UNSUPPORTED
_DENIED: int = m.MAV_RESULT_DENIED
# SET_POSITION_TARGET_* type_mask bits.
_IGNORE_POSITION = 0b111
_IGNORE_VELOCITY = 0b111000
_IGNORE_YAW = 1024
_LOCATION_COMMANDS = frozenset({m.MAV_CMD_DO_SET_HOME, m.MAV_CMD_DO_REPOSITION})
# MAVLink FTP (FILE_TRANSFER_PROTOCOL payload): header layout, opcodes and the error we answer.
_FTP_HEADER = struct.Struct("<HBBBBBBI")
_FTP_TERMINATE_SESSION = 1
_FTP_RESET_SESSIONS = 2
_FTP_ACK = 128
_FTP_NAK = 129
_FTP_ERR_FILE_NOT_FOUND = 10


def _mode_of(custom_mode: float) -> Mode | None:
    if not math.isfinite(custom_mode):
        return None
    try:
        return Mode(int(custom_mode))
    except ValueError:
        return None


class CommandHandler:
    """Turns control messages into autopilot calls and protocol replies."""

    def __init__(self, vehicle: SimVehicle) -> None:
        self._v = vehicle
        self._ap = vehicle.autopilot
        self._handlers: dict[str, Callable[[Any], None]] = {
            "COMMAND_LONG": self._on_command_long,
            "COMMAND_INT": self._on_command_int,
            "SET_MODE": self._on_set_mode,
            "SET_POSITION_TARGET_GLOBAL_INT": self._on_position_target_global,
            "SET_POSITION_TARGET_LOCAL_NED": self._on_position_target_local,
            "MISSION_COUNT": self._on_mission_count,
            "MISSION_ITEM": self._on_mission_item,
            "MISSION_ITEM_INT": self._on_mission_item,
            "MISSION_REQUEST_LIST": self._on_mission_request_list,
            "MISSION_REQUEST": self._on_mission_request,
            "MISSION_REQUEST_INT": self._on_mission_request,
            "MISSION_CLEAR_ALL": self._on_mission_clear_all,
            "MISSION_SET_CURRENT": self._on_mission_set_current,
            "MISSION_ACK": lambda msg: None,
            "MOUNT_CONTROL": self._on_mount_control,
            "MOUNT_CONFIGURE": lambda msg: None,
            "FILE_TRANSFER_PROTOCOL": self._on_ftp,
        }

    def handler_for(self, name: str) -> Callable[[Any], None] | None:
        return self._handlers.get(name)

    # -- commands -----------------------------------------------------------------------------

    def _on_command_long(self, msg: Any) -> None:
        params = (
            msg.param1,
            msg.param2,
            msg.param3,
            msg.param4,
            msg.param5,
            msg.param6,
            msg.param7,
        )
        frame = m.MAV_FRAME_GLOBAL  # COMMAND_LONG locations are AMSL
        self._reply(msg, msg.command, self._run(msg.command, params, frame))

    def _on_command_int(self, msg: Any) -> None:
        if msg.command in _LOCATION_COMMANDS and msg.frame in GLOBAL_FRAMES:
            x, y = msg.x / 1e7, msg.y / 1e7
        else:
            x, y = float(msg.x), float(msg.y)
        params = (msg.param1, msg.param2, msg.param3, msg.param4, x, y, msg.z)
        self._reply(msg, msg.command, self._run(msg.command, params, msg.frame))

    def _reply(self, msg: Any, command: int, result: int) -> None:
        self._v.send_now(
            m.MAVLink_command_ack_message(
                command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()
            )
        )

    def _outcome(self, outcome: Outcome) -> int:
        self._v.send_outcome_text(outcome)
        return _ACCEPTED if outcome.accepted else _FAILED

    def _run(self, command: int, p: tuple[float, ...], frame: int) -> int:
        ap = self._ap
        if command == m.MAV_CMD_COMPONENT_ARM_DISARM:
            force = p[1] == FORCE_MAGIC
            if p[0] == 1:
                return self._outcome(ap.arm(force=force))
            if p[0] == 0:
                return self._outcome(ap.disarm(force=force))
            return _DENIED
        if command == m.MAV_CMD_DO_SET_MODE:
            mode = _mode_of(p[1])
            if not (math.isfinite(p[0]) and int(p[0]) & m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED):
                return _UNSUPPORTED
            if mode is None:
                return _FAILED
            return self._outcome(ap.set_mode(mode))
        if command == m.MAV_CMD_NAV_TAKEOFF:
            return self._outcome(ap.takeoff(p[6]))
        if command == m.MAV_CMD_MISSION_START:
            if ap.mode is Mode.AUTO and not ap.runner.running:
                ap.runner.start_or_resume()
                return _ACCEPTED
            return self._outcome(ap.set_mode(Mode.AUTO))
        if command == m.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            return self._outcome(ap.set_mode(Mode.RTL))
        if command == m.MAV_CMD_NAV_LAND:
            return self._outcome(ap.set_mode(Mode.LAND))
        if command == m.MAV_CMD_DO_SET_HOME:
            outcome = ap.set_home_here() if p[0] == 1 else ap.set_home(p[4], p[5], p[6])
            return self._outcome(outcome)
        if command == m.MAV_CMD_DO_REPOSITION:
            return self._reposition(p, frame)
        if command == m.MAV_CMD_DO_SET_MISSION_CURRENT:
            return self._set_current(p[0])
        if command == m.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES:
            self._v.send_now(self._v.telemetry.autopilot_version())
            return _ACCEPTED
        if command in (m.MAV_CMD_REQUEST_MESSAGE, m.MAV_CMD_GET_HOME_POSITION):
            is_request = command == m.MAV_CMD_REQUEST_MESSAGE
            msg_id = p[0] if is_request else m.MAVLINK_MSG_ID_HOME_POSITION
            if not math.isfinite(msg_id):
                return _DENIED
            return _ACCEPTED if self._v.send_message_by_id(int(msg_id)) else _UNSUPPORTED
        if command == m.MAV_CMD_SET_MESSAGE_INTERVAL:
            if not (math.isfinite(p[0]) and math.isfinite(p[1])):
                return _DENIED
            return _ACCEPTED if self._v.set_message_interval(int(p[0]), p[1]) else _UNSUPPORTED
        if command == m.MAV_CMD_IMAGE_START_CAPTURE:
            if p[2] != 1:
                return _UNSUPPORTED  # only single shots; intervals come from CAM_TRIGG_DIST
            ap.trigger.request()
            return _ACCEPTED
        done = ap.do_command(command, p)
        if done is None:
            return _UNSUPPORTED
        return self._outcome(done)

    def _reposition(self, p: tuple[float, ...], frame: int) -> int:
        ap = self._ap
        if ap.mode is not Mode.GUIDED:
            change_mode = math.isfinite(p[1]) and int(p[1]) & m.MAV_DO_REPOSITION_FLAGS_CHANGE_MODE
            if not change_mode:
                return _FAILED
            if not ap.set_mode(Mode.GUIDED).accepted:
                return _FAILED
        alt_rel = p[6] - ap.home_alt_msl_m if frame in ABSOLUTE_ALT_FRAMES else p[6]
        return _ACCEPTED if ap.guided_goto(p[4], p[5], alt_rel) else _FAILED

    def _set_current(self, seq: float) -> int:
        if not math.isfinite(seq) or not self._ap.runner.set_current(int(seq)):
            return _FAILED
        self._v.send_now(self._v.telemetry.mission_current())
        return _ACCEPTED

    def _on_set_mode(self, msg: Any) -> None:
        mode = _mode_of(msg.custom_mode)
        if not msg.base_mode & m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
            result = _UNSUPPORTED
        elif mode is None:
            result = _FAILED
        else:
            result = self._outcome(self._ap.set_mode(mode))
        # ArduPilot acknowledges SET_MODE with the message id in COMMAND_ACK.command.
        self._reply(msg, m.MAVLINK_MSG_ID_SET_MODE, result)

    # -- guided targets -----------------------------------------------------------------------

    def _on_position_target_global(self, msg: Any) -> None:
        ap = self._ap
        mask = msg.type_mask
        if not mask & _IGNORE_POSITION:
            alt = msg.alt
            if msg.coordinate_frame in ABSOLUTE_ALT_FRAMES:
                alt -= ap.home_alt_msl_m
            ap.guided_goto(msg.lat_int / 1e7, msg.lon_int / 1e7, alt)
        elif not mask & _IGNORE_VELOCITY:
            ap.guided_velocity(msg.vy, msg.vx, -msg.vz)
        self._maybe_yaw(msg)

    def _on_position_target_local(self, msg: Any) -> None:
        ap = self._ap
        af = ap.airframe
        mask, frame = msg.type_mask, msg.coordinate_frame
        yaw = math.radians(af.yaw_deg)
        body = frame in (m.MAV_FRAME_BODY_NED, m.MAV_FRAME_BODY_OFFSET_NED)

        def to_en(north: float, east: float) -> tuple[float, float]:
            if not body:
                return east, north
            # Body frame: x forward, y right.
            return (
                north * math.sin(yaw) + east * math.cos(yaw),
                north * math.cos(yaw) - east * math.sin(yaw),
            )

        if not mask & _IGNORE_POSITION:
            de, dn = to_en(msg.x, msg.y)
            if frame == m.MAV_FRAME_LOCAL_NED:
                ap.guided_goto_enu(de, dn, -msg.z - ap.home_enu[2])
            elif frame in (m.MAV_FRAME_LOCAL_OFFSET_NED, m.MAV_FRAME_BODY_OFFSET_NED):
                ap.guided_goto_enu(af.e_m + de, af.n_m + dn, ap.alt_rel_m - msg.z)
        elif not mask & _IGNORE_VELOCITY:
            ve, vn = to_en(msg.vx, msg.vy)
            ap.guided_velocity(ve, vn, -msg.vz)
        self._maybe_yaw(msg)

    def _maybe_yaw(self, msg: Any) -> None:
        if msg.type_mask & _IGNORE_YAW or not math.isfinite(msg.yaw):
            return
        if self._ap.mode is Mode.GUIDED:
            yaw_deg = math.degrees(msg.yaw) % 360.0
            self._ap.do_command(m.MAV_CMD_CONDITION_YAW, (yaw_deg, 0, 0, 0, 0, 0, 0))

    def _on_mount_control(self, msg: Any) -> None:
        # Legacy MOUNT_CONTROL (dronekit's gimbal.rotate): centidegrees, yaw in the body frame.
        self._ap.point_gimbal(msg.input_a / 100.0, msg.input_c / 100.0)

    def _on_ftp(self, msg: Any) -> None:
        """No MAVLink FTP here: refuse at once so that MAVProxy/QGC fall back to PARAM_* and
        mission messages instead of waiting for their FTP timeouts."""
        payload = bytes(msg.payload)
        if len(payload) < _FTP_HEADER.size:
            return
        seq, session, opcode = _FTP_HEADER.unpack_from(payload)[:3]
        if opcode in (_FTP_ACK, _FTP_NAK):
            return  # a reply, not a request
        if opcode in (_FTP_TERMINATE_SESSION, _FTP_RESET_SESSIONS):
            reply, data = _FTP_ACK, b""
        else:
            reply, data = _FTP_NAK, bytes([_FTP_ERR_FILE_NOT_FOUND])
        header = _FTP_HEADER.pack((seq + 1) & 0xFFFF, session, reply, len(data), opcode, 0, 0, 0)
        body = (header + data).ljust(251, b"\0")
        self._v.send_now(
            m.MAVLink_file_transfer_protocol_message(
                0, msg.get_srcSystem(), msg.get_srcComponent(), list(body)
            )
        )

    # -- mission protocol ---------------------------------------------------------------------

    def _send_all(self, msgs: list[Any]) -> None:
        for msg in msgs:
            self._v.send_now(msg)

    def _on_mission_count(self, msg: Any) -> None:
        self._send_all(self._v.mission.on_count(msg, self._ap.time_s))

    def _on_mission_item(self, msg: Any) -> None:
        mission = self._v.mission
        if not mission.receiving and msg.current in (2, 3):
            self._guided_mission_item(msg)
            return
        self._send_all(mission.on_item(msg, self._ap.time_s))

    def _guided_mission_item(self, msg: Any) -> None:
        """MISSION_ITEM with current=2 is "fly here" in GUIDED (dronekit's simple_goto);
        current=3 changes only the altitude."""
        ap = self._ap
        alt = msg.z - ap.home_alt_msl_m if msg.frame in ABSOLUTE_ALT_FRAMES else msg.z
        if msg.current == 3:
            af = ap.airframe
            ok = ap.guided_goto_enu(af.e_m, af.n_m, alt)
        else:
            scale = 1e-7 if msg.get_type() == "MISSION_ITEM_INT" else 1.0
            ok = ap.guided_goto(msg.x * scale, msg.y * scale, alt)
        result = m.MAV_MISSION_ACCEPTED if ok else m.MAV_MISSION_ERROR
        self._v.send_now(
            m.MAVLink_mission_ack_message(msg.get_srcSystem(), msg.get_srcComponent(), result, 0)
        )

    def _on_mission_request_list(self, msg: Any) -> None:
        self._send_all(self._v.mission.on_request_list(msg))

    def _on_mission_request(self, msg: Any) -> None:
        self._send_all(self._v.mission.on_request(msg, self._v.home_item()))

    def _on_mission_clear_all(self, msg: Any) -> None:
        allowed = not self._ap.runner.running
        self._send_all(self._v.mission.on_clear_all(msg, allowed=allowed))

    def _on_mission_set_current(self, msg: Any) -> None:
        self._set_current(msg.seq)
