"""End to end: emulated devices -> edge agent -> Mosquitto -> ingest -> InfluxDB, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.pipeline import Pipeline, assert_exactly_once

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def pipeline(tmp_path: Path, unique_id: str) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path, unique_id)
    yield p
    p.close()


def test_twenty_devices_for_sixty_seconds_arrive_exactly_once(pipeline: Pipeline) -> None:
    fleet = pipeline.fleet(devices=20, seconds=60, encoding="mixed")
    reports = fleet.run()
    assert len(reports) == 20
    for r in reports:
        assert r.unconfirmed == 0, r
        assert r.dropped == 0, r
        assert r.generated == r.last_seq + 1, r  # a fresh queue: seqs 0..last
        # default schedule: tilt + vibration at 1 s and more over 60 s
        assert r.generated >= 120, r
    stored = pipeline.seqs()
    assert_exactly_once(stored, {r.device: r.last_seq for r in reports})
    total = sum(r.generated for r in reports)
    assert sum(len(s) for s in stored.values()) == total
