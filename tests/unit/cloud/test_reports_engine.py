"""The report engine's parameters (cloud/reports/engine.py): text from a query string or a form
parsed by kind, defaults worked out on the day, and every refusal an InvalidInput that names the
parameter (the API answers 422 with it, the page puts it next to the form). Figures by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cloud.reports.engine import (
    MAX_SPAN_DAYS,
    Param,
    ReportSpec,
    check_period,
    file_stem,
    month_label,
    parse,
)
from cloud.services.models import InvalidInput
from protocol.vocabulary import Resource

TODAY = date(2026, 1, 14)


async def _build(ctx: Any, params: dict[str, Any]) -> Any:
    raise AssertionError("not built in these tests")


SPEC = ReportSpec("t", "Тест", "4.3.0", (
    Param("building", "building", "Объект"),
    Param("meter", "meter", "Прибор", required=False),
    Param("resource", "resource", "Ресурс", default="heat"),
    Param("water", "resource", "Вода", required=False,
          choices=(("cold_water", "ХВС"), ("hot_water", "ГВС"))),
    Param("month", "month", "Месяц", default="last_month"),
    Param("first", "day", "С", default="today"),
    Param("last", "day", "По", default="today"),
    Param("view", "choice", "Разрез", choices=(("a", "А"), ("b", "Б")), default="a"),
    Param("flag", "flag", "Флаг", default="false"),
    Param("note", "text", "Примечание", required=False),
), _build, check=check_period())


def _refusal(raw: dict[str, Any], today: date = TODAY) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(SPEC, raw, today)
    return str(caught.value)


def test_defaults_are_worked_out_on_the_day() -> None:
    parsed = parse(SPEC, {"building": "12"}, TODAY)
    # last_month on 2026-01-14: December 2025; today: 2026-01-14 for both ends of the period
    assert parsed == {"building": 12, "meter": None, "resource": Resource.HEAT, "water": None,
                      "month": date(2025, 12, 1), "first": TODAY, "last": TODAY, "view": "a", "flag": False,
                      "note": None}
    # on 31 March the last month is February (not "31 February")
    assert parse(SPEC, {"building": "1"}, date(2026, 3, 31))["month"] == date(2026, 2, 1)
    # this_month, and a value with spaces around it, and an empty one that falls back to the default
    spec = ReportSpec("m", "М", "4.3.0", (Param("month", "month", "Месяц", default="this_month"),), _build)
    assert parse(spec, {"month": ""}, TODAY) == {"month": date(2026, 1, 1)}
    assert parse(spec, {"month": " 2024-02 "}, TODAY) == {"month": date(2024, 2, 1)}


def test_values_of_every_kind() -> None:
    parsed = parse(SPEC, {"building": "7", "meter": "9223372036854775807", "resource": "electricity",
                          "water": "hot_water", "month": "2000-01", "first": "2026-01-01", "last": "2026-01-31",
                          "view": "b", "flag": "Yes", "note": "  заметка "}, TODAY)
    assert parsed == {"building": 7, "meter": 9223372036854775807, "resource": Resource.ELECTRICITY,
                      "water": Resource.HOT_WATER, "month": date(2000, 1, 1), "first": date(2026, 1, 1),
                      "last": date(2026, 1, 31), "view": "b", "flag": True, "note": "заметка"}
    assert parse(SPEC, {"building": "7", "flag": "0"}, TODAY)["flag"] is False
    assert parse(SPEC, {"building": "7", "format": "xlsx"}, TODAY)["building"] == 7  # the API's own name


@pytest.mark.parametrize(("raw", "named"), [
    ({}, "building: required (Объект)"),
    ({"building": "1", "bulding": "2"}, "bulding: not a parameter of report t"),
    ({"building": "0"}, "building: a registry id"),
    ({"building": "-3"}, "building: a registry id"),
    ({"building": "1.5"}, "building: a registry id"),
    ({"building": "9223372036854775808"}, "building: a registry id"),  # past SQLite's INTEGER
    ({"building": "²"}, "building: a registry id"),  # a digit to str.isdigit, not to int()
    ({"building": "١٢"}, "building: a registry id"),  # Arabic-Indic digits: ASCII ids only
    ({"building": "1", "meter": "x"}, "meter: a registry id"),
    ({"building": "1", "resource": "steam"}, "resource: one of heat, hot_water"),
    ({"building": "1", "water": "heat"}, "water: one of cold_water, hot_water, got 'heat'"),
    ({"building": "1", "month": "2026-13"}, "month: a month as YYYY-MM"),
    ({"building": "1", "month": "2026-00"}, "month: a month as YYYY-MM"),
    ({"building": "1", "month": "2026-1"}, "month: a month as YYYY-MM"),
    ({"building": "1", "month": "1999-12"}, "month: a month from 2000-01 to 2100-12"),
    ({"building": "1", "month": "9999-12"}, "month: a month from 2000-01 to 2100-12"),
    ({"building": "1", "first": "2026-02-30"}, "first: a date as YYYY-MM-DD"),
    ({"building": "1", "first": "1999-12-31"}, "first: a date from 2000-01-01 to 2100-12-31"),
    ({"building": "1", "view": "c"}, "view: one of a, b, got 'c'"),
    ({"building": "1", "flag": "maybe"}, "flag: true or false"),
    ({"building": "1", "note": "я" * 301}, "note: at most 300 characters"),
    # the spec's check: first after last, and a span over ten years
    ({"building": "1", "first": "2026-01-10", "last": "2026-01-09"}, "first: 2026-01-10 is after last 2026-01-09"),
    ({"building": "1", "first": "2000-01-01", "last": "2026-01-01"}, f"last: a period of at most {MAX_SPAN_DAYS}"),
])
def test_a_refusal_names_the_parameter(raw: dict[str, Any], named: str) -> None:
    assert _refusal(raw).startswith(named)


def test_a_period_of_exactly_the_longest_span_is_accepted() -> None:
    # 2016-01-01 + 3660 days: 2016..2025 hold three leap days (2016, 2020, 2024), 3653 days to
    # 2026-01-01, and 7 more to 2026-01-08
    parsed = parse(SPEC, {"building": "1", "first": "2016-01-01", "last": "2026-01-08"}, TODAY)
    assert (parsed["last"] - parsed["first"]).days == MAX_SPAN_DAYS
    assert _refusal({"building": "1", "first": "2016-01-01", "last": "2026-01-09"}).startswith("last:")


def test_file_stem_and_month_label() -> None:
    assert file_stem("monthly_readings", 12, date(2026, 1, 1)) == "monthly_readings_12_2026-01-01"
    # ASCII only, a browser keeps it: "ул" and " Тестовая " become "-", the "." stays
    assert file_stem("meter_card", None, "ул. Тестовая 1") == "meter_card_-.-1"
    assert len(file_stem("k", "x" * 500)) == 120
    assert month_label(date(2026, 11, 1)) == "ноябрь 2026"
