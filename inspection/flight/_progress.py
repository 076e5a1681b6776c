"""Flight progress on the terminal: a tqdm bar of photos on a TTY, a log line every few
seconds otherwise (CI logs, journald)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Protocol

__all__ = ["NullProgress", "Progress", "TerminalProgress"]

log = logging.getLogger(__name__)

# Without a TTY, one progress line this often keeps a CI log readable.
_LOG_EVERY_S = 5.0


class Progress(Protocol):
    def stage(self, text: str) -> None: ...

    def update(self, *, photos: int, status: str) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    def stage(self, text: str) -> None:
        log.info(text)

    def update(self, *, photos: int, status: str) -> None:
        return None

    def close(self) -> None:
        return None


class TerminalProgress:
    """Photos taken out of those planned, plus a status line (mode, waypoint, altitude...)."""

    def __init__(self, expected_photos: int | None, *, stream: Any = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._total = expected_photos
        self._bar: Any = None
        self._last_log = 0.0
        if self._tty:
            from tqdm import tqdm

            self._bar = tqdm(
                total=expected_photos, unit="photo", file=self._stream, dynamic_ncols=True
            )

    def stage(self, text: str) -> None:
        log.info(text)
        if self._bar is not None:
            self._bar.set_description_str(text.split(":")[0][:24])
        else:
            print(text, file=self._stream, flush=True)

    def update(self, *, photos: int, status: str) -> None:
        if self._bar is not None:
            self._bar.n = photos
            self._bar.set_postfix_str(status, refresh=False)
            self._bar.refresh()
            return
        now = time.monotonic()
        if now - self._last_log >= _LOG_EVERY_S:
            self._last_log = now
            total = f"/{self._total}" if self._total is not None else ""
            print(f"photos {photos}{total}  {status}", file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
