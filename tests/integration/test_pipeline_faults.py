"""Fault tests: each ends with every sample in InfluxDB exactly once.

- the broker SIGKILLed mid-stream and restarted (its in-memory, not-yet-autosaved messages and
  sessions are lost: the devices' confirm protocol must make up for it);
- InfluxDB stopped for 60 s mid-stream;
- the edge agent SIGKILLed mid-stream and restarted (the disk queue carries on);
- the ingest SIGKILLed mid-stream and restarted (unacked messages come back).

A fault's duration is a deliberate outage, so it is timed with an Event.wait; everything the
test waits *for* is waited on with a timeout.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.queue import DiskQueue
from tests.helpers import wait_until
from tests.integration.pipeline import Pipeline, assert_exactly_once, run_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE = threading.Event()  # never set: .wait(s) is "keep the fault in place for s seconds"


@pytest.fixture
def pipeline(tmp_path: Path, unique_id: str) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path, unique_id)
    yield p
    p.close()


def _fleet_through(pipeline: Pipeline, fault: object, *, seconds: float, devices: int = 5) -> None:
    """Run a fleet, apply ``fault()`` once data flows, then check exactly-once."""
    fleet = pipeline.fleet(devices=devices, seconds=seconds, sample_interval_s=0.1)
    thread, out = run_in_thread(fleet)
    try:
        pipeline.wait_stored(300, timeout_s=60)
        fault()  # type: ignore[operator]
    finally:
        thread.join(timeout=seconds + 300)
    assert not thread.is_alive(), "the fleet did not finish"
    (reports,) = out
    for r in reports:
        assert r.unconfirmed == 0 and r.dropped == 0, r
    assert_exactly_once(pipeline.seqs(), {r.device: r.last_seq for r in reports})


def test_broker_sigkill_and_restart_loses_nothing(pipeline: Pipeline) -> None:
    def fault() -> None:
        pipeline.broker.kill()
        OUTAGE.wait(3)
        pipeline.broker.start()  # same port, same persistence file (maybe seconds old)

    _fleet_through(pipeline, fault, seconds=20)


def test_influxdb_stopped_for_sixty_seconds_loses_nothing(pipeline: Pipeline) -> None:
    def fault() -> None:
        before = pipeline.stored_points()
        pipeline.influx.stop()
        OUTAGE.wait(60)
        pipeline.influx.start()
        assert pipeline.stored_points() >= before  # nothing written during the outage is lost

    _fleet_through(pipeline, fault, seconds=75, devices=3)


def test_ingest_sigkill_and_restart_loses_nothing(pipeline: Pipeline) -> None:
    def fault() -> None:
        pipeline.kill_ingest()
        OUTAGE.wait(3)
        pipeline.start_ingest()

    _fleet_through(pipeline, fault, seconds=20)


def _edge_config(pipeline: Pipeline, device: str) -> Path:
    path = pipeline.tmp / f"{device}.toml"
    path.write_text(
        f'[device]\nid = "{device}"\nsite = "{pipeline.site}"\nencoding = "msgpack"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {pipeline.broker.endpoint.port}\n'
        f'[queue]\npath = "{pipeline.tmp / device}.sqlite"\nconfirm_timeout_s = 10\n'
        f'[hardware]\nkind = "emulated"\nseed = 7\nlat = 36.5590\nlon = 139.8980\n'
        + "".join(
            f"[sensors.{s}]\ninterval_s = 0.05\n"
            for s in ("tilt", "vibration", "environment", "gnss", "link")
        )
    )
    return path


def _start_edge(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config)],
            stdout=f,
            stderr=subprocess.STDOUT,
        )


def test_edge_agent_sigkill_and_restart_loses_nothing(pipeline: Pipeline) -> None:
    device = "pole-kill"
    config = _edge_config(pipeline, device)
    log = pipeline.tmp / "edge.log"
    agent = _start_edge(config, log)
    try:
        pipeline.wait_stored(200, timeout_s=60)
        agent.send_signal(signal.SIGKILL)  # no chance to flush or drain
        agent.wait()
        stored_at_kill = pipeline.stored_points()
        agent = _start_edge(config, log)
        pipeline.wait_stored(stored_at_kill + 200, timeout_s=60)  # the restart carries on
        agent.send_signal(signal.SIGTERM)  # stop sampling, drain until confirmed
        assert agent.wait(timeout=120) == 0, log.read_text()[-2000:]
    finally:
        if agent.poll() is None:
            agent.kill()
    queue = DiskQueue(pipeline.tmp / f"{device}.sqlite", max_bytes=10**9)
    try:
        last_seq, depth = queue.last_seq, queue.depth
    finally:
        queue.close()
    assert depth == 0, f"{depth} samples left unconfirmed on disk"
    wait_until(
        lambda: len(pipeline.seqs().get(device, [])) >= last_seq + 1,
        30,
        "the drained samples to be written",
    )
    assert_exactly_once(pipeline.seqs(), {device: last_seq})
