"""Pure rules of the verification calendar (manual 4.5.4): which meters and sensors are due in a period,
which are overdue, and the counts per month of a year and per day of a month.

An item is due in [first, last] when its next verification falls in it, or falls before it and is
overdue (before the building's today): a missed verification stays on the list until it is done.
Due today is not yet overdue. A decommissioned meter (and so its sensors) is due never. The calendar
counts each item in the month and on the day of its date, overdue ones too (marked).
Tests: tests/unit/cloud/test_verification_rules.py.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from cloud.services.models import InvalidInput, check_day

MAX_SPAN_DAYS = 366 * 10  # a list period of at most ten years


def overdue(next_on: date, today: date) -> bool:
    """The verification was due before today (due today is not yet overdue)."""
    return next_on < today


def listed(next_on: date | None, first: date, last: date, today: date) -> bool:
    """Whether an item with this next verification date is on the list of [first, last]."""
    if next_on is None or next_on > last:
        return False
    return next_on >= first or overdue(next_on, today)


def may_be_due(status: str) -> bool:
    """A decommissioned meter is verified no more (nor its sensors)."""
    return status != "decommissioned"


def check_period(first: date, last: date) -> None:
    check_day("first", first)
    check_day("last", last)
    if last < first:
        raise InvalidInput(f"last: {last} is before first {first}")
    if (last - first).days > MAX_SPAN_DAYS:
        raise InvalidInput(f"last: a period of at most {MAX_SPAN_DAYS} days, got {(last - first).days + 1}")


@dataclass(frozen=True, slots=True)
class Count:
    """Items due in a month (``month`` 1..12, ``day`` None) or on a day; ``overdue`` of them missed."""

    month: int
    day: int | None
    count: int
    overdue: int
    by_model: dict[str, int] = field(default_factory=dict, hash=False)


def _count(items: Iterable[tuple[date, bool, str]], key: Callable[[date], int | None]) -> dict[int, Count]:
    """Items (next date, overdue, model) counted under ``key(date)`` (None: not counted)."""
    totals: dict[int, int] = {}
    late: dict[int, int] = {}
    models: dict[int, Counter[str]] = {}
    for next_on, is_late, model in items:
        k = key(next_on)
        if k is None:
            continue
        totals[k] = totals.get(k, 0) + 1
        late[k] = late.get(k, 0) + int(is_late)
        models.setdefault(k, Counter())[model] += 1
    return {k: Count(0, None, totals[k], late[k], dict(sorted(models[k].items()))) for k in totals}


def month_counts(items: Iterable[tuple[date, bool, str]], year: int) -> tuple[Count, ...]:
    """The twelve months of ``year``: items (next date, overdue, model) counted in the month of their date."""
    found = _count(items, lambda d: d.month if d.year == year else None)
    return tuple(replace(found.get(m, Count(m, None, 0, 0)), month=m) for m in range(1, 13))


def day_counts(items: Iterable[tuple[date, bool, str]], year: int, month: int) -> tuple[Count, ...]:
    """Every day of the month: items counted on the day of their date, by model too."""
    found = _count(items, lambda d: d.day if (d.year, d.month) == (year, month) else None)
    return tuple(replace(found.get(d, Count(month, d, 0, 0)), month=month, day=d)
                 for d in range(1, calendar.monthrange(year, month)[1] + 1))


def month_span(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    return first, first + timedelta(days=calendar.monthrange(year, month)[1] - 1)
