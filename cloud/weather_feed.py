"""The cloud's weather feed: polls a weather station over HTTP (aiohttp; the simulators' station is
simulators/weather_station.py), registers the station in the registry's ``weather_stations`` when it
is new, and stores its hourly observations in ClickHouse ``weather_observations`` (the premise chart,
manual 4.1.6, and the temperature schedule control, 4.2.5, read them by the building's nearest station).

Each poll asks for the station's last hour (its code and coordinates come with the answer), then for
everything from a little before the newest stored observation (``overlap_hours``; at first from
``history_days`` back) to now, page by page; a re-fetched hour replaces the stored one (the table
is a ReplacingMergeTree by ``received_at``). A failure (connection, timeout, HTTP error, an answer
that does not check) is logged in one line and retried after 5 s, 10 s, 20 s ... up to the poll
interval. Tests: tests/integration/test_weather_feed.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from cloud.services.models import InvalidInput
from cloud.services.weather import (
    Observation,
    check_observation,
    check_station,
    newest_observation,
    register_station,
    store_observations,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

log = logging.getLogger(__name__)
PAGE = timedelta(days=7)  # one request's span (the station answers at most a month)
MAX_OBSERVATIONS = 31 * 24  # an answer with more is not the station we know


class FeedError(Exception):
    """The station answered, but not with what a station answers; the text says what."""


@dataclass(frozen=True, slots=True)
class WeatherFeedConfig:
    url: str  # the station's base URL, e.g. http://127.0.0.1:8090 (GET <url>/observations)
    interval_s: float = 600.0  # between polls once up to date
    history_days: int = 62  # how far back the first poll reaches (the demo's history)
    overlap_hours: int = 3  # re-fetched before the newest stored hour: a late correction replaces it
    timeout_s: float = 10.0
    backoff_first_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url: http:// or https:// of the weather station, got {self.url!r}")
        if not 1.0 <= self.interval_s <= 86_400.0:
            raise ValueError(f"interval_s: 1 to 86400, got {self.interval_s}")
        if not 0 <= self.history_days <= 3660:
            raise ValueError(f"history_days: 0 to 3660, got {self.history_days}")
        if not 0 <= self.overlap_hours <= 168:
            raise ValueError(f"overlap_hours: 0 to 168, got {self.overlap_hours}")
        if not 0.1 <= self.timeout_s <= 300.0 or not 0.1 <= self.backoff_first_s <= self.interval_s:
            raise ValueError("timeout_s: 0.1 to 300; backoff_first_s: 0.1 to interval_s")


@dataclass(frozen=True, slots=True)
class Answer:
    code: str
    name: str
    latitude: float
    longitude: float
    observations: tuple[Observation, ...]


def parse_answer(doc: Any) -> Answer:
    """A station's JSON answer, checked (FeedError naming what is wrong)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("station"), dict):
        raise FeedError("answer: a JSON object with a 'station' object")
    rows = doc.get("observations")
    if not isinstance(rows, list) or len(rows) > MAX_OBSERVATIONS:
        raise FeedError(f"observations: a list of at most {MAX_OBSERVATIONS}")
    station = doc["station"]
    try:
        code, name, latitude, longitude = check_station(station.get("code"), station.get("name"),
                                                        station.get("latitude"), station.get("longitude"))
        observations = []
        for row in rows:
            if not isinstance(row, dict):
                raise InvalidInput(f"observation: an object, got {row!r}")
            observations.append(check_observation(row.get("at"), row.get("temperature_c")))
    except InvalidInput as error:
        raise FeedError(str(error)) from None
    return Answer(code, name, latitude, longitude, tuple(observations))


class WeatherFeed:
    """Polls one station until stopped; ``run(stop)`` is the job the cloud process supervises."""

    def __init__(self, config: WeatherFeedConfig, registry: Registry, clickhouse: ClickHouse,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.registry = registry
        self.ch = clickhouse
        self.clock = clock
        self.polls = 0  # completed polls (tests and the log)
        self.failures = 0  # consecutive failed polls

    async def _get(self, session: aiohttp.ClientSession, lo: datetime | None, hi: datetime | None) -> Answer:
        params = {k: v.astimezone(UTC).isoformat() for k, v in (("from", lo), ("to", hi)) if v is not None}
        url = self.config.url.rstrip("/") + "/observations"
        async with session.get(url, params=params) as response:
            if response.status != 200:
                text = (await response.text())[:200]
                raise FeedError(f"HTTP {response.status} from {url}: {text}")
            try:
                doc = await response.json(content_type=None)
            except ValueError:
                raise FeedError(f"{url}: the answer is not JSON") from None
        return parse_answer(doc)

    async def poll(self, session: aiohttp.ClientSession) -> int:
        """One poll: register the station if new, store what it has from where we are to now.
        Returns the observations stored."""
        now = self.clock().astimezone(UTC)
        latest = await self._get(session, None, now)
        if await asyncio.to_thread(register_station, self.registry, latest.code, latest.name, latest.latitude,
                                   latest.longitude):
            log.info("event=weather_station_registered station=%s name=%r latitude=%s longitude=%s", latest.code,
                     latest.name, latest.latitude, latest.longitude)
        newest = await newest_observation(self.ch, latest.code)
        start = now - timedelta(days=self.config.history_days)
        if newest is not None:
            start = max(start, newest - timedelta(hours=self.config.overlap_hours))
        stored = 0
        while start < now:
            end = min(start + PAGE, now)
            answer = await self._get(session, start, end)
            if answer.code != latest.code:
                raise FeedError(f"station: the answer is of {answer.code!r}, the station is {latest.code!r}")
            stored += await store_observations(self.ch, answer.code, answer.observations, self.clock())
            start = end
        log.info("event=weather_stored station=%s observations=%d since=%s", latest.code, stored,
                 (now if newest is None else newest).isoformat())
        return stored

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every ``interval_s``; after a failure wait 5 s, 10 s, 20 s ... up to the interval."""
        cfg = self.config
        timeout = aiohttp.ClientTimeout(total=cfg.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                try:
                    await self.poll(session)
                except (aiohttp.ClientError, TimeoutError, FeedError) as error:
                    self.failures += 1
                    delay = min(cfg.interval_s, cfg.backoff_first_s * 2 ** (self.failures - 1))
                    log.warning("event=weather_feed_failed url=%s failures=%d retry_s=%.1f error=%s: %s", cfg.url,
                                self.failures, delay, type(error).__name__, error)
                else:
                    self.polls += 1
                    self.failures = 0
                    delay = cfg.interval_s
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except TimeoutError:
                    pass


def weather_feed_job(config: WeatherFeedConfig, registry: Registry, clickhouse: ClickHouse
                     ) -> Callable[[asyncio.Event], Any]:
    """The job the cloud process runs under its supervisor (``_supervised("weather-feed", job, stop)``)."""
    return WeatherFeed(config, registry, clickhouse).run
