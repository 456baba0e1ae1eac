"""The rules of manual 4.1.1 and 4.6.10 as pure functions (cloud/services/overview.py), with
hand-computed cases: specific consumption of a complete, partial and missing sum, the allowed
imbalance's fallback and when an imbalance is above it, percent checks. (The signed apartments'
sum is cloud/services/balance_rules.py's, tested in test_balance_rules.py.)"""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from cloud.services.models import Figure, Granularity, InvalidInput
from cloud.services.overview import (
    BUILT_IN_IMBALANCE_PCT,
    ImbalanceLimit,
    allowed,
    check_percent,
    check_resource,
    imbalance_status,
    label_of,
    specific,
)
from protocol.vocabulary import Resource

HEAT = Resource.HEAT


def test_specific_consumption() -> None:
    # 0.84 Gcal over 120 m² = 0.007
    assert specific(Figure(0.84, 1, 1), 120.0) == (pytest.approx(0.007), "complete")
    # a partial sum gives its known part over the whole denominator, marked partial: 0.24 / 120 = 0.002
    assert specific(Figure(0.24, 2, 1), 120.0) == (pytest.approx(0.002), "partial")
    # nothing known: null, missing (not zero)
    assert specific(Figure(None, 2, 0), 120.0) == (None, "missing")
    # no meter of the resource, or nothing to divide by
    assert specific(Figure(), 120.0) == (None, "no_meters")
    assert specific(Figure(0.84, 1, 1), 0.0) == (None, "no_denominator")
    assert specific(Figure(0.84, 1, 1), None) == (None, "no_denominator")
    # a zero consumption that is known is a zero: 0 / 5 residents
    assert specific(Figure(0.0, 1, 1), 5) == (0.0, "complete")


def test_allowed_imbalance_falls_back_building_city_built_in() -> None:
    assert allowed(HEAT, 7.5, 20.0) == ImbalanceLimit(HEAT, 7.5, "building")
    assert allowed(HEAT, None, 20.0) == ImbalanceLimit(HEAT, 20.0, "city")
    assert allowed(HEAT, None, None) == ImbalanceLimit(HEAT, BUILT_IN_IMBALANCE_PCT, "built_in")
    # 0 % is a value (nothing allowed), not "unset"
    assert allowed(HEAT, 0.0, 20.0) == ImbalanceLimit(HEAT, 0.0, "building")


def test_imbalance_status() -> None:
    limit = ImbalanceLimit(HEAT, 10.0, "city")
    assert imbalance_status(False, None, None, limit) == "not_applicable"
    assert imbalance_status(True, None, None, limit) == "incomplete"
    assert imbalance_status(True, -0.3, None, limit) == "no_percent"  # building meter 0: no % of it
    assert imbalance_status(True, 0.12, 14.29, limit) == "over_limit"  # 0.12 of 0.84 = 14.29 % > 10 %
    assert imbalance_status(True, 0.08, 10.0, limit) == "within_limit"  # exactly the limit is allowed
    assert imbalance_status(True, -0.2, -12.5, limit) == "over_limit"  # apartments above the building: its size counts


def test_check_percent() -> None:
    assert check_percent("p", None) is None
    assert check_percent("p", 0) == 0.0
    assert check_percent("p", 100) == 100.0
    assert check_percent("p", 12.5) == 12.5
    for bad in (-0.1, 100.01, math.nan, math.inf, -math.inf, "10", True):
        with pytest.raises(InvalidInput, match=r"^limits\[3\]\.percent: "):
            check_percent("limits[3].percent", bad)


def test_check_resource_and_period() -> None:
    assert check_resource("r", "cold_water") is Resource.COLD_WATER
    with pytest.raises(InvalidInput, match="r: one of heat"):
        check_resource("r", "steam")
    assert label_of(Granularity.DAY, date(2026, 1, 11)) == datetime(2026, 1, 11)
    assert label_of(Granularity.MONTH, date(2026, 1, 20)) == datetime(2026, 1, 1)
    assert label_of("month", date(2026, 2, 28)) == datetime(2026, 2, 1)
    with pytest.raises(InvalidInput, match="granularity"):
        label_of(Granularity.HOUR, date(2026, 1, 11))
    with pytest.raises(InvalidInput, match="period"):
        label_of(Granularity.DAY, date(1990, 1, 1))
