"""An emulated pole-mounted node: the hardware an edge agent talks to, with nothing plugged in.

One I2C bus carrying an ADXL345 (0x53) and a BME280 (0x76), a GNSS receiver on a pty, an LTE
modem's status, and the node's clock, all driven by the signal models of one site and seed,
with the faults of a FaultPlan. `open_emulated_sensors(node)` hands these to the real edge
drivers through `edge.sensors.open_sensors`, the same path a Raspberry Pi takes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from edge.sensors import Sensor, SensorSpec, open_sensors
from firmware_sim.faults import Fault, FaultInjector, FaultPlan, SimClock
from firmware_sim.gnss import GnssEmulator
from firmware_sim.i2c.adxl345 import Adxl345Emulator
from firmware_sim.i2c.bme280 import Bme280Emulator
from firmware_sim.i2c.bus import EmulatedI2CBus
from firmware_sim.signals import (
    AccelModel,
    GnssModel,
    LinkModel,
    Site,
    TiltModel,
    WeatherModel,
    WindModel,
)

__all__ = ["EmulatedModem", "EmulatedNode", "open_emulated_sensors"]

log = logging.getLogger(__name__)

ACCEL_ADDRESS = 0x53
BME280_ADDRESS = 0x76


def derive_seed(seed: int, part: str) -> int:
    """A stable per-part seed (Python's hash() is salted per process, so not that)."""
    digest = hashlib.blake2b(f"{seed}:{part}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class EmulatedModem:
    """The modem's status as the edge link driver reads it: key=value text (see edge.drivers.link).

    Faults: "no_service" (registered=no, as in a coverage hole) and "dropout" (the modem does not
    answer: status_text() raises TimeoutError, which a status file reader sees as an OSError).
    """

    def __init__(self, model: LinkModel, clock: SimClock, faults: FaultInjector) -> None:
        self._model = model
        self._clock = clock
        self._faults = faults

    def status_text(self) -> str:
        true_ns = self._clock.true_ns()
        elapsed_s = (true_ns - self._clock.start_ns) * 1e-9
        if self._faults.fires("dropout", elapsed_s):
            raise TimeoutError("modem did not answer AT+CESQ within 1 s")
        truth = self._model.truth(true_ns * 1e-9)
        registered = truth.registered and not self._faults.is_active("no_service", elapsed_s)
        lines = [f"registered={'yes' if registered else 'no'}", f"rat={truth.rat}"]
        if registered:  # modems report whole dBm for RSRP/RSSI and 0.5 dB steps for SINR
            lines += [
                f"rsrp_dbm={round(truth.rsrp_dbm)}",
                f"sinr_db={round(truth.sinr_db * 2) / 2:.1f}",
                f"rssi_dbm={round(truth.rssi_dbm)}",
            ]
        return "\n".join(lines) + "\n"

    def write_status_file(self, path: Path) -> None:
        """Write the status as a modem poller would, atomically (readers never see half)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.status_text(), encoding="utf-8")
        os.replace(tmp, path)


class EmulatedNode:
    """All emulated hardware of one node. Opens the GNSS pty and starts its sender at once;
    `close()` (or leaving the `with` block) stops it.

    realtime: the clock follows the host's; with False it stands still until advanced, and the
    drivers' waits advance it instead of sleeping (exact, fast tests). start_ns: the true time
    at start-up, Unix ns (default: now).
    """

    def __init__(
        self,
        device_id: str,
        seed: int,
        lat_deg: float,
        lon_deg: float,
        faults: FaultPlan | Sequence[Fault | Mapping[str, Any]] = (),
        *,
        alt_m: float = 20.0,
        start_ns: int | None = None,
        realtime: bool = True,
        gnss_rate_hz: float = 1.0,
        link_outage_probability: float = 0.02,
        bus_number: int = 1,
    ) -> None:
        if not device_id:
            raise ValueError("device_id must not be empty")
        self.device_id = device_id
        self.seed = seed
        self.faults = (
            faults
            if isinstance(faults, FaultPlan)
            else FaultPlan.from_dicts(faults, source=f"{device_id} faults")
        )
        self.site = Site(lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_m)
        start = time.time_ns() if start_ns is None else start_ns
        self.clock = SimClock.from_plan(self.faults, start_ns=start, realtime=realtime)

        def injector(target: str) -> FaultInjector:
            return FaultInjector(
                self.faults.for_target(target), seed=derive_seed(seed, f"faults/{target}")
            )

        wind = WindModel(self.site, derive_seed(seed, "wind"))
        tilt = TiltModel(self.site, derive_seed(seed, "tilt"), wind, start_s=start * 1e-9)
        self.accel_model = AccelModel(tilt, wind, derive_seed(seed, "sway"))
        self.weather = WeatherModel(self.site, derive_seed(seed, "weather"))

        self.bus = EmulatedI2CBus(bus_number)
        self.accel = Adxl345Emulator(
            self.accel_model,
            self.clock,
            seed=derive_seed(seed, "adxl345"),
            faults=injector("accel"),
        )
        self.bme280 = Bme280Emulator(
            self.weather, self.clock, seed=derive_seed(seed, "bme280"), faults=injector("bme280")
        )
        self.bus.attach(ACCEL_ADDRESS, self.accel)
        self.bus.attach(BME280_ADDRESS, self.bme280)
        self.modem = EmulatedModem(
            LinkModel(derive_seed(seed, "link"), outage_probability=link_outage_probability),
            self.clock,
            injector("link"),
        )
        self.gnss = GnssEmulator(
            GnssModel(self.site, derive_seed(seed, "gnss")),
            self.clock,
            faults=injector("gnss"),
            rate_hz=gnss_rate_hz,
        )
        self.gnss.start()
        log.info(
            "emulated node %s at %.5f,%.5f: i2c-%d (ADXL345 0x%02x, BME280 0x%02x), GNSS on %s",
            device_id,
            lat_deg,
            lon_deg,
            bus_number,
            ACCEL_ADDRESS,
            BME280_ADDRESS,
            self.gnss.port_path,
        )

    def __repr__(self) -> str:
        return f"EmulatedNode({self.device_id!r}, seed={self.seed})"

    def sensor_spec(self, **overrides: Any) -> SensorSpec:
        """The SensorSpec that points the real drivers at this node's hardware."""
        settings: dict[str, Any] = {
            "i2c_bus": self.bus,
            "accel_address": ACCEL_ADDRESS,
            "bme280_address": BME280_ADDRESS,
            "gnss_port": self.gnss.port_path,
            # Three missed epochs, and never under 1 s, so a loaded CI host is not a dropout.
            "gnss_stale_after_s": max(1.0, 3.0 / self.gnss_rate_hz),
            "link_source": self.modem.status_text,
            "sleep": self.clock.sleep,
        }
        settings.update(overrides)
        return SensorSpec(**settings)

    @property
    def gnss_rate_hz(self) -> float:
        return self.gnss.rate_hz

    def close(self) -> None:
        self.gnss.stop()
        self.bus.close()

    def __enter__(self) -> EmulatedNode:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_emulated_sensors(node: EmulatedNode, *, strict: bool = True, **spec: Any) -> list[Sensor]:
    """The real edge sensors on an emulated node (spec: SensorSpec fields to override)."""
    return open_sensors(node.sensor_spec(**spec), strict=strict)
