"""Reports of the tests' own for the reports API and page (tests/integration/test_reports_api.py,
tests/ui/test_reports_ui.py): the real twelve are other slices' work, and the API and the page must
work for any report the catalogue holds. ``install(services)`` puts them in ``services.reports``.

- ``all_kinds``: one parameter of every kind; echoes them as read through the services (so another
  company's building is NotFound), and a sheet of numbers with a missing and a partial value.
- ``slow``: tells its progress and waits for ``GATE`` to open (the page must stay usable meanwhile).
- ``failing``: refuses (a service error) or breaks (a bug), as its parameter ``how`` says.
- ``big``: 50,000 rows from a generator (written in write-only mode, never held as cells).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from cloud.reports.engine import RESOURCE_RU, Param, ReportContext, ReportSpec, file_stem
from cloud.reports.table import MISSING, Cell, Column, Partial, Report, Sheet
from cloud.services.models import InvalidInput, NotFound

BIG_ROWS = 50_000


class Gate:
    """What the slow report waits for; a new one per test (an Event binds to the loop that waits on it)."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.reached = asyncio.Event()


GATE = Gate()


def reset_gate() -> Gate:
    global GATE  # the one gate the slow report reads; each test gets a new one
    GATE = Gate()
    return GATE


def _day_not_before_month(params: dict[str, Any]) -> None:
    if params["day"] < params["month"]:
        raise InvalidInput(f"day: {params['day']} is before the month {params['month']:%Y-%m}")


async def _all_kinds(ctx: ReportContext, params: dict[str, Any]) -> Report:
    s, token = ctx.services, ctx.token
    building = await s.accounting.building(token, params["building"])
    ctx.progress(1, 3, "объект")
    premise = meter = group = None
    if params["premise"] is not None:
        premise = await s.accounting.premise(token, params["premise"])
        if premise.building_id != building.id:
            raise InvalidInput(f"premise: {premise.id} is not in building {building.id}")
    if params["meter"] is not None:
        meter = await s.accounting.meter(token, params["meter"])
        if meter.building_id != building.id:
            raise InvalidInput(f"meter: {meter.id} is not in building {building.id}")
    if params["group"] is not None:
        group = await s.balance_groups.group(token, params["group"])
    ctx.progress(2, 3, "параметры")
    echo: list[tuple[Cell, ...]] = [
        ("building", building.address), ("premise", premise.number if premise else None),
        ("meter", meter.serial if meter else None), ("group", group.name if group else None),
        ("resource", RESOURCE_RU[params["resource"]]), ("month", params["month"]), ("day", params["day"]),
        ("choice", params["choice"]), ("text", params["text"]), ("flag", params["flag"])]
    numbers = Sheet("Числа", (Column("Квартира"), Column("Расход", "Гкал", "number", 3),
                              Column("Дней", kind="integer")),
                    [("1", 1.25, 31), ("2", MISSING, 30), ("3", Partial(0.5), 29)],
                    heading=("Числа для проверки",), totals=("Итого", Partial(1.75), 90))
    ctx.progress(3, 3, "готово к записи")
    return Report("all_kinds", "Отчёт со всеми параметрами",
                  [Sheet("Параметры", (Column("Параметр", key="name"), Column("Значение", key="value")), echo,
                         heading=("Отчёт со всеми параметрами", building.address)), numbers],
                  file_stem("all_kinds", building.id, params["month"]))


ALL_KINDS = ReportSpec(
    "all_kinds", "Отчёт со всеми параметрами", "4.3.90", (
        Param("building", "building", "Объект"),
        Param("premise", "premise", "Помещение", required=False),
        Param("meter", "meter", "Прибор учёта", required=False),
        Param("group", "group", "Балансовая группа", required=False),
        Param("resource", "resource", "Ресурс", default="heat"),
        Param("month", "month", "Месяц", default="this_month"),
        Param("day", "day", "Дата", default="today"),
        Param("choice", "choice", "Разрез", choices=(("sum", "Сумма"), ("mean", "Среднее")), default="mean"),
        Param("text", "text", "Примечание", required=False),
        Param("flag", "flag", "С итогами", default="false"),
    ), _all_kinds, description="Показывает каждый параметр так, как его прочёл отчёт.", check=_day_not_before_month)


async def _slow(ctx: ReportContext, params: dict[str, Any]) -> Report:
    gate = GATE
    ctx.progress(1, 2, "обработано объектов: 1 из 2")
    gate.reached.set()
    await gate.open.wait()
    ctx.progress(2, 2, "обработано объектов: 2 из 2")
    return Report("slow", "Медленный отчёт", [Sheet("Лист", (Column("Объект"),), [("один",), ("два",)])],
                  file_stem("slow"))


SLOW = ReportSpec("slow", "Медленный отчёт", "4.3.91", (), _slow, description="Ждёт, пока тест его не отпустит.")


async def _failing(ctx: ReportContext, params: dict[str, Any]) -> Report:
    if params["how"] == "refused":
        raise NotFound("meter 999 has no archive for the month")
    raise RuntimeError("a bug in the report")


FAILING = ReportSpec("failing", "Неудачный отчёт", "4.3.92",
                     (Param("how", "choice", "Как", choices=(("refused", "Отказ"), ("bug", "Ошибка")),
                            default="refused"),),
                     _failing, description="Не формируется никогда.")


async def _big(ctx: ReportContext, params: dict[str, Any]) -> Report:
    def rows() -> Iterator[tuple[Cell, ...]]:
        for i in range(1, BIG_ROWS + 1):
            yield i, f"кв. {i}", MISSING if i % 1000 == 0 else i / 4
    ctx.progress(1, 1, "строки")
    return Report("big", "Большой отчёт",
                  [Sheet("Строки", (Column("№", kind="integer"), Column("Помещение"),
                                    Column("Показание", "м³", "number", 2)), rows())],
                  file_stem("big"))


BIG = ReportSpec("big", "Большой отчёт", "4.3.93", (), _big, description="Пятьдесят тысяч строк.")

SPECS = (ALL_KINDS, SLOW, FAILING, BIG)


def install(services: Any) -> None:
    """Offer the test reports (and the real ones after them: the page must list those by title too)."""
    services.reports.catalogue = SPECS + tuple(services.reports.catalogue)
