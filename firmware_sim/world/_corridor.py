"""Load and validate a road corridor: a GeoJSON LineString in WGS84 ([lon, lat] order).

Accepted inputs: a bare LineString geometry, a Feature with a LineString geometry, or a
FeatureCollection holding exactly one LineString feature. The feature's properties may name the
corridor (`name`) and override the road cross-section (any `RoadLayout` field). The positions
go through inspection.mission's corridor check (a vertex drawn twice is merged).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from firmware_sim.world._model import Corridor, RoadLayout, WorldError
from inspection.mission import (
    MIN_CORRIDOR_LENGTH_M,
    CorridorError,
    validate_corridor_coordinates,
)

__all__ = [
    "MAX_CORRIDOR_LENGTH_M",
    "MIN_CORRIDOR_LENGTH_M",
    "corridor_from_geojson",
    "load_corridor",
]

# A drone inspection corridor is a street, not a city: over 20 km it is surely a wrong file or
# wrong units. (The lower bound, the vertex limit and the geometry checks are inspection's.)
MAX_CORRIDOR_LENGTH_M = 20_000.0
# Two consecutive segments turning by more than this fold back over each other.
_MAX_TURN_DEG = 170.0
_ROAD_KEYS = {f for f in RoadLayout.__dataclass_fields__}


def load_corridor(path: Path) -> tuple[Corridor, RoadLayout]:
    """Read a corridor file; every problem is a WorldError naming the file and the fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldError(f"corridor file {path}: cannot read it: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise WorldError(f"corridor file {path}: not UTF-8 text ({exc.reason})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorldError(
            f"corridor file {path}: not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from exc
    try:
        return corridor_from_geojson(doc, default_name=path.stem)
    except WorldError as exc:
        raise WorldError(f"corridor file {path}: {exc}") from exc


def _linestring_of(doc: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (geometry, properties) of the single LineString in `doc`."""
    if not isinstance(doc, dict):
        raise WorldError(f"expected a GeoJSON object, got a JSON {type(doc).__name__}")
    kind = doc.get("type")
    if kind is None:
        raise WorldError('not GeoJSON: the top-level object has no "type" member')
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise WorldError('FeatureCollection has no "features" array')
        lines = [
            f
            for f in features
            if isinstance(f, dict)
            and isinstance(f.get("geometry"), dict)
            and f["geometry"].get("type") == "LineString"
        ]
        if len(lines) != 1:
            kinds = [
                (f.get("geometry") or {}).get("type") if isinstance(f, dict) else None
                for f in features
            ]
            raise WorldError(
                f"FeatureCollection must hold exactly one LineString feature, found "
                f"{len(lines)} (geometry types: {kinds})"
            )
        return _linestring_of(lines[0])
    if kind == "Feature":
        geom = doc.get("geometry")
        props = doc.get("properties") or {}
        if not isinstance(geom, dict):
            raise WorldError("Feature has no geometry")
        if not isinstance(props, dict):
            raise WorldError('Feature "properties" must be an object')
        geometry, _ = _linestring_of(geom)
        return geometry, props
    if kind == "LineString":
        return doc, {}
    raise WorldError(f"expected a LineString corridor, got a {kind}")


def _check_coordinates(coords: Any) -> tuple[tuple[float, float], ...]:
    """The shared corridor check of inspection.mission (one rule for what a corridor is, so a
    world the simulator accepts is one the planner can fly), with its errors as WorldError."""
    try:
        return validate_corridor_coordinates(coords)
    except CorridorError as exc:
        raise WorldError(exc.detail) from exc


def _check_road_shape(corridor: Corridor) -> None:
    """Limits of the synthetic road on top of the shared check: its length and its bends."""
    total = corridor.length_m
    if total > MAX_CORRIDOR_LENGTH_M:
        raise WorldError(
            f"corridor length {total:.1f} m is outside the plausible range "
            f"{MIN_CORRIDOR_LENGTH_M:.0f}..{MAX_CORRIDOR_LENGTH_M:.0f} m"
        )
    # The shared check only rejects an exact reversal; a hairpin sharper than _MAX_TURN_DEG
    # still folds the road's two carriageways and verges over each other, so fixtures placed
    # beside one leg would stand on the other.
    seg = np.diff(corridor.vertices_enu, axis=0)
    unit = seg / np.linalg.norm(seg, axis=1)[:, None]
    for i in range(len(unit) - 1):
        cos_turn = float(np.clip(np.dot(unit[i], unit[i + 1]), -1.0, 1.0))
        turn = math.degrees(math.acos(cos_turn))
        if turn > _MAX_TURN_DEG:
            raise WorldError(
                f"LineString doubles back on itself at coordinates[{i + 1}] "
                f"(turns {turn:.0f} degrees)"
            )


def corridor_from_geojson(
    doc: Any, *, default_name: str = "corridor"
) -> tuple[Corridor, RoadLayout]:
    """Validate a parsed GeoJSON document and build the corridor and its road layout."""
    geometry, props = _linestring_of(doc)
    coords = _check_coordinates(geometry.get("coordinates"))
    name = props.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise WorldError(f'property "name" must be a non-empty string, got {name!r}')
    overrides = {k: v for k, v in props.items() if k in _ROAD_KEYS}
    for key, value in overrides.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise WorldError(f'property "{key}" must be a number, got {value!r}')
    try:
        road = RoadLayout(**overrides)
    except TypeError as exc:
        raise WorldError(f"road layout properties: {exc}") from exc
    corridor = Corridor(name=name, vertices_lonlat=coords)
    _check_road_shape(corridor)
    return corridor, road
