"""Residents and activation codes (manual 4.6.3) on a real SQLite registry: a code registers one
resident once, is valid for a week (its last moment included), is replaced by a newer one; group
generation skips premises whose code was activated; writes are refused for readers and other
companies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.services.auth import AuthService
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.services.residents import VALID_DAYS, ResidentsService
from cloud.storage.registry import Registry
from tests.cloud_data import USERS


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def env(tmp_path: Path):
    registry = Registry(tmp_path / "registry.db")
    a = seed_company(registry, "УК Тест", "Казань", USERS)
    b = seed_company(registry, "УК Чужая", "Казань", (UserSeed("stranger", "Чужой", "dispatcher", "x-pass-long"),))
    building = seed_building(registry, a, BuildingSeed(
        "test", "ул. Тестовая, 1", "Казань", "Europe/Moscow", "307T0001", "KARAT-307", "Modbus TCP",
        tuple(PremiseSeed(str(n), 50.0, 2, f"223T000{n}", "KARAT-Compact-2-223", "LoRaWAN") for n in (1, 2, 3))))
    seed_building(registry, b, BuildingSeed("other", "ул. Чужая, 2", "Казань", "Europe/Moscow", "307X0001",
                                            "KARAT-307", "Modbus TCP", ()))
    premises = [r[0] for r in registry.all("SELECT id FROM premises WHERE building_id = ? ORDER BY id", building)]
    auth = AuthService(registry)
    tokens = {login: auth.login_sync(login, pw).token for login, pw in (
        ("disp", "disp-pass"), ("reader", "reader-pass"), ("admin", "admin-pass"), ("stranger", "x-pass-long"))}
    clock = Clock()
    return ResidentsService(registry, auth, clock=clock), registry, tokens, building, premises, clock


async def test_a_code_registers_one_resident_once(env) -> None:
    svc, registry, tokens, building, premises, _clock = env
    code = await svc.generate(tokens["disp"], premises[0])
    assert code.expires_at - code.created_at == timedelta(days=VALID_DAYS)
    assert code.state == "active"
    resident = await svc.register(code.code.lower().replace("-", " "), "Owner@Example.org", " Иван  Петров ",
                                  "+7 900 123-45-67", "resident-pass-1")
    assert (resident.email, resident.full_name, resident.registered, resident.premise_ids) == (
        "owner@example.org", "Иван Петров", True, (premises[0],))
    with pytest.raises(InvalidInput, match=r"^code: this activation code has been used already"):
        await svc.register(code.code, "second@example.org", "Второй", "", "resident-pass-2")
    assert [c.state for c in await svc.codes(tokens["reader"], building)] == ["activated"]

    # the same person registers a second premise with its own code and the same password
    second = await svc.generate(tokens["disp"], premises[1])
    with pytest.raises(InvalidInput, match=r"^password: this e-mail is registered with another password"):
        await svc.register(second.code, "owner@example.org", "Иван Петров", "", "wrong-pass-99")
    again = await svc.register(second.code, "owner@example.org", "Иван Петров", "", "resident-pass-1")
    assert again.id == resident.id
    assert again.premise_ids == (premises[0], premises[1])
    assert [r.email for r in await svc.residents(tokens["disp"], building)] == ["owner@example.org"]
    with pytest.raises(InvalidInput, match=r"^code: unknown activation code"):
        await svc.register("AAAA-BBBB-CCCC", "x@example.org", "X", "", "resident-pass-3")

    log = registry.all("SELECT user_id, action, object, after FROM audit_log ORDER BY id")
    assert [(r["action"], r["object"]) for r in log] == [
        ("activation_code.create", f"premise:{premises[0]}"), ("resident.register", f"premise:{premises[0]}"),
        ("activation_code.create", f"premise:{premises[1]}"), ("resident.register", f"premise:{premises[1]}")]
    assert log[1]["user_id"] is None
    assert "owner@example.org" in log[1]["after"]
    assert all(code.code not in (r["after"] or "") for r in log)  # the code is a credential: never logged


async def test_codes_expire_and_a_new_code_replaces_the_old(env) -> None:
    svc, _, tokens, building, premises, clock = env
    old = await svc.generate(tokens["disp"], premises[0])
    clock.now += timedelta(hours=1)
    new = await svc.generate(tokens["disp"], premises[0])
    with pytest.raises(InvalidInput, match=r"^code: this activation code has expired"):
        await svc.register(old.code, "a@example.org", "А", "", "resident-pass-1")  # replaced: no longer valid
    # the new one was issued on 1 March at 13:00 UTC: valid up to 8 March 13:00:00 inclusive
    clock.now = datetime(2026, 3, 8, 13, 0, 1, tzinfo=UTC)
    with pytest.raises(InvalidInput, match=r"^code: this activation code has expired"):
        await svc.register(new.code, "a@example.org", "А", "", "resident-pass-1")
    assert [c.state for c in await svc.codes(tokens["disp"], building)] == ["expired"]
    clock.now = datetime(2026, 3, 8, 13, 0, 0, tzinfo=UTC)
    assert (await svc.register(new.code, "a@example.org", "А", "", "resident-pass-1")).premise_ids == (premises[0],)


async def test_a_code_is_valid_for_a_week_including_its_last_moment(env) -> None:
    """Manual 4.6.3: codes are generated "сроком действия одну неделю" and shown with their period
    of validity. The week runs from creation to creation + 7 days, both ends included: a code
    issued on 1 March 2026 at 12:00:00 UTC is accepted on 8 March (1 + 7) at 12:00:00 and refused
    one second later, at 12:00:01."""
    svc, _, tokens, building, premises, clock = env
    first = await svc.generate(tokens["disp"], premises[0])
    second = await svc.generate(tokens["disp"], premises[1])
    assert first.expires_at == datetime(2026, 3, 8, 12, 0, 0, tzinfo=UTC)
    clock.now = datetime(2026, 3, 8, 12, 0, 0, tzinfo=UTC)  # exactly 7 days after both were issued
    assert [c.state for c in await svc.codes(tokens["disp"], building)] == ["active", "active"]
    assert (await svc.register(first.code, "e@example.org", "Е", "", "resident-pass-1")).premise_ids == (premises[0],)
    clock.now = datetime(2026, 3, 8, 12, 0, 1, tzinfo=UTC)  # 7 days + 1 s
    with pytest.raises(InvalidInput, match=r"^code: this activation code has expired"):
        await svc.register(second.code, "f@example.org", "Ф", "", "resident-pass-1")
    assert [c.state for c in await svc.codes(tokens["disp"], building)] == ["activated", "expired"]


async def test_group_generation_skips_activated_premises(env) -> None:
    svc, _, tokens, building, premises, _ = env
    code = await svc.generate(tokens["disp"], premises[1])
    await svc.register(code.code, "b@example.org", "Б", "", "resident-pass-1")
    group = await svc.generate_for_building(tokens["disp"], building)
    assert [c.premise_id for c in group] == [premises[0], premises[2]]
    assert len({c.code for c in group}) == 2
    states = {c.premise_id: c.state for c in await svc.codes(tokens["disp"], building)}
    assert states == {premises[0]: "active", premises[1]: "activated", premises[2]: "active"}


async def test_staff_adds_an_owner_who_registers_later(env) -> None:
    svc, _, tokens, _building, premises, _ = env
    owner = await svc.add_owner(tokens["disp"], premises[2], "c@example.org", "Сидоров", "")
    assert owner.registered is False
    code = await svc.generate(tokens["disp"], premises[2])
    registered = await svc.register(code.code, "c@example.org", "Сидоров С.", "", "resident-pass-1")
    assert (registered.id, registered.registered, registered.full_name) == (owner.id, True, "Сидоров С.")


async def test_writes_are_refused_to_readers_administrators_and_other_companies(env) -> None:
    svc, registry, tokens, building, premises, _ = env
    writes = (lambda t: svc.generate(t, premises[0]), lambda t: svc.generate_for_building(t, building),
              lambda t: svc.add_owner(t, premises[0], "d@example.org", "Д"))
    for call in writes:
        for who in ("reader", "admin"):
            with pytest.raises(Forbidden):
                await call(tokens[who])
        with pytest.raises(NotFound):
            await call(tokens["stranger"])
    for read in (lambda t: svc.codes(t, building), lambda t: svc.residents(t, building)):
        with pytest.raises(NotFound):
            await read(tokens["stranger"])
    assert registry.all("SELECT * FROM audit_log") == []
    assert registry.all("SELECT * FROM activation_codes") == []
