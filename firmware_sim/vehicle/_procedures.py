"""Multi-step flight procedures of the simulated ArduCopter: return-to-launch, landing and the
AUTO-mode mission executor (NAV items fly one after another; the DO items that follow a NAV item
run when that NAV item starts, as in ArduPilot's AP_Mission).
"""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from firmware_sim.vehicle._events import MissionItemReached
from firmware_sim.vehicle._mission import ABSOLUTE_ALT_FRAMES, MissionItem
from firmware_sim.vehicle._physics import Guidance, Horizontal, Vertical

if TYPE_CHECKING:
    from firmware_sim.vehicle._autopilot import Autopilot

__all__ = ["Landing", "MissionRunner", "ReturnHome"]

m = mavlink2

# ArduCopter slows its final descent below this height (LAND_SPEED applies under it).
LAND_SLOW_BELOW_M = 10.0
# Vertical tolerance for "reached the altitude" (takeoff, RTL climb, waypoint).
ALT_TOLERANCE_M = 0.5

_COMMAND_NAMES = {
    m.MAV_CMD_NAV_WAYPOINT: "WP",
    m.MAV_CMD_NAV_LOITER_TIME: "LoitTime",
    m.MAV_CMD_NAV_RETURN_TO_LAUNCH: "RTL",
    m.MAV_CMD_NAV_LAND: "Land",
    m.MAV_CMD_NAV_TAKEOFF: "Takeoff",
    m.MAV_CMD_DO_CHANGE_SPEED: "ChangeSpeed",
    m.MAV_CMD_DO_SET_CAM_TRIGG_DIST: "SetCamTrigDst",
    m.MAV_CMD_DO_DIGICAM_CONTROL: "DigiCamCtrl",
    m.MAV_CMD_DO_MOUNT_CONTROL: "MountControl",
    m.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW: "GimbalPitchYaw",
    m.MAV_CMD_CONDITION_YAW: "CondYaw",
}


class Landing:
    """Fly to (e, n) if given, then descend: fast above 10 m, LAND_SPEED below."""

    def __init__(self, ap: Autopilot, target_en: tuple[float, float] | None) -> None:
        self._ap = ap
        af = ap.airframe
        self._target = target_en if target_en is not None else (af.e_m, af.n_m)
        self._transit_u = af.u_m
        self._descending = target_en is None

    def guidance(self) -> Guidance:
        ap, af = self._ap, self._ap.airframe
        g = ap.goto_guidance(*self._target, self._transit_u)
        if not self._descending:
            close = math.hypot(self._target[0] - af.e_m, self._target[1] - af.n_m)
            if close > ap.wp_radius_m and ap.position_ok:
                return g
            self._descending = True
        g.vertical = Vertical.LAND
        g.yaw_deg = None
        if af.u_m > LAND_SLOW_BELOW_M:
            high = ap.params["LAND_SPEED_HIGH"] or ap.params["WPNAV_SPEED_DN"]
            g.land_speed_mps = high / 100.0
        else:
            g.land_speed_mps = ap.params["LAND_SPEED"] / 100.0
        return g


class _RtlPhase(enum.Enum):
    CLIMB = "climb"
    RETURN = "return"
    LOITER = "loiter"
    FINAL = "final"
    LAND = "land"


class ReturnHome:
    """ArduCopter RTL: climb to RTL_ALT (never descend), fly home, hover RTL_LOIT_TIME, then land
    (or descend to RTL_ALT_FINAL and hover there)."""

    def __init__(self, ap: Autopilot) -> None:
        self._ap = ap
        af = ap.airframe
        p = ap.params
        rtl_alt = max(af.u_m, p["RTL_ALT"] / 100.0) if p["RTL_ALT"] > 0 else af.u_m
        if p["FENCE_ENABLE"] and int(p["FENCE_TYPE"]) & 1:
            rtl_alt = min(rtl_alt, max(af.u_m, p["FENCE_ALT_MAX"] - p["FENCE_MARGIN"]))
        self._alt_m = rtl_alt
        self._start = (af.e_m, af.n_m)
        self._phase = _RtlPhase.CLIMB
        self._loiter_until_s = 0.0
        self._landing: Landing | None = None

    @property
    def landing(self) -> bool:
        return self._phase is _RtlPhase.LAND

    def guidance(self) -> Guidance:
        ap, af, p = self._ap, self._ap.airframe, self._ap.params
        home_e, home_n, _ = ap.home_enu
        if self._phase is _RtlPhase.CLIMB:
            if af.u_m >= self._alt_m - ALT_TOLERANCE_M:
                self._phase = _RtlPhase.RETURN
            else:
                g = ap.goto_guidance(*self._start, self._alt_m)
                g.yaw_deg = None
                return g
        if self._phase is _RtlPhase.RETURN:
            if math.hypot(home_e - af.e_m, home_n - af.n_m) <= ap.wp_radius_m:
                self._phase = _RtlPhase.LOITER
                self._loiter_until_s = ap.time_s + p["RTL_LOIT_TIME"] / 1000.0
            else:
                g = ap.goto_guidance(home_e, home_n, self._alt_m)
                if p["RTL_SPEED"] > 0:
                    g.speed_mps = p["RTL_SPEED"] / 100.0
                if int(p["WP_YAW_BEHAVIOR"]) != 1:
                    g.yaw_deg = None  # 2 = "face next waypoint except RTL"
                return g
        if self._phase is _RtlPhase.LOITER:
            if ap.time_s < self._loiter_until_s:
                return ap.goto_guidance(home_e, home_n, self._alt_m)
            self._phase = _RtlPhase.FINAL if p["RTL_ALT_FINAL"] > 0 else _RtlPhase.LAND
        if self._phase is _RtlPhase.FINAL:
            return ap.goto_guidance(home_e, home_n, p["RTL_ALT_FINAL"] / 100.0)
        if self._landing is None:
            self._landing = Landing(ap, (home_e, home_n))
        return self._landing.guidance()


class _State(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    COMPLETE = "complete"


class MissionRunner:
    """Executes the stored mission in AUTO. `current_seq` is what MISSION_CURRENT reports."""

    def __init__(self, ap: Autopilot) -> None:
        self._ap = ap
        self.current_seq = 0
        self._state = _State.IDLE
        self._next_nav = 0
        self._target: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._reached_at_s: float | None = None
        self._landing: Landing | None = None
        self._rtl: ReturnHome | None = None

    @property
    def running(self) -> bool:
        return self._state is _State.RUNNING

    @property
    def landing(self) -> bool:
        item = self._item()
        if item is None or self._state is not _State.RUNNING:
            return False
        if item.command == m.MAV_CMD_NAV_LAND:
            return True
        return item.command == m.MAV_CMD_NAV_RETURN_TO_LAUNCH and bool(
            self._rtl and self._rtl.landing
        )

    def _items(self) -> list[MissionItem]:
        return self._ap.mission.items

    def _item(self) -> MissionItem | None:
        items = self._items()
        return items[self.current_seq] if 0 < self.current_seq < len(items) else None

    def first_nav(self) -> MissionItem | None:
        return next((i for i in self._items()[1:] if i.is_nav), None)

    def set_current(self, seq: int) -> bool:
        """MISSION_SET_CURRENT: jump (when running) or choose where AUTO will start."""
        if not 0 < seq < len(self._items()):
            return False
        if self._state is _State.RUNNING:
            self._start_from(seq)
        else:
            self.current_seq = seq
            self._state = _State.IDLE
        return True

    def start_or_resume(self) -> None:
        """Entering AUTO: resume the interrupted NAV item, or start from the top (MIS_RESTART=0)."""
        if self._state is _State.COMPLETE or self.current_seq == 0:
            self._start_from(1)
        elif self._item() is not None:
            self._start_from(self.current_seq)
        else:
            self._start_from(1)

    def stop(self) -> None:
        """Leaving AUTO: keep the current item so that re-entering resumes it."""
        if self._state is _State.RUNNING:
            self._state = _State.IDLE

    def reset(self) -> None:
        """The stored mission was replaced or cleared."""
        self.current_seq = 0
        self._state = _State.IDLE

    def _start_from(self, index: int) -> None:
        items = self._items()
        k = index
        while k < len(items) and not items[k].is_nav:
            self._do(items[k])
            k += 1
        self._begin_nav(k)

    def _begin_nav(self, k: int) -> None:
        ap = self._ap
        items = self._items()
        if k >= len(items):
            self._complete()
            return
        self._state = _State.RUNNING
        self.current_seq = k
        item = items[k]
        self._announce(item)
        self._reached_at_s = None
        self._landing = None
        self._rtl = None
        ap.start_nav_leg()
        af = ap.airframe
        if item.command == m.MAV_CMD_NAV_TAKEOFF:
            self._target = (af.e_m, af.n_m, max(1.0, self._alt_of(item, default_u=af.u_m)))
        elif item.command in (m.MAV_CMD_NAV_WAYPOINT, m.MAV_CMD_NAV_LOITER_TIME):
            e, n = ap.en_of(item.lat_deg, item.lon_deg) if item.has_location else (af.e_m, af.n_m)
            self._target = (e, n, self._alt_of(item, default_u=af.u_m))
        elif item.command == m.MAV_CMD_NAV_LAND:
            target = ap.en_of(item.lat_deg, item.lon_deg) if item.has_location else None
            self._landing = Landing(ap, target)
        elif item.command == m.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            self._rtl = ReturnHome(ap)
        j = k + 1
        while j < len(items) and not items[j].is_nav:
            self._do(items[j])
            j += 1
        self._next_nav = j

    def _alt_of(self, item: MissionItem, *, default_u: float) -> float:
        if item.z == 0.0:
            return default_u  # ArduCopter: altitude 0 means "keep the current altitude"
        if item.frame in ABSOLUTE_ALT_FRAMES:
            return item.z - self._ap.home_alt_msl_m
        return item.z

    def _do(self, item: MissionItem) -> None:
        self._announce(item)
        self._ap.do_command(
            item.command,
            (
                item.param1,
                item.param2,
                item.param3,
                item.param4,
                float(item.x),
                float(item.y),
                item.z,
            ),
        )

    def _announce(self, item: MissionItem) -> None:
        name = _COMMAND_NAMES.get(item.command, str(item.command))
        self._ap.status(6, f"Mission: {item.seq} {name}")

    def _complete(self) -> None:
        ap = self._ap
        self._state = _State.COMPLETE
        af = ap.airframe
        self._target = (af.e_m, af.n_m, af.u_m)
        if af.landed and ap.armed:
            ap.disarm(force=True, reason="mission complete")

    def on_touchdown(self) -> None:
        item = self._item()
        if self._state is _State.RUNNING and item is not None and self.landing:
            self._ap.emit(MissionItemReached(seq=item.seq))
            self._ap.disarm(force=True, reason="landed")
            self._state = _State.COMPLETE

    def guidance(self) -> Guidance:
        """Guidance for this tick; also verifies (and advances past) finished NAV items."""
        # Several items can finish in the same tick (e.g. a takeoff already above its
        # altitude); each pass advances at least one item, so the mission length bounds this.
        for _ in range(len(self._items()) + 1):
            g = self._guidance_or_advance()
            if g is not None:
                return g
        return self._ap.goto_guidance(*self._target)

    def _guidance_or_advance(self) -> Guidance | None:
        """Guidance for the current item, or None after finishing it (and starting the next)."""
        ap, af = self._ap, self._ap.airframe
        item = self._item()
        if self._state is not _State.RUNNING or item is None:
            return ap.goto_guidance(*self._target)
        if self._landing is not None:
            return self._landing.guidance()
        if self._rtl is not None:
            return self._rtl.guidance()
        e, n, u = self._target
        if item.command == m.MAV_CMD_NAV_TAKEOFF:
            if not ap.armed:
                return Guidance(horizontal=Horizontal.DRIFT, target_u_m=0.0)
            if af.u_m >= u - ALT_TOLERANCE_M:
                self._nav_done(item)
                return None
            g = ap.goto_guidance(e, n, u)
            g.yaw_deg = None
            return g
        # NAV_WAYPOINT / NAV_LOITER_TIME: reach, hold param1 seconds, move on.
        close = math.hypot(e - af.e_m, n - af.n_m) <= ap.wp_radius_m
        if self._reached_at_s is None and close and abs(u - af.u_m) <= 2 * ALT_TOLERANCE_M:
            self._reached_at_s = ap.time_s
        hold_s = max(0.0, item.param1) if math.isfinite(item.param1) else 0.0
        if self._reached_at_s is not None and ap.time_s - self._reached_at_s >= hold_s:
            self._nav_done(item)
            return None
        return ap.goto_guidance(e, n, u)

    def _nav_done(self, item: MissionItem) -> None:
        self._ap.emit(MissionItemReached(seq=item.seq))
        self._begin_nav(self._next_nav)
