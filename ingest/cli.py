"""``michimori ingest run|check``: argument parsing only."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

log = logging.getLogger("michimori.ingest")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="subscribe to device telemetry and write it to InfluxDB",
        description=(
            "Run one ingest worker: MQTT 5 shared subscription -> batched writes -> acks.\n"
            "Several workers with distinct client_id and the same share_group split the load.\n\n"
            "Example:\n  michimori ingest run --config examples/ingest.toml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, help="path to ingest.toml")
    p.set_defaults(func=_run)
    c = sub.add_parser(
        "check",
        help="validate an ingest config and print it (secrets hidden)",
        description="Example:\n  michimori ingest check --config examples/ingest.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--config", required=True, help="path to ingest.toml")
    c.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    print(f"{cfg.source}: ok")
    print(
        f"  mqtt     {cfg.mqtt.host}:{cfg.mqtt.port} as {cfg.mqtt.client_id} "
        f"(share group {cfg.mqtt.share_group}, tls {cfg.mqtt.tls})"
    )
    print(
        f"  storage  {cfg.storage.kind} {cfg.storage.url} "
        f"{cfg.storage.database if cfg.storage.kind == 'influx1' else cfg.storage.bucket}"
    )
    print(f"  deadletter {cfg.deadletter.dir}")
    print(f"  metrics  {cfg.metrics.http_listen or '(no http)'} every {cfg.metrics.interval_s} s")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_config
    from .storage import StorageError

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    from ._service import IngestService

    service = IngestService(cfg)
    try:
        service.storage.ensure_ready()
    except StorageError as exc:
        # not fatal: the writer retries until the database is back
        log.warning("storage not ready at start (%s); will retry", exc)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    stop.wait()
    log.info("stopping: writing what has arrived, then disconnecting")
    service.stop()
    return 0
