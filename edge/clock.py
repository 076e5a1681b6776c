"""Time on the device: strictly increasing sample timestamps, clock-jump detection, the schedule.

Pure: the wall and monotonic readings are passed in. InfluxDB identifies a point by measurement,
tags and time, so two samples with one timestamp would overwrite each other; the guard makes
every timestamp of a device unique and increasing even when the wall clock steps back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ClockGuard", "ClockJump", "Schedule"]


@dataclass(frozen=True, slots=True)
class ClockJump:
    """The wall clock moved ``jump_ns`` more than the monotonic clock (negative: stepped back)."""

    jump_ns: int
    at_start: bool = False  # detected against the last timestamp stored before a restart

    @property
    def jump_s(self) -> float:
        return self.jump_ns / 1e9


class ClockGuard:
    """Hands out timestamps: the wall clock, but never equal to or below the previous one."""

    def __init__(self, *, last_ts_ns: int, threshold_ns: int) -> None:
        if threshold_ns <= 0:
            raise ValueError(f"threshold_ns must be > 0, got {threshold_ns}")
        self._last_ts = last_ts_ns
        self._threshold = threshold_ns
        self._prev: tuple[int, int] | None = None

    @property
    def last_ts_ns(self) -> int:
        return self._last_ts

    def stamp(self, wall_ns: int, mono_ns: int) -> tuple[int, ClockJump | None]:
        jump: ClockJump | None = None
        if self._prev is not None:
            prev_wall, prev_mono = self._prev
            skew = (wall_ns - prev_wall) - (mono_ns - prev_mono)
            if abs(skew) >= self._threshold:
                jump = ClockJump(skew)
        elif self._last_ts and wall_ns < self._last_ts - self._threshold:
            # First reading after a restart, behind what we stored before: the RTC lost time.
            jump = ClockJump(wall_ns - self._last_ts, at_start=True)
        self._prev = (wall_ns, mono_ns)
        ts = wall_ns if wall_ns > self._last_ts else self._last_ts + 1
        self._last_ts = ts
        return ts, jump


class Schedule:
    """Per-sensor sampling times on the monotonic clock.

    A sensor with several slots due at once (it is faster than the agent's tick) is read once
    per slot, so the average rate holds; one more than ``max_catch_up`` slots behind (the
    device was suspended, the disk stalled) skips to now instead of reading in a burst.
    """

    def __init__(
        self, intervals_s: Mapping[str, float], *, start_s: float, max_catch_up: int = 4
    ) -> None:
        for name, iv in intervals_s.items():
            if not iv > 0:
                raise ValueError(f"sensor {name!r}: interval must be > 0 s, got {iv}")
        self._interval = dict(intervals_s)
        self._due = dict.fromkeys(intervals_s, start_s)
        self._max_catch_up = max_catch_up
        self.skipped = 0

    def due(self, now_s: float) -> list[str]:
        """The sensors to read now, once per due slot; their next times are advanced."""
        out = []
        for name, due in self._due.items():
            if due > now_s:
                continue
            iv = self._interval[name]
            slots = int((now_s - due) // iv) + 1
            if slots > self._max_catch_up:
                self.skipped += slots - 1
                out.append(name)
                self._due[name] = now_s + iv
            else:
                out.extend([name] * slots)
                self._due[name] = due + slots * iv
        return out

    def next_s(self) -> float:
        return min(self._due.values(), default=float("inf"))
