"""The edge agent against a real Mosquitto: order, lanes, refusals, confirms, quota, SIGTERM, will.

A ConfirmResponder (edge.responder) stands in for the ingest and validates every payload with
michimori.wire. A TcpGate between agent and broker cuts or refuses the link on demand, which is
also the seam a fault-injecting proxy uses.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.alerts import standard_rules
from edge.config import EdgeConfig, SensorConfig, default_config
from edge.queue import DiskQueue
from edge.responder import ConfirmResponder
from michimori.services import Mosquitto
from michimori.wire import Confirm, Encoding, Kind, Status, decode, encode, topic
from tests.helpers import Probe
from tests.integration.edge_support import FakeSensor, LogWatch, TcpGate

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def watch() -> Iterator[Callable[[str], LogWatch]]:
    logger = logging.getLogger("edge")
    level = logger.level
    logger.setLevel(logging.INFO)
    made: list[LogWatch] = []

    def make(needle: str) -> LogWatch:
        w = LogWatch(needle)
        logger.addHandler(w)
        made.append(w)
        return w

    yield make
    for w in made:
        logger.removeHandler(w)
    logger.setLevel(level)


def tilt_after(n_flat: int) -> FakeSensor:
    """Level for ``n_flat`` reads, then leaning 3° (a pole_tilt alert)."""
    return FakeSensor(
        "tilt", lambda n: {"tilt_x_deg": 0.1 if n <= n_flat else 3.0, "tilt_y_deg": 0.0}
    )


def config(
    tmp_path: Path, site: str, port: int, *, interval_s: float = 0.01, **queue: object
) -> EdgeConfig:
    base = default_config(site=site, device="pole-1", queue_path=tmp_path / "queue.db", port=port)
    q = {"linger_s": 0.05, "confirm_timeout_s": 1.0, "confirm_timeout_max_s": 2.0, **queue}
    return dataclasses.replace(
        base,
        mqtt=dataclasses.replace(base.mqtt, reconnect_min_s=0.05, reconnect_max_s=0.2),
        queue=dataclasses.replace(base.queue, **q),  # type: ignore[arg-type]
        agent=dataclasses.replace(base.agent, status_interval_s=0.5, drain_timeout_s=10.0),
        sensors=(SensorConfig(name="tilt", interval_s=interval_s),),
        alerts=tuple(standard_rules(tilt_deg_max=2.0, vibration_rms_g_max=None)),
    )


@contextmanager
def running(agent: Agent) -> Iterator[Agent]:
    """Run the agent in its own thread; on exit SIGTERM-like stop, drain, join."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def main() -> None:
        try:
            agent.run(stop)
        except BaseException as exc:
            errors.append(exc)
            raise

    t = threading.Thread(target=main, name="agent")
    t.start()
    try:
        yield agent
    finally:
        stop.set()
        agent.wake.set()
        t.join(30)
        assert not t.is_alive(), "agent did not stop within 30 s"
    assert not errors, errors


@pytest.fixture
def responder(broker: Mosquitto) -> Iterator[ConfirmResponder]:
    with ConfirmResponder(broker.endpoint.host, broker.endpoint.port) as r:
        yield r


@pytest.fixture
def gate(broker: Mosquitto) -> Iterator[TcpGate]:
    g = TcpGate(broker.endpoint.port)
    yield g
    g.stop()


def test_samples_arrive_in_order_validated_and_confirmed(
    broker: Mosquitto, responder: ConfirmResponder, unique_id: str, tmp_path: Path
) -> None:
    cfg = config(tmp_path, unique_id, broker.endpoint.port)
    cfg = dataclasses.replace(cfg, device=dataclasses.replace(cfg.device, encoding=Encoding.JSON))
    probe = Probe(broker, f"probe-{unique_id}")
    probe.subscribe(topic(unique_id, "pole-1", Kind.TELEMETRY))
    link = FakeSensor("link", lambda n: {"registered": True, "rsrp_dbm": -95.0 - n % 3})
    cfg = dataclasses.replace(
        cfg, sensors=(*cfg.sensors, SensorConfig(name="link", interval_s=0.05))
    )
    agent = Agent(cfg, {"tilt": tilt_after(10**9), "link": link}, sensor_errors=(OSError,))
    dev = responder.device(unique_id, "pole-1")
    with running(agent):
        assert responder.wait_for(
            lambda: dev.samples >= 150 and any(s.state == "online" for s in dev.statuses), 20
        )
    stats = agent.stats()
    assert stats.unconfirmed == 0 and stats.dropped == 0
    assert stats.generated == stats.last_seq + 1  # a fresh queue: seqs 0..last, no gaps
    assert responder.errors == []
    assert dev.unique == set(range(stats.last_seq + 1))
    # per lane, messages arrive in seq order; timestamps per sensor strictly increase
    for kind in (Kind.TELEMETRY, Kind.EVENT):
        firsts = [s for k, s in dev.arrivals if k is kind]
        assert firsts == sorted(firsts)
    for ts in dev.telemetry_ts.values():
        assert all(a < b for a, b in itertools.pairwise(ts))
    assert [e.kind for e in dev.events] == ["agent_start"]
    online = [s for s in dev.statuses if s.state == "online"]
    assert online[-1].rsrp_dbm is not None and online[-1].version
    assert dev.statuses[-1].state == "offline" and dev.statuses[-1].queue_depth == 0
    # several samples per message, with the MQTT 5 content type of the device's encoding
    probe.wait_for(lambda m: len(m) > 0)
    assert {m.content_type for m in probe.messages} == {"application/json"}
    assert len(probe.messages) < dev.samples / 2
    probe.close()


def test_events_go_first_and_unconfirmed_rows_are_resent_after_reconnect(
    broker: Mosquitto,
    responder: ConfirmResponder,
    gate: TcpGate,
    unique_id: str,
    tmp_path: Path,
    watch: Callable[[str], LogWatch],
) -> None:
    responder.confirm = False
    alert = watch("pole_tilt")
    cannot = watch("cannot connect")
    agent = Agent(
        config(tmp_path, unique_id, gate.port, batch_max_samples=20),
        {"tilt": tilt_after(300)},
        sensor_errors=(OSError,),
    )
    dev = responder.device(unique_id, "pole-1")
    with running(agent):
        # the gate refuses: ~300 samples, then an alert, queue up on disk
        assert cannot.hit.wait(10) and alert.hit.wait(20)
        gate.open()
        assert responder.wait_for(lambda: len(dev.arrivals) >= 5, 20)
        assert dev.arrivals[0][0] is Kind.EVENT, dev.arrivals[:5]
        assert {e.kind for e in dev.events} >= {"agent_start", "pole_tilt"}
        seen = dev.unique
        # cut the link: nothing was confirmed, so all of it is published again
        gate.cut()
        assert responder.wait_for(lambda: all(dev.seqs.count(s) >= 2 for s in seen), 20)
        # now confirm: after the next reconnect (or confirm timeout) the queue empties
        responder.confirm = True
        gate.cut()
        assert responder.wait_for(
            lambda: bool(dev.statuses) and dev.statuses[-1].state == "online", 10
        ), (len(dev.statuses), dev.arrivals[:8], len(dev.seqs))
    assert agent.stats().unconfirmed == 0
    assert dev.unique == set(range(agent.stats().last_seq + 1))


def test_refused_publish_keeps_the_samples_until_the_broker_accepts(
    tmp_path: Path, unique_id: str, watch: Callable[[str], LogWatch]
) -> None:
    # Mosquitto started as root reads its ACL as the `mosquitto` user: not from tmp_path (0700).
    acl_dir = Path(tempfile.mkdtemp(prefix="michimori-acl-"))
    acl_dir.chmod(0o755)
    acl = acl_dir / "acl"
    deny = f"topic deny {topic(unique_id, 'pole-1', Kind.TELEMETRY)}\n"
    acl.write_text("topic readwrite #\n" + deny)
    acl.chmod(0o644)
    m = Mosquitto(tmp_path / "mq")
    settings = dataclasses.replace(m.settings, acl_file=acl)
    (tmp_path / "mq" / "mosquitto.conf").write_text(settings.render())
    m.start()
    refused = watch("broker refused")
    try:
        with ConfirmResponder(m.endpoint.host, m.endpoint.port) as r:
            agent = Agent(
                config(tmp_path, unique_id, m.endpoint.port),
                {"tilt": tilt_after(10**9)},
                sensor_errors=(OSError,),
            )
            dev = r.device(unique_id, "pole-1")
            with running(agent):
                assert refused.hit.wait(20)
                assert "Not authorized" in refused.messages[0]
                assert "kept on disk" in refused.messages[0]
                # events still flow on their own topic; the status shows the kept samples
                assert r.wait_for(lambda: any(s.queue_depth > 0 for s in dev.statuses), 10)
                assert dev.samples == 0
                acl.write_text("topic readwrite #\n")
                assert m.pid is not None
                os.kill(m.pid, signal.SIGHUP)  # mosquitto reloads its ACL
                assert r.wait_for(lambda: dev.samples > 50, 20)
            assert agent.stats().unconfirmed == 0
            assert dev.unique == set(range(agent.stats().last_seq + 1))
    finally:
        m.stop()
        shutil.rmtree(acl_dir)


def test_disk_quota_drops_the_oldest_telemetry_never_events(
    broker: Mosquitto,
    responder: ConfirmResponder,
    gate: TcpGate,
    unique_id: str,
    tmp_path: Path,
    watch: Callable[[str], LogWatch],
) -> None:
    quota = watch("disk quota")
    big = FakeSensor(
        "tilt", lambda n: {"tilt_x_deg": 3.0 * (n % 2), "tilt_y_deg": 0.0, "note": "x" * 200}
    )
    agent = Agent(
        config(tmp_path, unique_id, gate.port, interval_s=0.002, max_bytes=64 * 1024),
        {"tilt": big},
        sensor_errors=(OSError,),
    )
    dev = responder.device(unique_id, "pole-1")
    with running(agent):
        assert quota.hit.wait(30)
        gate.open()
        assert responder.wait_for(lambda: any(s.dropped_total > 0 for s in dev.statuses), 20)
    stats = agent.stats()
    assert stats.unconfirmed == 0 and stats.dropped > 0
    missing = set(range(stats.last_seq + 1)) - dev.unique
    assert len(missing) == stats.dropped
    event_seqs = {e.seq for e in dev.events}
    # every alert (one per tilt reading that crossed back and forth) arrived
    assert len([e for e in dev.events if e.kind == "pole_tilt"]) > 10
    assert not (missing & event_seqs)
    # the first drops (while the link was down) took the oldest samples
    assert min(missing) == min(set(range(stats.last_seq + 1)) - event_seqs)


EDGE_TOML = """
[device]
id = "pole-1"
site = "{site}"
encoding = "msgpack"

[mqtt]
port = {port}
reconnect_min_s = 0.05
reconnect_max_s = 0.5

[queue]
path = "queue.db"
linger_s = 0.05
confirm_timeout_s = 2

[status]
interval_s = 1

[agent]
drain_timeout_s = 15

[hardware]
kind = "emulated"
seed = 3

[sensors.tilt]
interval_s = 0.05
[sensors.environment]
interval_s = 0.1
[sensors.link]
interval_s = 0.5

[alerts]
tilt_deg_max = 5.0
"""


def start_agent(cfg_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m edge run`` as systemd would run it; its log goes to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(cfg_path)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_agent(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    """SIGTERM, wait for the drain, return the log; the exit code must be 0."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    log = log_path.read_text()
    assert proc.returncode == 0, log
    return log


def statuses(probe: Probe, site: str) -> list[Status]:
    out = []
    for m in probe.messages:
        msg = decode(Kind.STATUS, m.payload, content_type=m.content_type)
        assert isinstance(msg, Status) and msg.site == site
        out.append(msg)
    return out


def test_sigterm_drains_the_queue_and_leaves_a_retained_offline_status(
    broker: Mosquitto, responder: ConfirmResponder, unique_id: str, tmp_path: Path
) -> None:
    cfg_path = tmp_path / "edge.toml"
    cfg_path.write_text(EDGE_TOML.format(site=unique_id, port=broker.endpoint.port))
    dev = responder.device(unique_id, "pole-1")
    log_path = tmp_path / "agent.log"
    proc = start_agent(cfg_path, log_path)
    try:
        assert responder.wait_for(lambda: dev.samples >= 40, 30), log_path.read_text()
        log = stop_agent(proc, log_path)
    finally:
        proc.kill()
        proc.wait()
    assert "SIGTERM: stopping sampling" in log and "every sample was confirmed" in log
    with DiskQueue(tmp_path / "queue.db", max_bytes=1 << 20) as q:
        assert q.depth == 0
        last_seq = q.last_seq
    assert dev.unique == set(range(last_seq + 1))
    assert {"environment", "tilt", "link"} <= set(dev.telemetry_ts)
    # a newcomer gets the retained status: offline, nothing queued
    probe = Probe(broker, f"late-{unique_id}")
    probe.subscribe(topic(unique_id, "pole-1", Kind.STATUS))
    probe.wait_for(lambda m: len(m) == 1)
    (st,) = statuses(probe, unique_id)
    assert st.state == "offline" and st.queue_depth == 0 and probe.messages[0].retain
    probe.close()


def test_sigkill_publishes_the_will_and_a_restart_continues_the_sequence(
    broker: Mosquitto, responder: ConfirmResponder, unique_id: str, tmp_path: Path
) -> None:
    cfg_path = tmp_path / "edge.toml"
    cfg_path.write_text(EDGE_TOML.format(site=unique_id, port=broker.endpoint.port))
    dev = responder.device(unique_id, "pole-1")
    log_path = tmp_path / "agent.log"
    proc = start_agent(cfg_path, log_path)
    try:
        assert responder.wait_for(lambda: dev.samples >= 20, 30), log_path.read_text()
        proc.kill()  # no chance to say goodbye: the broker sends the will
        proc.wait(10)
        assert responder.wait_for(lambda: dev.statuses[-1].state == "offline", 10)
        before = max(dev.unique)
        proc = start_agent(cfg_path, log_path)
        assert responder.wait_for(lambda: max(dev.unique) > before + 20, 30)
        stop_agent(proc, log_path)
    finally:
        proc.kill()
        proc.wait()
    with DiskQueue(tmp_path / "queue.db", max_bytes=1 << 20) as q:
        assert q.depth == 0
        last_seq = q.last_seq
    # across the kill nothing was lost and no seq was handed out twice for different samples
    assert dev.unique == set(range(last_seq + 1))
    starts = [e for e in dev.events if e.kind == "agent_start"]
    assert len(starts) == 2 and starts[1].seq > before


def test_a_new_queue_file_is_not_emptied_by_confirms_meant_for_the_old_one(
    broker: Mosquitto, unique_id: str, tmp_path: Path
) -> None:
    cfg = config(tmp_path, unique_id, broker.endpoint.port)
    cfg = dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, drain_timeout_s=0.2))
    with ConfirmResponder(broker.endpoint.host, broker.endpoint.port, confirm=False) as r:
        dev = r.device(unique_id, "pole-1")
        with running(Agent(cfg, {"tilt": tilt_after(10**9)}, sensor_errors=(OSError,))):
            assert r.wait_for(lambda: dev.samples >= 20, 20)
        # While the device is away, a confirm for seqs 0..100000 waits in its broker session.
        probe = Probe(broker, f"old-{unique_id}")
        stale = Confirm(v=1, site=unique_id, device="pole-1", ts_ns=1, ranges=[(0, 100_000)])
        probe.publish(
            topic(unique_id, "pole-1", Kind.CONFIRM),
            encode(stale, Encoding.MSGPACK),
            Encoding.MSGPACK.content_type,
        )
        probe.close()
        # The queue file is replaced (a new SD card): seqs start at 0 again.
        for f in tmp_path.glob("queue.db*"):
            f.unlink()
        agent = Agent(cfg, {"tilt": tilt_after(10**9)}, sensor_errors=(OSError,))
        seen = len(dev.seqs)
        with running(agent):
            assert r.wait_for(lambda: len(dev.seqs) >= seen + 20, 20)
    # nothing was confirmed by the real ingest, so nothing may have been deleted
    stats = agent.stats()
    assert stats.unconfirmed == stats.last_seq + 1


class SteppingClock:
    """The device's wall clock: real time plus an offset the test can step (an NTP step)."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def now_ns(self) -> int:
        return time.time_ns() + self.offset_ns


def test_a_clock_stepping_back_is_an_event_and_timestamps_keep_increasing(
    broker: Mosquitto, responder: ConfirmResponder, unique_id: str, tmp_path: Path
) -> None:
    clock = SteppingClock()
    agent = Agent(
        config(tmp_path, unique_id, broker.endpoint.port),
        {"tilt": tilt_after(10**9)},
        sensor_errors=(OSError,),
        clock=clock,
    )
    dev = responder.device(unique_id, "pole-1")
    with running(agent):
        assert responder.wait_for(lambda: dev.samples >= 20, 20)
        clock.offset_ns = -30 * 10**9  # the clock steps back 30 s
        assert responder.wait_for(lambda: any(e.kind == "clock_jump" for e in dev.events), 20)
        n = dev.samples
        assert responder.wait_for(lambda: dev.samples >= n + 20, 20)
    (jump,) = [e for e in dev.events if e.kind == "clock_jump"]
    assert jump.severity == "warning" and "stepped back by 30" in jump.message
    assert jump.fields["jump_ns"] == pytest.approx(-30e9, abs=0.5e9)
    ts = dev.telemetry_ts["tilt"]
    assert all(a < b for a, b in itertools.pairwise(ts))
    assert dev.unique == set(range(agent.stats().last_seq + 1))


def test_password_from_file_and_a_refused_login_is_named_not_leaked(
    tmp_path: Path,
    unique_id: str,
    watch: Callable[[str], LogWatch],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Mosquitto (root -> `mosquitto` user) must be able to read its password file.
    secrets = Path(tempfile.mkdtemp(prefix="michimori-pw-"))
    secrets.chmod(0o755)
    try:
        passwd = secrets / "passwd"
        subprocess.run(
            ["mosquitto_passwd", "-b", "-c", str(passwd), "pole-1", "right-horse-battery"],
            check=True,
            capture_output=True,
        )
        passwd.chmod(0o644)
        m = Mosquitto(tmp_path / "mq")
        settings = dataclasses.replace(m.settings, allow_anonymous=False, password_file=passwd)
        (tmp_path / "mq" / "mosquitto.conf").write_text(settings.render())
        m.start()
        try:
            pw = tmp_path / "edge.password"
            pw.write_text("wrong-horse-battery\n")
            cfg = config(tmp_path, unique_id, m.endpoint.port)
            cfg = dataclasses.replace(
                cfg,
                mqtt=dataclasses.replace(cfg.mqtt, username="pole-1", password_file=pw),
                agent=dataclasses.replace(cfg.agent, drain_timeout_s=0.2),  # nobody confirms
            )
            refused = watch("cannot connect")
            connected = watch("connected to broker")
            caplog.set_level(logging.DEBUG)
            agent = Agent(cfg, {"tilt": tilt_after(10**9)}, sensor_errors=(OSError,))
            with running(agent):
                assert refused.hit.wait(10)
                # MQTT 5 has 0x86 "Bad user name or password"; Mosquitto 2.0 answers 0x87
                assert "broker refused the connection" in refused.messages[0]
                assert "(0x86)" in refused.messages[0] or "(0x87)" in refused.messages[0]
                pw.write_text("right-horse-battery\n")  # read again on the next attempt
                assert connected.hit.wait(10)
            assert "horse-battery" not in caplog.text
        finally:
            m.stop()
    finally:
        shutil.rmtree(secrets)
