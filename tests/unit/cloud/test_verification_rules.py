"""The verification calendar's rules (manual 4.5.4), worked by hand: cloud/services/verification_rules.py."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.services import verification_rules as rules
from cloud.services.models import InvalidInput

TODAY = date(2026, 1, 14)
JAN = (date(2026, 1, 1), date(2026, 1, 31))


def test_overdue_is_before_today_not_on_it() -> None:
    assert rules.overdue(date(2026, 1, 13), TODAY)
    assert not rules.overdue(TODAY, TODAY)
    assert not rules.overdue(date(2026, 1, 15), TODAY)


@pytest.mark.parametrize(("next_on", "first", "last", "expected"), [
    (date(2026, 1, 1), *JAN, True),  # on the first day
    (date(2026, 1, 31), *JAN, True),  # on the last day
    (date(2026, 2, 1), *JAN, False),  # the day after
    (None, *JAN, False),  # no date: never listed
    (date(2025, 12, 31), *JAN, True),  # before the period and overdue (today is 01-14): listed
    (date(2025, 3, 1), *JAN, True),  # long overdue: still listed
    # the period starts tomorrow: what is due today is before it and not yet overdue, so not listed;
    # yesterday's is overdue and listed
    (TODAY, date(2026, 1, 15), date(2026, 1, 31), False),
    (date(2026, 1, 13), date(2026, 1, 15), date(2026, 1, 31), True),
    # a period in the future lists the overdue ones too, not those due between today and its start
    (date(2026, 1, 10), date(2026, 3, 1), date(2026, 3, 31), True),
    (date(2026, 2, 10), date(2026, 3, 1), date(2026, 3, 31), False),
    # a period in the past: dates after its end are not listed even when overdue now
    (date(2026, 1, 10), date(2025, 11, 1), date(2025, 11, 30), False),
])
def test_listed(next_on: date | None, first: date, last: date, expected: bool) -> None:
    assert rules.listed(next_on, first, last, TODAY) is expected


def test_decommissioned_is_never_due() -> None:
    assert not rules.may_be_due("decommissioned")
    assert rules.may_be_due("in_service")
    assert rules.may_be_due("commissioning")  # installed, not yet polled: its verification still counts


def test_month_counts() -> None:
    items = [(date(2026, 1, 13), True, "KARAT-307"), (date(2026, 1, 14), False, "KARAT-307"),
             (date(2026, 1, 20), False, "KARAT-Compact-2-223"), (date(2026, 3, 15), False, "KARAT-307"),
             (date(2025, 12, 1), True, "KARAT-307"), (date(2027, 1, 1), False, "KARAT-307")]
    months = rules.month_counts(items, 2026)
    assert [c.month for c in months] == list(range(1, 13))
    # January 3 (one overdue), March 1; 2025 and 2027 are not counted in 2026
    assert [(c.count, c.overdue) for c in months] == [(3, 1), (0, 0), (1, 0)] + [(0, 0)] * 9
    assert months[0].by_model == {"KARAT-307": 2, "KARAT-Compact-2-223": 1}
    assert sum(c.count for c in months) == 4


def test_day_counts() -> None:
    items = [(date(2026, 2, 28), False, "A"), (date(2026, 2, 28), True, "B"), (date(2026, 2, 1), False, "A"),
             (date(2026, 3, 1), False, "A")]
    days = rules.day_counts(items, 2026, 2)
    assert len(days) == 28  # February 2026
    assert (days[0].day, days[0].count) == (1, 1)
    assert (days[27].day, days[27].count, days[27].overdue, days[27].by_model) == (28, 2, 1, {"A": 1, "B": 1})
    assert sum(d.count for d in days) == 3  # not 1 March
    assert len(rules.day_counts([], 2028, 2)) == 29  # a leap year


def test_period_checks() -> None:
    rules.check_period(*JAN)
    rules.check_period(TODAY, TODAY)
    with pytest.raises(InvalidInput, match="before first"):
        rules.check_period(date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(InvalidInput, match="at most"):
        rules.check_period(date(2000, 1, 1), date(2020, 1, 1))
    assert rules.month_span(2026, 2) == (date(2026, 2, 1), date(2026, 2, 28))
