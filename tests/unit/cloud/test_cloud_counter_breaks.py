"""Consumption across counter wraps, resets and meter replacements: bridged where the facts are
known (register width, a recorded break), missing otherwise - never negative, never giant."""

from datetime import datetime, timedelta

import pytest

from cloud.services import consumption as calc
from cloud.services.consumption import CounterBreak

B = [datetime(2026, 1, 1) + timedelta(days=d) for d in range(4)]
Q_MOD = 2**32 * 1e-6  # KARAT heat counter: u32 kcal -> 4294.967296 Gcal


def test_register_modulus_of_known_models_only() -> None:
    assert calc.counter_modulus("KARAT-307", "Q") == pytest.approx(Q_MOD)
    assert calc.counter_modulus("KARAT-Compact-2-223", "V") == pytest.approx(2**32 * 1e-3)
    assert calc.counter_modulus("KARAT-307", "T1") is None  # a temperature is not a counter
    assert calc.counter_modulus("Unknown-1", "Q") is None


def test_wrap_at_the_register_width_is_consumption() -> None:
    readings = {B[0]: Q_MOD - 0.5, B[1]: Q_MOD - 0.1, B[2]: 0.3, B[3]: 0.9}
    assert calc.differences(readings, B, Q_MOD) == pytest.approx([0.4, 0.4, 0.6])


def test_backwards_without_a_known_width_or_far_from_the_top_stays_missing() -> None:
    readings = {B[0]: 10.0, B[1]: 12.0, B[2]: 1.0, B[3]: 2.0}  # a reset to 0 nobody recorded
    assert calc.differences(readings, B) == [2.0, None, 1.0]
    # with the width known, 10 -> 1 would be a wrap of 4285 Gcal in a day: implausible, not a value
    assert calc.differences(readings, B, Q_MOD) == [2.0, None, 1.0]


def test_giant_forward_jump_is_not_consumption() -> None:
    readings = {B[0]: 1.0, B[1]: 2.0, B[2]: 3000.0}  # an unrecorded replacement by a counter at 3000
    assert calc.differences(readings, B[:3], Q_MOD) == [1.0, None]


def test_recorded_replacement_is_bridged() -> None:
    # the old meter read 512.4 when removed; the new one started at 0.2; first new hour inside day 2
    replaced = CounterBreak(first_period=B[1] + timedelta(hours=10), final=512.4, initial=0.2)
    readings = {B[0]: 510.0, B[1]: 512.0, B[2]: 1.2, B[3]: 2.0}
    assert calc.differences(readings, B, Q_MOD, [replaced]) == pytest.approx([2.0, 0.4 + 1.0, 0.8])


def test_break_on_a_boundary_belongs_to_the_period_it_opens() -> None:
    # the record at B[1] is already the new counter's: the break splits day 1, not day 2
    replaced = CounterBreak(first_period=B[1], final=20.0, initial=0.0)
    readings = {B[0]: 19.0, B[1]: 0.5, B[2]: 1.5}
    assert calc.differences(readings, B[:3], None, [replaced]) == [1.5, 1.0]


def test_two_breaks_in_one_period_and_a_wrong_record_stay_honest() -> None:
    first = CounterBreak(B[0] + timedelta(hours=3), final=5.0, initial=0.0, kind="reset")
    second = CounterBreak(B[0] + timedelta(hours=9), final=1.0, initial=100.0)
    readings = {B[0]: 4.0, B[1]: 100.5}
    assert calc.differences(readings, B[:2], None, [second, first]) == [2.5]  # 1.0 + 1.0 + 0.5
    # a recorded final below the opening reading is a wrong record: no value rather than a guess
    wrong = CounterBreak(B[0] + timedelta(hours=3), final=3.0, initial=0.0)
    assert calc.differences(readings, B[:2], None, [wrong]) == [None]


def test_missing_reading_is_missing_even_with_a_break() -> None:
    replaced = CounterBreak(B[1] + timedelta(hours=1), final=5.0, initial=0.0)
    assert calc.differences({B[0]: 4.0}, B[:3], Q_MOD, [replaced]) == [None, None]
