"""Place fixtures along a corridor and give them seeded defect states: same seed, same world.

Placement follows Japanese urban practice: traffic keeps left, light poles stand on the
sidewalk near the kerb every ~35 m (staggered between sides), signs face oncoming traffic,
guardrails run along the kerb in straight sections.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from firmware_sim.world._model import (
    Corridor,
    Defect,
    Fixture,
    GuardrailGeometry,
    LightPoleGeometry,
    RoadLayout,
    SignGeometry,
    World,
    WorldError,
)

__all__ = ["GeneratorConfig", "generate_world"]


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    light_pole_spacing_m: float = 35.0  # typical urban arterial spacing for 8-12 m poles
    sign_gap_min_m: float = 40.0
    sign_gap_max_m: float = 140.0
    guardrail_runs_per_km_per_side: float = 4.0
    end_margin_m: float = 8.0
    # Share of fixtures with at least one defect: high on purpose so a ~1 km world gives the
    # detector and the report enough positives to score.
    defect_probability: float = 0.55

    def __post_init__(self) -> None:
        if self.light_pole_spacing_m < 10 or self.sign_gap_min_m > self.sign_gap_max_m:
            raise WorldError("generator: implausible spacing settings")
        if not 0.0 <= self.defect_probability <= 1.0:
            raise WorldError("generator: defect_probability must be 0..1")


def _asset_prefix(name: str) -> str:
    prefix = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").upper()
    return prefix[:24] or "WORLD"


def _tilt(rng: np.random.Generator) -> tuple[float, float]:
    r = rng.random()
    if r < 0.85:
        tilt = rng.uniform(0.0, 0.5)  # within construction tolerance
    elif r < 0.95:
        tilt = rng.uniform(1.0, 3.0)
    else:
        tilt = rng.uniform(3.0, 8.0)  # struck by a vehicle or failing foundation
    return round(float(tilt), 2), round(float(rng.uniform(0, 360)), 1)


def _severity(rng: np.random.Generator) -> float:
    # Skewed towards mild damage, as on a real street.
    return round(float(np.clip(rng.beta(1.6, 2.2), 0.05, 1.0)), 2)


def _round_patch(
    rng: np.random.Generator, radius_m: float, s_lo: float, s_hi: float, foot_bias: bool
) -> tuple[float, float, float, float]:
    circ = 2 * math.pi * radius_m
    if foot_bias and rng.random() < 0.6:
        # Ground-line corrosion (地際部腐食): the most common and most dangerous kind.
        s0 = s_lo
        s1 = s_lo + rng.uniform(0.15, 0.6)
    else:
        length = rng.uniform(0.15, 0.8)
        s0 = rng.uniform(s_lo, max(s_lo, s_hi - length))
        s1 = s0 + length
    frac = rng.uniform(0.25, 1.0)
    width = frac * circ
    centre = rng.uniform(-circ / 2 + width / 2, circ / 2 - width / 2) if frac < 1 else 0.0
    return s0, min(s1, s_hi), centre - width / 2, centre + width / 2


def _defect(
    asset_id: str,
    n: int,
    kind: str,
    member: str,
    face: str,
    st: tuple[float, float, float, float],
    severity: float,
    **extra: float,
) -> Defect:
    s0, s1, t0, t1 = (round(v, 3) for v in st)
    return Defect(
        defect_id=f"{asset_id}-D{n}",
        type=kind,  # type: ignore[arg-type]
        member=member,
        face=face,
        s0_m=s0,
        s1_m=s1,
        t0_m=t0,
        t1_m=t1,
        severity=severity,
        **{k: round(v, 3) for k, v in extra.items()},
    )


def _pole_defects(rng: np.random.Generator, asset_id: str, g: LightPoleGeometry) -> list[Defect]:
    out: list[Defect] = []
    count = int(rng.integers(1, 4))
    for n in range(1, count + 1):
        r = rng.random()
        sev = _severity(rng)
        if r < 0.55:
            st = _round_patch(
                rng, g.pole_base_diameter_m / 2, 0.0, g.pole_height_m - 0.5, foot_bias=True
            )
            st = (max(st[0], g.base_height_m), max(st[1], g.base_height_m + 0.1), st[2], st[3])
            out.append(_defect(asset_id, n, "corrosion", "pole", "", st, sev))
        elif r < 0.7:
            st = _round_patch(rng, g.pole_top_diameter_m / 2, 0.1, g.arm_length_m, False)
            out.append(_defect(asset_id, n, "corrosion", "arm", "", st, sev))
        else:
            face = str(rng.choice(["front", "back", "left", "right", "top"]))
            half = g.base_width_m / 2
            if face == "top":
                st = (-half * 0.9, half * 0.9, -half * 0.9, half * 0.9)
            else:
                t0 = rng.uniform(-half, 0.0)
                st = (0.0, g.base_height_m, t0, min(half, t0 + rng.uniform(0.15, half * 2)))
            width = 0.3 + 4.7 * sev
            out.append(_defect(asset_id, n, "crack", "base", face, st, sev, crack_width_mm=width))
    return out


def _sign_defects(rng: np.random.Generator, asset_id: str, g: SignGeometry) -> list[Defect]:
    out: list[Defect] = []
    count = int(rng.integers(1, 3))
    plate_used = False  # one plate defect at most: a rust patch on a folded part is ambiguous
    for n in range(1, count + 1):
        r = rng.random()
        sev = _severity(rng)
        w, h = g.plate_width_m, g.plate_height_m
        if r < 0.45 or plate_used:
            st = _round_patch(rng, g.post_diameter_m / 2, 0.0, g.plate_bottom_m, foot_bias=True)
            out.append(_defect(asset_id, n, "corrosion", "post", "", st, sev))
        elif r < 0.7:
            # Inside the central region that every plate shape covers (circle, triangle, diamond).
            cw, ch = rng.uniform(0.2, 0.5) * w / 2, rng.uniform(0.3, 0.9) * 0.45 * h
            t0 = rng.uniform(-0.25 * w, 0.25 * w - cw)
            s0 = rng.uniform(0.45 * h, 0.9 * h - ch)
            face = "back" if rng.random() < 0.6 else "front"
            out.append(
                _defect(asset_id, n, "corrosion", "plate", face, (s0, s0 + ch, t0, t0 + cw), sev)
            )
            plate_used = True
        elif r < 0.92 or g.base_width_m <= 0:
            # A bent plate: one side folded back out of plane, as after a truck mirror strike.
            part = rng.uniform(0.3, 0.5) * w
            st = (
                (0.0, h, w / 2 - part, w / 2)
                if rng.random() < 0.5
                else (0.0, h, -w / 2, -w / 2 + part)
            )
            disp = 0.03 + 0.2 * sev
            out.append(
                _defect(asset_id, n, "deformation", "plate", "front", st, sev, displacement_m=disp)
            )
            plate_used = True
        else:
            half = g.base_width_m / 2
            st = (0.0, g.base_height_m, -half, half)
            width = 0.3 + 3.0 * sev
            out.append(
                _defect(asset_id, n, "crack", "base", "front", st, sev, crack_width_mm=width)
            )
    return out


def _rail_defects(rng: np.random.Generator, asset_id: str, g: GuardrailGeometry) -> list[Defect]:
    out: list[Defect] = []
    count = int(rng.integers(1, 4))
    bottom = g.beam_top_m - g.beam_height_m
    for n in range(1, count + 1):
        r = rng.random()
        sev = _severity(rng)
        if r < 0.45:
            length = rng.uniform(0.3, min(3.0, g.length_m / 2))
            s0 = rng.uniform(0.0, g.length_m - length)
            z0 = rng.uniform(bottom, g.beam_top_m - 0.1)
            z1 = min(g.beam_top_m, z0 + rng.uniform(0.1, g.beam_height_m))
            face = "front" if rng.random() < 0.6 else "back"
            out.append(
                _defect(asset_id, n, "corrosion", "rail", face, (s0, s0 + length, z0, z1), sev)
            )
        elif r < 0.7:
            post = int(rng.integers(0, g.post_count))
            st = _round_patch(rng, g.post_diameter_m / 2, 0.0, bottom, foot_bias=True)
            out.append(_defect(asset_id, n, "corrosion", f"post:{post}", "", st, sev))
        else:
            length = rng.uniform(1.5, min(5.0, g.length_m * 0.6))
            s0 = rng.uniform(0.0, g.length_m - length)
            disp = 0.05 + 0.3 * sev
            out.append(
                _defect(
                    asset_id,
                    n,
                    "deformation",
                    "rail",
                    "front",
                    (s0, s0 + length, bottom, g.beam_top_m),
                    sev,
                    displacement_m=disp,
                )
            )
    return out


def _sign_geometry(rng: np.random.Generator) -> SignGeometry:
    sign_type = str(
        rng.choice(["speed_limit", "stop", "warning", "guide", "crossing", "no_parking"])
    )
    shape, w, h = {
        "speed_limit": ("circle", 0.6, 0.6),
        "no_parking": ("circle", 0.6, 0.6),
        "stop": ("triangle_down", 0.8, 0.7),
        "warning": ("diamond", 0.65, 0.65),
        "guide": ("rectangle", 0.9, 0.6),
        "crossing": ("rectangle", 0.6, 0.6),
    }[sign_type]
    bottom = round(float(rng.uniform(1.8, 2.3)), 2)
    has_base = rng.random() < 0.4
    return SignGeometry(
        post_height_m=round(bottom + h + 0.05, 2),
        post_diameter_m=float(rng.choice([0.0605, 0.0763])),
        plate_shape=shape,  # type: ignore[arg-type]
        plate_width_m=w,
        plate_height_m=h,
        plate_bottom_m=bottom,
        sign_type=sign_type,
        base_width_m=0.35 if has_base else 0.0,
        base_height_m=0.1 if has_base else 0.0,
    )


def _pole_geometry(rng: np.random.Generator) -> LightPoleGeometry:
    height = float(rng.choice([8.0, 10.0, 12.0], p=[0.35, 0.45, 0.2]))
    return LightPoleGeometry(
        pole_height_m=height,
        pole_base_diameter_m=0.19 if height < 11 else 0.24,
        pole_top_diameter_m=0.114,
        arm_length_m=round(float(rng.uniform(1.0, 2.5)), 2),
        arm_rise_m=round(float(rng.uniform(0.2, 0.7)), 2),
        luminaire_length_m=0.7,
        luminaire_width_m=0.32,
        base_width_m=round(float(rng.uniform(0.5, 0.7)), 2),
        base_height_m=round(float(rng.uniform(0.15, 0.35)), 2),
        paint=str(rng.choice(["galvanised", "grey", "brown"], p=[0.5, 0.3, 0.2])),
    )


def _rail_geometry(rng: np.random.Generator, length_m: float) -> GuardrailGeometry:
    return GuardrailGeometry(
        length_m=length_m,
        post_spacing_m=float(rng.choice([2.0, 4.0])),
        post_diameter_m=0.114,
        post_height_m=0.85,
        beam_height_m=0.35,
        beam_top_m=0.78,
        paint=str(rng.choice(["white", "galvanised"], p=[0.8, 0.2])),
    )


def _heading(vec: np.ndarray) -> float:
    return round(math.degrees(math.atan2(float(vec[0]), float(vec[1]))) % 360.0, 2)


def generate_world(
    corridor: Corridor,
    road: RoadLayout,
    *,
    seed: int,
    config: GeneratorConfig | None = None,
    asset_prefix: str | None = None,
) -> World:
    """Build the ground-truth world; deterministic for a given corridor, road and seed."""
    cfg = config or GeneratorConfig()
    rng = np.random.default_rng(seed)
    prefix = asset_prefix or _asset_prefix(corridor.name)
    length = corridor.length_m
    kerb = road.carriageway_half_width_m + road.kerb_width_m
    lo, hi = cfg.end_margin_m, length - cfg.end_margin_m
    placed: list[tuple[str, str, float, dict[str, object]]] = []  # kind, side, s, extras
    for side_i, side in enumerate(("left", "right")):
        spacing = cfg.light_pole_spacing_m
        s = lo + rng.uniform(0, spacing / 2) + side_i * spacing / 2
        while s < hi:
            placed.append(("light_pole", side, s, {}))
            s += spacing + rng.uniform(-2.0, 2.0)
    poles = {(side, s) for k, side, s, _ in placed}
    runs: list[tuple[str, float, float]] = []
    for side in ("left", "right"):
        n_runs = int(rng.poisson(cfg.guardrail_runs_per_km_per_side * length / 1000.0))
        for _ in range(n_runs * 25):  # many tries: runs must fit on one straight segment
            if sum(1 for r in runs if r[0] == side) >= n_runs:
                break
            run_len = float(rng.choice([12.0, 16.0, 20.0, 24.0, 30.0]))
            start = rng.uniform(lo, max(lo, hi - run_len))
            i0, i1 = (
                corridor.segment_index(start + 0.5),
                corridor.segment_index(start + run_len - 0.5),
            )
            seg_end = float(corridor.chainage_m[i0 + 1])
            if i0 != i1 or start + run_len > seg_end - 2.0 or start < corridor.chainage_m[i0] + 2.0:
                continue  # a straight rail must stay on one straight segment
            if any(r[0] == side and start - 3 < r[2] and r[1] - 3 < start + run_len for r in runs):
                continue
            runs.append((side, start, start + run_len))
            placed.append(("guardrail", side, start + run_len / 2, {"length_m": run_len}))
    for side in ("left", "right"):
        s = lo + rng.uniform(0, cfg.sign_gap_min_m)
        while s < hi:
            near_pole = any(ps == side and abs(pp - s) < 4.0 for ps, pp in poles)
            in_rail = any(r[0] == side and r[1] - 1.5 < s < r[2] + 1.5 for r in runs)
            if not near_pole and not in_rail:
                placed.append(("sign", side, s, {}))
            s += rng.uniform(cfg.sign_gap_min_m, cfg.sign_gap_max_m)
    placed.sort(key=lambda p: (p[2], p[1], p[0]))
    counters = {"sign": 0, "light_pole": 0, "guardrail": 0}
    codes = {"sign": "SG", "light_pole": "LP", "guardrail": "GR"}
    fixtures: list[Fixture] = []
    for kind, side, s, extras in placed:
        counters[kind] += 1
        asset_id = f"{prefix}-{codes[kind]}-{counters[kind]:04d}"
        centre, direction = corridor.point_at(s)
        left_normal = np.array([-direction[1], direction[0]])
        sign_of_side = 1.0 if side == "left" else -1.0
        offset = {"light_pole": 0.9, "sign": 0.55, "guardrail": 0.3}[kind]
        pos = centre + left_normal * sign_of_side * (kerb + offset)
        towards_road = -left_normal * sign_of_side
        geometry: SignGeometry | LightPoleGeometry | GuardrailGeometry
        defects: list[Defect] = []
        has_defects = rng.random() < cfg.defect_probability
        tilt, tilt_az = 0.0, 0.0
        if kind == "light_pole":
            geometry = _pole_geometry(rng)
            heading = _heading(towards_road)
            tilt, tilt_az = _tilt(rng)
            if has_defects:
                defects = _pole_defects(rng, asset_id, geometry)
        elif kind == "sign":
            geometry = _sign_geometry(rng)
            # Traffic keeps left: on the left side it comes from behind us (faces -direction).
            heading = _heading(-direction * sign_of_side)
            tilt, tilt_az = _tilt(rng)
            if has_defects:
                defects = _sign_defects(rng, asset_id, geometry)
        else:
            geometry = _rail_geometry(rng, float(extras["length_m"]))  # type: ignore[arg-type]
            heading = _heading(towards_road)
            if has_defects:
                defects = _rail_defects(rng, asset_id, geometry)
        fixtures.append(
            Fixture(
                asset_id=asset_id,
                kind=kind,  # type: ignore[arg-type]
                east_m=round(float(pos[0]), 3),
                north_m=round(float(pos[1]), 3),
                heading_deg=heading,
                geometry=geometry,
                defects=tuple(defects),
                tilt_deg=tilt,
                tilt_azimuth_deg=tilt_az,
                side=side,  # type: ignore[arg-type]
                chainage_m=round(s, 2),
            )
        )
    return World(
        corridor=corridor, road=road, fixtures=tuple(fixtures), seed=seed, name=corridor.name
    )
