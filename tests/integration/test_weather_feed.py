"""The weather feed on real parts (cloud/weather_feed.py, simulators/weather_station.py): the
simulators' station served by aiohttp on a free port, the cloud's feed polling it over HTTP into
chDB and the registry. Observations stored hour by hour; a re-fetched overlap replaces, never
doubles; the station registered once; failures logged and retried with backoff until the station
answers; the premise's outdoor temperature (WeatherService, API ``premise_outdoor_temperature``)
from the nearest station of the building's coordinates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_weather
from cloud.api import install_error_handlers
from cloud.services.container import Services
from cloud.services.models import Granularity, NotFound
from cloud.services.weather import outdoor_hourly, stations
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from cloud.weather_feed import FeedError, WeatherFeed, WeatherFeedConfig
from protocol.periods import local_to_utc, zone
from simulators.weather_station import KAZAN, StationInfo, WeatherStation
from simulators.world import outdoor_temperature
from tests import cloud_data
from tests.conftest import free_port

NOW = datetime(2026, 1, 10, 5, tzinfo=UTC)
MOSCOW = StationInfo("SIM-MSK", "Москва (погода симулятора)", 55.75, 37.62)


class Clock:
    """One time for the station and the feed, moved on by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@asynccontextmanager
async def serving(station: WeatherStation, port: int = 0) -> AsyncIterator[str]:
    stop = asyncio.Event()
    task = asyncio.create_task(station.run(stop, "127.0.0.1", port))
    try:
        for _ in range(200):
            if station.port is not None:
                break
            await asyncio.sleep(0.01)
        assert station.port is not None
        yield f"http://127.0.0.1:{station.port}"
    finally:
        stop.set()
        await task


def _hour(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


async def _stored(clickhouse: ClickHouse, code: str) -> dict[datetime, float]:
    rows = await clickhouse.query("SELECT at, temperature_c FROM {db}.weather_observations FINAL "
                                  "WHERE station = {s:String} ORDER BY at", {"s": code})
    return {at.replace(tzinfo=UTC): value for at, value in rows}


async def test_feed_stores_a_stations_hours_and_registers_it_once(clickhouse: ClickHouse, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    clock = Clock(NOW)
    async with serving(WeatherStation(7, KAZAN, now=clock)) as url, aiohttp.ClientSession() as session:
        feed = WeatherFeed(WeatherFeedConfig(url, history_days=1, overlap_hours=3), registry, clickhouse, clock)
        # first poll: from 1 day before 05:00 of the 10th to it: 24 hours, 05:00 of the 9th .. 04:00 of the 10th
        assert await feed.poll(session) == 24
        stored = await _stored(clickhouse, "SIM-KZN")
        assert list(stored) == [_hour(9, 5) + timedelta(hours=k) for k in range(24)]
        assert stored[_hour(9, 12)] == outdoor_temperature(_hour(9, 12), 7)  # the simulators' weather
        assert [(s.code, s.name, s.latitude, s.longitude) for s in stations(registry)] == [
            ("SIM-KZN", "Казань (погода симулятора)", 55.79, 49.12)]

        # three hours later: the newest stored is 04:00; 3 hours of overlap: 01:00 .. 07:00 = 7 hours fetched,
        # of them 05:00, 06:00, 07:00 new: 24 + 3 = 27 hours, each once
        clock.at = NOW + timedelta(hours=3)
        assert await feed.poll(session) == 7
        stored = await _stored(clickhouse, "SIM-KZN")
        assert len(stored) == 27
        assert max(stored) == _hour(10, 7)
        assert len(stations(registry)) == 1  # registered once


async def test_a_refetched_hour_replaces_the_stored_one(clickhouse: ClickHouse, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    clock = Clock(NOW)
    async with serving(WeatherStation(7, KAZAN, now=clock)) as url, aiohttp.ClientSession() as session:
        await WeatherFeed(WeatherFeedConfig(url, history_days=1), registry, clickhouse, clock).poll(session)
    # the same station corrected its last hours (here: another seed): the overlap 02:00 .. 04:00 and
    # the new 05:00 are its new values, 01:00 and before the old ones
    clock.at = NOW + timedelta(minutes=30)  # also the later receive time: the newer copy wins
    async with serving(WeatherStation(8, KAZAN, now=clock)) as url, aiohttp.ClientSession() as session:
        feed = WeatherFeed(WeatherFeedConfig(url, history_days=1, overlap_hours=2), registry, clickhouse, clock)
        assert await feed.poll(session) == 4  # from 04:00 - 2 h to 05:30: 02:00, 03:00, 04:00, 05:00
    building = cloud_data.seed(registry, clickhouse).building_id
    registry.write("UPDATE buildings SET latitude = 55.8, longitude = 49.1 WHERE id = ?", building)
    station, hourly = await outdoor_hourly(registry, clickhouse, building, _hour(10, 0), _hour(10, 6))
    assert station is not None
    assert station.code == "SIM-KZN"
    assert hourly == {_hour(10, 0): outdoor_temperature(_hour(10, 0), 7),
                      _hour(10, 1): outdoor_temperature(_hour(10, 1), 7),
                      **{_hour(10, h): outdoor_temperature(_hour(10, h), 8) for h in (2, 3, 4, 5)}}


async def test_failures_back_off_and_the_feed_recovers(clickhouse: ClickHouse, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry(tmp_path / "registry.db")
    port = free_port()
    clock = Clock(NOW)
    feed = WeatherFeed(WeatherFeedConfig(f"http://127.0.0.1:{port}", interval_s=2.0, history_days=1,
                                         backoff_first_s=0.1, timeout_s=2.0), registry, clickhouse, clock)
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="cloud.weather_feed")
    task = asyncio.create_task(feed.run(stop))
    try:
        for _ in range(100):  # nobody listens: refused, retried after 0.1 s, 0.2 s, 0.4 s ...
            if feed.failures >= 3:
                break
            await asyncio.sleep(0.05)
        assert feed.failures >= 3
        assert feed.polls == 0
        failed = [r.getMessage() for r in caplog.records if "event=weather_feed_failed" in r.getMessage()]
        assert "failures=1 retry_s=0.1" in failed[0]
        assert "failures=2 retry_s=0.2" in failed[1]
        async with serving(WeatherStation(7, KAZAN, now=clock), port):
            for _ in range(200):
                if feed.polls:
                    break
                await asyncio.sleep(0.05)
        assert feed.polls >= 1
        assert feed.failures == 0
        assert len(await _stored(clickhouse, "SIM-KZN")) == 24
    finally:
        stop.set()
        await task


async def test_an_answer_that_is_no_stations_is_refused(clickhouse: ClickHouse, tmp_path: Path) -> None:
    from aiohttp import web

    async def broken(_request: web.Request) -> web.Response:
        return web.json_response({"station": {"code": "X", "name": "X", "latitude": 200, "longitude": 0},
                                  "observations": []})

    app = web.Application()
    app.router.add_get("/observations", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    registry = Registry(tmp_path / "registry.db")
    try:
        async with aiohttp.ClientSession() as session:
            feed = WeatherFeed(WeatherFeedConfig(f"http://127.0.0.1:{port}"), registry, clickhouse, Clock(NOW))
            with pytest.raises(FeedError, match=r"^station\.latitude"):
                await feed.poll(session)
            bad = WeatherFeed(WeatherFeedConfig(f"http://127.0.0.1:{port}/nowhere"), registry, clickhouse,
                              Clock(NOW))
            with pytest.raises(FeedError, match=r"^HTTP 404"):
                await bad.poll(session)
    finally:
        await runner.cleanup()
    assert stations(registry) == []


async def test_premise_outdoor_temperature_from_the_nearest_station(clickhouse: ClickHouse, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    premise = registry.one("SELECT id FROM premises WHERE number = '1'")["id"]
    token = (await services.auth.login("disp", "disp-pass")).token
    january = date(2026, 1, 1)

    no_place = await services.weather.premise_outdoor(token, premise, Granularity.DAY, january)
    assert (no_place.station, no_place.reason, len(no_place.points)) == (None, "no_coordinates", 31)
    registry.write("UPDATE buildings SET latitude = 55.80, longitude = 49.10 WHERE id = ?", seeded.building_id)
    no_station = await services.weather.premise_outdoor(token, premise, Granularity.DAY, january)
    assert (no_station.station, no_station.reason) == (None, "no_station")

    # two stations: Moscow and Kazan; the building in Kazan reads Kazan's (about 1.7 km away, Moscow ~717 km)
    clock = Clock(datetime(2026, 1, 12, 0, tzinfo=UTC))
    for seed, info in ((3, MOSCOW), (7, KAZAN)):
        async with serving(WeatherStation(seed, info, now=clock)) as url, aiohttp.ClientSession() as session:
            await WeatherFeed(WeatherFeedConfig(url, history_days=3), registry, clickhouse, clock).poll(session)
    got = await services.weather.premise_outdoor(token, premise, Granularity.DAY, january)
    assert got.station is not None
    assert got.station.code == "SIM-KZN"
    assert got.reason is None
    assert got.distance_km == pytest.approx(1.7, abs=0.1)
    points = dict(got.points)
    # the local (Moscow, UTC+3) day of the 10th is 2026-01-09 21:00 .. 2026-01-10 21:00 UTC: the mean of
    # the simulators' 24 hours, rounded to 0.1
    tz = zone(cloud_data.TZ)
    start = local_to_utc(datetime(2026, 1, 10), tz)
    hours = [outdoor_temperature(start + timedelta(hours=k), 7) for k in range(24)]
    assert points[datetime(2026, 1, 10)] == round(sum(hours) / 24, 1)
    # fetched from 3 days before 00:00 UTC of the 12th: the local 9th lacks 3 of its 24 hours (still a mean);
    # the local 11th has 21 of 24 (fetched up to 23:00 UTC of the 11th = 02:00 local of the 12th); the 13th none
    assert points[datetime(2026, 1, 9)] is not None
    assert points[datetime(2026, 1, 11)] is not None
    assert points[datetime(2026, 1, 13)] is None

    stranger = (await services.auth.login("stranger", "x-pass")).token
    admin = (await services.auth.login("admin", "admin-pass")).token
    for other in (stranger, admin):
        with pytest.raises(NotFound):
            await services.weather.premise_outdoor(other, premise, Granularity.DAY, january)

    tokens = await cloud_data.own_tokens(services, registry, ("disp",))
    api = APIRouter(prefix="/api/v1", generate_unique_id_function=lambda route: route.name)
    api_weather.routes(api, services)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.get(f"/api/v1/premises/{premise}/outdoor-temperature",
                                  params={"period": "2026-01-01", "granularity": "day"},
                                  headers={"Authorization": f"Bearer {tokens['disp']}"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["station"]["code"] == "SIM-KZN"
        assert body["points"][12] == ["2026-01-13T00:00:00", None]  # null, never zero
    assert app.openapi()["paths"]["/api/v1/premises/{premise_id}/outdoor-temperature"]["get"]["operationId"] == (
        "premise_outdoor_temperature")
