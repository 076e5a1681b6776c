"""The MQTT topic tree: michimori/v1/<site>/<device>/<kind>, general to specific."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ._errors import TopicError

TOPIC_ROOT = "michimori/v1"

# Ids become MQTT topic levels and InfluxDB tag values: a strict charset means no wildcard
# ('+', '#'), no level separator and nothing that line protocol would have to escape.
_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class Kind(StrEnum):
    """The last topic level: what the message carries."""

    TELEMETRY = "telemetry"  # sensor samples, bulk lane
    EVENT = "event"  # alerts and notable events, priority lane
    STATUS = "status"  # retained device status; the last will says offline
    CONFIRM = "confirm"  # ingest -> device: these sequence numbers are stored


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is a valid site/device id, else raise TopicError naming it."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise TopicError(
            f"invalid {what} id {value!r}: expected 1-64 characters of a-z, 0-9 and '-', "
            "starting with a letter or digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class TopicParts:
    site: str
    device: str
    kind: Kind
    root: str = TOPIC_ROOT

    def __post_init__(self) -> None:
        check_id(self.site, "site")
        check_id(self.device, "device")

    def __str__(self) -> str:
        return f"{self.root}/{self.site}/{self.device}/{self.kind.value}"


def topic(site: str, device: str, kind: Kind, *, root: str = TOPIC_ROOT) -> str:
    """Build the topic for one device and message kind (validates the ids)."""
    return str(TopicParts(site=site, device=device, kind=kind, root=root))


def parse_topic(value: str, *, root: str = TOPIC_ROOT) -> TopicParts:
    """Split a topic into its parts; raise TopicError saying exactly what does not fit."""
    prefix = root + "/"
    if not value.startswith(prefix):
        raise TopicError(f"topic {value!r} is not under {root!r}")
    levels = value[len(prefix) :].split("/")
    if len(levels) != 3:
        raise TopicError(
            f"topic {value!r} has {len(levels)} levels after {root!r}; "
            "expected <site>/<device>/<kind>"
        )
    site, device, kind_s = levels
    try:
        kind = Kind(kind_s)
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise TopicError(f"topic {value!r}: unknown kind {kind_s!r} (one of {kinds})") from None
    return TopicParts(site=site, device=device, kind=kind, root=root)


def subscription(kind: Kind, *, root: str = TOPIC_ROOT, share_group: str | None = None) -> str:
    """Wildcard subscription for one kind across all sites and devices.

    With ``share_group`` it is an MQTT 5 shared subscription, so several ingest workers split
    the stream between them.
    """
    filt = f"{root}/+/+/{kind.value}"
    if share_group:
        check_id(share_group, "share group")
        return f"$share/{share_group}/{filt}"
    return filt
