"""The ingest's configuration: one typed object, loaded and validated in one place.

Errors name the file, the key and what was expected, e.g.
``ingest.toml: [storage] kind = 'influx3': expected one of 'influx1', 'influx2'``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from michimori.wire import TOPIC_ROOT, TopicError, check_id


class ConfigError(Exception):
    """The config file is missing, unreadable or has a wrong key or value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "michimori-ingest-1"
    username: str = ""
    password_file: str = ""
    tls: bool = False
    ca_file: str = ""
    topic_root: str = TOPIC_ROOT
    share_group: str = "ingest"
    keepalive_s: int = 30
    session_expiry_s: int = 86_400
    # Unacked messages the broker may have in flight to us: a batch is acked only after it is
    # written, so this must exceed one batch's messages (5,000 points / 50 per message = 100).
    receive_maximum: int = 2_000

    def password(self) -> str | None:
        return _read_secret(self.password_file) if self.password_file else None


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageConfig:
    kind: Literal["influx1", "influx2"] = "influx1"
    url: str = "http://127.0.0.1:8086"
    database: str = "michimori"
    retention_policy: str = ""
    username: str = ""
    password_file: str = ""
    org: str = ""
    bucket: str = ""
    token_file: str = ""
    # InfluxDB's documented sweet spot for a write request; see docs/benchmarks.md.
    batch_max_points: int = 5_000
    # Latency bound when traffic is light: a sample is stored at most this long after arrival.
    batch_max_delay_s: float = 0.2
    timeout_s: float = 10.0
    gzip: bool = False

    def password(self) -> str | None:
        return _read_secret(self.password_file) if self.password_file else None

    def token(self) -> str | None:
        if self.token_file:
            return _read_secret(self.token_file)
        return os.environ.get("MICHIMORI_INFLUX_TOKEN")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetterConfig:
    dir: str = "/var/lib/michimori/deadletter"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    http_listen: str = "127.0.0.1:9108"  # empty string: no HTTP endpoint
    interval_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestConfig:
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    deadletter: DeadLetterConfig = field(default_factory=DeadLetterConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    source: str = "<defaults>"


_SECTIONS: dict[str, type[Any]] = {
    "mqtt": MqttConfig,
    "storage": StorageConfig,
    "deadletter": DeadLetterConfig,
    "metrics": MetricsConfig,
}


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from exc


def load_config(path: str | Path) -> IngestConfig:
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    return parse_config(raw, source=str(p))


def parse_config(raw: dict[str, Any], *, source: str = "<dict>") -> IngestConfig:
    unknown = set(raw) - set(_SECTIONS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) {sorted(unknown)}; expected {sorted(_SECTIONS)}"
        )
    parts: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        parts[name] = _build(cls, table, f"{source}: [{name}]")
    cfg = IngestConfig(**parts, source=source)
    _validate(cfg)
    return cfg


def _build(cls: type[Any], table: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where} unknown key {key!r}; known keys: {sorted(known)}")
        default = getattr(cls(), key)
        expected = type(default)
        if expected is float and type(value) is int:
            value = float(value)
        if type(value) is not expected:
            raise ConfigError(f"{where} {key} = {value!r}: expected a {expected.__name__}")
        values[key] = value
    return cls(**values)


def _validate(cfg: IngestConfig) -> None:
    src = cfg.source
    m, s = cfg.mqtt, cfg.storage

    def bad(where: str, msg: str) -> ConfigError:
        return ConfigError(f"{src}: {where} {msg}")

    if not 0 < m.port < 65536:
        raise bad("[mqtt] port", f"= {m.port}: expected 1-65535")
    if not m.client_id:
        raise bad("[mqtt] client_id", "must not be empty (one per worker)")
    try:
        check_id(m.share_group, "share group")
    except TopicError as exc:
        raise bad("[mqtt] share_group", str(exc)) from exc
    if not 1 <= m.receive_maximum <= 65535:
        raise bad("[mqtt] receive_maximum", f"= {m.receive_maximum}: expected 1-65535")
    if m.tls and m.ca_file and not Path(m.ca_file).exists():
        raise bad("[mqtt] ca_file", f"= {m.ca_file!r}: file does not exist")
    if s.kind not in ("influx1", "influx2"):
        raise bad("[storage] kind", f"= {s.kind!r}: expected one of 'influx1', 'influx2'")
    if not s.url.startswith(("http://", "https://")):
        raise bad("[storage] url", f"= {s.url!r}: expected http://host:port or https://...")
    if s.kind == "influx1" and not s.database:
        raise bad("[storage] database", "must be set for kind = 'influx1'")
    if s.kind == "influx2":
        for key in ("org", "bucket"):
            if not getattr(s, key):
                raise bad(f"[storage] {key}", "must be set for kind = 'influx2'")
        if not s.token_file and "MICHIMORI_INFLUX_TOKEN" not in os.environ:
            raise bad(
                "[storage] token_file",
                "must be set for kind = 'influx2' (or the env MICHIMORI_INFLUX_TOKEN)",
            )
    if not 1 <= s.batch_max_points <= 100_000:
        raise bad("[storage] batch_max_points", f"= {s.batch_max_points}: expected 1-100000")
    if not 0 < s.batch_max_delay_s <= 60:
        raise bad("[storage] batch_max_delay_s", f"= {s.batch_max_delay_s}: expected 0-60 s")
    if not s.timeout_s > 0:
        raise bad("[storage] timeout_s", f"= {s.timeout_s}: expected > 0")
    if not cfg.deadletter.dir:
        raise bad("[deadletter] dir", "must not be empty")
    if cfg.metrics.http_listen and ":" not in cfg.metrics.http_listen:
        raise bad("[metrics] http_listen", f"= {cfg.metrics.http_listen!r}: expected host:port")
    if not cfg.metrics.interval_s > 0:
        raise bad("[metrics] interval_s", f"= {cfg.metrics.interval_s}: expected > 0")
