"""Threshold alerts computed on the device (pole tilt over a limit, ...), with hysteresis.

Pure: a rule set and per-rule state go in, event drafts come out. The agent stamps them with a
sequence number and a timestamp and queues them in the priority lane.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

Severity = Literal["info", "warning", "alert", "critical"]
SEVERITIES: Final = ("info", "warning", "alert", "critical")
# Same charset as the wire contract's names: the rule name becomes the event's `kind`.
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")

FieldValue = bool | int | float | str


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdRule:
    """Raise an event when a sensor's value goes above ``above`` (or below ``below``).

    The value is ``fields[0]`` of the reading, or with several fields their vector magnitude
    (``sqrt(x² + y²)``: a pole's total lean from its two tilt axes).
    It clears only once the value is back inside the limit by ``hysteresis`` (same unit as the
    field), so a reading that hovers at the limit does not flood the priority lane.
    ``absolute`` compares ``|value|``: a pole leaning 3° either way is the same problem.
    ``for_samples`` readings in a row must be over the limit before it raises (debounce).
    """

    name: str
    sensor: str
    fields: tuple[str, ...]
    above: float | None = None
    below: float | None = None
    absolute: bool = False
    hysteresis: float = 0.0
    for_samples: int = 1
    severity: Severity = "alert"
    message: str = ""

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValueError(f"alert {self.name!r} needs at least one field")
        names = (("name", self.name), ("sensor", self.sensor), *(("field", f) for f in self.fields))
        for what, value in names:
            if not _NAME_RE.fullmatch(value):
                raise ValueError(
                    f"alert {what} {value!r} must be 1-64 characters of a-z, 0-9 and '_', "
                    "starting with a letter"
                )
        if self.above is None and self.below is None:
            raise ValueError(f"alert {self.name!r} needs `above` or `below` (or both)")
        for what, limit in (("above", self.above), ("below", self.below)):
            if limit is not None and not math.isfinite(limit):
                raise ValueError(f"alert {self.name!r}: `{what}` must be a finite number")
        if self.above is not None and self.below is not None and self.below >= self.above:
            raise ValueError(
                f"alert {self.name!r}: `below` ({self.below}) must be less than `above` "
                f"({self.above}), or the rule would always fire"
            )
        if not (math.isfinite(self.hysteresis) and self.hysteresis >= 0):
            raise ValueError(f"alert {self.name!r}: `hysteresis` must be a number >= 0")
        if self.for_samples < 1:
            raise ValueError(f"alert {self.name!r}: `for_samples` must be >= 1")
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"alert {self.name!r}: severity {self.severity!r} is not one of {SEVERITIES}"
            )
        if len(self.message) > 200 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in self.message):
            raise ValueError(
                f"alert {self.name!r}: message must be at most 200 characters, no control chars"
            )

    @property
    def label(self) -> str:
        """What the value is, for messages: ``tilt.tilt_x_deg`` or ``|tilt.tilt_x_deg,...|``."""
        if len(self.fields) == 1:
            return f"{self.sensor}.{self.fields[0]}"
        return f"|{self.sensor}.{','.join(self.fields)}|"

    def value_of(self, reading: Mapping[str, FieldValue]) -> float | None:
        """The rule's value in a reading; None if a field is missing or not a finite number."""
        values = []
        for name in self.fields:
            v = reading.get(name)
            # A missing or non-numeric value says nothing about the limit.
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                return None
            values.append(float(v))
        if len(values) == 1:
            return values[0]
        return math.sqrt(sum(v * v for v in values))

    def over(self, value: float, *, raised: bool) -> bool:
        """Is ``value`` outside the limit? While raised, the limit moves in by the hysteresis."""
        v = abs(value) if self.absolute else value
        margin = self.hysteresis if raised else 0.0
        if self.above is not None and v > self.above - margin:
            return True
        return self.below is not None and v < self.below + margin

    def limit_for(self, value: float) -> float:
        v = abs(value) if self.absolute else value
        if self.above is not None and (self.below is None or v > self.above):
            return self.above
        assert self.below is not None  # checked in __post_init__
        return self.below


def standard_rules(
    *,
    tilt_deg_max: float | None,
    vibration_rms_g_max: float | None,
    hysteresis_pct: float = 10.0,
) -> list[ThresholdRule]:
    """The two alerts of edge.toml's [alerts] section.

    ``pole_tilt``: the pole's total lean (magnitude of both tilt axes) over ``tilt_deg_max``.
    ``vibration_high``: RMS vibration over ``vibration_rms_g_max``. Each clears once the value
    is ``hysteresis_pct`` % below its limit.
    """
    rules = []
    if tilt_deg_max is not None:
        rules.append(
            ThresholdRule(
                name="pole_tilt",
                sensor="tilt",
                fields=("tilt_x_deg", "tilt_y_deg"),
                above=tilt_deg_max,
                hysteresis=tilt_deg_max * hysteresis_pct / 100,
                severity="alert",
            )
        )
    if vibration_rms_g_max is not None:
        rules.append(
            ThresholdRule(
                name="vibration_high",
                sensor="vibration",
                fields=("accel_rms_g",),
                above=vibration_rms_g_max,
                hysteresis=vibration_rms_g_max * hysteresis_pct / 100,
                severity="warning",
            )
        )
    return rules


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event before the agent gives it a sequence number and a timestamp."""

    kind: str
    severity: Severity
    message: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)


@dataclass(slots=True)
class _RuleState:
    raised: bool = False
    over_count: int = 0


class AlertEngine:
    """Evaluates every rule for a sensor's reading; remembers which alerts are raised."""

    def __init__(self, rules: Iterable[ThresholdRule]) -> None:
        self._rules = tuple(rules)
        names = [r.name for r in self._rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"alert names must be unique; repeated: {', '.join(dupes)}")
        self._by_sensor: dict[str, list[ThresholdRule]] = {}
        for rule in self._rules:
            self._by_sensor.setdefault(rule.sensor, []).append(rule)
        self._state = {r.name: _RuleState() for r in self._rules}

    @property
    def rules(self) -> tuple[ThresholdRule, ...]:
        return self._rules

    def raised(self) -> list[str]:
        return [name for name, st in self._state.items() if st.raised]

    def evaluate(self, sensor: str, fields: Mapping[str, FieldValue]) -> list[EventDraft]:
        """Feed one reading; return the events it raises or clears (usually none)."""
        rules = self._by_sensor.get(sensor)
        if not rules:
            return []
        out: list[EventDraft] = []
        for rule in rules:
            value = rule.value_of(fields)
            if value is None:
                continue  # keep the state: this reading says nothing about the limit
            st = self._state[rule.name]
            if rule.over(value, raised=st.raised):
                st.over_count += 1
                if not st.raised and st.over_count >= rule.for_samples:
                    st.raised = True
                    out.append(self._draft(rule, value, raised=True))
            else:
                st.over_count = 0
                if st.raised:
                    st.raised = False
                    out.append(self._draft(rule, value, raised=False))
        return out

    @staticmethod
    def _draft(rule: ThresholdRule, value: float, *, raised: bool) -> EventDraft:
        limit = rule.limit_for(value)
        if raised:
            text = rule.message or f"{rule.label} = {value:.4g} is beyond the limit {limit:g}"
            severity: Severity = rule.severity
        else:
            text = f"{rule.label} = {value:.4g} is back within {limit:g}"
            severity = "info"
        return EventDraft(
            kind=rule.name,
            severity=severity,
            message=text[:256],
            fields={
                "state": "raised" if raised else "cleared",
                "sensor": rule.sensor,
                "field": ",".join(rule.fields),
                "value": float(value),
                "limit": float(limit),
            },
        )
