"""Tests for firmware_sim.world: corridor validation, seeded generation, GeoJSON round trip,
MLIT summary and the `sim world` command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.world import (
    DEFAULT_CORRIDOR,
    SCHEMA,
    GuardrailGeometry,
    LightPoleGeometry,
    SignGeometry,
    World,
    WorldError,
    corridor_from_geojson,
    expected_grade,
    generate_world,
    load_corridor,
    load_world,
    save_world,
    world_to_geojson,
)
from firmware_sim.world.cli import add_parser
from inspection.mission import CorridorError


def _line(coords: list[Any]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": coords}


STRAIGHT = [[139.8980, 36.5590], [139.8960, 36.5590]]  # ~180 m west


@pytest.fixture(scope="module")
def world() -> World:
    corridor, road = load_corridor(DEFAULT_CORRIDOR)
    return generate_world(corridor, road, seed=3)


def test_shipped_corridor_is_about_one_km_in_utsunomiya() -> None:
    corridor, road = load_corridor(DEFAULT_CORRIDOR)
    assert 900 <= corridor.length_m <= 1100
    assert 5 <= len(corridor.vertices_lonlat) <= 15
    for lon, lat in corridor.vertices_lonlat:
        assert 36.55 < lat < 36.57 and 139.88 < lon < 139.90
    assert road.lanes_per_direction == 2


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1, 2], "expected a GeoJSON object"),
        ({"coordinates": []}, 'no "type"'),
        ({"type": "Point", "coordinates": [139.9, 36.5]}, "got a Point"),
        ({"type": "MultiLineString", "coordinates": []}, "got a MultiLineString"),
        (_line([[139.9, 36.5]]), "at least 2 positions"),
        # Position checks are inspection.mission's shared corridor check, hence its wording.
        (_line([[139.9, 36.5], "x"]), r"position 1 is 'x'; expected \[longitude, latitude\]"),
        (_line([[36.559, 139.898], [36.559, 139.896]]), "did you swap them"),
        # A vertex drawn twice is merged (test_doubled_vertex_is_merged); only a line of
        # nothing but one point is rejected.
        (_line([[139.9, 36.5], [139.9, 36.5]]), "same point"),
        (_line([[139.8980, 36.5590], [139.8979, 36.5590]]), "at least 50 m needed"),
        (_line([[139.0, 36.0], [139.5, 36.0]]), "outside the plausible range"),
        (
            _line([[139.898, 36.559], [139.896, 36.559], [139.897, 36.560], [139.897, 36.558]]),
            "crosses or touches itself",
        ),
        (
            _line([[139.898, 36.559], [139.896, 36.559], [139.897, 36.559]]),
            "turns back on itself at position 1",
        ),
        # Not a reversal, but a hairpin too sharp for the synthetic road (world-only rule).
        (_line([[139.898, 36.559], [139.896, 36.559], [139.897, 36.5591]]), "doubles back"),
        (
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": _line(STRAIGHT)}] * 2,
            },
            "exactly one LineString",
        ),
        (
            {
                "type": "Feature",
                "properties": {"lanes_per_direction": "two"},
                "geometry": _line(STRAIGHT),
            },
            "must be a number",
        ),
    ],
)
def test_invalid_corridors_are_rejected_precisely(doc: Any, message: str) -> None:
    with pytest.raises(WorldError, match=message):
        corridor_from_geojson(doc)


def test_doubled_vertex_is_merged() -> None:
    corridor, _ = corridor_from_geojson(_line([[139.9, 36.5], [139.9, 36.5], [139.89, 36.5]]))
    assert corridor.vertices_lonlat == ((139.9, 36.5), (139.89, 36.5))


def test_corridor_error_keeps_the_shared_check_as_cause(tmp_path: Path) -> None:
    path = tmp_path / "short.geojson"
    path.write_text(json.dumps(_line([[139.898, 36.559], [139.8979, 36.559]])), encoding="utf-8")
    with pytest.raises(WorldError, match=r"^corridor file .*short\.geojson: corridor is") as info:
        load_corridor(path)
    assert isinstance(info.value.__cause__, WorldError)
    assert isinstance(info.value.__cause__.__cause__, CorridorError)


def test_invalid_json_file_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "LineString",', encoding="utf-8")
    with pytest.raises(WorldError, match=r"bad\.geojson: not valid JSON: .* line 1"):
        load_corridor(path)
    with pytest.raises(WorldError, match="cannot read"):
        load_corridor(tmp_path / "missing.geojson")


def test_feature_properties_override_road_layout() -> None:
    doc = {
        "type": "Feature",
        "properties": {"name": "test-street", "lanes_per_direction": 1, "sidewalk_width_m": 2.5},
        "geometry": _line(STRAIGHT),
    }
    corridor, road = corridor_from_geojson(doc)
    assert corridor.name == "test-street"
    assert road.lanes_per_direction == 1 and road.sidewalk_width_m == 2.5


def test_same_seed_same_world_other_seed_other_world(world: World) -> None:
    corridor, road = load_corridor(DEFAULT_CORRIDOR)
    again = generate_world(corridor, road, seed=3)
    other = generate_world(corridor, road, seed=4)
    assert again == world
    assert world_to_geojson(again) == world_to_geojson(world)
    assert other.fixtures != world.fixtures


def test_world_has_all_kinds_and_defect_types(world: World) -> None:
    kinds = {f.kind for f in world.fixtures}
    assert kinds == {"sign", "light_pole", "guardrail"}
    types = {d.type for f in world.fixtures for d in f.defects}
    assert types == {"corrosion", "crack", "deformation"}
    ids = [f.asset_id for f in world.fixtures]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("UTSUNOMIYA-ODORI-") for i in ids)
    for f in world.fixtures:
        g = f.geometry
        expected = {
            "sign": SignGeometry,
            "light_pole": LightPoleGeometry,
            "guardrail": GuardrailGeometry,
        }
        assert isinstance(g, expected[f.kind])
        for d in f.defects:
            assert d.defect_id.startswith(f.asset_id)
            assert 0 <= d.severity <= 1


def test_fixtures_stand_beside_the_road_not_on_it(world: World) -> None:
    half = world.road.carriageway_half_width_m
    for f in world.fixtures:
        p, d = world.corridor.point_at(f.chainage_m)
        lateral = abs((f.east_m - p[0]) * -d[1] + (f.north_m - p[1]) * d[0])
        assert half < lateral < world.road.sidewalk_outer_m, f.asset_id


def test_geojson_round_trip(tmp_path: Path, world: World) -> None:
    path = save_world(world, tmp_path / "w")
    assert path == tmp_path / "w" / "world.geojson"
    back = load_world(tmp_path / "w")
    assert back == world
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert doc["properties"]["schema"] == SCHEMA
    assert doc["properties"]["classes"]["4"] == "crack"
    fixture = next(f for f in doc["features"] if f["properties"].get("kind") == "guardrail")
    assert fixture["geometry"]["type"] == "LineString"
    props = fixture["properties"]
    for key in (
        "asset_id",
        "class_id",
        "lat_deg",
        "lon_deg",
        "dimensions",
        "heading_deg",
        "tilt_deg",
        "defects",
        "mlit",
    ):
        assert key in props
    assert props["mlit"]["expected_grade"] in ("I", "II", "III", "IV")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["properties"].update(schema="other/9"), "schema"),
        (lambda d: d["features"].pop(0), "one corridor"),
        (lambda d: d["features"][1]["properties"].pop("kind"), "missing property 'kind'"),
        (
            lambda d: d["features"][1]["properties"]["dimensions"].update(pole_height_m=-1),
            "positive",
        ),
    ],
)
def test_damaged_world_files_are_rejected(
    tmp_path: Path, world: World, mutate: Any, message: str
) -> None:
    doc = world_to_geojson(world)
    mutate(doc)
    path = tmp_path / "world.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(WorldError, match=message):
        load_world(path)


def test_expected_grade_rules(world: World) -> None:
    grades = {f.asset_id: expected_grade(f) for f in world.fixtures}
    for f in world.fixtures:
        if not f.defects and f.tilt_deg < 2:
            assert grades[f.asset_id] == "I"
        if f.tilt_deg >= 5:
            assert grades[f.asset_id] == "IV"
    assert set(grades.values()) >= {"I", "II", "III"}


def test_cli_world_writes_geojson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="michimori sim")
    sub = parser.add_subparsers()
    add_parser(sub)
    help_text = sub.choices["world"].format_help()
    assert "michimori sim world --seed 7 --out out/world" in help_text
    args = parser.parse_args(["world", "--seed", "5", "--out", str(tmp_path / "out")])
    assert args.func(args) == 0
    assert "light poles" in capsys.readouterr().out
    assert load_world(tmp_path / "out").seed == 5
    bad = tmp_path / "bad.geojson"
    bad.write_text("{}", encoding="utf-8")
    args = parser.parse_args(["world", "--corridor", str(bad), "--out", str(tmp_path / "x")])
    assert args.func(args) == 2
