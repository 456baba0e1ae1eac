"""The heating season per building (manual 4.5.7), temperature schedules (4.6.8) and their control (4.2.5).

Season: the registry's ``heating_seasons`` keeps every change (who, when, undone_at), the rules are
cloud/services/heating_rules.py. Schedule: a building's own rows (``building_temperature_schedule``)
or else its city's default (``city_temperature_schedule``), or else the built-in 95/70 schedule;
tolerances are the city's (``cities.supply_tolerance_pct`` / ``return_tolerance_pct``). Control:
per local day of the building, the outdoor temperature Tнв is the mean of the nearest station's
hourly observations in that day (cloud/services/weather.py), the supply and return temperatures
the means of the chosen building heat meter's hourly T1 and T2 archives. A day is judged only when
every hour of it is there (closed, in the meter's service period) and Tнв is known: a missing value
is shown missing, never a violation. The hourly view is information only. Days outside the heating
season are left out. Changes need a dispatcher (``require_dispatcher``) and are audited; reads are
scoped to the company (another company's building is NotFound), administrators see none.
Tests: tests/unit/cloud/test_heating_rules.py, tests/integration/test_heating.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.services import audit
from cloud.services import heating_rules as rules
from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.heating_rules import Change, Point
from cloud.services.models import (
    BuildingSummary,
    Granularity,
    InvalidInput,
    MeterInfo,
    NotFound,
    UserInfo,
    check_day,
    check_id,
)
from cloud.services.weather import outdoor_hourly
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, utc_to_local, zone
from protocol.vocabulary import MeterRole, Resource

MAX_GROUP = 1000  # buildings in one group change
_REFUSAL = "the heating season and temperature schedules are not available to administrators"


# --- what the callers get ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SeasonChange:
    """One change of a building's season (manual 4.5.7, its history)."""

    id: int
    season: str  # "heating" or "non_heating"
    starts_on: date
    set_by: str | None  # the dispatcher's full name
    set_at: datetime  # local time of the building
    undone_at: datetime | None  # local time; None: in force


@dataclass(frozen=True, slots=True)
class BuildingSeason:
    """A building's row on the «Сезон» page: the season in force now (None: never set, both icons grey)."""

    building_id: int
    address: str
    city: str
    season: str | None
    starts_on: date | None
    set_by: str | None
    set_at: datetime | None  # local time of the building
    undoable: bool  # the latest change was made today (building's day) and may be undone
    today: date  # the building's local date now: the latest start a change may have


@dataclass(frozen=True, slots=True)
class SchedulePoint:
    outdoor_c: int
    supply_c: float
    return_c: float


@dataclass(frozen=True, slots=True)
class TemperatureSchedule:
    """A building's schedule (manual 4.6.8): its own rows (``own``, shown black) or the default (grey)."""

    building_id: int
    address: str
    city: str
    own: bool
    source: str  # "building", "city" (the city's default) or "builtin" (no city default recorded)
    points: tuple[SchedulePoint, ...]  # warm to cold
    default_points: tuple[SchedulePoint, ...]  # the city's default (or the built-in one)
    supply_tolerance_pct: float
    return_tolerance_pct: float
    updated_by: str | None = None
    updated_at: datetime | None = None  # local time of the building


@dataclass(frozen=True, slots=True)
class ControlRow:
    """One day (judged) or one hour (information only) of temperature schedule control.

    Temperatures in degC; ``*_hours`` count the hourly values a mean is made of, ``hours`` the hours
    of the period (24; 23 or 25 on a DST change; 1 for an hour row). A day is judged only when its
    mean is made of all its hours (so never today, nor a day the meter was not in service all of);
    ``*_violation`` is None when not judged (an hour, an incomplete day, no outdoor temperature),
    else whether the tolerance is exceeded.
    """

    start: datetime  # local time of the building
    hours: int
    outdoor_c: float | None
    outdoor_hours: int
    supply_c: float | None
    supply_hours: int
    return_c: float | None
    return_hours: int
    prescribed_supply_c: float | None
    prescribed_return_c: float | None
    supply_delta: float | None
    supply_delta_pct: float | None
    return_delta: float | None
    return_delta_pct: float | None
    supply_violation: bool | None
    return_violation: bool | None


@dataclass(frozen=True, slots=True)
class TemperatureControl:
    """Temperature schedule control of one building heat meter over a month (days) or a day (hours)."""

    building: BuildingSummary
    meters: tuple[MeterInfo, ...]  # the building heat meters with supply and return temperatures
    meter: MeterInfo | None  # the one shown; None when the building has none
    channel: int | None
    granularity: Granularity
    period: date
    station: str | None  # the weather station's name; None: the building has no coordinates or no station
    season: str | None  # the season in force today
    heating_days: tuple[date, ...]  # the days of the period in the heating season (the rows are of these)
    outside_days: tuple[date, ...]  # the days of the period outside it (not shown)
    schedule_source: str
    supply_tolerance_pct: float
    return_tolerance_pct: float
    rows: tuple[ControlRow, ...]

    @property
    def violations(self) -> int:
        return sum(bool(r.supply_violation) + bool(r.return_violation) for r in self.rows)


# --- the service ---------------------------------------------------------------------------------

class HeatingService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.accounting = AccountingService(registry, clickhouse, auth)  # its scope and reads
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def _viewer(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token), _REFUSAL)

    async def _dispatcher(self, token: str) -> UserInfo:
        return require_dispatcher(require_operational_view(await self.auth.user(token), _REFUSAL))

    def _today(self, time_zone: str) -> date:
        return self.clock().astimezone(zone(time_zone)).date()

    # --- season (4.5.7) ------------------------------------------------------------------------

    async def seasons(self, token: str) -> list[BuildingSeason]:
        """Every building of the company with the season in force now."""
        user = await self._viewer(token)
        return await asyncio.to_thread(self._seasons, user)

    def _seasons(self, user: UserInfo) -> list[BuildingSeason]:
        with self.registry.reading() as db:
            buildings = db.execute("SELECT id, address, city, time_zone FROM buildings WHERE company_id = ? "
                                   "ORDER BY city, address", (user.company_id,)).fetchall()
            changes = _changes_of(db, [b["id"] for b in buildings])
        out = []
        for b in buildings:
            tz = zone(b["time_zone"])
            today = self._today(b["time_zone"])
            mine = changes.get(b["id"], [])
            latest = rules.current([c for c, _ in mine])
            row = next((r for c, r in mine if latest is not None and c.id == latest.id), None)
            out.append(BuildingSeason(
                b["id"], b["address"], b["city"], latest.season if latest else None,
                latest.starts_on if latest else None, row["full_name"] if row else None,
                _local(row["set_at"], tz) if row else None, latest is not None and latest.made_on == today, today))
        return out

    async def set_season(self, token: str, building_ids: Sequence[int], season: str, starts_on: date
                         ) -> list[BuildingSeason]:
        """Start ``season`` on ``starts_on`` for one building or a group (all in the same season now)."""
        user = await self._dispatcher(token)
        ids = list(dict.fromkeys(check_id("building_ids", i) for i in building_ids))
        if not ids:
            raise InvalidInput("building_ids: at least one building")
        if len(ids) > MAX_GROUP:
            raise InvalidInput(f"building_ids: at most {MAX_GROUP} buildings at once")
        check_day("starts_on", starts_on)
        await asyncio.to_thread(self._set_season, user, ids, season, starts_on)
        return [s for s in await asyncio.to_thread(self._seasons, user) if s.building_id in ids]

    def _set_season(self, user: UserInfo, ids: list[int], season: str, starts_on: date) -> None:
        now = self.clock().astimezone(UTC)
        with self.registry.connect() as db:
            buildings = {b["id"]: b for b in _buildings(db, user, ids)}
            changes = _changes_of(db, ids)
            rules.check_group([_latest_season(changes.get(i, [])) for i in ids])
            for i in ids:
                mine = [c for c, _ in changes.get(i, [])]
                try:
                    rules.check_change(mine, season, starts_on, self._today(buildings[i]["time_zone"]))
                except rules.RuleError as error:
                    raise rules.RuleError(error.reason, f"{buildings[i]['address']}: {error}",
                                          address=buildings[i]["address"], **error.params) from None
            for i in ids:
                before = rules.current([c for c, _ in changes.get(i, [])])
                db.execute("INSERT INTO heating_seasons (building_id, season, starts_on, set_by, set_at) "
                           "VALUES (?, ?, ?, ?, ?)", (i, season, starts_on.isoformat(), user.id, now.isoformat()))
                audit.record(db, user, "heating_season.set", f"building:{i}",
                             {"season": before.season, "starts_on": before.starts_on.isoformat()} if before else None,
                             {"season": season, "starts_on": starts_on.isoformat()})

    async def undo_season(self, token: str, building_id: int) -> BuildingSeason:
        """Undo the building's latest change, made today (the building's day)."""
        user = await self._dispatcher(token)
        check_id("building_id", building_id)
        await asyncio.to_thread(self._undo, user, building_id)
        return next(s for s in await asyncio.to_thread(self._seasons, user) if s.building_id == building_id)

    def _undo(self, user: UserInfo, building_id: int) -> None:
        now = self.clock().astimezone(UTC)
        with self.registry.connect() as db:
            (building,) = _buildings(db, user, [building_id])
            mine = [c for c, _ in _changes_of(db, [building_id]).get(building_id, [])]
            change = rules.check_undo(mine, self._today(building["time_zone"]))
            db.execute("UPDATE heating_seasons SET undone_at = ? WHERE id = ?", (now.isoformat(), change.id))
            audit.record(db, user, "heating_season.undo", f"building:{building_id}",
                         {"season": change.season, "starts_on": change.starts_on.isoformat()}, None)

    async def season_history(self, token: str, building_id: int) -> list[SeasonChange]:
        """Every change of the building's season, undone ones too, newest first."""
        user = await self._viewer(token)
        check_id("building_id", building_id)
        return await asyncio.to_thread(self._history, user, building_id)

    def _history(self, user: UserInfo, building_id: int) -> list[SeasonChange]:
        with self.registry.reading() as db:
            (building,) = _buildings(db, user, [building_id])
            rows = _changes_of(db, [building_id]).get(building_id, [])
        tz = zone(building["time_zone"])
        return [SeasonChange(c.id, c.season, c.starts_on, r["full_name"], _local(r["set_at"], tz),
                             _local(r["undone_at"], tz) if r["undone_at"] else None)
                for c, r in sorted(rows, key=lambda cr: -cr[0].id)]

    # --- schedule (4.6.8) ----------------------------------------------------------------------

    async def schedule(self, token: str, building_id: int) -> TemperatureSchedule:
        user = await self._viewer(token)
        check_id("building_id", building_id)
        return await asyncio.to_thread(self._schedule, user, building_id)

    def _schedule(self, user: UserInfo, building_id: int) -> TemperatureSchedule:
        with self.registry.reading() as db:
            return _schedule_of(db, user, building_id)

    async def set_schedule(self, token: str, building_id: int, points: Sequence[SchedulePoint]
                           ) -> TemperatureSchedule:
        """Make ``points`` the building's own schedule (the whole table, at the city's outdoor temperatures)."""
        user = await self._dispatcher(token)
        check_id("building_id", building_id)
        return await asyncio.to_thread(self._set_schedule, user, building_id, points)

    def _set_schedule(self, user: UserInfo, building_id: int, points: Sequence[SchedulePoint]) -> TemperatureSchedule:
        now = self.clock().astimezone(UTC).isoformat()
        with self.registry.connect() as db:
            before = _schedule_of(db, user, building_id)
            checked = rules.check_points([Point(p.outdoor_c, p.supply_c, p.return_c) for p in points],
                                         [p.outdoor_c for p in before.default_points])
            db.execute("DELETE FROM building_temperature_schedule WHERE building_id = ?", (building_id,))
            db.executemany("INSERT INTO building_temperature_schedule (building_id, outdoor_c, supply_c, return_c, "
                           "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                           [(building_id, p.outdoor_c, float(p.supply_c), float(p.return_c), user.id, now)
                            for p in checked])
            audit.record(db, user, "temperature_schedule.set", f"building:{building_id}",
                         _points_json(before.points) if before.own else None,
                         _points_json(tuple(SchedulePoint(p.outdoor_c, p.supply_c, p.return_c) for p in checked)))
            return _schedule_of(db, user, building_id)

    async def reset_schedule(self, token: str, building_id: int) -> TemperatureSchedule:
        """Delete the building's own schedule: the city's default applies again."""
        user = await self._dispatcher(token)
        check_id("building_id", building_id)
        return await asyncio.to_thread(self._reset_schedule, user, building_id)

    def _reset_schedule(self, user: UserInfo, building_id: int) -> TemperatureSchedule:
        with self.registry.connect() as db:
            before = _schedule_of(db, user, building_id)
            if before.own:
                db.execute("DELETE FROM building_temperature_schedule WHERE building_id = ?", (building_id,))
                audit.record(db, user, "temperature_schedule.reset", f"building:{building_id}",
                             _points_json(before.points), None)
            return _schedule_of(db, user, building_id)

    # --- control (4.2.5) -----------------------------------------------------------------------

    async def control(self, token: str, building_id: int, *, meter_id: int | None = None,
                      granularity: Granularity = Granularity.DAY, period: date | None = None) -> TemperatureControl:
        """Daily means against the schedule over the month of ``period`` (granularity day), or the
        hours of the day ``period`` (granularity hour, information only); days up to today."""
        user = await self._viewer(token)
        building = await self.accounting.building(token, building_id)
        if granularity not in (Granularity.DAY, Granularity.HOUR):
            raise InvalidInput(f"granularity: day or hour, got {granularity.value!r}")
        tz = zone(building.time_zone)
        now = self.clock().astimezone(UTC)
        today = now.astimezone(tz).date()
        period = period or today
        check_day("period", period)
        meters = tuple(m for m in await self.accounting.meters(token, building_id) if _temperature_channel(m))
        meter = _chosen(meters, meter_id)
        if meter_id is not None and meter is None:
            await self.accounting.meter(token, meter_id)  # NotFound for another company's or an unknown meter
            raise InvalidInput(f"meter_id: meter {meter_id} is not a heat building meter of this building "
                               "with supply and return temperatures")
        if granularity is Granularity.DAY:
            first = period.replace(day=1)
            days = [first + timedelta(days=n) for n in range(31) if (first + timedelta(days=n)).month == first.month]
        else:
            days = [period]
        days = [d for d in days if d <= today]
        schedule, changes = await asyncio.to_thread(self._control_setting, user, building_id)
        heating = tuple(d for d in days if rules.season_on(changes, d) == "heating")
        outside = tuple(d for d in days if d not in heating)
        channel = _temperature_channel(meter) if meter else None
        rows: list[ControlRow] = []
        station_name = None
        if heating:
            lo = local_to_utc(datetime.combine(heating[0], datetime.min.time()), tz)
            hi = local_to_utc(datetime.combine(heating[-1] + timedelta(days=1), datetime.min.time()), tz)
            station, outdoor = await outdoor_hourly(self.registry, self.ch, building_id, lo, hi)
            station_name = station.name if station else None
            t1, t2 = ({}, {}) if meter is None or channel is None else \
                await self._temperatures(user, meter, channel, lo, hi)
            points = [Point(p.outdoor_c, p.supply_c, p.return_c) for p in schedule.points]
            for day in heating:
                if granularity is Granularity.DAY:
                    rows.append(_day_row(day, tz, now, meter, outdoor, t1, t2, points, schedule))
                else:
                    rows.extend(_hour_rows(day, tz, now, meter, outdoor, t1, t2, points))
        return TemperatureControl(building, meters, meter, channel, granularity, period, station_name,
                                  rules.season_on(changes, today), heating, outside, schedule.source,
                                  schedule.supply_tolerance_pct, schedule.return_tolerance_pct, tuple(rows))

    def _control_setting(self, user: UserInfo, building_id: int) -> tuple[TemperatureSchedule, list[Change]]:
        with self.registry.reading() as db:
            schedule = _schedule_of(db, user, building_id)
            changes = [c for c, _ in _changes_of(db, [building_id]).get(building_id, [])]
        return schedule, changes

    async def _temperatures(self, user: UserInfo, meter: MeterInfo, channel: int, lo: datetime, hi: datetime
                            ) -> tuple[dict[datetime, float], dict[datetime, float]]:
        """The meter's hourly T1 and T2 (degC) in [lo, hi), keyed by the aware UTC hour start."""
        rows = await self.ch.query(
            "SELECT parameter, period_start, value FROM {db}.archive FINAL WHERE company = {co:UInt32} "
            "AND meter = {m:String} AND channel = {c:UInt16} AND kind = 'hour' AND parameter IN ('T1', 'T2') "
            "AND period_start >= {lo:DateTime('UTC')} AND period_start < {hi:DateTime('UTC')}",
            {"co": user.company_id, "m": meter.serial, "c": channel, "lo": _naive(lo), "hi": _naive(hi)})
        found: dict[str, dict[datetime, float]] = {"T1": {}, "T2": {}}
        for parameter, start, value in rows:
            found[parameter][start.replace(tzinfo=UTC)] = float(value)
        return found["T1"], found["T2"]


# --- helpers -------------------------------------------------------------------------------------

def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _local(text: str, tz: ZoneInfo) -> datetime:
    return utc_to_local(datetime.fromisoformat(text), tz)


def _buildings(db: sqlite3.Connection, user: UserInfo, ids: Sequence[int]) -> list[sqlite3.Row]:
    """The company's buildings of ``ids`` (NotFound naming the first that is not one of them)."""
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"SELECT * FROM buildings WHERE company_id = ? AND id IN ({marks})",  # noqa: S608 - placeholders only
                      (user.company_id, *ids)).fetchall()
    found = {r["id"]: r for r in rows}
    for i in ids:
        if i not in found:
            raise NotFound(f"building {i} not found")
    return [found[i] for i in ids]


def _changes_of(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, list[tuple[Change, sqlite3.Row]]]:
    """Each building's season changes with their rows (the dispatcher's name as ``full_name``)."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute("SELECT h.*, u.full_name, b.time_zone FROM heating_seasons h "  # noqa: S608 - placeholders only
                      "JOIN buildings b ON b.id = h.building_id LEFT JOIN users u ON u.id = h.set_by "
                      f"WHERE h.building_id IN ({marks}) ORDER BY h.id", tuple(ids)).fetchall()
    out: dict[int, list[tuple[Change, sqlite3.Row]]] = {}
    for r in rows:
        made_on = _local(r["set_at"], zone(r["time_zone"])).date()
        change = Change(r["id"], r["season"], date.fromisoformat(r["starts_on"]), made_on, r["undone_at"] is not None)
        out.setdefault(r["building_id"], []).append((change, r))
    return out


def _latest_season(rows: list[tuple[Change, sqlite3.Row]]) -> str | None:
    latest = rules.current([c for c, _ in rows])
    return latest.season if latest else None


def _schedule_of(db: sqlite3.Connection, user: UserInfo, building_id: int) -> TemperatureSchedule:
    (b,) = _buildings(db, user, [building_id])
    city = db.execute("SELECT * FROM cities WHERE id = ?", (b["city_id"],)).fetchone()
    defaults = [SchedulePoint(r["outdoor_c"], r["supply_c"], r["return_c"]) for r in db.execute(
        "SELECT * FROM city_temperature_schedule WHERE city_id = ? ORDER BY outdoor_c DESC", (b["city_id"],))]
    source = "city"
    if not defaults:
        defaults = [SchedulePoint(p.outdoor_c, p.supply_c, p.return_c) for p in rules.builtin_schedule()]
        source = "builtin"
    own = db.execute("SELECT s.*, u.full_name FROM building_temperature_schedule s LEFT JOIN users u "
                     "ON u.id = s.updated_by WHERE s.building_id = ? ORDER BY s.outdoor_c DESC",
                     (building_id,)).fetchall()
    supply_tol = float(city["supply_tolerance_pct"]) if city else 3.0
    return_tol = float(city["return_tolerance_pct"]) if city else 5.0
    if own:
        latest = max(own, key=lambda r: r["updated_at"])
        return TemperatureSchedule(
            building_id, b["address"], b["city"], True, "building",
            tuple(SchedulePoint(r["outdoor_c"], r["supply_c"], r["return_c"]) for r in own), tuple(defaults),
            supply_tol, return_tol, latest["full_name"], _local(latest["updated_at"], zone(b["time_zone"])))
    return TemperatureSchedule(building_id, b["address"], b["city"], False, source, tuple(defaults), tuple(defaults),
                               supply_tol, return_tol)


def _points_json(points: Sequence[SchedulePoint]) -> dict[str, object]:
    return {"points": [[p.outdoor_c, p.supply_c, p.return_c] for p in points]}


def _temperature_channel(meter: MeterInfo) -> int | None:
    """The channel of a building heat meter that has both supply (T1) and return (T2) temperatures."""
    if meter.role is not MeterRole.COMMON:
        return None
    for c in meter.channels:
        if c.resource is Resource.HEAT and {"T1", "T2"} <= set(c.parameters):
            return c.number
    return None


def _chosen(meters: Sequence[MeterInfo], meter_id: int | None) -> MeterInfo | None:
    if meter_id is None:
        return meters[0] if meters else None
    return next((m for m in meters if m.id == meter_id), None)


def _hours(day: date, tz: ZoneInfo) -> list[datetime]:
    """The aware UTC starts of the hours of a local day (23 or 25 of them on a DST change)."""
    lo = local_to_utc(datetime.combine(day, datetime.min.time()), tz)
    hi = local_to_utc(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz)
    return [lo + timedelta(hours=n) for n in range(int((hi - lo).total_seconds() // 3600))]


def _expected(meter: MeterInfo | None, hour: datetime, now: datetime) -> bool:
    """Whether the meter was to report the hour: it has closed and lies in the meter's service period."""
    if meter is None or hour + timedelta(hours=1) > now:
        return False
    if meter.commissioned_at is not None and hour < meter.commissioned_at:
        return False
    return meter.decommissioned_at is None or hour < meter.decommissioned_at


def _judge(actual: float | None, target: float | None, judged: bool, tolerance: float, supply: bool
           ) -> tuple[float | None, float | None, bool | None]:
    if actual is None or target is None:
        return None, None, None
    delta, pct = rules.deviation(actual, target)
    if not judged:
        return delta, pct, None
    return delta, pct, (rules.supply_violates(pct, tolerance) if supply else rules.return_violates(pct, tolerance))


def _day_row(day: date, tz: ZoneInfo, now: datetime, meter: MeterInfo | None, outdoor: dict[datetime, float],
             t1: dict[datetime, float], t2: dict[datetime, float], points: list[Point],
             schedule: TemperatureSchedule) -> ControlRow:
    hours = _hours(day, tz)
    expected = [h for h in hours if _expected(meter, h, now)]  # closed, and in the meter's service period
    outside = [outdoor[h] for h in hours if h in outdoor]
    supply = [t1[h] for h in expected if h in t1]
    back = [t2[h] for h in expected if h in t2]
    t_out = rules.mean(outside)
    target = rules.prescribed(points, t_out) if t_out is not None else None
    s_mean, r_mean = rules.mean(supply), rules.mean(back)
    s = _judge(s_mean, target[0] if target else None, len(supply) == len(hours), schedule.supply_tolerance_pct, True)
    r = _judge(r_mean, target[1] if target else None, len(back) == len(hours), schedule.return_tolerance_pct, False)
    return ControlRow(datetime.combine(day, datetime.min.time()), len(hours), t_out, len(outside), s_mean,
                      len(supply), r_mean, len(back), target[0] if target else None, target[1] if target else None,
                      s[0], s[1], r[0], r[1], s[2], r[2])


def _hour_rows(day: date, tz: ZoneInfo, now: datetime, meter: MeterInfo | None, outdoor: dict[datetime, float],
               t1: dict[datetime, float], t2: dict[datetime, float], points: list[Point]) -> list[ControlRow]:
    rows = []
    for hour in _hours(day, tz):
        if hour + timedelta(hours=1) > now:
            break
        expected = _expected(meter, hour, now)
        t_out = outdoor.get(hour)
        target = rules.prescribed(points, t_out) if t_out is not None else None
        supply = t1.get(hour) if expected else None
        back = t2.get(hour) if expected else None
        s = _judge(supply, target[0] if target else None, False, 0.0, True)
        r = _judge(back, target[1] if target else None, False, 0.0, False)
        rows.append(ControlRow(utc_to_local(hour, tz), 1, t_out, int(t_out is not None), supply,
                               int(supply is not None), back, int(back is not None),
                               target[0] if target else None, target[1] if target else None,
                               s[0], s[1], r[0], r[1], None, None))
    return rows
