"""Errors raised by the wire contract.

WireError                 root: anything wrong with a topic or a payload
├── TopicError            the topic does not follow michimori/v1/<site>/<device>/<kind>
└── PayloadError          the payload cannot be decoded or fails validation
    └── MismatchError     the payload names another device/site than its topic
"""

from __future__ import annotations


class WireError(Exception):
    """Root of the wire contract's errors; ``reason`` is a short machine-readable code."""

    reason = "wire_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class TopicError(WireError):
    reason = "bad_topic"


class PayloadError(WireError):
    reason = "bad_payload"


class MismatchError(PayloadError):
    reason = "topic_mismatch"
