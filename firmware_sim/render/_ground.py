"""The ground plane: road layout polygons (carriageway, kerbs, sidewalks, median, markings)
built once from the world, and per frame: textures warped by the ground homography, masks,
markings, tone, cast shadows, sky and distance haze."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from firmware_sim.render._textures import TILE_M_PER_PX, TONE_M_PER_PX, GroundTextures
from firmware_sim.world import World
from inspection.camera import PinholeCamera

__all__ = [
    "GroundLayout",
    "build_layout",
    "clip_project",
    "draw_shadows",
    "ground_homography",
    "render_ground",
]

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

NEAR_M = 0.1
ASPHALT, PAVING, KERB, GRASS = 0, 1, 2, 3
WHITE, YELLOW = 0, 1
# The corridor's road continues past its ends; draw this much more of it.
ROAD_EXTENSION_M = 300.0


@dataclass(frozen=True, slots=True)
class GroundLayout:
    regions: tuple[tuple[int, F64], ...]  # (material, (N, 2) ENU polygon), in drawing order
    markings: tuple[tuple[int, F64], ...]
    region_boxes: F64  # (R, 4) e0, n0, e1, n1
    marking_boxes: F64


def _extended_centreline(world: World) -> tuple[F64, F64]:
    pts = world.corridor.vertices_enu.copy()
    d0 = pts[1] - pts[0]
    d1 = pts[-1] - pts[-2]
    pts = np.vstack(
        [
            pts[0] - d0 / np.linalg.norm(d0) * ROAD_EXTENSION_M,
            pts,
            pts[-1] + d1 / np.linalg.norm(d1) * ROAD_EXTENSION_M,
        ]
    )
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    return pts, np.concatenate([[0.0], np.cumsum(seg)]) - ROAD_EXTENSION_M


def _strip(pts: F64, chain: F64, sa: float, sb: float, d0: float, d1: float) -> F64:
    """Polygon between lateral offsets d0..d1 (left positive) over chainage sa..sb."""
    sa, sb = max(sa, float(chain[0])), min(sb, float(chain[-1]))
    inner = [i for i in range(len(pts)) if sa < chain[i] < sb]

    def at(s: float) -> tuple[F64, F64]:
        i = int(np.clip(np.searchsorted(chain, s, side="right") - 1, 0, len(pts) - 2))
        d = pts[i + 1] - pts[i]
        u = d / np.linalg.norm(d)
        return pts[i] + u * (s - chain[i]), np.array([-u[1], u[0]])

    p_a, n_a = at(sa)
    p_b, n_b = at(sb)
    points = [p_a]
    normals = [n_a]
    for i in inner:
        u0 = pts[i] - pts[i - 1]
        u1 = pts[i + 1] - pts[i]
        n0 = np.array([-u0[1], u0[0]]) / np.linalg.norm(u0)
        n1 = np.array([-u1[1], u1[0]]) / np.linalg.norm(u1)
        miter = n0 + n1
        miter /= np.linalg.norm(miter)
        points.append(pts[i])
        normals.append(miter / max(float(np.dot(miter, n0)), 0.2))
    points.append(p_b)
    normals.append(n_b)
    p = np.array(points)
    n = np.array(normals)
    return np.vstack([p + n * d0, (p + n * d1)[::-1]])


def build_layout(world: World) -> GroundLayout:
    road = world.road
    pts, chain = _extended_centreline(world)
    s_lo, s_hi = float(chain[0]), float(chain[-1])
    half = road.carriageway_half_width_m
    kerb_out = half + road.kerb_width_m
    walk_out = kerb_out + road.sidewalk_width_m
    regions: list[tuple[int, F64]] = []
    markings: list[tuple[int, F64]] = []
    # Long strips are cut into ~50 m pieces so per-frame culling and clipping stay cheap.
    step = 50.0
    cuts = [*np.arange(s_lo, s_hi, step).tolist(), s_hi]
    rng = np.random.default_rng(world.seed + 1009)
    for sa, sb in itertools.pairwise(cuts):
        # Behind the sidewalk: forecourts and car parks (asphalt, paving) or planted verge.
        for sgn in (1.0, -1.0):
            back = int(rng.choice([ASPHALT, PAVING, GRASS], p=[0.45, 0.2, 0.35]))
            if back != GRASS:
                band = _strip(pts, chain, sa, sb, sgn * walk_out, sgn * (walk_out + 25.0))
                regions.append((back, band))
        for sgn in (1.0, -1.0):
            regions.append((PAVING, _strip(pts, chain, sa, sb, sgn * kerb_out, sgn * walk_out)))
        regions.append((ASPHALT, _strip(pts, chain, sa, sb, -half, half)))
        for sgn in (1.0, -1.0):
            regions.append((KERB, _strip(pts, chain, sa, sb, sgn * half, sgn * kerb_out)))
        m = road.median_width_m
        if m > 0:
            regions.append((KERB, _strip(pts, chain, sa, sb, -m / 2, m / 2)))
            if m > 0.5:
                regions.append((GRASS, _strip(pts, chain, sa, sb, -m / 2 + 0.15, m / 2 - 0.15)))
        edge = half - road.shoulder_width_m
        for sgn in (1.0, -1.0):
            markings.append((WHITE, _strip(pts, chain, sa, sb, sgn * edge, sgn * (edge - 0.15))))
            if m > 0:
                d = m / 2 + 0.1
                markings.append((WHITE, _strip(pts, chain, sa, sb, sgn * d, sgn * (d + 0.15))))
        if m == 0:
            markings.append((YELLOW, _strip(pts, chain, sa, sb, -0.075, 0.075)))
    # Lane dividers: 5 m dashes with 5 m gaps (Japanese urban roads).
    for k in range(1, road.lanes_per_direction):
        d = road.median_width_m / 2 + k * road.lane_width_m
        s = s_lo
        while s < s_hi - 5.0:
            for sgn in (1.0, -1.0):
                markings.append(
                    (WHITE, _strip(pts, chain, s, s + 5.0, sgn * (d - 0.06), sgn * (d + 0.06)))
                )
            s += 10.0
    # Pedestrian crossings (zebra bars along the traffic direction) at a few seeded places.
    length = world.corridor.length_m
    for s in rng.uniform(0.1, 0.9, size=max(1, int(length // 400))) * length:
        d = -half + 0.5
        while d < half - 0.5:
            markings.append((WHITE, _strip(pts, chain, s, s + 4.0, d, d + 0.45)))
            d += 0.9
        # Traffic keeps left: the left half approaches from lower chainage, the right half
        # from higher; each gets a stop line 2 m before the crossing.
        edge = half - road.shoulder_width_m
        for s_stop, d0, d1 in ((s - 2.45, 0.0, edge), (s + 6.0, -edge, 0.0)):
            markings.append((WHITE, _strip(pts, chain, s_stop, s_stop + 0.45, d0, d1)))

    def boxes(polys: Sequence[tuple[int, F64]]) -> F64:
        return np.array([[*p.min(axis=0), *p.max(axis=0)] for _, p in polys], dtype=np.float64)

    return GroundLayout(tuple(regions), tuple(markings), boxes(regions), boxes(markings))


def ground_homography(cam: PinholeCamera) -> F64:
    """3x3 H mapping ground (e, n, 1) to image (u, v, w)."""
    r = cam.rotation
    t = -r @ cam.position_enu
    return np.asarray(
        cam.intrinsics.matrix @ np.column_stack([r[:, 0], r[:, 1], t]), dtype=np.float64
    )


def clip_project(cam: PinholeCamera, pts_enu: F64, near_m: float = NEAR_M) -> F64 | None:
    """Clip a planar polygon (N, 3) against the near plane and project it; None if nothing
    is in front of the camera."""
    c = (pts_enu - cam.position_enu) @ cam.rotation.T
    z = c[:, 2]
    if np.all(z > near_m):
        kept = c
    elif np.all(z <= near_m):
        return None
    else:
        out = []
        n = len(c)
        for i in range(n):
            a, b = c[i], c[(i + 1) % n]
            ina, inb = a[2] > near_m, b[2] > near_m
            if ina:
                out.append(a)
            if ina != inb:
                t = (near_m - a[2]) / (b[2] - a[2])
                out.append(a + (b - a) * t)
        if len(out) < 3:
            return None
        kept = np.array(out)
    k = cam.intrinsics
    u = k.fx_px * kept[:, 0] / kept[:, 2] + k.cx_px
    v = k.fy_px * kept[:, 1] / kept[:, 2] + k.cy_px
    return np.asarray(np.clip(np.column_stack([u, v]), -4e6, 4e6), dtype=np.float64)


def _fixed(px: F64) -> npt.NDArray[np.int32]:
    return np.round(px * 16.0).astype(np.int32)  # 4 fractional bits for cv2 shift=4


def _fill(mask: U8, cam: PinholeCamera, poly2d: F64, value: int = 255) -> None:
    pts = np.column_stack([poly2d, np.zeros(len(poly2d))])
    px = clip_project(cam, pts)
    if px is not None:
        cv2.fillPoly(mask, [_fixed(px)], value, lineType=cv2.LINE_8, shift=4)


def _view_box(cam: PinholeCamera, max_range_m: float) -> tuple[float, float, float, float]:
    fp = cam.footprint_on_ground(max_range_m=max_range_m)
    e = fp.corners_enu[:, 0]
    n = fp.corners_enu[:, 1]
    return float(e.min()), float(n.min()), float(e.max()), float(n.max())


def _warp(
    tex: U8,
    hom: F64,
    m_per_px: float,
    offset: tuple[float, float],
    size: tuple[int, int],
    interpolation: int = cv2.INTER_LINEAR,
) -> U8:
    a = np.array([[m_per_px, 0.0, offset[0]], [0.0, -m_per_px, offset[1]], [0.0, 0.0, 1.0]])
    out = cv2.warpPerspective(tex, hom @ a, size, flags=interpolation, borderMode=cv2.BORDER_WRAP)
    return np.asarray(out, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class GroundLook:
    """Per-frame ground appearance settings (from the randomised conditions)."""

    ground_gain: float  # irradiance on the ground relative to the textures' nominal light
    haze_per_m: float
    sky_zenith_bgr: tuple[float, float, float]
    sky_horizon_bgr: tuple[float, float, float]
    marking_wear: float  # 0 fresh paint .. 1 mostly worn
    texture_offset_m: tuple[float, float]


def _translate(x0: int, y0: int) -> F64:
    return np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]])


def render_ground(
    cam: PinholeCamera, layout: GroundLayout, tex: GroundTextures, look: GroundLook
) -> tuple[U8, U8]:
    """Ground and sky image (H, W, 3) and the sky mask (H, W) (255 = sky)."""
    k = cam.intrinsics
    w, h = k.width_px, k.height_px
    hom = ground_homography(cam)
    height = float(cam.position_enu[2])
    if height <= 0.05:
        raise ValueError(f"camera height {height:.2f} m is at or below the ground")
    view = _view_box(cam, 400.0)
    margin = 5.0

    def visible(box: F64) -> npt.NDArray[np.bool_]:
        return np.asarray(
            (box[:, 2] >= view[0] - margin)
            & (box[:, 0] <= view[2] + margin)
            & (box[:, 3] >= view[1] - margin)
            & (box[:, 1] <= view[3] + margin)
        )

    # Texture level from the ground sample distance at the image centre (a poor man's mipmap:
    # minified fine tiles alias into moire); nearest-neighbour lookups unless magnified,
    # because they cost a quarter of bilinear ones and the optics blur smooths them anyway.
    try:
        gsd = cam.ground_sample_distance_m()
    except ValueError:
        gsd = 0.1
    level = int(
        np.clip(math.floor(math.log2(max(gsd, 1e-4) / TILE_M_PER_PX)), 0, len(tex.levels) - 1)
    )
    tiles = tex.levels[level]
    m_per_px = TILE_M_PER_PX * 2**level
    interp = cv2.INTER_NEAREST if gsd > 0.8 * m_per_px else cv2.INTER_LINEAR

    # One material map, regions painted in order (later ones cover earlier ones); the base
    # (value 0) and GRASS regions keep the grass warp.
    matmap = np.zeros((h, w), np.uint8)
    vis = visible(layout.region_boxes)
    for (material, poly), ok in zip(layout.regions, vis, strict=True):
        if ok:
            _fill(matmap, cam, poly, material + 1)
    off = look.texture_offset_m
    img = _warp(tiles.grass, hom, m_per_px, off, (w, h), interp)
    for material, src in ((PAVING, tiles.paving), (ASPHALT, tiles.asphalt), (KERB, tiles.concrete)):
        mask = (matmap == material + 1).astype(np.uint8)
        rect = cv2.boundingRect(mask)
        if rect[2] == 0:
            continue
        x0, y0, rw, rh = rect
        part = _warp(src, _translate(x0, y0) @ hom, m_per_px, off, (rw, rh), interp)
        cv2.copyTo(part, mask[y0 : y0 + rh, x0 : x0 + rw], img[y0 : y0 + rh, x0 : x0 + rw])

    # Markings: worn paint lets the asphalt through where the asphalt texture is darkest.
    mvis = visible(layout.marking_boxes)
    wear_level = int(180 + 200 * (1.0 - look.marking_wear))
    for colour_id, colour in ((WHITE, (225, 228, 228)), (YELLOW, (40, 170, 220))):
        mmask = np.zeros((h, w), np.uint8)
        polys = [
            p for (cid, p), ok in zip(layout.markings, mvis, strict=True) if ok and cid == colour_id
        ]
        for poly in polys:
            _fill(mmask, cam, poly)
        rect = cv2.boundingRect(mmask)
        if rect[2] == 0:
            continue
        x0, y0, rw, rh = rect
        sub = img[y0 : y0 + rh, x0 : x0 + rw]
        m = mmask[y0 : y0 + rh, x0 : x0 + rw]
        grey = cv2.cvtColor(sub, cv2.COLOR_BGR2GRAY).astype(np.int16)
        keep = (grey - 90) * 6 + wear_level
        m = np.where(keep > 127, m, 0).astype(np.uint8)
        paint = np.array([colour[0] * 0.75, colour[1] * 0.75, colour[2] * 0.75, 0.0])
        blended = cv2.add(cv2.convertScaleAbs(sub, alpha=0.25), paint)
        cv2.copyTo(blended, m, sub)

    # Low-frequency tone, the ground's irradiance and distance haze, all as one per-pixel
    # gain and one additive haze term computed at 1/4 scale: two full-size uint8 operations.
    qw, qh = max(1, w // 4), max(1, h // 4)
    tone = _warp(
        tex.tone, np.diag([0.25, 0.25, 1.0]) @ hom, TONE_M_PER_PX, off, (qw, qh), cv2.INTER_LINEAR
    )
    gx, gy = np.meshgrid(
        (np.arange(qw, dtype=np.float64) + 0.5) * (w / qw) - 0.5,
        (np.arange(qh, dtype=np.float64) + 0.5) * (h / qh) - 0.5,
    )
    _, dirs = cam.pixel_to_ray(np.column_stack([gx.ravel(), gy.ravel()]))
    dz = dirs[:, 2].reshape(qh, qw)
    dist = np.where(dz < -1e-6, height / np.maximum(-dz, 1e-6), 3000.0)
    alpha = (1.0 - np.exp(-look.haze_per_m * np.minimum(dist, 3000.0))).astype(np.float32)
    hor = np.array(look.sky_horizon_bgr, np.float32)
    gain = tone.astype(np.float32) / 128.0 * look.ground_gain * (1.0 - alpha)
    gain_u8 = np.clip(gain * 128.0, 0, 255).astype(np.uint8)
    haze_u8 = np.clip(alpha[..., None] * hor[None, None], 0, 255).astype(np.uint8)
    gain3 = cv2.cvtColor(
        cv2.resize(gain_u8, (w, h), interpolation=cv2.INTER_LINEAR), cv2.COLOR_GRAY2BGR
    )
    # dst= writes in place and keeps the uint8 array type.
    cv2.multiply(img, gain3, dst=img, scale=1.0 / 128.0)
    cv2.add(img, cv2.resize(haze_u8, (w, h), interpolation=cv2.INTER_LINEAR), dst=img)

    sky_mask = np.zeros((h, w), np.uint8)
    horizon = _sky_polygon(cam)
    if horizon is not None:
        cv2.fillPoly(sky_mask, [_fixed(horizon)], 255, shift=4)
        elev = np.clip(dz, 0.0, 1.0) ** 0.6
        zen = np.array(look.sky_zenith_bgr, np.float32)
        sky_small = hor[None, None] * (1 - elev[..., None]) + zen[None, None] * elev[..., None]
        sky = cv2.resize(
            np.clip(sky_small, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR
        )
        cv2.copyTo(sky, sky_mask, img)
    return img, sky_mask


def _sky_polygon(cam: PinholeCamera) -> F64 | None:
    """Image polygon of the half-plane above the horizon (rays with an upward component)."""
    k = cam.intrinsics
    r = cam.rotation
    # Ray up-component is linear in pixels: a*u + b*v + c; negative c' means below horizon.
    a = r[0, 2] / k.fx_px
    b = r[1, 2] / k.fy_px
    c = r[2, 2] - a * k.cx_px - b * k.cy_px
    corners = np.array(
        [[-1.0, -1.0], [k.width_px, -1.0], [k.width_px, k.height_px], [-1.0, k.height_px]]
    )
    vals = corners @ np.array([a, b]) + c
    out = []
    for i in range(4):
        p, q = corners[i], corners[(i + 1) % 4]
        vp, vq = vals[i], vals[(i + 1) % 4]
        if vp > 0:
            out.append(p)
        if (vp > 0) != (vq > 0):
            t = vp / (vp - vq)
            out.append(p + (q - p) * t)
    return np.array(out) if len(out) >= 3 else None


def draw_shadows(
    img: U8,
    cam: PinholeCamera,
    parts: Sequence[F64],
    discs: Sequence[tuple[F64, float]],
    sun_dir: F64,
    darkness: float,
    sky_mask: U8,
) -> None:
    """Darken the ground where fixtures/cars/trees block the sun (in place).

    darkness: fraction of the ground's light the direct sun provides (0 = no shadows).
    """
    if darkness <= 0.01 or sun_dir[2] <= 0.05 or (not parts and not discs):
        return
    k = cam.intrinsics
    w, h = k.width_px, k.height_px
    view = _view_box(cam, 300.0)
    shift = np.array([sun_dir[0] / sun_dir[2], sun_dir[1] / sun_dir[2]])
    shapes = list(parts)
    ang = np.linspace(0, 2 * math.pi, 12, endpoint=False)
    for centre, radius in discs:
        ring = np.column_stack(
            [
                centre[0] + radius * np.cos(ang),
                centre[1] + radius * np.sin(ang),
                np.full(12, centre[2]),
            ]
        )
        lift = np.array([0.0, 0.0, radius * 0.7])
        shapes.append(np.vstack([ring + lift, ring - lift]))
    hulls: list[F64] = []
    for pts in shapes:
        g = pts[:, :2] - pts[:, 2:3] * shift
        lo, hi = g.min(axis=0), g.max(axis=0)
        if hi[0] < view[0] or lo[0] > view[2] or hi[1] < view[1] or lo[1] > view[3]:
            continue
        hulls.append(cv2.convexHull(g.astype(np.float32)).reshape(-1, 2).astype(np.float64))
    if not hulls:
        return
    # Project every hull in one go; only hulls reaching behind the camera need clipping.
    counts = [len(hh) for hh in hulls]
    allp = np.vstack(hulls)
    cam_pts = (np.column_stack([allp, np.zeros(len(allp))]) - cam.position_enu) @ cam.rotation.T
    z = cam_pts[:, 2]
    front = z > NEAR_M
    zs = np.where(front, z, 1.0)
    px = np.column_stack(
        [k.fx_px * cam_pts[:, 0] / zs + k.cx_px, k.fy_px * cam_pts[:, 1] / zs + k.cy_px]
    )
    px = np.clip(px, -4e6, 4e6)
    mask = np.zeros((h, w), np.uint8)
    simple: list[npt.NDArray[np.int32]] = []
    start = 0
    for hull, n in zip(hulls, counts, strict=True):
        sl = slice(start, start + n)
        start += n
        if front[sl].all():
            simple.append(_fixed(px[sl]))
        elif front[sl].any():
            _fill(mask, cam, hull)
    # One call per polygon: a single fillPoly over many polygons fills overlaps even-odd,
    # which punches holes where two shadows overlap.
    for poly in simple:
        cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_8, shift=4)
    mask[sky_mask > 0] = 0
    rect = cv2.boundingRect(mask)
    if rect[2] == 0:
        return
    x0, y0, rw, rh = rect
    x0, y0 = max(0, x0 - 2), max(0, y0 - 2)
    x1, y1 = min(w, x0 + rw + 4), min(h, y0 + rh + 4)
    m = cv2.GaussianBlur(mask[y0:y1, x0:x1], (3, 3), 0)
    factor = cv2.convertScaleAbs(m, alpha=-darkness, beta=255.0)
    sub = img[y0:y1, x0:x1]
    sub[:] = cv2.multiply(sub, cv2.cvtColor(factor, cv2.COLOR_GRAY2BGR), scale=1 / 255.0)
