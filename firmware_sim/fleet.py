"""A fleet of emulated pole nodes, each with the real edge agent, stepped in one process.

Every device has its own EmulatedNode (register-level sensors, GNSS pty, modem, clock), its own
queue file and its own MQTT connection; they publish through ``edge.agent.Agent``, the same code
path as ``michimori edge run``. After the sampling time the fleet stops sampling and waits until
every queue is confirmed empty (or a timeout), then reports per device what it generated, so a
test can compare that with what reached InfluxDB.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.agent import Agent
from edge.config import EdgeConfig, SensorConfig, default_config
from edge.sensors import SensorError
from firmware_sim.node import EmulatedNode, derive_seed, open_emulated_sensors
from michimori.wire import Encoding, check_id

__all__ = ["DeviceReport", "Fleet", "FleetConfig"]

log = logging.getLogger(__name__)

EncodingChoice = Literal["json", "msgpack", "mixed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetConfig:
    devices: int
    seconds: float
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 1883
    site: str = "sim"
    encoding: EncodingChoice = "msgpack"
    seed: int = 1
    # Wait this long after sampling stops for every queue to be confirmed empty.
    drain_timeout_s: float = 60.0
    # None: each sensor's default interval (edge.config.DEFAULT_SENSORS); else all at this one.
    sample_interval_s: float | None = None
    # First device's position; the others follow along a road, ~110 m apart.
    lat: float = 36.5551
    lon: float = 139.8828
    device_prefix: str = "sim"

    def __post_init__(self) -> None:
        if not 1 <= self.devices <= 10_000:
            raise ValueError(f"devices must be 1-10000, got {self.devices}")
        if not self.seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {self.seconds}")
        if self.sample_interval_s is not None and not self.sample_interval_s > 0:
            raise ValueError(f"sample_interval_s must be > 0, got {self.sample_interval_s}")
        if self.drain_timeout_s < 0:
            raise ValueError("drain_timeout_s must be >= 0")
        check_id(self.site, "site")
        check_id(self.device_id(self.devices - 1), "device")

    def device_id(self, i: int) -> str:
        return f"{self.device_prefix}-{i:04d}"

    def encoding_of(self, i: int) -> Encoding:
        if self.encoding == "mixed":
            return Encoding.JSON if i % 2 == 0 else Encoding.MSGPACK
        return Encoding(self.encoding)

    def edge_config(self, i: int) -> EdgeConfig:
        device = self.device_id(i)
        cfg = default_config(
            site=self.site,
            device=device,
            queue_path=self.state_dir / f"{device}.queue.sqlite",
            host=self.host,
            port=self.port,
            encoding=self.encoding_of(i),
            seed=derive_seed(self.seed, device) % 2**31,
            lat=self.lat + 0.001 * i,
            lon=self.lon + 0.0005 * i,
        )
        if self.sample_interval_s is not None:
            sensors = tuple(
                SensorConfig(name=s.name, interval_s=self.sample_interval_s) for s in cfg.sensors
            )
            cfg = dataclasses.replace(cfg, sensors=sensors)
        # A fleet run ends with its own drain; a status line every 10 s is plenty.
        return dataclasses.replace(
            cfg, agent=dataclasses.replace(cfg.agent, status_interval_s=10.0)
        )


@dataclass(frozen=True, slots=True)
class DeviceReport:
    device: str
    generated: int  # samples and events this run queued
    last_seq: int  # -1: none ever
    dropped: int
    unconfirmed: int  # still in the queue file at the end

    def as_dict(self) -> dict[str, int | str]:
        return dataclasses.asdict(self)


class Fleet:
    """``run()`` starts every device, samples for ``seconds``, drains, closes, reports."""

    def __init__(self, cfg: FleetConfig) -> None:
        self.cfg = cfg
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._agents: list[Agent] = []
        self._nodes: list[EmulatedNode] = []

    def stop(self) -> None:
        """End the sampling phase early (SIGTERM); the drain still runs."""
        self._stop.set()
        self.wake.set()

    def run(self, progress: Callable[[str], None] | None = None) -> list[DeviceReport]:
        cfg = self.cfg
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
            t0 = time.monotonic()
            self._loop(t0 + cfg.seconds, progress, phase="sampling", until_empty=False)
            for a in self._agents:
                a.stop_sampling()
            drained = self._loop(
                time.monotonic() + cfg.drain_timeout_s, progress, phase="draining", until_empty=True
            )
            if not drained:
                log.warning(
                    "%d devices still hold unconfirmed samples after %.0f s",
                    sum(1 for a in self._agents if a.queue.depth),
                    cfg.drain_timeout_s,
                )
            return [self._report(a) for a in self._agents]
        finally:
            self._close()

    def _open(self) -> None:
        cfg = self.cfg
        for i in range(cfg.devices):
            ecfg = cfg.edge_config(i)
            hw = ecfg.hardware
            node = EmulatedNode(ecfg.device.device, hw.seed, hw.lat, hw.lon)
            self._nodes.append(node)
            sensors = {s.name: s for s in open_emulated_sensors(node, strict=False)}
            agent = Agent(
                ecfg, sensors, sensor_errors=(SensorError,), clock=node.clock, wake=self.wake
            )
            agent.start()
            self._agents.append(agent)
        log.info(
            "fleet of %d devices on %s:%d (site %s), queues in %s",
            cfg.devices,
            cfg.host,
            cfg.port,
            cfg.site,
            cfg.state_dir,
        )

    def _loop(
        self,
        deadline: float,
        progress: Callable[[str], None] | None,
        *,
        phase: str,
        until_empty: bool,
    ) -> bool:
        """Step every agent until ``deadline``; with ``until_empty``, until all queues are empty."""
        next_progress = 0.0
        while True:
            now = time.monotonic()
            if until_empty and all(a.queue.depth == 0 for a in self._agents):
                self._progress(progress, phase)
                return True
            if now >= deadline or (not until_empty and self._stop.is_set()):
                self._progress(progress, phase)
                return not until_empty
            self.wake.clear()
            nxt = deadline
            for a in self._agents:
                nxt = min(nxt, a.step(now))
            if progress is not None and now >= next_progress:
                next_progress = now + 1.0
                self._progress(progress, phase)
                nxt = min(nxt, next_progress)
            self.wake.wait(max(0.0, nxt - time.monotonic()))

    def _progress(self, progress: Callable[[str], None] | None, phase: str) -> None:
        if progress is None:
            return
        stats = [a.stats() for a in self._agents]
        progress(
            f"{phase}: {sum(s.connected for s in stats)}/{len(stats)} connected, "
            f"{sum(s.generated for s in stats)} generated, "
            f"{sum(s.unconfirmed for s in stats)} unconfirmed, "
            f"{sum(s.dropped for s in stats)} dropped"
        )

    @staticmethod
    def _report(a: Agent) -> DeviceReport:
        s = a.stats()
        return DeviceReport(
            device=s.device,
            generated=s.generated,
            last_seq=s.last_seq,
            dropped=s.dropped,
            unconfirmed=s.unconfirmed,
        )

    def _close(self) -> None:
        for a in self._agents:
            a.close(timeout_s=2.0)
        for n in self._nodes:
            n.close()
        self._agents.clear()
        self._nodes.clear()
