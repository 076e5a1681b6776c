"""`michimori sim world`: build a synthetic road world from a corridor and a seed and write its
ground truth as GeoJSON. Cheap to import: the work happens in `run`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from firmware_sim.world._paths import DEFAULT_CORRIDOR

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> None:
    """Add the `world` subcommand to a `michimori sim` subparsers object."""
    p = subparsers.add_parser(
        "world",
        help="generate a synthetic road world (fixtures + seeded defects) as GeoJSON",
        description=(
            "Place road signs, light poles and guardrails with seeded defects (corrosion, "
            "cracks, deformation, tilt) along a corridor LineString and write the ground truth "
            "as GeoJSON (WGS84). The same corridor and seed always give the same world.\n\n"
            "example:\n  michimori sim world --seed 7 --out out/world\n"
            "  michimori sim world --corridor my_street.geojson --out out/my_world.geojson"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--corridor",
        type=Path,
        default=DEFAULT_CORRIDOR,
        help="GeoJSON LineString of the road centreline [default: the shipped ~1 km of "
        "Odori, Utsunomiya]",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed [default: 0]")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="WORLD",
        help="output directory (gets world.geojson) or a .geojson file path",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from firmware_sim.world import WorldError, generate_world, load_corridor, save_world

    try:
        corridor, road = load_corridor(args.corridor)
        world = generate_world(corridor, road, seed=args.seed)
    except WorldError as exc:
        log.error("cannot build a world: %s", exc)
        return 2
    try:
        path = save_world(world, args.out)
    except OSError as exc:
        log.error("cannot write the world to %s: %s; check the path and free space", args.out, exc)
        return 1
    kinds = {
        k: sum(1 for f in world.fixtures if f.kind == k)
        for k in ("sign", "light_pole", "guardrail")
    }
    defects = sum(len(f.defects) for f in world.fixtures)
    print(
        f"wrote {path}: corridor {corridor.name!r} {corridor.length_m:.0f} m, "
        f"{kinds['sign']} signs, {kinds['light_pole']} light poles, "
        f"{kinds['guardrail']} guardrails, {defects} defects (seed {args.seed})"
    )
    return 0
