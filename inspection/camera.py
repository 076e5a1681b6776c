"""The pinhole camera model shared by the renderer and geolocation: intrinsics, drone camera
pose, world (ENU) <-> camera rotation, projection, back-projection and ground footprint.

Conventions (the renderer and geolocation must agree on all of them):
- World frame: a `LocalFrame` ENU tangent plane; the ground is the plane u = 0 and a point's
  `u` is its height above that ground. Horizontal (e, n) come from the tangent plane; Earth
  curvature below the plane (about 8 cm at 1 km) is ignored on purpose, so a height above ground
  stays a height above ground anywhere in a corridor. Use `enu_from_geodetic` /
  `geodetic_from_enu` for this convention.
- Camera frame: OpenCV's, x right, y down, z forward (optical axis).
- Pose: heading_deg clockwise from north (where the camera looks), pitch_deg the gimbal pitch
  (0 = horizon, -90 = nadir, positive = up), roll_deg positive = image right side down.
  alt_m is the camera's height above the world's ground/home.
- Pixels: (u, v) with (0, 0) the centre of the top-left pixel; distortion-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from inspection.geo import LocalFrame

__all__ = [
    "DEFAULT_INTRINSICS",
    "CameraError",
    "CameraIntrinsics",
    "CameraPose",
    "GroundFootprint",
    "PinholeCamera",
    "enu_from_geodetic",
    "geodetic_from_enu",
    "rotation_enu_to_camera",
]

FloatArray = npt.NDArray[np.float64]


class CameraError(ValueError):
    """Invalid camera parameters or a geometric query with no answer (ray misses the ground)."""


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise CameraError(f"{name} must be finite, got {value}")


@dataclass(frozen=True, slots=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels for an image of width_px x height_px."""

    width_px: int
    height_px: int
    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float

    def __post_init__(self) -> None:
        if self.width_px <= 0 or self.height_px <= 0:
            raise CameraError(
                f"image size must be positive, got {self.width_px}x{self.height_px} px"
            )
        for name in ("fx_px", "fy_px", "cx_px", "cy_px"):
            _finite(name, getattr(self, name))
        if self.fx_px <= 0 or self.fy_px <= 0:
            raise CameraError(
                f"focal lengths must be positive, got fx={self.fx_px} fy={self.fy_px}"
            )

    @classmethod
    def from_hfov(cls, width_px: int, height_px: int, hfov_deg: float) -> CameraIntrinsics:
        """Square pixels, principal point at the image centre, horizontal field of view."""
        if not 1.0 <= hfov_deg <= 170.0:
            raise CameraError(f"hfov_deg must be within [1, 170], got {hfov_deg}")
        fx = (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(width_px, height_px, fx, fx, (width_px - 1) / 2.0, (height_px - 1) / 2.0)

    @classmethod
    def from_sensor(
        cls, width_px: int, height_px: int, *, focal_length_mm: float, sensor_width_mm: float
    ) -> CameraIntrinsics:
        """From the lens focal length and the width of the sensor area the image covers."""
        if focal_length_mm <= 0 or sensor_width_mm <= 0:
            raise CameraError(
                f"focal_length_mm and sensor_width_mm must be positive, "
                f"got {focal_length_mm} and {sensor_width_mm}"
            )
        fx = focal_length_mm / sensor_width_mm * width_px
        return cls(width_px, height_px, fx, fx, (width_px - 1) / 2.0, (height_px - 1) / 2.0)

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan(self.width_px / 2.0 / self.fx_px))

    @property
    def vfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan(self.height_px / 2.0 / self.fy_px))

    @property
    def matrix(self) -> FloatArray:
        """The 3x3 calibration matrix K."""
        return np.array(
            [[self.fx_px, 0.0, self.cx_px], [0.0, self.fy_px, self.cy_px], [0.0, 0.0, 1.0]]
        )

    def scaled(self, width_px: int, height_px: int) -> CameraIntrinsics:
        """The same lens on a resized image (both axes scaled independently)."""
        sx = width_px / self.width_px
        sy = height_px / self.height_px
        return CameraIntrinsics(
            width_px,
            height_px,
            self.fx_px * sx,
            self.fy_px * sy,
            (self.cx_px + 0.5) * sx - 0.5,
            (self.cy_px + 0.5) * sy - 0.5,
        )


# DJI Phantom 4 Pro-like: 8.8 mm lens on a 13.2 mm wide 1" sensor, 16:9 video crop at 1280x720
# (HFOV about 73.7 deg). Inspection photos are often taken at this size for on-board inference.
DEFAULT_INTRINSICS = CameraIntrinsics.from_sensor(
    1280, 720, focal_length_mm=8.8, sensor_width_mm=13.2
)


@dataclass(frozen=True, slots=True)
class CameraPose:
    """Where the camera is and where it looks; alt_m is height above the world's ground/home."""

    lat_deg: float
    lon_deg: float
    alt_m: float
    heading_deg: float
    pitch_deg: float
    roll_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in ("lat_deg", "lon_deg", "alt_m", "heading_deg", "pitch_deg", "roll_deg"):
            _finite(name, getattr(self, name))
        if not -90.0 <= self.lat_deg <= 90.0:
            raise CameraError(f"lat_deg must be within [-90, 90], got {self.lat_deg}")
        if not -180.0 <= self.lon_deg <= 360.0:
            raise CameraError(f"lon_deg must be within [-180, 360], got {self.lon_deg}")
        if not -90.0 <= self.pitch_deg <= 90.0:
            raise CameraError(
                f"pitch_deg must be within [-90, 90] (0 horizon, -90 nadir), got {self.pitch_deg}"
            )
        if not -90.0 < self.roll_deg < 90.0:
            raise CameraError(f"roll_deg must be within (-90, 90), got {self.roll_deg}")


def rotation_enu_to_camera(heading_deg: float, pitch_deg: float, roll_deg: float) -> FloatArray:
    """3x3 matrix R with p_cam = R @ v_enu; its rows are the camera x (right), y (down) and
    z (forward) axes expressed in ENU."""
    h = math.radians(heading_deg)
    p = math.radians(pitch_deg)
    r = math.radians(roll_deg)
    forward = np.array([math.sin(h) * math.cos(p), math.cos(h) * math.cos(p), math.sin(p)])
    right = np.array([math.cos(h), -math.sin(h), 0.0])
    down = np.cross(forward, right)
    right_rolled = math.cos(r) * right + math.sin(r) * down
    down_rolled = -math.sin(r) * right + math.cos(r) * down
    return np.stack([right_rolled, down_rolled, forward])


def enu_from_geodetic(
    frame: LocalFrame, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, height_m: npt.ArrayLike
) -> FloatArray:
    """(..., 3) ENU: e, n from the tangent plane, u = height above ground (see module doc)."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    enu = frame.to_enu_array(lat, lon_deg, np.full(lat.shape, frame.alt0_m))
    enu[..., 2] = np.asarray(height_m, dtype=np.float64)
    return enu


def geodetic_from_enu(frame: LocalFrame, enu_m: npt.ArrayLike) -> FloatArray:
    """Inverse of `enu_from_geodetic`: (..., 3) of (lat_deg, lon_deg, height_m)."""
    enu = np.array(enu_m, dtype=np.float64)
    height = enu[..., 2].copy()
    enu[..., 2] = 0.0
    geo = frame.to_geodetic_array(enu)
    geo[..., 2] = height
    return geo


@dataclass(frozen=True, slots=True)
class GroundFootprint:
    """What the image covers on the ground plane (u = ground_u_m)."""

    corners_enu: FloatArray  # (4, 3): image corners TL, TR, BR, BL hit on the ground
    corners_latlon: tuple[tuple[float, float], ...]
    width_m: float  # extent across the view direction (along the image x axis)
    length_m: float  # extent along the horizontal view direction
    area_m2: float
    clipped: bool  # True when a corner ray misses the ground and was cut at max_range_m


@dataclass(frozen=True, slots=True)
class PinholeCamera:
    """A posed pinhole camera in a local ENU frame."""

    intrinsics: CameraIntrinsics
    pose: CameraPose
    frame: LocalFrame
    position_enu: FloatArray = field(init=False, repr=False, compare=False)
    rotation: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pos = enu_from_geodetic(self.frame, self.pose.lat_deg, self.pose.lon_deg, self.pose.alt_m)
        object.__setattr__(self, "position_enu", pos)
        rot = rotation_enu_to_camera(self.pose.heading_deg, self.pose.pitch_deg, self.pose.roll_deg)
        object.__setattr__(self, "rotation", rot)

    def to_camera(self, points_enu: npt.ArrayLike) -> FloatArray:
        """(N, 3) ENU points -> (N, 3) camera-frame points (x right, y down, z forward)."""
        pts = np.asarray(points_enu, dtype=np.float64).reshape(-1, 3)
        return np.asarray((pts - self.position_enu) @ self.rotation.T, dtype=np.float64)

    def project(self, points_enu: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(N, 3) ENU points -> ((N, 2) pixels, (N,) depth along the optical axis in metres).

        Points at or behind the camera (depth <= 0) get NaN pixels; check depth before use.
        """
        cam = self.to_camera(points_enu)
        depth = cam[:, 2]
        k = self.intrinsics
        with np.errstate(divide="ignore", invalid="ignore"):
            safe = np.where(depth > 1e-9, depth, np.nan)
            u = k.fx_px * cam[:, 0] / safe + k.cx_px
            v = k.fy_px * cam[:, 1] / safe + k.cy_px
        return np.stack([u, v], axis=1), depth

    def in_image(self, pixels: FloatArray, depth: FloatArray) -> npt.NDArray[np.bool_]:
        """Mask of projected points in front of the camera and inside the image."""
        k = self.intrinsics
        with np.errstate(invalid="ignore"):
            return np.asarray(
                (depth > 0)
                & (pixels[:, 0] >= -0.5)
                & (pixels[:, 0] < k.width_px - 0.5)
                & (pixels[:, 1] >= -0.5)
                & (pixels[:, 1] < k.height_px - 0.5)
            )

    def pixel_to_ray(self, pixels: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(N, 2) pixels -> (camera position (3,), (N, 3) unit ray directions in ENU)."""
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        k = self.intrinsics
        cam = np.stack(
            [(px[:, 0] - k.cx_px) / k.fx_px, (px[:, 1] - k.cy_px) / k.fy_px, np.ones(len(px))],
            axis=1,
        )
        dirs = cam @ self.rotation
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        return self.position_enu.copy(), dirs

    def pixel_to_ground(
        self, pixels: npt.ArrayLike, ground_u_m: float = 0.0
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """Intersect pixel rays with the plane u = ground_u_m.

        Returns ((N, 3) ENU points, (N,) hit mask); rows that miss (ray at or above the
        horizon, or camera below the plane) are NaN.
        """
        origin, dirs = self.pixel_to_ray(pixels)
        dz = dirs[:, 2]
        height = origin[2] - ground_u_m
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dz < -1e-9, height / -dz, np.nan)
        hit = np.isfinite(t) & (t > 0)
        pts = origin + dirs * np.where(hit, t, np.nan)[:, None]
        return pts, hit

    def footprint_on_ground(
        self, ground_u_m: float = 0.0, max_range_m: float = 500.0
    ) -> GroundFootprint:
        """Ground polygon of the four image corners; rays that miss are cut at max_range_m."""
        k = self.intrinsics
        corners_px = np.array(
            [
                [-0.5, -0.5],
                [k.width_px - 0.5, -0.5],
                [k.width_px - 0.5, k.height_px - 0.5],
                [-0.5, k.height_px - 0.5],
            ]
        )
        height = self.position_enu[2] - ground_u_m
        if height <= 0:
            raise CameraError(f"camera is not above the ground plane (height {height:.2f} m)")
        pts, hit = self.pixel_to_ground(corners_px, ground_u_m)
        _, dirs = self.pixel_to_ray(corners_px)
        clipped = False
        for i in range(4):
            horiz = np.hypot(pts[i, 0] - self.position_enu[0], pts[i, 1] - self.position_enu[1])
            if not hit[i] or horiz > max_range_m:
                clipped = True
                d = dirs[i].copy()
                d[2] = 0.0
                norm = np.linalg.norm(d)
                if norm < 1e-12:
                    raise CameraError("corner ray is vertical and misses the ground")
                pts[i] = self.position_enu + d / norm * max_range_m
                pts[i, 2] = ground_u_m
        h = math.radians(self.pose.heading_deg)
        fwd = np.array([math.sin(h), math.cos(h)])
        right = np.array([math.cos(h), -math.sin(h)])
        xy = pts[:, :2]
        width = float(np.ptp(xy @ right))
        length = float(np.ptp(xy @ fwd))
        x, y = xy[:, 0], xy[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        latlon = geodetic_from_enu(self.frame, pts)
        return GroundFootprint(
            corners_enu=pts,
            corners_latlon=tuple((float(a), float(b)) for a, b in latlon[:, :2]),
            width_m=width,
            length_m=length,
            area_m2=area,
            clipped=clipped,
        )

    def ground_sample_distance_m(
        self, pixel: tuple[float, float] | None = None, ground_u_m: float = 0.0
    ) -> float:
        """Ground size of one pixel (square root of its ground area) at `pixel`, default the
        image centre; for a nadir view this is height / focal length in pixels."""
        k = self.intrinsics
        u, v = pixel if pixel is not None else (k.cx_px, k.cy_px)
        quad = np.array(
            [[u - 0.5, v - 0.5], [u + 0.5, v - 0.5], [u + 0.5, v + 0.5], [u - 0.5, v + 0.5]]
        )
        pts, hit = self.pixel_to_ground(quad, ground_u_m)
        if not np.all(hit):
            raise CameraError(f"pixel ({u:.1f}, {v:.1f}) does not look at the ground")
        x, y = pts[:, 0], pts[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        return math.sqrt(area)
