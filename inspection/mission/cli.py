"""`michimori inspect plan`: plan a corridor inspection and write a QGroundControl .plan.

Cheap to import: the planner (numpy) loads only when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)

_DESCRIPTION = """\
Plan a drone inspection of a road corridor: waypoints beside the road on one or both sides,
the camera trigger distance from the camera footprint and the wanted overlap, checked against
altitude limits, a geofence around the corridor and the battery. Writes a QGroundControl
.plan file (open it in QGroundControl, or fly it with `michimori inspect fly`) and, with
--waypoints, the same mission as a MAVLink plain-text file (QGC WPL 110: Mission Planner,
MAVProxy `wp load`).

The corridor is a GeoJSON LineString (geometry, Feature or FeatureCollection) in WGS84, or a
world file written by `michimori sim world` (its corridor feature is used).

example:
  michimori inspect plan --corridor firmware_sim/world/data/utsunomiya_corridor.geojson \\
      --out out/utsunomiya.plan --alt 30 --offset 12 --sides both --overlap 0.75
"""


def _latlon(text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        return float(lat_s), float(lon_s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LAT,LON in degrees, got {text!r}") from exc


def add_parser(subparsers: Any) -> None:
    """Add the `plan` subcommand to an `inspect` subparsers object."""
    p = subparsers.add_parser(
        "plan",
        help="plan a corridor inspection flight (QGroundControl .plan)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--corridor",
        required=True,
        type=Path,
        metavar="GEOJSON",
        help="corridor LineString or world GeoJSON (a directory: its world.geojson)",
    )
    p.add_argument(
        "--out", required=True, type=Path, metavar="PLAN", help="the .plan file to write"
    )
    p.add_argument(
        "--waypoints",
        type=Path,
        metavar="FILE",
        help="also write the mission as MAVLink plain text (QGC WPL 110)",
    )
    g = p.add_argument_group("flight")
    g.add_argument(
        "--alt",
        type=float,
        default=30.0,
        metavar="M",
        help="height above the take-off point (default 30)",
    )
    g.add_argument(
        "--offset",
        type=float,
        default=12.0,
        metavar="M",
        help="distance beside the corridor centre line (default 12: over the "
        "sidewalk, not over traffic)",
    )
    g.add_argument(
        "--sides",
        choices=("left", "right", "both"),
        default="both",
        help="side(s) of the road to fly, seen along the corridor (default both)",
    )
    g.add_argument(
        "--speed", type=float, default=5.0, metavar="M/S", help="ground speed (default 5)"
    )
    g.add_argument(
        "--gimbal-pitch",
        type=float,
        default=-45.0,
        metavar="DEG",
        help="camera pitch: 0 horizon, -90 straight down (default -45)",
    )
    g.add_argument(
        "--overlap",
        type=float,
        default=0.75,
        metavar="FRACTION",
        help="forward overlap between photos, 0.5..0.95 (default 0.75)",
    )
    g.add_argument(
        "--home",
        type=_latlon,
        metavar="LAT,LON",
        help="take-off point (default: the start of the first leg)",
    )
    c = p.add_argument_group("camera (default: 1280x720, 8.8 mm lens on a 13.2 mm sensor)")
    c.add_argument("--image-size", metavar="WxH", help="photo size in pixels, e.g. 5472x3648")
    c.add_argument("--hfov", type=float, metavar="DEG", help="horizontal field of view")
    lim = p.add_argument_group("limits")
    lim.add_argument("--min-alt", type=float, default=20.0, metavar="M")
    lim.add_argument(
        "--max-alt",
        type=float,
        default=149.0,
        metavar="M",
        help="(Japan: 150 m and above needs MLIT permission)",
    )
    lim.add_argument(
        "--battery-min",
        type=float,
        default=20.0,
        metavar="MIN",
        help="battery endurance in minutes (default 20)",
    )
    lim.add_argument(
        "--battery-reserve",
        type=float,
        default=0.3,
        metavar="FRACTION",
        help="share of the battery kept unused (default 0.3)",
    )
    lim.add_argument(
        "--fence-margin",
        type=float,
        default=15.0,
        metavar="M",
        help="geofence margin beyond the flight path (default 15)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection.camera import DEFAULT_INTRINSICS, CameraError, CameraIntrinsics
    from inspection.mission import (
        MissionParams,
        PlanError,
        PlanLimits,
        load_corridor,
        plan_mission,
        waypoints_text,
        write_plan,
    )

    try:
        camera = DEFAULT_INTRINSICS
        if args.image_size or args.hfov:
            w, h = DEFAULT_INTRINSICS.width_px, DEFAULT_INTRINSICS.height_px
            if args.image_size:
                try:
                    w_s, h_s = args.image_size.lower().split("x")
                    w, h = int(w_s), int(h_s)
                except ValueError:
                    print(
                        f"error: --image-size must be WxH, got {args.image_size!r}", file=sys.stderr
                    )
                    return 2
            hfov = args.hfov if args.hfov else DEFAULT_INTRINSICS.hfov_deg
            camera = CameraIntrinsics.from_hfov(w, h, hfov)
        params = MissionParams(
            alt_m=args.alt,
            offset_m=args.offset,
            sides=args.sides,
            speed_m_s=args.speed,
            gimbal_pitch_deg=args.gimbal_pitch,
            forward_overlap=args.overlap,
            camera=camera,
            home=args.home,
        )
        limits = PlanLimits(
            min_alt_m=args.min_alt,
            max_alt_m=args.max_alt,
            battery_endurance_s=args.battery_min * 60.0,
            battery_reserve_fraction=args.battery_reserve,
            fence_margin_m=args.fence_margin,
        )
        corridor = load_corridor(args.corridor)
        plan = plan_mission(corridor, params, limits)
    except (PlanError, CameraError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_plan(plan, args.out)
        if args.waypoints:
            args.waypoints.parent.mkdir(parents=True, exist_ok=True)
            args.waypoints.write_text(waypoints_text(plan), encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write the plan: {exc}", file=sys.stderr)
        return 1
    fp = plan.footprint
    print(f"corridor   {corridor.source}: {corridor.length_m:.0f} m")
    print(
        f"flight     {len(plan.legs)} leg(s) ({', '.join(leg.side for leg in plan.legs)}) at "
        f"{params.alt_m:g} m, {params.offset_m:g} m beside the centre line, "
        f"{params.speed_m_s:g} m/s"
    )
    print(
        f"camera     pitch {params.gimbal_pitch_deg:g}°, sees {fp.near_m:.1f}..{fp.far_m:.1f} m "
        f"ahead, {fp.centre_width_m:.1f} m wide at the centre, {fp.gsd_centre_m * 100:.1f} cm/px"
    )
    print(
        f"photos     one every {plan.trigger_distance_m:.1f} m "
        f"({params.forward_overlap:.0%} overlap): {plan.expected_photos} planned"
    )
    print(
        f"route      {plan.path_length_m:.0f} m, about {plan.est_flight_time_s / 60:.1f} min of "
        f"{limits.usable_flight_time_s / 60:.1f} min usable battery"
    )
    print(f"home       {plan.home[0]:.7f},{plan.home[1]:.7f} (take-off point)")
    for warning in plan.warnings:
        print(f"warning    {warning}")
    print(f"wrote      {args.out}" + (f" and {args.waypoints}" if args.waypoints else ""))
    return 0
