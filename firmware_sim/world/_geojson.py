"""GeoJSON writer and reader of the world's ground truth (WGS84, opens in QGIS).

A FeatureCollection; its top-level `properties` member holds the world's metadata (schema,
seed, road cross-section, class ids). Features: one corridor LineString, then one feature per
fixture: a Point for signs and light poles, a LineString (rail ends) for guardrails, with
asset id, kind, class id, position, dimensions, heading, tilt, defects and the expected MLIT
outcome in its properties. Positions are read back from the geometry, everything else from
the properties.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from firmware_sim.world._corridor import corridor_from_geojson
from firmware_sim.world._mlit import mlit_summary
from firmware_sim.world._model import (
    CLASS_NAMES,
    Defect,
    Fixture,
    GuardrailGeometry,
    LightPoleGeometry,
    RoadLayout,
    SignGeometry,
    World,
    WorldError,
)
from inspection.camera import enu_from_geodetic, geodetic_from_enu
from inspection.geo import LocalFrame

__all__ = ["SCHEMA", "load_world", "save_world", "world_from_geojson", "world_to_geojson"]

SCHEMA = "michimori.world/1"
_GEOMETRY_TYPES: dict[str, type[SignGeometry | LightPoleGeometry | GuardrailGeometry]] = {
    "sign": SignGeometry,
    "light_pole": LightPoleGeometry,
    "guardrail": GuardrailGeometry,
}


def _lonlat(world: World, e: float, n: float) -> list[float]:
    geo = geodetic_from_enu(world.frame, [e, n, 0.0])
    # 9 decimals of a degree is ~0.1 mm: a lossless round trip for centimetre geometry.
    return [round(float(geo[1]), 9), round(float(geo[0]), 9)]


def _defect_to_dict(d: Defect) -> dict[str, Any]:
    out: dict[str, Any] = {
        "defect_id": d.defect_id,
        "type": d.type,
        "class_id": d.class_id,
        "member": d.member,
        "face": d.face,
        "s0_m": d.s0_m,
        "s1_m": d.s1_m,
        "t0_m": d.t0_m,
        "t1_m": d.t1_m,
        "extent_m2": round(d.extent_m2, 4),
        "severity": d.severity,
        "degree": d.degree,
    }
    if d.displacement_m is not None:
        out["displacement_m"] = d.displacement_m
    if d.crack_width_mm is not None:
        out["crack_width_mm"] = d.crack_width_mm
    return out


def _fixture_feature(world: World, f: Fixture) -> dict[str, Any]:
    centre = _lonlat(world, f.east_m, f.north_m)
    geometry: dict[str, Any]
    if isinstance(f.geometry, GuardrailGeometry):
        h = math.radians(f.heading_deg + 90.0)  # the rail runs along local +x
        half = f.geometry.length_m / 2
        ends = [
            _lonlat(world, f.east_m - math.sin(h) * half, f.north_m - math.cos(h) * half),
            _lonlat(world, f.east_m + math.sin(h) * half, f.north_m + math.cos(h) * half),
        ]
        geometry = {"type": "LineString", "coordinates": ends}
    else:
        geometry = {"type": "Point", "coordinates": centre}
    return {
        "type": "Feature",
        "id": f.asset_id,
        "geometry": geometry,
        "properties": {
            "feature_type": "fixture",
            "asset_id": f.asset_id,
            "kind": f.kind,
            "class_id": f.class_id,
            "lat_deg": centre[1],
            "lon_deg": centre[0],
            "east_m": f.east_m,
            "north_m": f.north_m,
            "chainage_m": f.chainage_m,
            "side": f.side,
            "heading_deg": f.heading_deg,
            "tilt_deg": f.tilt_deg,
            "tilt_azimuth_deg": f.tilt_azimuth_deg,
            "dimensions": dataclasses.asdict(f.geometry),
            "defects": [_defect_to_dict(d) for d in f.defects],
            "mlit": mlit_summary(f),
        },
    }


def world_to_geojson(world: World) -> dict[str, Any]:
    counts = {k: sum(1 for f in world.fixtures if f.kind == k) for k in _GEOMETRY_TYPES}
    return {
        "type": "FeatureCollection",
        "properties": {
            "schema": SCHEMA,
            "name": world.name,
            "seed": world.seed,
            "origin": {"lat_deg": world.frame.lat0_deg, "lon_deg": world.frame.lon0_deg},
            "corridor_length_m": round(world.corridor.length_m, 2),
            "road": dataclasses.asdict(world.road),
            "classes": {str(i): name for i, name in enumerate(CLASS_NAMES)},
            "fixture_counts": counts,
            "defect_count": sum(len(f.defects) for f in world.fixtures),
        },
        "features": [
            {
                "type": "Feature",
                "id": "corridor",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [list(v) for v in world.corridor.vertices_lonlat],
                },
                "properties": {
                    "feature_type": "corridor",
                    "name": world.corridor.name,
                    "length_m": round(world.corridor.length_m, 2),
                },
            },
            *(_fixture_feature(world, f) for f in world.fixtures),
        ],
    }


def save_world(world: World, path: Path) -> Path:
    """Write the world as GeoJSON; a directory path gets `world.geojson` inside it."""
    if path.suffix.lower() not in (".geojson", ".json"):
        path = path / "world.geojson"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(world_to_geojson(world), ensure_ascii=False, indent=1)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a world
    return path


def _defect_from_dict(where: str, raw: Any) -> Defect:
    if not isinstance(raw, dict):
        raise WorldError(f"{where}: a defect must be an object")
    try:
        return Defect(
            defect_id=str(raw["defect_id"]),
            type=raw["type"],
            member=str(raw["member"]),
            face=str(raw.get("face", "")),
            s0_m=float(raw["s0_m"]),
            s1_m=float(raw["s1_m"]),
            t0_m=float(raw["t0_m"]),
            t1_m=float(raw["t1_m"]),
            severity=float(raw["severity"]),
            displacement_m=None
            if raw.get("displacement_m") is None
            else float(raw["displacement_m"]),
            crack_width_mm=None
            if raw.get("crack_width_mm") is None
            else float(raw["crack_width_mm"]),
        )
    except KeyError as exc:
        raise WorldError(f"{where}: defect is missing {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise WorldError(f"{where}: bad defect value: {exc}") from exc


def _fixture_from_feature(world_frame: LocalFrame, index: int, feat: dict[str, Any]) -> Fixture:
    props = feat.get("properties") or {}
    asset_id = props.get("asset_id", f"features[{index}]")
    where = f"features[{index}] ({asset_id})"
    geom = feat.get("geometry") or {}
    coords: Any = geom.get("coordinates")
    try:
        if geom.get("type") == "Point":
            lon, lat = float(coords[0]), float(coords[1])
            enu = enu_from_geodetic(world_frame, lat, lon, 0.0)
        elif geom.get("type") == "LineString" and len(coords) == 2:
            ends = np.array(coords, dtype=np.float64)
            enu = enu_from_geodetic(world_frame, ends[:, 1], ends[:, 0], [0.0, 0.0]).mean(axis=0)
        else:
            raise WorldError(f"{where}: geometry must be a Point or a 2-point LineString")
        kind = props["kind"]
        gtype = _GEOMETRY_TYPES.get(kind)
        if gtype is None:
            raise WorldError(f"{where}: unknown kind {kind!r}")
        dims = props["dimensions"]
        if not isinstance(dims, dict):
            raise WorldError(f"{where}: dimensions must be an object")
        defects = tuple(_defect_from_dict(where, d) for d in props.get("defects", []))
        return Fixture(
            asset_id=str(props["asset_id"]),
            kind=kind,
            east_m=round(float(enu[0]), 3),
            north_m=round(float(enu[1]), 3),
            heading_deg=float(props["heading_deg"]),
            geometry=gtype(**dims),
            defects=defects,
            tilt_deg=float(props.get("tilt_deg", 0.0)),
            tilt_azimuth_deg=float(props.get("tilt_azimuth_deg", 0.0)),
            side=props.get("side", "left"),
            chainage_m=float(props.get("chainage_m", 0.0)),
        )
    except KeyError as exc:
        raise WorldError(f"{where}: missing property {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        if isinstance(exc, WorldError):
            raise
        raise WorldError(f"{where}: bad value: {exc}") from exc


def world_from_geojson(doc: Any) -> World:
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise WorldError("a world file must be a GeoJSON FeatureCollection")
    meta = doc.get("properties")
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        got = meta.get("schema") if isinstance(meta, dict) else None
        raise WorldError(f'world file schema must be "{SCHEMA}", got {got!r}')
    features = doc.get("features")
    if not isinstance(features, list):
        raise WorldError('world file has no "features" array')
    corridor_feats = [
        f for f in features if (f.get("properties") or {}).get("feature_type") == "corridor"
    ]
    if len(corridor_feats) != 1:
        raise WorldError(f"world file must hold one corridor feature, found {len(corridor_feats)}")
    corridor, _ = corridor_from_geojson(corridor_feats[0])
    road_raw = meta.get("road")
    if not isinstance(road_raw, dict):
        raise WorldError('world file properties have no "road" object')
    try:
        road = RoadLayout(**road_raw)
    except TypeError as exc:
        raise WorldError(f"world file road layout: {exc}") from exc
    fixtures = tuple(
        _fixture_from_feature(corridor.frame, i, f)
        for i, f in enumerate(features)
        if (f.get("properties") or {}).get("feature_type") == "fixture"
    )
    seed = meta.get("seed")
    if not isinstance(seed, int):
        raise WorldError(f"world file seed must be an integer, got {seed!r}")
    return World(
        corridor=corridor,
        road=road,
        fixtures=fixtures,
        seed=seed,
        name=str(meta.get("name", corridor.name)),
    )


def load_world(path: Path) -> World:
    """Read a world written by `save_world`; a directory means `<dir>/world.geojson`."""
    if path.is_dir():
        path = path / "world.geojson"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorldError(f"world file {path}: cannot read it: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise WorldError(
            f"world file {path}: not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from exc
    try:
        return world_from_geojson(doc)
    except WorldError as exc:
        raise WorldError(f"world file {path}: {exc}") from exc
