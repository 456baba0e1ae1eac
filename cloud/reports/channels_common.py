"""What the channel and verification reports (manual 4.3.1, 4.3.4, 4.3.6, 4.3.10, 4.3.11) share:
which measuring channels a meter counts for, when a meter is in service, the verification period
presets, and one scoped bulk read of the company's measuring channels (ИИК) with their instruments.

A channel counted by 4.3.4 / 4.3.6 is one device channel of a meter (``meter_channels``), the tariff
zones of an electricity meter (T1..T4) being parts of its one channel, not channels of their own:
every meter has its device channels from its model, whereas ИИК (4.5.3) are an optional
configuration that most apartment meters never get. A device channel has no date of its own in the
registry, so the meter's lifecycle dates are its dates: added when the meter was commissioned,
removed when it was decommissioned (a replaced meter: the old one removed, the new one added).
A meter of a legacy row without dates was never seen to change: it is in service by its stored status.

Verification (4.3.1, 4.3.10): an ИИК has no dates of its own either; it is as verified as its least
verified instrument, so its next verification date is the earliest next date of its members (the
meter itself when it measures in the channel, and its sensors). Tests:
tests/unit/cloud/test_reports_channels_rules.py, tests/integration/test_reports_channels.py.
"""

from __future__ import annotations

import asyncio
import calendar
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cloud.reports.engine import RESOURCE_CHOICES, RESOURCE_RU, Param, ReportContext
from cloud.services.models import BuildingSummary, InvalidInput, MeterInfo, meter_status
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import MeterRole, Resource

# the channel types of 4.3.4 / 4.3.6, in the manual's order: (key, Russian title)
CHANNEL_TYPES: tuple[tuple[str, str], ...] = (
    ("heat", "Отопление"), ("hot_water", "ГВС"), ("cold_water", "ХВС"), ("electricity", "Электричество"),
    ("other", "Другое"))
_TYPE_OF = {Resource.HEAT: "heat", Resource.HOT_WATER: "hot_water", Resource.COLD_WATER: "cold_water",
            Resource.ELECTRICITY: "electricity"}


def channel_type(resource: Resource) -> str:
    """The 4.3.4 column of a resource: gas and sewage are «другое»."""
    return _TYPE_OF.get(resource, "other")


def channel_types(meter: MeterInfo) -> list[str]:
    """The type of each measuring channel of the meter (tariff zones are not channels of their own)."""
    return [channel_type(c.resource) for c in meter.channels if c.tariff in (None, "total")]


def day_start(day: date, time_zone: str) -> datetime:
    """The UTC instant the building's local day begins."""
    return local_to_utc(datetime(day.year, day.month, day.day), zone(time_zone))


def in_service_on(meter: MeterInfo, day: date, time_zone: str) -> bool:
    """In service at the end of the building's local ``day``: a meter commissioned that day counts, one
    decommissioned that day does not (the state after the day's changes, as the composition on a date
    is read)."""
    end = day_start(day + timedelta(days=1), time_zone) - timedelta(microseconds=1)
    return meter_status(meter.commissioned_at, meter.decommissioned_at, end, meter.status) == "in_service"


def changed_in(meter: MeterInfo, first: date, last: date, time_zone: str) -> tuple[bool, bool]:
    """(added, removed): the meter's commissioning / decommissioning instant lies in the local days
    ``first``..``last``."""
    start, end = day_start(first, time_zone), day_start(last + timedelta(days=1), time_zone)
    added = meter.commissioned_at is not None and start <= meter.commissioned_at < end
    removed = meter.decommissioned_at is not None and start <= meter.decommissioned_at < end
    return added, removed


@dataclass(frozen=True, slots=True)
class Nodes:
    """Metering nodes of a building: individual ones (premises with an apartment meter) and whether it
    has a building metering node (ОДУУ: counted not, only its presence is recorded, manual 4.3.4)."""

    individual: int
    common: bool


def nodes(meters: Iterable[MeterInfo], day: date, time_zone: str) -> Nodes:
    """The building's metering nodes in service at the end of ``day``."""
    live = [m for m in meters if in_service_on(m, day, time_zone)]
    premises = {m.premise_id for m in live if m.role is MeterRole.INDIVIDUAL and m.premise_id is not None}
    return Nodes(len(premises), any(m.role is MeterRole.COMMON for m in live))


async def buildings(ctx: ReportContext, building_id: int | None) -> list[BuildingSummary]:
    """The chosen building (NotFound when it is not the company's), else every building of the company."""
    if building_id is not None:
        return [await ctx.services.accounting.building(ctx.token, building_id)]
    return await ctx.services.accounting.buildings(ctx.token)


# --- verification periods (4.3.10, 4.3.11) -------------------------------------------------------------

PRESETS: tuple[tuple[str, str], ...] = (
    ("year", "Год"), ("half_year", "Полгода"), ("3_months", "3 месяца"), ("month", "Месяц"),
    ("2_weeks", "2 недели"), ("custom", "Другой интервал"))
_PRESET_MONTHS = {"year": 12, "half_year": 6, "3_months": 3, "month": 1}
USAGES: tuple[tuple[str, str], ...] = (("all", "ИПУ и ОДПУ"), ("individual", "ИПУ"), ("common", "ОДПУ"))


def months_ahead_last(today: date, months: int) -> date:
    """The last day of a span of ``months`` months from ``today``: the day before the same date
    ``months`` months later; where that date does not exist (the 31st, 29 February) the span runs
    to the end of that month (31 January + 1 month: up to 28 February; 29 February 2024 + 1 year:
    up to 28 February 2025)."""
    index = today.month - 1 + months
    year, month = today.year + index // 12, index % 12 + 1
    length = calendar.monthrange(year, month)[1]
    if today.day > length:
        return date(year, month, length)
    return date(year, month, today.day) - timedelta(days=1)


def preset_period(preset: str, today: date, first: date | None, last: date | None) -> tuple[date, date]:
    """The period a preset means, counted from ``today``; ``custom`` is ``first``..``last``."""
    if preset == "custom":
        if first is None or last is None:
            raise InvalidInput("first/last: both dates are required with preset=custom")
        return first, last
    if preset == "2_weeks":
        return today, today + timedelta(days=13)
    if preset not in _PRESET_MONTHS:
        raise InvalidInput(f"preset: one of {', '.join(p for p, _ in PRESETS)}, got {preset!r}")
    return today, months_ahead_last(today, _PRESET_MONTHS[preset])


def check_preset(params: dict[str, Any]) -> None:
    """A ``ReportSpec.check``: dates only with ``custom``, both of them, in order."""
    first, last = params.get("first"), params.get("last")
    if params.get("preset") == "custom":
        if first is None or last is None:
            raise InvalidInput(f"{'first' if first is None else 'last'}: required with preset=custom")
        if first > last:
            raise InvalidInput(f"first: {first} is after last {last}")
    elif first is not None or last is not None:
        raise InvalidInput(f"{'first' if first is not None else 'last'}: a date is given only with preset=custom "
                           f"(preset {params.get('preset')} counts from today)")


async def company_today(ctx: ReportContext) -> date:
    """Today in the company's city (the presets count from it)."""
    row = await asyncio.to_thread(ctx.registry.one, "SELECT ci.time_zone FROM companies co JOIN cities ci "
                                  "ON ci.name = co.city WHERE co.id = ?", ctx.user.company_id)
    now = ctx.clock()
    return now.astimezone(zone(row["time_zone"])).date() if row else now.astimezone(UTC).date()


def resources_ru(resources: Iterable[Resource]) -> str:
    return ", ".join(RESOURCE_RU[r] for r in resources)


# --- measuring channels (ИИК) with their instruments -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class Instrument:
    """One member of an ИИК: the meter itself (``sensor_id`` None) or a sensor."""

    sensor_id: int | None
    kind: str  # "meter" or a sensor kind
    model: str
    serial: str
    quantity: str
    verified_on: date | None
    next_verification_on: date | None


@dataclass(frozen=True, slots=True)
class Iik:
    id: int
    meter_id: int
    resource: Resource
    resource_number: int
    parameter: str
    instruments: tuple[Instrument, ...]

    @property
    def next_verification_on(self) -> date | None:
        """The earliest next verification date of its instruments (None: none has one)."""
        dates = [i.next_verification_on for i in self.instruments if i.next_verification_on is not None]
        return min(dates) if dates else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


# ``{marks}``: placeholders only (the ids are bound parameters)
_CHANNELS_SQL = (
    "SELECT c.*, m.model AS meter_model, m.serial AS meter_serial, m.verified_on AS meter_verified, "
    "m.next_verification_on AS meter_next FROM measuring_channels c JOIN meters m ON m.id = c.meter_id "
    "WHERE m.company_id = ? AND m.id IN ({marks}) ORDER BY c.meter_id, c.resource, c.resource_number, c.parameter")
_SENSORS_SQL = (
    "SELECT cs.channel_id, cs.quantity, s.* FROM measuring_channel_sensors cs "
    "JOIN meter_sensors s ON s.id = cs.sensor_id JOIN meters m ON m.id = s.meter_id "
    "WHERE m.company_id = ? AND m.id IN ({marks}) ORDER BY cs.channel_id, s.serial")


async def iik_of(ctx: ReportContext, meter_ids: Iterable[int]) -> dict[int, list[Iik]]:
    """Meter id -> its ИИК with their instruments, for the user's company's meters among ``meter_ids``."""
    ids = sorted(set(meter_ids))

    def read() -> dict[int, list[Iik]]:
        with ctx.registry.reading() as db:
            return read_iik(db, ctx.user.company_id, ids)
    return await asyncio.to_thread(read)


def read_iik(db: sqlite3.Connection, company_id: int, meter_ids: Iterable[int]) -> dict[int, list[Iik]]:
    """Meter id -> its ИИК with their instruments, for the company's meters among ``meter_ids``."""
    ids = sorted(set(meter_ids))
    out: dict[int, list[Iik]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        channels = db.execute(_CHANNELS_SQL.format(marks=marks), (company_id, *chunk)).fetchall()
        sensors: dict[int, list[Instrument]] = {}
        for s in db.execute(_SENSORS_SQL.format(marks=marks), (company_id, *chunk)):
            sensors.setdefault(s["channel_id"], []).append(Instrument(
                s["id"], s["kind"], s["model"], s["serial"], s["quantity"], _day(s["verified_on"]),
                _day(s["next_verification_on"])))
        for c in channels:
            members = [Instrument(None, "meter", c["meter_model"], c["meter_serial"], c["meter_quantity"],
                                  _day(c["meter_verified"]), _day(c["meter_next"]))] if c["meter_quantity"] else []
            out.setdefault(c["meter_id"], []).append(Iik(
                c["id"], c["meter_id"], Resource(c["resource"]), c["resource_number"], c["parameter"],
                (*members, *sensors.get(c["id"], ()))))
    return out


def verification_params() -> tuple[Param, ...]:
    """The parameters 4.3.10 and 4.3.11 share (manual 4.3.11: "подобные параметры")."""
    return (Param("building", "building", "Объект (все объекты, если не выбран)", required=False),
            Param("model", "text", "Модель ПУ (все модели, если не указана)", required=False),
            Param("usage", "choice", "Тип использования", choices=USAGES, default="all"),
            Param("resource", "resource", "Ресурс (все ресурсы, если не выбран)", required=False,
                  choices=RESOURCE_CHOICES),
            Param("preset", "choice", "Период", choices=PRESETS, default="month"),
            Param("first", "day", "Начало периода (для другого интервала)", required=False),
            Param("last", "day", "Конец периода (для другого интервала)", required=False))


def usage_roles(usage: str) -> tuple[MeterRole, ...]:
    """The meter roles a usage choice lets through (empty: all)."""
    return () if usage == "all" else (MeterRole(usage),)


def filter_lines(params: dict[str, Any], first: date, last: date, scope: str) -> tuple[str, ...]:
    """The heading lines that say what was chosen."""
    usage = dict(USAGES)[params.get("usage") or "all"]
    resource = RESOURCE_RU[params["resource"]] if params.get("resource") else "все"
    return (f"Объект: {scope}", f"Модель ПУ: {params.get('model') or 'все'}; тип: {usage}; ресурс: {resource}",
            f"Период: {first:%d.%m.%Y} – {last:%d.%m.%Y} ({dict(PRESETS)[params['preset']].lower()})")
