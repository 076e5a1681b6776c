"""NMEA 0183: checksums, GGA/RMC parsing, epoch assembly, and the emulator's sentences."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.drivers.errors import NmeaError
from edge.drivers.gnss import (
    Gga,
    LineSplitter,
    NmeaAssembler,
    Rmc,
    nmea_checksum,
    parse_sentence,
)
from firmware_sim.faults import Fault, FaultInjector, SimClock
from firmware_sim.gnss import GnssEmulator, format_epoch, nmea_sentence
from firmware_sim.signals import GnssModel, GnssTruth, Site

# The textbook sentences (NMEA reference examples, checksums as published).
GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"


def test_textbook_checksums() -> None:
    assert nmea_checksum(GGA[1:-3]) == 0x47
    assert nmea_checksum(RMC[1:-3]) == 0x6A
    assert nmea_sentence(GGA[1:-3]) == (GGA + "\r\n").encode()


def test_parse_textbook_gga_and_rmc() -> None:
    gga = parse_sentence(GGA)
    assert isinstance(gga, Gga)
    assert gga.lat_deg == pytest.approx(48.1173)
    assert gga.lon_deg == pytest.approx(11.516667, abs=1e-6)
    assert (gga.fix_quality, gga.satellites, gga.hdop) == (1, 8, 0.9)
    assert (gga.alt_m, gga.geoid_sep_m) == (545.4, 46.9)
    rmc = parse_sentence(RMC)
    assert isinstance(rmc, Rmc)
    assert rmc.valid
    assert rmc.date == dt.date(1994, 3, 23)  # two-digit year before 2000
    assert rmc.speed_mps == pytest.approx(22.4 * 0.514444)
    assert rmc.course_deg == 84.4


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (GGA[:-2] + "48", "checksum mismatch"),
        (GGA[:-3], r"not a sentence"),
        ("GPGGA,123519*47", "not a sentence"),
        (GGA[:-2] + "ZZ", "checksum is not hex"),
        ("$GPGGA,123519,4807.038,N*", "not a sentence"),
        (nmea_sentence("GPGGA,123519,4807.038,N").decode(), "GGA with too few fields"),
        (nmea_sentence("GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,").decode(),
         "bad field"),
        (nmea_sentence("GPGGA,123519,4875.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,").decode(),
         "bad field"),
        (nmea_sentence("GPRMC,12x519,A,4807.038,N,01131.000,E,0,0,230394,,").decode(), "bad field"),
    ],
)  # fmt: skip
def test_malformed_sentences(line: str, message: str) -> None:
    with pytest.raises(NmeaError, match=message) as info:
        parse_sentence(line, where="/dev/ttyAMA0")
    assert "GNSS at /dev/ttyAMA0" in str(info.value)
    assert info.value.line == line.strip()


def test_other_sentence_types_are_skipped_not_errors() -> None:
    for body in ("GPGSV,3,1,11,03,03,111,00", "GNGSA,A,3,,,,,,,,,,,,,2.5,1.3,2.1", "PUBX,00"):
        assert parse_sentence(nmea_sentence(body).decode()) is None


UTC = dt.datetime(2025, 6, 15, 3, 4, 5, 250_000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(35.6812, 139.7671), (-33.8568, 151.2153), (-23.5505, -46.6333), (51.5007, -0.1246)],
)
def test_emulator_epoch_round_trips_through_the_parser(lat: float, lon: float) -> None:
    truth = GnssTruth(
        lat_deg=lat, lon_deg=lon, alt_m=12.3, geoid_sep_m=37.0, satellites=9, hdop=0.94,
        fix_quality=1,
    )  # fmt: skip
    assembler = NmeaAssembler()
    fixes = [assembler.feed_line(line) for line in format_epoch(UTC, truth).decode().splitlines()]
    assert fixes[0] is None  # RMC first; the fix completes with the GGA
    fix = fixes[1]
    assert fix is not None and fix.has_fix
    assert fix.lat_deg == pytest.approx(lat, abs=1e-7)  # 5 decimals of minutes: ~2 cm
    assert fix.lon_deg == pytest.approx(lon, abs=1e-7)
    assert fix.utc == UTC.replace(microsecond=250_000)
    assert (fix.satellites, fix.hdop, fix.alt_m, fix.fix_quality) == (9, 0.94, 12.3, 1)
    assert assembler.errors == 0


def test_no_fix_epoch() -> None:
    assembler = NmeaAssembler()
    lines = format_epoch(UTC, None).decode().splitlines()
    fix = [assembler.feed_line(line) for line in lines][-1]
    assert fix is not None
    assert not fix.has_fix
    assert (fix.fix_quality, fix.status_valid, fix.lat_deg) == (0, False, None)


def test_assembler_pairs_by_time_and_counts_corruption() -> None:
    truth = GnssModel(Site(lat_deg=35.0, lon_deg=135.0), 1).truth(0.0)
    epoch1 = format_epoch(UTC, truth).decode().splitlines()
    epoch2 = format_epoch(UTC + dt.timedelta(seconds=1), truth).decode().splitlines()
    assembler = NmeaAssembler()
    corrupted = epoch1[1].replace("GGA", "GGB")  # the checksum no longer matches
    assert assembler.feed_line(epoch1[0]) is None
    assert assembler.feed_line(corrupted) is None
    assert assembler.feed_line(epoch2[0]) is None  # a new RMC replaces the unpaired one
    fix = assembler.feed_line(epoch2[1])
    assert fix is not None and fix.utc == UTC + dt.timedelta(seconds=1)
    assert (assembler.errors, assembler.sentences) == (1, 3)
    assert isinstance(assembler.last_error, NmeaError)


def test_line_splitter_handles_chunks_and_garbage() -> None:
    splitter = LineSplitter()
    data = (GGA + "\r\n" + RMC + "\r\n").encode()
    lines: list[str] = []
    for i in range(0, len(data), 7):
        lines += splitter.feed(data[i : i + 7])
    assert lines == [GGA, RMC]
    assert splitter.feed(b"\x00" * 500) == []
    assert splitter.dropped_bytes == 500
    assert splitter.feed(b"\r\n\r\n") == []


def test_emulator_content_is_deterministic_and_faults_apply() -> None:
    site = Site(lat_deg=35.0, lon_deg=135.0)
    start_ns = 1_750_000_000 * 10**9

    def emulator(faults: list[Fault]) -> GnssEmulator:
        clock = SimClock(start_ns=start_ns, realtime=False)
        return GnssEmulator(GnssModel(site, 77), clock, faults=FaultInjector(faults, seed=1))

    a, b = emulator([]), emulator([])
    no_fix = emulator([Fault(target="gnss", kind="no_fix", start_s=10.0)])
    silent = emulator([Fault(target="gnss", kind="dropout", start_s=10.0, duration_s=5.0)])
    try:
        t = start_ns + 3 * 10**9 + 123
        assert a.epoch_bytes(t) == b.epoch_bytes(t) == no_fix.epoch_bytes(t)
        assert a.epoch_bytes(t) != a.epoch_bytes(t + 10**9)
        later = start_ns + 12 * 10**9
        assert b",0,00,99.99" in (no_fix.epoch_bytes(later) or b"")
        assert silent.epoch_bytes(later) is None
        assert silent.epoch_bytes(later + 5 * 10**9) is not None
    finally:
        for e in (a, b, no_fix, silent):
            e.stop()
