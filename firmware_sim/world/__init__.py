"""Synthetic road world: a corridor, fixtures with seeded defects, and its GeoJSON ground truth.

Errors: everything raises `WorldError` (a ValueError) with a message naming the file, the
GeoJSON member and what is wrong.
"""

from firmware_sim.world._corridor import (
    MAX_CORRIDOR_LENGTH_M,
    MIN_CORRIDOR_LENGTH_M,
    corridor_from_geojson,
    load_corridor,
)
from firmware_sim.world._generate import GeneratorConfig, generate_world
from firmware_sim.world._geojson import (
    SCHEMA,
    load_world,
    save_world,
    world_from_geojson,
    world_to_geojson,
)
from firmware_sim.world._mlit import expected_grade, mlit_summary
from firmware_sim.world._model import (
    CLASS_IDS,
    CLASS_NAMES,
    Corridor,
    Defect,
    DefectType,
    Fixture,
    FixtureKind,
    GuardrailGeometry,
    LightPoleGeometry,
    RoadLayout,
    SignGeometry,
    World,
    WorldError,
)
from firmware_sim.world._paths import DEFAULT_CORRIDOR

__all__ = [
    "CLASS_IDS",
    "CLASS_NAMES",
    "DEFAULT_CORRIDOR",
    "MAX_CORRIDOR_LENGTH_M",
    "MIN_CORRIDOR_LENGTH_M",
    "SCHEMA",
    "Corridor",
    "Defect",
    "DefectType",
    "Fixture",
    "FixtureKind",
    "GeneratorConfig",
    "GuardrailGeometry",
    "LightPoleGeometry",
    "RoadLayout",
    "SignGeometry",
    "World",
    "WorldError",
    "corridor_from_geojson",
    "expected_grade",
    "generate_world",
    "load_corridor",
    "load_world",
    "mlit_summary",
    "save_world",
    "world_from_geojson",
    "world_to_geojson",
]
