"""The city-wide fast path of 4.1.1 (overview ``_plain``) gives what ``calc.amount`` gives, or
hands the meter to it: hand-computed readings of one day of an hourly integral archive."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cloud.services import consumption as calc
from cloud.services.models import Granularity
from cloud.services.overview import _plain
from protocol.vocabulary import ArchiveKind

TZ = ZoneInfo("Europe/Moscow")  # UTC+3, no DST
DAY = datetime(2026, 1, 10)  # local day 10 Jan: counter at its start = record stamped 9 Jan 23:00 local
OPEN = datetime(2026, 1, 9, 20, tzinfo=UTC)  # 9 Jan 23:00 MSK
CLOSE = datetime(2026, 1, 10, 20, tzinfo=UTC)  # 10 Jan 23:00 MSK: the counter at 11 Jan 00:00
HOURLY = frozenset({ArchiveKind.HOUR})


def both(src: calc.Source, records: dict[datetime, float]) -> tuple[calc.Amount | None, calc.Amount]:
    plan = calc._plan(src, Granularity.DAY, DAY, TZ)
    integral = {ArchiveKind.HOUR: records}
    return (_plain(src, plan, integral),
            calc.amount(src, calc.Archive(integral=integral), Granularity.DAY, DAY, TZ))


def test_a_plain_difference_equals_calc_amount() -> None:
    # 1028.8 - 1007.2 = 21.6 Gcal, derived from hours; limit 2 Gcal/h x 24 h = 48, plausible
    fast, general = both(calc.Source(kinds=HOURLY, max_per_hour=2.0), {OPEN: 1007.2, CLOSE: 1028.8})
    assert fast == general == calc.Amount(calc.State.MEASURED, 21.6, True)


def test_a_missing_reading_is_missing_never_zero() -> None:
    fast, general = both(calc.Source(kinds=HOURLY), {CLOSE: 1028.8})
    assert fast == general == calc.Amount(calc.State.MISSING, None, True)


def test_wraps_implausible_increments_and_breaks_go_to_the_general_rules() -> None:
    # a wrap: 999.5 -> 0.7 across a 1000 register is 1.2, which calc.amount works out
    wrap = calc.Source(kinds=HOURLY, modulus=1000.0)
    fast, general = both(wrap, {OPEN: 999.5, CLOSE: 0.7})
    assert fast is None
    assert general == calc.Amount(calc.State.MEASURED, 1.2, True)
    # 60 Gcal in a day above 2 Gcal/h x 24 h = 48: suspect
    fast, general = both(calc.Source(kinds=HOURLY, max_per_hour=2.0), {OPEN: 0.0, CLOSE: 60.0})
    assert fast is None
    assert general.state is calc.State.SUSPECT
    # a reset at noon: (5 - 1) + (3 - 0) = 7
    reset = calc.CounterBreak(datetime(2026, 1, 10, 9, tzinfo=UTC), 5.0, 0.0, "reset")
    fast, general = both(calc.Source(kinds=HOURLY, breaks=(reset,)), {OPEN: 1.0, CLOSE: 3.0})
    assert fast is None
    assert general == calc.Amount(calc.State.MEASURED, 7.0, True)


def test_commissioning_inside_the_day_opens_at_the_initial_reading() -> None:
    # commissioned 10 Jan 12:00 MSK with 100.0 on the counter; closing 104.5: 4.5 over 12 h
    src = calc.Source(kinds=HOURLY, commissioned=datetime(2026, 1, 10, 9, tzinfo=UTC), initial=100.0)
    fast, general = both(src, {CLOSE: 104.5})
    assert fast == general == calc.Amount(calc.State.MEASURED, 4.5, True)
