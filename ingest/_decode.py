"""From one MQTT message to the lines it becomes, or the reason it is poison (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from michimori.wire import (
    Events,
    Kind,
    Status,
    Telemetry,
    WireError,
    decode,
    parse_topic,
)

from ._lineprotocol import LineProtocolError, event_line, status_line, telemetry_lines


@dataclass(slots=True)
class Decoded:
    """What one message contributes to a batch."""

    lines: list[str] = field(default_factory=list)
    site: str = ""
    device: str = ""
    seqs: list[int] = field(default_factory=list)  # to confirm back to the device
    oldest_ts_ns: int | None = None
    reason: str | None = None  # set: the message is poison and goes to the dead-letter store
    error: str = ""

    @property
    def poison(self) -> bool:
        return self.reason is not None


def decode_message(
    topic: str, payload: bytes, content_type: str | None, *, topic_root: str
) -> Decoded:
    """Validate a message against the wire contract and render its points.

    Never raises for bad input: a bad message is returned with ``reason`` and ``error`` set so
    the caller can dead-letter it and carry on with the stream.
    """
    try:
        parts = parse_topic(topic, root=topic_root)
        if parts.kind is Kind.CONFIRM:
            return Decoded(reason="bad_topic", error=f"ingest does not take {topic!r}")
        msg = decode(parts.kind, payload, content_type=content_type, expect=parts)
        out = Decoded(site=parts.site, device=parts.device)
        if isinstance(msg, Telemetry):
            out.lines = telemetry_lines(msg.site, msg.device, msg.samples)
            out.seqs = [s.seq for s in msg.samples]
            out.oldest_ts_ns = min(s.ts_ns for s in msg.samples)
        elif isinstance(msg, Events):
            out.lines = [event_line(msg.site, msg.device, e) for e in msg.events]
            out.seqs = [e.seq for e in msg.events]
            out.oldest_ts_ns = min(e.ts_ns for e in msg.events)
        elif isinstance(msg, Status):
            out.lines = [status_line(msg)]
        return out
    except WireError as exc:
        return Decoded(reason=exc.reason, error=str(exc))
    except LineProtocolError as exc:
        return Decoded(reason="invalid", error=f"cannot store: {exc}")
