"""InfluxDB line protocol: escaping and formatting (pure).

The wire contract already restricts ids and names to ``[a-z0-9_-]``, so tags and keys coming
from devices need no escaping; this module escapes anyway for everything it is given, so that
no caller can build a line that breaks in two. String field values are the only free text:
quotes and backslashes are escaped and line breaks are refused, never passed through.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from michimori.wire import Event, Sample, Status

FieldValue = bool | int | float | str

_MEAS_TABLE = str.maketrans({",": "\\,", " ": "\\ ", "\\": "\\\\"})
_TAG_TABLE = str.maketrans({",": "\\,", " ": "\\ ", "=": "\\=", "\\": "\\\\"})
_STR_TABLE = str.maketrans({'"': '\\"', "\\": "\\\\"})


class LineProtocolError(ValueError):
    """A value that cannot be represented in line protocol (NaN, a line break, empty key)."""


def escape_measurement(name: str) -> str:
    _no_breaks(name, "measurement")
    return name.translate(_MEAS_TABLE)


def escape_key(key: str) -> str:
    """Tag keys, tag values and field keys share one escaping rule."""
    _no_breaks(key, "key")
    return key.translate(_TAG_TABLE)


def format_value(key: str, value: FieldValue) -> str:
    """One field value: floats as floats, ints with ``i``, bools as t/f, strings quoted."""
    t = type(value)
    if t is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise LineProtocolError(f"field {key!r} is {value}: line protocol has no NaN/Inf")
        return repr(value)
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return f"{value}i"
    if t is str:
        _no_breaks(value, f"string field {key!r}")  # type: ignore[arg-type]
        return '"' + value.translate(_STR_TABLE) + '"'  # type: ignore[union-attr]
    raise LineProtocolError(f"field {key!r} has unsupported type {t.__name__}")


def _no_breaks(text: str, what: str) -> None:
    if "\n" in text or "\r" in text:
        raise LineProtocolError(f"{what} {text!r} contains a line break")
    if not text and what in ("measurement", "key"):
        raise LineProtocolError(f"empty {what}")


def line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, FieldValue],
    ts_ns: int,
) -> str:
    """A whole line; tags are sorted (InfluxDB's preferred order, faster to index)."""
    if not fields:
        raise LineProtocolError(f"point in {measurement!r} has no fields")
    tag_s = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()) if v != "")
    field_s = ",".join(f"{escape_key(k)}={format_value(k, v)}" for k, v in fields.items())
    return f"{escape_measurement(measurement)}{tag_s} {field_s} {ts_ns}"


def _numeric(key: str, value: FieldValue) -> str:
    # Ints from a device are written as floats: a sensor that reports 3 once and 3.5 later
    # must not hit a field type conflict. Only ``seq`` (ours) is an integer field.
    t = type(value)
    if t is float or t is int:
        v = float(value)
        if not math.isfinite(v):
            raise LineProtocolError(f"field {key!r} is {value}: line protocol has no NaN/Inf")
        return repr(v)
    return format_value(key, value)


def sample_line(site: str, device: str, sample: Sample) -> str:
    """A telemetry sample -> one point in measurement ``sample.sensor``."""
    return telemetry_lines(site, device, [sample])[0]


def telemetry_lines(site: str, device: str, samples: list[Sample]) -> list[str]:
    """The hot path: every sample of a message as lines.

    Site, device, sensor and field names come out of the wire contract's validation, whose
    patterns (``[a-z0-9-]`` ids, ``[a-z][a-z0-9_]`` names) leave nothing to escape, so this
    skips escaping them; values are still rendered by type, strings escaped and checked.
    """
    tags = f",device={device},site={site} "
    out: list[str] = []
    append = out.append
    for s in samples:
        parts: list[str] = []
        for k, v in s.fields.items():
            t = type(v)
            if t is float:
                if v - v != 0.0:  # type: ignore[operator]  # NaN or +-Inf, without a function call
                    raise LineProtocolError(f"field {k!r} is {v}: line protocol has no NaN/Inf")
                parts.append(f"{k}={v!r}")
            elif t is int:
                parts.append(f"{k}={float(v)!r}")
            else:
                parts.append(f"{k}={format_value(k, v)}")
        append(f"{s.sensor}{tags}{','.join(parts)},seq={s.seq}i {s.ts_ns}")
    return out


def event_line(site: str, device: str, event: Event) -> str:
    fields: dict[str, FieldValue] = {"message": event.message, "seq": event.seq}
    extra = ",".join(f"{escape_key(k)}={_numeric(k, v)}" for k, v in event.fields.items())
    base = line(
        "event",
        {"site": site, "device": device, "kind": event.kind, "severity": event.severity},
        fields,
        event.ts_ns,
    )
    if not extra:
        return base
    head, ts = base.rsplit(" ", 1)
    return f"{head},{extra} {ts}"


def status_line(status: Status) -> str:
    fields: dict[str, FieldValue] = {
        "online": status.state == "online",
        "queue_depth": status.queue_depth,
        "dropped_total": status.dropped_total,
        "version": status.version,
    }
    if status.rsrp_dbm is not None:
        fields["rsrp_dbm"] = float(status.rsrp_dbm)
    return line(
        "device_status", {"site": status.site, "device": status.device}, fields, status.ts_ns
    )
