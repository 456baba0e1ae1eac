"""Specific consumption and imbalance by buildings (manual 4.1.1) and the allowed imbalance
(4.6.10) over the real registry and chDB: hand-computed figures of tests/cloud_data.py's building
and tests/support_overview.py's two (with and without a building meter, balance signs, missing
readings), the same figures as the building page, the limit fallback, roles, audit, the HTTP API."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_overview
from cloud.api import ERRORS, install_error_handlers
from cloud.seed import UserSeed, seed_company
from cloud.services import audit
from cloud.services.container import Services
from cloud.services.models import Forbidden, Granularity, InvalidInput, NotFound
from cloud.services.overview import (
    BUILT_IN_IMBALANCE_PCT,
    BuildingSpecific,
    CityLimitChange,
    LimitChange,
    SpecificConsumption,
)
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import Resource
from tests import cloud_data
from tests.support_overview import Extra, seed_extra

HEAT, COLD = Resource.HEAT, Resource.COLD_WATER
DAY, MONTH = Granularity.DAY, Granularity.MONTH
JAN11, JAN12 = date(2026, 1, 11), date(2026, 1, 12)


@dataclass
class World:
    services: Services
    registry: Registry
    clickhouse: ClickHouse
    seeded: cloud_data.Seeded
    extra: Extra
    tokens: dict[str, str]  # login -> session token


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Тест", "Казань", (UserSeed("eng", "Инженер", "engineer", "eng-pass"),))
    extra = seed_extra(registry, clickhouse, seeded.company_id)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng")}
    return World(services, registry, clickhouse, seeded, extra, tokens)


async def _view(w: World, resource: Resource = HEAT, granularity: Granularity = DAY, period: date = JAN11,
                login: str = "disp") -> SpecificConsumption:
    return await w.services.overview.specific_consumption(w.tokens[login], resource, granularity, period)


def _by_address(view: SpecificConsumption) -> dict[str, BuildingSpecific]:
    return {line.building.address: line for line in view.buildings}


async def test_specific_consumption_and_imbalance_by_hand(world: World) -> None:
    view = await _view(world)
    assert (view.city, view.unit, view.per, view.period) == ("Казань", "Gcal", "m2", JAN11)
    lines = _by_address(view)
    assert list(lines) == ["ул. Балансовая, 3", "ул. Квартирная, 5", "ул. Тестовая, 1"]  # never another company's

    # building meter 0.035 Gcal/h x 24 = 0.84 over 120 m² = 0.007; apartment 2's reading at 23:00 is
    # missing, so the apartments' sum is the known 0.24 of apartment 1, partial: no imbalance
    test = lines["ул. Тестовая, 1"]
    assert (test.basis, test.consumption.value, test.denominator, test.specific, test.status) == (
        "building_meter", pytest.approx(0.84), 120.0, pytest.approx(0.007), "complete")
    assert (test.apartments_figure.value, test.apartments_figure.known, test.apartments_figure.expected) == (
        pytest.approx(0.24), 1, 2)
    assert (test.imbalance, test.imbalance_pct, test.imbalance_status) == (None, None, "incomplete")

    # 1.2 Gcal over 200 m² = 0.006; apartments by sign 0.24 + 0.48 - 0.12 = 0.6 (the excluded 2.4 left
    # out); imbalance 1.2 - 0.6 = 0.6 = 50 % of the building meter, above the built-in 10 %
    balance = lines["ул. Балансовая, 3"]
    assert (balance.basis, balance.specific, balance.status) == ("building_meter", pytest.approx(0.006), "complete")
    assert balance.apartments_figure.value == pytest.approx(0.6)
    assert balance.apartments_figure.expected == 3  # the excluded meter is not counted at all
    assert (balance.imbalance, balance.imbalance_pct) == (pytest.approx(0.6), pytest.approx(50.0))
    assert (balance.limit.percent, balance.limit.source, balance.imbalance_status) == (
        BUILT_IN_IMBALANCE_PCT, "built_in", "over_limit")

    # no building meter: Σ apartments 0.24 + 0.48 = 0.72 over the 50 + 70 m² of the metered premises
    # (premise 3 has no meter) = 0.006; no imbalance without a building meter
    flats = lines["ул. Квартирная, 5"]
    assert (flats.basis, flats.consumption.value, flats.denominator, flats.specific, flats.status) == (
        "apartment_meters", pytest.approx(0.72), 120.0, pytest.approx(0.006), "complete")
    assert (flats.imbalance, flats.imbalance_status) == (None, "not_applicable")


async def test_other_resources_per_resident_and_a_missing_meter(world: World) -> None:
    lines = _by_address(await _view(world, COLD))
    # cold water 0.01 + 0.02 m³/h x 24 = 0.72 m³ over the 2 + 3 residents of the metered premises = 0.144
    flats = lines["ул. Квартирная, 5"]
    assert (flats.denominator, flats.specific, flats.status) == (5.0, pytest.approx(0.144), "complete")
    # the building meter of "Тестовая" has a cold-water channel that never reported: missing, not zero
    test = lines["ул. Тестовая, 1"]
    assert (test.basis, test.specific, test.status, test.consumption.value) == (
        "building_meter", None, "missing", None)
    assert (test.consumption.expected, test.consumption.known) == (1, 0)


async def test_a_day_with_a_missing_reading(world: World) -> None:
    lines = _by_address(await _view(world, period=JAN12))
    # the building meter of "Балансовая" lacks its reading at the end of Jan 12: no value, flagged
    balance = lines["ул. Балансовая, 3"]
    assert (balance.specific, balance.status, balance.consumption.value) == (None, "missing", None)
    assert (balance.imbalance, balance.imbalance_status) == (None, "incomplete")
    # "Квартирная": premise 2's reading is missing: the known 0.24 Gcal of premise 1 over all 120 m²
    # of the metered premises = 0.002, marked partial
    flats = lines["ул. Квартирная, 5"]
    assert (flats.specific, flats.status) == (pytest.approx(0.002), "partial")
    assert (flats.consumption.known, flats.consumption.expected) == (1, 2)


async def test_period_without_data_and_month(world: World) -> None:
    # Jan 13: after the newest archive, as the building page (which does not show it) - no value
    lines = _by_address(await _view(world, period=date(2026, 1, 13)))
    assert {line.status for line in lines.values()} == {"no_data"}
    assert all(line.specific is None and line.imbalance is None for line in lines.values())
    # January: the hourly counters have no reading at the end of December: the month is missing, not zero
    month = await _view(world, granularity=MONTH, period=date(2026, 1, 20))
    assert month.period == date(2026, 1, 1)
    assert {line.status for line in month.buildings} == {"missing"}
    # and January is not over ("now" is 2026-01-14): no imbalance yet, as on the building page
    assert _by_address(month)["ул. Балансовая, 3"].imbalance_status == "running"


async def test_same_figures_as_the_building_page(world: World) -> None:
    accounting = world.services.accounting
    ids = {"ул. Тестовая, 1": world.seeded.building_id, "ул. Квартирная, 5": world.extra.apartments_id,
           "ул. Балансовая, 3": world.extra.balance_id}
    for granularity, periods in ((DAY, (date(2026, 1, 10), JAN11, JAN12)), (MONTH, (date(2026, 1, 1),))):
        for resource in (HEAT, COLD):
            for period in periods:
                lines = _by_address(await _view(world, resource, granularity, period))
                for address, building_id in ids.items():
                    page = await accounting.building_consumption(world.tokens["disp"], building_id, resource,
                                                                 granularity, period)
                    point = next(p for p in page.points if p.period.date() == (
                        period if granularity is DAY else period.replace(day=1)))
                    line = lines[address]
                    assert line.building_figure == point.building_figure, (address, resource, period)
                    assert line.apartments_figure == point.apartments_figure, (address, resource, period)
                    assert (line.imbalance, line.imbalance_pct) == (point.imbalance, point.imbalance_pct)


async def test_limits_building_override_and_city_default(world: World) -> None:
    overview, disp = world.services.overview, world.tokens["disp"]
    table = await overview.imbalance_limits(disp)
    assert table.city == "Казань"
    assert table.resources == (HEAT, Resource.HOT_WATER, COLD)
    assert {(d.percent, d.source) for d in table.defaults} == {(BUILT_IN_IMBALANCE_PCT, "built_in")}
    city = table.city_id
    assert city is not None

    defaults = await overview.set_city_imbalance_limits(disp, city, [CityLimitChange(HEAT, 20.0)])
    assert {(d.resource, d.percent, d.source) for d in defaults if d.resource in (HEAT, COLD)} == {
        (HEAT, 20.0, "city"), (COLD, BUILT_IN_IMBALANCE_PCT, "built_in")}
    balance = _by_address(await _view(world))["ул. Балансовая, 3"]
    assert (balance.limit.percent, balance.limit.source, balance.imbalance_status) == (20.0, "city", "over_limit")

    # bulk: two buildings at once; 50 % is within the building's own 60 %
    changed = await overview.set_imbalance_limits(disp, [LimitChange(world.extra.balance_id, HEAT, 60.0),
                                                         LimitChange(world.seeded.building_id, HEAT, 5.5)])
    assert [(b.address, b.limits[0].percent, b.limits[0].source) for b in changed] == [
        ("ул. Балансовая, 3", 60.0, "building"), ("ул. Тестовая, 1", 5.5, "building")]
    balance = _by_address(await _view(world))["ул. Балансовая, 3"]
    assert (balance.limit.percent, balance.limit.source, balance.imbalance_status) == (60.0, "building", "within_limit")
    table = await overview.imbalance_limits(disp)
    cells = {(b.address, lim.resource): (lim.percent, lim.source) for b in table.buildings for lim in b.limits}
    assert cells[("ул. Балансовая, 3", HEAT)] == (60.0, "building")
    assert cells[("ул. Квартирная, 5", HEAT)] == (20.0, "city")
    assert cells[("ул. Квартирная, 5", COLD)] == (BUILT_IN_IMBALANCE_PCT, "built_in")

    # back to the defaults: the building to the city's, the city's to the built-in one
    await overview.set_imbalance_limits(disp, [LimitChange(world.extra.balance_id, HEAT, None)])
    assert _by_address(await _view(world))["ул. Балансовая, 3"].limit.source == "city"
    await overview.set_city_imbalance_limits(disp, city, [CityLimitChange(HEAT, None)])
    assert _by_address(await _view(world))["ул. Балансовая, 3"].limit.source == "built_in"

    # every change audited, with the value before and after
    with world.registry.connect() as db:
        entries = [e for e in audit.entries(db, world.seeded.company_id) if e.action.startswith("imbalance_limit")]
    assert [(e.action, e.object, e.before, e.after) for e in reversed(entries)] == [
        ("imbalance_limit.city", f"city:{city}", {"resource": "heat", "percent": None},
         {"resource": "heat", "percent": 20.0}),
        ("imbalance_limit.building", f"building:{world.extra.balance_id}", {"resource": "heat", "percent": None},
         {"resource": "heat", "percent": 60.0}),
        ("imbalance_limit.building", f"building:{world.seeded.building_id}", {"resource": "heat", "percent": None},
         {"resource": "heat", "percent": 5.5}),
        ("imbalance_limit.building", f"building:{world.extra.balance_id}", {"resource": "heat", "percent": 60.0},
         {"resource": "heat", "percent": None}),
        ("imbalance_limit.city", f"city:{city}", {"resource": "heat", "percent": 20.0},
         {"resource": "heat", "percent": None}),
    ]


async def test_bad_limits_are_refused_whole(world: World) -> None:
    overview, disp, building = world.services.overview, world.tokens["disp"], world.extra.balance_id
    for bad in (-1.0, 100.5, math.nan, math.inf):
        with pytest.raises(InvalidInput, match=r"limits\[1\]\.percent"):
            await overview.set_imbalance_limits(disp, [LimitChange(building, HEAT, 5.0),
                                                       LimitChange(building, COLD, bad)])
    with pytest.raises(InvalidInput, match=r"limits\[0\]\.resource"):
        await overview.set_imbalance_limits(disp, [LimitChange(building, "steam", 5.0)])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="changed twice"):
        await overview.set_imbalance_limits(disp, [LimitChange(building, HEAT, 5.0), LimitChange(building, HEAT, 6.0)])
    with pytest.raises(InvalidInput, match="at least one"):
        await overview.set_imbalance_limits(disp, [])
    # another company's building in the batch: not found, and nothing of the batch written
    with pytest.raises(NotFound, match=r"limits\[1\]\.building_id"):
        await overview.set_imbalance_limits(disp, [LimitChange(building, HEAT, 5.0),
                                                   LimitChange(world.seeded.other_building_id, HEAT, 5.0)])
    assert world.registry.all("SELECT * FROM building_imbalance_limits") == []
    with pytest.raises(InvalidInput, match=r"limits\[0\]\.percent"):
        await overview.set_city_imbalance_limits(disp, 1, [CityLimitChange(HEAT, 101.0)])
    with pytest.raises(InvalidInput, match="granularity"):
        await overview.specific_consumption(disp, HEAT, Granularity.HOUR, JAN11)
    with pytest.raises(InvalidInput, match="period"):
        await overview.specific_consumption(disp, HEAT, DAY, date(1999, 12, 31))


async def test_roles(world: World) -> None:
    overview, t = world.services.overview, world.tokens
    # administrators see none of it
    with pytest.raises(NotFound):
        await _view(world, login="admin")
    with pytest.raises(NotFound):
        await overview.imbalance_limits(t["admin"])
    # readers and engineers read, and change nothing
    assert len((await _view(world, login="reader")).buildings) == 3
    assert (await overview.imbalance_limits(t["eng"])).buildings
    for login in ("reader", "eng", "admin"):
        with pytest.raises(Forbidden):
            await overview.set_imbalance_limits(t[login], [LimitChange(world.extra.balance_id, HEAT, 5.0)])
        with pytest.raises(Forbidden):
            await overview.set_city_imbalance_limits(t[login], 1, [CityLimitChange(HEAT, 5.0)])
    assert world.registry.all("SELECT * FROM building_imbalance_limits") == []
    assert world.registry.all("SELECT * FROM city_imbalance_limits") == []
    # another company's dispatcher: only its own building; ours is not found; its city default is its own
    stranger = await _view(world, login="stranger")
    assert [line.building.address for line in stranger.buildings] == ["ул. Чужая, 2"]
    with pytest.raises(NotFound):
        await overview.set_imbalance_limits(t["stranger"], [LimitChange(world.extra.balance_id, HEAT, 5.0)])
    assert stranger.city_id is not None
    await overview.set_city_imbalance_limits(t["stranger"], stranger.city_id, [CityLimitChange(HEAT, 1.0)])
    assert _by_address(await _view(world))["ул. Балансовая, 3"].limit.source == "built_in"
    with pytest.raises(NotFound):
        await overview.specific_consumption(t["disp"], HEAT, DAY, JAN11, city_id=999)


async def test_http_api(world: World) -> None:
    tokens = await cloud_data.own_tokens(world.services, world.registry, ("disp", "reader"))
    # this module's routes on a router like /api/v1's (the whole router also holds the other screens')
    app = FastAPI()
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1", responses=ERRORS, generate_unique_id_function=lambda route: route.name)
    api_overview.routes(api, world.services)
    app.include_router(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        spec = app.openapi()
        operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
        assert {"specific_consumption", "imbalance_limits", "set_imbalance_limits",
                "set_city_imbalance_limits"} <= operations
        disp = {"Authorization": f"Bearer {tokens['disp']}"}
        answer = await client.get("/api/v1/specific-consumption?resource=heat&granularity=day&period=2026-01-11",
                                  headers=disp)
        assert answer.status_code == 200, answer.text
        lines = {b["building"]["address"]: b for b in answer.json()["buildings"]}
        assert lines["ул. Балансовая, 3"]["imbalance_pct"] == pytest.approx(50.0)
        assert lines["ул. Балансовая, 3"]["imbalance_status"] == "over_limit"
        assert lines["ул. Тестовая, 1"]["imbalance"] is None  # null with its status, never zero
        answer = await client.put("/api/v1/imbalance-limits", headers=disp, json=[
            {"building_id": world.extra.balance_id, "resource": "heat", "percent": 55}])
        assert answer.status_code == 200, answer.text
        assert answer.json()[0]["limits"][0] == {"resource": "heat", "percent": 55.0, "source": "building"}
        answer = await client.put("/api/v1/imbalance-limits", headers=disp, json=[
            {"building_id": world.extra.balance_id, "resource": "heat", "percent": 150}])
        assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input")
        assert "limits[0].percent" in answer.json()["message"]
        reader = {"Authorization": f"Bearer {tokens['reader']}"}
        answer = await client.put("/api/v1/imbalance-limits", headers=reader, json=[
            {"building_id": world.extra.balance_id, "resource": "heat", "percent": 5}])
        assert answer.status_code == 403
        answer = await client.get("/api/v1/imbalance-limits", headers=reader)
        assert answer.status_code == 200
        heat = {b["address"]: b["limits"][0] for b in answer.json()["buildings"]}
        assert heat["ул. Балансовая, 3"] == {"resource": "heat", "percent": 55.0, "source": "building"}
