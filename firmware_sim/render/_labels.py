"""YOLO labels from what was actually drawn: boxes come from the face-id buffer (visible pixels
only), never from raw projected geometry, so occluded and off-image parts do not count.

Rules (tuned so a human labeller would draw the same boxes):
- A fixture is labelled when at least MIN_VISIBLE_FRACTION of the pixels it would cover in
  this image without occluders are visible, at least MIN_IN_FRAME of its projected surface
  lies inside the image (not for guardrails: a run is often longer than the view), its
  visible box is >= MIN_FIXTURE_SIDE_PX on both sides and it has >= MIN_FIXTURE_PIXELS
  visible pixels. The box bounds the visible pixels.
- A corrosion patch: its rust pixels (the irregular blotch, not the patch rectangle) that are
  visible; same fraction rule, >= MIN_DEFECT_PIXELS pixels, >= MIN_DEFECT_SIDE_PX per side.
- A deformation: the visible pixels of the deformed faces (bent rail section, folded plate
  part); same rules as corrosion.
- A crack: only when drawn with enough contrast to be seen (CRACK_MIN_ALPHA: its apparent
  width, ~3x the opening, is at least ~1/3 px) and >= MIN_VISIBLE_FRACTION of its points are
  visible; the box bounds the visible crack points, padded by one pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from firmware_sim.render._raster import DrawResult
from firmware_sim.world import CLASS_IDS, Defect, Fixture

__all__ = [
    "CRACK_MIN_ALPHA",
    "MIN_DEFECT_PIXELS",
    "MIN_DEFECT_SIDE_PX",
    "MIN_FIXTURE_PIXELS",
    "MIN_FIXTURE_SIDE_PX",
    "MIN_IN_FRAME",
    "MIN_VISIBLE_FRACTION",
    "YoloLabel",
    "compute_labels",
]

MIN_VISIBLE_FRACTION = 0.3
MIN_IN_FRAME = 0.2
MIN_FIXTURE_SIDE_PX = 4
MIN_FIXTURE_PIXELS = 30
MIN_DEFECT_SIDE_PX = 3
MIN_DEFECT_PIXELS = 12
CRACK_MIN_ALPHA = 0.3

I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class YoloLabel:
    """One YOLO box: class id and centre/size normalised to the image (0..1)."""

    class_id: int
    cx: float
    cy: float
    w: float
    h: float
    asset_id: str
    defect_id: str | None = None
    visible_fraction: float = 1.0
    box_px: tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 (exclusive)

    def yolo_line(self) -> str:
        return f"{self.class_id} {self.cx:.6f} {self.cy:.6f} {self.w:.6f} {self.h:.6f}"


def _label(
    class_id: int,
    x: int,
    y: int,
    bw: int,
    bh: int,
    size: tuple[int, int],
    asset: str,
    defect: str | None,
    frac: float,
) -> YoloLabel:
    w, h = size
    return YoloLabel(
        class_id=class_id,
        cx=(x + bw / 2) / w,
        cy=(y + bh / 2) / h,
        w=bw / w,
        h=bh / h,
        asset_id=asset,
        defect_id=defect,
        visible_fraction=round(frac, 3),
        box_px=(x, y, x + bw, y + bh),
    )


def _union_rect(
    polys: list[npt.NDArray[np.int32]], masks: list[tuple[int, int, U8]], w: int, h: int
) -> tuple[int, int, int, int] | None:
    xs0, ys0, xs1, ys1 = [], [], [], []
    for p in polys:
        q = p / 16.0
        xs0.append(q[:, 0].min())
        ys0.append(q[:, 1].min())
        xs1.append(q[:, 0].max())
        ys1.append(q[:, 1].max())
    for x0, y0, m in masks:
        xs0.append(x0)
        ys0.append(y0)
        xs1.append(x0 + m.shape[1])
        ys1.append(y0 + m.shape[0])
    if not xs0:
        return None
    x0, y0 = max(0, int(min(xs0)) - 1), max(0, int(min(ys0)) - 1)
    x1, y1 = min(w, int(max(xs1)) + 2), min(h, int(max(ys1)) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _scratch_count(
    rect: tuple[int, int, int, int],
    polys: list[npt.NDArray[np.int32]],
    masks: list[tuple[int, int, U8]],
) -> int:
    x0, y0, x1, y1 = rect
    scratch = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for p in polys:
        cv2.fillPoly(
            scratch, [p - np.array([x0 * 16, y0 * 16], np.int32)], 255, lineType=cv2.LINE_8, shift=4
        )
    for mx, my, m in masks:
        sub = scratch[my - y0 : my - y0 + m.shape[0], mx - x0 : mx - x0 + m.shape[1]]
        sub[m[: sub.shape[0], : sub.shape[1]] > 0] = 255
    return int(cv2.countNonZero(scratch))


@dataclass(frozen=True, slots=True)
class FixtureInView:
    fixture: Fixture
    id_lo: int  # inclusive global face ids
    id_hi: int
    in_frame: float  # share of the projected extent inside the image


def compute_labels(
    idbuf: I32,
    res: DrawResult,
    in_view: list[FixtureInView],
    face_defect: I32,
    defects: list[tuple[Fixture, Defect]],
) -> list[YoloLabel]:
    h, w = idbuf.shape
    size = (w, h)
    labels: list[YoloLabel] = []
    for fv in in_view:
        f = fv.fixture
        polys = [p for fid, p in res.polys.items() if fv.id_lo <= fid <= fv.id_hi]
        masks = [m for fid, m in res.masks.items() if fv.id_lo <= fid <= fv.id_hi]
        rect = _union_rect(polys, masks, w, h)
        # A guardrail run is often longer than the view: its visible stretch still counts.
        if rect is None or (fv.in_frame < MIN_IN_FRAME and f.kind != "guardrail"):
            continue
        x0, y0, x1, y1 = rect
        crop = idbuf[y0:y1, x0:x1]
        vis = ((crop >= fv.id_lo) & (crop <= fv.id_hi)).astype(np.uint8)
        n_vis = int(cv2.countNonZero(vis))
        if n_vis < MIN_FIXTURE_PIXELS:
            continue
        frac = n_vis / max(_scratch_count(rect, polys, masks), 1)
        bx, by, bw, bh = cv2.boundingRect(vis)
        if frac < MIN_VISIBLE_FRACTION or min(bw, bh) < MIN_FIXTURE_SIDE_PX:
            continue
        labels.append(
            _label(f.class_id, x0 + bx, y0 + by, bw, bh, size, f.asset_id, None, min(frac, 1.0))
        )

    # Defects: rust masks and deformed faces.
    face_ids_by_defect: dict[int, list[int]] = {}
    for fid in (*res.polys.keys(), *res.masks.keys()):
        d = int(face_defect[fid])
        if d >= 0:
            face_ids_by_defect.setdefault(d, []).append(fid)
    for d, fids in face_ids_by_defect.items():
        fixture, defect = defects[d]
        polys = [res.polys[i] for i in fids if i in res.polys]
        masks = [res.masks[i] for i in fids if i in res.masks]
        rect = _union_rect(polys, masks, w, h)
        if rect is None:
            continue
        unoccluded = max(_scratch_count(rect, polys, masks), 1)
        x0, y0, x1, y1 = rect
        region = face_defect[idbuf[y0:y1, x0:x1]] == d
        n_region = int(region.sum())
        if defect.type == "corrosion":
            rust = res.rust_masks.get(d)
            if rust is None:
                continue
            rx, ry, vis = rust
            ox, oy = rx, ry
        else:
            vis = region.astype(np.uint8)
            ox, oy = x0, y0
        n_vis = int(cv2.countNonZero(vis))
        frac = n_region / unoccluded
        if n_vis < MIN_DEFECT_PIXELS or frac < MIN_VISIBLE_FRACTION:
            continue
        bx, by, bw, bh = cv2.boundingRect(vis)
        if min(bw, bh) < MIN_DEFECT_SIDE_PX:
            continue
        labels.append(
            _label(
                defect.class_id,
                ox + bx,
                oy + by,
                bw,
                bh,
                size,
                fixture.asset_id,
                defect.defect_id,
                min(frac, 1.0),
            )
        )

    for c in res.cracks:
        if c.alpha < CRACK_MIN_ALPHA:
            continue
        fixture, defect = defects[c.defect]
        p = np.round(c.points_px).astype(np.int64)
        inside = (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
        if not inside.any():
            continue
        q = p[inside]
        seen = idbuf[q[:, 1], q[:, 0]] == c.parent_id
        frac = float(seen.sum()) / len(p)
        if frac < MIN_VISIBLE_FRACTION:
            continue
        v = q[seen]
        bx0, by0 = max(0, int(v[:, 0].min()) - 1), max(0, int(v[:, 1].min()) - 1)
        bx1, by1 = min(w, int(v[:, 0].max()) + 2), min(h, int(v[:, 1].max()) + 2)
        if min(bx1 - bx0, by1 - by0) < MIN_DEFECT_SIDE_PX:
            continue
        labels.append(
            _label(
                CLASS_IDS["crack"],
                bx0,
                by0,
                bx1 - bx0,
                by1 - by0,
                size,
                fixture.asset_id,
                defect.defect_id,
                frac,
            )
        )
    return labels
