"""A change per rule of the manual as every role, over /api/v1 (manual 2.3, 4.5, 4.6): made or refused.

The rules: the settings of 4.6 and the heating season, notices and power limits of 4.5 are changed by a
dispatcher only (4.6: «Редактирование данных в разделе осуществляется пользователем с ролью «диспетчер»»);
service procedures, commands to a device and adding meters are the service engineer's (2.3, 4.5.1); desk
tickets are the dispatcher's and the engineer's (4.5.9); users and the company card the administrator's
(4.6.14, 4.6.15). The reader status refuses every change whatever the role (2.3). Each role's test runs on a
fresh seed, so the same body that one role is refused is accepted from the role the manual names: the
refusal is the role's, not a bad request's. tests/integration/test_role_matrix_api.py covers the reads.
"""

from __future__ import annotations

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
from tests import cloud_data
from tests.support_api import shared_app

# "reader" is an engineer with reader status (tests/cloud_data.py USERS); the status overrides any role (2.3)
EXTRA_USERS = (UserSeed("eng", "Инженер Тест", "engineer", "eng-pass"),
               UserSeed("disp-reader", "Диспетчер Читатель", "dispatcher", "dr-pass", reader=True),
               UserSeed("admin-reader", "Админ Читатель", "administrator", "ar-pass", reader=True))
PASSWORDS = cloud_data.PASSWORDS | {u.login: u.password for u in EXTRA_USERS}
ROLES = ("disp", "eng", "admin", "reader", "disp-reader", "admin-reader")
DISP, ENG, ADMIN = frozenset({"disp"}), frozenset({"eng"}), frozenset({"admin"})
DESK = frozenset({"disp", "eng"})
CARD = {"legal_name": "ООО «УК Тест»", "inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195",
        "phone": "8 843 123 45 67", "email": "admin@uk-test.ru"}


@dataclass(frozen=True)
class Write:
    name: str
    method: str
    path: str  # {b}, {p}, {m}, {m2}, {city}, {user}: the seed's building, premise 1, building meter, apartment 1's
    body: object  # meter, the building's city, the dispatcher; the same placeholders inside strings of the body
    allowed: frozenset[str]  # the roles the manual lets make it (reader status: none)
    manual: str


WRITES = (
    Write("premise", "post", "/api/v1/buildings/{b}/premises", {"number": "99", "area_m2": 40.0, "residents": 1},
          DISP, "3.6 б), 4.6.3"),
    Write("premise account", "put", "/api/v1/objects/premises/{p}/account", {"account": "77-1"}, DISP, "4.6.9"),
    Write("activation code", "post", "/api/v1/objects/premises/{p}/activation-code", None, DISP, "4.6.3"),
    Write("deviation rule", "put", "/api/v1/buildings/{b}/deviation-rules/heat/Q",
          {"enabled": True, "rule": "mean3d", "direction": "both", "tolerance": 40, "tolerance_unit": "percent"},
          DISP, "4.2.1, 4.6.7"),
    Write("balance group", "post", "/api/v1/buildings/{b}/balance-groups",
          {"name": "Стояк", "resource": "heat", "root_meter_id": "{m}", "members": [{"meter_id": "{m2}", "sign": "+"}]},
          DISP, "4.6.6"),
    Write("balance signs", "put", "/api/v1/buildings/{b}/balance-signs", [{"meter_id": "{m2}", "sign": "excluded"}],
          DISP, "4.6.5"),
    Write("temperature schedule", "delete", "/api/v1/buildings/{b}/temperature-schedule", None, DISP, "4.6.8"),
    Write("imbalance limit", "put", "/api/v1/imbalance-limits",
          [{"building_id": "{b}", "resource": "heat", "percent": 20}], DISP, "4.6.10"),
    Write("norm", "put", "/api/v1/norms/heat", {"value": 0.02}, DISP, "4.6"),
    Write("relay threshold", "put", "/api/v1/settings/relay-thresholds/cities/{city}", {"threshold_w": 5000},
          DISP, "4.6.11"),
    Write("deadline", "put", "/api/v1/operation-deadlines/repair/repair", {"days": 21}, DISP, "4.6.12"),
    Write("subscription", "post", "/api/v1/event-subscriptions",
          {"meter_types": ["common"], "effects": ["integrity"], "severities": ["alarm"], "email": "x@example.com"},
          DISP, "4.6, 4.6.13"),
    Write("billing centre", "post", "/api/v1/billing-centres",
          {"name": "РЦ Тест", "url": "https://rc.example.com/api", "token": "rc-token", "submission_day": 20},
          DISP, "4.6"),
    Write("gis numbers", "put", "/api/v1/buildings/{b}/gis-numbers",
          {"numbers": [{"serial": "223T0002", "gis_number": "N-2"}]}, DISP, "4.6"),
    Write("heating season", "post", "/api/v1/heating-seasons",
          {"building_ids": ["{b}"], "season": "heating", "starts_on": "2025-10-01"}, DISP, "4.5.7"),
    Write("notice", "post", "/api/v1/notices",
          {"title": "Отключение", "body": "b", "building_ids": ["{b}"], "relevant_from": "2026-01-14"},
          DISP, "4.5.10"),
    Write("desk ticket", "post", "/api/v1/desk/tickets", {"building_id": "{b}", "description": "Течь в подвале"},
          DESK, "4.5.9"),
    Write("service procedure", "post", "/api/v1/meters/{m}/procedures", {"kind": "verification"}, ENG, "2.3, 4.5.2"),
    Write("device command", "post", "/api/v1/commands", {"type": "time_sync", "meter_id": "{m}"}, ENG, "2.3"),
    Write("new meter", "post", "/api/v1/meters",
          {"building_id": "{b}", "serial": "941E0001", "model": "KARAT-941LW", "role": "common",
           "communicator": "LoRaWAN 00000000000000e1"}, ENG, "4.5.1, 3.6 в)"),
    Write("company card", "put", "/api/v1/company/card", CARD, ADMIN, "4.6.15"),
    Write("user", "patch", "/api/v1/users/{user}", {"full_name": "Диспетчер Тестов"}, ADMIN, "4.6.14"),
    Write("city", "post", "/api/v1/cities", {"name": "Зеленодольск", "time_zone": "Europe/Moscow"}, ADMIN, "4.6.15"),
)
# where the code disagrees with the manual: (write, role) -> what the manual says and what the code does
DISAGREES = {
    ("new meter", "disp"): "4.5.1: «Добавлять новые приборы учета пользователь с правами “сервис-инженер”»; "
                           "POST /api/v1/meters (cloud/services/meters_admin.py create: require_writer) takes it "
                           "from a dispatcher (201), while the wizard (/api/v1/wizard/meters) refuses one",
    ("subscription", "eng"): "4.6: the section's data are edited by a dispatcher; POST /api/v1/event-subscriptions "
                             "(cloud/services/events.py _owner: require_writer) takes an engineer's (201)",
}


@dataclass
class World:
    client: httpx.AsyncClient
    app: FastAPI
    services: Services
    tokens: dict[str, str]  # login -> API token
    ids: dict[str, int]


@pytest.fixture(name="world")
async def world_fixture(clickhouse: ClickHouse, tmp_path: Path) -> AsyncIterator[World]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Тест", "Казань", EXTRA_USERS)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {}
    for login in ROLES:  # each user's own API token, as cloud_data.own_tokens
        session = (await services.auth.login(login, PASSWORDS[login])).token
        user_id = registry.one("SELECT id FROM users WHERE login = ?", login)["id"]
        tokens[login] = (await services.api_tokens.create(session, user_id, f"{login} integration")).token
    app = shared_app(services, clickhouse)
    b = seeded.building_id

    def one(sql: str, *args: object) -> int:
        row = registry.one(sql, *args)
        assert row is not None, sql
        return int(row[0])
    ids = {"b": b, "p": one("SELECT id FROM premises WHERE building_id = ? AND number = '1'", b),
           "m": one("SELECT id FROM meters WHERE serial = '307T0001'"),
           "m2": one("SELECT id FROM meters WHERE serial = '223T0001'"),
           "city": one("SELECT city_id FROM buildings WHERE id = ?", b),
           "user": one("SELECT id FROM users WHERE login = 'disp'")}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield World(client, app, services, tokens, ids)


def _fill(value: object, ids: dict[str, int]) -> object:
    """The body with "{b}"-style placeholders replaced by the seed's ids."""
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


async def _outcome(world: World, write: Write, role: str) -> str:
    """"made" (2xx), "refused" (403; 404 for an administrator, who does not see operational data), or the
    status and the start of the answer."""
    answer = await world.client.request(write.method, write.path.format(**world.ids),
                                        json=_fill(write.body, world.ids),
                                        headers={"Authorization": f"Bearer {world.tokens[role]}"})
    if 200 <= answer.status_code < 300:
        return "made"
    if answer.status_code == 403 or (answer.status_code == 404 and role == "admin"):
        return "refused"
    return f"{answer.status_code} {answer.text[:100]}"


def _expected(write: Write, role: str) -> str:
    return "made" if role in write.allowed else "refused"


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_makes_or_is_refused_each_change_as_the_manual_says(world: World, role: str) -> None:
    wrong = {}
    for write in WRITES:
        if (write.name, role) in DISAGREES:
            continue
        outcome, expected = await _outcome(world, write, role), _expected(write, role)
        if outcome != expected:
            wrong[f"{write.name} ({write.manual})"] = f"expected {expected}, got {outcome}"
    assert not wrong, "\n".join(f"{name}: {what}" for name, what in wrong.items())


@pytest.mark.parametrize(("name", "role"), [
    pytest.param(name, role, marks=pytest.mark.xfail(strict=True, reason=reason))
    for (name, role), reason in DISAGREES.items()])
async def test_where_the_code_disagrees_with_the_manual(world: World, name: str, role: str) -> None:
    write = next(w for w in WRITES if w.name == name)
    assert await _outcome(world, write, role) == _expected(write, role)
