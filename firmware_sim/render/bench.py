"""Renderer benchmark: frames per second on one CPU core at a given size, render only and
render + write (JPEG with EXIF/XMP, YOLO txt, JSON sidecar).

    .venv/bin/python -m firmware_sim.render.bench --frames 60 --json

Thread pools are limited to one thread before numpy/OpenCV load, so the number is per core.
CPU time (process_time) is reported next to wall time: on a shared machine wall time also
counts time spent waiting for the CPU.
"""

from __future__ import annotations

import os

# Must happen before numpy / OpenCV start their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--frames", type=int, default=60, help="frames to time [default: 60]")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT [default: 1280x720]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-randomise", action="store_true", help="fixed conditions, no effects")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)

    import cv2
    import numpy as np

    from firmware_sim.render import FrameRenderer, sample_pose, write_frame
    from firmware_sim.render.cli import parse_size
    from firmware_sim.world import DEFAULT_CORRIDOR, generate_world, load_corridor
    from inspection.camera import DEFAULT_INTRINSICS

    cv2.setNumThreads(1)
    width, height = parse_size(args.size)
    intrinsics = DEFAULT_INTRINSICS.scaled(width, height)
    corridor, road = load_corridor(DEFAULT_CORRIDOR)
    world = generate_world(corridor, road, seed=args.seed)
    t0 = time.perf_counter()
    renderer = FrameRenderer(world, intrinsics, seed=args.seed, randomise=not args.no_randomise)
    setup_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    poses = [sample_pose(world, rng) for _ in range(args.frames + 3)]
    for pose in poses[:3]:  # warm caches
        renderer.render(pose)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    frames = [renderer.render(pose) for pose in poses[3:]]
    wall_r, cpu_r = time.perf_counter() - wall0, time.process_time() - cpu0
    labels = sum(len(f.labels) for f in frames)
    with tempfile.TemporaryDirectory() as tmp:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for i, f in enumerate(frames):
            write_frame(f, Path(tmp), f"f{i:05d}", jpeg_quality=f.conditions.jpeg_quality)
        wall_w, cpu_w = time.perf_counter() - wall0, time.process_time() - cpu0
    n = len(frames)
    result = {
        "size": f"{width}x{height}",
        "frames": n,
        "randomise": not args.no_randomise,
        "setup_s": round(setup_s, 2),
        "render_fps_cpu": round(n / cpu_r, 2),
        "render_fps_wall": round(n / wall_r, 2),
        "render_ms_per_frame_cpu": round(cpu_r / n * 1000, 1),
        "render_and_write_fps_cpu": round(n / (cpu_r + cpu_w), 2),
        "render_and_write_fps_wall": round(n / (wall_r + wall_w), 2),
        "labels_per_frame": round(labels / n, 2),
        "threads": 1,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
