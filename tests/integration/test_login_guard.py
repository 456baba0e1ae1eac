"""Login throttling and lockout (cloud/services/login_guard.py), tokens issued to who uses them
and administrators kept out of operational data (manual 2.3), over a real registry and a clock
the test moves. The delays are the module's rule worked by hand: failures 1-5 of an account are
free; after failure n >= 5 the next attempt waits 2 ** (n - 5) s; failure 10 locks the account."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.seed import UserSeed, seed_company
from cloud.services.api_tokens import ApiTokenService
from cloud.services.auth import AuthService
from cloud.services.commands import CommandService
from cloud.services.models import AuthError, Forbidden, InvalidInput, LoginThrottled, NotFound, Session
from cloud.services.users import UsersService
from cloud.storage.registry import Registry
from tests.cloud_data import USERS

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def world(tmp_path: Path):
    registry = Registry(tmp_path / "registry.db")
    seed_company(registry, "УК Тест", "Казань", USERS)
    seed_company(registry, "УК Чужая", "Казань", (UserSeed("b-admin", "Админ Б", "administrator", "b-pass-long"),))
    clock = Clock()
    auth = AuthService(registry, clock=clock)
    return registry, auth, UsersService(registry, auth), clock


async def _wrong(auth: AuthService, login: str, address: str = "10.0.0.1") -> str:
    """One wrong-password attempt: "failed" (checked and wrong) or "throttled" (refused unchecked)."""
    try:
        await auth.login(login, "not-the-password", address)
    except LoginThrottled:
        return "throttled"
    except AuthError:
        return "failed"
    raise AssertionError("a wrong password was accepted")


async def test_thirty_quick_guesses_check_only_five_passwords_and_the_right_one_then_waits(world) -> None:
    registry, auth, _users, clock = world
    outcomes = [await _wrong(auth, "disp") for _ in range(30)]  # the issue's probe: 30 in under 2 s
    assert outcomes == ["failed"] * 5 + ["throttled"] * 25  # 5 free, then 2 ** (5 - 5) = 1 s to wait
    # one audit entry for the burst, when its delays started; none for the 25 refusals
    assert [r["action"] for r in registry.all("SELECT action FROM audit_log")] == ["user.login_throttled"]
    with pytest.raises(LoginThrottled) as caught:
        await auth.login("disp", "disp-pass", "10.0.0.1")  # even the right password waits
    assert (caught.value.wait_s, caught.value.locked) == (1, False)
    clock.advance(1)
    assert (await auth.login("disp", "disp-pass", "10.0.0.1")).user.login == "disp"
    assert await _wrong(auth, "disp") == "failed"  # the success reset the count: free again


async def test_growing_delays_then_a_lock_the_administrator_lifts(world) -> None:
    registry, auth, users, clock = world
    for _ in range(5):
        assert await _wrong(auth, "disp") == "failed"
    # failures 6..10 each after the delay the previous one set: 1, 2, 4, 8, 16 s (31 s in all)
    for delay in (1, 2, 4, 8, 16):
        clock.advance(delay - 0.5)
        assert await _wrong(auth, "disp") == "throttled"
        clock.advance(0.5)
        assert await _wrong(auth, "disp") == "failed"
    clock.advance(24 * 3600)  # a lock does not wear off
    with pytest.raises(LoginThrottled) as caught:
        await auth.login("disp", "disp-pass", "10.0.0.2")
    assert caught.value.locked
    admin = (await auth.login("admin", "admin-pass", "10.0.0.9")).token
    listed = {u.login: u for u in await users.list(admin)}
    assert listed["disp"].login_locked
    assert not listed["admin"].login_locked
    stranger_admin = (await auth.login("b-admin", "b-pass-long", "10.0.0.9")).token
    with pytest.raises(NotFound):
        await users.unlock(stranger_admin, listed["disp"].id)
    disp_reader = (await auth.login("reader", "reader-pass", "10.0.0.9")).token
    with pytest.raises(Forbidden):
        await users.unlock(disp_reader, listed["disp"].id)
    await users.unlock(admin, listed["disp"].id)
    assert (await auth.login("disp", "disp-pass", "10.0.0.2")).user.login == "disp"
    audit = [(r["action"], r["user_id"], json.loads(r["after"]))
             for r in registry.all("SELECT * FROM audit_log WHERE action LIKE 'user.login%' ORDER BY id")]
    # one entry when the delays start (failure 5, next wait 2 ** 0 = 1 s), one at the lock, one for the
    # unlock: the eleven refused attempts above write none
    assert audit == [("user.login_throttled", listed["disp"].id,
                      {"login": "disp", "address": "10.0.0.1", "failures": 5, "wait_s": 1}),
                     ("user.login_locked", listed["disp"].id, {"login": "disp", "address": "10.0.0.1", "failures": 10}),
                     ("user.login_unlock", listed["admin"].id, {"login_locked": False})]


async def test_thirty_guesses_at_once_check_only_five_passwords(world) -> None:
    registry, auth, _users, clock = world
    # all 30 in flight together (the issue's probe, in parallel): each attempt is counted before its
    # password is checked, so the 6th..30th find 5 failures and a 1 s wait, as in a row
    outcomes = await asyncio.gather(*(_wrong(auth, "disp") for _ in range(30)))
    assert sorted(outcomes) == ["failed"] * 5 + ["throttled"] * 25
    assert registry.one("SELECT failures FROM login_failures WHERE kind = 'login'")["failures"] == 5
    assert registry.one("SELECT failures FROM login_failures WHERE kind = 'address'")["failures"] == 5
    clock.advance(1)
    # the right password with two wrong ones at once: whichever is counted first (as failure 6) is the
    # only one checked; the other two find a 2 ** (6 - 5) = 2 s wait
    right, *wrong = await asyncio.gather(auth.login("disp", "disp-pass", "10.0.0.1"), _wrong(auth, "disp"),
                                         _wrong(auth, "disp"), return_exceptions=True)
    assert isinstance(right, Session | LoginThrottled)
    checked = [isinstance(right, Session)] + [o == "failed" for o in wrong]
    assert checked.count(True) == 1
    assert not isinstance(right, LoginThrottled) or (right.wait_s, right.locked) == (2, False)


async def test_an_unknown_login_is_throttled_alike(world) -> None:
    _registry, auth, _users, _clock = world
    assert [await _wrong(auth, "nobody") for _ in range(7)] == ["failed"] * 5 + ["throttled"] * 2


async def test_a_login_locked_before_it_existed_starts_afresh_as_a_new_user(world) -> None:
    _registry, auth, users, clock = world
    for _ in range(10):  # failures 1..10 of a login nobody has yet, each after the delay the one before set
        assert await _wrong(auth, "newbie") == "failed"
        clock.advance(16)  # >= 2 ** (9 - 5) = 16 s, the longest delay before failure 10
    with pytest.raises(LoginThrottled) as caught:
        await auth.login("newbie", "newbie-pass", "10.0.0.2")
    assert caught.value.locked  # locked like an existing account: the answers do not tell it is unknown
    admin = (await auth.login("admin", "admin-pass")).token
    created = await users.create(admin, "newbie", "Новый Сотрудник", "dispatcher", False, "newbie-pass")
    assert not created.login_locked
    assert (await auth.login("newbie", "newbie-pass", "10.0.0.2")).user.login == "newbie"


async def test_one_address_guessing_many_logins_is_slowed_down(world) -> None:
    _registry, auth, _users, clock = world
    # 4 logins x 5 failures = 20, the address's free failures; every login stays under its own limit
    for login in ("a1", "a2", "a3", "a4"):
        assert [await _wrong(auth, login, "10.6.6.6") for _ in range(5)] == ["failed"] * 5
    assert await _wrong(auth, "a5", "10.6.6.6") == "throttled"  # 2 ** (20 - 20) = 1 s
    assert await _wrong(auth, "a5", "10.7.7.7") == "failed"  # another address is not held back
    clock.advance(1)
    assert await _wrong(auth, "a5", "10.6.6.6") == "failed"  # failure 21: the next waits 2 s
    clock.advance(3600)  # an hour without failures: the address's count is forgotten
    assert await _wrong(auth, "a6", "10.6.6.6") == "failed"
    assert await _wrong(auth, "a6", "10.6.6.6") == "failed"


async def test_an_integration_account_never_logs_in_and_owns_the_tokens_an_administrator_makes(world) -> None:
    registry, auth, users, _clock = world
    admin = (await auth.login("admin", "admin-pass")).token
    account = await users.create(admin, "int-1c", "Интеграция 1С", "dispatcher", False, "", integration=True)
    assert account.integration
    with pytest.raises(AuthError):
        await auth.login("int-1c", "")
    tokens = ApiTokenService(registry, auth)
    made = await tokens.create(admin, account.id, "1С")
    disp_id = registry.one("SELECT id FROM users WHERE login = 'disp'")["id"]
    with pytest.raises(Forbidden):  # the finding: an administrator minted a dispatcher's token
        await tokens.create(admin, disp_id, "as the dispatcher")
    disp = (await auth.login("disp", "disp-pass")).token
    own = await tokens.create(disp, disp_id, "мой скрипт")
    assert [t.name for t in await tokens.list(disp)] == ["мой скрипт"]  # a user sees their own tokens only
    assert sorted(t.name for t in await tokens.list(admin)) == ["1С", "мой скрипт"]
    with pytest.raises(Forbidden):
        await tokens.revoke(disp, made.info.id)
    await tokens.revoke(disp, own.info.id)
    caller = await auth.user(made.token)
    assert (caller.login, caller.via_token) == ("int-1c", made.info.id)
    with pytest.raises(InvalidInput):
        await users.create(admin, "int-admin", "Интеграция", "administrator", False, "", integration=True)


async def test_an_administrator_sees_no_commands_and_the_audit_names_the_token(world, tmp_path: Path) -> None:
    from cloud.seed import BuildingSeed, seed_building
    registry, auth, users, _clock = world
    company = registry.one("SELECT id FROM companies WHERE name = 'УК Тест'")["id"]
    seed_building(registry, company, BuildingSeed(
        site="test", address="ул. Тестовая, 1", city="Казань", time_zone="Europe/Moscow",
        heat_meter_serial="307T0001", heat_meter_model="KARAT-307",
        heat_meter_communicator="Modbus TCP 10.0.0.1:502 #1", premises=()))
    meter = registry.one("SELECT id FROM meters WHERE serial = '307T0001'")["id"]
    now = datetime.now(UTC)
    commands = CommandService(registry, auth)
    admin = (await auth.login("admin", "admin-pass")).token
    account = await users.create(admin, "int-scada", "SCADA", "dispatcher", False, "", integration=True)
    token = (await ApiTokenService(registry, auth).create(admin, account.id, "scada")).token
    hour = (int(now.timestamp()) // 3600 - 2) * 3600  # two hours back: inside the 45-day hourly archive
    issued = await commands.issue(token, "backfill", meter_id=meter, args={"kind": "hour", "from": hour, "to": hour})
    row = registry.one("SELECT u.login, a.via FROM audit_log a JOIN users u ON u.id = a.user_id "
                       "WHERE a.action = 'command.issue'")
    assert (row["login"], row["via"]) == ("int-scada", f"api_token:{(await auth.user(token)).via_token}")
    assert issued.created_by == "int-scada"
    with pytest.raises(NotFound):  # the finding: the command log with its results was an admin's to read
        await commands.list(admin)
    with pytest.raises(NotFound):
        await commands.get(admin, issued.id)
    # the backfill bounds: 1e15 s is year 31,690,708; the KARAT-307 keeps 1080 hours = 45 days
    for bad, field in (({"from": 10**15, "to": 10**15}, "args.from"), ({"from": hour, "to": hour + 7 * 86400},
                                                                      "args.to"),
                       ({"from": hour - 46 * 86400, "to": hour}, "args.from")):
        with pytest.raises(InvalidInput, match=field):
            await commands.issue(token, "backfill", meter_id=meter, args={"kind": "hour", **bad})
    within = hour - 44 * 86400
    assert (await commands.issue(token, "backfill", meter_id=meter,
                                 args={"kind": "hour", "from": within, "to": hour})).args["from"] == within
