"""The rules of the heating season (manual 4.5.7) and of temperature schedule control (4.2.5, 4.6.8),
each edge with numbers worked out by hand in the comments (cloud/services/heating_rules.py)."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.services import heating_rules as rules
from cloud.services.heating_rules import Change, Point
from cloud.services.models import InvalidInput

TODAY = date(2026, 1, 14)
# heating from 2025-10-01 (set on 2025-09-30), an undone attempt at non-heating from 2026-01-10
HISTORY = (Change(1, "heating", date(2025, 10, 1), date(2025, 9, 30)),
           Change(2, "non_heating", date(2026, 1, 10), date(2026, 1, 10), undone=True))


# --- season ------------------------------------------------------------------------------------

def test_season_in_force_by_day_ignores_undone_changes() -> None:
    assert rules.season_on(HISTORY, date(2025, 9, 30)) is None  # before the first start: not set
    assert rules.season_on(HISTORY, date(2025, 10, 1)) == "heating"  # from its start date on
    assert rules.season_on(HISTORY, date(2026, 1, 12)) == "heating"  # the undone change does not count
    assert rules.season_on((), TODAY) is None


def test_first_change_may_start_any_day_up_to_today() -> None:
    rules.check_change((), "heating", TODAY, TODAY)
    rules.check_change((), "heating", date(2020, 1, 1), TODAY)
    with pytest.raises(InvalidInput, match="after today"):
        rules.check_change((), "heating", date(2026, 1, 15), TODAY)  # tomorrow


def test_start_not_before_the_previous_change_nor_on_its_date() -> None:
    rules.check_change(HISTORY, "non_heating", date(2025, 10, 2), TODAY)  # the day after: allowed
    with pytest.raises(InvalidInput, match="before the previous change"):
        rules.check_change(HISTORY, "non_heating", date(2025, 9, 30), TODAY)
    with pytest.raises(InvalidInput, match="cannot start on one date"):
        rules.check_change(HISTORY, "non_heating", date(2025, 10, 1), TODAY)


def test_one_change_per_day_and_not_to_the_season_in_force() -> None:
    made_today = (*HISTORY, Change(3, "non_heating", date(2026, 1, 12), TODAY))
    with pytest.raises(InvalidInput, match="changed today already"):
        rules.check_change(made_today, "heating", date(2026, 1, 13), TODAY)
    # the next day the same change is allowed
    rules.check_change(made_today, "heating", date(2026, 1, 13), date(2026, 1, 15))
    with pytest.raises(InvalidInput, match="heating season already"):
        rules.check_change(HISTORY, "heating", date(2026, 1, 13), TODAY)
    with pytest.raises(InvalidInput, match="season: one of"):
        rules.check_change(HISTORY, "summer", date(2026, 1, 13), TODAY)


def test_undo_only_the_latest_change_and_only_on_its_day() -> None:
    made_today = (*HISTORY, Change(3, "non_heating", date(2026, 1, 12), TODAY))
    assert rules.check_undo(made_today, TODAY).id == 3
    with pytest.raises(InvalidInput, match="only a change made today"):
        rules.check_undo(made_today, date(2026, 1, 15))  # the next day
    with pytest.raises(InvalidInput, match="only a change made today"):
        rules.check_undo(HISTORY, TODAY)  # change 1 was made on 2025-09-30; change 2 is undone already
    with pytest.raises(InvalidInput, match="no season change"):
        rules.check_undo((), TODAY)


def test_group_only_of_buildings_in_the_same_season() -> None:
    rules.check_group(["non_heating", "non_heating"])
    rules.check_group([None, None])  # neither set: both may get a season together
    with pytest.raises(InvalidInput, match="same season"):
        rules.check_group(["heating", "non_heating"])
    with pytest.raises(InvalidInput, match="same season"):
        rules.check_group([None, "non_heating"])


# --- schedule ------------------------------------------------------------------------------------

SCHEDULE = (Point(8, 43.0, 37.0), Point(0, 55.0, 45.0), Point(-10, 69.0, 54.0))


def test_interpolation_between_integer_points_and_clamping_at_the_ends() -> None:
    # -5: halfway between 0 (55/45) and -10 (69/54): 55 + 0.5 * 14 = 62.0, 45 + 0.5 * 9 = 49.5
    assert rules.prescribed(SCHEDULE, -5.0) == pytest.approx((62.0, 49.5))
    # -2.5: a quarter of the way from 0 to -10: 55 + 0.25 * 14 = 58.5, 45 + 0.25 * 9 = 47.25
    assert rules.prescribed(SCHEDULE, -2.5) == pytest.approx((58.5, 47.25))
    # +2: a quarter of the way from 0 to +8: 55 - 0.25 * 12 = 52.0, 45 - 0.25 * 8 = 43.0
    assert rules.prescribed(SCHEDULE, 2.0) == pytest.approx((52.0, 43.0))
    assert rules.prescribed(SCHEDULE, 0.0) == (55.0, 45.0)  # on a point: its values
    assert rules.prescribed(SCHEDULE, 12.3) == (43.0, 37.0)  # warmer than the table: the +8 row
    assert rules.prescribed(SCHEDULE, -17.0) == (69.0, 54.0)  # colder: the -10 row


def test_builtin_95_70_schedule() -> None:
    points = {p.outdoor_c: p for p in rules.builtin_schedule()}
    assert sorted(points) == list(range(-30, 9))  # +8 .. -30 by 1 K: 39 rows
    # Q = (20 - to) / 50; supply = 20 + 62.5 * Q^0.8 + 12.5 * Q, return = ... - 12.5 * Q
    assert points[-30] == Point(-30, 95.0, 70.0)  # Q = 1: 20 + 62.5 + 12.5 = 95, 20 + 62.5 - 12.5 = 70
    # Q = 0.24: 0.24^0.8 = 0.31930, 62.5 * 0.31930 = 19.956; 20 + 19.956 + 3 = 42.96, 20 + 19.956 - 3 = 36.96
    assert points[8] == Point(8, 43.0, 37.0)
    # Q = 0.4: 0.4^0.8 = 0.48045, 62.5 * 0.48045 = 30.028; 20 + 30.028 + 5 = 55.03, 20 + 30.028 - 5 = 45.03
    assert points[0] == Point(0, 55.0, 45.0)


def test_schedule_points_are_checked() -> None:
    assert [p.outdoor_c for p in rules.check_points([Point(-10, 69, 54), Point(8, 43, 37)])] == [8, -10]
    with pytest.raises(InvalidInput, match="at least two"):
        rules.check_points([Point(8, 43, 37)])
    with pytest.raises(InvalidInput, match=r"points\[1\].outdoor_c: 8 appears twice"):
        rules.check_points([Point(8, 43, 37), Point(8, 44, 37)])
    with pytest.raises(InvalidInput, match=r"points\[0\]: return 50 is above supply 45"):
        rules.check_points([Point(8, 45, 50), Point(0, 55, 45)])
    with pytest.raises(InvalidInput, match=r"points\[1\].supply_c"):
        rules.check_points([Point(8, 43, 37), Point(0, float("nan"), 45)])
    with pytest.raises(InvalidInput, match=r"points\[0\].outdoor_c: an integer"):
        rules.check_points([Point(1.5, 43, 37), Point(0, 55, 45)])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="the city's"):
        rules.check_points([Point(8, 43, 37), Point(0, 55, 45)], [8, 0, -10])


# --- control -------------------------------------------------------------------------------------

def test_supply_tolerance_is_plus_minus_3_percent_inclusive() -> None:
    # prescribed 70.0: 72.1 is +2.1 = 3.0 % (within), 72.2 is +2.2 = 3.14 % (violates); the same below
    for actual, violates in ((72.1, False), (72.2, True), (67.9, False), (67.8, True), (70.0, False)):
        delta, pct = rules.deviation(actual, 70.0)
        assert rules.supply_violates(pct, 3.0) is violates, actual
    delta, pct = rules.deviation(72.1, 70.0)
    assert delta == pytest.approx(2.1)
    assert pct == pytest.approx(3.0)


def test_return_only_limited_above_plus_5_percent() -> None:
    # prescribed 50: 52.5 is +5.0 % (within), 52.6 is +5.2 % (violates), 40 is -20 % (a lower return: not limited)
    for actual, violates in ((52.5, False), (52.6, True), (40.0, False), (50.0, False)):
        _, pct = rules.deviation(actual, 50.0)
        assert rules.return_violates(pct, 5.0) is violates, actual
    assert rules.deviation(40.0, 50.0) == pytest.approx((-10.0, -20.0))


def test_city_tolerance_and_a_zero_target() -> None:
    _, pct = rules.deviation(73.0, 70.0)  # +4.29 %
    assert rules.supply_violates(pct, 3.0)
    assert not rules.supply_violates(pct, 5.0)  # a city with ±5 %
    assert rules.deviation(1.0, 0.0) == (1.0, None)  # no % of a 0 °C target: not judged
    assert not rules.supply_violates(None, 3.0)
    assert rules.mean([]) is None
    assert rules.mean([70.0, 71.0, 72.5]) == pytest.approx(71.166666, abs=1e-6)  # 213.5 / 3
