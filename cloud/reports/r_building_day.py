"""Выгрузка по объекту за дату (manual 4.3.8): one building, one day. The first sheet gives each
premise's consumption of the day per resource (and a line for the building's own meters), the second
every meter's readings at the end of the day (the next day's 00:00 local).

A premise's consumption is the sum over its meters by the rules of 4.1.5 (the accounting service's
``channel_consumption`` of the day, ``consumption.figure``): a meter with no archive for the day leaves
the known part marked ``*``, all missing is ``–*``, a resource the premise has no meter of is empty.
Electricity's zones T1, T2 and the total are separate columns, never added. The totals line is the
premises' sum (the building meters are not added to it: they measure the same water twice).
Tests: tests/integration/test_reports_exports.py.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

from cloud.reports import readings as rd
from cloud.reports.engine import Param, ReportContext, ReportSpec, file_stem
from cloud.reports.r_monthly_readings import READING_COLUMNS, ROLE_RU, in_service, premise_order, reading_cells
from cloud.reports.table import MISSING, Cell, Column, Partial, Report, Sheet
from cloud.services import consumption as calc
from cloud.services.models import Figure, Granularity
from protocol.periods import local_to_utc, utc_to_local, zone

BUILDING_LINE = "ОДПУ (общедомовые приборы учёта)"


def figure_cell(f: Figure) -> Cell:
    """A sum over meters as a cell (manual 4.1.5): empty when no meter is expected, ``–*`` when none
    is known, the known part marked ``*`` when some expected meter has no value."""
    if f.expected == 0:
        return None
    if f.value is None:
        return MISSING
    return f.value if f.complete else Partial(f.value)


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    building = await ctx.services.accounting.building(ctx.token, params["building"])  # scope: NotFound
    day: date = params["day"]
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    tz = zone(building.time_zone)
    premises = sorted(await ctx.services.accounting.premises(ctx.token, building.id),
                      key=lambda p: premise_order(p.number))
    placed = await asyncio.to_thread(rd.company_meters, ctx.registry, ctx.user.company_id, building.id)
    present = {(c.resource, rd.tariff_of(p.meter, c)) for p in placed for c in p.meter.channels
               if rd.parameter_of(c) is not None}
    shown = [(r, t, c) for r, t, c in READING_COLUMNS if (r, t) in present]
    resources = list(dict.fromkeys(r for r, _, _ in shown))
    # (premise id or None for the building meters, column) -> the channels' amounts of the day
    parts: dict[tuple[int | None, int], list[calc.Amount]] = {}
    for n, resource in enumerate(resources):
        ctx.progress(n, len(resources) + 1, f"расход: {resource.value}")
        got = await ctx.services.accounting.channel_consumption(ctx.token, building.id, resource, Granularity.DAY,
                                                                day, whole_view=False)
        for item in got.channels:
            column = next((i for i, (r, t, _) in enumerate(shown) if r is resource and t == item.tariff), None)
            if column is None:
                continue
            if item.amounts:
                amount = item.amounts[0]
            else:  # no meter of the building has any record of the day: expected ones are missing
                amount = calc.Amount(calc.State.MISSING if in_service(item.meter, start, end, tz)
                                     else calc.State.NOT_EXPECTED)
            parts.setdefault((item.meter.premise_id, column), []).append(amount)
    ctx.progress(len(resources), len(resources) + 1, "показания")

    def line(premise_id: int | None) -> list[Figure]:
        return [calc.figure(parts.get((premise_id, i), [])) for i in range(len(shown))]

    rows: list[tuple[Cell, ...]] = []
    per_premise: list[list[Figure]] = []
    if any(premise_id is None for premise_id, _ in parts):
        rows.append((BUILDING_LINE, None, *(figure_cell(f) for f in line(None))))
    for premise in premises:
        figures = line(premise.id)
        per_premise.append(figures)
        rows.append((premise.number, premise.account or None, *(figure_cell(f) for f in figures)))
    totals = ("Итого по помещениям", None,
              *(figure_cell(calc.total(p[i] for p in per_premise)) for i in range(len(shown))))
    consumption = Sheet(
        "Потребление за сутки",
        (Column("Помещение", key="premise"), Column("Лицевой счёт", key="account"), *(c for _, _, c in shown)),
        rows, totals=totals,
        heading=("Выгрузка по объекту за дату", f"Объект: {building.address}", f"Дата: {day:%d.%m.%Y}",
                 "Расход за сутки; * — сумма известной части, –* — данных нет"))

    in_day = [p for p in placed if in_service(p.meter, start, end, p.tz)]
    in_day.sort(key=lambda p: (premise_order(p.meter.premise_number), p.meter.serial))
    boundaries = [end if p.meter.decommissioned_at is None or p.meter.decommissioned_at >= local_to_utc(end, p.tz)
                  else utc_to_local(p.meter.decommissioned_at, p.tz) for p in in_day]
    got_readings = await rd.readings_at(ctx.clickhouse, ctx.user.company_id,
                                        [(p.meter, b, p.tz) for p, b in zip(in_day, boundaries, strict=True)])
    reading_rows = [(p.meter.premise_number or BUILDING_LINE, p.meter.serial, p.meter.model, ROLE_RU[p.meter.role],
                     *reading_cells(p, b, got_readings), b)
                    for p, b in zip(in_day, boundaries, strict=True)]
    readings_sheet = Sheet(
        "Показания на конец суток",
        (Column("Помещение", key="premise"), Column("Номер прибора учёта", key="serial"), Column("Модель", key="model"),
         Column("ИПУ/ОДПУ", key="role"), *(c for _, _, c in READING_COLUMNS),
         Column("Дата и время показаний", kind="datetime", key="reading_at")),
        reading_rows,
        heading=("Показания приборов учёта на конец суток", f"Объект: {building.address}",
                 f"На {end:%d.%m.%Y} 00:00"))
    ctx.progress(1, 1, "")
    return Report("building_day", SPEC.title, [consumption, readings_sheet],
                  file_stem("building_day", building.id, day))


SPEC = ReportSpec(
    "building_day", "Выгрузка по объекту за дату", "4.3.8",
    (Param("building", "building", "Объект"), Param("day", "day", "Дата", default="today")),
    build,
    description="Расход за сутки по помещениям дома и показания приборов учёта на конец суток.")
