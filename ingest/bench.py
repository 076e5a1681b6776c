"""``michimori bench ingest``: broker -> ingest -> InfluxDB throughput next to the direct ceiling.

Starts its own Mosquitto and InfluxDB in a temp dir, runs one ingest worker as a separate
process (as in production), publishes telemetry shaped like the edge agent's (MessagePack,
``--samples-per-message`` samples per message, QoS 1, several devices), waits until the
ingest reports everything written, then checks every sequence number in InfluxDB: lost and
duplicated points are counted, not assumed. The ceiling is the same InfluxDB taking the same
lines by direct HTTP writes of the same batch size, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_POINTS = 400_000
DEFAULT_SINGLE_MESSAGES = 20_000


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "ingest",
        help="points/s through broker -> ingest -> InfluxDB vs direct writes",
        description=(__doc__ or "") + "\nExample:\n  michimori bench ingest --points 400000 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--points", type=int, default=DEFAULT_POINTS, help="points to push")
    p.add_argument("--devices", type=int, default=20, help="simulated devices (topics)")
    p.add_argument(
        "--samples-per-message",
        type=int,
        default=50,
        help="samples per MQTT message (the agent's batch_max_samples)",
    )
    p.add_argument("--batch", type=int, default=5000, help="InfluxDB write batch (points)")
    p.add_argument(
        "--single-messages",
        type=int,
        default=DEFAULT_SINGLE_MESSAGES,
        help="messages for the one-sample-per-message run",
    )
    p.add_argument(
        "--publisher",
        choices=["mosquitto_pub", "paho"],
        default="mosquitto_pub" if shutil.which("mosquitto_pub") else "paho",
        help="who plays the devices: one mosquitto_pub per device sending the agents' JSON "
        "payloads (default, cheap on CPU) or one Python paho client sending MessagePack",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=run)


def _fields(i: int) -> dict[str, bool | int | float | str]:
    # the shape of an environment + tilt sample: a handful of floats
    return {
        "tilt_x_deg": 0.01 * (i % 100),
        "tilt_y_deg": -0.02,
        "temperature_c": 12.5,
        "humidity_pct": 61.0,
    }


def _payloads(
    site: str, devices: int, total: int, per_msg: int, t0: int, encoding: str = "msgpack"
) -> list[tuple[str, bytes]]:
    from michimori.wire import Encoding, Kind, Sample, Telemetry, encode, topic

    enc = Encoding(encoding)
    out: list[tuple[str, bytes]] = []
    per_dev = total // devices
    for d in range(devices):
        dev = f"bench-{d:03d}"
        for start in range(1, per_dev + 1, per_msg):
            seqs = range(start, min(start + per_msg, per_dev + 1))
            msg = Telemetry(
                v=1,
                site=site,
                device=dev,
                samples=[
                    Sample(seq=s, ts_ns=t0 + s * 1_000_000, sensor="tilt", fields=_fields(s))
                    for s in seqs
                ],
            )
            out.append((topic(site, dev, Kind.TELEMETRY), encode(msg, enc)))
    # interleave devices as a fleet would
    out.sort(key=lambda tp: (tp[1][-40:], tp[0]))
    return out


def _direct_ceiling(url: str, db: str, points: int, batch: int, t0: int) -> float:
    from ingest._lineprotocol import sample_line
    from ingest.storage import Influx1Storage
    from michimori.wire import Sample

    st = Influx1Storage(url, db)
    st.ensure_ready()
    lines = [
        sample_line(
            "ceiling",
            f"dev-{i % 20}",
            Sample(seq=i, ts_ns=t0 + i * 1000, sensor="tilt", fields=_fields(i)),
        )
        for i in range(points)
    ]
    start = time.perf_counter()
    for i in range(0, len(lines), batch):
        st.write(lines[i : i + batch])
    elapsed = time.perf_counter() - start
    st.close()
    return points / elapsed


def _publish_all(host: str, port: int, payloads: list[tuple[str, bytes]]) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    c = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv5,
    )
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect(host, port)
    c.loop_start()
    if not connected.wait(10):
        raise RuntimeError("bench publisher could not connect")
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = "application/msgpack"
    infos = [c.publish(t, p, qos=1, properties=props) for t, p in payloads]
    for info in infos[-100:]:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def _publish_mosquitto_pub(host: str, port: int, payloads: list[tuple[str, bytes]]) -> None:
    """One ``mosquitto_pub -l`` per device topic: the agents' JSON payloads, one per line.

    The C client costs a fraction of a Python publisher's CPU, which on a 2-core machine would
    otherwise be taken from the ingest being measured (real devices are elsewhere).
    """
    by_topic: dict[str, list[bytes]] = {}
    for t, p in payloads:
        by_topic.setdefault(t, []).append(p)
    procs = []
    for i, (t, msgs) in enumerate(by_topic.items()):
        proc = subprocess.Popen(
            [
                "mosquitto_pub",
                "-h",
                host,
                "-p",
                str(port),
                "-V",
                "5",
                "-q",
                "1",
                "-M",
                "100",
                "-i",
                f"bench-pub-{i}-{time.monotonic_ns()}",
                "-t",
                t,
                "-l",
                "-D",
                "publish",
                "content-type",
                "application/json",
            ],
            stdin=subprocess.PIPE,
        )
        procs.append((proc, b"\n".join(msgs) + b"\n"))
    feeders = [threading.Thread(target=proc.communicate, args=(data,)) for proc, data in procs]
    for f in feeders:
        f.start()
    for f in feeders:
        f.join()
    for proc, _ in procs:
        if proc.returncode != 0:
            raise RuntimeError(f"mosquitto_pub exited with {proc.returncode}")


def _healthz(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        data: dict[str, Any] = json.loads(r.read())
        return data


def _wait_written(port: int, target: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if _healthz(port)["written"] >= target:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"ingest did not write {target} points within {timeout_s} s")
        time.sleep(0.02)  # polling a counter over HTTP; no event to wait on across processes


def _verify(url: str, db: str, site: str, devices: int, per_dev: int) -> tuple[int, int]:
    from ingest.storage import Influx1Storage

    st = Influx1Storage(url, db)
    res = st.query(
        f"SELECT count(seq), count(distinct(seq)) FROM tilt WHERE site = '{site}' GROUP BY device"
    )
    st.close()
    stored = distinct = 0
    for s in res[0].get("series", []):
        stored += int(s["values"][0][1])
        distinct += int(s["values"][0][2])
    expected = devices * per_dev
    return expected - distinct, stored - distinct


def _run_pipeline(
    mq: Any,
    influx: Any,
    tmp: Path,
    db: str,
    site: str,
    devices: int,
    points: int,
    per_msg: int,
    batch: int,
    publisher: str,
) -> dict[str, float]:
    from michimori.services import free_port

    port = free_port()
    cfg = tmp / f"ingest-{site}.toml"
    cfg.write_text(
        f'[mqtt]\nhost = "127.0.0.1"\nport = {mq.endpoint.port}\nclient_id = "bench-{site}"\n'
        f'share_group = "bench-{site}"\n'
        f'[storage]\nurl = "{influx.endpoint.url}"\ndatabase = "{db}"\n'
        f'batch_max_points = {batch}\n[deadletter]\ndir = "{tmp / "dead"}"\n'
        f'[metrics]\nhttp_listen = "127.0.0.1:{port}"\ninterval_s = 60.0\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", "--log-level", "WARNING", "run", "--config", str(cfg)]
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _healthz(port)["mqtt_connected"]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("ingest did not start")
            time.sleep(0.05)
        t0 = time.time_ns() - 3600 * 10**9
        use_c = publisher == "mosquitto_pub"
        payloads = _payloads(site, devices, points, per_msg, t0, "json" if use_c else "msgpack")
        total = (points // devices) * devices
        start = time.perf_counter()
        pub = threading.Thread(
            target=_publish_mosquitto_pub if use_c else _publish_all,
            args=(mq.endpoint.host, mq.endpoint.port, payloads),
        )
        pub.start()
        _wait_written(port, total, timeout_s=600)
        elapsed = time.perf_counter() - start
        pub.join()
        lost, dups = _verify(influx.endpoint.url, db, site, devices, points // devices)
        return {
            "points": total,
            "messages": len(payloads),
            "seconds": elapsed,
            "lost": lost,
            "duplicates": dups,
        }
    finally:
        proc.terminate()
        proc.wait(30)


def run(args: argparse.Namespace) -> int:
    from michimori.services import InfluxDB, Mosquitto

    with tempfile.TemporaryDirectory(prefix="michimori-bench-") as d:
        tmp = Path(d)
        mq = Mosquitto(tmp / "mosquitto")
        influx = InfluxDB(tmp / "influxdb")
        mq.start()
        influx.start()
        try:
            t0 = time.time_ns() - 7200 * 10**9
            print(f"direct writes: {args.points} points in batches of {args.batch} ...", flush=True)
            direct = _direct_ceiling(influx.endpoint.url, "ceiling", args.points, args.batch, t0)
            print(f"  {direct:,.0f} points/s", flush=True)
            print(
                f"pipeline: {args.points} points, {args.samples_per_message} per message, "
                f"{args.devices} devices ...",
                flush=True,
            )
            bulk = _run_pipeline(
                mq,
                influx,
                tmp,
                "bulk",
                "bulk",
                args.devices,
                args.points,
                args.samples_per_message,
                args.batch,
                args.publisher,
            )
            pps = bulk["points"] / bulk["seconds"]
            print(
                f"  {pps:,.0f} points/s ({bulk['messages']:,} messages in "
                f"{bulk['seconds']:.1f} s), lost {bulk['lost']}, duplicates "
                f"{bulk['duplicates']}",
                flush=True,
            )
            print(f"single-sample messages: {args.single_messages} ...", flush=True)
            single = _run_pipeline(
                mq,
                influx,
                tmp,
                "single",
                "single",
                args.devices,
                args.single_messages,
                1,
                args.batch,
                args.publisher,
            )
            mps = single["messages"] / single["seconds"]
            print(
                f"  {mps:,.0f} messages/s, lost {single['lost']}, duplicates "
                f"{single['duplicates']}",
                flush=True,
            )
        finally:
            mq.stop()
            influx.stop()
    result = {
        "points_per_s": round(pps),
        "direct_points_per_s": round(direct),
        "ratio": round(pps / direct, 3),
        "messages_per_s_single": round(mps),
        "lost": int(bulk["lost"] + single["lost"]),
        "duplicates": int(bulk["duplicates"] + single["duplicates"]),
        "points": int(bulk["points"]),
        "samples_per_message": args.samples_per_message,
        "batch": args.batch,
        "devices": args.devices,
        "publisher": args.publisher,
    }
    print(f"ratio pipeline/direct = {result['ratio']:.2f} (target >= 0.5)")
    if args.json:
        print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1
