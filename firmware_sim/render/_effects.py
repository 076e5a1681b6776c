"""Domain randomisation: per-frame conditions (sun, exposure, white balance, haze, blur,
noise, JPEG quality, clutter) and the camera post-processing that applies them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from firmware_sim.render._ground import GroundLook
from firmware_sim.render._raster import Lighting

__all__ = ["DEFAULT_CONDITIONS", "Conditions", "PostProcessor", "sample_conditions"]

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Conditions:
    sun_azimuth_deg: float
    sun_elevation_deg: float
    overcast: bool
    exposure_gain: float
    gamma: float
    white_balance_bgr: tuple[float, float, float]
    haze_per_m: float
    optics_blur_sigma_px: float
    motion_blur_px: float
    motion_blur_angle_deg: float
    noise_sigma: float  # 0 = none
    vignetting: float
    marking_wear: float
    car_count: int
    jpeg_quality: int  # suggested quality for write_frame (dataset writers use it)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def sun_dir(self) -> npt.NDArray[np.float64]:
        az = math.radians(self.sun_azimuth_deg)
        el = math.radians(self.sun_elevation_deg)
        return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])

    def lighting(self) -> Lighting:
        # Clear sky: direct sun dominates (shadows ~55-65 % darker); overcast: diffuse only.
        sun, ambient = (0.12, 0.85) if self.overcast else (0.8, 0.38)
        warm = max(0.0, 1.0 - self.sun_elevation_deg / 35.0) if not self.overcast else 0.0
        tint = (1.0 - 0.18 * warm, 1.0 - 0.05 * warm, 1.0 + 0.05 * warm)
        haze = (205.0, 200.0, 195.0) if self.overcast else (215.0, 205.0, 195.0)
        return Lighting(self.sun_dir, sun, ambient, tint, self.haze_per_m, haze)

    def ground_look(self, texture_offset_m: tuple[float, float]) -> GroundLook:
        light = self.lighting()
        gain = light.ambient + light.sun * max(0.0, float(self.sun_dir[2]))
        zen = (175.0, 170.0, 165.0) if self.overcast else (205.0, 150.0, 95.0)
        hor = light.haze_bgr
        return GroundLook(gain, self.haze_per_m, zen, hor, self.marking_wear, texture_offset_m)

    @property
    def shadow_darkness(self) -> float:
        light = self.lighting()
        direct = light.sun * max(0.0, float(self.sun_dir[2]))
        return direct / (direct + light.ambient)


DEFAULT_CONDITIONS = Conditions(
    sun_azimuth_deg=150.0,
    sun_elevation_deg=50.0,
    overcast=False,
    exposure_gain=1.0,
    gamma=1.0,
    white_balance_bgr=(1.0, 1.0, 1.0),
    haze_per_m=0.0015,
    optics_blur_sigma_px=0.0,
    motion_blur_px=0.0,
    motion_blur_angle_deg=0.0,
    noise_sigma=0.0,
    vignetting=0.0,
    marking_wear=0.2,
    car_count=0,
    jpeg_quality=90,
)


def sample_conditions(rng: np.random.Generator) -> Conditions:
    overcast = bool(rng.random() < 0.3)
    blur = bool(rng.random() < 0.35)
    wb = rng.normal(1.0, 0.04, 3).clip(0.88, 1.12)
    return Conditions(
        sun_azimuth_deg=float(rng.uniform(0, 360)),
        # Survey flights happen in daylight; low sun gives long shadows and warm light.
        sun_elevation_deg=float(rng.uniform(15, 75)),
        overcast=overcast,
        exposure_gain=float(rng.uniform(0.75, 1.3)),
        gamma=float(rng.uniform(0.85, 1.15)),
        white_balance_bgr=(float(wb[0]), float(wb[1]), float(wb[2])),
        haze_per_m=float(rng.uniform(0.0005, 0.008)),
        optics_blur_sigma_px=float(rng.uniform(0.3, 1.0)),
        motion_blur_px=float(rng.uniform(1.5, 6.0)) if blur else 0.0,
        motion_blur_angle_deg=float(rng.uniform(0, 180)),
        noise_sigma=float(rng.choice([0.0, 1.5, 3.0, 5.0], p=[0.15, 0.35, 0.3, 0.2])),
        vignetting=float(rng.uniform(0.0, 0.35)),
        marking_wear=float(rng.uniform(0.0, 0.6)),
        car_count=int(rng.integers(0, 9)),
        jpeg_quality=int(rng.integers(60, 96)),
    )


class PostProcessor:
    """Camera effects for one image size, with cached noise and vignetting maps."""

    NOISE_LEVELS = (1.5, 3.0, 5.0)

    def __init__(self, width_px: int, height_px: int, seed: int) -> None:
        self.w, self.h = width_px, height_px
        rng = np.random.default_rng(seed)
        pad = 32
        self._noise: dict[float, tuple[U8, U8]] = {}
        for sigma in self.NOISE_LEVELS:
            n = rng.normal(0.0, sigma, (height_px + pad, width_px + pad, 3)).astype(np.float32)
            self._noise[sigma] = (
                np.clip(n, 0, 255).astype(np.uint8),
                np.clip(-n, 0, 255).astype(np.uint8),
            )
        yy, xx = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
        r2 = ((xx - width_px / 2) / (width_px / 2)) ** 2 + (
            (yy - height_px / 2) / (height_px / 2)
        ) ** 2
        self._falloff = (r2 / 2.0).astype(np.float32)
        self._vig: dict[int, U8] = {}

    def apply(self, img: U8, c: Conditions, rng: np.random.Generator) -> U8:
        x = np.arange(256, dtype=np.float32) / 255.0
        luts = [
            np.clip(
                255.0 * np.power(np.clip(x * c.exposure_gain * wb, 0, 1), 1.0 / c.gamma), 0, 255
            )
            for wb in c.white_balance_bgr
        ]
        lut = np.stack(luts, axis=-1).astype(np.uint8).reshape(1, 256, 3)
        out = cv2.LUT(img, lut)
        if c.vignetting > 0.02:
            level = round(c.vignetting * 20)
            vig = self._vig.get(level)
            if vig is None:
                v = np.clip(255.0 * (1.0 - level / 20.0 * self._falloff), 0, 255).astype(np.uint8)
                vig = cv2.cvtColor(v, cv2.COLOR_GRAY2BGR)
                self._vig[level] = vig
            out = cv2.multiply(out, vig, scale=1 / 255.0)
        if c.optics_blur_sigma_px > 0.1:
            out = cv2.GaussianBlur(out, (0, 0), c.optics_blur_sigma_px)
        if c.motion_blur_px >= 1.0:
            size = math.ceil(c.motion_blur_px) | 1
            kernel = np.zeros((size, size), np.float32)
            a = math.radians(c.motion_blur_angle_deg)
            half = c.motion_blur_px / 2
            centre = (size - 1) / 2
            p0 = (round(centre - half * math.cos(a)), round(centre - half * math.sin(a)))
            p1 = (round(centre + half * math.cos(a)), round(centre + half * math.sin(a)))
            cv2.line(kernel, p0, p1, 1.0, 1, cv2.LINE_AA)
            kernel /= max(float(kernel.sum()), 1e-6)
            out = cv2.filter2D(out, -1, kernel)
        if c.noise_sigma > 0:
            sigma = min(self.NOISE_LEVELS, key=lambda s: abs(s - c.noise_sigma))
            pos, neg = self._noise[sigma]
            ox, oy = (int(v) for v in rng.integers(0, 32, 2))
            out = cv2.add(out, pos[oy : oy + self.h, ox : ox + self.w])
            out = cv2.subtract(out, neg[oy : oy + self.h, ox : ox + self.w])
        return np.asarray(out, dtype=np.uint8)
