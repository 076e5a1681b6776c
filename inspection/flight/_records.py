"""Photos and their poses: CAMERA_FEEDBACK records, matching them to the planned trigger
points, and pairing them with the image files from the camera's storage.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from inspection.geo import LocalFrame
from inspection.mission._geometry import distance_to_polyline

__all__ = [
    "PhotoRecord",
    "find_photo_files",
    "match_to_plan",
    "record_from_feedback",
]

log = logging.getLogger(__name__)

_PHOTO_SUFFIXES = (".jpg", ".jpeg")
_TRAILING_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True, slots=True)
class PhotoRecord:
    """One photo: where the vehicle was (CAMERA_FEEDBACK) and where the camera looked.

    Camera angles follow inspection.camera.CameraPose: heading clockwise from north, pitch
    0 = horizon / -90 = nadir, roll positive = right side down; `alt_rel_m` is the height
    above home, the `alt_m` a CameraPose wants.
    """

    img_idx: int
    time_unix_s: float | None
    lat_deg: float
    lon_deg: float
    alt_msl_m: float
    alt_rel_m: float
    vehicle_roll_deg: float
    vehicle_pitch_deg: float
    vehicle_yaw_deg: float
    camera_heading_deg: float
    camera_pitch_deg: float
    camera_roll_deg: float = 0.0
    photo: str | None = None  # file name under photos/, once collected
    labels: str | None = None  # YOLO label file next to it, if the camera (simulator) wrote one
    planned_index: int | None = None  # nearest planned trigger point
    planned_error_m: float | None = None  # horizontal distance to it
    cross_track_m: float | None = None  # distance from the planned track of that point's leg


def record_from_feedback(fields: Mapping[str, Any], *, gimbal_pitch_deg: float) -> PhotoRecord:
    """Build a record from CAMERA_FEEDBACK fields (lat/lng in degE7, angles in degrees).

    CAMERA_FEEDBACK carries the airframe's attitude; the camera's own angles come from the
    gimbal: it looks where the nose points, at the commanded pitch, stabilised in roll.
    """
    time_usec = int(fields.get("time_usec", 0))
    yaw = float(fields["yaw"]) % 360.0
    return PhotoRecord(
        img_idx=int(fields["img_idx"]),
        # ArduPilot stamps GPS (UNIX epoch) time; 0 means it had no GPS time.
        time_unix_s=time_usec / 1e6 if time_usec > 0 else None,
        lat_deg=int(fields["lat"]) / 1e7,
        lon_deg=int(fields["lng"]) / 1e7,
        alt_msl_m=float(fields["alt_msl"]),
        alt_rel_m=float(fields["alt_rel"]),
        vehicle_roll_deg=float(fields["roll"]),
        vehicle_pitch_deg=float(fields["pitch"]),
        vehicle_yaw_deg=yaw,
        camera_heading_deg=yaw,
        camera_pitch_deg=gimbal_pitch_deg,
    )


def match_to_plan(
    records: Sequence[PhotoRecord],
    planned: Sequence[tuple[float, float]],
    legs: Sequence[int] = (),
) -> list[PhotoRecord]:
    """Attach to each photo the nearest planned trigger point, the distance to it, and the
    distance from the planned track (the line through that leg's trigger points).

    Photos drift along the track as a flight goes on (each comes up to one control loop's
    travel late), so the cross-track distance is the measure of flying the plan; the
    distance to the nearest point also includes that drift.
    """
    if not planned:
        return list(records)
    frame = LocalFrame(planned[0][0], planned[0][1])
    lat = np.array([p[0] for p in planned])
    lon = np.array([p[1] for p in planned])
    pts = frame.to_enu_array(lat, lon, np.zeros_like(lat))[:, :2]
    leg_of = np.asarray(legs if len(legs) == len(planned) else [0] * len(planned))
    out = []
    for r in records:
        e, n, _ = frame.to_enu(r.lat_deg, r.lon_deg, 0.0)
        here = np.array([e, n])
        dists = np.linalg.norm(pts - here, axis=1)
        k = int(np.argmin(dists))
        track = pts[leg_of == leg_of[k]]
        cross = distance_to_polyline(here, track) if len(track) >= 2 else float(dists[k])
        out.append(
            replace(r, planned_index=k, planned_error_m=float(dists[k]), cross_track_m=cross)
        )
    return out


def find_photo_files(folder: Path) -> tuple[dict[int, Path], list[str]]:
    """Image files in `folder` keyed by the number their name ends with (IMG_0042.jpg -> 42,
    DSC00042.JPG -> 42), plus warnings about names without a number or with a repeated one."""
    found: dict[int, Path] = {}
    warnings: list[str] = []
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.suffix.lower() not in _PHOTO_SUFFIXES:
            continue
        m = _TRAILING_NUMBER.search(p.stem)
        if m is None:
            warnings.append(f"{p.name}: no image number at the end of the name; not used")
            continue
        idx = int(m.group(1))
        if idx in found:
            warnings.append(f"{p.name}: image number {idx} also used by {found[idx].name}")
            continue
        found[idx] = p
    return found, warnings


def camera_angles_from_sidecar(path: Path) -> dict[str, float]:
    """Camera heading/pitch/roll from a simulator's JSON pose sidecar, when it has them."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("pose sidecar %s unreadable (%s); using the commanded gimbal angles", path, exc)
        return {}
    pose = doc.get("camera_pose", doc.get("pose", doc)) if isinstance(doc, dict) else {}
    out: dict[str, float] = {}
    if not isinstance(pose, dict):
        return out
    for ours, keys in (
        ("camera_heading_deg", ("heading_deg", "camera_heading_deg")),
        ("camera_pitch_deg", ("pitch_deg", "camera_pitch_deg")),
        ("camera_roll_deg", ("roll_deg", "camera_roll_deg")),
    ):
        for k in keys:
            v = pose.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                out[ours] = float(v)
                break
    return out
