"""Ведомость изменения состава измерительных каналов УУ (manual 4.3.4).

Per building of the company (or the one chosen): the measuring channels added and removed in the
local days ``first``..``last``, per channel type (отопление, ГВС, ХВС, электричество, другое), the
individual metering nodes and whether a building metering node (ОДУУ) is there, both at the end of
``last``; a totals row. What a channel is and when it is added or removed: channels_common.py (a
meter's device channels, dated by its commissioning and decommissioning; a replaced meter is one
removal and one addition).

The manual writes a type's cell «32\\32» (added\\removed): that text is kept as the reader knows it,
and beside it the two numbers as integer columns («введено», «выведено»), because a text cell cannot
be added up in a spreadsheet and the JSON form would have to parse it; the three columns of a type
sit under one group title. The total of ОДУУ is left empty: the manual counts ОДУУ never, it only
records their presence per building.
"""

from __future__ import annotations

from typing import Any

from cloud.reports import channels_common as cc
from cloud.reports.engine import Param, ReportContext, ReportSpec, check_period, file_stem
from cloud.reports.table import Cell, Column, Report, Sheet

TITLE = "Ведомость изменения состава измерительных каналов УУ"


def notation(added: int, removed: int) -> str:
    """The manual's «added\\removed» cell."""
    return f"{added}\\{removed}"


def columns() -> tuple[Column, ...]:
    cols = [Column("Адрес объекта", width=40, key="address")]
    for key, _ in cc.CHANNEL_TYPES:
        cols += [Column("ввод\\вывод", key=f"{key}_text"), Column("введено", "шт", "integer", key=f"{key}_added"),
                 Column("выведено", "шт", "integer", key=f"{key}_removed")]
    cols += [Column("Индивидуальные узлы учёта", "шт", "integer", key="individual_nodes", width=16),
             Column("ОДУУ", key="common_node")]
    return tuple(cols)


def groups() -> tuple[tuple[str, int], ...]:
    return (("", 1), *((title, 3) for _, title in cc.CHANNEL_TYPES), ("Узлы учёта", 2))


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    first, last = params["first"], params["last"]
    chosen = await cc.buildings(ctx, params.get("building"))
    rows: list[tuple[Cell, ...]] = []
    sums = {key: [0, 0] for key, _ in cc.CHANNEL_TYPES}
    individual = 0
    for done, building in enumerate(chosen):
        ctx.progress(done, len(chosen), building.address)
        meters = await ctx.services.accounting.meters(ctx.token, building.id)
        counts = {key: [0, 0] for key, _ in cc.CHANNEL_TYPES}
        for meter in meters:
            added, removed = cc.changed_in(meter, first, last, building.time_zone)
            for kind in cc.channel_types(meter):
                counts[kind][0] += added
                counts[kind][1] += removed
        node = cc.nodes(meters, last, building.time_zone)
        row: list[Cell] = [building.address]
        for key, _ in cc.CHANNEL_TYPES:
            a, r = counts[key]
            row += [notation(a, r), a, r]
            sums[key][0] += a
            sums[key][1] += r
        row += [node.individual, "да" if node.common else "нет"]
        individual += node.individual
        rows.append(tuple(row))
    ctx.progress(len(chosen), len(chosen), "")
    totals: list[Cell] = ["Итого"]
    for key, _ in cc.CHANNEL_TYPES:
        totals += [notation(*sums[key]), sums[key][0], sums[key][1]]
    totals += [individual, None]
    scope = chosen[0].address if params.get("building") is not None else f"все объекты ({len(chosen)})"
    heading = (TITLE, f"Компания: {ctx.user.company_name}", f"Объект: {scope}",
               f"Период: {first:%d.%m.%Y} – {last:%d.%m.%Y}",
               "В ячейке типа канала: введено\\выведено за период; узлы учёта — на конец периода")
    sheet = Sheet("Изменения состава ИК", columns(), rows, heading, tuple(totals), groups())
    return Report("channel_changes", TITLE, [sheet], file_stem("channel_changes", params.get("building"), first, last))


SPEC = ReportSpec(
    "channel_changes", TITLE, "4.3.4",
    (Param("first", "day", "Начало периода"), Param("last", "day", "Конец периода"),
     Param("building", "building", "Объект (все объекты, если не выбран)", required=False)),
    build, description="Введённые и выведенные из эксплуатации измерительные каналы по типам и узлы учёта.",
    check=check_period())
