"""Camera poses for training frames: mostly oblique inspection views aimed at a fixture (the
way an inspection flight looks at poles and signs from the side), some nadir corridor views."""

from __future__ import annotations

import math

import numpy as np

from firmware_sim.world import World
from inspection.camera import CameraPose, geodetic_from_enu

__all__ = ["sample_pose"]


def sample_pose(world: World, rng: np.random.Generator, *, nadir_share: float = 0.15) -> CameraPose:
    """A random pose over the world: nadir along the corridor with probability nadir_share,
    otherwise oblique at a random fixture (defective ones twice as likely) from 5-35 m high,
    over the road reserve within ~30 m of it, aimed at a random height on it with a few
    degrees of error."""
    frame = world.frame
    if rng.random() < nadir_share or not world.fixtures:
        s = float(rng.uniform(0, world.corridor.length_m))
        p, d = world.corridor.point_at(s)
        offset = float(rng.uniform(-1.2, 1.2)) * world.road.sidewalk_outer_m
        e = p[0] - d[1] * offset
        n = p[1] + d[0] * offset
        alt = float(rng.uniform(8, 40))
        heading = math.degrees(math.atan2(d[0], d[1])) + float(
            rng.choice([0.0, 90.0, 180.0, 270.0])
        )
        heading += float(rng.normal(0, 8))
        pitch = float(rng.uniform(-90, -75))
    else:
        weights = np.array([2.0 if f.defects else 1.0 for f in world.fixtures])
        f = world.fixtures[int(rng.choice(len(world.fixtures), p=weights / weights.sum()))]
        geom = f.geometry
        top = float(getattr(geom, "pole_height_m", 0.0) or getattr(geom, "post_height_m", 0.0))
        target_z = float(rng.uniform(0.0, max(top, 0.8)))
        # Inspection flights stay over the road reserve (carriageway and sidewalks), never
        # over the buildings behind: pick a spot there within ~30 m of the fixture.
        band = world.road.sidewalk_outer_m
        for _ in range(20):
            s = f.chainage_m + float(rng.uniform(-30, 30))
            p, d = world.corridor.point_at(s)
            offset = float(rng.uniform(-band, band))
            e = p[0] - d[1] * offset
            n = p[1] + d[0] * offset
            dist = math.hypot(e - f.east_m, n - f.north_m)
            if dist >= 3.0:
                break
        alt = float(rng.uniform(5, 35))
        bearing = math.degrees(math.atan2(f.east_m - e, f.north_m - n))  # camera -> fixture
        heading = (bearing + float(rng.normal(0, 6))) % 360.0
        pitch = -math.degrees(math.atan2(alt - target_z, dist)) + float(rng.normal(0, 5))
        pitch = float(np.clip(pitch, -90.0, -5.0))
    lat, lon, _ = geodetic_from_enu(frame, [e, n, 0.0])
    return CameraPose(
        lat_deg=float(lat),
        lon_deg=float(lon),
        alt_m=alt,
        heading_deg=heading % 360.0,
        pitch_deg=pitch,
        roll_deg=float(np.clip(rng.normal(0, 1.5), -5, 5)),
    )
