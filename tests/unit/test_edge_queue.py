"""The SQLite store-and-forward queue: states, confirms, quota, persistence, one owner."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.errors import QueueError
from edge.queue import DiskQueue, Lane, State
from michimori.wire import seq_ranges as seq_runs


def fill(q: DiskQueue, lanes: str, size: int = 100) -> list[int]:
    """Append one row per letter: 'e' an event, 'b' bulk telemetry. Returns the seqs."""
    seqs = []
    for ch in lanes:
        seq = q.next_seq()
        q.append(seq, Lane.EVENT if ch == "e" else Lane.BULK, 1000 + seq, bytes([seq % 256]) * size)
        seqs.append(seq)
    q.commit()
    return seqs


@pytest.fixture
def q(tmp_path: Path) -> Iterator[DiskQueue]:
    queue = DiskQueue(tmp_path / "q.db", max_bytes=1_000_000)
    yield queue
    queue.close()


@pytest.mark.parametrize(
    ("seqs", "runs"),
    [
        ([], []),
        ([5], [(5, 5)]),
        ([1, 2, 3, 7], [(1, 3), (7, 7)]),
        ([9, 8, 7, 1], [(1, 1), (7, 9)]),
        ([1, 1, 2], [(1, 2)]),
    ],
)
def test_seq_runs(seqs: list[int], runs: list[tuple[int, int]]) -> None:
    assert seq_runs(seqs) == runs


def test_file_is_wal_with_full_sync(q: DiskQueue) -> None:
    db = sqlite3.connect(q.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    # synchronous is per connection: ask the queue's own
    assert q._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_lanes_are_taken_in_seq_order_and_separately(q: DiskQueue) -> None:
    seqs = fill(q, "bebbe")
    assert [r.seq for r in q.take(Lane.EVENT, 10)] == [seqs[1], seqs[4]]
    assert [r.seq for r in q.take(Lane.BULK, 2)] == [seqs[0], seqs[2]]
    assert q.pending_at_least(Lane.BULK, 3) and not q.pending_at_least(Lane.BULK, 4)
    st = q.stats()
    assert (st.depth, st.events, st.bulk, st.payload_bytes) == (5, 2, 3, 500)


def test_row_states_from_publish_to_confirm(q: DiskQueue) -> None:
    seqs = fill(q, "bbbb")
    q.mark_inflight(seqs[:2])
    assert q.count_by_state() == {State.PENDING: 2, State.INFLIGHT: 2, State.SENT: 0}
    # inflight rows are not offered again
    assert [r.seq for r in q.take(Lane.BULK, 10)] == seqs[2:]
    q.mark_sent(seqs[:1], now_s=10.0)
    q.mark_pending(seqs[1:2])  # refused by the broker
    assert q.count_by_state() == {State.PENDING: 3, State.INFLIGHT: 0, State.SENT: 1}
    # a PUBACK for rows no longer in flight changes nothing
    q.mark_sent(seqs[2:], now_s=10.0)
    assert q.count_by_state()[State.SENT] == 1
    assert q.confirm([(seqs[0], seqs[0])]) == 1
    assert q.depth == 3 and q.payload_bytes == 300


def test_reconnect_requeues_everything_unconfirmed(q: DiskQueue) -> None:
    seqs = fill(q, "bbb")
    q.mark_inflight(seqs)
    q.mark_sent(seqs[:2], now_s=1.0)
    assert q.requeue_unconfirmed() == 3
    assert q.count_by_state() == {State.PENDING: 3, State.INFLIGHT: 0, State.SENT: 0}


@pytest.mark.parametrize(
    ("attempts", "age_s", "requeued"),
    [
        (1, 59.0, False),
        (1, 60.0, True),
        (2, 119.0, False),  # the second attempt waits twice as long
        (2, 120.0, True),
        (3, 239.0, False),
        (10, 599.0, False),  # capped at the maximum
        (10, 600.0, True),
    ],
)
def test_confirm_timeout_doubles_per_attempt(
    q: DiskQueue, attempts: int, age_s: float, requeued: bool
) -> None:
    (seq,) = fill(q, "b")
    for _ in range(attempts):
        q.mark_inflight([seq])
        q.mark_sent([seq], now_s=1000.0)
        if _ < attempts - 1:
            q.requeue_unconfirmed()
    n = q.requeue_expired(1000.0 + age_s, timeout_s=60.0, max_timeout_s=600.0)
    assert n == int(requeued)


def test_confirm_deletes_only_the_given_ranges(q: DiskQueue) -> None:
    seqs = fill(q, "bbebbb")
    deleted = q.confirm([(seqs[0], seqs[2]), (seqs[4], seqs[4]), (1000, 2000)])
    assert deleted == 4
    assert sorted(r.seq for r in q.take(Lane.BULK, 10)) == [seqs[3], seqs[5]]
    assert q.confirm([(seqs[0], seqs[2])]) == 0  # a repeated confirm is harmless
    assert q.stats().events == 0


def test_quota_drops_oldest_bulk_first_and_never_events(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db", max_bytes=64 * 1024)
    events = fill(q, "e" * 10, size=1000)
    bulk = fill(q, "b" * 60, size=1000)  # 70,000 bytes in all, 4,464 over 65,536
    dropped = q.enforce_quota()
    assert dropped == 5 and q.dropped_total == 5 and q.payload_bytes <= 64 * 1024
    left = [r.seq for r in q.take(Lane.BULK, 100)]
    assert left == bulk[5:]
    assert [r.seq for r in q.take(Lane.EVENT, 100)] == events
    # events alone over the quota: nothing more is dropped, they all stay
    q.confirm([(bulk[0], bulk[-1])])
    fill(q, "e" * 70, size=1000)
    assert q.enforce_quota() == 0 and q.stats().events == 80
    q.commit()
    q.close()
    reopened = DiskQueue(tmp_path / "q.db", max_bytes=64 * 1024)
    assert reopened.enforce_quota() == 0  # nothing left to drop: all events
    assert reopened.dropped_total == 5
    reopened.close()


def test_quota_leaves_rows_in_flight_alone(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.db", max_bytes=64 * 1024)
    bulk = fill(q, "b" * 70, size=1000)
    q.mark_inflight(bulk[:10])  # published: they may reach the ingest, so not "dropped"
    assert q.enforce_quota() == 5
    assert [r.seq for r in q.take(Lane.BULK, 100)] == bulk[15:]
    assert q.count_by_state()[State.INFLIGHT] == 10
    q.close()


def test_seq_and_rows_survive_a_restart_and_seqs_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    q = DiskQueue(path, max_bytes=1_000_000)
    seqs = fill(q, "bbe")
    q.mark_inflight(seqs)
    q.mark_sent(seqs[:1], now_s=5.0)
    q.last_ts_ns = 10**6  # the clock guard's memory, beyond every row's timestamp
    q.confirm([(seqs[0], seqs[-1])])  # all confirmed: the table is empty
    extra = fill(q, "b")
    q.mark_inflight(extra)
    q.commit()
    q.close()
    q2 = DiskQueue(path, max_bytes=1_000_000)
    # whatever was in flight when it stopped is pending again, and the seq goes on
    assert q2.count_by_state() == {State.PENDING: 1, State.INFLIGHT: 0, State.SENT: 0}
    assert q2.next_seq() == extra[0] + 1 and q2.last_ts_ns == 10**6
    q2.close()


CRASH = """
import os, sys
from pathlib import Path
from edge.queue import DiskQueue, Lane
q = DiskQueue(Path(sys.argv[1]), max_bytes=10**6)
for ts in (5_000, 6_000, 7_000):
    seq = q.next_seq()
    q.append(seq, Lane.BULK, ts, b"x")
    q.commit()
q.confirm([(0, 0)])  # a deletion: the meta row is written with it
q.commit()
seq = q.next_seq()
q.append(seq, Lane.BULK, 9_000, b"y")
q.commit()
os._exit(0)  # like SIGKILL: no close(), no checkpoint
"""


def test_a_killed_agent_continues_seq_and_clock_from_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", CRASH, str(path)], check=True, timeout=60, cwd=root)
    with DiskQueue(path, max_bytes=10**6) as q:
        assert q.depth == 3  # seqs 1, 2 and 3
        assert q.next_seq() == 4 and q.last_ts_ns == 9_000


def test_uncommitted_rows_and_seqs_are_not_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    q = DiskQueue(path, max_bytes=1_000_000)
    fill(q, "bb")
    seq = q.next_seq()
    q.append(seq, Lane.BULK, 5, b"x")
    # what a reader (or a restart after SIGKILL) sees: only committed rows
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM queue").fetchone()[0] == 2
    other.close()
    q.close()


def test_a_second_agent_on_the_same_queue_is_refused(q: DiskQueue) -> None:
    with pytest.raises(QueueError, match="another edge agent"):
        DiskQueue(q.path, max_bytes=1_000_000)


def test_a_damaged_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(QueueError, match=str(path)) as info:
        DiskQueue(path, max_bytes=1_000_000)
    assert "move it aside" in str(info.value)
    # the lock was released: a fixed file can be opened by the same process
    path.unlink()
    DiskQueue(path, max_bytes=1_000_000).close()
