"""MQTT -> InfluxDB ingest: at-least-once with idempotent points, dead letters, confirms."""

from ._deadletter import DeadLetter, DeadLetterStore
from ._decode import Decoded, decode_message
from ._service import IngestService
from .config import ConfigError, IngestConfig, load_config, parse_config

__all__ = [
    "ConfigError",
    "DeadLetter",
    "DeadLetterStore",
    "Decoded",
    "IngestConfig",
    "IngestService",
    "decode_message",
    "load_config",
    "parse_config",
]
