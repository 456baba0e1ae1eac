"""The registry's write routes of /api/v1 (company, cities, buildings, premises, meters, replacement,
decommissioning) over the real service layer and registry, through httpx's ASGI transport: for
each operation the success path, 401 without a valid token, 403 for a reader or a role that may
not, 404 for another company's object or an unknown id, 422 for bad input naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.cloud_data import USERS
from tests.support_api import shared_app

UNKNOWN = 999_999


@dataclass
class World:
    client: httpx.AsyncClient
    registry: Registry
    tokens: dict[str, str]  # login -> API token
    building: int  # company A's
    premise: int  # company A's apartment 1
    meter: int  # company A's apartment meter 223T0001
    other_building: int  # company B's
    other_premise: int
    other_meter: int

    async def call(self, method: str, url: str, login: str | None, body: dict | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens.get(login, login)}"} if login else {}
        return await self.client.request(method, url, json=body, headers=headers)

    async def expect(self, status: int, method: str, url: str, login: str | None, body: dict | None = None,
                     fragment: str = "") -> dict:
        response = await self.call(method, url, login, body)
        assert response.status_code == status, (method, url, login, response.text)
        if status >= 400:
            error = response.json()
            assert set(error) == {"code", "message"}
            assert fragment in error["message"], error
            return error
        return response.json() if response.content else {}


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> AsyncIterator[World]:
    registry = Registry(tmp_path / "registry.db")
    a = seed_company(registry, "УК Тест", "Казань", (*USERS, UserSeed("eng", "Инженер", "engineer", "eng-pass")))
    b = seed_company(registry, "УК Чужая", "Самара", (UserSeed("stranger", "Чужой", "dispatcher", "x-pass"),
                                                      UserSeed("stranger-eng", "Чужой инженер", "engineer", "x-pass"),
                                                      UserSeed("b-admin", "Админ Б", "administrator", "b-pass")))
    building = seed_building(registry, a, BuildingSeed(
        "test", "ул. Тестовая, 1", "Казань", "Europe/Moscow", "307T0001", "KARAT-307", "Modbus TCP 10.0.0.1:502",
        (PremiseSeed("1", 50.0, 2, "223T0001", "KARAT-Compact-2-223", "LoRaWAN 0000000000000001"),)))
    other = seed_building(registry, b, BuildingSeed(
        "other", "ул. Чужая, 2", "Самара", "Europe/Samara", "307X0001", "KARAT-307", "Modbus TCP",
        (PremiseSeed("7", 40.0, 1, "223X0001", "KARAT-Compact-2-223", "LoRaWAN 00000000000000b1"),)))
    services = Services.create(registry, clickhouse)
    tokens = await cloud_data.own_tokens(services, registry, ("disp", "reader", "admin", "eng", "stranger",
                                                              "stranger-eng", "b-admin"))
    app = shared_app(services, clickhouse)

    def one(sql: str, *args: object) -> int:
        return registry.one(sql, *args)[0]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield World(client, registry, tokens, building, one("SELECT id FROM premises WHERE building_id = ?", building),
                    one("SELECT id FROM meters WHERE serial = '223T0001' AND company_id = ?", a), other,
                    one("SELECT id FROM premises WHERE building_id = ?", other),
                    one("SELECT id FROM meters WHERE serial = '223X0001'"))


async def _unauthorized(w: World, method: str, url: str, body: dict | None = None) -> None:
    for login in (None, "duapi.not-a-token"):
        error = await w.expect(401, method, url, login, body)
        assert error["code"] == "unauthorized"


async def test_company_and_cities(world: World) -> None:
    w = world
    assert (await w.expect(200, "GET", "/api/v1/company", "reader"))["name"] == "УК Тест"
    await _unauthorized(w, "GET", "/api/v1/company")
    city = await w.expect(201, "POST", "/api/v1/cities", "admin",
                          {"name": "Зеленодольск", "time_zone": "Europe/Moscow"})
    changed = await w.expect(200, "PATCH", "/api/v1/company", "admin", {"name": "УК Тест-2", "city_id": city["id"]})
    assert (changed["name"], changed["city"]) == ("УК Тест-2", "Зеленодольск")
    await _unauthorized(w, "PATCH", "/api/v1/company", {"name": "x"})
    for login in ("disp", "reader", "eng"):  # company settings are the administrator's (manual 2.3)
        await w.expect(403, "PATCH", "/api/v1/company", login, {"name": "x"})
    samara = w.registry.one("SELECT id FROM cities WHERE name = 'Самара'")[0]
    await w.expect(422, "PATCH", "/api/v1/company", "admin", {"city_id": samara}, "city_id:")
    await w.expect(422, "PATCH", "/api/v1/company", "admin", {"name": ""}, "name:")

    assert [c["name"] for c in await w.expect(200, "GET", "/api/v1/cities", "disp")] == ["Зеленодольск", "Казань"]
    await _unauthorized(w, "POST", "/api/v1/cities", {"name": "Тверь", "time_zone": "Europe/Moscow"})
    await w.expect(403, "POST", "/api/v1/cities", "disp", {"name": "Тверь", "time_zone": "Europe/Moscow"})
    await w.expect(422, "POST", "/api/v1/cities", "admin", {"name": "Тверь", "time_zone": "Mars/Base"}, "time_zone:")
    await w.expect(404, "DELETE", f"/api/v1/cities/{samara}", "admin")  # not a city of company A
    await w.expect(403, "DELETE", f"/api/v1/cities/{city['id']}", "reader")
    await w.expect(422, "DELETE", f"/api/v1/cities/{city['id']}", "admin", fragment="the company's main city")
    kazan = w.registry.one("SELECT id FROM cities WHERE name = 'Казань'")[0]
    await w.expect(422, "DELETE", f"/api/v1/cities/{kazan}", "admin", fragment="city_id: 1 building(s)")
    tver = await w.expect(201, "POST", "/api/v1/cities", "admin", {"name": "Тверь", "time_zone": "Europe/Moscow"})
    await w.expect(204, "DELETE", f"/api/v1/cities/{tver['id']}", "admin")
    await w.expect(404, "DELETE", f"/api/v1/cities/{tver['id']}", "admin")


async def test_buildings_and_premises(world: World) -> None:
    w = world
    kazan = w.registry.one("SELECT id FROM cities WHERE name = 'Казань'")[0]
    body = {"address": "ул. Новая, 5", "city_id": kazan, "area_m2": 900.0, "residents": 30, "site": "test"}
    built = await w.expect(201, "POST", "/api/v1/buildings", "disp", body)
    assert (built["address"], built["time_zone"], built["site"], built["area_m2"]) == (
        "ул. Новая, 5", "Europe/Moscow", "test", 900.0)
    await _unauthorized(w, "POST", "/api/v1/buildings", body)
    for login in ("reader", "admin"):
        await w.expect(403, "POST", "/api/v1/buildings", login, {**body, "address": "ул. 2"})
    await w.expect(422, "POST", "/api/v1/buildings", "disp", {**body, "address": "ул. 3", "area_m2": 0}, "area_m2:")
    await w.expect(422, "POST", "/api/v1/buildings", "disp", {**body, "address": "ул. 3", "site": "other"}, "site:")
    await w.expect(422, "POST", "/api/v1/buildings", "disp", {"address": "ул. 3"}, "city_id")

    url = f"/api/v1/buildings/{built['id']}"
    changed = await w.expect(200, "PATCH", url, "disp", {"residents": 31, "latitude": 55.8, "longitude": 49.1})
    assert (changed["residents"], changed["latitude"], changed["area_m2"]) == (31, 55.8, 900.0)
    assert (await w.expect(200, "GET", f"{url}/details", "reader"))["residents"] == 31
    await _unauthorized(w, "PATCH", url, {"residents": 1})
    await w.expect(403, "PATCH", url, "reader", {"residents": 1})
    await w.expect(404, "PATCH", f"/api/v1/buildings/{w.other_building}", "disp", {"residents": 1})
    await w.expect(404, "GET", f"/api/v1/buildings/{w.other_building}/details", "disp")
    await w.expect(404, "PATCH", f"/api/v1/buildings/{UNKNOWN}", "disp", {"residents": 1})
    await w.expect(422, "PATCH", url, "disp", {"latitude": 1.0}, "latitude: give latitude and longitude together")

    premises = f"{url}/premises"
    premise = await w.expect(201, "POST", premises, "disp", {"number": "1", "area_m2": 45.5, "residents": 2,
                                                             "account": "ЛС-1"})
    assert (premise["number"], premise["kind"], premise["area_m2"], premise["building_id"]) == (
        "1", "apartment", 45.5, built["id"])
    await _unauthorized(w, "POST", premises, {"number": "2", "area_m2": 1, "residents": 0})
    await w.expect(403, "POST", premises, "reader", {"number": "2", "area_m2": 1, "residents": 0})
    await w.expect(404, "POST", f"/api/v1/buildings/{w.other_building}/premises", "disp",
                   {"number": "2", "area_m2": 1, "residents": 0})
    await w.expect(422, "POST", premises, "disp", {"number": "1", "area_m2": 1, "residents": 0}, "number:")
    await w.expect(422, "POST", premises, "disp", {"number": "2", "area_m2": 1, "residents": 0, "kind": "shed"},
                   "kind:")
    purl = f"/api/v1/premises/{premise['id']}"
    assert (await w.expect(200, "PATCH", purl, "disp", {"residents": 3}))["residents"] == 3
    await _unauthorized(w, "PATCH", purl, {"residents": 1})
    await w.expect(403, "PATCH", purl, "admin", {"residents": 1})
    await w.expect(404, "PATCH", f"/api/v1/premises/{w.other_premise}", "disp", {"residents": 1})
    await w.expect(422, "PATCH", purl, "disp", {"area_m2": -1}, "area_m2:")
    await w.expect(204, "DELETE", purl, "disp")
    await w.expect(404, "DELETE", purl, "disp")
    await w.expect(422, "DELETE", f"/api/v1/premises/{w.premise}", "disp", fragment="meter(s) registered")

    await w.expect(422, "DELETE", f"/api/v1/buildings/{w.building}", "disp", fragment="meter(s) registered")
    await w.expect(403, "DELETE", url, "reader")
    await w.expect(404, "DELETE", f"/api/v1/buildings/{w.other_building}", "disp")
    await w.expect(204, "DELETE", url, "disp")
    await w.expect(404, "GET", f"{url}/details", "disp")


def _meter(w: World, **extra: object) -> dict:
    return {"building_id": w.building, "serial": "941E0001", "model": "KARAT-941LW", "role": "individual",
            "premise_id": w.premise, "communicator": "LoRaWAN 00000000000000e1", **extra}


async def test_meter_registration_and_editing(world: World) -> None:
    w = world
    created = await w.expect(201, "POST", "/api/v1/meters", "disp", _meter(
        w, tariffs=2, ct_ratio=40, phase="A", reporting_day=20, commissioned_at="2026-02-01T00:00:00+03:00",
        initial_readings={"1:E": 1000.0, "2:E": 600.0, "3:E": 400.0}))
    # 941LW, 2 zones: the total on channel 1, T1 and T2 on 2 and 3; 00:00 at UTC+3 is 21:00 UTC the day before
    assert [(c["number"], c["tariff"]) for c in created["channels"]] == [(1, "total"), (2, "T1"), (3, "T2")]
    assert datetime.fromisoformat(created["commissioned_at"]) == datetime(2026, 1, 31, 21, tzinfo=UTC)
    assert (created["ct_ratio"], created["phase"], created["reporting_day"], created["tariffs"]) == (40.0, "A", 20, 2)
    assert (created["status"], created["premise_number"], created["decommissioned_at"]) == ("in_service", "1", None)
    await _unauthorized(w, "POST", "/api/v1/meters", _meter(w, serial="X2"))
    for login in ("reader", "admin"):
        await w.expect(403, "POST", "/api/v1/meters", login, _meter(w, serial="X2"))
    await w.expect(404, "POST", "/api/v1/meters", "disp", _meter(w, serial="X2", building_id=w.other_building,
                                                                 role="common", premise_id=None))
    for extra, fragment in (({"reporting_day": 29}, "reporting_day: a day of month 1 to 28"),
                            ({"ct_ratio": 0}, "ct_ratio: a current-transformer ratio > 0"),
                            ({"model": "KARAT-1"}, "model: unknown meter model 'KARAT-1'"),
                            ({"premise_id": w.other_premise}, "premise_id: building"),
                            ({"commissioned_at": "2026-02-01T00:15:00+03:00"}, "commissioned_at: must be the start"),
                            ({"serial": "941E0001"}, "serial: meter"),
                            ({"role": "shared"}, "role")):
        await w.expect(422, "POST", "/api/v1/meters", "disp", _meter(w, **{"serial": "X2", **extra}), fragment)

    url = f"/api/v1/meters/{created['id']}"
    edited = await w.expect(200, "PATCH", url, "disp", {"reporting_day": 25, "tariffs": 1, "initial_readings": {}})
    assert (edited["reporting_day"], [c["tariff"] for c in edited["channels"]]) == (25, ["total", "T1"])
    await _unauthorized(w, "PATCH", url, {"reporting_day": 2})
    await w.expect(403, "PATCH", url, "reader", {"reporting_day": 2})
    await w.expect(404, "PATCH", f"/api/v1/meters/{w.other_meter}", "disp", {"reporting_day": 2})
    await w.expect(404, "PATCH", f"/api/v1/meters/{UNKNOWN}", "disp", {"reporting_day": 2})
    await w.expect(422, "PATCH", url, "disp", {"ct_ratio": 0}, "ct_ratio:")
    await w.expect(422, "PATCH", url, "disp", {"decommissioned_at": "2026-03-01T00:00:00Z"}, "decommissioned_at")


async def test_replacement_and_decommissioning(world: World) -> None:
    w = world
    url = f"/api/v1/meters/{w.meter}"
    body = {"new_serial": "223T0009", "at": "2026-02-10T01:00:00+03:00",
            "old_final_readings": {"1:Q": 100.36}, "new_initial_readings": {"1:Q": 0.2}}
    await _unauthorized(w, "POST", f"{url}/replace", body)
    for login in ("reader", "disp", "admin"):  # a service procedure: a service engineer's
        await w.expect(403, "POST", f"{url}/replace", login, body)
    await w.expect(404, "POST", f"/api/v1/meters/{w.other_meter}/replace", "eng", body)
    await w.expect(404, "POST", f"{url}/replace", "stranger-eng", body)
    await w.expect(404, "POST", f"/api/v1/meters/{UNKNOWN}/replace", "eng", body)
    await w.expect(422, "POST", f"{url}/replace", "eng", {**body, "at": "2026-02-10T01:30:00+03:00"},
                   "at: must be the start of an hour")
    await w.expect(422, "POST", f"{url}/replace", "eng", {**body, "at": "2026-02-10T01:00:00"},
                   "at: needs a UTC offset")
    await w.expect(422, "POST", f"{url}/replace", "eng", {**body, "new_serial": "307T0001"}, "new_serial:")

    done = await w.expect(201, "POST", f"{url}/replace", "eng", body)
    old, new = done["old"], done["new"]
    at = datetime(2026, 2, 9, 22, tzinfo=UTC)  # 01:00 at UTC+3
    assert (old["id"], old["status"], datetime.fromisoformat(old["decommissioned_at"]), old["final_readings"]) == (
        w.meter, "decommissioned", at, {"1:Q": 100.36})
    assert (new["serial"], new["replaces_meter_id"], datetime.fromisoformat(new["commissioned_at"])) == (
        "223T0009", w.meter, at)
    assert (new["premise_id"], new["role"], new["initial_readings"], new["installed_on"]) == (
        w.premise, "individual", {"1:Q": 0.2}, "2026-02-10")
    listed = await w.expect(200, "GET", f"/api/v1/buildings/{w.building}/meters", "reader")
    assert {m["serial"] for m in listed} == {"307T0001", "223T0001", "223T0009"}  # the old one is still there
    await w.expect(422, "POST", f"{url}/replace", "eng", {**body, "new_serial": "223T0010"},
                   "meter_id: meter 223T0001 is decommissioned")

    nurl = f"/api/v1/meters/{new['id']}/decommission"
    end = {"at": "2026-02-20T00:00:00Z", "final_readings": {"1:Q": 3.5}}
    await _unauthorized(w, "POST", nurl, end)
    for login in ("reader", "disp"):
        await w.expect(403, "POST", nurl, login, end)
    await w.expect(404, "POST", nurl, "stranger-eng", end)
    await w.expect(404, "POST", f"/api/v1/meters/{UNKNOWN}/decommission", "eng", end)
    await w.expect(422, "POST", nurl, "eng", {**end, "at": "2026-02-09T21:00:00Z"}, "at: 2026-02-09T21:00:00+00:00 "
                   "is not after the commissioning")
    await w.expect(422, "POST", nurl, "eng", {**end, "final_readings": {"1:X": 1}}, "final_readings: '1:X'")
    ended = await w.expect(200, "POST", nurl, "eng", end)
    assert (ended["status"], ended["decommissioned_at"][:19], ended["final_readings"]) == (
        "decommissioned", "2026-02-20T00:00:00", {"1:Q": 3.5})
    await w.expect(422, "POST", nurl, "eng", end, "is decommissioned")


async def test_openapi_describes_the_registry_routes(world: World) -> None:
    paths = (await world.client.get("/openapi.json")).json()["paths"]
    for path, method in (("/api/v1/company", "patch"), ("/api/v1/cities", "post"), ("/api/v1/buildings", "post"),
                         ("/api/v1/buildings/{building_id}", "patch"), ("/api/v1/buildings/{building_id}/premises",
                                                                         "post"),
                         ("/api/v1/premises/{premise_id}", "patch"), ("/api/v1/meters", "post"),
                         ("/api/v1/meters/{meter_id}", "patch"), ("/api/v1/meters/{meter_id}/replace", "post"),
                         ("/api/v1/meters/{meter_id}/decommission", "post")):
        assert method in paths[path], path
