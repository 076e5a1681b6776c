"""The ingest against a real Mosquitto and a real InfluxDB 1.x (and VictoriaMetrics for 2.x)."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import msgspec
import pytest

from ingest import IngestService
from ingest.storage import Influx1Storage, Influx2Storage
from michimori.services import InfluxDB, Mosquitto, VictoriaMetrics
from michimori.wire import (
    Confirm,
    Encoding,
    Event,
    Events,
    Kind,
    Sample,
    Telemetry,
    decode,
    encode,
    topic,
)
from tests.helpers import Probe, ingest_config, seqs_in_db, wait_until

pytestmark = pytest.mark.integration

# This module's own topic tree: the session broker is shared with other test modules whose
# devices (wills, statuses) must not land in these tests' databases.
ROOT = f"ingest{uuid.uuid4().hex[:8]}/v1"


def _telemetry(site: str, device: str, seqs: range, *, t0: int | None = None) -> Telemetry:
    t0 = t0 or time.time_ns()
    return Telemetry(
        v=1,
        site=site,
        device=device,
        samples=[
            Sample(
                seq=s,
                ts_ns=t0 + s * 1000,
                sensor="tilt",
                fields={"tilt_x_deg": 0.1 * s, "tilt_y_deg": -0.2},
            )
            for s in seqs
        ],
    )


@pytest.fixture
def ingest_for(broker: Mosquitto, influx: InfluxDB, unique_id: str, tmp_path: Path):
    services: list[IngestService] = []

    def start(**storage: object) -> IngestService:
        cfg = ingest_config(broker, influx, unique_id, tmp_path, topic_root=ROOT, **storage)
        svc = IngestService(cfg)
        svc.storage.ensure_ready()
        svc.start()
        assert svc.wait_connected(10)
        services.append(svc)
        return svc

    yield start
    for s in services:
        s.stop()


def test_writes_telemetry_and_events_and_confirms_ranges(
    broker: Mosquitto, influx: InfluxDB, unique_id: str, ingest_for
) -> None:
    site, dev = unique_id, "pole-1"
    ingest_for()
    probe = Probe(broker, f"probe-{unique_id}")
    probe.subscribe(topic(site, dev, Kind.CONFIRM, root=ROOT))
    t_topic = topic(site, dev, Kind.TELEMETRY, root=ROOT)
    probe.publish(t_topic, encode(_telemetry(site, dev, range(1, 51))), "application/json")
    probe.publish(
        t_topic,
        encode(_telemetry(site, dev, range(51, 101)), Encoding.MSGPACK),
        "application/msgpack",
    )
    ev = Events(
        v=1,
        site=site,
        device=dev,
        events=[
            Event(
                seq=101,
                ts_ns=time.time_ns(),
                kind="tilt_alert",
                severity="alert",
                message='tilt 3.1° > 2.0° "limit"',
                fields={"tilt_deg": 3.1},
            ),
        ],
    )
    probe.publish(topic(site, dev, Kind.EVENT, root=ROOT), encode(ev, Encoding.MSGPACK))  # sniffed

    def confirmed(msgs: list) -> set[int]:
        out: set[int] = set()
        for m in msgs:
            c = decode(Kind.CONFIRM, m.payload, content_type=m.content_type)
            assert isinstance(c, Confirm)
            for a, b in c.ranges:
                out.update(range(a, b + 1))
        return out

    probe.wait_for(lambda msgs: confirmed(msgs) == set(range(1, 102)))
    assert seqs_in_db(influx, unique_id, dev) == list(range(1, 102))
    st = Influx1Storage(influx.endpoint.url, unique_id)
    res = st.query("SELECT message, kind, severity FROM event")
    assert res[0]["series"][0]["values"][0][1:] == [
        'tilt 3.1° > 2.0° "limit"',
        "tilt_alert",
        "alert",
    ]
    st.close()
    probe.close()


def test_redelivered_message_is_not_duplicated(
    broker: Mosquitto, influx: InfluxDB, unique_id: str, ingest_for
) -> None:
    site, dev = unique_id, "pole-2"
    svc = ingest_for()
    probe = Probe(broker, f"probe-{unique_id}")
    payload = encode(_telemetry(site, dev, range(1, 21)))
    for _ in range(3):  # as after a broker or device restart
        probe.publish(topic(site, dev, Kind.TELEMETRY, root=ROOT), payload)
    wait_until(lambda: svc.metrics.snapshot()["received"] >= 3, 20, "3 messages")
    assert seqs_in_db(influx, unique_id, dev) == list(range(1, 21))
    probe.close()


def _sample_json(**over: object) -> dict:
    base: dict = {
        "seq": 1,
        "ts_ns": time.time_ns(),
        "sensor": "tilt",
        "fields": {"tilt_x_deg": 0.5},
    }
    base.update(over)
    return base


def _msg(site: str, dev: str, samples: list[dict], **over: object) -> bytes:
    body = {"type": "telemetry", "v": 1, "site": site, "device": dev, "samples": samples}
    body.update(over)
    return json.dumps(body).encode()


# (case id, how to build (site, dev) -> (topic suffix device, payload bytes), reason, words)
BAD_INPUTS = [
    ("not-json-or-msgpack", lambda s, d: (d, b"hello world"), "undecodable", "neither"),
    (
        "truncated-json",
        lambda s, d: (d, b'{"type": "telemetry", "v": 1,'),
        "undecodable",
        "undecodable json",
    ),
    ("msgpack-array", lambda s, d: (d, b"\x93\x01\x02\x03"), "undecodable", "neither"),
    (
        "seq-is-string",
        lambda s, d: (d, _msg(s, d, [_sample_json(seq="7")])),
        "invalid",
        "$.samples[0].seq",
    ),
    (
        "field-is-list",
        lambda s, d: (d, _msg(s, d, [_sample_json(fields={"x": [1]})])),
        "invalid",
        "$.samples[0].fields",
    ),
    (
        "infinity-json",
        lambda s, d: (
            d,
            _msg(s, d, []).replace(
                b'"samples": []',
                b'"samples": [{"seq": 1, "ts_ns": 5, "sensor": "tilt", "fields": {"x": 1e999}}]',
            ),
        ),
        "invalid",
        "fields",
    ),
    (
        "nan-msgpack",
        lambda s, d: (
            d,
            msgspec.msgpack.encode(
                {
                    "type": "telemetry",
                    "v": 1,
                    "site": s,
                    "device": d,
                    "samples": [_sample_json(fields={"x": float("nan")})],
                }
            ),
        ),
        "invalid",
        "not a finite number",
    ),
    (
        "missing-ts",
        lambda s, d: (d, _msg(s, d, [{"seq": 1, "sensor": "tilt", "fields": {"x": 1.0}}])),
        "invalid",
        "ts_ns",
    ),
    (
        "missing-samples",
        lambda s, d: (
            d,
            json.dumps({"type": "telemetry", "v": 1, "site": s, "device": d}).encode(),
        ),
        "invalid",
        "samples",
    ),
    ("wrong-version", lambda s, d: (d, _msg(s, d, [_sample_json()], v=2)), "invalid", "$.v"),
    ("one-megabyte", lambda s, d: (d, b"{" + b" " * (1024 * 1024) + b"}"), "too_large", "over the"),
    ("comma-in-device", lambda s, d: (d, _msg(s, "a,b", [_sample_json()])), "invalid", "$.device"),
    (
        "space-in-sensor",
        lambda s, d: (d, _msg(s, d, [_sample_json(sensor="ti lt")])),
        "invalid",
        "$.samples[0].sensor",
    ),
    (
        "equals-in-field-key",
        lambda s, d: (d, _msg(s, d, [_sample_json(fields={"x=1,evil=2": 1.0})])),
        "invalid",
        "fields",
    ),
    (
        "newline-in-string",
        lambda s, d: (d, _msg(s, d, [_sample_json(fields={"note": 'ok"\nevil,device=x v=1 1'})])),
        "invalid",
        "fields",
    ),
    (
        "quote-backslash-in-tag",
        lambda s, d: (d, _msg(s, d, [_sample_json(sensor='tilt\\" x')])),
        "invalid",
        "sensor",
    ),
    (
        "reserved-seq-field",
        lambda s, d: (d, _msg(s, d, [_sample_json(fields={"seq": 5.0})])),
        "invalid",
        "reserved",
    ),
    (
        "device-mismatch",
        lambda s, d: (d, _msg(s, "someone-else", [_sample_json()])),
        "topic_mismatch",
        "someone-else",
    ),
    (
        "bad-device-in-topic",
        lambda s, d: ("Bad Dev", _msg(s, d, [_sample_json()])),
        "bad_topic",
        "device id",
    ),
]


def test_bad_inputs_are_dead_lettered_and_the_stream_goes_on(
    broker: Mosquitto, influx: InfluxDB, unique_id: str, ingest_for
) -> None:
    site, dev = unique_id, "pole-3"
    svc = ingest_for()
    probe = Probe(broker, f"probe-{unique_id}")
    probe.subscribe(f"{ROOT}/_deadletter/#")
    for seq, (_case, build, _reason, _words) in enumerate(BAD_INPUTS, start=1):
        topic_dev, payload = build(site, dev)
        probe.publish(f"{ROOT}/{site}/{topic_dev}/telemetry", payload)
        # a good message right behind each bad one must get through
        good = _telemetry(site, dev, range(seq, seq + 1))
        probe.publish(topic(site, dev, Kind.TELEMETRY, root=ROOT), encode(good))
    n = len(BAD_INPUTS)
    probe.wait_for(lambda msgs: sum(f"/{site}/".encode() in m.payload for m in msgs) >= n)
    wait_until(
        lambda: seqs_in_db(influx, unique_id, dev) == list(range(1, n + 1)),
        20,
        "every good message stored",
    )
    letters = svc.deadletters.read_all()
    assert len(letters) == n
    for (case_id, _b, reason, words), letter in zip(BAD_INPUTS, letters, strict=True):
        assert letter["reason"] == reason, (case_id, letter["error"])
        assert words in letter["error"], (case_id, letter["error"])
    # the broker is shared with other tests: look at this test's site only
    live = [json.loads(m.payload) for m in probe.messages]
    live = [m for m in live if f"/{site}/" in m["topic"]]
    assert [m["reason"] for m in live] == [r for _c, _b, r, _w in BAD_INPUTS]
    # nothing was injected: only the one measurement, only the good points
    st = Influx1Storage(influx.endpoint.url, unique_id)
    meas = st.query(f"SHOW MEASUREMENTS WHERE site = '{site}'")[0]["series"][0]["values"]
    assert [m[0] for m in meas] == ["tilt"]
    series = st.query(f"SHOW SERIES WHERE site = '{site}'")[0]["series"][0]["values"]
    assert [s[0] for s in series] == [f"tilt,device={dev},site={site}"]
    st.close()
    probe.close()


def test_quotes_and_backslashes_in_strings_are_stored_verbatim(
    broker: Mosquitto, influx: InfluxDB, unique_id: str, ingest_for
) -> None:
    site, dev = unique_id, "pole-4"
    ingest_for()
    probe = Probe(broker, f"probe-{unique_id}")
    text = 'he said "tilt" \\ then, a=b c'
    msg = Telemetry(
        v=1,
        site=site,
        device=dev,
        samples=[Sample(seq=1, ts_ns=time.time_ns(), sensor="note", fields={"text": text})],
    )
    probe.publish(topic(site, dev, Kind.TELEMETRY, root=ROOT), encode(msg))
    wait_until(lambda: seqs_in_db(influx, unique_id, dev) == [1], 20, "stored")
    st = Influx1Storage(influx.endpoint.url, unique_id)
    assert st.query("SELECT text FROM note")[0]["series"][0]["values"][0][1] == text
    st.close()
    probe.close()


def test_type_conflict_dead_letters_only_the_offender(
    broker: Mosquitto, influx: InfluxDB, unique_id: str, ingest_for
) -> None:
    site, dev = unique_id, "pole-5"
    svc = ingest_for(batch_max_delay_s=1.0)
    probe = Probe(broker, f"probe-{unique_id}")
    t0 = time.time_ns()
    first = Telemetry(
        v=1,
        site=site,
        device=dev,
        samples=[Sample(seq=1, ts_ns=t0, sensor="env", fields={"temp_c": 20.5})],
    )
    probe.publish(topic(site, dev, Kind.TELEMETRY, root=ROOT), encode(first))
    wait_until(lambda: seqs_in_db(influx, unique_id, dev) == [1], 20, "first stored")
    # now a string where InfluxDB already has a float, between two good messages
    bad = Telemetry(
        v=1,
        site=site,
        device=dev,
        samples=[Sample(seq=3, ts_ns=t0 + 2, sensor="env", fields={"temp_c": "warm"})],
    )
    for m in (
        _telemetry(site, dev, range(2, 3), t0=t0),
        bad,
        _telemetry(site, dev, range(4, 5), t0=t0),
    ):
        probe.publish(topic(site, dev, Kind.TELEMETRY, root=ROOT), encode(m))
    wait_until(lambda: svc.metrics.snapshot()["deadlettered"] == 1, 20, "dead letter")
    wait_until(lambda: seqs_in_db(influx, unique_id, dev) == [1, 2, 4], 20, "others stored")
    (letter,) = svc.deadletters.read_all()
    assert letter["reason"] == "rejected"
    assert "conflict" in letter["error"]
    probe.close()


def test_metrics_endpoint_and_health(
    broker: Mosquitto, influx: InfluxDB, unique_id: str, ingest_for
) -> None:
    svc = ingest_for()
    probe = Probe(broker, f"probe-{unique_id}")
    probe.publish(
        topic(unique_id, "d1", Kind.TELEMETRY, root=ROOT),
        encode(_telemetry(unique_id, "d1", range(1, 11))),
    )
    wait_until(lambda: svc.metrics.snapshot()["written"] == 10, 20, "10 written")
    base = f"http://127.0.0.1:{svc.metrics_port}"
    text = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
    assert 'michimori_ingest_written_total{worker="ingest-' in text
    assert "michimori_ingest_written_total" in text and " 10\n" in text
    health = json.loads(urllib.request.urlopen(f"{base}/healthz", timeout=5).read())
    assert health["ok"] is True and health["written"] == 10
    st = Influx1Storage(influx.endpoint.url, unique_id)
    wait_until(
        lambda: bool(st.query("SELECT last(written) FROM ingest_metrics")[0].get("series")),
        20,
        "own metrics written to InfluxDB",
    )
    st.close()
    probe.close()


def test_influx2_adapter_writes_through_api_v2(victoria: VictoriaMetrics) -> None:
    st = Influx2Storage(victoria.endpoint.url, org="city", bucket="michimori", token="t")
    st.ensure_ready()
    ts = time.time_ns()
    st.write([f"tilt,device=d9,site=s9 tilt_x_deg=1.25,seq=7i {ts}"])
    urllib.request.urlopen(f"{victoria.endpoint.url}/internal/force_flush", timeout=5)
    q = urllib.parse.quote('{__name__="tilt_tilt_x_deg",device="d9"}')

    def found() -> bool:
        body = urllib.request.urlopen(
            f"{victoria.endpoint.url}/api/v1/export?match[]={q}", timeout=5
        ).read()
        return b"1.25" in body

    wait_until(found, 20, "point visible in VictoriaMetrics")
    st.close()


def test_influx2_adapter_reports_unreachable_server() -> None:
    from ingest.storage import StorageUnavailable
    from michimori.services import free_port

    st = Influx2Storage(
        f"http://127.0.0.1:{free_port()}", org="o", bucket="b", token="t", timeout_s=2
    )
    with pytest.raises(StorageUnavailable, match="unreachable"):
        st.write(["m x=1 1"])
    st.close()


def test_stopping_while_storage_is_down_acks_nothing_and_a_restart_writes_it_all(
    broker: Mosquitto, influx: InfluxDB, unique_id: str, tmp_path: Path
) -> None:
    site, dev = unique_id, "pole-6"
    cfg_ok = ingest_config(broker, influx, unique_id, tmp_path, topic_root=ROOT)
    # a port that is bound but never listens refuses every connection, and no other server
    # of this test can be handed it meanwhile
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    down_url = f"http://127.0.0.1:{dead.getsockname()[1]}"
    down = dataclasses.replace(cfg_ok, storage=dataclasses.replace(cfg_ok.storage, url=down_url))
    first = IngestService(down)
    first.start()
    assert first.wait_connected(10)
    probe = Probe(broker, f"probe-{unique_id}")
    for start in (1, 11, 21):
        probe.publish(
            topic(site, dev, Kind.TELEMETRY, root=ROOT),
            encode(_telemetry(site, dev, range(start, start + 10))),
        )
    wait_until(lambda: first.metrics.snapshot()["storage_errors"] >= 2, 20, "failed writes")
    first.stop()  # storage still down: nothing may be acked
    assert first.metrics.snapshot()["written"] == 0
    second = IngestService(cfg_ok)  # same client id: the broker's session redelivers
    second.storage.ensure_ready()
    second.start()
    try:
        wait_until(
            lambda: seqs_in_db(influx, unique_id, dev) == list(range(1, 31)),
            30,
            "every sample written after the restart",
        )
    finally:
        second.stop()
        probe.close()
        dead.close()
