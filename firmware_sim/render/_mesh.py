"""Polygon meshes (quads in world ENU) of fixtures and scenery, with the bookkeeping the
rasteriser and labeller need: which face belongs to which defect, rust overlays tied to their
parent faces, crack polylines, textured faces and the parts that cast shadows."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["Crack", "Mesh", "MeshBuilder", "Sprite", "concat_meshes", "local_to_world"]

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]

# Face kinds.
SOLID = 0
ID_ONLY = 1  # rust patch: lies on a parent face, marks the id buffer only (colour in a pass)
COLOUR_OVERLAY = 2  # e.g. windows on a facade: drawn in colour after the parent


@dataclass(slots=True)
class Crack:
    face: int  # local face index of the parent face
    polylines: list[F64]  # each (N, 3) world ENU
    width_m: float
    defect: int  # global defect index


@dataclass(slots=True)
class Sprite:
    """A round blob (tree canopy) drawn as a disc: centre ENU and radius in metres."""

    centre: F64
    radius_m: float
    colour: tuple[float, float, float]


@dataclass(slots=True)
class Mesh:
    quads: F64  # (F, 4, 3) world ENU
    normals: F64  # (F, 3) unit, world
    colours: F32  # (F, 3) BGR albedo 0..255
    spec: F32  # (F,) specular strength
    double_sided: npt.NDArray[np.bool_]
    kind: npt.NDArray[np.int8]
    parent: I32  # local index or -1
    texture: I32  # index into the renderer's texture list or -1
    uv: F32  # (F, 4, 2) texture pixel coordinates
    defect: I32  # global defect index or -1
    cracks: list[Crack] = field(default_factory=list)
    shadow_parts: list[F64] = field(default_factory=list)
    sprites: list[Sprite] = field(default_factory=list)
    centre: F64 = field(default_factory=lambda: np.zeros(3))
    radius_m: float = 0.0

    @property
    def face_count(self) -> int:
        return len(self.quads)


def local_to_world(
    east_m: float, north_m: float, heading_deg: float, tilt_deg: float, tilt_azimuth_deg: float
) -> tuple[F64, F64]:
    """(3x3 rotation, translation) of the fixture-local frame (see firmware_sim.world)."""
    h = math.radians(heading_deg)
    x_w = np.array([math.cos(h), -math.sin(h), 0.0])
    y_w = np.array([math.sin(h), math.cos(h), 0.0])
    rot_h = np.column_stack([x_w, y_w, [0.0, 0.0, 1.0]])
    t = math.radians(tilt_deg)
    a = math.radians(tilt_azimuth_deg)
    k = np.array([-math.cos(a), math.sin(a), 0.0])  # z x lean-direction: tips z towards it
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot_t = np.eye(3) + math.sin(t) * kx + (1 - math.cos(t)) * (kx @ kx)
    return rot_t @ rot_h, np.array([east_m, north_m, 0.0])


class MeshBuilder:
    """Collects faces given in a local frame and bakes them into world coordinates."""

    def __init__(self, rotation: F64 | None = None, translation: F64 | None = None) -> None:
        self.rot = np.eye(3) if rotation is None else rotation
        self.trans = np.zeros(3) if translation is None else translation
        self._quads: list[F64] = []
        self._normals: list[F64] = []
        self._colours: list[tuple[float, float, float]] = []
        self._spec: list[float] = []
        self._double: list[bool] = []
        self._kind: list[int] = []
        self._parent: list[int] = []
        self._texture: list[int] = []
        self._uv: list[F32] = []
        self._defect: list[int] = []
        self.cracks: list[Crack] = []
        self.shadow_parts: list[F64] = []
        self.sprites: list[Sprite] = []

    def to_world(self, pts: npt.ArrayLike) -> F64:
        p = np.asarray(pts, dtype=np.float64)
        return np.asarray(p @ self.rot.T + self.trans, dtype=np.float64)

    def add_quad(
        self,
        pts_local: npt.ArrayLike,
        colour: Sequence[float],
        *,
        normal_local: npt.ArrayLike | None = None,
        spec: float = 0.0,
        double_sided: bool = False,
        kind: int = SOLID,
        parent: int = -1,
        texture: int = -1,
        uv: npt.ArrayLike | None = None,
        defect: int = -1,
    ) -> int:
        p = np.asarray(pts_local, dtype=np.float64)
        if p.shape[0] == 3:
            p = np.vstack([p, p[2:3]])
        if normal_local is None:
            n = np.cross(p[1] - p[0], p[2] - p[0])
            if np.linalg.norm(n) < 1e-12:
                n = np.cross(p[2] - p[0], p[3] - p[0])
        else:
            n = np.asarray(normal_local, dtype=np.float64)
        n = n / max(float(np.linalg.norm(n)), 1e-12)
        self._quads.append(self.to_world(p))
        self._normals.append(self.rot @ n)
        self._colours.append((float(colour[0]), float(colour[1]), float(colour[2])))
        self._spec.append(spec)
        self._double.append(double_sided)
        self._kind.append(kind)
        self._parent.append(parent)
        self._texture.append(texture)
        self._uv.append(np.zeros((4, 2), np.float32) if uv is None else np.asarray(uv, np.float32))
        self._defect.append(defect)
        return len(self._quads) - 1

    def add_shadow_part(self, pts_local: npt.ArrayLike) -> None:
        self.shadow_parts.append(self.to_world(pts_local))

    def extend(self, mesh: Mesh) -> None:
        """Append a built mesh (already in world coordinates) with its overlays and shadows."""
        off = self.count
        self._quads.extend(mesh.quads)
        self._normals.extend(mesh.normals)
        self._colours.extend((float(c[0]), float(c[1]), float(c[2])) for c in mesh.colours)
        self._spec.extend(float(v) for v in mesh.spec)
        self._double.extend(bool(v) for v in mesh.double_sided)
        self._kind.extend(int(v) for v in mesh.kind)
        self._parent.extend(int(p) + off if p >= 0 else -1 for p in mesh.parent)
        self._texture.extend(int(v) for v in mesh.texture)
        self._uv.extend(mesh.uv)
        self._defect.extend(int(v) for v in mesh.defect)
        self.cracks.extend(
            Crack(c.face + off, c.polylines, c.width_m, c.defect) for c in mesh.cracks
        )
        self.shadow_parts.extend(mesh.shadow_parts)
        self.sprites.extend(mesh.sprites)

    @property
    def count(self) -> int:
        return len(self._quads)

    def set_defect(self, index: int, defect: int) -> None:
        self._defect[index] = defect

    # --- primitives ---------------------------------------------------------------------

    def add_cylinder(
        self,
        p0: Sequence[float],
        p1: Sequence[float],
        r0: float,
        r1: float,
        sides: int,
        colour: Sequence[float],
        *,
        spec: float = 0.0,
        max_segment_m: float = 2.5,
        ref: Sequence[float] = (0.0, 1.0, 0.0),
        cap: bool = True,
    ) -> Cylinder:
        a0, a1 = np.asarray(p0, float), np.asarray(p1, float)
        axis = a1 - a0
        length = float(np.linalg.norm(axis))
        a = axis / length
        e1 = np.asarray(ref, float) - np.dot(ref, a) * a
        if np.linalg.norm(e1) < 1e-6:
            e1 = np.array([0.0, 0.0, 1.0]) - a[2] * a
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(e1, a)
        segs = max(1, math.ceil(length / max_segment_m))
        cyl = Cylinder(a0, a, e1, e2, length, r0, r1, sides, segs)
        for si in range(segs):
            sa, sb = length * si / segs, length * (si + 1) / segs
            row = []
            for k in range(sides):
                pa, pb = cyl.angle(k), cyl.angle(k + 1)
                quad = [
                    cyl.point(sa, pa),
                    cyl.point(sa, pb),
                    cyl.point(sb, pb),
                    cyl.point(sb, pa),
                ]
                mid = (pa + pb) / 2
                n = math.cos(mid) * e1 + math.sin(mid) * e2
                row.append(self.add_quad(quad, colour, normal_local=n, spec=spec))
            cyl.faces.append(row)
            ring = [cyl.point(s, cyl.angle(k)) for s in (sa, sb) for k in range(sides)]
            self.add_shadow_part(ring)
        if cap:
            top = [cyl.point(length, cyl.angle(k)) for k in range(sides)]
            for i in range(1, sides - 1, 2):
                j = min(i + 2, sides - 1)
                self.add_quad(
                    [top[0], top[i], top[i + 1], top[j]], colour, normal_local=a, spec=spec
                )
        return cyl

    def add_cylinder_patch(
        self, cyl: Cylinder, s0: float, s1: float, t0: float, t1: float, defect: int
    ) -> None:
        """ID_ONLY overlay quads covering s0..s1 x t0..t1 (arc metres) on a cylinder."""
        s0, s1 = max(0.0, s0), min(cyl.length, s1)
        if s1 <= s0:
            return
        r_mid = (cyl.radius_at((s0 + s1) / 2)) or 1e-3
        phi0, phi1 = t0 / r_mid, t1 / r_mid
        step = 2 * math.pi / cyl.sides
        seg_len = cyl.length / cyl.segments
        s_cuts = sorted(
            {s0, s1, *(seg_len * i for i in range(1, cyl.segments) if s0 < seg_len * i < s1)}
        )
        k_lo, k_hi = math.floor(phi0 / step), math.ceil(phi1 / step)
        p_cuts = sorted(
            {phi0, phi1, *(k * step for k in range(k_lo, k_hi + 1) if phi0 < k * step < phi1)}
        )
        for sa, sb in itertools.pairwise(s_cuts):
            seg = min(int((sa + sb) / 2 / seg_len), cyl.segments - 1)
            for pa, pb in itertools.pairwise(p_cuts):
                k = math.floor((pa + pb) / 2 / step) % cyl.sides
                parent = cyl.faces[seg][k]
                mid = (k + 0.5) * step
                n = math.cos(mid) * cyl.e1 + math.sin(mid) * cyl.e2
                quad = [
                    cyl.point_on_facet(s, p, k) + n * 0.002
                    for s, p in ((sa, pa), (sa, pb), (sb, pb), (sb, pa))
                ]
                self.add_quad(
                    quad, (0, 0, 0), normal_local=n, kind=ID_ONLY, parent=parent, defect=defect
                )

    def add_box(
        self,
        centre: npt.ArrayLike,
        half: Sequence[float],
        colour: Sequence[float],
        *,
        spec: float = 0.0,
        texture: int = -1,
        texture_px: int = 0,
        faces: Sequence[str] = ("front", "back", "left", "right", "top"),
    ) -> dict[str, int]:
        c = np.asarray(centre, float)
        hx, hy, hz = half
        corners = {
            "front": ([-hx, hy, -hz], [hx, hy, -hz], [hx, hy, hz], [-hx, hy, hz], [0, 1, 0]),
            "back": ([hx, -hy, -hz], [-hx, -hy, -hz], [-hx, -hy, hz], [hx, -hy, hz], [0, -1, 0]),
            "right": ([hx, hy, -hz], [hx, -hy, -hz], [hx, -hy, hz], [hx, hy, hz], [1, 0, 0]),
            "left": ([-hx, -hy, -hz], [-hx, hy, -hz], [-hx, hy, hz], [-hx, -hy, hz], [-1, 0, 0]),
            "top": ([-hx, -hy, hz], [hx, -hy, hz], [hx, hy, hz], [-hx, hy, hz], [0, 0, 1]),
            "bottom": ([-hx, hy, -hz], [hx, hy, -hz], [hx, -hy, -hz], [-hx, -hy, -hz], [0, 0, -1]),
        }
        t = float(texture_px)
        uv = np.array([[0, t], [t, t], [t, 0], [0, 0]], np.float32)
        out: dict[str, int] = {}
        for name in faces:
            *pts, n = corners[name]
            quad = [c + np.asarray(p, float) for p in pts]
            out[name] = self.add_quad(
                quad,
                colour,
                normal_local=n,
                spec=spec,
                texture=texture,
                uv=uv if texture >= 0 else None,
            )
        self.add_shadow_part(
            [
                c + np.array([sx * hx, sy * hy, sz * hz])
                for sx in (-1, 1)
                for sy in (-1, 1)
                for sz in (-1, 1)
            ]
        )
        return out

    def build(self, defects_centre: F64 | None = None) -> Mesh:
        quads = np.array(self._quads, dtype=np.float64).reshape(-1, 4, 3)
        flat = quads.reshape(-1, 3)
        centre = flat.mean(axis=0) if len(flat) else np.zeros(3)
        if self.sprites:
            pts = np.vstack([flat, *[s.centre[None] for s in self.sprites]])
            centre = pts.mean(axis=0)
        radius = float(np.max(np.linalg.norm(flat - centre, axis=1))) if len(flat) else 0.0
        for s in self.sprites:
            radius = max(radius, float(np.linalg.norm(s.centre - centre)) + s.radius_m)
        return Mesh(
            quads=quads,
            normals=np.array(self._normals, dtype=np.float64).reshape(-1, 3),
            colours=np.array(self._colours, dtype=np.float32).reshape(-1, 3),
            spec=np.array(self._spec, dtype=np.float32),
            double_sided=np.array(self._double, dtype=bool),
            kind=np.array(self._kind, dtype=np.int8),
            parent=np.array(self._parent, dtype=np.int32),
            texture=np.array(self._texture, dtype=np.int32),
            uv=np.array(self._uv, dtype=np.float32).reshape(-1, 4, 2),
            defect=np.array(self._defect, dtype=np.int32),
            cracks=self.cracks,
            shadow_parts=self.shadow_parts,
            sprites=self.sprites,
            centre=centre,
            radius_m=radius,
        )


@dataclass(slots=True)
class Cylinder:
    """Geometry of a faceted (optionally tapered) cylinder in the builder's local frame."""

    p0: F64
    axis: F64
    e1: F64
    e2: F64
    length: float
    r0: float
    r1: float
    sides: int
    segments: int
    faces: list[list[int]] = field(default_factory=list)

    def angle(self, k: int) -> float:
        return 2 * math.pi * k / self.sides

    def radius_at(self, s: float) -> float:
        return self.r0 + (self.r1 - self.r0) * s / self.length

    def point(self, s: float, phi: float) -> F64:
        r = self.radius_at(s)
        return np.asarray(
            self.p0 + self.axis * s + r * (math.cos(phi) * self.e1 + math.sin(phi) * self.e2),
            dtype=np.float64,
        )

    def point_on_facet(self, s: float, phi: float, k: int) -> F64:
        """Point at angle phi on the flat facet k (a chord), not on the round surface."""
        step = 2 * math.pi / self.sides
        mid = (k + 0.5) * step
        r = self.radius_at(s) * math.cos(step / 2) / max(math.cos(phi - mid), 1e-6)
        return np.asarray(
            self.p0 + self.axis * s + r * (math.cos(phi) * self.e1 + math.sin(phi) * self.e2),
            dtype=np.float64,
        )


def concat_meshes(meshes: Sequence[Mesh]) -> tuple[Mesh, I32]:
    """Stack meshes; returns the stacked mesh and each input's face offset."""
    offsets = np.cumsum([0, *[m.face_count for m in meshes]]).astype(np.int32)
    parent = np.concatenate(
        [
            np.where(m.parent >= 0, m.parent + off, -1)
            for m, off in zip(meshes, offsets, strict=False)
        ]
    ).astype(np.int32)
    cracks = [
        Crack(c.face + int(off), c.polylines, c.width_m, c.defect)
        for m, off in zip(meshes, offsets, strict=False)
        for c in m.cracks
    ]
    stacked = Mesh(
        quads=np.concatenate([m.quads for m in meshes]),
        normals=np.concatenate([m.normals for m in meshes]),
        colours=np.concatenate([m.colours for m in meshes]),
        spec=np.concatenate([m.spec for m in meshes]),
        double_sided=np.concatenate([m.double_sided for m in meshes]),
        kind=np.concatenate([m.kind for m in meshes]),
        parent=parent,
        texture=np.concatenate([m.texture for m in meshes]),
        uv=np.concatenate([m.uv for m in meshes]),
        defect=np.concatenate([m.defect for m in meshes]),
        cracks=cracks,
        shadow_parts=[p for m in meshes for p in m.shadow_parts],
        sprites=[s for m in meshes for s in m.sprites],
    )
    return stacked, offsets
