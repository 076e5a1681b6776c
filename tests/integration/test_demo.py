"""The main job, `michimori demo`, runs end to end on simulators and says OK."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_runs_the_whole_pipeline(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "michimori.cli",
            "--log-level",
            "WARNING",
            "demo",
            "--devices",
            "3",
            "--seconds",
            "8",
            "--out",
            "out",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "verdict: OK" in run.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["telemetry"]["lost"] == 0 and summary["telemetry"]["twice"] == 0
    assert summary["inspection"]["status"] == "ok"
    assert (tmp_path / "out" / "flight" / "summary.json").exists()
    # the demo started the services, so it stopped them again
    assert not (tmp_path / "state" / "services" / "services.json").exists()
