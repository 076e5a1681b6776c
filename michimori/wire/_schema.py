"""Payload schema v1: what a field device sends and what the ingest confirms back.

Every sample and event carries the device's own timestamp (``ts_ns``) and a per-device
sequence number (``seq``) from one sequence space shared by telemetry and events, so the
receiver can tell exactly what arrived and a re-sent sample lands on the same InfluxDB point.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

import msgspec

SCHEMA_VERSION = 1

# Field and sensor names become InfluxDB field keys and measurements: a strict charset means
# line protocol never has to escape them and a payload cannot smuggle syntax into a line.
_NAME = r"^[a-z][a-z0-9_]{0,63}$"
# Strings are stored as field values; control characters (newline above all) are refused, so
# no input can start a new line of line protocol.
_SAFE_TEXT = r"^[^\x00-\x1f\x7f]*$"
_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"

Name = Annotated[str, msgspec.Meta(pattern=_NAME)]
Text = Annotated[str, msgspec.Meta(max_length=256, pattern=_SAFE_TEXT)]
Id = Annotated[str, msgspec.Meta(pattern=_ID)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
TimestampNs = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
FieldValue = bool | int | float | Text
# Field keys are checked against NAME_PATTERN by the codec (with a memo of names already
# seen) rather than by msgspec per key: that regex per key per sample cost 3.6x in decoding.
Fields = Annotated[dict[str, FieldValue], msgspec.Meta(max_length=64)]
NAME_PATTERN = _NAME

MAX_SAMPLES_PER_MESSAGE = 1000

# Names the ingest uses for its own measurements or fields; a device may not take them.
RESERVED_SENSORS = frozenset({"event", "device_status", "ingest_metrics"})
RESERVED_FIELDS = frozenset({"seq"})

Severity = Literal["info", "warning", "alert", "critical"]


class _Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class Sample(_Base, frozen=True, forbid_unknown_fields=True):
    """One reading of one sensor: becomes one InfluxDB point in measurement ``sensor``."""

    seq: Seq
    ts_ns: TimestampNs
    sensor: str  # NAME_PATTERN, checked by the codec (see Fields)
    fields: Annotated[Fields, msgspec.Meta(min_length=1)]


class Event(_Base, frozen=True, forbid_unknown_fields=True):
    """Something the device decided is notable (a threshold alert, a clock jump, a reboot)."""

    seq: Seq
    ts_ns: TimestampNs
    kind: Name
    severity: Severity
    message: Text = ""
    fields: Fields = msgspec.field(default_factory=dict)


class Telemetry(_Base, frozen=True, forbid_unknown_fields=True, tag="telemetry", tag_field="type"):
    v: Literal[1]
    site: Id
    device: Id
    samples: Annotated[list[Sample], msgspec.Meta(min_length=1, max_length=MAX_SAMPLES_PER_MESSAGE)]


class Events(_Base, frozen=True, forbid_unknown_fields=True, tag="event", tag_field="type"):
    v: Literal[1]
    site: Id
    device: Id
    events: Annotated[list[Event], msgspec.Meta(min_length=1, max_length=MAX_SAMPLES_PER_MESSAGE)]


class Status(_Base, frozen=True, forbid_unknown_fields=True, tag="status", tag_field="type"):
    """Retained per device; the broker publishes the offline one as the device's last will."""

    v: Literal[1]
    site: Id
    device: Id
    state: Literal["online", "offline"]
    ts_ns: TimestampNs
    queue_depth: Annotated[int, msgspec.Meta(ge=0)] = 0
    dropped_total: Annotated[int, msgspec.Meta(ge=0)] = 0
    rsrp_dbm: float | None = None
    version: Text = ""


class Confirm(_Base, frozen=True, forbid_unknown_fields=True, tag="confirm", tag_field="type"):
    """Ingest -> device: the samples with these sequence numbers are stored in the database.

    ``ranges`` are inclusive ``[first, last]`` pairs. The device deletes a sample from its disk
    queue only on this, not on the broker's PUBACK, so a broker that dies before writing its
    persistence file cannot lose anything (see docs/architecture.md).
    """

    v: Literal[1]
    site: Id
    device: Id
    ts_ns: TimestampNs
    ranges: Annotated[list[tuple[Seq, Seq]], msgspec.Meta(min_length=1, max_length=10_000)]


Message = Telemetry | Events | Status | Confirm


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Sequence numbers as sorted inclusive ranges, the form a Confirm carries.

    ``[3, 1, 2, 7, 7] -> [(1, 3), (7, 7)]``
    """
    out: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out
