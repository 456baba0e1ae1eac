"""Meters' numbers in ГИС ЖКХ (manual 4.4.1) over a real registry: who reads and who sets them, what a
number may be, unique in the company (and not across companies), the audit entries, the all-or-nothing
import of a building's numbers (a swap included), and the /api/v1 routes (cloud/api_gis.py).

The seeded building (tests.cloud_data): 307T0001 (ОДПУ), 223T0001 (кв. 1), 223T0002 (кв. 2); the other
company's building has 307X0001.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_gis
from cloud.api import install_error_handlers
from cloud.billing.gis_numbers import GisNumbersService
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import support_reports_balance as support


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> tuple[support.World, GisNumbersService]:
    w = support.norms_world(Registry(tmp_path / "registry.db"), clickhouse)
    return w, GisNumbersService(w.registry, clickhouse, w.services.auth)


def _ids(world: support.World) -> dict[str, int]:
    return {r["serial"]: r["id"] for r in world.registry.all("SELECT id, serial FROM meters")}


def _audit(world: support.World) -> list[tuple]:
    return [(r["object"], json.loads(r["before"]), json.loads(r["after"]))
            for r in world.registry.all("SELECT * FROM audit_log WHERE action = 'meter.gis_number' ORDER BY id")]


async def test_roles_validation_uniqueness_and_audit(world) -> None:
    w, gis = world
    ids = _ids(w)
    disp, eng, reader = [await support.token(w, u) for u in ("disp", "eng", "reader")]
    numbers = await gis.numbers(reader, w.seeded.building_id)
    assert [(n.serial, n.role, n.premise_number, n.gis_number) for n in numbers] == [
        ("307T0001", "common", None, ""), ("223T0001", "individual", "1", ""), ("223T0002", "individual", "2", "")]

    set_ = await gis.set_number(disp, ids["223T0001"], "  ГИС-0001 ")
    assert set_.gis_number == "ГИС-0001"
    assert (await gis.number(eng, ids["223T0001"])).gis_number == "ГИС-0001"
    await gis.set_number(disp, ids["223T0001"], "ГИС-0001")  # the same again: nothing audited
    # unique in the company
    with pytest.raises(InvalidInput, match=r"^gis_number: 'ГИС-0001' is the number of meter 223T0001"):
        await gis.set_number(disp, ids["223T0002"], "ГИС-0001")
    # ... but another company may use the same number
    stranger = await support.token(w, "stranger")
    assert (await gis.set_number(stranger, ids["307X0001"], "ГИС-0001")).gis_number == "ГИС-0001"
    for bad, why in (("x" * 41, "at most 40"), ("a\tb", "printable")):
        with pytest.raises(InvalidInput, match=why):
            await gis.set_number(disp, ids["223T0002"], bad)
    cleared = await gis.clear_number(disp, ids["223T0001"])
    assert cleared.gis_number == ""
    assert _audit(w) == [
        (f"meter:{ids['223T0001']}", {"serial": "223T0001", "gis_number": ""},
         {"serial": "223T0001", "gis_number": "ГИС-0001"}),
        (f"meter:{ids['307X0001']}", {"serial": "307X0001", "gis_number": ""},
         {"serial": "307X0001", "gis_number": "ГИС-0001"}),
        (f"meter:{ids['223T0001']}", {"serial": "223T0001", "gis_number": "ГИС-0001"},
         {"serial": "223T0001", "gis_number": ""}),
    ]
    # engineers and readers read only; administrators see nothing; another company's meter is not found
    for who in (eng, reader):
        with pytest.raises(Forbidden):
            await gis.set_number(who, ids["223T0001"], "1")
        with pytest.raises(Forbidden):
            await gis.set_numbers(who, w.seeded.building_id, [("223T0001", "1")])
    admin = await support.token(w, "admin")
    with pytest.raises(NotFound):
        await gis.numbers(admin, w.seeded.building_id)
    with pytest.raises(Forbidden):
        await gis.set_number(admin, ids["223T0001"], "1")
    with pytest.raises(NotFound):
        await gis.set_number(disp, ids["307X0001"], "1")
    with pytest.raises(NotFound):
        await gis.number(disp, ids["307X0001"])
    with pytest.raises(NotFound):
        await gis.numbers(disp, w.seeded.other_building_id)


async def test_import_is_all_or_nothing(world) -> None:
    w, gis = world
    ids = _ids(w)
    disp = await support.token(w, "disp")
    b = w.seeded.building_id
    result = await gis.set_numbers(disp, b, [("223T0001", "A-1"), ("223T0002", "A-2"), ("307T0001", "")])
    assert (result.changed, result.unchanged) == (("223T0001", "223T0002"), ("307T0001",))
    # a swap between listed meters is fine (the unique index is kept through it)
    result = await gis.set_numbers(disp, b, [("223T0001", "A-2"), ("223T0002", "A-1")])
    assert result.changed == ("223T0001", "223T0002")
    assert {n.serial: n.gis_number for n in await gis.numbers(disp, b)} == {
        "307T0001": "", "223T0001": "A-2", "223T0002": "A-1"}
    before = _audit(w)
    bad = (([("223T0001", "B-1"), ("999X", "B-2")], "line 2: no meter 999X in this building"),
           ([("223T0001", "B-1"), ("223T0001", "B-2")], "line 2: serial 223T0001 is on line 1 too"),
           ([("223T0001", "B-1"), ("223T0002", "B-1")], "line 2: number 'B-1' is on line 1 too"),
           ([("307T0001", "A-1")], "gis_number: 'A-1' is the number of meter 223T0002"),
           ([("223T0001", "x" * 41)], "line 1: at most 40"),
           ([("307X0001", "B-9")], "line 1: no meter 307X0001 in this building"),
           ([], "numbers: at least one line"))
    for pairs, message in bad:
        with pytest.raises(InvalidInput, match=message):
            await gis.set_numbers(disp, b, pairs)
    assert _audit(w) == before  # nothing of a refused import was changed
    assert (await gis.number(disp, ids["223T0001"])).gis_number == "A-2"
    with pytest.raises(NotFound):
        await gis.set_numbers(disp, w.seeded.other_building_id, [("307X0001", "B-9")])


@pytest.fixture
async def http(world) -> AsyncIterator[httpx.AsyncClient]:
    _w, gis = world
    app = FastAPI()
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    api_gis.routes(api, SimpleNamespace(gis_numbers=gis))  # type: ignore[arg-type]
    app.include_router(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_api_routes(world, http: httpx.AsyncClient) -> None:
    w, _ = world
    ids, b = _ids(w), w.seeded.building_id
    disp = {"Authorization": f"Bearer {await support.token(w, 'disp')}"}
    reader = {"Authorization": f"Bearer {await support.token(w, 'reader')}"}
    put = await http.put(f"/api/v1/meters/{ids['223T0001']}/gis-number", json={"gis_number": "N-1"}, headers=disp)
    assert put.status_code == 200
    assert put.json()["gis_number"] == "N-1"
    got = await http.get(f"/api/v1/meters/{ids['223T0001']}/gis-number", headers=reader)
    assert (got.status_code, got.json()["serial"], got.json()["gis_number"]) == (200, "223T0001", "N-1")
    listed = await http.get(f"/api/v1/buildings/{b}/gis-numbers", headers=reader)
    assert [(m["serial"], m["gis_number"]) for m in listed.json()] == [
        ("307T0001", ""), ("223T0001", "N-1"), ("223T0002", "")]
    dup = await http.put(f"/api/v1/meters/{ids['223T0002']}/gis-number", json={"gis_number": "N-1"}, headers=disp)
    assert (dup.status_code, dup.json()["code"]) == (422, "invalid_input")
    assert (await http.put(f"/api/v1/meters/{ids['223T0002']}/gis-number", json={"gis_number": "N-2"},
                           headers=reader)).status_code == 403
    imported = await http.put(f"/api/v1/buildings/{b}/gis-numbers", headers=disp,
                              json={"numbers": [{"serial": "223T0002", "gis_number": "N-2"},
                                                {"serial": "307T0001", "gis_number": "ОДПУ-1"}]})
    assert imported.json() == {"changed": ["223T0002", "307T0001"], "unchanged": []}
    cleared = await http.delete(f"/api/v1/meters/{ids['223T0001']}/gis-number", headers=disp)
    assert cleared.json()["gis_number"] == ""
    assert (await http.get(f"/api/v1/meters/{ids['307X0001']}/gis-number", headers=disp)).status_code == 404
    assert (await http.get(f"/api/v1/buildings/{b}/gis-numbers")).status_code == 401
