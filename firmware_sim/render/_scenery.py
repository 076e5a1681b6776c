"""Background clutter that is not ground truth: street trees and buildings (fixed per world,
seeded) and cars (new every frame). They occlude fixtures and cast shadows like fixtures do."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from firmware_sim.render._mesh import COLOUR_OVERLAY, Mesh, MeshBuilder, Sprite, local_to_world
from firmware_sim.world import World

__all__ = ["build_scenery", "make_cars"]

F64 = npt.NDArray[np.float64]

FACADES = [
    (190, 200, 205),
    (150, 160, 170),
    (120, 135, 160),
    (205, 210, 215),
    (95, 105, 120),
    (160, 175, 190),
]
CAR_PAINTS = [
    (235, 235, 235),
    (25, 25, 25),
    (185, 185, 190),
    (40, 40, 170),
    (150, 80, 30),
    (120, 120, 125),
    (60, 140, 200),
]
CHUNK_M = 60.0


def _frame_at(world: World, s: float, offset: float) -> tuple[F64, F64, F64]:
    """Position at chainage s and lateral offset (left +), plus the along and left unit vectors."""
    p, d = world.corridor.point_at(s)
    left = np.array([-d[1], d[0]])
    return p + left * offset, d, left


def _clear_of_fixtures(world: World, pos: F64, radius: float) -> bool:
    return all(math.hypot(f.east_m - pos[0], f.north_m - pos[1]) > radius for f in world.fixtures)


def _tree(b: MeshBuilder, rng: np.random.Generator, pos: F64) -> None:
    trunk_h = float(rng.uniform(2.2, 3.5))
    radius = float(rng.uniform(1.6, 2.8))
    b.add_cylinder(
        (pos[0], pos[1], 0.0),
        (pos[0], pos[1], trunk_h + radius * 0.4),
        0.13,
        0.09,
        6,
        (45, 62, 80),
        cap=False,
    )
    greens = [(45, 105, 60), (40, 120, 80), (60, 120, 95), (35, 90, 55)]
    colour = greens[int(rng.integers(0, len(greens)))]
    centre = np.array([pos[0], pos[1], trunk_h + radius * 0.8])
    b.sprites.append(Sprite(centre, radius, (float(colour[0]), float(colour[1]), float(colour[2]))))


def _building(
    b: MeshBuilder,
    rng: np.random.Generator,
    centre: F64,
    along: F64,
    width: float,
    depth: float,
    height: float,
) -> None:
    heading = math.degrees(math.atan2(along[0], along[1])) + 90.0
    rot, trans = local_to_world(float(centre[0]), float(centre[1]), heading, 0.0, 0.0)
    lb = MeshBuilder(rot, trans)
    facade = FACADES[int(rng.integers(0, len(FACADES)))]
    faces = lb.add_box(
        (0.0, 0.0, height / 2), (width / 2, depth / 2, height / 2), facade, spec=0.05
    )
    glass = (70, 62, 55) if rng.random() < 0.5 else (95, 85, 75)
    floors = max(1, int(height // 3.3))
    for name in ("front", "back", "left", "right"):
        span = width if name in ("front", "back") else depth
        cols = max(1, int(span // 3.0))
        for fl in range(floors):
            z0 = 0.9 + fl * 3.3
            z1 = min(z0 + 1.6, height - 0.4)
            if z1 <= z0:
                continue
            for c in range(cols):
                t0 = -span / 2 + (c + 0.2) * span / cols
                t1 = -span / 2 + (c + 0.8) * span / cols
                off = 0.02
                if name == "front":
                    quad = [
                        (t0, depth / 2 + off, z0),
                        (t1, depth / 2 + off, z0),
                        (t1, depth / 2 + off, z1),
                        (t0, depth / 2 + off, z1),
                    ]
                    n = (0, 1, 0)
                elif name == "back":
                    quad = [
                        (t1, -depth / 2 - off, z0),
                        (t0, -depth / 2 - off, z0),
                        (t0, -depth / 2 - off, z1),
                        (t1, -depth / 2 - off, z1),
                    ]
                    n = (0, -1, 0)
                elif name == "right":
                    quad = [
                        (width / 2 + off, t1, z0),
                        (width / 2 + off, t0, z0),
                        (width / 2 + off, t0, z1),
                        (width / 2 + off, t1, z1),
                    ]
                    n = (1, 0, 0)
                else:
                    quad = [
                        (-width / 2 - off, t0, z0),
                        (-width / 2 - off, t1, z0),
                        (-width / 2 - off, t1, z1),
                        (-width / 2 - off, t0, z1),
                    ]
                    n = (-1, 0, 0)
                lb.add_quad(
                    quad, glass, normal_local=n, spec=0.6, kind=COLOUR_OVERLAY, parent=faces[name]
                )
    b.extend(lb.build())


def build_scenery(world: World, seed: int) -> list[Mesh]:
    """Trees along the back of the sidewalks and buildings behind them, in ~60 m chunks."""
    rng = np.random.default_rng(seed)
    road = world.road
    length = world.corridor.length_m
    walk_back = road.carriageway_half_width_m + road.kerb_width_m + road.sidewalk_width_m
    chunks: list[Mesh] = []
    s0 = -60.0
    while s0 < length + 60.0:
        b = MeshBuilder()
        for sgn in (1.0, -1.0):
            s = s0 + float(rng.uniform(0, 8))
            while s < s0 + CHUNK_M:
                pos, _, _ = _frame_at(world, s, sgn * (walk_back - 1.0))
                if _clear_of_fixtures(world, pos, 6.0) and rng.random() < 0.8:
                    _tree(b, rng, pos)
                s += float(rng.uniform(12, 22))
            s = s0
            while s < s0 + CHUNK_M:
                width = float(rng.uniform(8, 22))
                depth = float(rng.uniform(10, 18))
                setback = float(rng.uniform(1.0, 6.0))
                height = float(
                    rng.choice([7.0, 10.0, 14.0, 20.0, 27.0], p=[0.25, 0.3, 0.2, 0.15, 0.1])
                )
                centre, along, _ = _frame_at(
                    world,
                    s + width / 2,
                    sgn * (walk_back + road.verge_width_m * 0 + setback + depth / 2),
                )
                if rng.random() < 0.85:
                    _building(b, rng, centre, along, width, depth, height)
                s += width + float(rng.uniform(0.5, 4.0))
        if b.count or b.sprites:
            chunks.append(b.build())
        s0 += CHUNK_M
    return chunks


def make_cars(world: World, rng: np.random.Generator, near_s: float, count: int) -> list[Mesh]:
    """`count` cars on the carriageway within ~70 m of chainage near_s, in their lanes."""
    road = world.road
    cars: list[Mesh] = []
    for _ in range(count):
        s = near_s + float(rng.uniform(-70, 70))
        lane = int(rng.integers(0, road.lanes_per_direction))
        side = 1.0 if rng.random() < 0.5 else -1.0
        offset = side * (road.median_width_m / 2 + (lane + 0.5) * road.lane_width_m)
        pos, along, _ = _frame_at(world, s, offset)
        # Traffic keeps left: the left side (+offset) drives along the corridor direction.
        heading = math.degrees(math.atan2(along[0], along[1])) + (0.0 if side > 0 else 180.0)
        rot, trans = local_to_world(
            float(pos[0]), float(pos[1]), heading + float(rng.normal(0, 2)), 0.0, 0.0
        )
        b = MeshBuilder(rot, trans)
        paint = CAR_PAINTS[int(rng.integers(0, len(CAR_PAINTS)))]
        length = float(rng.uniform(3.4, 4.8))
        width = float(rng.uniform(1.48, 1.8))
        b.add_box((0, 0, 0.55), (width / 2, length / 2, 0.33), paint, spec=0.8)
        cab_len = length * float(rng.uniform(0.45, 0.6))
        glass = (45, 42, 40)
        faces = b.add_box(
            (0, -0.1 * length, 1.12),
            (width / 2 - 0.08, cab_len / 2, 0.25),
            glass,
            spec=0.9,
            faces=("front", "back", "left", "right"),
        )
        del faces
        b.add_box(
            (0, -0.1 * length, 1.375),
            (width / 2 - 0.1, cab_len / 2 - 0.1, 0.005),
            paint,
            spec=0.8,
            faces=("top",),
        )
        cars.append(b.build())
    return cars
