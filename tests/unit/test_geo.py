"""Tests for inspection.geo: ENU tangent plane, haversine, bearings, destinations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inspection.geo import (
    GeoError,
    LocalFrame,
    bearing_deg,
    destination,
    haversine_m,
)

UTSUNOMIYA = (36.5590, 139.8980)


@pytest.mark.parametrize(
    ("lat", "lon", "alt"),
    [
        (36.5590, 139.8980, 0.0),
        (36.5600, 139.9000, 25.0),
        (36.5500, 139.8900, -3.0),
        (36.5690, 139.8880, 120.0),
    ],
)
def test_enu_round_trip_is_sub_millimetre(lat: float, lon: float, alt: float) -> None:
    frame = LocalFrame(*UTSUNOMIYA, 0.0)
    e, n, u = frame.to_enu(lat, lon, alt)
    back = frame.to_geodetic(e, n, u)
    assert back[0] == pytest.approx(lat, abs=1e-9)
    assert back[1] == pytest.approx(lon, abs=1e-9)
    assert back[2] == pytest.approx(alt, abs=1e-3)


def test_enu_axes_point_east_north_up() -> None:
    frame = LocalFrame(*UTSUNOMIYA)
    e, n, u = frame.to_enu(UTSUNOMIYA[0], UTSUNOMIYA[1] + 0.001, 0.0)
    assert e > 80 and abs(n) < 0.01 and abs(u) < 0.01
    e, n, u = frame.to_enu(UTSUNOMIYA[0] + 0.001, UTSUNOMIYA[1], 0.0)
    assert n > 100 and abs(e) < 1e-6
    assert frame.to_enu(*UTSUNOMIYA, 12.5) == pytest.approx((0.0, 0.0, 12.5), abs=1e-6)


def test_enu_distance_agrees_with_haversine_within_half_percent() -> None:
    frame = LocalFrame(*UTSUNOMIYA)
    lat2, lon2 = 36.5620, 139.8870
    e, n, _ = frame.to_enu(lat2, lon2, 0.0)
    assert math.hypot(e, n) == pytest.approx(haversine_m(*UTSUNOMIYA, lat2, lon2), rel=5e-3)


def test_array_variants_match_scalar() -> None:
    frame = LocalFrame(*UTSUNOMIYA, 10.0)
    lats = np.array([36.559, 36.561, 36.557])
    lons = np.array([139.898, 139.894, 139.901])
    alts = np.array([0.0, 5.0, 30.0])
    enu = frame.to_enu_array(lats, lons, alts)
    assert enu.shape == (3, 3)
    for i in range(3):
        assert enu[i] == pytest.approx(frame.to_enu(lats[i], lons[i], alts[i]))
    geo = frame.to_geodetic_array(enu)
    assert geo[:, 0] == pytest.approx(lats, abs=1e-9)
    assert geo[:, 1] == pytest.approx(lons, abs=1e-9)
    three = frame.to_geodetic_array(enu[:, 0], enu[:, 1], enu[:, 2])
    assert three == pytest.approx(geo)


def test_haversine_known_distance() -> None:
    # One degree of latitude on the mean sphere.
    assert haversine_m(36.0, 139.0, 37.0, 139.0) == pytest.approx(111_195.0, rel=1e-4)
    assert haversine_m(*UTSUNOMIYA, *UTSUNOMIYA) == 0.0


@pytest.mark.parametrize(
    ("dlat", "dlon", "expected"),
    [(0.01, 0.0, 0.0), (0.0, 0.01, 90.0), (-0.01, 0.0, 180.0), (0.0, -0.01, 270.0)],
)
def test_bearing_cardinal_directions(dlat: float, dlon: float, expected: float) -> None:
    got = bearing_deg(*UTSUNOMIYA, UTSUNOMIYA[0] + dlat, UTSUNOMIYA[1] + dlon)
    assert min(abs(got - expected), 360 - abs(got - expected)) < 0.01


@pytest.mark.parametrize("bearing", [0.0, 45.0, 123.0, 270.0, 359.0])
def test_destination_inverts_distance_and_bearing(bearing: float) -> None:
    lat, lon = destination(*UTSUNOMIYA, bearing, 750.0)
    assert haversine_m(*UTSUNOMIYA, lat, lon) == pytest.approx(750.0, abs=1e-6)
    got = bearing_deg(*UTSUNOMIYA, lat, lon)
    assert min(abs(got - bearing), 360 - abs(got - bearing)) < 1e-6


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: LocalFrame(91.0, 0.0), "latitude"),
        (lambda: LocalFrame(float("nan"), 0.0), "finite"),
        (lambda: haversine_m(0.0, 0.0, -95.0, 0.0), "latitude"),
        (lambda: destination(0.0, 0.0, float("inf"), 1.0), "finite"),
        (lambda: LocalFrame(0.0, 0.0).to_geodetic_array(np.zeros((2, 2))), "shape"),
        (lambda: LocalFrame(0.0, 0.0).to_enu_array([100.0], [0.0], [0.0]), "latitude"),
    ],
)
def test_invalid_input_is_rejected(call: object, message: str) -> None:
    with pytest.raises(GeoError, match=message):
        call()  # type: ignore[operator]
