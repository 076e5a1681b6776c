"""The ``michimori`` command: thin argument parsing, one subcommand group per part.

Each subcommand's parser lives next to its code (an ``add_parser(subparsers)`` function in a
module that is cheap to import); this file only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from michimori import __version__

# (group, help, [modules with add_parser]) — order is the order shown in --help.
_GROUPS: list[tuple[str, str, list[str]]] = [
    (
        "services",
        "start/stop local Mosquitto and InfluxDB for demos and development",
        ["michimori.services.cli"],
    ),
    (
        "edge",
        "the field agent on a pole: sample sensors, queue on disk, publish over MQTT",
        ["edge.cli"],
    ),
    ("ingest", "MQTT -> InfluxDB ingest service", ["ingest.cli"]),
    (
        "sim",
        "simulators: sensor fleet, road world, camera renderer, drone",
        [
            "firmware_sim.fleet_cli",
            "firmware_sim.world.cli",
            "firmware_sim.render.cli",
            "firmware_sim.vehicle.cli",
        ],
    ),
    (
        "inspect",
        "drone inspection: plan a corridor mission, fly it",
        ["inspection.mission.cli", "inspection.flight.cli"],
    ),
    (
        "bench",
        "benchmarks (print figures and a same-run baseline; --json for machines)",
        ["ingest.bench", "edge.bench"],
    ),
    ("demo", "run the whole pipeline on simulators", ["michimori.demo"]),
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the chosen group's modules are imported.

    A Raspberry Pi has only the ``edge`` extra: ``michimori edge run`` must not import numpy,
    OpenCV or dronekit for the simulator's and inspection's parsers.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args if a in {g for g, _, _ in _GROUPS}), None)
    parser = argparse.ArgumentParser(
        prog="michimori",
        description="Michimori (道守): road-fixture telemetry and drone inspection.",
        epilog="Example: michimori services up && michimori sim fleet --devices 5 --seconds 30",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"michimori {__version__}")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("MICHIMORI_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity (env MICHIMORI_LOG_LEVEL; default INFO)",
    )
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)
    for name, help_text, modules in _GROUPS:
        if name == "demo":
            if chosen == "demo":
                importlib.import_module(modules[0]).add_parser(groups)
            else:
                groups.add_parser(name, help=help_text)
            continue
        gp = groups.add_parser(name, help=help_text, description=help_text)
        if name != chosen:
            continue
        sub = gp.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
        for mod in modules:
            importlib.import_module(mod).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
