"""A whole telemetry pipeline for end-to-end and fault tests.

Own Mosquitto (killable, restartable on the same port and state dir), own InfluxDB (stoppable),
the ingest as a separate process (as deployed, so it can be SIGKILLed), and fleets of emulated
devices through the edge agent's own code. Checks compare each device's sequence numbers with
what is in InfluxDB: nothing missing, nothing twice.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from firmware_sim.fleet import DeviceReport, Fleet, FleetConfig
from ingest.storage import Influx1Storage
from michimori.services import InfluxDB, Mosquitto, free_port
from tests.helpers import wait_until


@dataclass
class Pipeline:
    tmp: Path
    site: str
    broker: Mosquitto = field(init=False)
    influx: InfluxDB = field(init=False)
    ingest: subprocess.Popen[bytes] | None = field(init=False, default=None)
    database: str = "michimori"

    def __post_init__(self) -> None:
        self.broker = Mosquitto(self.tmp / "mosquitto", port=free_port())
        self.influx = InfluxDB(self.tmp / "influxdb", port=free_port())
        self.broker.start()
        self.influx.start()
        st = Influx1Storage(self.influx.endpoint.url, self.database)
        st.ensure_ready()
        st.close()
        self.ingest_config = self.tmp / "ingest.toml"
        self.ingest_config.write_text(
            f'[mqtt]\nhost = "127.0.0.1"\nport = {self.broker.endpoint.port}\n'
            f'client_id = "ingest-{self.site}"\nshare_group = "ingest"\n'
            f'[storage]\nurl = "{self.influx.endpoint.url}"\ndatabase = "{self.database}"\n'
            f'[deadletter]\ndir = "{self.tmp / "deadletter"}"\n'
            f'[metrics]\nhttp_listen = ""\ninterval_s = 5.0\n'
        )
        self.start_ingest()

    # --- the ingest process ------------------------------------------------------------
    def start_ingest(self) -> None:
        with open(self.tmp / "ingest.log", "ab") as log:
            self.ingest = subprocess.Popen(
                [sys.executable, "-m", "ingest", "run", "--config", str(self.ingest_config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill_ingest(self) -> None:
        assert self.ingest is not None
        self.ingest.kill()
        self.ingest.wait()

    def stop_ingest(self) -> None:
        if self.ingest is not None and self.ingest.poll() is None:
            self.ingest.terminate()
            self.ingest.wait(60)

    # --- devices -----------------------------------------------------------------------
    def fleet(self, *, devices: int, seconds: float, **kw: object) -> Fleet:
        cfg = FleetConfig(
            devices=devices,
            seconds=seconds,
            state_dir=self.tmp / "fleet",
            port=self.broker.endpoint.port,
            site=self.site,
            drain_timeout_s=180.0,
            **kw,  # type: ignore[arg-type]
        )
        return Fleet(cfg)

    # --- InfluxDB ------------------------------------------------------------------------
    def seqs(self) -> dict[str, list[int]]:
        """device -> every stored seq (a seq stored twice appears twice)."""
        st = Influx1Storage(self.influx.endpoint.url, self.database)
        try:
            res = st.query(f"SELECT seq FROM /.*/ WHERE site = '{self.site}' GROUP BY device")
        finally:
            st.close()
        out: dict[str, list[int]] = {}
        for series in res[0].get("series", []):
            dev = series["tags"]["device"]
            idx = series["columns"].index("seq")
            out.setdefault(dev, []).extend(
                int(v[idx]) for v in series["values"] if v[idx] is not None
            )
        return {d: sorted(s) for d, s in out.items()}

    def stored_points(self) -> int:
        return sum(len(s) for s in self.seqs().values())

    def wait_stored(self, at_least: int, timeout_s: float = 60.0) -> None:
        wait_until(
            lambda: self.stored_points() >= at_least, timeout_s, f">= {at_least} points in InfluxDB"
        )

    def close(self) -> None:
        self.stop_ingest()
        self.broker.kill()
        self.influx.stop()


def run_in_thread(fleet: Fleet) -> tuple[threading.Thread, list[list[DeviceReport]]]:
    out: list[list[DeviceReport]] = []
    t = threading.Thread(target=lambda: out.append(fleet.run()), name="fleet")
    t.start()
    return t, out


def assert_exactly_once(stored: dict[str, list[int]], expected: dict[str, int]) -> None:
    """``expected``: device -> last seq of a fresh queue (seqs 0..last, none dropped)."""
    problems = []
    for dev, last in sorted(expected.items()):
        got = stored.get(dev, [])
        counts = Counter(got)
        missing = sorted(set(range(last + 1)) - set(got))
        twice = sorted(s for s, n in counts.items() if n > 1)
        extra = sorted(s for s in counts if s > last)
        if missing or twice or extra:
            problems.append(
                f"{dev}: {len(missing)} missing (first {missing[:5]}), {len(twice)} twice "
                f"(first {twice[:5]}), {len(extra)} beyond last seq {last}"
            )
    assert not problems, "\n".join(problems)
