"""The chart-only estimate of short gaps (cloud/services/estimate.py, manual 4.1.6), worked by hand:
a run of missing periods between two known values, no longer than the bound, is the straight line
between them; a longer run, or one at an edge, stays missing; a period nothing was expected of
(None, not missing) is never bridged."""

from __future__ import annotations

import pytest

from cloud.services.estimate import MAX_GAP, bounded_estimate, chart_estimate
from cloud.services.models import Granularity

M, K = True, False  # missing (expected, nothing known) / known or not expected


def test_two_missing_hours_between_one_and_four_are_two_and_three() -> None:
    # step = (4.0 - 1.0) / (2 + 1) = 1.0: 1.0 + 1.0 = 2.0, 1.0 + 2.0 = 3.0
    values = [1.0, None, None, 4.0]
    assert bounded_estimate(values, [K, M, M, K], 6) == [None, 2.0, 3.0, None]


def test_one_missing_day_is_the_mean_of_its_neighbours() -> None:
    # (0.5 + 0.8) / 2 = 0.65
    assert chart_estimate([0.5, None, 0.8], [K, M, K], Granularity.DAY) == [None, 0.65, None]


def test_a_gap_longer_than_the_bound_is_left_missing() -> None:
    # 3 missing days > MAX_GAP[DAY] = 2: nothing
    assert chart_estimate([1.0, None, None, None, 5.0], [K, M, M, M, K], Granularity.DAY) == [None] * 5
    # 7 missing hours > 6: nothing; exactly 6 hours between 0.0 and 7.0: 1.0 ... 6.0
    assert chart_estimate([0.0, *[None] * 7, 8.0], [K, *[M] * 7, K], Granularity.HOUR) == [None] * 9
    assert chart_estimate([0.0, *[None] * 6, 7.0], [K, *[M] * 6, K], Granularity.HOUR) == [
        None, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, None]


def test_a_gap_at_either_edge_is_left_missing() -> None:
    assert bounded_estimate([None, 2.0, 3.0], [M, K, K], 6) == [None, None, None]
    assert bounded_estimate([2.0, 3.0, None], [K, K, M], 6) == [None, None, None]
    assert bounded_estimate([None, None], [M, M], 6) == [None, None]


def test_a_period_nothing_was_expected_of_ends_a_run_unbridged() -> None:
    # index 2 is not due / outside service (None, not missing): neither it nor the run touching it is filled
    assert bounded_estimate([1.0, None, None, 3.0], [K, M, K, K], 6) == [None, None, None, None]
    # two separate one-period gaps are each bridged: (1+3)/2 = 2.0, (3+7)/2 = 5.0
    assert bounded_estimate([1.0, None, 3.0, None, 7.0], [K, M, K, M, K], 6) == [None, 2.0, None, 5.0, None]


def test_a_partial_sum_is_never_replaced() -> None:
    # a known (partial) value is not None: it is drawn as it is and never estimated over
    assert bounded_estimate([1.0, 1.5, 4.0], [K, M, K], 6) == [None, None, None]


def test_months_are_never_estimated_and_the_bounds_are_the_manuals() -> None:
    assert MAX_GAP == {Granularity.HOUR: 6, Granularity.DAY: 2, Granularity.MONTH: 0}
    assert chart_estimate([1.0, None, 3.0], [K, M, K], Granularity.MONTH) == [None, None, None]


def test_flags_must_match_the_values() -> None:
    with pytest.raises(ValueError, match="one flag per value"):
        bounded_estimate([1.0, None], [K], 6)
