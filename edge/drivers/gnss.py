"""Driver for an NMEA 0183 GNSS receiver on a serial port: GGA + RMC into one GnssFix per epoch.

The protocol part is pure (`parse_sentence`, `NmeaAssembler`, `LineSplitter`) and is fed bytes;
`GnssReceiver` is the thin pyserial shell around it. Sentences with a bad checksum are counted
and skipped, as a serial line always delivers the odd corrupted one.
"""

from __future__ import annotations

import datetime as dt
import logging
import select
import time
from dataclasses import dataclass
from types import TracebackType

import serial

from edge.drivers.errors import DeviceTimeoutError, DriverError, GnssNoFixError, NmeaError

__all__ = [
    "Gga",
    "GnssFix",
    "GnssReceiver",
    "LineSplitter",
    "NmeaAssembler",
    "Rmc",
    "nmea_checksum",
    "parse_sentence",
]

log = logging.getLogger(__name__)

_MPS_PER_KNOT = 0.514444
_MAX_LINE = 120  # NMEA caps sentences at 82 characters; anything far longer is line noise


@dataclass(frozen=True, slots=True, kw_only=True)
class GnssFix:
    """One receiver epoch. Position fields are None when the receiver has no fix."""

    utc: dt.datetime
    fix_quality: int  # GGA: 0 none, 1 GPS, 2 DGPS/SBAS, 4 RTK fixed, 5 RTK float, 6 dead reckoning
    satellites: int
    hdop: float | None
    lat_deg: float | None
    lon_deg: float | None
    alt_m: float | None  # above mean sea level
    geoid_sep_m: float | None
    speed_mps: float | None
    course_deg: float | None
    status_valid: bool  # RMC status A

    def __post_init__(self) -> None:
        if self.utc.tzinfo is None:
            raise ValueError("utc must be timezone-aware")
        if not 0 <= self.fix_quality <= 8:
            raise ValueError(f"fix_quality must be in 0..8, got {self.fix_quality}")
        if self.lat_deg is not None and not -90.0 <= self.lat_deg <= 90.0:
            raise ValueError(f"lat_deg out of range: {self.lat_deg}")
        if self.lon_deg is not None and not -180.0 <= self.lon_deg <= 180.0:
            raise ValueError(f"lon_deg out of range: {self.lon_deg}")

    @property
    def has_fix(self) -> bool:
        return self.fix_quality > 0 and self.status_valid and self.lat_deg is not None


@dataclass(frozen=True, slots=True)
class Gga:
    time_key: str
    lat_deg: float | None
    lon_deg: float | None
    fix_quality: int
    satellites: int
    hdop: float | None
    alt_m: float | None
    geoid_sep_m: float | None


@dataclass(frozen=True, slots=True)
class Rmc:
    time_key: str
    date: dt.date | None
    valid: bool
    lat_deg: float | None
    lon_deg: float | None
    speed_mps: float | None
    course_deg: float | None


def nmea_checksum(body: str) -> int:
    """XOR of the characters between `$` and `*`."""
    checksum = 0
    for char in body.encode("ascii", "replace"):
        checksum ^= char
    return checksum


def _float(text: str) -> float | None:
    return float(text) if text else None


def _coordinate(value: str, hemisphere: str, degree_digits: int, negative: str) -> float | None:
    if not value:
        return None
    degrees = int(value[:degree_digits])
    minutes = float(value[degree_digits:])
    if not 0.0 <= minutes < 60.0 or hemisphere not in ("NS" if negative == "S" else "EW"):
        raise ValueError(f"bad coordinate {value},{hemisphere}")
    result = degrees + minutes / 60.0
    return -result if hemisphere == negative else result


def _time_key(text: str) -> str:
    if len(text) < 6 or not text[:6].isdigit():
        raise ValueError(f"bad UTC time {text!r}")
    return text


def parse_sentence(line: str, *, where: str = "NMEA") -> Gga | Rmc | None:
    """Check and parse one sentence; None for valid sentences of other types (GSA, GSV, TXT...)."""
    line = line.strip()
    star = line.rfind("*")
    if not line.startswith("$") or star < 0 or len(line) - star != 3:
        raise NmeaError("not a sentence ($...*hh)", where=where, line=line)
    body = line[1:star]
    try:
        expected = int(line[star + 1 :], 16)
    except ValueError:
        raise NmeaError("checksum is not hex", where=where, line=line) from None
    if nmea_checksum(body) != expected:
        raise NmeaError("checksum mismatch", where=where, line=line)
    fields = body.split(",")
    kind = fields[0][2:] if not fields[0].startswith("P") else ""  # $P...: proprietary
    try:
        if kind == "GGA" and len(fields) >= 12:
            return Gga(
                time_key=_time_key(fields[1]),
                lat_deg=_coordinate(fields[2], fields[3], 2, "S"),
                lon_deg=_coordinate(fields[4], fields[5], 3, "W"),
                fix_quality=int(fields[6] or 0),
                satellites=int(fields[7] or 0),
                hdop=_float(fields[8]),
                alt_m=_float(fields[9]),
                geoid_sep_m=_float(fields[11]),
            )
        if kind == "RMC" and len(fields) >= 10:
            date_text = fields[9]
            date = None
            if date_text:
                yy = int(date_text[4:6])
                # Two-digit year: GPS began in 1980, so 80-99 are 19xx.
                year = 1900 + yy if yy >= 80 else 2000 + yy
                date = dt.date(year, int(date_text[2:4]), int(date_text[0:2]))
            speed_kn = _float(fields[7])
            return Rmc(
                time_key=_time_key(fields[1]),
                date=date,
                valid=fields[2] == "A",
                lat_deg=_coordinate(fields[3], fields[4], 2, "S"),
                lon_deg=_coordinate(fields[5], fields[6], 3, "W"),
                speed_mps=None if speed_kn is None else speed_kn * _MPS_PER_KNOT,
                course_deg=_float(fields[8]),
            )
    except ValueError as exc:
        raise NmeaError(f"bad field ({exc})", where=where, line=line) from None
    if kind in ("GGA", "RMC"):
        raise NmeaError(f"{kind} with too few fields", where=where, line=line)
    return None


class LineSplitter:
    """Bytes in, complete ASCII lines out; over-long garbage without a newline is dropped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.dropped_bytes = 0

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        *complete, rest = self._buffer.split(b"\n")
        self._buffer = bytearray(rest)
        if len(self._buffer) > _MAX_LINE:
            self.dropped_bytes += len(self._buffer)
            self._buffer.clear()
        return [raw.decode("ascii", "replace").strip() for raw in complete if raw.strip()]


class NmeaAssembler:
    """Pairs the GGA and RMC of one epoch (same UTC time field) into a GnssFix."""

    def __init__(self, *, where: str = "NMEA") -> None:
        self._where = where
        self._gga: Gga | None = None
        self._rmc: Rmc | None = None
        self.sentences = 0
        self.errors = 0
        self.last_error: NmeaError | None = None

    def feed_line(self, line: str) -> GnssFix | None:
        try:
            sentence = parse_sentence(line, where=self._where)
        except NmeaError as exc:
            # Counted and kept, not raised: one corrupted sentence must not stop the stream.
            self.errors += 1
            self.last_error = exc
            log.debug("%s", exc)
            return None
        self.sentences += 1
        if isinstance(sentence, Gga):
            self._gga = sentence
        elif isinstance(sentence, Rmc):
            self._rmc = sentence
        else:
            return None
        gga, rmc = self._gga, self._rmc
        if gga is None or rmc is None or gga.time_key != rmc.time_key or rmc.date is None:
            return None
        self._gga = self._rmc = None
        key = gga.time_key
        seconds = float(key[4:])
        utc = dt.datetime.combine(
            rmc.date,
            dt.time(
                int(key[0:2]), int(key[2:4]), int(seconds), round((seconds % 1) * 1e6) % 1_000_000
            ),
            tzinfo=dt.UTC,
        )
        return GnssFix(
            utc=utc,
            fix_quality=gga.fix_quality,
            satellites=gga.satellites,
            hdop=gga.hdop,
            lat_deg=gga.lat_deg if gga.lat_deg is not None else rmc.lat_deg,
            lon_deg=gga.lon_deg if gga.lon_deg is not None else rmc.lon_deg,
            alt_m=gga.alt_m,
            geoid_sep_m=gga.geoid_sep_m,
            speed_mps=rmc.speed_mps,
            course_deg=rmc.course_deg,
            status_valid=rmc.valid,
        )


class GnssReceiver:
    """A receiver on a serial port. Reads never block except while waiting for a first epoch.

    stale_after_s: a fix older than this (or no fix this long after opening) is an error; at
    1 Hz, 3 s means three epochs in a row went missing.
    """

    def __init__(self, port: str, *, baud: int = 9600, stale_after_s: float = 3.0) -> None:
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be > 0, got {stale_after_s}")
        self.port = port
        self._stale_after_s = stale_after_s
        try:
            self._serial = serial.Serial(port, baudrate=baud, timeout=0)
            self._serial.reset_input_buffer()  # drop whatever queued up before we listened
        except (serial.SerialException, OSError) as exc:
            raise DriverError(f"cannot open serial port: {exc}", device="GNSS", where=port) from exc
        self._splitter = LineSplitter()
        self.assembler = NmeaAssembler(where=port)
        self._opened_s = time.monotonic()
        self.latest: GnssFix | None = None
        self._latest_s = 0.0

    def _read_available(self) -> None:
        try:
            data: bytes = self._serial.read(4096)
        except (serial.SerialException, OSError) as exc:
            raise DriverError(f"serial read failed: {exc}", device="GNSS", where=self.port) from exc
        if not data:
            return
        for line in self._splitter.feed(data):
            fix = self.assembler.feed_line(line)
            if fix is not None:
                self.latest = fix
                self._latest_s = time.monotonic()

    def wait_for_data(self, timeout_s: float) -> bool:
        """Block until bytes are waiting on the port or timeout_s passes; True if there are."""
        try:
            ready, _, _ = select.select([self._serial.fileno()], [], [], max(0.0, timeout_s))
        except (OSError, ValueError) as exc:
            raise DriverError(
                f"waiting for data failed: {exc}", device="GNSS", where=self.port
            ) from exc
        return bool(ready)

    def current(self) -> GnssFix:
        """The latest epoch (fix or not); waits for the first one up to stale_after_s."""
        self._read_available()
        deadline_s = self._opened_s + self._stale_after_s
        while self.latest is None and (remaining_s := deadline_s - time.monotonic()) > 0:
            self.wait_for_data(remaining_s)
            self._read_available()
        now_s = time.monotonic()
        if self.latest is None:
            raise DeviceTimeoutError(
                f"no complete GGA+RMC epoch within {now_s - self._opened_s:.1f} s of opening "
                f"({self.assembler.sentences} good, {self.assembler.errors} bad sentences); "
                "check baud rate, wiring and antenna",
                device="GNSS",
                where=self.port,
            )
        age_s = now_s - self._latest_s
        if age_s > self._stale_after_s:
            raise DeviceTimeoutError(
                f"receiver silent: last epoch {age_s:.1f} s ago", device="GNSS", where=self.port
            )
        return self.latest

    def current_fix(self) -> GnssFix:
        """Like current(), but an epoch without a position fix raises GnssNoFixError."""
        fix = self.current()
        if not fix.has_fix:
            raise GnssNoFixError(
                f"no position fix (quality {fix.fix_quality}, {fix.satellites} satellites, "
                f"RMC status {'A' if fix.status_valid else 'V'}) at {fix.utc:%H:%M:%S} UTC",
                device="GNSS",
                where=self.port,
            )
        return fix

    def close(self) -> None:
        self._serial.close()

    def __enter__(self) -> GnssReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
