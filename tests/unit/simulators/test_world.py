"""The simulated world (simulators/world.py): determinism, monotonic integer counters, and a
building meter that sees the apartments' sum plus common needs within the loss band."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest

from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import HourUse, SimClock, World, commissioning_utc, heating_factor

DAYS = 30
HOURS = DAYS * 24


def _scenario(seed: int = 7, start: str = "2025-01-10T00:00", **building: object) -> Scenario:
    spec = BuildingSpec(site="test-bld", address="г. Казань, ул. Тестовая, д. 1", **building)  # type: ignore[arg-type]
    return Scenario(building=spec, seed=seed, start=start)


def _world(scenario: Scenario) -> World:
    return World(scenario, plan(scenario), commissioning_utc(scenario))


@pytest.fixture(scope="module")
def winter() -> World:
    """A January month: heating is on, so heat counters move every hour."""
    return _world(_scenario())


def _delta(last: HourUse, first: HourUse) -> HourUse:
    return HourUse(last.heat_kcal - first.heat_kcal, last.hot_litres - first.hot_litres,
                   last.cold_litres - first.cold_litres, last.carrier_litres - first.carrier_litres)


def test_commissioning_from_local_start() -> None:
    # 2025-01-10 00:00 in Moscow (UTC+3)
    assert commissioning_utc(_scenario()) == datetime(2025, 1, 9, 21, 0, tzinfo=UTC)


def test_commissioning_auto_is_23_local_three_days_ago() -> None:
    scenario = _scenario(start="auto")
    # 22:30 UTC on 5 March is already 01:30 on 6 March in Moscow: commissioning 3 March 23:00 local
    assert commissioning_utc(scenario, datetime(2025, 3, 5, 22, 30, tzinfo=UTC)) == datetime(2025, 3, 3, 20, tzinfo=UTC)
    assert commissioning_utc(scenario, datetime(2025, 3, 5, 20, 30, tzinfo=UTC)) == datetime(2025, 3, 2, 20, tzinfo=UTC)


def test_two_worlds_with_the_same_seed_agree() -> None:
    a, b = _world(_scenario(seed=3)), _world(_scenario(seed=3))
    apartment = a.building.apartments[4]
    # b is asked out of order: the values are a function of the hour index, not of the call order
    b_late = b.building_counters(100)
    assert [a.building_counters(i) for i in range(101)][-1] == b_late
    forward = [a.apartment_counters(apartment, i) for i in (0, 50, 99)]
    backward = [b.apartment_counters(apartment, i) for i in (99, 50, 0)]
    assert forward == backward[::-1]
    assert a.supply_return(42) == b.supply_return(42)


def test_a_different_seed_gives_a_different_world() -> None:
    a, b = _world(_scenario(seed=3)), _world(_scenario(seed=4))
    assert a.building_counters(48) != b.building_counters(48)
    assert a.apartment_counters(a.building.apartments[0], 48) != b.apartment_counters(b.building.apartments[0], 48)


def test_counters_are_monotonic_integers(winter: World) -> None:
    building = [winter.building_counters(i) for i in range(HOURS)]
    apartments = [[winter.apartment_counters(a, i) for i in range(HOURS)] for a in winter.building.apartments]
    for counters in [building, *apartments]:
        for prev, cur in itertools.pairwise(counters):
            for name in ("heat_kcal", "hot_litres", "cold_litres", "carrier_litres"):
                assert isinstance(getattr(cur, name), int)
                assert getattr(cur, name) >= getattr(prev, name), name
        # and they do move: water every day, heat in January
        first, last = counters[0], counters[-1]
        assert last.heat_kcal > first.heat_kcal
        assert last.hot_litres > first.hot_litres
        assert last.cold_litres > first.cold_litres


def test_building_carrier_flows_only_on_the_building_meter(winter: World) -> None:
    apartment = winter.building.apartments[0]
    carrier = [winter.apartment_counters(apartment, i).carrier_litres for i in (0, 10)]
    assert carrier[0] == carrier[1]
    assert winter.building_counters(10).carrier_litres > winter.building_counters(0).carrier_litres


@pytest.mark.parametrize("name", ["heat_kcal", "hot_litres", "cold_litres"])
def test_building_meter_is_apartments_plus_common_share_within_loss_band(winter: World, name: str) -> None:
    spec = winter.building.spec
    building = getattr(_delta(winter.building_counters(HOURS - 1), winter.building_counters(0)), name)
    apartments = sum(
        getattr(_delta(winter.apartment_counters(a, HOURS - 1), winter.apartment_counters(a, 0)), name)
        for a in winter.building.apartments
    )
    expected = apartments * (1 + spec.common_share)
    rounding = HOURS - 1  # each hour of the building meter is rounded to a whole unit
    assert expected * (1 - spec.loss_share) - rounding <= building <= expected * (1 + spec.loss_share) + rounding
    # over a month the band is not degenerate: the sum is large against the rounding slack
    assert apartments > 100 * rounding


def test_every_hour_is_within_the_band(winter: World) -> None:
    spec = winter.building.spec
    for i in range(1, 72):
        uses = [winter.apartment_use(a, i) for a in winter.building.apartments]
        total = sum(u.hot_litres for u in uses) * (1 + spec.common_share)
        hot = winter.building_use(i).hot_litres
        assert total * (1 - spec.loss_share) - 0.5 <= hot <= total * (1 + spec.loss_share) + 0.5


def test_no_heat_in_warm_weather() -> None:
    assert heating_factor(8.0) == 0.0
    assert heating_factor(25.0) == 0.0
    assert heating_factor(-26.0) == pytest.approx(1.0)
    assert 0 < heating_factor(0.0) < 1


def test_counters_before_commissioning_are_refused(winter: World) -> None:
    with pytest.raises(ValueError, match="before commissioning"):
        winter.building_counters(-1)
    with pytest.raises(ValueError, match="before commissioning"):
        winter.apartment_counters(winter.building.apartments[0], -1)


def test_hour_index_and_hour_start_are_inverse(winter: World) -> None:
    for index in (0, 1, 23, 719):
        start = winter.hour_start(index)
        assert winter.hour_index(start) == index
        assert winter.hour_index(start + timedelta(minutes=59, seconds=59)) == index
    assert winter.hour_index(winter.commissioning - timedelta(seconds=1)) == -1


def test_sim_clock_runs_speed_times_faster() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    clock = SimClock(start, 3600.0)
    time.sleep(0.05)
    elapsed = clock.now() - start
    assert timedelta(seconds=0.05 * 3600 * 0.9) <= elapsed <= timedelta(seconds=10 * 3600)
