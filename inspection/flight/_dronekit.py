"""The real `VehicleLink`: dronekit2 (import name `dronekit`) over pymavlink.

Connection strings (pymavlink's):
    udp:127.0.0.1:14550     listen for a vehicle that sends to us (ArduPilot SITL `--out`)
    udpout:HOST:PORT        send to a vehicle that listens (the Michimori vehicle simulator)
    tcp:HOST:PORT           connect to a vehicle that listens on TCP (SITL's tcp:5760)
    /dev/ttyUSB0,57600      serial telemetry radio, with its baud rate

Two dronekit behaviours are worked around here: `connect()` can wait forever for a vehicle
that sends heartbeats but no parameters (its initialisation has no deadline), and
pymavlink's switch to MAVLink 2 on the first v2 packet replaces the object dronekit sends
through. Every dronekit/pymavlink error leaves this module as a FlightError.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ._exceptions import FlightError, FlightTimeout
from ._link import MessageCallback, VehicleSnapshot

__all__ = [
    "DronekitLink",
    "check_connection_string",
    "connect_vehicle",
    "split_connection_string",
]

log = logging.getLogger(__name__)

# Stream rate asked of the vehicle (Hz): position and battery a few times a second is plenty
# for progress and stall detection, and fits a 57600-baud radio.
_STREAM_RATE_HZ = 4
# MAVLink system id of this ground station; 255 is the GCS convention (QGC, MAVProxy).
_GCS_SYSTEM_ID = 255


def split_connection_string(text: str) -> tuple[str, int | None]:
    """'/dev/ttyUSB0,57600' -> ('/dev/ttyUSB0', 57600); network strings pass unchanged."""
    head, sep, tail = text.rpartition(",")
    if sep and tail.strip().isdigit() and head:
        return head.strip(), int(tail)
    return text.strip(), None


_NETWORK_SCHEMES = ("udp", "udpin", "udpout", "udpbcast", "tcp", "tcpin")
# Closing dronekit waits for its send queue to drain; a dead link must not hang the command.
_CLOSE_TIMEOUT_S = 5.0


def check_connection_string(text: str) -> None:
    """Raise ValueError unless `text` is SCHEME:HOST:PORT or a serial DEVICE[,BAUD]."""
    scheme, sep, rest = text.partition(":")
    if sep and scheme in _NETWORK_SCHEMES:
        host, sep2, port = rest.rpartition(":")
        if not (sep2 and host and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(
                f"{text!r}: expected {scheme}:HOST:PORT, e.g. {scheme}:127.0.0.1:14550"
            )
        return
    device, baud = split_connection_string(text)
    if sep and not device.startswith(("/", "COM")) and ":" in device:
        raise ValueError(
            f"{text!r}: unknown scheme {scheme!r}; use udp:, udpout:, tcp: or a serial device"
        )
    if not device or (baud is not None and baud <= 0):
        raise ValueError(f"{text!r}: expected a serial DEVICE[,BAUD], e.g. /dev/ttyUSB0,57600")


def _prepare_mavlink2() -> None:
    # pymavlink picks MAVLink 1 or 2 from this environment variable when its dialect is set;
    # dronekit builds its sender from that choice. A v2 vehicle seen by a v1 sender makes
    # pymavlink swap the sender mid-flight (bypassing dronekit's send queue), so start in v2.
    os.environ["MAVLINK20"] = "1"
    from pymavlink import mavutil

    if getattr(mavutil.mavlink, "WIRE_PROTOCOL_VERSION", "1.0") != "2.0":
        mavutil.set_dialect(mavutil.current_dialect)


def _timed_vehicle_class(deadline_s: float) -> type[Any]:
    """A dronekit Vehicle whose initialisation gives up at `deadline_s` (monotonic)."""
    from dronekit import APIException, Vehicle
    from pymavlink import mavutil

    class _TimedVehicle(Vehicle):
        def initialize(self, rate: int = 4, heartbeat_timeout: float = 30) -> None:
            self._handler.start()
            start = time.monotonic()
            self._heartbeat_error = heartbeat_timeout or 0
            self._heartbeat_started = True
            self._heartbeat_lastreceived = start
            while self._handler._alive and self._heartbeat_lastreceived == start:
                if time.monotonic() > deadline_s:
                    raise APIException("no heartbeat from the vehicle")
                time.sleep(0.05)
            if not self._handler._alive or self._heartbeat_system is None:
                raise APIException("no heartbeat from the vehicle")
            self._handler.target_system = self._heartbeat_system
            while self._flightmode in (None, "INITIALISING", "MAV"):
                if time.monotonic() > deadline_s:
                    raise APIException(f"vehicle still booting (mode {self._flightmode})")
                time.sleep(0.05)
            self._master.mav.request_data_stream_send(
                0, 0, mavutil.mavlink.MAV_DATA_STREAM_ALL, rate, 1
            )
            # No parameter download (dronekit's default): the flight reads no parameters,
            # and ArduPilot's ~1000 of them take half a minute over a 57600-baud radio.

    return _TimedVehicle


def connect_vehicle(connection: str, *, timeout_s: float) -> DronekitLink:
    """Connect and wait for the first heartbeat and the basic state (mode, GPS, attitude)."""
    _prepare_mavlink2()
    import dronekit

    device, baud = split_connection_string(connection)
    deadline = time.monotonic() + timeout_s
    try:
        vehicle = dronekit.connect(
            device,
            baud=baud or 57600,
            heartbeat_timeout=timeout_s,
            rate=_STREAM_RATE_HZ,
            source_system=_GCS_SYSTEM_ID,
            vehicle_class=_timed_vehicle_class(deadline),
        )
    except dronekit.APIException as exc:
        raise FlightTimeout(
            f"could not connect to a vehicle at {connection!r} within {timeout_s:g} s "
            f"({exc}); check the address (udp: listens, udpout:/tcp: connect), that the "
            "vehicle or simulator is running and that nothing else holds the port",
            stage="connect",
            waited_for="heartbeat",
            timeout_s=timeout_s,
        ) from exc
    except (OSError, ValueError) as exc:
        raise FlightError(
            f"could not connect to a vehicle at {connection!r}: cannot open the link ({exc}); "
            "check the address and port, or the serial device and its permissions",
            stage="connect",
        ) from exc
    link = DronekitLink(vehicle, connection)
    remaining = max(1.0, deadline - time.monotonic())
    try:
        vehicle.wait_ready("mode", "armed", "gps_0", "attitude", timeout=remaining)
    except dronekit.TimeoutError as exc:
        link.close()
        raise FlightTimeout(
            f"vehicle at {connection!r} sends heartbeats but not its state (mode, GPS, "
            f"attitude) within {timeout_s:g} s; is its telemetry stream rate set to 0?",
            stage="connect",
            waited_for="vehicle state",
            timeout_s=timeout_s,
        ) from exc
    return link


class DronekitLink:
    """VehicleLink over a connected dronekit Vehicle."""

    def __init__(self, vehicle: Any, address: str) -> None:
        self._v = vehicle
        self._address = address
        self._lock = threading.Lock()
        self._closed = False

    @property
    def address(self) -> str:
        return self._address

    def snapshot(self) -> VehicleSnapshot:
        v = self._v
        rel = v.location.global_relative_frame
        glob = v.location.global_frame
        bat = v.battery
        gps = v.gps_0
        status = v.system_status
        level = bat.level if bat is not None else None
        return VehicleSnapshot(
            mode=v.mode.name if v.mode is not None else None,
            armed=bool(v.armed),
            armable=bool(v.is_armable),
            lat_deg=rel.lat,
            lon_deg=rel.lon,
            alt_rel_m=rel.alt,
            alt_msl_m=glob.alt,
            heading_deg=float(v.heading) if v.heading is not None else None,
            groundspeed_m_s=v.groundspeed,
            gps_fix_type=gps.fix_type,
            satellites=gps.satellites_visible,
            # ArduPilot reports -1 when it does not know the remaining capacity.
            battery_pct=float(level) if level is not None and level >= 0 else None,
            battery_v=bat.voltage if bat is not None else None,
            heartbeat_age_s=v.last_heartbeat,
            system_status=status.state if status is not None else None,
            ekf_ok=bool(v.ekf_ok),
        )

    def subscribe(self, names: Iterable[str], callback: MessageCallback) -> None:
        def listener(_vehicle: Any, name: str, msg: Any) -> None:
            callback(name, msg.to_dict())

        for name in names:
            self._v.add_message_listener(name, listener)

    def send(self, name: str, fields: Mapping[str, Any]) -> None:
        encode = getattr(self._v.message_factory, name.lower() + "_encode")
        ts = self._v._handler.target_system  # dronekit fills this in too (fix_targets)
        args = dict(fields)
        args.setdefault("target_system", ts)
        args.setdefault("target_component", 0)
        args.setdefault("mission_type", 0)
        msg = encode(**_known_fields(name, args))
        with self._lock:
            self._v.send_mavlink(msg)

    def set_mode(self, mode: str) -> None:
        from dronekit import VehicleMode

        self._v.mode = VehicleMode(mode)

    def arm(self) -> None:
        self._v.armed = True

    def takeoff(self, alt_m: float) -> None:
        self._v.simple_takeoff(alt_m)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []

        def close_vehicle() -> None:
            try:
                self._v.close()
            except (OSError, RuntimeError) as exc:
                errors.append(exc)

        closer = threading.Thread(target=close_vehicle, name="dronekit-close", daemon=True)
        closer.start()
        closer.join(_CLOSE_TIMEOUT_S)
        if closer.is_alive():
            log.warning(
                "the link to %s did not close within %g s (its send queue never drained); "
                "left behind",
                self._address,
                _CLOSE_TIMEOUT_S,
            )
        for exc in errors:
            log.warning("closing the link to %s: %s", self._address, exc)


def _known_fields(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Keep only the fields the encoder takes (pymavlink encoders reject unknown keywords)."""
    from pymavlink import mavutil

    cls = getattr(mavutil.mavlink, f"MAVLink_{name.lower()}_message")
    known = set(cls.fieldnames)
    unknown = set(args) - known
    if unknown - {"mission_type"}:
        raise FlightError(f"{name}: unknown field(s) {sorted(unknown)}", stage="setup")
    return {k: v for k, v in args.items() if k in known}
