"""Reading the sensors on schedule: readings, threshold alerts and sensor-fault events.

A failing sensor never stops the agent: its errors are logged (rate-limited), counted, and after
``fault_after`` failures in a row become one ``sensor_fault`` event; the first good reading
after that is a ``sensor_recovered`` event. Readings are checked against the wire contract here,
so nothing the ingest would refuse ever enters the disk queue.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from .alerts import AlertEngine, EventDraft, FieldValue
from .clock import Schedule

__all__ = ["Reading", "Sampler", "SensorLike", "clean_fields", "safe_text"]

log = logging.getLogger(__name__)

_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_BAD_TEXT_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_MAX_FIELDS: Final = 64
_INT_LIMIT: Final = 2**63
# One log line per sensor per this many seconds while it keeps failing.
_LOG_EVERY_S: Final = 60.0


class SensorLike(Protocol):
    """The shape of edge.sensors.Sensor: ``read()`` raises SensorError when the part fails."""

    name: str

    def read(self) -> Mapping[str, FieldValue]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Reading:
    sensor: str
    fields: dict[str, FieldValue]


def clean_fields(
    raw: Mapping[str, object], known: set[str] | None = None
) -> tuple[dict[str, FieldValue], list[str]]:
    """Keep the fields the wire contract accepts; say what was dropped and why.

    ``known``: names already found valid (the caller's cache, since a sensor repeats its names;
    it saves a regex match per field at 1,000 samples/s).
    """
    out: dict[str, FieldValue] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if len(out) == _MAX_FIELDS:
            problems.append(f"more than {_MAX_FIELDS} fields; the rest are dropped")
            break
        if known is None or key not in known:
            if not isinstance(key, str) or not _NAME_RE.fullmatch(key) or key == "seq":
                problems.append(f"field name {key!r} is not allowed")
                continue
            if known is not None and len(known) < 1024:
                known.add(key)
        problem = _value_problem(key, value)
        if problem is None:
            out[key] = value  # type: ignore[assignment]  # checked by _value_problem
        else:
            problems.append(problem)
    return out, problems


def _value_problem(key: str, value: object) -> str | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{key}={value} is not a finite number"
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -_INT_LIMIT <= value < _INT_LIMIT else f"{key}={value} does not fit 64 bits"
    if isinstance(value, str):
        if len(value) <= 256 and not _BAD_TEXT_RE.search(value):
            return None
        return f"{key} text is too long or holds control characters"
    return f"{key} has unsupported type {type(value).__name__}"


@dataclass(slots=True)
class _Health:
    failures_in_row: int = 0
    failures_total: int = 0
    reads_total: int = 0
    faulted: bool = False
    last_log_s: float = field(default=-math.inf)
    last_error: str = ""


class Sampler:
    """Reads due sensors; returns readings and events in the order they happened."""

    def __init__(
        self,
        sensors: Mapping[str, SensorLike],
        intervals_s: Mapping[str, float],
        *,
        start_s: float,
        fault_after: int,
        alerts: AlertEngine,
        error_types: tuple[type[BaseException], ...],
    ) -> None:
        missing = sorted(set(intervals_s) - set(sensors))
        if missing:
            raise ValueError(f"no sensor opened for {', '.join(missing)}")
        self._sensors = dict(sensors)
        self._schedule = Schedule(intervals_s, start_s=start_s)
        self._fault_after = fault_after
        self._alerts = alerts
        self._errors = error_types
        self._health = {name: _Health() for name in intervals_s}
        self._known_names: set[str] = set()

    def next_s(self) -> float:
        return self._schedule.next_s()

    def health(self) -> Mapping[str, tuple[int, int]]:
        """(reads, failures) per sensor since start."""
        return {n: (h.reads_total, h.failures_total) for n, h in self._health.items()}

    def poll(self, now_s: float) -> list[Reading | EventDraft]:
        out: list[Reading | EventDraft] = []
        for name in self._schedule.due(now_s):
            h = self._health[name]
            h.reads_total += 1
            try:
                raw = self._sensors[name].read()
            except self._errors as exc:
                self._failed(name, h, str(exc), now_s, out)
                continue
            except Exception as exc:
                # A driver bug, not a hardware fault: loud, with the traceback, but one broken
                # driver must not silence the other sensors.
                log.exception("sensor %s: unexpected %s in its driver", name, type(exc).__name__)
                self._failed(name, h, f"driver error {type(exc).__name__}: {exc}", now_s, out)
                continue
            fields, problems = clean_fields(raw, self._known_names)
            if problems and now_s - h.last_log_s >= _LOG_EVERY_S:
                h.last_log_s = now_s
                log.warning("sensor %s: dropped fields: %s", name, "; ".join(problems))
            if not fields:
                self._failed(name, h, "the reading has no usable field", now_s, out)
                continue
            if h.faulted:
                out.append(
                    EventDraft(
                        kind="sensor_recovered",
                        severity="info",
                        message=f"sensor {name} reads again after {h.failures_in_row} failures",
                        fields={"sensor": name, "failures": h.failures_in_row},
                    )
                )
                log.info("sensor %s reads again after %d failures", name, h.failures_in_row)
            h.failures_in_row = 0
            h.faulted = False
            out.append(Reading(name, fields))
            out.extend(self._alerts.evaluate(name, fields))
        return out

    def _failed(
        self, name: str, h: _Health, error: str, now_s: float, out: list[Reading | EventDraft]
    ) -> None:
        h.failures_in_row += 1
        h.failures_total += 1
        h.last_error = error
        if now_s - h.last_log_s >= _LOG_EVERY_S:
            h.last_log_s = now_s
            log.warning(
                "sensor %s failed to read (%d in a row, %d in all): %s",
                name,
                h.failures_in_row,
                h.failures_total,
                error,
            )
        if not h.faulted and h.failures_in_row >= self._fault_after:
            h.faulted = True
            out.append(
                EventDraft(
                    kind="sensor_fault",
                    severity="warning",
                    message=safe_text(f"sensor {name}: {h.failures_in_row} reads failed: {error}"),
                    fields={"sensor": name, "failures": h.failures_in_row},
                )
            )

    def close(self) -> None:
        """Close every sensor; one that fails to close is logged, the others still close."""
        for name, sensor in self._sensors.items():
            try:
                sensor.close()
            except Exception:
                log.exception("sensor %s did not close cleanly", name)


def safe_text(text: str) -> str:
    """Event messages: no control characters (the wire refuses them), at most 256 characters."""
    return _BAD_TEXT_RE.sub(" ", text)[:256]
