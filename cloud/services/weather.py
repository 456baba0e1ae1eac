"""Weather stations and the outdoor temperature at a building's nearest station (manual 4.1.6).

"The nearest weather station is chosen automatically once the building's coordinates are
given": the station is the registry's ``weather_stations`` row closest to the building's
(latitude, longitude) by great-circle distance; a building without coordinates has none.
Observations are hourly, in ClickHouse ``weather_observations`` (station, at UTC, degC).
The simulators' weather is such a station (simulators/weather_station.py), fetched by the cloud's
feed (cloud/weather_feed.py), which registers the station and stores what it reports here.
The premise chart (4.1.6) shows the mean of each period it draws, from enough of its hours only.
Tests: tests/unit/cloud/test_weather_rules.py, tests/integration/test_weather_feed.py.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.services import consumption as calc
from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService
from cloud.services.models import Granularity, InvalidInput, PremiseInfo, check_day
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone

EARTH_RADIUS_KM = 6371.0
MIN_HOURS_SHARE = 0.5  # a period's mean needs observations for at least half of its hours that have passed
CODE_MAX, NAME_MAX = 64, 200  # a station's code and name as the feed may register them
TEMPERATURE_RANGE_C = (-90.0, 60.0)  # beyond the records on Earth: a station's answer with such a value is refused


@dataclass(frozen=True, slots=True)
class Station:
    id: int
    code: str
    name: str
    latitude: float
    longitude: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest(stations: Sequence[Station], latitude: float | None, longitude: float | None) -> Station | None:
    """The station closest to the point; None without coordinates or stations (ties: the lower id)."""
    if latitude is None or longitude is None or not stations:
        return None
    return min(stations, key=lambda s: (distance_km(latitude, longitude, s.latitude, s.longitude), s.id))


def stations(registry: Registry) -> list[Station]:
    return [Station(r["id"], r["code"], r["name"], r["latitude"], r["longitude"])
            for r in registry.all("SELECT * FROM weather_stations ORDER BY id")]


def building_station(registry: Registry, building_id: int) -> Station | None:
    """The weather station of a building (no company check: callers have scoped the building)."""
    row = registry.one("SELECT latitude, longitude FROM buildings WHERE id = ?", building_id)
    if row is None:
        return None
    return nearest(stations(registry), row["latitude"], row["longitude"])


async def outdoor_hourly(registry: Registry, clickhouse: ClickHouse, building_id: int, lo: datetime,
                         hi: datetime) -> tuple[Station | None, dict[datetime, float]]:
    """The building's station and its hourly outdoor temperatures (degC) for ``lo <= hour < hi``,
    keyed by the aware UTC start of the hour; hours without an observation are absent."""
    station = await asyncio.to_thread(building_station, registry, building_id)
    if station is None:
        return None, {}
    rows = await clickhouse.query(
        "SELECT at, argMax(temperature_c, received_at) FROM {db}.weather_observations "
        "WHERE station = {s:String} AND at >= {lo:DateTime('UTC')} AND at < {hi:DateTime('UTC')} GROUP BY at",
        {"s": station.code, "lo": _naive(lo), "hi": _naive(hi)})
    return station, {at.replace(tzinfo=UTC): float(value) for at, value in rows}


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


# --- the feed's side: stations and observations ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Observation:
    at: datetime  # aware UTC start of the hour
    temperature_c: float


def check_station(code: object, name: object, latitude: object, longitude: object) -> tuple[str, str, float, float]:
    """A station as a feed describes it, checked (InvalidInput naming the field)."""
    if not isinstance(code, str) or not code.strip() or len(code) > CODE_MAX or not code.isprintable():
        raise InvalidInput(f"station.code: 1 to {CODE_MAX} printable characters, got {code!r}")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise InvalidInput(f"station.name: 1 to {NAME_MAX} characters, got {name!r}")
    out: list[float] = []
    for field, value, limit in (("latitude", latitude, 90.0), ("longitude", longitude, 180.0)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
            raise InvalidInput(f"station.{field}: a number from -{limit:g} to {limit:g}, got {value!r}")
        out.append(float(value))
    return code.strip(), name.strip(), out[0], out[1]


def check_observation(at: object, temperature_c: object) -> Observation:
    """One hourly observation of a feed's answer: ``at`` an ISO moment with a zone on the hour,
    the temperature a number within TEMPERATURE_RANGE_C (InvalidInput naming the field)."""
    if not isinstance(at, str):
        raise InvalidInput(f"observation.at: an ISO 8601 moment, got {at!r}")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise InvalidInput(f"observation.at: an ISO 8601 moment, got {at!r}") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"observation.at: give the zone (UTC: Z), got {at!r}")
    if moment.minute or moment.second or moment.microsecond:
        raise InvalidInput(f"observation.at: the start of an hour, got {at!r}")
    low, high = TEMPERATURE_RANGE_C
    if isinstance(temperature_c, bool) or not isinstance(temperature_c, int | float) or not (
            low <= temperature_c <= high):
        raise InvalidInput(f"observation.temperature_c: a number from {low:g} to {high:g} degC, got {temperature_c!r}")
    return Observation(moment.astimezone(UTC), float(temperature_c))


def register_station(registry: Registry, code: str, name: str, latitude: float, longitude: float) -> bool:
    """Add the station to the registry unless its code is there; True when it was new. A known
    station keeps the registry's name and coordinates (the registry, not the feed, is edited)."""
    code, name, latitude, longitude = check_station(code, name, latitude, longitude)
    with registry.connect() as db:
        added = db.execute("INSERT OR IGNORE INTO weather_stations (code, name, latitude, longitude) "
                           "VALUES (?, ?, ?, ?)", (code, name, latitude, longitude)).rowcount
    return bool(added)


async def store_observations(clickhouse: ClickHouse, station: str, observations: Sequence[Observation],
                             received_at: datetime) -> int:
    """Store a station's observations; one fetched again replaces the older copy (the table is a
    ReplacingMergeTree by ``received_at``, and reads take the newest). Returns how many."""
    if not observations:
        return 0
    received = received_at.astimezone(UTC)
    await clickhouse.insert("weather_observations",
                            [(station, _naive(o.at), o.temperature_c, received) for o in observations],
                            ("station", "at", "temperature_c", "received_at"))
    return len(observations)


async def newest_observation(clickhouse: ClickHouse, station: str) -> datetime | None:
    """The aware UTC hour of the station's newest stored observation; None before the first."""
    rows = await clickhouse.query("SELECT max(at), count() FROM {db}.weather_observations WHERE station = {s:String}",
                                  {"s": station})
    if not rows or not rows[0][1]:
        return None
    return rows[0][0].replace(tzinfo=UTC)


# --- the premise chart's outdoor temperature (manual 4.1.6) ------------------------------------------


def period_means(hourly: Mapping[datetime, float], labels: Sequence[datetime], granularity: Granularity,
                 tz: ZoneInfo, now: datetime) -> list[float | None]:
    """The mean outdoor temperature of each period (local starts ``labels``), rounded to 0.1 degC,
    from the hourly observations (aware UTC hour starts). A period's hours count up to ``now``; a
    mean needs observations for at least MIN_HOURS_SHARE of those, else None (a day of three
    night hours is no day's mean). Periods not begun yet are None."""
    out: list[float | None] = []
    moment = now.astimezone(UTC)
    for label in labels:
        lo = local_to_utc(label, tz).astimezone(UTC)
        hi = min(local_to_utc(calc.span(granularity, label)[1], tz).astimezone(UTC), moment)
        hours = max(0, math.ceil((hi - lo).total_seconds() / 3600))
        found = [hourly[at] for at in _hours(lo, hi) if at in hourly]
        if not hours or not found or len(found) < MIN_HOURS_SHARE * hours:
            out.append(None)
            continue
        out.append(round(sum(found) / len(found), 1))
    return out


def _hours(lo: datetime, hi: datetime) -> list[datetime]:
    start = lo.replace(minute=0, second=0, microsecond=0)
    if start < lo:
        start += timedelta(hours=1)
    out = []
    while start < hi:
        out.append(start)
        start += timedelta(hours=1)
    return out


@dataclass(frozen=True, slots=True)
class OutdoorTemperature:
    """The outdoor temperature beside a premise's consumption (manual 4.1.6): one mean per period
    of the view, degC, None where the station reported too little. ``station`` is None when the
    building has none, and ``reason`` says why: "no_coordinates" or "no_station"."""

    premise: PremiseInfo
    granularity: Granularity
    period: date
    station: Station | None
    distance_km: float | None
    points: tuple[tuple[datetime, float | None], ...]  # local period starts
    reason: str | None = None


class WeatherService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.accounting = AccountingService(registry, clickhouse, auth)  # its scope and role checks
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def premise_outdoor(self, token: str, premise_id: int, granularity: Granularity,
                              period: date) -> OutdoorTemperature:
        """The building's nearest station's mean outdoor temperature per period of the premise's
        consumption view (the same labels: hours of a day, days of a month, months of a year)."""
        check_day("period", period)
        premise = await self.accounting.premise(token, premise_id)  # company scope, no administrators
        building = await self.accounting.building(token, premise.building_id)
        row = await asyncio.to_thread(self.registry.one, "SELECT latitude, longitude FROM buildings WHERE id = ?",
                                      building.id)
        labels = calc.period_starts(granularity, period)
        empty = tuple((label, None) for label in labels)
        if row is None or row["latitude"] is None or row["longitude"] is None:
            return OutdoorTemperature(premise, granularity, period, None, None, empty, "no_coordinates")
        station = nearest(await asyncio.to_thread(stations, self.registry), row["latitude"], row["longitude"])
        if station is None:
            return OutdoorTemperature(premise, granularity, period, None, None, empty, "no_station")
        tz = zone(building.time_zone)
        lo = local_to_utc(labels[0], tz)
        hi = local_to_utc(calc.span(granularity, labels[-1])[1], tz)
        _, hourly = await outdoor_hourly(self.registry, self.ch, building.id, lo, hi)
        means = period_means(hourly, labels, granularity, tz, self.clock())
        far = round(distance_km(row["latitude"], row["longitude"], station.latitude, station.longitude), 1)
        return OutdoorTemperature(premise, granularity, period, station, far,
                                  tuple(zip(labels, means, strict=True)))
