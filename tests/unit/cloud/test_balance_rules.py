"""The building balance's rules (manual 4.1.2, 4.1.4, 4.6.5) with hand-computed numbers.

The numbers are those of tests/cloud_data.py: building meter 0.035 Gcal/h, apartment 1 0.01,
apartment 2 0.02, so a whole day: building 24 x 0.035 = 0.84, apartment 1 24 x 0.01 = 0.24,
apartment 2 24 x 0.02 = 0.48 Gcal; apartment 1 has 50 m², apartment 2 70 m².
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cloud.services import consumption as calc
from cloud.services.balance_rules import Sign, parse_sign, period_total, share_pct, signed_figure, specific
from cloud.services.models import ConsumptionPoint, Figure, Granularity, InvalidInput

BUILDING = Figure(0.84, expected=1, known=1)
APT1 = Figure(0.24, expected=1, known=1)
APT2 = Figure(0.48, expected=1, known=1)
NOTHING = Figure()  # no meter on that side


def test_excluded_meter_is_left_out_of_the_imbalance() -> None:
    # apartment 2 excluded: Σ = +0.24 only; imbalance 0.84 - 0.24 = 0.60 Gcal, 0.60 / 0.84 = 71.43 %
    apartments = signed_figure(APT1, NOTHING)
    assert apartments == Figure(pytest.approx(0.24), expected=1, known=1)
    diff, pct = calc.imbalance(BUILDING, apartments)
    assert diff == pytest.approx(0.60)
    assert pct == pytest.approx(71.43)


def test_subtracted_meter_counts_with_a_minus() -> None:
    # apartment 2 subtracted: Σ = 0.24 - 0.48 = -0.24; imbalance 0.84 - (-0.24) = 1.08 Gcal, 1.08 / 0.84 = 128.57 %
    apartments = signed_figure(APT1, APT2)
    assert apartments == Figure(pytest.approx(-0.24), expected=2, known=2)
    diff, pct = calc.imbalance(BUILDING, apartments)
    assert diff == pytest.approx(1.08)
    assert pct == pytest.approx(128.57)


def test_a_missing_subtracted_meter_makes_the_sum_partial_not_zero() -> None:
    # apartment 2 subtracted but its archive is missing: the known part +0.24, 1 of 2 known -> no imbalance
    apartments = signed_figure(APT1, Figure(None, expected=1, known=0))
    assert apartments == Figure(pytest.approx(0.24), expected=2, known=1)
    assert not apartments.complete
    assert calc.imbalance(BUILDING, apartments) == (None, None)
    # only the subtracted one known: -0.48, partial
    only_minus = signed_figure(Figure(None, expected=1, known=0), APT2)
    assert only_minus == Figure(pytest.approx(-0.48), expected=2, known=1)
    # nothing known on either side: «–*», not 0
    assert signed_figure(Figure(None, 1, 0), Figure(None, 1, 0)).value is None


def test_suspect_and_derived_marks_survive_the_signs() -> None:
    plus = Figure(0.24, expected=2, known=1, suspect=1, derived=True)
    assert signed_figure(plus, APT2) == Figure(pytest.approx(-0.24), expected=3, known=2, suspect=1, derived=True)


def test_sign_values() -> None:
    assert [s.value for s in Sign] == ["+", "-", "excluded"]
    assert parse_sign("-", "x") is Sign.SUBTRACTED
    with pytest.raises(InvalidInput, match=r"changes\[3\]: sign must be one of"):
        parse_sign("minus", "changes[3]")


def _point(day: int, building: Figure, apartments: Figure, month: int = 1, year: int = 2026) -> ConsumptionPoint:
    return ConsumptionPoint(datetime(year, month, day), building.value, apartments.value, apartments.complete,
                            None, None, building_complete=building.complete, building_figure=building,
                            apartments_figure=apartments)


WHOLE_DAY = Figure(0.72, expected=2, known=2)  # apartments 0.24 + 0.48


def test_total_of_a_past_month_with_every_day_complete_has_its_imbalance() -> None:
    # December viewed on Jan 14; data from Dec 30: two whole days, 2 x 0.84 = 1.68 vs 2 x 0.72 = 1.44
    # -> imbalance 0.24 Gcal, 0.24 / 1.68 = 14.29 %
    points = [_point(30, BUILDING, WHOLE_DAY, 12, 2025), _point(31, BUILDING, WHOLE_DAY, 12, 2025)]
    total = period_total(points, Granularity.DAY, date(2025, 12, 1), datetime(2026, 1, 14, 15), True, True)
    assert total.building == Figure(pytest.approx(1.68), expected=2, known=2)
    assert total.imbalance == pytest.approx(0.24)
    assert total.imbalance_pct == pytest.approx(14.29)
    assert total.pending == ()
    assert total.running is None


def test_total_of_the_running_month_is_missing_while_today_is_in_it() -> None:
    # January viewed on Jan 14 15:00 local: Jan 11 and 12 complete, but nothing after the newest archive
    # (Jan 13, Jan 14) -> pending 13 and 14 (today, running), no imbalance of the total
    points = [_point(11, BUILDING, WHOLE_DAY), _point(12, BUILDING, WHOLE_DAY)]
    total = period_total(points, Granularity.DAY, date(2026, 1, 1), datetime(2026, 1, 14, 15), True, True)
    assert total.imbalance is None
    assert total.imbalance_pct is None
    assert total.pending == (datetime(2026, 1, 13), datetime(2026, 1, 14))
    assert total.running == datetime(2026, 1, 14)
    # the known sums are still there: 2 x 0.84, 2 x 0.72
    assert total.building.value == pytest.approx(1.68)
    assert total.apartments.value == pytest.approx(1.44)


def test_today_alone_keeps_the_total_open_even_when_its_point_looks_complete() -> None:
    # data up to and including today: every point complete, but today is not over
    points = [_point(13, BUILDING, WHOLE_DAY), _point(14, BUILDING, WHOLE_DAY)]
    total = period_total(points, Granularity.DAY, date(2026, 1, 1), datetime(2026, 1, 14, 15), True, True)
    assert total.pending == (datetime(2026, 1, 14),)
    assert total.imbalance is None


def test_an_incomplete_day_inside_the_view_keeps_the_total_open() -> None:
    partial = Figure(0.24, expected=2, known=1)
    points = [_point(10, BUILDING, WHOLE_DAY), _point(11, BUILDING, partial), _point(12, BUILDING, WHOLE_DAY)]
    total = period_total(points, Granularity.DAY, date(2026, 1, 1), datetime(2026, 1, 13, 0), True, True)
    # Jan 11 is partial; at Jan 13 00:00 Jan 12 is over and Jan 13, today, has just begun: pending too
    assert total.pending == (datetime(2026, 1, 11), datetime(2026, 1, 13))
    assert total.running == datetime(2026, 1, 13)
    assert total.imbalance is None


def test_periods_before_the_first_archive_are_not_pending() -> None:
    # the year 2025 viewed on Jan 14, 2026; data begins in November: January..October expected nothing.
    # Nov: 10.0 vs 9.0, Dec: 12.0 vs 10.0 -> imbalance (22.0 - 19.0) = 3.0, 3.0 / 22.0 = 13.64 %
    months = ((11, 10.0, 9.0), (12, 12.0, 10.0))
    points = [ConsumptionPoint(datetime(2025, month, 1), b, a, True, None, None, building_figure=Figure(b, 1, 1),
                               apartments_figure=Figure(a, 2, 2)) for month, b, a in months]
    total = period_total(points, Granularity.MONTH, date(2025, 1, 1), datetime(2026, 1, 14, 15), True, True)
    assert total.pending == ()
    assert total.imbalance == pytest.approx(3.0)
    assert total.imbalance_pct == pytest.approx(13.64)


def test_months_of_a_year_with_the_current_month_running() -> None:
    points = [ConsumptionPoint(datetime(2026, 1, 1), 10.0, 9.0, True, 1.0, 10.0,
                               building_figure=Figure(10.0, 1, 1), apartments_figure=Figure(9.0, 2, 2))]
    total = period_total(points, Granularity.MONTH, date(2026, 1, 1), datetime(2026, 1, 14, 15), True, True)
    assert total.pending == (datetime(2026, 1, 1),)
    assert total.running == datetime(2026, 1, 1)
    assert total.imbalance is None


def test_no_imbalance_without_both_kinds_of_meters() -> None:
    points = [_point(31, BUILDING, NOTHING, 12, 2025)]
    total = period_total(points, Granularity.DAY, date(2025, 12, 1), datetime(2026, 1, 14, 15), True, False)
    assert total.pending == ()
    assert total.imbalance is None


def test_share_of_the_building_meter() -> None:
    # apartment 1: 0.24 / 0.84 = 0.285714... -> 28.57 %; apartment 2: 0.48 / 0.84 -> 57.14 %
    assert share_pct(APT1, BUILDING) == pytest.approx(28.57)
    assert share_pct(APT2, BUILDING) == pytest.approx(57.14)
    assert share_pct(Figure(0.24, 2, 1), BUILDING) is None  # partial premise
    assert share_pct(APT1, Figure(0.84, 2, 1)) is None  # partial building
    assert share_pct(APT1, Figure(0.0, 1, 1)) is None  # nothing to divide by
    assert share_pct(APT1, NOTHING) is None  # no building meter


def test_specific_per_square_metre_and_per_resident() -> None:
    # heat per m²: 0.24 / 50 = 0.0048; 0.48 / 70 = 0.00685714...
    assert specific(APT1, 50.0) == pytest.approx(0.0048)
    assert specific(APT2, 70.0) == pytest.approx(0.006857143)
    # water per resident: 3.0 m³ / 2 residents = 1.5
    assert specific(Figure(3.0, 1, 1), 2) == pytest.approx(1.5)
    assert specific(Figure(3.0, 1, 1), 0) is None  # no residents: null, not infinity or 0
    assert specific(Figure(None, 1, 0), 50.0) is None  # missing stays missing
