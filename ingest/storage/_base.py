"""The storage seam: one method, ``write(lines)``, and the errors that steer the ingest.

StorageError
├── StorageUnavailable   cannot reach / overloaded / 5xx: retry the same batch later
└── StorageRejected      the database refused points (type conflict, bad line): find
                         the message responsible and dead-letter it; the rest is written
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class StorageError(Exception):
    pass


class StorageUnavailable(StorageError):
    """Transient: nothing can be assumed written; the same batch must be retried."""


class StorageRejected(StorageError):
    """Permanent for some lines: the database said which problem, not always which line."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class Storage(Protocol):
    """Writes line-protocol lines (nanosecond timestamps). Idempotent per point."""

    name: str

    def write(self, lines: Sequence[str]) -> None: ...

    def ensure_ready(self) -> None:
        """Create the database/bucket if the backend allows; raise StorageUnavailable if down."""

    def close(self) -> None: ...
