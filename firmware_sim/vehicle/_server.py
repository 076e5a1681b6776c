"""Thin network shell around the pure `SimVehicle`: binds a UDP (or TCP) address, replies to
every peer that has sent to it, also sends to `--out` ground stations (like SITL's --out), and
runs simulated time at `speedup` x the wall clock on one background thread.
"""

from __future__ import annotations

import logging
import math
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firmware_sim.vehicle._config import (
    DEFAULT_HOME,
    Endpoint,
    FaultKind,
    FaultSpec,
    HomePosition,
    VehicleConfig,
)
from firmware_sim.vehicle._errors import VehicleConfigError, VehicleServerError
from firmware_sim.vehicle._events import PhotoTaken
from firmware_sim.vehicle._frames import FrameWriter, load_world_file
from firmware_sim.vehicle._state import SimVehicle

__all__ = ["MAX_SPEEDUP", "SimVehicleServer", "home_from_world"]

logger = logging.getLogger(__name__)

# Wall-clock period of the loop: 100 Hz keeps replies prompt without burning a core.
LOOP_PERIOD_S = 0.01
# A stalled loop (debugger, overloaded CI box) is not allowed to jump the simulation further.
MAX_STEP_WALL_S = 0.25
# Above this the 50 Hz physics would run more ticks per loop than the loop can afford.
MAX_SPEEDUP = 100.0
UDP_MAX_DATAGRAM = 65535

PhotoCallback = Callable[[PhotoTaken], None]


def home_from_world(world: Any) -> HomePosition:
    """Home at the world's origin (first corridor vertex, ground level), facing along the road."""
    frame = world.frame
    heading = 0.0
    vertices = getattr(world.corridor, "vertices_enu", None)
    if vertices is not None and len(vertices) >= 2:
        de = float(vertices[1][0] - vertices[0][0])
        dn = float(vertices[1][1] - vertices[0][1])
        heading = math.degrees(math.atan2(de, dn)) % 360.0
    return HomePosition(
        lat_deg=frame.lat0_deg, lon_deg=frame.lon0_deg, alt_m=0.0, heading_deg=heading
    )


class SimVehicleServer:
    """A simulated vehicle on the network, started at construction; use as a context manager.

    `address` is the (host, port) actually bound; `vehicle` is the pure state machine (read it
    under `locked()` or through `wait_for`). Photos go to `on_photo` (called on the server
    thread) and, with `frames_dir` and a world, to rendered frames written by a worker thread.
    """

    def __init__(
        self,
        *,
        listen: str | Endpoint = "udp:127.0.0.1:0",
        out: Sequence[str | Endpoint] = (),
        home: HomePosition | None = None,
        speedup: float = 1.0,
        on_photo: PhotoCallback | None = None,
        frames_dir: Path | None = None,
        world_path: Path | None = None,
        seed: int = 0,
        faults: Sequence[FaultSpec] = (),
        params: Mapping[str, float] | None = None,
        system_id: int = 1,
        mission_request_int: bool = False,
    ) -> None:
        if not (math.isfinite(speedup) and 0 < speedup <= MAX_SPEEDUP):
            raise VehicleConfigError("--speedup", f"must be in (0, {MAX_SPEEDUP:g}], got {speedup}")
        self._listen = listen if isinstance(listen, Endpoint) else Endpoint.parse(listen)
        self._outs = [
            o if isinstance(o, Endpoint) else Endpoint.parse(o, option="--out") for o in out
        ]
        if any(o.scheme != "udp" for o in self._outs):
            raise VehicleConfigError("--out", "only udp:HOST:PORT is supported")
        world = load_world_file(world_path) if world_path is not None else None
        if frames_dir is not None and world is None:
            raise VehicleConfigError("--frames-out", "rendering frames needs --world")
        if home is None:
            home = home_from_world(world) if world is not None else DEFAULT_HOME
        self.speedup = float(speedup)
        config = VehicleConfig(
            home=home,
            system_id=system_id,
            faults=tuple(faults),
            param_overrides=tuple((params or {}).items()),
            gcs_timeout_scale=max(1.0, self.speedup),
            mission_request_int=mission_request_int,
            epoch_unix_s=time.time(),
        )
        self.vehicle = SimVehicle(config)
        self._on_photo = on_photo
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._peers: set[tuple[str, int]] = set()
        self._tcp_clients: list[socket.socket] = []
        self._selector = selectors.DefaultSelector()
        self._sock = self._bind(self._listen)
        # --out always speaks UDP; with a TCP listener it needs its own socket.
        self._out_sock = self._sock if self._listen.scheme == "udp" else self._udp_out_socket()
        self._frames = FrameWriter(world, frames_dir, seed=seed) if frames_dir else None
        self._thread = threading.Thread(target=self._run, name="sim-vehicle", daemon=True)
        self._thread.start()
        host, port = self.address
        logger.info(
            "simulated vehicle (sysid %d) on %s:%s:%d, home %.6f,%.6f alt %.1f m, speedup %gx",
            system_id,
            self._listen.scheme,
            host,
            port,
            home.lat_deg,
            home.lon_deg,
            home.alt_m,
            self.speedup,
        )

    # -- public -------------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"{self._listen.scheme}:{host}:{port}"

    @contextmanager
    def locked(self) -> Iterator[SimVehicle]:
        """Hold the simulation still while reading or changing the vehicle."""
        with self._cond:
            yield self.vehicle

    def wait_for(self, predicate: Callable[[SimVehicle], bool], timeout_s: float) -> bool:
        """Wait (on the loop's condition, no polling) until `predicate(vehicle)` holds."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._error is not None or self._stop.is_set() or predicate(self.vehicle),
                timeout=timeout_s,
            )
            self._raise_if_failed()
            return bool(ok) and predicate(self.vehicle)

    def inject_fault(self, kind: FaultKind, duration_s: float | None = None) -> None:
        with self._cond:
            self.vehicle.inject_fault(kind, duration_s)

    @property
    def frames_written(self) -> int:
        return self._frames.written if self._frames else 0

    def close(self) -> None:
        """Stop the loop, finish pending frames and close the sockets; re-raises a loop failure."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            if self._frames is not None:
                pending = self._frames.pending
                if pending:
                    logger.info(
                        "finishing %d pending frame(s) in %s", pending, self._frames.frames_dir
                    )
                self._frames.close()
                if self._frames.failed:
                    logger.error(
                        "%d of %d frame(s) could not be rendered or saved in %s (see errors above)",
                        self._frames.failed,
                        self._frames.failed + self._frames.written,
                        self._frames.frames_dir,
                    )
            for client in self._tcp_clients:
                client.close()
            self._selector.close()
            if self._out_sock is not self._sock:
                self._out_sock.close()
            self._sock.close()
        self._raise_if_failed()

    def __enter__(self) -> SimVehicleServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sockets ------------------------------------------------------------------------------

    def _bind(self, endpoint: Endpoint) -> socket.socket:
        kind = socket.SOCK_DGRAM if endpoint.scheme == "udp" else socket.SOCK_STREAM
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((endpoint.host, endpoint.port))
            if kind == socket.SOCK_STREAM:
                sock.listen(4)
        except OSError as exc:
            sock.close()
            raise VehicleServerError(f"cannot listen on {endpoint}: {exc}") from exc
        sock.setblocking(False)
        self._selector.register(sock, selectors.EVENT_READ)
        return sock

    def _udp_out_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        return sock

    def _read(self, ready: list[tuple[selectors.SelectorKey, int]]) -> None:
        for key, _ in ready:
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is self._sock and self._listen.scheme == "udp":
                self._read_udp()
            elif sock is self._sock:
                client, peer = self._sock.accept()
                # Reads only follow select(); the timeout bounds a send to a stuck client.
                client.settimeout(1.0)
                self._selector.register(client, selectors.EVENT_READ)
                self._tcp_clients.append(client)
                logger.info("TCP ground station connected from %s:%d", *peer[:2])
            else:
                self._read_tcp(sock)

    def _read_udp(self) -> None:
        while True:
            try:
                data, peer = self._sock.recvfrom(UDP_MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError as exc:
                # e.g. ICMP port unreachable reported on the next read: not fatal for UDP.
                logger.debug("UDP receive error ignored: %s", exc)
                return
            if peer not in self._peers:
                logger.info("ground station at %s:%d", *peer[:2])
                self._peers.add(peer)
            self.vehicle.receive_data(data)

    def _read_tcp(self, client: socket.socket) -> None:
        try:
            data = client.recv(UDP_MAX_DATAGRAM)
        except OSError as exc:
            logger.info("TCP ground station dropped: %s", exc)
            data = b""
        if not data:
            self._drop_tcp(client)
            return
        self.vehicle.receive_data(data)

    def _drop_tcp(self, client: socket.socket) -> None:
        self._selector.unregister(client)
        self._tcp_clients.remove(client)
        client.close()

    def _write(self, packets: list[bytes]) -> None:
        if not packets:
            return
        if self._listen.scheme == "tcp":
            blob = b"".join(packets)
            for client in list(self._tcp_clients):
                try:
                    client.sendall(blob)
                except OSError as exc:
                    logger.info("TCP ground station dropped on send: %s", exc)
                    self._drop_tcp(client)
            targets = [(o.host, o.port) for o in self._outs]
        else:
            # A GCS behind --out that talks back is also a peer: send to it once.
            targets = list(self._peers | {(o.host, o.port) for o in self._outs})
        for target in targets:
            for packet in packets:
                try:
                    self._out_sock.sendto(packet, target)
                except OSError as exc:
                    logger.debug("UDP send to %s:%d failed: %s", target[0], target[1], exc)
                    break

    # -- loop ---------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            logger.exception("simulated vehicle loop stopped")
            self._error = exc
        finally:
            with self._cond:
                self._stop.set()
                self._cond.notify_all()

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            ready = self._selector.select(timeout=LOOP_PERIOD_S)
            now = time.monotonic()
            dt_wall = min(now - last, MAX_STEP_WALL_S)
            last = now
            photos: list[PhotoTaken] = []
            with self._cond:
                self._read(ready)
                self.vehicle.step(dt_wall * self.speedup)
                packets = self.vehicle.drain_packets()
                while (event := self.vehicle.next_event()) is not None:
                    if isinstance(event, PhotoTaken):
                        photos.append(event)
                self._cond.notify_all()
            self._write(packets)
            for photo in photos:
                if self._frames is not None:
                    self._frames.submit(photo)
                if self._on_photo is not None:
                    self._on_photo(photo)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise VehicleServerError(f"simulated vehicle loop failed: {self._error!r}") from (
                self._error
            )
