"""Ведомость состава измерительных каналов (manual 4.3.6).

On a date (default today): per building of the company (or the one chosen), the measuring channels
of each type in service at the end of that local day, their total, the individual metering nodes
and whether a building metering node (ОДУУ) is there; the last row totals each type over the
buildings ("итоги по каждому объекту и типу канала"). Channels and "in service": channels_common.py.
ОДУУ are not counted (4.3.4), so their total is empty.
"""

from __future__ import annotations

from typing import Any

from cloud.reports import channels_common as cc
from cloud.reports.engine import Param, ReportContext, ReportSpec, file_stem
from cloud.reports.table import Cell, Column, Report, Sheet

TITLE = "Ведомость состава измерительных каналов"


def columns() -> tuple[Column, ...]:
    return (Column("Адрес объекта", width=40, key="address"),
            *(Column(title, "шт", "integer", key=key) for key, title in cc.CHANNEL_TYPES),
            Column("Всего каналов", "шт", "integer", key="total"),
            Column("Индивидуальные узлы учёта", "шт", "integer", key="individual_nodes", width=16),
            Column("ОДУУ", key="common_node"))


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    day = params["day"]
    chosen = await cc.buildings(ctx, params.get("building"))
    rows: list[tuple[Cell, ...]] = []
    sums = dict.fromkeys((key for key, _ in cc.CHANNEL_TYPES), 0)
    individual = 0
    for done, building in enumerate(chosen):
        ctx.progress(done, len(chosen), building.address)
        meters = await ctx.services.accounting.meters(ctx.token, building.id)
        counts = dict.fromkeys(sums, 0)
        for meter in meters:
            if cc.in_service_on(meter, day, building.time_zone):
                for kind in cc.channel_types(meter):
                    counts[kind] += 1
        node = cc.nodes(meters, day, building.time_zone)
        for key in sums:
            sums[key] += counts[key]
        individual += node.individual
        rows.append((building.address, *counts.values(), sum(counts.values()), node.individual,
                     "да" if node.common else "нет"))
    ctx.progress(len(chosen), len(chosen), "")
    totals: tuple[Cell, ...] = ("Итого", *sums.values(), sum(sums.values()), individual, None)
    scope = chosen[0].address if params.get("building") is not None else f"все объекты ({len(chosen)})"
    heading = (TITLE, f"Компания: {ctx.user.company_name}", f"Объект: {scope}", f"На дату: {day:%d.%m.%Y}")
    sheet = Sheet("Состав ИК", columns(), rows, heading, totals)
    return Report("channel_composition", TITLE, [sheet], file_stem("channel_composition", params.get("building"), day))


SPEC = ReportSpec(
    "channel_composition", TITLE, "4.3.6",
    (Param("day", "day", "На дату", default="today"),
     Param("building", "building", "Объект (все объекты, если не выбран)", required=False)),
    build, description="Количество измерительных каналов каждого типа и узлы учёта на дату, с итогами.")
