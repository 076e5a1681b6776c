"""`michimori services up|status|down` start real local services and report them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from michimori.services import free_port

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "michimori.cli", "services", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_up_status_down(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    mqtt, influx = free_port(), free_port()
    try:
        up = _cli(
            "up",
            "--state-dir",
            state,
            "--mqtt-port",
            str(mqtt),
            "--influx-port",
            str(influx),
            "--json",
        )
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout.strip().splitlines()[-1])
        assert info["services"]["mosquitto"]["port"] == mqtt
        assert info["services"]["influxdb"]["url"] == f"http://127.0.0.1:{influx}"
        assert all(s["answering"] for s in info["services"].values())
        again = _cli("up", "--state-dir", state)  # idempotent
        assert again.returncode == 0 and "already running" in again.stdout
        status = _cli("status", "--state-dir", state, "--json")
        assert status.returncode == 0
        assert json.loads(status.stdout)["state_dir"] == str(Path(state).resolve())
    finally:
        down = _cli("down", "--state-dir", state, "--json")
    assert down.returncode == 0
    assert sorted(json.loads(down.stdout)["stopped"]) == ["influxdb", "mosquitto"]
    after = _cli("status", "--state-dir", state)
    assert after.returncode == 1 and "no services recorded" in after.stdout
