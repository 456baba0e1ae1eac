"""The dispatch desk (manual 4.5.9) and notices to residents (4.5.10) over the real registry: a ticket's
whole life with its history and audit, the filters, roles (an engineer changes only tickets assigned to
them, readers nothing, administrators see nothing, another company's tickets are not found), the
resident's path, notices reaching exactly the residents of their buildings, and the /api/v1 answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_desk
from cloud.services import audit
from cloud.services.auth import hash_password
from cloud.services.container import Services
from cloud.services.desk import TicketQuery
from cloud.services.desk_rules import DeskRuleError
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.support_api import api_client


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    premises: dict[str, int]  # number -> id in the test building
    residents: dict[str, int]  # "own" (premise 1), "other" (the other company's building)
    users: dict[str, int]
    tokens: dict[str, str]


def seed_people(registry: Registry, seeded: cloud_data.Seeded) -> tuple[dict[str, int], dict[str, int]]:
    """Two engineers of the test company, one of the other; a resident of premise 1 and one of the other
    company's building (which gets a premise "7"). Used by the UI tests too."""
    other_company = registry.all("SELECT company_id FROM buildings WHERE id = ?", seeded.other_building_id)[0][0]
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    with registry.connect() as db:
        for login, name, company in (("eng", "Инженер Тест", seeded.company_id),
                                     ("eng2", "Инженер Второй", seeded.company_id),
                                     ("stranger-eng", "Чужой Инженер", other_company)):
            db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                       "(?, ?, ?, 'engineer', ?)", (company, login, name, hash_password(
                           cloud_data.PASSWORDS.get(login, "eng-pass"))))
        other_premise = db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) "
                                   "VALUES (?, '7', 'apartment', 40, 1)", (seeded.other_building_id,)).lastrowid
        premise_1 = db.execute("SELECT id FROM premises WHERE building_id = ? AND number = '1'",
                               (seeded.building_id,)).fetchone()[0]
        residents = {}
        for key, email, name, premise in (("own", "own@example.ru", "Жилец Своих", premise_1),
                                          ("other", "other@example.ru", "Жилец Чужих", other_premise)):
            residents[key] = db.execute("INSERT INTO residents (email, full_name, phone, password_hash, created_at, "
                                        "registered_at) VALUES (?, ?, '+7 900 000-00-00', 'x', ?, ?)",
                                        (email, name, now, now)).lastrowid or 0
            db.execute("INSERT INTO premise_residents VALUES (?, ?, ?)", (premise, residents[key], now))
    users = {r["login"]: r["id"] for r in registry.all("SELECT id, login FROM users")}
    return residents, users


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    residents, users = seed_people(registry, seeded)
    premises = {r["number"]: r["id"] for r in registry.all("SELECT id, number FROM premises WHERE building_id = ?",
                                                              seeded.building_id)}
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS.get(login, "eng-pass"))).token
              for login in ("disp", "reader", "admin", "stranger", "eng", "eng2")}
    return World(services, registry, seeded, premises, residents, users, tokens)


def _audit(world: World, action: str) -> list[audit.AuditEntry]:
    with world.registry.connect() as db:
        return [e for e in audit.entries(db, world.seeded.company_id) if e.action == action]


async def test_a_ticket_from_registration_to_completion(world: World) -> None:
    desk, disp, eng = world.services.desk, world.tokens["disp"], world.tokens["eng"]
    b = world.seeded.building_id
    created = await desk.create(disp, b, "  Течёт стояк ГВС  ", premise_id=world.premises["2"],
                                applicant_name="Иванова А. П.", applicant_phone="+7 (843) 123-45-67")
    t = created.ticket
    assert (t.stage, t.source, t.description, t.applicant_name, t.author) == (
        "registration", "resident", "Течёт стояк ГВС", "Иванова А. П.", "Диспетчер Тест")
    assert t.created_at == datetime(2026, 1, 14, 15, 0)  # NOW 12:00 UTC in Moscow (UTC+3)
    assert created.moves == ("qualification",)
    assert (created.may_assign, created.may_cancel, created.may_group) == (True, True, True)

    d = await desk.move(disp, t.id, "qualification", "принято")
    with pytest.raises(DeskRuleError, match="sphere"):  # not qualified yet: sphere, category, assignee first
        await desk.move(disp, t.id, "execution", "в работу")
    d = await desk.edit(disp, t.id, description=t.description, sphere="hot_water", category="ppr",
                        premise_id=world.premises["2"])
    d = await desk.assign(disp, t.id, world.users["eng"], "срочно")
    assert (d.ticket.assignee, d.ticket.sphere, d.ticket.category) == ("Инженер Тест", "hot_water", "ppr")
    d = await desk.move(disp, t.id, "execution", "в работу")
    # the engineer sees what they may do: complete or return it
    mine = await desk.ticket(eng, t.id)
    assert (mine.moves, mine.may_edit, mine.may_assign, mine.may_cancel) == (
        ("completion", "qualification"), True, False, False)
    d = await desk.comment(eng, t.id, "заменён участок трубы")
    d = await desk.move(eng, t.id, "completion", "выполнено")
    assert d.ticket.stage == "completion"
    assert [(s.action, s.from_stage, s.stage, s.who, s.note) for s in d.steps] == [
        ("register", None, "registration", "Диспетчер Тест", ""),
        ("move", "registration", "qualification", "Диспетчер Тест", "принято"),
        ("edit", None, "qualification", "Диспетчер Тест", ""),
        ("assign", None, "qualification", "Диспетчер Тест", "срочно"),
        ("move", "qualification", "execution", "Диспетчер Тест", "в работу"),
        ("comment", None, "execution", "Инженер Тест", "заменён участок трубы"),
        ("move", "execution", "completion", "Инженер Тест", "выполнено"),
    ]
    assert [m.stage for m in d.stages] == ["registration", "qualification", "execution", "completion"]
    assert d.stages[-1].left_at is None
    assert d.stages[-1].entered_by == "Инженер Тест"
    # every change audited
    assert [len(_audit(world, f"desk_ticket.{a}")) for a in ("create", "move", "edit", "assign", "comment")] == \
        [1, 3, 1, 1, 1]
    (done,) = [e for e in _audit(world, "desk_ticket.move") if e.after and e.after["stage"] == "completion"]
    assert (done.user_login, done.object, done.before) == ("eng", f"desk_ticket:{t.id}", {"stage": "execution"})
    # completed: cancelling is refused; the dispatcher reopens it
    with pytest.raises(DeskRuleError, match="reopen"):
        await desk.cancel(disp, t.id, "ошибка")
    with pytest.raises(Forbidden):  # only a dispatcher reopens
        await desk.move(eng, t.id, "execution", "не доделал")
    d = await desk.move(disp, t.id, "execution", "жилец: снова течёт")
    assert d.stages[2].left_at is None  # execution entered again


async def test_engineer_changes_only_tickets_assigned_to_them(world: World) -> None:
    desk, disp, eng, eng2 = (world.services.desk, world.tokens["disp"], world.tokens["eng"],
                             world.tokens["eng2"])
    own = (await desk.create(eng, world.seeded.building_id, "Нет связи с прибором", sphere="metering")).ticket
    assert (own.source, own.applicant_name) == ("engineer", "Инженер Тест")  # an engineer registers tickets
    with pytest.raises(Forbidden):  # ... but does not qualify them, not even their own
        await desk.move(eng, own.id, "qualification", "беру")
    await desk.move(disp, own.id, "qualification", "ok")
    await desk.edit(disp, own.id, description="Нет связи с прибором", sphere="metering", category="off_journal",
                    premise_id=None)
    await desk.assign(disp, own.id, world.users["eng2"])
    await desk.move(disp, own.id, "execution", "ok")
    for call in (desk.move(eng, own.id, "completion", "x"), desk.comment(eng, own.id, "x"),
                 desk.edit(eng, own.id, description="x", sphere=None, category=None, premise_id=None),
                 desk.assign(eng, own.id, world.users["eng"]), desk.cancel(eng, own.id, "x")):
        with pytest.raises(Forbidden):
            await call
    seen = await desk.ticket(eng, own.id)  # read, yes
    assert (seen.moves, seen.may_edit, seen.may_comment) == ((), False, False)
    returned = await desk.move(eng2, own.id, "qualification", "нужен доступ в подвал")
    assert returned.ticket.stage == "qualification"
    with pytest.raises(InvalidInput, match="engineer_id"):  # a dispatcher is not an engineer to assign
        await desk.assign(disp, own.id, world.users["disp"])
    with pytest.raises(InvalidInput, match="engineer_id"):  # nor another company's engineer
        await desk.assign(disp, own.id, world.users["stranger-eng"])
    assert [e.full_name for e in await desk.engineers(disp)] == ["Инженер Второй", "Инженер Тест"]


async def test_readers_administrators_and_other_companies(world: World) -> None:
    desk, disp = world.services.desk, world.tokens["disp"]
    t = (await desk.create(disp, world.seeded.building_id, "Шум в трубах")).ticket
    reader, admin, stranger = world.tokens["reader"], world.tokens["admin"], world.tokens["stranger"]
    assert (await desk.ticket(reader, t.id)).moves == ()
    for call in (desk.create(reader, world.seeded.building_id, "x"), desk.move(reader, t.id, "qualification", "x"),
                 desk.comment(reader, t.id, "x"), desk.cancel(reader, t.id, "x"),
                 desk.assign(reader, t.id, world.users["eng"])):
        with pytest.raises(Forbidden):
            await call
    refused: list[Awaitable[object]] = [desk.tickets(admin), desk.ticket(admin, t.id),
                                        desk.create(admin, world.seeded.building_id, "x")]
    for hidden in refused:
        with pytest.raises(NotFound):
            await hidden
    for call in (desk.ticket(stranger, t.id), desk.move(stranger, t.id, "qualification", "x"),
                 desk.cancel(stranger, t.id, "x"), desk.create(stranger, world.seeded.building_id, "x")):
        with pytest.raises(NotFound):
            await call
    assert (await desk.tickets(stranger)).total == 0
    with pytest.raises(InvalidInput, match="premise_id"):  # a premise of another building
        await desk.create(disp, world.seeded.building_id, "x", premise_id=999)
    with pytest.raises(InvalidInput, match="description: required"):
        await desk.create(disp, world.seeded.building_id, "  ")
    with pytest.raises(InvalidInput, match="applicant_phone"):
        await desk.create(disp, world.seeded.building_id, "x", applicant_phone="звоните")
    assert _audit(world, "desk_ticket.cancel") == []


async def test_cancelling_grouping_and_filters(world: World) -> None:
    desk, disp = world.services.desk, world.tokens["disp"]
    b = world.seeded.building_id
    head = (await desk.create(disp, b, "Нет отопления в подъезде", sphere="heating", category="azo")).ticket
    same = (await desk.create(disp, b, "Холодные батареи", premise_id=world.premises["1"],
                              applicant_name="Петров Пётр")).ticket
    lone = (await desk.create(disp, b, "Лампочка в лифте", sphere="electricity")).ticket
    grouped = await desk.attach(disp, same.id, head.id)
    assert grouped.ticket.parent_id == head.id
    assert [a.id for a in (await desk.ticket(disp, head.id)).attached] == [same.id]
    with pytest.raises(DeskRuleError, match="attached to ticket"):  # one level deep
        await desk.attach(disp, lone.id, same.id)
    cancelled = await desk.cancel(disp, lone.id, "дубликат")
    assert cancelled.ticket.cancelled
    assert cancelled.moves == ()
    with pytest.raises(DeskRuleError, match="cancelled"):
        await desk.move(disp, lone.id, "qualification", "x")

    async def ids(**kw: object) -> list[int]:
        return [t.id for t in (await desk.tickets(disp, TicketQuery(**kw))).rows]  # type: ignore[arg-type]

    assert await ids() == [lone.id, same.id, head.id]  # newest first
    assert await ids(cancelled=True) == [lone.id]
    assert await ids(cancelled=False) == [same.id, head.id]
    assert await ids(grouped=True) == [same.id, head.id]
    assert await ids(spheres=("heating", "electricity")) == [lone.id, head.id]
    assert await ids(categories=("azo",)) == [head.id]
    assert await ids(stages=("qualification",)) == []
    assert await ids(number=same.id) == [same.id]
    assert await ids(premise="1") == [same.id]
    assert await ids(applicant="ПЕТРОВ") == [same.id]  # any letter case, Cyrillic too
    assert await ids(address="тестовая") == [lone.id, same.id, head.id]
    assert await ids(text="батареи") == [same.id]
    assert await ids(day_from=date(2026, 1, 14), day_to=date(2026, 1, 14)) == [lone.id, same.id, head.id]
    assert await ids(day_from=date(2026, 1, 15)) == []
    assert await ids(mine=True) == []
    with pytest.raises(InvalidInput, match="stages"):
        await ids(stages=("archive",))
    with pytest.raises(InvalidInput, match="day_to"):
        await ids(day_from=date(2026, 1, 15), day_to=date(2026, 1, 14))
    detached = await desk.detach(disp, same.id)
    assert detached.ticket.parent_id is None
    assert len(_audit(world, "desk_ticket.attach")) == len(_audit(world, "desk_ticket.detach")) == 1


async def test_a_resident_registers_a_ticket_for_their_premise(world: World) -> None:
    desk = world.services.desk
    own, other = world.residents["own"], world.residents["other"]
    t = await desk.submit_by_resident(own, world.premises["1"], "Не работает домофон", sphere="other")
    assert (t.source, t.author, t.applicant_name, t.premise_number, t.stage) == (
        "resident", "Жилец Своих", "Жилец Своих", "1", "registration")
    assert [x.id for x in (await desk.tickets(world.tokens["disp"])).rows] == [t.id]  # on the company's desk
    assert (await desk.tickets(world.tokens["stranger"])).total == 0
    detail = await desk.ticket(world.tokens["disp"], t.id)
    assert detail.steps[0].who == "Жилец Своих"
    (entry,) = _audit(world, "desk_ticket.create")
    assert (entry.user_login, entry.via) == (None, f"resident:{own}")
    with pytest.raises(NotFound):  # not their premise
        await desk.submit_by_resident(own, world.premises["2"], "x")
    with pytest.raises(NotFound):
        await desk.submit_by_resident(other, world.premises["1"], "x")
    with pytest.raises(InvalidInput, match="description"):
        await desk.submit_by_resident(own, world.premises["1"], "")
    assert [x.id for x in await desk.resident_tickets(own)] == [t.id]
    assert await desk.resident_tickets(other) == []


# --- notices -------------------------------------------------------------------------------------

async def test_notices_reach_exactly_the_residents_of_their_buildings(world: World) -> None:
    notices, disp = world.services.notices, world.tokens["disp"]
    b = world.seeded.building_id
    own, other = world.residents["own"], world.residents["other"]
    draft = await notices.create(disp, "Отключение ГВС", "15 января с 10:00 до 18:00", [b], date(2026, 1, 14),
                                 date(2026, 1, 15))
    assert (draft.published, draft.author, draft.created_at) == (False, "Диспетчер Тест", datetime(2026, 1, 14, 15))
    assert await notices.for_resident(own) == []  # a draft reaches nobody
    published = await notices.publish(disp, draft.id)
    assert (published.published, published.publisher, published.ever_published) == (True, "Диспетчер Тест", True)
    (seen,) = await notices.for_resident(own)
    assert (seen.title, seen.addresses, seen.company, seen.relevant_to) == (
        "Отключение ГВС", ("ул. Тестовая, 1",), "УК Тест", date(2026, 1, 15))
    assert await notices.for_resident(other) == []  # another company's resident
    with pytest.raises(DeskRuleError, match="unpublish"):
        await notices.edit(disp, draft.id, "t", "b", [b], date(2026, 1, 14))
    with pytest.raises(DeskRuleError, match="published already"):
        await notices.publish(disp, draft.id)
    # not yet current: relevant from tomorrow; over: ended yesterday (not publishable at all)
    later = await notices.create(disp, "Собрание", "В субботу", [b], date(2026, 1, 15))
    await notices.publish(disp, later.id)
    assert [n.title for n in await notices.for_resident(own)] == ["Отключение ГВС"]
    over = await notices.create(disp, "Старое", "Прошло", [b], date(2026, 1, 10), date(2026, 1, 13))
    with pytest.raises(DeskRuleError, match="ended"):
        await notices.publish(disp, over.id)
    await notices.delete(disp, over.id)
    with pytest.raises(DeskRuleError, match="kept"):  # once published: unpublish, never delete
        await notices.delete(disp, draft.id)
    unpublished = await notices.unpublish(disp, draft.id)
    assert not unpublished.published
    assert unpublished.unpublished_at == datetime(2026, 1, 14, 15)
    assert await notices.for_resident(own) == []
    edited = await notices.edit(disp, draft.id, "Отключение ГВС (перенос)", "16 января", [b], date(2026, 1, 14),
                                date(2026, 1, 16))
    assert (edited.editor, edited.title) == ("Диспетчер Тест", "Отключение ГВС (перенос)")
    assert [n.published for n in await notices.notices(disp)] == [True, False]  # newest first; "Старое" deleted
    assert [n.id for n in await notices.notices(disp, published=True)] == [later.id]
    assert [len(_audit(world, f"notice.{a}")) for a in ("create", "publish", "unpublish", "edit", "delete")] == \
        [3, 2, 1, 1, 1]


async def test_notice_roles_and_companies(world: World) -> None:
    notices, disp = world.services.notices, world.tokens["disp"]
    b = world.seeded.building_id
    with pytest.raises(NotFound):  # another company's building as an addressee
        await notices.create(disp, "t", "b", [b, world.seeded.other_building_id], date(2026, 1, 14))
    n = await notices.create(disp, "t", "b", [b], date(2026, 1, 14))
    for login in ("eng", "reader"):  # they see the notices, and change nothing
        assert [x.id for x in await notices.notices(world.tokens[login])] == [n.id]
        for call in (notices.create(world.tokens[login], "t", "b", [b], date(2026, 1, 14)),
                     notices.publish(world.tokens[login], n.id), notices.delete(world.tokens[login], n.id)):
            with pytest.raises(Forbidden):
                await call
    with pytest.raises(NotFound):
        await notices.notices(world.tokens["admin"])
    assert await notices.today(world.tokens["eng"]) == date(2026, 1, 14)  # NOW 12:00 UTC = 15:00 in Kazan
    for call in (notices.notice(world.tokens["stranger"], n.id), notices.publish(world.tokens["stranger"], n.id)):
        with pytest.raises(NotFound):
            await call
    # the other company's notice for its own building reaches its resident, not ours
    other = await notices.create(world.tokens["stranger"], "Чужое", "b", [world.seeded.other_building_id],
                                 date(2026, 1, 1))
    await notices.publish(world.tokens["stranger"], other.id)
    await notices.publish(disp, n.id)
    assert [x.title for x in await notices.for_resident(world.residents["other"])] == ["Чужое"]
    assert [x.title for x in await notices.for_resident(world.residents["own"])] == ["t"]


# --- /api/v1 -------------------------------------------------------------------------------------

@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.services, clickhouse) as http:
        yield http


async def _api_token(world: World, login: str) -> dict[str, str]:
    created = await world.services.api_tokens.create(world.tokens[login], world.users[login], f"{login} integration")
    return {"Authorization": f"Bearer {created.token}"}


async def test_api(world: World, client: httpx.AsyncClient) -> None:
    alone = FastAPI()
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_desk.routes(api, world.services)
    alone.include_router(api)
    operations = {op["operationId"] for path in alone.openapi()["paths"].values() for op in path.values()}
    assert operations == {
        "list_desk_tickets", "get_desk_ticket", "list_desk_engineers", "create_desk_ticket", "edit_desk_ticket",
        "move_desk_ticket", "assign_desk_ticket", "comment_desk_ticket", "cancel_desk_ticket",
        "attach_desk_ticket", "detach_desk_ticket", "list_notices", "get_notice", "create_notice", "edit_notice",
        "publish_notice", "unpublish_notice", "delete_notice"}
    b = world.seeded.building_id
    disp, reader, eng = (await _api_token(world, "disp"), await _api_token(world, "reader"),
                         await _api_token(world, "eng"))
    answer = await client.post("/api/v1/desk/tickets", headers=disp,
                               json={"building_id": b, "description": "Протечка", "sphere": "cold_water"})
    assert answer.status_code == 200, answer.text
    ticket_id = answer.json()["ticket"]["id"]
    assert (await client.post("/api/v1/desk/tickets", headers=reader,
                              json={"building_id": b, "description": "x"})).status_code == 403
    assert (await client.post("/api/v1/desk/tickets", headers=disp,
                              json={"building_id": b, "description": "x", "sphere": "water"})).status_code == 422
    moved = await client.post(f"/api/v1/desk/tickets/{ticket_id}/move", headers=disp,
                              json={"stage": "completion", "note": "x"})
    assert (moved.status_code, moved.json()["code"]) == (422, "invalid_input")
    moved = await client.post(f"/api/v1/desk/tickets/{ticket_id}/move", headers=eng,
                              json={"stage": "qualification", "note": "x"})
    assert moved.status_code == 403
    moved = await client.post(f"/api/v1/desk/tickets/{ticket_id}/move", headers=disp,
                              json={"stage": "qualification", "note": "принято"})
    assert moved.json()["ticket"]["stage"] == "qualification"
    listed = await client.get("/api/v1/desk/tickets?stages=qualification&spheres=cold_water", headers=reader)
    assert [t["id"] for t in listed.json()["rows"]] == [ticket_id]
    assert (await client.get("/api/v1/desk/tickets/999", headers=reader)).status_code == 404
    assert (await client.get("/api/v1/desk/tickets", headers=await _api_token(world, "admin"))).status_code == 404
    notice = await client.post("/api/v1/notices", headers=disp, json={
        "title": "Отключение", "body": "b", "building_ids": [b], "relevant_from": "2026-01-14"})
    assert notice.status_code == 200, notice.text
    n = notice.json()["id"]
    assert (await client.post(f"/api/v1/notices/{n}/publish", headers=eng)).status_code == 403
    assert (await client.post(f"/api/v1/notices/{n}/publish", headers=disp)).json()["published"] is True
    assert [x["id"] for x in (await client.get("/api/v1/notices?published=true", headers=reader)).json()] == [n]
    assert (await client.delete(f"/api/v1/notices/{n}", headers=disp)).status_code == 422
