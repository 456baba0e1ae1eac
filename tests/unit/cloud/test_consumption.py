"""Interval consumption from integral readings: nothing invented, resets not turned into values."""

from datetime import date, datetime

from cloud.services import consumption as calc
from cloud.services.models import Granularity
from protocol.periods import zone


def test_days_of_a_month_and_their_reading_boundaries() -> None:
    starts = calc.period_starts(Granularity.DAY, date(2026, 2, 14))
    assert len(starts) == 28
    assert starts[0] == datetime(2026, 2, 1)
    bounds = calc.boundary_readings_utc(starts, Granularity.DAY, zone("Europe/Moscow"))
    assert len(bounds) == 29
    # the reading at local midnight Feb 1 is the record of the hour 23:00-24:00 local Jan 31 = 20:00 UTC
    assert bounds[0] == datetime(2026, 1, 31, 20)
    assert bounds[-1] == datetime(2026, 2, 28, 20)


def test_months_of_a_year() -> None:
    starts = calc.period_starts(Granularity.MONTH, date(2026, 7, 1))
    assert [s.month for s in starts] == list(range(1, 13))


def test_differences_mark_missing_and_backwards_periods() -> None:
    b = [datetime(2026, 1, d) for d in range(1, 6)]
    readings = {b[0]: 10.0, b[1]: 12.5, b[3]: 20.0, b[4]: 3.0}  # b[2] missing; counter reset before b[4]
    assert calc.differences(readings, b) == [2.5, None, None, None]


def test_combine_gives_partial_sums_flagged_incomplete() -> None:
    sums, complete = calc.combine([[1.0, None, None], [2.0, 3.0, None]])
    assert sums == [3.0, 3.0, None]
    assert complete == [True, False, False]


def test_imbalance_only_for_complete_sums() -> None:
    assert calc.imbalance(0.84, 0.72, True) == (0.12, 14.29)
    assert calc.imbalance(0.84, 0.72, False) == (None, None)
    assert calc.imbalance(None, 0.72, True) == (None, None)
    assert calc.imbalance(0.0, 0.0, True) == (0.0, None)
