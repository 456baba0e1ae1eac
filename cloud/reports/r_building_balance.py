"""Баланс по МКД (manual 4.3.3): per month, the apartment meters' sum (ИПУ) against the building meter (ОДПУ)
and the consumption norm, with the ratios ОДПУ/ИПУ and ИПУ/норматив; a second sheet per premise.

The monthly figures are the accounting service's (``channel_consumption``, manual 4.1.5): each meter's
month is its own reporting period, a missing archive is ``–*`` and a sum with a meter missing is the
known part marked ``*``, never filled in. The apartments' sum honours the balance signs of 4.6.5 as the
building page does (+ added, − subtracted, excluded left out); a premise with several meters shows their
sum. The norm of a month is Σ over the premises whose apartment meters count that month of residents ×
the per-resident norm (heat: area × the per-m² norm), empty without a norm (cloud/services/norms.py).
A ratio is given only when both sides are known and complete. Electricity: the total channels (the
tariff zones are never added to it). Tests: tests/unit/cloud/test_reports_balance_rules.py,
tests/integration/test_reports_balance.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cloud.reports.engine import (
    RESOURCE_CHOICES,
    RESOURCE_RU,
    Param,
    ReportContext,
    ReportSpec,
    file_stem,
    month_label,
)
from cloud.reports.table import MISSING, Cell, Column, Partial, Report, Sheet
from cloud.services import consumption as calc
from cloud.services.balance_rules import Sign, signed_figure
from cloud.services.models import Figure, Granularity, InvalidInput, MeterInfo, PremiseInfo
from protocol.periods import local_to_utc, utc_to_local, zone
from protocol.vocabulary import MeterRole, Resource

MAX_MONTHS = 24
UNITS_RU = {"Gcal": "Гкал", "m3": "м³", "kWh": "кВт·ч", "degC": "°C", "pulse": "имп.", "W": "Вт"}


# --- rules shared by the balance reports (pure) --------------------------------------------------

def figure_cell(f: Figure) -> Cell:
    """A Figure as a report cell (manual 4.1.5): empty when nothing is expected, ``–*`` when nothing is
    known, the known part marked ``*`` when some expected meter has no (plausible) value."""
    if f.expected == 0:
        return None
    if f.value is None:
        return MISSING
    return f.value if f.complete else Partial(f.value)


def ratio(numerator: Figure, denominator: Figure) -> float | None:
    """numerator / denominator, only when both are complete and known and the denominator is above zero."""
    if not (numerator.expected and denominator.expected and numerator.complete and denominator.complete):
        return None
    if numerator.value is None or denominator.value is None or denominator.value <= 0:
        return None
    return round(numerator.value / denominator.value, 4)


def norm_ratio(f: Figure, norm: float | None) -> float | None:
    """The apartments' consumption / the norm: only when the consumption is complete and a norm above zero is set."""
    if norm is None or norm <= 0 or not (f.expected and f.complete) or f.value is None:
        return None
    return round(f.value / norm, 4)


def norm_of(basis: Iterable[float], per_unit: float | None) -> float | None:
    """Σ basis × the norm per unit (residents × per-resident norm, or m² × per-m² norm); None without a norm
    or without any premise."""
    amounts = list(basis)
    if per_unit is None or not amounts:
        return None
    return round(sum(amounts) * per_unit, 6)


def month_list(first: date, last: date) -> list[date]:
    """The first days of the months from ``first`` to ``last``; InvalidInput when reversed or too long."""
    if first > last:
        raise InvalidInput(f"first: {first:%Y-%m} is after last {last:%Y-%m}")
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    if count > MAX_MONTHS:
        raise InvalidInput(f"last: a period of at most {MAX_MONTHS} months, got {count}")
    out, cur = [], first.replace(day=1)
    while cur <= last:
        out.append(cur)
        cur = date(cur.year + cur.month // 12, cur.month % 12 + 1, 1)
    return out


def check(params: dict[str, Any]) -> None:
    a, b = params.get("first"), params.get("last")
    if a is not None and b is not None:
        month_list(a, b)


# --- gathering -------------------------------------------------------------------------------------

@dataclass(slots=True)
class ChannelPeriods:
    """One meter channel of the resource (the total channel for electricity) and its amount per period
    (``by_period``: the local first day of each month, or each day)."""

    meter: MeterInfo
    by_period: dict[date, calc.Amount] = field(default_factory=dict)


def in_service(meter: MeterInfo, start: datetime, end: datetime) -> bool:
    """Whether the meter's service period shares time with UTC [start, end)."""
    if meter.commissioned_at is None and meter.decommissioned_at is None and meter.status == "commissioning":
        return False
    if meter.commissioned_at is not None and meter.commissioned_at >= end:
        return False
    return meter.decommissioned_at is None or meter.decommissioned_at > start


async def channel_amounts(ctx: ReportContext, building_id: int, resource: Resource, granularity: Granularity,
                          periods: Sequence[date]) -> tuple[dict[tuple[int, int], ChannelPeriods], str]:
    """Each total channel of ``resource`` in the building with its amount of every period in ``periods``
    (months or days), as the accounting service gives them (4.1.5; a month by each meter's reporting
    period), and the unit. A period the service leaves out has no data of any meter: before the first
    archive nothing was expected there; after the newest one a meter in service then is missing."""
    found: dict[tuple[int, int], ChannelPeriods] = {}
    shown: set[date] = set()
    unit = ""
    views = sorted({date(p.year, 1, 1) if granularity is Granularity.MONTH else p.replace(day=1) for p in periods})
    tz = None
    for i, view in enumerate(views):
        data = await ctx.services.accounting.channel_consumption(ctx.token, building_id, resource, granularity, view)
        unit, tz = data.unit, zone(data.building.time_zone)
        for c in data.channels:
            if c.tariff != calc.TOTAL:
                continue
            series = found.setdefault((c.meter.id, c.channel.number), ChannelPeriods(c.meter))
            for label, amount in zip(data.labels, c.amounts, strict=True):
                series.by_period[label.date()] = amount
        shown.update(label.date() for label in data.labels)
        ctx.progress(i + 1, len(views) + 1, "значения приборов")
    if tz is None:
        return found, unit
    newest = max(shown) if shown else await ctx.services.accounting.default_period(ctx.token, building_id)
    for series in found.values():
        for period in periods:
            if period in series.by_period:
                continue
            lo, hi = calc.span(granularity, datetime(period.year, period.month, period.day), series.meter.reporting_day)
            expected = period > newest and in_service(series.meter, local_to_utc(lo, tz), local_to_utc(hi, tz))
            series.by_period[period] = calc.Amount(calc.State.MISSING if expected else calc.State.NOT_EXPECTED)
    return found, unit


def signed(channels: Sequence[ChannelPeriods], signs: dict[int, Sign], month: date) -> Figure:
    """Σ added − Σ subtracted of the apartment channels in ``month`` (excluded ones left out, 4.6.5)."""
    added = calc.figure(c.by_period[month] for c in channels if signs.get(c.meter.id, Sign.ADDED) is Sign.ADDED)
    subtracted = calc.figure(c.by_period[month] for c in channels if signs.get(c.meter.id) is Sign.SUBTRACTED)
    return signed_figure(added, subtracted)


def counted(channels: Sequence[ChannelPeriods], signs: dict[int, Sign], month: date) -> bool:
    """Whether a premise's apartment meters count in ``month``: one added to the sum is expected then."""
    return any(signs.get(c.meter.id, Sign.ADDED) is Sign.ADDED
               and c.by_period[month].state is not calc.State.NOT_EXPECTED for c in channels)


def basis_of(premise: PremiseInfo, resource: Resource) -> float:
    """What the norm is per: the premise's area for heat, its residents otherwise."""
    return premise.area_m2 if resource is Resource.HEAT else float(premise.residents)


# --- the report ------------------------------------------------------------------------------------

async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    building_id: int = params["building"]
    resource: Resource = params["resource"]
    months = month_list(params["first"], params["last"])
    building = await ctx.services.accounting.building(ctx.token, building_id)
    now = utc_to_local(ctx.clock(), zone(building.time_zone))
    if months[-1] > now.date().replace(day=1):
        raise InvalidInput(f"last: {months[-1]:%Y-%m} is after the current month {now:%Y-%m}")
    premises = await ctx.services.accounting.premises(ctx.token, building_id)
    signs = {m.meter_id: m.sign for m in (await ctx.services.balance.balance_signs(ctx.token, building_id)).meters}
    norms = await ctx.services.norms.norms(ctx.token, building_id)
    norm = norms.norm(resource).in_force
    channels, unit = await channel_amounts(ctx, building_id, resource, Granularity.MONTH, months)
    common = [c for c in channels.values() if c.meter.role is MeterRole.COMMON]
    apartments = [c for c in channels.values() if c.meter.role is MeterRole.INDIVIDUAL]
    by_premise: dict[int, list[ChannelPeriods]] = {}
    for c in apartments:
        if c.meter.premise_id is not None and signs.get(c.meter.id, Sign.ADDED) is not Sign.EXCLUDED:
            by_premise.setdefault(c.meter.premise_id, []).append(c)
    metered = [p for p in premises if p.id in by_premise]
    unit_ru = UNITS_RU.get(unit, unit)
    heat = resource is Resource.HEAT

    rows: list[tuple[Cell, ...]] = []
    ipu_all, odpu_all, norm_all = [], [], []
    for month in months:
        ipu = signed(apartments, signs, month)
        odpu = calc.figure(c.by_period[month] for c in common)
        counting = [p for p in metered if counted(by_premise[p.id], signs, month)]
        month_norm = norm_of((basis_of(p, resource) for p in counting), norm)
        ipu_all.append(ipu)
        odpu_all.append(odpu)
        norm_all.append(month_norm)
        rows.append((month_label(month), len(counting), round(sum(basis_of(p, resource) for p in counting), 6),
                     figure_cell(odpu), figure_cell(ipu), month_norm, ratio(odpu, ipu), norm_ratio(ipu, month_norm)))
    ipu_total, odpu_total = calc.total(ipu_all), calc.total(odpu_all)
    norm_total = None if norm is None or any(n is None for n in norm_all) else round(sum(n or 0 for n in norm_all), 6)
    basis_title, basis_unit = ("Площадь помещений с ИПУ", "м²") if heat else ("Жильцов в помещениях с ИПУ", "")
    columns = (Column("Месяц", width=16), Column("Помещений с ИПУ", kind="integer"),
               Column(basis_title, basis_unit, "number", 2), Column("ОДПУ", unit_ru, "number"),
               Column("Σ ИПУ", unit_ru, "number"), Column("Норматив", unit_ru, "number"),
               Column("ОДПУ/ИПУ", kind="number", decimals=3), Column("ИПУ/норматив", kind="number", decimals=3))
    per = "м² площади" if heat else "человека"
    norm_line = (f"Норматив: {f'{norm:g}'.replace('.', ',')} {unit_ru} на {per} в месяц "
                 f"({'свой для объекта' if norms.norm(resource).source == 'building' else 'компании'})"
                 if norm is not None else "Норматив не задан: столбцы норматива пусты")
    heading = (f"Баланс по МКД: {RESOURCE_RU[resource].lower()}", f"Объект: {building.address}, {building.city}",
               f"Период: {month_label(months[0])} — {month_label(months[-1])}", norm_line,
               "Месяц каждого прибора — его отчётный период; «–*» — нет архива, «x*» — известная часть суммы (4.1.5)")
    monthly = Sheet("По месяцам", columns, rows, heading,
                    totals=("Итого", None, None, figure_cell(odpu_total), figure_cell(ipu_total), norm_total,
                            ratio(odpu_total, ipu_total), norm_ratio(ipu_total, norm_total)))

    premise_rows: list[tuple[Cell, ...]] = []
    p_ipu, p_norms = [], []
    for p in metered:
        mine = by_premise[p.id]
        figure = calc.total(signed(mine, signs, month) for month in months)
        counted_months = sum(1 for month in months if counted(mine, signs, month))
        p_norm = norm_of([basis_of(p, resource) * counted_months], norm) if counted_months else None
        p_ipu.append(figure)
        p_norms.append(p_norm)
        serials = ", ".join(dict.fromkeys(c.meter.serial for c in mine))
        premise_rows.append((p.number, p.account or None, p.area_m2, p.residents, serials, figure_cell(figure),
                             p_norm, norm_ratio(figure, p_norm)))
    all_ipu = calc.total(p_ipu)
    all_norm = None if norm is None or any(n is None for n in p_norms) else round(sum(n or 0 for n in p_norms), 6)
    premise_sheet = Sheet(
        "По помещениям",
        (Column("Помещение"), Column("Лицевой счёт", width=14), Column("Площадь", "м²", "number", 2),
         Column("Жильцов", kind="integer"), Column("Приборы (ИПУ)", width=24),
         Column("ИПУ за период", unit_ru, "number"),
         Column("Норматив за период", unit_ru, "number"), Column("ИПУ/норматив", kind="number", decimals=3)),
        premise_rows, (*heading[:3], "Несколько ИПУ помещения суммируются (со знаками баланса 4.6.5)"),
        totals=("Итого", None, round(sum(p.area_m2 for p in metered), 6), sum(p.residents for p in metered), None,
                figure_cell(all_ipu), all_norm, norm_ratio(all_ipu, all_norm)))
    ctx.progress(1, 1, "готово")
    return Report(SPEC.key, SPEC.title, [monthly, premise_sheet],
                  file_stem(SPEC.key, building_id, resource.value, f"{months[0]:%Y-%m}", f"{months[-1]:%Y-%m}"))


SPEC = ReportSpec(
    "building_balance", "Баланс по МКД", "4.3.3",
    (Param("building", "building", "Объект"),
     Param("resource", "resource", "Ресурс", choices=RESOURCE_CHOICES),
     Param("first", "month", "Первый месяц", default="last_month"),
     Param("last", "month", "Последний месяц", default="last_month")),
    build,
    description="Сравнение суммы ИПУ, ОДПУ и норматива потребления по месяцам и по помещениям.",
    check=check)
