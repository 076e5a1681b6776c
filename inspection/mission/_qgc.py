"""QGroundControl .plan files: write a MissionPlan, read any .plan back as mission items.

Our planning data (planned photo positions, trigger distance, parameters) rides along in a
top-level "michimori" object, which QGroundControl ignores; a .plan made in QGroundControl
itself reads back with `meta = None` and can still be flown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._exceptions import PlanFileError
from ._mavlink_items import (
    MAV_FRAME_GLOBAL_RELATIVE_ALT,
    MissionItem,
    mission_items,
)
from ._model import MissionPlan

__all__ = [
    "PLAN_META_VERSION",
    "LoadedPlan",
    "PlanMeta",
    "plan_from_qgc",
    "plan_to_qgc",
    "read_plan",
    "write_plan",
]

PLAN_META_VERSION = 1
_QGC_FIRMWARE_ARDUPILOT = 3  # MAV_AUTOPILOT_ARDUPILOTMEGA
_QGC_VEHICLE_QUADROTOR = 2  # MAV_TYPE_QUADROTOR
_QGC_ALT_MODE_RELATIVE = 1


@dataclass(frozen=True, slots=True)
class PlanMeta:
    """What Michimori planned, for comparing a flight against it."""

    alt_m: float
    speed_m_s: float
    gimbal_pitch_deg: float
    forward_overlap: float
    trigger_distance_m: float
    trigger_points: tuple[tuple[float, float], ...]  # (lat_deg, lon_deg) in flying order
    trigger_legs: tuple[int, ...]  # leg index of each trigger point
    est_flight_time_s: float
    path_length_m: float
    corridor_lonlat: tuple[tuple[float, float], ...]

    @property
    def expected_photos(self) -> int:
        return len(self.trigger_points)


@dataclass(frozen=True, slots=True)
class LoadedPlan:
    """A .plan file as the flight needs it; `items` excludes ArduPilot's home item."""

    path: str
    items: tuple[MissionItem, ...]
    planned_home: tuple[float, float, float] | None  # (lat_deg, lon_deg, alt_amsl_m)
    geofence: tuple[tuple[tuple[float, float], ...], ...]  # inclusion polygons of (lat, lon)
    cruise_speed_m_s: float | None
    meta: PlanMeta | None


def plan_to_qgc(plan: MissionPlan, *, home_alt_amsl_m: float = 0.0) -> dict[str, Any]:
    """The plan as a QGroundControl .plan JSON object (file format version 1)."""
    p = plan.params
    items_json = []
    for i, item in enumerate(mission_items(plan), start=1):
        entry: dict[str, Any] = {
            "autoContinue": item.autocontinue,
            "command": item.command,
            "doJumpId": i,
            "frame": item.frame,
            "params": [None if math.isnan(v) else v for v in item.params],
            "type": "SimpleItem",
        }
        if item.frame == MAV_FRAME_GLOBAL_RELATIVE_ALT:
            entry.update(AMSLAltAboveTerrain=None, Altitude=item.z, AltitudeMode=1)
        items_json.append(entry)
    meta = {
        "version": PLAN_META_VERSION,
        "corridor": {
            "source": plan.corridor.source,
            "coordinates": [list(c) for c in plan.corridor.lonlat],
            "length_m": round(plan.corridor.length_m, 2),
        },
        "params": {
            "alt_m": p.alt_m,
            "offset_m": p.offset_m,
            "sides": p.sides,
            "speed_m_s": p.speed_m_s,
            "gimbal_pitch_deg": p.gimbal_pitch_deg,
            "forward_overlap": p.forward_overlap,
            "inspect_half_width_m": p.inspect_half_width_m,
            "camera": {
                "width_px": p.camera.width_px,
                "height_px": p.camera.height_px,
                "fx_px": p.camera.fx_px,
                "fy_px": p.camera.fy_px,
                "cx_px": p.camera.cx_px,
                "cy_px": p.camera.cy_px,
            },
        },
        "footprint": {
            "near_m": round(plan.footprint.near_m, 3),
            "centre_m": round(plan.footprint.centre_m, 3),
            "far_m": round(plan.footprint.far_m, 3),
            "length_m": round(plan.footprint.length_m, 3),
            "near_width_m": round(plan.footprint.near_width_m, 3),
            "centre_width_m": round(plan.footprint.centre_width_m, 3),
            "gsd_centre_cm": round(plan.footprint.gsd_centre_m * 100, 3),
        },
        "trigger_distance_m": round(plan.trigger_distance_m, 4),
        "expected_photos": plan.expected_photos,
        "legs": [
            {"side": leg.side, "length_m": round(leg.length_m, 2), "photos": len(leg.triggers)}
            for leg in plan.legs
        ],
        "trigger_points": [
            [lat, lon, k] for k, leg in enumerate(plan.legs) for lat, lon in leg.triggers
        ],
        "path_length_m": round(plan.path_length_m, 2),
        "est_flight_time_s": round(plan.est_flight_time_s, 1),
        "battery_usable_s": round(plan.limits.usable_flight_time_s, 1),
        "warnings": list(plan.warnings),
    }
    return {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "Michimori",
        "mission": {
            "version": 2,
            "firmwareType": _QGC_FIRMWARE_ARDUPILOT,
            "vehicleType": _QGC_VEHICLE_QUADROTOR,
            "globalPlanAltitudeMode": _QGC_ALT_MODE_RELATIVE,
            "cruiseSpeed": p.speed_m_s,
            "hoverSpeed": p.speed_m_s,
            "plannedHomePosition": [plan.home[0], plan.home[1], home_alt_amsl_m],
            "items": items_json,
        },
        "geoFence": {
            "version": 2,
            "circles": [],
            "polygons": [
                {
                    "inclusion": True,
                    "version": 1,
                    "polygon": [[lat, lon] for lat, lon in plan.geofence],
                }
            ],
        },
        "rallyPoints": {"version": 2, "points": []},
        "michimori": meta,
    }


def write_plan(plan: MissionPlan, path: str | Path, *, home_alt_amsl_m: float = 0.0) -> Path:
    """Write the .plan file (UTF-8 JSON) atomically; returns its path."""
    out = Path(path)
    text = json.dumps(plan_to_qgc(plan, home_alt_amsl_m=home_alt_amsl_m), indent=4)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def read_plan(path: str | Path) -> LoadedPlan:
    """Read a QGroundControl .plan; raises PlanFileError naming the file and the bad key."""
    p = Path(path)
    src = str(p)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PlanFileError("file not found", path=src) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"cannot read: {exc}", path=src) from exc
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", path=src
        ) from exc
    return plan_from_qgc(doc, path=src)


def plan_from_qgc(doc: Any, *, path: str = "<memory>") -> LoadedPlan:
    """Parse a .plan JSON object (see `read_plan`)."""
    if not isinstance(doc, Mapping) or doc.get("fileType") != "Plan":
        raise PlanFileError('not a QGroundControl plan: "fileType" must be "Plan"', path=path)
    if doc.get("version") != 1:
        raise PlanFileError(f"unsupported plan version {doc.get('version')!r} (1)", path=path)
    mission = doc.get("mission")
    if not isinstance(mission, Mapping) or not isinstance(mission.get("items"), list):
        raise PlanFileError('"mission.items" must be a list', path=path)
    items = tuple(_item(raw, i, path) for i, raw in enumerate(mission["items"]))
    if not items:
        raise PlanFileError("the mission has no items", path=path)
    home = mission.get("plannedHomePosition")
    planned_home: tuple[float, float, float] | None = None
    if home is not None:
        if not (isinstance(home, list) and len(home) == 3 and all(_num(v) for v in home)):
            raise PlanFileError(
                '"mission.plannedHomePosition" must be [lat, lon, alt_amsl]', path=path
            )
        planned_home = (float(home[0]), float(home[1]), float(home[2]))
    speed = mission.get("cruiseSpeed")
    return LoadedPlan(
        path=path,
        items=items,
        planned_home=planned_home,
        geofence=_fence(doc.get("geoFence"), path),
        cruise_speed_m_s=float(speed) if isinstance(speed, int | float) and _num(speed) else None,
        meta=_meta(doc.get("michimori"), path),
    )


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _item(raw: Any, index: int, path: str) -> MissionItem:
    where = f"mission item {index + 1}"
    if not isinstance(raw, Mapping):
        raise PlanFileError(f"{where} is not an object", path=path)
    if raw.get("type") != "SimpleItem":
        raise PlanFileError(
            f"{where} is a {raw.get('complexItemType', raw.get('type'))!r}; only simple items "
            "can be flown: in QGroundControl open the plan and save it after converting "
            "survey/corridor-scan items to waypoints, or plan with `michimori inspect plan`",
            path=path,
        )
    cmd, frame, params = raw.get("command"), raw.get("frame"), raw.get("params")
    if not isinstance(cmd, int) or not isinstance(frame, int):
        raise PlanFileError(f"{where}: command and frame must be integers", path=path)
    if not isinstance(params, list) or len(params) != 7:
        raise PlanFileError(f"{where}: params must be a list of 7 values", path=path)
    vals: list[float] = []
    for k, v in enumerate(params):
        if v is None:
            vals.append(math.nan if k < 4 else 0.0)
        elif _num(v):
            vals.append(float(v))
        else:
            raise PlanFileError(f"{where}: param {k + 1} is {v!r}, not a number", path=path)
    try:
        return MissionItem(
            command=cmd,
            frame=frame,
            param1=vals[0],
            param2=vals[1],
            param3=vals[2],
            param4=vals[3],
            x=vals[4],
            y=vals[5],
            z=vals[6],
            autocontinue=bool(raw.get("autoContinue", True)),
        )
    except ValueError as exc:
        raise PlanFileError(f"{where}: {exc}", path=path) from exc


def _fence(raw: Any, path: str) -> tuple[tuple[tuple[float, float], ...], ...]:
    if raw is None:
        return ()
    polys = raw.get("polygons", []) if isinstance(raw, Mapping) else None
    if not isinstance(polys, list):
        raise PlanFileError('"geoFence.polygons" must be a list', path=path)
    out = []
    for i, poly in enumerate(polys):
        if not isinstance(poly, Mapping) or not poly.get("inclusion", True):
            continue  # exclusion zones are the autopilot's business; we check inclusion only
        pts = poly.get("polygon")
        if not isinstance(pts, list) or len(pts) < 3:
            raise PlanFileError(f"geofence polygon {i + 1} needs at least 3 points", path=path)
        ring = []
        for pt in pts:
            if not (isinstance(pt, list) and len(pt) == 2 and all(_num(v) for v in pt)):
                raise PlanFileError(f"geofence polygon {i + 1}: bad point {pt!r}", path=path)
            ring.append((float(pt[0]), float(pt[1])))
        out.append(tuple(ring))
    return tuple(out)


def _meta(raw: Any, path: str) -> PlanMeta | None:
    if raw is None:
        return None
    version = raw.get("version") if isinstance(raw, Mapping) else None
    if version != PLAN_META_VERSION:
        raise PlanFileError(
            f'"michimori.version" is {version!r}; this version reads {PLAN_META_VERSION}: '
            "plan it again with this version of michimori",
            path=path,
        )
    try:
        prm = raw["params"]
        pts = raw["trigger_points"]
        return PlanMeta(
            alt_m=float(prm["alt_m"]),
            speed_m_s=float(prm["speed_m_s"]),
            gimbal_pitch_deg=float(prm["gimbal_pitch_deg"]),
            forward_overlap=float(prm["forward_overlap"]),
            trigger_distance_m=float(raw["trigger_distance_m"]),
            trigger_points=tuple((float(p[0]), float(p[1])) for p in pts),
            trigger_legs=tuple(int(p[2]) for p in pts),
            est_flight_time_s=float(raw["est_flight_time_s"]),
            path_length_m=float(raw["path_length_m"]),
            corridor_lonlat=tuple(
                (float(c[0]), float(c[1])) for c in raw["corridor"]["coordinates"]
            ),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise PlanFileError(f'"michimori" planning data is damaged: {exc!r}', path=path) from exc
