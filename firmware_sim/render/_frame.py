"""FrameRenderer: what a drone camera sees of a world from a pose, with YOLO labels of the
visible fixtures and defects; write_frame saves image + labels + pose like a drone would."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from firmware_sim.render._effects import (
    DEFAULT_CONDITIONS,
    Conditions,
    PostProcessor,
    sample_conditions,
)
from firmware_sim.render._exif import jpeg_with_metadata
from firmware_sim.render._fixtures import CONCRETE_TEX_PX, TextureBank, build_fixture_mesh
from firmware_sim.render._ground import build_layout, draw_shadows, render_ground
from firmware_sim.render._labels import FixtureInView, YoloLabel, compute_labels
from firmware_sim.render._mesh import Mesh, concat_meshes
from firmware_sim.render._raster import draw_scene, rust_pass
from firmware_sim.render._scenery import build_scenery, make_cars
from firmware_sim.render._textures import make_ground_textures
from firmware_sim.world import CLASS_NAMES, Defect, Fixture, World
from inspection.camera import CameraIntrinsics, CameraPose, PinholeCamera

__all__ = ["FrameRenderer", "RenderError", "RenderedFrame", "write_frame"]

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

# Beyond this a fixture is a few pixels tall at most: not worth drawing.
MAX_DRAW_M = 250.0
FRAME_SCHEMA = "michimori.frame/1"


class RenderError(ValueError):
    """A pose the renderer cannot draw (camera underground, ...)."""


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    image: U8  # H x W x 3 BGR
    labels: list[YoloLabel]
    pose: CameraPose
    intrinsics: CameraIntrinsics
    conditions: Conditions
    world_name: str = ""
    world_seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _sphere_in_frustum(cam: PinholeCamera, centre: F64, radius: float) -> bool:
    c = cam.rotation @ (centre - cam.position_enu)
    k = cam.intrinsics
    if c[2] < -radius:
        return False
    tl = (k.cx_px + 0.5) / k.fx_px
    tr = (k.width_px - 0.5 - k.cx_px) / k.fx_px
    tt = (k.cy_px + 0.5) / k.fy_px
    tb = (k.height_px - 0.5 - k.cy_px) / k.fy_px
    planes = ((1.0, 0.0, tl), (-1.0, 0.0, tr), (0.0, 1.0, tt), (0.0, -1.0, tb))
    for nx, ny, nz in planes:
        norm = math.sqrt(nx * nx + ny * ny + nz * nz)
        if (nx * c[0] + ny * c[1] + nz * c[2]) / norm < -radius:
            return False
    return True


class FrameRenderer:
    """Renders frames of one world through one camera; build once, call `render` per pose.

    seed drives the per-frame randomisation (conditions, cars); with randomise=False every
    frame uses DEFAULT_CONDITIONS (or `conditions`), no cars and no camera effects, so a pose
    always gives the same image. `conditions` fixes the lighting/effects of every frame while
    randomise=True still adds cars and applies the camera effects of those conditions.
    scenery=False leaves out trees and buildings (a plain scene for tests).
    """

    def __init__(
        self,
        world: World,
        intrinsics: CameraIntrinsics,
        *,
        seed: int = 0,
        randomise: bool = True,
        scenery: bool = True,
        conditions: Conditions | None = None,
    ) -> None:
        self.world = world
        self.intrinsics = intrinsics
        self.randomise = randomise
        self.fixed_conditions = conditions
        self._rng = np.random.default_rng(seed)
        tex_rng = np.random.default_rng(world.seed * 7919 + 17)
        self._tex = make_ground_textures(tex_rng)
        self._tex_offset = (float(tex_rng.uniform(0, 100)), float(tex_rng.uniform(0, 100)))
        self._layout = build_layout(world)
        self._bank = TextureBank()
        concrete = np.dstack(
            [
                self._tex.concrete[:CONCRETE_TEX_PX, :CONCRETE_TEX_PX],
                np.full((CONCRETE_TEX_PX, CONCRETE_TEX_PX), 255, np.uint8),
            ]
        )
        concrete_id = self._bank.add(concrete)
        self._defects: list[tuple[Fixture, Defect]] = [
            (f, d) for f in self.world.fixtures for d in f.defects
        ]
        index = {d.defect_id: i for i, (_, d) in enumerate(self._defects)}
        self._meshes: list[Mesh] = [
            build_fixture_mesh(f, index, self._bank, concrete_id) for f in world.fixtures
        ]
        counts = [m.face_count for m in self._meshes]
        self._id_base = np.cumsum([1, *counts]).astype(np.int64)  # face ids start at 1
        total = int(self._id_base[-1])
        self._clutter_id = total
        self._face_defect = np.full(total + 1, -1, np.int32)
        for m, base in zip(self._meshes, self._id_base, strict=False):
            self._face_defect[base : base + m.face_count] = m.defect
        # Luminance of the paint under each rust patch: the rust pass keeps its shading.
        self._rust_base_lum: dict[int, float] = {}
        for m in self._meshes:
            for i in np.nonzero((m.kind == 1) & (m.defect >= 0))[0]:
                self._rust_base_lum[int(m.defect[i])] = float(m.colours[m.parent[i]].mean())
        self._scenery = build_scenery(world, world.seed * 31 + 5) if scenery else []
        self._post = PostProcessor(intrinsics.width_px, intrinsics.height_px, seed)
        grain_rng = np.random.default_rng(world.seed + 3)
        g = grain_rng.normal(0.0, 5.0, (intrinsics.height_px, intrinsics.width_px, 1)).astype(
            np.float32
        )
        g = cv2.GaussianBlur(g, (0, 0), 0.8)[..., None] * 1.6
        g = np.repeat(g, 3, axis=2)
        self._grain_pos = np.clip(g, 0, 255).astype(np.uint8)
        self._grain_neg = np.clip(-g, 0, 255).astype(np.uint8)

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES

    def render(self, pose: CameraPose) -> RenderedFrame:
        k = self.intrinsics
        cam = PinholeCamera(k, pose, self.world.frame)
        if cam.position_enu[2] <= 0.3:
            raise RenderError(f"camera altitude {pose.alt_m:.2f} m is at or below the ground")
        if self.fixed_conditions is not None:
            cond = self.fixed_conditions
        elif self.randomise:
            cond = sample_conditions(self._rng)
        else:
            cond = DEFAULT_CONDITIONS
        light = cond.lighting()
        img, sky = render_ground(cam, self._layout, self._tex, cond.ground_look(self._tex_offset))

        in_view = [
            i
            for i, m in enumerate(self._meshes)
            if m.face_count
            and float(np.linalg.norm(m.centre - cam.position_enu)) < MAX_DRAW_M + m.radius_m
            and _sphere_in_frustum(cam, m.centre, m.radius_m)
        ]
        scenery = [m for m in self._scenery if _sphere_in_frustum(cam, m.centre, m.radius_m)]
        cars: list[Mesh] = []
        if self.randomise and cond.car_count:
            near_s = self._chainage_near(cam)
            cars = make_cars(self.world, self._rng, near_s, cond.car_count)
            cars = [c for c in cars if _sphere_in_frustum(cam, c.centre, c.radius_m + 30.0)]

        # Shadows: anything whose shadow may reach the view, not only what is in view.
        sun = cond.sun_dir
        reach = 30.0 / max(math.tan(math.radians(max(cond.sun_elevation_deg, 5.0))), 0.2)
        shadow_meshes = [
            m
            for m in (*self._meshes, *self._scenery, *cars)
            if m.face_count and _sphere_in_frustum(cam, m.centre, m.radius_m + reach)
        ]
        parts = [p for m in shadow_meshes for p in m.shadow_parts]
        discs = [(s.centre, s.radius_m) for m in shadow_meshes for s in m.sprites]
        draw_shadows(img, cam, parts, discs, sun, cond.shadow_darkness, sky)

        meshes = [self._meshes[i] for i in in_view] + scenery + cars
        idbuf = np.zeros((k.height_px, k.width_px), np.int32)
        fixture_views: list[FixtureInView] = []
        if meshes:
            stacked, _ = concat_meshes(meshes)
            ids = np.concatenate(
                [
                    np.arange(self._id_base[i], self._id_base[i] + self._meshes[i].face_count)
                    for i in in_view
                ]
                + [np.full(m.face_count, self._clutter_id) for m in (*scenery, *cars)]
            ).astype(np.int32)
            res = draw_scene(
                img,
                idbuf,
                cam,
                stacked,
                ids,
                self._bank.images,
                light,
                self._clutter_id,
                self._clutter_id,
            )
            rust = [
                (gi, d.severity, self._rust_base_lum.get(gi, 150.0))
                for gi, (_, d) in enumerate(self._defects)
                if d.type == "corrosion"
            ]
            rust_pass(img, idbuf, self._face_defect, rust, res, self._tex, self._rng)
            self._surface_grain(img, idbuf)
            for i in in_view:
                lo = int(self._id_base[i])
                fixture_views.append(
                    FixtureInView(
                        self.world.fixtures[i],
                        lo,
                        lo + self._meshes[i].face_count - 1,
                        self._in_frame(cam, self._meshes[i]),
                    )
                )
            labels = compute_labels(idbuf, res, fixture_views, self._face_defect, self._defects)
        else:
            labels = []
        image = self._post.apply(img, cond, self._rng) if self.randomise else img
        return RenderedFrame(
            image=image,
            labels=labels,
            pose=pose,
            intrinsics=k,
            conditions=cond,
            world_name=self.world.name,
            world_seed=self.world.seed,
        )

    def _surface_grain(self, img: U8, idbuf: npt.NDArray[np.int32]) -> None:
        """Fine grain on every drawn surface (paint texture, dirt): flat shading looks CG."""
        mask = (idbuf > 0).astype(np.uint8)
        rect = cv2.boundingRect(mask)
        if rect[2] == 0:
            return
        x0, y0, w, h = rect
        sl = (slice(y0, y0 + h), slice(x0, x0 + w))
        m = mask[sl]
        sub = img[sl]
        # dst= keeps the unmasked pixels (without it OpenCV returns them as zeros).
        cv2.add(sub, self._grain_pos[sl], dst=sub, mask=m)
        cv2.subtract(sub, self._grain_neg[sl], dst=sub, mask=m)

    def _in_frame(self, cam: PinholeCamera, mesh: Mesh) -> float:
        """Share of the fixture's projected surface (front faces) whose centre is in the image."""
        solid = mesh.kind == 0
        quads = mesh.quads[solid]
        if not len(quads):
            return 0.0
        px, depth = cam.project(quads.reshape(-1, 3))
        px = px.reshape(-1, 4, 2)
        depth = depth.reshape(-1, 4)
        front = np.all(depth > 0.1, axis=1)
        if not front.any():
            return 0.0
        p = px[front]
        x, y = p[..., 0], p[..., 1]
        area = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - y * np.roll(x, -1, axis=1), axis=1))
        centre = p.mean(axis=1)
        k = cam.intrinsics
        inside = (
            (centre[:, 0] >= 0)
            & (centre[:, 0] < k.width_px)
            & (centre[:, 1] >= 0)
            & (centre[:, 1] < k.height_px)
        )
        total = float(area.sum())
        if total <= 0:
            return 0.0
        return float(area[inside].sum()) / total

    def _chainage_near(self, cam: PinholeCamera) -> float:
        fp = cam.footprint_on_ground(max_range_m=80.0)
        target = fp.corners_enu[:, :2].mean(axis=0)
        c = self.world.corridor
        best_s, best_d = 0.0, math.inf
        for i in range(len(c.vertices_enu) - 1):
            a, b = c.vertices_enu[i], c.vertices_enu[i + 1]
            d = b - a
            t = float(np.clip(np.dot(target - a, d) / np.dot(d, d), 0.0, 1.0))
            dist = float(np.linalg.norm(a + d * t - target))
            if dist < best_d:
                best_d, best_s = dist, float(c.chainage_m[i]) + t * float(np.linalg.norm(d))
        return best_s


def write_frame(
    frame: RenderedFrame,
    out_dir: Path,
    stem: str,
    *,
    jpeg_quality: int = 90,
    captured_at: datetime | None = None,
    home_alt_m: float = 0.0,
) -> Path:
    """Write stem.jpg (EXIF GPS + DJI-style XMP attitude), stem.txt (YOLO labels) and
    stem.json (pose, intrinsics, labels with asset ids, conditions). Returns the .jpg path."""
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be 1..100, got {jpeg_quality}")
    out_dir.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise OSError(f"could not JPEG-encode frame {stem}")
    data = jpeg_with_metadata(
        buf.tobytes(), frame.pose, frame.intrinsics, home_alt_m=home_alt_m, captured_at=captured_at
    )
    jpg = out_dir / f"{stem}.jpg"
    jpg.write_bytes(data)
    (out_dir / f"{stem}.txt").write_text(
        "".join(lb.yolo_line() + "\n" for lb in frame.labels), encoding="utf-8"
    )
    k = frame.intrinsics
    p = frame.pose
    sidecar = {
        "schema": FRAME_SCHEMA,
        "image": jpg.name,
        "captured_at": captured_at.isoformat() if captured_at else None,
        "world": {"name": frame.world_name, "seed": frame.world_seed},
        "pose": {
            "lat_deg": p.lat_deg,
            "lon_deg": p.lon_deg,
            "alt_m": p.alt_m,
            "heading_deg": p.heading_deg,
            "pitch_deg": p.pitch_deg,
            "roll_deg": p.roll_deg,
            "home_alt_m": home_alt_m,
        },
        "intrinsics": {
            "width_px": k.width_px,
            "height_px": k.height_px,
            "fx_px": k.fx_px,
            "fy_px": k.fy_px,
            "cx_px": k.cx_px,
            "cy_px": k.cy_px,
        },
        "labels": [
            {
                "class_id": lb.class_id,
                "class_name": CLASS_NAMES[lb.class_id],
                "cx": lb.cx,
                "cy": lb.cy,
                "w": lb.w,
                "h": lb.h,
                "box_px": list(lb.box_px),
                "asset_id": lb.asset_id,
                "defect_id": lb.defect_id,
                "visible_fraction": lb.visible_fraction,
            }
            for lb in frame.labels
        ],
        "conditions": frame.conditions.to_dict(),
        "jpeg_quality": jpeg_quality,
    }
    (out_dir / f"{stem}.json").write_text(
        json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return jpg
