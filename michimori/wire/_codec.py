"""Encoding and validating decoding of payloads: JSON or MessagePack, chosen per device."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any, Final

import msgspec

from ._errors import MismatchError, PayloadError
from ._schema import (
    NAME_PATTERN,
    RESERVED_FIELDS,
    RESERVED_SENSORS,
    Confirm,
    Events,
    Message,
    Status,
    Telemetry,
)
from ._topics import Kind, TopicParts

# A message of 1,000 samples with a dozen fields each is ~150 kB of JSON; anything bigger is
# not something our devices send, and refusing it before parsing bounds the ingest's memory.
MAX_PAYLOAD_BYTES: Final = 256 * 1024


class Encoding(StrEnum):
    JSON = "json"
    MSGPACK = "msgpack"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]

    @classmethod
    def from_content_type(cls, content_type: str) -> Encoding:
        for enc, ct in _CONTENT_TYPES.items():
            if content_type.split(";")[0].strip().lower() == ct:
                return enc
        raise PayloadError(
            f"unsupported content type {content_type!r} "
            f"(expected {' or '.join(_CONTENT_TYPES.values())})",
            reason="bad_content_type",
        )


_CONTENT_TYPES: Final = {Encoding.JSON: "application/json", Encoding.MSGPACK: "application/msgpack"}

_JSON_ENC: Final = msgspec.json.Encoder()
_MSGPACK_ENC: Final = msgspec.msgpack.Encoder()
_KIND_TYPES: Final[dict[Kind, type[Any]]] = {
    Kind.TELEMETRY: Telemetry,
    Kind.EVENT: Events,
    Kind.STATUS: Status,
    Kind.CONFIRM: Confirm,
}
_JSON_DEC: Final = {k: msgspec.json.Decoder(t) for k, t in _KIND_TYPES.items()}
_MSGPACK_DEC: Final = {k: msgspec.msgpack.Decoder(t) for k, t in _KIND_TYPES.items()}


def encode(message: Message, encoding: Encoding = Encoding.JSON) -> bytes:
    """Serialise a message. Validates nothing: build messages from the schema's types."""
    if encoding is Encoding.MSGPACK:
        return _MSGPACK_ENC.encode(message)
    return _JSON_ENC.encode(message)


def sniff_encoding(payload: bytes) -> Encoding:
    """Guess the encoding of a payload that came without a content type."""
    first = payload[:1]
    if first in (b"{", b" ", b"\n", b"\t", b"\r"):
        return Encoding.JSON
    if first and (0x80 <= first[0] <= 0x8F or first[0] in (0xDE, 0xDF)):
        return Encoding.MSGPACK  # a MessagePack map
    raise PayloadError(
        f"payload is neither a JSON object nor a MessagePack map (first byte {first!r})",
        reason="undecodable",
    )


def decode(
    kind: Kind,
    payload: bytes,
    *,
    content_type: str | None = None,
    expect: TopicParts | None = None,
) -> Message:
    """Decode and validate one payload of ``kind``.

    With ``expect`` (the parsed topic it came on) the payload's site and device must be the
    topic's: a device may only speak for itself. Raises PayloadError (or MismatchError) with a
    message that names the offending field.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            f"payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit",
            reason="too_large",
        )
    enc = Encoding.from_content_type(content_type) if content_type else sniff_encoding(payload)
    decoder = _MSGPACK_DEC[kind] if enc is Encoding.MSGPACK else _JSON_DEC[kind]
    try:
        msg: Message = decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise PayloadError(f"invalid {kind.value} payload: {exc}", reason="invalid") from exc
    except msgspec.DecodeError as exc:
        raise PayloadError(f"undecodable {enc.value} payload: {exc}", reason="undecodable") from exc
    _check_values(msg)
    if expect is not None and (msg.site != expect.site or msg.device != expect.device):
        raise MismatchError(
            f"payload says site={msg.site!r} device={msg.device!r} but came on the topic of "
            f"site={expect.site!r} device={expect.device!r}"
        )
    return msg


_NAME_RE: Final = re.compile(NAME_PATTERN)
# Names that already passed NAME_PATTERN. A fleet uses a few dozen; the cap keeps a hostile
# stream of fresh names from growing it without bound (they are then just checked each time).
_KNOWN_NAMES: set[str] = set()
_KNOWN_NAMES_MAX: Final = 10_000


def _check_name(name: str, what: str, where: str) -> None:
    if name in _KNOWN_NAMES:
        return
    if not _NAME_RE.fullmatch(name):
        raise PayloadError(
            f"invalid payload: {what} {name!r} must be 1-64 of a-z, 0-9, '_' starting with a "
            f"letter - at `{where}`",
            reason="invalid",
        )
    if len(_KNOWN_NAMES) < _KNOWN_NAMES_MAX:
        _KNOWN_NAMES.add(name)


def _check_values(msg: Message) -> None:
    """What the schema types do not say: names, finite numbers, reserved names."""
    if isinstance(msg, Telemetry):
        for i, s in enumerate(msg.samples):
            _check_name(s.sensor, "sensor name", f"$.samples[{i}].sensor")
            if s.sensor in RESERVED_SENSORS:
                raise PayloadError(
                    f"invalid telemetry payload: sensor name {s.sensor!r} is reserved "
                    f"- at `$.samples[{i}].sensor`",
                    reason="invalid",
                )
            _check_fields(s.fields, f"$.samples[{i}].fields")
    elif isinstance(msg, Events):
        for i, e in enumerate(msg.events):
            _check_fields(e.fields, f"$.events[{i}].fields")
    elif isinstance(msg, Status) and msg.rsrp_dbm is not None and not math.isfinite(msg.rsrp_dbm):
        raise PayloadError(
            f"invalid status payload: rsrp_dbm is {msg.rsrp_dbm}, not a finite number",
            reason="invalid",
        )


def _check_fields(fields: dict[str, bool | int | float | str], where: str) -> None:
    # hot path (every sample the ingest takes): one pass, few calls per value
    if not RESERVED_FIELDS.isdisjoint(fields):
        key = sorted(RESERVED_FIELDS.intersection(fields))[0]
        raise PayloadError(
            f"invalid payload: field name {key!r} is reserved - at `{where}.{key}`",
            reason="invalid",
        )
    for key, value in fields.items():
        if key not in _KNOWN_NAMES:
            _check_name(key, "field name", f"{where}.{key}")
        if type(value) is float and value - value != 0.0:  # NaN or +-Inf
            raise PayloadError(
                f"invalid payload: field {key!r} is {value}, not a finite number "
                f"- at `{where}.{key}`",
                reason="invalid",
            )
