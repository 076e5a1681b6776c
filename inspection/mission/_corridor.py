"""The inspection corridor: a road centre line read from GeoJSON and validated.

Accepts a bare LineString (geometry, Feature or FeatureCollection) or a world GeoJSON whose
corridor feature is marked in its properties. `validate_corridor_coordinates` is the one
shared check (also used by the world simulator), pure and free of I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspection.geo import LocalFrame

from ._exceptions import CorridorError
from ._geometry import Points, cumulative_lengths, find_self_intersection

__all__ = [
    "MAX_CORRIDOR_VERTICES",
    "MIN_CORRIDOR_LENGTH_M",
    "Corridor",
    "corridor_from_geojson",
    "load_corridor",
    "validate_corridor_coordinates",
]

# Shorter than this there is nothing to inspect (one light-pole spacing is ~35 m): most likely
# a typo in the coordinates. firmware_sim.world uses this check and bound too.
MIN_CORRIDOR_LENGTH_M = 50.0
# More vertices than this is a traced GPS log, not a centre line; simplify it first (it would
# also overflow the autopilot's mission storage).
MAX_CORRIDOR_VERTICES = 10_000
# Consecutive vertices closer than this are one vertex drawn twice (a GIS double-click).
_DUPLICATE_VERTEX_M = 0.01
# Property values that mark the corridor among a world's features.
_CORRIDOR_MARKS = frozenset({"corridor", "inspection_corridor", "route"})
_MARK_KEYS = ("kind", "type", "role", "feature_type", "class", "name")


@dataclass(frozen=True, slots=True)
class Corridor:
    """A validated corridor centre line: (lon_deg, lat_deg) vertices in WGS84, in order."""

    lonlat: tuple[tuple[float, float], ...]
    source: str = "<memory>"

    def __post_init__(self) -> None:
        clean = validate_corridor_coordinates(self.lonlat, source=self.source)
        object.__setattr__(self, "lonlat", clean)

    @property
    def frame(self) -> LocalFrame:
        """Local East-North-Up frame at the first vertex; planning happens in it."""
        lon, lat = self.lonlat[0]
        return LocalFrame(lat, lon)

    def enu(self) -> Points:
        """Vertices as an (N, 2) array of east/north metres in `frame`."""
        lon = np.array([p[0] for p in self.lonlat])
        lat = np.array([p[1] for p in self.lonlat])
        return np.ascontiguousarray(self.frame.to_enu_array(lat, lon, np.zeros_like(lat))[:, :2])

    @property
    def length_m(self) -> float:
        return float(cumulative_lengths(self.enu())[-1])


def validate_corridor_coordinates(
    coords: Sequence[Sequence[float]], *, source: str = "<memory>"
) -> tuple[tuple[float, float], ...]:
    """Check GeoJSON LineString positions ([lon, lat] or [lon, lat, alt]) and return them as
    (lon, lat) tuples with repeated vertices removed.

    Raises CorridorError naming the first problem: too few points, a malformed or non-finite
    position, latitude/longitude out of range, a corridor shorter than MIN_CORRIDOR_LENGTH_M,
    or one that crosses, touches or retraces itself.
    """
    if isinstance(coords, str | bytes) or not isinstance(coords, Sequence):
        raise CorridorError("corridor coordinates must be a list of [lon, lat]", source=source)
    if len(coords) > MAX_CORRIDOR_VERTICES:
        raise CorridorError(
            f"corridor has {len(coords)} positions, more than {MAX_CORRIDOR_VERTICES}; "
            "simplify the line (QGIS: Vector > Geometry Tools > Simplify)",
            source=source,
        )
    out: list[tuple[float, float]] = []
    for i, pos in enumerate(coords):
        if (
            isinstance(pos, str | bytes)
            or not isinstance(pos, Sequence)
            or len(pos) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)
        ):
            raise CorridorError(
                f"corridor position {i} is {pos!r}; expected [longitude, latitude] numbers",
                source=source,
            )
        lon, lat = float(pos[0]), float(pos[1])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise CorridorError(f"corridor position {i} is not finite: {pos!r}", source=source)
        if not -90.0 <= lat <= 90.0 or not -180.0 <= lon <= 180.0:
            raise CorridorError(
                f"corridor position {i} ({lon}, {lat}) is out of range; GeoJSON order is "
                "[longitude, latitude] in degrees (did you swap them?)",
                source=source,
            )
        out.append((lon, lat))
    if len(out) < 2:
        raise CorridorError(f"a corridor needs at least 2 positions, got {len(out)}", source=source)
    frame = LocalFrame(out[0][1], out[0][0])
    lat_a = np.array([p[1] for p in out])
    lon_a = np.array([p[0] for p in out])
    xy = frame.to_enu_array(lat_a, lon_a, np.zeros_like(lat_a))[:, :2]
    keep = [0]
    for k in range(1, len(out)):
        if float(np.linalg.norm(xy[k] - xy[keep[-1]])) > _DUPLICATE_VERTEX_M:
            keep.append(k)
    out = [out[k] for k in keep]
    xy = xy[keep]
    if len(out) < 2:
        raise CorridorError("all corridor positions are the same point", source=source)
    length = float(cumulative_lengths(xy)[-1])
    if length < MIN_CORRIDOR_LENGTH_M:
        raise CorridorError(
            f"corridor is {length:.1f} m long; at least {MIN_CORRIDOR_LENGTH_M:.0f} m needed",
            source=source,
        )
    hit = find_self_intersection(xy)
    if hit is not None:
        i, j = hit
        where = f"segment {i} ({_fmt(out[i])} -> {_fmt(out[i + 1])}) and segment {j} " + (
            f"({_fmt(out[j])} -> {_fmt(out[j + 1])})"
        )
        closes = float(np.linalg.norm(xy[0] - xy[-1])) <= _DUPLICATE_VERTEX_M
        if closes and i == 0 and j == len(out) - 2:
            reason = "corridor ends where it starts (a loop); split it into two lines"
        elif j == i + 1:
            reason = f"corridor turns back on itself at position {j}: {where}"
        else:
            reason = f"corridor crosses or touches itself: {where}"
        raise CorridorError(reason, source=source)
    return tuple(out)


def _fmt(p: tuple[float, float]) -> str:
    return f"[{p[0]:.6f}, {p[1]:.6f}]"


def corridor_from_geojson(obj: Any, *, source: str = "<memory>") -> Corridor:
    """Find the corridor LineString in a parsed GeoJSON object and validate it.

    A geometry, a Feature or a FeatureCollection with exactly one LineString; or, in a
    world file with several, the LineString whose properties say it is the corridor
    (e.g. "kind": "corridor").
    """
    coords = _find_linestring(obj, source)
    return Corridor(validate_corridor_coordinates(coords, source=source), source=source)


def load_corridor(path: str | Path) -> Corridor:
    """Read a corridor or world GeoJSON file (a directory means its `world.geojson`)."""
    p = Path(path)
    if p.is_dir():
        p = p / "world.geojson"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CorridorError("file not found", source=str(p)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CorridorError(f"cannot read file: {exc}", source=str(p)) from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorridorError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", source=str(p)
        ) from exc
    return corridor_from_geojson(obj, source=str(p))


def _find_linestring(obj: Any, source: str) -> Any:
    if not isinstance(obj, Mapping):
        raise CorridorError("GeoJSON must be a JSON object", source=source)
    kind = obj.get("type")
    if kind == "LineString":
        return obj.get("coordinates")
    if kind == "Feature":
        geom = obj.get("geometry")
        if not isinstance(geom, Mapping) or geom.get("type") != "LineString":
            got = geom.get("type") if isinstance(geom, Mapping) else geom
            raise CorridorError(
                f"the feature's geometry must be a LineString, got {got!r}", source=source
            )
        return geom.get("coordinates")
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise CorridorError("FeatureCollection has no 'features' list", source=source)
        lines = [
            f
            for f in feats
            if isinstance(f, Mapping)
            and isinstance(f.get("geometry"), Mapping)
            and f["geometry"].get("type") == "LineString"
        ]
        marked = [f for f in lines if _is_marked_corridor(f)]
        if len(marked) == 1:
            return marked[0]["geometry"].get("coordinates")
        if len(marked) > 1:
            raise CorridorError(
                f"{len(marked)} features are marked as the corridor; keep one", source=source
            )
        if len(lines) == 1:
            return lines[0]["geometry"].get("coordinates")
        if not lines:
            raise CorridorError(
                "no LineString feature found; the corridor must be a single LineString "
                "(MultiLineString is not supported: merge the parts first)",
                source=source,
            )
        raise CorridorError(
            f"{len(lines)} LineString features and none marked as the corridor; set "
            '"kind": "corridor" in the properties of the one to fly',
            source=source,
        )
    if kind == "MultiLineString":
        raise CorridorError(
            "the corridor must be a single LineString, got a MultiLineString; merge the parts",
            source=source,
        )
    raise CorridorError(
        f"expected a LineString, Feature or FeatureCollection, got type {kind!r}", source=source
    )


def _is_marked_corridor(feature: Mapping[str, Any]) -> bool:
    if feature.get("id") == "corridor":
        return True
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        return False
    return any(
        isinstance(props.get(k), str) and props[k].lower() in _CORRIDOR_MARKS for k in _MARK_KEYS
    )
