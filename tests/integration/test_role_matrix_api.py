"""Every GET route of /api/v1 as every role, and a write per section as a reader (manual 2.3).

The routes come from the app's own OpenAPI document, so a route added later is called too (or must be
named in SKIP). The dispatcher, the service engineer and the reader read every route (200); the
administrator (no reader status) reads only the users, their company, their profile and themself, and
gets 404 or 403 for the operational data. The reader status refuses every change (403). Calls go through
httpx's ASGI transport into the real service layer, registry and chDB, with each user's own API token.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_power
from tests.support_api import shared_app

# "reader" is an engineer with reader status (tests/cloud_data.py); the reader status overrides any role, so an
# administrator and a dispatcher with it are called too
READERS = ("reader", "admin-reader", "disp-reader")
ROLES = ("disp", "eng", "admin", *READERS)
EXTRA_USERS = (UserSeed("eng", "Инженер Тест", "engineer", "eng-pass"),
               UserSeed("admin-reader", "Админ Читатель", "administrator", "ar-pass", reader=True),
               UserSeed("disp-reader", "Диспетчер Читатель", "dispatcher", "dr-pass", reader=True))
PASSWORDS = cloud_data.PASSWORDS | {u.login: u.password for u in EXTRA_USERS}
# what an administrator may read (manual 2.3: users, their roles, the company's basic settings; their own account)
# and the company's cities, which the administrator adds and removes (POST/DELETE /api/v1/cities)
ADMIN_READS = ("/api/v1/me", "/api/v1/users", "/api/v1/company", "/api/v1/company/card", "/api/v1/profile",
               "/api/v1/cities")
ADMIN_ONLY = ("/api/v1/users",)  # managing users: the administrator's alone (a reader's role is ignored)
ENGINEER_ONLY = "/api/v1/wizard/"  # adding a meter: a service engineer without reader status only (as the UI)
# required query parameters by name: a seeded day of January 2026 (tests/cloud_data.py) and its resource
QUERY = {"resource": "heat", "period": "2026-01-11", "channel": "1", "kind": "hour", "from": "2026-01-10",
         "to": "2026-01-12", "year": "2026", "model": "KARAT-307"}
SKIP = {  # GET routes not called, with the reason
    "/api/v1/communicators/{communicator_id}": "the seed's meters name their link in text: no communicators row",
    "/api/v1/commands/{command_id}": "needs a command; the seed issues none",
    "/api/v1/balance-groups/{group_id}/consumption": "needs a balance group; the seed has none",
    "/api/v1/documents/{document_id}": "needs a meter document; the seed has none",
    "/api/v1/power/limitations/{limitation_id}": "needs a power limitation (and an electricity meter)",
    "/api/v1/report-jobs/{job_id}": "needs a report job; the seed has none",
    "/api/v1/report-jobs/{job_id}/file": "needs a finished report job",
    "/api/v1/billing-runs/{run_id}": "needs a billing run; the seed has none",
    "/api/v1/billing-runs/{run_id}/items/{kind}": "needs a billing run; the seed has none",
}
RESIDENTS = "/api/v1/resident/"  # the residents' app: residents' sessions, not staff tokens (docs/residents.md)


@dataclass
class World:
    client: httpx.AsyncClient
    app: FastAPI
    tokens: dict[str, str]  # login -> API token
    ids: dict[str, str]  # path parameter -> a value of company A's seed
    extra: dict[str, dict[str, str]]  # route -> query parameters its service requires beyond the document's


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> AsyncIterator[World]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Тест", "Казань", EXTRA_USERS)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = await _own_tokens(services, registry)
    app = shared_app(services, clickhouse)
    b = seeded.building_id
    disp_id = registry.one("SELECT id FROM users WHERE login = 'disp'")["id"]
    premise = registry.one("SELECT id FROM premises WHERE building_id = ? ORDER BY id LIMIT 1", b)
    with registry.connect() as db:  # a KARAT-941LW with its load relay: the power limitation routes have a premise
        support_power.add_meter(db, seeded.company_id, b, premise["id"], "941T0001", "70B3D5E75E2A0941")
    meter = registry.one("SELECT id FROM meters WHERE building_id = ? ORDER BY role, id LIMIT 1", b)
    ids = {"building_id": str(b), "premise_id": str(premise["id"]), "meter_id": str(meter["id"]),
           "dev_eui": "0000000000000001",  # apartment 1's meter: "LoRaWAN 0000000000000001" (tests/cloud_data.py)
           "user_id": str(disp_id)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        ids |= await _made(services, client, tokens, ids, registry)
        listed = (await client.get("/api/v1/reports", headers=_auth(tokens["disp"]))).json()
        report, params = _a_report(listed, ids)
        ids["key"] = report
        yield World(client, app, tokens, ids, {"/api/v1/reports/{key}": params, "/api/v1/reports/{key}/xlsx": params})


async def _made(services: Services, client: httpx.AsyncClient, tokens: dict[str, str], ids: dict[str, str],
                registry: Registry) -> dict[str, str]:
    """Objects the seed lacks, made as their makers would: a desk ticket assigned to the engineer (an
    engineer's desk holds the tickets assigned to them), a notice, a billing centre, a service procedure."""
    building, disp = int(ids["building_id"]), (await services.auth.login("disp", "disp-pass")).token
    engineer = registry.one("SELECT id FROM users WHERE login = 'eng'")["id"]
    ticket = (await services.desk.create(disp, building, "Течёт кран на кухне")).ticket.id
    await services.desk.move(disp, ticket, "qualification", "принято")
    await services.desk.assign(disp, ticket, engineer)

    async def post(path: str, body: dict, login: str = "disp") -> str:
        response = await client.post(path, json=body, headers=_auth(tokens[login]))
        assert response.status_code == 201 or response.status_code == 200, (path, response.text)
        return str(response.json()["id"])
    notice = await post("/api/v1/notices", {"title": "Отключение воды", "body": "10 января с 10 до 12",
                                            "building_ids": [building], "relevant_from": "2026-01-10"})
    centre = await post("/api/v1/billing-centres", {"name": "РЦ Север", "url": "https://rc.example.com/api",
                                                    "token": "rc-token", "submission_day": 20})
    apartment = registry.one("SELECT id FROM meters WHERE premise_id = ? ORDER BY id LIMIT 1",
                             int(ids["premise_id"]))["id"]
    procedure = await post(f"/api/v1/meters/{apartment}/procedures", {"kind": "verification"}, "eng")
    return {"ticket_id": str(ticket), "notice_id": notice, "centre_id": centre, "procedure_id": procedure}


def _a_report(listed: list[dict], ids: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The first listed report whose required parameters the seed fills, with those parameters."""
    fill = {"building": ids["building_id"], "premise": ids["premise_id"], "meter": ids["meter_id"],
            "month": "2026-01", "day": "2026-01-11"}
    for spec in listed:
        params = {}
        for p in spec["params"]:
            if not p["required"]:
                continue
            if p["kind"] in fill:
                params[p["name"]] = fill[p["kind"]]
            elif p["choices"]:
                params[p["name"]] = p["choices"][0]["value"]
            else:
                break
        else:
            return spec["key"], params
    raise AssertionError(f"no report the seed can fill among {[r['key'] for r in listed]}")


async def _own_tokens(services: Services, registry: Registry) -> dict[str, str]:
    """An API token per login, each created by its user for themself (as cloud_data.own_tokens)."""
    tokens = {}
    for login in ROLES:
        session = (await services.auth.login(login, PASSWORDS[login])).token
        user_id = registry.one("SELECT id FROM users WHERE login = ?", login)["id"]
        tokens[login] = (await services.api_tokens.create(session, user_id, f"{login} integration")).token
    return tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _get_routes(app: FastAPI) -> list[tuple[str, list[str]]]:
    """(path, the names of its required query parameters) of every staff GET route of /api/v1."""
    routes = []
    for path, operations in app.openapi()["paths"].items():
        if "get" in operations and path.startswith("/api/v1/") and not path.startswith(RESIDENTS):
            required = [p["name"] for p in operations["get"].get("parameters", [])
                        if p.get("required") and p["in"] == "query"]
            routes.append((path, required))
    return routes


def _url(path: str, query: list[str], ids: dict[str, str]) -> tuple[str, dict[str, str]]:
    params = {name: ids[name] if name in ids else QUERY[name] for name in query}
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path), params


def _expected(role: str, path: str) -> set[int]:
    if role == "admin":
        return {200} if path in ADMIN_READS else {403, 404}
    if path in ADMIN_ONLY or (path.startswith(ENGINEER_ONLY) and role != "eng"):  # a reader's role is ignored
        return {403}
    return {200}


@pytest.mark.parametrize("role", ROLES)
async def test_every_get_route_answers_each_role_as_the_manual_says(world: World, role: str) -> None:
    routes = [(p, q) for p, q in _get_routes(world.app) if p not in SKIP]
    assert len(routes) > 60  # the document lists the routes (71 of them, less SKIP, in November 2026)
    wrong = {}
    for path, query in routes:
        url, params = _url(path, query, world.ids)
        params |= world.extra.get(path, {})
        response = await world.client.get(url, params=params, headers=_auth(world.tokens[role]))
        if response.status_code not in _expected(role, path):
            wrong[path] = (response.status_code, response.text[:120])
    assert not wrong, "\n".join(f"{path}: {answer}" for path, answer in wrong.items())


def test_skip_names_only_existing_routes(world: World) -> None:
    """A SKIP entry for a route that is gone would hide nothing; keep the list honest."""
    paths = {p for p, _ in _get_routes(world.app)}
    assert set(SKIP) <= paths


# a change per section of manual 3.1 (and the administrator's two), the role that may make it, and a body it accepts
WRITES = (
    ("Учёт", "post", "/api/v1/buildings/{building_id}/premises", {"number": "99", "area_m2": 40.0, "residents": 1},
     "disp"),
    ("Мониторинг", "post", "/api/v1/event-subscriptions",
     {"meter_types": ["common"], "effects": ["integrity"], "severities": ["alarm"], "email": "disp@example.com"},
     "disp"),
    ("Биллинг", "post", "/api/v1/billing-centres",
     {"name": "РЦ Тест", "url": "https://rc.example.com/api", "token": "rc-token", "submission_day": 20}, "disp"),
    ("Сервис", "post", "/api/v1/desk/tickets", {"building_id": "{building_id}", "description": "Течь в подвале"},
     "disp"),
    ("Сервис", "post", "/api/v1/meters/{meter_id}/procedures", {"kind": "verification"}, "eng"),
    ("Настройки", "put", "/api/v1/norms/heat", {"value": 0.02}, "disp"),
    ("Компания", "patch", "/api/v1/company", {"name": "УК Тест"}, "admin"),
    ("Пользователи", "patch", "/api/v1/users/{user_id}", {"full_name": "Диспетчер Тест"}, "admin"),
)


def _fill(value: object, ids: dict[str, str]) -> object:
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, str) and re.fullmatch(r"\{\w+\}", value):
        return int(ids[value[1:-1]])
    return value


@pytest.mark.parametrize("reader", READERS)
async def test_reader_status_refuses_a_change_in_every_section(world: World, reader: str) -> None:
    """403 for the reader; then the same request by the role that may make it succeeds, so the 403 is the
    reader status's and not a bad request's."""
    wrong = {}
    for section, method, path, body, writer in WRITES:
        url, _ = _url(path, [], world.ids)
        sent = _fill(body, world.ids)
        refused = await world.client.request(method, url, json=sent, headers=_auth(world.tokens[reader]))
        made = await world.client.request(method, url, json=sent, headers=_auth(world.tokens[writer]))
        if refused.status_code != 403 or not 200 <= made.status_code < 300:
            wrong[f"{section} {method.upper()} {path}"] = (refused.status_code, made.status_code, made.text[:100])
    assert not wrong, "\n".join(f"{what}: reader {a}, {b} for the writer {text}"
                                 for what, (a, b, text) in wrong.items())
