"""The pure rules of the balance reports (slice H2): 4.3.3 building_balance (cells by 4.1.5, ratios, norms,
months), 4.3.2 phase_balance (shares, deviations, imbalance), 4.3.9 meter_card (which channels) and the
bounds of a consumption norm. Figures are worked out by hand in the comments."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.reports.r_building_balance import figure_cell, month_list, norm_of, norm_ratio, ratio
from cloud.reports.r_meter_card import chosen_channels
from cloud.reports.r_phase_balance import day_list, phase_stats
from cloud.reports.table import MISSING, Partial
from cloud.services.models import ChannelInfo, Figure, InvalidInput, MeterInfo
from cloud.services.norms import MAXIMUM, check_norm, parse_resource
from protocol.vocabulary import MeterRole, Resource


def fig(value: float | None, expected: int = 1, known: int | None = None) -> Figure:
    return Figure(value, expected, expected if known is None else known)


def test_cells_follow_4_1_5() -> None:
    assert figure_cell(Figure()) is None  # nothing expected: an empty cell, not a mark
    assert figure_cell(fig(None, 2, 0)) is MISSING  # expected, nothing known: «–*»
    assert figure_cell(fig(1.77, 2, 1)) == Partial(1.77)  # one of two known: «1,77*»
    assert figure_cell(fig(3.5, 2)) == 3.5


def test_ratios_only_of_complete_figures() -> None:
    # ОДПУ 4.5 / ИПУ 4.2 = 1.071428... -> 1.0714
    assert ratio(fig(4.5), fig(4.2, 4)) == pytest.approx(1.0714)
    assert ratio(fig(4.5), fig(2.55, 4, 3)) is None  # a partial sum gives no ratio
    assert ratio(fig(4.5), Figure()) is None  # no apartment meter
    assert ratio(fig(4.5), fig(0.0)) is None  # nothing to divide by
    # ИПУ 4.2 / norm 3.2 = 1.3125
    assert norm_ratio(fig(4.2, 4), 3.2) == pytest.approx(1.3125)
    assert norm_ratio(fig(4.2, 4), None) is None
    assert norm_ratio(fig(2.55, 4, 3), 3.2) is None


def test_norm_is_basis_times_norm() -> None:
    # residents 2 + 3 + 1 = 6 x 4.5 m³ = 27.0; areas 50 + 70 + 40 = 160 m² x 0.02 Gcal = 3.2
    assert norm_of([2, 3, 1], 4.5) == pytest.approx(27.0)
    assert norm_of([50.0, 70.0, 40.0], 0.02) == pytest.approx(3.2)
    assert norm_of([2, 3], None) is None  # no norm set
    assert norm_of([], 4.5) is None  # no premise with a meter


def test_months_of_a_period() -> None:
    assert month_list(date(2025, 11, 1), date(2026, 2, 1)) == [date(2025, 11, 1), date(2025, 12, 1),
                                                               date(2026, 1, 1), date(2026, 2, 1)]
    assert len(month_list(date(2024, 1, 1), date(2025, 12, 1))) == 24
    with pytest.raises(InvalidInput, match=r"^last: a period of at most 24 months, got 25"):
        month_list(date(2024, 1, 1), date(2026, 1, 1))
    with pytest.raises(InvalidInput, match=r"^first: 2026-02 is after last 2026-01"):
        month_list(date(2026, 2, 1), date(2026, 1, 1))
    assert len(day_list(date(2025, 1, 1), date(2025, 12, 31))) == 365
    with pytest.raises(InvalidInput, match=r"^last: a period of at most 366 days, got 367"):
        day_list(date(2025, 1, 1), date(2026, 1, 2))


def test_phase_shares_deviations_and_imbalance() -> None:
    # A 10, B 12, C 8: sum 30, mean 10; shares 33.33 / 40 / 26.67 %; deviations 0 / +20 / -20 %; 12 - 8 = 4 = 40 %
    stats = phase_stats([fig(10.0), fig(12.0), fig(8.0)])
    assert stats is not None
    assert stats.shares == (33.33, 40.0, 26.67)
    assert stats.deviations == (0.0, 20.0, -20.0)
    assert (stats.imbalance, stats.imbalance_pct) == (4.0, 40.0)
    # no meter on phase C: it carries nothing. A 6, B 3, C 0: sum 9, mean 3; 66.67 / 33.33 / 0 %;
    # +100 / 0 / -100 %; 6 - 0 = 6 = 200 % of the mean
    stats = phase_stats([fig(6.0), fig(3.0), Figure()])
    assert stats is not None
    assert stats.shares == (66.67, 33.33, 0.0)
    assert stats.deviations == (100.0, 0.0, -100.0)
    assert (stats.imbalance, stats.imbalance_pct) == (6.0, 200.0)
    assert phase_stats([fig(10.0), fig(12.0, 2, 1), fig(8.0)]) is None  # a partial phase: never taken as known
    assert phase_stats([fig(10.0), fig(None), fig(8.0)]) is None
    assert phase_stats([Figure(), Figure(), Figure()]) is None  # no single-phase meter at all
    assert phase_stats([fig(0.0), fig(0.0), fig(0.0)]) is None  # no load: no shares


def _meter(*channels: ChannelInfo) -> MeterInfo:
    return MeterInfo(1, "307T0001", "KARAT-307", MeterRole.COMMON, 1, None, None, channels, "", "", "in_service")


def test_card_channels() -> None:
    heat = ChannelInfo(1, Resource.HEAT, ("Q", "V1", "V2", "T1", "T2"))
    hot = ChannelInfo(2, Resource.HOT_WATER, ("V",))
    cold = ChannelInfo(3, Resource.COLD_WATER, ("V",))
    meter = _meter(hot, heat, cold)
    assert chosen_channels(meter, "heat_and_hot_water", None) == (heat, hot)  # heat first, side by side
    assert chosen_channels(meter, "resource", Resource.COLD_WATER) == (cold,)
    assert chosen_channels(meter, "resource", None) == (hot,)  # the meter's first resource
    with pytest.raises(InvalidInput, match=r"^resource: meter 307T0001 does not measure gas"):
        chosen_channels(meter, "resource", Resource.GAS)
    with pytest.raises(InvalidInput, match=r"^mode: meter 307T0001 measures neither heat nor hot water"):
        chosen_channels(_meter(cold), "heat_and_hot_water", None)


def test_norm_bounds() -> None:
    assert check_norm(Resource.HEAT, 0.02) == 0.02
    assert check_norm(Resource.GAS, MAXIMUM[Resource.GAS]) == MAXIMUM[Resource.GAS]
    for bad in (0, -0.5, MAXIMUM[Resource.HEAT] + 0.001, float("nan"), float("inf"), None, "1", False):
        with pytest.raises(InvalidInput, match=r"^value: a heat norm"):
            check_norm(Resource.HEAT, bad)
    assert parse_resource("sewage") is Resource.SEWAGE
    with pytest.raises(InvalidInput, match=r"^resource: one of heat, hot_water"):
        parse_resource("steam")
