"""The accounting section (manual 4.1): buildings, premises and meters of the user's company,
building and premise consumption, meter archives. Every call is scoped to the company of the
session's user; an object of another company is reported as not found.

The building's apartments' sum honours each apartment meter's balance sign (manual 4.6.5,
registry meters.balance_sign): added, subtracted or excluded; the rule is balance_rules'.
``channel_consumption`` gives other views (4.1.4) every channel's amounts by the same rules.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.services import consumption as calc
from cloud.services import counters
from cloud.services.auth import AuthService, require_operational_view
from cloud.services.balance_rules import Sign, signed_figure
from cloud.services.models import (
    FIRST_DAY,
    LAST_DAY,
    ArchiveRow,
    BuildingConsumption,
    BuildingSummary,
    ChannelInfo,
    ConsumptionPoint,
    DataStatus,
    Figure,
    Granularity,
    MeterArchive,
    MeterInfo,
    NotFound,
    PremiseConsumption,
    PremiseInfo,
    TariffSeries,
    UserInfo,
    check_day,
    check_id,
    parse_lifecycle,
)
from cloud.services.outages import load_outages, overlaps_outage
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import catalogue
from protocol.periods import local_to_utc, next_period, previous_period, utc_to_local, zone
from protocol.vocabulary import CONSUMPTION_PARAMETER, PARAMETERS, ArchiveKind, MeterRole, Resource

STATUS_TTL_S = 30.0  # how long the data status line may lag the archive

_BUILDING_SQL = """
SELECT b.*, (SELECT count(*) FROM premises p WHERE p.building_id = b.id) AS premises_count,
       (SELECT count(*) FROM meters m WHERE m.building_id = b.id) AS meters_count
FROM buildings b
"""
_METER_SQL = """
SELECT m.*, p.number AS premise_number FROM meters m LEFT JOIN premises p ON p.id = m.premise_id
"""


class AccountingService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        # "now": a period not over yet has no imbalance (Services.set_clock sets it in tests and the demo)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._status: dict[int, tuple[float, DataStatus]] = {}  # company -> (monotonic time, status)

    # --- scope -----------------------------------------------------------------------
    async def _reader(self, token: str) -> UserInfo:
        """The acting user, who must be allowed to see accounting (dispatcher or engineer)."""
        user = await self.auth.user(token)
        return require_operational_view(user, "the accounting section is not available to administrators")

    # --- registry reads --------------------------------------------------------------
    async def buildings(self, token: str) -> list[BuildingSummary]:
        user = await self._reader(token)
        rows = await asyncio.to_thread(self.registry.all, _BUILDING_SQL + " WHERE b.company_id = ? ORDER BY b.address",
                                       user.company_id)
        return [_building(r) for r in rows]

    async def building(self, token: str, building_id: int) -> BuildingSummary:
        user = await self._reader(token)
        return await asyncio.to_thread(self._building, user, building_id)

    def _building(self, user: UserInfo, building_id: int) -> BuildingSummary:
        check_id("building_id", building_id)
        row = self.registry.one(_BUILDING_SQL + " WHERE b.id = ? AND b.company_id = ?", building_id, user.company_id)
        if row is None:
            raise NotFound(f"building {building_id} not found")
        return _building(row)

    async def premises(self, token: str, building_id: int) -> list[PremiseInfo]:
        user = await self._reader(token)
        await asyncio.to_thread(self._building, user, building_id)
        rows = await asyncio.to_thread(
            self.registry.all, "SELECT * FROM premises WHERE building_id = ? ORDER BY CAST(number AS INTEGER), number",
            building_id)
        return [_premise(r) for r in rows]

    async def premise(self, token: str, premise_id: int) -> PremiseInfo:
        user = await self._reader(token)
        return await asyncio.to_thread(self._premise, user, premise_id)

    def _premise(self, user: UserInfo, premise_id: int) -> PremiseInfo:
        check_id("premise_id", premise_id)
        row = self.registry.one("SELECT p.* FROM premises p JOIN buildings b ON b.id = p.building_id "
                                "WHERE p.id = ? AND b.company_id = ?", premise_id, user.company_id)
        if row is None:
            raise NotFound(f"premise {premise_id} not found")
        return _premise(row)

    async def meters(self, token: str, building_id: int) -> list[MeterInfo]:
        user = await self._reader(token)
        await asyncio.to_thread(self._building, user, building_id)
        return await asyncio.to_thread(self._meters, "m.building_id = ? AND m.company_id = ?", building_id,
                                       user.company_id)

    async def meter(self, token: str, meter_id: int) -> MeterInfo:
        user = await self._reader(token)
        check_id("meter_id", meter_id)
        found = await asyncio.to_thread(self._meters, "m.id = ? AND m.company_id = ?", meter_id, user.company_id)
        if not found:
            raise NotFound(f"meter {meter_id} not found")
        return found[0]

    def _meters(self, where: str, *args: object) -> list[MeterInfo]:
        rows = self.registry.all(_METER_SQL + f" WHERE {where} ORDER BY m.role, CAST(p.number AS INTEGER)", *args)
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        channels: dict[int, list[ChannelInfo]] = defaultdict(list)
        marks = ",".join("?" * len(ids))
        for c in self.registry.all(f"SELECT * FROM meter_channels WHERE meter_id IN ({marks}) ORDER BY number",  # noqa: S608 - placeholders only
                                   *ids):
            channels[c["meter_id"]].append(
                ChannelInfo(c["number"], Resource(c["resource"]), tuple(c["parameters"].split(",")), c["tariff"]))
        return [_meter(r, tuple(channels[r["id"]])) for r in rows]

    # --- series ----------------------------------------------------------------------
    async def building_consumption(self, token: str, building_id: int, resource: Resource,
                                   granularity: Granularity, period: date) -> BuildingConsumption:
        """The building meters against the apartments' sum (manual 4.1.2), by the rules of 4.1.5."""
        user = await self._reader(token)
        building = await asyncio.to_thread(self._building, user, building_id)
        meters = await asyncio.to_thread(self._meters, "m.building_id = ? AND m.company_id = ?", building_id,
                                         user.company_id)
        parameter = CONSUMPTION_PARAMETER[resource]
        tz = zone(building.time_zone)
        inputs = await self._inputs(meters, resource, parameter, (MeterRole.COMMON, MeterRole.INDIVIDUAL))
        labels = await self._shown(user, inputs, tz, granularity, period)
        amounts = await self._amounts(user, inputs, parameter, granularity, labels, tz)
        signs = await asyncio.to_thread(self.balance_signs, building_id)
        common = [i for i in inputs if i.meter.role is MeterRole.COMMON]
        added = [i for i in inputs if i.meter.role is MeterRole.INDIVIDUAL and signs.get(i.meter.id) is Sign.ADDED]
        subtracted = [i for i in inputs
                      if i.meter.role is MeterRole.INDIVIDUAL and signs.get(i.meter.id) is Sign.SUBTRACTED]
        building_figures = _figures(common, amounts, calc.TOTAL, len(labels))
        apartment_figures = _signed(added, subtracted, amounts, calc.TOTAL, len(labels))
        has_building = any(i.tariff == calc.TOTAL for i in common)
        has_apartments = any(i.tariff == calc.TOTAL for i in added + subtracted)
        now = utc_to_local(self.clock(), tz)
        points = []
        for label, b, a in zip(labels, building_figures, apartment_figures, strict=True):
            over = calc.span(granularity, label)[1] <= now  # a period still running (today) has no imbalance
            diff, pct = calc.imbalance(b, a) if has_building and has_apartments and over else (None, None)
            points.append(ConsumptionPoint(
                label, b.value if has_building else None, a.value if has_apartments else None,
                a.complete if has_apartments else False, diff, pct,
                building_complete=b.complete if has_building else False, building_figure=b, apartments_figure=a))
        return BuildingConsumption(building, resource, PARAMETERS[parameter].unit, granularity, period,
                                   has_building, has_apartments, tuple(points), _resources(meters),
                                   _tariffs(common, amounts, len(labels)),
                                   _signed_tariffs(added, subtracted, amounts, len(labels)),
                                   _derived_from(inputs, granularity))

    def scoped_building(self, user: UserInfo, building_id: int) -> BuildingSummary:
        """The building if it is of ``user``'s company, else NotFound (for services acting for ``user``)."""
        return self._building(user, building_id)

    def scoped_meters(self, user: UserInfo, building_id: int) -> list[MeterInfo]:
        """The meters of a building of ``user``'s company (the caller checked the building's scope)."""
        return self._meters("m.building_id = ? AND m.company_id = ?", building_id, user.company_id)

    def balance_signs(self, building_id: int) -> dict[int, Sign]:
        """Meter id -> its balance sign (manual 4.6.5) for the building's meters (the caller checked the scope)."""
        rows = self.registry.all("SELECT id, balance_sign FROM meters WHERE building_id = ?", building_id)
        return {r["id"]: Sign(r["balance_sign"]) for r in rows}

    async def channel_consumption(self, token: str, building_id: int, resource: Resource, granularity: Granularity,
                                  period: date, *, whole_view: bool = True) -> ChannelConsumption:
        """Every meter channel of the building that measures ``resource`` with its amount per period, by
        the rules of 4.1.5: the periods of the view of ``period`` (``whole_view``), or only the period
        that starts on ``period`` (a day or a month, manual 4.1.4). Periods with no data of the meters
        at all (before the first archive, after the newest) are left out."""
        user = await self._reader(token)
        building = await asyncio.to_thread(self._building, user, building_id)
        check_day("period", period)
        meters = await asyncio.to_thread(self._meters, "m.building_id = ? AND m.company_id = ?", building_id,
                                         user.company_id)
        parameter = CONSUMPTION_PARAMETER[resource]
        tz = zone(building.time_zone)
        inputs = await self._inputs(meters, resource, parameter, (MeterRole.COMMON, MeterRole.INDIVIDUAL))
        if whole_view:
            labels = await self._shown(user, inputs, tz, granularity, period)
        else:
            labels = await self._shown_of(user, inputs, tz, granularity, [_label(granularity, period)])
        amounts = await self._amounts(user, inputs, parameter, granularity, labels, tz)
        channels = tuple(ChannelAmounts(i.meter, i.channel, i.tariff, tuple(amounts[i.key])) for i in inputs)
        return ChannelConsumption(building, resource, PARAMETERS[parameter].unit, granularity, tuple(labels),
                                  tuple(meters), channels, _derived_from(inputs, granularity))

    async def premise_consumption(self, token: str, premise_id: int, resource: Resource,
                                  granularity: Granularity, period: date) -> PremiseConsumption:
        """The sum over the premise's meters of the resource (manual 4.1.6), by the rules of 4.1.5."""
        return await self.premise_consumption_in(await self._reader(token), premise_id, resource, granularity,
                                                 period)

    async def premise_consumption_in(self, user: UserInfo, premise_id: int, resource: Resource,
                                     granularity: Granularity, period: date) -> PremiseConsumption:
        """``premise_consumption`` within ``user``'s company, for a caller that has checked who may see the
        premise (the residents' app: cloud/services/resident_app.py)."""
        premise = await asyncio.to_thread(self._premise, user, premise_id)
        building = await asyncio.to_thread(self._building, user, premise.building_id)
        meters = await asyncio.to_thread(self._meters, "m.premise_id = ? AND m.company_id = ?", premise_id,
                                         user.company_id)
        parameter = CONSUMPTION_PARAMETER[resource]
        tz = zone(building.time_zone)
        inputs = await self._inputs(meters, resource, parameter, (MeterRole.INDIVIDUAL,))
        labels = await self._shown(user, inputs, tz, granularity, period)
        amounts = await self._amounts(user, inputs, parameter, granularity, labels, tz)
        figures = _figures(inputs, amounts, calc.TOTAL, len(labels))
        return PremiseConsumption(premise, resource, PARAMETERS[parameter].unit, granularity, period,
                                  tuple((label, f.value) for label, f in zip(labels, figures, strict=True)),
                                  tuple(meters), _resources(meters), tuple(figures),
                                  _tariffs(inputs, amounts, len(labels)), _derived_from(inputs, granularity))

    async def _inputs(self, meters: list[MeterInfo], resource: Resource, parameter: str,
                      roles: tuple[MeterRole, ...]) -> list[_Input]:
        """Every channel of these meters that measures ``resource``, whatever the meter's status:
        each counts inside its own service period (a meter never commissioned counts nowhere)."""
        chosen = [(m, c) for m in meters if m.role in roles and _ever_in_service(m)
                  for c in m.channels if c.resource is resource and parameter in c.parameters]
        breaks = await asyncio.to_thread(counters.load, self.registry, sorted({m.id for m, _ in chosen}), parameter)
        return [_Input(m, c, calc.channel_tariff(m.model, m.tariffs, c.number, c.tariff),
                       _source(m, c, parameter, breaks.get((m.serial, c.number), ()))) for m, c in chosen]

    async def _amounts(self, user: UserInfo, inputs: list[_Input], parameter: str, granularity: Granularity,
                       labels: list[datetime], tz: ZoneInfo) -> Amounts:
        """Each input's consumption per period, from one archive query."""
        if not inputs or not labels:
            return {i.key: [] for i in inputs}
        need = calc.Wanted()
        for item in inputs:
            need.add(calc.wanted(item.source, granularity, labels, tz))
        archives = await self._archives(user, [i.meter.serial for i in inputs], parameter, need)
        amounts = {item.key: calc.amounts(item.source, archives.get(item.key, calc.Archive()), granularity, labels,
                                          tz) for item in inputs}
        # out of service for a verification or repair (4.5.5): a missing period then is not expected
        stops = await asyncio.to_thread(load_outages, self.registry, sorted({i.meter.id for i in inputs}))
        for item in inputs:
            if outs := stops.get(item.meter.id):
                amounts[item.key] = [
                    calc.Amount(calc.State.NOT_EXPECTED) if a.state is calc.State.MISSING and overlaps_outage(
                        outs, *(local_to_utc(t, tz) for t in calc.span(granularity, label, item.meter.reporting_day)))
                    else a for a, label in zip(amounts[item.key], labels, strict=True)]
        return amounts

    async def _archives(self, user: UserInfo, serials: list[str], parameter: str,
                        need: calc.Wanted) -> dict[tuple[str, int], calc.Archive]:
        """The company's archive records of ``parameter`` that ``need`` names: integral ones by
        key, interval ones by range; the two natures are kept apart."""
        condition, picked = calc.archive_filter(need)
        if not condition:
            return {}
        args = {"co": user.company_id, "meters": sorted(set(serials)), "p": parameter, **picked}
        rows = await self.ch.query(
            "SELECT meter, channel, kind, nature, period_start, value FROM {db}.archive FINAL "  # noqa: S608 - kinds are enum values
            "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} AND parameter = {p:String} "
            f"AND {condition}", args)
        found: dict[tuple[str, int], dict[str, dict[ArchiveKind, dict[datetime, float]]]] = defaultdict(
            lambda: {"integral": defaultdict(dict), "interval": defaultdict(dict)})
        for meter, channel, kind, nature, start, value in rows:
            found[(meter, channel)][nature][ArchiveKind(kind)][calc.utc(start)] = float(value)
        return {key: calc.Archive(integral=dict(by["integral"]), interval=dict(by["interval"]))
                for key, by in found.items()}

    async def meter_archive(self, token: str, meter_id: int, channel: int, granularity: Granularity,
                            period: date) -> MeterArchive:
        """The channel's archive as the device keeps it (manual 4.1.7): the records of the period's
        kind; where the meter keeps none of that kind, rows built from a finer one (``derived_from``)."""
        user = await self._reader(token)
        check_id("meter_id", meter_id)
        check_day("period", period)
        found = await asyncio.to_thread(self._meters, "m.id = ? AND m.company_id = ?", meter_id, user.company_id)
        if not found:
            raise NotFound(f"meter {meter_id} not found")
        meter = found[0]
        info = next((c for c in meter.channels if c.number == channel), None)
        if info is None:
            raise NotFound(f"meter {meter.serial} has no channel {channel}")
        building = await asyncio.to_thread(self._building, user, meter.building_id)
        tz = zone(building.time_zone)
        labels = calc.period_starts(granularity, period)
        units = {p: PARAMETERS[p].unit if p in PARAMETERS else "" for p in info.parameters}
        kind, derived = calc.source_kind(calc.KIND[granularity], meter_kinds(meter))
        if kind is None:
            rows = tuple(ArchiveRow(label, dict.fromkeys(info.parameters)) for label in labels)
            return MeterArchive(meter, info, granularity, period, "integral", info.parameters, units, rows)
        rd = meter.reporting_day
        first = calc.span(granularity, labels[0], rd)[0]
        # from the record before the first period (its increment) to the end of the last period;
        # a month record may be keyed by the first of its month, before the reporting day
        lo = previous_period(kind, first.replace(day=1) if kind is ArchiveKind.MONTH else first)
        hi = calc.span(granularity, labels[-1], rd)[1]
        rows = await self.ch.query(
            "SELECT parameter, nature, period_start, value FROM {db}.archive FINAL WHERE company = {co:UInt32} "
            "AND meter = {m:String} AND channel = {c:UInt16} AND kind = {k:String} "
            "AND period_start >= {lo:DateTime('UTC')} AND period_start < {hi:DateTime('UTC')}",
            {"co": user.company_id, "m": meter.serial, "c": channel, "k": kind.value,
             "lo": _naive(local_to_utc(lo, tz)), "hi": _naive(local_to_utc(hi, tz))})
        by_nature: dict[str, dict[str, dict[datetime, float]]] = defaultdict(lambda: defaultdict(dict))
        for parameter, nature, start, value in rows:
            by_nature[nature][parameter][calc.utc(start)] = float(value)
        nature = _nature(meter.model, kind, by_nature)
        records = {p: by_nature[nature].get(p, {}) for p in info.parameters}
        limits = {p: calc.Counter(*calc.counter_limits(meter.model, p)) for p in info.parameters}
        summable = {p: PARAMETERS[p].summable if p in PARAMETERS else False for p in info.parameters}
        table = calc.archive_rows(granularity, labels, kind, derived, nature, records, limits, summable, rd, tz)
        return MeterArchive(meter, info, granularity, period, nature, info.parameters, units, tuple(table),
                            derived_from=kind.value if derived else None)

    async def _span(self, user: UserInfo, serials: list[str], tz: ZoneInfo) -> tuple[datetime, datetime] | None:
        """Local starts of the oldest and the newest archive period stored for these meters."""
        if not serials:
            return None
        rows = await self.ch.query("SELECT min(period_start), max(period_start), count() FROM {db}.archive "
                                   "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)}",
                                   {"co": user.company_id, "meters": sorted(set(serials))})
        if not rows or not rows[0][2]:
            return None
        return utc_to_local(rows[0][0], tz), utc_to_local(rows[0][1], tz)

    async def _shown(self, user: UserInfo, inputs: list[_Input], tz: ZoneInfo, granularity: Granularity,
                     period: date) -> list[datetime]:
        """The periods of the view that overlap the time the meters have data for: none after
        the newest archive (not due yet) and none before the first."""
        return await self._shown_of(user, inputs, tz, granularity, calc.period_starts(granularity, period))

    async def _shown_of(self, user: UserInfo, inputs: list[_Input], tz: ZoneInfo, granularity: Granularity,
                        starts: list[datetime]) -> list[datetime]:
        """Of the period ``starts``, those that overlap the time the meters have data for."""
        span = await self._span(user, [i.meter.serial for i in inputs], tz)
        if span is None:
            return starts
        first, last = span
        kind = calc.KIND[granularity]
        return [s for s in starts if s <= last and next_period(kind, s) > first]

    async def default_period(self, token: str, building_id: int) -> date:
        """The local date of the newest data of the building (today when there is none); on the
        first of a month before its last hour, the day before: a page must not open on a new
        month that holds only a few hours (its day and month views would be all but empty)."""
        user = await self._reader(token)
        building = await asyncio.to_thread(self._building, user, building_id)
        meters = await asyncio.to_thread(self._meters, "m.building_id = ? AND m.company_id = ?", building_id,
                                         user.company_id)
        span = await self._span(user, [m.serial for m in meters], zone(building.time_zone))
        newest = span[1].date() if span else self.clock().astimezone(zone(building.time_zone)).date()
        if span and newest.day == 1 and span[1].hour < 23 and newest > FIRST_DAY:
            newest -= timedelta(days=1)
        # a stored period outside the sane range (an absurd external reading or backfill) must not
        # become a page's default period that every view then refuses
        return min(max(newest, FIRST_DAY), LAST_DAY)

    async def data_status(self, token: str) -> DataStatus:
        """The line every page shows: how many values the company has stored and its newest period.

        Read without FINAL (a re-sent value counts twice until ClickHouse merges it away): with
        FINAL a city's year of archives (900 million values) took seconds and held up every page
        that shows the line. Kept for STATUS_TTL_S per company for the same reason."""
        user = await self._reader(token)
        cached = self._status.get(user.company_id)
        if cached is not None and time.monotonic() - cached[0] < STATUS_TTL_S:
            return cached[1]
        rows = await self.ch.query("SELECT count(), max(period_start) FROM {db}.archive "
                                   "WHERE company = {co:UInt32}", {"co": user.company_id})
        count, latest = rows[0]
        if not count:
            return DataStatus(0, None)  # nothing yet: asked again on the next page, not kept
        tz_row = await asyncio.to_thread(self.registry.one, "SELECT time_zone FROM buildings WHERE company_id = ? "
                                         "LIMIT 1", user.company_id)
        tz = zone(tz_row["time_zone"] if tz_row else "UTC")
        status = DataStatus(int(count), utc_to_local(latest, tz))
        self._status[user.company_id] = (time.monotonic(), status)
        return status


@dataclass(frozen=True, slots=True)
class ChannelAmounts:
    """One meter channel of a resource and its consumption per period (``ChannelConsumption.labels``)."""

    meter: MeterInfo
    channel: ChannelInfo
    tariff: str  # "total", or an electricity zone "T1", "T2" ... never added to the total
    amounts: tuple[calc.Amount, ...]


@dataclass(frozen=True, slots=True)
class ChannelConsumption:
    """The building's meter channels of one resource with their amounts, for views built on them."""

    building: BuildingSummary
    resource: Resource
    unit: str
    granularity: Granularity
    labels: tuple[datetime, ...]  # local period starts, aligned with each channel's amounts
    meters: tuple[MeterInfo, ...]  # every meter of the building (any resource)
    channels: tuple[ChannelAmounts, ...]
    derived_from: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Input:
    """One meter channel that counts towards a figure, with what the rules need to know of it."""

    meter: MeterInfo
    channel: ChannelInfo
    tariff: str  # "total" or a zone "T1", "T2" ... (electricity); "total" for every other resource
    source: calc.Source

    @property
    def key(self) -> tuple[str, int]:
        return self.meter.serial, self.channel.number


def _ever_in_service(meter: MeterInfo) -> bool:
    """False for a meter whose commissioning never finished (no dates, status "commissioning")."""
    return not (meter.commissioned_at is None and meter.decommissioned_at is None and meter.status == "commissioning")


def meter_kinds(meter: MeterInfo) -> frozenset[ArchiveKind]:
    """The archive kinds the meter gives: those its registry entry names that its model keeps."""
    named = [ArchiveKind(w) for w in (part.strip() for part in meter.archives.split(",")) if w in _KIND_WORDS]
    return calc.archive_kinds(named, calc.device_kinds(meter.model))


_KIND_WORDS = {k.value for k in ArchiveKind}


def _source(meter: MeterInfo, channel: ChannelInfo, parameter: str, breaks) -> calc.Source:
    modulus, per_hour = calc.counter_limits(meter.model, parameter)
    key = f"{channel.number}:{parameter}"
    return calc.Source(kinds=meter_kinds(meter), commissioned=meter.commissioned_at,
                       decommissioned=meter.decommissioned_at,
                       reporting_day=meter.reporting_day, factor=meter.ct_ratio if parameter == "E" else 1.0,
                       modulus=modulus, max_per_hour=per_hour, initial=meter.initial_readings.get(key),
                       final=meter.final_readings.get(key), breaks=tuple(breaks))


Amounts = dict[tuple[str, int], list[calc.Amount]]  # (serial, channel) -> consumption per period


def _figures(inputs: list[_Input], amounts: Amounts, tariff: str, periods: int) -> list[Figure]:
    """Per period, the figure over the inputs of one tariff ("total" is the resource's consumption)."""
    return calc.combine([amounts[i.key] for i in inputs if i.tariff == tariff], periods)


def _signed(added: list[_Input], subtracted: list[_Input], amounts: Amounts, tariff: str,
            periods: int) -> list[Figure]:
    """Per period, Σ added − Σ subtracted of one tariff (manual 4.6.5; excluded meters are in neither list)."""
    return [signed_figure(a, s) for a, s in zip(_figures(added, amounts, tariff, periods),
                                                _figures(subtracted, amounts, tariff, periods), strict=True)]


def _signed_tariffs(added: list[_Input], subtracted: list[_Input], amounts: Amounts,
                    periods: int) -> tuple[TariffSeries, ...]:
    """The apartments' electricity by tariff zone with the balance signs, each zone on its own."""
    zones = sorted({i.tariff for i in added + subtracted} - {calc.TOTAL})
    return tuple(TariffSeries(z, tuple(_signed(added, subtracted, amounts, z, periods))) for z in zones)


def _label(granularity: Granularity, period: date) -> datetime:
    """The local start of the single period (a day, or a month) that starts on ``period``."""
    if granularity is Granularity.MONTH:
        return datetime(period.year, period.month, 1)
    return datetime(period.year, period.month, period.day)


def _tariffs(inputs: list[_Input], amounts: Amounts, periods: int) -> tuple[TariffSeries, ...]:
    """Electricity by tariff zone, each zone on its own: never added to the total nor to each other."""
    zones = sorted({i.tariff for i in inputs} - {calc.TOTAL})
    return tuple(TariffSeries(z, tuple(_figures(inputs, amounts, z, periods))) for z in zones)


def _derived_from(inputs: list[_Input], granularity: Granularity) -> tuple[str, ...]:
    """The finer archive kinds the view's values come from where a meter lacks the view's own kind."""
    kinds = set()
    for item in inputs:
        kind, derived = calc.source_kind(calc.KIND[granularity], item.source.kinds)
        if derived and kind is not None:
            kinds.add(kind)
    return tuple(k.value for k in ArchiveKind if k in kinds)


def _naive(moment: datetime) -> datetime:
    """UTC as a naive datetime, the form query parameters of DateTime('UTC') take."""
    return calc.utc(moment).replace(tzinfo=None)


def _nature(model: str, kind: ArchiveKind, by_nature: dict[str, dict[str, dict[datetime, float]]]) -> str:
    """The nature to show: the one the model keeps for ``kind`` if it has records, else the one that has."""
    try:
        spec = catalogue.model(model).archive(kind)
    except catalogue.UnknownModel:
        spec = None
    preferred = spec.nature.value if spec is not None else "integral"
    if any(by_nature.get(preferred, {}).values()):
        return preferred
    return next((n for n in ("integral", "interval") if any(by_nature.get(n, {}).values())), preferred)


def _resources(meters: list[MeterInfo]) -> tuple[Resource, ...]:
    found = {c.resource for m in meters for c in m.channels}
    return tuple(r for r in Resource if r in found)


def _building(r) -> BuildingSummary:
    return BuildingSummary(id=r["id"], address=r["address"], city=r["city"], time_zone=r["time_zone"],
                           area_m2=r["area_m2"], residents=r["residents"], premises_count=r["premises_count"],
                           meters_count=r["meters_count"])


def _premise(r) -> PremiseInfo:
    return PremiseInfo(id=r["id"], building_id=r["building_id"], number=r["number"], kind=r["kind"],
                       area_m2=r["area_m2"], residents=r["residents"], account=r["account"])


def _meter(r, channels: tuple[ChannelInfo, ...]) -> MeterInfo:
    return MeterInfo(id=r["id"], serial=r["serial"], model=r["model"], role=MeterRole(r["role"]),
                     building_id=r["building_id"], premise_id=r["premise_id"], premise_number=r["premise_number"],
                     channels=channels, communicator=r["communicator"], archives=r["archives"], status=r["status"],
                     **parse_lifecycle(r))
