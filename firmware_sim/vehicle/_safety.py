"""Safety logic of the simulated ArduCopter: pre-arm checks and the battery, GCS (link loss),
EKF (position loss) and geofence failsafes with their ArduPilot parameters and actions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from firmware_sim.vehicle._modes import POSITION_MODES, SEV_CRITICAL, Mode

if TYPE_CHECKING:
    from firmware_sim.vehicle._autopilot import Autopilot

__all__ = ["check_failsafes", "prearm_failure"]

# ArduCopter's EKF failsafe fires after about a second of bad position.
EKF_FAILSAFE_DELAY_S = 1.0
# Parameter value -> mode, for BATT_FS_*_ACT, FS_GCS_ENABLE and FS_EKF_ACTION.
_BATTERY_ACTIONS = {1: Mode.LAND, 2: Mode.RTL, 3: Mode.RTL, 4: Mode.RTL, 5: Mode.LAND}
_GCS_ACTIONS = {1: Mode.RTL, 2: Mode.RTL, 3: Mode.RTL, 4: Mode.RTL, 5: Mode.LAND, 6: Mode.RTL}
_EKF_ACTIONS = {1: Mode.LAND, 2: Mode.ALT_HOLD, 3: Mode.LAND}


def prearm_failure(ap: Autopilot) -> str:
    """Why ArduPilot's arming checks would fail now ("" when they pass)."""
    p = ap.params
    if not ap.gps_ok:
        return "PreArm: Need 3D Fix"
    if ap.failsafe_battery_low or ap.failsafe_battery_critical:
        return "PreArm: Battery 1 low"
    remaining = ap.battery.remaining_mah(p["BATT_CAPACITY"])
    if p["BATT_ARM_MAH"] > 0 and remaining < p["BATT_ARM_MAH"]:
        return "PreArm: Battery 1 below minimum arming capacity"
    if ap.fence_breached:
        return "PreArm: Fence: vehicle outside fence"
    return ""


def check_failsafes(ap: Autopilot) -> None:
    """Battery, GCS, EKF and fence failsafes; call once per tick before guidance."""
    p, af = ap.params, ap.airframe
    voltage = ap.battery.voltage_v
    used = ap.battery.consumed_mah
    remaining = ap.battery.remaining_mah(p["BATT_CAPACITY"])
    # A threshold of 0 disables that failsafe, as in ArduPilot.
    critical_mah, low_mah = p["BATT_CRT_MAH"], p["BATT_LOW_MAH"]
    if not ap.failsafe_battery_critical and critical_mah > 0 and remaining < critical_mah:
        ap.failsafe_battery_critical = ap.failsafe_battery_low = True
        ap.status(SEV_CRITICAL, f"Battery 1 is critical {voltage:.2f}V used {used:.0f} mAh")
        _failsafe_action(ap, _BATTERY_ACTIONS.get(int(p["BATT_FS_CRT_ACT"])), "battery")
    elif not ap.failsafe_battery_low and low_mah > 0 and remaining < low_mah:
        ap.failsafe_battery_low = True
        ap.status(SEV_CRITICAL, f"Battery 1 is low {voltage:.2f}V used {used:.0f} mAh")
        _failsafe_action(ap, _BATTERY_ACTIONS.get(int(p["BATT_FS_LOW_ACT"])), "battery")

    enable = int(p["FS_GCS_ENABLE"])
    last = ap.last_gcs_heartbeat_s
    timeout_s = max(0.5, p["FS_GCS_TIMEOUT"])
    # Real GCS heartbeats are paced by the wall clock, so their silence is judged on a timeout
    # stretched by the speedup; an injected link loss is known exactly and uses the real one.
    silent = last is not None and ap.time_s - last > timeout_s * ap.config.gcs_timeout_scale
    down_since = ap.link_down_since_s
    if last is not None and down_since is not None:
        silent = silent or ap.time_s - max(last, down_since) > timeout_s
    if enable and silent and ap.armed and not ap.failsafe_gcs:
        ap.failsafe_gcs = True
        ap.status(SEV_CRITICAL, "GCS Failsafe")
        if not (enable == 2 and ap.mode is Mode.AUTO):
            _failsafe_action(ap, _GCS_ACTIONS.get(enable, Mode.RTL), "GCS")

    flying = ap.armed and not af.landed
    if ap.position_ok or not flying or ap.mode not in POSITION_MODES:
        ap.position_lost_since_s = None
        if ap.position_ok and ap.failsafe_ekf:
            ap.failsafe_ekf = False
            ap.status(SEV_CRITICAL, "EKF Failsafe Cleared")
    elif ap.position_lost_since_s is None:
        ap.position_lost_since_s = ap.time_s
    elif ap.time_s - ap.position_lost_since_s >= EKF_FAILSAFE_DELAY_S:
        ap.failsafe_ekf = True
        action = _EKF_ACTIONS.get(int(p["FS_EKF_ACTION"]), Mode.LAND)
        ap.status(SEV_CRITICAL, f"EKF Failsafe: changed to {action.name} Mode")
        ap.enter_mode(action)

    _check_fence(ap, flying)


def _check_fence(ap: Autopilot, flying: bool) -> None:
    p, af = ap.params, ap.airframe
    if not p["FENCE_ENABLE"] or not flying:
        ap.fence_breached = False
        return
    kinds = int(p["FENCE_TYPE"])
    home_e, home_n, _ = ap.home_enu
    too_high = bool(kinds & 1) and ap.alt_rel_m > p["FENCE_ALT_MAX"]
    too_far = bool(kinds & 2) and math.hypot(af.e_m - home_e, af.n_m - home_n) > (p["FENCE_RADIUS"])
    breached = too_high or too_far
    if breached and not ap.fence_breached:
        what = "altitude" if too_high else "circle"
        ap.status(SEV_CRITICAL, f"Fence Breached: {what}")
        action = int(p["FENCE_ACTION"])
        if action == 1:
            _failsafe_action(ap, Mode.RTL, "fence")
        elif action == 2:
            _failsafe_action(ap, Mode.LAND, "fence")
    ap.fence_breached = breached


def _failsafe_action(ap: Autopilot, mode: Mode | None, source: str) -> None:
    if mode is None or not ap.armed:
        return
    if ap.airframe.landed:
        ap.disarm(force=True, reason=f"{source} failsafe on the ground")
        return
    if mode is Mode.RTL and not ap.position_ok:
        mode = Mode.LAND
    if mode is Mode.RTL and ap.mode in (Mode.RTL, Mode.LAND):
        return
    if mode is Mode.LAND and ap.mode is Mode.LAND:
        return
    ap.enter_mode(mode)
