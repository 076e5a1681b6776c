"""Sampling on the device: unique increasing timestamps, clock jumps, schedule, sensor faults."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest

from edge.alerts import AlertEngine, EventDraft, FieldValue, standard_rules
from edge.clock import ClockGuard, ClockJump, Schedule
from edge.sampler import Reading, Sampler, clean_fields, safe_text

S = 1_000_000_000  # ns


@pytest.mark.parametrize(
    ("readings", "stamps", "jumps"),
    [
        # normal: wall and monotonic advance together
        ([(100 * S, 0), (101 * S, S)], [100 * S, 101 * S], [None, None]),
        # two readings in the same nanosecond still get distinct stamps
        ([(100 * S, 0), (100 * S, 0)], [100 * S, 100 * S + 1], [None, None]),
        # the clock steps back 10 s: stamps continue from the last one, the jump is reported
        (
            [(100 * S, 0), (91 * S, S), (92 * S, 2 * S)],
            [100 * S, 100 * S + 1, 100 * S + 2],
            [None, -10 * S, None],
        ),
        # a forward step is reported too, and used
        ([(100 * S, 0), (161 * S, S)], [100 * S, 161 * S], [None, 60 * S]),
        # a small step back (under the threshold) is absorbed silently
        ([(100 * S, 0), (100 * S + S // 2, S)], [100 * S, 100 * S + S // 2], [None, None]),
    ],
)
def test_clock_guard(
    readings: list[tuple[int, int]], stamps: list[int], jumps: list[int | None]
) -> None:
    g = ClockGuard(last_ts_ns=0, threshold_ns=2 * S)
    got = [g.stamp(w, m) for w, m in readings]
    assert [ts for ts, _ in got] == stamps
    assert [j.jump_ns if j else None for _, j in got] == jumps


def test_clock_guard_after_restart_with_a_clock_behind() -> None:
    g = ClockGuard(last_ts_ns=500 * S, threshold_ns=2 * S)
    ts, jump = g.stamp(400 * S, 0)
    assert ts == 500 * S + 1
    assert jump == ClockJump(-100 * S, at_start=True)
    assert g.stamp(401 * S, S) == (500 * S + 2, None)


def test_schedule_keeps_rate_and_skips_when_far_behind() -> None:
    s = Schedule({"fast": 1.0, "slow": 10.0}, start_s=0.0, max_catch_up=4)
    assert s.due(0.0) == ["fast", "slow"]
    assert s.next_s() == 1.0
    assert s.due(0.5) == []
    assert s.due(1.2) == ["fast"]  # late by 0.2 s: the slot at 2.0 is kept
    assert s.next_s() == 2.0
    assert s.due(4.5) == ["fast"] * 3  # slots 2, 3 and 4: one read each, the rate holds
    assert s.next_s() == 5.0
    assert s.due(12.5) == ["fast", "slow"]  # 8 slots behind: skip to now + interval
    assert s.skipped == 7
    assert s.next_s() == 13.5
    with pytest.raises(ValueError, match="interval"):
        Schedule({"x": 0.0}, start_s=0.0)


@pytest.mark.parametrize(
    ("raw", "kept", "problem"),
    [
        ({"a": 1.5, "b": 2, "c": True, "d": "ok"}, {"a": 1.5, "b": 2, "c": True, "d": "ok"}, None),
        ({"a": math.nan}, {}, "finite"),
        ({"a": math.inf, "b": 1.0}, {"b": 1.0}, "finite"),
        ({"Bad": 1.0}, {}, "not allowed"),
        ({"seq": 1}, {}, "not allowed"),
        ({"a": 2**64}, {}, "64 bits"),
        ({"a": "line\nbreak"}, {}, "control"),
        ({"a": None}, {}, "unsupported type"),
    ],
)
def test_clean_fields(
    raw: dict[str, object], kept: dict[str, FieldValue], problem: str | None
) -> None:
    fields, problems = clean_fields(raw)
    assert fields == kept
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_safe_text() -> None:
    assert safe_text("a\nb\tc") == "a b c"
    assert len(safe_text("x" * 1000)) == 256


class FakeError(Exception):
    pass


class FakeSensor:
    """Returns the scripted readings in turn; an exception in the script is raised."""

    def __init__(self, name: str, script: list[Mapping[str, FieldValue] | Exception]) -> None:
        self.name = name
        self._script = list(script)
        self.closed = False

    def read(self) -> Mapping[str, FieldValue]:
        item = self._script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


def poll_all(sampler: Sampler, n: int) -> list[list[Reading | EventDraft]]:
    return [sampler.poll(float(i)) for i in range(n)]


def kinds(out: list[Reading | EventDraft]) -> list[str]:
    return [f"reading:{o.sensor}" if isinstance(o, Reading) else o.kind for o in out]


def test_sensor_fault_after_n_failures_and_recovery() -> None:
    bad = FakeError("NACK at 0x53")
    tilt = FakeSensor("tilt", [{"tilt_x_deg": 0.1}, bad, bad, bad, bad, {"tilt_x_deg": 0.2}])
    sampler = Sampler(
        {"tilt": tilt},
        {"tilt": 1.0},
        start_s=0.0,
        fault_after=3,
        alerts=AlertEngine([]),
        error_types=(FakeError,),
    )
    results = [kinds(o) for o in poll_all(sampler, 6)]
    assert results == [
        ["reading:tilt"],
        [],
        [],
        ["sensor_fault"],  # the third failure in a row, once
        [],
        ["sensor_recovered", "reading:tilt"],
    ]
    assert sampler.health()["tilt"] == (6, 4)
    sampler.close()
    assert tilt.closed


def test_driver_bug_does_not_stop_other_sensors(caplog: pytest.LogCaptureFixture) -> None:
    broken = FakeSensor("gnss", [ZeroDivisionError("oops")] * 3)
    tilt = FakeSensor("tilt", [{"tilt_x_deg": 0.1}] * 3)
    sampler = Sampler(
        {"gnss": broken, "tilt": tilt},
        {"gnss": 1.0, "tilt": 1.0},
        start_s=0.0,
        fault_after=1,
        alerts=AlertEngine([]),
        error_types=(FakeError,),
    )
    out = sampler.poll(0.0)
    assert kinds(out) == ["sensor_fault", "reading:tilt"]
    assert "unexpected ZeroDivisionError" in caplog.text


def test_readings_feed_the_alerts_and_bad_fields_are_dropped() -> None:
    tilt = FakeSensor("tilt", [{"tilt_x_deg": 3.0, "tilt_y_deg": 0.0, "junk": math.nan}])
    sampler = Sampler(
        {"tilt": tilt},
        {"tilt": 1.0},
        start_s=0.0,
        fault_after=3,
        alerts=AlertEngine(standard_rules(tilt_deg_max=2.0, vibration_rms_g_max=None)),
        error_types=(FakeError,),
    )
    reading, alert = sampler.poll(0.0)
    assert isinstance(reading, Reading) and reading.fields == {"tilt_x_deg": 3.0, "tilt_y_deg": 0.0}
    assert isinstance(alert, EventDraft) and alert.kind == "pole_tilt"


def test_a_reading_with_no_usable_field_is_a_failure() -> None:
    tilt = FakeSensor("tilt", [{"x": math.nan}])
    sampler = Sampler(
        {"tilt": tilt},
        {"tilt": 1.0},
        start_s=0.0,
        fault_after=1,
        alerts=AlertEngine([]),
        error_types=(FakeError,),
    )
    assert kinds(sampler.poll(0.0)) == ["sensor_fault"]


def test_every_scheduled_sensor_must_be_open() -> None:
    with pytest.raises(ValueError, match="no sensor opened for gnss"):
        Sampler(
            {},
            {"gnss": 1.0},
            start_s=0.0,
            fault_after=1,
            alerts=AlertEngine([]),
            error_types=(FakeError,),
        )
