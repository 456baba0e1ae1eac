"""The rules of power limitation (manual 4.5.8) and relay thresholds (4.6.11), hand-worked:
which threshold applies, how a limitation's state follows its relay command, which actions each
state allows, and which requests are refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cloud.services import power_rules as rules
from cloud.services.commands import MAX_LIMIT_W
from cloud.services.models import InvalidInput
from cloud.services.power_rules import PowerRuleError, Threshold

TODAY = date(2026, 1, 14)


# --- threshold: building -> city -> none ------------------------------------------------------------

def test_the_buildings_threshold_wins_over_the_citys() -> None:
    # building 3000 W, city 5000 W: the building's own value is the one in force
    assert rules.threshold(3000, 5000) == Threshold(3000, "building")


def test_the_citys_default_when_the_building_has_none() -> None:
    assert rules.threshold(None, 5000) == Threshold(5000, "city")


def test_no_threshold_when_neither_is_set() -> None:
    assert rules.threshold(None, None) is None


def test_a_building_threshold_without_a_city_default() -> None:
    assert rules.threshold(1500, None) == Threshold(1500, "building")


@pytest.mark.parametrize("value", [100, 2500, 1_000_000, 2500.0])
def test_thresholds_within_bounds(value: float) -> None:
    assert rules.check_threshold("threshold_w", value) == int(value)


@pytest.mark.parametrize("value", [99, 0, -5, 1_000_001, 2500.5, True, "2500", float("nan"), None])
def test_thresholds_out_of_bounds_are_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput, match=r"^limit\.w: whole watts from 100 to 1000000"):
        rules.check_threshold("limit.w", value)


def test_the_upper_bound_is_the_relay_commands() -> None:
    assert rules.MAX_THRESHOLD_W == MAX_LIMIT_W


# --- state follows the command ----------------------------------------------------------------------

@pytest.mark.parametrize(("phase", "command", "expected"), [
    ("limit", "created", "sending"), ("limit", "sent", "sending"), ("limit", "acknowledged", "sending"),
    ("limit", "done", "limited"), ("limit", "failed", "failed"), ("limit", "timed_out", "timed_out"),
    ("lift", "created", "lifting"), ("lift", "sent", "lifting"), ("lift", "acknowledged", "lifting"),
    ("lift", "done", "lifted"), ("lift", "failed", "lift_failed"), ("lift", "timed_out", "lift_timed_out"),
])
def test_the_state_is_the_current_commands(phase: str, command: str, expected: str) -> None:
    assert rules.state(phase, command) == expected


def test_every_command_state_of_both_phases_has_a_limitation_state() -> None:
    # the six states of cloud/services/commands.STATES, for both phases: 12 pairs, no gap
    from cloud.services.commands import STATES as COMMAND_STATES
    assert {(p, s) for p in ("limit", "lift") for s in COMMAND_STATES} == set(rules.STATE)


def test_an_unknown_pair_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no limitation state"):
        rules.state("limit", "lost")


def test_only_a_confirmed_relay_counts_as_limited() -> None:
    # failed and timed-out limit commands are not in force: the relay never limited
    assert "failed" not in rules.IN_FORCE
    assert "timed_out" not in rules.IN_FORCE
    assert "limited" in rules.IN_FORCE
    # a lift that failed leaves the relay limiting
    assert {"lift_failed", "lift_timed_out"} <= rules.IN_FORCE


# --- legal actions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("current", [None, "lifted", "failed", "timed_out"])
def test_start_is_allowed_when_nothing_is_in_force(current: str | None) -> None:
    rules.check_action("start", current)


@pytest.mark.parametrize("current", ["sending", "limited", "lifting", "lift_failed", "lift_timed_out"])
def test_start_is_refused_while_a_limitation_is_in_force(current: str) -> None:
    with pytest.raises(PowerRuleError, match="in force already") as caught:
        rules.check_action("start", current)
    assert caught.value.reason == "in_force"


@pytest.mark.parametrize("current", ["limited", "lift_failed", "lift_timed_out"])
def test_lift_is_allowed_when_the_relay_limits(current: str) -> None:
    rules.check_action("lift", current)


@pytest.mark.parametrize("current", ["sending", "failed", "timed_out", "lifting", "lifted"])
def test_lift_is_refused_otherwise(current: str) -> None:
    with pytest.raises(PowerRuleError) as caught:
        rules.check_action("lift", current)
    assert caught.value.reason == "lift_refused"


def test_lift_without_a_limitation() -> None:
    with pytest.raises(PowerRuleError) as caught:
        rules.check_action("lift", None)
    assert caught.value.reason == "no_limitation"


@pytest.mark.parametrize(("current", "allowed"), [
    ("failed", True), ("timed_out", True), ("sending", False), ("limited", False), ("lifted", False),
    ("lift_failed", False),  # asking for the lift again is "lift", not "retry"
])
def test_retry_only_after_a_failed_or_timed_out_limit_command(current: str, allowed: bool) -> None:
    if allowed:
        rules.check_action("retry", current)
    else:
        with pytest.raises(PowerRuleError):
            rules.check_action("retry", current)


def test_every_state_is_known_to_the_action_table() -> None:
    for states in rules.ACTIONS.values():
        assert states - {None} <= set(rules.STATES)


# --- the request ------------------------------------------------------------------------------------

def test_a_debt_with_its_amount() -> None:
    got = rules.check_request("debt", 12345.67, None, False, None, None, TODAY)
    assert got == rules.Request("debt", 12345.67, None, False, None, None)


def test_repairs_with_their_start_and_a_notice() -> None:
    # works from 20 Jan; residents told on 15 Jan, checked on 19 Jan
    got = rules.check_request("repairs", None, date(2026, 1, 20), True, date(2026, 1, 15), date(2026, 1, 19), TODAY)
    assert got == rules.Request("repairs", None, date(2026, 1, 20), True, date(2026, 1, 15), date(2026, 1, 19))


@pytest.mark.parametrize(("args", "reason"), [
    (("debt", None, None), "debt_amount_missing"),
    (("debt", 0, None), "debt_amount_range"),
    (("debt", -10.0, None), "debt_amount_range"),
    (("debt", 100_000_000.01, None), "debt_amount_range"),
    (("debt", float("inf"), None), "debt_amount_range"),
    (("debt", 10.005, None), "debt_amount_kopecks"),
    (("repairs", None, None), "repairs_from_missing"),
    # a year and a day either way of 2026-01-14: 2025-01-12 and 2027-01-16 (366 days is the bound)
    (("repairs", None, date(2025, 1, 12)), "repairs_from_range"),
    (("repairs", None, date(2027, 1, 16)), "repairs_from_range"),
])
def test_bad_details_are_refused(args: tuple, reason: str) -> None:
    with pytest.raises(PowerRuleError) as caught:
        rules.check_request(*args, False, None, None, TODAY)
    assert caught.value.reason == reason


def test_the_year_bounds_themselves_are_allowed() -> None:
    rules.check_request("repairs", None, TODAY - timedelta(days=366), False, None, None, TODAY)
    rules.check_request("repairs", None, TODAY + timedelta(days=366), False, None, None, TODAY)


@pytest.mark.parametrize(("args", "field"), [
    (("flood", None, None), "reason"),
    (("debt", 100.0, date(2026, 1, 20)), "repairs_from"),
    (("repairs", 100.0, date(2026, 1, 20)), "debt_amount"),
])
def test_details_of_the_other_reason_are_refused(args: tuple, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        rules.check_request(*args, False, None, None, TODAY)


@pytest.mark.parametrize(("notify_on", "control_on", "reason"), [
    (None, date(2026, 1, 20), "notice_dates_missing"),
    (date(2026, 1, 15), None, "notice_dates_missing"),
    (date(2026, 1, 13), date(2026, 1, 20), "notify_on_range"),  # yesterday: a notice cannot be sent back in time
    (date(2026, 1, 16), date(2026, 1, 15), "control_on_range"),  # control before the notice
    (date(2026, 1, 15), date(2027, 1, 16), "control_on_range"),  # 367 days ahead
])
def test_notice_dates_are_checked(notify_on: date | None, control_on: date | None, reason: str) -> None:
    with pytest.raises(PowerRuleError) as caught:
        rules.check_request("debt", 100.0, None, True, notify_on, control_on, TODAY)
    assert caught.value.reason == reason


def test_notice_on_the_day_and_control_the_same_day() -> None:
    got = rules.check_request("debt", 100.0, None, True, TODAY, TODAY, TODAY)
    assert (got.notify_on, got.control_on) == (TODAY, TODAY)


def test_dates_without_a_notice_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^notify_on: notification and control dates go with notify"):
        rules.check_request("debt", 100.0, None, False, TODAY, None, TODAY)


def test_a_control_date_without_a_notice_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"^control_on: notification and control dates go with notify"):
        rules.check_request("debt", 100.0, None, False, None, TODAY, TODAY)
