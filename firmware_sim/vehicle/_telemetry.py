"""Telemetry of the simulated vehicle: which messages stream at what rate (REQUEST_DATA_STREAM
groups as ArduPilot maps them, SET_MESSAGE_INTERVAL overrides) and how each message is built
from the autopilot's state. Builders return pymavlink message objects; the caller packs them.
"""

from __future__ import annotations

import math
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from firmware_sim.vehicle._autopilot import Autopilot
from firmware_sim.vehicle._modes import POSITION_MODES, Mode
from firmware_sim.vehicle._physics import wrap_180

__all__ = ["STREAMED_MESSAGES", "StreamScheduler", "Telemetry"]

m = mavlink2

# ArduPilot's stream groups (GCS_Common.cpp), reduced to the messages simulated here.
STREAM_GROUPS: dict[int, tuple[str, ...]] = {
    m.MAV_DATA_STREAM_EXTENDED_STATUS: (
        "SYS_STATUS",
        "GPS_RAW_INT",
        "MISSION_CURRENT",
        "NAV_CONTROLLER_OUTPUT",
    ),
    m.MAV_DATA_STREAM_POSITION: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),
    m.MAV_DATA_STREAM_EXTRA1: ("ATTITUDE",),
    m.MAV_DATA_STREAM_EXTRA2: ("VFR_HUD",),
    m.MAV_DATA_STREAM_EXTRA3: (
        "SYSTEM_TIME",
        "BATTERY_STATUS",
        "MOUNT_STATUS",
        "EKF_STATUS_REPORT",
        "WIND",
        "HOME_POSITION",
    ),
}
# Rates before any GCS asks (Hz), roughly SITL's SR0_* defaults: enough for a GCS to show the
# vehicle before it requests streams.
DEFAULT_GROUP_HZ: dict[int, float] = {
    m.MAV_DATA_STREAM_EXTENDED_STATUS: 2.0,
    m.MAV_DATA_STREAM_POSITION: 2.0,
    m.MAV_DATA_STREAM_EXTRA1: 4.0,
    m.MAV_DATA_STREAM_EXTRA2: 4.0,
    m.MAV_DATA_STREAM_EXTRA3: 1.0,
}
STREAMED_MESSAGES: dict[str, int] = {
    name: getattr(m, f"MAVLINK_MSG_ID_{name}") for group in STREAM_GROUPS.values() for name in group
}
_GROUP_OF = {name: gid for gid, names in STREAM_GROUPS.items() for name in names}
# ArduPilot caps stream rates at 50 Hz.
MAX_RATE_HZ = 50.0

_S = m
_SENSORS = (
    _S.MAV_SYS_STATUS_SENSOR_3D_GYRO
    | _S.MAV_SYS_STATUS_SENSOR_3D_ACCEL
    | _S.MAV_SYS_STATUS_SENSOR_3D_MAG
    | _S.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
    | _S.MAV_SYS_STATUS_SENSOR_GPS
    | _S.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
    | _S.MAV_SYS_STATUS_AHRS
    | _S.MAV_SYS_STATUS_SENSOR_BATTERY
    | _S.MAV_SYS_STATUS_PREARM_CHECK
    | _S.MAV_SYS_STATUS_GEOFENCE
)
_EKF_GOOD = (
    m.EKF_ATTITUDE
    | m.EKF_VELOCITY_HORIZ
    | m.EKF_VELOCITY_VERT
    | m.EKF_POS_HORIZ_REL
    | m.EKF_POS_HORIZ_ABS
    | m.EKF_POS_VERT_ABS
    | m.EKF_PRED_POS_HORIZ_REL
    | m.EKF_PRED_POS_HORIZ_ABS
)
_EKF_NO_POSITION = m.EKF_ATTITUDE | m.EKF_VELOCITY_VERT | m.EKF_POS_VERT_ABS | m.EKF_CONST_POS_MODE
# ArduCopter sets GUIDED_ENABLED in base_mode for exactly the modes that need a position.
_GUIDED_BASE_MODES = POSITION_MODES
# ArduCopter 4.5.7, official release: what flight_sw_version encodes.
FLIGHT_SW_VERSION = (4 << 24) | (5 << 16) | (7 << 8) | m.FIRMWARE_VERSION_TYPE_OFFICIAL
CAPABILITIES = (
    m.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT
    | m.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
    | m.MAV_PROTOCOL_CAPABILITY_MISSION_INT
    | m.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
    | m.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_LOCAL_NED
    | m.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
    | m.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST
    | m.MAV_PROTOCOL_CAPABILITY_MAVLINK2
)


class StreamScheduler:
    """Decides which periodic messages are due at a given simulated time."""

    def __init__(self) -> None:
        self._group_hz = dict(DEFAULT_GROUP_HZ)
        self._override_s: dict[str, float | None] = {}  # None = disabled
        self._next_due_s: dict[str, float] = {}

    def set_group_rate(self, stream_id: int, rate_hz: float) -> None:
        """REQUEST_DATA_STREAM: rate 0 stops the group; MAV_DATA_STREAM_ALL sets every group."""
        rate = max(0.0, min(MAX_RATE_HZ, rate_hz)) if math.isfinite(rate_hz) else 0.0
        targets = STREAM_GROUPS if stream_id == m.MAV_DATA_STREAM_ALL else (stream_id,)
        for gid in targets:
            if gid in STREAM_GROUPS:
                self._group_hz[gid] = rate

    def set_interval(self, name: str, interval_us: float) -> bool:
        """SET_MESSAGE_INTERVAL: -1 disables, 0 restores the group rate; False if not streamed."""
        if name not in STREAMED_MESSAGES or not math.isfinite(interval_us):
            return False
        if interval_us < 0:
            self._override_s[name] = None
        elif interval_us == 0:
            self._override_s.pop(name, None)
        else:
            self._override_s[name] = max(1.0 / MAX_RATE_HZ, interval_us / 1e6)
        self._next_due_s.pop(name, None)
        return True

    def interval_s(self, name: str) -> float | None:
        if name in self._override_s:
            return self._override_s[name]
        rate = self._group_hz.get(_GROUP_OF[name], 0.0)
        return 1.0 / rate if rate > 0 else None

    def due(self, now_s: float) -> list[str]:
        """Messages to send now; at most one of each per call however late the caller is."""
        out = []
        for name in STREAMED_MESSAGES:
            interval = self.interval_s(name)
            if interval is None:
                continue
            due_s = self._next_due_s.get(name, now_s)
            if now_s + 1e-9 >= due_s:
                out.append(name)
                nxt = due_s + interval
                self._next_due_s[name] = nxt if nxt > now_s else now_s + interval
        return out


def _cdeg_360(angle_deg: float) -> int:
    return round(angle_deg * 100.0) % 36000


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value))) if math.isfinite(value) else 0


class Telemetry:
    """Builds telemetry messages from an autopilot's current state."""

    def __init__(self, ap: Autopilot, *, system_id: int, component_id: int) -> None:
        self._ap = ap
        self._sysid = system_id
        self._compid = component_id

    def build(self, name: str) -> Any | None:
        builder = getattr(self, f"_{name.lower()}", None)
        return builder() if builder is not None else None

    @property
    def _boot_ms(self) -> int:
        return int(self._ap.time_s * 1000) & 0xFFFFFFFF

    @property
    def _unix_us(self) -> int:
        return int((self._ap.config.epoch_unix_s + self._ap.time_s) * 1e6)

    def _nav_latlon_e7(self) -> tuple[int, int]:
        ap = self._ap
        if not ap.home_set:
            return 0, 0  # never had a position: ArduPilot reports zeros too
        lat, lon = ap.latlon_of(ap.nav_e_m, ap.nav_n_m)
        return round(lat * 1e7), round(lon * 1e7)

    def heartbeat(self) -> Any:
        ap = self._ap
        base = m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | m.MAV_MODE_FLAG_STABILIZE_ENABLED
        base |= m.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED
        if ap.mode in _GUIDED_BASE_MODES:
            base |= m.MAV_MODE_FLAG_GUIDED_ENABLED
        if ap.armed:
            base |= m.MAV_MODE_FLAG_SAFETY_ARMED
        failsafe = ap.failsafe_battery_low or ap.failsafe_gcs or ap.failsafe_ekf
        if failsafe and ap.armed:
            status = m.MAV_STATE_CRITICAL
        elif ap.armed:
            status = m.MAV_STATE_ACTIVE
        else:
            status = m.MAV_STATE_STANDBY
        return m.MAVLink_heartbeat_message(
            m.MAV_TYPE_QUADROTOR, m.MAV_AUTOPILOT_ARDUPILOTMEGA, base, int(ap.mode), status, 3
        )

    def autopilot_version(self) -> Any:
        return m.MAVLink_autopilot_version_message(
            CAPABILITIES,
            FLIGHT_SW_VERSION,
            0,
            0,
            0,
            list(b"michimor"),
            [0] * 8,
            [0] * 8,
            0,
            0,
            0x4D4D0000 + self._sysid,
            [0] * 18,
        )

    def home_position(self) -> Any | None:
        ap = self._ap
        if not ap.home_set:
            return None
        e, n, u = ap.home_enu
        lat, lon = ap.latlon_of(e, n)
        return m.MAVLink_home_position_message(
            round(lat * 1e7),
            round(lon * 1e7),
            round(ap.home_alt_msl_m * 1000),
            n,
            e,
            -u,
            [1.0, 0.0, 0.0, 0.0],
            0.0,
            0.0,
            0.0,
            self._unix_us,
        )

    def mission_current(self) -> Any:
        ap = self._ap
        runner = ap.runner
        total = ap.mission.count - 1
        if total <= 0:
            state = m.MISSION_STATE_NO_MISSION
        elif runner.running:
            state = m.MISSION_STATE_ACTIVE
        else:
            state = m.MISSION_STATE_NOT_STARTED
        return m.MAVLink_mission_current_message(
            runner.current_seq, max(0, total), state, int(ap.mode is Mode.AUTO)
        )

    def _mission_current(self) -> Any:
        return self.mission_current()

    def _home_position(self) -> Any | None:
        return self.home_position()

    def _sys_status(self) -> Any:
        ap = self._ap
        p = ap.params
        health = _SENSORS
        if not ap.gps_ok:
            health &= ~(m.MAV_SYS_STATUS_SENSOR_GPS | m.MAV_SYS_STATUS_AHRS)
        if ap.failsafe_battery_low:
            health &= ~m.MAV_SYS_STATUS_SENSOR_BATTERY
        if ap.prearm_failure():
            health &= ~m.MAV_SYS_STATUS_PREARM_CHECK
        if ap.fence_breached:
            health &= ~m.MAV_SYS_STATUS_GEOFENCE
        enabled = _SENSORS
        if not ap.armed:
            enabled &= ~m.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
        if not p["FENCE_ENABLE"]:
            enabled &= ~m.MAV_SYS_STATUS_GEOFENCE
        batt = ap.battery
        return m.MAVLink_sys_status_message(
            _SENSORS,
            enabled,
            health,
            250,  # 25 % main-loop load
            _clamp(batt.voltage_v * 1000, 0, 65535),
            _clamp(batt.current_a * 100, -1, 32767),
            _clamp(batt.remaining_pct(p["BATT_CAPACITY"]), -1, 100),
            0,
            0,
            0,
            0,
            0,
            0,
        )

    def _gps_raw_int(self) -> Any:
        ap = self._ap
        af = ap.airframe
        if ap.gps_ok:
            lat, lon = self._nav_latlon_e7()
            fix, sats, eph, epv = m.GPS_FIX_TYPE_3D_FIX, 12, 121, 200
            vel = _clamp(af.groundspeed_mps * 100, 0, 65534)
            cog = _cdeg_360(math.degrees(math.atan2(af.ve_mps, af.vn_mps))) if vel else 0
            alt = round((ap.origin_alt_msl_m + af.u_m) * 1000)
        else:
            acquiring = not ap.gps_fault and not ap.params["SIM_GPS_DISABLE"]
            fix = m.GPS_FIX_TYPE_NO_FIX if acquiring else m.GPS_FIX_TYPE_NO_GPS
            lat = lon = alt = 0
            sats, eph, epv, vel, cog = (4 if acquiring else 0), 65535, 65535, 65535, 65535
        return m.MAVLink_gps_raw_int_message(
            self._unix_us, fix, lat, lon, alt, eph, epv, vel, cog, sats
        )

    def _global_position_int(self) -> Any:
        ap = self._ap
        af = ap.airframe
        lat, lon = self._nav_latlon_e7()
        return m.MAVLink_global_position_int_message(
            self._boot_ms,
            lat,
            lon,
            round((ap.origin_alt_msl_m + af.u_m) * 1000),
            round(ap.alt_rel_m * 1000),
            _clamp(af.vn_mps * 100, -32768, 32767),
            _clamp(af.ve_mps * 100, -32768, 32767),
            _clamp(-af.vu_mps * 100, -32768, 32767),
            _cdeg_360(af.yaw_deg),
        )

    def _local_position_ned(self) -> Any:
        ap = self._ap
        af = ap.airframe
        return m.MAVLink_local_position_ned_message(
            self._boot_ms, ap.nav_n_m, ap.nav_e_m, -af.u_m, af.vn_mps, af.ve_mps, -af.vu_mps
        )

    def _attitude(self) -> Any:
        af = self._ap.airframe
        yaw = math.radians(wrap_180(af.yaw_deg))
        return m.MAVLink_attitude_message(
            self._boot_ms,
            math.radians(af.roll_deg),
            math.radians(af.pitch_deg),
            yaw,
            0.0,
            0.0,
            math.radians(af.yaw_rate_dps),
        )

    def _vfr_hud(self) -> Any:
        ap = self._ap
        af = ap.airframe
        wind_e, wind_n = ap.wind_en()
        throttle = 0 if not ap.armed else (15 if af.landed else 50)
        return m.MAVLink_vfr_hud_message(
            af.airspeed_mps(wind_e, wind_n),
            af.groundspeed_mps,
            round(af.yaw_deg) % 360,
            throttle,
            ap.origin_alt_msl_m + af.u_m,
            af.vu_mps,
        )

    def _nav_controller_output(self) -> Any:
        ap = self._ap
        af = ap.airframe
        g = ap.last_guidance
        de, dn = g.target_e_m - af.e_m, g.target_n_m - af.n_m
        bearing = round(math.degrees(math.atan2(de, dn))) % 360
        return m.MAVLink_nav_controller_output_message(
            af.roll_deg,
            af.pitch_deg,
            round(af.yaw_deg) % 360,
            bearing,
            _clamp(math.hypot(de, dn), 0, 65535),
            g.target_u_m - af.u_m,
            0.0,
            0.0,
        )

    def _ekf_status_report(self) -> Any:
        ap = self._ap
        if ap.position_ok:
            return m.MAVLink_ekf_status_report_message(_EKF_GOOD, 0.05, 0.04, 0.03, 0.02, 0.0, 0.0)
        return m.MAVLink_ekf_status_report_message(_EKF_NO_POSITION, 1.2, 1.5, 0.05, 0.02, 0.0, 0.0)

    def _system_time(self) -> Any:
        return m.MAVLink_system_time_message(self._unix_us, self._boot_ms)

    def _battery_status(self) -> Any:
        ap = self._ap
        batt = ap.battery
        capacity = ap.params["BATT_CAPACITY"]
        voltages = [_clamp(batt.voltage_v * 1000, 0, 65534)] + [65535] * 9
        return m.MAVLink_battery_status_message(
            0,
            m.MAV_BATTERY_FUNCTION_ALL,
            m.MAV_BATTERY_TYPE_LIPO,
            32767,  # temperature unknown
            voltages,
            _clamp(batt.current_a * 100, -1, 32767),
            _clamp(batt.consumed_mah, -1, 2**31 - 1),
            -1,
            _clamp(batt.remaining_pct(capacity), -1, 100),
        )

    def _mount_status(self) -> Any:
        gimbal = self._ap.gimbal
        return m.MAVLink_mount_status_message(
            0,
            0,
            round(gimbal.pitch_deg * 100),
            0,
            round(gimbal.yaw_deg * 100),
            m.MAV_MOUNT_MODE_MAVLINK_TARGETING,
        )

    def _wind(self) -> Any:
        p = self._ap.params
        return m.MAVLink_wind_message(p["SIM_WIND_DIR"] % 360.0, max(0.0, p["SIM_WIND_SPD"]), 0.0)
