"""The end of a flight: copy the photos from the camera storage, match them to the plan,
write poses and summary.json. Never raises for a photo problem: it records it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from inspection.mission import LoadedPlan

from ._folder import FlightFolder, utc_iso
from ._link import VehicleSnapshot
from ._options import FlightOptions
from ._records import PhotoRecord, match_to_plan

__all__ = ["finish_flight"]


def _collect(
    folder: FlightFolder,
    records: list[PhotoRecord],
    source: Path,
    opts: FlightOptions,
    warnings: list[str],
) -> tuple[list[PhotoRecord], list[int], str | None]:
    """Copy the photos from the camera storage; (records, image numbers missing, problem)."""
    deadline = time.monotonic() + opts.timeouts.collect_s
    while True:
        # The camera (simulator) may still be writing its last files, or the SD card may not
        # be mounted yet: look again until the deadline.
        if source.is_dir():
            collected, missing, notes = folder.collect_photos(records, source)
            if not missing or time.monotonic() > deadline:
                warnings.extend(notes)
                problem = (
                    f"{len(missing)} photo(s) with CAMERA_FEEDBACK have no file in {source}: "
                    f"{missing[:20]}"
                    if missing
                    else None
                )
                return collected, missing, problem
        elif time.monotonic() > deadline:
            return (
                records,
                [r.img_idx for r in records],
                f"photo folder {source} not found after {opts.timeouts.collect_s:g} s: "
                "copy the photos into the flight folder later",
            )
        time.sleep(0.2)


def finish_flight(
    opts: FlightOptions,
    plan: LoadedPlan,
    folder: FlightFolder,
    records: list[PhotoRecord],
    errors: list[dict[str, str]],
    warnings: list[str],
    started: float,
    airborne_at: float | None,
    landed_at: float | None,
    bat0: VehicleSnapshot | None,
    bat1: VehicleSnapshot | None,
    distance_m: float,
) -> dict[str, Any]:
    """Collect photos, write poses and summary.json; never raises for a photo problem."""
    planned = plan.meta.trigger_points if plan.meta else ()
    legs = plan.meta.trigger_legs if plan.meta else ()
    records = sorted(records, key=lambda r: r.img_idx)
    missing: list[int] = []
    if opts.photos_from is not None and records:
        records, missing, problem = _collect(folder, records, opts.photos_from, opts, warnings)
        if problem:
            errors.append({"stage": "collect", "message": problem})
    elif opts.photos_from is None and records:
        warnings.append("no --photos-from given: poses written; copy the photos from the camera")
    records = match_to_plan(records, planned, legs)
    folder.write_poses(records)
    errs = [r.planned_error_m for r in records if r.planned_error_m is not None]
    cross = [r.cross_track_m for r in records if r.cross_track_m is not None]
    tol = opts.position_tolerance_m
    ended = time.time()
    summary: dict[str, Any] = {
        "status": "failed" if errors else "ok",
        "plan": str(opts.plan_path),
        "connection": opts.connection,
        "started_utc": utc_iso(started),
        "ended_utc": utc_iso(ended),
        "duration_s": round(ended - started, 2),
        "airborne_s": round(landed_at - airborne_at, 2) if airborne_at and landed_at else None,
        "photos": {
            "planned": plan.meta.expected_photos if plan.meta else None,
            "captured": len(records),
            "collected": sum(1 for r in records if r.photo is not None),
            "missing_files": missing,
            "with_labels": sum(1 for r in records if r.labels is not None),
        },
        "positions": {
            "tolerance_m": tol,
            "max_error_m": round(max(errs), 3) if errs else None,
            "mean_error_m": round(sum(errs) / len(errs), 3) if errs else None,
            "within_tolerance": sum(1 for e in errs if e <= tol),
            "max_cross_track_m": round(max(cross), 3) if cross else None,
        },
        "trigger_distance_m": plan.meta.trigger_distance_m if plan.meta else None,
        "battery": {
            "start_pct": bat0.battery_pct if bat0 else None,
            "end_pct": bat1.battery_pct if bat1 else None,
            "used_pct": (
                round(bat0.battery_pct - bat1.battery_pct, 1)
                if bat0 and bat1 and bat0.battery_pct is not None and bat1.battery_pct is not None
                else None
            ),
            "start_v": bat0.battery_v if bat0 else None,
            "end_v": bat1.battery_v if bat1 else None,
        },
        "distance_flown_m": round(distance_m, 1),
        "errors": errors,
        "warnings": warnings,
    }
    folder.write_summary(summary)
    return summary
