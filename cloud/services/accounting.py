"""The accounting section (manual 4.1): buildings, premises and meters of the user's company,
building and premise consumption, meter archives. Every call is scoped to the company of the
session's user; an object of another company is reported as not found.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, datetime

from cloud.services import consumption as calc
from cloud.services import counters
from cloud.services.auth import AuthService, require_operational_view
from cloud.services.models import (
    ArchiveRow,
    BuildingConsumption,
    BuildingSummary,
    ChannelInfo,
    ConsumptionPoint,
    DataStatus,
    Granularity,
    InvalidInput,
    MeterArchive,
    MeterInfo,
    NotFound,
    PremiseConsumption,
    PremiseInfo,
    UserInfo,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import next_period, utc_to_local, zone
from protocol.vocabulary import CONSUMPTION_PARAMETER, PARAMETERS, MeterRole, Resource

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
                ChannelInfo(c["number"], Resource(c["resource"]), tuple(c["parameters"].split(","))))
        return [_meter(r, tuple(channels[r["id"]])) for r in rows]

    # --- series ----------------------------------------------------------------------
    async def _readings(self, pairs: list[tuple[str, int]], parameter: str,
                        at: list[datetime]) -> dict[tuple[str, int], dict[datetime, float]]:
        """Hourly integral readings of (meter serial, channel) pairs at the given UTC period starts."""
        if not pairs or not at:
            return {}
        rows = await self.ch.query(
            "SELECT meter, channel, period_start, value FROM {db}.archive FINAL "
            "WHERE meter IN {meters:Array(String)} AND kind = 'hour' AND parameter = {p:String} "
            "AND period_start IN {at:Array(DateTime)}",
            {"meters": sorted({m for m, _ in pairs}), "p": parameter, "at": at})
        wanted = set(pairs)
        out: dict[tuple[str, int], dict[datetime, float]] = defaultdict(dict)
        for meter, channel, start, value in rows:
            if (meter, channel) in wanted:
                out[(meter, channel)][start.replace(tzinfo=None)] = value
        return out

    async def _series(self, meters: list[MeterInfo], pairs: list[tuple[str, int]], parameter: str,
                      readings: dict[tuple[str, int], dict[datetime, float]],
                      bounds: list[datetime]) -> dict[tuple[str, int], list[float | None]]:
        """Consumption per period of each (serial, channel): across register wraps of the model
        and the counter breaks recorded for the meter (cloud/services/counters.py)."""
        models = {m.serial: m.model for m in meters}
        ids = sorted({m.id for m in meters if any(m.serial == serial for serial, _ in pairs)})
        breaks = await asyncio.to_thread(counters.load, self.registry, ids, parameter)
        return {p: calc.differences(readings.get(p, {}), bounds, calc.counter_modulus(models.get(p[0], ""), parameter),
                                    breaks.get(p, ())) for p in pairs}

    async def building_consumption(self, token: str, building_id: int, resource: Resource,
                                   granularity: Granularity, period: date) -> BuildingConsumption:
        if granularity not in (Granularity.DAY, Granularity.MONTH):
            raise InvalidInput("building consumption is shown by days of a month or by months of a year")
        building = await self.building(token, building_id)
        meters = await self.meters(token, building_id)
        available = _resources(meters)
        parameter = CONSUMPTION_PARAMETER[resource]
        tz = zone(building.time_zone)
        common = _pairs(meters, resource, MeterRole.COMMON)
        individual = _pairs(meters, resource, MeterRole.INDIVIDUAL)
        starts = await self._shown(common + individual, tz, granularity, period)
        bounds = calc.boundary_readings_utc(starts, granularity, tz) if starts else []
        readings = await self._readings(common + individual, parameter, bounds)
        series = await self._series(meters, common + individual, parameter, readings, bounds)
        building_sum, _ = calc.combine([series[p] for p in common])
        apartments_sum, complete = calc.combine([series[p] for p in individual])
        points = []
        for i, start in enumerate(starts):
            b = building_sum[i] if common else None
            a = apartments_sum[i] if individual else None
            full = complete[i] if individual else False
            diff, pct = calc.imbalance(b, a, full)
            points.append(ConsumptionPoint(start, b, a, full, diff, pct))
        return BuildingConsumption(building, resource, PARAMETERS[parameter].unit, granularity, period,
                                   bool(common), bool(individual), tuple(points), available)

    async def premise_consumption(self, token: str, premise_id: int, resource: Resource,
                                  granularity: Granularity, period: date) -> PremiseConsumption:
        if granularity not in (Granularity.DAY, Granularity.MONTH):
            raise InvalidInput("premise consumption is shown by days of a month or by months of a year")
        premise = await self.premise(token, premise_id)
        building = await self.building(token, premise.building_id)
        meters = [m for m in await self.meters(token, premise.building_id) if m.premise_id == premise_id]
        parameter = CONSUMPTION_PARAMETER[resource]
        tz = zone(building.time_zone)
        pairs = _pairs(meters, resource, MeterRole.INDIVIDUAL)
        starts = await self._shown(pairs, tz, granularity, period)
        bounds = calc.boundary_readings_utc(starts, granularity, tz) if starts else []
        readings = await self._readings(pairs, parameter, bounds)
        series = await self._series(meters, pairs, parameter, readings, bounds)
        sums, complete = calc.combine([series[p] for p in pairs])
        points = tuple((s, sums[i] if pairs and complete[i] else None) for i, s in enumerate(starts))
        return PremiseConsumption(premise, resource, PARAMETERS[parameter].unit, granularity, period, points,
                                  tuple(meters), _resources(meters))

    async def meter_archive(self, token: str, meter_id: int, channel: int, granularity: Granularity,
                            period: date) -> MeterArchive:
        meter = await self.meter(token, meter_id)
        info = next((c for c in meter.channels if c.number == channel), None)
        if info is None:
            raise NotFound(f"meter {meter.serial} has no channel {channel}")
        building = await self.building(token, meter.building_id)
        tz = zone(building.time_zone)
        starts = calc.period_starts(granularity, period)
        bounds = calc.boundary_readings_utc(starts, granularity, tz)
        lo, hi = bounds[0], bounds[-1]  # the hour before the first period .. the last hour of the last
        rows = await self.ch.query(
            "SELECT parameter, period_start, value FROM {db}.archive FINAL WHERE meter = {m:String} "
            "AND channel = {c:UInt16} AND kind = 'hour' AND period_start > {lo:DateTime} "
            "AND period_start <= {hi:DateTime} ORDER BY period_start",
            {"m": meter.serial, "c": channel, "lo": lo, "hi": hi})
        hourly: dict[datetime, dict[str, float]] = defaultdict(dict)
        for parameter, start, value in rows:
            hourly[utc_to_local(start, tz)][parameter] = value
        table = _aggregate(hourly, starts, granularity, info.parameters)
        return MeterArchive(meter, info, granularity, period, "integral", info.parameters,
                            {p: PARAMETERS[p].unit if p in PARAMETERS else "" for p in info.parameters}, table)

    async def _span(self, pairs: list[tuple[str, int]], tz) -> tuple[datetime, datetime] | None:
        """Local starts of the oldest and the newest hourly period stored for these meters."""
        if not pairs:
            return None
        rows = await self.ch.query("SELECT min(period_start), max(period_start), count() FROM {db}.archive "
                                   "WHERE meter IN {meters:Array(String)} AND kind = 'hour'",
                                   {"meters": sorted({m for m, _ in pairs})})
        if not rows or not rows[0][2]:
            return None
        return utc_to_local(rows[0][0], tz), utc_to_local(rows[0][1], tz)

    async def _shown(self, pairs: list[tuple[str, int]], tz, granularity: Granularity, period: date) -> list[datetime]:
        """The periods of the view that overlap the time the meters have data for: nothing before
        the first archive (before commissioning there is nothing to miss) or after the newest."""
        span = await self._span(pairs, tz)
        starts = calc.period_starts(granularity, period)
        if span is None:
            return starts
        first, last = span
        kind = calc.KIND[granularity]
        return [s for s in starts if s <= last and next_period(kind, s) > first]

    async def default_period(self, token: str, building_id: int) -> date:
        """The local date of the newest data of the building (today when there is none)."""
        building = await self.building(token, building_id)
        meters = await self.meters(token, building_id)
        span = await self._span([(m.serial, c.number) for m in meters for c in m.channels], zone(building.time_zone))
        return span[1].date() if span else datetime.now(zone(building.time_zone)).date()

    async def data_status(self, token: str) -> DataStatus:
        user = await self._reader(token)
        serials = [r["serial"] for r in await asyncio.to_thread(
            self.registry.all, "SELECT serial FROM meters WHERE company_id = ?", user.company_id)]
        if not serials:
            return DataStatus(0, None)
        rows = await self.ch.query("SELECT count(), max(period_start) FROM {db}.archive FINAL "
                                   "WHERE meter IN {meters:Array(String)}", {"meters": serials})
        count, latest = rows[0]
        tz_row = await asyncio.to_thread(self.registry.one, "SELECT time_zone FROM buildings WHERE company_id = ? "
                                         "LIMIT 1", user.company_id)
        tz = zone(tz_row["time_zone"] if tz_row else "UTC")
        return DataStatus(int(count), utc_to_local(latest, tz) if count else None)


def _aggregate(hourly: dict[datetime, dict[str, float]], starts: list[datetime], granularity: Granularity,
               parameters: tuple[str, ...]) -> tuple[ArchiveRow, ...]:
    """Rows of the archive table. Hours are the device's records as stored. A day or month row
    holds, for a counter, the reading at the period's end and, for a mean, the mean of its hours;
    a period with no hourly record at its end has no counter value."""
    rows = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        if granularity is Granularity.HOUR:
            values = hourly.get(start, {})
            rows.append(ArchiveRow(start, {p: values.get(p) for p in parameters}))
            continue
        inside = [h for h in hourly if h >= start and (end is None or h < end)]
        if not inside:
            rows.append(ArchiveRow(start, dict.fromkeys(parameters)))
            continue
        last_hour = max(inside)
        values: dict[str, float | None] = {}
        for p in parameters:
            if PARAMETERS.get(p) is not None and not PARAMETERS[p].summable:
                got = [hourly[h][p] for h in inside if p in hourly[h]]
                values[p] = round(sum(got) / len(got), 2) if got else None
            else:
                values[p] = hourly[last_hour].get(p)
        rows.append(ArchiveRow(start, values))
    return tuple(rows)


def _pairs(meters: list[MeterInfo], resource: Resource, role: MeterRole) -> list[tuple[str, int]]:
    return [(m.serial, c.number) for m in meters if m.role is role and m.status == "in_service"
            for c in m.channels if c.resource is resource]


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
                     channels=channels, communicator=r["communicator"], archives=r["archives"], status=r["status"])
