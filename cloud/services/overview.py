"""Specific consumption and imbalance by buildings (manual 4.1.1) and the allowed imbalance per
resource (4.6.10), for all the company's buildings of one city at once.

A building's figure of one day (daily archives) or one month (monthly archives, each meter's
own reporting period) is computed exactly as the building page does it (cloud/services/
accounting.py and consumption.py: same inputs, same records, same marks), but for the whole
city from one archive query per time zone rather than one building at a time (the issue's
target: 1,000 buildings in under a second). Specific consumption is heat per m² of the
building's area and any other resource per resident; with no building meter it is the sum of
the apartment meters over the area (heat) or the residents (others) of the premises that have
meters of the resource (the apartments' sum is by their 4.6.5 sign, as on the building page: a
"−" meter is subtracted, an excluded one counts nowhere, nor does its premise). The imbalance
(building − Σ apartments, in units and in % of the building meter) is given only where a
building has both kinds of meters, both sums are complete and the period is over (not today,
not this month). A missing value is null with a status, never zero; a known partial sum gives
a value marked partial.

The allowed imbalance (4.6.10) is a building's own percent, else its city's default for the
resource (``city_imbalance_limits``, per company), else BUILT_IN_IMBALANCE_PCT. A dispatcher
without reader status changes both, singly or in bulk; each change is audited in the same
transaction. Reads: dispatchers, engineers, readers; administrators see nothing (NotFound).
Tests: tests/unit/cloud/test_overview_rules.py, tests/integration/test_overview.py.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from cloud.services import audit
from cloud.services import consumption as calc
from cloud.services.accounting import (
    AccountingService,
    Amounts,
    _building,
    _ever_in_service,
    _meter,
    _source,
)
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.balance_rules import Sign, signed_figure
from cloud.services.models import (
    BuildingSummary,
    ChannelInfo,
    Figure,
    Granularity,
    InvalidInput,
    NotFound,
    UserInfo,
    check_day,
    check_id,
    check_number,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, next_period, utc_to_local, zone
from protocol.vocabulary import CONSUMPTION_PARAMETER, PARAMETERS, ArchiveKind, MeterRole, Resource

# The allowed imbalance, in % of the building meter, wherever neither the building nor its city
# has one for the resource: the usual contractual tolerance of a building balance.
BUILT_IN_IMBALANCE_PCT = 10.0
MAX_CHANGES = 10_000  # limit changes in one bulk request (1,000 buildings x 6 resources fit)
GRANULARITIES = (Granularity.DAY, Granularity.MONTH)

# what a building's specific consumption is (``BuildingSpecific.status``)
COMPLETE, PARTIAL, MISSING = "complete", "partial", "missing"
NO_METERS = "no_meters"  # no meter of the resource in the building
NO_DATA = "no_data"  # the period lies outside the time the building's meters have archives for
NO_DENOMINATOR = "no_denominator"  # the area or the number of residents is zero
# what its imbalance is (``BuildingSpecific.imbalance_status``)
WITHIN, OVER_LIMIT = "within_limit", "over_limit"
INCOMPLETE = "incomplete"  # a sum is partial or missing: no imbalance (manual 4.1.5)
RUNNING = "running"  # the day or month is not over yet (today, this month): no imbalance, as on 4.1.2
NOT_APPLICABLE = "not_applicable"  # not both building and apartment meters
NO_PERCENT = "no_percent"  # the building meter's consumption is zero: no % of it

_BUILDING_SQL = """
SELECT b.*, (SELECT count(*) FROM premises p WHERE p.building_id = b.id) AS premises_count,
       (SELECT count(*) FROM meters m WHERE m.building_id = b.id) AS meters_count
FROM buildings b WHERE b.company_id = ? AND b.city_id = ? ORDER BY b.address
"""
_CITY_BUILDINGS = "SELECT id FROM buildings WHERE company_id = ? AND city_id = ?"


@dataclass(frozen=True, slots=True)
class ImbalanceLimit:
    """The allowed imbalance of one resource in %, and where it comes from."""

    resource: Resource
    percent: float
    source: str  # "building" (its own), "city" (the city's default) or "built_in" (BUILT_IN_IMBALANCE_PCT)


@dataclass(frozen=True, slots=True)
class BuildingSpecific:
    """One building's line of manual 4.1.1. Values are null when not known, with a status that says why."""

    building: BuildingSummary
    basis: str  # "building_meter", "apartment_meters" (no building meter) or "none" (no meter of the resource)
    consumption: Figure  # what the specific value divides: the building meters, else Σ apartment meters
    denominator: float | None  # m² (heat) or residents (other resources) it is divided by
    specific: float | None  # consumption per m² or per resident; the known part when ``status`` is partial
    status: str  # complete, partial, missing, no_meters, no_data, no_denominator
    building_figure: Figure  # the building (common) meters' sum
    apartments_figure: Figure  # the apartment meters' sum by their balance sign (4.6.5)
    imbalance: float | None  # building − Σ apartments, in the resource's unit
    imbalance_pct: float | None  # in % of the building meters
    imbalance_status: str  # within_limit, over_limit, incomplete, not_applicable, no_percent, no_data
    limit: ImbalanceLimit  # the allowed imbalance (4.6.10)


@dataclass(frozen=True, slots=True)
class SpecificConsumption:
    """Manual 4.1.1 for one city, resource and day or month."""

    city_id: int | None  # None: the company has no city
    city: str | None
    resource: Resource
    unit: str  # of the consumption: "Gcal", "m3", "kWh"
    per: str  # "m2" (heat) or "resident" (other resources)
    granularity: Granularity
    period: date  # the day, or the first day of the month
    buildings: tuple[BuildingSpecific, ...]
    resources: tuple[Resource, ...]  # resources the city's meters measure


@dataclass(frozen=True, slots=True)
class BuildingLimits:
    building_id: int
    address: str
    limits: tuple[ImbalanceLimit, ...]  # aligned with the table's resources


@dataclass(frozen=True, slots=True)
class ImbalanceLimits:
    """The page of manual 4.6.10 for one city: defaults per resource, each building's limits."""

    city_id: int | None
    city: str | None
    resources: tuple[Resource, ...]
    defaults: tuple[ImbalanceLimit, ...]  # the city's ("city") or BUILT_IN_IMBALANCE_PCT ("built_in")
    buildings: tuple[BuildingLimits, ...]
    built_in_percent: float = BUILT_IN_IMBALANCE_PCT


@dataclass(frozen=True, slots=True)
class LimitChange:
    """Set a building's allowed imbalance of a resource; ``percent`` None returns it to the city's default."""

    building_id: int
    resource: Resource
    percent: float | None


@dataclass(frozen=True, slots=True)
class CityLimitChange:
    """Set the city's default of a resource; ``percent`` None returns it to BUILT_IN_IMBALANCE_PCT."""

    resource: Resource
    percent: float | None


# --- the rules, pure ------------------------------------------------------------------------------


def specific(consumption: Figure, denominator: float | None) -> tuple[float | None, str]:
    """(consumption per unit of ``denominator``, its status): the known part of a partial sum,
    null when nothing is known or there is nothing to divide by."""
    if not consumption.expected:
        return None, NO_METERS
    if consumption.value is None:
        return None, MISSING
    if not denominator or denominator <= 0:
        return None, NO_DENOMINATOR
    return round(consumption.value / denominator, 9), COMPLETE if consumption.complete else PARTIAL


def allowed(resource: Resource, own: float | None, city: float | None) -> ImbalanceLimit:
    """The building's own limit, else its city's default, else the built-in one (manual 4.6.10)."""
    if own is not None:
        return ImbalanceLimit(resource, own, "building")
    if city is not None:
        return ImbalanceLimit(resource, city, "city")
    return ImbalanceLimit(resource, BUILT_IN_IMBALANCE_PCT, "built_in")


def imbalance_status(balanced: bool, imbalance: float | None, pct: float | None, limit: ImbalanceLimit) -> str:
    """Whether the imbalance is within the allowed one: its size counts, a surplus of the
    apartments (negative imbalance) as much as a loss."""
    if not balanced:
        return NOT_APPLICABLE
    if imbalance is None:
        return INCOMPLETE
    if pct is None:
        return NO_PERCENT
    return OVER_LIMIT if abs(pct) > limit.percent else WITHIN


def check_percent(field: str, value: object) -> float | None:
    """An allowed imbalance: None (back to the default) or a finite percent 0..100."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        raise InvalidInput(f"{field}: a percent from 0 to 100, got NaN")
    return check_number(field, value, 0.0, 100.0)


def check_resource(field: str, value: object) -> Resource:
    try:
        return Resource(value)
    except ValueError:
        raise InvalidInput(f"{field}: one of {', '.join(r.value for r in Resource)}, got {value!r}") from None


def label_of(granularity: Granularity | str, period: date) -> datetime:
    """The local start of the day, or of the month, that 4.1.1 shows."""
    if granularity not in {g.value for g in GRANULARITIES}:
        raise InvalidInput(f"granularity: day or month, got {granularity!r}")
    if not isinstance(period, date):
        raise InvalidInput(f"period: a date, got {period!r}")
    check_day("period", period)
    return datetime(period.year, period.month, period.day if granularity is Granularity.DAY else 1)


# the meter and channel columns a channel's consumption Source depends on (accounting ``_meter`` / ``_source``)
_FACT_KEYS = ("model", "archives", "status", "installed_on", "commissioned_at", "decommissioned_at", "reporting_day",
              "ct_ratio", "phase", "tariffs", "replaces_meter_id", "initial_readings", "final_readings", "number",
              "resource", "parameters", "tariff")
_NUMBER = _FACT_KEYS.index("number")
_FACTS = ", ".join(f"c.{k}" if k in ("number", "resource", "parameters", "tariff") else f"m.{k}" for k in _FACT_KEYS)


@dataclass(frozen=True, slots=True)
class _Light:
    """One meter channel that counts towards a building's figures (accounting's ``_Input`` without
    the whole MeterInfo, which a city's 100,000 meters cannot afford)."""

    meter_id: int
    premise_id: int | None
    role: MeterRole
    serial: str
    channel: int
    tariff: str  # "total" or an electricity zone
    source: calc.Source

    @property
    def key(self) -> tuple[str, int]:
        return self.serial, self.channel


def _facts(facts: dict[str, object], meter_id: int, serial: str, role: str, premise_id: int | None,
           resource: Resource, parameter: str,
           breaks: tuple[calc.CounterBreak, ...]) -> tuple[bool, str, calc.Source] | None:
    """(counted at all, tariff, Source) of one meter channel, by accounting's own functions; None
    when the channel does not measure the resource's consumption parameter."""
    parameters = tuple(str(facts["parameters"]).split(","))
    if parameter not in parameters:
        return None
    info = ChannelInfo(int(str(facts["number"])), resource, parameters,
                       None if facts["tariff"] is None else str(facts["tariff"]))
    meter = _meter({**facts, "id": meter_id, "serial": serial, "role": role, "building_id": 0,
                    "premise_id": premise_id, "premise_number": None, "communicator": ""}, (info,))
    tariff = calc.channel_tariff(meter.model, meter.tariffs, info.number, info.tariff)
    return _ever_in_service(meter), tariff, _source(meter, info, parameter, breaks)


@dataclass(slots=True)
class _Building:
    """What the city-wide computation gathers for one building."""

    summary: BuildingSummary
    inputs: list[_Light]
    signs: dict[int, Sign]  # meter id -> its balance sign (4.6.5)
    premises: dict[int, tuple[float, int]]  # premise id -> (area, residents)


class OverviewService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.accounting = AccountingService(registry, clickhouse, auth)  # its archive reads, its rules

    async def _reader(self, token: str) -> UserInfo:
        user = await self.auth.user(token)
        return require_operational_view(user, "the accounting section is not available to administrators")

    def _city(self, user: UserInfo, city_id: int | None) -> tuple[int, str] | None:
        """The company's city asked for (NotFound if it is not one of them), else the company's own
        city if it has buildings there, else the first city with buildings, else the first one."""
        rows = self.registry.all(
            "SELECT c.id, c.name, (SELECT count(*) FROM buildings b WHERE b.city_id = c.id AND b.company_id = ?) "
            "AS n FROM cities c JOIN company_cities cc ON cc.city_id = c.id WHERE cc.company_id = ? ORDER BY c.name",
            user.company_id, user.company_id)
        if city_id is not None:
            check_id("city", city_id)
            found = next((r for r in rows if r["id"] == city_id), None)
            if found is None:
                raise NotFound(f"city {city_id} not found")
            return found["id"], found["name"]
        ranked = sorted(rows, key=lambda r: (r["n"] == 0, r["name"] != user.city, r["name"]))
        return (ranked[0]["id"], ranked[0]["name"]) if ranked else None

    # --- 4.1.1 --------------------------------------------------------------------------------------

    async def specific_consumption(self, token: str, resource: Resource, granularity: Granularity, period: date,
                                   city_id: int | None = None) -> SpecificConsumption:
        """Every building of the city: specific consumption and imbalance of one day or month."""
        user = await self._reader(token)
        resource = check_resource("resource", resource)
        label = label_of(granularity, period)
        granularity = Granularity(granularity)
        city = await asyncio.to_thread(self._city, user, city_id)
        unit = PARAMETERS[CONSUMPTION_PARAMETER[resource]].unit
        per = "m2" if resource is Resource.HEAT else "resident"
        if city is None:
            return SpecificConsumption(None, None, resource, unit, per, granularity, label.date(), (), ())
        # the archive query (most of the time) runs while the city's meters are read from the registry
        needs = await asyncio.to_thread(self._needs, user, city[0], resource, granularity, label)
        gathering = asyncio.ensure_future(asyncio.to_thread(self._gather, user, city[0], resource))
        try:
            fetched = {name: await self._archives(user, CONSUMPTION_PARAMETER[resource], need)
                       for name, need in needs.items()}
        finally:
            buildings, measured = await gathering
        amounts, inside = self._amounts(buildings, fetched, granularity, label)
        shown = await self._shown(user, buildings, amounts, inside, granularity, label)
        limits = await asyncio.to_thread(self._limits, user, city[0], [b.summary.id for b in buildings], (resource,))
        now = self.clock()
        lines = tuple(_line(b, amounts, resource, shown.get(b.summary.id, True),
                            calc.span(granularity, label)[1] <= utc_to_local(now, zone(b.summary.time_zone)),
                            limits[b.summary.id][0]) for b in buildings)
        return SpecificConsumption(city[0], city[1], resource, unit, per, granularity, label.date(), lines, measured)

    def _gather(self, user: UserInfo, city_id: int, resource: Resource) -> tuple[list[_Building], tuple[Resource, ...]]:
        """The city's buildings with their inputs of ``resource``, from a few registry queries joined by
        city (a city's meters are too many for an IN list). A city has 100,000 meters but few kinds of
        them: each input's Source is built by accounting's own ``_source`` once per distinct set of
        facts (model, archives, lifecycle, readings, channel), not once per meter."""
        co = user.company_id
        parameter = CONSUMPTION_PARAMETER[resource]
        with self.registry.reading() as db:
            buildings = {r["id"]: _Building(_building(r), [], {}, {})
                         for r in db.execute(_BUILDING_SQL, (co, city_id)).fetchall()}
            cursor = db.cursor()
            cursor.row_factory = None  # plain tuples: a city's 100,000 rows read by position
            rows = cursor.execute(
                f"SELECT {_FACTS}, m.id, m.building_id, m.premise_id, m.serial, m.role, m.balance_sign "  # noqa: S608 - constants
                f"FROM meters m JOIN meter_channels c ON c.meter_id = m.id WHERE m.company_id = ? "
                f"AND m.building_id IN ({_CITY_BUILDINGS}) AND c.resource = ? AND m.role IN ('common', 'individual')",
                (co, co, city_id, resource.value)).fetchall()
            measured = {Resource(r["resource"]) for r in db.execute(
                "SELECT DISTINCT c.resource FROM meter_channels c JOIN meters m ON m.id = c.meter_id "  # noqa: S608 - a constant
                f"WHERE m.company_id = ? AND m.building_id IN ({_CITY_BUILDINGS})", (co, co, city_id))}
            breaks: dict[tuple[str, int], list[calc.CounterBreak]] = defaultdict(list)
            for r in db.execute(
                    "SELECT m.serial, b.channel, b.kind, b.first_period, b.final_value, b.initial_value "  # noqa: S608 - a constant
                    "FROM counter_breaks b JOIN meters m ON m.id = b.meter_id WHERE m.company_id = ? "
                    f"AND m.building_id IN ({_CITY_BUILDINGS}) AND b.parameter = ? ORDER BY b.first_period",
                    (co, co, city_id, parameter)):
                breaks[(r["serial"], r["channel"])].append(calc.CounterBreak(
                    datetime.fromisoformat(r["first_period"]).astimezone(UTC), r["final_value"], r["initial_value"],
                    r["kind"]))
            for p in db.execute(f"SELECT id, building_id, area_m2, residents FROM premises WHERE building_id IN "  # noqa: S608 - a constant
                                f"({_CITY_BUILDINGS})", (co, city_id)):
                buildings[p["building_id"]].premises[p["id"]] = (p["area_m2"], p["residents"])
        kinds: dict[tuple, tuple[bool, str, calc.Source] | None] = {}
        width = len(_FACT_KEYS)
        signs, roles = {s.value: s for s in Sign}, {r.value: r for r in MeterRole}  # lookups, not 200,000 enum calls
        for row in rows:
            facts, (meter_id, building_id, premise_id, serial, role, sign) = row[:width], row[width:]
            building = buildings.get(building_id)
            own_breaks = tuple(breaks.get((serial, facts[_NUMBER]), ())) if breaks else ()
            known = kinds.get(facts, False) if not own_breaks else False
            if known is False:
                known = _facts(dict(zip(_FACT_KEYS, facts, strict=True)), meter_id, serial, role, premise_id,
                               resource, parameter, own_breaks)
                if not own_breaks:
                    kinds[facts] = known
            if building is None or known is None or not known[0]:
                continue  # not of the resource's parameter, or never in service
            building.signs[meter_id] = signs[sign]
            building.inputs.append(_Light(meter_id, premise_id, roles[role], serial, facts[_NUMBER], known[1],
                                          known[2]))
        return list(buildings.values()), tuple(r for r in Resource if r in measured)

    def _needs(self, user: UserInfo, city_id: int, resource: Resource, granularity: Granularity,
               label: datetime) -> dict[str, calc.Wanted]:
        """Time zone -> the records the city's meters of ``resource`` need for the period, from their
        distinct facts (a handful of rows; ``wanted`` does not depend on counter breaks), so the
        archive is read while ``_gather`` reads the 100,000 meters."""
        co, parameter = user.company_id, CONSUMPTION_PARAMETER[resource]
        with self.registry.reading() as db:
            cursor = db.cursor()
            cursor.row_factory = None
            rows = cursor.execute(
                f"SELECT DISTINCT {_FACTS}, b.time_zone FROM meters m JOIN meter_channels c ON c.meter_id = m.id "  # noqa: S608 - constants
                "JOIN buildings b ON b.id = m.building_id WHERE m.company_id = ? AND b.company_id = ? "
                "AND b.city_id = ? AND c.resource = ? AND m.role IN ('common', 'individual')",
                (co, co, city_id, resource.value)).fetchall()
        out: dict[str, calc.Wanted] = defaultdict(calc.Wanted)
        width = len(_FACT_KEYS)
        for row in rows:
            known = _facts(dict(zip(_FACT_KEYS, row[:width], strict=True)), 0, "", MeterRole.COMMON.value, None,
                           resource, parameter, ())
            if known is not None and known[0]:
                out[row[width]].add(calc.wanted(known[2], granularity, [label], zone(row[width])))
        return out

    def _amounts(self, buildings: list[_Building], fetched: dict[str, tuple[dict, dict]],
                 granularity: Granularity, label: datetime) -> tuple[Amounts, set[str]]:
        """Every input's amount of the period, and the serials with a record stamped inside the period
        (they have archives before its end and at or after its start), as accounting ``_amounts``
        computes it: one archive
        query per time zone of the city's buildings. The common meter (no counter break, no interval
        record of the period's kind) is the plain difference of its two boundary readings, checked
        for wrap and plausibility exactly as ``calc.amount`` does (``_plain``); any other meter, and
        any reading that is not plainly plausible, goes through ``calc.amount`` itself."""
        by_zone: dict[str, list[_Light]] = defaultdict(list)
        for b in buildings:
            by_zone[b.summary.time_zone].extend(b.inputs)
        out: Amounts = {}
        inside: set[str] = set()
        for name, inputs in by_zone.items():
            tz = zone(name)
            sources = {i.source for i in inputs}  # the inputs share few Sources
            if not inputs:
                continue
            integral, interval = fetched.get(name, ({}, {}))
            lo, hi = _utc_span(granularity, label, tz)
            for records in (integral, interval):
                inside.update(serial for (serial, _), by in records.items()
                              if any(lo <= k < hi for kept in by.values() for k in kept))
            plans = {source: calc._plan(source, granularity, label, tz) for source in sources}  # calc.amount's plans
            empty: dict[ArchiveKind, dict[datetime, float]] = {}
            for i in inputs:
                key = i.key
                plan = plans[i.source]
                records = integral.get(key, empty)
                plain = None if key in interval else _plain(i.source, plan, records)
                if plain is None:
                    archive = calc.Archive(integral=records, interval=interval.get(key, empty))
                    plain = calc.amount(i.source, archive, granularity, label, tz)
                out[key] = [plain]
        return out, inside

    async def _archives(self, user: UserInfo, parameter: str, need: calc.Wanted
                        ) -> tuple[dict[tuple[str, int], dict[ArchiveKind, dict[datetime, float]]],
                                   dict[tuple[str, int], dict[ArchiveKind, dict[datetime, float]]]]:
        """The records ``need`` names, as accounting ``_archives`` reads them (integral ones by key,
        interval ones by range), of the company's meters: (integral, interval), each (serial,
        channel) -> kind -> UTC start -> value. A city's 100,000 serials are not sent as an IN list
        (ClickHouse then took minutes to plan the query): the company's records of those periods are
        read, and other cities' meters are simply never looked up. Times come as epoch seconds and values
        as Float64 (the Decimal's own value), so 200,000 rows are not 200,000 datetimes and Decimals."""
        condition, picked = calc.archive_filter(need)
        if not condition:
            return {}, {}
        args = {"co": user.company_id, "p": parameter, **picked}
        rows = await self.ch.query(
            "SELECT meter, channel, kind, nature = 'integral', toUInt32(period_start), toFloat64(value) "  # noqa: S608 - kinds are enum values
            "FROM {db}.archive FINAL WHERE company = {co:UInt32} AND parameter = {p:String} "
            f"AND {condition}", args)
        integral: dict[tuple[str, int], dict[ArchiveKind, dict[datetime, float]]] = {}
        interval: dict[tuple[str, int], dict[ArchiveKind, dict[datetime, float]]] = {}
        kinds = {k.value: k for k in ArchiveKind}
        stamps: dict[int, datetime] = {}  # the few distinct period starts, each made once
        for meter, channel, kind, is_integral, start, value in rows:
            moment = stamps.get(start)
            if moment is None:
                moment = stamps[start] = datetime.fromtimestamp(start, UTC)
            by = (integral if is_integral else interval).setdefault((meter, channel), {})
            records = by.get(kinds[kind])
            if records is None:
                records = by[kinds[kind]] = {}
            records[moment] = value
        return integral, interval

    async def _shown(self, user: UserInfo, buildings: list[_Building], amounts: Amounts, inside: set[str],
                     granularity: Granularity, label: datetime) -> dict[int, bool]:
        """Whether the building page shows the period (accounting ``_shown``): only where its meters
        have archives before its end and at or after its start. Where any meter has a value, or a
        record stamped inside the period (``inside``), the period is shown; the archive span is looked
        up only for buildings with neither (few, cheap: on the first day of the archives every meter
        lacks its opening reading, and a city's 100,000 serials in an IN list took minutes)."""
        unknown = [b for b in buildings if b.inputs and not any(i.serial in inside for i in b.inputs) and not any(
            a.state in (calc.State.MEASURED, calc.State.SUSPECT) for i in b.inputs for a in amounts.get(i.key, []))]
        serials = sorted({i.serial for b in unknown for i in b.inputs})
        if not serials:
            return {}
        rows = await self.ch.query("SELECT meter, min(period_start), max(period_start) FROM {db}.archive "
                                   "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} GROUP BY meter",
                                   {"co": user.company_id, "meters": serials})
        spans = {meter: (first, last) for meter, first, last in rows}
        shown = {}
        kind = calc.KIND[granularity]
        for b in unknown:
            found = [spans[i.serial] for i in b.inputs if i.serial in spans]
            if not found:
                continue  # no archive at all: the building page shows the period, as missing
            tz = zone(b.summary.time_zone)
            first = utc_to_local(min(f for f, _ in found), tz)
            last = utc_to_local(max(last for _, last in found), tz)
            shown[b.summary.id] = label <= last and next_period(kind, label) > first
        return shown

    # --- 4.6.10 -------------------------------------------------------------------------------------

    def _limits(self, user: UserInfo, city_id: int, building_ids: list[int],
                resources: Sequence[Resource]) -> dict[int, list[ImbalanceLimit]]:
        """Building id -> its limit of each of ``resources`` (the buildings are of ``city_id``)."""
        city = self._city_defaults(user, city_id)
        own: dict[tuple[int, str], float] = {}
        for r in self.registry.all(
                "SELECT l.building_id, l.resource, l.percent FROM building_imbalance_limits l JOIN buildings b "
                "ON b.id = l.building_id WHERE b.company_id = ? AND b.city_id = ?", user.company_id, city_id):
            own[(r["building_id"], r["resource"])] = r["percent"]
        return {b: [allowed(res, own.get((b, res.value)), city.get(res)) for res in resources] for b in building_ids}

    def _city_defaults(self, user: UserInfo, city_id: int) -> dict[Resource, float]:
        rows = self.registry.all("SELECT resource, percent FROM city_imbalance_limits WHERE company_id = ? "
                                 "AND city_id = ?", user.company_id, city_id)
        return {Resource(r["resource"]): r["percent"] for r in rows if r["resource"] in {x.value for x in Resource}}

    async def imbalance_limits(self, token: str, city_id: int | None = None) -> ImbalanceLimits:
        """The allowed imbalance of every building of the city by resource, and the city's defaults."""
        user = await self._reader(token)
        return await asyncio.to_thread(self._limits_table, user, city_id)

    def _limits_table(self, user: UserInfo, city_id: int | None) -> ImbalanceLimits:
        city = self._city(user, city_id)
        if city is None:
            return ImbalanceLimits(None, None, tuple(Resource), tuple(allowed(r, None, None) for r in Resource), ())
        buildings = self.registry.all("SELECT id, address FROM buildings WHERE company_id = ? AND city_id = ? "
                                      "ORDER BY address", user.company_id, city[0])
        measured = {r["resource"] for r in self.registry.all(
            "SELECT DISTINCT c.resource FROM meter_channels c JOIN meters m ON m.id = c.meter_id "  # noqa: S608 - a constant
            f"WHERE m.company_id = ? AND m.building_id IN ({_CITY_BUILDINGS})",
            user.company_id, user.company_id, city[0])}
        resources = tuple(r for r in Resource if r.value in measured) or tuple(Resource)
        defaults = self._city_defaults(user, city[0])
        limits = self._limits(user, city[0], [b["id"] for b in buildings], resources)
        return ImbalanceLimits(city[0], city[1], resources, tuple(allowed(r, None, defaults.get(r)) for r in resources),
                               tuple(BuildingLimits(b["id"], b["address"], tuple(limits[b["id"]])) for b in buildings))

    async def set_imbalance_limits(self, token: str, changes: Sequence[LimitChange]) -> list[BuildingLimits]:
        """Set (or with percent None, return to the city's default) buildings' allowed imbalance;
        all or nothing. Returns the changed buildings' limits of every resource."""
        user = require_dispatcher(await self.auth.user(token))
        checked = _checked_changes(changes)
        return await asyncio.to_thread(self._set_limits, user, checked)

    def _set_limits(self, user: UserInfo, changes: list[LimitChange]) -> list[BuildingLimits]:
        now = self.clock().astimezone(UTC).isoformat()
        ids = sorted({c.building_id for c in changes})
        with self.registry.connect() as db:
            found = {r["id"]: r for r in _buildings_by_id(db, user.company_id, ids)}
            for index, change in enumerate(changes):
                if change.building_id not in found:
                    raise NotFound(f"limits[{index}].building_id: building {change.building_id} not found")
            for change in changes:
                _write_limit(db, user, change, now)
        cities: dict[int, list[int]] = defaultdict(list)
        for building_id in ids:
            cities[found[building_id]["city_id"]].append(building_id)
        out = []
        for city_id, building_ids in cities.items():
            limits = self._limits(user, city_id, building_ids, tuple(Resource))
            out += [BuildingLimits(b, found[b]["address"], tuple(limits[b])) for b in building_ids]
        return sorted(out, key=lambda b: (b.address, b.building_id))

    async def set_city_imbalance_limits(self, token: str, city_id: int,
                                        changes: Sequence[CityLimitChange]) -> tuple[ImbalanceLimit, ...]:
        """Set (or with percent None, return to the built-in one) the city's default of resources;
        the company's buildings there without their own limit follow it. Returns every resource's default."""
        user = require_dispatcher(await self.auth.user(token))
        check_id("city_id", city_id)
        if not changes:
            raise InvalidInput("limits: at least one change")
        if len(changes) > len(Resource):
            raise InvalidInput(f"limits: at most one change per resource ({len(Resource)}), got {len(changes)}")
        checked, seen = [], set()
        for index, change in enumerate(changes):
            resource = check_resource(f"limits[{index}].resource", change.resource)
            if resource in seen:
                raise InvalidInput(f"limits[{index}].resource: {resource.value} is changed twice")
            seen.add(resource)
            checked.append(CityLimitChange(resource, check_percent(f"limits[{index}].percent", change.percent)))
        return await asyncio.to_thread(self._set_city_limits, user, city_id, checked)

    def _set_city_limits(self, user: UserInfo, city_id: int,
                         changes: list[CityLimitChange]) -> tuple[ImbalanceLimit, ...]:
        if self._city(user, city_id) is None:
            raise NotFound(f"city {city_id} not found")
        now = self.clock().astimezone(UTC).isoformat()
        with self.registry.connect() as db:
            for change in changes:
                before = db.execute("SELECT percent FROM city_imbalance_limits WHERE company_id = ? AND city_id = ? "
                                    "AND resource = ?", (user.company_id, city_id, change.resource.value)).fetchone()
                old = None if before is None else before["percent"]
                if old == change.percent:
                    continue
                if change.percent is None:
                    db.execute("DELETE FROM city_imbalance_limits WHERE company_id = ? AND city_id = ? "
                               "AND resource = ?", (user.company_id, city_id, change.resource.value))
                else:
                    db.execute("INSERT INTO city_imbalance_limits (company_id, city_id, resource, percent, updated_by, "
                               "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (company_id, city_id, resource) "
                               "DO UPDATE SET percent = excluded.percent, updated_by = excluded.updated_by, "
                               "updated_at = excluded.updated_at",
                               (user.company_id, city_id, change.resource.value, change.percent, user.id, now))
                audit.record(db, user, "imbalance_limit.city", f"city:{city_id}",
                             {"resource": change.resource.value, "percent": old},
                             {"resource": change.resource.value, "percent": change.percent})
        defaults = self._city_defaults(user, city_id)
        return tuple(allowed(r, None, defaults.get(r)) for r in Resource)


def _checked_changes(changes: Sequence[LimitChange]) -> list[LimitChange]:
    """The changes with their fields checked; each named by its place in the list."""
    if not changes:
        raise InvalidInput("limits: at least one change")
    if len(changes) > MAX_CHANGES:
        raise InvalidInput(f"limits: at most {MAX_CHANGES} changes in one request, got {len(changes)}")
    out, seen = [], set()
    for index, change in enumerate(changes):
        building_id = check_id(f"limits[{index}].building_id", change.building_id)
        resource = check_resource(f"limits[{index}].resource", change.resource)
        if (building_id, resource) in seen:
            raise InvalidInput(f"limits[{index}]: building {building_id}, {resource.value} is changed twice")
        seen.add((building_id, resource))
        out.append(LimitChange(building_id, resource, check_percent(f"limits[{index}].percent", change.percent)))
    return out


def _buildings_by_id(db: sqlite3.Connection, company_id: int, ids: list[int]) -> list[sqlite3.Row]:
    rows: list[sqlite3.Row] = []
    for start in range(0, len(ids), 500):  # SQLite's bound on host parameters
        part = ids[start:start + 500]
        rows += db.execute(f"SELECT id, address, city_id FROM buildings WHERE company_id = ? AND id IN "  # noqa: S608 - placeholders only
                           f"({','.join('?' * len(part))})", (company_id, *part)).fetchall()
    return rows


def _write_limit(db: sqlite3.Connection, user: UserInfo, change: LimitChange, now: str) -> None:
    """One building's limit of one resource, audited; nothing (and no entry) when it is already so."""
    before = db.execute("SELECT percent FROM building_imbalance_limits WHERE building_id = ? AND resource = ?",
                        (change.building_id, change.resource.value)).fetchone()
    old = None if before is None else before["percent"]
    if old == change.percent:
        return
    if change.percent is None:
        db.execute("DELETE FROM building_imbalance_limits WHERE building_id = ? AND resource = ?",
                   (change.building_id, change.resource.value))
    else:
        db.execute("INSERT INTO building_imbalance_limits (building_id, resource, percent, updated_by, updated_at) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (building_id, resource) DO UPDATE SET "
                   "percent = excluded.percent, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                   (change.building_id, change.resource.value, change.percent, user.id, now))
    audit.record(db, user, "imbalance_limit.building", f"building:{change.building_id}",
                 {"resource": change.resource.value, "percent": old},
                 {"resource": change.resource.value, "percent": change.percent})


def _plain(src: calc.Source, plan: object, records: dict[ArchiveKind, dict[datetime, float]]) -> calc.Amount | None:
    """The amount of a meter with no counter break and no interval record of the period's kind,
    as ``calc.amount`` gives it (its interval sum is then missing, so the integral difference
    decides); None where that takes more than a plain difference (a break, a wrap, an increment
    above the plausible one, a meter not expected or with no archive of the kind): ``calc.amount``
    then decides. Missing readings give MISSING, as there."""
    if plan is None or src.breaks:
        return None
    kind = plan.kind  # type: ignore[attr-defined]
    if kind is None:
        return None
    own = records.get(kind)
    if plan.opens_at_commissioning and src.initial is not None:  # type: ignore[attr-defined]
        opening = src.initial
    else:
        opening = _reading(own, plan.opening)  # type: ignore[attr-defined]
    if plan.closes_at_decommissioning and src.final is not None:  # type: ignore[attr-defined]
        closing = src.final
    else:
        closing = _reading(own, plan.closing)  # type: ignore[attr-defined]
    if opening is None or closing is None:
        return calc.Amount(calc.State.MISSING, derived=plan.derived)  # type: ignore[attr-defined]
    if closing < opening:
        return None  # a wrap, or a counter gone backwards: calc.amount's own rules
    total = round(closing - opening, 9)
    if src.max_per_hour is not None:
        hours = (plan.end - plan.start).total_seconds() / 3600  # type: ignore[attr-defined]
        if total > src.max_per_hour * hours:
            return None  # suspect: calc.amount says so
    return calc.Amount(calc.State.MEASURED, round(total * src.factor, 9), plan.derived)  # type: ignore[attr-defined]


def _utc_span(granularity: Granularity, label: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC [start, end) of the period labelled ``label`` as ``_shown`` reads it (local ``label`` to
    the next period of its kind)."""
    return (local_to_utc(label, tz), local_to_utc(next_period(calc.KIND[granularity], label), tz))


def _reading(records: dict[datetime, float] | None, keys: tuple[datetime, ...]) -> float | None:
    """The first of ``keys`` the records hold (consumption ``_first``), None when none is there."""
    if records:
        for key in keys:
            value = records.get(key)
            if value is not None:
                return value
    return None


def _total(inputs: list[_Light], amounts: Amounts) -> Figure:
    """The period's figure over the inputs' total channels (accounting ``_figures``)."""
    return calc.combine([amounts[i.key] for i in inputs if i.tariff == calc.TOTAL], 1)[0]


def _line(b: _Building, amounts: Amounts, resource: Resource, shown: bool, over: bool,
          limit: ImbalanceLimit) -> BuildingSpecific:
    """One building's figures of the period, by the building page's rules (``over``: the period has ended)."""
    common = [i for i in b.inputs if i.role is MeterRole.COMMON]
    added = [i for i in b.inputs if i.role is MeterRole.INDIVIDUAL and b.signs.get(i.meter_id) is Sign.ADDED]
    subtracted = [i for i in b.inputs if i.role is MeterRole.INDIVIDUAL and b.signs.get(i.meter_id) is Sign.SUBTRACTED]
    has_building = any(i.tariff == calc.TOTAL for i in common)
    counted = [i for i in added + subtracted if i.tariff == calc.TOTAL]  # excluded meters count nowhere
    column = {i.key: amounts.get(i.key, [calc.Amount(calc.State.MISSING)]) for i in b.inputs}
    building = _total(common, column)
    apartments = signed_figure(_total(added, column), _total(subtracted, column))
    if has_building:
        basis, figure = "building_meter", building
        denominator: float | None = b.summary.area_m2 if resource is Resource.HEAT else b.summary.residents
    elif counted:
        basis, figure = "apartment_meters", apartments
        metered = {i.premise_id for i in counted if i.premise_id is not None}
        which = 0 if resource is Resource.HEAT else 1  # (area, residents) of each premise
        denominator = sum(b.premises[p][which] for p in metered if p in b.premises)
    else:
        basis, figure, denominator = "none", Figure(), None
    value, status = specific(figure, denominator)
    balanced = has_building and bool(counted)
    diff, pct = calc.imbalance(building, apartments) if balanced and over else (None, None)
    state = imbalance_status(balanced, diff, pct, limit)
    if balanced and not over:
        state = RUNNING
    if not shown:
        value, status, diff, pct = None, NO_DATA, None, None
        state = NO_DATA if balanced else NOT_APPLICABLE
    return BuildingSpecific(b.summary, basis, figure, float(denominator) if denominator is not None else None, value,
                            status, building, apartments, diff, pct, state, limit)
