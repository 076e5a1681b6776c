"""Errors of the edge agent, one tree for the whole package.

EdgeError              root: anything the edge agent reports as its own failure
├── ConfigError        edge.toml is unreadable or a key has a wrong value (names file and key)
├── QueueError         the on-disk queue cannot be opened or written
└── LinkError          the broker link is misconfigured (TLS files, password file)
"""

from __future__ import annotations

from pathlib import Path


class EdgeError(Exception):
    """Root of the edge agent's errors."""


class ConfigError(EdgeError):
    """A configuration problem; ``source`` and ``key`` say where, when known."""

    def __init__(self, message: str, *, source: Path | None = None, key: str | None = None) -> None:
        where = ""
        if source is not None:
            where = f"{source}: "
        if key is not None:
            where += f"{key}: "
        super().__init__(where + message)
        self.source = source
        self.key = key


class QueueError(EdgeError):
    """The store-and-forward queue file cannot be used; ``path`` names it."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class LinkError(EdgeError):
    """The broker link cannot be set up (a TLS or password file is missing or unreadable)."""
