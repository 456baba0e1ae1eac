"""Users administration through the service layer over a real registry: only an administrator
of the company manages its users; blocking and password resets end sessions; every change is
audit-logged with the state before and after, never a password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloud.seed import UserSeed, seed_company
from cloud.services.auth import AuthService
from cloud.services.models import AuthError, Forbidden, InvalidInput, NotFound, Role
from cloud.services.users import UsersService
from cloud.storage.registry import Registry
from tests.cloud_data import USERS


@pytest.fixture
def svc(tmp_path: Path) -> tuple[UsersService, AuthService, Registry]:
    registry = Registry(tmp_path / "registry.db")
    seed_company(registry, "УК Тест", "Казань", USERS)
    seed_company(registry, "УК Чужая", "Казань", (UserSeed("stranger", "Чужой", "dispatcher", "x-pass-long"),))
    auth = AuthService(registry)
    return UsersService(registry, auth), auth, registry


async def test_administrator_manages_own_company(svc) -> None:
    users, auth, registry = svc
    admin = (await auth.login("admin", "admin-pass")).token
    assert [u.login for u in await users.list(admin)] == ["admin", "disp", "reader"]
    created = await users.create(admin, "Operator.1", "Оператор Первый", "engineer", False, "first-pass-1")
    assert (created.login, created.role, created.reader, created.blocked) == ("operator.1", Role.ENGINEER, False, False)
    session = (await auth.login("operator.1", "first-pass-1")).token
    assert (await auth.user(session)).full_name == "Оператор Первый"

    await users.set_blocked(admin, created.id, True)
    with pytest.raises(AuthError):
        await auth.user(session)  # the running session ends at once
    with pytest.raises(AuthError, match="blocked"):
        await auth.login("operator.1", "first-pass-1")
    await users.set_blocked(admin, created.id, False)
    session = (await auth.login("operator.1", "first-pass-1")).token

    await users.reset_password(admin, created.id, "second-pass-2")
    with pytest.raises(AuthError):
        await auth.user(session)
    with pytest.raises(AuthError):
        await auth.login("operator.1", "first-pass-1")
    await auth.login("operator.1", "second-pass-2")

    updated = await users.update(admin, created.id, role="dispatcher", reader=True)
    assert (updated.role, updated.reader) == (Role.DISPATCHER, True)

    log = await users.audit_log(admin)
    assert [e.action for e in log] == ["user.update", "user.reset_password", "user.unblock", "user.block",
                                      "user.create"]
    assert all(e.user_login == "admin" and e.object == f"user:{created.id}" for e in log)
    assert log[0].before is not None
    assert log[0].after is not None
    assert (log[0].before["role"], log[0].after["role"], log[0].after["reader"]) == ("engineer", "dispatcher", True)
    assert (log[3].before["blocked"], log[3].after["blocked"]) == (False, True)
    assert log[4].before is None
    stored = json.dumps([r["after"] for r in registry.all("SELECT after FROM audit_log")])
    assert "second-pass-2" not in stored
    assert "scrypt" not in stored


async def test_only_an_administrator_of_the_company(svc) -> None:
    users, auth, registry = svc
    for login, password in (("disp", "disp-pass"), ("reader", "reader-pass")):
        token = (await auth.login(login, password)).token
        with pytest.raises(Forbidden):
            await users.list(token)
        with pytest.raises(Forbidden):
            await users.create(token, "newbie", "Новичок", "dispatcher", False, "long-enough")
    admin = (await auth.login("admin", "admin-pass")).token
    stranger = registry.one("SELECT id FROM users WHERE login = 'stranger'")["id"]
    for call in (users.set_blocked(admin, stranger, True), users.reset_password(admin, stranger, "long-enough"),
                 users.update(admin, stranger, role="engineer")):
        with pytest.raises(NotFound):
            await call
    assert registry.one("SELECT blocked FROM users WHERE id = ?", stranger)["blocked"] == 0
    assert registry.one("SELECT count(*) AS n FROM audit_log")["n"] == 0  # refused calls change and log nothing


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"login": "x"}, "login"),
    ({"login": "admin"}, "taken"),
    ({"role": "boss"}, "role"),
    ({"password": "short"}, "password"),
    ({"full_name": " "}, "full_name"),
])
async def test_create_refuses_bad_input(svc, kwargs: dict, field: str) -> None:
    users, auth, _ = svc
    admin = (await auth.login("admin", "admin-pass")).token
    args = {"login": "valid.login", "full_name": "Имя", "role": "dispatcher", "reader": False,
            "password": "long-enough"} | kwargs
    with pytest.raises(InvalidInput, match=field):
        await users.create(admin, **args)


async def test_administrator_keeps_own_rights(svc) -> None:
    users, auth, registry = svc
    admin = (await auth.login("admin", "admin-pass")).token
    me = registry.one("SELECT id FROM users WHERE login = 'admin'")["id"]
    with pytest.raises(InvalidInput):
        await users.set_blocked(admin, me, True)
    with pytest.raises(InvalidInput):
        await users.update(admin, me, role="dispatcher")
    with pytest.raises(InvalidInput):
        await users.update(admin, me, reader=True)
