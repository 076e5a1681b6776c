"""QGroundControl .plan files: what we write, reading it back, and reading bad files."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from inspection.geo import destination
from inspection.mission import (
    Corridor,
    MissionParams,
    MissionPlan,
    PlanFileError,
    mission_items,
    plan_from_qgc,
    plan_mission,
    plan_to_qgc,
    read_plan,
    write_plan,
)

LAT0, LON0 = 36.5590, 139.8980


@pytest.fixture(scope="module")
def plan() -> MissionPlan:
    lat1, lon1 = destination(LAT0, LON0, 80.0, 350.0)
    lat2, lon2 = destination(lat1, lon1, 110.0, 250.0)
    return plan_mission(
        Corridor(((LON0, LAT0), (lon1, lat1), (lon2, lat2)), source="c.geojson"),
        MissionParams(sides="both", alt_m=35.0, speed_m_s=6.0),
    )


def test_written_plan_has_qgc_structure(plan: MissionPlan, tmp_path: Path) -> None:
    path = write_plan(plan, tmp_path / "m.plan")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["fileType"] == "Plan" and doc["version"] == 1
    m = doc["mission"]
    assert m["version"] == 2 and m["firmwareType"] == 3 and m["vehicleType"] == 2
    assert m["cruiseSpeed"] == 6.0
    assert m["plannedHomePosition"][:2] == list(plan.home)
    items = m["items"]
    assert [it["doJumpId"] for it in items] == list(range(1, len(items) + 1))
    for it in items:
        assert it["type"] == "SimpleItem"
        assert len(it["params"]) == 7
        assert isinstance(it["command"], int) and isinstance(it["frame"], int)
        if it["frame"] == 3:
            assert it["AltitudeMode"] == 1 and it["Altitude"] == 35.0
    fence = doc["geoFence"]
    assert fence["version"] == 2 and len(fence["polygons"]) == 1
    assert fence["polygons"][0]["inclusion"] is True
    assert len(fence["polygons"][0]["polygon"]) >= 4
    assert doc["rallyPoints"] == {"version": 2, "points": []}
    meta = doc["michimori"]
    assert meta["expected_photos"] == plan.expected_photos
    assert len(meta["trigger_points"]) == plan.expected_photos
    assert meta["corridor"]["source"] == "c.geojson"
    assert not (tmp_path / "m.plan.tmp").exists()


def test_round_trip(plan: MissionPlan, tmp_path: Path) -> None:
    loaded = read_plan(write_plan(plan, tmp_path / "m.plan"))
    assert loaded.items == tuple(mission_items(plan))
    assert loaded.planned_home == (plan.home[0], plan.home[1], 0.0)
    assert loaded.geofence == (plan.geofence,)
    assert loaded.cruise_speed_m_s == 6.0
    meta = loaded.meta
    assert meta is not None
    assert meta.trigger_points == plan.trigger_points
    assert meta.trigger_legs == tuple(k for k, leg in enumerate(plan.legs) for _ in leg.triggers)
    assert meta.trigger_distance_m == pytest.approx(plan.trigger_distance_m, abs=1e-4)
    assert meta.expected_photos == plan.expected_photos
    assert meta.alt_m == 35.0 and meta.gimbal_pitch_deg == -45.0
    assert meta.corridor_lonlat == plan.corridor.lonlat


def test_qgroundcontrol_made_plan_reads_without_our_data() -> None:
    """A minimal plan as QGroundControl writes it: NaN params as null, no michimori key."""
    doc = {
        "fileType": "Plan",
        "groundStation": "QGroundControl",
        "version": 1,
        "geoFence": {"circles": [], "polygons": [], "version": 2},
        "rallyPoints": {"points": [], "version": 2},
        "mission": {
            "cruiseSpeed": 15,
            "firmwareType": 3,
            "hoverSpeed": 5,
            "plannedHomePosition": [LAT0, LON0, 120],
            "vehicleType": 2,
            "version": 2,
            "items": [
                {
                    "autoContinue": True,
                    "command": 22,
                    "doJumpId": 1,
                    "frame": 3,
                    "params": [0, 0, 0, None, LAT0, LON0, 30],
                    "type": "SimpleItem",
                },
                {
                    "autoContinue": True,
                    "command": 16,
                    "doJumpId": 2,
                    "frame": 3,
                    "params": [0, 0, 0, None, LAT0 + 0.001, LON0, 30],
                    "type": "SimpleItem",
                },
                {
                    "autoContinue": True,
                    "command": 20,
                    "doJumpId": 3,
                    "frame": 2,
                    "params": [0, 0, 0, 0, 0, 0, 0],
                    "type": "SimpleItem",
                },
            ],
        },
    }
    loaded = plan_from_qgc(doc)
    assert loaded.meta is None and loaded.geofence == ()
    assert [it.command for it in loaded.items] == [22, 16, 20]
    assert math.isnan(loaded.items[0].param4)
    assert loaded.items[1].int_fields(2)["x"] == round((LAT0 + 0.001) * 1e7)
    assert loaded.planned_home == (LAT0, LON0, 120.0)


def _doc(plan: MissionPlan) -> dict[str, Any]:
    return plan_to_qgc(plan)


def _set(path: str, value: Any) -> Any:
    """A mutation: set doc[path] (dotted, numeric parts index lists); value None deletes."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        key: Any = int(last) if last.isdigit() else last
        if value is _DELETE:
            del node[key]
        else:
            node[key] = value

    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set("fileType", "Mission"), '"fileType" must be "Plan"'),
        (_set("version", 2), "unsupported plan version 2"),
        (_set("mission.items", {}), '"mission.items" must be a list'),
        (_set("mission.items", []), "the mission has no items"),
        (_set("mission.items.0.type", "ComplexItem"), "only simple items can be flown"),
        (_set("mission.items.1.params", [0, 0, 0]), "mission item 2: params must be a list of 7"),
        (_set("mission.items.1.params.0", "x"), "mission item 2: param 1 is 'x'"),
        (_set("mission.items.1.command", "16"), "command and frame must be integers"),
        (_set("mission.items.0.params.4", 95.0), "mission item 1: mission item 22: latitude"),
        (_set("mission.plannedHomePosition", [1, 2]), "plannedHomePosition"),
        (_set("geoFence.polygons.0.polygon", [[1, 2]]), "needs at least 3 points"),
        (_set("michimori.version", 9), '"michimori.version" is 9'),
        (_set("michimori.trigger_points", _DELETE), "planning data is damaged"),
    ],
)
def test_bad_plan_files(plan: MissionPlan, mutate: Any, message: str) -> None:
    doc = copy.deepcopy(_doc(plan))
    mutate(doc)
    with pytest.raises(PlanFileError) as info:
        plan_from_qgc(doc, path="x.plan")
    assert message in str(info.value)
    assert str(info.value).startswith("x.plan: ")


def test_unreadable_plan_files(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match="file not found"):
        read_plan(tmp_path / "none.plan")
    bad = tmp_path / "bad.plan"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PlanFileError, match="not valid JSON"):
        read_plan(bad)
    wrong = tmp_path / "list.plan"
    wrong.write_text("[]", encoding="utf-8")
    with pytest.raises(PlanFileError, match="not a QGroundControl plan"):
        read_plan(wrong)
