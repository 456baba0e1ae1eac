"""Карточка учета показаний потребления коммунальных ресурсов, «Карточка ОДПУ» (manual 4.3.9): one building
meter over a period, for one resource or for heat and hot water side by side.

Sheets: the registration parameters of the object and the meter; the characteristics of its systems as the
registry knows them (device channels, their parameters, measuring channels ИИК and sensors); the interval
values per day of every parameter its channels keep; the summary of the meter's work (days with data of
the days it was expected, its events); the integral values at the start and the end of the previous month
(the calendar month before the one the period ends in, by the meter's reporting day, manual note); the
totals of consumption over the period. Counters (Q, V, V1, V2, E ...) per day are interval values: the
device's interval record, else the difference of its integral day records across a wrap and the recorded
breaks (consumption.py, the rules of 4.1.5; a meter out of service for a verification expects nothing);
temperatures are the device's daily means. Nothing is filled in: a value with no archive is ``–*``, a
total with a day missing is the known part marked ``*``. Units from protocol.vocabulary.PARAMETERS. No
catalogue model keeps an operating-time counter, so the hours of operation say so.
Tests: tests/integration/test_reports_balance.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cloud.reports.engine import MONTHS, RESOURCE_RU, Param, ReportContext, ReportSpec, file_stem
from cloud.reports.r_building_balance import UNITS_RU, figure_cell
from cloud.reports.r_phase_balance import day_list
from cloud.reports.table import MISSING, Cell, Column, Report, Sheet
from cloud.services import consumption as calc
from cloud.services import counters
from cloud.services import meter_series as series
from cloud.services.models import ChannelInfo, Granularity, InvalidInput, MeterInfo, NotFound
from cloud.services.outages import load_outages, overlaps_outage
from protocol import catalogue
from protocol.periods import local_to_utc, utc_to_local, zone
from protocol.vocabulary import CONSUMPTION_PARAMETER, PARAMETERS, ArchiveKind, MeterRole, Resource

MODES = (("resource", "По ресурсу"), ("heat_and_hot_water", "Тепло и ГВС"))
PARAMETER_RU = {"Q": "Q, тепловая энергия", "V": "V, объём", "V1": "V1, объём подачи", "V2": "V2, объём обратки",
                "T1": "T1, температура подачи", "T2": "T2, температура обратки", "E": "E, энергия",
                "N": "N, импульсы", "P": "P, мощность"}
STATUS_RU = {"in_service": "в эксплуатации", "commissioning": "вводится в эксплуатацию",
             "decommissioned": "выведен из эксплуатации"}
SENSOR_RU = {"flow_transducer": "Преобразователь расхода", "temperature_sensor": "Термопреобразователь",
             "water_meter": "Водосчётчик", "pulse_meter": "Счётчик импульсов"}
_PREFERENCE = (ArchiveKind.MONTH, ArchiveKind.DAY, ArchiveKind.HOUR)


def check(params: dict[str, Any]) -> None:
    a, b = params.get("first"), params.get("last")
    if a is not None and b is not None:
        day_list(a, b)


def chosen_channels(meter: MeterInfo, mode: str, resource: Resource | None) -> tuple[ChannelInfo, ...]:
    """The meter's channels the card shows: those of ``resource`` (default: its first), or its heat and
    hot-water channels; InvalidInput naming the parameter when it has none."""
    if mode == "heat_and_hot_water":
        found = tuple(c for c in meter.channels if c.resource in (Resource.HEAT, Resource.HOT_WATER))
        if not found:
            raise InvalidInput(f"mode: meter {meter.serial} measures neither heat nor hot water")
        return tuple(sorted(found, key=lambda c: (c.resource is not Resource.HEAT, c.number)))
    if not meter.channels:
        raise InvalidInput(f"meter: meter {meter.serial} has no channels")
    wanted = resource or meter.channels[0].resource
    found = tuple(c for c in meter.channels if c.resource is wanted)
    if not found:
        raise InvalidInput(f"resource: meter {meter.serial} does not measure {wanted.value}")
    return found


def _summable(parameter: str) -> bool:
    known = PARAMETERS.get(parameter)
    return known is not None and known.summable


def _unit(parameter: str) -> str:
    known = PARAMETERS.get(parameter)
    return UNITS_RU.get(known.unit, known.unit) if known else ""


def _source(ctx: ReportContext, meter: MeterInfo, channel: ChannelInfo, parameter: str) -> calc.Source:
    """What the rules need of one counter (as meter_series builds it for the consumption parameter)."""
    modulus, per_hour = calc.counter_limits(meter.model, parameter)
    breaks = counters.load(ctx.registry, [meter.id], parameter).get((meter.serial, channel.number), ())
    key = f"{channel.number}:{parameter}"
    return calc.Source(kinds=series.kinds(meter), commissioned=meter.commissioned_at,
                       decommissioned=meter.decommissioned_at, reporting_day=meter.reporting_day,
                       factor=meter.ct_ratio if parameter == "E" else 1.0, modulus=modulus, max_per_hour=per_hour,
                       initial=meter.initial_readings.get(key), final=meter.final_readings.get(key),
                       breaks=tuple(breaks))


async def _daily_counters(ctx: ReportContext, meter: MeterInfo, channels: Sequence[ChannelInfo],
                          days: Sequence[date], tz: ZoneInfo) -> dict[series.Key, list[calc.Amount]]:
    """Each counter of the channels per day by the rules of 4.1.5, from one archive query; a day inside an
    out-of-service interval (verification, repair) is not expected."""
    chans = []
    for c in channels:
        for p in c.parameters:
            if _summable(p):
                source = await asyncio.to_thread(_source, ctx, meter, c, p)
                chans.append(series.Channel(meter, c, c.resource, p, calc.channel_tariff(
                    meter.model, meter.tariffs, c.number, c.tariff), source))
    labels = [datetime(d.year, d.month, d.day) for d in days]
    found = await series.amounts(ctx.clickhouse, ctx.user.company_id, chans, Granularity.DAY, labels, tz)
    stops = (await asyncio.to_thread(load_outages, ctx.registry, [meter.id])).get(meter.id)
    if stops:
        for key, amounts in found.items():
            found[key] = [calc.Amount(calc.State.NOT_EXPECTED) if a.state is calc.State.MISSING and overlaps_outage(
                stops, local_to_utc(label, tz), local_to_utc(label + timedelta(days=1), tz)) else a
                for a, label in zip(amounts, labels, strict=True)]
    return found


async def _daily_means(ctx: ReportContext, meter: MeterInfo, channels: Sequence[ChannelInfo],
                       days: Sequence[date]) -> dict[tuple[int, str, date], float]:
    """The daily values of the parameters that are no counters (temperatures: the period's mean), as the
    meter's archive page gives them (its day records, or the mean of its hour records)."""
    out: dict[tuple[int, str, date], float] = {}
    months = sorted({d.replace(day=1) for d in days})
    for c in channels:
        if all(_summable(p) for p in c.parameters):
            continue
        for month in months:
            archive = await ctx.services.accounting.meter_archive(ctx.token, meter.id, c.number, Granularity.DAY,
                                                                  month)
            for row in archive.rows:
                for p, value in row.values.items():
                    if not _summable(p) and value is not None:
                        out[(c.number, p, row.period.date())] = value
    return out


async def _integrals(ctx: ReportContext, meter: MeterInfo, channels: Sequence[ChannelInfo],
                     boundaries: Sequence[datetime], tz: ZoneInfo) -> dict[tuple[datetime, int, str], float]:
    """The counters' readings at local ``boundaries``: the integral record of the period that ends there
    (month, else day, else hour record), or the reading recorded at commissioning or decommissioning."""
    kinds = series.kinds(meter)
    params = sorted({p for c in channels for p in c.parameters if _summable(p)})
    wanted: dict[datetime, list[tuple[ArchiveKind, datetime]]] = {}
    for boundary in boundaries:
        wanted[boundary] = [(k, key) for k in _PREFERENCE if k in kinds
                            for key in calc.reading_keys(k, boundary, meter.reporting_day, tz)]
    pairs = sorted({(k.value, calc.utc(key).replace(tzinfo=None)) for keys in wanted.values() for k, key in keys})
    stored: dict[tuple[str, datetime, int, str], float] = {}
    if pairs and params:
        rows = await ctx.clickhouse.query(
            "SELECT kind, period_start, channel, parameter, value FROM {db}.archive FINAL WHERE company = {co:UInt32} "
            "AND meter = {m:String} AND nature = 'integral' AND parameter IN {ps:Array(String)} "
            "AND (kind, period_start) IN {pairs:Array(Tuple(String, DateTime('UTC')))}",
            {"co": ctx.user.company_id, "m": meter.serial, "ps": params, "pairs": pairs})
        for kind, start, channel, parameter, value in rows:
            stored[(kind, calc.utc(start), int(channel), parameter)] = float(value)
    out: dict[tuple[datetime, int, str], float] = {}
    for boundary, keys in wanted.items():
        moment = local_to_utc(boundary, tz)
        for c in channels:
            for p in c.parameters:
                if not _summable(p):
                    continue
                factor = meter.ct_ratio if p == "E" else 1.0
                recorded = (meter.initial_readings if moment == meter.commissioned_at else
                            meter.final_readings if moment == meter.decommissioned_at else {}).get(f"{c.number}:{p}")
                value = recorded if recorded is not None else next(
                    (stored[(k.value, key, c.number, p)] for k, key in keys if (k.value, key, c.number, p) in stored),
                    None)
                if value is not None:
                    out[(boundary, c.number, p)] = round(value * factor, 9)
    return out


def _channel_title(c: ChannelInfo) -> str:
    return f"Канал {c.number}: {RESOURCE_RU[c.resource]}"


def _model_title(model: str) -> str:
    try:
        return f"{catalogue.model(model).title} ({model})"
    except catalogue.UnknownModel:
        return model


async def build(ctx: ReportContext, params: dict[str, Any]) -> Report:
    building_id: int = params["building"]
    days = day_list(params["first"], params["last"])
    building = await ctx.services.accounting.building(ctx.token, building_id)
    meter = await ctx.services.accounting.meter(ctx.token, params["meter"])
    if meter.building_id != building_id:
        raise NotFound(f"meter {params['meter']} not found in building {building_id}")
    if meter.role is not MeterRole.COMMON:
        raise InvalidInput(f"meter: {meter.serial} is an apartment meter (ИПУ); the card is of a building meter (ОДПУ)")
    mode: str = params["mode"]
    channels = chosen_channels(meter, mode, params.get("resource"))
    tz = zone(building.time_zone)
    today = utc_to_local(ctx.clock(), tz).date()
    if days[-1] > today:
        raise InvalidInput(f"last: {days[-1]} is after today {today}")
    passport = await ctx.services.buildings.meter(ctx.token, meter.id)
    system = await ctx.services.service_meters.channels(ctx.token, meter.id)
    ctx.progress(1, 5, "суточные значения")
    amounts = await _daily_counters(ctx, meter, channels, days, tz)
    means = await _daily_means(ctx, meter, channels, days)
    ctx.progress(3, 5, "интегральные значения")
    last = days[-1]
    previous = (last.replace(day=1) - timedelta(days=1)).replace(day=1)
    start, end = calc.span(Granularity.MONTH, datetime(previous.year, previous.month, 1), meter.reporting_day)
    integrals = await _integrals(ctx, meter, channels, (start, end), tz)
    journal = await ctx.services.events.journal(ctx.token, building_id, days[0], days[-1])
    events = sum(len(m.events) for m in journal.meters if m.meter.id == meter.id)
    ctx.progress(4, 5, "оформление")

    resources = ", ".join(dict.fromkeys(RESOURCE_RU[c.resource].lower() for c in channels))
    heading = (f"Карточка учета показаний потребления коммунальных ресурсов ({resources})",
               f"Объект: {building.address}, {building.city}", f"Прибор учёта (ОДПУ): {meter.serial}",
               f"Период: {days[0]:%d.%m.%Y} — {days[-1]:%d.%m.%Y}")
    commissioned = utc_to_local(meter.commissioned_at, tz).date() if meter.commissioned_at else None
    registration: list[tuple[Cell, ...]] = [
        ("Адрес объекта", building.address), ("Город", building.city), ("Площадь объекта, м²", building.area_m2),
        ("Жильцов", building.residents), ("Заводской номер прибора", meter.serial),
        ("Модель", _model_title(meter.model)), ("Тип прибора", "ОДПУ (общедомовой)"),
        ("Дата установки", meter.installed_on), ("Дата ввода в эксплуатацию", commissioned),
        ("Дата поверки", passport.verified_on), ("Дата следующей поверки", passport.next_verification_on),
        ("Отчётный день месяца", meter.reporting_day), ("Коммуникатор", meter.communicator or None),
        ("Состояние", STATUS_RU.get(system.status, system.status)), ("Архивы прибора", meter.archives)]
    if any(c.resource is Resource.ELECTRICITY for c in channels):
        registration.append(("Коэффициент трансформации", meter.ct_ratio))
    sheets = [Sheet("Регистрация", (Column("Параметр", width=30), Column("Значение", width=40)),
                    registration, heading)]

    numbers = {c.number for c in channels}
    system_rows: list[tuple[Cell, ...]] = []
    for dc in system.device_channels:
        if dc.number not in numbers:
            continue
        iik = [mc for mc in system.channels if mc.device_channel == dc.number]
        bound = [s for s in system.sensors if any(mc.id in s.channel_ids for mc in iik)]
        system_rows.append((
            dc.number, RESOURCE_RU[dc.resource], dc.resource_number,
            ", ".join(f"{p} ({_unit(p)})" if _unit(p) else p for p in dc.parameters),
            "; ".join(f"{mc.parameter}: " + ", ".join(f"{m.serial} ({m.quantity})" for m in mc.members)
                      for mc in iik) or None,
            "; ".join(f"{SENSOR_RU.get(s.kind, s.kind)} {s.serial}" + (f", поверка до {s.next_verification_on:%d.%m.%Y}"
                                                 if s.next_verification_on else "") for s in bound) or None))
    sheets.append(Sheet("Характеристики", (
        Column("Канал", kind="integer"), Column("Ресурс", width=24), Column("Номер ресурса", kind="integer"),
        Column("Параметры", width=36), Column("Измерительные каналы (ИИК)", width=40),
        Column("Датчики", width=40)), system_rows, heading))

    columns: list[Column] = [Column("Дата", kind="date", width=12)]
    groups: list[tuple[str, int]] = [("", 1)]
    for c in channels:
        groups.append((_channel_title(c), len(c.parameters)))
        columns.extend(Column(PARAMETER_RU.get(p, p), _unit(p), "number", 3 if _summable(p) else 2,
                              key=f"{c.number}:{p}") for p in c.parameters)
    rows: list[tuple[Cell, ...]] = []
    for i, day in enumerate(days):
        row: list[Cell] = [day]
        for c in channels:
            consumption = amounts.get((meter.serial, c.number, _consumption(c)), [])
            expected = bool(consumption) and consumption[i].state is not calc.State.NOT_EXPECTED
            for p in c.parameters:
                if _summable(p):
                    row.append(figure_cell(calc.figure([amounts[(meter.serial, c.number, p)][i]])))
                else:
                    value = means.get((c.number, p, day))
                    row.append(value if value is not None else MISSING if expected else None)
        rows.append(tuple(row))
    totals: list[Cell] = ["Итого"]
    for c in channels:
        for p in c.parameters:
            totals.append(figure_cell(calc.total(calc.figure([a]) for a in amounts[(meter.serial, c.number, p)]))
                          if _summable(p) else None)
    sheets.append(Sheet("Суточные значения", tuple(columns), rows,
                        (*heading, "Интервальные значения за сутки; температуры — среднесуточные; «–*» — нет архива"),
                        totals=tuple(totals), groups=tuple(groups)))

    work_rows: list[tuple[Cell, ...]] = []
    for c in channels:
        consumption = amounts.get((meter.serial, c.number, _consumption(c)), [])
        work_rows.append((_channel_title(c), sum(1 for a in consumption if a.state is calc.State.MEASURED),
                          sum(1 for a in consumption if a.state is not calc.State.NOT_EXPECTED),
                          "прибор не ведёт"))
    sheets.append(Sheet("Работа прибора", (Column("Канал", width=32), Column("Суток с данными", kind="integer"),
                                           Column("Суток ожидалось", kind="integer"),
                                           Column("Время наработки, ч", width=18)),
                        work_rows, (*heading, f"Событий прибора за период: {events}"
                                    + (" (не менее: журнал усечён)" if journal.truncated else ""))))

    integral_rows: list[tuple[Cell, ...]] = []
    total_rows: list[tuple[Cell, ...]] = []
    for c in channels:
        for p in c.parameters:
            if not _summable(p):
                continue
            a, b = integrals.get((start, c.number, p)), integrals.get((end, c.number, p))
            modulus = calc.counter_limits(meter.model, p)[0]
            factor = meter.ct_ratio if p == "E" else 1.0
            diff = None if a is None or b is None else calc.counter_delta(
                a, b, None if modulus is None else modulus * factor)
            integral_rows.append((_channel_title(c), PARAMETER_RU.get(p, p), _unit(p),
                                  MISSING if a is None else a, MISSING if b is None else b, diff))
            total_rows.append((_channel_title(c), PARAMETER_RU.get(p, p), _unit(p), figure_cell(
                calc.total(calc.figure([x]) for x in amounts[(meter.serial, c.number, p)]))))
    prev_title = f"{MONTHS[previous.month - 1]} {previous.year}"
    sheets.append(Sheet("Интегральные", (
        Column("Канал", width=32), Column("Параметр", width=26), Column("Ед. изм."),
        Column(f"На начало ({start:%d.%m.%Y %H:%M})", kind="number"),
        Column(f"На конец ({end:%d.%m.%Y %H:%M})", kind="number"), Column("Разность", kind="number")),
        integral_rows, (*heading, f"Интегральные значения за предыдущий месяц ({prev_title}, отчётный день "
                                  f"{meter.reporting_day}): показания счётчиков на начало и конец")))
    sheets.append(Sheet("Итоги", (Column("Канал", width=32), Column("Параметр", width=26), Column("Ед. изм."),
                                  Column("Потребление за период", kind="number")), total_rows, heading))
    ctx.progress(5, 5, "готово")
    return Report(SPEC.key, SPEC.title, sheets, file_stem(SPEC.key, meter.serial, mode, days[0], days[-1]))


def _consumption(c: ChannelInfo) -> str:
    return CONSUMPTION_PARAMETER[c.resource]


SPEC = ReportSpec(
    "meter_card", "Карточка учета показаний потребления коммунальных ресурсов", "4.3.9",
    (Param("building", "building", "Объект"),
     Param("meter", "meter", "Прибор учёта (ОДПУ)"),
     Param("first", "day", "Начальная дата"),
     Param("last", "day", "Конечная дата", default="today"),
     Param("mode", "choice", "Вид карточки", choices=MODES, default="resource"),
     Param("resource", "resource", "Ресурс (для карточки по ресурсу)", required=False)),
    build,
    description="Карточка ОДПУ: регистрационные параметры, суточные значения, итоги и интегральные показания.",
    check=check)
