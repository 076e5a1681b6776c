"""A minimal stand-in for the ingest: records what devices publish and confirms it back.

For the benchmark, the fleet simulator (``--confirm``) and the tests, where the real ingest and
InfluxDB are not wanted. It validates every payload with michimori.wire, so a test that uses
it also checks what the agent puts on the wire. Not for production: nothing is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from michimori.wire import (
    TOPIC_ROOT,
    Confirm,
    Encoding,
    Event,
    Events,
    Kind,
    Status,
    Telemetry,
    WireError,
    decode,
    encode,
    parse_topic,
    seq_ranges,
    subscription,
    topic,
)

__all__ = ["ConfirmResponder", "DeviceLog"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeviceLog:
    """Everything one device sent, in arrival order."""

    seqs: list[int] = field(default_factory=list)  # telemetry and events, with duplicates
    samples: int = 0
    events: list[Event] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    telemetry_ts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    arrivals: list[tuple[Kind, int]] = field(default_factory=list)  # (kind, first seq)

    @property
    def unique(self) -> set[int]:
        return set(self.seqs)


class ConfirmResponder:
    """Subscribes to every device's telemetry, events and status; confirms what arrived.

    ``confirm=False`` records without confirming (to test confirm timeouts). Confirms are sent
    in batches every ``confirm_interval_s``, like the ingest does after each write.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        root: str = TOPIC_ROOT,
        confirm: bool = True,
        confirm_interval_s: float = 0.05,
        keep_samples: bool = True,
        client_id: str = "",
    ) -> None:
        self.host, self.port, self.root = host, port, root
        self.confirm = confirm
        self._interval_s = confirm_interval_s
        self._keep = keep_samples
        self.devices: dict[tuple[str, str], DeviceLog] = defaultdict(DeviceLog)
        self.errors: list[str] = []
        self.received_samples = 0
        self.first_data_s: float | None = None
        self.last_data_s: float | None = None
        self._cond = threading.Condition()
        self._to_confirm: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"responder-{id(self):x}",
            protocol=mqtt.MQTTv5,
        )
        self._client.suppress_exceptions = False
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._flusher = threading.Thread(target=self._flush_loop, name="responder-confirm")
        self._props = Properties(PacketTypes.PUBLISH)
        self._props.ContentType = Encoding.MSGPACK.content_type

    def start(self, *, timeout_s: float = 10.0) -> ConfirmResponder:
        self._client.connect(self.host, self.port, keepalive=30, clean_start=True)
        self._client.loop_start()
        self._flusher.start()
        if not self._subscribed.wait(timeout_s):
            raise TimeoutError(f"responder: no SUBACK from {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._flusher.is_alive():
            self._flusher.join()
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> ConfirmResponder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``predicate()`` (called under the lock) holds; False on timeout."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout_s)

    def device(self, site: str, device: str) -> DeviceLog:
        with self._cond:
            return self.devices[(site, device)]

    # -- paho callbacks ----------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self.errors.append(f"connect refused: {rc}")
            return
        opts = SubscribeOptions(qos=1)
        client.subscribe(
            [(subscription(k, root=self.root), opts) for k in (Kind.TELEMETRY, Kind.EVENT)]
            + [(subscription(Kind.STATUS, root=self.root), opts)]
        )

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        if any(c.is_failure for c in codes):
            self.errors.append(f"subscription refused: {codes}")
        self._subscribed.set()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        try:
            parts = parse_topic(msg.topic, root=self.root)
            ctype = getattr(msg.properties, "ContentType", None) if msg.properties else None
            payload = decode(parts.kind, bytes(msg.payload), content_type=ctype, expect=parts)
        except WireError as exc:
            with self._cond:
                self.errors.append(f"{msg.topic}: {exc}")
                self._cond.notify_all()
            return
        key = (parts.site, parts.device)
        with self._cond:
            dev = self.devices[key]
            seqs: list[int] = []
            if isinstance(payload, Telemetry):
                seqs = [s.seq for s in payload.samples]
                self.received_samples += len(seqs)
                dev.samples += len(seqs)
                if self._keep:
                    for s in payload.samples:
                        dev.telemetry_ts[s.sensor].append(s.ts_ns)
            elif isinstance(payload, Events):
                seqs = [e.seq for e in payload.events]
                self.received_samples += len(seqs)
                dev.events.extend(payload.events)
            elif isinstance(payload, Status):
                dev.statuses.append(payload)
            if seqs:
                self.first_data_s = self.first_data_s or now
                self.last_data_s = now
                dev.arrivals.append((parts.kind, seqs[0]))
                if self._keep:
                    dev.seqs.extend(seqs)
                if self.confirm:
                    self._to_confirm[key].extend(seqs)
            self._cond.notify_all()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.flush()
        self.flush()

    def flush(self) -> None:
        with self._cond:
            pending, self._to_confirm = self._to_confirm, defaultdict(list)
        for (site, device), seqs in pending.items():
            ranges = seq_ranges(seqs)
            for i in range(0, len(ranges), 5_000):  # the schema allows 10,000 per Confirm
                msg = Confirm(
                    v=1,
                    site=site,
                    device=device,
                    ts_ns=time.time_ns(),
                    ranges=ranges[i : i + 5_000],
                )
                self._client.publish(
                    topic(site, device, Kind.CONFIRM, root=self.root),
                    encode(msg, Encoding.MSGPACK),
                    qos=1,
                    properties=self._props,
                )
