"""Pure rules of the billing document (manual 4.4.1) and of meters' numbers in ГИС ЖКХ: which channel
gives Т1/Т2/Т3, the months in a row without a reading, the template's text forms, the columns as the
ГИС ЖКХ import names them, and what a ГИС number and an import line may be. Figures by hand."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cloud.billing import document as doc
from cloud.billing.gis_numbers import check_number, parse_lines
from cloud.services.models import ChannelInfo, InvalidInput, MeterInfo
from protocol.vocabulary import MeterRole, Resource


def _meter(model: str, channels: tuple[ChannelInfo, ...], tariffs: int = 0) -> MeterInfo:
    return MeterInfo(1, "S1", model, MeterRole.INDIVIDUAL, 1, 1, "1", channels, "test", "hour, integral",
                     "in_service", tariffs=tariffs)


def _e(number: int, tariff: str) -> ChannelInfo:
    return ChannelInfo(number, Resource.ELECTRICITY, ("E",), tariff)


def test_a_single_tariff_meter_gives_its_total_in_t1() -> None:
    meter = _meter("KARAT-941LW", (_e(1, "total"),))
    assert [(x.resource, x.channels, x.zones) for x in doc.lines_of(meter)] == [
        (Resource.ELECTRICITY, (1, None, None), 0)]


def test_a_one_zone_meter_is_single_tariff() -> None:
    # with_tariffs(1): channel 1 the total, channel 2 the one zone T1; the total is the reading
    meter = _meter("KARAT-941LW", (_e(1, "total"), _e(2, "T1")), tariffs=1)
    assert doc.lines_of(meter)[0].channels == (1, None, None)


def test_a_two_tariff_meter_gives_day_in_t1_and_night_in_t2() -> None:
    meter = _meter("KARAT-941LW", (_e(1, "total"), _e(2, "T1"), _e(3, "T2")), tariffs=2)
    line = doc.lines_of(meter)[0]
    assert (line.channels, line.zones) == ((2, 3, None), 2)


def test_three_zones_fill_t3_and_four_are_counted() -> None:
    three = _meter("KARAT-941LW", (_e(1, "total"), _e(2, "T1"), _e(3, "T2"), _e(4, "T3")), tariffs=3)
    assert doc.lines_of(three)[0].channels == (2, 3, 4)
    four = _meter("KARAT-941LW", (_e(1, "total"), _e(2, "T1"), _e(3, "T2"), _e(4, "T3"), _e(5, "T4")), tariffs=4)
    assert doc.lines_of(four)[0].zones == 4  # the document puts it in «Ошибки»: the template has three


def test_one_row_per_resource_from_its_counting_channel() -> None:
    meter = _meter("KARAT-Compact-2-223", (ChannelInfo(1, Resource.HEAT, ("Q",)),
                                           ChannelInfo(2, Resource.HOT_WATER, ("V",)),
                                           ChannelInfo(3, Resource.COLD_WATER, ("T",))))  # keeps no counter
    assert [(x.resource, x.channels) for x in doc.lines_of(meter)] == [
        (Resource.HEAT, (1, None, None)), (Resource.HOT_WATER, (2, None, None))]


def test_months_in_a_row() -> None:
    # newest first: False no reading (counted), True a reading (ends), None not closed yet (skipped)
    assert doc.months_in_a_row([False, False, False, True, False]) == 3
    assert doc.months_in_a_row([True, False]) == 0
    assert doc.months_in_a_row([None, False, False, True]) == 2
    assert doc.months_in_a_row([False] * 12) == 12
    assert doc.months_in_a_row([]) == 0


def test_previous_months_cross_the_year() -> None:
    assert doc.previous_months(date(2026, 2, 1), 4) == [date(2026, 2, 1), date(2026, 1, 1), date(2025, 12, 1),
                                                       date(2025, 11, 1)]


def test_template_text_forms() -> None:
    assert doc.period_text(date(2025, 3, 1)) == "03.2025"
    assert doc.day_text(datetime(2026, 1, 1, 0, 0)) == "01.01.2026"
    assert doc.day_text(date(2025, 10, 9)) == "09.10.2025"


def test_month_not_begun_is_refused() -> None:
    doc.check_month(date(2026, 1, 1), date(2026, 1, 14))  # the current month may be asked
    with pytest.raises(InvalidInput, match="month"):
        doc.check_month(date(2026, 2, 1), date(2026, 1, 14))


def test_columns_and_resources_in_gis_wording() -> None:
    assert [c.header for c in doc.IPU_COLUMNS] == [
        "Адрес", "Номер помещения", "Лицевой счёт", "Номер ПУ в ГИС ЖКХ", "Заводской номер ПУ",
        "Коммунальный ресурс", "Период", "Показание Т1", "Показание Т2", "Показание Т3", "Дата снятия показаний",
        "Фактическое показание"]
    assert [c.header for c in doc.ODPU_COLUMNS] == [c.header for c in doc.IPU_COLUMNS if c.key not in
                                                    ("premise", "account")]
    assert all(c.decimals == 7 and c.kind == "number" for c in doc.IPU_COLUMNS if c.key in ("t1", "t2", "t3"))
    assert doc.GIS_RESOURCE == {Resource.COLD_WATER: "Холодная вода", Resource.HOT_WATER: "Горячая вода",
                                Resource.ELECTRICITY: "Электрическая энергия", Resource.HEAT: "Тепловая энергия",
                                Resource.GAS: "Газ", Resource.SEWAGE: "Сточные воды"}
    assert doc.SPEC.key == "billing_document"
    assert doc.SPEC.section == "4.4.1"
    assert [p.name for p in doc.SPEC.params] == ["month", "building"]
    assert doc.SPEC.params[0].default == "last_month"


@pytest.mark.parametrize(("given", "stored"), [("  1234-AB/56 ", "1234-AB/56"), ("", ""), ("   ", ""),
                                               ("х" * 40, "х" * 40), ("Номер 7", "Номер 7")])
def test_gis_number_accepted(given: str, stored: str) -> None:
    assert check_number(given) == stored


@pytest.mark.parametrize(("given", "why"), [("x" * 41, "at most 40"), ("12\t34", "printable"),
                                            ("12\n34", "printable"), ("a\x00b", "printable"), (12, "text")])
def test_gis_number_refused(given: object, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as e:
        check_number(given)
    assert str(e.value).startswith("gis_number:")


def test_import_lines() -> None:
    text = "\ufeff223T0001;ГИС-1\n\n 223T0002\tГИС-2 \n941T0001,\n\"307T0001\";\"ОДПУ-1\"\n"
    assert parse_lines(text) == [("223T0001", "ГИС-1"), ("223T0002", "ГИС-2"), ("941T0001", ""),
                                 ("307T0001", "ОДПУ-1")]
    with pytest.raises(InvalidInput, match="line 2"):
        parse_lines("a;1\nb;2;3\n")
    with pytest.raises(InvalidInput, match="line 1"):
        parse_lines("only-a-serial\n")


def test_left_during_the_period() -> None:
    from dataclasses import replace
    from datetime import UTC
    from zoneinfo import ZoneInfo
    tz = ZoneInfo("Europe/Moscow")  # UTC+3
    meter = _meter("KARAT-Compact-2-223", (ChannelInfo(1, Resource.HEAT, ("Q",)),))
    december = date(2025, 12, 1)
    assert doc.left_during(meter, december, tz) is None  # still in service
    # 2025-12-20 00:00 UTC = 03:00 local on the 20th, inside [12-01 00:00, 01-01 00:00) local
    gone = replace(meter, decommissioned_at=datetime(2025, 12, 20, tzinfo=UTC))
    assert doc.left_during(gone, december, tz) == date(2025, 12, 20)
    assert doc.left_during(gone, date(2025, 11, 1), tz) is None  # November closed before it left
    # the period's first instant (2025-12-01 00:00 local = 11-30 21:00 UTC) belongs to November's closing
    edge = replace(meter, decommissioned_at=datetime(2025, 11, 30, 21, tzinfo=UTC))
    assert doc.left_during(edge, december, tz) is None
    # with reporting day 15, December runs 12-15 .. 01-15: a meter gone on 12-10 left in November's period
    late = replace(meter, reporting_day=15, decommissioned_at=datetime(2025, 12, 10, tzinfo=UTC))
    assert doc.left_during(late, december, tz) is None
    assert doc.left_during(late, date(2025, 11, 1), tz) == date(2025, 12, 10)
