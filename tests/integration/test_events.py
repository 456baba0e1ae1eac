"""The event journal (manual 4.2.2) and subscriptions (4.6.13) over the real service layer,
registry and chDB: a tampering event and a suspect value where the manual puts them, every
filter (all equals none), the period in the building's days, each meter's state after its
events, subscription validation and ownership, the roles, and the /api/v1 operations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_events
from cloud.seed import UserSeed, seed_company
from cloud.services import audit
from cloud.services.container import Services
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_events
from tests.support_api import shared_app
from tests.support_events import CLOCK, LEAK, MAGNET, ODD, SUSPECT_LOCAL, TAMPER

FROM, TO = date(2026, 1, 10), date(2026, 1, 13)
ALL_EFFECTS = ("integrity", "interference", "limit", "other")


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    tokens: dict[str, str]  # login -> session token


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Тест", "Казань", (UserSeed("eng", "Инженер Тест", "engineer", "eng-pass"),))
    support_events.seed_events(registry, clickhouse, seeded)
    await support_events.add_suspect(registry, clickhouse, seeded.company_id)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "eng", "reader", "admin", "stranger")}
    return World(services, registry, seeded, tokens)


def _view(journal) -> list[tuple[str, list[tuple]]]:
    """(serial, [(local time, effect, severity, description), ...]) per meter, as shown."""
    return [(g.meter.serial, [(e.at, e.effect, e.severity, e.description) for e in g.events]) for g in journal.meters]


async def test_the_journal_groups_each_meters_events_in_time_order(world: World) -> None:
    journal = await world.services.events.journal(world.tokens["disp"], world.seeded.building_id, FROM, TO)
    # building meter first, then apartments 1 and 2; within a meter, time order; the edge's own
    # event (no meter) is not a meter's event; the other company's tampering is not here
    assert _view(journal) == [
        ("307T0001", [(CLOCK.local, "other", "info", "Часы прибора скорректированы"),
                      (MAGNET.local, "interference", "warning", "Магнит у датчика")]),
        ("223T0001", [(TAMPER.local, "integrity", "alarm", "Вскрытие корпуса"),
                      (ODD.local, "other", "info", "Выполнение иного контролируемого события (код 0x0499)")]),
        ("223T0002", [(LEAK.local, "limit", "warning", "Утечка: непрерывный расход в течение нескольких часов"),
                      (SUSPECT_LOCAL, "limit", "warning",
                       "Недостоверное значение: приращение счётчика выше допустимого")]),
    ]
    assert (journal.total, journal.truncated) == (6, False)
    tamper = journal.meters[1].events[0]
    # the meter type comes from the registry's role; the time is the building's (UTC+3)
    assert (tamper.meter_type, tamper.source, tamper.device_code) == ("individual", "device", 0x0101)
    assert tamper.at_utc == datetime(2026, 1, 11, 7, 0, tzinfo=UTC)
    suspect = journal.meters[2].events[1]
    assert (suspect.code, suspect.source, suspect.detail["parameter"]) == ("implausible_increment", "cloud", "Q")
    assert journal.meters[0].events[1].meter_type == "common"


async def test_each_meter_is_followed_by_its_current_state(world: World) -> None:
    journal = await world.services.events.journal(world.tokens["disp"], world.seeded.building_id, FROM, TO)
    states = {g.meter.serial: g.state for g in journal.meters}
    # 307T0001: hourly archives 2026-01-10 00:00 .. 2026-01-12 23:00 local (72 hours); the last reading
    # closes hour 72: 100 + 0.035 x 72 = 102.52 Gcal
    building = states["307T0001"]
    assert (building.status, building.last_archive_at) == ("in_service", datetime(2026, 1, 12, 23, 0))
    assert [(r.channel, r.parameter, r.value, r.unit) for r in building.readings] == [
        (1, "Q", pytest.approx(102.52), "Gcal")]
    # apartment 2's newest record is the suspect one, stored as the device sent it
    assert states["223T0002"].last_archive_at == SUSPECT_LOCAL
    assert [r.value for r in states["223T0002"].readings] == [support_events.SUSPECT_VALUE]


@pytest.mark.parametrize(("filters", "expected"), [
    # one effect: the tampering (integrity) on apartment 1 only
    ({"effects": ["integrity"]}, {"223T0001": 1}),
    # suspect values are limit violations, with the leak
    ({"effects": ["limit"]}, {"223T0002": 2}),
    ({"meter_types": ["common"]}, {"307T0001": 2}),
    ({"meter_types": ["individual"], "severities": ["warning"]}, {"223T0002": 2}),
    ({"severities": ["alarm"]}, {"223T0001": 1}),
    ({"severities": ["info", "alarm"], "effects": ["other", "integrity"]}, {"307T0001": 1, "223T0001": 2}),
    # "all" equals "none": every value chosen is no filter at all
    ({"effects": list(ALL_EFFECTS), "meter_types": ["individual", "common"],
      "severities": ["info", "warning", "alarm"]}, {"307T0001": 2, "223T0001": 2, "223T0002": 2}),
    ({"effects": ["all"]}, {"307T0001": 2, "223T0001": 2, "223T0002": 2}),
    ({"effects": [], "meter_types": [], "severities": []}, {"307T0001": 2, "223T0001": 2, "223T0002": 2}),
])
async def test_filters(world: World, filters: dict, expected: dict[str, int]) -> None:
    journal = await world.services.events.journal(world.tokens["disp"], world.seeded.building_id, FROM, TO, **filters)
    assert {g.meter.serial: len(g.events) for g in journal.meters} == expected
    assert journal.total == sum(expected.values())


async def test_the_period_is_in_the_buildings_days(world: World) -> None:
    svc, token, building = world.services.events, world.tokens["disp"], world.seeded.building_id
    # the suspect value is at 2026-01-13 00:00 local (2026-01-12 21:00 UTC): the 13th's, not the 12th's
    assert (await svc.journal(token, building, FROM, date(2026, 1, 12))).total == 5
    only = await svc.journal(token, building, date(2026, 1, 13), date(2026, 1, 13))
    assert [e.at for g in only.meters for e in g.events] == [SUSPECT_LOCAL]
    # default: the last 7 days up to "today" (2026-01-14 local): 8..14 January
    default = await svc.journal(token, building)
    assert (default.first, default.last, default.total) == (date(2026, 1, 8), date(2026, 1, 14), 6)
    empty = await svc.journal(token, building, date(2026, 1, 1), date(2026, 1, 9))
    assert (empty.meters, empty.total) == ((), 0)
    with pytest.raises(InvalidInput, match="to: 2026-01-09 is before from: 2026-01-10"):
        await svc.journal(token, building, date(2026, 1, 10), date(2026, 1, 9))
    with pytest.raises(InvalidInput, match="at most 366 days"):
        await svc.journal(token, building, date(2025, 1, 1), date(2026, 1, 9))
    with pytest.raises(InvalidInput, match="effect: unknown value 'leak'"):
        await svc.journal(token, building, FROM, TO, effects=["leak"])


async def test_journal_scope_and_roles(world: World) -> None:
    svc = world.services.events
    with pytest.raises(NotFound):  # another company's building does not exist for this user
        await svc.journal(world.tokens["disp"], world.seeded.other_building_id, FROM, TO)
    with pytest.raises(NotFound):  # administrators see no operational data
        await svc.journal(world.tokens["admin"], world.seeded.building_id, FROM, TO)
    reader = await svc.journal(world.tokens["reader"], world.seeded.building_id, FROM, TO)
    assert reader.total == 6
    stranger = await svc.journal(world.tokens["stranger"], world.seeded.other_building_id, FROM, TO)
    assert [(g.meter.serial, [e.effect for e in g.events]) for g in stranger.meters] == [("307X0001", ["integrity"])]


# --- subscriptions ------------------------------------------------------------------------------

async def test_a_subscription_needs_a_value_of_each_characteristic(world: World) -> None:
    svc, token = world.services.events, world.tokens["disp"]
    for args, name in ((([], ["integrity"], ["alarm"]), "meter_types"), ((["common"], [], ["alarm"]), "effects"),
                       ((["common"], ["limit"], []), "severities")):
        with pytest.raises(InvalidInput, match=f"{name}: choose at least one"):
            await svc.create_subscription(token, *args, "d@example.ru")
    with pytest.raises(InvalidInput, match="effects: unknown value 'fire'"):
        await svc.create_subscription(token, ["common"], ["fire"], ["alarm"], "d@example.ru")
    for bad in ("", "d", "d@", "@example.ru", "d@example", "d example@x.ru", "d@x.ru\nBcc: e@x.ru",
                "a" * 250 + "@x.ru"):
        with pytest.raises(InvalidInput, match="email: not an e-mail address"):
            await svc.create_subscription(token, ["common"], ["limit"], ["alarm"], bad)
    with pytest.raises(InvalidInput, match="method: only 'email'"):
        await svc.create_subscription(token, ["common"], ["limit"], ["alarm"], "d@example.ru", method="sms")
    assert await svc.subscriptions(token) == []
    # every value of every characteristic is allowed (manual: "возможен выбор всех характеристик")
    made = await svc.create_subscription(token, ["individual", "common", "common"], list(ALL_EFFECTS),
                                         ["warning", "alarm", "info"], "  d@example.ru ")
    assert (made.meter_types, made.effects, made.severities, made.email, made.method) == (
        ("common", "individual"), ("integrity", "interference", "limit", "other"), ("alarm", "info", "warning"),
        "d@example.ru", "email")
    assert made.created_at == cloud_data.NOW


async def test_subscriptions_are_the_owners_and_audited(world: World) -> None:
    svc, disp, eng = world.services.events, world.tokens["disp"], world.tokens["eng"]
    mine = await svc.create_subscription(disp, ["individual"], ["integrity"], ["alarm"], "d@example.ru")
    theirs = await svc.create_subscription(eng, ["common"], ["limit"], ["warning"], "e@example.ru")
    assert [s.id for s in await svc.subscriptions(disp)] == [mine.id]
    assert [s.id for s in await svc.subscriptions(eng)] == [theirs.id]
    changed = await svc.update_subscription(disp, mine.id, ["individual", "common"], ["integrity"], ["alarm"],
                                            "new@example.ru")
    assert (changed.meter_types, changed.email) == (("common", "individual"), "new@example.ru")
    for call in (svc.update_subscription(disp, theirs.id, ["common"], ["limit"], ["alarm"], "d@example.ru"),
                 svc.delete_subscription(disp, theirs.id), svc.delete_subscription(world.tokens["stranger"], mine.id)):
        with pytest.raises(NotFound):
            await call
    await svc.delete_subscription(disp, mine.id)
    assert await svc.subscriptions(disp) == []
    with world.registry.connect() as db:
        actions = [(e.action, e.object) for e in audit.entries(db, world.seeded.company_id)]
    assert actions[:4] == [("event_subscription.delete", f"event_subscription:{mine.id}"),
                           ("event_subscription.update", f"event_subscription:{mine.id}"),
                           ("event_subscription.create", f"event_subscription:{theirs.id}"),
                           ("event_subscription.create", f"event_subscription:{mine.id}")]


async def test_subscription_roles(world: World) -> None:
    svc = world.services.events
    made = await svc.create_subscription(world.tokens["disp"], ["common"], ["limit"], ["alarm"], "d@example.ru")
    # a reader looks and changes nothing
    assert await svc.subscriptions(world.tokens["reader"]) == []
    with pytest.raises(Forbidden, match="read-only"):
        await svc.create_subscription(world.tokens["reader"], ["common"], ["limit"], ["alarm"], "r@example.ru")
    # administrators have none, and cannot make one
    for call in (svc.subscriptions(world.tokens["admin"]),
                 svc.create_subscription(world.tokens["admin"], ["common"], ["limit"], ["alarm"], "a@example.ru"),
                 svc.delete_subscription(world.tokens["admin"], made.id)):
        with pytest.raises(NotFound):
            await call
    assert len(world.registry.all("SELECT * FROM event_subscriptions")) == 1


# --- the API ---------------------------------------------------------------------------------------

@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    tokens = await cloud_data.own_tokens(world.services, world.registry, ("disp", "reader", "admin"))
    app = shared_app(world.services, clickhouse)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c, {login: {"Authorization": f"Bearer {t}"} for login, t in tokens.items()}


async def test_api_events_and_subscriptions(world: World, client) -> None:
    c, auth = client
    building = world.seeded.building_id
    answer = await c.get(f"/api/v1/events?building_id={building}&from=2026-01-10&to=2026-01-13"
                         "&effect=integrity&effect=limit", headers=auth["disp"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(m["meter"]["serial"], [e["effect"] for e in m["events"]]) for m in body["meters"]] == [
        ("223T0001", ["integrity"]), ("223T0002", ["limit", "limit"])]
    assert body["meters"][0]["events"][0]["at"] == "2026-01-11T10:00:00"
    assert body["meters"][1]["state"]["last_archive_at"] == "2026-01-13T00:00:00"
    assert (await c.get(f"/api/v1/events?building_id={building}&severity=fatal", headers=auth["disp"])
            ).status_code == 422
    assert (await c.get(f"/api/v1/events?building_id={building}", headers=auth["admin"])).status_code == 404
    assert (await c.get(f"/api/v1/events?building_id={world.seeded.other_building_id}", headers=auth["disp"])
            ).status_code == 404

    new = {"meter_types": ["individual"], "effects": ["integrity"], "severities": [], "email": "d@example.ru"}
    refused = await c.post("/api/v1/event-subscriptions", json=new, headers=auth["disp"])
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_input")
    assert "severities: choose at least one" in refused.json()["message"]
    new["severities"] = ["alarm"]
    assert (await c.post("/api/v1/event-subscriptions", json=new, headers=auth["reader"])).status_code == 403
    made = await c.post("/api/v1/event-subscriptions", json=new, headers=auth["disp"])
    assert made.status_code == 201, made.text
    ident = made.json()["id"]
    new["email"] = "other@example.ru"
    assert (await c.put(f"/api/v1/event-subscriptions/{ident}", json=new, headers=auth["disp"])).json()["email"] == \
        "other@example.ru"
    listed = (await c.get("/api/v1/event-subscriptions", headers=auth["disp"])).json()
    assert [(s["id"], s["email"], s["method"]) for s in listed] == [(ident, "other@example.ru", "email")]
    assert (await c.get("/api/v1/event-subscriptions", headers=auth["admin"])).status_code == 404
    assert (await c.delete(f"/api/v1/event-subscriptions/{ident}", headers=auth["reader"])).status_code == 403
    assert (await c.delete(f"/api/v1/event-subscriptions/{ident}", headers=auth["disp"])).status_code == 204
    assert (await c.get("/api/v1/event-subscriptions", headers=auth["disp"])).json() == []



def test_openapi_names_the_operations(world: World) -> None:
    """This module's routes alone: their OpenAPI description builds and names the operations."""
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_events.routes(api, world.services)
    app = FastAPI()
    app.include_router(api, prefix="/api")
    spec = app.openapi()
    operations = {op["operationId"]: path for path, item in spec["paths"].items() for op in item.values()}
    assert operations == {"events": "/api/v1/events", "event_subscriptions": "/api/v1/event-subscriptions",
                          "create_event_subscription": "/api/v1/event-subscriptions",
                          "update_event_subscription": "/api/v1/event-subscriptions/{subscription_id}",
                          "delete_event_subscription": "/api/v1/event-subscriptions/{subscription_id}"}
    parameters = {p["name"] for p in spec["paths"]["/api/v1/events"]["get"]["parameters"]}
    assert {"building_id", "from", "to", "meter_role", "effect", "severity"} <= parameters
