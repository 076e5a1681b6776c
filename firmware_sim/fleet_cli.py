"""``michimori sim fleet``: argument parsing for the fleet simulator (firmware_sim.fleet).

Cheap to import: the emulator and the agent are imported inside the command.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger("firmware_sim.fleet")


def add_parser(sub: Any) -> None:
    """Add ``fleet`` to the subparsers of the ``sim`` command."""
    p = sub.add_parser(
        "fleet",
        help="run N emulated field devices, each with the real edge agent",
        description=(
            "Run N virtual pole nodes (emulated sensors, GNSS, modem, clock) in one process, "
            "each publishing through the edge agent's own code path with its own queue file. "
            "After --seconds it stops sampling, waits until every queue is confirmed empty by "
            "the ingest (or --drain-timeout), and prints per device: generated, last_seq, "
            "dropped, unconfirmed. Exit code 1 if anything is left unconfirmed.\n\n"
            "Example:\n  michimori sim fleet --devices 20 --seconds 60 --port 1883 "
            "--state-dir state/fleet --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--devices", type=int, default=10, help="number of devices (default 10)")
    p.add_argument("--seconds", type=float, default=60.0, help="sampling time (default 60)")
    p.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    p.add_argument("--site", default="sim", help="site id of every device (default sim)")
    p.add_argument(
        "--encoding",
        choices=("json", "msgpack", "mixed"),
        default="mixed",
        help="payload encoding; mixed alternates per device (default mixed)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the emulated world (default 1)")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=Path("state/fleet"),
        help="folder for the queue files (default state/fleet)",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for every queue to be confirmed empty (default 60)",
    )
    p.add_argument(
        "--sample-interval",
        type=float,
        default=None,
        help="read every sensor at this interval in seconds (default: each sensor's own)",
    )
    p.add_argument(
        "--confirm",
        action="store_true",
        help="confirm samples with a built-in stand-in instead of the real ingest",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=fleet_command)


def fleet_command(args: argparse.Namespace) -> int:
    from .fleet import Fleet, FleetConfig

    try:
        cfg = FleetConfig(
            devices=args.devices,
            seconds=args.seconds,
            state_dir=args.state_dir,
            host=args.host,
            port=args.port,
            site=args.site,
            encoding=args.encoding,
            seed=args.seed,
            drain_timeout_s=args.drain_timeout,
            sample_interval_s=args.sample_interval,
        )
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    fleet = Fleet(cfg)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s: ending the sampling early; draining", signal.Signals(signum).name)
        fleet.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    responder = None
    if args.confirm:
        from edge.responder import ConfirmResponder

        responder = ConfirmResponder(args.host, args.port, keep_samples=False).start()
    try:
        reports = fleet.run(progress)
    except OSError as exc:
        log.error("the fleet could not run: %s", exc)
        return 1
    finally:
        if responder is not None:
            responder.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    rows = [r.as_dict() for r in reports]
    left = sum(r.unconfirmed for r in reports)
    summary = {
        "devices": rows,
        "generated": sum(r.generated for r in reports),
        "dropped": sum(r.dropped for r in reports),
        "unconfirmed": left,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for r in rows:
            print(
                f"{r['device']}: generated {r['generated']}, last seq {r['last_seq']}, "
                f"dropped {r['dropped']}, unconfirmed {r['unconfirmed']}"
            )
        print(
            f"total: generated {summary['generated']}, dropped {summary['dropped']}, "
            f"unconfirmed {left}"
        )
    return 1 if left else 0
