"""`michimori sim render`: render N randomised frames of a world as a YOLO training set.
Cheap to import: numpy/OpenCV load in `run`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "parse_size", "run"]

log = logging.getLogger(__name__)


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    try:
        w_s, h_s = text.lower().split("x")
        w, h = int(w_s), int(h_s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from exc
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size must be 16..8192 px per side, got {text!r}")
    return w, h


def add_parser(subparsers: Any) -> None:
    """Add the `render` subcommand to a `michimori sim` subparsers object."""
    p = subparsers.add_parser(
        "render",
        help="render random drone-camera frames of a world with YOLO labels (training data)",
        description=(
            "Render COUNT frames of a world from random inspection poses (oblique views of "
            "fixtures, some nadir views), with randomised sun, exposure, haze, blur, noise, "
            "JPEG quality and cars. Writes OUT/frames/NAME.jpg (EXIF GPS + DJI-style XMP "
            "attitude), NAME.txt (YOLO labels) and NAME.json (pose, intrinsics, labels with "
            "asset ids), plus OUT/dataset.yaml with the class names.\n\n"
            "example:\n  michimori sim world --seed 7 --out out/world\n"
            "  michimori sim render --world out/world --out out/frames --count 500 --seed 1"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--world", type=Path, required=True, help="world.geojson or its directory")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--count", type=int, default=100, help="frames to render [default: 100]")
    p.add_argument("--seed", type=int, default=0, help="random seed [default: 0]")
    p.add_argument(
        "--size", type=parse_size, default=(1280, 720), help="WIDTHxHEIGHT [default: 1280x720]"
    )
    p.add_argument(
        "--nadir-share",
        type=float,
        default=0.15,
        help="share of straight-down corridor views [default: 0.15]",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from firmware_sim.render import FrameRenderer, RenderError, sample_pose, write_frame
    from firmware_sim.world import CLASS_NAMES, WorldError, load_world
    from inspection.camera import DEFAULT_INTRINSICS

    if args.count < 1:
        log.error("--count must be at least 1, got %d", args.count)
        return 2
    if not 0.0 <= args.nadir_share <= 1.0:
        log.error("--nadir-share must be within 0..1, got %s", args.nadir_share)
        return 2
    try:
        world = load_world(args.world)
    except WorldError as exc:
        log.error("cannot load the world: %s; make one with `michimori sim world`", exc)
        return 2
    width, height = args.size
    intrinsics = DEFAULT_INTRINSICS.scaled(width, height)
    renderer = FrameRenderer(world, intrinsics, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    frames_dir = args.out / "frames"
    try:
        frames_dir.mkdir(parents=True, exist_ok=True)
        names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASS_NAMES))
        (args.out / "dataset.yaml").write_text(
            f"# Rendered by michimori sim render from {args.world} (seed {args.seed}).\n"
            f"# Labels sit next to their images; split into train/val before training.\n"
            f"path: {args.out.resolve()}\ntrain: frames\nval: frames\nnames:\n{names}\n",
            encoding="utf-8",
        )
        labels = 0
        for i in tqdm(range(args.count), desc="rendering", unit="frame"):
            pose = sample_pose(world, rng, nadir_share=args.nadir_share)
            try:
                frame = renderer.render(pose)
            except RenderError as exc:
                log.warning("skipping frame %d: %s", i, exc)
                continue
            write_frame(
                frame,
                frames_dir,
                f"{world.name}_{args.seed}_{i:06d}",
                jpeg_quality=frame.conditions.jpeg_quality,
            )
            labels += len(frame.labels)
    except OSError as exc:
        log.error("cannot write frames to %s: %s; check the path and free space", args.out, exc)
        return 1
    print(f"wrote {args.count} frames with {labels} labels to {frames_dir}")
    return 0
