"""The seam between the edge agent and the hardware: sensors whose read() returns named fields.

Measurements and their fields (units in the names):
    tilt         tilt_x_deg, tilt_y_deg                      ADXL345, mean of a few samples
    vibration    accel_rms_g, accel_peak_g                   ADXL345 burst, gravity removed
    environment  temperature_c, humidity_pct, pressure_hpa   BME280
    gnss         lat_deg, lon_deg, alt_m, hdop, satellites, fix_quality, gnss_time_unix_s
    link         registered, rat, rsrp_dbm, sinr_db, rssi_dbm (signal only while registered)
A failing part raises SensorError from read(); the next read() retries, re-initialising the
chip first, so a node rides out a loose connector or a browned-out sensor without a restart.
Edge code never imports firmware_sim: the emulated node hands its bus, pty and modem here.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from edge.drivers.adxl345 import ADXL345_ADDRESS, Adxl345, Adxl345Config
from edge.drivers.bme280 import BME280_ADDRESS, Bme280, Bme280Config
from edge.drivers.bus import I2CBus
from edge.drivers.errors import DriverError
from edge.drivers.gnss import GnssReceiver
from edge.drivers.link import LinkReader

__all__ = [
    "MEASUREMENTS",
    "Sensor",
    "SensorError",
    "SensorSpec",
    "Value",
    "open_sensors",
]

log = logging.getLogger(__name__)

Value = float | int | str | bool
MEASUREMENTS = ("tilt", "vibration", "environment", "gnss", "link")


class Sensor(Protocol):
    name: str  # one of MEASUREMENTS

    def read(self) -> dict[str, Value]: ...

    def close(self) -> None: ...


class SensorError(Exception):
    """A sensor could not be read; names the measurement, bus or port, address and what failed."""

    def __init__(
        self, message: str, *, sensor: str, where: str, address: int | None = None
    ) -> None:
        super().__init__(f"{sensor} sensor: {message}")
        self.sensor = sensor
        self.where = where
        self.address = address


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorSpec:
    """What is fitted to a node and where. None for an address or port means "not fitted".

    i2c_bus: a bus number (opened with smbus2.SMBus) or any object with the SMBus methods the
    drivers use; sleep: how drivers wait for the hardware (an emulated node passes its clock's).
    """

    i2c_bus: int | I2CBus | None = 1
    accel_address: int | None = ADXL345_ADDRESS
    bme280_address: int | None = BME280_ADDRESS
    gnss_port: str | None = "/dev/serial0"
    gnss_baud: int = 9600
    gnss_stale_after_s: float = 3.0
    link_source: str | Path | Callable[[], str] | None = None
    accel: Adxl345Config = field(default_factory=Adxl345Config)
    bme280: Bme280Config = field(default_factory=Bme280Config)
    tilt_samples: int = 16  # 0.16 s at 100 Hz: averages out sway and noise, still instant
    vibration_samples: int = 32  # one full FIFO: never waits when read at most every 0.32 s
    accel_timeout_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        ring = self.accel.ring_size
        if not 1 <= self.tilt_samples <= ring:
            raise ValueError(f"tilt_samples must be in [1, {ring}], got {self.tilt_samples}")
        if not 2 <= self.vibration_samples <= ring:
            raise ValueError(
                f"vibration_samples must be in [2, {ring}], got {self.vibration_samples}"
            )
        if self.i2c_bus is None and (self.accel_address or self.bme280_address):
            raise ValueError("I2C sensors are fitted but i2c_bus is None")
        if self.accel_address is not None and self.accel_address == self.bme280_address:
            raise ValueError(f"ADXL345 and BME280 both at address 0x{self.accel_address:02x}")
        if self.gnss_baud not in (4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800):
            raise ValueError(f"gnss_baud {self.gnss_baud} is not a standard NMEA baud rate")
        if self.gnss_stale_after_s <= 0 or self.accel_timeout_s <= 0:
            raise ValueError("gnss_stale_after_s and accel_timeout_s must be > 0")


class _SharedBus:
    """One I2C bus shared by the sensors on it; closed with the last one if we opened it."""

    def __init__(self, spec_bus: int | I2CBus) -> None:
        self._owned = isinstance(spec_bus, int)
        self._bus: I2CBus | None = None if isinstance(spec_bus, int) else spec_bus
        self._number = spec_bus if isinstance(spec_bus, int) else None
        number = getattr(spec_bus, "bus_number", None) if self._number is None else self._number
        self.name = f"i2c-{number}" if isinstance(number, int) else "i2c"
        self._users = 0
        self._lock = threading.Lock()

    def get(self, sensor: str) -> I2CBus:
        with self._lock:
            if self._bus is None:
                import smbus2  # the Pi-only dependency, imported only when a real bus is wanted

                try:
                    self._bus = smbus2.SMBus(self._number)
                except OSError as exc:
                    raise SensorError(
                        f"cannot open /dev/{self.name}: {exc}; is I2C enabled (raspi-config)?",
                        sensor=sensor,
                        where=self.name,
                    ) from exc
            return self._bus

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._owned and self._bus is not None:
                close = getattr(self._bus, "close", None)
                if callable(close):
                    close()
                self._bus = None


class _AccelChip:
    """The ADXL345 that tilt and vibration share, (re)initialised on demand."""

    def __init__(self, bus: _SharedBus, address: int, spec: SensorSpec) -> None:
        self._bus = bus
        self._address = address
        self._spec = spec
        self._driver: Adxl345 | None = None
        self._users = 0
        self.lock = threading.Lock()

    def driver(self, sensor: str) -> Adxl345:
        """A ready driver; call with self.lock held."""
        try:
            if self._driver is None:
                self._driver = Adxl345(
                    self._bus.get(sensor),
                    self._address,
                    self._spec.accel,
                    bus_name=self._bus.name,
                    sleep=self._spec.sleep,
                )
            if not self._driver.ready:
                self._driver.init()
        except DriverError as exc:
            raise SensorError(
                str(exc), sensor=sensor, where=self._bus.name, address=self._address
            ) from exc
        return self._driver

    def samples(self, sensor: str, n: int) -> list[tuple[float, float, float]]:
        with self.lock:
            driver = self.driver(sensor)
            try:
                return driver.samples(n, timeout_s=self._spec.accel_timeout_s)
            except DriverError as exc:
                driver.ready = False  # re-initialise on the next read: the chip may have reset
                raise SensorError(
                    f"{exc}; will re-initialise on the next read",
                    sensor=sensor,
                    where=self._bus.name,
                    address=self._address,
                ) from exc

    def acquire(self) -> None:
        with self.lock:
            self._users += 1
            self._bus.acquire()

    def release(self) -> None:
        with self.lock:
            self._users -= 1
            if self._users == 0 and self._driver is not None and self._driver.ready:
                try:
                    self._driver.standby()
                except DriverError as exc:
                    log.warning(
                        "ADXL345 not put in standby on close (%s); it keeps converting", exc
                    )
            self._bus.release()


class _AccelSensor:
    """A reading over a burst of samples from the shared accelerometer chip."""

    name: str

    def __init__(self, chip: _AccelChip, samples: int) -> None:
        self._chip = chip
        self._n = samples
        chip.acquire()

    def start(self) -> None:
        with self._chip.lock:
            self._chip.driver(self.name)

    def _burst(self) -> tuple[list[tuple[float, float, float]], float, float, float]:
        """The samples and their mean along x, y, z."""
        data = self._chip.samples(self.name, self._n)
        n = len(data)
        mx = sum(s[0] for s in data) / n
        my = sum(s[1] for s in data) / n
        mz = sum(s[2] for s in data) / n
        return data, mx, my, mz

    def close(self) -> None:
        self._chip.release()


class TiltSensor(_AccelSensor):
    name = "tilt"

    def read(self) -> dict[str, Value]:
        _, mx, my, mz = self._burst()
        # Inclination of the pole's axis from the gravity vector: x leans toward +x, y toward +y.
        return {
            "tilt_x_deg": math.degrees(math.atan2(mx, math.hypot(my, mz))),
            "tilt_y_deg": math.degrees(math.atan2(my, math.hypot(mx, mz))),
        }


class VibrationSensor(_AccelSensor):
    name = "vibration"

    def read(self) -> dict[str, Value]:
        data, mx, my, mz = self._burst()
        # Subtracting the burst mean removes gravity (and any tilt) and leaves the sway.
        energy = [(x - mx) ** 2 + (y - my) ** 2 + (z - mz) ** 2 for x, y, z in data]
        return {
            "accel_rms_g": math.sqrt(sum(energy) / len(data)),
            "accel_peak_g": math.sqrt(max(energy)),
        }


class EnvironmentSensor:
    name = "environment"

    def __init__(self, bus: _SharedBus, address: int, spec: SensorSpec) -> None:
        self._bus = bus
        self._address = address
        self._spec = spec
        self._driver: Bme280 | None = None
        self._lock = threading.Lock()
        bus.acquire()

    def _error(self, exc: DriverError, suffix: str = "") -> SensorError:
        return SensorError(
            f"{exc}{suffix}", sensor=self.name, where=self._bus.name, address=self._address
        )

    def _ready(self) -> Bme280:
        try:
            if self._driver is None:
                self._driver = Bme280(
                    self._bus.get(self.name),
                    self._address,
                    self._spec.bme280,
                    bus_name=self._bus.name,
                    sleep=self._spec.sleep,
                )
            if not self._driver.ready:
                self._driver.init()
        except DriverError as exc:
            raise self._error(exc) from exc
        return self._driver

    def start(self) -> None:
        with self._lock:
            self._ready()

    def read(self) -> dict[str, Value]:
        with self._lock:
            driver = self._ready()
            try:
                reading = driver.read()
            except DriverError as exc:
                driver.ready = False
                raise self._error(exc, "; will re-initialise on the next read") from exc
        return {
            "temperature_c": reading.temperature_c,
            "humidity_pct": reading.humidity_pct,
            "pressure_hpa": reading.pressure_hpa,
        }

    def close(self) -> None:
        with self._lock:
            if self._driver is not None and self._driver.ready:
                try:
                    self._driver.sleep_mode()
                except DriverError as exc:
                    log.warning("BME280 not put to sleep on close (%s); it keeps converting", exc)
        self._bus.release()


class GnssSensor:
    name = "gnss"

    def __init__(self, port: str, baud: int, stale_after_s: float) -> None:
        self._port = port
        self._baud = baud
        self._stale_after_s = stale_after_s
        self._receiver: GnssReceiver | None = None
        self._lock = threading.Lock()

    def _ready(self) -> GnssReceiver:
        if self._receiver is None:
            try:
                self._receiver = GnssReceiver(
                    self._port, baud=self._baud, stale_after_s=self._stale_after_s
                )
            except DriverError as exc:
                raise SensorError(str(exc), sensor=self.name, where=self._port) from exc
        return self._receiver

    def start(self) -> None:
        with self._lock:
            self._ready()

    def read(self) -> dict[str, Value]:
        with self._lock:
            try:
                fix = self._ready().current_fix()
            except DriverError as exc:
                raise SensorError(str(exc), sensor=self.name, where=self._port) from exc
        # current_fix() guarantees a position; the optional fields appear when the receiver
        # sends them (None never goes into the dict).
        assert fix.lat_deg is not None and fix.lon_deg is not None
        fields: dict[str, Value] = {
            "lat_deg": fix.lat_deg,
            "lon_deg": fix.lon_deg,
            "satellites": fix.satellites,
            "fix_quality": fix.fix_quality,
            "gnss_time_unix_s": fix.utc.timestamp(),
        }
        if fix.alt_m is not None:
            fields["alt_m"] = fix.alt_m
        if fix.hdop is not None:
            fields["hdop"] = fix.hdop
        return fields

    def close(self) -> None:
        with self._lock:
            if self._receiver is not None:
                self._receiver.close()
                self._receiver = None


class LinkSensor:
    name = "link"

    def __init__(self, source: str | Path | Callable[[], str]) -> None:
        self._reader = LinkReader(source)

    def start(self) -> None:
        """Nothing to open: the status source is read afresh each time."""

    def read(self) -> dict[str, Value]:
        try:
            status = self._reader.read()
        except DriverError as exc:
            raise SensorError(str(exc), sensor=self.name, where=self._reader.where) from exc
        fields: dict[str, Value] = {"registered": status.registered}
        if status.rat is not None:
            fields["rat"] = status.rat
        if status.registered:
            for key in ("rsrp_dbm", "sinr_db", "rssi_dbm"):
                value = getattr(status, key)
                if value is not None:
                    fields[key] = float(value)
        return fields

    def close(self) -> None:
        """Nothing held open."""


class _Startable(Sensor, Protocol):
    def start(self) -> None: ...


def open_sensors(spec: SensorSpec, *, strict: bool = True) -> list[Sensor]:
    """The sensors `spec` says are fitted, in the order of MEASUREMENTS.

    strict: initialise every part now and raise SensorError (closing the others) if one fails;
    with strict=False a failing part is logged and returned anyway, and its read() keeps
    retrying, so a node with a dead GNSS still reports its tilt.
    """
    sensors: list[_Startable] = []
    if spec.i2c_bus is not None and (spec.accel_address or spec.bme280_address):
        bus = _SharedBus(spec.i2c_bus)
        if spec.accel_address is not None:
            chip = _AccelChip(bus, spec.accel_address, spec)
            sensors.append(TiltSensor(chip, spec.tilt_samples))
            sensors.append(VibrationSensor(chip, spec.vibration_samples))
        if spec.bme280_address is not None:
            sensors.append(EnvironmentSensor(bus, spec.bme280_address, spec))
    if spec.gnss_port is not None:
        sensors.append(GnssSensor(spec.gnss_port, spec.gnss_baud, spec.gnss_stale_after_s))
    if spec.link_source is not None:
        sensors.append(LinkSensor(spec.link_source))
    for sensor in sensors:
        try:
            sensor.start()
        except SensorError as exc:
            if strict:
                for other in sensors:
                    other.close()
                raise
            log.warning("%s; it will be retried on every read", exc)
    return list(sensors)
