"""The three local services: Mosquitto, InfluxDB 1.x and VictoriaMetrics, each in a state dir.

Used by the test harness, the benchmarks, the demo and ``michimori services``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._configs import InfluxSettings, MosquittoSettings
from ._process import ServiceProcess, find_binary, free_port, http_ready, tcp_ready


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class Mosquitto(ServiceProcess):
    def __init__(
        self,
        state_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        detach: bool = False,
        autosave_interval_s: int = 5,
        password_file: Path | None = None,
        acl_file: Path | None = None,
    ) -> None:
        state_dir = state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        self.settings = MosquittoSettings(
            port=port or free_port(host),
            host=host,
            state_dir=state_dir,
            autosave_interval_s=autosave_interval_s,
            allow_anonymous=password_file is None,
            password_file=password_file,
            acl_file=acl_file,
        )
        self.endpoint = Endpoint(host, self.settings.port)
        conf = state_dir / "mosquitto.conf"
        conf.write_text(self.settings.render())
        super().__init__(
            "mosquitto",
            [find_binary("mosquitto", "/usr/sbin/mosquitto"), "-c", str(conf)],
            log_path=state_dir / "mosquitto.log",
            ready=tcp_ready(host, self.settings.port),
            detach=detach,
        )


class InfluxDB(ServiceProcess):
    def __init__(
        self,
        state_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        detach: bool = False,
    ) -> None:
        state_dir = state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        self.settings = InfluxSettings(
            http_port=port or free_port(host),
            rpc_port=free_port(host),
            host=host,
            state_dir=state_dir,
        )
        self.endpoint = Endpoint(host, self.settings.http_port)
        conf = state_dir / "influxdb.conf"
        conf.write_text(self.settings.render())
        super().__init__(
            "influxd",
            [find_binary("influxd", "/usr/bin/influxd"), "-config", str(conf)],
            log_path=state_dir / "influxd.log",
            ready=http_ready(f"{self.endpoint.url}/ping"),
            detach=detach,
        )


class VictoriaMetrics(ServiceProcess):
    """Stands in for InfluxDB 2.x: it implements ``/api/v2/write`` (there is no 2.x package)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        detach: bool = False,
    ) -> None:
        state_dir = state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        self.endpoint = Endpoint(host, port or free_port(host))
        super().__init__(
            "victoria-metrics",
            [
                find_binary("victoria-metrics", "/usr/bin/victoria-metrics"),
                f"-storageDataPath={state_dir / 'data'}",
                f"-httpListenAddr={host}:{self.endpoint.port}",
                "-loggerLevel=WARN",
                # make written points searchable at once instead of after ~1 s
                "-search.latencyOffset=0s",
            ],
            log_path=state_dir / "victoria-metrics.log",
            ready=http_ready(f"{self.endpoint.url}/health"),
            detach=detach,
        )
