"""The company card and cities (manual 4.6.15), the users list (4.6.14) and the user's profile
and working mode (3.4) over the real registry: each field checked, every change audited, rights
by role (the administrator edits; dispatcher, engineer and reader read; everyone keeps their own
profile), another company's users and cities unseen, and the /api/v1 answers."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_company
from cloud.services import audit
from cloud.services.auth import hash_password
from cloud.services.container import Services
from cloud.services.models import AuthError, Forbidden, InvalidInput, NotFound
from cloud.services.profile import CardFields
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.support_api import api_client

GOOD = CardFields(legal_name="ООО «УК Тест»", inn="7707083893", kpp="773601001", ogrn="1027700132195",
                  director="Иванов Иван Иванович", address="г. Казань, ул. Тестовая, 1", hours="пн-пт 9:00-18:00",
                  phone="8 843 123 45 67", email="Admin@uk-test.ru")


def _one(registry: Registry, sql: str, *args: object) -> sqlite3.Row:
    row = registry.one(sql, *args)
    assert row is not None, sql
    return row


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    tokens: dict[str, str]  # login -> session token

    def user_id(self, login: str) -> int:
        return int(_one(self.registry, "SELECT id FROM users WHERE login = ?", login)["id"])


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    other = _one(registry, "SELECT company_id FROM users WHERE login = 'stranger'")["company_id"]
    with registry.connect() as db:
        db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                   "(?, 'eng', 'Инженер Тест', 'engineer', ?)", (seeded.company_id, hash_password("eng-pass")))
        db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                   "(?, 'b-admin', 'Админ Чужой', 'administrator', ?)", (other, hash_password("b-pass")))
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng", "b-admin")}
    return World(services, registry, seeded, tokens)


def _audit(world: World, action: str, company_id: int | None = None) -> list[audit.AuditEntry]:
    with world.registry.connect() as db:
        return [e for e in audit.entries(db, company_id or world.seeded.company_id) if e.action == action]


async def test_card_is_checked_saved_and_audited(world: World) -> None:
    profile, admin = world.services.profile, world.tokens["admin"]
    empty = await profile.card(world.tokens["disp"])
    assert (empty.name, empty.city, empty.card, [c.name for c in empty.cities]) == (
        "УК Тест", "Казань", CardFields(), ["Казань"])
    saved = await profile.update_card(admin, GOOD)
    assert (saved.card.inn, saved.card.phone, saved.card.email) == ("7707083893", "+7 (843) 123-45-67",
                                                                    "admin@uk-test.ru")
    # one wrong field refuses the whole card: nothing changes
    for field, value, reason in (("inn", "7707083894", "inn: 7707083894 has a wrong check digit"),
                                 ("kpp", "77360100", "kpp: 9 characters"),
                                 ("ogrn", "1027700132196", "ogrn: 1027700132196 has a wrong check digit"),
                                 ("email", "admin@", "email: an e-mail address"),
                                 ("phone", "12345", "phone: start with \\+7 or 8")):
        with pytest.raises(InvalidInput, match=reason):
            await profile.update_card(admin, _with(GOOD, field, value))
    assert (await profile.card(world.tokens["reader"])).card == saved.card
    changed = await profile.update_card(admin, _with(saved.card, "hours", "круглосуточно"))
    assert changed.card.hours == "круглосуточно"
    entries = _audit(world, "company.card")
    assert len(entries) == 2  # newest first: only the changed field in the second
    assert (entries[0].before, entries[0].after) == ({"hours": "пн-пт 9:00-18:00"}, {"hours": "круглосуточно"})
    assert entries[1].after is not None
    assert entries[1].after["inn"] == "7707083893"
    # the same card again changes nothing and logs nothing
    await profile.update_card(admin, changed.card)
    assert len(_audit(world, "company.card")) == 2


def _with(card: CardFields, field: str, value: str) -> CardFields:
    return replace(card, **{field: value})


async def test_only_the_administrator_edits_the_card(world: World) -> None:
    profile = world.services.profile
    for login in ("disp", "eng", "reader", "stranger"):
        with pytest.raises(Forbidden):
            await profile.update_card(world.tokens[login], GOOD)
        with pytest.raises(Forbidden):
            await profile.request_full_access(world.tokens[login])
    await profile.update_card(world.tokens["admin"], GOOD)
    theirs = await profile.card(world.tokens["b-admin"])  # another company sees its own card only
    assert (theirs.name, theirs.card) == ("УК Чужая", CardFields())
    await profile.update_card(world.tokens["b-admin"], _with(CardFields(), "inn", "500100732259"))
    assert (await profile.card(world.tokens["disp"])).card.inn == "7707083893"


async def test_full_access_is_requested_once(world: World) -> None:
    profile, admin = world.services.profile, world.tokens["admin"]
    card = await profile.request_full_access(admin)
    assert card.full_access_requested_at == cloud_data.NOW
    with pytest.raises(InvalidInput, match="full_access: already requested on 2026-01-14 12:00 UTC"):
        await profile.request_full_access(admin)
    assert len(_audit(world, "company.full_access_request")) == 1


async def test_cities_added_with_a_time_zone_and_removed_when_unused(world: World) -> None:
    cities, admin = world.services.cities, world.tokens["admin"]
    with pytest.raises(InvalidInput, match="time_zone: unknown time zone 'Europe/Samarra'"):
        await cities.add(admin, "Самара", "Europe/Samarra")
    with pytest.raises(Forbidden):
        await cities.add(world.tokens["disp"], "Самара", "Europe/Samara")
    samara = await cities.add(admin, "Самара", "Europe/Samara")
    assert [c.name for c in (await world.services.profile.card(world.tokens["reader"])).cities] == ["Казань",
                                                                                                      "Самара"]
    assert [c.name for c in await cities.list(world.tokens["stranger"])] == ["Казань"]  # not another company's
    kazan = next(c for c in await cities.list(admin) if c.name == "Казань")
    with pytest.raises(InvalidInput, match="building\\(s\\) of the company are in Казань"):
        await cities.remove(admin, kazan.id)
    with pytest.raises(NotFound):
        await cities.remove(world.tokens["b-admin"], samara.id)  # not a city of their company
    await cities.remove(admin, samara.id)
    assert [c.name for c in await cities.list(admin)] == ["Казань"]
    assert [e.action for e in _audit(world, "city.add") + _audit(world, "city.remove")] == ["city.add",
                                                                                             "city.remove"]


async def test_working_city_is_personal_and_falls_back_to_the_main_city(world: World) -> None:
    profile, reader = world.services.profile, world.tokens["reader"]
    mine = await profile.profile(reader)
    assert (mine.login, mine.role, mine.reader, mine.company, mine.working_city and mine.working_city.name,
            mine.working_city_chosen) == ("reader", "engineer", True, "УК Тест", "Казань", False)
    samara = await world.services.cities.add(world.tokens["admin"], "Самара", "Europe/Samara")
    chosen = await profile.set_working_city(reader, samara.id)  # a reader chooses too: it changes no data
    assert (chosen.working_city and chosen.working_city.name, chosen.working_city_chosen) == ("Самара", True)
    others = await profile.working_city(world.tokens["disp"])
    assert others is not None
    assert others.name == "Казань"  # (others keep theirs)
    with pytest.raises(InvalidInput, match="city_id: 999 is not a city of the company"):
        await profile.set_working_city(reader, 999)
    with pytest.raises(InvalidInput, match="is not a city of the company"):
        await profile.set_working_city(world.tokens["stranger"], samara.id)
    entry = _audit(world, "profile.city")[0]
    assert (entry.user_login, entry.before, entry.after) == ("reader", None, {"city": "Самара"})
    await world.services.cities.remove(world.tokens["admin"], samara.id)
    back = await profile.profile(reader)
    assert (back.working_city and back.working_city.name, back.working_city_chosen) == ("Казань", False)


async def test_own_password_change(world: World) -> None:
    profile, auth = world.services.profile, world.services.auth
    second = (await auth.login("disp", "disp-pass")).token  # another browser of the same person
    with pytest.raises(InvalidInput, match="current_password: wrong password"):
        await profile.change_password(world.tokens["disp"], "wrong-pass", "new-disp-pass")
    with pytest.raises(InvalidInput, match="password: at least 8 characters"):
        await profile.change_password(world.tokens["disp"], "disp-pass", "short")
    with pytest.raises(InvalidInput, match="new_password: must differ"):
        await profile.change_password(world.tokens["disp"], "disp-pass", "disp-pass")
    await profile.change_password(world.tokens["disp"], "disp-pass", "new-disp-pass")
    assert (await auth.user(world.tokens["disp"])).login == "disp"  # this session goes on
    with pytest.raises(AuthError):
        await auth.user(second)  # the other one ended
    with pytest.raises(AuthError):
        await auth.login("disp", "disp-pass")
    assert (await auth.login("disp", "new-disp-pass")).user.login == "disp"
    entry = _audit(world, "profile.password")[0]
    assert entry.after == {"password": "changed", "other_sessions_ended": 1}
    assert "new-disp-pass" not in str(world.registry.all("SELECT before, after FROM audit_log"))
    await profile.change_password(world.tokens["reader"], "reader-pass", "reader-pass-2")  # readers too
    created = await world.services.api_tokens.create(world.tokens["admin"], world.user_id("admin"), "script")
    with pytest.raises(Forbidden, match="not with an API token"):
        await profile.change_password(created.token, "admin-pass", "admin-pass-2")


async def test_users_list_edit_and_block(world: World) -> None:
    users, admin = world.services.users, world.tokens["admin"]
    listed = await users.list(admin)
    assert {u.login for u in listed} == {"disp", "admin", "reader", "eng"}  # not another company's
    disp = world.user_id("disp")
    edited = await users.update(admin, disp, full_name="Диспетчер Петров", email="Disp@UK.ru",
                                phone="+7 843 765 43 21", role="engineer", reader=True)
    assert (edited.full_name, edited.email, edited.phone, edited.role.value, edited.reader) == (
        "Диспетчер Петров", "disp@uk.ru", "+7 (843) 765-43-21", "engineer", True)
    with pytest.raises(InvalidInput, match="email: an e-mail address"):
        await users.update(admin, disp, email="disp@")
    with pytest.raises(InvalidInput, match="phone: a Russian number"):
        await users.update(admin, disp, phone="+7 843 765")
    me = world.user_id("admin")
    with pytest.raises(InvalidInput, match="cannot take away their own administration rights"):
        await users.update(admin, me, role="dispatcher")
    with pytest.raises(InvalidInput, match="cannot take away their own administration rights"):
        await users.update(admin, me, reader=True)
    with pytest.raises(InvalidInput, match="cannot block their own account"):
        await users.set_blocked(admin, me, True)
    await users.update(admin, me, email="admin@uk.ru")  # own contacts are fine
    with pytest.raises(NotFound):
        await users.update(world.tokens["b-admin"], disp, full_name="Чужие руки")
    for login in ("eng", "reader"):
        with pytest.raises(Forbidden):
            await users.list(world.tokens[login])
        with pytest.raises(Forbidden):
            await users.set_blocked(world.tokens[login], disp, True)
    await users.set_blocked(admin, disp, True)
    with pytest.raises(AuthError):
        await world.services.auth.user(world.tokens["disp"])  # blocking ends the sessions
    entry = _audit(world, "user.update")[-1]
    assert entry.after is not None
    assert (entry.after["email"], entry.after["phone"]) == ("disp@uk.ru",
                                                                                         "+7 (843) 765-43-21")


@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.services, clickhouse) as http:
        yield http


async def _api_token(world: World, login: str) -> dict[str, str]:
    created = await world.services.api_tokens.create(world.tokens[login], world.user_id(login), f"{login} script")
    return {"Authorization": f"Bearer {created.token}"}


async def test_api(world: World, client: httpx.AsyncClient) -> None:
    alone = FastAPI()
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_company.routes(api, world.services)
    alone.include_router(api)
    operations = {op["operationId"] for path in alone.openapi()["paths"].values() for op in path.values()}
    assert operations == {"company_card", "update_company_card", "request_full_access", "company_users",
                          "update_company_user", "set_user_blocked", "my_profile", "set_working_city",
                          "change_own_password"}
    admin, disp = await _api_token(world, "admin"), await _api_token(world, "disp")
    body = {**{k: getattr(GOOD, k) for k in ("legal_name", "inn", "kpp", "ogrn", "phone", "email")}}
    assert (await client.put("/api/v1/company/card", headers=disp, json=body)).status_code == 403
    bad = await client.put("/api/v1/company/card", headers=admin, json={**body, "inn": "7707083894"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    saved = await client.put("/api/v1/company/card", headers=admin, json=body)
    assert (saved.status_code, saved.json()["card"]["phone"]) == (200, "+7 (843) 123-45-67")
    assert (await client.get("/api/v1/company/card", headers=disp)).json()["card"]["inn"] == "7707083893"
    users = await client.get("/api/v1/users", headers=admin)
    assert users.status_code == 200
    assert "stranger" not in {u["login"] for u in users.json()}
    assert (await client.get("/api/v1/users", headers=disp)).status_code == 403
    disp_id = world.user_id("disp")
    patched = await client.patch(f"/api/v1/users/{disp_id}", headers=admin, json={"phone": "88431112233"})
    assert (patched.status_code, patched.json()["phone"]) == (200, "+7 (843) 111-22-33")
    me = await client.get("/api/v1/profile", headers=disp)
    assert (me.json()["login"], me.json()["working_city"]["name"]) == ("disp", "Казань")
    kazan = me.json()["working_city"]["id"]
    assert (await client.put("/api/v1/profile/city", headers=disp, json={"city_id": kazan})).status_code == 200
    assert (await client.put("/api/v1/profile/city", headers=disp, json={"city_id": 999})).status_code == 422
    refused = await client.post("/api/v1/profile/password", headers=disp,
                                json={"current_password": "disp-pass", "new_password": "disp-pass-2"})
    assert refused.status_code == 403  # never with an API token
    blocked = await client.put(f"/api/v1/users/{disp_id}/blocked", headers=admin, json={"blocked": True})
    assert (blocked.status_code, blocked.json()["blocked"]) == (200, True)
    own = await client.put(f"/api/v1/users/{world.user_id('admin')}/blocked", headers=admin, json={"blocked": True})
    assert own.status_code == 422
