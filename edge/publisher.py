"""The publish window: which queued rows go out next, and what each PUBACK means for them.

Events go before telemetry; several rows share one message; at most ``max_inflight`` messages
await their PUBACK. A PUBACK with a failure reason code (0x80 and up: not authorized, quota
exceeded, ...) puts the rows back to PENDING and pauses that lane with a growing backoff; the
rows are never deleted for it. Telemetry lingers up to ``linger_s`` to fill a message.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from typing import Final

import msgspec

from michimori.wire import (
    MAX_PAYLOAD_BYTES,
    Encoding,
    Event,
    Events,
    Sample,
    Telemetry,
    encode,
)

from .link import Link, PubAck, backoff_delay_s
from .queue import DiskQueue, Lane, Row

__all__ = ["BODY_ENCODER", "PublishWindow", "encode_rows"]

log = logging.getLogger(__name__)

# Rows hold the wire Sample/Event as MessagePack, whatever the device's wire encoding.
BODY_ENCODER: Final = msgspec.msgpack.Encoder()
_SAMPLE_DEC: Final = msgspec.msgpack.Decoder(Sample)
_EVENT_DEC: Final = msgspec.msgpack.Decoder(Event)
# A lane whose publishes the broker refuses (ACL, quota) pauses this long, doubling to the max:
# a refusal is a configuration problem, which takes a person minutes to fix, not milliseconds.
REFUSED_MIN_S: Final = 1.0
REFUSED_MAX_S: Final = 300.0


def encode_rows(lane: Lane, rows: list[Row], *, site: str, device: str, enc: Encoding) -> bytes:
    """One Telemetry (bulk) or Events message holding ``rows``, in the device's encoding."""
    if lane is Lane.BULK:
        samples = [_SAMPLE_DEC.decode(r.body) for r in rows]
        return encode(Telemetry(1, site, device, samples), enc)
    events = [_EVENT_DEC.decode(r.body) for r in rows]
    return encode(Events(1, site, device, events), enc)


class PublishWindow:
    """State of publishing on one connection; the agent owns one and feeds it link events."""

    def __init__(
        self,
        *,
        site: str,
        device: str,
        encoding: Encoding,
        topics: Mapping[Lane, str],
        batch_max: int,
        max_inflight: int,
        linger_s: float,
        seed: int,
    ) -> None:
        self._site, self._device, self._enc = site, device, encoding
        self._topics = dict(topics)
        self._batch = batch_max
        self._max_inflight = max_inflight
        self._linger_s = linger_s
        self._rng = random.Random(seed)
        self.epoch: int | None = None
        self._window = max_inflight
        self._inflight: dict[int, tuple[Lane, list[int]]] = {}
        self._status_mids: set[int] = set()
        self._blocked_until = {Lane.EVENT: 0.0, Lane.BULK: 0.0}
        self._refusals = {Lane.EVENT: 0, Lane.BULK: 0}
        # When pending telemetry must go out even if the message is not full; None: none pending.
        self._bulk_due: float | None = None
        self._bulk_fresh = 0
        # Are there pending events? Saves a SELECT per tick when (nearly always) there are none.
        self._events_due = True

    # -- what happened -----------------------------------------------------------------------

    def connected(self, epoch: int, receive_maximum: int, now_s: float) -> None:
        self.epoch = epoch
        self._inflight.clear()
        self._status_mids.clear()
        # One slot of the broker's Receive Maximum stays free for the status message.
        self._window = max(1, min(self._max_inflight, receive_maximum - 1))
        self._blocked_until = {Lane.EVENT: 0.0, Lane.BULK: 0.0}
        self._bulk_due = now_s
        self._events_due = True

    def disconnected(self, epoch: int) -> None:
        if epoch == self.epoch:
            self.epoch = None
            self._inflight.clear()

    def bulk_appended(self, now_s: float) -> None:
        self._bulk_fresh += 1
        if self._bulk_due is None:
            self._bulk_due = now_s + self._linger_s

    def event_appended(self) -> None:
        self._events_due = True

    def resend_now(self, now_s: float) -> None:
        """Rows went back to PENDING (confirm overdue, restart): publish them without waiting."""
        self._bulk_due = now_s
        self._events_due = True

    def status_sent(self, mid: int) -> None:
        self._status_mids.add(mid)

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    # -- publishing --------------------------------------------------------------------------

    def fill(self, now_s: float, q: DiskQueue, link: Link, *, linger: bool = True) -> int:
        """Publish until the window is full or nothing is due; returns messages sent."""
        if self.epoch is None:
            return 0
        sent = 0
        for lane in (Lane.EVENT, Lane.BULK):
            while len(self._inflight) < self._window and now_s >= self._blocked_until[lane]:
                if lane is Lane.EVENT and not self._events_due:
                    break
                if lane is Lane.BULK:
                    if self._bulk_due is None:
                        break
                    if linger and now_s < self._bulk_due and self._bulk_fresh < self._batch:
                        break
                rows = q.take(lane, self._batch)
                if len(rows) < self._batch:  # everything pending is in this message
                    if lane is Lane.BULK:
                        self._bulk_due = None
                        self._bulk_fresh = 0
                    else:
                        self._events_due = False
                if not rows:
                    break
                if not self._send(lane, rows, q, link):
                    if lane is Lane.BULK:
                        self._bulk_due = now_s
                    return sent
                sent += 1
        return sent

    def _send(self, lane: Lane, rows: list[Row], q: DiskQueue, link: Link) -> bool:
        payload = encode_rows(lane, rows, site=self._site, device=self._device, enc=self._enc)
        while len(payload) > MAX_PAYLOAD_BYTES and len(rows) > 1:
            rows = rows[: len(rows) // 2]
            payload = encode_rows(lane, rows, site=self._site, device=self._device, enc=self._enc)
        assert self.epoch is not None
        mid = link.publish(
            self.epoch, self._topics[lane], payload, content_type=self._enc.content_type
        )
        if mid is None:
            return False  # the connection is gone; a Disconnected event follows
        seqs = [r.seq for r in rows]
        q.mark_inflight(seqs)
        self._inflight[mid] = (lane, seqs)
        return True

    def puback(self, ev: PubAck, now_s: float, q: DiskQueue) -> None:
        if ev.epoch != self.epoch:
            return  # a PUBACK of a connection that is gone: its rows were re-queued
        if ev.mid in self._status_mids:
            self._status_mids.discard(ev.mid)
            if not ev.ok:
                log.error(
                    "broker refused our status message: %s (0x%02x)", ev.reason, ev.reason_code
                )
            return
        entry = self._inflight.pop(ev.mid, None)
        if entry is None:
            return
        lane, seqs = entry
        if ev.ok:
            q.mark_sent(seqs, now_s)
            self._refusals[lane] = 0
            return
        q.mark_pending(seqs)
        if lane is Lane.EVENT:
            self._events_due = True
        n = self._refusals[lane]
        self._refusals[lane] = n + 1
        delay = backoff_delay_s(n, min_s=REFUSED_MIN_S, max_s=REFUSED_MAX_S, rng=self._rng)
        self._blocked_until[lane] = now_s + delay
        if lane is Lane.BULK:
            self._bulk_due = now_s + delay
        log.error(
            "broker refused %d %s on %s: %s (0x%02x); kept on disk, retrying in %.0f s",
            len(seqs),
            "events" if lane is Lane.EVENT else "samples",
            self._topics[lane],
            ev.reason,
            ev.reason_code,
            delay,
        )

    def next_s(self, now_s: float) -> float:
        """The earliest time ``fill`` may have something to do (inf: only an event will)."""
        if self.epoch is None or len(self._inflight) >= self._window:
            return float("inf")  # a link event (connect, PUBACK) wakes the agent first
        t = float("inf")
        if self._bulk_due is not None:
            t = max(self._bulk_due, self._blocked_until[Lane.BULK])
        if self._blocked_until[Lane.EVENT] > now_s:
            t = min(t, self._blocked_until[Lane.EVENT])
        return t
