"""The edge agent: sample on schedule, queue on disk, publish, delete only what the ingest confirms.

One thread owns the agent and calls ``step()``; the broker link reports through a thread-safe
inbox and a wake event. ``run()`` drives one agent; the fleet simulator steps many in one
thread. See docs/edge-agent.md for lanes, queue states, the confirm protocol and the drop policy.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from michimori import __version__
from michimori.wire import (
    Confirm,
    Event,
    Kind,
    PayloadError,
    Sample,
    Status,
    TopicParts,
    decode,
    encode,
    topic,
)

from .alerts import AlertEngine, EventDraft, FieldValue
from .clock import ClockGuard, ClockJump
from .config import EdgeConfig
from .errors import EdgeError
from .link import (
    Connected,
    Disconnected,
    Incoming,
    Link,
    LinkEvent,
    LinkFailed,
    LinkSettings,
    MqttLink,
    PubAck,
)
from .publisher import BODY_ENCODER, PublishWindow
from .queue import DiskQueue, Lane
from .sampler import Reading, Sampler, SensorLike, safe_text

__all__ = ["Agent", "AgentStats", "SystemClock", "WallClock", "link_settings"]

log = logging.getLogger(__name__)

# How often overdue confirms are looked for: a cheap indexed UPDATE.
_EXPIRY_CHECK_S: Final = 1.0


class WallClock(Protocol):
    def now_ns(self) -> int: ...


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()


@dataclass(frozen=True, slots=True)
class AgentStats:
    device: str
    generated: int  # samples and events queued by this run
    last_seq: int
    dropped: int  # dropped by the disk quota, all runs
    unconfirmed: int  # still on disk
    connected: bool


def link_settings(cfg: EdgeConfig, *, clean_first: bool = False) -> LinkSettings:
    b = cfg.mqtt
    tls = b.tls
    return LinkSettings(
        host=b.host,
        port=b.port,
        client_id=cfg.client_id,
        keepalive_s=b.keepalive_s,
        session_expiry_s=b.session_expiry_s,
        receive_maximum=b.receive_maximum,
        connect_timeout_s=b.connect_timeout_s,
        reconnect_min_s=b.reconnect_min_s,
        reconnect_max_s=b.reconnect_max_s,
        username=b.username,
        password_file=b.password_file,
        tls=tls is not None,
        ca_file=tls.ca_file if tls else None,
        cert_file=tls.cert_file if tls else None,
        key_file=tls.key_file if tls else None,
        subscriptions=(topic(cfg.device.site, cfg.device.device, Kind.CONFIRM, root=b.topic_root),),
        seed=cfg.hardware.seed,
        clean_first=clean_first,
    )


WillFn = Callable[[], tuple[str, bytes, str]]
LinkFactory = Callable[[LinkSettings, WillFn, Callable[[LinkEvent], None]], Link]


def _mqtt_link(settings: LinkSettings, will: WillFn, on_event: Callable[[LinkEvent], None]) -> Link:
    return MqttLink(settings, will=will, on_event=on_event)


class Agent:
    """One field device's agent. ``start()``, then ``step()`` until done, then ``close()``."""

    def __init__(
        self,
        cfg: EdgeConfig,
        sensors: Mapping[str, SensorLike],
        *,
        sensor_errors: tuple[type[BaseException], ...],
        clock: WallClock | None = None,
        wake: threading.Event | None = None,
        link_factory: LinkFactory = _mqtt_link,
    ) -> None:
        self.cfg = cfg
        self._site = cfg.device.site
        self._device = cfg.device.device
        self._enc = cfg.device.encoding
        self._clock = clock or SystemClock()
        self.wake = wake or threading.Event()
        root = cfg.mqtt.topic_root
        self._topics = {
            Lane.EVENT: topic(self._site, self._device, Kind.EVENT, root=root),
            Lane.BULK: topic(self._site, self._device, Kind.TELEMETRY, root=root),
        }
        self._status_topic = topic(self._site, self._device, Kind.STATUS, root=root)
        self._confirm_parts = TopicParts(self._site, self._device, Kind.CONFIRM, root=root)
        self._confirm_topic = str(self._confirm_parts)
        self._sensors = sensors
        self._sensor_errors = sensor_errors
        self._link_factory = link_factory
        self._inbox: queue.SimpleQueue[LinkEvent] = queue.SimpleQueue()
        # set in start()
        self._queue: DiskQueue | None = None
        self._sampler: Sampler | None = None
        self._guard: ClockGuard | None = None
        self._link: Link | None = None
        self._window = PublishWindow(
            site=self._site,
            device=self._device,
            encoding=self._enc,
            topics=self._topics,
            batch_max=cfg.queue.batch_max_samples,
            max_inflight=cfg.queue.max_inflight_messages,
            linger_s=cfg.queue.linger_s,
            seed=cfg.hardware.seed,
        )
        self._acks: list[tuple[int, int, int]] = []
        self._sampling = True
        self._next_status_s = 0.0
        self._next_expiry_s = 0.0
        self._next_tick_s = 0.0
        self._rsrp_dbm: float | None = None
        self._generated = 0
        self._confirmed = 0
        self._confirmed_logged = 0
        self._quota_logged_s = -1e9
        self._closed = False
        self._hurry = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the queue, prepare sampling and start connecting. Call from the stepping thread."""
        cfg = self.cfg
        self._queue = q = DiskQueue(cfg.queue.path, max_bytes=cfg.queue.max_bytes)
        now = time.monotonic()
        self._guard = ClockGuard(
            last_ts_ns=q.last_ts_ns,
            threshold_ns=int(cfg.agent.clock_jump_threshold_s * 1e9),
        )
        self._sampler = Sampler(
            self._sensors,
            {s.name: s.interval_s for s in cfg.sensors},
            start_s=now,
            fault_after=cfg.agent.sensor_fault_after,
            alerts=AlertEngine(cfg.alerts),
            error_types=self._sensor_errors,
        )
        if q.depth:
            self._window.resend_now(now)  # left over from the last run: send at once
        log.info(
            "edge agent %s for %s/%s starting: queue %s holds %d samples (%d dropped so far), "
            "next seq %d",
            __version__,
            self._site,
            self._device,
            cfg.queue.path,
            q.depth,
            q.dropped_total,
            q.last_seq + 1,
        )
        self._emit(
            EventDraft(
                kind="agent_start",
                severity="info",
                message=f"edge agent {__version__} started",
                fields={"version": __version__, "queue_depth": q.depth},
            )
        )
        q.commit()
        # A fresh queue restarts its seqs at 0. Confirms that an old incarnation of this device
        # left queued in its broker session would name those seqs and delete samples the
        # ingest never saw, so the first session starts clean.
        settings = link_settings(cfg, clean_first=q.fresh)
        self._link = self._link_factory(settings, self._will, self._on_link_event)
        self._link.start()

    def stop_sampling(self) -> None:
        """Stop reading sensors (SIGTERM): from now on only the queue drains."""
        if self._sampling:
            self._sampling = False
            log.info("sampling stopped; %d samples still queued, publishing them", self.queue.depth)

    def close(self, *, timeout_s: float = 5.0) -> None:
        """Say offline (retained), disconnect, close sensors and the queue. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._link is not None:
            self._link.stop(last=self._status_message("offline"), timeout_s=timeout_s)
        if self._sampler is not None:
            self._sampler.close()
        if self._queue is not None:
            self._queue.commit()
            depth = self._queue.depth
            self._queue.close()
            if depth:
                log.info(
                    "stopped with %d samples kept on disk in %s; they are sent on the next start",
                    depth,
                    self.cfg.queue.path,
                )
            else:
                log.info("stopped; every sample was confirmed by the ingest")

    def run(self, stop: threading.Event) -> int:
        """Sample and publish until ``stop`` is set, then drain for up to drain_timeout_s."""
        self.start()
        try:
            while not stop.is_set():
                self.wake.clear()
                next_s = self.step(time.monotonic())
                self.wake.wait(max(0.0, next_s - time.monotonic()))
            self.stop_sampling()
            deadline = time.monotonic() + self.cfg.agent.drain_timeout_s
            while self.queue.depth and time.monotonic() < deadline and not self._hurry:
                self.wake.clear()
                next_s = min(self.step(time.monotonic()), deadline)
                self.wake.wait(max(0.0, next_s - time.monotonic()))
        finally:
            self.close()
        return 0

    def hurry(self) -> None:
        """Cut the drain short (a second SIGTERM); what is queued stays on disk."""
        self._hurry = True
        self.wake.set()

    @property
    def queue(self) -> DiskQueue:
        if self._queue is None:
            raise RuntimeError("agent not started")
        return self._queue

    @property
    def connected(self) -> bool:
        return self._window.epoch is not None

    def stats(self) -> AgentStats:
        q = self.queue
        return AgentStats(
            device=self._device,
            generated=self._generated,
            last_seq=q.last_seq,
            dropped=q.dropped_total,
            unconfirmed=q.depth,
            connected=self.connected,
        )

    # -- one tick ----------------------------------------------------------------------------

    def step(self, now_s: float) -> float:
        """Handle link events, sample what is due, publish; returns when to step next."""
        q = self.queue
        while True:
            try:
                ev = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._handle(ev, now_s)
        if self._sampling and now_s >= self._next_tick_s:
            assert self._sampler is not None
            self._next_tick_s = now_s + self.cfg.agent.tick_s
            for item in self._sampler.poll(now_s):
                if isinstance(item, Reading):
                    self._append_reading(item, now_s)
                else:
                    self._emit(item)
        if now_s >= self._next_expiry_s:
            self._next_expiry_s = now_s + _EXPIRY_CHECK_S
            n = q.requeue_expired(
                now_s, self.cfg.queue.confirm_timeout_s, self.cfg.queue.confirm_timeout_max_s
            )
            if n:
                log.info("%d samples had no confirm from the ingest in time; re-sending", n)
                self._window.resend_now(now_s)
        self._enforce_quota(now_s)
        # New rows reach the disk before they are published: a seq the broker has seen must
        # never be handed out again after a crash.
        assert self._guard is not None
        q.last_ts_ns = self._guard.last_ts_ns
        q.commit()
        for epoch, mid, qos in self._acks:
            assert self._link is not None
            self._link.ack(epoch, mid, qos)
        self._acks.clear()
        assert self._link is not None
        # The status goes first: after a reconnect it says "online" before the backlog.
        if self._window.epoch is not None and now_s >= self._next_status_s:
            self._publish_status(now_s)
        self._window.fill(now_s, q, self._link, linger=self._sampling)
        q.commit()
        return self._next_wake(now_s)

    def _next_wake(self, now_s: float) -> float:
        t: float = self._next_expiry_s
        if self._sampling:
            assert self._sampler is not None
            t = min(t, max(self._sampler.next_s(), self._next_tick_s))
        if self._window.epoch is not None:
            t = min(t, self._next_status_s)
        return min(t, self._window.next_s(now_s))

    # -- queueing ----------------------------------------------------------------------------

    def _stamp(self) -> int:
        assert self._guard is not None
        ts, jump = self._guard.stamp(self._clock.now_ns(), time.monotonic_ns())
        if jump is not None:
            self._clock_jumped(jump)
        return ts

    def _append_reading(self, r: Reading, now_s: float) -> None:
        q = self.queue
        ts = self._stamp()
        seq = q.next_seq()
        q.append(seq, Lane.BULK, ts, BODY_ENCODER.encode(Sample(seq, ts, r.sensor, r.fields)))
        self._generated += 1
        self._window.bulk_appended(now_s)
        if r.sensor == "link":
            rsrp = r.fields.get("rsrp_dbm")
            if isinstance(rsrp, int | float) and not isinstance(rsrp, bool):
                self._rsrp_dbm = float(rsrp)

    def _emit(self, draft: EventDraft) -> None:
        q = self.queue
        ts = self._stamp()
        seq = q.next_seq()
        fields: dict[str, FieldValue] = dict(draft.fields)
        ev = Event(seq, ts, draft.kind, draft.severity, safe_text(draft.message), fields)
        q.append(seq, Lane.EVENT, ts, BODY_ENCODER.encode(ev))
        self._window.event_appended()
        self._generated += 1
        if draft.severity in ("alert", "critical"):
            log.warning("%s: %s", draft.kind, draft.message)

    def _clock_jumped(self, jump: ClockJump) -> None:
        way = "forward" if jump.jump_ns > 0 else "back"
        where = " since the last run" if jump.at_start else ""
        msg = (
            f"device clock stepped {way} by {abs(jump.jump_s):.3f} s{where}; "
            "timestamps are kept strictly increasing"
        )
        log.warning("%s", msg)
        # Stamped by the caller's next _stamp(): the guard has already absorbed this reading.
        self._emit(
            EventDraft(
                kind="clock_jump",
                severity="warning",
                message=msg,
                fields={"jump_ns": jump.jump_ns, "jump_s": jump.jump_s, "at_start": jump.at_start},
            )
        )

    def _enforce_quota(self, now_s: float) -> None:
        dropped = self.queue.enforce_quota()
        # One line a minute at most: during a long outage this fires every tick.
        if dropped and now_s - self._quota_logged_s >= 60.0:
            self._quota_logged_s = now_s
            log.warning(
                "disk quota of %d bytes reached: dropped the %d oldest telemetry samples "
                "(%d dropped in all; events are kept)",
                self.cfg.queue.max_bytes,
                dropped,
                self.queue.dropped_total,
            )

    # -- status ---------------------------------------------------------------------------

    def _status_message(self, state: str) -> tuple[str, bytes, str]:
        q = self._queue
        msg = Status(
            v=1,
            site=self._site,
            device=self._device,
            state="online" if state == "online" else "offline",
            ts_ns=max(0, self._clock.now_ns()),
            queue_depth=q.depth if q else 0,
            dropped_total=q.dropped_total if q else 0,
            rsrp_dbm=self._rsrp_dbm,
            version=__version__,
        )
        return self._status_topic, encode(msg, self._enc), self._enc.content_type

    def _will(self) -> tuple[str, bytes, str]:
        # Called by the link thread before each connect; reads plain counters only.
        return self._status_message("offline")

    def _publish_status(self, now_s: float) -> None:
        assert self._link is not None and self._window.epoch is not None
        self._next_status_s = now_s + self.cfg.agent.status_interval_s
        t, payload, ctype = self._status_message("online")
        mid = self._link.publish(self._window.epoch, t, payload, content_type=ctype, retain=True)
        if mid is not None:
            self._window.status_sent(mid)
        n = self._confirmed - self._confirmed_logged
        self._confirmed_logged = self._confirmed
        log.info(
            "status: online, %d queued (%d dropped in all), %d confirmed since last status%s",
            self.queue.depth,
            self.queue.dropped_total,
            n,
            f", link {self._rsrp_dbm:.0f} dBm" if self._rsrp_dbm is not None else "",
        )

    # -- link events -------------------------------------------------------------------------

    def _on_link_event(self, ev: LinkEvent) -> None:
        # Runs on the link's thread: hand over and wake the stepping thread, nothing else.
        self._inbox.put(ev)
        self.wake.set()

    def _handle(self, ev: LinkEvent, now_s: float) -> None:
        if isinstance(ev, PubAck):
            self._window.puback(ev, now_s, self.queue)
        elif isinstance(ev, Incoming):
            self._on_incoming(ev)
        elif isinstance(ev, Connected):
            self._window.connected(ev.epoch, ev.receive_maximum, now_s)
            # Don't trust session_present: a broker that was killed may have lost anything.
            n = self.queue.requeue_unconfirmed()
            self._next_status_s = now_s  # retained online status right away
            log.info(
                "publishing: %d samples queued, %d of them re-sent because the broker may have "
                "lost them",
                self.queue.depth,
                n,
            )
        elif isinstance(ev, LinkFailed):
            raise EdgeError(f"the broker link failed: {ev.error}")
        elif isinstance(ev, Disconnected):
            self._window.disconnected(ev.epoch)

    def _on_incoming(self, ev: Incoming) -> None:
        self._acks.append((ev.epoch, ev.mid, ev.qos))
        if ev.topic != self._confirm_topic:
            log.debug("ignoring a message on %s", ev.topic)
            return
        try:
            msg = decode(
                Kind.CONFIRM, ev.payload, content_type=ev.content_type, expect=self._confirm_parts
            )
        except PayloadError as exc:
            log.warning("ignoring an invalid confirm on %s: %s", ev.topic, exc)
            return
        assert isinstance(msg, Confirm)
        deleted = self.queue.confirm(msg.ranges)
        self._confirmed += deleted
