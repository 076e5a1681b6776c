"""Plane geometry for mission planning, in local East-North metres (numpy (N, 2) arrays).

Polylines are the corridor and the flight paths; polygons are geofences. Pure functions.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "Points",
    "buffer_polygon",
    "convex_hull",
    "cumulative_lengths",
    "distance_to_polyline",
    "distance_trigger_points",
    "extend_polyline",
    "find_self_intersection",
    "offset_polyline",
    "point_in_polygon",
    "points_in_polygon",
    "polygon_is_simple",
]

Points = npt.NDArray[np.float64]

# Below this a length counts as zero: 1 mm is far under GPS and waypoint precision.
_EPS_M = 1e-3
# A miter longer than this many offsets becomes a bevel (two points): at a hairpin the
# miter point would shoot far away from the corridor.
_MITER_LIMIT = 3.0


def cumulative_lengths(pts: Points) -> Points:
    """Distance along the polyline from its first point to each vertex (metres)."""
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    return np.concatenate([[0.0], np.cumsum(seg)])


def _cross(a: Points, b: Points) -> Points:
    return np.asarray(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0], dtype=np.float64)


def find_self_intersection(pts: Points, *, closed: bool = False) -> tuple[int, int] | None:
    """Indices (i, j), i < j, of the first two segments that touch, or None if simple.

    Segment k joins vertex k and k + 1. Neighbouring segments share a vertex by design, so
    for them only a fold-back (the path reversing over itself) counts. With `closed`, `pts`
    is a ring whose last point joins the first, and the last and first segments are
    neighbours too. O(n²) vectorised per segment: a corridor has a few thousand vertices
    at most.
    """
    if closed:
        pts = np.vstack([pts, pts[:1]])
    n = len(pts) - 1
    if n < 2:
        return None
    a = pts[:-1]
    b = pts[1:]
    d = b - a
    lengths = np.linalg.norm(d, axis=1)
    for i in range(n):
        nxt = i + 1 if i + 1 < n else (0 if closed else None)
        if nxt is not None and nxt != i and _folds_back(d[i], d[nxt], lengths[i], lengths[nxt]):
            return (i, nxt) if i < nxt else (nxt, i)
        j0 = i + 2
        j1 = n - 1 if (closed and i == 0) else n  # ring: segment n - 1 is segment 0's neighbour
        if j0 >= j1:
            continue
        pa, pb = a[i], b[i]
        qa, qb = a[j0:j1], b[j0:j1]
        r = pb - pa
        s = qb - qa
        o1 = _cross(r, qa - pa)
        o2 = _cross(r, qb - pa)
        o3 = _cross(s, pa - qa)
        o4 = _cross(s, pb - qa)
        # Cross products are in m²: scale the tolerance by the segment lengths.
        tol = _EPS_M * (lengths[i] + lengths[j0:j1] + 1.0)
        proper = ((o1 > tol) & (o2 < -tol) | (o1 < -tol) & (o2 > tol)) & (
            (o3 > tol) & (o4 < -tol) | (o3 < -tol) & (o4 > tol)
        )
        hits = proper | _touches(pa, pb, qa, qb, o1, o2, o3, o4, tol)
        if np.any(hits):
            return i, j0 + int(np.argmax(hits))
    return None


def _folds_back(d0: Points, d1: Points, len0: float, len1: float) -> bool:
    """Whether two consecutive segments are (nearly) collinear and point opposite ways.

    "Nearly" is the same length-scaled millimetre tolerance as the crossing tests: a fixed
    angle would miss a line retraced along a parallel of latitude, which the local frame's
    curvature bends by a few millionths of a radian.
    """
    if len0 <= _EPS_M or len1 <= _EPS_M:
        return False
    tol = _EPS_M * (len0 + len1 + 1.0)
    return abs(float(_cross(d0, d1))) <= tol and float(np.dot(d0, d1)) < 0.0


Mask = npt.NDArray[np.bool_]


def _on_segment(p: Points, a: Points, b: Points, tol: Points) -> Mask:
    """Whether collinear points p[k] lie within the bounding box of segments a[k]-b[k]."""
    lo = np.minimum(a, b) - tol[:, None]
    hi = np.maximum(a, b) + tol[:, None]
    return np.asarray(np.all((p >= lo) & (p <= hi), axis=-1), dtype=np.bool_)


def _touches(
    pa: Points,
    pb: Points,
    qa: Points,
    qb: Points,
    o1: Points,
    o2: Points,
    o3: Points,
    o4: Points,
    tol: Points,
) -> Mask:
    """Degenerate contacts: an endpoint of one segment lying on the other."""
    pa_n = np.broadcast_to(pa, qa.shape)
    pb_n = np.broadcast_to(pb, qa.shape)
    c1: Mask = (np.abs(o1) <= tol) & _on_segment(qa, pa_n, pb_n, tol)
    c2: Mask = (np.abs(o2) <= tol) & _on_segment(qb, pa_n, pb_n, tol)
    c3: Mask = (np.abs(o3) <= tol) & _on_segment(pa_n, qa, qb, tol)
    c4: Mask = (np.abs(o4) <= tol) & _on_segment(pb_n, qa, qb, tol)
    return c1 | c2 | c3 | c4


def _unit_normals(pts: Points) -> Points:
    """Left-hand unit normal of every segment (the direction of a positive offset)."""
    d = np.diff(pts, axis=0)
    d = d / np.linalg.norm(d, axis=1)[:, None]
    return np.stack([-d[:, 1], d[:, 0]], axis=1)


def offset_polyline(pts: Points, offset_m: float) -> Points:
    """The polyline moved sideways by `offset_m` (positive = left of the direction of travel).

    Joins are mitred; a miter longer than `_MITER_LIMIT` offsets becomes a bevel, so a sharp
    turn adds one vertex. The result may cross itself on the inside of a tight bend: callers
    check it with `find_self_intersection`.
    """
    if offset_m == 0.0:
        return pts.copy()
    nrm = _unit_normals(pts)
    out: list[Points] = [pts[0] + offset_m * nrm[0]]
    for k in range(1, len(pts) - 1):
        n0, n1 = nrm[k - 1], nrm[k]
        m = n0 + n1
        m_len = float(np.linalg.norm(m))
        cos_half = m_len / 2.0
        if m_len < _EPS_M or 1.0 / cos_half > _MITER_LIMIT:
            out.append(pts[k] + offset_m * n0)
            out.append(pts[k] + offset_m * n1)
        else:
            out.append(pts[k] + offset_m * (m / m_len) / cos_half)
    out.append(pts[-1] + offset_m * nrm[-1])
    return np.asarray(out, dtype=np.float64)


def extend_polyline(pts: Points, start_m: float, end_m: float) -> Points:
    """Lengthen (positive) or shorten (negative) a polyline at its start and its end.

    Lengthening moves the end point straight on along the first/last segment (no new
    vertex). Shortening cuts along the path; it never removes the whole polyline (at least
    1 mm is left).
    """
    out = pts.copy()
    if start_m > 0.0:
        d = out[0] - out[1]
        out[0] = out[0] + d / np.linalg.norm(d) * start_m
    elif start_m < 0.0:
        out = _trim_start(out, -start_m)
    if end_m > 0.0:
        d = out[-1] - out[-2]
        out[-1] = out[-1] + d / np.linalg.norm(d) * end_m
    elif end_m < 0.0:
        out = _trim_start(out[::-1], -end_m)[::-1]
    return np.ascontiguousarray(out)


def _trim_start(pts: Points, cut_m: float) -> Points:
    cum = cumulative_lengths(pts)
    cut = min(cut_m, float(cum[-1]) - _EPS_M)
    k = int(np.searchsorted(cum, cut, side="right"))  # first vertex strictly beyond the cut
    seg = cum[k] - cum[k - 1]
    t = (cut - cum[k - 1]) / seg
    first = pts[k - 1] + t * (pts[k] - pts[k - 1])
    return np.vstack([first, pts[k:]])


def buffer_polygon(pts: Points, width_m: float) -> Points:
    """Ring (N, 2), not closed, around the polyline at `width_m` with square end caps.

    Built from the two offset sides, so on a bend tighter than `width_m` the ring can cross
    itself; check it with `polygon_is_simple` and fall back to `convex_hull`.
    """
    ext = extend_polyline(pts, width_m, width_m)
    left = offset_polyline(ext, width_m)
    right = offset_polyline(ext, -width_m)
    return np.vstack([left, right[::-1]])


def polygon_is_simple(ring: Points) -> bool:
    """Whether a ring (not closed) has no crossing edges."""
    return find_self_intersection(ring, closed=True) is None


def convex_hull(pts: Points) -> Points:
    """Counter-clockwise convex hull (Andrew's monotone chain)."""
    uniq = np.unique(pts, axis=0)
    if len(uniq) < 3:
        return uniq
    order = np.lexsort((uniq[:, 1], uniq[:, 0]))
    p = [(float(q[0]), float(q[1])) for q in uniq[order]]

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        h: list[tuple[float, float]] = []
        for q in seq:
            while (
                len(h) >= 2
                and (
                    (h[-1][0] - h[-2][0]) * (q[1] - h[-2][1])
                    - (h[-1][1] - h[-2][1]) * (q[0] - h[-2][0])
                )
                <= 0.0
            ):
                h.pop()
            h.append(q)
        return h

    lower = half(p)
    upper = half(p[::-1])
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


def point_in_polygon(pt: Points, ring: Points) -> bool:
    """Even-odd rule; a point on an edge counts as inside."""
    return bool(points_in_polygon(np.asarray(pt, dtype=np.float64)[None, :], ring)[0])


def points_in_polygon(pts: Points, ring: Points) -> Mask:
    """`point_in_polygon` for an (N, 2) array of points at once."""
    p = pts[:, None, :]  # (N, 1, 2) against (1, M, 2) edges
    a = ring[None, :, :]
    b = np.roll(ring, -1, axis=0)[None, :, :]
    ab = b - a
    len2 = np.sum(ab * ab, axis=2)
    t = np.clip(np.sum((p - a) * ab, axis=2) / np.where(len2 > 0, len2, 1.0), 0.0, 1.0)
    on_edge = np.min(np.linalg.norm(p - (a + t[:, :, None] * ab), axis=2), axis=1) <= _EPS_M
    x, y = p[:, :, 0], p[:, :, 1]
    ya, yb = a[:, :, 1], b[:, :, 1]
    crosses = (ya > y) != (yb > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = a[:, :, 0] + (y - ya) * ab[:, :, 0] / ab[:, :, 1]
    inside = np.count_nonzero(crosses & (x < x_at), axis=1) % 2 == 1
    return np.asarray(on_edge | inside, dtype=np.bool_)


def _segment_distances(p: Points, a: Points, b: Points) -> Points:
    ab = b - a
    len2 = np.einsum("ij,ij->i", ab, ab)
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.where(len2 > 0.0, len2, 1.0), 0.0, 1.0)
    proj = a + t[:, None] * ab
    return np.asarray(np.linalg.norm(p - proj, axis=1), dtype=np.float64)


def distance_to_polyline(pt: Points, pts: Points) -> float:
    """Shortest distance from a point to a polyline (metres)."""
    return float(np.min(_segment_distances(np.asarray(pt, dtype=np.float64), pts[:-1], pts[1:])))


def distance_trigger_points(path: Points, trigger_m: float) -> Points:
    """Where a distance-triggered camera fires flying `path`: once at the start, then each
    time the straight-line distance from the last photo reaches `trigger_m`.

    That is ArduPilot's rule for DO_SET_CAM_TRIGG_DIST (distance from the last trigger point,
    not along the path), so on a bend the photos come slightly later than along-path spacing.
    Solved exactly per segment: |a + t(b - a) - last| = D is a quadratic in t, and since the
    distance is below D where the search starts, the photo is at its larger root.
    """
    if not (trigger_m > 0.0 and math.isfinite(trigger_m)):
        raise ValueError(f"trigger_m must be a positive finite distance, got {trigger_m}")
    shots = [path[0]]
    last = path[0]
    for a, b in itertools.pairwise(path):
        d = b - a
        qa = float(d @ d)
        if qa <= 0.0:
            continue
        t0 = 0.0
        while True:
            f = a - last
            qb = 2.0 * float(f @ d)
            qc = float(f @ f) - trigger_m * trigger_m
            disc = qb * qb - 4.0 * qa * qc
            if disc < 0.0:
                break
            t = (-qb + math.sqrt(disc)) / (2.0 * qa)
            if not t0 < t <= 1.0:
                break
            last = a + t * d
            shots.append(last)
            t0 = t
    return np.asarray(shots, dtype=np.float64)
