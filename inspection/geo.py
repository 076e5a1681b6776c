"""WGS84 geodesy for inspection work: a local East-North-Up (ENU) tangent plane around an
origin, great-circle distances, bearings and destinations. Pure functions, no I/O.

Heights are metres above the WGS84 ellipsoid in the geodetic functions; in a `LocalFrame` the
`u` axis is metres above the origin's height, so a frame built with `alt0_m=0` and fed heights
above ground/home gives `u` = height above home, which is what drones report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "EARTH_MEAN_RADIUS_M",
    "WGS84_A_M",
    "WGS84_F",
    "GeoError",
    "LocalFrame",
    "bearing_deg",
    "destination",
    "haversine_m",
]

FloatArray = npt.NDArray[np.float64]

WGS84_A_M = 6_378_137.0
WGS84_F = 1.0 / 298.257223563
_E2 = WGS84_F * (2.0 - WGS84_F)
_B_M = WGS84_A_M * (1.0 - WGS84_F)
_EP2 = (WGS84_A_M**2 - _B_M**2) / _B_M**2
# IUGG mean radius: the usual choice for haversine; error vs the ellipsoid is <0.5 %.
EARTH_MEAN_RADIUS_M = 6_371_008.8


class GeoError(ValueError):
    """Invalid geodetic input (latitude out of range, non-finite value)."""


def _check_lat_lon(lat_deg: float, lon_deg: float) -> None:
    if not (math.isfinite(lat_deg) and math.isfinite(lon_deg)):
        raise GeoError(f"latitude/longitude must be finite, got ({lat_deg}, {lon_deg})")
    if not -90.0 <= lat_deg <= 90.0:
        raise GeoError(f"latitude must be within [-90, 90] degrees, got {lat_deg}")
    if not -180.0 <= lon_deg <= 360.0:
        raise GeoError(f"longitude must be within [-180, 360] degrees, got {lon_deg}")


def _geodetic_to_ecef(
    lat_deg: FloatArray, lon_deg: FloatArray, h_m: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    sin_lat = np.sin(lat)
    n = WGS84_A_M / np.sqrt(1.0 - _E2 * sin_lat**2)
    x = (n + h_m) * np.cos(lat) * np.cos(lon)
    y = (n + h_m) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - _E2) + h_m) * sin_lat
    return x, y, z


def _ecef_to_geodetic(
    x: FloatArray, y: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    # Bowring's method with two refinement steps: sub-millimetre near the Earth's surface.
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    theta = np.arctan2(z * WGS84_A_M, p * _B_M)
    lat = np.arctan2(z + _EP2 * _B_M * np.sin(theta) ** 3, p - _E2 * WGS84_A_M * np.cos(theta) ** 3)
    for _ in range(2):
        sin_lat = np.sin(lat)
        n = WGS84_A_M / np.sqrt(1.0 - _E2 * sin_lat**2)
        h = p / np.maximum(np.cos(lat), 1e-12) - n
        lat = np.arctan2(z, p * (1.0 - _E2 * n / (n + h)))
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A_M / np.sqrt(1.0 - _E2 * sin_lat**2)
    # Use the better-conditioned formula depending on latitude (poles vs equator).
    h = np.where(
        np.abs(cos_lat) > 1e-3,
        p / np.where(np.abs(cos_lat) > 1e-3, cos_lat, 1.0) - n,
        z / np.where(np.abs(sin_lat) > 1e-12, sin_lat, 1.0) - n * (1.0 - _E2),
    )
    return np.degrees(lat), np.degrees(lon), h


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """East-North-Up tangent plane at (lat0_deg, lon0_deg, alt0_m); axes in metres."""

    lat0_deg: float
    lon0_deg: float
    alt0_m: float = 0.0

    def __post_init__(self) -> None:
        _check_lat_lon(self.lat0_deg, self.lon0_deg)
        if not math.isfinite(self.alt0_m):
            raise GeoError(f"alt0_m must be finite, got {self.alt0_m}")

    def _rotation(self) -> FloatArray:
        """Rows are the E, N, U unit vectors expressed in ECEF."""
        lat = math.radians(self.lat0_deg)
        lon = math.radians(self.lon0_deg)
        sl, cl = math.sin(lat), math.cos(lat)
        so, co = math.sin(lon), math.cos(lon)
        return np.array(
            [[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]], dtype=np.float64
        )

    def _origin_ecef(self) -> FloatArray:
        x, y, z = _geodetic_to_ecef(
            np.array(self.lat0_deg), np.array(self.lon0_deg), np.array(self.alt0_m)
        )
        return np.array([float(x), float(y), float(z)])

    def to_enu_array(
        self, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, alt_m: npt.ArrayLike
    ) -> FloatArray:
        """Vectorised geodetic -> ENU; returns an (..., 3) array of (e, n, u) metres."""
        lat = np.asarray(lat_deg, dtype=np.float64)
        lon = np.asarray(lon_deg, dtype=np.float64)
        alt = np.asarray(alt_m, dtype=np.float64)
        if not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon)) and np.all(np.isfinite(alt))):
            raise GeoError("to_enu_array: inputs must be finite")
        if np.any(np.abs(lat) > 90.0):
            raise GeoError("to_enu_array: latitude must be within [-90, 90] degrees")
        x, y, z = _geodetic_to_ecef(lat, lon, alt)
        d = np.stack([x, y, z], axis=-1) - self._origin_ecef()
        return np.asarray(d @ self._rotation().T, dtype=np.float64)

    def to_geodetic_array(
        self,
        enu_m: npt.ArrayLike,
        n_m: npt.ArrayLike | None = None,
        u_m: npt.ArrayLike | None = None,
    ) -> FloatArray:
        """Vectorised ENU -> (..., 3) array of (lat_deg, lon_deg, alt_m).

        Takes either one (..., 3) array of (e, n, u) or three arrays `e, n, u`.
        """
        if n_m is None and u_m is None:
            enu = np.asarray(enu_m, dtype=np.float64)
        elif n_m is not None and u_m is not None:
            enu = np.stack(
                np.broadcast_arrays(
                    np.asarray(enu_m, dtype=np.float64),
                    np.asarray(n_m, dtype=np.float64),
                    np.asarray(u_m, dtype=np.float64),
                ),
                axis=-1,
            )
        else:
            raise GeoError("to_geodetic_array: pass one (..., 3) array or all of e, n, u")
        if enu.shape[-1:] != (3,):
            raise GeoError(f"to_geodetic_array: expected (..., 3) array, got shape {enu.shape}")
        if not np.all(np.isfinite(enu)):
            raise GeoError("to_geodetic_array: inputs must be finite")
        ecef = enu @ self._rotation() + self._origin_ecef()
        lat, lon, h = _ecef_to_geodetic(ecef[..., 0], ecef[..., 1], ecef[..., 2])
        # Keep longitudes in the origin's branch (no jump at the antimeridian for nearby points).
        lon = (lon - self.lon0_deg + 180.0) % 360.0 - 180.0 + self.lon0_deg
        return np.stack([lat, lon, h], axis=-1)

    def to_enu(self, lat_deg: float, lon_deg: float, alt_m: float) -> tuple[float, float, float]:
        """Geodetic -> (east_m, north_m, up_m) relative to the origin."""
        _check_lat_lon(lat_deg, lon_deg)
        e, n, u = self.to_enu_array(lat_deg, lon_deg, alt_m)
        return float(e), float(n), float(u)

    def to_geodetic(self, e_m: float, n_m: float, u_m: float) -> tuple[float, float, float]:
        """(east_m, north_m, up_m) -> (lat_deg, lon_deg, alt_m)."""
        lat, lon, alt = self.to_geodetic_array(np.array([e_m, n_m, u_m], dtype=np.float64))
        return float(lat), float(lon), float(alt)


def haversine_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance in metres on the mean-radius sphere."""
    _check_lat_lon(lat1_deg, lon1_deg)
    _check_lat_lon(lat2_deg, lon2_deg)
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp = p2 - p1
    dl = math.radians(lon2_deg - lon1_deg)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_MEAN_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees from north, [0, 360)."""
    _check_lat_lon(lat1_deg, lon1_deg)
    _check_lat_lon(lat2_deg, lon2_deg)
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dl = math.radians(lon2_deg - lon1_deg)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def destination(
    lat_deg: float, lon_deg: float, bearing_deg: float, distance_m: float
) -> tuple[float, float]:
    """Point reached going `distance_m` along a great circle from (lat, lon) at `bearing_deg`."""
    _check_lat_lon(lat_deg, lon_deg)
    if not (math.isfinite(bearing_deg) and math.isfinite(distance_m)):
        raise GeoError(f"bearing/distance must be finite, got ({bearing_deg}, {distance_m})")
    p1 = math.radians(lat_deg)
    l1 = math.radians(lon_deg)
    b = math.radians(bearing_deg)
    d = distance_m / EARTH_MEAN_RADIUS_M
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return math.degrees(p2), lon2
