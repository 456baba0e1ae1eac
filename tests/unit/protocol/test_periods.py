"""Archive period arithmetic and device-time conversion (protocol/periods.py)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from protocol.errors import DecodeError
from protocol.periods import (
    from_device_seconds,
    local_to_utc,
    next_period,
    period_start,
    periods,
    previous_period,
    to_device_seconds,
    utc_to_local,
    zone,
)
from protocol.vocabulary import ArchiveKind

MOSCOW = zone("Europe/Moscow")
HOUR, DAY, MONTH = ArchiveKind.HOUR, ArchiveKind.DAY, ArchiveKind.MONTH


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (HOUR, datetime(2024, 12, 31, 23)),
        (DAY, datetime(2024, 12, 31)),
        (MONTH, datetime(2024, 12, 1)),
    ],
)
def test_period_start(kind: ArchiveKind, expected: datetime) -> None:
    assert period_start(kind, datetime(2024, 12, 31, 23, 59, 59, 999_999)) == expected
    assert period_start(kind, expected) == expected


@pytest.mark.parametrize(
    ("kind", "start", "following"),
    [
        (HOUR, datetime(2024, 12, 31, 23), datetime(2025, 1, 1, 0)),
        (DAY, datetime(2024, 12, 31), datetime(2025, 1, 1)),
        (DAY, datetime(2024, 2, 28), datetime(2024, 2, 29)),
        (MONTH, datetime(2024, 12, 1), datetime(2025, 1, 1)),
        (MONTH, datetime(2024, 1, 1), datetime(2024, 2, 1)),
        (MONTH, datetime(2024, 11, 1), datetime(2024, 12, 1)),
    ],
)
def test_next_and_previous_period(kind: ArchiveKind, start: datetime, following: datetime) -> None:
    assert next_period(kind, start) == following
    assert previous_period(kind, following) == start


def test_month_rollover_both_ways_over_several_years() -> None:
    start = datetime(2023, 1, 1)
    months = [start]
    for _ in range(36):
        months.append(next_period(MONTH, months[-1]))
    assert months[12] == datetime(2024, 1, 1)
    assert months[-1] == datetime(2026, 1, 1)
    assert [(m.year, m.month) for m in months[10:15]] == [(2023, 11), (2023, 12), (2024, 1), (2024, 2), (2024, 3)]
    back = months[-1]
    for expected in reversed(months[:-1]):
        back = previous_period(MONTH, back)
        assert back == expected


def test_periods_yields_only_closed_periods() -> None:
    first = datetime(2024, 12, 31, 0)
    hours = list(periods(HOUR, first, datetime(2025, 1, 1, 0)))
    assert len(hours) == 24
    assert hours[0] == first
    assert hours[-1] == datetime(2024, 12, 31, 23)
    # the hour 23:00-00:00 has not closed at 23:59
    assert list(periods(HOUR, first, datetime(2024, 12, 31, 23, 59)))[-1] == datetime(2024, 12, 31, 22)


def test_periods_across_year_end() -> None:
    months = list(periods(MONTH, datetime(2024, 11, 1), datetime(2025, 2, 1)))
    assert months == [datetime(2024, 11, 1), datetime(2024, 12, 1), datetime(2025, 1, 1)]
    days = list(periods(DAY, datetime(2024, 12, 30), datetime(2025, 1, 2, 12)))
    assert days == [datetime(2024, 12, 30), datetime(2024, 12, 31), datetime(2025, 1, 1)]


def test_periods_empty_when_nothing_closed() -> None:
    assert list(periods(DAY, datetime(2025, 1, 1), datetime(2025, 1, 1, 23, 59))) == []
    assert list(periods(DAY, datetime(2025, 1, 1), datetime(2024, 1, 1))) == []


def test_moscow_local_to_utc_and_back() -> None:
    local = datetime(2025, 1, 1, 0, 0)
    moment = local_to_utc(local, MOSCOW)
    assert moment == datetime(2024, 12, 31, 21, 0, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)
    assert utc_to_local(moment, MOSCOW) == local
    assert utc_to_local(moment, MOSCOW).tzinfo is None


def test_moscow_history_with_summer_time() -> None:
    # Moscow kept summer time (UTC+4) until 2011 and stayed at UTC+4 until October 2014.
    assert local_to_utc(datetime(2010, 7, 1, 12), MOSCOW) == datetime(2010, 7, 1, 8, tzinfo=UTC)
    assert local_to_utc(datetime(2010, 1, 15, 12), MOSCOW) == datetime(2010, 1, 15, 9, tzinfo=UTC)
    assert local_to_utc(datetime(2013, 1, 15, 12), MOSCOW) == datetime(2013, 1, 15, 8, tzinfo=UTC)


def test_fold_takes_the_first_occurrence() -> None:
    # 2010-10-31 03:00 MSD became 02:00 MSK: 02:30 happened twice, first at UTC+4.
    assert local_to_utc(datetime(2010, 10, 31, 2, 30), MOSCOW) == datetime(2010, 10, 30, 22, 30, tzinfo=UTC)
    assert utc_to_local(datetime(2010, 10, 30, 22, 30, tzinfo=UTC), MOSCOW) == datetime(2010, 10, 31, 2, 30)
    assert utc_to_local(datetime(2010, 10, 30, 23, 30, tzinfo=UTC), MOSCOW) == datetime(2010, 10, 31, 2, 30)


def test_utc_to_local_takes_naive_input_as_utc_and_converts_other_zones() -> None:
    assert utc_to_local(datetime(2025, 6, 1, 9, 0), MOSCOW) == datetime(2025, 6, 1, 12, 0)
    plus5 = timezone(timedelta(hours=5))
    assert utc_to_local(datetime(2025, 6, 1, 14, 0, tzinfo=plus5), MOSCOW) == datetime(2025, 6, 1, 12, 0)


def test_hour_periods_in_moscow_map_to_consecutive_utc_hours() -> None:
    starts = list(periods(HOUR, datetime(2024, 12, 31, 20), datetime(2025, 1, 1, 4)))
    utc = [local_to_utc(s, MOSCOW) for s in starts]
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(utc))
    assert utc[0] == datetime(2024, 12, 31, 17, tzinfo=UTC)


def test_device_seconds_round_trip() -> None:
    for local in (datetime(1970, 1, 1), datetime(2024, 12, 31, 23, 0), datetime(2025, 1, 1), datetime(2038, 1, 19, 3)):
        seconds = to_device_seconds(local)
        assert from_device_seconds(seconds) == local
    assert to_device_seconds(datetime(1970, 1, 2, 1, 0, 5)) == 86_400 + 3_600 + 5
    # Device seconds are local wall time, not UTC: midnight local is a multiple of 86400.
    assert to_device_seconds(datetime(2025, 1, 1)) % 86_400 == 0
    assert to_device_seconds(datetime(2025, 1, 1)) == 1_735_689_600


def test_device_seconds_refuse_aware_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_device_seconds(datetime(2025, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_unknown_zone_is_a_decode_error(name: str) -> None:
    with pytest.raises(DecodeError) as info:
        zone(name)
    assert info.value.field == "time_zone"


# --- UTC epoch seconds stepped on the local calendar (the edge buffer's time base) ------------

def _ts(*moment: int) -> int:
    return int(datetime(*moment, tzinfo=UTC).timestamp())


def test_device_seconds_and_utc_convert_at_the_boundary() -> None:
    from protocol.periods import device_to_utc, utc_to_device

    # 2026-01-01 00:00 UTC = 1767225600; local 03:00 Moscow (UTC+3) is 3 h = 10800 s later by the device's clock
    assert device_to_utc(1_767_225_600 + 10_800, MOSCOW) == 1_767_225_600
    assert utc_to_device(1_767_225_600, MOSCOW) == 1_767_225_600 + 10_800
    assert utc_to_device(1_767_225_600.9, MOSCOW) == 1_767_225_600 + 10_800  # whole seconds, down


def test_utc_periods_follow_the_local_calendar() -> None:
    from protocol.periods import utc_next_period, utc_period_start, utc_periods, utc_shift

    # a month in Moscow starts at local midnight of the 1st: 21:00 UTC of the day before
    assert utc_period_start(MONTH, _ts(2026, 2, 15, 12), MOSCOW) == _ts(2026, 1, 31, 21)
    assert utc_period_start(MONTH, _ts(2026, 1, 31, 21), MOSCOW) == _ts(2026, 1, 31, 21)
    assert utc_period_start(MONTH, _ts(2026, 1, 31, 20, 59), MOSCOW) == _ts(2025, 12, 31, 21)
    assert utc_next_period(MONTH, _ts(2026, 1, 31, 21), MOSCOW) == _ts(2026, 2, 28, 21)  # February: 28 days
    assert utc_next_period(DAY, _ts(2026, 1, 9, 21), MOSCOW) == _ts(2026, 1, 10, 21)
    assert utc_period_start(DAY, _ts(2026, 1, 10, 0), MOSCOW) == _ts(2026, 1, 9, 21)  # 03:00 Moscow: the 10th
    # the hours closed by 02:30 UTC (05:30 Moscow) from 00:00 UTC: 00:00, 01:00 (ends 02:00)
    assert list(utc_periods(HOUR, _ts(2026, 1, 1), _ts(2026, 1, 1, 2, 30), MOSCOW)) == [
        _ts(2026, 1, 1), _ts(2026, 1, 1, 1)]
    assert utc_shift(_ts(2026, 3, 3, 21, 30), -timedelta(days=3), MOSCOW) == _ts(2026, 2, 28, 21, 30)
