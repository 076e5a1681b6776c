"""Simple multicopter kinematics and battery for the simulated vehicle.

Position lives in a local East-North-Up frame around the boot position (metres, `u` = height
above the ground at home; the ground is flat). The model is kinematic, not dynamic: velocity
chases what a position controller would command, limited by speed, acceleration, climb and
descent rates and yaw rate; wind drifts the vehicle when nothing holds position and leaves a
small residual error when something does. Lean angles are derived from acceleration and drag so
that photos and ATTITUDE look plausible.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

__all__ = ["Airframe", "Battery", "Guidance", "Horizontal", "Limits", "Vertical", "wrap_180"]

G_MPS2 = 9.80665
# ArduCopter's position controller P gains (PSC_POSXY_P, PSC_POSZ_P) default to 1.0 /s.
KP_XY_PER_S = 1.0
KP_Z_PER_S = 1.0
# PILOT_ACCEL_Z default (250 cm/s/s); used for vertical speed changes.
VERTICAL_ACCEL_MPS2 = 2.5
# Fraction of the wind the position controller fails to cancel: a steady offset of about
# WIND_RESIDUAL * wind / KP_XY metres (0.5 m in 5 m/s wind), similar to what SITL shows.
WIND_RESIDUAL = 0.1
# Quadratic drag per unit mass (1/m): about 15 degrees of lean at 10 m/s airspeed.
DRAG_PER_M = 0.027
# Lean angles follow the commanded acceleration through this first-order lag, so ATTITUDE does
# not jump with the bang-bang acceleration of the kinematic model.
TILT_TAU_S = 0.3
# A vertical target this far above the vehicle on the ground means "take off".
TAKEOFF_MARGIN_M = 0.2


def wrap_180(angle_deg: float) -> float:
    """Angle folded into [-180, 180)."""
    return (angle_deg + 180.0) % 360.0 - 180.0


class Horizontal(enum.Enum):
    GOTO = "goto"  # fly to (target_e_m, target_n_m) and stop there
    VELOCITY = "velocity"  # hold (velocity_e_mps, velocity_n_mps)
    DRIFT = "drift"  # no position control: level attitude, drift with the wind


class Vertical(enum.Enum):
    ALTITUDE = "altitude"  # climb/descend to target_u_m
    LAND = "land"  # descend at land_speed_mps until touchdown


@dataclass(slots=True)
class Guidance:
    """What the autopilot asks of the airframe for one tick."""

    horizontal: Horizontal = Horizontal.DRIFT
    target_e_m: float = 0.0
    target_n_m: float = 0.0
    velocity_e_mps: float = 0.0
    velocity_n_mps: float = 0.0
    speed_mps: float = 5.0
    vertical: Vertical = Vertical.ALTITUDE
    target_u_m: float = 0.0
    land_speed_mps: float = 0.5
    yaw_deg: float | None = None
    yaw_rate_dps: float = 60.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Flight envelope for one tick (from parameters, floored so a silly value cannot stall)."""

    accel_mps2: float
    climb_mps: float
    descent_mps: float
    angle_max_deg: float

    @classmethod
    def floored(
        cls, *, accel_mps2: float, climb_mps: float, descent_mps: float, angle_max_deg: float
    ) -> Limits:
        return cls(
            accel_mps2=max(0.5, accel_mps2),
            climb_mps=max(0.1, climb_mps),
            descent_mps=max(0.1, descent_mps),
            angle_max_deg=min(80.0, max(5.0, angle_max_deg)),
        )


def _toward(current: float, wanted: float, max_step: float) -> float:
    return current + max(-max_step, min(max_step, wanted - current))


@dataclass(slots=True)
class Airframe:
    """True state of the vehicle; mutated by `step`."""

    e_m: float = 0.0
    n_m: float = 0.0
    u_m: float = 0.0
    ve_mps: float = 0.0
    vn_mps: float = 0.0
    vu_mps: float = 0.0
    yaw_deg: float = 0.0
    yaw_rate_dps: float = 0.0
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    landed: bool = True
    _tilt_e: float = 0.0
    _tilt_n: float = 0.0

    @property
    def groundspeed_mps(self) -> float:
        return math.hypot(self.ve_mps, self.vn_mps)

    def airspeed_mps(self, wind_e_mps: float, wind_n_mps: float) -> float:
        return math.hypot(self.ve_mps - wind_e_mps, self.vn_mps - wind_n_mps)

    def step(
        self,
        dt_s: float,
        g: Guidance,
        limits: Limits,
        *,
        wind_e_mps: float,
        wind_n_mps: float,
        position_ok: bool,
        motors_on: bool,
    ) -> bool:
        """Advance `dt_s`; returns True on the tick the vehicle touches down."""
        if self.landed:
            wants_up = g.vertical is Vertical.ALTITUDE and g.target_u_m > TAKEOFF_MARGIN_M
            if not (motors_on and wants_up):
                self._rest()
                return False
            self.landed = False
        self._step_yaw(dt_s, g)
        self._step_horizontal(dt_s, g, limits, wind_e_mps, wind_n_mps, position_ok)
        self._step_vertical(dt_s, g, limits)
        self._update_tilt(dt_s, limits, wind_e_mps, wind_n_mps)
        if self.u_m <= 0.0 and (self.vu_mps <= 0.0 or not motors_on):
            self.u_m = 0.0
            self._rest()
            self.landed = True
            return True
        return False

    def _rest(self) -> None:
        self.ve_mps = self.vn_mps = self.vu_mps = 0.0
        self.yaw_rate_dps = 0.0
        self.roll_deg = self.pitch_deg = 0.0
        self._tilt_e = self._tilt_n = 0.0

    def _step_yaw(self, dt_s: float, g: Guidance) -> None:
        if g.yaw_deg is None:
            self.yaw_rate_dps = 0.0
            return
        diff = wrap_180(g.yaw_deg - self.yaw_deg)
        max_step = max(1.0, g.yaw_rate_dps) * dt_s
        step = max(-max_step, min(max_step, diff))
        self.yaw_deg = (self.yaw_deg + step) % 360.0
        self.yaw_rate_dps = step / dt_s

    def _step_horizontal(
        self,
        dt_s: float,
        g: Guidance,
        limits: Limits,
        wind_e: float,
        wind_n: float,
        position_ok: bool,
    ) -> None:
        if g.horizontal is Horizontal.GOTO and position_ok:
            de, dn = g.target_e_m - self.e_m, g.target_n_m - self.n_m
            dist = math.hypot(de, dn)
            speed = min(
                max(0.1, g.speed_mps),
                math.sqrt(2.0 * limits.accel_mps2 * dist),
                KP_XY_PER_S * dist,
            )
            want_e = de / dist * speed if dist > 1e-6 else 0.0
            want_n = dn / dist * speed if dist > 1e-6 else 0.0
            want_e += WIND_RESIDUAL * wind_e
            want_n += WIND_RESIDUAL * wind_n
        elif g.horizontal is Horizontal.VELOCITY and position_ok:
            want_e = g.velocity_e_mps + WIND_RESIDUAL * wind_e
            want_n = g.velocity_n_mps + WIND_RESIDUAL * wind_n
        else:
            # Level attitude: the air-relative velocity decays and the wind carries the vehicle.
            want_e, want_n = wind_e, wind_n
        dv_e, dv_n = want_e - self.ve_mps, want_n - self.vn_mps
        dv = math.hypot(dv_e, dv_n)
        max_dv = limits.accel_mps2 * dt_s
        if dv > max_dv:
            dv_e, dv_n = dv_e / dv * max_dv, dv_n / dv * max_dv
        self.ve_mps += dv_e
        self.vn_mps += dv_n
        self.e_m += self.ve_mps * dt_s
        self.n_m += self.vn_mps * dt_s

    def _step_vertical(self, dt_s: float, g: Guidance, limits: Limits) -> None:
        if g.vertical is Vertical.LAND:
            want = -max(0.1, g.land_speed_mps)
        else:
            dz = g.target_u_m - self.u_m
            mag = min(math.sqrt(2.0 * VERTICAL_ACCEL_MPS2 * abs(dz)), KP_Z_PER_S * abs(dz))
            want = max(-limits.descent_mps, min(limits.climb_mps, math.copysign(mag, dz)))
        self.vu_mps = _toward(self.vu_mps, want, VERTICAL_ACCEL_MPS2 * dt_s)
        self.u_m += self.vu_mps * dt_s

    def _update_tilt(self, dt_s: float, limits: Limits, wind_e: float, wind_n: float) -> None:
        # Thrust must cancel drag from the air-relative velocity, plus produce the acceleration.
        air_e, air_n = self.ve_mps - wind_e, self.vn_mps - wind_n
        air = math.hypot(air_e, air_n)
        want_e = DRAG_PER_M * air * air_e / G_MPS2
        want_n = DRAG_PER_M * air * air_n / G_MPS2
        alpha = min(1.0, dt_s / TILT_TAU_S)
        self._tilt_e += alpha * (want_e - self._tilt_e)
        self._tilt_n += alpha * (want_n - self._tilt_n)
        yaw = math.radians(self.yaw_deg)
        forward = self._tilt_e * math.sin(yaw) + self._tilt_n * math.cos(yaw)
        right = self._tilt_e * math.cos(yaw) - self._tilt_n * math.sin(yaw)
        lim = limits.angle_max_deg
        self.pitch_deg = max(-lim, min(lim, -math.degrees(math.atan(forward))))
        self.roll_deg = max(-lim, min(lim, math.degrees(math.atan(right))))


# Currents of a ~2 kg inspection quad on 4S: avionics only, motors idling on the ground, hover.
IDLE_CURRENT_A = 0.4
GROUND_IDLE_CURRENT_A = 2.5
HOVER_CURRENT_A = 17.0
# Extra current per (m/s)^2 of airspeed and per m/s of climb.
DRAG_CURRENT_A_PER_MPS2 = 0.05
CLIMB_CURRENT_A_PER_MPS = 3.0
# Per-cell open-circuit voltage at empty (full is 4.2 V) and the pack's internal resistance.
CELL_EMPTY_V = 3.3
CELL_FULL_V = 4.2
PACK_RESISTANCE_OHM = 0.02


@dataclass(slots=True)
class Battery:
    """Coulomb-counting battery: current from the flight state, voltage from charge and sag."""

    consumed_mah: float = 0.0
    current_a: float = IDLE_CURRENT_A
    voltage_v: float = 16.8

    def remaining_mah(self, capacity_mah: float) -> float:
        return max(0.0, capacity_mah - self.consumed_mah)

    def remaining_pct(self, capacity_mah: float) -> int:
        if capacity_mah <= 0:
            return 0
        return round(100.0 * self.remaining_mah(capacity_mah) / capacity_mah)

    def step(
        self,
        dt_s: float,
        *,
        capacity_mah: float,
        full_voltage_v: float,
        armed: bool,
        flying: bool,
        airspeed_mps: float,
        climb_mps: float,
    ) -> None:
        if flying:
            current = (
                HOVER_CURRENT_A
                + DRAG_CURRENT_A_PER_MPS2 * airspeed_mps**2
                + CLIMB_CURRENT_A_PER_MPS * max(0.0, climb_mps)
            )
        elif armed:
            current = GROUND_IDLE_CURRENT_A
        else:
            current = IDLE_CURRENT_A
        self.current_a = current
        self.consumed_mah += current * dt_s / 3.6  # A*s -> mAh
        self._update_voltage(capacity_mah, full_voltage_v)

    def drain_to(self, remaining_mah: float, capacity_mah: float, full_voltage_v: float) -> None:
        """Jump to `remaining_mah` left (fault injection); never recharges."""
        self.consumed_mah = max(self.consumed_mah, capacity_mah - max(0.0, remaining_mah))
        self._update_voltage(capacity_mah, full_voltage_v)

    def _update_voltage(self, capacity_mah: float, full_voltage_v: float) -> None:
        cells = max(1, round(full_voltage_v / CELL_FULL_V))
        frac = self.remaining_mah(capacity_mah) / capacity_mah if capacity_mah > 0 else 0.0
        cell_v = CELL_EMPTY_V + (CELL_FULL_V - CELL_EMPTY_V) * frac
        self.voltage_v = max(0.0, cells * cell_v - PACK_RESISTANCE_OHM * self.current_a)
