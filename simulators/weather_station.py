"""The simulators' weather served as a weather station (manual 4.1.6: the outdoor temperature of the
building's nearest station): the same ``world.outdoor_temperature(moment, seed)`` the simulated heat
meters consume, hour by hour, over HTTP (aiohttp) for the cloud's feed (cloud/weather_feed.py).

``GET /observations?from=<ISO>&to=<ISO>`` answers
``{"station": {"code", "name", "latitude", "longitude"}, "observations": [{"at", "temperature_c"}]}``:
one observation per UTC hour start ``from <= at < to`` that has come (``at <= now``), ``at`` in ISO
UTC (``...Z``). Without ``to`` up to now, without ``from`` the two hours before ``to`` (so no
parameters: the newest observation and the one before); at most MAX_HOURS per answer. Bad
parameters get 400 with ``{"error": ...}``. Tests: tests/unit/cloud/test_weather_rules.py,
tests/integration/test_weather_feed.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from simulators.world import outdoor_temperature, wall_clock

log = logging.getLogger(__name__)
MAX_HOURS = 31 * 24  # hours in one answer: a month; the feed asks page by page
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StationInfo:
    code: str
    name: str
    latitude: float
    longitude: float


# the demo's city is Kazan (domuchet/demo.py CITY): the simulated station stands there
KAZAN = StationInfo("SIM-KZN", "Казань (погода симулятора)", 55.79, 49.12)


class BadRequest(ValueError):
    """A request parameter the station cannot answer; the text names it."""


def _moment(name: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: an ISO 8601 moment with its zone, got {text!r}") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name}: give the zone (UTC: Z), got {text!r}")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WeatherStation:
    """The station of one weather seed; ``now`` is the station's clock (the wall clock by default:
    the weather is a pure function of the hour, so any hour that has come can be reported)."""

    def __init__(self, seed: int, info: StationInfo = KAZAN, now: Callable[[], datetime] = wall_clock) -> None:
        self.seed = seed
        self.info = info
        self.now = now
        self.port: int | None = None  # the bound port once serving

    def observations(self, lo: datetime, hi: datetime) -> list[dict[str, object]]:
        """The hourly observations ``lo <= at < hi`` with ``at <= now`` (BadRequest beyond MAX_HOURS)."""
        if hi < lo:
            raise BadRequest(f"to: {_iso(hi)} is before from: {_iso(lo)}")
        if hi - lo > MAX_HOURS * HOUR:
            raise BadRequest(f"to: at most {MAX_HOURS} hours after from")
        at = lo.replace(minute=0, second=0, microsecond=0)
        if at < lo:
            at += HOUR
        end = min(hi, self.now().astimezone(UTC) + timedelta(microseconds=1))
        out: list[dict[str, object]] = []
        while at < end:
            out.append({"at": _iso(at), "temperature_c": outdoor_temperature(at, self.seed)})
            at += HOUR
        return out

    def answer(self, query: dict[str, str]) -> dict[str, object]:
        """The JSON of ``GET /observations`` for these query parameters."""
        if "to" in query:
            hi = _moment("to", query["to"])
        else:  # the end of the hour that holds now
            hi = self.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0) + HOUR
        lo = _moment("from", query["from"]) if "from" in query else hi - 2 * HOUR
        info = self.info
        return {"station": {"code": info.code, "name": info.name, "latitude": info.latitude,
                            "longitude": info.longitude},
                "observations": self.observations(lo, hi)}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/observations", self._observations)
        return app

    async def _observations(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(self.answer(dict(request.query)))
        except BadRequest as error:
            return web.json_response({"error": str(error)}, status=400)

    async def run(self, stop: asyncio.Event, host: str = "127.0.0.1", port: int = 8090) -> None:
        """Serve until ``stop`` is set; ``port`` 0 takes a free one (then in ``self.port``)."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            self.port = runner.addresses[0][1]
            log.info("event=weather_station_listening url=http://%s:%d/observations station=%s", host, self.port,
                     self.info.code)
            await stop.wait()
        finally:
            await runner.cleanup()


async def run_station(seed: int, stop: asyncio.Event, host: str = "127.0.0.1", port: int = 8090,
                      info: StationInfo = KAZAN) -> None:
    """What `domuchet sim` and `domuchet demo` run beside the devices: the fleet's weather as a station."""
    await WeatherStation(seed, info).run(stop, host, port)
