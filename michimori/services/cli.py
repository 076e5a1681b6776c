"""``michimori services up|down|status``: local Mosquitto + InfluxDB in the project's state dir.

They run as plain child processes detached from the terminal (not system services), with
configs generated into ``<state-dir>``; ``services.json`` there records pids and ports.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from ._process import ServiceError, http_ready, tcp_ready
from ._services import InfluxDB, Mosquitto

DEFAULT_STATE_DIR = Path("state/services")
# Off the standard 1883/8086 so a system broker or database on the same host never clashes.
DEFAULT_MQTT_PORT = 18830
DEFAULT_INFLUX_PORT = 18086


def add_parser(sub: Any) -> None:
    for name, func, text in (
        ("up", _up, "start Mosquitto and InfluxDB on 127.0.0.1 (idempotent)"),
        ("down", _down, "stop them"),
        ("status", _status, "show whether they run, their ports and state folder"),
    ):
        p = sub.add_parser(
            name,
            help=text,
            description=f"{text.capitalize()}.\n\nExample:\n  michimori services {name}"
            + (" --json" if name == "status" else ""),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "--state-dir",
            type=Path,
            default=DEFAULT_STATE_DIR,
            help=f"where configs, data and logs live (default {DEFAULT_STATE_DIR})",
        )
        if name == "up":
            p.add_argument("--mqtt-port", type=int, default=DEFAULT_MQTT_PORT)
            p.add_argument("--influx-port", type=int, default=DEFAULT_INFLUX_PORT)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        p.set_defaults(func=func)


def _state_file(state_dir: Path) -> Path:
    return state_dir / "services.json"


def _alive(pid: int, binary: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return binary.encode() in cmdline  # a recycled pid running something else is not ours


def read_status(state_dir: Path) -> dict[str, Any]:
    """What runs now, checked against the processes and ports, not just the file."""
    path = _state_file(state_dir)
    info: dict[str, Any] = {"state_dir": str(state_dir.resolve()), "services": {}}
    if not path.exists():
        return info
    recorded = json.loads(path.read_text())
    for name, svc in recorded.get("services", {}).items():
        running = _alive(svc["pid"], svc["binary"])
        if name == "mosquitto":
            answering = running and tcp_ready(svc["host"], svc["port"])()
        else:
            answering = running and http_ready(f"http://{svc['host']}:{svc['port']}/ping")()
        info["services"][name] = {**svc, "running": running, "answering": answering}
    return info


def _up(args: argparse.Namespace) -> int:
    state: Path = args.state_dir
    current = read_status(state)
    if current["services"] and all(s["answering"] for s in current["services"].values()):
        return _print(current, args.json, "already running")
    _stop_recorded(state)
    state.mkdir(parents=True, exist_ok=True)
    mq = Mosquitto(state / "mosquitto", port=args.mqtt_port, detach=True)
    influx = InfluxDB(state / "influxdb", port=args.influx_port, detach=True)
    try:
        mq.start()
        influx.start()
    except ServiceError as exc:
        mq.stop()
        influx.stop()
        print(f"error: {exc}")
        return 1
    services = {
        "mosquitto": {
            "pid": mq.pid,
            "binary": "mosquitto",
            "host": mq.endpoint.host,
            "port": mq.endpoint.port,
            "url": f"mqtt://{mq.endpoint.host}:{mq.endpoint.port}",
            "log": str(mq.log_path),
        },
        "influxdb": {
            "pid": influx.pid,
            "binary": "influxd",
            "host": influx.endpoint.host,
            "port": influx.endpoint.port,
            "url": influx.endpoint.url,
            "log": str(influx.log_path),
        },
    }
    _state_file(state).write_text(json.dumps({"services": services}, indent=2))
    return _print(read_status(state), args.json, "started")


def _stop_recorded(state: Path, timeout_s: float = 20.0) -> list[str]:
    path = _state_file(state)
    if not path.exists():
        return []
    stopped = []
    for name, svc in json.loads(path.read_text()).get("services", {}).items():
        pid = svc["pid"]
        if not _alive(pid, svc["binary"]):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid, svc["binary"]) and time.monotonic() < deadline:
            time.sleep(0.05)  # not our child: no wait() to block on
        if _alive(pid, svc["binary"]):
            os.kill(pid, signal.SIGKILL)
        stopped.append(name)
    path.unlink()
    return stopped


def _down(args: argparse.Namespace) -> int:
    stopped = _stop_recorded(args.state_dir)
    if args.json:
        print(json.dumps({"stopped": stopped}))
    else:
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    info = read_status(args.state_dir)
    _print(info, args.json, "status")
    ok = bool(info["services"]) and all(s["answering"] for s in info["services"].values())
    return 0 if ok else 1


def _print(info: dict[str, Any], as_json: bool, headline: str) -> int:
    if as_json:
        print(json.dumps(info))
        return 0
    print(f"{headline}; state folder {info['state_dir']}")
    if not info["services"]:
        print("  no services recorded (run `michimori services up`)")
    for name, s in info["services"].items():
        mark = "up" if s["answering"] else ("starting/unhealthy" if s["running"] else "down")
        print(f"  {name:10s} {mark:8s} {s['url']}  pid {s['pid']}  log {s['log']}")
    return 0
