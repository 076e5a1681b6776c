"""Line protocol rendering: escaping, types, and no way to inject a second line."""

from __future__ import annotations

import pytest

from ingest._lineprotocol import (
    LineProtocolError,
    event_line,
    format_value,
    line,
    sample_line,
    status_line,
)
from michimori.wire import Event, Sample, Status


@pytest.mark.parametrize(
    ("meas", "tags", "fields", "expected"),
    [
        ("m", {"a": "b"}, {"f": 1.5}, "m,a=b f=1.5 7"),
        ("m", {"b": "2", "a": "1"}, {"f": 1}, "m,a=1,b=2 f=1i 7"),  # tags sorted
        ("m x", {}, {"f": True}, "m\\ x f=true 7"),
        ("m,x", {}, {"f": False}, "m\\,x f=false 7"),
        ("m", {"k": "v,w x=y"}, {"f": 1.0}, "m,k=v\\,w\\ x\\=y f=1.0 7"),
        ("m", {"k k": "v"}, {"f f": 1.0}, "m,k\\ k=v f\\ f=1.0 7"),
        ("m", {"k": "a\\b"}, {"f": 1.0}, "m,k=a\\\\b f=1.0 7"),
        ("m", {}, {"s": 'say "hi" \\o/'}, 'm s="say \\"hi\\" \\\\o/" 7'),
        ("m", {"empty": ""}, {"f": 2.0}, "m f=2.0 7"),  # empty tag values are omitted
    ],
)
def test_line(meas: str, tags: dict, fields: dict, expected: str) -> None:
    assert line(meas, tags, fields, 7) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), "NaN"),
        (float("inf"), "NaN/Inf"),
        ("two\nlines", "line break"),
        ("cr\rhere", "line break"),
        ([1], "unsupported type list"),
    ],
)
def test_unrepresentable_values_raise(value: object, error: str) -> None:
    with pytest.raises(LineProtocolError, match=error):
        format_value("f", value)  # type: ignore[arg-type]


def test_line_breaks_in_names_and_empty_fields_raise() -> None:
    with pytest.raises(LineProtocolError, match="line break"):
        line("m\nx", {}, {"f": 1.0}, 1)
    with pytest.raises(LineProtocolError, match="line break"):
        line("m", {"k": "v\n"}, {"f": 1.0}, 1)
    with pytest.raises(LineProtocolError, match="no fields"):
        line("m", {}, {}, 1)


def test_sample_line_writes_ints_as_floats_and_seq_as_int() -> None:
    s = Sample(
        seq=42, ts_ns=123, sensor="gnss", fields={"satellites": 9, "lat_deg": 36.5, "fix": True}
    )
    assert sample_line("s1", "d1", s) == (
        "gnss,device=d1,site=s1 satellites=9.0,lat_deg=36.5,fix=true,seq=42i 123"
    )


def test_event_and_status_lines() -> None:
    e = Event(
        seq=5,
        ts_ns=9,
        kind="tilt_alert",
        severity="alert",
        message="tilt 2.5",
        fields={"tilt_deg": 2.5},
    )
    assert event_line("s", "d", e) == (
        'event,device=d,kind=tilt_alert,severity=alert,site=s message="tilt 2.5",seq=5i,'
        "tilt_deg=2.5 9"
    )
    st = Status(
        v=1,
        site="s",
        device="d",
        state="online",
        ts_ns=3,
        queue_depth=4,
        dropped_total=0,
        rsrp_dbm=-90.0,
        version="0.1.0",
    )
    assert status_line(st) == (
        "device_status,device=d,site=s online=true,queue_depth=4i,dropped_total=0i,"
        'version="0.1.0",rsrp_dbm=-90.0 3'
    )
