"""``python -m edge run|check --config edge.toml``: the edge agent without the other parts' CLIs."""

from __future__ import annotations

import argparse
import logging
import sys

from .cli import add_parser


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m edge")
    parser.add_argument("--log-level", default="INFO", help="root log level (default INFO)")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
