"""Device-side threshold alerts: raise once, clear with hysteresis, debounce, vector magnitude."""

from __future__ import annotations

import math
from typing import Any

import pytest

from edge.alerts import AlertEngine, ThresholdRule, standard_rules

TILT = ThresholdRule(
    name="tilt_x", sensor="tilt", fields=("tilt_x_deg",), above=2.0, hysteresis=0.5
)


def run(rule: ThresholdRule, values: list[Any], field: str = "tilt_x_deg") -> list[str]:
    """Feed readings one by one; return what each produced: '' or 'raised'/'cleared'."""
    engine = AlertEngine([rule])
    out = []
    for v in values:
        events = engine.evaluate(rule.sensor, {field: v})
        assert len(events) <= 1
        out.append(str(events[0].fields["state"]) if events else "")
    return out


@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [
        # raises once, stays raised while inside the hysteresis band, clears below it
        (
            TILT,
            [1.0, 2.1, 2.5, 1.8, 1.6, 1.4, 2.1],
            ["", "raised", "", "", "", "cleared", "raised"],
        ),
        # exactly at the limit is not over it
        (TILT, [2.0, 2.0], ["", ""]),
        # a missing, boolean or non-finite value keeps the state
        (TILT, [3.0, None, True, math.nan, math.inf, 1.0], ["raised", "", "", "", "", "cleared"]),
        # absolute: leaning either way counts
        (
            ThresholdRule(name="t", sensor="tilt", fields=("tilt_x_deg",), above=2, absolute=True),
            [-2.5, -1.0, 2.5],
            ["raised", "cleared", "raised"],
        ),
        # below: a lower limit, hysteresis upward
        (
            ThresholdRule(
                name="cold", sensor="tilt", fields=("tilt_x_deg",), below=-10, hysteresis=2
            ),
            [-11, -9, -7],
            ["raised", "", "cleared"],
        ),
        # debounce: three readings in a row over the limit
        (
            ThresholdRule(name="t", sensor="tilt", fields=("tilt_x_deg",), above=2, for_samples=3),
            [3, 3, 1, 3, 3, 3, 3],
            ["", "", "", "", "", "raised", ""],
        ),
    ],
)
def test_rule_sequences(rule: ThresholdRule, values: list[Any], expected: list[str]) -> None:
    assert run(rule, values) == expected


def test_pole_tilt_is_the_magnitude_of_both_axes() -> None:
    (rule,) = standard_rules(tilt_deg_max=2.0, vibration_rms_g_max=None)
    engine = AlertEngine([rule])
    # 1.5° on each axis is 2.12° of lean: over a 2° limit although neither axis is
    (ev,) = engine.evaluate("tilt", {"tilt_x_deg": 1.5, "tilt_y_deg": -1.5})
    assert ev.kind == "pole_tilt" and ev.severity == "alert"
    assert ev.fields["value"] == pytest.approx(math.hypot(1.5, 1.5))
    assert ev.fields["limit"] == 2.0 and ev.fields["state"] == "raised"
    assert "beyond the limit 2" in ev.message
    # 10 % hysteresis: 1.9° is still raised, 1.7° clears (as an info event)
    assert engine.evaluate("tilt", {"tilt_x_deg": 1.9, "tilt_y_deg": 0.0}) == []
    (clear,) = engine.evaluate("tilt", {"tilt_x_deg": 1.7, "tilt_y_deg": 0.0})
    assert clear.severity == "info" and clear.fields["state"] == "cleared"


def test_other_sensors_and_unwatched_fields_do_nothing() -> None:
    engine = AlertEngine(standard_rules(tilt_deg_max=2.0, vibration_rms_g_max=0.5))
    assert engine.evaluate("environment", {"temperature_c": 99.0}) == []
    assert engine.evaluate("vibration", {"accel_peak_g": 5.0}) == []
    (ev,) = engine.evaluate("vibration", {"accel_rms_g": 0.6})
    assert ev.kind == "vibration_high" and engine.raised() == ["vibration_high"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fields": ("a",)}, "needs `above` or `below`"),
        ({"fields": (), "above": 1}, "at least one field"),
        ({"fields": ("A",), "above": 1}, "field 'A'"),
        ({"fields": ("a",), "above": math.inf}, "finite"),
        ({"fields": ("a",), "above": 1, "below": 2}, "less than"),
        ({"fields": ("a",), "above": 1, "hysteresis": -1}, "hysteresis"),
        ({"fields": ("a",), "above": 1, "for_samples": 0}, "for_samples"),
        ({"fields": ("a",), "above": 1, "severity": "panic"}, "severity"),
        ({"fields": ("a",), "above": 1, "message": "two\nlines"}, "control"),
    ],
)
def test_invalid_rules_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ThresholdRule(name="r", sensor="tilt", **kwargs)


def test_duplicate_rule_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        AlertEngine([TILT, TILT])
