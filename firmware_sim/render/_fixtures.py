"""Turn ground-truth fixtures into meshes: signs (plate on a post), light poles (pole, arm,
luminaire, concrete base) and guardrails (W-beam on posts), with their defects built in:
rust overlays, crack networks on concrete, bent rails and plates, tilt."""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware_sim.render._mesh import Crack, Mesh, MeshBuilder, local_to_world
from firmware_sim.render._textures import SIGN_TEX_PX, sign_texture
from firmware_sim.world import (
    Defect,
    Fixture,
    GuardrailGeometry,
    LightPoleGeometry,
    SignGeometry,
)

__all__ = ["TextureBank", "build_fixture_mesh", "crack_network"]

F64 = npt.NDArray[np.float64]

PAINT_BGR = {
    "galvanised": ((150, 152, 148), 0.35),
    "grey": ((128, 126, 122), 0.2),
    "brown": ((42, 56, 78), 0.15),
    "white": ((222, 226, 226), 0.25),
}
CONCRETE_TEX_PX = 128
CONCRETE_BGR = (170, 172, 172)


@dataclass(slots=True)
class TextureBank:
    images: list[npt.NDArray[np.uint8]] = field(default_factory=list)  # BGRA

    def add(self, img: npt.NDArray[np.uint8]) -> int:
        self.images.append(img)
        return len(self.images) - 1


def _stable_rng(*parts: object) -> np.random.Generator:
    """Per-asset randomness that does not depend on the order fixtures are built in."""
    return np.random.default_rng(zlib.crc32("/".join(map(str, parts)).encode()))


def crack_network(
    rng: np.random.Generator, s0: float, s1: float, t0: float, t1: float, severity: float
) -> list[F64]:
    """Polylines (N, 2) of (s, t) within the rectangle: a main crack with branches."""
    w, h = t1 - t0, s1 - s0
    size = max(w, h)
    step = size / 18
    lines: list[F64] = []

    def walk(start: F64, angle: float, max_len: float) -> F64:
        pts = [start]
        p = start.copy()
        travelled = 0.0
        while travelled < max_len:
            angle += rng.normal(0, 0.35)
            p = p + step * np.array([math.sin(angle), math.cos(angle)])
            if not (s0 <= p[0] <= s1 and t0 <= p[1] <= t1):
                break
            pts.append(p.copy())
            travelled += step
        return np.array(pts)

    # Base cracks usually start at an edge (the pole or a corner) and run across.
    start = np.array([s1 - 1e-3, rng.uniform(t0 + 0.2 * w, t1 - 0.2 * w)])
    # Angles: sin -> s (up the face), cos -> t (across); -pi/2 runs down from the top edge.
    main = walk(start, -math.pi / 2 + rng.normal(0, 0.5), size * (0.7 + 0.6 * severity))
    lines.append(main)
    for _ in range(int(1 + 5 * severity)):
        if len(main) < 3:
            break
        origin = main[int(rng.integers(1, len(main) - 1))]
        side = 1 if rng.random() < 0.5 else -1
        branch = walk(
            origin.copy(), -math.pi / 2 + side * rng.uniform(0.5, 1.3), size * rng.uniform(0.2, 0.5)
        )
        if len(branch) > 1:
            lines.append(branch)
    return [ln for ln in lines if len(ln) > 1]


def _box_face_point(
    face: str, half: tuple[float, float, float], centre: F64, s: F64, t: F64
) -> F64:
    hx, hy, hz = half
    off = 0.003
    n = len(s)
    if face == "front":
        local = np.column_stack([t, np.full(n, hy + off), -hz + s])
    elif face == "back":
        local = np.column_stack([t, np.full(n, -hy - off), -hz + s])
    elif face == "right":
        local = np.column_stack([np.full(n, hx + off), t, -hz + s])
    elif face == "left":
        local = np.column_stack([np.full(n, -hx - off), t, -hz + s])
    else:  # top
        local = np.column_stack([t, s, np.full(n, hz + off)])
    return np.asarray(centre + local, dtype=np.float64)


def _add_base_cracks(
    b: MeshBuilder,
    faces: dict[str, int],
    centre: F64,
    half: tuple[float, float, float],
    defects: list[tuple[int, Defect]],
    asset_id: str,
) -> None:
    for gi, d in defects:
        if d.type != "crack" or d.member != "base" or d.face not in faces:
            continue
        rng = _stable_rng(asset_id, d.defect_id)
        lines = crack_network(rng, d.s0_m, d.s1_m, d.t0_m, d.t1_m, d.severity)
        world_lines = [
            b.to_world(_box_face_point(d.face, half, centre, ln[:, 0], ln[:, 1])) for ln in lines
        ]
        width = (d.crack_width_mm or 1.0) / 1000.0
        b.cracks.append(Crack(faces[d.face], world_lines, width, gi))


def _light_pole(
    b: MeshBuilder, f: Fixture, g: LightPoleGeometry, dmap: list[tuple[int, Defect]], concrete: int
) -> None:
    colour, spec = PAINT_BGR.get(g.paint, PAINT_BGR["galvanised"])
    bh = g.base_height_m
    half = (g.base_width_m / 2, g.base_width_m / 2, bh / 2)
    centre = np.array([0.0, 0.0, bh / 2])
    faces = b.add_box(centre, half, CONCRETE_BGR, texture=concrete, texture_px=CONCRETE_TEX_PX)
    _add_base_cracks(b, faces, centre, half, dmap, f.asset_id)
    pole = b.add_cylinder(
        (0, 0, bh),
        (0, 0, g.pole_height_m),
        g.pole_base_diameter_m / 2,
        g.pole_top_diameter_m / 2,
        12,
        colour,
        spec=spec,
    )
    arm_z = g.pole_height_m - 0.35
    arm_end = (0.0, g.arm_length_m, arm_z + g.arm_rise_m)
    arm = b.add_cylinder((0, 0, arm_z), arm_end, 0.045, 0.04, 8, colour, spec=spec, ref=(0, 0, 1))
    lum_c = (0.0, g.arm_length_m + g.luminaire_length_m / 2 - 0.15, arm_end[2] - 0.03)
    b.add_box(
        lum_c,
        (g.luminaire_width_m / 2, g.luminaire_length_m / 2, 0.07),
        (175, 178, 176),
        spec=0.3,
        faces=("front", "back", "left", "right", "top"),
    )
    for gi, d in dmap:
        if d.type != "corrosion":
            continue
        if d.member == "pole":
            # Member s is height above ground; the pole mesh starts on top of the base.
            b.add_cylinder_patch(pole, d.s0_m - bh, d.s1_m - bh, d.t0_m, d.t1_m, gi)
        elif d.member == "arm":
            b.add_cylinder_patch(arm, d.s0_m, d.s1_m, d.t0_m, d.t1_m, gi)


def _plate_uv(x: F64, z: F64, w: float, bottom: float, h: float, front: bool) -> F64:
    t = SIGN_TEX_PX - 1
    u = (w / 2 - x) / w * t if front else (x + w / 2) / w * t
    v = (bottom + h - z) / h * t
    return np.column_stack([u, v])


def _sign(
    b: MeshBuilder,
    f: Fixture,
    g: SignGeometry,
    dmap: list[tuple[int, Defect]],
    bank: TextureBank,
    concrete: int,
) -> None:
    r = g.post_diameter_m / 2
    colour, spec = PAINT_BGR["galvanised"]
    z0 = g.base_height_m
    if g.base_width_m > 0:
        half = (g.base_width_m / 2, g.base_width_m / 2, g.base_height_m / 2)
        centre = np.array([0.0, 0.0, g.base_height_m / 2])
        faces = b.add_box(centre, half, CONCRETE_BGR, texture=concrete, texture_px=CONCRETE_TEX_PX)
        _add_base_cracks(b, faces, centre, half, dmap, f.asset_id)
    post = b.add_cylinder((0, 0, z0), (0, 0, g.post_height_m), r, r, 8, colour, spec=spec)
    rng = _stable_rng(f.asset_id, "plate")
    front_tex = bank.add(sign_texture(g.sign_type, g.plate_shape, back=False, rng=rng))
    back_tex = bank.add(sign_texture(g.sign_type, g.plate_shape, back=True, rng=rng))
    w, h, bottom = g.plate_width_m, g.plate_height_m, g.plate_bottom_m
    y0 = r + 0.012
    bend = next(
        ((gi, d) for gi, d in dmap if d.type == "deformation" and d.member == "plate"), None
    )
    # Plate parts: (x_from, x_to, defect) flat part(s) then the bent part, folded about x_fold.
    parts: list[tuple[F64, F64, int]] = []  # (corners xyz (4,3), x of corners, defect)
    xs_flat = (-w / 2, w / 2)
    if bend is not None:
        gi, d = bend
        x_fold = d.t0_m if d.t1_m >= w / 2 - 1e-6 else d.t1_m
        outer = w / 2 if d.t1_m >= w / 2 - 1e-6 else -w / 2
        xs_flat = (-w / 2, x_fold) if outer > 0 else (x_fold, w / 2)
        theta = math.atan2(d.displacement_m or 0.05, abs(outer - x_fold))
        xo = x_fold + (outer - x_fold) * math.cos(theta)
        yo = y0 - abs(outer - x_fold) * math.sin(theta)
        xs_corners = np.array([x_fold, outer, outer, x_fold])
        corners = np.array(
            [[x_fold, y0, bottom], [xo, yo, bottom], [xo, yo, bottom + h], [x_fold, y0, bottom + h]]
        )
        parts.append((corners, xs_corners, gi))
    xa, xb = xs_flat
    corners = np.array(
        [[xa, y0, bottom], [xb, y0, bottom], [xb, y0, bottom + h], [xa, y0, bottom + h]]
    )
    parts.insert(0, (corners, np.array([xa, xb, xb, xa]), -1))
    plate_faces: list[tuple[int, int]] = []  # (front face, back face) of the flat part first
    for corners, xs, defect in parts:
        n_front = np.cross(corners[1] - corners[0], corners[3] - corners[0])
        if n_front[1] < 0:
            n_front = -n_front
        zs = corners[:, 2]
        fi = b.add_quad(
            corners,
            (200, 200, 200),
            normal_local=n_front,
            spec=0.25,
            texture=front_tex,
            uv=_plate_uv(xs, zs, w, bottom, h, True),
            defect=defect,
        )
        bi = b.add_quad(
            corners[::-1],
            (150, 150, 150),
            normal_local=-n_front,
            spec=0.2,
            texture=back_tex,
            uv=_plate_uv(xs[::-1], zs[::-1], w, bottom, h, False),
            defect=defect,
        )
        plate_faces.append((fi, bi))
        b.add_shadow_part(corners)
    for gi, d in dmap:
        if d.type != "corrosion":
            continue
        if d.member == "post":
            b.add_cylinder_patch(post, d.s0_m - z0, d.s1_m - z0, d.t0_m, d.t1_m, gi)
        elif d.member == "plate":
            t0, t1 = max(d.t0_m, xs_flat[0]), min(d.t1_m, xs_flat[1])
            if t1 <= t0:
                continue
            front = d.face == "front"
            off = 0.003 if front else -0.003
            z_a, z_b = bottom + d.s0_m, bottom + d.s1_m
            quad = np.array(
                [[t0, y0 + off, z_a], [t1, y0 + off, z_a], [t1, y0 + off, z_b], [t0, y0 + off, z_b]]
            )
            fi, bi = plate_faces[0]
            normal = (0, 1, 0) if front else (0, -1, 0)
            b.add_quad(
                quad, (0, 0, 0), normal_local=normal, kind=1, parent=fi if front else bi, defect=gi
            )


W_BEAM_Z = (0.0, 0.05, 0.12, 0.175, 0.23, 0.30, 0.35)  # profile heights above the beam bottom
W_BEAM_Y = (0.0, 0.055, 0.055, 0.0, 0.055, 0.055, 0.0)  # bulge towards the road (+y)


def _guardrail(
    b: MeshBuilder, f: Fixture, g: GuardrailGeometry, dmap: list[tuple[int, Defect]]
) -> None:
    colour, spec = PAINT_BGR.get(g.paint, PAINT_BGR["white"])
    length = g.length_m
    bottom = g.beam_top_m - g.beam_height_m
    bends = [(gi, d) for gi, d in dmap if d.type == "deformation" and d.member == "rail"]
    cuts = set(np.round(np.arange(0.0, length + 1e-9, 1.0), 6).tolist()) | {length}
    for _, d in bends:
        cuts |= set(np.round(np.linspace(d.s0_m, d.s1_m, 9), 6).tolist())
    s_cuts = sorted(c for c in cuts if 0.0 <= c <= length)

    def displacement(s: float) -> float:
        out = 0.0
        for _, d in bends:
            if d.s0_m < s < d.s1_m:
                u = (s - d.s0_m) / (d.s1_m - d.s0_m)
                out += (d.displacement_m or 0.0) * math.sin(math.pi * u) ** 2
        return out

    def profile(s: float) -> F64:
        dy = displacement(s)
        x = -length / 2 + s
        # A struck beam is pushed back and its upper edge twists further than its lower edge.
        return np.array(
            [
                [x, yy - dy * (0.7 + 0.6 * zz / 0.35), bottom + zz * (1 - 0.25 * dy)]
                for yy, zz in zip(W_BEAM_Y, W_BEAM_Z, strict=True)
            ]
        )

    # Posts bend back with the rail they carry (fixed at the ground).
    posts = []
    post_y = -0.035 - g.post_diameter_m / 2
    for i in range(g.post_count):
        x = g.post_x_m(i)
        d_here = displacement(x + length / 2)
        # Keep the post behind the beam's (more displaced) top edge all the way up.
        lean = (d_here * 1.3 + 0.05) * g.post_height_m / g.beam_top_m if d_here > 0 else 0.0
        posts.append(
            b.add_cylinder(
                (x, post_y, 0.0),
                (x, post_y - lean, g.post_height_m),
                g.post_diameter_m / 2,
                g.post_diameter_m / 2,
                8,
                colour,
                spec=spec,
            )
        )
    strips: list[list[int]] = []
    prev = profile(s_cuts[0])
    for sa, sb in itertools.pairwise(s_cuts):
        cur = profile(sb)
        defect = next((gi for gi, d in bends if d.s0_m < (sa + sb) / 2 < d.s1_m), -1)
        row = []
        for k in range(len(W_BEAM_Z) - 1):
            quad = [prev[k], cur[k], cur[k + 1], prev[k + 1]]
            n = np.cross(quad[1] - quad[0], quad[3] - quad[0])
            if n[1] < 0:
                n = -n
            row.append(
                b.add_quad(
                    quad, colour, normal_local=n, spec=spec, double_sided=True, defect=defect
                )
            )
        strips.append(row)
        b.add_shadow_part(np.vstack([prev, cur]))
        prev = cur
    for gi, d in dmap:
        if d.type != "corrosion":
            continue
        if d.member.startswith("post:"):
            idx = int(d.member.split(":")[1])
            if 0 <= idx < len(posts):
                b.add_cylinder_patch(posts[idx], d.s0_m, d.s1_m, d.t0_m, d.t1_m, gi)
        elif d.member == "rail":
            _rail_patch(b, strips, s_cuts, profile, d, gi, bottom)


def _rail_patch(
    b: MeshBuilder,
    strips: list[list[int]],
    s_cuts: list[float],
    profile: object,
    d: Defect,
    gi: int,
    bottom: float,
) -> None:
    assert callable(profile)
    front = d.face != "back"
    for si, (sa, sb) in enumerate(itertools.pairwise(s_cuts)):
        a, c = max(sa, d.s0_m), min(sb, d.s1_m)
        if c <= a:
            continue
        pa, pc = profile(a), profile(c)
        for k in range(len(W_BEAM_Z) - 1):
            za, zb = bottom + W_BEAM_Z[k], bottom + W_BEAM_Z[k + 1]
            lo, hi = max(za, d.t0_m), min(zb, d.t1_m)
            if hi <= lo:
                continue
            fa, fb = (lo - za) / (zb - za), (hi - za) / (zb - za)

            def lerp(p: F64, t: float, k: int = k) -> F64:
                return np.asarray(p[k] + (p[k + 1] - p[k]) * t, dtype=np.float64)

            quad = np.array([lerp(pa, fa), lerp(pc, fa), lerp(pc, fb), lerp(pa, fb)])
            n = np.cross(quad[1] - quad[0], quad[3] - quad[0])
            n = n / max(float(np.linalg.norm(n)), 1e-9)
            if n[1] < 0:
                n = -n
            if not front:
                n = -n
            b.add_quad(
                quad + n * 0.004, (0, 0, 0), normal_local=n, kind=1, parent=strips[si][k], defect=gi
            )


def build_fixture_mesh(
    f: Fixture, defect_index: dict[str, int], bank: TextureBank, concrete_texture: int
) -> Mesh:
    """World-space mesh of one fixture; `defect_index` maps defect ids to global indices."""
    rot, trans = local_to_world(f.east_m, f.north_m, f.heading_deg, f.tilt_deg, f.tilt_azimuth_deg)
    b = MeshBuilder(rot, trans)
    dmap = [(defect_index[d.defect_id], d) for d in f.defects]
    if isinstance(f.geometry, LightPoleGeometry):
        _light_pole(b, f, f.geometry, dmap, concrete_texture)
    elif isinstance(f.geometry, SignGeometry):
        _sign(b, f, f.geometry, dmap, bank, concrete_texture)
    else:
        _guardrail(b, f, f.geometry, dmap)
    return b.build()
