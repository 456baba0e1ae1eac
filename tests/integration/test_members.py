"""Working in several companies (manual 3.4) over a real registry: an administrator of "УК Чужая" lets
the dispatcher of "УК Тест" work there as an engineer; the dispatcher picks the company in the profile's
working mode and every service then sees an engineer of "УК Чужая" (its buildings only, no dispatcher's
settings), their API token stays in their own company, and removing the membership sends them home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.services.models import Forbidden, InvalidInput, NotFound, Role
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> tuple[Services, Registry]:
    registry = Registry(tmp_path / "registry.db")
    cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Чужая", "Казань", (UserSeed("b-admin", "Админ Чужой", "administrator", "b-pass"),))
    return Services.create(registry, clickhouse), registry


async def _token(services: Services, login: str) -> str:
    return (await services.auth.login(login, cloud_data.PASSWORDS[login])).token


async def test_a_member_works_in_the_chosen_company_with_the_role_given_there(world) -> None:
    services, registry = world
    b_admin, disp = await _token(services, "b-admin"), await _token(services, "disp")
    api_token = (await cloud_data.own_tokens(services, registry, ["disp"]))["disp"]
    disp_id = registry.one("SELECT id FROM users WHERE login = 'disp'")["id"]

    member = await services.members.add(b_admin, " DISP ", "engineer")
    assert (member.user_id, member.login, member.home_company, member.role, member.reader) == \
        (disp_id, "disp", "УК Тест", "engineer", False)
    assert [m.login for m in await services.members.members(b_admin)] == ["disp"]

    choices = await services.members.choices(disp)
    assert [(c.name, c.role, c.own) for c in choices] == [("УК Тест", "dispatcher", True),
                                                          ("УК Чужая", "engineer", False)]
    # until chosen, the dispatcher works at home
    assert [b.address for b in await services.accounting.buildings(disp)] == ["ул. Тестовая, 1"]

    now = await services.members.choose(disp, choices[1].id)
    assert (now.company_name, now.role, now.reader) == ("УК Чужая", Role.ENGINEER, False)
    assert [b.address for b in await services.accounting.buildings(disp)] == ["ул. Чужая, 2"]
    home_building = registry.one("SELECT id FROM buildings WHERE address = 'ул. Тестовая, 1'")["id"]
    with pytest.raises(NotFound):  # the home company's building is another company's now
        await services.accounting.building(disp, home_building)
    city = registry.one("SELECT id FROM cities WHERE name = 'Казань'")["id"]
    with pytest.raises(Forbidden):  # an engineer there: a dispatcher's work is refused
        await services.buildings.create_building(disp, address="ул. Новая, 3", city_id=city, area_m2=100.0, site="new",
                                                 residents=1)
    # the dispatch desk of УК Чужая may assign its tickets to this engineer of theirs
    stranger = await _token(services, "stranger")
    assert disp_id in [e.id for e in await services.desk.engineers(stranger)]
    # the API token keeps working in the user's own company
    me = await services.auth.user(api_token)
    assert (me.company_name, me.role) == ("УК Тест", Role.DISPATCHER)

    # the administrator there makes them a reader dispatcher: the next request sees it
    await services.members.update(b_admin, disp_id, "dispatcher", True)
    now = await services.auth.user(disp)
    assert (now.company_name, now.role, now.reader) == ("УК Чужая", Role.DISPATCHER, True)

    await services.members.remove(b_admin, disp_id)
    now = await services.auth.user(disp)
    assert (now.company_name, now.role, now.reader) == ("УК Тест", Role.DISPATCHER, False)
    assert [c.name for c in await services.members.choices(disp)] == ["УК Тест"]

    actions = [(r["action"], json.loads(r["after"]) if r["after"] else None)
               for r in registry.all("SELECT action, after FROM audit_log WHERE action LIKE 'member.%' "
                                     "OR action = 'profile.company' ORDER BY id")]
    assert actions == [("member.add", {"login": "disp", "reader": False, "role": "engineer"}),
                       ("profile.company", {"company": "УК Чужая"}),
                       ("member.update", {"reader": True, "role": "dispatcher"}),
                       ("member.remove", None)]


async def test_what_is_refused(world) -> None:
    services, registry = world
    b_admin, disp, admin = [await _token(services, login) for login in ("b-admin", "disp", "admin")]
    with pytest.raises(InvalidInput, match="login: no user 'nobody'"):
        await services.members.add(b_admin, "nobody", "engineer")
    with pytest.raises(InvalidInput, match="role: one of"):
        await services.members.add(b_admin, "disp", "boss")
    with pytest.raises(InvalidInput, match="is a user of this company already"):
        await services.members.add(admin, "disp", "engineer")
    with pytest.raises(Forbidden):  # only an administrator adds members
        await services.members.add(disp, "b-admin", "engineer")
    await services.members.add(b_admin, "disp", "engineer")
    with pytest.raises(InvalidInput, match="works in this company already"):
        await services.members.add(b_admin, "disp", "dispatcher")
    other = registry.one("SELECT id FROM companies WHERE name = 'УК Чужая'")["id"]
    with pytest.raises(InvalidInput, match="not a company you work in"):
        await services.members.choose(admin, other)
    with pytest.raises(NotFound):  # the administrator of УК Тест has no member 'disp'
        await services.members.remove(admin, registry.one("SELECT id FROM users WHERE login = 'disp'")["id"])
