"""``michimori bench edge``: the agent's CPU and peak RSS at 1,000 samples/s, and its drain rate.

Everything runs here: a private Mosquitto in a temp dir, a confirm responder (edge.responder,
standing in for the ingest) and the real agent as a subprocess (``python -m edge run``) on an
emulated node whose five sensors are each read at rate/5 Hz. Phase 1 measures CPU (from
/proc/<pid>/stat) and peak RSS (VmHWM) over a fixed window. Phase 2 puts 100,000 samples in the
agent's queue file, as a 100 s outage at 1,000 samples/s would, starts the agent (still sampling)
and times until they are all confirmed and deleted. A bare paho QoS 1 publish loop of the same
messages through the same broker and responder is the baseline, measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("edge.bench")

ROOT = Path(__file__).resolve().parents[1]
SITE = "bench"
DEVICE = "pole-bench"
SENSORS = ("tilt", "vibration", "environment", "gnss", "link")


def add_parser(sub: Any) -> None:
    """Add ``edge`` to the subparsers of the ``bench`` command."""
    p = sub.add_parser(
        "edge",
        help="benchmark the edge agent: CPU and RSS at 1,000 samples/s, drain rate",
        description=(
            "Start a private Mosquitto and a confirm responder, run the real edge agent on an "
            "emulated node at --rate samples/s and measure its CPU share and peak RSS over "
            "--seconds; then queue --drain-samples samples as after an outage and time how "
            "fast the agent drains them. Targets: cpu_share <= 0.15, rss_mb <= 60, "
            "drain_samples_per_s >= 20000, lost = 0.\n\n"
            "Example:\n  michimori bench edge --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rate", type=float, default=1000.0, help="samples/s (default 1000)")
    p.add_argument("--seconds", type=float, default=20.0, help="measuring window (default 20)")
    p.add_argument(
        "--drain-samples", type=int, default=100_000, help="queued samples (default 100000)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, queue)")
    p.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    if args.rate <= 0 or args.seconds <= 0 or args.drain_samples < 1:
        log.error("--rate, --seconds and --drain-samples must be positive")
        return 2
    work = Path(tempfile.mkdtemp(prefix="michimori-bench-edge-"))
    try:
        result = run_bench(work, rate=args.rate, seconds=args.seconds, drain_n=args.drain_samples)
    except (OSError, RuntimeError, TimeoutError) as exc:
        log.error("benchmark failed: %s (files in %s)", exc, work)
        return 1
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    _print(result, as_json=args.json)
    return 0 if result["lost"] == 0 else 1


def run_bench(work: Path, *, rate: float, seconds: float, drain_n: int) -> dict[str, Any]:
    from michimori.services import Mosquitto

    from .responder import ConfirmResponder

    sensor_share = _sensor_read_share(rate)
    broker = Mosquitto(work / "mosquitto")
    broker.start()
    try:
        port = broker.endpoint.port
        with ConfirmResponder("127.0.0.1", port) as responder:
            baseline = _baseline(port, responder, n=min(drain_n, 50_000))
            steady = _steady(work / "steady", port, responder, rate=rate, seconds=seconds)
        with ConfirmResponder("127.0.0.1", port) as responder:
            drain = _drain(work / "drain", port, responder, rate=rate, n=drain_n)
    finally:
        broker.stop()
    drain_rate = drain["drain_samples_per_s"]
    return {
        "cpu_share": steady["cpu_share"],
        "sensor_read_cpu_share": sensor_share,
        "rss_mb": steady["rss_mb"],
        "drain_samples_per_s": drain_rate,
        "lost": steady["lost"] + drain["lost"],
        "rate_achieved": steady["rate_achieved"],
        "window_s": steady["window_s"],
        "drain_s": drain["drain_s"],
        "drain_samples": drain_n,
        "baseline_paho_samples_per_s": baseline,
        "drain_vs_baseline": round(drain_rate / baseline, 3) if baseline else None,
        "cpus": os.cpu_count(),
    }


# -- phase 0: what the emulated hardware costs, and the baseline ------------------------------


def _sensor_read_share(rate: float) -> float:
    """CPU share of just reading the five emulated sensors at ``rate`` (drivers + emulator).

    The agent runs on an emulated node, so phase 1's CPU includes the emulator's Python, which
    a real node spends in the kernel's I2C driver instead; this tells the two apart.
    """
    from firmware_sim.node import EmulatedNode, open_emulated_sensors

    from .sensors import SensorError

    with EmulatedNode("bench-probe", 11, 35.6586, 139.7454) as node:
        sensors = open_emulated_sensors(node, strict=False)
        period_s = len(SENSORS) / rate
        cpu = 0.0
        rounds = int(2.0 / period_s)
        for _ in range(rounds):
            c0 = time.thread_time()
            for s in sensors:
                # the GNSS has no fix in its first second; a failed read costs CPU too
                with contextlib.suppress(SensorError):
                    s.read()
            cpu += time.thread_time() - c0
            time.sleep(period_s)  # read at the benchmark's pace: FIFOs fill as they would
        for s in sensors:
            s.close()
    return round(cpu / (rounds * period_s), 4)


# -- the baseline ------------------------------------------------------------------


def _baseline(port: int, responder: Any, *, n: int) -> float:
    """A bare paho QoS 1 loop publishing the agent's message shape: samples/s until all PUBACKs."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from michimori.wire import Encoding, Kind, Sample, Telemetry, encode, topic

    batch = 200
    t0_ns = time.time_ns()
    payloads = [
        encode(
            Telemetry(
                1,
                SITE,
                "baseline",
                [
                    Sample(i + j, t0_ns + i + j, "tilt", {"tilt_x_deg": 0.1, "tilt_y_deg": 0.2})
                    for j in range(batch)
                ],
            ),
            Encoding.MSGPACK,
        )
        for i in range(0, n, batch)
    ]
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = Encoding.MSGPACK.content_type
    done = threading.Event()
    acked = 0

    def on_publish(*_a: Any) -> None:
        nonlocal acked
        acked += 1
        if acked == len(payloads):
            done.set()

    c = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-baseline",
        protocol=mqtt.MQTTv5,
    )
    c.on_publish = on_publish
    c.max_inflight_messages_set(16)  # the agent's default publish window
    c.connect("127.0.0.1", port)
    c.loop_start()
    t = topic(SITE, "baseline", Kind.TELEMETRY)
    start = time.monotonic()
    for p in payloads:
        c.publish(t, p, qos=1, properties=props)
    if not done.wait(120):
        raise TimeoutError("baseline publisher did not get its PUBACKs within 120 s")
    elapsed = time.monotonic() - start
    c.disconnect()
    c.loop_stop()
    want = len(payloads) * batch
    responder.wait_for(lambda: responder.device(SITE, "baseline").samples >= want, 60)
    return round(want / elapsed, 1)


# -- phase 1: CPU and RSS at the target rate --------------------------------------------------


def _write_config(folder: Path, port: int, *, rate: float, device: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    interval_s = len(SENSORS) / rate
    sensors = "\n".join(f"[sensors.{s}]\ninterval_s = {interval_s}" for s in SENSORS)
    cfg = folder / "edge.toml"
    cfg.write_text(
        f"""# written by michimori bench edge
[device]
id = "{device}"
site = "{SITE}"
encoding = "msgpack"

[mqtt]
port = {port}
reconnect_min_s = 0.1
reconnect_max_s = 1.0

[queue]
path = "queue.sqlite"
batch_max_samples = 200
linger_s = 0.2
max_bytes = 1000000000

[status]
interval_s = 5

[agent]
drain_timeout_s = 60

[hardware]
kind = "emulated"
seed = 11

{sensors}
"""
    )
    return cfg


def _start_agent(cfg: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with open(cfg.parent / "agent.log", "ab") as logf:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "--log-level", "WARNING", "run", "--config", str(cfg)],
            cwd=cfg.parent,
            env=env,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )


def _stop_agent(proc: subprocess.Popen[bytes], cfg: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(90)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        raise RuntimeError(
            f"the agent did not stop within 90 s; see {cfg.parent / 'agent.log'}"
        ) from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"the agent exited with {proc.returncode}; see {cfg.parent / 'agent.log'}"
        )


def _cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/<pid>/status")


def _wait(pred: Any, timeout_s: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if proc.poll() is not None:
            raise RuntimeError(f"the agent exited with {proc.returncode} while {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s {what}")
        time.sleep(0.05)  # a benchmark polling a file and a counter, not a test


def _last_seq(queue_path: Path) -> int:
    db = sqlite3.connect(f"file:{queue_path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
    finally:
        db.close()
    return int(row[0]) - 1


def _lost(responder: Any, queue_path: Path, device: str) -> int:
    last = _last_seq(queue_path)
    got = responder.device(SITE, device).unique
    return len(set(range(last + 1)) - got)


def _steady(
    folder: Path, port: int, responder: Any, *, rate: float, seconds: float
) -> dict[str, Any]:
    cfg = _write_config(folder, port, rate=rate, device=DEVICE)
    dev = responder.device(SITE, DEVICE)
    proc = _start_agent(cfg)
    try:
        # warm-up: imports, first connect, the emulated GNSS getting a fix
        _wait(lambda: dev.samples >= rate * 2, 60, "warming up", proc)
        n0, c0, t0 = dev.samples, _cpu_s(proc.pid), time.monotonic()
        deadline = t0 + seconds
        while (left := deadline - time.monotonic()) > 0:
            if proc.poll() is not None:
                raise RuntimeError(f"the agent exited with {proc.returncode} while measuring")
            time.sleep(min(left, 0.5))
        n1, c1, t1 = dev.samples, _cpu_s(proc.pid), time.monotonic()
        rss_mb = _hwm_mb(proc.pid)
        _stop_agent(proc, cfg)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {
        "cpu_share": round((c1 - c0) / (t1 - t0), 4),
        "rss_mb": round(rss_mb, 1),
        "rate_achieved": round((n1 - n0) / (t1 - t0), 1),
        "window_s": round(t1 - t0, 2),
        "lost": _lost(responder, folder / "queue.sqlite", DEVICE),
    }


# -- phase 2: draining after an outage -------------------------------------------------------


def _prefill(queue_path: Path, n: int) -> None:
    """Queue ``n`` samples with the agent's own DiskQueue, as a long outage would leave them."""
    from michimori.wire import Sample

    from .alerts import FieldValue
    from .publisher import BODY_ENCODER
    from .queue import DiskQueue, Lane

    t0 = time.time_ns() - n * 1_000_000  # 1 ms apart, ending now
    with DiskQueue(queue_path, max_bytes=10**9) as q:
        for i in range(n):
            seq = q.next_seq()
            fields: dict[str, FieldValue] = {"tilt_x_deg": 0.12 + i * 1e-6, "tilt_y_deg": -0.05}
            sample = Sample(seq, t0 + i * 1_000_000, "tilt", fields)
            q.append(seq, Lane.BULK, sample.ts_ns, BODY_ENCODER.encode(sample))
            if i % 1000 == 999:
                q.commit()
        q.last_ts_ns = t0 + n * 1_000_000
        q.commit()


def _pending_below(queue_path: Path, n: int) -> int:
    db = sqlite3.connect(f"file:{queue_path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM queue WHERE seq < ?", (n,)).fetchone()[0])
    finally:
        db.close()


def _drain(folder: Path, port: int, responder: Any, *, rate: float, n: int) -> dict[str, Any]:
    # Another device id: a fresh seq space must not meet the first phase's broker session.
    device = DEVICE + "-2"
    cfg = _write_config(folder, port, rate=rate, device=device)
    queue_path = folder / "queue.sqlite"
    _prefill(queue_path, n)
    dev = responder.device(SITE, device)
    proc = _start_agent(cfg)
    try:
        _wait(lambda: any(s.state == "online" for s in dev.statuses), 60, "connecting", proc)
        t0 = time.monotonic()
        _wait(lambda: _pending_below(queue_path, n) == 0, 600, "draining", proc)
        t1 = time.monotonic()
        _stop_agent(proc, cfg)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {
        "drain_samples_per_s": round(n / (t1 - t0), 1),
        "drain_s": round(t1 - t0, 2),
        "lost": _lost(responder, queue_path, device),
    }


def _print(r: dict[str, Any], *, as_json: bool) -> None:
    print(f"edge agent at {r['rate_achieved']:.0f} samples/s over {r['window_s']:.0f} s:")
    print(f"  cpu_share            {r['cpu_share']:.3f} of one core   (target <= 0.15)")
    print(
        f"    of which reading the emulated sensors (drivers + emulator): "
        f"{r['sensor_read_cpu_share']:.3f}"
    )
    print(f"  rss_mb               {r['rss_mb']:.1f} MB peak          (target <= 60)")
    print(
        f"  drain_samples_per_s  {r['drain_samples_per_s']:.0f}           (target >= 20000; "
        f"{r['drain_samples']} queued samples in {r['drain_s']:.1f} s, sampling on)"
    )
    print(f"  lost                 {r['lost']}")
    print(
        f"  baseline: bare paho QoS 1 publish of the same messages "
        f"{r['baseline_paho_samples_per_s']:.0f} samples/s; drain/baseline "
        f"{r['drain_vs_baseline']}"
    )
    print(f"  machine: {r['cpus']} CPUs")
    if as_json:
        print(json.dumps(r))
