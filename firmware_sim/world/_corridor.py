"""Load and validate a road corridor: a GeoJSON LineString in WGS84 ([lon, lat] order).

Accepted inputs: a bare LineString geometry, a Feature with a LineString geometry, or a
FeatureCollection holding exactly one LineString feature. The feature's properties may name the
corridor (`name`) and override the road cross-section (any `RoadLayout` field).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from firmware_sim.world._model import Corridor, RoadLayout, WorldError

__all__ = [
    "MAX_CORRIDOR_LENGTH_M",
    "MAX_VERTICES",
    "MIN_CORRIDOR_LENGTH_M",
    "corridor_from_geojson",
    "load_corridor",
]

# A drone inspection corridor is a street, not a city: under 50 m nothing useful fits (one
# light-pole spacing is ~35 m), over 20 km it is surely a wrong file or wrong units.
MIN_CORRIDOR_LENGTH_M = 50.0
MAX_CORRIDOR_LENGTH_M = 20_000.0
MAX_VERTICES = 10_000
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


def _check_coordinates(coords: Any) -> list[tuple[float, float]]:
    if not isinstance(coords, list):
        raise WorldError('LineString "coordinates" must be an array of [lon, lat] positions')
    if len(coords) < 2:
        raise WorldError(f"LineString needs at least 2 positions, got {len(coords)}")
    if len(coords) > MAX_VERTICES:
        raise WorldError(f"LineString has {len(coords)} positions, more than {MAX_VERTICES}")
    out: list[tuple[float, float]] = []
    for i, pos in enumerate(coords):
        if (
            not isinstance(pos, list)
            or not 2 <= len(pos) <= 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)
        ):
            raise WorldError(f"coordinates[{i}] must be [lon, lat] or [lon, lat, alt], got {pos!r}")
        lon, lat = float(pos[0]), float(pos[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise WorldError(f"coordinates[{i}] is not finite: {pos!r}")
        if not -90.0 <= lat <= 90.0:
            hint = (
                " (GeoJSON order is [longitude, latitude]; were they swapped?)"
                if -90.0 <= lon <= 90.0
                else ""
            )
            raise WorldError(f"coordinates[{i}]: latitude {lat} is outside [-90, 90]{hint}")
        if not -180.0 <= lon <= 180.0:
            raise WorldError(f"coordinates[{i}]: longitude {lon} is outside [-180, 180]")
        out.append((lon, lat))
    return out


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    """Whether closed segments ab and cd share a point (collinear overlap included)."""

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    def on_segment(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> bool:
        return bool(
            min(p[0], q[0]) - 1e-9 <= r[0] <= max(p[0], q[0]) + 1e-9
            and min(p[1], q[1]) - 1e-9 <= r[1] <= max(p[1], q[1]) + 1e-9
        )

    eps = 1e-6  # m^2: below this the three points are collinear at survey precision
    o1, o2 = orient(a, b, c), orient(a, b, d)
    o3, o4 = orient(c, d, a), orient(c, d, b)
    if ((o1 > eps and o2 < -eps) or (o1 < -eps and o2 > eps)) and (
        (o3 > eps and o4 < -eps) or (o3 < -eps and o4 > eps)
    ):
        return True
    return (
        (abs(o1) <= eps and on_segment(a, b, c))
        or (abs(o2) <= eps and on_segment(a, b, d))
        or (abs(o3) <= eps and on_segment(c, d, a))
        or (abs(o4) <= eps and on_segment(c, d, b))
    )


def _check_shape(corridor: Corridor) -> None:
    enu = corridor.vertices_enu
    seg = np.diff(enu, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    for i, length in enumerate(lengths):
        if length < 0.01:
            raise WorldError(
                f"coordinates[{i}] and coordinates[{i + 1}] are the same point "
                f"({length * 100:.1f} cm apart); remove the duplicate"
            )
    total = float(lengths.sum())
    if not MIN_CORRIDOR_LENGTH_M <= total <= MAX_CORRIDOR_LENGTH_M:
        raise WorldError(
            f"corridor length {total:.1f} m is outside the plausible range "
            f"{MIN_CORRIDOR_LENGTH_M:.0f}..{MAX_CORRIDOR_LENGTH_M:.0f} m"
        )
    unit = seg / lengths[:, None]
    for i in range(len(unit) - 1):
        cos_turn = float(np.clip(np.dot(unit[i], unit[i + 1]), -1.0, 1.0))
        turn = math.degrees(math.acos(cos_turn))
        if turn > _MAX_TURN_DEG:
            raise WorldError(
                f"LineString doubles back on itself at coordinates[{i + 1}] "
                f"(turns {turn:.0f} degrees)"
            )
    n = len(seg)
    for i in range(n):
        for j in range(i + 2, n):
            if _segments_cross(enu[i], enu[i + 1], enu[j], enu[j + 1]):
                raise WorldError(
                    f"LineString is self-intersecting: segment coordinates[{i}]-[{i + 1}] "
                    f"crosses segment coordinates[{j}]-[{j + 1}]"
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
    corridor = Corridor(name=name, vertices_lonlat=tuple(coords))
    _check_shape(corridor)
    return corridor, road
