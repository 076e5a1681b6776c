"""Tests for firmware_sim.render: the renderer agrees with the camera model, labels only what
is visible, frames are reproducible, and write_frame writes what a drone writes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import piexif
import pytest

from firmware_sim.render import (
    DEFAULT_CONDITIONS,
    FrameRenderer,
    RenderError,
    read_pose_from_jpeg,
    sample_pose,
    write_frame,
)
from firmware_sim.render.cli import add_parser
from firmware_sim.world import (
    DEFAULT_CORRIDOR,
    Defect,
    Fixture,
    GuardrailGeometry,
    LightPoleGeometry,
    World,
    corridor_from_geojson,
    generate_world,
    load_corridor,
    save_world,
)
from inspection.camera import (
    DEFAULT_INTRINSICS,
    CameraIntrinsics,
    CameraPose,
    PinholeCamera,
    geodetic_from_enu,
)

STRAIGHT = {"type": "LineString", "coordinates": [[139.8980, 36.5590], [139.8960, 36.5590]]}
POLE = LightPoleGeometry(
    pole_height_m=10.0,
    pole_base_diameter_m=0.2,
    pole_top_diameter_m=0.12,
    arm_length_m=1.5,
    arm_rise_m=0.3,
    luminaire_length_m=0.7,
    luminaire_width_m=0.32,
    base_width_m=0.6,
    base_height_m=0.3,
    paint="galvanised",
)
# Sun due south and behind a north-looking camera: shadows fall away from it.
SUN_BEHIND = dataclasses.replace(DEFAULT_CONDITIONS, sun_azimuth_deg=180.0)


def _world(*fixtures: Fixture) -> World:
    corridor, road = corridor_from_geojson(STRAIGHT)
    return World(corridor=corridor, road=road, fixtures=tuple(fixtures), seed=0, name="test")


def _pole(
    asset_id: str,
    east: float,
    north: float,
    heading: float = 90.0,
    defects: tuple[Defect, ...] = (),
) -> Fixture:
    return Fixture(asset_id, "light_pole", east, north, heading, POLE, defects=defects)


def _pose(world: World, e: float, n: float, alt: float, heading: float, pitch: float) -> CameraPose:
    lat, lon, _ = geodetic_from_enu(world.frame, [e, n, 0.0])
    return CameraPose(float(lat), float(lon), alt, heading, pitch, 0.0)


def _render(
    world: World, pose: CameraPose, k: CameraIntrinsics = DEFAULT_INTRINSICS
) -> npt.NDArray[np.uint8]:
    r = FrameRenderer(world, k, randomise=False, scenery=False, conditions=SUN_BEHIND)
    return r.render(pose).image


def _run(mask: npt.NDArray[np.bool_], row: int, near_col: float) -> tuple[int, int]:
    """First and last column of the run of True pixels in `row` that contains near_col."""
    line = mask[row]
    c = round(near_col)
    assert line[c], f"no rendered pixel at row {row} col {c}"
    lo = c
    while lo > 0 and line[lo - 1]:
        lo -= 1
    hi = c
    while hi < len(line) - 1 and line[hi + 1]:
        hi += 1
    return lo, hi


def test_renderer_and_camera_model_agree_within_two_pixels() -> None:
    """Project known 3D points of a pole through inspection.camera and find the rendered
    silhouette there: pole edges at four heights, the pole top and the concrete base."""
    e0, n0 = -60.0, 10.0
    pole_world = _world(_pole("T-LP-1", e0, n0))
    empty = _world()
    pose = _pose(pole_world, e0, n0 - 15.0, 6.0, 0.0, -4.0)
    cam = PinholeCamera(DEFAULT_INTRINSICS, pose, pole_world.frame)
    with_pole = _render(pole_world, pose).astype(np.int16)
    without = _render(empty, pose).astype(np.int16)
    diff = (np.abs(with_pole - without).sum(axis=2) > 24).astype(np.uint8)
    # Close pinholes where concrete happens to match the paving colour; edges do not move.
    mask = cv2.morphologyEx(diff, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)).astype(bool)

    def px(e: float, n: float, u: float) -> npt.NDArray[np.float64]:
        p, depth = cam.project([[e, n, u]])
        assert depth[0] > 0
        return np.asarray(p[0], dtype=np.float64)

    g = POLE
    for z in (2.0, 4.0, 6.0, 8.0):
        r = g.pole_base_diameter_m / 2 + (g.pole_top_diameter_m - g.pole_base_diameter_m) / 2 * (
            z - g.base_height_m
        ) / (g.pole_height_m - g.base_height_m)
        left, right = px(e0 - r, n0, z), px(e0 + r, n0, z)
        lo, hi = _run(mask, round(left[1]), (left[0] + right[0]) / 2)
        assert abs(lo - left[0]) <= 2.0, (z, lo, left)
        assert abs(hi - right[0]) <= 2.0, (z, hi, right)
        assert 8 <= hi - lo + 1 <= 20  # a 0.2 m pole at 15 m is ~11 px wide

    top = px(e0, n0 + g.pole_top_diameter_m / 2, g.pole_height_m)  # far rim: topmost point
    col = mask[:, round(top[0])]
    assert abs(int(np.argmax(col)) - top[1]) <= 2.0, (np.argmax(col), top)

    half = g.base_width_m / 2
    near_bottom = px(e0, n0 - half, 0.0)
    col = mask[:, round(near_bottom[0])]
    lowest = len(col) - 1 - int(np.argmax(col[::-1]))
    assert abs(lowest - near_bottom[1]) <= 2.0, (lowest, near_bottom)
    near_left_bottom = px(e0 - half, n0 - half, 0.0)
    near_left_top = px(e0 - half, n0 - half, g.base_height_m)
    row = round((near_left_bottom[1] + near_left_top[1]) / 2)
    lo, hi = _run(mask, row, near_bottom[0])
    near_right = px(e0 + half, n0 - half, g.base_height_m / 2)
    assert abs(lo - near_left_bottom[0]) <= 2.0, (lo, near_left_bottom)
    assert abs(hi - near_right[0]) <= 2.0, (hi, near_right)


def test_label_box_matches_projected_geometry() -> None:
    e0, n0 = -60.0, 10.0
    world = _world(_pole("T-LP-1", e0, n0))
    pose = _pose(world, e0, n0 - 15.0, 6.0, 0.0, -4.0)
    frame = FrameRenderer(world, DEFAULT_INTRINSICS, randomise=False, scenery=False).render(pose)
    (label,) = frame.labels
    assert label.class_id == 1 and label.asset_id == "T-LP-1"
    cam = PinholeCamera(DEFAULT_INTRINSICS, pose, world.frame)
    half = POLE.base_width_m / 2
    p, _ = cam.project(
        [[e0 - half, n0 - half, 0.0], [e0, n0 + POLE.pole_top_diameter_m / 2, POLE.pole_height_m]]
    )
    x0, y0, x1, y1 = label.box_px
    assert abs(x0 - p[0, 0]) <= 2  # left: the near-left corner of the base
    assert abs(y1 - 1 - p[0, 1]) <= 2  # bottom: the base's near bottom edge
    # Top: the pole top or the luminaire, which sits level with it at the arm's end.
    assert p[1, 1] - 6 <= y0 <= p[1, 1] + 2
    k = DEFAULT_INTRINSICS
    assert label.cx == pytest.approx((x0 + x1) / 2 / k.width_px)
    assert label.h == pytest.approx((y1 - y0) / k.height_px)


def test_hidden_fixture_gets_no_label() -> None:
    # Second pole exactly behind the first one on the line of sight, arms pointing away.
    world = _world(_pole("NEAR", -60.0, 10.0, heading=0.0), _pole("FAR", -60.0, 25.0, heading=0.0))
    pose = _pose(world, -60.0, -5.0, 5.0, 0.0, -2.0)
    frame = FrameRenderer(world, DEFAULT_INTRINSICS, randomise=False, scenery=False).render(pose)
    assert [lb.asset_id for lb in frame.labels] == ["NEAR"]
    # Step sideways: both are visible.
    pose = _pose(world, -52.0, -5.0, 5.0, -20.0, -2.0)
    frame = FrameRenderer(world, DEFAULT_INTRINSICS, randomise=False, scenery=False).render(pose)
    assert sorted(lb.asset_id for lb in frame.labels) == ["FAR", "NEAR"]


def test_out_of_view_fixture_gets_no_label() -> None:
    world = _world(_pole("T-LP-1", -60.0, 10.0))
    pose = _pose(world, -60.0, -5.0, 6.0, 180.0, -30.0)  # looking away
    frame = FrameRenderer(world, DEFAULT_INTRINSICS, randomise=False, scenery=False).render(pose)
    assert frame.labels == []


def test_defects_are_labelled_when_visible() -> None:
    rust = Defect("T-LP-1-D1", "corrosion", "pole", "", 0.3, 1.2, -0.3, 0.3, 0.9)
    # Heading 90: local +x ("right" face of the base) faces south, towards the camera.
    crack = Defect(
        "T-LP-1-D2", "crack", "base", "right", 0.0, 0.3, -0.3, 0.3, 0.9, crack_width_mm=5.0
    )
    pole = Fixture("T-LP-1", "light_pole", -60.0, 10.0, 90.0, POLE, defects=(rust, crack))
    rail_g = GuardrailGeometry(20.0, 2.0, 0.114, 0.85, 0.35, 0.78, "white")
    bend = Defect(
        "T-GR-1-D1", "deformation", "rail", "front", 6.0, 10.0, 0.43, 0.78, 0.8, displacement_m=0.3
    )
    rail = Fixture("T-GR-1", "guardrail", -80.0, 7.5, 180.0, rail_g, defects=(bend,))
    world = _world(pole, rail)
    r = FrameRenderer(world, DEFAULT_INTRINSICS, randomise=False, scenery=False)
    close = r.render(_pose(world, -60.0, 5.5, 2.0, 0.0, -15.0))
    found = {lb.defect_id: lb.class_id for lb in close.labels if lb.defect_id}
    assert found.get("T-LP-1-D1") == 3
    assert found.get("T-LP-1-D2") == 4
    far = r.render(_pose(world, -60.0, -20.0, 30.0, 0.0, -45.0))
    assert "T-LP-1-D2" not in {lb.defect_id for lb in far.labels}  # a 5 mm crack from 40 m
    rail_view = r.render(_pose(world, -78.0, -2.0, 6.0, 0.0, -35.0))
    found = {lb.defect_id: lb.class_id for lb in rail_view.labels if lb.defect_id}
    assert found.get("T-GR-1-D1") == 5
    assert any(lb.class_id == 2 and lb.asset_id == "T-GR-1" for lb in rail_view.labels)


@pytest.fixture(scope="module")
def big_world() -> World:
    corridor, road = load_corridor(DEFAULT_CORRIDOR)
    return generate_world(corridor, road, seed=2)


@pytest.fixture(scope="module")
def small_renderer(big_world: World) -> FrameRenderer:
    return FrameRenderer(big_world, DEFAULT_INTRINSICS.scaled(320, 180), seed=11)


def test_same_seed_same_frames(big_world: World) -> None:
    k = DEFAULT_INTRINSICS.scaled(320, 180)
    rng = np.random.default_rng(1)
    poses = [sample_pose(big_world, rng) for _ in range(2)]
    a = FrameRenderer(big_world, k, seed=4)
    b = FrameRenderer(big_world, k, seed=4)
    for pose in poses:
        fa, fb = a.render(pose), b.render(pose)
        assert np.array_equal(fa.image, fb.image)
        assert fa.labels == fb.labels
        assert fa.conditions == fb.conditions


def test_mission_like_oblique_views_see_fixtures(big_world: World) -> None:
    """An inspection flight 20 m up, 4 m beside the kerb, camera -45 deg at the fixtures."""
    r = FrameRenderer(big_world, DEFAULT_INTRINSICS.scaled(640, 360), seed=0)
    seen = 0
    poles = [f for f in big_world.fixtures if f.kind == "light_pole"][:6]
    for f in poles:
        p, d = big_world.corridor.point_at(f.chainage_m - 15.0)
        side = 1.0 if f.side == "left" else -1.0
        offset = side * (big_world.road.carriageway_half_width_m - 4.0)
        e, n = p[0] - d[1] * offset, p[1] + d[0] * offset
        heading = math.degrees(math.atan2(f.east_m - e, f.north_m - n))
        frame = r.render(_pose(big_world, e, n, 20.0, heading, -45.0))
        seen += any(lb.asset_id == f.asset_id and lb.class_id == 1 for lb in frame.labels)
    assert seen >= 5


def test_random_dataset_frames_have_valid_labels(
    big_world: World, small_renderer: FrameRenderer
) -> None:
    rng = np.random.default_rng(9)
    with_labels = 0
    for _ in range(8):
        frame = small_renderer.render(sample_pose(big_world, rng))
        assert frame.image.shape == (180, 320, 3) and frame.image.dtype == np.uint8
        for lb in frame.labels:
            assert 0 <= lb.class_id <= 5
            assert 0 < lb.w <= 1 and 0 < lb.h <= 1
            assert lb.cx - lb.w / 2 + 1e-9 >= 0 and lb.cx + lb.w / 2 <= 1 + 1e-9
            assert lb.cy - lb.h / 2 + 1e-9 >= 0 and lb.cy + lb.h / 2 <= 1 + 1e-9
            assert lb.asset_id in {f.asset_id for f in big_world.fixtures}
            assert (lb.defect_id is None) == (lb.class_id <= 2)
        with_labels += bool(frame.labels)
    assert with_labels >= 6


def test_write_frame_writes_image_labels_sidecar_and_drone_metadata(
    tmp_path: Path, big_world: World, small_renderer: FrameRenderer
) -> None:
    pose = sample_pose(big_world, np.random.default_rng(2), nadir_share=0.0)
    frame = small_renderer.render(pose)
    jpg = write_frame(frame, tmp_path, "frame_0001", jpeg_quality=80)
    lines = (tmp_path / "frame_0001.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(frame.labels)
    for line, lb in zip(lines, frame.labels, strict=True):
        parts = line.split()
        assert int(parts[0]) == lb.class_id and len(parts) == 5
    side = json.loads((tmp_path / "frame_0001.json").read_text(encoding="utf-8"))
    assert side["pose"]["alt_m"] == pose.alt_m
    assert side["intrinsics"]["fx_px"] == pytest.approx(frame.intrinsics.fx_px)
    assert [lb["asset_id"] for lb in side["labels"]] == [lb.asset_id for lb in frame.labels]
    exif = piexif.load(str(jpg))
    gps = exif["GPS"]
    d, m, s = (a / b for a, b in gps[piexif.GPSIFD.GPSLatitude])
    assert d + m / 60 + s / 3600 == pytest.approx(pose.lat_deg, abs=1e-7)
    assert gps[piexif.GPSIFD.GPSLongitudeRef] == b"E"
    back = read_pose_from_jpeg(jpg)
    assert back.lat_deg == pytest.approx(pose.lat_deg, abs=1e-8)
    assert back.pitch_deg == pytest.approx(pose.pitch_deg, abs=0.01)
    assert back.heading_deg == pytest.approx(pose.heading_deg, abs=0.01)
    assert back.alt_m == pytest.approx(pose.alt_m, abs=0.01)
    assert b"drone-dji:GimbalPitchDegree" in jpg.read_bytes()


def test_camera_underground_is_refused(small_renderer: FrameRenderer, big_world: World) -> None:
    with pytest.raises(RenderError, match="altitude"):
        small_renderer.render(_pose(big_world, 0.0, 0.0, 0.1, 0.0, -45.0))


def test_cli_render_writes_a_dataset(
    tmp_path: Path, big_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    save_world(big_world, tmp_path / "world")
    parser = argparse.ArgumentParser(prog="michimori sim")
    add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "render",
            "--world",
            str(tmp_path / "world"),
            "--out",
            str(tmp_path / "ds"),
            "--count",
            "2",
            "--size",
            "320x180",
            "--seed",
            "3",
        ]
    )
    assert args.func(args) == 0
    assert len(list((tmp_path / "ds" / "frames").glob("*.jpg"))) == 2
    assert len(list((tmp_path / "ds" / "frames").glob("*.txt"))) == 2
    assert "names:" in (tmp_path / "ds" / "dataset.yaml").read_text(encoding="utf-8")
    assert "wrote 2 frames" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["render", "--world", "w", "--out", "o", "--size", "big"])
