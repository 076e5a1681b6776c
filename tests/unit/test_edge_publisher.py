"""The publish window over a recording link: lanes, batching, window, refusals; link helpers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.errors import LinkError
from edge.link import LinkSettings, PubAck, backoff_delay_s, read_password
from edge.publisher import BODY_ENCODER, PublishWindow
from edge.queue import DiskQueue, Lane, State
from michimori.wire import Encoding, Event, Events, Kind, Sample, Telemetry, decode


class RecordingLink:
    """Accepts every publish on the current epoch and remembers it."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, bytes]] = []
        self.up = True

    def start(self) -> None:
        pass

    def publish(
        self, epoch: int, topic: str, payload: bytes, *, content_type: str, retain: bool = False
    ) -> int | None:
        if not self.up:
            return None
        assert content_type == "application/msgpack"
        self.sent.append((epoch, topic, payload))
        return len(self.sent)  # the mid

    def ack(self, epoch: int, mid: int, qos: int) -> None:
        pass

    def stop(self, *, last: tuple[str, bytes, str] | None, timeout_s: float) -> None:
        pass


TOPICS = {Lane.EVENT: "m/s/d/event", Lane.BULK: "m/s/d/telemetry"}


@pytest.fixture
def q(tmp_path: Path) -> Iterator[DiskQueue]:
    queue = DiskQueue(tmp_path / "q.db", max_bytes=10**7)
    yield queue
    queue.close()


def window(batch: int = 3, inflight: int = 2, linger_s: float = 1.0) -> PublishWindow:
    return PublishWindow(
        site="s",
        device="d",
        encoding=Encoding.MSGPACK,
        topics=TOPICS,
        batch_max=batch,
        max_inflight=inflight,
        linger_s=linger_s,
        seed=1,
    )


def add(q: DiskQueue, w: PublishWindow, lanes: str, now_s: float = 0.0) -> None:
    for ch in lanes:
        seq = q.next_seq()
        if ch == "e":
            body = BODY_ENCODER.encode(Event(seq, 1000 + seq, "clock_jump", "warning"))
            q.append(seq, Lane.EVENT, 1000 + seq, body)
            w.event_appended()
        else:
            body = BODY_ENCODER.encode(Sample(seq, 1000 + seq, "tilt", {"tilt_x_deg": 0.1}))
            q.append(seq, Lane.BULK, 1000 + seq, body)
            w.bulk_appended(now_s)
    q.commit()


def seqs_of(payload: bytes, topic: str) -> list[int]:
    kind = Kind.EVENT if topic.endswith("event") else Kind.TELEMETRY
    msg = decode(kind, payload, content_type="application/msgpack")
    if isinstance(msg, Telemetry):
        return [s.seq for s in msg.samples]
    assert isinstance(msg, Events)
    return [e.seq for e in msg.events]


def test_nothing_goes_out_before_a_connection(q: DiskQueue) -> None:
    w, link = window(), RecordingLink()
    add(q, w, "bbbe")
    assert w.fill(0.0, q, link) == 0 and link.sent == []


def test_events_first_then_full_batches_within_the_window(q: DiskQueue) -> None:
    w, link = window(batch=3, inflight=2), RecordingLink()
    add(q, w, "bbbbbbbe")  # 7 samples, then an event (seq 7)
    w.connected(epoch=1, receive_maximum=100, now_s=0.0)
    assert w.fill(0.0, q, link) == 2  # the window holds two messages
    assert [(t, seqs_of(p, t)) for _, t, p in link.sent] == [
        (TOPICS[Lane.EVENT], [7]),
        (TOPICS[Lane.BULK], [0, 1, 2]),
    ]
    assert q.count_by_state()[State.INFLIGHT] == 4
    assert w.fill(0.0, q, link) == 0  # full: wait for a PUBACK
    assert w.next_s(0.0) == float("inf")
    w.puback(PubAck(1, 1, 0x00, "Success"), 0.0, q)
    assert w.fill(0.0, q, link) == 1
    assert seqs_of(link.sent[-1][2], link.sent[-1][1]) == [3, 4, 5]


def test_telemetry_lingers_until_a_batch_is_full_or_linger_passes(q: DiskQueue) -> None:
    w, link = window(batch=3, inflight=5, linger_s=1.0), RecordingLink()
    w.connected(epoch=1, receive_maximum=100, now_s=0.0)
    assert w.fill(0.0, q, link) == 0  # nothing queued at connect: nothing due
    add(q, w, "bb", now_s=0.0)
    assert w.fill(0.5, q, link) == 0 and w.next_s(0.5) == 1.0
    assert w.fill(1.0, q, link) == 1
    add(q, w, "bbb", now_s=2.0)  # a full batch goes at once
    assert w.fill(2.0, q, link) == 1
    # draining (no more sampling): nothing lingers
    add(q, w, "b", now_s=3.0)
    assert w.fill(3.0, q, link, linger=False) == 1


def test_the_window_never_exceeds_the_brokers_receive_maximum(q: DiskQueue) -> None:
    w, link = window(batch=1, inflight=16), RecordingLink()
    add(q, w, "bbbbbb")
    w.connected(epoch=1, receive_maximum=4, now_s=0.0)  # one slot stays for the status
    assert w.fill(0.0, q, link) == 3


def test_a_refused_publish_keeps_the_rows_and_pauses_the_lane(q: DiskQueue) -> None:
    w, link = window(batch=3, inflight=4), RecordingLink()
    add(q, w, "bbbe")
    w.connected(epoch=1, receive_maximum=100, now_s=0.0)
    assert w.fill(0.0, q, link) == 2  # the event, then the 3 samples
    w.puback(PubAck(1, 2, 0x87, "Not authorized"), 10.0, q)
    st = q.count_by_state()
    assert st[State.PENDING] == 3 and q.depth == 4  # nothing deleted
    assert w.fill(10.0, q, link) == 0  # paused 1-2 s (jittered)
    assert 10.5 <= w.next_s(10.0) <= 12.0
    assert w.fill(12.0, q, link) == 1
    assert seqs_of(link.sent[-1][2], link.sent[-1][1]) == [0, 1, 2]


def test_acks_of_a_dead_connection_change_nothing(q: DiskQueue) -> None:
    w, link = window(), RecordingLink()
    add(q, w, "bbb")
    w.connected(epoch=1, receive_maximum=100, now_s=0.0)
    w.fill(0.0, q, link)
    w.disconnected(1)
    w.puback(PubAck(1, 1, 0x00, "Success"), 0.0, q)
    assert q.count_by_state()[State.SENT] == 0
    # the link went away mid-publish: the rows stay pending and go out after a reconnect
    link.up = False
    q.requeue_unconfirmed()
    w.connected(epoch=2, receive_maximum=100, now_s=1.0)
    assert w.fill(1.0, q, link) == 0 and q.count_by_state()[State.PENDING] == 3


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 30, 100])
def test_backoff_is_jittered_exponential_and_capped(attempt: int) -> None:
    rng = random.Random(attempt)
    cap = min(60.0, 1.0 * 2**attempt)
    for _ in range(50):
        d = backoff_delay_s(attempt, min_s=1.0, max_s=60.0, rng=rng)
        assert cap / 2 <= d <= cap


def test_password_file(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("s3cret\nignored\n")
    assert read_password(f) == "s3cret"
    f.write_text("")
    with pytest.raises(LinkError, match="empty"):
        read_password(f)
    with pytest.raises(LinkError, match="cannot read") as info:
        read_password(tmp_path / "missing")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reconnect_min_s": 0.0}, "reconnect_min_s"),
        ({"reconnect_min_s": 5.0, "reconnect_max_s": 1.0}, "reconnect_min_s"),
        ({"cert_file": Path("c"), "tls": True}, "go together"),
        ({"ca_file": Path("ca")}, "need tls"),
    ],
)
def test_link_settings_refuse_impossible_combinations(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LinkSettings(host="h", port=1, client_id="c", **kwargs)  # type: ignore[arg-type]
