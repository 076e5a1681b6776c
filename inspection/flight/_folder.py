"""The flight folder that later steps (detection, geolocation, reports) read.

FLIGHT_DIR/
  mission.plan      the plan flown (copy)
  flight.log        what happened, for a field engineer
  photos/           IMG_0001.jpg ... (+ .txt YOLO labels and .json pose sidecars when the
                    camera is the simulator)
  poses.csv         one row per photo (UTF-8 with BOM so Excel in Japan opens it)
  poses.geojson     the same as WGS84 points (QGIS)
  summary.json      planned vs captured, times, battery, errors
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._exceptions import FlightError
from ._records import PhotoRecord, camera_angles_from_sidecar, find_photo_files

__all__ = ["POSE_COLUMNS", "FlightFolder"]

log = logging.getLogger(__name__)

POSE_COLUMNS = (
    "photo",
    "img_idx",
    "time_utc",
    "lat_deg",
    "lon_deg",
    "alt_msl_m",
    "alt_rel_m",
    "camera_heading_deg",
    "camera_pitch_deg",
    "camera_roll_deg",
    "vehicle_roll_deg",
    "vehicle_pitch_deg",
    "vehicle_yaw_deg",
    "labels",
    "planned_index",
    "planned_error_m",
    "cross_track_m",
)
# Loggers whose records go to flight.log: ours, dronekit's, and the autopilot's STATUSTEXTs.
_LOGGERS = ("inspection", "dronekit", "autopilot")


def utc_iso(unix_s: float | None) -> str | None:
    if unix_s is None:
        return None
    return datetime.fromtimestamp(unix_s, tz=UTC).isoformat(timespec="milliseconds")


class FlightFolder:
    """Creates and fills one flight folder; refuses to overwrite a finished flight."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.photos = root / "photos"
        self._handler: logging.Handler | None = None
        self._saved: list[tuple[logging.Logger, int, bool, _Forward | None]] = []

    def prepare(self, plan_path: Path) -> None:
        if (self.root / "summary.json").exists():
            raise FlightError(
                f"{self.root} already holds a flight (summary.json); choose another --out",
                stage="setup",
            )
        try:
            self.photos.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(plan_path, self.root / "mission.plan")
        except OSError as exc:
            raise FlightError(
                f"cannot create the flight folder {self.root}: {exc}", stage="setup"
            ) from exc

    def open_log(self) -> None:
        """Send INFO and above of our, dronekit's and the autopilot's loggers to flight.log,
        without changing what reaches the console (see `_Forward`)."""
        handler = logging.FileHandler(self.root / "flight.log", encoding="utf-8")
        handler.setLevel(logging.INFO)
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        fmt.converter = time.gmtime  # UTC, like the photo times
        handler.setFormatter(fmt)
        for name in _LOGGERS:
            lg = logging.getLogger(name)
            lg.addHandler(handler)
            effective = lg.getEffectiveLevel()
            if effective > logging.INFO:
                # INFO records must exist for the file, but the console keeps its old level.
                forward = _Forward(lg.parent, effective) if lg.propagate and lg.parent else None
                self._saved.append((lg, lg.level, lg.propagate, forward))
                lg.setLevel(logging.INFO)
                if forward is not None:
                    lg.propagate = False
                    lg.addHandler(forward)
        self._handler = handler

    def close_log(self) -> None:
        if self._handler is None:
            return
        for name in _LOGGERS:
            logging.getLogger(name).removeHandler(self._handler)
        for lg, level, propagate, forward in self._saved:
            if forward is not None:
                lg.removeHandler(forward)
            lg.setLevel(level)
            lg.propagate = propagate
        self._saved.clear()
        self._handler.close()
        self._handler = None

    def collect_photos(
        self, records: Sequence[PhotoRecord], source: Path
    ) -> tuple[list[PhotoRecord], list[int], list[str]]:
        """Copy each record's image (and sidecars) from `source` into photos/.

        Returns (records with file names, image numbers with no file, warnings).
        """
        files, warnings = find_photo_files(source)
        out: list[PhotoRecord] = []
        missing: list[int] = []
        for r in records:
            src = files.get(r.img_idx)
            if src is None:
                missing.append(r.img_idx)
                out.append(r)
                continue
            dest = self.photos / src.name
            shutil.copy2(src, dest)
            labels = None
            for suffix in (".txt", ".json"):
                side = src.with_suffix(suffix)
                if side.is_file():
                    shutil.copy2(side, self.photos / side.name)
                    if suffix == ".txt":
                        labels = side.name
            sidecar = src.with_suffix(".json")
            angles = camera_angles_from_sidecar(sidecar) if sidecar.is_file() else {}
            r = replace(r, photo=src.name, labels=labels)
            out.append(
                replace(
                    r,
                    camera_heading_deg=angles.get("camera_heading_deg", r.camera_heading_deg),
                    camera_pitch_deg=angles.get("camera_pitch_deg", r.camera_pitch_deg),
                    camera_roll_deg=angles.get("camera_roll_deg", r.camera_roll_deg),
                )
            )
        used = {r.img_idx for r in records}
        extra = sorted(set(files) - used)
        if extra:
            warnings.append(
                f"{len(extra)} image(s) in {source} have no CAMERA_FEEDBACK from this flight "
                f"(numbers {extra[:10]}{'...' if len(extra) > 10 else ''}); not copied"
            )
        return out, missing, warnings

    def write_poses(self, records: Sequence[PhotoRecord]) -> None:
        with (self.root / "poses.csv").open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=POSE_COLUMNS)
            w.writeheader()
            for r in records:
                w.writerow(_row(r))
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon_deg, r.lat_deg, r.alt_msl_m]},
                "properties": {k: v for k, v in _row(r).items() if k not in ("lat_deg", "lon_deg")},
            }
            for r in records
        ]
        _write_json(
            self.root / "poses.geojson", {"type": "FeatureCollection", "features": features}
        )

    def write_summary(self, summary: dict[str, Any]) -> None:
        _write_json(self.root / "summary.json", summary)


class _Forward(logging.Handler):
    """Propagation with a threshold: hands records at or above the logger's former
    effective level to the parent's handlers, so lowering the level for flight.log does
    not flood the console."""

    def __init__(self, parent: logging.Logger, level: int) -> None:
        super().__init__(level)
        self._parent = parent

    def emit(self, record: logging.LogRecord) -> None:
        self._parent.handle(record)


def _row(r: PhotoRecord) -> dict[str, Any]:
    d = asdict(r)
    d["time_utc"] = utc_iso(d.pop("time_unix_s"))
    for key in ("planned_error_m", "cross_track_m"):
        if d[key] is not None:
            d[key] = round(d[key], 3)
    return {k: d[k] for k in POSE_COLUMNS}


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
