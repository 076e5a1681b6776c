"""Pure parts of the ingest: message -> lines or dead-letter reason, seq ranges, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import ConfigError, decode_message, load_config, parse_config
from michimori.wire import Encoding, Sample, Telemetry, encode, seq_ranges


@pytest.mark.parametrize(
    ("seqs", "ranges"),
    [
        ([], []),
        ([5], [(5, 5)]),
        ([3, 1, 2], [(1, 3)]),
        ([1, 2, 3, 7, 9, 10], [(1, 3), (7, 7), (9, 10)]),
        ([4, 4, 5], [(4, 5)]),
    ],
)
def test_seq_ranges(seqs: list[int], ranges: list[tuple[int, int]]) -> None:
    assert seq_ranges(seqs) == ranges


def test_decode_message_renders_lines_and_seqs() -> None:
    msg = Telemetry(
        v=1,
        site="s",
        device="d",
        samples=[Sample(seq=i, ts_ns=100 + i, sensor="tilt", fields={"x": 1.0}) for i in (4, 5)],
    )
    d = decode_message(
        "michimori/v1/s/d/telemetry", encode(msg, Encoding.MSGPACK), None, topic_root="michimori/v1"
    )
    assert not d.poison
    assert d.seqs == [4, 5] and d.oldest_ts_ns == 104
    assert d.lines == [
        "tilt,device=d,site=s x=1.0,seq=4i 104",
        "tilt,device=d,site=s x=1.0,seq=5i 105",
    ]


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("michimori/v1/s/d/confirm", "bad_topic"),  # devices' own channel, not ours
        ("other/s/d/telemetry", "bad_topic"),
        ("michimori/v1/s/x/telemetry", "topic_mismatch"),
    ],
)
def test_decode_message_poison(topic: str, reason: str) -> None:
    msg = Telemetry(
        v=1,
        site="s",
        device="d",
        samples=[Sample(seq=1, ts_ns=1, sensor="tilt", fields={"x": 1.0})],
    )
    d = decode_message(topic, encode(msg), None, topic_root="michimori/v1")
    assert d.reason == reason and d.error


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"mqtt": {"port": 0}}, "[mqtt] port = 0: expected 1-65535"),
        ({"mqtt": {"port": "1883"}}, "[mqtt] port = '1883': expected a int"),
        ({"mqtt": {"hostname": "x"}}, "[mqtt] unknown key 'hostname'"),
        ({"mqtt": {"share_group": "a/b"}}, "[mqtt] share_group"),
        ({"storage": {"kind": "influx3"}}, "[storage] kind = 'influx3': expected one of"),
        ({"storage": {"url": "localhost:8086"}}, "[storage] url"),
        ({"storage": {"kind": "influx2", "org": "o"}}, "[storage] bucket must be set"),
        ({"storage": {"batch_max_points": 0}}, "batch_max_points = 0"),
        ({"storage": {"batch_max_delay_s": -1}}, "batch_max_delay_s = -1"),
        ({"metrics": {"http_listen": "9108"}}, "[metrics] http_listen"),
        ({"extra": {}}, "unknown section(s) ['extra']"),
        ({"mqtt": 5}, "[mqtt] must be a table"),
    ],
)
def test_config_errors_name_file_key_and_expectation(raw: dict, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="ingest.toml")
    assert str(info.value).startswith("ingest.toml: ")
    assert words in str(info.value)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    ok = tmp_path / "ok.toml"
    ok.write_text('[storage]\nbatch_max_delay_s = 1\n[mqtt]\nclient_id = "w2"\n')
    cfg = load_config(ok)
    assert cfg.storage.batch_max_delay_s == 1.0 and cfg.mqtt.client_id == "w2"
