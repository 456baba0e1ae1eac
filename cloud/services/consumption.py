"""Interval consumption from integral archives (DESIGN.md section 5): the consumption of a
period is the counter reading at its end minus the reading at its start, both taken from
the hourly integral archive. A missing reading makes the period missing; nothing is
invented. Pure functions, tested in tests/unit/cloud/test_consumption.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from cloud.services.models import Granularity
from protocol.periods import local_to_utc, next_period, previous_period
from protocol.vocabulary import ArchiveKind

KIND = {Granularity.HOUR: ArchiveKind.HOUR, Granularity.DAY: ArchiveKind.DAY, Granularity.MONTH: ArchiveKind.MONTH}


def period_starts(granularity: Granularity, period: date) -> list[datetime]:
    """Local starts of the periods shown for ``period``: hours of a day, days of a month, months of a year."""
    if granularity is Granularity.HOUR:
        first, last = datetime(period.year, period.month, period.day), datetime(period.year, period.month,
                                                                                   period.day) + timedelta(days=1)
    elif granularity is Granularity.DAY:
        first = datetime(period.year, period.month, 1)
        last = next_period(ArchiveKind.MONTH, first)
    else:
        first, last = datetime(period.year, 1, 1), datetime(period.year + 1, 1, 1)
    kind = KIND[granularity]
    starts, cur = [], first
    while cur < last:
        starts.append(cur)
        cur = next_period(kind, cur)
    return starts


def boundary_readings_utc(starts: Sequence[datetime], granularity: Granularity, tz: ZoneInfo) -> list[datetime]:
    """UTC period starts of the hourly records whose readings bound the periods.

    The reading at a boundary B is the integral record of the hour that ends at B.
    Returns len(starts) + 1 items: the start boundary of each period and the end of the last.
    """
    kind = KIND[granularity]
    bounds = [*starts, next_period(kind, starts[-1])] if starts else []
    return [local_to_utc(previous_period(ArchiveKind.HOUR, b), tz).replace(tzinfo=None) for b in bounds]


def differences(readings: Mapping[datetime, float], bounds: Sequence[datetime]) -> list[float | None]:
    """Consumption per period from readings at its boundaries; None where one is missing or
    the counter went backwards (a reset or replacement is not consumption)."""
    out: list[float | None] = []
    for start, end in pairwise(bounds):
        a, b = readings.get(start), readings.get(end)
        out.append(None if a is None or b is None or b < a else round(b - a, 9))
    return out


def combine(series: Sequence[Sequence[float | None]]) -> tuple[list[float | None], list[bool]]:
    """Sum several meters' series: (known sums, complete flags). A period where no meter is
    known is None; one where only some are known is the partial sum, flagged incomplete."""
    if not series:
        return [], []
    sums: list[float | None] = []
    complete: list[bool] = []
    for values in zip(*series, strict=True):
        known = [v for v in values if v is not None]
        sums.append(round(sum(known), 9) if known else None)
        complete.append(len(known) == len(values))
    return sums, complete


def imbalance(building: float | None, apartments: float | None, complete: bool) -> tuple[float | None, float | None]:
    """Building meter minus the apartments' sum, in units and in % of the building meter."""
    if building is None or apartments is None or not complete:
        return None, None
    diff = round(building - apartments, 9)
    return diff, (round(diff / building * 100, 2) if building > 0 else None)
