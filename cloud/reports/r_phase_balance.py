"""Балансировка потребления э/э (manual 4.3.2): how a balance group's electricity load is spread over the
phases L1, L2, L3 (A, B, C), per day and for the period.

The single-phase meters are the group's child meters (4.6.6), each on the phase recorded at its
commissioning (meters.phase); a child without a phase is listed apart («фаза не указана») and is in no
phase's figures; the root meter (the group's input, three-phase) is not a phase's load. A phase's figure
is Σ + − Σ − of its meters by the group's signs (a − meter is a sub-meter already counted), of their total
channels, as the accounting service gives them per day (4.1.5): a missing archive is ``–*``, a sum with a
meter missing the known part marked ``*``. Each phase's share of the three (%), its deviation from the
mean of the three (%) and the imbalance max − min (kWh, and in % of the mean) are given only when every
phase that has meters is complete; a phase with no meter at all carries no load (0), which is what the
report exists to show. Tests: tests/unit/cloud/test_reports_balance_rules.py,
tests/integration/test_reports_balance.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cloud.reports.engine import Param, ReportContext, ReportSpec, file_stem
from cloud.reports.r_building_balance import UNITS_RU, ChannelPeriods, channel_amounts, figure_cell
from cloud.reports.table import Cell, Column, Report, Sheet
from cloud.services import consumption as calc
from cloud.services.balance_rules import signed_figure
from cloud.services.models import Figure, Granularity, InvalidInput, NotFound
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import Resource

PHASES = ("A", "B", "C")
MAX_DAYS = 366
NO_PHASE = "фаза не указана"


@dataclass(frozen=True, slots=True)
class PhaseStats:
    shares: tuple[float, float, float]  # % of the three phases' sum
    deviations: tuple[float, float, float]  # % from the mean of the three
    imbalance: float  # max − min, kWh
    imbalance_pct: float  # max − min in % of the mean


def phase_stats(phases: Sequence[Figure]) -> PhaseStats | None:
    """Shares, deviations and imbalance of the three phases' figures; None when a phase that has meters is
    not complete (a missing value is never taken for zero) or when the three carry nothing. A phase with no
    meter at all (nothing expected) carries 0."""
    values = []
    for f in phases:
        if f.expected == 0:
            values.append(0.0)
        elif not f.complete or f.value is None:
            return None
        else:
            values.append(f.value)
    if all(f.expected == 0 for f in phases):
        return None
    total = sum(values)
    if total <= 0:
        return None
    mean = total / 3
    spread = max(values) - min(values)
    return PhaseStats(tuple(round(v / total * 100, 2) for v in values),  # type: ignore[arg-type]
                      tuple(round((v - mean) / mean * 100, 2) for v in values),  # type: ignore[arg-type]
                      round(spread, 6), round(spread / mean * 100, 2))


def day_list(first: date, last: date) -> list[date]:
    if first > last:
        raise InvalidInput(f"first: {first} is after last {last}")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise InvalidInput(f"last: a period of at most {MAX_DAYS} days, got {days}")
    return [first + timedelta(days=i) for i in range(days)]


def check(params: dict[str, Any]) -> None:
    a, b = params.get("first"), params.get("last")
    if a is not None and b is not None:
        day_list(a, b)


def _signed(channels: Sequence[tuple[ChannelPeriods, str]], day: date) -> Figure:
    added = calc.figure(c.by_period[day] for c, sign in channels if sign == "+")
    subtracted = calc.figure(c.by_period[day] for c, sign in channels if sign == "-")
    return signed_figure(added, subtracted)


def _row(label: Cell, phases: Sequence[Figure], unphased: Figure) -> tuple[Cell, ...]:
    stats = phase_stats(phases)
    both = calc.total(phases)
    shares: tuple[Cell, ...] = stats.shares if stats else (None, None, None)
    deviations: tuple[Cell, ...] = stats.deviations if stats else (None, None, None)
    return (label, *(figure_cell(f) for f in phases), figure_cell(both), figure_cell(unphased), *shares,
            *deviations, stats.imbalance if stats else None, stats.imbalance_pct if stats else None)


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    building_id: int = params["building"]
    days = day_list(params["first"], params["last"])
    building = await ctx.services.accounting.building(ctx.token, building_id)
    group = await ctx.services.balance_groups.group(ctx.token, params["group"])
    if group.building_id != building_id:
        raise NotFound(f"balance group {params['group']} not found in building {building_id}")
    if group.resource is not Resource.ELECTRICITY:
        raise InvalidInput(f"group: «{group.name}» balances {group.resource.value}, not electricity")
    today = utc_to_local(ctx.clock(), zone(building.time_zone)).date()
    if days[-1] > today:
        raise InvalidInput(f"last: {days[-1]} is after today {today}")
    meters = {m.id: m for m in await ctx.services.accounting.meters(ctx.token, building_id)}
    channels, unit = await channel_amounts(ctx, building_id, Resource.ELECTRICITY, Granularity.DAY, days)
    members = [(meters[g.meter_id], g.sign) for g in group.members]
    by_phase: dict[str | None, list[tuple[ChannelPeriods, str]]] = {p: [] for p in (*PHASES, None)}
    for c in channels.values():
        for meter, sign in members:
            if c.meter.id == meter.id:
                by_phase[meter.phase if meter.phase in PHASES else None].append((c, sign))
    unit_ru = UNITS_RU.get(unit, unit) if unit else "кВт·ч"

    rows: list[tuple[Cell, ...]] = []
    per_phase: dict[str | None, list[Figure]] = {p: [] for p in by_phase}
    for day in days:
        figures = {p: _signed(chans, day) for p, chans in by_phase.items()}
        for p, f in figures.items():
            per_phase[p].append(f)
        rows.append(_row(day, [figures[p] for p in PHASES], figures[None]))
    totals = _row("За период", [calc.total(per_phase[p]) for p in PHASES], calc.total(per_phase[None]))

    columns = (Column("Дата", kind="date", width=12),
               *(Column(f"Фаза {p}", unit_ru, "number") for p in PHASES),
               Column("Σ фаз A+B+C", unit_ru, "number"), Column("Фаза не указана", unit_ru, "number"),
               *(Column(f"Доля фазы {p}", "%", "number", 2) for p in PHASES),
               *(Column(f"Отклонение фазы {p} от среднего", "%", "number", 2) for p in PHASES),
               Column("Небаланс max−min", unit_ru, "number"), Column("Небаланс от среднего", "%", "number", 2))
    heading = ("Балансировка потребления электроэнергии", f"Объект: {building.address}, {building.city}",
               f"Балансовая группа: {group.name}", f"Период: {days[0]:%d.%m.%Y} — {days[-1]:%d.%m.%Y}",
               "Доли, отклонения и небаланс — только когда известны все фазы; «–*» — нет архива, «x*» — "
               "известная часть суммы (4.1.5)")
    daily = Sheet("По суткам", columns, rows, heading, totals=totals)

    meter_rows: list[tuple[Cell, ...]] = []
    for meter, sign in members:
        mine = [c for c in channels.values() if c.meter.id == meter.id]
        figure = calc.total(calc.figure(c.by_period[day] for c in mine) for day in days) if mine else Figure()
        meter_rows.append((meter.serial, meter.premise_number, meter.phase if meter.phase in PHASES else NO_PHASE,
                           sign, figure_cell(figure)))
    meters_sheet = Sheet("Приборы группы", (Column("Прибор"), Column("Помещение"), Column("Фаза"), Column("Знак"),
                                            Column("Потребление за период", unit_ru, "number")),
                         meter_rows, heading[:4])
    ctx.progress(1, 1, "готово")
    return Report(SPEC.key, SPEC.title, [daily, meters_sheet],
                  file_stem(SPEC.key, building_id, group.id, days[0], days[-1]))


SPEC = ReportSpec(
    "phase_balance", "Балансировка потребления э/э", "4.3.2",
    (Param("building", "building", "Объект"),
     Param("group", "group", "Балансовая группа"),
     Param("first", "day", "Начальная дата"),
     Param("last", "day", "Конечная дата", default="today")),
    build,
    description="Распределение нагрузки однофазных приборов балансовой группы по фазам A, B, C.",
    check=check)
