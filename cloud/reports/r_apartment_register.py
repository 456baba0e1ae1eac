"""Реестр показаний ИПУ МКД (manual 4.3.12): for one building, one resource and one month, every
apartment meter's reading at the start and at the end of the period and the consumption between them,
with the premise's personal account, total area and residents.

The period runs from local 00:00 of the chosen day («день снятия показаний», 1..28) of the month to
00:00 of that day of the next month. A meter commissioned or decommissioned inside the period reads
from or to that moment (the engineer's recorded reading there). Consumption = end − start across one
wrap of the counter (``consumption.counter_delta`` with the model's modulus) and across the counter
breaks recorded in between (old final − start, then end − new initial), times the CT ratio for
electricity; an increase the model cannot make in the period (above its plausible rate) is not a
consumption and is ``–*`` as a missing reading is. Electricity: one row per tariff channel (T1, T2,
the total), the zones never added to the total. The totals row sums the known consumption, marked
partial (``*``) when some is not known; for electricity the zones get their own total lines.
Tests: tests/integration/test_reports_exports.py, tests/unit/cloud/test_reports_readings_rules.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from cloud.reports import readings as rd
from cloud.reports.engine import RESOURCE_CHOICES, RESOURCE_RU, Param, ReportContext, ReportSpec, file_stem
from cloud.reports.r_monthly_readings import UNITS_RU, in_service, premise_order
from cloud.reports.table import MISSING, Cell, Column, Partial, Report, Sheet
from cloud.services import consumption as calc
from cloud.services import counters
from protocol.periods import local_to_utc, next_period, utc_to_local
from protocol.vocabulary import CONSUMPTION_PARAMETER, ArchiveKind, MeterRole, Resource

TARIFF_RU = {"T1": "Т1 (день)", "T2": "Т2 (ночь)", "T3": "Т3", "T4": "Т4", calc.TOTAL: "всего"}
_TARIFF_ORDER = {calc.TOTAL: 9}


def consumption_between(start: float, end: float, breaks: Sequence[calc.CounterBreak], modulus: float | None,
                        factor: float, limit: float | None) -> float | None:
    """end − start of one counter (readings already times ``factor``) across one wrap and the recorded
    ``breaks`` in between (their values are the counter's own, as recorded); None when it is not a
    consumption (backwards with no known width, or above ``limit``, the plausible increase in the
    counter's own units)."""
    points = [start]
    for br in breaks:
        points += [br.final * factor, br.initial * factor]
    points.append(end)
    wrap = None if modulus is None else modulus * factor
    parts = [calc.counter_delta(a, b, wrap) for a, b in zip(points[::2], points[1::2], strict=True)]
    if any(p is None for p in parts):
        return None
    total = round(sum(p for p in parts if p is not None), 9)
    if limit is not None and total > limit * factor:
        return None
    return total


def sum_cell(values: Sequence[float | None]) -> Cell:
    """The totals of a consumption column: empty without rows, ``–*`` when nothing is known, the known
    part marked ``*`` when some is not known."""
    if not values:
        return None
    known = [v for v in values if v is not None]
    if not known:
        return MISSING
    total = round(sum(known), 9)
    return total if len(known) == len(values) else Partial(total)


def period_of(month: date, day: int) -> tuple[datetime, datetime]:
    """Local [start, end): ``day`` of ``month`` 00:00 to ``day`` of the next month 00:00."""
    start = datetime(month.year, month.month, day)
    return start, next_period(ArchiveKind.MONTH, start)


def _line_order(line: tuple[rd.Placed, rd.ChannelInfo]) -> tuple[Any, ...]:
    """By premise number, meter, then T1, T2 ... and the total last."""
    placed, channel = line
    tariff = rd.tariff_of(placed.meter, channel)
    return premise_order(placed.meter.premise_number), placed.meter.serial, _TARIFF_ORDER.get(tariff, 0), tariff


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    building = await ctx.services.accounting.building(ctx.token, params["building"])  # scope: NotFound
    month: date = params["month"]
    resource: Resource = params["resource"]
    day = int(params["day"])
    parameter = CONSUMPTION_PARAMETER[resource]
    start, end = period_of(month, day)
    ctx.progress(0, 3, "приборы учёта")
    placed = [p for p in await asyncio.to_thread(rd.company_meters, ctx.registry, ctx.user.company_id, building.id)
              if p.meter.role is MeterRole.INDIVIDUAL and in_service(p.meter, start, end, p.tz)]
    lines = [(p, c) for p in placed for c in p.meter.channels
             if c.resource is resource and rd.parameter_of(c) == parameter]
    lines.sort(key=_line_order)
    metered = list({p.meter.id: p for p, _ in lines}.values())
    ctx.progress(1, 3, "показания")
    opening = {p.meter.id: max(start, utc_to_local(p.meter.commissioned_at, p.tz))
               if p.meter.commissioned_at is not None else start for p in metered}
    closing = {p.meter.id: min(end, utc_to_local(p.meter.decommissioned_at, p.tz))
               if p.meter.decommissioned_at is not None else end for p in metered}
    first = await rd.readings_at(ctx.clickhouse, ctx.user.company_id, [(p.meter, opening[p.meter.id], p.tz)
                                                                        for p in metered])
    last = await rd.readings_at(ctx.clickhouse, ctx.user.company_id, [(p.meter, closing[p.meter.id], p.tz)
                                                                       for p in metered])
    breaks = await asyncio.to_thread(counters.load, ctx.registry, [p.meter.id for p in metered], parameter)
    ctx.progress(2, 3, "расход")
    electricity = resource is Resource.ELECTRICITY
    unit = UNITS_RU[parameter]
    rows: list[tuple[Cell, ...]] = []
    by_tariff: dict[str, list[float | None]] = {}
    for p, channel in lines:
        m = p.meter
        a, b = first.get((m.id, channel.number)), last.get((m.id, channel.number))
        used: float | None = None
        if a is not None and b is not None:
            lo, hi = local_to_utc(opening[m.id], p.tz), local_to_utc(closing[m.id], p.tz)
            inside = [br for br in breaks.get((m.serial, channel.number), ()) if lo <= br.first_period < hi]
            modulus, per_hour = calc.counter_limits(m.model, parameter)
            limit = None if per_hour is None else per_hour * (hi - lo).total_seconds() / 3600
            used = consumption_between(a.value, b.value, inside, modulus, m.ct_ratio if parameter == "E" else 1.0,
                                       limit)
        tariff = rd.tariff_of(m, channel)
        by_tariff.setdefault(tariff, []).append(used)
        row: list[Cell] = [p.account or None, m.premise_number, p.area_m2, p.residents, m.serial]
        if electricity:
            row.append(TARIFF_RU.get(tariff, tariff))
        row += [MISSING if a is None else a.value, MISSING if b is None else b.value,
                MISSING if used is None else used]
        rows.append(tuple(row))
    columns = [Column("Лицевой счёт", key="account"), Column("Номер помещения", key="premise"),
               Column("Общая площадь", "м²", "number", 2, "area"), Column("Проживающих", "чел.", "integer",
                                                                          key="residents"),
               Column("Номер прибора учёта", key="serial")]
    if electricity:
        columns.append(Column("Тариф", key="tariff"))
    columns += [Column(f"Показание на {start:%d.%m.%Y}", unit, "number", 3, "start"),
                Column(f"Показание на {end:%d.%m.%Y}", unit, "number", 3, "end"),
                Column("Расход", unit, "number", 3, "consumption")]
    def total_line(label: str, tariff: str | None, values: list[float | None]) -> tuple[Cell, ...]:
        line: list[Cell] = [label] + [None] * (len(columns) - 1)
        if tariff is not None:
            line[5] = TARIFF_RU.get(tariff, tariff)
        line[-1] = sum_cell(values)
        return tuple(line)

    if electricity:  # the zones each on a line of their own: never added to the total
        for tariff in sorted(set(by_tariff) - {calc.TOTAL}):
            rows.append(total_line(f"Итого {TARIFF_RU.get(tariff, tariff)}", tariff, by_tariff[tariff]))
        totals = total_line("Итого всего", calc.TOTAL, by_tariff.get(calc.TOTAL, []))
    else:
        totals = total_line("Итого", None, by_tariff.get(calc.TOTAL, []))
    ctx.progress(3, 3, "")
    sheet = Sheet("Реестр показаний ИПУ", tuple(columns), rows, totals=totals,
                  heading=("Реестр показаний ИПУ МКД", f"Объект: {building.address}",
                           f"Ресурс: {RESOURCE_RU[resource]}",
                           f"Период: с {start:%d.%m.%Y} 00:00 по {end:%d.%m.%Y} 00:00 (день снятия показаний {day})"))
    return Report("apartment_register", SPEC.title, [sheet],
                  file_stem("apartment_register", building.id, resource.value, f"{month:%Y-%m}"))


SPEC = ReportSpec(
    "apartment_register", "Реестр показаний ИПУ МКД", "4.3.12",
    (Param("building", "building", "Объект"), Param("month", "month", "Месяц", default="last_month"),
     Param("resource", "resource", "Ресурс", choices=RESOURCE_CHOICES),
     Param("day", "choice", "День снятия показаний", required=False,
           choices=tuple((str(d), str(d)) for d in range(1, 29)), default="1")),
    build,
    description="Показания квартирных приборов учёта дома на начало и конец месяца и расход между ними.")
