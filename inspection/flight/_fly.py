"""Fly a planned inspection: connect, check, upload, arm, take off, fly AUTO, collect each
photo with its pose, return and land; write the flight folder.

Every wait has a deadline and ends in a FlightError saying what was waited for. Once the
vehicle is airborne, any failure first commands RTL so it comes home on its own.
"""

from __future__ import annotations

import collections
import logging
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspection.geo import LocalFrame, haversine_m
from inspection.mission import LoadedPlan, home_item, read_plan
from inspection.mission._geometry import point_in_polygon

from ._exceptions import FlightError, FlightTimeout, LinkLost, VehicleRejected
from ._folder import FlightFolder
from ._link import VehicleLink, VehicleSnapshot
from ._options import FlightOptions
from ._planinfo import default_total_s, gimbal_pitch, takeoff_alt
from ._progress import NullProgress, Progress
from ._records import PhotoRecord, record_from_feedback
from ._summary import finish_flight
from ._upload import MissionUpload

__all__ = ["fly"]

log = logging.getLogger(__name__)

_MESSAGES = (
    "HEARTBEAT",
    "CAMERA_FEEDBACK",
    "MISSION_CURRENT",
    "MISSION_REQUEST",
    "MISSION_REQUEST_INT",
    "MISSION_ACK",
    "STATUSTEXT",
    "COMMAND_ACK",
)
_MAV_TYPE_GCS = 6
_MAV_AUTOPILOT_INVALID = 8
_MAV_CMD_NAV_RETURN_TO_LAUNCH = 20
_MAV_CMD_NAV_LAND = 21
_MAV_CMD_COMPONENT_ARM_DISARM = 400
_MAV_RESULTS = {
    0: "ACCEPTED",
    1: "TEMPORARILY_REJECTED",
    2: "DENIED",
    3: "UNSUPPORTED",
    4: "FAILED",
    5: "IN_PROGRESS",
    6: "CANCELLED",
}
# Moving less than this in `stall_s` (with no new mission item) counts as no progress.
_STALL_DISTANCE_M = 2.0
# Take-off counts as done at this share of the target altitude (ArduCopter's own check).
_TAKEOFF_DONE_FRACTION = 0.95
_POLL_S = 0.1


@dataclass(slots=True)
class _State:
    """What the message callbacks learnt; touched only by the flight thread (via the queue)."""

    last_heartbeat_s: float | None = None
    mission_seq: int | None = None
    photos: list[PhotoRecord] = field(default_factory=list)
    texts: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=8))
    acks: dict[int, int] = field(default_factory=dict)  # command -> last MAV_RESULT
    distance_m: float = 0.0
    last_pos: tuple[float, float] | None = None


class _Flight:
    def __init__(
        self, opts: FlightOptions, plan: LoadedPlan, link: VehicleLink, progress: Progress
    ) -> None:
        self.o = opts
        self.t = opts.timeouts
        self.plan = plan
        self.link = link
        self.progress = progress
        self.s = _State()
        self.events: queue.Queue[tuple[str, Mapping[str, Any], float]] = queue.Queue()
        self.upload: MissionUpload | None = None
        self.gimbal_pitch = plan.meta.gimbal_pitch_deg if plan.meta else gimbal_pitch(plan)
        self.alt_m = plan.meta.alt_m if plan.meta else takeoff_alt(plan)
        self.airborne = False

    # -- events ------------------------------------------------------------------------------

    def on_message(self, name: str, fields: Mapping[str, Any]) -> None:
        # Runs in the link's thread: only hand over, never raise.
        self.events.put((name, fields, time.monotonic()))

    def pump(self, wait_s: float) -> None:
        """Handle queued messages; block up to `wait_s` for the first one."""
        try:
            item = self.events.get(timeout=wait_s)
        except queue.Empty:
            return
        while True:
            self._handle(*item)
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return

    def _handle(self, name: str, f: Mapping[str, Any], at_s: float) -> None:
        s = self.s
        if name == "HEARTBEAT":
            if f.get("type") != _MAV_TYPE_GCS and f.get("autopilot") != _MAV_AUTOPILOT_INVALID:
                s.last_heartbeat_s = at_s
        elif name == "CAMERA_FEEDBACK":
            rec = record_from_feedback(f, gimbal_pitch_deg=self.gimbal_pitch)
            if all(p.img_idx != rec.img_idx for p in s.photos):
                s.photos.append(rec)
                log.info(
                    "photo %d at %.7f, %.7f, %.1f m (yaw %.0f°)",
                    rec.img_idx,
                    rec.lat_deg,
                    rec.lon_deg,
                    rec.alt_rel_m,
                    rec.vehicle_yaw_deg,
                )
        elif name == "MISSION_CURRENT":
            seq = int(f.get("seq", -1))
            if seq != s.mission_seq:
                log.info("mission item %d of %d", seq, len(self.plan.items))
            s.mission_seq = seq
        elif name == "STATUSTEXT":
            text = str(f.get("text", "")).rstrip("\x00").strip()
            s.texts.append(text)
            log.info("vehicle says: %s", text)
        elif name == "COMMAND_ACK":
            s.acks[int(f.get("command", -1))] = int(f.get("result", -1))
        if name in ("MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK") and self.upload:
            for out in self.upload.receive(name, f, at_s):
                self.link.send(out.name, out.fields)

    # -- waiting -----------------------------------------------------------------------------

    def snapshot(self, stage: str) -> VehicleSnapshot:
        snap = self.link.snapshot()
        hb = self.s.last_heartbeat_s
        silent = time.monotonic() - hb if hb is not None else None
        if silent is not None and silent > self.t.link_s:
            raise LinkLost(
                f"the vehicle stopped answering: no heartbeat for {silent:.0f} s during {stage}"
                + (
                    "; it is airborne: its own failsafe (RTL) should bring it home, watch it"
                    if self.airborne
                    else ""
                ),
                stage=stage,
                silent_s=silent,
            )
        if self.airborne and snap.lat_deg is not None and snap.lon_deg is not None:
            pos = (snap.lat_deg, snap.lon_deg)
            if self.s.last_pos is not None:
                self.s.distance_m += haversine_m(*self.s.last_pos, *pos)
            self.s.last_pos = pos
        return snap

    def wait(
        self,
        cond: Callable[[VehicleSnapshot], bool],
        *,
        timeout_s: float,
        stage: str,
        waited_for: str,
        why: Callable[[VehicleSnapshot], str] = lambda _s: "",
    ) -> VehicleSnapshot:
        deadline = time.monotonic() + timeout_s
        while True:
            self.pump(_POLL_S)
            snap = self.snapshot(stage)
            self.show(snap)
            if cond(snap):
                return snap
            if time.monotonic() > deadline:
                detail = why(snap)
                texts = "; ".join(self.s.texts)
                raise FlightTimeout(
                    f"waited {timeout_s:g} s for {waited_for}"
                    + (f": {detail}" if detail else "")
                    + (f" (vehicle said: {texts})" if texts else ""),
                    stage=stage,
                    waited_for=waited_for,
                    timeout_s=timeout_s,
                )

    def show(self, snap: VehicleSnapshot) -> None:
        seq = self.s.mission_seq
        status = (
            f"{snap.mode or '?'} wp {seq if seq is not None else '-'}/{len(self.plan.items)} "
            f"alt {_fmt(snap.alt_rel_m, '.1f')} m  batt {_fmt(snap.battery_pct, '.0f')}%"
        )
        self.progress.update(photos=len(self.s.photos), status=status)

    def set_mode(self, mode: str, stage: str) -> None:
        self.link.set_mode(mode)
        self.wait(
            lambda s: s.mode == mode,
            timeout_s=self.t.mode_s,
            stage=stage,
            waited_for=f"mode {mode}",
            why=lambda s: f"still in {s.mode}",
        )

    # -- stages ------------------------------------------------------------------------------

    def preflight(self) -> VehicleSnapshot:
        self.progress.stage("preflight: waiting for GPS and EKF")
        snap = self.wait(
            lambda s: s.armable,
            timeout_s=self.t.armable_s,
            stage="preflight",
            waited_for="the vehicle to become armable",
            why=lambda s: (
                f"GPS fix type {s.gps_fix_type} with {s.satellites} satellites (3 = 3D fix "
                f"needed), EKF {'ok' if s.ekf_ok else 'not ready'}, mode {s.mode}; check the "
                "GPS antenna has open sky"
            ),
        )
        if snap.armed:
            raise FlightError(
                "the vehicle is already armed (flying?): land and disarm it, then start the "
                "inspection flight",
                stage="preflight",
            )
        if snap.battery_pct is not None and snap.battery_pct < self.o.min_battery_pct:
            raise FlightError(
                f"battery at {snap.battery_pct:.0f} %, below the {self.o.min_battery_pct:g} % "
                "needed to start; fit a charged battery",
                stage="preflight",
            )
        if not snap.has_position or snap.lat_deg is None or snap.lon_deg is None:
            raise FlightError("the vehicle reports no position", stage="preflight")
        for ring in self.plan.geofence:
            frame = LocalFrame(snap.lat_deg, snap.lon_deg)
            xy = frame.to_enu_array([p[0] for p in ring], [p[1] for p in ring], [0.0] * len(ring))
            if not point_in_polygon(np.zeros(2), xy[:, :2]):
                raise FlightError(
                    f"the vehicle at ({snap.lat_deg:.6f}, {snap.lon_deg:.6f}) is outside the "
                    "plan's geofence: wrong plan for this site, or move the vehicle to the "
                    "corridor start",
                    stage="preflight",
                )
        if self.plan.planned_home is not None:
            d = haversine_m(snap.lat_deg, snap.lon_deg, *self.plan.planned_home[:2])
            if d > 50.0:
                log.warning("the vehicle is %.0f m from the plan's home position", d)
        return snap

    def upload_mission(self, snap: VehicleSnapshot) -> None:
        self.progress.stage(f"upload: {len(self.plan.items)} mission items")
        if snap.lat_deg is None or snap.lon_deg is None:
            raise FlightError("the vehicle reports no position", stage="upload")
        items = [home_item(snap.lat_deg, snap.lon_deg, snap.alt_msl_m or 0.0), *self.plan.items]
        up = MissionUpload(items)
        self.upload = up
        for out in up.start(time.monotonic()):
            self.link.send(out.name, out.fields)

        def finished(_s: VehicleSnapshot) -> bool:
            for out in up.tick(time.monotonic()):
                self.link.send(out.name, out.fields)
            return up.finished

        try:
            self.wait(
                finished,
                timeout_s=self.t.upload_s,
                stage="upload",
                waited_for="the vehicle to accept the mission (MISSION_ACK)",
                why=lambda _s: f"{up.highest_sent + 1} of {up.count} items sent",
            )
        finally:
            self.upload = None
        if up.error is not None:
            raise VehicleRejected(
                f"the vehicle rejected the mission: {up.error}", stage="upload", reason=up.error
            )
        log.info("mission accepted: %d items", up.count)

    def arm_and_takeoff(self) -> None:
        self.progress.stage("arm: GUIDED, arming")
        self.set_mode("GUIDED", "arm")
        self.link.arm()
        self.wait(
            lambda s: s.armed,
            timeout_s=self.t.arm_s,
            stage="arm",
            waited_for="the vehicle to arm",
            why=lambda _s: self._ack_text(_MAV_CMD_COMPONENT_ARM_DISARM, "arming"),
        )
        self.airborne = True  # from here on, failures command RTL
        self.progress.stage(f"takeoff: climbing to {self.alt_m:g} m")
        self.link.takeoff(self.alt_m)
        self.wait(
            lambda s: (s.alt_rel_m or 0.0) >= self.alt_m * _TAKEOFF_DONE_FRACTION or not s.armed,
            timeout_s=self.t.takeoff_s,
            stage="takeoff",
            waited_for=f"the climb to {self.alt_m:g} m",
            why=lambda s: f"at {_fmt(s.alt_rel_m, '.1f')} m",
        )
        if not self.link.snapshot().armed:
            raise FlightError("the vehicle disarmed during take-off", stage="takeoff")

    def _ack_text(self, command: int, what: str) -> str:
        result = self.s.acks.get(command)
        if result is None:
            return f"{what} not acknowledged"
        return f"{what} answered {_MAV_RESULTS.get(result, str(result))}"

    def run_mission(self) -> list[str]:
        """Fly AUTO until the vehicle has landed; returns non-fatal problems."""
        problems: list[str] = []
        self.progress.stage("mission: AUTO")
        self.set_mode("AUTO", "mission")
        n_items = len(self.plan.items)
        total = self.t.total_s or default_total_s(self.plan)
        t0 = time.monotonic()
        progress_at = t0
        marker_seq: int | None = None
        marker_pos: tuple[float, float] | None = None
        returning_since: float | None = None
        while True:
            self.pump(_POLL_S)
            snap = self.snapshot("mission")
            self.show(snap)
            now = time.monotonic()
            if not snap.armed:
                log.info("vehicle disarmed: landed")
                return problems
            seq = self.s.mission_seq
            rtl_item = seq is not None and seq >= 1 and self._is_return(seq)
            if returning_since is None and (rtl_item or snap.mode in ("RTL", "LAND")):
                returning_since = now
                if not rtl_item:
                    msg = (
                        f"the vehicle switched to {snap.mode} before the mission ended (failsafe?)"
                    )
                    problems.append(msg)
                    log.warning(msg)
                self.progress.stage("return: RTL and land")
            if snap.mode not in ("AUTO", "RTL", "LAND"):
                raise FlightError(
                    f"the mode changed to {snap.mode} (pilot or failsafe); the mission is no "
                    "longer flown automatically: land the vehicle by hand",
                    stage="mission",
                )
            if returning_since is not None:
                if now - returning_since > self.t.land_s:
                    raise FlightTimeout(
                        f"waited {self.t.land_s:g} s for the vehicle to land and disarm "
                        f"(at {_fmt(snap.alt_rel_m, '.1f')} m)",
                        stage="land",
                        waited_for="landing",
                        timeout_s=self.t.land_s,
                    )
                continue
            pos = None
            if snap.lat_deg is not None and snap.lon_deg is not None:
                pos = (snap.lat_deg, snap.lon_deg)
            moved = (
                pos is not None
                and marker_pos is not None
                and haversine_m(*marker_pos, *pos) >= _STALL_DISTANCE_M
            )
            if seq != marker_seq or moved or marker_pos is None:
                marker_seq, marker_pos, progress_at = seq, pos, now
            elif now - progress_at > self.t.stall_s:
                raise FlightTimeout(
                    f"no progress for {self.t.stall_s:g} s at mission item {seq} of {n_items} "
                    "(not moving, item not changing)",
                    stage="mission",
                    waited_for="mission progress",
                    timeout_s=self.t.stall_s,
                )
            if now - t0 > total:
                raise FlightTimeout(
                    f"the mission took longer than {total:.0f} s (at item {seq} of {n_items})",
                    stage="mission",
                    waited_for="the end of the mission",
                    timeout_s=total,
                )

    def _is_return(self, seq: int) -> bool:
        # Vehicle seq counts home as 0; plan.items start at seq 1.
        if not 1 <= seq <= len(self.plan.items):
            return False
        return self.plan.items[seq - 1].command in (
            _MAV_CMD_NAV_RETURN_TO_LAUNCH,
            _MAV_CMD_NAV_LAND,
        )

    def abort_to_rtl(self) -> None:
        if not self.airborne:
            return
        try:
            snap = self.link.snapshot()
            if snap.armed and snap.mode not in ("RTL", "LAND"):
                log.warning("commanding RTL: the vehicle will fly home and land on its own")
                self.link.set_mode("RTL")
        except (OSError, RuntimeError) as exc:
            log.error("could not command RTL (%s): take control with the transmitter", exc)

    def drain_photos(self, timeout_s: float) -> None:
        """Photos still in flight on the link after landing: take what arrives briefly."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.pump(_POLL_S)


def _fmt(v: float | None, spec: str) -> str:
    return "?" if v is None else format(v, spec)


def fly(
    opts: FlightOptions,
    *,
    connect: Callable[[str, float], VehicleLink] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fly `opts.plan_path`; returns the summary written to summary.json.

    Raises FlightError (after writing the folder) when the flight failed. `connect` is the
    vehicle seam: by default dronekit (`connect_vehicle`).
    """
    plan = read_plan(opts.plan_path)
    folder = FlightFolder(opts.out_dir)
    folder.prepare(opts.plan_path)
    folder.open_log()
    prog = progress or NullProgress()
    started = time.time()
    errors: list[dict[str, str]] = []
    warnings: list[str] = []
    flight: _Flight | None = None
    battery_start: VehicleSnapshot | None = None
    battery_end: VehicleSnapshot | None = None
    link: VehicleLink | None = None
    airborne_at: float | None = None
    landed_at: float | None = None
    try:
        log.info("flight of %s via %s into %s", opts.plan_path, opts.connection, opts.out_dir)
        prog.stage(f"connect: {opts.connection}")
        if connect is None:
            from ._dronekit import connect_vehicle

            link = connect_vehicle(opts.connection, timeout_s=opts.timeouts.connect_s)
        else:
            link = connect(opts.connection, opts.timeouts.connect_s)
        flight = _Flight(opts, plan, link, prog)
        link.subscribe(_MESSAGES, flight.on_message)
        flight.s.last_heartbeat_s = time.monotonic()  # connect() just saw one
        battery_start = flight.preflight()
        flight.upload_mission(battery_start)
        flight.arm_and_takeoff()
        airborne_at = time.time()
        warnings.extend(flight.run_mission())
        landed_at = time.time()
        battery_end = link.snapshot()
        flight.drain_photos(0.5)
    except FlightError as exc:
        errors.append({"stage": exc.stage, "message": str(exc)})
        log.error("flight failed during %s: %s", exc.stage, exc)
        if flight is not None:
            flight.abort_to_rtl()
        raise
    except BaseException as exc:  # Ctrl-C or a bug: still bring the vehicle home, then re-raise
        errors.append({"stage": "interrupted", "message": f"{type(exc).__name__}: {exc}"})
        log.error("flight interrupted: %s: %s", type(exc).__name__, exc)
        if flight is not None:
            flight.abort_to_rtl()
        raise
    finally:
        prog.close()
        records = flight.s.photos if flight is not None else []
        summary = finish_flight(
            opts,
            plan,
            folder,
            records,
            errors,
            warnings,
            started,
            airborne_at,
            landed_at,
            battery_start,
            battery_end,
            flight.s.distance_m if flight is not None else 0.0,
        )
        if link is not None:
            link.close()
        folder.close_log()
    return summary
