"""Physical signal models of a pole-mounted node: weather, pole tilt and sway, GNSS, radio link.

Every model is a pure function of a time passed in (Unix seconds, true time) and a seed: the
same seed and time give the same value, whatever order the calls come in. Sensor noise is not
added here; the emulated chips add it, as real converters do. No numpy: these run per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "AccelModel",
    "AccelSource",
    "EnvironmentSample",
    "EnvironmentSource",
    "GnssModel",
    "GnssTruth",
    "LinkModel",
    "LinkTruth",
    "Site",
    "SmoothNoise",
    "TiltModel",
    "WeatherModel",
    "WindModel",
]

_MASK64 = (1 << 64) - 1
_TWO_PI = 2.0 * math.pi
_DAY_S = 86_400.0


def _hash01(seed: int, key: int) -> float:
    """splitmix64 of (seed, key) mapped to [0, 1): random-looking yet a pure function of time."""
    z = (seed * 0x9E3779B97F4A7C15 + key * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return (z >> 11) * (1.0 / (1 << 53))


class SmoothNoise:
    """Value noise in [-1, 1]: random knots every period_s, cosine-interpolated between them."""

    __slots__ = ("_hi", "_k", "_lo", "_period_s", "_seed")

    def __init__(self, seed: int, period_s: float) -> None:
        if period_s <= 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self._seed = seed & _MASK64
        self._period_s = period_s
        self._k: int | None = None  # knot index of the cached pair
        self._lo = 0.0
        self._hi = 0.0

    def __call__(self, t_s: float) -> float:
        x = t_s / self._period_s
        k = math.floor(x)
        if k != self._k:  # cache the knot pair: consecutive samples nearly always share it
            self._k = k
            self._lo = 2.0 * _hash01(self._seed, k) - 1.0
            self._hi = 2.0 * _hash01(self._seed, k + 1) - 1.0
        w = 0.5 - 0.5 * math.cos(math.pi * (x - k))
        return self._lo + (self._hi - self._lo) * w


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """Where a node stands; the weather and the GNSS position follow from it."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 20.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ValueError(f"lat_deg must be in [-90, 90], got {self.lat_deg}")
        if not -180.0 <= self.lon_deg <= 180.0:
            raise ValueError(f"lon_deg must be in [-180, 180], got {self.lon_deg}")
        if not -430.0 <= self.alt_m <= 9000.0:
            raise ValueError(f"alt_m must be in [-430, 9000], got {self.alt_m}")

    def solar_hour(self, t_s: float) -> float:
        """Local mean solar time in hours: the sun, not the time zone, drives the daily cycle."""
        return ((t_s / 3600.0) + self.lon_deg / 15.0) % 24.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentSample:
    temperature_c: float
    humidity_pct: float
    pressure_hpa: float


class EnvironmentSource(Protocol):
    """What a BME280 emulator senses: WeatherModel, or a fixed value in tests."""

    def sample(self, t_s: float) -> EnvironmentSample: ...


class AccelSource(Protocol):
    """What an accelerometer emulator senses, in g: AccelModel, or a scripted signal in tests."""

    def accel_g(self, t_s: float) -> tuple[float, float, float]: ...


class WeatherModel:
    """Air temperature, humidity and station pressure at a site.

    Temperature: annual mean from latitude (Japan: ~23 °C at Naha 26°N, ~9 °C at Sapporo 43°N),
    a seasonal swing peaking in early August, a daily cycle peaking at 14:30 solar time, and
    multi-day weather. Humidity follows from a slowly varying dew point (Magnus formula), so it
    falls as the day warms: anti-correlated with temperature as real RH is. Pressure: barometric
    formula for the altitude, synoptic systems (±10 hPa over days) and the semidiurnal tide.
    """

    def __init__(self, site: Site, seed: int) -> None:
        self._site = site
        self._annual_mean_c = 23.0 - 0.8 * (site.lat_deg - 26.0)
        self._weather_t = SmoothNoise(seed ^ 0x7E3A, 2.3 * _DAY_S)
        self._front_t = SmoothNoise(seed ^ 0x7E3B, 7.0 * 3600.0)
        self._spread = SmoothNoise(seed ^ 0x5D01, 1.7 * _DAY_S)
        self._synoptic = SmoothNoise(seed ^ 0x9A11, 3.1 * _DAY_S)
        self._synoptic_fast = SmoothNoise(seed ^ 0x9A12, 0.9 * _DAY_S)
        self._p_station_hpa = 1013.25 * (1.0 - 2.25577e-5 * site.alt_m) ** 5.25588

    def temperature_c(self, t_s: float) -> float:
        day_of_year = (t_s / _DAY_S) % 365.25
        seasonal = 9.5 * math.cos(_TWO_PI * (day_of_year - 215.0) / 365.25)
        daily = 4.5 * math.cos(_TWO_PI * (self._site.solar_hour(t_s) - 14.5) / 24.0)
        weather = 3.0 * self._weather_t(t_s) + 0.8 * self._front_t(t_s)
        return self._annual_mean_c + seasonal + daily + weather

    def sample(self, t_s: float) -> EnvironmentSample:
        temp_c = self.temperature_c(t_s)
        # Dew point sits below the daily *mean* temperature by a slowly varying spread, so the
        # daily swing of temperature shows up inverted in relative humidity.
        daily_mean_c = temp_c - 4.5 * math.cos(_TWO_PI * (self._site.solar_hour(t_s) - 14.5) / 24.0)
        # A 3-9 °C spread: humid summer nights near 90 %RH, dry winter afternoons near 35 %RH.
        dew_c = daily_mean_c - (6.0 + 3.0 * self._spread(t_s))
        humidity = 100.0 * math.exp(
            17.62 * dew_c / (243.12 + dew_c) - 17.62 * temp_c / (243.12 + temp_c)
        )
        hour = self._site.solar_hour(t_s)
        pressure = (
            self._p_station_hpa
            + 8.0 * self._synoptic(t_s)
            + 2.0 * self._synoptic_fast(t_s)
            + 0.8 * math.cos(_TWO_PI * (hour - 10.0) / 12.0)
        )
        return EnvironmentSample(
            temperature_c=temp_c,
            humidity_pct=min(100.0, max(3.0, humidity)),
            pressure_hpa=pressure,
        )


class WindModel:
    """Wind speed in m/s: a slowly varying mean, windier afternoons, gusts of a few seconds."""

    def __init__(self, site: Site, seed: int, *, mean_mps: float = 3.5) -> None:
        self._site = site
        self._mean_mps = mean_mps
        self._hourly = SmoothNoise(seed ^ 0x3101, 3600.0)
        self._daily = SmoothNoise(seed ^ 0x3102, 1.3 * _DAY_S)
        self._gust = SmoothNoise(seed ^ 0x3103, 4.0)

    def wind_mps(self, t_s: float) -> float:
        afternoon = 0.35 * math.cos(_TWO_PI * (self._site.solar_hour(t_s) - 15.0) / 24.0)
        mean = self._mean_mps * (1.0 + 0.5 * self._hourly(t_s) + 0.4 * self._daily(t_s) + afternoon)
        # Gust factor 0.7..1.5 times the mean, as anemometers near roads report.
        return max(0.0, mean * (1.1 + 0.4 * self._gust(t_s)))


class TiltModel:
    """Pole tilt in degrees about x and y: initial lean, slow creep, sun bending, wind lean."""

    def __init__(
        self,
        site: Site,
        seed: int,
        wind: WindModel,
        *,
        start_s: float,
        drift_deg_per_day: float | None = None,
    ) -> None:
        self._site = site
        self._wind = wind
        self._start_s = start_s
        # Every pole leans a little from the day it was set; a few tenths of a degree is typical.
        self._x0 = 0.6 * (_hash01(seed, 11) - 0.5)
        self._y0 = 0.6 * (_hash01(seed, 12) - 0.5)
        if drift_deg_per_day is None:
            # Foundation creep: up to ~0.01°/day on soft ground, usually far less.
            drift_deg_per_day = 0.01 * _hash01(seed, 13)
        heading = _TWO_PI * _hash01(seed, 14)
        self._drift_x = drift_deg_per_day * math.cos(heading)
        self._drift_y = drift_deg_per_day * math.sin(heading)
        self._wind_dir = _TWO_PI * _hash01(seed, 15)

    def tilt_deg(self, t_s: float) -> tuple[float, float]:
        days = (t_s - self._start_s) / _DAY_S
        # The sunlit side of a steel pole expands: a daily bend of a few hundredths of a degree.
        sun = 0.03 * max(0.0, math.sin(_TWO_PI * (self._site.solar_hour(t_s) - 6.0) / 24.0))
        v = self._wind.wind_mps(t_s)
        lean = 2.0e-4 * v * v  # static deflection grows with drag, i.e. with v²
        x = self._x0 + self._drift_x * days + sun + lean * math.cos(self._wind_dir)
        y = self._y0 + self._drift_y * days + lean * math.sin(self._wind_dir)
        return x, y


class AccelModel:
    """Acceleration in g at the pole top: gravity (from tilt) plus wind-driven sway.

    The sway is the pole's first bending mode (2-5 Hz for street-light poles, seeded per node)
    excited with an amplitude growing as wind speed squared (drag), in two orthogonal planes.
    Tilt changes slowly, so the gravity vector is cached for 0.5 s to keep a sample cheap.
    """

    def __init__(self, tilt: TiltModel, wind: WindModel, seed: int) -> None:
        self._tilt = tilt
        self._wind = wind
        self._f0_hz = 2.0 + 3.0 * _hash01(seed, 21)
        self._f1_hz = self._f0_hz * (1.0 + 0.04 * _hash01(seed, 22))
        self._phase_x = _hash01(seed, 23)
        self._phase_y = _hash01(seed, 24)
        self._gravity_t = -math.inf
        self._gravity = (0.0, 0.0, 1.0)
        self._amp_t = -math.inf
        self._amp_g = 0.0

    @property
    def natural_frequency_hz(self) -> float:
        return self._f0_hz

    def gravity_g(self, t_s: float) -> tuple[float, float, float]:
        if abs(t_s - self._gravity_t) > 0.5:
            tx, ty = self._tilt.tilt_deg(t_s)
            gx = math.sin(math.radians(tx))
            gy = math.sin(math.radians(ty))
            # Chosen so that atan2(gx, hypot(gy, gz)) gives back tx exactly (and likewise ty).
            self._gravity = (gx, gy, math.sqrt(max(0.0, 1.0 - gx * gx - gy * gy)))
            self._gravity_t = t_s
        return self._gravity

    def sway_amplitude_g(self, t_s: float) -> float:
        if abs(t_s - self._amp_t) > 0.05:
            v = self._wind.wind_mps(t_s)
            # 0.002 g at calm air (traffic), ~0.02 g at 10 m/s, ~0.1 g in a 22 m/s storm.
            self._amp_g = 0.002 + 2.0e-4 * v * v
            self._amp_t = t_s
        return self._amp_g

    def accel_g(self, t_s: float) -> tuple[float, float, float]:
        gx, gy, gz = self.gravity_g(t_s)
        amp = self.sway_amplitude_g(t_s)
        sx = amp * math.sin(_TWO_PI * ((self._f0_hz * t_s + self._phase_x) % 1.0))
        sy = 0.6 * amp * math.sin(_TWO_PI * ((self._f1_hz * t_s + self._phase_y) % 1.0))
        return gx + sx, gy + sy, gz


@dataclass(frozen=True, slots=True)
class GnssTruth:
    lat_deg: float
    lon_deg: float
    alt_m: float
    geoid_sep_m: float
    satellites: int
    hdop: float
    fix_quality: int


class GnssModel:
    """What a receiver on the pole reports: position wander of a metre or two, satellites, HDOP."""

    _M_PER_DEG_LAT = 111_320.0

    def __init__(self, site: Site, seed: int, *, geoid_sep_m: float = 37.0) -> None:
        self._site = site
        self._geoid_sep_m = geoid_sep_m  # ~35-40 m across Honshu (GSI geoid model)
        self._north = SmoothNoise(seed ^ 0x6001, 40.0)
        self._east = SmoothNoise(seed ^ 0x6002, 47.0)
        self._up = SmoothNoise(seed ^ 0x6003, 55.0)
        self._sats = SmoothNoise(seed ^ 0x6004, 900.0)
        # Some receivers use SBAS (MSAS over Japan) and report quality 2.
        self._quality = 2 if _hash01(seed, 31) < 0.3 else 1

    def truth(self, t_s: float) -> GnssTruth:
        satellites = 11 + round(5.0 * self._sats(t_s))
        hdop = round(0.5 + 6.0 / satellites, 2)
        wander_m = 1.2 * hdop
        d_north = wander_m * self._north(t_s)
        d_east = wander_m * self._east(t_s)
        m_per_deg_lon = self._M_PER_DEG_LAT * math.cos(math.radians(self._site.lat_deg))
        return GnssTruth(
            lat_deg=self._site.lat_deg + d_north / self._M_PER_DEG_LAT,
            lon_deg=self._site.lon_deg + d_east / max(m_per_deg_lon, 1.0),
            alt_m=self._site.alt_m + 2.5 * wander_m * self._up(t_s),
            geoid_sep_m=self._geoid_sep_m,
            satellites=satellites,
            hdop=hdop,
            fix_quality=self._quality,
        )


@dataclass(frozen=True, slots=True)
class LinkTruth:
    registered: bool
    rat: str
    rsrp_dbm: float
    sinr_db: float
    rssi_dbm: float


class LinkModel:
    """Cellular link quality as an LTE/5G modem reports it, with occasional outages.

    RSRP: a per-site mean (-80..-110 dBm), slow shadowing (±6 dB over minutes) and fast fading
    (±2 dB per second). SINR follows RSRP (cell-edge nodes see both low). RSSI is RSRP plus the
    ~30 dB of a fully loaded 20 MHz carrier (10·log10(12·100 subcarriers)). Outages: each
    10-minute slot has outage_probability of holding one 20-120 s loss of service.
    """

    _SLOT_S = 600.0

    def __init__(self, seed: int, *, outage_probability: float = 0.02, rat: str = "LTE") -> None:
        if not 0.0 <= outage_probability <= 1.0:
            raise ValueError(f"outage_probability must be in [0, 1], got {outage_probability}")
        self._seed = seed
        self._rat = rat
        self._outage_probability = outage_probability
        self._mean_rsrp = -80.0 - 30.0 * _hash01(seed, 41)
        self._shadow = SmoothNoise(seed ^ 0x4401, 180.0)
        self._fast = SmoothNoise(seed ^ 0x4402, 1.0)
        self._interference = SmoothNoise(seed ^ 0x4403, 300.0)

    def in_outage(self, t_s: float) -> bool:
        slot = math.floor(t_s / self._SLOT_S)
        if _hash01(self._seed ^ 0x4404, slot) >= self._outage_probability:
            return False
        begin = slot * self._SLOT_S + 400.0 * _hash01(self._seed ^ 0x4405, slot)
        length = 20.0 + 100.0 * _hash01(self._seed ^ 0x4406, slot)
        return begin <= t_s < begin + length

    def truth(self, t_s: float) -> LinkTruth:
        rsrp = self._mean_rsrp + 6.0 * self._shadow(t_s) + 2.0 * self._fast(t_s)
        sinr = 0.55 * (rsrp + 112.0) + 3.0 * self._interference(t_s)
        rsrp = min(-44.0, max(-140.0, rsrp))
        return LinkTruth(
            registered=not self.in_outage(t_s),
            rat=self._rat,
            rsrp_dbm=rsrp,
            sinr_db=min(30.0, max(-20.0, sinr)),
            rssi_dbm=min(-25.0, rsrp + 30.8),
        )
