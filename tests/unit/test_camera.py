"""Tests for inspection.camera: intrinsics, rotation conventions, projection round trips,
ground footprint and ground sample distance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inspection.camera import (
    DEFAULT_INTRINSICS,
    CameraError,
    CameraIntrinsics,
    CameraPose,
    PinholeCamera,
    enu_from_geodetic,
    geodetic_from_enu,
    rotation_enu_to_camera,
)
from inspection.geo import LocalFrame

FRAME = LocalFrame(36.5590, 139.8980)


def _camera(alt: float, heading: float, pitch: float, roll: float = 0.0) -> PinholeCamera:
    pose = CameraPose(FRAME.lat0_deg, FRAME.lon0_deg, alt, heading, pitch, roll)
    return PinholeCamera(DEFAULT_INTRINSICS, pose, FRAME)


def test_default_intrinsics_are_dji_like() -> None:
    k = DEFAULT_INTRINSICS
    assert (k.width_px, k.height_px) == (1280, 720)
    assert k.hfov_deg == pytest.approx(73.74, abs=0.01)
    assert k.cx_px == 639.5 and k.cy_px == 359.5


def test_from_hfov_and_scaled() -> None:
    k = CameraIntrinsics.from_hfov(1000, 500, 90.0)
    assert k.fx_px == pytest.approx(500.0)
    half = k.scaled(500, 250)
    assert half.fx_px == pytest.approx(250.0)
    assert half.hfov_deg == pytest.approx(90.0)
    assert half.cx_px == pytest.approx(249.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width_px": 0}, "image size"),
        ({"fx_px": -1.0}, "focal"),
        ({"cy_px": float("nan")}, "finite"),
    ],
)
def test_intrinsics_validate(kwargs: dict[str, float], message: str) -> None:
    base: dict[str, float] = {
        "width_px": 10,
        "height_px": 10,
        "fx_px": 5.0,
        "fy_px": 5.0,
        "cx_px": 4.5,
        "cy_px": 4.5,
    }
    base.update(kwargs)
    with pytest.raises(CameraError, match=message):
        CameraIntrinsics(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pose_args", "message"),
    [
        ((36.0, 139.0, 10.0, 0.0, -95.0, 0.0), "pitch"),
        ((136.0, 139.0, 10.0, 0.0, -45.0, 0.0), "lat"),
        ((36.0, 139.0, float("inf"), 0.0, -45.0, 0.0), "finite"),
    ],
)
def test_pose_validates(pose_args: tuple[float, ...], message: str) -> None:
    with pytest.raises(CameraError, match=message):
        CameraPose(*pose_args)


@pytest.mark.parametrize(
    ("heading", "pitch", "roll", "forward", "right"),
    [
        (0.0, 0.0, 0.0, (0, 1, 0), (1, 0, 0)),
        (90.0, 0.0, 0.0, (1, 0, 0), (0, -1, 0)),
        (0.0, -90.0, 0.0, (0, 0, -1), (1, 0, 0)),
        (180.0, -90.0, 0.0, (0, 0, -1), (-1, 0, 0)),
        (0.0, 0.0, 90.0 - 1e-9, (0, 1, 0), (0, 0, -1)),
    ],
)
def test_rotation_axes(
    heading: float,
    pitch: float,
    roll: float,
    forward: tuple[int, int, int],
    right: tuple[int, int, int],
) -> None:
    rot = rotation_enu_to_camera(heading, pitch, roll)
    assert rot @ rot.T == pytest.approx(np.eye(3), abs=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    assert rot[2] == pytest.approx(np.array(forward, dtype=float), abs=1e-7)
    assert rot[0] == pytest.approx(np.array(right, dtype=float), abs=1e-7)


def test_nadir_north_up_east_right() -> None:
    cam = _camera(20.0, 0.0, -90.0)
    px, depth = cam.project([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    k = DEFAULT_INTRINSICS
    assert depth == pytest.approx([20.0, 20.0, 20.0])
    assert px[0] == pytest.approx([k.cx_px, k.cy_px])
    assert px[1, 0] > k.cx_px  # east is right
    assert px[2, 1] < k.cy_px  # north is up


@pytest.mark.parametrize(
    ("heading", "pitch", "roll"),
    [(0.0, -90.0, 0.0), (37.0, -45.0, 2.0), (250.0, -30.0, -4.0), (120.0, -60.0, 0.5)],
)
def test_pixel_to_ground_inverts_project(heading: float, pitch: float, roll: float) -> None:
    cam = _camera(25.0, heading, pitch, roll)
    rng = np.random.default_rng(3)
    px = np.column_stack([rng.uniform(0, 1279, 50), rng.uniform(0, 719, 50)])
    ground, hit = cam.pixel_to_ground(px)
    assert hit.all()
    assert ground[:, 2] == pytest.approx(np.zeros(50), abs=1e-9)
    back, depth = cam.project(ground)
    assert (depth > 0).all()
    assert back == pytest.approx(px, abs=1e-6)


def test_pixel_above_horizon_misses_ground() -> None:
    cam = _camera(20.0, 0.0, 0.0)
    pts, hit = cam.pixel_to_ground([[640.0, 10.0], [640.0, 700.0]])
    assert hit.tolist() == [False, True]
    assert np.isnan(pts[0]).all()


def test_points_behind_camera_have_negative_depth() -> None:
    cam = _camera(20.0, 0.0, 0.0)
    px, depth = cam.project([[0.0, -10.0, 20.0]])
    assert depth[0] < 0 and np.isnan(px).all()
    assert not cam.in_image(px, depth)[0]


def test_nadir_footprint_and_gsd() -> None:
    cam = _camera(20.0, 0.0, -90.0)
    fp = cam.footprint_on_ground()
    k = DEFAULT_INTRINSICS
    assert fp.width_m == pytest.approx(20.0 * k.width_px / k.fx_px, rel=1e-9)
    assert fp.length_m == pytest.approx(20.0 * k.height_px / k.fy_px, rel=1e-9)
    assert fp.area_m2 == pytest.approx(fp.width_m * fp.length_m, rel=1e-9)
    assert not fp.clipped
    assert cam.ground_sample_distance_m() == pytest.approx(20.0 / k.fx_px, rel=1e-6)
    assert len(fp.corners_latlon) == 4


def test_oblique_footprint_is_a_trapezoid_further_ahead() -> None:
    cam = _camera(20.0, 90.0, -45.0)
    fp = cam.footprint_on_ground()
    # Looking east: all corners east of the camera, far edge wider than the near edge.
    assert (fp.corners_enu[:, 0] > 0).all()
    near = np.linalg.norm(fp.corners_enu[2] - fp.corners_enu[3])
    far = np.linalg.norm(fp.corners_enu[0] - fp.corners_enu[1])
    assert far > near
    assert cam.ground_sample_distance_m() > 20.0 / DEFAULT_INTRINSICS.fx_px


def test_footprint_clips_when_horizon_is_in_view() -> None:
    cam = _camera(20.0, 0.0, -10.0)
    fp = cam.footprint_on_ground(max_range_m=300.0)
    assert fp.clipped
    assert fp.length_m <= 300.0 + 1e-6
    with pytest.raises(CameraError, match="does not look at the ground"):
        cam.ground_sample_distance_m((640.0, 0.0))


def test_geodetic_helpers_round_trip_and_keep_height_above_ground() -> None:
    enu = enu_from_geodetic(FRAME, [36.5600, 36.5610], [139.8880, 139.8900], [0.0, 12.0])
    # 1 km away the tangent plane would put the ground ~8 cm below u = 0; our convention keeps 0.
    assert enu[:, 2] == pytest.approx([0.0, 12.0])
    geo = geodetic_from_enu(FRAME, enu)
    assert geo[:, 0] == pytest.approx([36.5600, 36.5610], abs=1e-10)
    assert geo[:, 2] == pytest.approx([0.0, 12.0])


def test_camera_position_uses_alt_as_height() -> None:
    cam = _camera(31.0, 0.0, -90.0)
    assert cam.position_enu == pytest.approx([0.0, 0.0, 31.0])
    assert math.isclose(cam.intrinsics.vfov_deg, DEFAULT_INTRINSICS.vfov_deg)
