"""Weather stations and the outdoor temperature at a building's nearest station (manual 4.1.6).

"The nearest weather station is chosen automatically once the building's coordinates are
given": the station is the registry's ``weather_stations`` row closest to the building's
(latitude, longitude) by great-circle distance; a building without coordinates has none.
Observations are hourly, in ClickHouse ``weather_observations`` (station, at UTC, degC).
The simulators' weather is such a station. Tests: tests/unit/cloud/test_weather_rules.py.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.services.auth import AuthService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

EARTH_RADIUS_KM = 6371.0


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


class WeatherService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
