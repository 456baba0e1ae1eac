"""The pure rules of the channel, verification and power-operation reports (cloud/reports/channels_common.py,
r_channel_changes, r_channel_verification_act, r_power_operations): the preset periods' date arithmetic at
month ends and in leap years, which channels a meter counts for, when a meter was added, removed or in
service in the building's local days, the act's verification state, when a limitation ended, and the
parameter checks. Every expected date is counted by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cloud.reports import channels_common as cc
from cloud.reports.r_channel_changes import notation
from cloud.reports.r_channel_verification_act import state
from cloud.reports.r_power_operations import check as power_check
from cloud.reports.r_power_operations import ended_at
from cloud.services.models import ChannelInfo, InvalidInput, MeterInfo
from protocol.vocabulary import MeterRole, Resource

MSK = "Europe/Moscow"  # UTC + 3 all year


def meter(*resources: tuple[Resource, str | None], commissioned: datetime | None = None,
          decommissioned: datetime | None = None, status: str = "in_service", premise: int | None = 1,
          meter_id: int = 1) -> MeterInfo:
    return MeterInfo(meter_id, f"S{meter_id}", "M", MeterRole.INDIVIDUAL if premise else MeterRole.COMMON, 1, premise,
                     None if premise is None else str(premise),
                     tuple(ChannelInfo(n, r, ("V",), t) for n, (r, t) in enumerate(resources, start=1)), "", "", status,
                     commissioned_at=commissioned, decommissioned_at=decommissioned)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- presets ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("today", "months", "last"), [
    (date(2026, 1, 14), 1, date(2026, 2, 13)),  # 14.02 exists: the day before
    (date(2026, 1, 14), 3, date(2026, 4, 13)),
    (date(2026, 1, 14), 6, date(2026, 7, 13)),
    (date(2026, 1, 14), 12, date(2027, 1, 13)),
    (date(2026, 1, 1), 1, date(2026, 1, 31)),  # 01.02 - 1 day
    (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no 31.02 in 2026: to the end of February
    (date(2026, 1, 29), 1, date(2026, 2, 28)),  # no 29.02 in 2026 either
    (date(2028, 1, 29), 1, date(2028, 2, 28)),  # 29.02.2028 exists (leap year): the day before it
    (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year: February has 29 days, no 31st
    (date(2024, 2, 29), 12, date(2025, 2, 28)),  # no 29.02.2025: to the end of February 2025
    (date(2024, 2, 29), 1, date(2024, 3, 28)),  # 29.03 exists: the day before
    (date(2023, 2, 28), 12, date(2024, 2, 27)),  # 28.02.2024 exists: the day before (29.02 not reached)
    (date(2025, 8, 31), 6, date(2026, 2, 28)),  # no 31.02: end of February
    (date(2025, 11, 30), 3, date(2026, 2, 28)),  # no 30.02: end of February, across the year
    (date(2025, 12, 31), 1, date(2026, 1, 30)),  # 31.01 exists: the day before, across the year
    (date(2025, 10, 31), 1, date(2025, 11, 30)),  # no 31.11: end of November
])
def test_months_ahead_last(today: date, months: int, last: date) -> None:
    assert cc.months_ahead_last(today, months) == last


def test_presets_from_today() -> None:
    today = date(2026, 1, 14)
    assert cc.preset_period("year", today, None, None) == (today, date(2027, 1, 13))
    assert cc.preset_period("half_year", today, None, None) == (today, date(2026, 7, 13))
    assert cc.preset_period("3_months", today, None, None) == (today, date(2026, 4, 13))
    assert cc.preset_period("month", today, None, None) == (today, date(2026, 2, 13))
    # two weeks: 14 days, today the first of them -> 14 + 13 = 27
    assert cc.preset_period("2_weeks", today, None, None) == (today, date(2026, 1, 27))
    # across a month end: 25.02.2024 + 13 days = 09.03.2024 (29 days in February 2024: 25..29 is 5, 1..9 is 9)
    assert cc.preset_period("2_weeks", date(2024, 2, 25), None, None) == (date(2024, 2, 25), date(2024, 3, 9))
    assert cc.preset_period("custom", today, date(2025, 1, 1), date(2025, 3, 1)) == (date(2025, 1, 1), date(2025, 3, 1))
    with pytest.raises(InvalidInput, match="preset=custom"):
        cc.preset_period("custom", today, date(2025, 1, 1), None)


def test_check_preset() -> None:
    cc.check_preset({"preset": "custom", "first": date(2026, 1, 1), "last": date(2026, 1, 1)})  # one day is a period
    cc.check_preset({"preset": "year", "first": None, "last": None})
    with pytest.raises(InvalidInput, match="last: required with preset=custom"):
        cc.check_preset({"preset": "custom", "first": date(2026, 1, 1), "last": None})
    with pytest.raises(InvalidInput, match="first: 2026-01-02 is after last 2026-01-01"):
        cc.check_preset({"preset": "custom", "first": date(2026, 1, 2), "last": date(2026, 1, 1)})
    with pytest.raises(InvalidInput, match="last: a date is given only with preset=custom"):
        cc.check_preset({"preset": "month", "first": None, "last": date(2026, 1, 1)})


def test_usage_roles() -> None:
    assert cc.usage_roles("all") == ()
    assert cc.usage_roles("individual") == (MeterRole.INDIVIDUAL,)
    assert cc.usage_roles("common") == (MeterRole.COMMON,)


# --- channels and the lifecycle --------------------------------------------------------------------------

def test_channel_types() -> None:
    compact = meter((Resource.HEAT, None), (Resource.HOT_WATER, None), (Resource.COLD_WATER, None))
    assert cc.channel_types(compact) == ["heat", "hot_water", "cold_water"]
    # an electricity meter with total, T1, T2: one channel, the zones are parts of it
    el = meter((Resource.ELECTRICITY, "total"), (Resource.ELECTRICITY, "T1"), (Resource.ELECTRICITY, "T2"))
    assert cc.channel_types(el) == ["electricity"]
    assert cc.channel_types(meter((Resource.GAS, None), (Resource.SEWAGE, None))) == ["other", "other"]


def test_changed_in_local_days() -> None:
    # December 2025 in Moscow: from 30.11 21:00 UTC up to (not including) 31.12 21:00 UTC
    first, last = date(2025, 12, 1), date(2025, 12, 31)
    assert cc.changed_in(meter(commissioned=utc(2025, 11, 30, 21)), first, last, MSK) == (True, False)
    assert cc.changed_in(meter(commissioned=utc(2025, 11, 30, 20, 59)), first, last, MSK) == (False, False)
    assert cc.changed_in(meter(commissioned=utc(2025, 12, 31, 20, 59)), first, last, MSK) == (True, False)
    assert cc.changed_in(meter(commissioned=utc(2025, 12, 31, 21)), first, last, MSK) == (False, False)
    # commissioned and decommissioned inside: counted both ways
    assert cc.changed_in(meter(commissioned=utc(2025, 12, 2), decommissioned=utc(2025, 12, 20)), first, last,
                         MSK) == (True, True)
    # a legacy row without dates never changed, whatever its status
    assert cc.changed_in(meter(status="decommissioned"), first, last, MSK) == (False, False)


def test_in_service_at_the_end_of_the_day() -> None:
    day = date(2025, 12, 10)  # ends 10.12 21:00 UTC
    assert cc.in_service_on(meter(commissioned=utc(2025, 12, 10, 20, 59)), day, MSK)  # in on the day
    assert not cc.in_service_on(meter(commissioned=utc(2025, 12, 10, 21)), day, MSK)  # the 11th, local
    assert not cc.in_service_on(meter(decommissioned=utc(2025, 12, 10, 9)), day, MSK)  # out on the day
    assert cc.in_service_on(meter(decommissioned=utc(2025, 12, 10, 21)), day, MSK)  # out on the 11th
    assert cc.in_service_on(meter(), day, MSK)  # no dates: the stored status
    assert not cc.in_service_on(meter(status="decommissioned"), day, MSK)


def test_nodes() -> None:
    day = date(2026, 1, 14)
    meters = [meter((Resource.HEAT, None), premise=1, meter_id=1), meter((Resource.COLD_WATER, None), premise=1,
                                                                           meter_id=2),
              meter((Resource.HEAT, None), premise=2, meter_id=3, status="decommissioned"),
              meter((Resource.HEAT, None), premise=None, meter_id=4)]
    # premise 1 with two meters is one node; premise 2's meter is out; the building meter makes the ОДУУ
    assert cc.nodes(meters, day, MSK) == cc.Nodes(1, True)
    assert cc.nodes(meters[:3], day, MSK) == cc.Nodes(1, False)


def test_notation_is_added_then_removed() -> None:
    assert notation(32, 32) == "32\\32"
    assert notation(1, 0) == "1\\0"


# --- the act's state -------------------------------------------------------------------------------------

def test_act_state_relative_to_the_act_date() -> None:
    day = date(2026, 1, 14)  # + 30 days = 13.02.2026 (31 - 14 = 17 days of January, 13 of February)
    assert state(None, day) == "unknown"
    assert state(date(2026, 1, 13), day) == "overdue"
    assert state(date(2026, 1, 14), day) == "soon"  # due on the act's day: not yet overdue
    assert state(date(2026, 2, 13), day) == "soon"
    assert state(date(2026, 2, 14), day) == "valid"


def test_iik_date_is_the_earliest_instrument_date() -> None:
    def instrument(next_on: date | None) -> cc.Instrument:
        return cc.Instrument(1, "temperature_sensor", "", "X", "T1", None, next_on)
    channel = cc.Iik(1, 1, Resource.HEAT, 1, "Q", (instrument(date(2026, 7, 1)), instrument(None),
                                                    instrument(date(2026, 2, 5))))
    assert channel.next_verification_on == date(2026, 2, 5)
    assert cc.Iik(2, 1, Resource.HEAT, 1, "Q", (instrument(None),)).next_verification_on is None


# --- power operations ------------------------------------------------------------------------------------

def test_a_limitation_ends_when_lifted_or_never_limited() -> None:
    limit, lift = utc(2025, 12, 20, 9, 1), utc(2026, 1, 10, 9, 2)
    assert ended_at("lifted", limit, lift) == lift
    assert ended_at("failed", limit, None) == limit
    assert ended_at("timed_out", None, None) is None  # no finish time recorded: open-ended, listed
    for running in ("sending", "limited", "lifting", "lift_failed", "lift_timed_out"):
        assert ended_at(running, limit, None) is None


def test_power_parameters() -> None:
    period = {"first": date(2026, 1, 1), "last": date(2026, 1, 31)}
    power_check({"kind": "premise", "premise": 5, **period})
    power_check({"kind": "building", "premise": None, **period})
    with pytest.raises(InvalidInput, match="premise: required with kind=premise"):
        power_check({"kind": "premise", "premise": None, **period})
    with pytest.raises(InvalidInput, match="premise: given only with kind=premise"):
        power_check({"kind": "building", "premise": 5, **period})
    with pytest.raises(InvalidInput, match="first"):
        power_check({"kind": "building", "premise": None, "first": date(2026, 2, 1), "last": date(2026, 1, 31)})
