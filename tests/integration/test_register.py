"""The consumption register (manual 4.1.5) over a real registry and chDB: a day from the daily
archives, a month from the monthly archives by each meter's reporting day (derived from the daily
ones where a model keeps no monthly archive, and marked), «–*» for a sole missing meter, the known
sum marked «*» when one of several is missing, electricity tariffs apart; the API's answer with
its operationId; scope and roles. Every number is worked out by hand next to it.

The building (tests.cloud_data, Europe/Moscow): building meter 307T0001; apartment 1: 223T0001;
apartment 2: 223T0002 (reporting day 15); added here: apartment 3 with two heat meters 223T0003
and 223T0004, apartment 4 with an electricity meter 941T0001 (T1, T2, CT ratio 2).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cloud.api import router
from cloud.services.container import Services
from cloud.services.meter_series import Cell
from cloud.services.models import Granularity, InvalidInput, NotFound
from cloud.services.register import ConsumptionRegister, RegisterRow
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import Resource
from tests import cloud_data
from tests import support_register as sr
from tests.support_api import shared_app

JAN11 = date(2026, 1, 11)


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> tuple[Services, cloud_data.Seeded, Registry]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    sr.register_rows(registry, clickhouse, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    return services, seeded, registry


def _cells(register: ConsumptionRegister, row: RegisterRow) -> dict[tuple[str, str], Cell]:
    return {(c.resource.value, c.tariff): cell for c, cell in zip(register.columns, row.cells, strict=True)}


def _premise(register: ConsumptionRegister, number: str) -> dict[tuple[str, str], Cell]:
    return _cells(register, next(r for r in register.rows if r.premise and r.premise.number == number))


async def test_a_day_from_the_daily_archives(world) -> None:
    svc, seeded, _ = world
    token = (await svc.auth.login("disp", "disp-pass")).token
    reg = await svc.register.register(token, seeded.building_id, Granularity.DAY, JAN11)
    assert reg.period == datetime(2026, 1, 11)
    assert reg.has_data
    assert not reg.running
    assert [(c.resource.value, c.tariff, c.unit) for c in reg.columns] == [
        ("heat", "total", "Gcal"), ("hot_water", "total", "m3"), ("cold_water", "total", "m3"),
        ("electricity", "total", "kWh"), ("electricity", "T1", "kWh"), ("electricity", "T2", "kWh")]
    heat = ("heat", "total")
    # the building meter: 200.84 - 200.0 = 0.84 Gcal from its day records, complete, not derived
    assert reg.building_row is not None
    assert _cells(reg, reg.building_row)[heat] == Cell(pytest.approx(0.84), True, 1, 1, 0, False)
    # apartment 1: 50.25 - 50.0 = 0.25 (the daily archive, not the hourly 24 x 0.01 = 0.24)
    assert _premise(reg, "1")[heat] == Cell(pytest.approx(0.25), True, 1, 1, 0, False)
    # apartment 2: its sole heat meter lacks the Jan 11 record: null, not 0 («–*»)
    assert _premise(reg, "2")[heat] == Cell(None, False, 1, 0, 0, False)
    # apartment 3: 11.77 - 10.0 = 1.77 of its two meters, the other missing: the known sum, «1,770*»
    assert _premise(reg, "3")[heat] == Cell(pytest.approx(1.77), False, 2, 1, 0, False)
    # apartment 4 has no heat meter: nothing expected
    assert _premise(reg, "4")[heat] == Cell(None, True, 0, 0, 0, False)
    # electricity, CT 2: total (1012.5 - 1000) x 2 = 25.0; T1 (608 - 600) x 2 = 16.0; T2 (404.5 - 400) x 2 = 9.0,
    # each its own column: the total is not 25 + 16 + 9
    el = _premise(reg, "4")
    assert (el[("electricity", "total")].value, el[("electricity", "T1")].value,
            el[("electricity", "T2")].value) == (pytest.approx(25.0), pytest.approx(16.0), pytest.approx(9.0))
    # heat over the premises: 0.25 + 1.77 = 2.02 known of 4 meters (223T0002 and 223T0004 missing)
    totals = dict(zip([(c.resource.value, c.tariff) for c in reg.columns], reg.totals, strict=True))
    assert totals[heat] == Cell(pytest.approx(2.02), False, 4, 2, 0, False)
    assert totals[("electricity", "total")] == Cell(pytest.approx(25.0), True, 1, 1, 0, False)
    # no meter gives hot water records: every hot-water cell is missing, never 0
    assert totals[("hot_water", "total")].value is None
    assert reg.derived_from == ()


async def test_a_month_by_each_meters_reporting_day(world) -> None:
    svc, seeded, _ = world
    token = (await svc.auth.login("disp", "disp-pass")).token
    reg = await svc.register.register(token, seeded.building_id, Granularity.MONTH, date(2026, 1, 20))
    heat = ("heat", "total")
    assert reg.period == datetime(2026, 1, 1)
    assert reg.running  # January has not ended on 2026-01-14
    # apartment 1 (reporting day 1): 47.5 - 40.0 = 7.5 from its monthly archive
    assert _premise(reg, "1")[heat] == Cell(pytest.approx(7.5), True, 1, 1, 0, False)
    # apartment 2 (reporting day 15): Jan 15 - Feb 15, 66.2 - 60.0 = 6.2
    assert _premise(reg, "2")[heat] == Cell(pytest.approx(6.2), True, 1, 1, 0, False)
    # the building meter keeps no monthly archive: 176.04 - 150.0 = 26.04 from its day records, marked derived
    assert reg.building_row is not None
    assert _cells(reg, reg.building_row)[heat] == Cell(pytest.approx(26.04), True, 1, 1, 0, True)
    assert reg.derived_from == ("day",)
    # apartment 3: neither meter has a monthly record: «–*»
    assert _premise(reg, "3")[heat] == Cell(None, False, 2, 0, 0, False)
    totals = dict(zip([(c.resource.value, c.tariff) for c in reg.columns], reg.totals, strict=True))
    assert totals[heat] == Cell(pytest.approx(13.7), False, 4, 2, 0, False)  # 7.5 + 6.2 of 4 meters


async def test_no_data_in_the_period_and_bad_input(world) -> None:
    svc, seeded, _ = world
    token = (await svc.auth.login("disp", "disp-pass")).token
    reg = await svc.register.register(token, seeded.building_id, Granularity.DAY, date(2025, 6, 1))
    assert not reg.has_data
    assert reg.totals == ()
    assert all(r.cells == () for r in reg.rows)
    assert [r.premise.number for r in reg.rows if r.premise] == ["1", "2", "3", "4"]
    with pytest.raises(InvalidInput, match="granularity"):
        await svc.register.register(token, seeded.building_id, Granularity.HOUR, JAN11)
    with pytest.raises(InvalidInput, match="period"):
        await svc.register.register(token, seeded.building_id, Granularity.DAY, date(1990, 1, 1))
    # the page opens on the newest data's day (Jan 31, the last day record), January for months
    assert await svc.register.default_period(token, seeded.building_id, Granularity.MONTH) == date(2026, 1, 1)


async def test_scope_and_roles(world) -> None:
    svc, seeded, _ = world
    reader = (await svc.auth.login("reader", "reader-pass")).token
    assert (await svc.register.register(reader, seeded.building_id, Granularity.DAY, JAN11)).has_data
    admin = (await svc.auth.login("admin", "admin-pass")).token
    with pytest.raises(NotFound):
        await svc.register.register(admin, seeded.building_id, Granularity.DAY, JAN11)
    stranger = (await svc.auth.login("stranger", "x-pass")).token
    with pytest.raises(NotFound):
        await svc.register.register(stranger, seeded.building_id, Granularity.DAY, JAN11)


@dataclass
class Api:
    client: httpx.AsyncClient
    tokens: dict[str, str]
    building: int


@pytest.fixture
async def api(world) -> AsyncIterator[Api]:
    svc, seeded, registry = world
    tokens = await cloud_data.own_tokens(svc, registry, ("disp", "admin"))
    app = shared_app(svc, svc.register.ch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield Api(client, tokens, seeded.building_id)


async def test_api_answers_null_and_flags(api: Api) -> None:
    url = f"/api/v1/buildings/{api.building}/consumption-register"
    answer = await api.client.get(url, params={"granularity": "day", "period": "2026-01-11"},
                                  headers={"Authorization": f"Bearer {api.tokens['disp']}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    heat = next(i for i, c in enumerate(body["columns"]) if c["resource"] == Resource.HEAT.value)
    rows = {r["premise"]["number"]: r for r in body["rows"]}
    assert rows["2"]["cells"][heat] == {"value": None, "complete": False, "expected": 1, "known": 0, "suspect": 0,
                                        "derived": False}
    assert rows["3"]["cells"][heat]["value"] == pytest.approx(1.77)
    assert not rows["3"]["cells"][heat]["complete"]
    forbidden = await api.client.get(url, params={"period": "2026-01-11"},
                                     headers={"Authorization": f"Bearer {api.tokens['admin']}"})
    assert forbidden.status_code == 404
    bad = await api.client.get(url, params={"granularity": "hour", "period": "2026-01-11"},
                               headers={"Authorization": f"Bearer {api.tokens['disp']}"})
    assert bad.status_code == 422


def test_operation_id(world) -> None:
    svc, _, _ = world
    app = FastAPI()
    app.include_router(router(svc.register.ch, "local-secret", svc))
    paths = app.openapi()["paths"]
    op = paths["/api/v1/buildings/{building_id}/consumption-register"]["get"]
    assert op["operationId"] == "consumption_register"
    assert "never 0" in op["description"]
