"""The consumption rules of manual 4.1.5/4.1.6 and DESIGN.md section 5, one test per rule, with
numbers worked out by hand from the rule (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.services import consumption as calc
from cloud.services.consumption import Amount, Archive, Source, State
from cloud.services.models import Figure, Granularity
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind

MSK = zone("Europe/Moscow")  # UTC+3
NSK = zone("Asia/Novosibirsk")  # UTC+7
HOUR, DAY, MONTH = ArchiveKind.HOUR, ArchiveKind.DAY, ArchiveKind.MONTH


def keyed(records: dict[datetime, float], tz=MSK) -> dict[datetime, float]:
    """Records keyed by their local period start -> keyed by UTC, as ClickHouse holds them."""
    return {local_to_utc(local, tz): value for local, value in records.items()}


def integral(kind: ArchiveKind, records: dict[datetime, float], tz=MSK) -> Archive:
    return Archive(integral={kind: keyed(records, tz)})


def day_of(source: Source, archive: Archive, day: datetime, tz=MSK) -> Amount:
    return calc.amount(source, archive, Granularity.DAY, day, tz)


# --- missing stays missing: one meter, several meters ------------------------------------------


def test_sole_meter_missing_is_nothing_known() -> None:
    cell = calc.figure([Amount(State.MISSING)])
    assert cell == Figure(None, expected=1, known=0)
    assert cell.missing
    assert not cell.complete


def test_one_of_two_meters_missing_gives_the_known_part_marked_incomplete() -> None:
    # manual 4.1.5: two meters, one missing -> the other's 1.77 shown as «1,77*»
    cell = calc.figure([Amount(State.MEASURED, 1.77), Amount(State.MISSING)])
    assert cell == Figure(1.77, expected=2, known=1)
    assert not cell.complete
    assert not cell.missing


def test_a_meter_out_of_service_is_not_missing() -> None:
    cell = calc.figure([Amount(State.NOT_EXPECTED), Amount(State.MEASURED, 2.0)])
    assert cell == Figure(2.0, expected=1, known=1)
    assert cell.complete
    nobody = calc.figure([Amount(State.NOT_EXPECTED)])
    assert nobody == Figure(None, expected=0, known=0)
    assert not nobody.missing


def test_several_building_inputs_one_missing_give_no_imbalance() -> None:
    building = calc.figure([Amount(State.MEASURED, 0.5), Amount(State.MISSING)])  # input 2 missing
    apartments = calc.figure([Amount(State.MEASURED, 0.24), Amount(State.MEASURED, 0.48)])
    assert building == Figure(0.5, expected=2, known=1)
    assert calc.imbalance(building, apartments) == (None, None)  # no false imbalance from a partial sum
    full = calc.figure([Amount(State.MEASURED, 0.5), Amount(State.MEASURED, 0.34)])  # 0.5 + 0.34 = 0.84
    # 0.84 - (0.24 + 0.48) = 0.12 Gcal; 0.12 / 0.84 = 14.29 %
    assert calc.imbalance(full, apartments) == pytest.approx((0.12, 14.29))


def test_suspect_part_is_left_out_with_its_own_count() -> None:
    cell = calc.figure([Amount(State.SUSPECT), Amount(State.MEASURED, 0.3)])
    assert cell == Figure(0.3, expected=2, known=1, suspect=1)
    assert calc.figure([Amount(State.SUSPECT)]) == Figure(None, expected=1, known=0, suspect=1)


# --- archives by kind, derived where the meter lacks the kind -----------------------------------


def test_archive_kinds_named_by_the_meter_within_what_the_model_keeps() -> None:
    assert calc.archive_kinds([DAY], [HOUR, DAY]) == {DAY}
    assert calc.archive_kinds([], [HOUR, DAY]) == {HOUR, DAY}  # nothing named: what the model keeps
    assert calc.archive_kinds([HOUR, MONTH], [HOUR, DAY]) == {HOUR}  # the KARAT-307 keeps no month archive
    assert calc.archive_kinds([MONTH], None) == {MONTH}  # a model the catalogue does not know
    assert calc.device_kinds("KARAT-307") == {HOUR, DAY}
    assert calc.device_kinds("no such model") is None


def test_daily_values_from_the_daily_archive_of_a_daily_only_meter() -> None:
    src = Source(kinds=frozenset({DAY}))
    archive = integral(DAY, {datetime(2026, 1, 9): 10.0, datetime(2026, 1, 10): 12.5})
    # the day record of Jan 9 holds the reading at its end (Jan 10 00:00): 12.5 - 10.0 = 2.5
    assert day_of(src, archive, datetime(2026, 1, 10)) == Amount(State.MEASURED, 2.5)


def test_monthly_from_daily_when_the_meter_keeps_no_month_archive_is_marked_derived() -> None:
    src = Source(kinds=frozenset({DAY}))
    archive = integral(DAY, {datetime(2025, 12, 31): 100.0, datetime(2026, 1, 31): 131.0})
    # January = reading at Feb 1 (day record Jan 31) - reading at Jan 1 (day record Dec 31) = 31.0
    assert calc.amount(src, archive, Granularity.MONTH, datetime(2026, 1, 1), MSK) == Amount(
        State.MEASURED, 31.0, derived=True)


def test_hourly_values_from_the_hourly_archive() -> None:
    src = Source(kinds=frozenset({HOUR, DAY}))
    archive = integral(HOUR, {datetime(2026, 1, 10, 9): 4.0, datetime(2026, 1, 10, 10): 4.25})
    # hour 10:00-11:00 = reading at 11:00 (record 10:00) - reading at 10:00 (record 9:00) = 0.25
    assert calc.amount(src, archive, Granularity.HOUR, datetime(2026, 1, 10, 10), MSK) == Amount(
        State.MEASURED, 0.25)


def test_a_kind_the_meter_gives_is_not_derived_when_its_record_is_missing() -> None:
    src = Source(kinds=frozenset({HOUR, DAY}))
    hours = {datetime(2026, 1, 9, 23): 1.0, datetime(2026, 1, 10, 23): 2.0}
    # the daily archive is the source of days: the hourly records do not stand in for its gap
    assert day_of(src, integral(HOUR, hours), datetime(2026, 1, 10)) == Amount(State.MISSING)


def test_reporting_day_25_month_from_the_monthly_archive() -> None:
    src = Source(kinds=frozenset({HOUR, DAY, MONTH}), reporting_day=25)
    # the month record of January (Jan 25 - Feb 25) reads 100.0 at its end, February's 130.0:
    # February (Feb 25 - Mar 25) = 130.0 - 100.0 = 30.0, whether keyed by the 25th or by the 1st
    by_reporting_day = integral(MONTH, {datetime(2026, 1, 25): 100.0, datetime(2026, 2, 25): 130.0})
    by_first = integral(MONTH, {datetime(2026, 1, 1): 100.0, datetime(2026, 2, 1): 130.0})
    for archive in (by_reporting_day, by_first):
        assert calc.amount(src, archive, Granularity.MONTH, datetime(2026, 2, 1), MSK) == Amount(
            State.MEASURED, 30.0)


def test_reporting_day_25_month_derived_from_days_runs_from_the_25th() -> None:
    src = Source(kinds=frozenset({DAY}), reporting_day=25)
    archive = integral(DAY, {datetime(2026, 1, 31): 50.0, datetime(2026, 2, 24): 70.0,
                             datetime(2026, 2, 28): 74.0, datetime(2026, 3, 24): 95.0})
    # February = reading at Mar 25 00:00 (day record Mar 24) - at Feb 25 00:00 (record Feb 24)
    # = 95.0 - 70.0 = 25.0 (the calendar month would be 74.0 - 50.0 = 24.0)
    assert calc.amount(src, archive, Granularity.MONTH, datetime(2026, 2, 1), MSK) == Amount(
        State.MEASURED, 25.0, derived=True)
    assert calc.span(Granularity.MONTH, datetime(2026, 2, 1), 25) == (datetime(2026, 2, 25), datetime(2026, 3, 25))


# --- interval and integral ------------------------------------------------------------------------


def test_hourly_interval_archive_is_summed_not_differenced() -> None:
    src = Source(kinds=frozenset({HOUR}))
    archive = Archive(interval={HOUR: keyed({datetime(2026, 1, 10, h): 0.05 for h in range(24)})})
    # 24 hours x 0.05 Gcal = 1.2 Gcal (differencing the amounts would give 0.0)
    assert day_of(src, archive, datetime(2026, 1, 10)) == Amount(State.MEASURED, pytest.approx(1.2), derived=True)


def test_interval_and_integral_of_the_same_meter_both_count_never_one_for_the_other() -> None:
    src = Source(kinds=frozenset({HOUR}))
    hours = {datetime(2026, 1, 10, h): 0.05 for h in range(24)}
    readings = {datetime(2026, 1, 9, 23): 10.0, datetime(2026, 1, 10, 23): 11.5}
    both = Archive(integral={HOUR: keyed(readings)}, interval={HOUR: keyed(hours)})
    # the interval records are the period's amounts: 24 x 0.05 = 1.2
    assert day_of(src, both, datetime(2026, 1, 10)).value == pytest.approx(1.2)
    del hours[datetime(2026, 1, 10, 7)]
    gap = Archive(integral={HOUR: keyed(readings)}, interval={HOUR: keyed(hours)})
    # an interval hour is missing: the integral readings give the day, 11.5 - 10.0 = 1.5
    assert day_of(src, gap, datetime(2026, 1, 10)).value == pytest.approx(1.5)
    only_intervals = Archive(interval={HOUR: keyed(hours)})
    assert day_of(src, only_intervals, datetime(2026, 1, 10)).state is State.MISSING


# --- electricity ---------------------------------------------------------------------------------


def test_ct_ratio_multiplies_the_meter_reading() -> None:
    modulus, per_hour = calc.counter_limits("KARAT-941LW", "E")
    assert per_hour == pytest.approx(86.25)  # 3 x 230 V x 100 A = 69 kW, x 1.25
    src = Source(kinds=frozenset({HOUR}), factor=40.0, modulus=modulus, max_per_hour=per_hour)
    archive = integral(HOUR, {datetime(2026, 1, 10, 9): 1000.0, datetime(2026, 1, 10, 10): 1012.5})
    # 12.5 kWh on the meter's register (within its 86.25 kWh/h) x CT 40 = 500 kWh
    assert calc.amount(src, archive, Granularity.HOUR, datetime(2026, 1, 10, 10), MSK) == Amount(
        State.MEASURED, 500.0)


def test_tariff_channels_are_kept_apart_from_the_total() -> None:
    # KARAT-941LW with two zones: channel 1 the total, 2 = T1 (day), 3 = T2 (night)
    assert [calc.channel_tariff("KARAT-941LW", 2, n, None) for n in (1, 2, 3)] == ["total", "T1", "T2"]
    assert calc.channel_tariff("KARAT-941LW", 2, 3, "T2") == "T2"
    assert calc.channel_tariff("KARAT-307", 0, 1, None) == "total"  # other resources: the channel is the total


# --- time: the building's zone, the service period -----------------------------------------------


def test_day_of_a_building_east_of_utc() -> None:
    # Asia/Novosibirsk, UTC+7: the local day 2026-01-10 spans 2026-01-09T17:00Z .. 2026-01-10T17:00Z
    src = Source(kinds=frozenset({DAY}))
    need = calc.wanted(src, Granularity.DAY, [datetime(2026, 1, 10)], NSK)
    # opening = day record of Jan 9 (starts 2026-01-08T17:00Z), closing = day record of Jan 10
    assert need.points == {DAY: {datetime(2026, 1, 8, 17, tzinfo=UTC), datetime(2026, 1, 9, 17, tzinfo=UTC)}}
    hourly = Source(kinds=frozenset({HOUR}))
    need = calc.wanted(hourly, Granularity.DAY, [datetime(2026, 1, 10)], NSK)
    # from hours: the records of 23:00 local = 16:00Z, on Jan 9 and on Jan 10
    assert need.points == {HOUR: {datetime(2026, 1, 9, 16, tzinfo=UTC), datetime(2026, 1, 10, 16, tzinfo=UTC)}}
    archive = Archive(integral={HOUR: {datetime(2026, 1, 9, 16, tzinfo=UTC): 7.0,
                                       datetime(2026, 1, 10, 16, tzinfo=UTC): 7.9}})
    assert day_of(hourly, archive, datetime(2026, 1, 10), NSK) == Amount(State.MEASURED, pytest.approx(0.9),
                                                                          derived=True)


def test_commissioning_mid_day_hours_before_are_not_missing() -> None:
    commissioned = local_to_utc(datetime(2026, 1, 10, 14), MSK)
    src = Source(kinds=frozenset({HOUR}), commissioned=commissioned, initial=5.0)
    archive = integral(HOUR, {datetime(2026, 1, 10, 14): 5.1, datetime(2026, 1, 10, 23): 6.0})
    hours = calc.amounts(src, archive, Granularity.HOUR, [datetime(2026, 1, 10, h) for h in range(15)], MSK)
    assert [a.state for a in hours[:14]] == [State.NOT_EXPECTED] * 14
    assert hours[14] == Amount(State.MEASURED, pytest.approx(0.1))  # 5.1 - initial 5.0
    # the day: reading at its end 6.0 - initial reading 5.0 = 1.0, complete
    day = calc.figure([day_of(src, archive, datetime(2026, 1, 10))])
    assert day == Figure(pytest.approx(1.0), expected=1, known=1, derived=True)
    assert calc.figure([day_of(src, archive, datetime(2026, 1, 9))]) == Figure(None, expected=0, known=0)


def test_replacement_mid_month_by_a_new_serial() -> None:
    swap = local_to_utc(datetime(2026, 1, 15, 12), MSK)
    old = Source(kinds=frozenset({DAY}), decommissioned=swap, final=529.0)
    new = Source(kinds=frozenset({DAY}), commissioned=swap, initial=0.5)
    old_days = {datetime(2025, 12, 31): 500.0, datetime(2026, 1, 13): 526.0, datetime(2026, 1, 14): 528.0}
    new_days = {datetime(2026, 1, 15): 0.9, datetime(2026, 1, 16): 1.9, datetime(2026, 1, 31): 16.9}
    a_old, a_new = integral(DAY, old_days), integral(DAY, new_days)

    def premise(granularity: Granularity, label: datetime) -> Figure:
        return calc.figure([calc.amount(old, a_old, granularity, label, MSK),
                            calc.amount(new, a_new, granularity, label, MSK)])

    # January = (old final 529.0 - old opening 500.0) + (new closing 16.9 - new initial 0.5) = 29.0 + 16.4 = 45.4
    assert premise(Granularity.MONTH, datetime(2026, 1, 1)) == Figure(pytest.approx(45.4), expected=2, known=2,
                                                                      derived=True)
    # Jan 15 = (529.0 - 528.0) + (0.9 - 0.5) = 1.4; Jan 14 the old meter alone, 528 - 526 = 2.0
    assert premise(Granularity.DAY, datetime(2026, 1, 15)) == Figure(pytest.approx(1.4), expected=2, known=2)
    assert premise(Granularity.DAY, datetime(2026, 1, 14)) == Figure(pytest.approx(2.0), expected=1, known=1)
    # Jan 16 the new meter alone: 1.9 - 0.9 = 1.0; the old one is not missing, it is gone
    assert premise(Granularity.DAY, datetime(2026, 1, 16)) == Figure(pytest.approx(1.0), expected=1, known=1)


# --- plausibility and wraps ------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "parameter", "modulus", "before", "after", "delta"), [
    # 2**32 litres x 0.001 = 4294967.296 m3: 4294967.296 - 4294967.0 + 0.5 = 0.796
    ("KARAT-926LW", "V", 4294967.296, 4294967.0, 0.5, 0.796),
    # 2**32 kcal x 1e-6 = 4294.967296 Gcal: 4294.967296 - 4294.9 + 0.1 = 0.167296
    ("KARAT-307", "Q", 4294.967296, 4294.9, 0.1, 0.167296),
    ("KARAT-Compact-2-223", "V", 4294967.296, 4294967.2, 0.004, 0.1),  # 0.096 + 0.004
    # 2**32 Wh x 0.001 = 4294967.296 kWh: 0.296 + 3.0 = 3.296
    ("KARAT-941LW", "E", 4294967.296, 4294967.0, 3.0, 3.296),
])
def test_counter_wraps_at_its_catalogue_width(model: str, parameter: str, modulus: float, before: float,
                                              after: float, delta: float) -> None:
    got_modulus, per_hour = calc.counter_limits(model, parameter)
    assert got_modulus == pytest.approx(modulus)
    src = Source(kinds=frozenset({DAY}), modulus=got_modulus, max_per_hour=per_hour)
    archive = integral(DAY, {datetime(2026, 1, 9): before, datetime(2026, 1, 10): after})
    assert day_of(src, archive, datetime(2026, 1, 10)).value == pytest.approx(delta)


def test_bit_flip_jump_is_suspect_not_consumption() -> None:
    modulus, per_hour = calc.counter_limits("KARAT-307", "Q")
    assert per_hour == pytest.approx(125.0)  # 1000 m3/h x 100 K x 0.001 Gcal/(m3 K) x 1.25
    src = Source(kinds=frozenset({HOUR}), modulus=modulus, max_per_hour=per_hour)
    archive = integral(HOUR, {datetime(2026, 1, 10, 9): 8.30, datetime(2026, 1, 10, 10): 8.35,
                              datetime(2026, 1, 10, 11): 1082.0, datetime(2026, 1, 10, 12): 8.40,
                              datetime(2026, 1, 10, 13): 8.80})
    hours = calc.amounts(src, archive, Granularity.HOUR, [datetime(2026, 1, 10, h) for h in (10, 11, 12, 13)], MSK)
    assert hours[0] == Amount(State.MEASURED, pytest.approx(0.05))  # 8.35 - 8.30
    assert hours[1].state is State.SUSPECT  # 8.35 -> 1082.0: +1073.65 Gcal in an hour > 125
    assert hours[2].state is State.SUSPECT  # 1082.0 -> 8.40 as a wrap: 4294.967296 - 1082 + 8.4 = 3221.37 > 125
    assert hours[3] == Amount(State.MEASURED, pytest.approx(0.4))  # 8.80 - 8.40
    assert calc.figure(hours[1:3]) == Figure(None, expected=2, known=0, suspect=2)


def test_interval_hour_above_the_limit_makes_the_day_suspect() -> None:
    _, per_hour = calc.counter_limits("KARAT-Compact-2-223", "Q")
    assert per_hour == pytest.approx(0.625)  # 5 m3/h x 100 K x 0.001 x 1.25
    src = Source(kinds=frozenset({HOUR}), max_per_hour=per_hour)
    hours = {datetime(2026, 1, 10, h): 0.01 for h in range(24)}
    hours[datetime(2026, 1, 10, 5)] = 1073.65
    assert day_of(src, Archive(interval={HOUR: keyed(hours)}), datetime(2026, 1, 10)).state is State.SUSPECT


def test_large_plausible_month_is_used_not_dropped() -> None:
    modulus, per_hour = calc.counter_limits("KARAT-307", "Q")
    src = Source(kinds=frozenset({DAY}), modulus=modulus, max_per_hour=per_hour)
    archive = integral(DAY, {datetime(2025, 12, 31): 100.0, datetime(2026, 1, 31): 1600.0})
    # 1600 - 100 = 1500 Gcal in January: far below 125 Gcal/h x 744 h = 93000
    assert calc.amount(src, archive, Granularity.MONTH, datetime(2026, 1, 1), MSK).value == pytest.approx(1500.0)


def test_backwards_without_a_known_width_is_suspect() -> None:
    src = Source(kinds=frozenset({DAY}))  # a model the catalogue does not know
    archive = integral(DAY, {datetime(2026, 1, 9): 10.0, datetime(2026, 1, 10): 1.0})
    assert day_of(src, archive, datetime(2026, 1, 10)).state is State.SUSPECT


def test_source_rejects_bad_facts() -> None:
    with pytest.raises(ValueError, match="reporting_day"):
        Source(reporting_day=29)
    with pytest.raises(ValueError, match="time zone"):
        Source(commissioned=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="CT ratio"):
        Source(factor=0)


def test_wanted_ranges_cover_the_interval_records() -> None:
    src = Source(kinds=frozenset({HOUR}))
    need = calc.wanted(src, Granularity.DAY, [datetime(2026, 1, 10), datetime(2026, 1, 11)], MSK)
    first = local_to_utc(datetime(2026, 1, 10), MSK)
    assert need.ranges == {HOUR: (first, first + timedelta(hours=47))}  # 48 hourly records of two days


# --- the archive table of a meter channel (manual 4.1.7) ---------------------------------------------


def test_archive_days_built_from_hours_where_the_meter_keeps_no_daily_archive() -> None:
    hours = {datetime(2026, 1, 9, 23): 10.0, datetime(2026, 1, 10, 12): 10.4, datetime(2026, 1, 10, 23): 11.0}
    temps = {datetime(2026, 1, 10, 0): 60.0, datetime(2026, 1, 10, 1): 62.0}
    rows = calc.archive_rows(Granularity.DAY, [datetime(2026, 1, 10), datetime(2026, 1, 11)], HOUR, True, "integral",
                             {"Q": keyed(hours), "T1": keyed(temps)}, {"Q": calc.Counter(None, 0.625)},
                             {"Q": True, "T1": False}, 1, MSK)
    # Jan 10: the counter at its end is the record of 23:00 (11.0); the temperature is the mean (60 + 62) / 2
    assert rows[0].values == {"Q": 11.0, "T1": 61.0}
    assert rows[0].suspect == ()  # 11.0 - 10.0 = 1.0 Gcal in 24 h, within 0.625 x 24 = 15
    assert rows[1].values == {"Q": None, "T1": None}


def test_archive_row_with_an_implausible_increment_is_marked() -> None:
    days = {datetime(2026, 1, 9): 8.35, datetime(2026, 1, 10): 1082.0}
    rows = calc.archive_rows(Granularity.DAY, [datetime(2026, 1, 10)], DAY, False, "integral", {"Q": keyed(days)},
                             {"Q": calc.Counter(*calc.counter_limits("KARAT-Compact-2-223", "Q"))}, {"Q": True}, 1, MSK)
    # +1073.65 Gcal in a day is above 0.625 x 24 = 15 Gcal: shown as stored, marked suspect
    assert rows[0].values == {"Q": 1082.0}
    assert rows[0].suspect == ("Q",)
