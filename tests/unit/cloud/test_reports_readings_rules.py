"""The rules of the readings exports (4.3.7, 4.3.8, 4.3.12) and of cloud/reports/readings.py that need no
storage: reporting-period boundaries, service periods, which record keys a reading comes from, the
consumption between two readings across a wrap and a recorded break, sums with missing parts, the premise
order. Every figure is worked out by hand in the comments. The stored-archive side is in
tests/integration/test_reports_exports.py."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cloud.reports import readings as rd
from cloud.reports.r_apartment_register import consumption_between, period_of, sum_cell
from cloud.reports.r_building_day import figure_cell
from cloud.reports.r_monthly_readings import boundary_of, in_service, premise_order, reading_cells
from cloud.reports.table import MISSING, Partial
from cloud.services.consumption import CounterBreak
from cloud.services.models import ChannelInfo, Figure, MeterInfo
from protocol import catalogue
from protocol.periods import zone
from protocol.vocabulary import ArchiveKind, MeterRole, Resource

MSK = zone("Europe/Moscow")  # UTC+3 all year
WRAP = catalogue.model("KARAT-Compact-2-223").counter("Q").modulus  # type: ignore[union-attr]
HEAT = ChannelInfo(1, Resource.HEAT, ("Q",))
d = datetime


def meter(model: str = "KARAT-Compact-2-223", channels: tuple[ChannelInfo, ...] = (HEAT,), reporting_day: int = 1,
          commissioned: datetime | None = None, decommissioned: datetime | None = None,
          status: str = "in_service", archives: str = "hour, day, month, integral", tariffs: int = 0) -> MeterInfo:
    return MeterInfo(1, "S1", model, MeterRole.INDIVIDUAL, 1, 1, "1", channels, "test", archives, status,
                     commissioned_at=commissioned, decommissioned_at=decommissioned, reporting_day=reporting_day,
                     tariffs=tariffs)


def test_month_close_is_the_reporting_day_of_the_next_month() -> None:
    # December with reporting day 1 closes on Jan 1 00:00; with day 15 on Jan 15 00:00
    assert rd.month_close(meter(), date(2025, 12, 1)) == d(2026, 1, 1)
    assert rd.month_close(meter(reporting_day=15), date(2025, 12, 1)) == d(2026, 1, 15)
    assert rd.month_close(meter(reporting_day=28), date(2026, 1, 1)) == d(2026, 2, 28)


def test_expected_at_includes_both_ends_of_service() -> None:
    # commissioned Dec 10 10:00 MSK = 07:00 UTC; decommissioned Dec 20 12:00 MSK = 09:00 UTC
    m = meter(commissioned=d(2025, 12, 10, 7, tzinfo=UTC), decommissioned=d(2025, 12, 20, 9, tzinfo=UTC))
    assert not rd.expected_at(m, d(2025, 12, 10, 9), MSK)
    assert rd.expected_at(m, d(2025, 12, 10, 10), MSK)
    assert rd.expected_at(m, d(2025, 12, 20, 12), MSK)
    assert not rd.expected_at(m, d(2025, 12, 20, 13), MSK)
    assert not rd.expected_at(meter(status="commissioning"), d(2026, 1, 1), MSK)  # never commissioned


def test_in_service_during_a_period() -> None:
    dec = (d(2025, 12, 1), d(2026, 1, 1))
    # decommissioned exactly at the start (Dec 1 00:00 MSK = Nov 30 21:00 UTC): no longer in service
    assert not in_service(meter(decommissioned=d(2025, 11, 30, 21, tzinfo=UTC)), *dec, MSK)
    assert in_service(meter(decommissioned=d(2025, 11, 30, 22, tzinfo=UTC)), *dec, MSK)
    # commissioned exactly at the end: not yet
    assert not in_service(meter(commissioned=d(2025, 12, 31, 21, tzinfo=UTC)), *dec, MSK)
    assert in_service(meter(commissioned=d(2025, 12, 15, tzinfo=UTC)), *dec, MSK)
    assert not in_service(meter(status="commissioning"), *dec, MSK)


def test_boundary_of_a_meter_leaving_service_in_the_month() -> None:
    left = meter(decommissioned=d(2025, 12, 20, 9, tzinfo=UTC))  # 12:00 MSK
    assert boundary_of(left, date(2025, 12, 1), MSK) == d(2025, 12, 20, 12)
    assert boundary_of(meter(), date(2025, 12, 1), MSK) == d(2026, 1, 1)


def test_reading_keys_by_archive_kind() -> None:
    # Jan 1 00:00 MSK closes December for reporting day 1: the month record keyed Dec 1 00:00 MSK (Nov 30
    # 21:00 UTC), the day record of Dec 31 (Dec 30 21:00 UTC), the hour record of Dec 31 23:00 (20:00 UTC)
    keys = dict(rd._keys(meter(), d(2026, 1, 1), MSK))
    assert keys == {ArchiveKind.MONTH: (d(2025, 11, 30, 21, tzinfo=UTC),),
                    ArchiveKind.DAY: (d(2025, 12, 30, 21, tzinfo=UTC),),
                    ArchiveKind.HOUR: (d(2025, 12, 31, 20, tzinfo=UTC),)}
    # reporting day 15: Jan 1 is no month boundary; Jan 15 is, keyed Dec 15 or (as the edge keys it) Dec 1
    assert ArchiveKind.MONTH not in dict(rd._keys(meter(reporting_day=15), d(2026, 1, 1), MSK))
    assert dict(rd._keys(meter(reporting_day=15), d(2026, 1, 15), MSK))[ArchiveKind.MONTH] == (
        d(2025, 12, 14, 21, tzinfo=UTC), d(2025, 11, 30, 21, tzinfo=UTC))
    # a KARAT-307 keeps no month archive; 12:00 is a boundary of hours only
    assert [k for k, _ in rd._keys(meter("KARAT-307"), d(2026, 1, 1), MSK)] == [ArchiveKind.DAY, ArchiveKind.HOUR]
    assert [k for k, _ in rd._keys(meter(), d(2026, 1, 1, 12), MSK)] == [ArchiveKind.HOUR]


def test_tariffs_of_a_two_tariff_meter() -> None:
    e = meter("KARAT-941LW", tuple(ChannelInfo(n, Resource.ELECTRICITY, ("E",)) for n in (1, 2, 3)), tariffs=2)
    assert [rd.tariff_of(e, c) for c in e.channels] == ["total", "T1", "T2"]
    assert rd.parameter_of(e.channels[0]) == "E"
    assert rd.parameter_of(ChannelInfo(1, Resource.HOT_WATER, ("N",))) is None  # a pulse input keeps no V


def test_reading_cells_reading_missing_and_empty() -> None:
    channels = (HEAT, ChannelInfo(2, Resource.HOT_WATER, ("V",)), ChannelInfo(3, Resource.COLD_WATER, ("V",)))
    placed = rd.Placed(meter(channels=channels), "ул. Тестовая, 1", MSK, "", 50.0, 2)
    got = {(1, 1): rd.Reading(13.25, d(2026, 1, 1), ArchiveKind.MONTH)}
    # columns: T1, T2, total, cold water, hot water, heat, gas
    assert reading_cells(placed, d(2026, 1, 1), got) == [None, None, None, MISSING, MISSING, 13.25, None]
    # out of service at the boundary: nothing is missing
    gone = rd.Placed(meter(channels=channels, decommissioned=d(2025, 12, 1, tzinfo=UTC)), "", MSK, "", None, None)
    assert reading_cells(gone, d(2026, 1, 1), {}) == [None] * 7


def test_consumption_between_readings() -> None:
    assert consumption_between(11.5, 13.25, (), WRAP, 1.0, None) == pytest.approx(1.75)
    # across the wrap: (WRAP − (WRAP − 0.1)) + 0.2 = 0.3
    assert consumption_between(WRAP - 0.1, 0.2, (), WRAP, 1.0, None) == pytest.approx(0.3)
    # across a recorded reset: (7.0 − 5.0) + (1.5 − 0.0) = 3.5
    reset = CounterBreak(d(2025, 12, 9, 21, tzinfo=UTC), 7.0, 0.0, "reset")
    assert consumption_between(5.0, 1.5, (reset,), WRAP, 1.0, None) == pytest.approx(3.5)
    # CT ratio 2: the readings come doubled (1100 -> 1200): 100; a break's values are the counter's own
    # (final 600, initial 0), doubled here: (2 x 600 − 1100) + (1200 − 2 x 0) = 100 + 1200 = 1300
    assert consumption_between(1100.0, 1200.0, (), None, 2.0, None) == pytest.approx(100.0)
    assert consumption_between(1100.0, 1200.0, (CounterBreak(d(2025, 12, 9, tzinfo=UTC), 600.0, 0.0),), None,
                               2.0, None) == pytest.approx(1300.0)
    # across the wrap with CT 2: modulus x 2: (2 WRAP − (2 WRAP − 0.2)) + 0.4 = 0.6
    assert consumption_between(2 * (WRAP - 0.1), 0.4, (), WRAP, 2.0, None) == pytest.approx(0.6)
    assert consumption_between(5.0, 4.0, (), None, 1.0, None) is None  # backwards, width unknown
    assert consumption_between(0.0, 500.0, (), WRAP, 1.0, 465.0) is None  # above the plausible 465 (744 h x 0.625)


def test_sum_cells() -> None:
    assert sum_cell([]) is None
    assert sum_cell([None]) is MISSING
    assert sum_cell([1.75, None, 0.3]) == Partial(2.05)  # 1.75 + 0.3 known, one unknown
    assert sum_cell([1.75, 0.3, 3.5]) == pytest.approx(5.55)


def test_figure_cells() -> None:
    assert figure_cell(Figure()) is None  # nothing expected
    assert figure_cell(Figure(None, expected=2, known=0)) is MISSING
    assert figure_cell(Figure(0.24, expected=2, known=1)) == Partial(0.24)
    assert figure_cell(Figure(0.84, expected=1, known=1)) == 0.84


def test_register_period() -> None:
    assert period_of(date(2025, 12, 1), 1) == (d(2025, 12, 1), d(2026, 1, 1))
    assert period_of(date(2025, 12, 1), 15) == (d(2025, 12, 15), d(2026, 1, 15))
    assert period_of(date(2026, 2, 1), 28) == (d(2026, 2, 28), d(2026, 3, 28))


def test_premise_order_is_numeric() -> None:
    numbers = ["10", "2", "12а", "12", None, "1", "подвал"]
    assert sorted(numbers, key=premise_order) == [None, "1", "2", "10", "12", "12а", "подвал"]
