"""Corridor inspection planning: from a road centre line and flight parameters to legs of
waypoints beside the road, the camera trigger distance and the planned photo positions.

How the numbers come out (see docs/inspection-flights.md):
- the camera looks along the direction of travel, pitched down; its ground footprint along
  the image centre column runs from `near` to `far` ahead of the drone (flat ground);
- trigger distance D = (far - near) x (1 - forward overlap);
- each leg starts so that the first photo's centre lands D before the corridor start and
  ends so that a photo's centre lands at or beyond D past the corridor end: with overlap of
  at least 50 % every point of the centre line is then in at least two photos.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from inspection.camera import CameraError, CameraPose, PinholeCamera
from inspection.geo import LocalFrame

from ._checks import (
    check_camera_view,
    check_endurance,
    check_home_in_fence,
    check_mission_items,
    check_params,
    check_photo_rate,
)
from ._corridor import Corridor
from ._exceptions import PlanError, PlanLimitError
from ._geometry import (
    Points,
    buffer_polygon,
    convex_hull,
    cumulative_lengths,
    distance_trigger_points,
    extend_polyline,
    find_self_intersection,
    offset_polyline,
    point_in_polygon,
    points_in_polygon,
    polygon_is_simple,
)
from ._mavlink_items import LEG_START_HOLD_S, mission_items
from ._model import (
    DEFAULT_LIMITS,
    DEFAULT_PARAMS,
    FootprintInfo,
    Leg,
    LegSide,
    MissionParams,
    MissionPlan,
    PlanLimits,
)

__all__ = ["compute_footprint", "plan_mission"]

# A photo reaching farther ahead than this many flight heights is mostly sky and haze.
_MAX_REACH_PER_ALT = 20.0
# Transit lines (home to the first leg, between legs, back home) are checked against the
# geofence at this spacing.
_FENCE_SAMPLE_M = 2.0
# A leg closer to the centre line than this share of the offset has folded into a bend.
_MIN_OFFSET_KEPT = 0.9
# A leg ends this much short of where the photo after its last one would be due.
_END_SHORT_M = 1.0


def compute_footprint(params: MissionParams) -> FootprintInfo:
    """Where one photo lands on flat ground, for the planned altitude and gimbal pitch."""
    frame = LocalFrame(0.0, 0.0)
    try:
        pose = CameraPose(0.0, 0.0, params.alt_m, 0.0, params.gimbal_pitch_deg)
        cam = PinholeCamera(params.camera, pose, frame)
        max_range = _MAX_REACH_PER_ALT * params.alt_m
        fp = cam.footprint_on_ground(max_range_m=max_range)
        k = params.camera
        w, h = k.width_px, k.height_px
        px = np.array(
            [
                [k.cx_px, h - 0.5],  # near (bottom edge, centre column)
                [k.cx_px, k.cy_px],  # centre
                [k.cx_px, -0.5],  # far (top edge)
                [-0.5, h - 0.5],
                [w - 0.5, h - 0.5],  # near edge ends
                [-0.5, k.cy_px],
                [w - 0.5, k.cy_px],  # centre row ends
            ]
        )
        pts, hit = cam.pixel_to_ground(px)
        gsd = cam.ground_sample_distance_m()
    except CameraError as exc:
        raise PlanError(f"camera model: {exc}") from exc
    if fp.clipped or not bool(np.all(hit)):
        vfov = params.camera.vfov_deg
        raise PlanLimitError(
            f"with gimbal pitch {params.gimbal_pitch_deg:g}° the top of the photo reaches the "
            f"horizon (vertical field of view {vfov:.1f}°, cut at {max_range:.0f} m); pitch "
            f"down to {-(vfov / 2 + 5):.0f}° or lower",
            name="gimbal_pitch_deg",
            value=params.gimbal_pitch_deg,
            limit=-(vfov / 2 + 5),
        )
    north = pts[:, 1]
    east = pts[:, 0]
    return FootprintInfo(
        near_m=float(north[0]),
        centre_m=float(north[1]),
        far_m=float(north[2]),
        length_m=float(fp.length_m),
        near_width_m=float(east[4] - east[3]),
        centre_width_m=float(east[6] - east[5]),
        gsd_centre_m=float(gsd),
    )


def _leg_paths(
    xy: Points, params: MissionParams, run_in_m: float, run_out_m: float, trigger_m: float
) -> list[tuple[LegSide, Points, float]]:
    """(side, path, lateral offset from the centre line, + = left) for each leg."""
    o = params.offset_m
    raw: list[tuple[LegSide, Points, float]]
    if params.sides == "left":
        raw = [("left", offset_polyline(xy, o), o)]
    elif params.sides == "right":
        raw = [("right", offset_polyline(xy, -o), -o)]
    else:
        # Out along the left side, back along the right: the second leg ends near home.
        raw = [("left", offset_polyline(xy, o), o), ("right", offset_polyline(xy[::-1], o), -o)]
    out = []
    for side, path, lateral in raw:
        hit = find_self_intersection(path)
        closest = _closest_approach(path, xy) if o > 0 else o
        if hit is not None or closest < o * _MIN_OFFSET_KEPT:
            where = (
                f"crosses itself near corridor vertex {hit[1]}"
                if hit is not None
                else f"comes within {closest:.1f} m of the centre line"
            )
            raise PlanError(
                f"the {side} leg, {o:g} m beside the corridor, {where}: the road bends too "
                "tightly for that offset; lower --offset or smooth the corridor line"
            )
        leg = extend_polyline(path, run_in_m, run_out_m)
        out.append((side, _end_between_photos(leg, trigger_m), lateral))
    return out


def _end_between_photos(leg: Points, trigger_m: float) -> Points:
    """Lengthen the leg so it ends `trigger_m - _END_SHORT_M` after its last planned photo.

    The autopilot counts a waypoint reached ~2 m early (WPNAV_RADIUS) and switches the
    camera off there, and real photos lag the plan a little more with every photo (the
    distance check runs at the loop rate, so each photo comes up to one loop's travel late:
    0.1 m at 5 m/s and 50 Hz). Ending the leg almost a full trigger distance after the last
    planned photo absorbs that lag, and the next photo, due a full trigger distance on, never
    comes before the camera is off: the count is exact.
    """
    shots = distance_trigger_points(leg, trigger_m)
    remaining = float(np.linalg.norm(leg[-1] - shots[-1]))
    margin = max(trigger_m / 2, trigger_m - _END_SHORT_M)
    if remaining < margin:
        return extend_polyline(leg, 0.0, margin - remaining)
    return leg


def _closest_approach(path: Points, corridor_xy: Points) -> float:
    """Smallest distance from the path (sampled every metre) to the corridor centre line."""
    samples = [path[:1]]
    for a, b in itertools.pairwise(path):
        n = max(1, math.ceil(float(np.linalg.norm(b - a))))
        samples.append(a + np.linspace(0.0, 1.0, n + 1)[1:, None] * (b - a))
    p = np.vstack(samples)[:, None, :]  # (N, 1, 2) against (1, M, 2) segments
    a = corridor_xy[:-1][None, :, :]
    ab = (corridor_xy[1:] - corridor_xy[:-1])[None, :, :]
    t = np.clip(np.sum((p - a) * ab, axis=2) / np.sum(ab * ab, axis=2), 0.0, 1.0)
    d = np.linalg.norm(p - (a + t[:, :, None] * ab), axis=2)
    return float(d.min())


def _segment_inside(a: Points, b: Points, ring: Points) -> bool:
    n = max(2, math.ceil(float(np.linalg.norm(b - a)) / _FENCE_SAMPLE_M) + 1)
    samples = a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)
    return bool(np.all(points_in_polygon(samples, ring)))


def _distance_outside(p: Points, ring: Points) -> float:
    if point_in_polygon(p, ring):
        return 0.0
    nxt = np.roll(ring, -1, axis=0)
    ab = nxt - ring
    len2 = np.einsum("ij,ij->i", ab, ab)
    t = np.clip(np.einsum("ij,ij->i", p - ring, ab) / np.where(len2 > 0, len2, 1.0), 0.0, 1.0)
    return float(np.min(np.linalg.norm(p - (ring + t[:, None] * ab), axis=1)))


def plan_mission(
    corridor: Corridor,
    params: MissionParams = DEFAULT_PARAMS,
    limits: PlanLimits = DEFAULT_LIMITS,
) -> MissionPlan:
    """Plan an inspection of `corridor`; raises PlanError (or PlanLimitError) when the
    parameters or the resulting mission break a limit."""
    check_params(params, limits)
    fp = compute_footprint(params)
    trigger_m = fp.length_m * (1.0 - params.forward_overlap)
    check_photo_rate(trigger_m, params, limits)

    frame = corridor.frame
    xy = corridor.enu()
    run_in = fp.centre_m + trigger_m
    run_out = trigger_m - fp.centre_m
    legs_xy = _leg_paths(xy, params, run_in, run_out, trigger_m)
    warnings = check_camera_view(fp, params, [lat for _, _, lat in legs_xy])

    # Geofence: the centre line stretched past the legs' ends (run-in at the start; run-out plus
    # up to one trigger distance at the end: less than run_in + D), widened past the legs.
    fence_width = params.offset_m + limits.fence_margin_m
    reach = run_in + trigger_m
    fence = buffer_polygon(extend_polyline(xy, reach, reach), fence_width)
    if not polygon_is_simple(fence):
        fence = convex_hull(np.vstack([fence] + [p for _, p, _ in legs_xy]))
        warnings.append(
            "the corridor bends too tightly for a geofence that follows it; the fence is the "
            "convex hull of the flight area instead (larger than the corridor)"
        )

    if params.home is not None:
        h_lat, h_lon = params.home
        e, n, _ = frame.to_enu(h_lat, h_lon, 0.0)
        home_xy = np.array([e, n])
    else:
        home_xy = legs_xy[0][1][0].copy()
    check_home_in_fence(_distance_outside(home_xy, fence), fence_width)

    # The whole route as flown: home, each leg, home.
    route = [home_xy]
    for _, path, _ in legs_xy:
        route.extend(path)
    route.append(home_xy)
    route_xy = np.asarray(route)
    for a, b in itertools.pairwise(route_xy):
        if not _segment_inside(a, b, fence):
            raise PlanLimitError(
                "the straight line between two waypoints leaves the geofence "
                f"(from {_fmt_ll(frame, a)} to {_fmt_ll(frame, b)}); take off nearer the "
                "corridor or raise --fence-margin",
                name="geofence",
                value=0.0,
                limit=0.0,
            )
    path_length = float(cumulative_lengths(route_xy)[-1])
    n_waypoints = sum(len(p) for _, p, _ in legs_xy)
    climb_descent = params.alt_m / limits.climb_rate_m_s + params.alt_m / limits.descent_rate_m_s
    turns = n_waypoints * limits.waypoint_overhead_s + len(legs_xy) * LEG_START_HOLD_S
    est_time = climb_descent + turns + path_length / params.speed_m_s
    # What a shorter corridor would not save: climb, descent, turns and the run-in/run-out.
    run_ins = len(legs_xy) * (run_in + run_out + trigger_m) / params.speed_m_s
    fixed_time = climb_descent + turns + run_ins
    check_endurance(est_time, path_length, corridor.length_m, fixed_time, params, limits)

    legs = []
    for side, path, _ in legs_xy:
        shots = distance_trigger_points(path, trigger_m)
        legs.append(
            Leg(
                side=side,
                waypoints=_to_latlon(frame, path),
                triggers=_to_latlon(frame, shots),
                length_m=float(cumulative_lengths(path)[-1]),
            )
        )
    home_ll = params.home if params.home is not None else _to_latlon(frame, home_xy[None, :])[0]
    plan = MissionPlan(
        corridor=corridor,
        params=params,
        limits=limits,
        home=home_ll,
        legs=tuple(legs),
        footprint=fp,
        trigger_distance_m=trigger_m,
        geofence=_to_latlon(frame, fence),
        path_length_m=path_length,
        est_flight_time_s=est_time,
        warnings=tuple(warnings),
    )
    check_mission_items(len(mission_items(plan)), limits)
    return plan


def _to_latlon(frame: LocalFrame, xy: Points) -> tuple[tuple[float, float], ...]:
    enu = np.column_stack([xy, np.zeros(len(xy))])
    geo = frame.to_geodetic_array(enu)
    return tuple((round(float(a), 8), round(float(b), 8)) for a, b in geo[:, :2])


def _fmt_ll(frame: LocalFrame, p: Points) -> str:
    lat, lon = _to_latlon(frame, p[None, :])[0]
    return f"({lat:.6f}, {lon:.6f})"
