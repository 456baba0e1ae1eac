"""Consumption norms (нормативы потребления, manual 4.3.3) over a real registry: who may read and change
them (dispatchers change, engineers and readers only read, administrators see none), the bounds of a
norm, a building's own norm overriding the company's, the audit entries, another company's building,
and the /api/v1 routes (cloud/api_norms.py) with their error codes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_norms
from cloud.api import install_error_handlers
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import Resource
from tests import support_reports_balance as support


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> support.World:
    return support.norms_world(Registry(tmp_path / "registry.db"), clickhouse)


def _audit(world: support.World) -> list[tuple]:
    return [(r["action"], r["object"], json.loads(r["before"]) if r["before"] else None,
             json.loads(r["after"]) if r["after"] else None)
            for r in world.registry.all("SELECT * FROM audit_log WHERE action LIKE 'consumption_norm.%' ORDER BY id")]


async def test_roles_bounds_override_and_audit(world: support.World) -> None:
    norms, building = world.services.norms, world.seeded.building_id
    disp, eng, reader = [await support.token(world, u) for u in ("disp", "eng", "reader")]
    table = await norms.norms(disp)
    assert [n.resource for n in table.norms] == list(Resource)
    assert table.editable
    heat = table.norm(Resource.HEAT)
    assert (heat.unit, heat.basis, heat.company, heat.in_force) == ("Gcal", "area", None, None)
    assert table.norm(Resource.ELECTRICITY).unit == "kWh"
    assert table.norm(Resource.COLD_WATER).basis == "resident"
    assert table.buildings == ((building, "ул. Тестовая, 1"),)

    after = await norms.set_norm(disp, "cold_water", 4.5)
    assert after.norm(Resource.COLD_WATER).company == 4.5
    after = await norms.set_norm(disp, Resource.COLD_WATER, 6.0, building)
    cold = after.norm(Resource.COLD_WATER)
    assert (cold.company, cold.building, cold.in_force, cold.source) == (4.5, 6.0, 6.0, "building")
    assert await norms.in_force(eng, building) == {Resource.COLD_WATER: 6.0}
    after = await norms.clear_norm(disp, "cold_water", building)
    cold = after.norm(Resource.COLD_WATER)
    assert (cold.building, cold.in_force, cold.source) == (None, 4.5, "company")
    await norms.set_norm(disp, "cold_water", 4.5)  # the same value again: nothing changes, nothing audited

    # an engineer and a reader read, but may not set or clear
    assert not (await norms.norms(eng)).editable
    assert not (await norms.norms(reader, building)).editable
    for who in (eng, reader):
        with pytest.raises(Forbidden):
            await norms.set_norm(who, "cold_water", 5.0)
        with pytest.raises(Forbidden):
            await norms.clear_norm(who, "cold_water")
    # an administrator sees none; another company's building is not found
    with pytest.raises(NotFound):
        await norms.norms(await support.token(world, "admin"))
    with pytest.raises(NotFound):
        await norms.set_norm(disp, "heat", 0.02, world.seeded.other_building_id)
    with pytest.raises(NotFound):
        await norms.norms(disp, world.seeded.other_building_id)
    stranger = await support.token(world, "stranger")
    assert (await norms.norms(stranger)).norm(Resource.COLD_WATER).company is None  # the norms are per company

    # bounds: above 0, at most the resource's maximum, a number
    for value in (0, -1.0, 1.5, float("nan"), float("inf"), True, "0.02"):
        with pytest.raises(InvalidInput, match=r"^value: a heat norm is a number above 0 and at most 1 Gcal per m²"):
            await norms.set_norm(disp, "heat", value)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^value: .* at most 5000 kWh per resident"):
        await norms.set_norm(disp, "electricity", 5000.5)
    with pytest.raises(InvalidInput, match=r"^resource: one of"):
        await norms.set_norm(disp, "steam", 1.0)
    assert (await norms.set_norm(disp, "heat", 1.0)).norm(Resource.HEAT).company == 1.0  # the maximum itself

    company = f"company:{world.seeded.company_id}"
    assert _audit(world) == [
        ("consumption_norm.set", company, None, {"resource": "cold_water", "value": 4.5}),
        ("consumption_norm.set", f"building:{building}", None, {"resource": "cold_water", "value": 6.0}),
        ("consumption_norm.clear", f"building:{building}", {"resource": "cold_water", "value": 6.0}, None),
        ("consumption_norm.set", company, None, {"resource": "heat", "value": 1.0}),
    ]


@pytest.fixture
async def http(world: support.World) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    api_norms.routes(api, world.services)
    app.include_router(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_api_routes(world: support.World, http: httpx.AsyncClient) -> None:
    building = world.seeded.building_id
    disp = {"Authorization": f"Bearer {await support.token(world, 'disp')}"}
    reader = {"Authorization": f"Bearer {await support.token(world, 'reader')}"}
    put = await http.put("/api/v1/norms/electricity", json={"value": 90}, headers=disp)
    assert put.status_code == 200
    electricity = next(n for n in put.json()["norms"] if n["resource"] == "electricity")
    assert electricity == {"resource": "electricity", "unit": "kWh", "basis": "resident", "maximum": 5000.0,
                           "company": 90.0, "building": None, "in_force": 90.0}
    put = await http.put(f"/api/v1/buildings/{building}/norms/electricity", json={"value": 120.5}, headers=disp)
    assert next(n for n in put.json()["norms"] if n["resource"] == "electricity")["in_force"] == 120.5
    got = await http.get(f"/api/v1/buildings/{building}/norms", headers=reader)
    assert got.status_code == 200
    assert got.json()["editable"] is False
    assert next(n for n in got.json()["norms"] if n["resource"] == "electricity")["building"] == 120.5
    assert (await http.put("/api/v1/norms/heat", json={"value": 0.02}, headers=reader)).status_code == 403
    too_big = await http.put("/api/v1/norms/heat", json={"value": 2}, headers=disp)
    assert too_big.status_code == 422
    assert too_big.json()["code"] == "invalid_input"
    assert (await http.put("/api/v1/norms/heat", json={"value": 0}, headers=disp)).status_code == 422
    assert (await http.put("/api/v1/norms/steam", json={"value": 1}, headers=disp)).status_code == 422
    cleared = await http.delete(f"/api/v1/buildings/{building}/norms/electricity", headers=disp)
    assert next(n for n in cleared.json()["norms"] if n["resource"] == "electricity")["in_force"] == 90.0
    cleared = await http.delete("/api/v1/norms/electricity", headers=disp)
    assert next(n for n in cleared.json()["norms"] if n["resource"] == "electricity")["company"] is None
    other = await http.get(f"/api/v1/buildings/{world.seeded.other_building_id}/norms", headers=disp)
    assert other.status_code == 404
    assert (await http.get("/api/v1/norms")).status_code == 401
