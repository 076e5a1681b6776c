"""The edge agent's configuration: one typed object loaded from edge.toml and checked in one place.

Every error names the file, the key and what was expected. Relative paths in the file are taken
relative to the file's own folder, so a config and its queue/password files can travel together.
Secrets never sit in the file itself: the broker password is read from ``password_file``.
The schema, key by key, is in docs/edge-agent.md; examples/edge.toml is a real node's file.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from michimori.wire import TOPIC_ROOT, Encoding

from ._toml import Table
from .alerts import SEVERITIES, ThresholdRule, standard_rules
from .errors import ConfigError

__all__ = [
    "DEFAULT_SENSORS",
    "AgentSettings",
    "DeviceConfig",
    "EdgeConfig",
    "HardwareConfig",
    "MqttConfig",
    "QueueConfig",
    "SensorConfig",
    "TlsConfig",
    "default_config",
    "load_config",
    "parse_config",
]

_ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
# MQTT 5 brokers take long client ids; ours stay readable and free of wildcards.
_CLIENT_ID_RE: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")

# Default schedule for a pole node (seconds between readings). Tilt and vibration are what the
# alerts watch, so they are sampled often; weather and position change slowly.
DEFAULT_SENSORS: Final[Mapping[str, float]] = {
    "tilt": 1.0,
    "vibration": 1.0,
    "environment": 10.0,
    "gnss": 60.0,
    "link": 10.0,
}
KNOWN_SENSORS: Final = frozenset(DEFAULT_SENSORS)

LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceConfig:
    site: str
    device: str
    encoding: Encoding = Encoding.MSGPACK


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    ca_file: Path | None = None  # None: the system's trusted CAs
    cert_file: Path | None = None  # client certificate (device identity), with key_file
    key_file: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""  # empty: "edge-<site>-<device>"
    username: str = ""
    password_file: Path | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = 30
    topic_root: str = TOPIC_ROOT
    # How long the broker keeps our session (subscription, unacked confirms) while we are away.
    session_expiry_s: int = 7 * 86_400
    # Confirms the broker may have in flight to us at once.
    receive_maximum: int = 32
    connect_timeout_s: float = 10.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    path: Path
    # Disk quota for queued payload bytes (~100-150 bytes a sample): 256 MiB is about ten days
    # of a default node offline.
    max_bytes: int = 256 * 1024 * 1024
    # Samples per telemetry message: 200 keeps a JSON message near 30 kB, far under the limit.
    batch_max_samples: int = 200
    # How long a telemetry sample may wait for more to share its message (events never wait).
    linger_s: float = 0.5
    # Messages published and not yet PUBACKed at once (the publish window).
    max_inflight_messages: int = 16
    confirm_timeout_s: float = 60.0
    confirm_timeout_max_s: float = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSettings:
    status_interval_s: float = 60.0
    # On SIGTERM: how long to keep publishing and collecting confirms before exiting (the rest
    # stays on disk). systemd's TimeoutStopSec must be longer.
    drain_timeout_s: float = 20.0
    # Consecutive failed reads of one sensor before a `sensor_fault` event.
    sensor_fault_after: int = 3
    # A wall-clock step larger than this (against the monotonic clock) is a `clock_jump` event.
    clock_jump_threshold_s: float = 2.0
    # Shortest time between two sampling ticks; each tick is one disk commit (~0.1 ms of CPU
    # here), so this bounds commits to 100/s. A sensor faster than this is read once per due
    # slot in a tick. A power cut loses at most the readings of one tick.
    tick_s: float = 0.01
    log_level: LogLevel = "info"


@dataclass(frozen=True, slots=True, kw_only=True)
class HardwareConfig:
    kind: Literal["real", "emulated"] = "real"
    # real: where the parts sit; an empty gnss_port / link_status_file means "not fitted"
    i2c_bus: int = 1
    accel_address: int = 0x53
    bme280_address: int = 0x76
    gnss_port: str = "/dev/serial0"
    gnss_baud: int = 9600
    # key=value text a modem poller rewrites (see edge/drivers/link.py)
    link_status_file: str = "/run/michimori/modem-status"
    # emulated: the node's seed and position (firmware_sim.node.EmulatedNode)
    seed: int = 1
    lat: float = 35.6586
    lon: float = 139.7454


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorConfig:
    name: str
    interval_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeConfig:
    device: DeviceConfig
    mqtt: MqttConfig
    queue: QueueConfig
    agent: AgentSettings = field(default_factory=AgentSettings)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    sensors: tuple[SensorConfig, ...] = ()
    alerts: tuple[ThresholdRule, ...] = ()
    source: Path | None = None

    def __post_init__(self) -> None:
        names = [s.name for s in self.sensors]
        if len(set(names)) != len(names):
            raise ConfigError("a sensor is listed twice", source=self.source, key="sensors")
        for rule in self.alerts:
            if rule.sensor not in names:
                raise ConfigError(
                    f"alert {rule.name!r} watches sensor {rule.sensor!r}, which is not enabled",
                    source=self.source,
                    key="alerts",
                )

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"edge-{self.device.site}-{self.device.device}"

    def redacted(self) -> dict[str, Any]:
        """The whole config as plain data for printing; holds no secret (only file paths)."""
        data: dict[str, Any] = _plain(dataclasses.asdict(self))
        data["mqtt"]["client_id"] = self.client_id
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Encoding):
        return value.value
    return value


def default_config(
    *,
    site: str,
    device: str,
    queue_path: Path,
    host: str = "127.0.0.1",
    port: int = 1883,
    encoding: Encoding = Encoding.MSGPACK,
    seed: int = 1,
    lat: float = 35.6586,
    lon: float = 139.7454,
) -> EdgeConfig:
    """An emulated node with the default schedule: what the fleet simulator and tests start from."""
    if not _ID_RE.fullmatch(site) or not _ID_RE.fullmatch(device):
        raise ConfigError(f"site {site!r} / device {device!r}: expected ids of a-z, 0-9 and '-'")
    return EdgeConfig(
        device=DeviceConfig(site=site, device=device, encoding=encoding),
        mqtt=MqttConfig(host=host, port=port),
        queue=QueueConfig(path=queue_path),
        hardware=HardwareConfig(kind="emulated", seed=seed, lat=lat, lon=lon),
        sensors=tuple(SensorConfig(name=n, interval_s=s) for n, s in DEFAULT_SENSORS.items()),
        alerts=tuple(standard_rules(tilt_deg_max=2.0, vibration_rms_g_max=0.5)),
    )


def load_config(path: Path) -> EdgeConfig:
    """Read and validate ``path`` (edge.toml). Raises ConfigError naming the file and key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", source=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text: {exc}", source=path) from exc
    return parse_config(text, source=path)


def parse_config(text: str, *, source: Path | None = None) -> EdgeConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from exc
    base = source.parent.resolve() if source is not None else Path.cwd()
    root = Table(raw, "", source, base)

    t = root.table("device", required=True)
    dev = DeviceConfig(
        device=t.string("id", pattern=_ID_RE, expect="a device id of a-z, 0-9 and '-'"),
        site=t.string("site", pattern=_ID_RE, expect="a site id of a-z, 0-9 and '-'"),
        encoding=Encoding(t.choice("encoding", ("json", "msgpack"), "msgpack")),
    )
    t.done()
    mqtt = _mqtt(root.table("mqtt", required=True))
    queue = _queue(root.table("queue", required=True))
    status = root.table("status")
    status_interval_s = status.number("interval_s", AgentSettings().status_interval_s, lo=1)
    status.done()
    agent = _agent(root.table("agent"), status_interval_s)
    hardware = _hardware(root.table("hardware"))
    sensors = _sensors(root.table("sensors"))
    alerts = _alerts(root.table("alerts"), {s.name for s in sensors})
    root.done()
    try:
        return EdgeConfig(
            device=dev,
            mqtt=mqtt,
            queue=queue,
            agent=agent,
            hardware=hardware,
            sensors=sensors,
            alerts=alerts,
            source=source,
        )
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(str(exc), source=source) from exc


def _mqtt(t: Table) -> MqttConfig:
    d = MqttConfig()
    tls: TlsConfig | None = None
    ca = t.optional_path("ca_file")
    cert = t.optional_path("cert_file")
    key = t.optional_path("key_file")
    if t.boolean("tls", False):
        if (cert is None) != (key is None):
            raise t.error("cert_file", "cert_file and key_file must be given together")
        tls = TlsConfig(ca_file=ca, cert_file=cert, key_file=key)
    elif ca or cert or key:
        raise t.error("tls", "ca_file, cert_file and key_file need tls = true")
    username = t.string("username", "")
    password_file = t.optional_path("password_file")
    if password_file is not None and not username:
        raise t.error("password_file", "a password needs a username")
    min_s = t.number("reconnect_min_s", d.reconnect_min_s, lo=0.01, hi=3600)
    cfg = MqttConfig(
        host=t.string("host", d.host),
        port=t.integer("port", 8883 if tls else d.port, lo=1, hi=65535),
        client_id=t.string("client_id", "", pattern=_CLIENT_ID_RE, expect="1-128 of A-Za-z0-9_.:-"),
        username=username,
        password_file=password_file,
        tls=tls,
        keepalive_s=t.integer("keepalive_s", d.keepalive_s, lo=5, hi=65535),
        topic_root=t.string("topic_root", d.topic_root),
        session_expiry_s=t.integer("session_expiry_s", d.session_expiry_s, lo=0, hi=2**32 - 1),
        receive_maximum=t.integer("receive_maximum", d.receive_maximum, lo=1, hi=65535),
        connect_timeout_s=t.number("connect_timeout_s", d.connect_timeout_s, lo=0.5, hi=300),
        reconnect_min_s=min_s,
        reconnect_max_s=t.number("reconnect_max_s", max(d.reconnect_max_s, min_s), lo=min_s),
    )
    if not cfg.host:
        raise t.error("host", "expected the broker's host name or address")
    t.done()
    return cfg


def _queue(t: Table) -> QueueConfig:
    d = QueueConfig(path=Path("queue.sqlite"))
    path = t.optional_path("path")
    if path is None:
        raise t.error("path", "expected the queue file's path, e.g. /var/lib/michimori/edge/q.db")
    timeout_s = t.number("confirm_timeout_s", d.confirm_timeout_s, lo=1)
    cfg = QueueConfig(
        path=path,
        max_bytes=t.integer("max_bytes", d.max_bytes, lo=64 * 1024),
        batch_max_samples=t.integer("batch_max_samples", d.batch_max_samples, lo=1, hi=1000),
        linger_s=t.number("linger_s", d.linger_s, lo=0, hi=60),
        max_inflight_messages=t.integer(
            "max_inflight_messages", d.max_inflight_messages, lo=1, hi=1000
        ),
        confirm_timeout_s=timeout_s,
        confirm_timeout_max_s=t.number(
            "confirm_timeout_max_s", max(d.confirm_timeout_max_s, timeout_s), lo=timeout_s
        ),
    )
    t.done()
    return cfg


def _agent(t: Table, status_interval_s: float) -> AgentSettings:
    d = AgentSettings()
    levels = ("debug", "info", "warning", "error")
    cfg = AgentSettings(
        status_interval_s=status_interval_s,
        drain_timeout_s=t.number("drain_timeout_s", d.drain_timeout_s, lo=0),
        sensor_fault_after=t.integer("sensor_fault_after", d.sensor_fault_after, lo=1),
        clock_jump_threshold_s=t.number(
            "clock_jump_threshold_s", d.clock_jump_threshold_s, lo=0.001
        ),
        tick_s=t.number("tick_s", d.tick_s, lo=0.0, hi=1.0),
        log_level=t.choice("log_level", levels, d.log_level),  # type: ignore[arg-type]
    )
    t.done()
    return cfg


def _hardware(t: Table) -> HardwareConfig:
    d = HardwareConfig()
    cfg = HardwareConfig(
        kind=t.choice("kind", ("real", "emulated"), d.kind),  # type: ignore[arg-type]
        i2c_bus=t.integer("i2c_bus", d.i2c_bus, lo=0),
        # 7-bit I2C addresses outside the reserved ranges
        accel_address=t.integer("accel_address", d.accel_address, lo=0x08, hi=0x77),
        bme280_address=t.integer("bme280_address", d.bme280_address, lo=0x08, hi=0x77),
        gnss_port=t.string("gnss_port", d.gnss_port),
        gnss_baud=t.integer("gnss_baud", d.gnss_baud, lo=300),
        link_status_file=t.string("link_status_file", d.link_status_file),
        seed=t.integer("seed", d.seed, lo=0),
        lat=t.number("lat", d.lat, lo=-90, hi=90),
        lon=t.number("lon", d.lon, lo=-180, hi=180),
    )
    if cfg.accel_address == cfg.bme280_address:
        raise t.error("bme280_address", "the accelerometer and the BME280 share one address")
    t.done()
    return cfg


def _sensors(t: Table) -> tuple[SensorConfig, ...]:
    if not t.raw:
        return tuple(SensorConfig(name=n, interval_s=s) for n, s in DEFAULT_SENSORS.items())
    out = []
    for name in list(t.raw):
        if name not in KNOWN_SENSORS:
            raise t.error(
                name, f"unknown sensor; expected one of {', '.join(sorted(KNOWN_SENSORS))}"
            )
        st = t.table(name, required=True)
        interval_s = st.number("interval_s", lo=0.001)
        # A sensor may stay in the file but be switched off.
        if st.boolean("enabled", True):
            out.append(SensorConfig(name=name, interval_s=interval_s))
        st.done()
    t.done()
    if not out:
        raise t.error("", "expected at least one enabled sensor")
    return tuple(out)


def _alerts(t: Table, sensors: set[str]) -> tuple[ThresholdRule, ...]:
    tilt = t.optional_number("tilt_deg_max", lo=0.01, hi=90)
    vib = t.optional_number("vibration_rms_g_max", lo=0.0001, hi=16)
    hyst = t.number("hysteresis_pct", 10.0, lo=0, hi=50)
    if tilt is not None and "tilt" not in sensors:
        raise t.error("tilt_deg_max", "needs the tilt sensor enabled in [sensors]")
    if vib is not None and "vibration" not in sensors:
        raise t.error("vibration_rms_g_max", "needs the vibration sensor enabled in [sensors]")
    rules = standard_rules(tilt_deg_max=tilt, vibration_rms_g_max=vib, hysteresis_pct=hyst)
    items = t.raw.pop("rules", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise t.error("rules", "expected [[alerts.rules]] tables")
    for i, item in enumerate(items):
        r = Table(item, f"alerts.rules[{i}]", t.source, t.base)
        sensor = r.string("sensor")
        if sensor not in sensors:
            raise r.error("sensor", f"{sensor!r} is not an enabled sensor")
        one = r.string("field", "")
        many = r.raw.pop("fields", None)
        if (not one) == (many is None):
            raise r.error("field", "give either `field` or `fields` (a list)")
        if many is not None and not (
            isinstance(many, list) and many and all(isinstance(f, str) for f in many)
        ):
            raise r.error("fields", "expected a list of field names")
        try:
            rule = ThresholdRule(
                name=r.string("name", pattern=_NAME_RE, expect="a name of a-z, 0-9 and '_'"),
                sensor=sensor,
                fields=(one,) if one else tuple(many or ()),
                above=r.optional_number("above"),
                below=r.optional_number("below"),
                absolute=r.boolean("absolute", False),
                hysteresis=r.number("hysteresis", 0.0, lo=0),
                for_samples=r.integer("for_samples", 1, lo=1),
                severity=r.choice("severity", SEVERITIES, "alert"),  # type: ignore[arg-type]
                message=r.string("message", ""),
            )
        except ValueError as exc:
            raise r.error("", str(exc)) from exc
        r.done()
        rules.append(rule)
    t.done()
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise t.error("rules", "alert names must be unique (pole_tilt, vibration_high are taken)")
    return tuple(rules)
