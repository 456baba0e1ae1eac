"""Отчётный документ для биллинга, стандартный шаблон (manual 4.4.1): a month's meter readings in the
layout of the ГИС ЖКХ meter-readings import («Импорт показаний ПУ»), to be passed to the billing
centre (РИЦ) or loaded into ГИС ЖКХ.

Layout. The column list follows issue 15's list for the ГИС ЖКХ «Показания ПУ» Excel import; the
published template itself (dom.gosuslugi.ru, «Шаблоны файлов импорта») was not in the material this
was checked against, so no template version is claimed: the headers are ours in its wording, one
header row, data from row 2. Sheets: «Импорт показаний ИПУ» (apartment meters), «Импорт показаний
ОДПУ» (building meters) and «Ошибки». Readings are numbers shown with 7 decimals; «Период» (MM.YYYY)
and «Дата снятия показаний» (dd.mm.yyyy) are text, as the template expects. A single-tariff meter
gives its total in Т1; an electricity meter with zones gives T1 (day), T2 (night), T3 (a third zone).

Which reading. A meter's reading for the month is the one that closes its reporting period
(cloud/reports/readings.py ``month_close``, the reporting day of the next month at 00:00 local), its
date that boundary's date; every value listed is an actual reading from the meter's archive
(«Фактическое показание» да). A meter in service at that boundary that cannot be listed goes to
«Ошибки» with the reason, the date of its last known reading and how many closings in a row up to this
one (at most 12) have no reading: no ГИС number, no reading (no archive), no personal account for an
apartment meter, more zones than the template has; a meter decommissioned within the period is named
there too (its final reading goes with its decommissioning, not in this import). A missing reading is
never replaced by an average, a norm or an older reading: under Government Decree 354 (points 59–60)
that is the billing centre's calculation, and the count of months tells it which rule applies. A meter
whose period has not closed yet (a later reporting day) is said so in «Ошибки» too, not guessed.
Tests: tests/unit/cloud/test_billing_document_rules.py, tests/integration/test_billing_document.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from cloud.reports import readings as rd
from cloud.reports.engine import Param, ReportContext, ReportSpec, file_stem
from cloud.reports.table import Cell, Column, Report, Sheet
from cloud.services.models import BuildingSummary, InvalidInput, MeterInfo, PremiseInfo
from protocol.periods import local_to_utc, utc_to_local, zone
from protocol.vocabulary import MeterRole, Resource

TITLE = "Отчётный документ для биллинга (ГИС ЖКХ)"
SHEET_IPU, SHEET_ODPU, SHEET_ERRORS = "Импорт показаний ИПУ", "Импорт показаний ОДПУ", "Ошибки"
LOOKBACK_MONTHS = 12
DECIMALS = 7
ACTUAL = "да"
# the communal resources in ГИС ЖКХ's wording (its directory «Вид коммунального ресурса»)
GIS_RESOURCE = {Resource.COLD_WATER: "Холодная вода", Resource.HOT_WATER: "Горячая вода",
                Resource.ELECTRICITY: "Электрическая энергия", Resource.HEAT: "Тепловая энергия",
                Resource.GAS: "Газ", Resource.SEWAGE: "Сточные воды"}
ZONES = ("T1", "T2", "T3")

NO_GIS = "нет номера прибора учёта в ГИС ЖКХ"
NO_ACCOUNT = "нет лицевого счёта помещения"
NO_READING = "нет показания на конец расчётного периода (нет архива прибора)"
NOT_CLOSED = "расчётный период прибора ещё не закончился: показание будет на {day}"
LEFT = ("прибор выведен из эксплуатации {day}, до конца расчётного периода: его конечное показание в документ "
        "не входит")
TOO_MANY_ZONES = "у прибора {n} тарифные зоны: шаблон ГИС ЖКХ принимает не более трёх"


def _reading_columns() -> tuple[Column, ...]:
    return (Column("Номер ПУ в ГИС ЖКХ", key="gis_number", width=22),
            Column("Заводской номер ПУ", key="serial", width=18),
            Column("Коммунальный ресурс", key="resource", width=22),
            Column("Период", key="period", width=10),
            *(Column(f"Показание Т{i}", kind="number", decimals=DECIMALS, key=f"t{i}", width=18) for i in (1, 2, 3)),
            Column("Дата снятия показаний", key="reading_date", width=14),
            Column("Фактическое показание", key="actual", width=12))


IPU_COLUMNS = (Column("Адрес", key="address", width=40), Column("Номер помещения", key="premise", width=10),
               Column("Лицевой счёт", key="account", width=16), *_reading_columns())
ODPU_COLUMNS = (Column("Адрес", key="address", width=40), *_reading_columns())
ERROR_COLUMNS = (Column("Адрес", key="address", width=40), Column("Номер помещения", key="premise", width=10),
                 Column("Лицевой счёт", key="account", width=16),
                 Column("Номер ПУ в ГИС ЖКХ", key="gis_number", width=22),
                 Column("Заводской номер ПУ", key="serial", width=18),
                 Column("Коммунальный ресурс", key="resource", width=22),
                 Column("Причина", key="reason", width=50),
                 Column("Дата последнего показания", key="last_reading", width=14),
                 Column("Месяцев подряд без показаний", kind="integer", key="months_missing", width=14))


Marks = dict[tuple[int, tuple[int | None, ...]], bool | None]  # (meter id, a line's channels) -> found


@dataclass(frozen=True, slots=True)
class Line:
    """One meter's resource in the document: the channels that give Т1, Т2, Т3 (None: that zone is empty)."""

    meter: MeterInfo
    resource: Resource
    channels: tuple[int | None, int | None, int | None]
    zones: int  # tariff zones of the meter (0: a single-tariff meter)


def lines_of(meter: MeterInfo) -> list[Line]:
    """The meter's rows, one per communal resource it counts. Electricity: the total in Т1 for a
    single-tariff meter, else its zones T1..T3 (a zone the meter lacks stays empty); another resource:
    its first channel that keeps a counter."""
    out: list[Line] = []
    for resource in meter.resources:
        if resource not in GIS_RESOURCE:
            continue
        counting = [c for c in meter.channels if c.resource is resource and rd.parameter_of(c) is not None]
        if not counting:
            continue
        if resource is Resource.ELECTRICITY:
            by_tariff = {rd.tariff_of(meter, c): c.number for c in counting}
            zones = sum(1 for t in by_tariff if t != "total")
            if zones >= 2:
                out.append(Line(meter, resource, (by_tariff.get("T1"), by_tariff.get("T2"), by_tariff.get("T3")),
                                zones))
                continue
            total = by_tariff.get("total", by_tariff.get("T1"))
            out.append(Line(meter, resource, (total, None, None), 0))
            continue
        out.append(Line(meter, resource, (counting[0].number, None, None), 0))
    return out


def period_text(month: date) -> str:
    """«Период» as the template takes it: MM.YYYY, text."""
    return f"{month:%m.%Y}"


def day_text(day: date | datetime) -> str:
    """A date as the template takes it: dd.mm.yyyy, text."""
    return f"{day:%d.%m.%Y}"


def previous_months(month: date, n: int) -> list[date]:
    """``month`` and the ``n - 1`` months before it, newest first."""
    out, m = [], month
    for _ in range(n):
        out.append(m)
        m = (m - timedelta(days=1)).replace(day=1)
    return out


def months_in_a_row(found: Sequence[bool | None]) -> int:
    """How many closings in a row, newest first, have no reading: ``found`` per closing is False (no
    reading: counted), True (a reading, or the meter was not in service then: the run ends there) or
    None (the period has not closed yet: skipped)."""
    run = 0
    for hit in found:
        if hit is True:
            break
        if hit is None:
            continue
        run += 1
    return run


def _complete(line: Line, got: dict[rd.Key, rd.Reading]) -> bool:
    return all(c is None or (line.meter.id, c) in got for c in line.channels)


def left_during(meter: MeterInfo, month: date, tz: ZoneInfo) -> date | None:
    """The local day the meter was decommissioned when that fell inside its reporting period ``month``
    (after the period began, before it closed): it was in service in the month but gives no closing
    reading, so it is named in «Ошибки» rather than left out unseen. None otherwise."""
    gone = meter.decommissioned_at
    if gone is None:
        return None
    start = rd.month_close(meter, (month - timedelta(days=1)).replace(day=1))
    if not local_to_utc(start, tz) < gone <= local_to_utc(rd.month_close(meter, month), tz):
        return None
    if meter.commissioned_at is not None and meter.commissioned_at >= gone:
        return None
    return utc_to_local(gone, tz).date()


@dataclass(slots=True)
class _Scope:
    building: BuildingSummary
    tz: ZoneInfo
    premises: dict[int, PremiseInfo]


def check_month(month: date, today: date) -> None:
    if month > today.replace(day=1):
        raise InvalidInput(f"month: {month:%Y-%m} has not begun yet")


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    month: date = params["month"]
    check_month(month, ctx.clock().date())
    chosen = params.get("building")
    buildings = [await ctx.services.accounting.building(ctx.token, chosen)] if chosen is not None else \
        await ctx.services.accounting.buildings(ctx.token)
    gis = await asyncio.to_thread(_gis_numbers, ctx, [b.id for b in buildings])
    now = ctx.clock()
    ipu: list[tuple[Cell, ...]] = []
    odpu: list[tuple[Cell, ...]] = []
    errors: list[tuple[Cell, ...]] = []
    for done, building in enumerate(buildings):
        ctx.progress(done, len(buildings), building.address)
        scope = _Scope(building, zone(building.time_zone),
                       {p.id: p for p in await ctx.services.accounting.premises(ctx.token, building.id)})
        meters = await ctx.services.accounting.meters(ctx.token, building.id)
        await _building_rows(ctx, scope, meters, gis, month, now, ipu, odpu, errors)
    ctx.progress(len(buildings), len(buildings), "")
    scope_text = buildings[0].address if chosen is not None else f"все объекты ({len(buildings)})"
    title = f"{TITLE}: {ctx.user.company_name}, {scope_text}, период {period_text(month)}"
    return Report("billing_document", title, [Sheet(SHEET_IPU, IPU_COLUMNS, ipu),
                                                Sheet(SHEET_ODPU, ODPU_COLUMNS, odpu),
                                                Sheet(SHEET_ERRORS, ERROR_COLUMNS, errors)],
                  file_stem("billing_document", chosen, f"{month:%Y-%m}"))


def _gis_numbers(ctx: ReportContext, building_ids: list[int]) -> dict[int, str]:
    """meter id -> its number in ГИС ЖКХ, for the chosen buildings of the user's company."""
    rows = ctx.registry.all("SELECT id, building_id, gis_number FROM meters WHERE company_id = ?",
                            ctx.user.company_id)
    wanted = set(building_ids)
    return {r["id"]: r["gis_number"] for r in rows if r["building_id"] in wanted}


async def _building_rows(ctx: ReportContext, scope: _Scope, meters: list[MeterInfo], gis: dict[int, str],
                         month: date, now: datetime, ipu: list[tuple[Cell, ...]], odpu: list[tuple[Cell, ...]],
                         errors: list[tuple[Cell, ...]]) -> None:
    tz = scope.tz
    listed = [m for m in meters if rd.expected_at(m, rd.month_close(m, month), tz)]
    closed = [m for m in listed if local_to_utc(rd.month_close(m, month), tz) <= now]
    closed_ids = {m.id for m in closed}
    listed_ids = {m.id for m in listed}
    got = await rd.readings_at(ctx.clickhouse, ctx.user.company_id, [(m, rd.month_close(m, month), tz) for m in closed])
    problems: list[tuple[Line, list[str]]] = []  # (line, why it is not listed)
    for meter in meters:
        boundary = rd.month_close(meter, month)
        premise = scope.premises.get(meter.premise_id) if meter.premise_id is not None else None
        if meter.id not in listed_ids:
            left = left_during(meter, month, tz)
            if left is not None:
                problems.extend((line, [LEFT.format(day=day_text(left))]) for line in lines_of(meter))
            continue
        for line in lines_of(meter):
            reasons: list[str] = []
            if not gis.get(meter.id):
                reasons.append(NO_GIS)
            if meter.role is MeterRole.INDIVIDUAL and not (premise and premise.account):
                reasons.append(NO_ACCOUNT)
            if line.zones > len(ZONES):
                reasons.append(TOO_MANY_ZONES.format(n=line.zones))
            if meter.id not in closed_ids:
                reasons.append(NOT_CLOSED.format(day=day_text(boundary)))
            elif not _complete(line, got):
                reasons.append(NO_READING)
            if reasons:
                problems.append((line, reasons))
                continue
            values = tuple(None if c is None else round(got[(meter.id, c)].value, DECIMALS) for c in line.channels)
            reading = (gis[meter.id], meter.serial, GIS_RESOURCE[line.resource], period_text(month), *values,
                       day_text(boundary), ACTUAL)
            if meter.role is MeterRole.INDIVIDUAL and premise is not None:
                ipu.append((scope.building.address, premise.number, premise.account, *reading))
            else:
                odpu.append((scope.building.address, *reading))
    if problems:
        errors.extend(await _error_rows(ctx, scope, problems, gis, month, now, got))


async def _error_rows(ctx: ReportContext, scope: _Scope, problems: list[tuple[Line, list[str]]],
                      gis: dict[int, str], month: date, now: datetime, got: dict[rd.Key, rd.Reading]
                      ) -> list[tuple[Cell, ...]]:
    tz = scope.tz
    meters = list({line.meter.id: line.meter for line, _ in problems}.values())
    # a reading at or before the month's closing (the newest such; at most the look-back back)
    as_of = {m.id: min(local_to_utc(rd.month_close(m, month), tz), now) for m in meters}
    latest: dict[rd.Key, rd.Reading] = {}
    for moment in sorted(set(as_of.values())):
        group = [(m, tz) for m in meters if as_of[m.id] == moment]
        latest.update(await rd.latest_readings(ctx.clickhouse, ctx.user.company_id, group, moment,
                                               lookback_days=31 * (LOOKBACK_MONTHS + 1)))
    history = await _history(ctx, tz, meters, month, now, got)
    rows: list[tuple[Cell, ...]] = []
    for line, reasons in problems:
        meter = line.meter
        premise = scope.premises.get(meter.premise_id) if meter.premise_id is not None else None
        last = _last_reading(line, latest, got)
        run = months_in_a_row([found.get((meter.id, line.channels), None) for found in history])
        rows.append((scope.building.address, premise.number if premise else None,
                     (premise.account or None) if premise else None, gis.get(meter.id) or None, meter.serial,
                     GIS_RESOURCE[line.resource], "; ".join(reasons), last, run))
    return rows


def _last_reading(line: Line, latest: dict[rd.Key, rd.Reading], got: dict[rd.Key, rd.Reading]) -> str | None:
    """The date of the line's newest complete reading: the closing's when it has one (a monthly archive
    too), else the newest day or hour record's at or before it; None when no channel set is complete."""
    meter_id = line.meter.id
    if _complete(line, got):
        return day_text(got[(meter_id, next(c for c in line.channels if c is not None))].at)
    dates = [latest[(meter_id, c)].at for c in line.channels if c is not None and (meter_id, c) in latest]
    return day_text(min(dates)) if dates and len(dates) == sum(c is not None for c in line.channels) else None


async def _history(ctx: ReportContext, tz: ZoneInfo, meters: list[MeterInfo], month: date, now: datetime,
                   got: dict[rd.Key, rd.Reading]) -> list[Marks]:
    """Per closing, newest first (this month and up to LOOKBACK_MONTHS - 1 before), per (meter, its
    line's channels): False no complete reading, True one (or the meter not in service then), None the
    period not closed yet (``months_in_a_row`` reads them)."""
    out: list[Marks] = []
    active = {m.id for m in meters}
    for k, m_month in enumerate(previous_months(month, LOOKBACK_MONTHS)):
        wanted: list[tuple[MeterInfo, datetime, ZoneInfo]] = []
        marks: Marks = {}
        for meter in meters:
            if meter.id not in active:
                continue
            boundary = rd.month_close(meter, m_month)
            if not rd.expected_at(meter, boundary, tz):
                active.discard(meter.id)  # not in service then: the run ends there
                for line in lines_of(meter):
                    marks[(meter.id, line.channels)] = True
                continue
            if local_to_utc(boundary, tz) > now:
                for line in lines_of(meter):
                    marks[(meter.id, line.channels)] = None
                continue
            wanted.append((meter, boundary, tz))
        found = got if k == 0 else (await rd.readings_at(ctx.clickhouse, ctx.user.company_id, wanted) if wanted else {})
        for meter, _, _ in wanted:
            for line in lines_of(meter):
                complete = _complete(line, found)
                marks[(meter.id, line.channels)] = complete
        if k > 0 and not wanted and not marks:
            break
        out.append(marks)
    return out


@dataclass(frozen=True, slots=True)
class Summary:
    """What the page says about a made document: rows of each import sheet and the first errors."""

    ipu: int
    odpu: int
    errors: int
    first_errors: tuple[tuple[str, str, str, str], ...]  # (address, premise, serial, reason)


def summarise(path: Path, first: int = 10) -> Summary:
    """Read a made document back (openpyxl, read-only): the counts and the first ``first`` errors."""
    book = load_workbook(path, read_only=True)
    try:
        counts = {name: sum(1 for row in book[name].iter_rows(min_row=2, values_only=True) if any(row))
                  for name in (SHEET_IPU, SHEET_ODPU, SHEET_ERRORS)}
        shown: list[tuple[str, str, str, str]] = []
        for row in book[SHEET_ERRORS].iter_rows(min_row=2, max_row=first + 1, values_only=True):
            shown.append((str(row[0] or ""), str(row[1] or ""), str(row[4] or ""), str(row[6] or "")))
    finally:
        book.close()
    return Summary(counts[SHEET_IPU], counts[SHEET_ODPU], counts[SHEET_ERRORS], tuple(shown))


SPEC = ReportSpec(
    "billing_document", TITLE, "4.4.1",
    (Param("month", "month", "Отчётный месяц", default="last_month"),
     Param("building", "building", "Объект (все объекты, если не выбран)", required=False)),
    build, description="Показания приборов учёта за месяц в формате импорта ГИС ЖКХ: ИПУ, ОДПУ и список "
                        "приборов, показания которых передать нельзя, с причиной.")
