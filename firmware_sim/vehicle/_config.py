"""Configuration values of the simulated vehicle: home position, scheduled faults, network
endpoints and the vehicle config itself. Frozen, validated on creation, parseable from CLI text.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from firmware_sim.vehicle._errors import VehicleConfigError
from firmware_sim.vehicle._params import PARAM_NAMES

__all__ = [
    "DEFAULT_EPOCH_UNIX_S",
    "DEFAULT_GPS_LOCK_DELAY_S",
    "DEFAULT_HOME",
    "Endpoint",
    "FaultKind",
    "FaultSpec",
    "HomePosition",
    "VehicleConfig",
    "parse_param_override",
]

# A real receiver needs 30 s or more for a cold start; 2 s keeps tests quick while still leaving
# a window in which "arming before GPS fix" can be exercised.
DEFAULT_GPS_LOCK_DELAY_S = 2.0
# Fixed default wall-clock epoch (2023-11-14T22:13:20Z) so a pure run is reproducible; the
# socket shell passes the real time instead.
DEFAULT_EPOCH_UNIX_S = 1_700_000_000.0


def _finite(option: str, value: float) -> float:
    if not math.isfinite(value):
        raise VehicleConfigError(option, f"must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class HomePosition:
    """Where the vehicle boots: WGS84 latitude/longitude, ground altitude above mean sea level,
    and the heading it faces on the ground."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    heading_deg: float = 0.0

    def __post_init__(self) -> None:
        _finite("home.lat_deg", self.lat_deg)
        _finite("home.lon_deg", self.lon_deg)
        _finite("home.alt_m", self.alt_m)
        _finite("home.heading_deg", self.heading_deg)
        if not -90.0 <= self.lat_deg <= 90.0:
            raise VehicleConfigError(
                "home.lat_deg", f"must be within [-90, 90], got {self.lat_deg}"
            )
        if not -180.0 <= self.lon_deg <= 180.0:
            raise VehicleConfigError(
                "home.lon_deg", f"must be within [-180, 180], got {self.lon_deg}"
            )
        if not -500.0 <= self.alt_m <= 9000.0:
            raise VehicleConfigError(
                "home.alt_m", f"must be within [-500, 9000] m, got {self.alt_m}"
            )
        object.__setattr__(self, "heading_deg", self.heading_deg % 360.0)

    @classmethod
    def parse(cls, text: str) -> HomePosition:
        """Parse ``LAT,LON[,ALT_M[,HEADING_DEG]]`` (ArduPilot SITL's ``--home`` form)."""
        parts = [p.strip() for p in text.split(",")]
        if not 2 <= len(parts) <= 4 or any(not p for p in parts):
            raise VehicleConfigError(
                "--home", f"expected LAT,LON[,ALT_M[,HEADING_DEG]], got {text!r}"
            )
        try:
            values = [float(p) for p in parts]
        except ValueError as exc:
            raise VehicleConfigError("--home", f"not a number in {text!r}") from exc
        values += [0.0] * (4 - len(values))
        return cls(lat_deg=values[0], lon_deg=values[1], alt_m=values[2], heading_deg=values[3])


# Tokyo Station plaza: a plausible Japanese city default; override with --home or a world file.
DEFAULT_HOME = HomePosition(lat_deg=35.681236, lon_deg=139.767125, alt_m=3.0, heading_deg=0.0)


class FaultKind(enum.Enum):
    """Faults that can be injected into the simulated vehicle."""

    GPS_LOSS = "gps-loss"
    LINK_LOSS = "link-loss"
    LOW_BATTERY = "low-battery"


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """A fault that starts `at_s` seconds of simulated time after boot and lasts `duration_s`
    (None: until the end of the run). A low-battery fault is instantaneous: the battery drops to
    the low-battery threshold, so it has no duration."""

    kind: FaultKind
    at_s: float
    duration_s: float | None = None

    def __post_init__(self) -> None:
        _finite("fault.at_s", self.at_s)
        if self.at_s < 0:
            raise VehicleConfigError("fault.at_s", f"must be >= 0, got {self.at_s}")
        if self.duration_s is not None:
            _finite("fault.duration_s", self.duration_s)
            if self.duration_s <= 0:
                raise VehicleConfigError("fault.duration_s", f"must be > 0, got {self.duration_s}")
            if self.kind is FaultKind.LOW_BATTERY:
                raise VehicleConfigError(
                    "fault.duration_s", "low-battery is instantaneous and takes no duration"
                )

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """Parse ``KIND@AT_S[:DURATION_S]``, e.g. ``gps-loss@120``, ``link-loss@60:10``."""
        kinds = ", ".join(k.value for k in FaultKind)
        kind_text, sep, when = text.strip().partition("@")
        if not sep:
            raise VehicleConfigError(
                "--fault", f"expected KIND@AT_S[:DURATION_S] (KIND one of {kinds}), got {text!r}"
            )
        try:
            kind = FaultKind(kind_text)
        except ValueError as exc:
            raise VehicleConfigError(
                "--fault", f"unknown fault {kind_text!r}; expected one of {kinds}"
            ) from exc
        at_text, _, duration_text = when.partition(":")
        try:
            at_s = float(at_text)
            duration_s = float(duration_text) if duration_text else None
        except ValueError as exc:
            raise VehicleConfigError("--fault", f"not a number in {text!r}") from exc
        return cls(kind=kind, at_s=at_s, duration_s=duration_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """A network endpoint ``udp:HOST:PORT`` or ``tcp:HOST:PORT`` (``udpin:``/``udpout:`` are
    accepted as aliases of ``udp:``, as mavutil users type them)."""

    scheme: str
    host: str
    port: int

    def __post_init__(self) -> None:
        if self.scheme not in ("udp", "tcp"):
            raise VehicleConfigError("endpoint", f"scheme must be udp or tcp, got {self.scheme!r}")
        if not self.host:
            raise VehicleConfigError("endpoint", "host must not be empty")
        if not 0 <= self.port <= 65535:
            raise VehicleConfigError("endpoint", f"port must be within [0, 65535], got {self.port}")

    @classmethod
    def parse(cls, text: str, *, option: str = "endpoint") -> Endpoint:
        scheme, sep, rest = text.strip().partition(":")
        host, sep2, port_text = rest.rpartition(":")
        if not sep or not sep2:
            raise VehicleConfigError(
                option, f"expected udp:HOST:PORT or tcp:HOST:PORT, got {text!r}"
            )
        scheme = {"udpin": "udp", "udpout": "udp", "tcpin": "tcp"}.get(scheme, scheme)
        try:
            port = int(port_text)
        except ValueError as exc:
            raise VehicleConfigError(option, f"port is not an integer in {text!r}") from exc
        try:
            return cls(scheme=scheme, host=host, port=port)
        except VehicleConfigError as exc:
            raise VehicleConfigError(option, f"{exc} (in {text!r})") from exc

    def __str__(self) -> str:
        return f"{self.scheme}:{self.host}:{self.port}"


def parse_param_override(text: str) -> tuple[str, float]:
    """Parse ``NAME=VALUE`` for a known parameter (like SITL's defaults files)."""
    name, sep, value_text = text.partition("=")
    name = name.strip().upper()
    if not sep:
        raise VehicleConfigError("--param", f"expected NAME=VALUE, got {text!r}")
    if name not in PARAM_NAMES:
        raise VehicleConfigError("--param", f"unknown parameter {name!r}")
    try:
        value = float(value_text)
    except ValueError as exc:
        raise VehicleConfigError(
            "--param", f"value of {name} is not a number: {value_text!r}"
        ) from exc
    return name, _finite(f"--param {name}", value)


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleConfig:
    """Everything the pure vehicle needs at boot.

    `gcs_timeout_scale` stretches the timeouts that depend on how fast a ground station talks
    (GCS failsafe, mission upload retries): a GCS paces its heartbeats by the wall clock, so a
    shell that runs simulated time N times faster than real time passes N here.
    `mission_request_int` makes uploads ask with MISSION_REQUEST_INT (the MAVLink spec) instead
    of MISSION_REQUEST (what ArduPilot sends and what dronekit answers).
    """

    home: HomePosition = DEFAULT_HOME
    system_id: int = 1
    component_id: int = 1
    faults: tuple[FaultSpec, ...] = ()
    param_overrides: tuple[tuple[str, float], ...] = ()
    gps_lock_delay_s: float = DEFAULT_GPS_LOCK_DELAY_S
    gcs_timeout_scale: float = 1.0
    mission_request_int: bool = False
    epoch_unix_s: float = DEFAULT_EPOCH_UNIX_S

    def __post_init__(self) -> None:
        if not 1 <= self.system_id <= 254:
            raise VehicleConfigError("system_id", f"must be within [1, 254], got {self.system_id}")
        if not 1 <= self.component_id <= 255:
            raise VehicleConfigError(
                "component_id", f"must be within [1, 255], got {self.component_id}"
            )
        _finite("gps_lock_delay_s", self.gps_lock_delay_s)
        if self.gps_lock_delay_s < 0:
            raise VehicleConfigError("gps_lock_delay_s", "must be >= 0")
        _finite("gcs_timeout_scale", self.gcs_timeout_scale)
        if self.gcs_timeout_scale < 1.0:
            raise VehicleConfigError("gcs_timeout_scale", "must be >= 1")
        _finite("epoch_unix_s", self.epoch_unix_s)
        for name, value in self.param_overrides:
            if name not in PARAM_NAMES:
                raise VehicleConfigError("param_overrides", f"unknown parameter {name!r}")
            _finite(f"param_overrides {name}", value)
