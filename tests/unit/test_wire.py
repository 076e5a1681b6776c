"""The wire contract: topics, both encodings, validation errors that name the field."""

from __future__ import annotations

import msgspec
import pytest

from michimori.wire import (
    MAX_PAYLOAD_BYTES,
    Confirm,
    Encoding,
    Event,
    Events,
    Kind,
    MismatchError,
    PayloadError,
    Sample,
    Status,
    Telemetry,
    TopicError,
    TopicParts,
    decode,
    encode,
    parse_topic,
    sniff_encoding,
    subscription,
    topic,
)

TELEMETRY = Telemetry(
    v=1,
    site="utsunomiya-01",
    device="pole-0001",
    samples=[
        Sample(
            seq=7,
            ts_ns=1_700_000_000_000_000_000,
            sensor="tilt",
            fields={"tilt_x_deg": 0.12, "satellites": 9, "fix": True, "mode": "3d"},
        ),
    ],
)
MESSAGES = [
    (Kind.TELEMETRY, TELEMETRY),
    (
        Kind.EVENT,
        Events(
            v=1,
            site="s",
            device="d",
            events=[
                Event(seq=8, ts_ns=1, kind="tilt_alert", severity="alert", message="tilt 2.5°")
            ],
        ),
    ),
    (
        Kind.STATUS,
        Status(
            v=1,
            site="s",
            device="d",
            state="offline",
            ts_ns=5,
            queue_depth=3,
            dropped_total=1,
            rsrp_dbm=-95.5,
            version="0.1.0",
        ),
    ),
    (Kind.CONFIRM, Confirm(v=1, site="s", device="d", ts_ns=9, ranges=[(1, 5), (9, 9)])),
]


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize(("kind", "msg"), MESSAGES)
def test_round_trip(kind: Kind, msg: object, encoding: Encoding) -> None:
    data = encode(msg, encoding)  # type: ignore[arg-type]
    assert sniff_encoding(data) is encoding
    assert decode(kind, data, content_type=encoding.content_type) == msg
    assert decode(kind, data) == msg


def test_msgpack_is_more_compact_than_json() -> None:
    assert len(encode(TELEMETRY, Encoding.MSGPACK)) < len(encode(TELEMETRY, Encoding.JSON))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("michimori/v1/site-a/pole-1/telemetry", TopicParts("site-a", "pole-1", Kind.TELEMETRY)),
        ("michimori/v1/s/d/confirm", TopicParts("s", "d", Kind.CONFIRM)),
        ("michimori/v2/s/d/telemetry", TopicError("not under")),
        ("michimori/v1/s/telemetry", TopicError("has 2 levels")),
        ("michimori/v1/s/d/telemetry/x", TopicError("has 4 levels")),
        ("michimori/v1/s/d/photos", TopicError("unknown kind 'photos'")),
        ("michimori/v1/S/d/event", TopicError("invalid site id 'S'")),
        ("michimori/v1/s/+/event", TopicError(r"invalid device id '\+'")),
        ("michimori/v1/s/#/event", TopicError("invalid device id '#'")),
        ("michimori/v1/s/a b/event", TopicError("invalid device id 'a b'")),
        ("michimori/v1//d/event", TopicError("invalid site id ''")),
    ],
)
def test_parse_topic(value: str, expected: object) -> None:
    if isinstance(expected, Exception):
        with pytest.raises(type(expected), match=str(expected)):
            parse_topic(value)
    else:
        assert parse_topic(value) == expected
        assert str(expected) == value


def test_topic_builder_and_subscriptions() -> None:
    assert topic("s", "d", Kind.EVENT) == "michimori/v1/s/d/event"
    assert subscription(Kind.TELEMETRY) == "michimori/v1/+/+/telemetry"
    assert subscription(Kind.TELEMETRY, share_group="ingest") == (
        "$share/ingest/michimori/v1/+/+/telemetry"
    )
    with pytest.raises(TopicError):
        topic("s", "dev/1", Kind.EVENT)


def _raw(**over: object) -> bytes:
    body: dict = {
        "type": "telemetry",
        "v": 1,
        "site": "s",
        "device": "d",
        "samples": [{"seq": 1, "ts_ns": 1, "sensor": "tilt", "fields": {"x": 1.0}}],
    }
    body.update(over)
    return msgspec.json.encode(body)


def _sample(**over: object) -> bytes:
    s: dict = {"seq": 1, "ts_ns": 1, "sensor": "tilt", "fields": {"x": 1.0}}
    s.update(over)
    return _raw(samples=[s])


@pytest.mark.parametrize(
    ("payload", "content_type", "reason", "words"),
    [
        (b"", None, "undecodable", "neither"),
        (b"\x00\x01", None, "undecodable", "neither"),
        (b"{nope", "application/json", "undecodable", "undecodable json"),
        (_raw(), "text/csv", "bad_content_type", "text/csv"),
        (_raw(extra=1), None, "invalid", "unknown field `extra`"),
        (_raw(v=2), None, "invalid", "$.v"),
        (_raw(samples=[]), None, "invalid", "length >= 1"),
        (
            _raw(samples=[{"seq": 1, "ts_ns": 1, "sensor": "t", "fields": {"x": 1}}] * 1001),
            None,
            "invalid",
            "length <= 1000",
        ),
        (_sample(seq=-1), None, "invalid", "$.samples[0].seq"),
        (_sample(seq=2**63), None, "invalid", "$.samples[0].seq"),
        (_sample(ts_ns="now"), None, "invalid", "$.samples[0].ts_ns"),
        (_sample(sensor="Tilt"), None, "invalid", "$.samples[0].sensor"),
        (_sample(sensor="event"), None, "invalid", "reserved"),
        (_sample(fields={}), None, "invalid", "length >= 1"),
        (_sample(fields={"x": None}), None, "invalid", "$.samples[0].fields"),
        (_sample(fields={"x": {"y": 1}}), None, "invalid", "$.samples[0].fields"),
        (_sample(fields={"x y": 1}), None, "invalid", "$.samples[0].fields"),
        (_sample(fields={"x": "a\nb"}), None, "invalid", "$.samples[0].fields"),
        (_sample(fields={"x": "a" * 257}), None, "invalid", "$.samples[0].fields"),
        (_sample(fields={"seq": 1}), None, "invalid", "reserved"),
        (
            msgspec.msgpack.encode(
                {
                    "type": "telemetry",
                    "v": 1,
                    "site": "s",
                    "device": "d",
                    "samples": [
                        {"seq": 1, "ts_ns": 1, "sensor": "t", "fields": {"x": float("inf")}}
                    ],
                }
            ),
            None,
            "invalid",
            "not a finite number",
        ),
        (b"{" + b" " * MAX_PAYLOAD_BYTES + b"}", None, "too_large", "byte limit"),
    ],
)
def test_decode_errors_name_what_is_wrong(
    payload: bytes, content_type: str | None, reason: str, words: str
) -> None:
    with pytest.raises(PayloadError) as info:
        decode(Kind.TELEMETRY, payload, content_type=content_type)
    assert info.value.reason == reason
    assert words in str(info.value)


def test_device_may_only_speak_for_itself() -> None:
    data = encode(TELEMETRY)
    parts = parse_topic("michimori/v1/utsunomiya-01/pole-0002/telemetry")
    with pytest.raises(MismatchError, match=r"pole-0001.*pole-0002"):
        decode(Kind.TELEMETRY, data, expect=parts)
