"""Periods and the records that bound them; missing readings stay missing, sums say what is known."""

from datetime import UTC, date, datetime

from cloud.services import consumption as calc
from cloud.services.consumption import Amount, Archive, Source, State
from cloud.services.models import Figure, Granularity
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind

MSK = zone("Europe/Moscow")


def test_days_of_a_month_and_the_readings_that_bound_them() -> None:
    starts = calc.period_starts(Granularity.DAY, date(2026, 2, 14))
    assert len(starts) == 28
    assert starts[0] == datetime(2026, 2, 1)
    # the reading at local midnight Feb 1 is the hourly record of 23:00-24:00 local Jan 31 = 20:00 UTC
    assert calc.reading_keys(ArchiveKind.HOUR, datetime(2026, 2, 1), 1, MSK) == (datetime(2026, 1, 31, 20, tzinfo=UTC),)
    # ... or the daily record of Jan 31, which starts at its local midnight = 21:00 UTC on Jan 30
    assert calc.reading_keys(ArchiveKind.DAY, datetime(2026, 2, 1), 1, MSK) == (datetime(2026, 1, 30, 21, tzinfo=UTC),)
    assert calc.reading_keys(ArchiveKind.DAY, datetime(2026, 2, 1, 14), 1, MSK) == ()  # no day ends at 14:00


def test_months_of_a_year() -> None:
    starts = calc.period_starts(Granularity.MONTH, date(2026, 7, 1))
    assert [s.month for s in starts] == list(range(1, 13))


def test_missing_readings_make_missing_days() -> None:
    src = Source(kinds=frozenset({ArchiveKind.DAY}))
    days = [datetime(2026, 1, d) for d in range(1, 6)]
    # day records hold the reading at the end of their day; Jan 3's record is missing
    readings = {datetime(2025, 12, 31): 10.0, datetime(2026, 1, 1): 12.5, datetime(2026, 1, 2): 13.0,
                datetime(2026, 1, 4): 20.0, datetime(2026, 1, 5): 21.0}
    archive = Archive(integral={ArchiveKind.DAY: {local_to_utc(k, MSK): v for k, v in readings.items()}})
    got = calc.amounts(src, archive, Granularity.DAY, days, MSK)
    # Jan 1: 12.5 - 10.0; Jan 2: 13.0 - 12.5; Jan 3 and 4 need the missing record; Jan 5: 21 - 20
    assert got == [Amount(State.MEASURED, 2.5), Amount(State.MEASURED, 0.5), Amount(State.MISSING),
                   Amount(State.MISSING), Amount(State.MEASURED, 1.0)]


def test_combine_gives_partial_sums_flagged_incomplete() -> None:
    m, x = State.MEASURED, State.MISSING
    cells = calc.combine([[Amount(m, 1.0), Amount(x), Amount(x)], [Amount(m, 2.0), Amount(m, 3.0), Amount(x)]], 3)
    assert cells == [Figure(3.0, 2, 2), Figure(3.0, 2, 1), Figure(None, 2, 0)]
    assert [c.complete for c in cells] == [True, False, False]


def test_imbalance_only_for_complete_sums() -> None:
    # 0.84 - 0.72 = 0.12; 0.12 / 0.84 = 14.29 %
    assert calc.imbalance(Figure(0.84, 1, 1), Figure(0.72, 2, 2)) == (0.12, 14.29)
    assert calc.imbalance(Figure(0.84, 1, 1), Figure(0.72, 2, 1)) == (None, None)
    assert calc.imbalance(Figure(None, 1, 0), Figure(0.72, 2, 2)) == (None, None)
    assert calc.imbalance(Figure(0.0, 1, 1), Figure(0.0, 1, 1)) == (0.0, None)
    assert calc.imbalance(Figure(None, 0, 0), Figure(0.72, 2, 2)) == (None, None)  # no building meter


def test_total_of_a_view_is_known_only_as_far_as_each_period_is() -> None:
    cells = [Figure(0.84, 1, 1), Figure(None, 1, 0), Figure(0.5, 2, 1, suspect=1, derived=True)]
    # 0.84 + 0.5 = 1.34 known; 4 meter-periods expected, 2 known, 1 suspect
    assert calc.total(cells) == Figure(1.34, 4, 2, suspect=1, derived=True)
    assert calc.total([]) == Figure(None, 0, 0)
