"""Emulated GNSS receiver: NMEA 0183 GGA + RMC sentences written to a pseudo-terminal.

The edge driver opens `GnssEmulator.port_path` with pyserial exactly as it opens /dev/serial0 on
a Raspberry Pi. Sentences carry the node's true UTC time (a GNSS receiver knows the time even
when the node's clock jumps); content is a pure function of time and seed. Faults: "no_fix"
(quality 0, RMC status V, empty position) and "dropout" (the receiver falls silent).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import tty
from types import TracebackType

from firmware_sim.faults import FaultInjector, SimClock
from firmware_sim.signals import GnssModel, GnssTruth

__all__ = ["GnssEmulator", "format_epoch", "nmea_sentence"]

log = logging.getLogger(__name__)

_KNOTS_PER_MPS = 1.0 / 0.514444
_OUTPUT_LATENCY_S = 0.02  # receivers emit an epoch's sentences some ms after the epoch


def nmea_sentence(body: str) -> bytes:
    """`$body*HH\\r\\n` with the XOR checksum of every character between `$` and `*`."""
    checksum = 0
    for char in body.encode("ascii"):
        checksum ^= char
    return f"${body}*{checksum:02X}\r\n".encode("ascii")


def _lat(lat_deg: float) -> tuple[str, str]:
    value = abs(lat_deg)
    degrees = int(value)
    return f"{degrees:02d}{(value - degrees) * 60.0:08.5f}", "N" if lat_deg >= 0 else "S"


def _lon(lon_deg: float) -> tuple[str, str]:
    value = abs(lon_deg)
    degrees = int(value)
    return f"{degrees:03d}{(value - degrees) * 60.0:08.5f}", "E" if lon_deg >= 0 else "W"


def format_epoch(
    utc: dt.datetime, truth: GnssTruth | None, *, talker: str = "GN", speed_mps: float = 0.0
) -> bytes:
    """RMC then GGA of one epoch, in the order u-blox receivers send them; truth None = no fix."""
    hhmmss = f"{utc:%H%M%S}.{utc.microsecond // 10_000:02d}"
    ddmmyy = f"{utc:%d%m%y}"
    if truth is None or truth.fix_quality == 0:
        satellites = 0 if truth is None else min(truth.satellites, 3)
        rmc = f"{talker}RMC,{hhmmss},V,,,,,,,{ddmmyy},,,N"
        gga = f"{talker}GGA,{hhmmss},,,,,0,{satellites:02d},99.99,,,,,,"
        return nmea_sentence(rmc) + nmea_sentence(gga)
    lat, ns = _lat(truth.lat_deg)
    lon, ew = _lon(truth.lon_deg)
    mode = "D" if truth.fix_quality == 2 else "A"
    rmc = (
        f"{talker}RMC,{hhmmss},A,{lat},{ns},{lon},{ew},{speed_mps * _KNOTS_PER_MPS:.3f},,"
        f"{ddmmyy},,,{mode}"
    )
    gga = (
        f"{talker}GGA,{hhmmss},{lat},{ns},{lon},{ew},{truth.fix_quality},{truth.satellites:02d},"
        f"{truth.hdop:.2f},{truth.alt_m:.1f},M,{truth.geoid_sep_m:.1f},M,,"
    )
    return nmea_sentence(rmc) + nmea_sentence(gga)


class GnssEmulator:
    """A receiver on a pty that sends one epoch every 1/rate_hz seconds from a background thread.

    Construction opens the pty (so `port_path` exists at once); `start()` begins sending;
    `stop()` or leaving the `with` block ends the thread and closes both sides.
    """

    def __init__(
        self,
        model: GnssModel,
        clock: SimClock,
        *,
        faults: FaultInjector | None = None,
        rate_hz: float = 1.0,
        talker: str = "GN",
    ) -> None:
        if not 0.1 <= rate_hz <= 20.0:
            raise ValueError(f"rate_hz must be in [0.1, 20] (receivers do 1-20 Hz), got {rate_hz}")
        if len(talker) != 2 or not talker.isalpha():
            raise ValueError(f"talker must be two letters such as GP or GN, got {talker!r}")
        self._model = model
        self._clock = clock
        self._faults = faults if faults is not None else FaultInjector((), seed=0)
        self.rate_hz = rate_hz
        self._period_s = 1.0 / rate_hz
        self._talker = talker
        self._master_fd, self._slave_fd = os.openpty()
        # Raw mode from the start, so no line discipline rewrites CR/LF before a reader opens it;
        # non-blocking master so that, like a UART nobody listens to, unread bytes are dropped.
        tty.setraw(self._slave_fd)
        os.set_blocking(self._master_fd, False)
        self.port_path = os.ttyname(self._slave_fd)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent = threading.Condition()
        self.epochs_sent = 0
        self.bytes_dropped = 0
        self.error: BaseException | None = None

    def __repr__(self) -> str:
        return f"GnssEmulator({self.port_path}, every {self._period_s:g} s)"

    def epoch_bytes(self, true_ns: int) -> bytes | None:
        """The sentences of the epoch at this true time; None while a dropout silences it."""
        elapsed_s = (true_ns - self._clock.start_ns) * 1e-9
        if self._faults.fires("dropout", elapsed_s):
            return None
        period_ns = round(self._period_s * 1e9)
        epoch_ns = true_ns - true_ns % period_ns  # receivers stamp epochs on the rate grid
        utc = dt.datetime.fromtimestamp(epoch_ns / 1e9, tz=dt.UTC)
        truth = (
            None
            if self._faults.is_active("no_fix", elapsed_s)
            else self._model.truth(epoch_ns * 1e-9)
        )
        return format_epoch(utc, truth, talker=self._talker)

    def start(self) -> GnssEmulator:
        if self._thread is not None:
            raise RuntimeError(f"{self!r} already started")
        self._thread = threading.Thread(
            target=self._run, name=f"gnss-{self.port_path}", daemon=True
        )
        self._thread.start()
        return self

    def _write(self, data: bytes) -> None:
        try:
            written = os.write(self._master_fd, data)
        except BlockingIOError:
            written = 0
        self.bytes_dropped += len(data) - written

    def _run(self) -> None:
        period_ns = round(self._period_s * 1e9)
        try:
            while not self._stop.is_set():
                data = self.epoch_bytes(self._clock.true_ns())
                if data is not None:
                    self._write(data)
                    with self._sent:
                        self.epochs_sent += 1
                        self._sent.notify_all()
                if self._clock.realtime:
                    # Like a receiver: output shortly after each epoch boundary of true time,
                    # so a loaded host delays sentences but never skips or repeats an epoch.
                    to_boundary_ns = period_ns - self._clock.true_ns() % period_ns
                    delay_s = to_boundary_ns * 1e-9 + _OUTPUT_LATENCY_S
                else:
                    delay_s = self._period_s  # a manual clock stands still: pace by the host
                self._stop.wait(delay_s)
        except OSError as exc:
            self.error = exc
            log.error("GNSS emulator on %s stopped: %s", self.port_path, exc)

    def wait_sent(self, count: int, timeout_s: float) -> bool:
        """Wait until `count` epochs have been sent in all (tests: a condition, not a sleep)."""
        with self._sent:
            return self._sent.wait_for(lambda: self.epochs_sent >= count, timeout=timeout_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                raise RuntimeError(f"{self!r}: sender thread did not stop within 5 s")
            self._thread = None
        for fd in (self._master_fd, self._slave_fd):
            if fd >= 0:  # -1 after an earlier stop()
                os.close(fd)
        self._master_fd = self._slave_fd = -1

    def __enter__(self) -> GnssEmulator:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
