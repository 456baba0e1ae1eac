"""Settings «Объекты», «Помещения», «Собственники» and personal accounts (manual 4.6.1-4.6.4, 4.6.9)
over the real registry and chDB: the nearest weather station, the address register check and the
construction-unfinished flag, premises by number ranges (all or nothing when one has meters or
owners), activation codes that expire after exactly one week and skip activated premises, owner
invitations e-mailed through a real SMTP server (aiosmtpd), personal accounts unique in the
company; roles (a dispatcher writes; engineers and readers read; administrators see nothing;
another company's objects are not found) in the service layer and /api/v1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import APIRouter, FastAPI

from cloud import api_objects
from cloud.notifier import SmtpSettings
from cloud.services import audit
from cloud.services.auth import hash_password
from cloud.services.container import Services
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.services.objects import ObjectsService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.conftest import free_port
from tests.support_api import api_client, api_token


class Clock:
    def __init__(self) -> None:
        self.now = cloud_data.NOW  # 2026-01-14 12:00 UTC = 15:00 in Moscow

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    tokens: dict[str, str]
    clock: Clock

    @property
    def objects(self) -> ObjectsService:
        return self.services.objects

    def premise(self, number: str, building: int | None = None) -> int:
        return self.registry.one("SELECT id FROM premises WHERE building_id = ? AND number = ?",
                                 building or self.seeded.building_id, number)["id"]

    def audit(self) -> list[tuple[str, str]]:
        with self.registry.connect() as db:
            return [(e.action, e.object) for e in reversed(audit.entries(db, self.seeded.company_id, 10_000))]


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    with registry.connect() as db:
        db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                   "(?, 'eng', 'Инженер Тест', 'engineer', ?)", (seeded.company_id, hash_password("eng-pass")))
        db.execute("INSERT INTO weather_stations (code, name, latitude, longitude) VALUES "
                   "('kzn', 'Казань, Опорная', 55.79, 49.12), ('far', 'Далёкая', 59.0, 30.0)")
    services = Services.create(registry, clickhouse)
    clock = Clock()
    services.set_clock(clock)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng")}
    return World(services, registry, seeded, tokens, clock)


# --- buildings (4.6.1, 4.6.2) ------------------------------------------------------------------------

async def test_buildings_with_the_nearest_station(world: World) -> None:
    disp, b = world.tokens["disp"], world.seeded.building_id
    (card,) = await world.objects.buildings(world.tokens["eng"])  # not the other company's building
    assert (card.id, card.address, card.premises, card.meters, card.station) == (b, "ул. Тестовая, 1", 2, 3, None)
    card = await world.objects.update_building(disp, b, latitude=55.80, longitude=49.12)
    # 0.01 degree of latitude north of Опорная: 6371 km * pi / 180 * 0.01 = 1.11 km -> 1.1
    assert card.station is not None
    assert (card.station.name, card.station.distance_km) == ("Казань, Опорная", 1.1)
    assert (card.latitude, card.longitude) == (55.80, 49.12)
    with pytest.raises(NotFound):
        await world.objects.building(disp, world.seeded.other_building_id)


async def test_register_check_and_the_construction_unfinished_flag(world: World) -> None:
    disp = world.tokens["disp"]
    kazan = world.registry.one("SELECT id FROM cities WHERE name = 'Казань'")["id"]
    site = {"city_id": kazan, "area_m2": 3000.0, "residents": 0, "site": "test"}
    with pytest.raises(InvalidInput, match=r"^address: 'Стройплощадка №5' is not a registered address"):
        await world.objects.create_building(disp, address="Стройплощадка №5", **site)
    with pytest.raises(InvalidInput, match=r"^area_m2: square metres > 0"):  # the other fields come first
        await world.objects.create_building(disp, address="Стройплощадка №5", **{**site, "area_m2": 0})
    with pytest.raises(InvalidInput, match=r"^fias_code: 'abc' is not a ФИАС GUID"):
        await world.objects.create_building(disp, address="ул. Новая, 5", fias_code="abc", **site)
    built = await world.objects.create_building(disp, address="Стройплощадка №5", construction_unfinished=True,
                                                building_kind="house", **site)
    assert (built.address, built.construction_unfinished, built.building_kind, built.premises) == (
        "Стройплощадка №5", True, "house", 0)
    # handed over: clearing the flag checks the address kept so far, and refuses it
    with pytest.raises(InvalidInput, match=r"^address: 'Стройплощадка №5' is not a registered address"):
        await world.objects.update_building(disp, built.id, construction_unfinished=False)
    done = await world.objects.update_building(disp, built.id, construction_unfinished=False,
                                               address="ул. Строителей, 5", fias_code="0C5B2444-70A0-4932-980C-"
                                                                                     "B4DC0D3F02B5")
    assert (done.address, done.construction_unfinished, done.fias_code) == (
        "ул. Строителей, 5", False, "0c5b2444-70a0-4932-980c-b4dc0d3f02b5")
    with pytest.raises(InvalidInput, match=r"^address: 'Лесная' names no street"):
        await world.objects.update_building(disp, built.id, address="Лесная, 1")
    with pytest.raises(InvalidInput, match=r"^site: not a field"):
        await world.objects.update_building(disp, built.id, site="other")
    assert world.audit()[-2:] == [("building.create", f"building:{built.id}"),
                                  ("building.update", f"building:{built.id}")]


# --- premises (4.6.3) ----------------------------------------------------------------------------------

async def test_premises_by_number_ranges(world: World) -> None:
    disp = world.tokens["disp"]
    kazan = world.registry.one("SELECT id FROM cities WHERE name = 'Казань'")["id"]
    b = (await world.objects.create_building(disp, address="ул. Новая, 7", city_id=kazan, area_m2=900.0,
                                             residents=0, site="test")).id
    added = await world.objects.add_premises(disp, b, "1-3, 7, 10-12", area_m2=45.5, residents=2)
    assert added.done == ("1", "2", "3", "7", "10", "11", "12")  # 3 + 1 + 3 = 7 apartments
    again = await world.objects.add_premises(disp, b, "1-5", area_m2=40.0, residents=1)
    assert (again.done, again.skipped) == (("4", "5"), ("1", "2", "3"))  # 1-3 are there already
    office = await world.objects.add_named_premise(disp, b, " Офис  1 ", area_m2=120.0)
    assert (office.number, office.kind) == ("Офис 1", "nonresidential")
    rows = await world.objects.premises(disp, b)
    assert [r.number for r in rows] == ["1", "2", "3", "4", "5", "7", "10", "11", "12", "Офис 1"]
    assert (rows[0].area_m2, rows[0].residents, rows[3].area_m2) == (45.5, 2, 40.0)

    removed = await world.objects.remove_premises(disp, b, "2-4, 6")
    assert (removed.done, removed.skipped) == (("2", "3", "4"), ("6",))  # there was no 6
    with pytest.raises(InvalidInput, match=r"^numbers: the building has none of the apartments 20-22"):
        await world.objects.remove_premises(disp, b, "20-22")
    with pytest.raises(InvalidInput, match=r"^numbers: the range 9-8 is reversed"):
        await world.objects.remove_premises(disp, b, "9-8")
    with pytest.raises(InvalidInput, match=r"^numbers: at most 2000 premises"):
        await world.objects.add_premises(disp, b, "1-5000", area_m2=40.0, residents=1)

    edited = await world.objects.update_premise(disp, world.premise("1", b), area_m2=50.25, residents=4)
    assert (edited.area_m2, edited.residents) == (50.25, 4)
    for bad, message in (({"area_m2": 0}, r"^area_m2: square metres > 0"),
                         ({"residents": -1}, r"^residents: a whole number >= 0"), ({}, r"^area_m2: give")):
        with pytest.raises(InvalidInput, match=message):
            await world.objects.update_premise(disp, world.premise("1", b), **bad)

    # an owner keeps a premise: removing it (alone or in a range) is refused and nothing goes
    await world.services.residents.add_owner(disp, world.premise("5", b), "owner@example.org", "Иван Петров")
    with pytest.raises(InvalidInput, match=r"^numbers: nothing removed: apartments with meters or owners are not "
                                           r"deleted: 5 \(1 owner\(s\)\)"):
        await world.objects.remove_premises(disp, b, "1, 5")
    with pytest.raises(InvalidInput, match=r"^premise_id: premise 5 has 1 owner\(s\)"):
        await world.objects.remove_premise(disp, world.premise("5", b))
    assert [r.number for r in await world.objects.premises(disp, b)] == ["1", "5", "7", "10", "11", "12", "Офис 1"]
    await world.objects.remove_premise(disp, office.id)


async def test_premises_with_meters_are_not_removed(world: World) -> None:
    disp, b = world.tokens["disp"], world.seeded.building_id
    with pytest.raises(InvalidInput, match=r"^numbers: nothing removed: .*: 1 \(1 meter\(s\)\), 2 \(1 meter\(s\)\)"):
        await world.objects.remove_premises(disp, b, "1-2")
    with pytest.raises(InvalidInput, match=r"^premise_id: premise 1 has 1 meter\(s\) registered"):
        await world.objects.remove_premise(disp, world.premise("1"))
    assert len(await world.objects.premises(disp, b)) == 2


# --- activation codes ------------------------------------------------------------------------------------

async def test_codes_expire_after_exactly_one_week(world: World) -> None:
    """A code issued on 14 January 2026 at 12:00:00 UTC (15:00 in Moscow) is valid until 21 January
    (14 + 7) at 12:00:00 UTC inclusive, shown as 21.01.2026 15:00 Moscow time; one second later it is
    expired and refused."""
    disp, b = world.tokens["disp"], world.seeded.building_id
    code = await world.objects.generate_code(disp, world.premise("1"))
    assert code.expires_at == datetime(2026, 1, 21, 12, 0, 0, tzinfo=UTC)
    row = (await world.objects.premises(disp, b))[0]
    assert row.code is not None
    assert (row.code.state, row.code.created_at, row.code.expires_at) == (
        "active", datetime(2026, 1, 14, 15, 0), datetime(2026, 1, 21, 15, 0))
    world.clock.now = datetime(2026, 1, 21, 12, 0, 0, tzinfo=UTC)
    assert (await world.objects.premises(disp, b))[0].code.state == "active"  # type: ignore[union-attr]
    world.clock.now += timedelta(seconds=1)
    assert (await world.objects.premises(disp, b))[0].code.state == "expired"  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match=r"^code: this activation code has expired"):
        await world.services.residents.register(code.code, "late@example.org", "Поздний", "", "resident-pass-1")
    sheet = await world.objects.code_sheet(disp, b)
    assert (sheet.cards, sheet.without_code) == ((), ("кв. 1", "кв. 2"))  # expired: not printed


async def test_group_codes_skip_activated_premises_and_print(world: World) -> None:
    disp, b = world.tokens["disp"], world.seeded.building_id
    first = await world.objects.generate_code(disp, world.premise("1"))
    world.objects.residents.clock = world.clock  # the resident registers at the same "now"
    await world.services.residents.register(first.code, "a@example.org", "Анна", "", "resident-pass-1")
    world.clock.now += timedelta(hours=1)
    group = await world.objects.generate_codes(disp, b)
    assert [c.premise_id for c in group] == [world.premise("2")]  # premise 1's code was activated
    states = {r.number: r.code.state for r in await world.objects.premises(disp, b) if r.code}
    assert states == {"1": "activated", "2": "active"}
    sheet = await world.objects.code_sheet(world.tokens["reader"], b)
    (card,) = sheet.cards
    # issued 13:00 UTC on the 14th: valid until 21.01 13:00 UTC = 16:00 Moscow
    assert (card.premise, card.address, card.code, card.expires_at) == (
        "кв. 2", "ул. Тестовая, 1", group[0].code, datetime(2026, 1, 21, 16, 0))
    assert sheet.without_code == ("кв. 1",)


# --- owners and invitations (4.6.4) --------------------------------------------------------------------------

class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    port, inbox = free_port(), Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


async def test_invitation_mails_the_premises_code(world: World, smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    disp, b = world.tokens["disp"], world.seeded.building_id
    with pytest.raises(InvalidInput, match=r"^email: e-mail is not set up on this server"):
        await world.objects.invite_owner(disp, world.premise("2"), "owner@example.org", "Иван Петров")
    assert world.registry.all("SELECT * FROM residents") == []  # refused before anything changed
    world.objects.smtp = SmtpSettings("127.0.0.1", port, "noreply@domuchet.test", timeout_s=5.0)
    printed = await world.objects.generate_code(disp, world.premise("2"))
    sent = await world.objects.invite_owner(disp, world.premise("2"), " Owner@Example.org ", "Иван  Петров",
                                            "+7 900 123-45-67")
    assert (sent.email, sent.sent, sent.error, sent.expires_at) == (
        "owner@example.org", True, None, datetime(2026, 1, 21, 15, 0))
    ((rcpt, mail),) = inbox.messages
    assert rcpt == ["owner@example.org"]
    assert mail["Subject"] == "Приглашение в ДомУчёт: ул. Тестовая, 1, кв. 2"
    assert mail["From"] == "noreply@domuchet.test"
    body = mail.get_content()
    assert f"Код активации: {printed.code}" in body  # the valid printed code, not a new one
    assert "Код действует до 21.01.2026 15:00 (время объекта, Europe/Moscow)." in body

    rows = [r for r in await world.objects.owners(world.tokens["eng"], b) if r.premise == "кв. 2"]
    (row,) = rows
    assert (row.full_name, row.phone, row.email, row.invited_at, row.registered_at) == (
        "Иван Петров", "+7 900 123-45-67", "owner@example.org", datetime(2026, 1, 14, 15, 0), None)
    assert row.code is not None
    assert (row.code.code, row.code.state) == (printed.code, "active")
    owners = await world.objects.owners(disp, b)
    assert [(r.premise, r.email) for r in owners] == [("кв. 1", ""), ("кв. 2", "owner@example.org")]

    # the code activated, a second owner is invited with a new code
    world.objects.residents.clock = world.clock
    await world.services.residents.register(printed.code, "owner@example.org", "Иван Петров", "", "resident-pass-1")
    second = await world.objects.invite_owner(disp, world.premise("2"), "wife@example.org", "Мария Петрова")
    assert second.sent
    new_code = inbox.messages[-1][1].get_content()
    assert printed.code not in new_code
    assert "Код активации: " in new_code

    # the server is gone: the owner stays, the answer says why
    world.objects.smtp = SmtpSettings("127.0.0.1", free_port(), "noreply@domuchet.test", timeout_s=2.0)
    failed = await world.objects.invite_owner(disp, world.premise("1"), "third@example.org", "Третий")
    assert (failed.sent, failed.error is not None and "ConnectionRefusedError" in failed.error) == (False, True)
    assert world.registry.one("SELECT error FROM owner_invitations ORDER BY id DESC LIMIT 1")["error"] == failed.error
    assert ("owner.invite", f"premise:{world.premise('1')}") in world.audit()


# --- personal accounts (4.6.9) ---------------------------------------------------------------------------------

async def test_personal_accounts_unique_in_the_company(world: World) -> None:
    disp = world.tokens["disp"]
    assert (await world.objects.set_account(disp, world.premise("1"), " 1000001 ")).account == "1000001"
    with pytest.raises(InvalidInput, match=r"^account: '1000001' is the personal account of ул. Тестовая, 1, "
                                           r"premise 1 already"):
        await world.objects.set_account(disp, world.premise("2"), "1000001")
    with pytest.raises(InvalidInput, match=r"^account: 1 to 30 letters"):
        await world.objects.set_account(disp, world.premise("2"), "10 01")
    # the other company's premise may carry the same number: accounts are unique per company
    stranger_b = world.seeded.other_building_id
    await world.services.premises.create(world.tokens["stranger"], stranger_b, number="1", area_m2=30.0, residents=1)
    other = world.premise("1", stranger_b)
    assert (await world.objects.set_account(world.tokens["stranger"], other, "1000001")).account == "1000001"
    assert (await world.objects.set_account(disp, world.premise("1"), "")).account == ""  # cleared
    assert (await world.objects.set_account(disp, world.premise("2"), "1000001")).account == "1000001"


# --- roles --------------------------------------------------------------------------------------------------------

async def test_roles(world: World, smtp: tuple[int, Inbox]) -> None:
    world.objects.smtp = SmtpSettings("127.0.0.1", smtp[0], "noreply@domuchet.test", timeout_s=5.0)
    o, b, p = world.objects, world.seeded.building_id, world.premise("1")
    kazan = world.registry.one("SELECT id FROM cities WHERE name = 'Казань'")["id"]
    writes = [
        lambda t: o.create_building(t, address="ул. Новая, 9", city_id=kazan, area_m2=10.0, residents=1, site="test"),
        lambda t: o.update_building(t, b, residents=5),
        lambda t: o.add_premises(t, b, "10-12", area_m2=40.0, residents=1),
        lambda t: o.remove_premises(t, b, "1"),
        lambda t: o.add_named_premise(t, b, "Офис", area_m2=40.0),
        lambda t: o.update_premise(t, p, residents=5),
        lambda t: o.remove_premise(t, p),
        lambda t: o.generate_code(t, p),
        lambda t: o.generate_codes(t, b),
        lambda t: o.invite_owner(t, p, "x@example.org", "Икс"),
        lambda t: o.set_account(t, p, "42"),
        lambda t: world.services.buildings.delete_building(t, b),
    ]
    before = world.audit()
    for index, call in enumerate(writes):
        for login in ("reader", "eng", "admin"):  # settings are the dispatcher's (4.6); reader status read-only
            with pytest.raises(Forbidden):
                await call(world.tokens[login])
        if index:  # the first names no object of the company: a stranger would add their own building
            with pytest.raises(NotFound):
                await call(world.tokens["stranger"])
    assert world.audit() == before  # nothing refused was logged (nor done)
    assert smtp[1].messages == []
    reads = [lambda t: o.buildings(t), lambda t: o.building(t, b), lambda t: o.premises(t, b),
             lambda t: o.owners(t, b), lambda t: o.code_sheet(t, b)]
    for read in reads:
        for login in ("disp", "eng", "reader"):
            await read(world.tokens[login])
        with pytest.raises(NotFound):  # administrators: users and company settings only (2.3)
            await read(world.tokens["admin"])
    for read in reads[1:]:
        with pytest.raises(NotFound):
            await read(world.tokens["stranger"])
    assert [c.id for c in await o.buildings(world.tokens["stranger"])] == [world.seeded.other_building_id]


# --- /api/v1 --------------------------------------------------------------------------------------------------------

@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.services, clickhouse) as http:
        yield http


async def _api_token(world: World, login: str) -> dict[str, str]:
    return await api_token(world.services, world.registry, world.tokens[login], login)


async def test_api(world: World, client: httpx.AsyncClient) -> None:
    alone = FastAPI()
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_objects.routes(api, world.services)
    alone.include_router(api)
    operations = {op["operationId"] for path in alone.openapi()["paths"].values() for op in path.values()}
    assert operations == {
        "objects_buildings", "objects_building_info", "create_object_building", "update_object_building",
        "objects_premises", "add_premises_range", "remove_premises_range", "add_named_premise",
        "update_object_premise", "remove_object_premise", "generate_activation_code", "generate_activation_codes",
        "activation_code_sheet", "objects_owners", "invite_owner", "set_personal_account"}
    b, p = world.seeded.building_id, world.premise("1")
    disp, reader, eng = (await _api_token(world, "disp"), await _api_token(world, "reader"),
                         await _api_token(world, "eng"))
    listed = await client.get("/api/v1/objects/buildings", headers=eng)
    assert (listed.status_code, [x["address"] for x in listed.json()]) == (200, ["ул. Тестовая, 1"])
    url = f"/api/v1/objects/buildings/{b}/premises/range"
    assert (await client.post(url, headers=reader, json={"numbers": "3-4", "area_m2": 40})).status_code == 403
    assert (await client.post(url, headers=eng, json={"numbers": "3-4", "area_m2": 40})).status_code == 403
    added = await client.post(url, headers=disp, json={"numbers": "3-4", "area_m2": 40, "residents": 1})
    assert (added.status_code, added.json()) == (200, {"done": ["3", "4"], "skipped": []})
    bad = await client.post(url, headers=disp, json={"numbers": "4-3", "area_m2": 40})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    assert "reversed" in bad.json()["message"]
    refused = await client.post(f"{url}/remove", headers=disp, json={"numbers": "1-4"})
    assert (refused.status_code, "1 (1 meter(s))" in refused.json()["message"]) == (422, True)
    other = f"/api/v1/objects/buildings/{world.seeded.other_building_id}/premises"
    assert (await client.get(other, headers=disp)).status_code == 404
    code = await client.post(f"/api/v1/objects/premises/{p}/activation-code", headers=disp)
    assert (code.status_code, code.json()["state"]) == (200, "active")
    sheet = await client.get(f"/api/v1/objects/buildings/{b}/activation-codes/sheet", headers=reader)
    assert [c["premise"] for c in sheet.json()["cards"]] == ["кв. 1"]
    account = await client.put(f"/api/v1/objects/premises/{p}/account", headers=disp, json={"account": "77-1"})
    assert (account.status_code, account.json()["account"]) == (200, "77-1")
    mail = await client.post(f"/api/v1/objects/premises/{p}/invitations", headers=disp,
                             json={"email": "o@example.org", "full_name": "О"})
    assert (mail.status_code, "smtp_host" in mail.json()["message"]) == (422, True)
    patched = await client.patch(f"/api/v1/objects/buildings/{b}", headers=disp, json={"fias_code": "x"})
    assert (patched.status_code, patched.json()["message"].startswith("fias_code:")) == (422, True)
    extra = await client.patch(f"/api/v1/objects/buildings/{b}", headers=disp, json={"site": "x"})
    assert extra.status_code == 422  # not a field of the body
