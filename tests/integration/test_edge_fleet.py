"""The fleet simulator: N emulated nodes through the real agent, reported per device."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from edge.responder import ConfirmResponder
from firmware_sim.fleet import Fleet, FleetConfig
from firmware_sim.fleet_cli import add_parser
from michimori.services import Mosquitto

pytestmark = pytest.mark.integration


def test_fleet_reports_what_every_device_generated(
    broker: Mosquitto, unique_id: str, tmp_path: Path
) -> None:
    cfg = FleetConfig(
        devices=3,
        seconds=2.0,
        state_dir=tmp_path / "fleet",
        port=broker.endpoint.port,
        site=unique_id,
        encoding="mixed",
        sample_interval_s=0.1,
        drain_timeout_s=20,
    )
    lines: list[str] = []
    with ConfirmResponder(broker.endpoint.host, broker.endpoint.port) as r:
        reports = Fleet(cfg).run(lines.append)
    assert [rep.device for rep in reports] == ["sim-0000", "sim-0001", "sim-0002"]
    for rep in reports:
        dev = r.device(unique_id, rep.device)
        assert rep.unconfirmed == 0 and rep.dropped == 0
        assert rep.generated == rep.last_seq + 1 > 20
        assert dev.unique == set(range(rep.generated))
        assert {"tilt", "vibration", "environment"} <= set(dev.telemetry_ts)
    assert r.errors == []
    assert lines and lines[-1].startswith("draining: ") and "0 unconfirmed" in lines[-1]


def test_fleet_command_prints_one_json_object_last(
    broker: Mosquitto, unique_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "fleet",
            "--devices", "2",
            "--seconds", "1",
            "--port", str(broker.endpoint.port),
            "--site", unique_id,
            "--state-dir", str(tmp_path / "fleet"),
            "--sample-interval", "0.2",
            "--confirm",
            "--json",
        ]
    )  # fmt: skip
    assert args.func(args) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out.strip().splitlines()[-1])
    assert summary["unconfirmed"] == 0 and len(summary["devices"]) == 2
    assert set(summary["devices"][0]) == {
        "device",
        "generated",
        "last_seq",
        "dropped",
        "unconfirmed",
    }
    assert "draining:" in out.err


def test_bad_fleet_arguments_exit_2(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["fleet", "--devices", "0", "--state-dir", str(tmp_path)])
    assert args.func(args) == 2
