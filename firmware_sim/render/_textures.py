"""Procedural textures made once per renderer: seamless ground tiles (asphalt, paving, grass),
noise fields for rust and grain, concrete, and road-sign faces with their shape as alpha."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["GroundTextures", "fractal_noise", "make_ground_textures", "sign_texture"]

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

# Ground tiles cover TILE_PX x TILE_PX at TILE_M_PER_PX: 5.12 m repeats, fine enough for a
# nadir GSD of ~1 cm (7 m altitude) and cheap to warp.
TILE_PX = 512
TILE_M_PER_PX = 0.01
# Low-frequency tone map: breaks the visible repetition of the fine tiles.
TONE_PX = 256
TONE_M_PER_PX = 0.25


def fractal_noise(
    rng: np.random.Generator, size: int, octaves: int = 5, base_cells: int = 4, decay: float = 0.55
) -> F32:
    """Seamless (tileable) fractal value noise in [0, 1], size x size."""
    out = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    cells = base_cells
    for _ in range(octaves):
        if cells > size:
            break
        grid = rng.random((cells, cells)).astype(np.float32)
        # Tile 3x3 before resizing so the interpolation wraps: the centre crop is periodic.
        big = cv2.resize(np.tile(grid, (3, 3)), (size * 3, size * 3), interpolation=cv2.INTER_CUBIC)
        out += amp * big[size : 2 * size, size : 2 * size]
        total += amp
        amp *= decay
        cells *= 2
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _wrap_blur(x: F32, sigma_x: float, sigma_y: float | None = None) -> F32:
    """Gaussian blur of a tileable image that stays tileable (OpenCV blurs lack BORDER_WRAP)."""
    pad = 8
    big = np.pad(x, pad, mode="wrap")
    out = cv2.GaussianBlur(big, (0, 0), sigmaX=sigma_x, sigmaY=sigma_y or sigma_x)
    return np.ascontiguousarray(out[pad:-pad, pad:-pad])


def _to_u8(x: F32) -> U8:
    return np.clip(x, 0, 255).astype(np.uint8)


@dataclass(frozen=True, slots=True)
class TileSet:
    """Ground tiles at one resolution (level L covers the same 5.12 m with TILE_PX / 2**L px)."""

    asphalt: U8
    paving: U8
    grass: U8
    concrete: U8


@dataclass(frozen=True, slots=True)
class GroundTextures:
    asphalt: U8  # TILE_PX^2 BGR
    paving: U8
    grass: U8
    concrete: U8  # kerbs and bases
    tone: U8  # TONE_PX^2 single channel, 128 = neutral
    rust: F32  # 256^2 noise for rust patches, [0, 1]
    rust_detail: F32
    grain: npt.NDArray[np.int16]  # signed grain for fixture surfaces, 256^2
    levels: tuple[TileSet, ...] = ()  # level 0 = full resolution, then halved (mipmaps)


def make_ground_textures(rng: np.random.Generator) -> GroundTextures:
    n = TILE_PX
    # Asphalt: dark binder, bright aggregate specks, soft stains.
    fine = rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
    fine = _wrap_blur(fine, 0.7)
    stains = fractal_noise(rng, n, octaves=5, base_cells=4)
    base = 88.0 + 14.0 * fine + 22.0 * (stains - 0.5)
    specks = rng.random((n, n)) < 0.015
    base[specks] += rng.uniform(30, 70, int(specks.sum())).astype(np.float32)
    pits = rng.random((n, n)) < 0.01
    base[pits] -= 35.0
    tint = np.array([1.0, 0.99, 0.97], np.float32)  # slightly warm grey
    asphalt = _to_u8(base[..., None] * tint)

    # Interlocking blocks (インターロッキング舗装) in running bond, 20 x 10 cm.
    bw, bh = 20, 10
    yy, xx = np.mgrid[0:n, 0:n]
    row = yy // bh
    col = (xx + (row % 2) * (bw // 2)) // bw
    block_id = (row * 131 + col * 17) % 997
    palette = np.array(
        [[118, 122, 150], [100, 108, 138], [135, 140, 160], [95, 98, 112]], np.float32
    )
    choice = rng.integers(0, len(palette), 997)
    blocks = palette[choice[block_id]]
    joint = ((yy % bh) == 0) | (((xx + (row % 2) * (bw // 2)) % bw) == 0)
    wear = fractal_noise(rng, n, octaves=4, base_cells=8)
    blocks = blocks * (0.85 + 0.3 * wear[..., None]) + rng.normal(0, 5, (n, n, 1)).astype(
        np.float32
    )
    blocks[joint] *= 0.55
    paving = _to_u8(blocks)

    # Grass: green with blades (anisotropic fine noise) and dry or bare patches.
    blades = rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
    blades = _wrap_blur(blades, 0.6, 1.6)
    patches = fractal_noise(rng, n, octaves=5, base_cells=4)
    green = np.array([45, 110, 70], np.float32)
    dry = np.array([70, 120, 135], np.float32)
    soil = np.array([60, 80, 100], np.float32)
    p = patches[..., None]
    colour = green * (1 - p) + dry * p
    bare = np.clip((patches - 0.8) * 8.0, 0.0, 0.7)[..., None]
    colour = colour * (1 - bare) + soil * bare
    grass = _to_u8(colour * (1.0 + 0.22 * blades[..., None]))

    cnoise = fractal_noise(rng, n, octaves=6, base_cells=8)
    pores = rng.random((n, n)) < 0.02
    cbase = 168.0 + 28.0 * (cnoise - 0.5) + rng.normal(0, 6, (n, n)).astype(np.float32)
    cbase[pores] -= 40
    concrete = _to_u8(cbase[..., None] * np.array([0.98, 1.0, 1.0], np.float32))

    tone = _to_u8(128.0 + 40.0 * (fractal_noise(rng, TONE_PX, octaves=5, base_cells=4) - 0.5))
    rust = fractal_noise(rng, 256, octaves=6, base_cells=4, decay=0.6)
    rust_detail = fractal_noise(rng, 256, octaves=4, base_cells=32, decay=0.6)
    grain = np.clip(rng.normal(0, 6.0, (256, 256)), -20, 20).astype(np.int16)
    levels = [TileSet(asphalt, paving, grass, concrete)]
    for _ in range(4):
        prev = levels[-1]
        levels.append(
            TileSet(
                *(
                    np.asarray(
                        cv2.resize(
                            t, (t.shape[1] // 2, t.shape[0] // 2), interpolation=cv2.INTER_AREA
                        ),
                        dtype=np.uint8,
                    )
                    for t in (prev.asphalt, prev.paving, prev.grass, prev.concrete)
                )
            )
        )
    return GroundTextures(
        asphalt, paving, grass, concrete, tone, rust, rust_detail, grain, tuple(levels)
    )


SIGN_TEX_PX = 128


def _shape_mask(shape: str, px: int) -> U8:
    m = np.zeros((px, px), np.uint8)
    c = (px - 1) / 2
    if shape == "circle":
        cv2.circle(m, (int(c), int(c)), px // 2 - 1, 255, -1, cv2.LINE_AA)
    elif shape == "triangle_down":
        pts = np.array([[1, 1], [px - 2, 1], [int(c), px - 2]], np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
    elif shape == "diamond":
        pts = np.array([[int(c), 1], [px - 2, int(c)], [int(c), px - 2], [1, int(c)]], np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
    else:
        cv2.rectangle(m, (1, 1), (px - 2, px - 2), 255, -1)
    return m


def sign_texture(sign_type: str, shape: str, *, back: bool, rng: np.random.Generator) -> U8:
    """BGRA face of a Japanese road sign (or its galvanised back); alpha is the plate shape."""
    px = SIGN_TEX_PX
    mask = _shape_mask(shape, px)
    img = np.zeros((px, px, 3), np.uint8)
    c = px // 2
    red, blue, white = (40, 30, 200), (150, 70, 20), (235, 235, 235)
    yellow, black = (20, 200, 245), (25, 25, 25)
    if back:
        g = 150 + rng.normal(0, 6, (px, px)).astype(np.float32)
        img[:] = _to_u8(g[..., None] * np.array([1.0, 1.0, 0.97], np.float32))
        cv2.rectangle(img, (c - 6, 4), (c + 6, px - 5), (120, 120, 118), -1)  # mounting rail
    elif sign_type == "speed_limit":
        img[:] = white
        cv2.circle(img, (c, c), c - 2, red, 12, cv2.LINE_AA)
        cv2.putText(
            img, "40", (c - 34, c + 20), cv2.FONT_HERSHEY_SIMPLEX, 1.9, blue, 6, cv2.LINE_AA
        )
    elif sign_type == "no_parking":
        img[:] = blue
        cv2.circle(img, (c, c), c - 2, red, 12, cv2.LINE_AA)
        d = int((c - 8) * math.sqrt(0.5))
        cv2.line(img, (c - d, c - d), (c + d, c + d), red, 12, cv2.LINE_AA)
    elif sign_type == "stop":
        img[:] = red
        cv2.fillPoly(img, [np.array([[8, 8], [px - 9, 8], [c, px - 12]], np.int32)], white)
        cv2.fillPoly(img, [np.array([[16, 13], [px - 17, 13], [c, px - 24]], np.int32)], red)
        for i, x in enumerate((c - 30, c - 8, c + 14)):  # 止まれ as three white glyph blocks
            cv2.rectangle(img, (x, 28 + i % 2 * 2), (x + 16, 50), white, 3)
    elif sign_type == "warning":
        img[:] = yellow
        pts = np.array([[c, 6], [px - 7, c], [c, px - 7], [6, c]], np.int32)
        cv2.polylines(img, [pts], True, black, 5, cv2.LINE_AA)
        cv2.fillPoly(
            img, [np.array([[c - 8, 36], [c + 8, 36], [c + 4, 90], [c - 4, 90]], np.int32)], black
        )
    elif sign_type == "crossing":
        img[:] = blue
        cv2.rectangle(img, (5, 5), (px - 6, px - 6), white, 4)
        cv2.fillPoly(img, [np.array([[c, 22], [px - 24, px - 30], [24, px - 30]], np.int32)], white)
        cv2.circle(img, (c, 58), 7, black, -1, cv2.LINE_AA)
        cv2.line(img, (c, 66), (c - 6, 88), black, 5, cv2.LINE_AA)
    else:  # guide: blue with white border, arrow and text bars
        img[:] = blue
        cv2.rectangle(img, (4, 4), (px - 5, px - 5), white, 4)
        cv2.arrowedLine(img, (c, px - 20), (c, 40), white, 8, cv2.LINE_AA, tipLength=0.3)
        cv2.rectangle(img, (16, 16), (c - 12, 26), white, -1)
        cv2.rectangle(img, (c + 12, 16), (px - 17, 26), white, -1)
    if not back:
        # Retroreflective sheeting ages unevenly: soft fading and grime.
        fade = fractal_noise(rng, px, octaves=4, base_cells=4)
        img = _to_u8(img.astype(np.float32) * (0.88 + 0.16 * fade[..., None]))
    return np.dstack([img, mask])
