"""`michimori sim vehicle`: run the simulated MAVLink vehicle on the network until interrupted.
Cheap to import: the simulator itself is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)

_DESCRIPTION = """\
Run a simulated ArduCopter-like quadcopter that ground-control software (dronekit, MAVProxy,
QGroundControl, MAVSDK) can connect to over MAVLink 2: heartbeat, telemetry, parameters,
missions, GUIDED/AUTO/RTL/LAND, camera trigger by distance with CAMERA_FEEDBACK, and one rendered
frame per photo when --world and --frames-out are given. Faults can be scheduled in simulated
seconds after boot.

example:
  michimori sim vehicle --world out/world.geojson --listen udp:127.0.0.1:14550 \\
      --frames-out out/frames --speedup 5 --fault gps-loss@300:20 --fault low-battery@600
  mavproxy.py --master=udpout:127.0.0.1:14550      # or dronekit.connect("udpout:127.0.0.1:14550")
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `vehicle` subcommand (under `michimori sim`)."""
    p = subparsers.add_parser(
        "vehicle",
        help="simulated MAVLink 2 quadcopter for dronekit / MAVProxy / QGroundControl",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--listen",
        default="udp:127.0.0.1:14550",
        help="address to bind: udp:HOST:PORT (replies go to every peer that sends) or "
        "tcp:HOST:PORT (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        action="append",
        default=[],
        metavar="udp:HOST:PORT",
        help="also send to a ground station listening there, like SITL's --out (repeatable)",
    )
    p.add_argument("--world", type=Path, help="world GeoJSON (michimori sim world); gives home")
    p.add_argument(
        "--home",
        help="LAT,LON[,ALT_M[,HEADING_DEG]] of the take-off point (default: the world's origin, "
        "else Tokyo Station)",
    )
    p.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        help="simulated seconds per wall-clock second (default: %(default)s; CI uses 5-10)",
    )
    p.add_argument(
        "--frames-out",
        type=Path,
        help="folder for IMG_0001.jpg... rendered at every camera trigger (needs --world)",
    )
    p.add_argument("--seed", type=int, default=0, help="renderer seed (default: %(default)s)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND@AT_S[:DURATION_S]",
        help="inject a fault: gps-loss, link-loss or low-battery at AT_S simulated seconds "
        "(e.g. gps-loss@120, link-loss@60:10, low-battery@90); repeatable",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter default, e.g. SIM_WIND_SPD=5 (repeatable)",
    )
    p.add_argument("--sysid", type=int, default=1, help="MAVLink system id (default: 1)")
    p.add_argument(
        "--duration-s",
        type=float,
        help="stop after this many wall-clock seconds (default: run until Ctrl-C / SIGTERM)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from firmware_sim.vehicle._config import (
        Endpoint,
        FaultSpec,
        HomePosition,
        parse_param_override,
    )
    from firmware_sim.vehicle._errors import VehicleConfigError, VehicleServerError
    from firmware_sim.vehicle._server import SimVehicleServer

    try:
        listen = Endpoint.parse(args.listen, option="--listen")
        outs = [Endpoint.parse(o, option="--out") for o in args.out]
        home = HomePosition.parse(args.home) if args.home else None
        faults = [FaultSpec.parse(f) for f in args.fault]
        params = dict(parse_param_override(p) for p in args.param)
        if args.world is not None and not args.world.is_file():
            raise VehicleConfigError("--world", f"no such file: {args.world}")
        if args.duration_s is not None and not args.duration_s > 0:
            raise VehicleConfigError("--duration-s", "must be > 0")
        server = SimVehicleServer(
            listen=listen,
            out=outs,
            home=home,
            speedup=args.speedup,
            frames_dir=args.frames_out,
            world_path=args.world,
            seed=args.seed,
            faults=faults,
            params=params,
            system_id=args.sysid,
        )
    except VehicleConfigError as exc:
        logger.error("sim vehicle: %s", exc)
        return 2
    except VehicleServerError as exc:
        logger.error("sim vehicle: %s", exc)
        return 1

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    # The bound address on stdout (port 0 picks a free one) lets scripts find the vehicle.
    print(f"listening {server.url}", flush=True)
    try:
        stop.wait(args.duration_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    try:
        server.close()
    except VehicleServerError as exc:
        logger.error("sim vehicle: %s", exc)
        return 1
    photos = server.vehicle.photo_count
    logger.info(
        "simulated vehicle stopped after %.0f s simulated, %d photo(s)",
        server.vehicle.time_s,
        photos,
    )
    return 0
