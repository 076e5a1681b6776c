"""Fault injection for emulated pole nodes: which fault hits which part when, and the node's clock.

Faults are declared up front in a `FaultPlan` (frozen, validated) and evaluated against the time
elapsed since the node started, so a seeded run replays the same faults at the same moments.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FAULT_FIELDS",
    "FAULT_KINDS",
    "Fault",
    "FaultConfigError",
    "FaultInjector",
    "FaultPlan",
    "SimClock",
]

# Which fault kinds make sense for which emulated part. "dropout" always means the part stops
# answering (I2C NACK, silent serial line, modem not responding), so the driver sees an error.
FAULT_KINDS: Mapping[str, frozenset[str]] = {
    "accel": frozenset({"stuck", "spike", "dropout"}),
    "bme280": frozenset({"stuck", "spike", "dropout"}),
    "gnss": frozenset({"no_fix", "dropout"}),
    "link": frozenset({"no_service", "dropout"}),
    "clock": frozenset({"clock_jump"}),
}
# Fields a spike can hit; the first is the default.
FAULT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "accel": ("x", "y", "z"),
    "bme280": ("temperature_c", "pressure_hpa", "humidity_pct"),
}


class FaultConfigError(ValueError):
    """A fault declaration that cannot be honoured (unknown target, kind, field or bad number)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One injected fault on one part of the node, active over a window of node time.

    magnitude: spike size in the field's unit (g for accel axes, °C / hPa / %RH for the BME280),
    or the step in seconds for a clock jump (negative steps the clock back).
    probability: chance per sample (spike) or per bus transaction / read (dropout) while active;
    1.0 means every one (a spike on every accelerometer sample is an offset, so give
    accelerometer spikes a small probability).
    """

    target: str
    kind: str
    start_s: float = 0.0
    duration_s: float | None = None  # None: until the node stops
    probability: float = 1.0
    magnitude: float = 0.0
    field: str | None = None

    def __post_init__(self) -> None:
        kinds = FAULT_KINDS.get(self.target)
        if kinds is None:
            raise FaultConfigError(
                f"unknown fault target {self.target!r}; expected one of {sorted(FAULT_KINDS)}"
            )
        if self.kind not in kinds:
            raise FaultConfigError(
                f"fault kind {self.kind!r} does not apply to {self.target!r}; "
                f"expected one of {sorted(kinds)}"
            )
        if not self.start_s >= 0.0:
            raise FaultConfigError(f"start_s must be >= 0, got {self.start_s}")
        if self.duration_s is not None and not self.duration_s > 0.0:
            raise FaultConfigError(f"duration_s must be > 0 or None, got {self.duration_s}")
        if not 0.0 < self.probability <= 1.0:
            raise FaultConfigError(f"probability must be in (0, 1], got {self.probability}")
        if self.kind in ("spike", "clock_jump") and self.magnitude == 0.0:
            raise FaultConfigError(f"a {self.kind} needs a non-zero magnitude")
        if self.kind == "clock_jump" and self.duration_s is not None:
            raise FaultConfigError("a clock_jump is a step; leave duration_s unset")
        if self.field is not None:
            fields = FAULT_FIELDS.get(self.target, ())
            if self.kind != "spike" or self.field not in fields:
                raise FaultConfigError(
                    f"field {self.field!r} is not a spike field of {self.target!r}; "
                    f"expected one of {list(fields)} on a spike"
                )

    @property
    def spike_field(self) -> str:
        """The field a spike hits (the target's default when unset)."""
        return self.field if self.field is not None else FAULT_FIELDS[self.target][0]

    def active_at(self, elapsed_s: float) -> bool:
        if elapsed_s < self.start_s:
            return False
        return self.duration_s is None or elapsed_s < self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """All faults of one node. Empty by default: a healthy node."""

    faults: tuple[Fault, ...] = ()

    def for_target(self, target: str) -> tuple[Fault, ...]:
        return tuple(f for f in self.faults if f.target == target)

    @classmethod
    def from_dicts(
        cls, items: Sequence[Fault | Mapping[str, Any]], *, source: str = "faults"
    ) -> FaultPlan:
        """Build a plan from config data (a JSON/TOML list of tables, or Faults); errors name
        the entry."""
        faults: list[Fault] = []
        for index, item in enumerate(items):
            if isinstance(item, Fault):
                faults.append(item)
                continue
            try:
                faults.append(Fault(**dict(item)))
            except TypeError as exc:  # unknown or missing keys
                raise FaultConfigError(f"{source}[{index}]: {exc}") from exc
            except FaultConfigError as exc:
                raise FaultConfigError(f"{source}[{index}]: {exc}") from exc
        return cls(tuple(faults))


class FaultInjector:
    """Runtime view of the faults of one target, asked on every sample or transaction.

    Cheap when there are no faults (the common case): every query starts with an empty-tuple test.
    """

    __slots__ = ("_faults", "_rng")

    def __init__(self, faults: Iterable[Fault], *, seed: int) -> None:
        self._faults = tuple(faults)
        self._rng = random.Random(seed)

    def __bool__(self) -> bool:
        return bool(self._faults)

    def _active(self, kind: str, elapsed_s: float) -> Fault | None:
        for fault in self._faults:
            if fault.kind == kind and fault.active_at(elapsed_s):
                return fault
        return None

    def is_active(self, kind: str, elapsed_s: float) -> bool:
        """A fault of this kind covers this moment (stuck, no_fix, no_service)."""
        return bool(self._faults) and self._active(kind, elapsed_s) is not None

    def fires(self, kind: str, elapsed_s: float) -> bool:
        """An active fault of this kind hits this transaction (dropout), by its probability."""
        if not self._faults:
            return False
        fault = self._active(kind, elapsed_s)
        return fault is not None and (
            fault.probability >= 1.0 or self._rng.random() < fault.probability
        )

    def spike(self, elapsed_s: float) -> tuple[str, float] | None:
        """(field, amount) to add to this sample when a spike hits it, else None."""
        if not self._faults:
            return None
        fault = self._active("spike", elapsed_s)
        if fault is None or (fault.probability < 1.0 and self._rng.random() >= fault.probability):
            return None
        return fault.spike_field, fault.magnitude


@dataclass(slots=True)
class _Jump:
    at_s: float
    delta_ns: int
    done: bool = field(default=False)


class SimClock:
    """Time of an emulated node: the world's true time and the node's own (jumpable) clock.

    `true_ns()` is what the weather, the pole and the GNSS satellites follow; `now_ns()` is the
    node's system clock, which a clock-jump fault (an NTP step, a reset RTC) moves forward or back.
    In realtime mode both follow the host's monotonic clock from `start_ns`; in manual mode time
    stands still until `advance()` or `sleep()` moves it, which makes tests exact and fast.
    Thread-safe: the GNSS thread and the agent read it concurrently.
    """

    def __init__(
        self,
        *,
        start_ns: int,
        realtime: bool = True,
        jumps: Iterable[tuple[float, float]] = (),
    ) -> None:
        self._start_ns = start_ns
        self._realtime = realtime
        self._mono0_ns = time.monotonic_ns()
        self._advanced_ns = 0
        self._offset_ns = 0
        self._lock = threading.Lock()
        self._jumps = sorted(
            (_Jump(at_s, round(delta_s * 1e9)) for at_s, delta_s in jumps), key=lambda j: j.at_s
        )

    @classmethod
    def from_plan(cls, plan: FaultPlan, *, start_ns: int, realtime: bool = True) -> SimClock:
        jumps = [(f.start_s, f.magnitude) for f in plan.for_target("clock")]
        return cls(start_ns=start_ns, realtime=realtime, jumps=jumps)

    @property
    def realtime(self) -> bool:
        return self._realtime

    @property
    def start_ns(self) -> int:
        return self._start_ns

    def _elapsed_ns_locked(self) -> int:
        elapsed = self._advanced_ns
        if self._realtime:
            elapsed += time.monotonic_ns() - self._mono0_ns
        return elapsed

    def true_ns(self) -> int:
        """World time, ns since the Unix epoch; never jumps."""
        with self._lock:
            return self._start_ns + self._elapsed_ns_locked()

    def elapsed_s(self) -> float:
        """True seconds since the node started: the time base of fault windows."""
        with self._lock:
            return self._elapsed_ns_locked() * 1e-9

    def now_ns(self) -> int:
        """The node's own clock, ns since the Unix epoch; jumps when a clock fault fires."""
        with self._lock:
            elapsed = self._elapsed_ns_locked()
            if self._jumps:
                for jump in self._jumps:
                    if not jump.done and elapsed >= jump.at_s * 1e9:
                        jump.done = True
                        self._offset_ns += jump.delta_ns
            return self._start_ns + elapsed + self._offset_ns

    def jump(self, delta_s: float) -> None:
        """Step the node's clock now (true time is unaffected)."""
        with self._lock:
            self._offset_ns += round(delta_s * 1e9)

    def advance(self, dt_s: float) -> None:
        """Move true time forward without waiting (in realtime mode too: the world runs ahead)."""
        if dt_s < 0:
            raise ValueError(f"cannot advance time by a negative amount ({dt_s} s)")
        with self._lock:
            self._advanced_ns += round(dt_s * 1e9)

    def sleep(self, dt_s: float) -> None:
        """What a driver calls to wait for the hardware: real sleep, or an instant advance."""
        if self._realtime:
            time.sleep(dt_s)
        else:
            self.advance(dt_s)
