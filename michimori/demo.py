"""``michimori demo``: the whole pipeline on simulators, end to end, with a verdict.

1. Local Mosquitto and InfluxDB (``michimori services``, state/services).
2. Telemetry: an ingest worker and a fleet of emulated pole nodes running the real edge
   agent; then every device's sequence numbers are checked in InfluxDB (lost / twice).
3. Inspection: a synthetic road world on the Utsunomiya corridor, a mission planned along it,
   flown with dronekit against the simulated drone whose camera renders the world; then the
   flight folder is checked against the plan and the world's ground truth.
Outputs land in ``--out`` (default out/demo); a summary.json says what was measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

log = logging.getLogger("michimori.demo")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole pipeline on simulators",
        description=(__doc__ or "")
        + "\nExample:\n  michimori demo --devices 10 --seconds 30 --out out/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--devices", type=int, default=10, help="emulated field devices (10)")
    p.add_argument("--seconds", type=float, default=30.0, help="sampling time (30 s)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    p.add_argument("--seed", type=int, default=7, help="world and fleet seed (7)")
    p.add_argument(
        "--speedup",
        type=float,
        default=20.0,
        help="simulated drone time per wall-clock second (20)",
    )
    p.add_argument("--skip-flight", action="store_true", help="telemetry only")
    p.add_argument(
        "--keep-services",
        action="store_true",
        help="leave Mosquitto/InfluxDB running afterwards (to explore the data)",
    )
    p.set_defaults(func=run)


def _say(text: str) -> None:
    print(text, flush=True)


def _services(keep: bool) -> tuple[dict[str, Any], bool]:
    from michimori.services import cli as services_cli

    state = services_cli.DEFAULT_STATE_DIR
    before = services_cli.read_status(state)
    already = bool(before["services"]) and all(s["answering"] for s in before["services"].values())
    if not already:
        ns = argparse.Namespace(
            state_dir=state,
            mqtt_port=services_cli.DEFAULT_MQTT_PORT,
            influx_port=services_cli.DEFAULT_INFLUX_PORT,
            json=True,
        )
        if services_cli._up(ns) != 0:
            raise RuntimeError("could not start the local services; see state/services/*.log")
    info = services_cli.read_status(state)
    return info, (not already and not keep)


def _telemetry(
    info: dict[str, Any], out: Path, devices: int, seconds: float, seed: int
) -> dict[str, Any]:
    from firmware_sim.fleet import Fleet, FleetConfig
    from ingest import IngestService, parse_config
    from ingest.storage import Influx1Storage

    mq = info["services"]["mosquitto"]
    influx_url = info["services"]["influxdb"]["url"]
    site = f"demo-{int(time.time())}"
    cfg = parse_config(
        {
            "mqtt": {
                "host": mq["host"],
                "port": mq["port"],
                "client_id": "demo-ingest",
                "share_group": "demo",
            },
            "storage": {"url": influx_url, "database": "michimori"},
            "deadletter": {"dir": str(out / "deadletter")},
            "metrics": {"http_listen": "", "interval_s": 5.0},
        },
        source="demo",
    )
    svc = IngestService(cfg)
    svc.storage.ensure_ready()
    _say(
        f"[telemetry] ingest -> {influx_url} database 'michimori'; "
        f"{devices} devices for {seconds:.0f} s (site {site})"
    )
    with svc:
        svc.wait_connected(10)
        fleet = Fleet(
            FleetConfig(
                devices=devices,
                seconds=seconds,
                state_dir=out / "fleet",
                host=mq["host"],
                port=mq["port"],
                site=site,
                encoding="mixed",
                seed=seed,
            )
        )
        last = [0.0]

        def progress(line: str) -> None:
            if time.monotonic() - last[0] >= 5:
                last[0] = time.monotonic()
                _say(f"[telemetry] {line}")

        reports = fleet.run(progress=progress)
    st = Influx1Storage(influx_url, "michimori")
    res = st.query(f"SELECT seq FROM /.*/ WHERE site = '{site}' GROUP BY device")
    alerts = st.query(f"SELECT count(seq) FROM event WHERE site = '{site}' GROUP BY kind")
    st.close()
    stored: dict[str, Counter[int]] = {}
    for series in res[0].get("series", []):
        c = stored.setdefault(series["tags"]["device"], Counter())
        c.update(int(v[1]) for v in series["values"] if v[1] is not None)
    rows = []
    for r in reports:
        c = stored.get(r.device, Counter())
        expected = set(range(r.last_seq + 1))
        rows.append(
            {
                "device": r.device,
                "generated": r.generated,
                "stored": sum(c.values()),
                "lost": len(expected - set(c)) - r.dropped,
                "twice": sum(1 for n in c.values() if n > 1),
                "dropped_by_quota": r.dropped,
                "unconfirmed": r.unconfirmed,
            }
        )
    _say(f"[telemetry] {'device':10s} {'generated':>9s} {'stored':>7s} {'lost':>5s} {'twice':>5s}")
    for row in rows:
        _say(
            f"[telemetry] {row['device']:10s} {row['generated']:9d} {row['stored']:7d} "
            f"{row['lost']:5d} {row['twice']:5d}"
        )
    events = {s["tags"]["kind"]: int(s["values"][0][1]) for s in alerts[0].get("series", [])}
    return {
        "site": site,
        "devices": rows,
        "events": events,
        "lost": sum(r["lost"] for r in rows),
        "twice": sum(r["twice"] for r in rows),
        "generated": sum(r["generated"] for r in rows),
        "ingest": svc.metrics.snapshot(),
    }


def _flight(out: Path, seed: int, speedup: float) -> dict[str, Any]:
    from firmware_sim.vehicle import HomePosition, SimVehicleServer
    from firmware_sim.world import DEFAULT_CORRIDOR, generate_world, save_world
    from firmware_sim.world import load_corridor as load_world_corridor
    from inspection.flight import FlightOptions, FlightTimeouts, fly
    from inspection.mission import MissionParams, load_corridor, plan_mission, write_plan

    corridor, road = load_world_corridor(DEFAULT_CORRIDOR)
    world_path = save_world(generate_world(corridor, road, seed=seed), out / "world.geojson")
    plan = plan_mission(load_corridor(world_path), MissionParams(sides="both"))
    plan_path = write_plan(plan, out / "corridor.plan")
    _say(
        f"[inspection] world {world_path}; plan {plan_path}: {len(plan.legs)} legs, "
        f"{plan.expected_photos} photos planned"
    )
    flight_dir = out / "flight"
    if flight_dir.exists():
        import shutil

        shutil.rmtree(flight_dir)
    with SimVehicleServer(
        listen="udp:127.0.0.1:0",
        home=HomePosition(lat_deg=plan.home[0], lon_deg=plan.home[1]),
        speedup=speedup,
        frames_dir=out / "camera-sd",
        world_path=world_path,
        seed=seed,
    ) as server:
        host, port = server.address
        _say(f"[inspection] simulated drone on udp {host}:{port} (speedup {speedup:g}); flying")
        summary = fly(
            FlightOptions(
                plan_path=plan_path,
                connection=f"udpout:{host}:{port}",
                out_dir=flight_dir,
                photos_from=out / "camera-sd",
                timeouts=FlightTimeouts(total_s=600.0),
            )
        )
    world = json.loads(world_path.read_text(encoding="utf-8"))
    fixtures = {
        f["properties"]["asset_id"]
        for f in world["features"]
        if f["properties"].get("feature_type") == "fixture"
    }
    seen: Counter[str] = Counter()
    for sidecar in (flight_dir / "photos").glob("*.json"):
        ids = {lab.get("asset_id") for lab in json.loads(sidecar.read_text())["labels"]}
        seen.update(i for i in ids if i in fixtures)
    in_two = sum(1 for f in fixtures if seen[f] >= 2)
    _say(
        f"[inspection] {summary['status']}: {summary['photos']['captured']} of "
        f"{summary['photos']['planned']} photos; {in_two} of {len(fixtures)} fixtures in "
        f">= 2 photos; flight folder {flight_dir}"
    )
    return {
        "status": summary["status"],
        "photos": summary["photos"],
        "fixtures": len(fixtures),
        "fixtures_in_two_photos": in_two,
        "flight_dir": str(flight_dir),
        "errors": summary["errors"],
    }


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    info, stop_after = _services(args.keep_services)
    result: dict[str, Any] = {"services": info}
    ok = True
    try:
        tele = _telemetry(info, out, args.devices, args.seconds, args.seed)
        result["telemetry"] = tele
        ok &= tele["lost"] == 0 and tele["twice"] == 0
        if not args.skip_flight:
            fl = _flight(out, args.seed, args.speedup)
            result["inspection"] = fl
            ok &= fl["status"] == "ok" and fl["fixtures_in_two_photos"] == fl["fixtures"]
    finally:
        if stop_after:
            from michimori.services import cli as services_cli

            services_cli._stop_recorded(services_cli.DEFAULT_STATE_DIR)
    (out / "summary.json").write_text(json.dumps(result, indent=2, default=str))
    t = result["telemetry"]
    _say(
        f"\nsummary: {t['generated']} samples from {len(t['devices'])} devices, lost "
        f"{t['lost']}, stored twice {t['twice']}; events {t['events']}"
    )
    if "inspection" in result:
        i = result["inspection"]
        _say(
            f"         flight {i['status']}, {i['photos']['captured']} photos, "
            f"{i['fixtures_in_two_photos']}/{i['fixtures']} fixtures in >= 2 photos"
        )
    _say(f"         details: {out / 'summary.json'}; verdict: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1
