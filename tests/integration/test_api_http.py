"""The integration API (/api/v1) over the real service layer, registry and chDB, through
httpx's ASGI transport: token authentication, tenancy on every endpoint (company A's token
gets 404 for company B's objects and the reverse), reader status refused every write, errors
as {"code", "message"}, and the OpenAPI description."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cloud.seed import UserSeed, seed_company
from cloud.services import audit
from cloud.services.container import Services
from cloud.services.readings import EXTERNAL
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.support_api import shared_app


@dataclass
class World:
    client: httpx.AsyncClient
    services: Services
    registry: Registry
    tokens: dict[str, str]  # login -> API token
    a: dict[str, int]  # object ids of company A
    b: dict[str, int]  # object ids of company B


def _ids(registry: Registry, building_id: int) -> dict[str, int]:
    meter = registry.one("SELECT id FROM meters WHERE building_id = ? ORDER BY role, id LIMIT 1", building_id)
    premise = registry.one("SELECT id FROM premises WHERE building_id = ? ORDER BY id LIMIT 1", building_id)
    return {"building": building_id, "meter": meter["id"], "premise": premise["id"]}


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> AsyncIterator[World]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Чужая", "Казань", (UserSeed("b-admin", "Админ Б", "administrator", "b-pass"),))
    with registry.connect() as db:
        db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) VALUES (?, '7', "
                   "'apartment', 40, 1)", (seeded.other_building_id,))
    services = Services.create(registry, clickhouse)
    tokens = await cloud_data.own_tokens(services, registry, ("disp", "reader", "admin", "stranger"))
    app = shared_app(services, clickhouse)  # with NiceGUI's HTML 404 for pages: /api must still answer JSON
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield World(client, services, registry, tokens, _ids(registry, seeded.building_id),
                    _ids(registry, seeded.other_building_id))


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _reads(ids: dict[str, int]) -> list[str]:
    return [f"/api/v1/buildings/{ids['building']}", f"/api/v1/buildings/{ids['building']}/premises",
            f"/api/v1/buildings/{ids['building']}/meters", f"/api/v1/premises/{ids['premise']}",
            f"/api/v1/meters/{ids['meter']}",
            f"/api/v1/buildings/{ids['building']}/consumption?resource=heat&granularity=day&period=2026-01-01",
            f"/api/v1/meters/{ids['meter']}/archive?channel=1&granularity=hour&period=2026-01-11"]


async def test_reads_return_own_company_data(world: World) -> None:
    c, token = world.client, world.tokens["disp"]
    me = (await c.get("/api/v1/me", headers=_auth(token))).json()
    assert (me["login"], me["role"], me["company"]) == ("disp", "dispatcher", "УК Тест")
    assert [b["address"] for b in (await c.get("/api/v1/buildings", headers=_auth(token))).json()] == [
        "ул. Тестовая, 1"]
    for url in _reads(world.a):
        assert (await c.get(url, headers=_auth(token))).status_code == 200, url
    days = (await c.get(_reads(world.a)[5], headers=_auth(token))).json()
    by_day = {p["period"][:10]: p for p in days["points"]}
    assert by_day["2026-01-11"]["building"] == pytest.approx(0.84)
    assert by_day["2026-01-11"]["apartments_complete"] is False
    assert by_day["2026-01-10"]["building"] is None  # missing stays missing
    archive = (await c.get(_reads(world.a)[6], headers=_auth(token))).json()
    assert len(archive["rows"]) == 24
    meters = (await c.get(_reads(world.a)[2], headers=_auth(token))).json()
    assert {m["serial"] for m in meters} == {"307T0001", "223T0001", "223T0002"}


@pytest.mark.parametrize(("login", "own", "other"), [("disp", "a", "b"), ("reader", "a", "b"), ("stranger", "b", "a")])
async def test_every_read_of_another_company_is_not_found(world: World, login: str, own: str, other: str) -> None:
    c, token = world.client, world.tokens[login]
    for url in _reads(getattr(world, other)):
        response = await c.get(url, headers=_auth(token))
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found", url
        assert set(response.json()) == {"code", "message"}
    listed = (await c.get("/api/v1/buildings", headers=_auth(token))).json()
    assert [b["id"] for b in listed] == [getattr(world, own)["building"]]


def _readings_body(hours: int = 2, start: datetime = datetime(2026, 1, 20, tzinfo=UTC)) -> dict:
    return {"channel": 1, "kind": "hour", "nature": "integral",
            "readings": [{"period_start": (start + timedelta(hours=h)).isoformat(), "values": {"Q": 101.0 + h}}
                         for h in range(hours)]}


async def test_writes_need_a_writer_of_the_same_company(world: World, clickhouse: ClickHouse) -> None:
    c = world.client
    url = f"/api/v1/meters/{world.a['meter']}/readings"
    for login in ("reader", "admin"):  # reader status and the administrator role never write
        response = await c.post(url, json=_readings_body(), headers=_auth(world.tokens[login]))
        assert response.status_code == 403, login
        assert response.json()["code"] == "forbidden"
    response = await c.post(url, json=_readings_body(), headers=_auth(world.tokens["stranger"]))
    assert response.status_code == 404
    response = await c.post(f"/api/v1/meters/{world.b['meter']}/readings", json=_readings_body(),
                            headers=_auth(world.tokens["disp"]))
    assert response.status_code == 404
    assert (await clickhouse.query("SELECT count() FROM {db}.archive WHERE bitAnd(quality, 256) != 0"))[0][0] == 0

    response = await c.post(url, json=_readings_body(), headers=_auth(world.tokens["disp"]))
    assert response.status_code == 201, response.text
    assert response.json()["stored_values"] == 2
    # a period already stored is skipped, not replaced: the device's value (and the first submission) stand
    overlap = _readings_body(3, datetime(2026, 1, 12, 20, tzinfo=UTC))  # 20:00 UTC = 23:00 Moscow, stored
    response = await c.post(url, json=overlap, headers=_auth(world.tokens["disp"]))
    assert response.json()["stored_values"] == 2
    assert [p for _, p in response.json()["skipped"]] == ["Q"]
    rows = await clickhouse.query("SELECT period_start, value, quality FROM {db}.archive FINAL "
                                  "WHERE meter = '307T0001' AND bitAnd(quality, {q:UInt16}) != 0 ORDER BY period_start",
                                  {"q": EXTERNAL})
    assert [r[1] for r in rows] == [102.0, 103.0, 101.0, 102.0]
    with world.registry.connect() as db:
        logged = audit.entries(db, 1)
    assert [e.action for e in logged[:2]] == ["readings.submit", "readings.submit"]
    assert logged[0].user_login == "disp"
    assert logged[0].after is not None
    assert logged[0].after["skipped_values"] == 1


async def test_bad_readings_are_refused_with_the_field(world: World) -> None:
    c, headers = world.client, _auth(world.tokens["disp"])
    url = f"/api/v1/meters/{world.a['meter']}/readings"
    cases = [
        ({**_readings_body(), "readings": [{"period_start": "2026-01-20T10:00:00", "values": {"Q": 1}}]},
         "readings[0].period_start: needs a time zone"),
        ({**_readings_body(), "readings": [{"period_start": "2026-01-20T10:30:00Z", "values": {"Q": 1}}]},
         "start of an hour"),
        ({**_readings_body(), "readings": [{"period_start": "2026-01-20T10:00:00Z", "values": {"T9": 1}}]},
         "values.T9"),
        ({**_readings_body(), "channel": 9}, "channel 9 not found"),
        ({**_readings_body(), "kind": "week"}, "kind"),
        ({**_readings_body(), "readings": []}, "at least one"),
    ]
    for body, fragment in cases:
        response = await c.post(url, json=body, headers=headers)
        assert response.status_code in (404, 422), body
        assert fragment in response.json()["message"], response.json()
    response = await c.get(f"/api/v1/buildings/{world.a['building']}/consumption?resource=steam&period=2026-01-01",
                           headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert "resource" in response.json()["message"]


async def test_missing_unknown_expired_and_revoked_tokens_are_unauthorized(world: World) -> None:
    c = world.client
    url = "/api/v1/buildings"
    for headers in ({}, _auth("duapi.not-a-token"), _auth("some-session-like-token"), {"Authorization": "Basic x"}):
        response = await c.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "unauthorized"
    with world.registry.connect() as db:
        db.execute("UPDATE api_tokens SET expires_at = ? WHERE user_id = (SELECT id FROM users WHERE login = 'disp')",
                   ((datetime.now(UTC) - timedelta(seconds=1)).isoformat(),))
    assert (await c.get(url, headers=_auth(world.tokens["disp"]))).status_code == 401
    admin = (await world.services.auth.login("admin", "admin-pass")).token
    reader_token = next(t for t in await world.services.api_tokens.list(admin) if t.user_login == "reader")
    await world.services.api_tokens.revoke(admin, reader_token.id)
    assert (await c.get(url, headers=_auth(world.tokens["reader"]))).status_code == 401
    with world.registry.connect() as db:
        db.execute("UPDATE users SET blocked = 1 WHERE login = 'stranger'")
    assert (await c.get(url, headers=_auth(world.tokens["stranger"]))).status_code == 401


async def test_tokens_are_issued_to_who_uses_them_within_the_company(world: World) -> None:
    from cloud.services.models import Forbidden, NotFound
    disp = (await world.services.auth.login("disp", "disp-pass")).token
    admin_id = world.registry.one("SELECT id FROM users WHERE login = 'admin'")["id"]
    with pytest.raises(Forbidden):
        await world.services.api_tokens.create(disp, admin_id, "someone else's")
    admin = (await world.services.auth.login("admin", "admin-pass")).token
    disp_id = world.registry.one("SELECT id FROM users WHERE login = 'disp'")["id"]
    with pytest.raises(Forbidden):  # administrators create tokens only for integration accounts (and themselves)
        await world.services.api_tokens.create(admin, disp_id, "the dispatcher's")
    stranger_id = world.registry.one("SELECT id FROM users WHERE login = 'stranger'")["id"]
    with pytest.raises(NotFound):
        await world.services.api_tokens.create(admin, stranger_id, "theirs")
    with world.registry.connect() as db:
        stored = [r[0] for r in db.execute("SELECT token_hash FROM api_tokens")]
    assert world.tokens["disp"] not in stored  # hashed, never the token itself


async def test_unknown_api_path_answers_json_and_pages_keep_their_handler(world: World) -> None:
    response = await world.client.get("/api/v1/nothing-here", headers=_auth(world.tokens["disp"]))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "page not found" in (await world.client.get("/some/page")).text


async def test_local_deadletter_endpoint_needs_the_local_token(world: World, clickhouse: ClickHouse) -> None:
    from cloud.ingest import dead_letter
    entry = await dead_letter(clickhouse, "du.x.up.archive", "x:1", "batch: not msgpack", b"\xc1")
    url = "/api/local/deadletter"
    refused = await world.client.post(url, json={"action": "list"}, headers={"X-Local-Token": "wrong"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    listed = await world.client.post(url, json={"action": "list"}, headers={"X-Local-Token": "local-secret"})
    assert [(e["id"], e["msg_id"], e["replayed_at"]) for e in listed.json()["entries"]] == [(entry, "x:1", None)]
    replay = await world.client.post(url, json={"action": "replay"}, headers={"X-Local-Token": "local-secret"})
    assert replay.status_code == 409  # this app runs no ingest to replay through
    assert replay.json()["code"] == "no_ingest"


async def test_openapi_describes_the_integration_api(world: World) -> None:
    doc = (await world.client.get("/openapi.json")).json()
    assert "/api/v1/buildings/{building_id}/consumption" in doc["paths"]
    assert "/api/v1/meters/{meter_id}/readings" in doc["paths"]
    assert "/api/local/sql" not in doc["paths"]
    assert any(s.get("scheme") == "bearer" for s in doc["components"]["securitySchemes"].values())
