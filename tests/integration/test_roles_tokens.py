"""Roles to the letter of manual 2.3 and bounded commands, over HTTP (issue 12, finding
"administrators ... can read the command log ... and mint a token for a dispatcher", and the
backfill part of "unbounded inputs"): an administrator manages users and settings only and reads
no command; a token acts as the account it was issued to, and the command log and the audit name
that account with the token beside it; a backfill names period starts the device still keeps.

The API runs as in tests/integration/test_api_http.py (its ``world`` fixture, with the service
layer's real clock). Company "УК Тест" is in Europe/Moscow (UTC+3 all year, no DST), its building
meter 307T0001 is a KARAT-307: hourly archive 1080 hours = 45 days, daily 366 days (catalogue).
"""

from __future__ import annotations

import time

import pytest

from tests.integration import test_api_http
from tests.integration.test_api_http import World, _auth

api = test_api_http.world  # its fixture, under the name the tests here ask for

DAY = 86_400


def _moscow_midnight_today() -> int:
    """Today's (UTC date) Moscow midnight as epoch seconds: UTC midnight minus 3 h, never after now."""
    return int(time.time()) // DAY * DAY - 3 * 3600


def _meter(world: World) -> int:
    return world.registry.one("SELECT id FROM meters WHERE serial = '307T0001'")["id"]


async def _backfill(world: World, token: str, kind: str, first: int, last: int, **extra):
    body = {"type": "backfill", "meter_id": _meter(world), "args": {"kind": kind, "from": first, "to": last}, **extra}
    return await world.client.post("/api/v1/commands", json=body, headers=_auth(token))


async def test_an_administrator_reads_no_command_over_http(api: World) -> None:
    hour = int(time.time()) // 3600 * 3600 - 48 * 3600  # two days back: a whole Moscow hour, inside 45 days
    issued = await _backfill(api, api.tokens["disp"], "hour", hour, hour)
    assert issued.status_code == 201, issued.text
    command_id = issued.json()["id"]
    c, admin = api.client, _auth(api.tokens["admin"])
    # the same refusal as for any other operational data (a building): 404, as if there were none
    building = await c.get(f"/api/v1/buildings/{api.a['building']}", headers=admin)
    listed = await c.get("/api/v1/commands", headers=admin)
    got = await c.get(f"/api/v1/commands/{command_id}", headers=admin)
    assert (building.status_code, listed.status_code, got.status_code) == (404, 404, 404)
    assert command_id not in listed.text  # neither the log
    assert '"state"' not in got.text  # nor one command with its result
    posted = await _backfill(api, api.tokens["admin"], "hour", hour, hour)
    assert posted.status_code == 403, posted.text
    # readers (reader status overrides the role) and dispatchers do see the log
    for login in ("reader", "disp"):
        seen = await c.get("/api/v1/commands", headers=_auth(api.tokens[login]))
        assert [x["id"] for x in seen.json()] == [command_id], login


async def test_an_administrator_mints_no_dispatchers_token_and_an_integration_acts_as_itself(api: World) -> None:
    from cloud.services.models import Forbidden
    services, registry = api.services, api.registry
    admin = (await services.auth.login("admin", "admin-pass")).token
    disp_id = registry.one("SELECT id FROM users WHERE login = 'disp'")["id"]
    with pytest.raises(Forbidden, match="integration accounts"):
        await services.api_tokens.create(admin, disp_id, "как диспетчер")
    account = await services.users.create(admin, "int-1c", "Интеграция 1С", "dispatcher", False, "", integration=True)
    made = await services.api_tokens.create(admin, account.id, "1С")
    assert registry.one("SELECT u.login FROM api_tokens t JOIN users u ON u.id = t.created_by WHERE t.id = ?",
                        made.info.id)["login"] == "admin"  # who minted it is kept beside whom it acts as
    me = await api.client.get("/api/v1/me", headers=_auth(made.token))
    assert me.json()["login"] == "int-1c"
    hour = int(time.time()) // 3600 * 3600 - 3600
    issued = await _backfill(api, made.token, "hour", hour, hour)
    assert issued.status_code == 201, issued.text
    assert issued.json()["created_by"] == "int-1c"  # not "disp", not "admin"
    (entry,) = [e for e in await services.users.audit_log(admin) if e.action == "command.issue"]
    assert (entry.user_login, entry.via) == ("int-1c", f"api_token:{made.info.id}")
    # the dispatcher's own token, made by the dispatcher: the audit names the dispatcher and that token
    mine = await api.client.post("/api/v1/commands", headers=_auth(api.tokens["disp"]),
                                 json={"type": "relay", "meter_id": _meter(api), "args": {"on": True}})
    assert mine.status_code == 201, mine.text
    (relay,) = [e for e in await services.users.audit_log(admin) if e.object == f"command:{mine.json()['id']}"]
    disp_token = registry.one("SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id "
                              "WHERE u.login = 'disp'")["id"]
    assert (relay.user_login, relay.via) == ("disp", f"api_token:{disp_token}")


async def test_a_backfill_of_1e15_is_refused_naming_args_from(api: World) -> None:
    for first in (10**15, 1e15):  # an int far past year 9999, and the same as a JSON float
        answer = await _backfill(api, api.tokens["disp"], "hour", first, first)
        assert answer.status_code == 422, answer.text
        assert "args.from" in answer.text
    assert api.registry.one("SELECT count(*) AS n FROM commands")["n"] == 0


async def test_a_backfill_stays_within_the_archive_depth_and_names_period_starts(api: World) -> None:
    disp, midnight = api.tokens["disp"], _moscow_midnight_today()
    # the daily archive keeps 366 days; the oldest accepted start is now - 367 days (one period of slack)
    cases = [
        (midnight - 368 * DAY, midnight, "args.from"),  # 368 days back: before now - 367 days
        (midnight - 300 * DAY, midnight + 2 * DAY, "args.to"),  # the day after tomorrow has not begun
        (midnight - 300 * DAY + 3 * 3600, midnight, "args.from"),  # UTC midnight = 03:00 in Moscow
        (midnight, midnight - DAY, "args.to"),  # from after to
    ]
    for first, last, field in cases:
        answer = await _backfill(api, disp, "day", first, last)
        assert answer.status_code == 422, (first, last, answer.text)
        assert field in answer.text, answer.text
    accepted = await _backfill(api, disp, "day", midnight - 300 * DAY, midnight)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["args"]["from"] == midnight - 300 * DAY
    # hourly: 45 days deep; 46 days back refused, 44 accepted; a half hour is no period start
    hour = int(time.time()) // 3600 * 3600 - 3600
    assert (await _backfill(api, disp, "hour", hour - 46 * DAY, hour)).status_code == 422
    assert (await _backfill(api, disp, "hour", hour + 1800, hour + 1800)).status_code == 422
    assert (await _backfill(api, disp, "hour", hour - 44 * DAY, hour)).status_code == 201


async def test_other_command_arguments_are_bounded(api: World) -> None:
    c, disp, meter = api.client, _auth(api.tokens["disp"]), _meter(api)
    cases = [
        ({"type": "relay", "meter_id": meter, "args": {"on": False, "limit_w": 1_000_001}}, "args.limit_w"),
        ({"type": "relay", "meter_id": meter, "args": {"on": False, "limit_w": -1}}, "args.limit_w"),
        ({"type": "relay", "meter_id": meter, "args": {"on": "off"}}, "args.on"),
        ({"type": "relay", "meter_id": meter, "args": {"on": True}, "ttl_s": 7 * DAY + 1}, "ttl_s"),
        ({"type": "availability", "meter_id": meter, "ttl_s": 59}, "ttl_s"),
    ]
    for body, field in cases:
        answer = await c.post("/api/v1/commands", json=body, headers=disp)
        assert answer.status_code == 422, (body, answer.text)
        assert field in answer.text, answer.text
    ok = await c.post("/api/v1/commands", headers=disp,
                      json={"type": "relay", "meter_id": meter, "args": {"on": False, "limit_w": 1_000_000}})
    assert ok.status_code == 201, ok.text
