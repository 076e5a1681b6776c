"""``michimori edge run|check``: argument parsing and the hardware shell around the agent.

Cheap to import: the agent, paho and the emulator are imported inside the commands.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import EdgeConfig
    from .sampler import SensorLike
    from .sensors import Sensor

log = logging.getLogger("edge.cli")


def add_parser(sub: Any) -> None:
    """Add ``run`` and ``check`` to the subparsers of the ``edge`` command."""
    p = sub.add_parser(
        "run",
        help="run the edge agent: sample sensors, queue on disk, publish to the broker",
        description=(
            "Run the edge agent of one field device. SIGTERM (or Ctrl-C) stops sampling and "
            "publishes what is queued until [agent] drain_timeout_s; the rest stays on disk "
            "for the next start. A second signal stops at once.\n\n"
            "Example:\n  michimori edge run --config examples/edge.toml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, type=Path, help="path to edge.toml")
    p.set_defaults(func=run_command)
    c = sub.add_parser(
        "check",
        help="validate an edge config and print it (no secrets)",
        description=(
            "Validate edge.toml, check that the files it names can be used, show the queue "
            "and print the config as JSON (paths only, never a password).\n\n"
            "Example:\n  michimori edge check --config examples/edge.toml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--config", required=True, type=Path, help="path to edge.toml")
    c.set_defaults(func=check_command)


def _load(path: Path) -> EdgeConfig | None:
    from .config import load_config
    from .errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        log.error("%s", exc)
        return None


def check_command(args: argparse.Namespace) -> int:
    from .errors import EdgeError, QueueError
    from .link import read_password
    from .queue import DiskQueue

    cfg = _load(args.config)
    if cfg is None:
        return 2
    problems: list[str] = []
    b = cfg.mqtt
    if b.password_file is not None:
        try:
            read_password(b.password_file)
        except EdgeError as exc:
            problems.append(str(exc))
    if b.tls is not None:
        for p in (b.tls.ca_file, b.tls.cert_file, b.tls.key_file):
            if p is not None and not p.is_file():
                problems.append(f"TLS file {p} does not exist")
    if cfg.hardware.kind == "real":
        problems += _real_hardware_problems(cfg)
    queue_note = "new (no file yet)"
    if cfg.queue.path.exists():
        try:
            with DiskQueue(cfg.queue.path, max_bytes=cfg.queue.max_bytes) as q:
                st = q.stats()
                queue_note = (
                    f"{st.depth} queued ({st.events} events), {st.payload_bytes} bytes, "
                    f"{st.dropped_total} dropped in all, next seq {st.next_seq}"
                )
        except QueueError as exc:
            queue_note = str(exc)
    print(json.dumps(cfg.redacted(), indent=2, sort_keys=False))
    print(f"queue: {queue_note}")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{cfg.source}: ok")
    return 0


def _real_hardware_problems(cfg: EdgeConfig) -> list[str]:
    names = {s.name for s in cfg.sensors}
    hw = cfg.hardware
    out = []
    if "gnss" in names and not hw.gnss_port:
        out.append("sensor gnss is enabled but [hardware] gnss_port is empty")
    if "link" in names and not hw.link_status_file:
        out.append("sensor link is enabled but [hardware] link_status_file is empty")
    return out


def open_hardware(cfg: EdgeConfig) -> tuple[dict[str, SensorLike], Any, Callable[[], None]]:
    """The configured sensors, the device clock (None: the system's) and a closer.

    Emulated hardware comes from firmware_sim, imported only here: a real node never loads it.
    """
    from .sensors import SensorSpec, open_sensors

    names = {s.name for s in cfg.sensors}
    hw = cfg.hardware
    if hw.kind == "emulated":
        from firmware_sim.node import EmulatedNode, open_emulated_sensors

        node = EmulatedNode(cfg.device.device, hw.seed, hw.lat, hw.lon)
        try:
            sensors: list[Sensor] = open_emulated_sensors(node, strict=False)
        except BaseException:
            node.close()
            raise
        chosen = {s.name: s for s in sensors if s.name in names}
        return chosen, node.clock, node.close  # type: ignore[return-value]
    spec = SensorSpec(
        i2c_bus=hw.i2c_bus if names & {"tilt", "vibration", "environment"} else None,
        accel_address=hw.accel_address if names & {"tilt", "vibration"} else None,
        bme280_address=hw.bme280_address if "environment" in names else None,
        gnss_port=hw.gnss_port if "gnss" in names and hw.gnss_port else None,
        gnss_baud=hw.gnss_baud,
        link_source=Path(hw.link_status_file) if "link" in names and hw.link_status_file else None,
    )
    # strict=False: a dead part is reported by the agent as a sensor_fault, the rest still run.
    sensors = open_sensors(spec, strict=False)
    chosen = {s.name: s for s in sensors if s.name in names}
    return chosen, None, lambda: None  # type: ignore[return-value]


def run_command(args: argparse.Namespace) -> int:
    from .agent import Agent
    from .errors import EdgeError
    from .sensors import SensorError

    cfg = _load(args.config)
    if cfg is None:
        return 2
    logging.getLogger("edge").setLevel(cfg.agent.log_level.upper())
    problems = _real_hardware_problems(cfg) if cfg.hardware.kind == "real" else []
    if problems:
        for problem in problems:
            log.error("%s: %s", cfg.source, problem)
        return 2
    try:
        sensors, clock, close_hw = open_hardware(cfg)
    except (SensorError, OSError, ValueError) as exc:
        log.error("cannot open the sensors: %s", exc)
        return 1
    missing = sorted({s.name for s in cfg.sensors} - set(sensors))
    if missing:
        close_hw()
        log.error("these enabled sensors are not fitted: %s", ", ".join(missing))
        return 2
    stop = threading.Event()
    try:
        agent = Agent(cfg, sensors, sensor_errors=(SensorError,), clock=clock)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if stop.is_set():
                log.warning("%s again: stopping now, the queue stays on disk", name)
                agent.hurry()
            else:
                log.info("%s: stopping sampling and draining the queue", name)
                stop.set()
            agent.wake.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return agent.run(stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    except EdgeError as exc:
        log.error("%s", exc)
        return 1
    finally:
        close_hw()
