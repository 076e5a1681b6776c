"""`michimori inspect fly`: fly a .plan with a MAVLink vehicle and write a flight folder.

Cheap to import: dronekit, pymavlink and numpy load only when the command runs.
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
Fly an inspection plan with an ArduPilot-compatible vehicle through dronekit: connect,
check (GPS/EKF ready, battery, inside the plan's geofence), upload the mission, arm in
GUIDED, take off, fly it in AUTO, record every photo's pose from CAMERA_FEEDBACK, return
and land. Progress shows on the terminal. Every wait has a timeout: a vehicle that never
becomes armable or stops answering ends the command with an error, never a hang; once
airborne, a failure commands RTL.

Writes FLIGHT_DIR: photos/ (copied from --photos-from after landing), poses.csv,
poses.geojson, mission.plan, flight.log and summary.json (planned vs captured photos,
times, battery used, errors).

connection strings:
  udp:127.0.0.1:14550    listen (ArduPilot SITL: sim_vehicle.py --out udp:127.0.0.1:14550)
  udpout:HOST:PORT       send to a vehicle that listens (the Michimori vehicle simulator)
  tcp:127.0.0.1:5760     connect over TCP (SITL's own port)
  /dev/ttyUSB0,57600     telemetry radio on a serial port, with its baud rate

examples:
  michimori inspect fly --plan out/utsunomiya.plan --connect udp:127.0.0.1:14550 \\
      --out out/flight-001
  michimori inspect fly --plan out/utsunomiya.plan --connect udpout:127.0.0.1:14560 \\
      --photos-from out/sim-frames --out out/flight-sim

exit status: 0 flight done, 1 flight failed (see FLIGHT_DIR/summary.json), 2 bad input
"""


def add_parser(subparsers: Any) -> None:
    """Add the `fly` subcommand to an `inspect` subparsers object."""
    p = subparsers.add_parser(
        "fly",
        help="fly an inspection plan with a MAVLink vehicle (dronekit)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--plan", required=True, type=Path, help="QGroundControl .plan to fly")
    p.add_argument(
        "--connect",
        required=True,
        metavar="CONNECTION",
        help="vehicle connection string (see below)",
    )
    p.add_argument(
        "--out", required=True, type=Path, metavar="FLIGHT_DIR", help="flight folder to create"
    )
    p.add_argument(
        "--photos-from",
        type=Path,
        metavar="DIR",
        help="camera storage to copy the photos from after landing (the SD card, or the "
        "simulator's frames directory); read after landing, so it may appear late",
    )
    p.add_argument(
        "--min-battery",
        type=float,
        default=80.0,
        metavar="PCT",
        help="refuse to start below this charge (default 80)",
    )
    p.add_argument(
        "--position-tolerance",
        type=float,
        default=5.0,
        metavar="M",
        help="photo vs planned trigger point distance counted as on plan (default 5)",
    )
    t = p.add_argument_group("timeouts (seconds)")
    t.add_argument("--connect-timeout", metavar="S", type=float, default=30.0)
    t.add_argument(
        "--armable-timeout",
        metavar="S",
        type=float,
        default=120.0,
        help="for GPS fix and EKF (default 120)",
    )
    t.add_argument("--mode-timeout", metavar="S", type=float, default=10.0)
    t.add_argument("--upload-timeout", metavar="S", type=float, default=60.0)
    t.add_argument("--arm-timeout", metavar="S", type=float, default=15.0)
    t.add_argument("--takeoff-timeout", metavar="S", type=float, default=90.0)
    t.add_argument(
        "--stall-timeout",
        metavar="S",
        type=float,
        default=60.0,
        help="no movement and no new mission item (default 60)",
    )
    t.add_argument(
        "--link-timeout",
        metavar="S",
        type=float,
        default=15.0,
        help="no heartbeat: link lost (default 15)",
    )
    t.add_argument(
        "--total-timeout",
        metavar="S",
        type=float,
        default=None,
        help="take-off to landing (default: twice the plan's estimate + 300)",
    )
    t.add_argument("--land-timeout", metavar="S", type=float, default=300.0)
    t.add_argument(
        "--collect-timeout",
        metavar="S",
        type=float,
        default=60.0,
        help="for photo files to appear in --photos-from (default 60)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection.flight import FlightError, FlightOptions, FlightTimeouts, TerminalProgress, fly
    from inspection.flight._dronekit import check_connection_string
    from inspection.mission import PlanError, read_plan

    try:
        check_connection_string(args.connect)
        timeouts = FlightTimeouts(
            connect_s=args.connect_timeout,
            armable_s=args.armable_timeout,
            mode_s=args.mode_timeout,
            upload_s=args.upload_timeout,
            arm_s=args.arm_timeout,
            takeoff_s=args.takeoff_timeout,
            stall_s=args.stall_timeout,
            link_s=args.link_timeout,
            total_s=args.total_timeout,
            land_s=args.land_timeout,
            collect_s=args.collect_timeout,
        )
        plan = read_plan(args.plan)
    except (ValueError, PlanError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    opts = FlightOptions(
        plan_path=args.plan,
        connection=args.connect,
        out_dir=args.out,
        photos_from=args.photos_from,
        timeouts=timeouts,
        min_battery_pct=args.min_battery,
        position_tolerance_m=args.position_tolerance,
    )
    progress = TerminalProgress(plan.meta.expected_photos if plan.meta else None)
    try:
        summary = fly(opts, progress=progress)
    except FlightError as exc:
        print(f"error ({exc.stage}): {exc}", file=sys.stderr)
        print(f"flight folder: {args.out} (summary.json has the details)", file=sys.stderr)
        return 2 if exc.stage == "setup" else 1
    photos = summary["photos"]
    pos = summary["positions"]
    print(
        f"flight done: {photos['captured']} photos captured of {photos['planned']} planned, "
        f"{photos['collected']} copied; largest distance to a planned trigger point "
        f"{pos['max_error_m']} m; battery used {summary['battery']['used_pct']} %"
    )
    for w in summary["warnings"]:
        print(f"warning: {w}")
    print(f"flight folder: {args.out}")
    return 0
