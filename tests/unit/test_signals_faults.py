"""Signal models (pure functions of time and seed), fault declarations and the node's SimClock."""

from __future__ import annotations

import math
import statistics

import pytest

from firmware_sim.faults import Fault, FaultConfigError, FaultInjector, FaultPlan, SimClock
from firmware_sim.signals import (
    AccelModel,
    GnssModel,
    LinkModel,
    Site,
    SmoothNoise,
    TiltModel,
    WeatherModel,
    WindModel,
)

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
DAY = 86_400.0
TOKYO = Site(lat_deg=35.6812, lon_deg=139.7671, alt_m=40.0)


def test_smooth_noise_is_a_pure_bounded_continuous_function_of_time() -> None:
    a, b, other = SmoothNoise(7, 60.0), SmoothNoise(7, 60.0), SmoothNoise(8, 60.0)
    times = [T0 + 7.3 * i for i in range(500)]
    values = [a(t) for t in times]
    assert values == [b(t) for t in reversed(times)][::-1]  # call order does not matter
    assert values != [other(t) for t in times]
    assert all(-1.0 <= v <= 1.0 for v in values)
    assert max(abs(a(t + 0.01) - a(t)) for t in times) < 0.01  # no jumps at knots
    assert statistics.pstdev(values) > 0.2


@pytest.mark.parametrize(
    ("site", "mean_range_c"),
    [
        (Site(lat_deg=26.2, lon_deg=127.7), (24.0, 32.0)),  # Naha in June
        (TOKYO, (17.0, 27.0)),
        (Site(lat_deg=43.06, lon_deg=141.35), (10.0, 21.0)),  # Sapporo
    ],
)
def test_weather_daily_cycle_and_humidity_anticorrelation(
    site: Site, mean_range_c: tuple[float, float]
) -> None:
    model = WeatherModel(site, seed=3)
    hours = [T0 + 600.0 * i for i in range(144)]  # one day, every 10 minutes
    samples = [model.sample(t) for t in hours]
    temps = [s.temperature_c for s in samples]
    hums = [s.humidity_pct for s in samples]
    assert mean_range_c[0] < statistics.fmean(temps) < mean_range_c[1]
    assert 5.0 < max(temps) - min(temps) < 15.0  # a daily swing of several degrees
    assert statistics.correlation(temps, hums) < -0.8
    assert all(3.0 <= h <= 100.0 for h in hums)
    warmest = hours[temps.index(max(temps))]
    assert 11.0 < site.solar_hour(warmest) < 18.0  # afternoon, by the sun


@pytest.mark.parametrize(
    ("alt_m", "expected_hpa"), [(0.0, 1013.25), (500.0, 954.6), (1500.0, 845.6)]
)
def test_pressure_follows_altitude(alt_m: float, expected_hpa: float) -> None:
    model = WeatherModel(Site(lat_deg=35.0, lon_deg=135.0, alt_m=alt_m), seed=1)
    pressures = [model.sample(T0 + 3600.0 * i).pressure_hpa for i in range(24 * 30)]
    assert abs(statistics.fmean(pressures) - expected_hpa) < 8.0
    assert max(pressures) - min(pressures) < 30.0


def test_tilt_drifts_slowly_by_the_configured_rate() -> None:
    wind = WindModel(TOKYO, 5)
    tilt = TiltModel(TOKYO, 5, wind, start_s=T0, drift_deg_per_day=0.01)
    # Same solar time 100 days apart, so the daily sun bend cancels; wind lean stays < 0.15°.
    x0, y0 = tilt.tilt_deg(T0)
    x1, y1 = tilt.tilt_deg(T0 + 100 * DAY)
    assert math.hypot(x1 - x0, y1 - y0) == pytest.approx(1.0, abs=0.3)


def test_accel_is_one_g_and_sway_grows_with_wind() -> None:
    wind = WindModel(TOKYO, 9)
    model = AccelModel(TiltModel(TOKYO, 9, wind, start_s=T0), wind, 9)
    assert 2.0 <= model.natural_frequency_hz <= 5.0
    for i in range(200):
        t = T0 + 0.013 * i
        assert math.sqrt(sum(v * v for v in model.gravity_g(t))) == pytest.approx(1.0, abs=1e-9)
        assert math.dist(model.accel_g(t), model.gravity_g(t)) < 0.2
    assert model.sway_amplitude_g(T0) == pytest.approx(0.002 + 2e-4 * wind.wind_mps(T0) ** 2)


def test_gnss_truth_stays_within_metres_of_the_site() -> None:
    model = GnssModel(TOKYO, 4)
    for i in range(300):
        truth = model.truth(T0 + 10.0 * i)
        north_m = (truth.lat_deg - TOKYO.lat_deg) * 111_320.0
        east_m = (truth.lon_deg - TOKYO.lon_deg) * 111_320.0 * math.cos(math.radians(35.68))
        assert math.hypot(north_m, east_m) < 5.0
        assert 6 <= truth.satellites <= 16
        assert 0.5 < truth.hdop < 1.6
        assert truth.fix_quality in (1, 2)


def test_link_outages_happen_at_about_the_configured_rate() -> None:
    model = LinkModel(11, outage_probability=0.2)
    truths = [model.truth(T0 + 5.0 * i) for i in range(20_000)]  # ~11.6 days
    down = sum(not t.registered for t in truths) / len(truths)
    # 20 % of 10-minute slots lose 20-120 s (mean 70 s): ~2.3 % of the time.
    assert 0.01 < down < 0.05
    assert all(-140.0 <= t.rsrp_dbm <= -44.0 and -20.0 <= t.sinr_db <= 30.0 for t in truths)
    assert statistics.correlation([t.rsrp_dbm for t in truths], [t.sinr_db for t in truths]) > 0.5
    assert LinkModel(11, outage_probability=0.0).in_outage(T0) is False


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"target": "accel", "kind": "stuck"}, None),
        ({"target": "bme280", "kind": "spike", "magnitude": 30.0, "field": "pressure_hpa"}, None),
        ({"target": "clock", "kind": "clock_jump", "start_s": 5.0, "magnitude": -3600.0}, None),
        ({"target": "gnss", "kind": "no_fix", "duration_s": 10.0}, None),
        ({"target": "link", "kind": "no_service"}, None),
        ({"target": "radar", "kind": "stuck"}, "unknown fault target 'radar'"),
        ({"target": "gnss", "kind": "stuck"}, "does not apply to 'gnss'"),
        ({"target": "accel", "kind": "spike"}, "non-zero magnitude"),
        ({"target": "accel", "kind": "dropout", "probability": 0.0}, "probability"),
        ({"target": "accel", "kind": "dropout", "start_s": -1.0}, "start_s"),
        ({"target": "accel", "kind": "dropout", "duration_s": 0.0}, "duration_s"),
        ({"target": "clock", "kind": "clock_jump", "magnitude": 1.0, "duration_s": 1.0}, "a step"),
        ({"target": "accel", "kind": "spike", "magnitude": 1.0, "field": "w"}, "field 'w'"),
        ({"target": "accel", "kind": "stuck", "field": "x"}, "field 'x'"),
    ],
)
def test_fault_validation(kwargs: dict[str, object], error: str | None) -> None:
    if error is None:
        Fault(**kwargs)  # type: ignore[arg-type]
    else:
        with pytest.raises(FaultConfigError, match=error):
            Fault(**kwargs)  # type: ignore[arg-type]


def test_fault_plan_from_config_names_the_bad_entry() -> None:
    plan = FaultPlan.from_dicts([{"target": "accel", "kind": "stuck", "start_s": 3.0}])
    assert plan.for_target("accel")[0].start_s == 3.0
    assert plan.for_target("gnss") == ()
    with pytest.raises(FaultConfigError, match=r"node-7\[1\]: .*'colour'"):
        FaultPlan.from_dicts(
            [
                {"target": "link", "kind": "dropout"},
                {"target": "accel", "kind": "stuck", "colour": 1},
            ],
            source="node-7",
        )


@pytest.mark.parametrize(
    ("start_s", "duration_s", "at_s", "active"),
    [
        (10.0, 5.0, 9.99, False),
        (10.0, 5.0, 10.0, True),
        (10.0, 5.0, 14.99, True),
        (10.0, 5.0, 15.0, False),
        (10.0, None, 1e9, True),
    ],
)
def test_fault_window(start_s: float, duration_s: float | None, at_s: float, active: bool) -> None:
    fault = Fault(target="accel", kind="stuck", start_s=start_s, duration_s=duration_s)
    injector = FaultInjector([fault], seed=1)
    assert injector.is_active("stuck", at_s) is active
    assert injector.fires("dropout", at_s) is False


def test_injector_probability_and_spike_field() -> None:
    injector = FaultInjector(
        [
            Fault(target="accel", kind="dropout", probability=0.25),
            Fault(target="accel", kind="spike", magnitude=2.0, probability=1.0),
        ],
        seed=42,
    )
    fired = sum(injector.fires("dropout", 1.0) for _ in range(4000))
    assert 800 < fired < 1200
    assert injector.spike(1.0) == ("x", 2.0)
    assert not FaultInjector((), seed=1)
    assert FaultInjector((), seed=1).spike(0.0) is None


def test_sim_clock_manual_advance_sleep_and_jumps() -> None:
    clock = SimClock(start_ns=1_000 * 10**9, realtime=False, jumps=[(5.0, -60.0)])
    assert clock.true_ns() == clock.now_ns() == 1_000 * 10**9
    clock.sleep(2.5)  # manual mode: an instant advance
    assert clock.elapsed_s() == pytest.approx(2.5)
    clock.advance(2.5)  # reaches the scheduled jump at 5 s
    assert clock.true_ns() == 1_005 * 10**9
    assert clock.now_ns() == 945 * 10**9  # stepped back a minute, true time untouched
    clock.jump(+3600.0)
    assert clock.now_ns() == (945 + 3600) * 10**9
    assert clock.true_ns() == 1_005 * 10**9
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1.0)


def test_sim_clock_from_plan_and_realtime_mode() -> None:
    plan = FaultPlan((Fault(target="clock", kind="clock_jump", start_s=0.0, magnitude=30.0),))
    clock = SimClock.from_plan(plan, start_ns=0, realtime=True)
    first = clock.true_ns()
    assert clock.now_ns() - clock.true_ns() == pytest.approx(30e9, abs=1e8)
    assert clock.true_ns() >= first  # follows the host's monotonic clock
    assert clock.realtime
