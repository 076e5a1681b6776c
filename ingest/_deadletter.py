"""Dead-letter store: poison messages kept on disk with the reason, never silently dropped.

One JSON line per message in ``<dir>/deadletter-YYYYMMDD.jsonl`` (UTC day), fsynced before the
message is acknowledged to the broker. The ingest also republishes each record to
``<topic_root>/_deadletter/<reason>`` so operators can watch them live.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    topic: str
    reason: str  # short code: undecodable, invalid, too_large, topic_mismatch, rejected, ...
    error: str  # the precise message
    payload: bytes
    received_ns: int
    content_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "received": dt.datetime.fromtimestamp(self.received_ns / 1e9, dt.UTC).isoformat(),
            "topic": self.topic,
            "reason": self.reason,
            "error": self.error,
            "content_type": self.content_type,
            "payload_bytes": len(self.payload),
            "payload_b64": base64.b64encode(self.payload).decode(),
        }


class DeadLetterStore:
    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, letter: DeadLetter) -> Path:
        day = dt.datetime.fromtimestamp(letter.received_ns / 1e9, dt.UTC).strftime("%Y%m%d")
        path = self.dir / f"deadletter-{day}.jsonl"
        line = json.dumps(letter.to_json(), ensure_ascii=False) + "\n"
        with self._lock, open(path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
            self.count += 1
        return path

    def read_all(self) -> list[dict[str, Any]]:
        """Every record, oldest file first (for tests and the operator's `ingest deadletters`)."""
        out: list[dict[str, Any]] = []
        for path in sorted(self.dir.glob("deadletter-*.jsonl")):
            with open(path, encoding="utf-8") as f:
                out.extend(json.loads(x) for x in f if x.strip())
        return out
