"""Rasterise meshes with the painter's algorithm into a BGR image and a face-id buffer:
vectorised transform, back-face culling, near-plane clipping and Lambert/Blinn shading, then
one cv2.fillPoly per face (textured faces warp a small patch), crack polylines drawn right
after their parent face, and a rust pass over the visible rust-overlay pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from firmware_sim.render._ground import NEAR_M, clip_project
from firmware_sim.render._mesh import COLOUR_OVERLAY, ID_ONLY, Mesh
from firmware_sim.render._textures import GroundTextures
from inspection.camera import PinholeCamera

__all__ = ["CrackDraw", "DrawResult", "Lighting", "draw_scene", "rust_pass"]

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Lighting:
    sun_dir: F64  # unit vector towards the sun (ENU)
    sun: float  # direct irradiance
    ambient: float  # sky irradiance on an upward surface
    tint_bgr: tuple[float, float, float]
    haze_per_m: float
    haze_bgr: tuple[float, float, float]


@dataclass(slots=True)
class CrackDraw:
    defect: int
    parent_id: int
    points_px: F64  # (N, 2) all crack points that were in front of the camera
    alpha: float


@dataclass(slots=True)
class DrawResult:
    polys: dict[int, npt.NDArray[np.int32]] = field(default_factory=dict)  # face id -> fixed pts
    masks: dict[int, tuple[int, int, U8]] = field(default_factory=dict)  # textured: x0, y0, mask
    cracks: list[CrackDraw] = field(default_factory=list)
    rust_masks: dict[int, tuple[int, int, U8]] = field(default_factory=dict)  # defect -> mask


def _fixed(px: F64) -> npt.NDArray[np.int32]:
    return np.round(px * 16.0).astype(np.int32)


def draw_scene(
    img: U8,
    idbuf: I32,
    cam: PinholeCamera,
    mesh: Mesh,
    ids: I32,
    textures: list[U8],
    light: Lighting,
    record_below: int,
    sprite_id: int,
) -> DrawResult:
    """Draw `mesh` over `img`/`idbuf`; faces with id < record_below get their pixels recorded
    (fixtures: needed for labels), others (scenery) do not."""
    res = DrawResult()
    k = cam.intrinsics
    w, h = k.width_px, k.height_px
    n_faces = mesh.face_count
    sprites = mesh.sprites
    if n_faces == 0 and not sprites:
        return res
    rot, pos = cam.rotation, cam.position_enu
    qc = ((mesh.quads.reshape(-1, 3) - pos) @ rot.T).reshape(n_faces, 4, 3)
    z = qc[..., 2]
    nc = mesh.normals @ rot.T
    centroid = qc.mean(axis=1)
    facing = np.einsum("ij,ij->i", nc, centroid) < 0
    visible = (facing | mesh.double_sided) & (z.max(axis=1) > NEAR_M)
    all_front = z.min(axis=1) > NEAR_M
    zz = np.where(z > NEAR_M, z, 1.0)  # faces with points behind are clipped later
    px = np.stack(
        [k.fx_px * qc[..., 0] / zz + k.cx_px, k.fy_px * qc[..., 1] / zz + k.cy_px], axis=-1
    )
    outside = all_front & (
        (px[..., 0].max(axis=1) < -1)
        | (px[..., 0].min(axis=1) > w)
        | (px[..., 1].max(axis=1) < -1)
        | (px[..., 1].min(axis=1) > h)
    )
    visible &= ~outside
    has_parent = mesh.parent >= 0
    visible[has_parent] &= visible[mesh.parent[has_parent]]

    # Shading: sky light grows with how much a face looks up; sun by Lambert; Blinn highlight.
    flip = np.where(facing | ~mesh.double_sided, 1.0, -1.0)
    n_w = mesh.normals * flip[:, None]
    lam = np.clip(n_w @ light.sun_dir, 0.0, None)
    sky = light.ambient * (0.65 + 0.35 * n_w[:, 2])
    centre_w = mesh.quads.mean(axis=1)
    view = pos - centre_w
    dist = np.linalg.norm(view, axis=1)
    view /= np.maximum(dist, 1e-9)[:, None]
    half = view + light.sun_dir
    half /= np.maximum(np.linalg.norm(half, axis=1), 1e-9)[:, None]
    spec = mesh.spec * np.clip(np.einsum("ij,ij->i", n_w, half), 0.0, None) ** 40 * light.sun
    intensity = sky + light.sun * lam
    tint = np.array(light.tint_bgr, np.float32)
    colour = mesh.colours * intensity[:, None].astype(np.float32) * tint + (spec * 255)[:, None]
    haze_a = (1.0 - np.exp(-light.haze_per_m * dist))[:, None]
    colour = colour * (1 - haze_a) + np.array(light.haze_bgr) * haze_a
    colour = np.clip(colour, 0, 255)
    shade = (intensity[:, None] * tint * (1 - haze_a)).astype(np.float32)

    key = z.mean(axis=1)
    # An overlay sorts just after (nearer than) its parent so it is drawn on top of it.
    key[has_parent] = key[mesh.parent[has_parent]] - 1e-4
    face_idx = np.nonzero(visible)[0]
    keys = [key[face_idx]]
    sprite_px: list[tuple[float, float, float, int]] = []
    for si, s in enumerate(sprites):
        c = (s.centre - pos) @ rot.T
        if c[2] - s.radius_m <= NEAR_M:
            continue
        u = k.fx_px * c[0] / c[2] + k.cx_px
        v = k.fy_px * c[1] / c[2] + k.cy_px
        r = k.fx_px * s.radius_m / c[2]
        if u + r < 0 or u - r > w or v + r < 0 or v - r > h:
            continue
        sprite_px.append((u, v, r, si))
        keys.append(np.array([c[2]]))
    all_keys = np.concatenate(keys) if keys else np.zeros(0)
    order = np.argsort(-all_keys, kind="stable")
    cracks_by_face: dict[int, list[int]] = {}
    for ci, crack in enumerate(mesh.cracks):
        cracks_by_face.setdefault(crack.face, []).append(ci)

    n_vis = len(face_idx)
    for o in order:
        if o >= n_vis:
            u, v, r, si = sprite_px[o - n_vis]
            _draw_sprite(img, idbuf, u, v, r, sprites[si].colour, sprite_id, light)
            continue
        i = int(face_idx[o])
        fid = int(ids[i])
        if all_front[i]:
            pts = _fixed(px[i])
        else:
            clipped = clip_project(cam, mesh.quads[i])
            if clipped is None:
                continue
            pts = _fixed(clipped)
        kind = int(mesh.kind[i])
        record = fid < record_below
        if kind == ID_ONLY:
            cv2.fillPoly(idbuf, [pts], fid, lineType=cv2.LINE_8, shift=4)
            if record:
                res.polys[fid] = pts
            continue
        tex = int(mesh.texture[i])
        if tex >= 0 and all_front[i]:
            _draw_textured(img, idbuf, px[i], mesh.uv[i], textures[tex], shade[i], fid, res, record)
        else:
            col = tuple(float(c) for c in colour[i])
            cv2.fillPoly(img, [pts], col, lineType=cv2.LINE_8, shift=4)
            if kind != COLOUR_OVERLAY:
                cv2.fillPoly(idbuf, [pts], fid, lineType=cv2.LINE_8, shift=4)
                if record:
                    res.polys[fid] = pts
        for ci in cracks_by_face.get(i, ()):
            _draw_crack(img, cam, mesh, ci, fid, res)
    return res


def _draw_sprite(
    img: U8,
    idbuf: I32,
    u: float,
    v: float,
    r: float,
    colour: tuple[float, float, float],
    clutter_id: int,
    light: Lighting,
) -> None:
    """A tree canopy: a disc with a leafy, ragged edge, lit from the sun's side."""
    h, w = idbuf.shape
    x0, y0 = max(0, int(u - r) - 1), max(0, int(v - r) - 1)
    x1, y1 = min(w, int(u + r) + 2), min(h, int(v + r) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.sqrt((xx - u) ** 2 + (yy - v) ** 2) / max(r, 1e-3)
    rng = np.random.default_rng(int(u * 7 + v * 13) & 0xFFFF)
    leaves = rng.random(d.shape).astype(np.float32)
    leaves = cv2.GaussianBlur(leaves, (0, 0), max(0.6, r / 25))
    leaves = (leaves - leaves.min()) / max(float(leaves.max() - leaves.min()), 1e-6)
    inside = d + (leaves - 0.5) * 0.35 < 1.0
    if not inside.any():
        return
    lit = light.ambient + light.sun * 0.6
    base = np.array(colour, np.float32) * lit * np.array(light.tint_bgr, np.float32)
    col = base[None, None] * (0.55 + 0.8 * leaves[..., None]) * (1.05 - 0.35 * d[..., None])
    sub = img[y0:y1, x0:x1]
    sub[inside] = np.clip(col[inside], 0, 255).astype(np.uint8)
    idbuf[y0:y1, x0:x1][inside] = clutter_id


def _draw_textured(
    img: U8,
    idbuf: I32,
    px: F64,
    uv: npt.NDArray[np.float32],
    tex: U8,
    shade: npt.NDArray[np.float32],
    fid: int,
    res: DrawResult,
    record: bool,
) -> None:
    h, w = idbuf.shape
    x0, y0 = max(0, math.floor(px[:, 0].min())), max(0, math.floor(px[:, 1].min()))
    x1, y1 = min(w, math.ceil(px[:, 0].max()) + 1), min(h, math.ceil(px[:, 1].max()) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    m = cv2.getPerspectiveTransform(uv.astype(np.float32), (px - [x0, y0]).astype(np.float32))
    patch = cv2.warpPerspective(
        tex,
        m,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0, 0),
    )
    mask = (patch[..., 3] > 127).astype(np.uint8)
    if not mask.any():
        return
    rgb = np.clip(patch[..., :3].astype(np.float32) * shade, 0, 255).astype(np.uint8)
    cv2.copyTo(rgb, mask, img[y0:y1, x0:x1])
    idbuf[y0:y1, x0:x1][mask > 0] = fid
    if record:
        res.masks[fid] = (x0, y0, mask)


def _draw_crack(
    img: U8, cam: PinholeCamera, mesh: Mesh, ci: int, parent_id: int, res: DrawResult
) -> None:
    crack = mesh.cracks[ci]
    h, w = img.shape[:2]
    k = cam.intrinsics
    all_pts: list[F64] = []
    depth = []
    lines_px = []
    for line in crack.polylines:
        c = (line - cam.position_enu) @ cam.rotation.T
        if np.any(c[:, 2] <= NEAR_M):
            continue
        p = np.column_stack(
            [k.fx_px * c[:, 0] / c[:, 2] + k.cx_px, k.fy_px * c[:, 1] / c[:, 2] + k.cy_px]
        )
        lines_px.append(p)
        all_pts.append(p)
        depth.append(float(c[:, 2].mean()))
    if not lines_px:
        return
    # Dirt and shadowed edges make a crack look ~3x wider than its opening.
    width_px = 3.0 * k.fx_px * crack.width_m / float(np.mean(depth))
    alpha = float(np.clip(width_px, 0.0, 1.0)) * 0.85
    pts = np.vstack(all_pts)
    res.cracks.append(CrackDraw(crack.defect, parent_id, pts, alpha))
    if alpha < 0.05:
        return
    x0, y0 = max(0, int(pts[:, 0].min()) - 3), max(0, int(pts[:, 1].min()) - 3)
    x1, y1 = min(w, int(pts[:, 0].max()) + 4), min(h, int(pts[:, 1].max()) + 4)
    if x1 <= x0 or y1 <= y0:
        return
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    thick = max(1, round(width_px))
    for p in lines_px:
        cv2.polylines(m, [_fixed(p - [x0, y0])], False, 255, thick, cv2.LINE_AA, shift=4)
    sub = img[y0:y1, x0:x1]
    a = (m.astype(np.float32) / 255.0 * alpha)[..., None]
    sub[:] = np.clip(sub * (1 - a) + 28.0 * a, 0, 255).astype(np.uint8)


RUST_ORANGE = np.array([38, 98, 182], np.float32)
RUST_BROWN = np.array([26, 56, 118], np.float32)
RUST_DARK = np.array([22, 32, 58], np.float32)


def rust_pass(
    img: U8,
    idbuf: I32,
    face_defect: I32,
    defects: list[tuple[int, float, float]],
    res: DrawResult,
    tex: GroundTextures,
    rng: np.random.Generator,
) -> None:
    """Paint rust where rust-overlay faces are visible. defects: (global index, severity,
    luminance of the painted surface under it). Records each defect's visible rust mask."""
    if not defects:
        return
    h, w = idbuf.shape
    by_defect: dict[int, list[npt.NDArray[np.int32]]] = {}
    for fid, pts in res.polys.items():
        d = int(face_defect[fid])
        if d >= 0:
            by_defect.setdefault(d, []).append(pts)
    for d, severity, base_lum in defects:
        polys = by_defect.get(d)
        if not polys:
            continue
        allp = np.vstack(polys) / 16.0
        x0, y0 = max(0, int(allp[:, 0].min()) - 1), max(0, int(allp[:, 1].min()) - 1)
        x1, y1 = min(w, int(allp[:, 0].max()) + 2), min(h, int(allp[:, 1].max()) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        region = face_defect[idbuf[y0:y1, x0:x1]] == d
        if not region.any():
            continue
        rh, rw = region.shape
        # Blob noise scaled to the patch (2-3 blobs across), speckle at ~1-2 px.
        cs = 110
        ox, oy = rng.integers(0, 256 - cs, 2)
        blobs = cv2.resize(
            tex.rust[oy : oy + cs, ox : ox + cs], (rw, rh), interpolation=cv2.INTER_LINEAR
        )
        ds = int(np.clip(max(rw, rh) // 2, 4, 255))
        dx, dy = rng.integers(0, 256 - ds, 2) if ds < 256 else (0, 0)
        detail = cv2.resize(
            tex.rust_detail[dy : dy + ds, dx : dx + ds], (rw, rh), interpolation=cv2.INTER_LINEAR
        )
        thr = 0.62 - 0.5 * severity
        alpha = np.clip((blobs + 0.25 * (detail - 0.5) - thr) * 7.0, 0.0, 1.0) * region
        if not (alpha > 0.5).any():
            # A tiny or mild patch still shows as a faint stain; keep its core.
            alpha = region * 0.6
        mix = np.clip(detail * 1.4 - 0.2, 0, 1)[..., None]
        col = RUST_ORANGE * (1 - mix) + RUST_BROWN * mix
        dark = np.clip((detail - (0.85 - 0.35 * severity)) * 5.0, 0, 1)[..., None]
        col = col * (1 - dark) + RUST_DARK * dark
        sub = img[y0:y1, x0:x1]
        subf = sub.astype(np.float32)
        lum = subf.mean(axis=2, keepdims=True)
        shade_px = np.clip(lum / max(base_lum, 1.0), 0.2, 1.6)
        a = alpha[..., None]
        sub[:] = np.clip(subf * (1 - a) + col * shade_px * a, 0, 255).astype(np.uint8)
        res.rust_masks[d] = (x0, y0, (alpha > 0.5).astype(np.uint8))
