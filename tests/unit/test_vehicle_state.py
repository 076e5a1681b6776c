"""The pure simulated vehicle, driven over a fake link by a pymavlink-encoding "GCS" (no sockets,
no real time): arming checks, modes, mission upload/download, AUTO flight, camera trigger
spacing, failsafes, parameters and robustness against garbage input.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from firmware_sim.vehicle import (
    Endpoint,
    FaultKind,
    FaultSpec,
    HomePosition,
    MissionItemReached,
    Mode,
    PhotoTaken,
    SimVehicle,
    StatusText,
    VehicleConfig,
    VehicleConfigError,
)
from firmware_sim.vehicle._config import parse_param_override
from inspection.geo import LocalFrame, haversine_m

m = mavlink2
HOME = HomePosition(lat_deg=35.0, lon_deg=139.0, alt_m=50.0, heading_deg=90.0)
FRAME = LocalFrame(HOME.lat_deg, HOME.lon_deg, 0.0)
REL_INT = m.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT


def latlon(e_m: float, n_m: float) -> tuple[float, float]:
    lat, lon, _ = FRAME.to_geodetic(e_m, n_m, 0.0)
    return lat, lon


class FakeGcs:
    """A ground station on a fake link: encodes with pymavlink, parses what the vehicle sends."""

    def __init__(self, vehicle: SimVehicle, *, heartbeats: bool = True) -> None:
        self.v = vehicle
        self.heartbeats = heartbeats
        self.mav = m.MAVLink(None, srcSystem=255, srcComponent=190)
        self.parser = m.MAVLink(None, srcSystem=255, srcComponent=190)
        self.received: list[Any] = []
        self.events: list[Any] = []
        self._next_hb_s = 0.0

    def send(self, msg: Any) -> None:
        self.v.receive_data(msg.pack(self.mav))
        self.pump()

    def pump(self) -> None:
        for packet in self.v.drain_packets():
            self.received.extend(self.parser.parse_buffer(packet) or [])
        while (event := self.v.next_event()) is not None:
            self.events.append(event)

    def run(
        self, seconds: float, *, until: Callable[[], bool] | None = None, dt_s: float = 0.1
    ) -> bool:
        """Step simulated time; True as soon as `until` holds (False if it never did)."""
        end = self.v.time_s + seconds
        while self.v.time_s < end - 1e-9:
            if self.heartbeats and self.v.time_s >= self._next_hb_s:
                self.send(
                    self.mav.heartbeat_encode(m.MAV_TYPE_GCS, m.MAV_AUTOPILOT_INVALID, 0, 0, 0)
                )
                self._next_hb_s = self.v.time_s + 1.0
            self.v.step(dt_s)
            self.pump()
            if until is not None and until():
                return True
        return until is None

    def of_type(self, name: str) -> list[Any]:
        return [msg for msg in self.received if msg.get_type() == name]

    def last(self, name: str) -> Any:
        found = self.of_type(name)
        assert found, f"vehicle sent no {name}"
        return found[-1]

    def command(self, command: int, *params: float) -> Any:
        p = [*params, *([0.0] * (7 - len(params)))]
        before = len(self.of_type("COMMAND_ACK"))
        self.send(self.mav.command_long_encode(1, 1, command, 0, *p))
        acks = self.of_type("COMMAND_ACK")[before:]
        assert acks, f"no COMMAND_ACK for command {command}"
        return acks[-1]

    def set_mode(self, mode: Mode) -> int:
        ack = self.command(m.MAV_CMD_DO_SET_MODE, m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, int(mode))
        return int(ack.result)

    def texts(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, StatusText)]

    def upload(self, items: list[Any], *, use_int: bool = True) -> int:
        """Upload mission items (home slot included); returns the MISSION_ACK result."""
        self.send(self.mav.mission_count_encode(1, 1, len(items)))
        for _ in range(len(items) + 1):
            ack_or_req = self.received[-1]
            if ack_or_req.get_type() == "MISSION_ACK":
                return int(ack_or_req.type)
            assert ack_or_req.get_type() in ("MISSION_REQUEST", "MISSION_REQUEST_INT")
            item = items[ack_or_req.seq]
            if use_int:
                msg = self.mav.mission_item_int_encode(1, 1, ack_or_req.seq, *item)
            else:
                frame, cmd, cur, auto, p1, p2, p3, p4, x, y, z = item
                scale = 1e-7 if frame in (REL_INT, m.MAV_FRAME_GLOBAL) else 1.0
                fields = (frame, cmd, cur, auto, p1, p2, p3, p4, x * scale, y * scale, z)
                msg = self.mav.mission_item_encode(1, 1, ack_or_req.seq, *fields)
            self.send(msg)
        raise AssertionError("upload did not finish")


MissionRow = tuple[int, int, int, int, float, float, float, float, int, int, float]


def item(
    command: int, *, e: float = 0, n: float = 0, z: float = 0, p: tuple[float, ...] = ()
) -> MissionRow:
    """(frame, command, current, autocontinue, p1..p4, x, y, z) for MISSION_ITEM_INT."""
    p1, p2, p3, p4 = [*p, *([0.0] * (4 - len(p)))]
    if e or n:
        lat, lon = latlon(e, n)
        x, y = round(lat * 1e7), round(lon * 1e7)
    else:
        x = y = 0
    return (REL_INT, command, 0, 1, p1, p2, p3, p4, x, y, float(z))


HOME_SLOT = (m.MAV_FRAME_GLOBAL, m.MAV_CMD_NAV_WAYPOINT, 0, 1, 0, 0, 0, 0, 0, 0, 0.0)


def vehicle(**kwargs: Any) -> tuple[SimVehicle, FakeGcs]:
    v = SimVehicle(VehicleConfig(home=HOME, **kwargs))
    gcs = FakeGcs(v)
    gcs.run(3.0)  # past the GPS lock delay
    return v, gcs


def fly_guided_to(gcs: FakeGcs, alt_m: float) -> None:
    assert gcs.set_mode(Mode.GUIDED) == m.MAV_RESULT_ACCEPTED
    assert gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1).result == m.MAV_RESULT_ACCEPTED
    assert gcs.command(m.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, alt_m).result == 0
    assert gcs.run(60, until=lambda: gcs.v.alt_rel_m >= alt_m - 0.5)


# -- boot, identity, arming -----------------------------------------------------------------


def test_heartbeat_identifies_an_arducopter_quad() -> None:
    _, gcs = vehicle()
    hb = gcs.last("HEARTBEAT")
    assert (hb.type, hb.autopilot) == (m.MAV_TYPE_QUADROTOR, m.MAV_AUTOPILOT_ARDUPILOTMEGA)
    assert hb.custom_mode == Mode.STABILIZE
    assert hb.base_mode & m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    assert hb.get_srcSystem() == 1 and hb.get_srcComponent() == 1
    assert 2 <= len(gcs.of_type("HEARTBEAT")) <= 4  # 1 Hz over 3 s


def test_arming_fails_before_gps_fix_with_reason() -> None:
    v = SimVehicle(VehicleConfig(home=HOME, gps_lock_delay_s=5.0))
    gcs = FakeGcs(v)
    gcs.run(1.0)
    assert gcs.last("GPS_RAW_INT").fix_type < m.GPS_FIX_TYPE_3D_FIX
    assert gcs.set_mode(Mode.GUIDED) == m.MAV_RESULT_FAILED  # GUIDED needs a position
    ack = gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1)
    assert ack.result == m.MAV_RESULT_FAILED
    assert gcs.last("STATUSTEXT").text == "PreArm: Need 3D Fix"
    assert not v.armed
    gcs.run(5.0)
    assert gcs.last("GPS_RAW_INT").fix_type == m.GPS_FIX_TYPE_3D_FIX
    ekf = gcs.last("EKF_STATUS_REPORT")
    assert ekf.flags & m.EKF_PRED_POS_HORIZ_ABS and not ekf.flags & m.EKF_CONST_POS_MODE
    assert gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1).result == m.MAV_RESULT_ACCEPTED
    assert gcs.last("HEARTBEAT").base_mode & m.MAV_MODE_FLAG_SAFETY_ARMED or v.armed


@pytest.mark.parametrize(
    ("mode", "force", "expected"),
    [
        (Mode.LAND, False, m.MAV_RESULT_FAILED),  # "Arm: Mode not armable"
        (Mode.LAND, True, m.MAV_RESULT_ACCEPTED),
        (Mode.LOITER, False, m.MAV_RESULT_ACCEPTED),
        (Mode.STABILIZE, False, m.MAV_RESULT_ACCEPTED),
    ],
)
def test_arming_depends_on_mode(mode: Mode, force: bool, expected: int) -> None:
    v, gcs = vehicle()
    assert gcs.set_mode(mode) == m.MAV_RESULT_ACCEPTED
    ack = gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1, 21196 if force else 0)
    assert ack.result == expected
    assert v.armed == (expected == m.MAV_RESULT_ACCEPTED)


def test_takeoff_needs_guided_and_armed_then_climbs_at_limited_rate() -> None:
    v, gcs = vehicle()
    assert gcs.command(m.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10).result == m.MAV_RESULT_FAILED
    gcs.set_mode(Mode.GUIDED)
    assert gcs.command(m.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10).result == m.MAV_RESULT_FAILED
    gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1)
    assert gcs.command(m.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10).result == 0
    t0 = v.time_s
    assert gcs.run(30, until=lambda: v.alt_rel_m >= 9.5)
    # WPNAV_SPEED_UP is 2.5 m/s: 10 m takes at least 4 s.
    assert v.time_s - t0 >= 4.0
    pos = gcs.last("GLOBAL_POSITION_INT")
    assert pos.relative_alt == pytest.approx(v.alt_rel_m * 1000, abs=600)
    assert pos.alt == pytest.approx((HOME.alt_m + v.alt_rel_m) * 1000, abs=600)


def test_auto_disarm_after_delay_on_the_ground() -> None:
    v, gcs = vehicle()
    gcs.set_mode(Mode.GUIDED)
    gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1)
    assert gcs.run(12, until=lambda: not v.armed)
    assert any("Disarmed" in t for t in gcs.texts())


def test_guided_goto_with_dronekit_style_mission_item_current_2() -> None:
    v, gcs = vehicle()
    fly_guided_to(gcs, 20)
    lat, lon = latlon(60.0, 80.0)  # 100 m away
    gcs.send(
        gcs.mav.mission_item_encode(
            0,
            0,
            0,
            m.MAV_FRAME_GLOBAL_RELATIVE_ALT,
            m.MAV_CMD_NAV_WAYPOINT,
            2,
            0,
            0,
            0,
            0,
            0,
            lat,
            lon,
            25,
        )
    )
    assert gcs.last("MISSION_ACK").type == m.MAV_MISSION_ACCEPTED
    t0 = v.time_s
    assert gcs.run(120, until=lambda: haversine_m(*v.position()[:2], lat, lon) < 1.0)
    assert v.time_s - t0 >= 100 / 5.0  # WPNAV_SPEED 5 m/s
    assert v.alt_rel_m == pytest.approx(25, abs=0.5)
    assert gcs.last("VFR_HUD").heading == pytest.approx(math.degrees(math.atan2(60, 80)), abs=2)


def test_set_position_target_global_int_in_guided() -> None:
    v, gcs = vehicle()
    fly_guided_to(gcs, 15)
    lat, lon = latlon(-30.0, 0.0)
    gcs.send(
        gcs.mav.set_position_target_global_int_encode(
            0,
            1,
            1,
            REL_INT,
            0b0000111111111000,
            round(lat * 1e7),
            round(lon * 1e7),
            15,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        )
    )
    assert gcs.run(60, until=lambda: haversine_m(*v.position()[:2], lat, lon) < 1.0)


# -- parameters -----------------------------------------------------------------------------


def test_param_list_get_and_set() -> None:
    v, gcs = vehicle()
    gcs.send(gcs.mav.param_request_list_encode(1, 1))
    values = gcs.of_type("PARAM_VALUE")
    count = values[0].param_count
    assert len(values) == count and {p.param_index for p in values} == set(range(count))
    names = {p.param_id for p in values}
    assert {"WPNAV_SPEED", "RTL_ALT", "BATT_CAPACITY", "CAM_TRIGG_DIST", "SIM_WIND_SPD"} <= names

    gcs.send(gcs.mav.param_set_encode(1, 1, b"WPNAV_SPEED", 1000, m.MAV_PARAM_TYPE_REAL32))
    assert (gcs.last("PARAM_VALUE").param_id, gcs.last("PARAM_VALUE").param_value) == (
        "WPNAV_SPEED",
        1000,
    )
    gcs.send(gcs.mav.param_request_read_encode(1, 1, b"RTL_ALT", -1))
    assert gcs.last("PARAM_VALUE").param_value == 1500
    assert gcs.last("PARAM_VALUE").param_type == m.MAV_PARAM_TYPE_INT32
    n_before = len(gcs.of_type("PARAM_VALUE"))
    gcs.send(gcs.mav.param_set_encode(1, 1, b"NO_SUCH_PARAM", 1, m.MAV_PARAM_TYPE_REAL32))
    gcs.send(gcs.mav.param_set_encode(1, 1, b"RTL_ALT", float("nan"), m.MAV_PARAM_TYPE_REAL32))
    assert len(gcs.of_type("PARAM_VALUE")) == n_before
    assert v.params["RTL_ALT"] == 1500


def test_request_data_stream_and_message_interval_change_rates() -> None:
    _, gcs = vehicle()
    gcs.send(gcs.mav.request_data_stream_encode(1, 1, m.MAV_DATA_STREAM_ALL, 0, 0))
    gcs.received.clear()
    gcs.run(3.0)
    assert not gcs.of_type("ATTITUDE") and len(gcs.of_type("HEARTBEAT")) >= 2
    gcs.send(gcs.mav.request_data_stream_encode(1, 1, m.MAV_DATA_STREAM_EXTRA1, 10, 1))
    ack = gcs.command(m.MAV_CMD_SET_MESSAGE_INTERVAL, m.MAVLINK_MSG_ID_VFR_HUD, 500_000)
    assert ack.result == m.MAV_RESULT_ACCEPTED
    gcs.received.clear()
    gcs.run(4.0)
    assert 35 <= len(gcs.of_type("ATTITUDE")) <= 41
    assert 7 <= len(gcs.of_type("VFR_HUD")) <= 9
    ack = gcs.command(m.MAV_CMD_REQUEST_MESSAGE, m.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
    assert ack.result == m.MAV_RESULT_ACCEPTED
    assert gcs.last("AUTOPILOT_VERSION").capabilities & m.MAV_PROTOCOL_CAPABILITY_MISSION_INT


# -- mission protocol -----------------------------------------------------------------------


def square_mission(side_m: float = 40.0, alt_m: float = 20.0) -> list[Any]:
    return [
        HOME_SLOT,
        item(m.MAV_CMD_NAV_TAKEOFF, z=alt_m),
        item(m.MAV_CMD_NAV_WAYPOINT, e=0, n=side_m, z=alt_m),
        item(m.MAV_CMD_DO_SET_CAM_TRIGG_DIST, p=(10.0,)),
        item(m.MAV_CMD_NAV_WAYPOINT, e=side_m, n=side_m, z=alt_m),
        item(m.MAV_CMD_DO_SET_CAM_TRIGG_DIST, p=(0.0,)),
        item(m.MAV_CMD_NAV_WAYPOINT, e=side_m, n=0, z=alt_m),
        item(m.MAV_CMD_NAV_RETURN_TO_LAUNCH),
    ]


@pytest.mark.parametrize("use_int", [True, False])
def test_mission_upload_download_round_trip(use_int: bool) -> None:
    v, gcs = vehicle()
    items = square_mission()
    assert gcs.upload(items, use_int=use_int) == m.MAV_MISSION_ACCEPTED
    assert len(v.mission_items) == len(items)
    # ArduPilot asks with MISSION_REQUEST (what dronekit answers).
    assert gcs.of_type("MISSION_REQUEST") and not gcs.of_type("MISSION_REQUEST_INT")

    gcs.send(gcs.mav.mission_request_list_encode(1, 1))
    assert gcs.last("MISSION_COUNT").count == len(items)
    for seq in range(len(items)):
        gcs.send(gcs.mav.mission_request_int_encode(1, 1, seq))
        got = gcs.last("MISSION_ITEM_INT")
        assert got.seq == seq
        if seq == 0:  # home slot answers with the current home
            assert (got.x, got.y) == (round(HOME.lat_deg * 1e7), round(HOME.lon_deg * 1e7))
            assert got.z == pytest.approx(HOME.alt_m)
            continue
        frame, cmd, _, _, p1, _, _, _, x, y, z = items[seq]
        assert (got.frame, got.command, got.param1) == (frame, cmd, p1)
        tol = 1 if use_int else 100  # float32 MISSION_ITEM loses ~1e-5 degrees
        assert abs(got.x - x) <= tol and abs(got.y - y) <= tol
        assert got.z == pytest.approx(z)
    gcs.send(gcs.mav.mission_request_encode(1, 1, 2))
    assert gcs.last("MISSION_ITEM").x == pytest.approx(items[2][8] / 1e7, abs=1e-5)


@pytest.mark.parametrize(
    ("bad_item", "expected"),
    [
        ((REL_INT, 31000, 0, 1, 0, 0, 0, 0, 0, 0, 0.0), m.MAV_MISSION_UNSUPPORTED),
        ((m.MAV_FRAME_LOCAL_NED, 16, 0, 1, 0, 0, 0, 0, 0, 0, 0.0), m.MAV_MISSION_UNSUPPORTED_FRAME),
        ((REL_INT, 16, 0, 1, 0, 0, 0, 0, 950_000_000, 0, 10.0), m.MAV_MISSION_INVALID_PARAM5_X),
        ((REL_INT, 16, 0, 1, 0, 0, 0, 0, 0, 0, float("nan")), m.MAV_MISSION_INVALID_PARAM7),
    ],
)
def test_mission_upload_rejects_bad_items(bad_item: Any, expected: int) -> None:
    v, gcs = vehicle()
    assert gcs.upload([HOME_SLOT, bad_item]) == expected
    assert len(v.mission_items) == 1  # the stored mission is untouched


def test_mission_upload_out_of_sequence_and_clear_all() -> None:
    v, gcs = vehicle()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 3))
    gcs.send(gcs.mav.mission_item_int_encode(1, 1, 2, *item(m.MAV_CMD_NAV_WAYPOINT, z=5)))
    assert gcs.last("MISSION_ACK").type == m.MAV_MISSION_INVALID_SEQUENCE
    gcs.run(10.0)  # the vehicle gives up on a silent upload
    assert gcs.last("MISSION_ACK").type == m.MAV_MISSION_OPERATION_CANCELLED
    assert gcs.upload(square_mission()) == m.MAV_MISSION_ACCEPTED
    gcs.send(gcs.mav.mission_clear_all_encode(1, 1))
    assert gcs.last("MISSION_ACK").type == m.MAV_MISSION_ACCEPTED
    assert len(v.mission_items) == 1


# -- AUTO flight, camera --------------------------------------------------------------------


def test_auto_flies_the_mission_reports_reached_items_and_lands_home() -> None:
    v, gcs = vehicle()
    assert gcs.upload(square_mission()) == m.MAV_MISSION_ACCEPTED
    gcs.set_mode(Mode.GUIDED)
    gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1)
    assert gcs.set_mode(Mode.AUTO) == m.MAV_RESULT_ACCEPTED
    assert gcs.run(240, until=lambda: not v.armed)
    reached = [msg.seq for msg in gcs.of_type("MISSION_ITEM_REACHED")]
    assert reached == [1, 2, 4, 6, 7]
    assert [e.seq for e in gcs.events if isinstance(e, MissionItemReached)] == reached
    assert {msg.seq for msg in gcs.of_type("MISSION_CURRENT")} >= {1, 2, 4, 6, 7}
    lat, lon, alt = v.position()
    assert haversine_m(lat, lon, HOME.lat_deg, HOME.lon_deg) < 2.5 and alt == 0.0
    assert "Mission: 3 SetCamTrigDst" in gcs.texts()


def test_camera_triggers_every_distance_and_reports_feedback() -> None:
    v, gcs = vehicle()
    assert gcs.upload(square_mission(side_m=100.0)) == m.MAV_MISSION_ACCEPTED
    gcs.set_mode(Mode.GUIDED)
    gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1)
    gcs.set_mode(Mode.AUTO)
    gcs.run(300, until=lambda: not v.armed)
    photos = [e for e in gcs.events if isinstance(e, PhotoTaken)]
    feedback = gcs.of_type("CAMERA_FEEDBACK")
    # As in ArduPilot, a DO item runs when the NAV item before it starts: the trigger is on for
    # the 100 m leg to WP 2 only (item 5 switches it off as the leg to WP 4 begins). The vehicle
    # accepts WP 2 within WPNAV_RADIUS (2 m), so the 100 m mark is not reached.
    assert len(photos) == 9
    assert all(abs(FRAME.to_enu(p.lat_deg, p.lon_deg, 0.0)[0]) < 0.5 for p in photos)
    assert [f.img_idx for f in feedback] == [p.index for p in photos] == list(range(1, 10))
    gaps = [
        haversine_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)
        for a, b in itertools.pairwise(photos)
    ]
    assert all(10.0 <= gap < 10.6 for gap in gaps), gaps
    first = feedback[0]
    assert first.alt_rel == pytest.approx(20, abs=1.0)
    assert first.alt_msl == pytest.approx(HOME.alt_m + 20, abs=1.0)
    assert first.lat == round(photos[0].lat_deg * 1e7) and first.flags == m.CAMERA_FEEDBACK_PHOTO


def test_gimbal_pitch_command_shows_in_photos_and_mount_status() -> None:
    _, gcs = vehicle()
    fly_guided_to(gcs, 10)
    assert gcs.command(m.MAV_CMD_DO_MOUNT_CONTROL, -90, 0, 0, 0, 0, 0, 2).result == 0
    gcs.run(2.0)
    assert gcs.last("MOUNT_STATUS").pointing_a == -9000
    assert gcs.command(m.MAV_CMD_DO_DIGICAM_CONTROL, 0, 0, 0, 0, 1).result == 0
    gcs.run(0.2)
    photo = next(e for e in gcs.events if isinstance(e, PhotoTaken))
    assert photo.camera_pitch_deg == -90 and photo.alt_rel_m == pytest.approx(10, abs=0.5)
    assert photo.heading_deg == pytest.approx(HOME.heading_deg, abs=1)


# -- faults ---------------------------------------------------------------------------------


def test_low_battery_fault_triggers_rtl() -> None:
    v, gcs = vehicle(faults=(FaultSpec(kind=FaultKind.LOW_BATTERY, at_s=30.0),))
    fly_guided_to(gcs, 20)
    lat, lon = latlon(0.0, 200.0)
    gcs.send(
        gcs.mav.mission_item_encode(
            0, 0, 0, 3, m.MAV_CMD_NAV_WAYPOINT, 2, 0, 0, 0, 0, 0, lat, lon, 20
        )
    )
    assert gcs.run(60, until=lambda: v.mode is Mode.RTL)
    assert v.time_s >= 30.0
    assert any(t.startswith("Battery 1 is low") for t in gcs.texts())
    assert gcs.last("SYS_STATUS").battery_remaining <= 20
    assert gcs.last("HEARTBEAT").system_status == m.MAV_STATE_CRITICAL
    assert gcs.run(200, until=lambda: not v.armed)
    assert haversine_m(*v.position()[:2], HOME.lat_deg, HOME.lon_deg) < 2.5


def test_gps_loss_freezes_position_and_lands_from_auto() -> None:
    v, gcs = vehicle(param_overrides=(("SIM_WIND_SPD", 3.0),))
    assert gcs.upload(square_mission(side_m=200.0)) == m.MAV_MISSION_ACCEPTED
    gcs.set_mode(Mode.GUIDED)
    gcs.command(m.MAV_CMD_COMPONENT_ARM_DISARM, 1)
    gcs.set_mode(Mode.AUTO)
    assert gcs.run(60, until=lambda: v.alt_rel_m > 19 and v.mode is Mode.AUTO)
    gcs.run(5)
    v.inject_fault(FaultKind.GPS_LOSS)
    gcs.run(0.5)
    frozen = gcs.last("GLOBAL_POSITION_INT")
    assert gcs.run(3, until=lambda: v.mode is Mode.LAND)
    assert "EKF Failsafe: changed to LAND Mode" in gcs.texts()
    gcs.run(3)
    assert gcs.last("GPS_RAW_INT").fix_type == m.GPS_FIX_TYPE_NO_GPS
    later = gcs.last("GLOBAL_POSITION_INT")
    assert (later.lat, later.lon) == (frozen.lat, frozen.lon)
    assert later.relative_alt < frozen.relative_alt  # baro still reports the descent
    assert gcs.set_mode(Mode.GUIDED) == m.MAV_RESULT_FAILED
    assert gcs.run(60, until=lambda: not v.armed)
    assert v.landed


def test_link_loss_drops_traffic_and_gcs_failsafe_returns_home() -> None:
    v, gcs = vehicle()
    fly_guided_to(gcs, 20)
    lat, lon = latlon(100.0, 0.0)
    gcs.send(
        gcs.mav.mission_item_encode(
            0, 0, 0, 3, m.MAV_CMD_NAV_WAYPOINT, 2, 0, 0, 0, 0, 0, lat, lon, 20
        )
    )
    gcs.run(3)
    v.inject_fault(FaultKind.LINK_LOSS, duration_s=30.0)
    gcs.received.clear()
    assert gcs.run(10, until=lambda: v.mode is Mode.RTL)
    assert not gcs.received  # nothing crossed the dead link
    gcs.run(30)
    assert gcs.of_type("HEARTBEAT")  # link back
    assert "GCS Failsafe" in gcs.texts()


# -- robustness -----------------------------------------------------------------------------


def test_garbage_and_unknown_messages_are_ignored() -> None:
    v, gcs = vehicle()
    rng = random.Random(1234)
    for _ in range(300):
        v.receive_data(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
    # Well-framed MAVLink 2 packets with random ids and payloads (CRC errors, unknown ids).
    for _ in range(300):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
        header = bytes([0xFD, len(payload), 0, 0, rng.randrange(256), 255, 190])
        msg_id = rng.randrange(1 << 24).to_bytes(3, "little")
        v.receive_data(header + msg_id + payload + bytes([rng.randrange(256), rng.randrange(256)]))
    # Valid frames carrying absurd field values.
    nan = float("nan")
    for msg in (
        gcs.mav.command_long_encode(1, 1, m.MAV_CMD_DO_SET_MODE, 0, 1, nan, 0, 0, 0, 0, 0),
        gcs.mav.command_long_encode(1, 1, m.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 0, nan),
        gcs.mav.command_long_encode(
            1, 1, m.MAV_CMD_SET_MESSAGE_INTERVAL, 0, nan, nan, 0, 0, 0, 0, 0
        ),
        gcs.mav.command_long_encode(1, 1, m.MAV_CMD_CONDITION_YAW, 0, 1e30, 0, 0, 7, 0, 0, 0),
        gcs.mav.command_long_encode(1, 1, 65000, 0, 0, 0, 0, 0, 0, 0, 0),
        gcs.mav.set_mode_encode(1, 1, 4242),
        gcs.mav.param_request_read_encode(1, 1, b"", 30000),
        gcs.mav.mission_request_int_encode(1, 1, 60000),
        gcs.mav.mission_set_current_encode(1, 1, 999),
        gcs.mav.set_position_target_global_int_encode(
            0, 1, 1, 6, 0, 2**31 - 1, 2**31 - 1, nan, 0, 0, 0, 0, 0, 0, nan, 0
        ),
        gcs.mav.mount_control_encode(1, 1, 2**31 - 1, 0, -(2**31), 0),
    ):
        gcs.send(msg)
    assert v.bad_packets > 0
    assert gcs.run(3.0)
    assert gcs.last("HEARTBEAT").custom_mode == Mode.STABILIZE
    acks = {a.command: a.result for a in gcs.of_type("COMMAND_ACK")}
    assert acks[65000] == m.MAV_RESULT_UNSUPPORTED
    assert acks[m.MAV_CMD_NAV_TAKEOFF] == m.MAV_RESULT_FAILED
    # Still fully functional afterwards.
    fly_guided_to(gcs, 5)


def test_messages_for_another_system_are_ignored() -> None:
    v, gcs = vehicle()
    gcs.send(
        gcs.mav.command_long_encode(7, 1, m.MAV_CMD_COMPONENT_ARM_DISARM, 0, 1, 0, 0, 0, 0, 0, 0)
    )
    assert not v.armed and not gcs.of_type("COMMAND_ACK")


def test_step_rejects_negative_time() -> None:
    v = SimVehicle()
    with pytest.raises(ValueError, match="dt_s"):
        v.step(-1.0)


def test_wind_drifts_a_vehicle_without_position_hold_and_tilts_it_into_the_wind() -> None:
    # Wind from the west (270 deg) at 5 m/s blows the vehicle east.
    v, gcs = vehicle(param_overrides=(("SIM_WIND_SPD", 5.0), ("SIM_WIND_DIR", 270.0)))
    fly_guided_to(gcs, 10)
    e0 = FRAME.to_enu(*v.position()[:2], 0.0)[0]
    gcs.run(10)
    held = FRAME.to_enu(*v.position()[:2], 0.0)[0]
    assert abs(held - e0) < 1.0  # GUIDED holds position (small residual offset)
    assert gcs.set_mode(Mode.ALT_HOLD) == m.MAV_RESULT_ACCEPTED
    gcs.run(10)
    drifted = FRAME.to_enu(*v.position()[:2], 0.0)[0]
    assert drifted - held > 30  # ~5 m/s for ~10 s, after levelling out
    assert gcs.last("VFR_HUD").groundspeed == pytest.approx(5.0, abs=0.3)
    assert v.alt_rel_m == pytest.approx(10, abs=0.5)
    assert gcs.set_mode(Mode.LOITER) == m.MAV_RESULT_ACCEPTED
    gcs.run(10)
    # Holding against a west wind means leaning west: the nose points east (heading 90), so
    # that is pitching up (nose up, positive pitch).
    assert gcs.last("ATTITUDE").pitch > math.radians(2)
    assert gcs.last("WIND").speed == pytest.approx(5.0)


def test_condition_yaw_and_set_mode_message() -> None:
    v, gcs = vehicle()
    fly_guided_to(gcs, 10)
    assert gcs.command(m.MAV_CMD_CONDITION_YAW, 200, 30, 1, 0).result == m.MAV_RESULT_ACCEPTED
    assert gcs.run(10, until=lambda: abs(v.autopilot.airframe.yaw_deg - 200) < 0.5)
    gcs.send(gcs.mav.set_mode_encode(1, m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, Mode.RTL))
    assert gcs.last("COMMAND_ACK").command == m.MAVLINK_MSG_ID_SET_MODE
    assert v.mode is Mode.RTL


def test_mission_request_int_when_configured() -> None:
    _, gcs = vehicle(mission_request_int=True)
    assert gcs.upload(square_mission()) == m.MAV_MISSION_ACCEPTED
    assert gcs.of_type("MISSION_REQUEST_INT") and not gcs.of_type("MISSION_REQUEST")


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "error"),
    [
        ("35.5,139.5", HomePosition(lat_deg=35.5, lon_deg=139.5), None),
        (
            "35.5,139.5,12,370",
            HomePosition(lat_deg=35.5, lon_deg=139.5, alt_m=12, heading_deg=10),
            None,
        ),
        ("35.5", None, "--home"),
        ("35.5,abc", None, "not a number"),
        ("95,139", None, "lat_deg"),
        ("35,139,nan", None, "finite"),
    ],
)
def test_home_parsing(text: str, expected: HomePosition | None, error: str | None) -> None:
    if error:
        with pytest.raises(VehicleConfigError, match=error):
            HomePosition.parse(text)
    else:
        assert HomePosition.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "error"),
    [
        ("gps-loss@120", FaultSpec(kind=FaultKind.GPS_LOSS, at_s=120), None),
        ("link-loss@60:10", FaultSpec(kind=FaultKind.LINK_LOSS, at_s=60, duration_s=10), None),
        ("low-battery@90", FaultSpec(kind=FaultKind.LOW_BATTERY, at_s=90), None),
        ("low-battery@90:5", None, "instantaneous"),
        ("gps-loss", None, "KIND@AT_S"),
        ("meteor@1", None, "unknown fault"),
        ("gps-loss@-1", None, ">= 0"),
        ("link-loss@1:0", None, "> 0"),
    ],
)
def test_fault_parsing(text: str, expected: FaultSpec | None, error: str | None) -> None:
    if error:
        with pytest.raises(VehicleConfigError, match=error):
            FaultSpec.parse(text)
    else:
        assert FaultSpec.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "error"),
    [
        ("udp:127.0.0.1:14550", Endpoint(scheme="udp", host="127.0.0.1", port=14550), None),
        ("udpout:10.0.0.5:14550", Endpoint(scheme="udp", host="10.0.0.5", port=14550), None),
        ("tcp:0.0.0.0:5760", Endpoint(scheme="tcp", host="0.0.0.0", port=5760), None),
        ("serial:/dev/ttyS0:57600", None, "scheme"),
        ("udp:127.0.0.1", None, "udp:HOST:PORT"),
        ("udp:127.0.0.1:99999", None, "port"),
    ],
)
def test_endpoint_parsing(text: str, expected: Endpoint | None, error: str | None) -> None:
    if error:
        with pytest.raises(VehicleConfigError, match=error):
            Endpoint.parse(text)
    else:
        assert Endpoint.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "error"),
    [
        ("SIM_WIND_SPD=5", ("SIM_WIND_SPD", 5.0), None),
        ("wpnav_speed = 800", ("WPNAV_SPEED", 800.0), None),
        ("NOPE=1", None, "unknown parameter"),
        ("RTL_ALT", None, "NAME=VALUE"),
        ("RTL_ALT=inf", None, "finite"),
    ],
)
def test_param_override_parsing(
    text: str, expected: tuple[str, float] | None, error: str | None
) -> None:
    if error:
        with pytest.raises(VehicleConfigError, match=error):
            parse_param_override(text)
    else:
        assert parse_param_override(text) == expected


def test_injected_link_loss_uses_the_real_gcs_timeout_even_when_sped_up() -> None:
    # Under speedup the heartbeat timeout is stretched (heartbeats are wall-clock paced), but an
    # injected link loss is exact: RTL follows FS_GCS_TIMEOUT (5 s) of simulated time.
    v, gcs = vehicle(gcs_timeout_scale=20.0)
    fly_guided_to(gcs, 10)
    v.inject_fault(FaultKind.LINK_LOSS)
    t0 = v.time_s
    assert gcs.run(10, until=lambda: v.mode is Mode.RTL)
    assert 5.0 <= v.time_s - t0 <= 5.5
