"""The ingest service: MQTT 5 shared subscription -> batches -> storage -> acks and confirms.

Delivery: manual acks. A message is acknowledged to the broker only after its points are in
the database (or it is in the dead-letter store), so a crash loses nothing: the broker
redelivers. Points are idempotent (device timestamp + tags), so redelivery never duplicates.
After each write the ingest publishes a Confirm to every device in the batch; devices delete
samples from their disk queue only then (docs/architecture.md, "surviving a broker SIGKILL").
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from michimori.wire import (
    Confirm,
    Encoding,
    Kind,
    encode,
    seq_ranges,
    subscription,
    topic,
)

from ._deadletter import DeadLetter, DeadLetterStore
from ._decode import Decoded, decode_message
from ._lineprotocol import line
from ._metrics import Metrics, MetricsServer
from .config import IngestConfig
from .storage import Storage, StorageRejected, StorageUnavailable, open_storage

log = logging.getLogger("michimori.ingest")

_SUBSCRIBED_KINDS = (Kind.TELEMETRY, Kind.EVENT, Kind.STATUS)
# Storage retry back-off: fast enough to notice a restart within seconds, slow enough not to
# hammer a database that is recovering.
_RETRY_MIN_S = 0.25
_RETRY_MAX_S = 5.0


class _Stopping(Exception):
    """Asked to stop while storage is down: the batch is left unacked for redelivery."""


@dataclass(frozen=True, slots=True)
class _Received:
    mid: int
    qos: int
    topic: str
    payload: bytes
    content_type: str | None
    received_ns: int


class IngestService:
    """One ingest worker. ``start()``, then ``stop()``; or use as a context manager."""

    def __init__(self, cfg: IngestConfig, *, storage: Storage | None = None) -> None:
        self.cfg = cfg
        self.storage = storage or open_storage(cfg.storage)
        self.deadletters = DeadLetterStore(cfg.deadletter.dir)
        self.metrics = Metrics()
        self._inbox: queue.Queue[_Received] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        # Two stages so decoding the next batch overlaps the HTTP write of this one (the write
        # releases the GIL while InfluxDB works). One writer keeps acks in arrival order.
        self._batches: queue.Queue[list[tuple[_Received, Decoded]] | None] = queue.Queue(maxsize=2)
        self._batcher = threading.Thread(target=self._run_batcher, name="ingest-batcher")
        self._writer = threading.Thread(target=self._run_writer, name="ingest-writer")
        self._reporter = threading.Thread(target=self._run_reporter, name="ingest-metrics")
        self._http: MetricsServer | None = None
        self._client = self._make_client()

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        m = self.cfg.mqtt
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = m.session_expiry_s
        props.ReceiveMaximum = m.receive_maximum
        log.info(
            "ingest %s connecting to mqtt://%s:%d, writing to %s %s",
            m.client_id,
            m.host,
            m.port,
            self.storage.name,
            self.cfg.storage.url,
        )
        self._client.connect_async(
            m.host, m.port, keepalive=m.keepalive_s, clean_start=False, properties=props
        )
        self._client.loop_start()
        self._batcher.start()
        self._writer.start()
        self._reporter.start()
        if self.cfg.metrics.http_listen:
            self._http = MetricsServer(self.metrics, m.client_id, self.cfg.metrics.http_listen)
            self._http.start()
            log.info("metrics on http://%s/metrics and /healthz", self.cfg.metrics.http_listen)

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    @property
    def metrics_port(self) -> int | None:
        return self._http.port if self._http else None

    def stop(self) -> None:
        """Write and ack what has arrived, then disconnect. Unwritten messages stay unacked
        in the broker's session and come back on the next start."""
        self._stop.set()
        for t in (self._batcher, self._writer):
            if t.is_alive():
                t.join()
        if self._reporter.is_alive():
            self._reporter.join()
        self._client.disconnect()
        self._client.loop_stop()
        if self._http:
            self._http.close()
        self.storage.close()
        log.info("ingest stopped: %s", self.metrics.snapshot())

    def __enter__(self) -> IngestService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- MQTT callbacks (network thread) ---------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        m = self.cfg.mqtt
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=m.client_id,
            protocol=mqtt.MQTTv5,
        )
        c.manual_ack_set(True)
        if m.username:
            c.username_pw_set(m.username, m.password())
        if m.tls:
            c.tls_set(ca_certs=m.ca_file or None)
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        return c

    def _on_connect(
        self, client: mqtt.Client, _ud: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        # Subscribe on every connect: a broker killed before its autosave forgot the session.
        subs = [
            (
                subscription(
                    k, root=self.cfg.mqtt.topic_root, share_group=self.cfg.mqtt.share_group
                ),
                SubscribeOptions(qos=1),
            )
            for k in _SUBSCRIBED_KINDS
        ]
        client.subscribe(subs)
        with self.metrics.lock:
            self.metrics.mqtt_connected = True
        self._connected.set()
        log.info("connected to broker (session present: %s)", flags.session_present)

    def _on_disconnect(
        self, _c: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        with self.metrics.lock:
            self.metrics.mqtt_connected = False
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("lost the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        ctype = getattr(msg.properties, "ContentType", None) if msg.properties else None
        self._inbox.put(
            _Received(msg.mid, msg.qos, msg.topic, bytes(msg.payload), ctype, time.time_ns())
        )

    # ----- writer thread ---------------------------------------------------------------------
    def _run_batcher(self) -> None:
        s = self.cfg.storage
        batch: list[tuple[_Received, Decoded]] = []
        points = 0
        deadline = 0.0
        while True:
            if self._stop.is_set() and self._inbox.empty():
                break
            timeout = max(0.0, deadline - time.monotonic()) if batch else 0.2
            try:
                item = self._inbox.get(timeout=timeout)
            except queue.Empty:
                if batch and time.monotonic() >= deadline:
                    self._batches.put(batch)
                    batch, points = [], 0
                continue
            decoded = decode_message(
                item.topic, item.payload, item.content_type, topic_root=self.cfg.mqtt.topic_root
            )
            if not batch:
                deadline = time.monotonic() + s.batch_max_delay_s
            batch.append((item, decoded))
            points += len(decoded.lines)
            if points >= s.batch_max_points:
                self._batches.put(batch)
                batch, points = [], 0
        if batch:
            self._batches.put(batch)
        self._batches.put(None)

    def _run_writer(self) -> None:
        while (batch := self._batches.get()) is not None:
            if self._stop.is_set() and not self.metrics.storage_up:
                # stopping with the database down: leave the rest unacked for redelivery
                continue
            self._flush(batch)

    def _flush(self, batch: list[tuple[_Received, Decoded]]) -> None:
        t0 = time.monotonic()
        good = [(r, d) for r, d in batch if not d.poison]
        lines = [ln for _, d in good for ln in d.lines]
        try:
            rejection = self._write_with_retry(lines)
            rejected = self._isolate(good) if rejection is not None else {}
        except _Stopping:
            return  # nothing acked: the broker keeps it all for the next start
        written = 0
        confirms: dict[tuple[str, str], list[int]] = defaultdict(list)
        oldest: int | None = None
        for r, d in batch:
            if d.poison or id(d) in rejected:
                reason = d.reason or "rejected"
                error = d.error or rejected[id(d)]
                self._dead_letter(r, reason, error)
            else:
                written += len(d.lines)
                if d.oldest_ts_ns is not None:
                    oldest = d.oldest_ts_ns if oldest is None else min(oldest, d.oldest_ts_ns)
            if d.seqs:
                # dead-lettered samples are confirmed too: they are kept, and a device that
                # re-sent them forever would gain nothing
                confirms[(d.site, d.device)].extend(d.seqs)
        for r, _ in batch:
            self._client.ack(r.mid, r.qos)
        n_confirmed = self._send_confirms(confirms)
        latency_ms = (time.monotonic() - t0) * 1000
        with self.metrics.lock:
            m = self.metrics
            m.received += len(batch)
            m.written += written
            m.confirmed += n_confirmed
            m.batches += 1
            m.batch_latency_ms_last = latency_ms
            m.batch_latency_ms_sum += latency_ms
            m.inbox_depth = self._inbox.qsize()
            if oldest is not None:
                m.lag_s = max(0.0, (time.time_ns() - oldest) / 1e9)

    def _write_with_retry(self, lines: list[str]) -> str | None:
        """Write until stored. Returns None, or InfluxDB's message after a partial write.

        Raises _Stopping when the service is asked to stop while storage is down.
        """
        delay = _RETRY_MIN_S
        while True:
            try:
                self.storage.write(lines)
                self._set_storage_up(True)
                return None
            except StorageRejected as exc:
                # InfluxDB wrote the good points and refused some; the caller finds whose.
                self._set_storage_up(True)
                return str(exc)
            except StorageUnavailable as exc:
                with self.metrics.lock:
                    self.metrics.storage_errors += 1
                    self.metrics.inbox_depth = self._inbox.qsize()
                if self.metrics.storage_up:
                    log.error("storage unavailable, holding acks and retrying: %s", exc)
                self._set_storage_up(False)
                if self._stop.wait(delay + random.uniform(0, delay / 2)):
                    raise _Stopping from exc
                delay = min(delay * 2, _RETRY_MAX_S)

    def _isolate(self, good: list[tuple[_Received, Decoded]]) -> dict[int, str]:
        """After a partial write, rewrite message by message (idempotent) to find the poison.

        Returns {id(decoded): InfluxDB's error} for the messages it refuses.
        """
        rejected: dict[int, str] = {}
        for r, d in good:
            error = self._write_with_retry(d.lines)
            if error is not None:
                rejected[id(d)] = error
                log.warning("database refused a message from %s: %s", r.topic, error)
        return rejected

    def _set_storage_up(self, up: bool) -> None:
        with self.metrics.lock:
            was = self.metrics.storage_up
            self.metrics.storage_up = up
        if up and not was:
            log.info("storage is back; writing resumes")

    def _dead_letter(self, r: _Received, reason: str, error: str) -> None:
        letter = DeadLetter(
            topic=r.topic,
            reason=reason,
            error=error,
            payload=r.payload,
            received_ns=r.received_ns,
            content_type=r.content_type,
        )
        self.deadletters.add(letter)
        with self.metrics.lock:
            self.metrics.deadlettered += 1
        log.warning("dead letter from %s (%s): %s", r.topic, reason, error)
        self._client.publish(
            f"{self.cfg.mqtt.topic_root}/_deadletter/{reason}",
            json.dumps(letter.to_json()).encode(),
            qos=1,
        )

    def _send_confirms(self, confirms: dict[tuple[str, str], list[int]]) -> int:
        now = time.time_ns()
        total = 0
        for (site, device), seqs in confirms.items():
            msg = Confirm(v=1, site=site, device=device, ts_ns=now, ranges=seq_ranges(seqs))
            self._client.publish(
                topic(site, device, Kind.CONFIRM, root=self.cfg.mqtt.topic_root),
                encode(msg, Encoding.MSGPACK),
                qos=1,
                properties=_content_type(Encoding.MSGPACK),
            )
            total += len(seqs)
        return total

    # ----- metrics to the database -----------------------------------------------------------
    def _run_reporter(self) -> None:
        while not self._stop.wait(self.cfg.metrics.interval_s):
            snap = self.metrics.snapshot()
            fields: dict[str, bool | int | float | str] = {
                k: snap[k]
                for k in (
                    "received",
                    "written",
                    "deadlettered",
                    "confirmed",
                    "storage_errors",
                    "batches",
                    "lag_s",
                    "inbox_depth",
                )
            }
            fields["batch_latency_ms"] = float(snap["batch_latency_ms"])
            ln = line("ingest_metrics", {"worker": self.cfg.mqtt.client_id}, fields, time.time_ns())
            try:
                self.storage.write([ln])
            except (StorageUnavailable, StorageRejected) as exc:
                log.debug("could not store own metrics: %s", exc)


def _content_type(enc: Encoding) -> Properties:
    p = Properties(PacketTypes.PUBLISH)
    p.ContentType = enc.content_type
    return p
