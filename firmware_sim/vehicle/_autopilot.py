"""The simulated ArduCopter's flight logic: sensors (GPS lock and loss), arming, flight modes,
guided targets, DO commands, camera and what each mode asks of the airframe (failsafes and
pre-arm checks live in `_safety`). Pure and clock-driven: `tick(dt_s)` advances simulated time;
nothing here knows about MAVLink bytes or sockets.
"""

from __future__ import annotations

import math
from collections import deque

from firmware_sim.vehicle._camera import CameraTrigger, Gimbal
from firmware_sim.vehicle._config import VehicleConfig
from firmware_sim.vehicle._events import PhotoTaken, StatusText, VehicleEvent
from firmware_sim.vehicle._mission import MissionProtocol
from firmware_sim.vehicle._modes import (
    ARMABLE_MODES,
    OK,
    POSITION_MODES,
    SEV_CRITICAL,
    SEV_INFO,
    SEV_WARNING,
    Mode,
    Outcome,
)
from firmware_sim.vehicle._params import ParamStore
from firmware_sim.vehicle._physics import (
    Airframe,
    Battery,
    Guidance,
    Horizontal,
    Limits,
    Vertical,
)
from firmware_sim.vehicle._procedures import Landing, MissionRunner, ReturnHome
from firmware_sim.vehicle._safety import check_failsafes, prearm_failure
from inspection.geo import LocalFrame, haversine_m

__all__ = ["Autopilot"]


# MAV_CMD numbers (common.xml) of the DO/CONDITION commands handled here; literal so that the
# flight logic stays free of pymavlink.
CMD_NAV_TAKEOFF = 22
CMD_CONDITION_YAW = 115
CMD_DO_CHANGE_SPEED = 178
CMD_DO_DIGICAM_CONTROL = 203
CMD_DO_MOUNT_CONTROL = 205
CMD_DO_SET_CAM_TRIGG_DIST = 206
CMD_DO_GIMBAL_MANAGER_PITCHYAW = 1000
GIMBAL_MANAGER_FLAGS_YAW_LOCK = 16

# ArduCopter stops a guided velocity command that is not refreshed within 3 s.
GUIDED_VELOCITY_TIMEOUT_S = 3.0
# Descent rate of a vehicle whose motors were stopped in the air (not a crash model).
FALL_SPEED_MPS = 8.0
# ArduPilot refuses a home further than this from the EKF origin.
MAX_HOME_DISTANCE_M = 50_000.0


class Autopilot:
    """Flight logic around one airframe. Owners read its public attributes for telemetry."""

    def __init__(self, config: VehicleConfig, params: ParamStore, mission: MissionProtocol) -> None:
        self.config = config
        self.params = params
        self.mission = mission
        home = config.home
        self._geo = LocalFrame(home.lat_deg, home.lon_deg, 0.0)
        self.origin_alt_msl_m = home.alt_m
        self.home_enu = (0.0, 0.0, 0.0)
        self.home_set = False
        self.home_generation = 0
        self.airframe = Airframe(yaw_deg=home.heading_deg)
        self.battery = Battery(voltage_v=params["SIM_BATT_VOLTAGE"])
        self.gimbal = Gimbal()
        self.trigger = CameraTrigger()
        self.runner = MissionRunner(self)
        self.mode = Mode.STABILIZE
        self.armed = False
        self.time_s = 0.0
        self.gps_fault = False
        self.events: deque[VehicleEvent] = deque()
        self.nav_e_m = 0.0  # position the EKF reports: frozen while GPS is lost
        self.nav_n_m = 0.0
        self.failsafe_battery_low = False
        self.failsafe_battery_critical = False
        self.failsafe_gcs = False
        self.failsafe_ekf = False
        self.fence_breached = False
        self.last_gcs_heartbeat_s: float | None = None
        self.link_down_since_s: float | None = None  # set while a link-loss fault is active
        self.position_lost_since_s: float | None = None
        self._landed_since_s: float | None = 0.0
        self._hold = (0.0, 0.0, 0.0)
        self._guided_velocity: tuple[float, float, float] | None = None
        self._guided_velocity_until_s = 0.0
        self._speed_override_mps: float | None = None
        self._yaw_override: tuple[float, float] | None = None  # (yaw_deg, rate_dps)
        self._rtl: ReturnHome | None = None
        self._landing: Landing | None = None
        self.last_guidance = Guidance()

    # -- helpers shared with the procedures ---------------------------------------------------

    def status(self, severity: int, text: str) -> None:
        self.events.append(StatusText(severity=severity, text=text))

    def emit(self, event: VehicleEvent) -> None:
        self.events.append(event)

    @property
    def gps_ok(self) -> bool:
        return (
            not self.gps_fault
            and self.params["SIM_GPS_DISABLE"] == 0
            and self.time_s >= self.config.gps_lock_delay_s
        )

    @property
    def position_ok(self) -> bool:
        """The EKF has an absolute horizontal position (GPS is the only source here)."""
        return self.gps_ok

    @property
    def home_alt_msl_m(self) -> float:
        return self.origin_alt_msl_m + self.home_enu[2]

    @property
    def alt_rel_m(self) -> float:
        return self.airframe.u_m - self.home_enu[2]

    @property
    def wp_radius_m(self) -> float:
        return max(0.1, self.params["WPNAV_RADIUS"] / 100.0)

    def en_of(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        e, n, _ = self._geo.to_enu(lat_deg, lon_deg, 0.0)
        return e, n

    def latlon_of(self, e_m: float, n_m: float) -> tuple[float, float]:
        lat, lon, _ = self._geo.to_geodetic(e_m, n_m, 0.0)
        return lat, lon

    def wind_en(self) -> tuple[float, float]:
        speed = max(0.0, self.params["SIM_WIND_SPD"])
        # SIM_WIND_DIR is where the wind comes from; it blows the other way.
        toward = math.radians(self.params["SIM_WIND_DIR"] + 180.0)
        return speed * math.sin(toward), speed * math.cos(toward)

    def goto_guidance(self, e_m: float, n_m: float, u_m: float) -> Guidance:
        af = self.airframe
        speed = self._speed_override_mps or self.params["WPNAV_SPEED"] / 100.0
        g = Guidance(
            horizontal=Horizontal.GOTO,
            target_e_m=e_m,
            target_n_m=n_m,
            speed_mps=speed,
            vertical=Vertical.ALTITUDE,
            target_u_m=u_m,
            yaw_rate_dps=self.params["ATC_SLEW_YAW"] / 100.0,
        )
        if self._yaw_override is not None:
            g.yaw_deg, g.yaw_rate_dps = self._yaw_override
        elif int(self.params["WP_YAW_BEHAVIOR"]) != 0 and self.position_ok:
            de, dn = e_m - af.e_m, n_m - af.n_m
            if math.hypot(de, dn) > self.wp_radius_m:
                g.yaw_deg = math.degrees(math.atan2(de, dn)) % 360.0
        return g

    def start_nav_leg(self) -> None:
        """A new mission NAV item resets CONDITION_YAW unless WP_YAW_BEHAVIOR is 0 (ArduCopter)."""
        if int(self.params["WP_YAW_BEHAVIOR"]) != 0:
            self._yaw_override = None

    # -- inputs from the protocol layer -------------------------------------------------------

    def gcs_heartbeat(self) -> None:
        self.last_gcs_heartbeat_s = self.time_s
        if self.failsafe_gcs:
            self.failsafe_gcs = False
            self.status(SEV_CRITICAL, "GCS Failsafe Cleared")

    def drop_battery_to_low(self) -> None:
        p = self.params
        low = p["BATT_LOW_MAH"] if p["BATT_LOW_MAH"] > 0 else 0.2 * p["BATT_CAPACITY"]
        self.battery.drain_to(low - 1.0, p["BATT_CAPACITY"], p["SIM_BATT_VOLTAGE"])

    def arm(self, *, force: bool = False) -> Outcome:
        if self.armed:
            return OK
        auto_ok = self.mode is Mode.AUTO and int(self.params["AUTO_OPTIONS"]) & 1
        if not force and self.mode not in ARMABLE_MODES and not auto_ok:
            return Outcome(False, "Arm: Mode not armable")
        if not force and self.params["ARMING_CHECK"] != 0:
            reason = self.prearm_failure()
            if reason:
                return Outcome(False, reason)
        self.armed = True
        self._landed_since_s = self.time_s
        if self.position_ok:
            self._set_home(self.airframe.e_m, self.airframe.n_m, self.airframe.u_m)
        return OK

    def prearm_failure(self) -> str:
        """Why arming checks fail now ("" when they pass)."""
        return prearm_failure(self)

    def disarm(self, *, force: bool = False, reason: str = "") -> Outcome:
        if not self.armed:
            return OK
        if not force and not self.airframe.landed:
            return Outcome(False, "Disarm: vehicle is flying (force to override)")
        self.armed = False
        self._guided_velocity = None
        if reason:
            self.status(SEV_INFO, f"Disarmed: {reason}")
        return OK

    def set_mode(self, mode: Mode) -> Outcome:
        if mode is self.mode:
            return OK
        name = mode.name
        if mode in POSITION_MODES and not self.position_ok:
            return Outcome(False, f"Mode change to {name} failed: requires position")
        if mode is Mode.AUTO:
            first = self.runner.first_nav()
            if first is None:
                return Outcome(False, f"Mode change to {name} failed: no mission")
            takeoff = first.command == CMD_NAV_TAKEOFF
            if self.armed and self.airframe.landed and not takeoff:
                self.status(SEV_WARNING, "Auto: Missing Takeoff Cmd")
                return Outcome(False, f"Mode change to {name} failed: init failed")
        self.enter_mode(mode)
        return OK

    def enter_mode(self, mode: Mode) -> None:
        """Switch without checks (failsafes use this directly)."""
        if self.mode is Mode.AUTO:
            self.runner.stop()
        self.mode = mode
        af = self.airframe
        self._hold = (af.e_m, af.n_m, af.u_m)
        self._guided_velocity = None
        self._speed_override_mps = None
        self._yaw_override = None
        self._rtl = ReturnHome(self) if mode is Mode.RTL else None
        self._landing = Landing(self, None) if mode is Mode.LAND else None
        if mode is Mode.AUTO:
            self.runner.start_or_resume()

    def takeoff(self, alt_m: float) -> Outcome:
        if self.mode is not Mode.GUIDED:
            return Outcome(False, "Takeoff: only in GUIDED mode")
        if not self.armed:
            return Outcome(False, "Takeoff: vehicle is not armed")
        if not self.airframe.landed:
            return Outcome(False, "Takeoff: already flying")
        if not (math.isfinite(alt_m) and alt_m > 0):
            return Outcome(False, "Takeoff: altitude must be above 0")
        af = self.airframe
        self._hold = (af.e_m, af.n_m, self.home_enu[2] + alt_m)
        return OK

    def guided_goto(self, lat_deg: float, lon_deg: float, alt_rel_m: float) -> bool:
        """Fly to a position in GUIDED (ignored elsewhere or on the ground, as ArduCopter)."""
        if self.mode is not Mode.GUIDED or not self.armed or self.airframe.landed:
            return False
        values = (lat_deg, lon_deg, alt_rel_m)
        if not all(math.isfinite(v) for v in values) or abs(lat_deg) > 90 or abs(lon_deg) > 180:
            return False
        if haversine_m(self.config.home.lat_deg, self.config.home.lon_deg, lat_deg, lon_deg) > (
            MAX_HOME_DISTANCE_M
        ):
            return False
        e, n = self.en_of(lat_deg, lon_deg)
        return self.guided_goto_enu(e, n, alt_rel_m)

    def guided_goto_enu(self, e_m: float, n_m: float, alt_rel_m: float) -> bool:
        """Fly to local (east, north) metres at `alt_rel_m` above home, in GUIDED only."""
        if self.mode is not Mode.GUIDED or not self.armed or self.airframe.landed:
            return False
        if not all(math.isfinite(v) for v in (e_m, n_m, alt_rel_m)):
            return False
        if math.hypot(e_m, n_m) > MAX_HOME_DISTANCE_M:
            return False
        self._hold = (e_m, n_m, self.home_enu[2] + alt_rel_m)
        self._guided_velocity = None
        return True

    def guided_velocity(self, ve_mps: float, vn_mps: float, vu_mps: float) -> bool:
        if self.mode is not Mode.GUIDED or not self.armed or self.airframe.landed:
            return False
        if not all(math.isfinite(v) for v in (ve_mps, vn_mps, vu_mps)):
            return False
        self._guided_velocity = (ve_mps, vn_mps, vu_mps)
        self._guided_velocity_until_s = self.time_s + GUIDED_VELOCITY_TIMEOUT_S
        return True

    def set_home(self, lat_deg: float, lon_deg: float, alt_msl_m: float) -> Outcome:
        values = (lat_deg, lon_deg, alt_msl_m)
        if not all(math.isfinite(v) for v in values) or abs(lat_deg) > 90 or abs(lon_deg) > 180:
            return Outcome(False, "Set home: invalid location")
        home = self.config.home
        if haversine_m(home.lat_deg, home.lon_deg, lat_deg, lon_deg) > MAX_HOME_DISTANCE_M:
            return Outcome(False, "Set home: too far from EKF origin")
        e, n = self.en_of(lat_deg, lon_deg)
        self._set_home(e, n, alt_msl_m - self.origin_alt_msl_m)
        return OK

    def set_home_here(self) -> Outcome:
        if not self.position_ok:
            return Outcome(False, "Set home: no position")
        af = self.airframe
        self._set_home(af.e_m, af.n_m, af.u_m)
        return OK

    def _set_home(self, e_m: float, n_m: float, u_m: float) -> None:
        self.home_enu = (e_m, n_m, u_m)
        self.home_set = True
        self.home_generation += 1

    # -- DO commands (from COMMAND_LONG/INT or the mission) -----------------------------------

    def do_command(self, command: int, p: tuple[float, ...]) -> Outcome | None:
        """Run a DO/CONDITION command; None when the command is not one of these."""
        if command == CMD_DO_CHANGE_SPEED:  # p2 = speed m/s, -1/0 = no change
            if math.isfinite(p[1]) and p[1] > 0 and int(p[0]) in (0, 1):
                self._speed_override_mps = p[1]
            return OK
        if command == CMD_DO_SET_CAM_TRIGG_DIST:  # p1 metres, p3 = 1 shoot now
            if not (math.isfinite(p[0]) and p[0] >= 0):
                return Outcome(False, "Camera: trigger distance must be >= 0")
            self.params.set("CAM_TRIGG_DIST", p[0])
            if p[2] == 1:
                self.trigger.request()
            return OK
        if command == CMD_DO_DIGICAM_CONTROL:  # p5 = 1 shoot
            if p[4] == 1:
                self.trigger.request()
            return OK
        if command == CMD_DO_MOUNT_CONTROL:  # p1 pitch, p3 yaw (deg), p7 mount mode
            if int(p[6]) in (0, 1):  # MAV_MOUNT_MODE_RETRACT / NEUTRAL
                self.point_gimbal(0.0, 0.0)
            else:
                self.point_gimbal(p[0], p[2])
            return OK
        if command == CMD_DO_GIMBAL_MANAGER_PITCHYAW:  # p1 pitch, p2 yaw, p5 flags
            flags = int(p[4]) if math.isfinite(p[4]) else 0
            self.point_gimbal(p[0], p[1], yaw_lock=bool(flags & GIMBAL_MANAGER_FLAGS_YAW_LOCK))
            return OK
        if command == CMD_CONDITION_YAW:  # p1 angle, p2 rate, p3 dir, p4 relative
            return self._condition_yaw(p[0], p[1], p[2], p[3])
        return None

    def point_gimbal(self, pitch_deg: float, yaw_deg: float, *, yaw_lock: bool = False) -> None:
        self.gimbal.point(
            pitch_deg=pitch_deg,
            yaw_deg=yaw_deg,
            pitch_min_deg=self.params["MNT1_PITCH_MIN"],
            pitch_max_deg=self.params["MNT1_PITCH_MAX"],
            yaw_lock=yaw_lock,
        )

    def _condition_yaw(
        self, angle_deg: float, rate_dps: float, direction: float, relative: float
    ) -> Outcome:
        if not (math.isfinite(angle_deg) and 0 <= angle_deg <= 360) or relative not in (0, 1):
            return Outcome(False, "CONDITION_YAW: angle must be 0-360 and param4 0 or 1")
        if relative:
            sign = -1.0 if direction < 0 else 1.0
            target = (self.airframe.yaw_deg + sign * angle_deg) % 360.0
        else:
            target = angle_deg % 360.0
        default_rate = self.params["ATC_SLEW_YAW"] / 100.0
        rate = rate_dps if math.isfinite(rate_dps) and rate_dps > 0 else default_rate
        self._yaw_override = (target, rate)
        return OK

    # -- the clock ----------------------------------------------------------------------------

    def tick(self, dt_s: float) -> None:
        self.time_s += dt_s
        af, p = self.airframe, self.params
        if self.gps_ok:
            if not self.home_set:
                self._set_home(af.e_m, af.n_m, 0.0)
            self.nav_e_m, self.nav_n_m = af.e_m, af.n_m
        check_failsafes(self)
        wind_e, wind_n = self.wind_en()
        limits = Limits.floored(
            accel_mps2=p["WPNAV_ACCEL"] / 100.0,
            climb_mps=p["WPNAV_SPEED_UP"] / 100.0,
            descent_mps=p["WPNAV_SPEED_DN"] / 100.0,
            angle_max_deg=p["ANGLE_MAX"] / 100.0,
        )
        self.last_guidance = self._guidance()
        touched = af.step(
            dt_s,
            self.last_guidance,
            limits,
            wind_e_mps=wind_e,
            wind_n_mps=wind_n,
            position_ok=self.position_ok,
            motors_on=self.armed,
        )
        if touched:
            self._on_touchdown()
        self._auto_disarm_check()
        self.battery.step(
            dt_s,
            capacity_mah=p["BATT_CAPACITY"],
            full_voltage_v=p["SIM_BATT_VOLTAGE"],
            armed=self.armed,
            flying=not af.landed,
            airspeed_mps=af.airspeed_mps(wind_e, wind_n),
            climb_mps=af.vu_mps,
        )
        self.gimbal.step(dt_s)
        self._camera_check()

    def _guidance(self) -> Guidance:
        af = self.airframe
        if not self.armed:
            if af.landed:
                return Guidance()
            return Guidance(vertical=Vertical.LAND, land_speed_mps=FALL_SPEED_MPS)
        mode = self.mode
        if mode in (Mode.STABILIZE, Mode.ALT_HOLD):
            return Guidance(horizontal=Horizontal.DRIFT, target_u_m=self._hold[2])
        if mode in (Mode.LOITER, Mode.BRAKE):
            g = self.goto_guidance(*self._hold)
            g.yaw_deg = None
            return g
        if mode is Mode.GUIDED:
            return self._guided_guidance()
        if mode is Mode.AUTO:
            return self.runner.guidance()
        if mode is Mode.RTL and self._rtl is not None:
            return self._rtl.guidance()
        if self._landing is None:
            self._landing = Landing(self, None)
        return self._landing.guidance()

    def _guided_guidance(self) -> Guidance:
        af = self.airframe
        if self._guided_velocity is not None:
            if self.time_s < self._guided_velocity_until_s:
                ve, vn, vu = self._guided_velocity
                return Guidance(
                    horizontal=Horizontal.VELOCITY,
                    velocity_e_mps=ve,
                    velocity_n_mps=vn,
                    target_u_m=max(0.0, af.u_m + vu),  # one second of lookahead
                )
            self._guided_velocity = None
            self._hold = (af.e_m, af.n_m, af.u_m)
        g = self.goto_guidance(*self._hold)
        if self._hold[2] <= 0.0 and not af.landed:
            g.vertical = Vertical.LAND
            g.land_speed_mps = self.params["LAND_SPEED"] / 100.0
        return g

    def _on_touchdown(self) -> None:
        if self.mode is Mode.LAND or (self.mode is Mode.RTL and self._rtl and self._rtl.landing):
            self.disarm(force=True, reason="landed")
        elif self.mode is Mode.AUTO:
            self.runner.on_touchdown()

    def _auto_disarm_check(self) -> None:
        if not (self.armed and self.airframe.landed):
            self._landed_since_s = None
            return
        if self._landed_since_s is None:
            self._landed_since_s = self.time_s
            return
        delay_s = self.params["DISARM_DELAY"]
        if delay_s > 0 and self.time_s - self._landed_since_s >= delay_s:
            self.disarm(force=True, reason=f"on the ground for {delay_s:.0f} s")

    def _camera_check(self) -> None:
        p = self.params
        take = self.trigger.update(
            self.time_s,
            e_m=self.nav_e_m,
            n_m=self.nav_n_m,
            position_ok=self.position_ok,
            mode_ok=not p["CAM_AUTO_ONLY"] or self.mode is Mode.AUTO,
            distance_m=p["CAM_TRIGG_DIST"],
            min_interval_s=max(0.0, p["CAM_MIN_INTERVAL"]) / 1000.0,
        )
        if not take:
            return
        af = self.airframe
        lat, lon = self.latlon_of(self.nav_e_m, self.nav_n_m)
        self.emit(
            PhotoTaken(
                index=self.trigger.image_index,
                time_boot_s=self.time_s,
                time_unix_s=self.config.epoch_unix_s + self.time_s,
                lat_deg=lat,
                lon_deg=lon,
                alt_msl_m=self.origin_alt_msl_m + af.u_m,
                alt_rel_m=self.alt_rel_m,
                heading_deg=self.gimbal.heading_deg(af.yaw_deg),
                camera_pitch_deg=self.gimbal.pitch_deg,
                camera_roll_deg=0.0,  # the gimbal levels roll
                vehicle_roll_deg=af.roll_deg,
                vehicle_pitch_deg=af.pitch_deg,
                vehicle_yaw_deg=af.yaw_deg,
            )
        )
