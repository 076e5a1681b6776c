"""Camera and gimbal of the simulated vehicle: ArduPilot's trigger-by-distance rule and a
stabilised two-axis gimbal that slews towards commanded angles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware_sim.vehicle._physics import wrap_180

__all__ = ["CameraTrigger", "Gimbal"]

# Typical slew rate of a small 3-axis gimbal.
GIMBAL_SLEW_DPS = 90.0


@dataclass(slots=True)
class Gimbal:
    """Pitch is in the earth frame (stabilised; 0 horizon, -90 nadir); yaw is relative to the
    vehicle's nose unless `yaw_lock` holds it in the earth frame."""

    pitch_deg: float = 0.0
    yaw_deg: float = 0.0
    target_pitch_deg: float = 0.0
    target_yaw_deg: float = 0.0
    yaw_lock: bool = False

    def point(
        self,
        *,
        pitch_deg: float | None,
        yaw_deg: float | None,
        pitch_min_deg: float,
        pitch_max_deg: float,
        yaw_lock: bool = False,
    ) -> None:
        """Command new angles; None (or NaN, which MAVLink uses for "no change") keeps one."""
        if pitch_deg is not None and math.isfinite(pitch_deg):
            low, high = min(pitch_min_deg, pitch_max_deg), max(pitch_min_deg, pitch_max_deg)
            self.target_pitch_deg = max(low, min(high, pitch_deg))
        if yaw_deg is not None and math.isfinite(yaw_deg):
            self.target_yaw_deg = wrap_180(yaw_deg)
            self.yaw_lock = yaw_lock

    def step(self, dt_s: float) -> None:
        max_step = GIMBAL_SLEW_DPS * dt_s
        self.pitch_deg += max(-max_step, min(max_step, self.target_pitch_deg - self.pitch_deg))
        diff = wrap_180(self.target_yaw_deg - self.yaw_deg)
        self.yaw_deg = wrap_180(self.yaw_deg + max(-max_step, min(max_step, diff)))

    def heading_deg(self, vehicle_yaw_deg: float) -> float:
        """Where the camera looks, clockwise from north."""
        if self.yaw_lock:
            return self.yaw_deg % 360.0
        return (vehicle_yaw_deg + self.yaw_deg) % 360.0


@dataclass(slots=True)
class CameraTrigger:
    """ArduPilot's AP_Camera distance trigger: the first position seen after triggering is
    enabled becomes the reference; a photo is taken each time the vehicle is `distance_m` (straight
    line, not path length) from where the previous one was taken. `image_index` counts photos."""

    image_index: int = 0
    last_photo_s: float | None = None
    pending: bool = False
    _ref_e_m: float | None = None
    _ref_n_m: float | None = None

    def request(self) -> None:
        """Take one photo as soon as the minimum interval allows (DIGICAM_CONTROL and friends)."""
        self.pending = True

    def update(
        self,
        now_s: float,
        *,
        e_m: float,
        n_m: float,
        position_ok: bool,
        mode_ok: bool,
        distance_m: float,
        min_interval_s: float,
    ) -> bool:
        """Returns True when a photo is to be taken now (and counts it)."""
        if self.pending:
            return self._take(now_s, e_m, n_m, min_interval_s)
        if not (distance_m > 0.0):
            self._ref_e_m = self._ref_n_m = None
            return False
        if not (position_ok and mode_ok):
            return False
        if self._ref_e_m is None or self._ref_n_m is None:
            self._ref_e_m, self._ref_n_m = e_m, n_m
            return False
        if math.hypot(e_m - self._ref_e_m, n_m - self._ref_n_m) < distance_m:
            return False
        return self._take(now_s, e_m, n_m, min_interval_s)

    def _take(self, now_s: float, e_m: float, n_m: float, min_interval_s: float) -> bool:
        if self.last_photo_s is not None and now_s - self.last_photo_s < min_interval_s:
            self.pending = True
            return False
        self.pending = False
        self.image_index += 1
        self.last_photo_s = now_s
        self._ref_e_m, self._ref_n_m = e_m, n_m
        return True
