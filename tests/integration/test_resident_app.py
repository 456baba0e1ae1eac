"""The residents' app service and its /api/v1/resident routes over a real registry and ClickHouse.

Two companies hold a meter with the same serial, 223T0001, in apartment 1 of a building each:
"УК Тест" (tests/cloud_data.py: reading 100 + 0.01 * (h + 1) Gcal at the end of hour h from
2026-01-10 00:00) and "УК Двойник" (the same hours at 0.05 Gcal/h). A day's consumption is the reading
at its end minus the one at the end of the day before: on the 11th 0.01 * 24 = 0.24 Gcal in the first,
0.05 * 24 = 1.2 Gcal in the second. Each resident sees their own figure and nothing of the other's.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import APIRouter, FastAPI

from cloud import api_resident
from cloud.api import install_error_handlers
from cloud.config import CloudConfig
from cloud.ingest import archive_rows
from cloud.notifier import SmtpSettings
from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.services.container import Services
from cloud.services.models import AuthError, Granularity, InvalidInput, LoginThrottled, NotFound
from cloud.services.resident_app import TICKETS_PER_DAY, ResidentAppService
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature, Resource
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data
from tests.conftest import free_port
from tests.integration.test_objects import Inbox

JAN = date(2026, 1, 1)


@dataclass
class World:
    registry: Registry
    services: Services
    disp: str  # УК Тест's dispatcher
    twin_disp: str  # УК Двойник's
    mine: int  # apartment 1 of УК Тест
    neighbour: int  # apartment 2 of УК Тест
    twin: int  # apartment 1 of УК Двойник


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    twin_company = seed_company(registry, "УК Двойник", "Казань",
                                (UserSeed("twin", "Двойник", "dispatcher", "t-pass"),))
    seed_building(registry, twin_company, BuildingSeed(
        site="twin", address="ул. Двойная, 3", city="Казань", time_zone=cloud_data.TZ, heat_meter_serial="307T0001",
        heat_meter_model="KARAT-307", heat_meter_communicator="Modbus TCP 127.0.0.1:5020 #1",
        premises=(PremiseSeed("1", 40.0, 1, "223T0001", "KARAT-Compact-2-223", "LoRaWAN 0000000000000009"),)))
    tz = zone(cloud_data.TZ)
    records = []
    for h in range(cloud_data.HOURS):
        start = int(local_to_utc(cloud_data.START_LOCAL + timedelta(hours=h), tz).timestamp())
        records.append(ArchiveRecord("223T0001", 1, ArchiveKind.HOUR, Nature.INTEGRAL, start,
                                     {"Q": round(100 + 0.05 * (h + 1), 6)}, received_at=start + 60.0))
    clickhouse.insert_archive_sync(archive_rows(Batch("twin", 1, tuple(records)), twin_company), "twin:1")
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)

    def premise(address: str, number: str) -> int:
        return registry.one("SELECT p.id FROM premises p JOIN buildings b ON b.id = p.building_id "
                            "WHERE b.address = ? AND p.number = ?", address, number)["id"]
    assert seeded.building_id
    return World(registry, services, (await services.auth.login("disp", "disp-pass")).token,
                 (await services.auth.login("twin", "t-pass")).token, premise("ул. Тестовая, 1", "1"),
                 premise("ул. Тестовая, 1", "2"), premise("ул. Двойная, 3", "1"))


async def _resident(world: World, dispatcher: str, premise: int, email: str) -> str:
    code = await world.services.residents.generate(dispatcher, premise)
    session = await world.services.resident_app.register(code.code, email, "Житель", "", "resident-pass")
    return session.token


def _day(data, day: int) -> float | None:
    return next(v for at, v in data.points if at.day == day)


async def test_each_resident_sees_their_own_premise_only(world: World) -> None:
    app = world.services.resident_app
    anna = await _resident(world, world.disp, world.mine, "anna@example.ru")
    boris = await _resident(world, world.twin_disp, world.twin, "boris@example.ru")

    home = await app.home(anna)
    assert [(p.id, p.address, p.number, p.company) for p in home.premises] == \
        [(world.mine, "ул. Тестовая, 1", "1", "УК Тест")]
    assert set(home.premises[0].resources) == {Resource.HEAT, Resource.HOT_WATER, Resource.COLD_WATER}
    assert home.premises[0].today == date(2026, 1, 14)  # NOW in Moscow

    mine = await app.consumption(anna, world.mine, Resource.HEAT, Granularity.DAY, JAN)
    theirs = await app.consumption(boris, world.twin, Resource.HEAT, Granularity.DAY, JAN)
    assert _day(mine, 11) == pytest.approx(0.24)  # 0.01 Gcal/h × 24 h
    assert _day(theirs, 11) == pytest.approx(1.2)  # 0.05 Gcal/h × 24 h: the same serial, another company
    for token, premise in ((anna, world.twin), (anna, world.neighbour), (boris, world.mine)):
        with pytest.raises(NotFound):
            await app.consumption(token, premise, Resource.HEAT, Granularity.DAY, JAN)
        with pytest.raises(NotFound):
            await app.meters(token, premise)

    meters = await app.meters(anna, world.mine)
    assert [m.serial for m in meters] == ["223T0001"]
    heat = next(r for r in meters[0].readings if r.resource is Resource.HEAT)
    # the newest hour by NOW: the end of 2026-01-12 23:00, 100 + 0.01 × 72
    assert (heat.value, heat.unit, heat.at) == (pytest.approx(100.72), "Gcal", datetime(2026, 1, 13, 0, 0))
    with pytest.raises(InvalidInput, match="period"):
        await app.consumption(anna, world.mine, Resource.HEAT, Granularity.DAY, date(2106, 2, 7))
    # the owners page (manual 4.6.4) shows the last sign-in, in the building's local time
    building = world.registry.one("SELECT id FROM buildings WHERE address = 'ул. Тестовая, 1'")["id"]
    owners = await world.services.objects.owners(world.disp, building)
    anna_row = next(r for r in owners if r.email == "anna@example.ru")
    assert anna_row.last_login_at is not None
    assert anna_row.last_login_at.tzinfo is None


async def test_sessions_are_a_residents_own(world: World) -> None:
    app, auth = world.services.resident_app, world.services.auth
    anna = await _resident(world, world.disp, world.mine, "anna@example.ru")
    with pytest.raises(AuthError):
        await app.home(world.disp)  # a staff session is not a resident's
    with pytest.raises(AuthError):
        await auth.user(anna)  # nor the other way round
    again = await app.login(" Anna@Example.RU ", "resident-pass")
    assert again.home.email == "anna@example.ru"
    assert again.expires_at - datetime.now(again.expires_at.tzinfo) <= timedelta(hours=24)
    await app.logout(anna)
    with pytest.raises(AuthError):
        await app.home(anna)
    await app.home(again.token)  # the other device's session goes on
    with pytest.raises(ValueError, match="within a day"):
        ResidentAppService(world.registry, None, None, None, None, None, session_hours=25)  # type: ignore[arg-type]

    refusals: list[type[Exception]] = []
    for _ in range(8):
        try:
            await app.login("anna@example.ru", "wrong-pass", "10.0.0.1")
        except (AuthError, LoginThrottled) as exc:
            refusals.append(type(exc))
    assert refusals[:5] == [AuthError] * 5
    assert LoginThrottled in refusals


async def test_tickets_and_notices(world: World) -> None:
    app, desk = world.services.resident_app, world.services.desk
    anna = await _resident(world, world.disp, world.mine, "anna@example.ru")
    boris = await _resident(world, world.twin_disp, world.twin, "boris@example.ru")
    ticket = await app.submit_ticket(anna, world.mine, "Холодная батарея")
    assert (ticket.source, ticket.stage, ticket.premise_id) == ("resident", "registration", world.mine)
    assert ticket.id in [t.id for t in (await desk.tickets(world.disp)).rows]
    assert ticket.id not in [t.id for t in (await desk.tickets(world.twin_disp)).rows]
    await desk.move(world.disp, ticket.id, "qualification", "принято")
    detail = await app.ticket(anna, ticket.id)
    assert [s.stage for s in detail.stages] == ["registration", "qualification"]
    assert detail.stages[-1].left_at is None
    with pytest.raises(NotFound):
        await app.ticket(boris, ticket.id)
    with pytest.raises(NotFound):
        await app.submit_ticket(anna, world.twin, "чужая квартира")
    with pytest.raises(InvalidInput, match="description"):
        await app.submit_ticket(anna, world.mine, "   ")
    for n in range(TICKETS_PER_DAY - 1):
        await app.submit_ticket(anna, world.mine, f"заявка {n}")
    with pytest.raises(InvalidInput, match="in a day at most"):
        await app.submit_ticket(anna, world.mine, "ещё одна")

    notices = world.services.notices
    building = world.registry.one("SELECT id FROM buildings WHERE address = 'ул. Тестовая, 1'")["id"]
    published = await notices.create(world.disp, "Отключение воды", "С 10 до 14.", [building], JAN, date(2026, 1, 31))
    await notices.publish(world.disp, published.id)
    await notices.create(world.disp, "Черновик", "Не опубликовано.", [building], JAN)
    assert [n.title for n in await app.notices_for(anna)] == ["Отключение воды"]
    assert await app.notices_for(boris) == []


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    api_resident.routes(api, world.services)
    app.include_router(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_the_api(world: World, http: httpx.AsyncClient) -> None:
    code = (await world.services.residents.generate(world.disp, world.mine)).code
    bad = await http.post("/api/v1/resident/register", json={"code": code, "email": "anna@example.ru",
                                                               "full_name": "Анна", "password": "short"})
    assert bad.status_code == 422
    assert "password" in bad.text
    registered = await http.post("/api/v1/resident/register", json={
        "code": code, "email": "anna@example.ru", "full_name": "Анна", "password": "resident-pass"})
    assert registered.status_code == 200, registered.text
    assert registered.json()["home"]["premises"][0]["id"] == world.mine
    login = await http.post("/api/v1/resident/login", json={"email": "anna@example.ru", "password": "resident-pass"})
    headers = {"Authorization": f"Bearer {login.json()['token']}"}

    got = await http.get(f"/api/v1/resident/premises/{world.mine}/consumption",
                         params={"resource": "heat", "period": "2026-01-01"}, headers=headers)
    assert got.status_code == 200, got.text
    eleventh = next(v for at, v in got.json()["points"] if at.startswith("2026-01-11"))
    assert eleventh == pytest.approx(0.24)
    assert (await http.get(f"/api/v1/resident/premises/{world.twin}/consumption",
                           params={"resource": "heat", "period": "2026-01-01"}, headers=headers)).status_code == 404
    assert (await http.get("/api/v1/resident/home")).status_code == 401
    staff_api = (await cloud_data.own_tokens(world.services, world.registry, ["disp"]))["disp"]
    assert (await http.get("/api/v1/resident/home", headers={"Authorization": f"Bearer {staff_api}"})).status_code \
        == 401
    created = await http.post("/api/v1/resident/tickets", json={"premise_id": world.mine, "description": "Течёт кран"},
                              headers=headers)
    assert created.status_code == 201, created.text
    one = await http.get(f"/api/v1/resident/tickets/{created.json()['id']}", headers=headers)
    assert one.json()["stages"][0]["stage"] == "registration"
    meters = await http.get(f"/api/v1/resident/premises/{world.mine}/meters", headers=headers)
    assert meters.json()[0]["serial"] == "223T0001"
    assert (await http.post("/api/v1/resident/logout", headers=headers)).status_code == 204
    assert (await http.get("/api/v1/resident/tickets", headers=headers)).status_code == 401


async def test_an_e_mailed_invitation_leads_to_the_premise(world: World) -> None:
    """A real SMTP server takes the invitation; its link carries the code the resident registers with."""
    port, inbox = free_port(), Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        objects = world.services.objects
        objects.smtp = SmtpSettings("127.0.0.1", port, "noreply@domuchet.test", timeout_s=5.0)
        objects.public_url = "https://dom.example.ru/"
        sent = await objects.invite_owner(world.disp, world.mine, "Owner@Example.org", "Иван Петров")
        assert sent.sent
    finally:
        controller.stop()
    ((rcpt, mail),) = inbox.messages
    assert rcpt == ["owner@example.org"]
    link = re.search(r"https://dom\.example\.ru/kv/register\?code=([A-Z0-9-]+)", mail.get_content())
    assert link is not None, mail.get_content()
    session = await world.services.resident_app.register(link[1], "owner@example.org", "Иван Петров", "",
                                                         "owner-pass-1")
    assert [p.id for p in session.home.premises] == [world.mine]
    with pytest.raises(ValueError, match="public_url"):
        CloudConfig(data_dir=Path("."), public_url="javascript:alert(1)")
