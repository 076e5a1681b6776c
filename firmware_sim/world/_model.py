"""Value types of the synthetic road world: corridor, road layout, fixtures and their defects.

Fixture-local frame (used by every member/defect coordinate below): origin at the centre of
the fixture's footprint on the ground; +y points along `heading_deg` (the way the fixture's
front faces: a sign's plate face, a light pole's arm, a guardrail's road side), +x is +y turned
90 degrees clockwise seen from above, +z is up.

Member surface coordinates of a defect (`s0_m..s1_m`, `t0_m..t1_m`), all in metres:
- round members (sign "post", light pole "pole" and "arm", guardrail "post:<i>"): s along the
  member axis from its start (height above ground for upright members), t the arc length
  around it from the generatrix facing +y (positive towards +x);
- "plate" (sign): s height above the plate's bottom edge, t from the plate centre along +x;
  face "front" or "back";
- boxes ("base", "luminaire"): face front/back/left/right/top; on side faces s is the height
  above the box bottom and t runs along the face from its centre; on "top" s runs along +y and
  t along +x from the centre;
- "rail" (guardrail W-beam): s along the rail from its start (x = -length/2), t height above
  ground; face "front" (road side) or "back".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from inspection.camera import geodetic_from_enu
from inspection.geo import LocalFrame

__all__ = [
    "CLASS_IDS",
    "CLASS_NAMES",
    "Corridor",
    "Defect",
    "DefectType",
    "Fixture",
    "FixtureKind",
    "GuardrailGeometry",
    "LightPoleGeometry",
    "RoadLayout",
    "SignGeometry",
    "World",
    "WorldError",
]

FixtureKind = Literal["sign", "light_pole", "guardrail"]
DefectType = Literal["corrosion", "crack", "deformation"]
PlateShape = Literal["circle", "triangle_down", "diamond", "rectangle"]

# Detection classes of the product (DOMAIN.md section 2): the YOLO class ids.
CLASS_NAMES: tuple[str, ...] = (
    "sign",
    "light_pole",
    "guardrail",
    "corrosion",
    "crack",
    "deformation",
)
CLASS_IDS: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}

FloatArray = npt.NDArray[np.float64]


class WorldError(ValueError):
    """Root error of firmware_sim.world: a corridor or world file that cannot be used."""


def _positive(owner: str, **values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise WorldError(f"{owner}: {name} must be a positive number, got {value}")


@dataclass(frozen=True, slots=True)
class RoadLayout:
    """Cross-section of the road around the corridor centreline (symmetric)."""

    lanes_per_direction: int = 2
    lane_width_m: float = 3.25
    median_width_m: float = 0.0
    shoulder_width_m: float = 0.5
    kerb_width_m: float = 0.2
    sidewalk_width_m: float = 4.0
    verge_width_m: float = 12.0

    def __post_init__(self) -> None:
        if not 1 <= self.lanes_per_direction <= 6:
            raise WorldError(
                f"road: lanes_per_direction must be 1..6, got {self.lanes_per_direction}"
            )
        _positive(
            "road",
            lane_width_m=self.lane_width_m,
            kerb_width_m=self.kerb_width_m,
            sidewalk_width_m=self.sidewalk_width_m,
            verge_width_m=self.verge_width_m,
        )
        if self.median_width_m < 0 or self.shoulder_width_m < 0:
            raise WorldError("road: median_width_m and shoulder_width_m must be >= 0")

    @property
    def carriageway_half_width_m(self) -> float:
        """Centreline to the kerb face."""
        return (
            self.median_width_m / 2
            + self.lanes_per_direction * self.lane_width_m
            + self.shoulder_width_m
        )

    @property
    def sidewalk_outer_m(self) -> float:
        """Centreline to the back of the sidewalk."""
        return self.carriageway_half_width_m + self.kerb_width_m + self.sidewalk_width_m


@dataclass(frozen=True, slots=True)
class Corridor:
    """The road centreline: a WGS84 polyline and its ENU image in a frame at its first vertex."""

    name: str
    vertices_lonlat: tuple[tuple[float, float], ...]
    frame: LocalFrame = field(init=False, compare=False)
    vertices_enu: FloatArray = field(init=False, repr=False, compare=False)
    chainage_m: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.vertices_lonlat) < 2:
            raise WorldError(f"corridor {self.name!r}: needs at least 2 vertices")
        lon0, lat0 = self.vertices_lonlat[0]
        frame = LocalFrame(lat0, lon0, 0.0)
        lonlat = np.array(self.vertices_lonlat, dtype=np.float64)
        enu = frame.to_enu_array(lonlat[:, 1], lonlat[:, 0], np.zeros(len(lonlat)))[:, :2]
        seg = np.linalg.norm(np.diff(enu, axis=0), axis=1)
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "vertices_enu", enu)
        object.__setattr__(self, "chainage_m", np.concatenate([[0.0], np.cumsum(seg)]))

    @property
    def length_m(self) -> float:
        return float(self.chainage_m[-1])

    def segment_index(self, s_m: float) -> int:
        s = min(max(s_m, 0.0), self.length_m)
        i = int(np.searchsorted(self.chainage_m, s, side="right")) - 1
        return min(max(i, 0), len(self.vertices_enu) - 2)

    def point_at(self, s_m: float) -> tuple[FloatArray, FloatArray]:
        """ENU (e, n) of the centreline at chainage s_m and the unit direction there."""
        i = self.segment_index(s_m)
        a, b = self.vertices_enu[i], self.vertices_enu[i + 1]
        d = b - a
        length = float(np.linalg.norm(d))
        u = d / length
        s = min(max(s_m, 0.0), self.length_m)
        return a + u * (s - float(self.chainage_m[i])), u


@dataclass(frozen=True, slots=True)
class SignGeometry:
    post_height_m: float
    post_diameter_m: float
    plate_shape: PlateShape
    plate_width_m: float
    plate_height_m: float
    plate_bottom_m: float
    sign_type: str  # e.g. "speed_limit", "stop", "warning", "guide", "crossing"
    base_width_m: float = 0.0  # 0 = post set straight into the ground
    base_height_m: float = 0.0

    def __post_init__(self) -> None:
        _positive(
            "sign",
            post_height_m=self.post_height_m,
            post_diameter_m=self.post_diameter_m,
            plate_width_m=self.plate_width_m,
            plate_height_m=self.plate_height_m,
            plate_bottom_m=self.plate_bottom_m,
        )
        if self.plate_bottom_m + self.plate_height_m > self.post_height_m + 0.3:
            raise WorldError("sign: plate reaches more than 0.3 m above the post top")


@dataclass(frozen=True, slots=True)
class LightPoleGeometry:
    pole_height_m: float
    pole_base_diameter_m: float
    pole_top_diameter_m: float
    arm_length_m: float
    arm_rise_m: float
    luminaire_length_m: float
    luminaire_width_m: float
    base_width_m: float
    base_height_m: float
    paint: str  # "galvanised", "grey", "brown"

    def __post_init__(self) -> None:
        _positive(
            "light_pole",
            pole_height_m=self.pole_height_m,
            pole_base_diameter_m=self.pole_base_diameter_m,
            pole_top_diameter_m=self.pole_top_diameter_m,
            arm_length_m=self.arm_length_m,
            luminaire_length_m=self.luminaire_length_m,
            luminaire_width_m=self.luminaire_width_m,
            base_width_m=self.base_width_m,
            base_height_m=self.base_height_m,
        )


@dataclass(frozen=True, slots=True)
class GuardrailGeometry:
    length_m: float
    post_spacing_m: float
    post_diameter_m: float
    post_height_m: float
    beam_height_m: float  # vertical size of the W-beam
    beam_top_m: float  # height of the beam's top edge above ground
    paint: str  # "white", "galvanised"

    def __post_init__(self) -> None:
        _positive(
            "guardrail",
            length_m=self.length_m,
            post_spacing_m=self.post_spacing_m,
            post_diameter_m=self.post_diameter_m,
            post_height_m=self.post_height_m,
            beam_height_m=self.beam_height_m,
            beam_top_m=self.beam_top_m,
        )
        if self.beam_top_m - self.beam_height_m <= 0:
            raise WorldError("guardrail: beam bottom must be above the ground")

    @property
    def post_count(self) -> int:
        return math.floor(self.length_m / self.post_spacing_m + 1e-9) + 1

    def post_x_m(self, index: int) -> float:
        """Fixture-local x of post `index` (posts spread evenly over the rail's length)."""
        n = self.post_count
        return -self.length_m / 2 + index * (self.length_m / max(n - 1, 1))


@dataclass(frozen=True, slots=True)
class Defect:
    """One defect on one member of a fixture (see the module docstring for coordinates)."""

    defect_id: str
    type: DefectType
    member: str
    face: str
    s0_m: float
    s1_m: float
    t0_m: float
    t1_m: float
    severity: float  # 0..1; >= 0.6 is MLIT damage degree "e" (severe), below is "c"
    displacement_m: float | None = None  # deformation: largest out-of-shape displacement
    crack_width_mm: float | None = None  # crack: typical opening

    def __post_init__(self) -> None:
        if self.type not in ("corrosion", "crack", "deformation"):
            raise WorldError(f"defect {self.defect_id}: unknown type {self.type!r}")
        if not (self.s0_m < self.s1_m and self.t0_m < self.t1_m):
            raise WorldError(f"defect {self.defect_id}: empty extent s/t ranges")
        if not 0.0 <= self.severity <= 1.0:
            raise WorldError(f"defect {self.defect_id}: severity must be 0..1, got {self.severity}")
        if self.type == "deformation" and self.displacement_m is None:
            raise WorldError(f"defect {self.defect_id}: deformation needs displacement_m")
        if self.type == "crack" and self.crack_width_mm is None:
            raise WorldError(f"defect {self.defect_id}: crack needs crack_width_mm")

    @property
    def class_id(self) -> int:
        return CLASS_IDS[self.type]

    @property
    def extent_m2(self) -> float:
        return (self.s1_m - self.s0_m) * (self.t1_m - self.t0_m)

    @property
    def degree(self) -> str:
        """MLIT H26 damage degree of the member: c (damage) or e (severe damage)."""
        return "e" if self.severity >= 0.6 else "c"


@dataclass(frozen=True, slots=True)
class Fixture:
    asset_id: str
    kind: FixtureKind
    east_m: float
    north_m: float
    heading_deg: float
    geometry: SignGeometry | LightPoleGeometry | GuardrailGeometry
    defects: tuple[Defect, ...] = ()
    tilt_deg: float = 0.0
    tilt_azimuth_deg: float = 0.0  # direction the top leans towards, clockwise from north
    side: Literal["left", "right"] = "left"  # side of the road, seen along the corridor
    chainage_m: float = 0.0

    def __post_init__(self) -> None:
        expected = {
            "sign": SignGeometry,
            "light_pole": LightPoleGeometry,
            "guardrail": GuardrailGeometry,
        }.get(self.kind)
        if expected is None:
            raise WorldError(f"fixture {self.asset_id}: unknown kind {self.kind!r}")
        if not isinstance(self.geometry, expected):
            raise WorldError(
                f"fixture {self.asset_id}: kind {self.kind} needs {expected.__name__}, "
                f"got {type(self.geometry).__name__}"
            )
        if not 0.0 <= self.tilt_deg < 45.0:
            raise WorldError(
                f"fixture {self.asset_id}: tilt_deg must be 0..45, got {self.tilt_deg}"
            )

    @property
    def class_id(self) -> int:
        return CLASS_IDS[self.kind]


@dataclass(frozen=True, slots=True)
class World:
    """The ground truth: corridor, road cross-section and fixtures, from one seed."""

    corridor: Corridor
    road: RoadLayout
    fixtures: tuple[Fixture, ...]
    seed: int
    name: str = "world"

    def __post_init__(self) -> None:
        ids = [f.asset_id for f in self.fixtures]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise WorldError(f"world {self.name!r}: duplicate asset ids {dup}")

    @property
    def frame(self) -> LocalFrame:
        return self.corridor.frame

    def fixture(self, asset_id: str) -> Fixture:
        for f in self.fixtures:
            if f.asset_id == asset_id:
                return f
        raise WorldError(f"world {self.name!r}: no fixture with asset id {asset_id!r}")

    def fixture_latlon(self, fixture: Fixture) -> tuple[float, float]:
        geo = geodetic_from_enu(self.frame, [fixture.east_m, fixture.north_m, 0.0])
        return float(geo[0]), float(geo[1])
