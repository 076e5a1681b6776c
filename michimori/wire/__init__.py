"""The wire contract shared by the edge agent, the ingest and the simulators.

Pure: topics, payload types, encoding and validating decoding. No sockets, no clocks.
"""

from ._codec import MAX_PAYLOAD_BYTES, Encoding, decode, encode, sniff_encoding
from ._errors import MismatchError, PayloadError, TopicError, WireError
from ._schema import (
    MAX_SAMPLES_PER_MESSAGE,
    RESERVED_FIELDS,
    RESERVED_SENSORS,
    SCHEMA_VERSION,
    Confirm,
    Event,
    Events,
    Message,
    Sample,
    Status,
    Telemetry,
    seq_ranges,
)
from ._topics import TOPIC_ROOT, Kind, TopicParts, check_id, parse_topic, subscription, topic

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "MAX_SAMPLES_PER_MESSAGE",
    "RESERVED_FIELDS",
    "RESERVED_SENSORS",
    "SCHEMA_VERSION",
    "TOPIC_ROOT",
    "Confirm",
    "Encoding",
    "Event",
    "Events",
    "Kind",
    "Message",
    "MismatchError",
    "PayloadError",
    "Sample",
    "Status",
    "Telemetry",
    "TopicError",
    "TopicParts",
    "WireError",
    "check_id",
    "decode",
    "encode",
    "parse_topic",
    "seq_ranges",
    "sniff_encoding",
    "subscription",
    "topic",
]
