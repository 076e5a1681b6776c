"""The on-disk store-and-forward queue: every sample and event waits here until the ingest confirms.

SQLite in WAL mode with ``synchronous=FULL``, so a committed row survives a power cut. A row
goes PENDING -> INFLIGHT (published, PUBACK awaited) -> SENT (broker accepted it) and is deleted
only when the ingest confirms its sequence number. INFLIGHT and SENT rows go back to PENDING on
a reconnect, on start-up and when their confirm is overdue. Writes are grouped into one
transaction per agent tick (``commit()``), so 1,000 samples/s cost ~100-200 commits, not 1,000.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Final

from michimori.wire import seq_ranges

from .errors import QueueError

__all__ = ["DiskQueue", "Lane", "QueueStats", "Row", "State"]

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1


class Lane(IntEnum):
    """Priority lanes: events and alerts go out before bulk telemetry and are never dropped."""

    EVENT = 0
    BULK = 1


class State(IntEnum):
    PENDING = 0
    INFLIGHT = 1  # published, waiting for the broker's PUBACK
    SENT = 2  # the broker accepted it; waiting for the ingest's confirm


@dataclass(frozen=True, slots=True)
class Row:
    seq: int
    body: bytes


@dataclass(frozen=True, slots=True)
class QueueStats:
    depth: int
    events: int
    bulk: int
    payload_bytes: int
    dropped_total: int
    next_seq: int


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS queue (
    seq      INTEGER PRIMARY KEY,   -- the wire seq; one space for telemetry and events
    lane     INTEGER NOT NULL,
    state    INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    sent_at  REAL,                  -- agent's monotonic clock when the PUBACK came
    ts_ns    INTEGER NOT NULL,      -- the device timestamp inside body
    body     BLOB NOT NULL          -- the msgpack-encoded wire Sample or Event
);
CREATE INDEX IF NOT EXISTS queue_state_lane_seq ON queue (state, lane, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class _Db:
    """The SQLite connection, its errors translated into QueueError naming the file."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    def execute(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, args)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> sqlite3.Cursor:
        try:
            return self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> QueueError:
        return QueueError(
            f"the queue failed ({exc}); is the disk full or failing?", path=self._path
        )

    def close(self) -> None:
        self._conn.close()


class DiskQueue:
    """One device's queue file. Not thread-safe: one agent thread owns it."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
        self.path = path
        self.max_bytes = max_bytes
        self._lock_fd = _lock(path)
        try:
            self._db = self._open(path)
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._in_txn = False
        self._meta_dirty = False
        self._quota_warned_events = False
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        # A new (or replaced) queue file starts its seqs at 0 again: see Agent.start().
        self.fresh = not meta and self._db.execute("SELECT 1 FROM queue LIMIT 1").fetchone() is None
        self._next_seq = int(meta.get("next_seq", 0))
        self._dropped_total = int(meta.get("dropped_total", 0))
        self._last_ts_ns = int(meta.get("last_ts_ns", 0))
        self._count = [0, 0]
        self._bytes = 0
        for lane, n, nbytes in self._db.execute(
            "SELECT lane, count(*), coalesce(sum(length(body)), 0) FROM queue GROUP BY lane"
        ):
            self._count[int(lane)] = int(n)
            self._bytes += int(nbytes)
        # The meta row is written only with deletions (see commit()); the rows themselves say
        # how far the seq counter and the clock got since.
        top_seq, top_ts = self._db.execute("SELECT max(seq), max(ts_ns) FROM queue").fetchone()
        if top_seq is not None:
            self._next_seq = max(self._next_seq, int(top_seq) + 1)
            self._last_ts_ns = max(self._last_ts_ns, int(top_ts))
        # Whatever was in flight or sent before we stopped may never have reached the ingest.
        self._begin()
        self._db.execute("UPDATE queue SET state = 0 WHERE state IN (1, 2)")
        self.commit()

    @staticmethod
    def _open(path: Path) -> _Db:
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise QueueError(
                    f"SQLite refused WAL mode (got {mode!r}); put the queue on a local disk",
                    path=path,
                )
            # FULL: a commit is on disk when it returns; NORMAL may lose the last commits.
            db.execute("PRAGMA synchronous=FULL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise QueueError(
                    f"queue schema version {version} is newer than this agent's "
                    f"({SCHEMA_VERSION}); upgrade the agent or move the file aside",
                    path=path,
                )
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            return _Db(db, path)
        except sqlite3.DatabaseError as exc:
            raise QueueError(
                f"cannot open the queue ({exc}); if the file is damaged, move it aside and "
                "restart (its samples are then lost)",
                path=path,
            ) from exc

    # -- sequence numbers and the clock guard's memory --------------------------------------

    def next_seq(self) -> int:
        """Reserve the next sequence number (persisted on the next commit; never reused)."""
        seq = self._next_seq
        self._next_seq += 1
        return seq

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    @property
    def last_ts_ns(self) -> int:
        return self._last_ts_ns

    @last_ts_ns.setter
    def last_ts_ns(self, value: int) -> None:
        self._last_ts_ns = value

    # -- writing -----------------------------------------------------------------------------

    def append(self, seq: int, lane: Lane, ts_ns: int, body: bytes) -> None:
        self._begin()
        self._db.execute(
            "INSERT INTO queue (seq, lane, ts_ns, body) VALUES (?, ?, ?, ?)",
            (seq, lane, ts_ns, body),
        )
        if ts_ns > self._last_ts_ns:
            self._last_ts_ns = ts_ns
        self._count[lane] += 1
        self._bytes += len(body)

    def commit(self) -> None:
        """End the tick's transaction: its rows (and counters, if rows were deleted) are on disk.

        The seq counter and last timestamp are also implied by the rows (max(seq), max(ts_ns)),
        so the meta row only has to be written when rows are deleted; a tick that only appends
        costs one INSERT per row and the COMMIT.
        """
        if not self._in_txn:
            return
        if self._meta_dirty:
            self._write_meta()
        self._db.execute("COMMIT")
        self._in_txn = False

    def _write_meta(self) -> None:
        self._meta_dirty = False
        self._db.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (
                ("next_seq", self._next_seq),
                ("dropped_total", self._dropped_total),
                ("last_ts_ns", self._last_ts_ns),
            ),
        )

    def _begin(self) -> None:
        if not self._in_txn:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_txn = True

    # -- reading for the publish window ------------------------------------------------------

    def take(self, lane: Lane, limit: int) -> list[Row]:
        """The oldest PENDING rows of a lane, in seq order (they stay PENDING until marked)."""
        cur = self._db.execute(
            "SELECT seq, body FROM queue WHERE state = 0 AND lane = ? ORDER BY seq LIMIT ?",
            (lane, limit),
        )
        return [Row(s, b) for s, b in cur]

    def pending_at_least(self, lane: Lane, n: int) -> bool:
        cur = self._db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM queue WHERE state = 0 AND lane = ? LIMIT ?)",
            (lane, n),
        )
        return int(cur.fetchone()[0]) >= n

    def mark_inflight(self, seqs: Sequence[int]) -> None:
        self._update(seqs, "state = 1, attempts = attempts + 1", State.PENDING, ())

    def mark_sent(self, seqs: Sequence[int], now_s: float) -> None:
        self._update(seqs, "state = 2, sent_at = ?", State.INFLIGHT, (now_s,))

    def mark_pending(self, seqs: Sequence[int]) -> None:
        """A publish failed (refused by the broker or connection lost): send it again later."""
        self._update(seqs, "state = 0", State.INFLIGHT, ())

    def _update(
        self, seqs: Sequence[int], assign: str, from_state: State, args: tuple[float, ...]
    ) -> None:
        self._begin()
        # `+state` keeps SQLite on the seq (rowid) range: on the state index it would scan
        # every pending row per update, which made a 100,000-row drain 5x slower.
        self._db.executemany(
            f"UPDATE queue SET {assign} WHERE seq BETWEEN ? AND ? AND +state = ?",
            ((*args, a, b, from_state) for a, b in seq_ranges(seqs)),
        )

    def requeue_unconfirmed(self) -> int:
        """After a reconnect: the broker may have lost anything it had not delivered yet."""
        self._begin()
        return self._db.execute("UPDATE queue SET state = 0 WHERE state IN (1, 2)").rowcount

    def requeue_expired(self, now_s: float, timeout_s: float, max_timeout_s: float) -> int:
        """SENT rows whose confirm is overdue go back to PENDING.

        The timeout doubles with each attempt up to ``max_timeout_s``, so an ingest that is down
        for hours is not flooded with the same samples every minute.
        """
        self._begin()
        return self._db.execute(
            "UPDATE queue SET state = 0 WHERE state = 2 AND "
            "sent_at + min(?, ? * (1 << min(max(attempts - 1, 0), 30))) <= ?",
            (max_timeout_s, timeout_s, now_s),
        ).rowcount

    # -- deleting ----------------------------------------------------------------------------

    def confirm(self, ranges: Iterable[tuple[int, int]]) -> int:
        """Delete the rows the ingest says are stored; returns how many were still queued."""
        self._begin()
        deleted = 0
        for first, last in ranges:
            for lane, nbytes in self._db.execute(
                "DELETE FROM queue WHERE seq BETWEEN ? AND ? RETURNING lane, length(body)",
                (first, last),
            ).fetchall():
                self._count[int(lane)] -= 1
                self._bytes -= int(nbytes)
                deleted += 1
        self._meta_dirty = self._meta_dirty or deleted > 0
        return deleted

    def enforce_quota(self) -> int:
        """Over ``max_bytes``: delete the oldest pending telemetry until under it; never events.

        Rows in flight or sent are left alone: they may already be at the ingest, and counting
        them as dropped would be wrong. They come back to PENDING if their confirm never
        arrives, and can be dropped then. Returns how many rows were dropped now; the running
        total is persisted and reported.
        """
        excess = self._bytes - self.max_bytes
        if excess <= 0:
            self._quota_warned_events = False
            return 0
        self._begin()
        dropped = 0
        freed = 0
        while freed < excess:
            rows = self._db.execute(
                "SELECT seq, length(body) FROM queue WHERE state = 0 AND lane = 1 "
                "ORDER BY seq LIMIT 1000"
            ).fetchall()
            if not rows:
                break
            last = rows[0][0]
            for seq, nbytes in rows:
                freed += int(nbytes)
                dropped += 1
                last = seq
                if freed >= excess:
                    break
            # the rows up to `last` are exactly the ones counted: the oldest of the lane
            self._db.execute("DELETE FROM queue WHERE state = 0 AND lane = 1 AND seq <= ?", (last,))
        self._count[Lane.BULK] -= dropped
        self._bytes -= freed
        self._dropped_total += dropped
        self._meta_dirty = True
        if self._bytes > self.max_bytes and not self._quota_warned_events:
            self._quota_warned_events = True
            log.warning(
                "queue %s: events and samples in flight hold %d bytes, over the %d-byte "
                "quota; those are never dropped, so the file grows until the broker is back",
                self.path,
                self._bytes,
                self.max_bytes,
            )
        return dropped

    # -- reporting and lifecycle -------------------------------------------------------------

    @property
    def depth(self) -> int:
        return self._count[Lane.EVENT] + self._count[Lane.BULK]

    @property
    def dropped_total(self) -> int:
        return self._dropped_total

    @property
    def payload_bytes(self) -> int:
        return self._bytes

    def stats(self) -> QueueStats:
        return QueueStats(
            depth=self.depth,
            events=self._count[Lane.EVENT],
            bulk=self._count[Lane.BULK],
            payload_bytes=self._bytes,
            dropped_total=self._dropped_total,
            next_seq=self._next_seq,
        )

    def count_by_state(self) -> dict[State, int]:
        """For tests and `edge check`: a full count, not the cheap counters."""
        out = {s: 0 for s in State}
        for state, n in self._db.execute("SELECT state, count(*) FROM queue GROUP BY state"):
            out[State(int(state))] = int(n)
        return out

    def close(self) -> None:
        """Commit, checkpoint the WAL into the main file and release the lock."""
        if self._lock_fd < 0:
            return
        try:
            self._begin()
            self._meta_dirty = True
            self.commit()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
        finally:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> DiskQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(path: Path) -> int:
    """Two agents on one queue would hand out the same seqs twice: refuse the second."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise QueueError(f"cannot create the queue's lock file: {exc.strerror}", path=path) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise QueueError(
            "another edge agent is already using this queue file; stop it first", path=path
        ) from None
    # The pid in the lock file only helps a person find the other agent; not worth failing for.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    return fd
