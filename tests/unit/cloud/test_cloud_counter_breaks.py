"""Consumption across counter wraps, resets and replacements recorded on the meter: bridged
where the facts are known (register width, a recorded break), never negative, never giant."""

from datetime import datetime, timedelta

import pytest

from cloud.services import consumption as calc
from cloud.services.consumption import Archive, CounterBreak, Source, State
from cloud.services.models import Granularity
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind

MSK = zone("Europe/Moscow")
DAYS = [datetime(2026, 1, 1) + timedelta(days=d) for d in range(3)]  # Jan 1, 2, 3
Q_MOD = 2**32 * 1e-6  # KARAT heat counter: u32 kcal -> 4294.967296 Gcal


def _days(readings: dict[datetime, float], src: Source) -> list[float | None]:
    """Day values from day records keyed by local day (each holds the reading at its day's end)."""
    archive = Archive(integral={ArchiveKind.DAY: {local_to_utc(k, MSK): v for k, v in readings.items()}})
    got = calc.amounts(src, archive, Granularity.DAY, DAYS, MSK)
    return [a.value if a.state is State.MEASURED else a.state for a in got]


def _at(day: datetime, hour: int = 0):
    return local_to_utc(day + timedelta(hours=hour), MSK)


def test_register_modulus_from_the_catalogue() -> None:
    assert calc.counter_limits("KARAT-307", "Q")[0] == pytest.approx(Q_MOD)
    assert calc.counter_limits("KARAT-Compact-2-223", "V")[0] == pytest.approx(2**32 * 1e-3)
    assert calc.counter_limits("KARAT-307", "T1") == (None, None)  # a temperature is not a counter
    assert calc.counter_limits("Unknown-1", "Q") == (None, None)


def test_wrap_at_the_register_width_is_consumption() -> None:
    readings = {datetime(2025, 12, 31): Q_MOD - 0.5, DAYS[0]: Q_MOD - 0.1, DAYS[1]: 0.3, DAYS[2]: 0.9}
    # Jan 1: 0.4; Jan 2: (Q_MOD - (Q_MOD - 0.1)) + 0.3 = 0.4; Jan 3: 0.9 - 0.3 = 0.6
    assert _days(readings, Source(kinds=frozenset({ArchiveKind.DAY}), modulus=Q_MOD)) == pytest.approx(
        [0.4, 0.4, 0.6])


def test_recorded_replacement_is_bridged() -> None:
    # the old counter read 512.4 when removed; the new one started at 0.2; first new hour at 10:00 on Jan 2
    replaced = CounterBreak(first_period=_at(DAYS[1], 10), final=512.4, initial=0.2)
    readings = {datetime(2025, 12, 31): 510.0, DAYS[0]: 512.0, DAYS[1]: 1.2, DAYS[2]: 2.0}
    src = Source(kinds=frozenset({ArchiveKind.DAY}), modulus=Q_MOD, breaks=(replaced,))
    # Jan 2 = (512.4 - 512.0) + (1.2 - 0.2) = 1.4
    assert _days(readings, src) == pytest.approx([2.0, 1.4, 0.8])


def test_break_at_midnight_belongs_to_the_day_it_opens() -> None:
    # the first hour of the new counter is 00:00 on Jan 2: the reading at the end of Jan 1 is the old one's
    replaced = CounterBreak(first_period=_at(DAYS[1]), final=20.0, initial=0.0)
    readings = {datetime(2025, 12, 31): 18.0, DAYS[0]: 19.0, DAYS[1]: 1.5, DAYS[2]: 2.5}
    src = Source(kinds=frozenset({ArchiveKind.DAY}), breaks=(replaced,))
    # Jan 2 = (20.0 - 19.0) + (1.5 - 0.0) = 2.5
    assert _days(readings, src) == pytest.approx([1.0, 2.5, 1.0])


def test_two_breaks_in_one_day_and_a_wrong_record_stay_honest() -> None:
    first = CounterBreak(_at(DAYS[0], 3), final=5.0, initial=0.0, kind="reset")
    second = CounterBreak(_at(DAYS[0], 9), final=1.0, initial=100.0)
    readings = {datetime(2025, 12, 31): 4.0, DAYS[0]: 100.5}
    src = Source(kinds=frozenset({ArchiveKind.DAY}), breaks=(second, first))
    assert _days(readings, src)[0] == pytest.approx(2.5)  # (5 - 4) + (1 - 0) + (100.5 - 100) = 2.5
    # a recorded final below the opening reading is a wrong record: suspect, not a guess
    wrong = CounterBreak(_at(DAYS[0], 3), final=3.0, initial=0.0)
    assert _days(readings, Source(kinds=frozenset({ArchiveKind.DAY}), breaks=(wrong,)))[0] is State.SUSPECT


def test_missing_reading_is_missing_even_with_a_break() -> None:
    replaced = CounterBreak(_at(DAYS[1], 1), final=5.0, initial=0.0)
    src = Source(kinds=frozenset({ArchiveKind.DAY}), modulus=Q_MOD, breaks=(replaced,))
    assert _days({DAYS[0]: 4.0}, src) == [State.MISSING, State.MISSING, State.MISSING]


def test_unrecorded_reset_is_suspect_not_a_negative_or_giant_value() -> None:
    _, per_hour = calc.counter_limits("KARAT-Compact-2-223", "Q")  # 0.625 Gcal/h: 15 Gcal a day
    src = Source(kinds=frozenset({ArchiveKind.DAY}), modulus=Q_MOD, max_per_hour=per_hour)
    readings = {datetime(2025, 12, 31): 10.0, DAYS[0]: 12.0, DAYS[1]: 1.0, DAYS[2]: 2.0}
    # Jan 2: 12 -> 1 read as a wrap would be 4294.967296 - 12 + 1 = 4283.97 Gcal in a day: suspect
    assert _days(readings, src) == [pytest.approx(2.0), State.SUSPECT, pytest.approx(1.0)]
