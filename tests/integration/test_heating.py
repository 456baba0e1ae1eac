"""The heating season (manual 4.5.7), the building's temperature schedule (4.6.8) and its control
(4.2.5) over the real registry and chDB: outdoor temperatures from the nearest weather station's
observations, T1/T2 from the archive, the numbers of tests/support_heating.py worked out by hand;
season rules at each edge, the audit, roles (reader and engineer change nothing, administrator sees
nothing), another company's building not found, and the /api/v1 answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_heating
from cloud.seed import BuildingSeed, seed_building
from cloud.services import audit
from cloud.services.auth import hash_password
from cloud.services.container import Services
from cloud.services.heating import SchedulePoint
from cloud.services.models import Forbidden, Granularity, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_heating
from tests.support_api import api_client, api_token


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    second: int  # a second building of the same company, no season set
    tokens: dict[str, str]  # login -> session token


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    second = seed_building(registry, seeded.company_id, BuildingSeed(
        site="test", address="ул. Тестовая, 3", city="Казань", time_zone=cloud_data.TZ, heat_meter_serial="307T0003",
        heat_meter_model="KARAT-307", heat_meter_communicator="Modbus TCP 127.0.0.1:5021 #1", premises=()))
    with registry.connect() as db:
        db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                   "(?, 'eng', 'Инженер Тест', 'engineer', ?)", (seeded.company_id, hash_password("eng-pass")))
    support_heating.seed_temperatures(registry, clickhouse, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng")}
    return World(services, registry, seeded, second, tokens)


def _audit(world: World, action: str) -> list[audit.AuditEntry]:
    with world.registry.connect() as db:
        return [e for e in audit.entries(db, world.seeded.company_id) if e.action == action]


# --- season (4.5.7) ------------------------------------------------------------------------------

async def test_season_set_undo_and_history(world: World) -> None:
    heating, disp, b = world.services.heating, world.tokens["disp"], world.seeded.building_id
    rows = {s.building_id: s for s in await heating.seasons(disp)}
    assert set(rows) == {b, world.second}  # not the other company's building
    assert (rows[b].season, rows[b].starts_on, rows[b].undoable) == (None, None, False)  # both icons grey

    (row,) = await heating.set_season(disp, [b], "heating", date(2025, 10, 1))
    assert (row.season, row.starts_on, row.set_by, row.undoable) == ("heating", date(2025, 10, 1),
                                                                      "Диспетчер Тест", True)
    assert row.set_at == datetime(2026, 1, 14, 15, 0)  # NOW 12:00 UTC in Moscow time
    (entry,) = _audit(world, "heating_season.set")
    assert (entry.object, entry.before, entry.after) == (f"building:{b}", None,
                                                         {"season": "heating", "starts_on": "2025-10-01"})

    # one change per day: a second one today is refused until the first is undone
    with pytest.raises(InvalidInput, match="changed today already"):
        await heating.set_season(disp, [b], "non_heating", date(2026, 1, 12))
    undone = await heating.undo_season(disp, b)
    assert (undone.season, undone.undoable) == (None, False)
    assert len(_audit(world, "heating_season.undo")) == 1
    with pytest.raises(InvalidInput, match="no season change to undo"):
        await heating.undo_season(disp, b)
    await heating.set_season(disp, [b], "heating", date(2025, 11, 1))
    history = await heating.season_history(disp, b)
    assert [(h.season, h.starts_on, h.undone_at is not None) for h in history] == [
        ("heating", date(2025, 11, 1), False), ("heating", date(2025, 10, 1), True)]
    assert history[1].undone_at == datetime(2026, 1, 14, 15, 0)

    # the next day: the change can no longer be undone, a new one may be made
    world.services.set_clock(lambda: cloud_data.NOW + timedelta(days=1))
    assert not {s.building_id: s for s in await heating.seasons(disp)}[b].undoable
    with pytest.raises(InvalidInput, match="only a change made today"):
        await heating.undo_season(disp, b)
    with pytest.raises(InvalidInput, match="after today"):
        await heating.set_season(disp, [b], "non_heating", date(2026, 1, 16))
    with pytest.raises(InvalidInput, match="before the previous change"):
        await heating.set_season(disp, [b], "non_heating", date(2025, 10, 31))
    with pytest.raises(InvalidInput, match="cannot start on one date"):
        await heating.set_season(disp, [b], "non_heating", date(2025, 11, 1))
    with pytest.raises(InvalidInput, match="heating season already"):
        await heating.set_season(disp, [b], "heating", date(2026, 1, 15))
    (row,) = await heating.set_season(disp, [b], "non_heating", date(2026, 1, 15))  # today: allowed
    assert row.season == "non_heating"


async def test_group_change_only_of_buildings_in_the_same_season(world: World) -> None:
    heating, disp, b, second = world.services.heating, world.tokens["disp"], world.seeded.building_id, world.second
    support_heating.set_heating(world.registry, b)  # heating since 2025-10-01, set long ago
    with pytest.raises(InvalidInput, match="same season"):
        await heating.set_season(disp, [b, second], "non_heating", date(2026, 1, 12))
    assert not _audit(world, "heating_season.set")  # nothing written for either
    await heating.set_season(disp, [second], "heating", date(2025, 10, 5))
    world.services.set_clock(lambda: cloud_data.NOW + timedelta(days=1))
    rows = await heating.set_season(disp, [b, second], "non_heating", date(2026, 1, 12))
    assert {(r.building_id, r.season, r.starts_on) for r in rows} == {
        (b, "non_heating", date(2026, 1, 12)), (second, "non_heating", date(2026, 1, 12))}
    # a group refused as a whole when one building breaks a rule, naming it
    with pytest.raises(InvalidInput, match=r"ул\. Тестовая, 3: .*changed today already"):
        await heating.set_season(disp, [second, b], "heating", date(2026, 1, 15))


async def test_season_roles_and_scope(world: World) -> None:
    heating, b = world.services.heating, world.seeded.building_id
    for login in ("reader", "eng"):
        with pytest.raises(Forbidden):
            await heating.set_season(world.tokens[login], [b], "heating", date(2025, 10, 1))
        with pytest.raises(Forbidden):
            await heating.undo_season(world.tokens[login], b)
    assert [s.season for s in await heating.seasons(world.tokens["reader"])] == [None, None]  # readers see
    with pytest.raises(NotFound):
        await heating.seasons(world.tokens["admin"])
    with pytest.raises(NotFound):
        await heating.set_season(world.tokens["disp"], [world.seeded.other_building_id], "heating", date(2025, 10, 1))
    with pytest.raises(NotFound):
        await heating.season_history(world.tokens["disp"], world.seeded.other_building_id)
    assert not _audit(world, "heating_season.set")


# --- schedule (4.6.8) ----------------------------------------------------------------------------

async def test_schedule_city_default_own_values_and_revert(world: World) -> None:
    heating, disp, b = world.services.heating, world.tokens["disp"], world.seeded.building_id
    shown = await heating.schedule(disp, b)
    assert (shown.own, shown.source, shown.supply_tolerance_pct, shown.return_tolerance_pct) == (False, "city", 3, 5)
    assert [(p.outdoor_c, p.supply_c, p.return_c) for p in shown.points] == list(support_heating.SCHEDULE)

    edited = [SchedulePoint(8, 45.0, 38.0), SchedulePoint(0, 56.5, 45.0), SchedulePoint(-10, 70.0, 55.0)]
    saved = await heating.set_schedule(disp, b, edited)
    assert (saved.own, saved.source, saved.points, saved.updated_by) == (True, "building", tuple(edited),
                                                                          "Диспетчер Тест")
    assert [(p.outdoor_c, p.supply_c) for p in saved.default_points] == [(8, 43.0), (0, 55.0), (-10, 69.0)]
    (entry,) = _audit(world, "temperature_schedule.set")
    assert entry.after == {"points": [[8, 45.0, 38.0], [0, 56.5, 45.0], [-10, 70.0, 55.0]]}

    with pytest.raises(InvalidInput, match=r"the city's 8\.\.-10"):
        await heating.set_schedule(disp, b, edited[:2])
    with pytest.raises(InvalidInput, match=r"points\[1\]: return 60 is above supply 56.5"):
        await heating.set_schedule(disp, b, [edited[0], SchedulePoint(0, 56.5, 60.0), edited[2]])
    for login in ("reader", "eng"):
        with pytest.raises(Forbidden):
            await heating.set_schedule(world.tokens[login], b, edited)
        with pytest.raises(Forbidden):
            await heating.reset_schedule(world.tokens[login], b)
    with pytest.raises(NotFound):
        await heating.schedule(world.tokens["admin"], b)
    with pytest.raises(NotFound):
        await heating.schedule(disp, world.seeded.other_building_id)

    reverted = await heating.reset_schedule(disp, b)
    assert (reverted.own, reverted.source, reverted.points) == (False, "city", shown.points)
    assert len(_audit(world, "temperature_schedule.reset")) == 1


async def test_builtin_schedule_when_the_city_has_none(world: World) -> None:
    with world.registry.connect() as db:
        db.execute("DELETE FROM city_temperature_schedule")
    shown = await world.services.heating.schedule(world.tokens["disp"], world.seeded.building_id)
    assert (shown.source, len(shown.points), shown.points[0], shown.points[-1]) == (
        "builtin", 39, SchedulePoint(8, 43.0, 37.0), SchedulePoint(-30, 95.0, 70.0))


# --- control (4.2.5) -----------------------------------------------------------------------------

async def test_daily_control_against_the_schedule(world: World) -> None:
    heating, b = world.services.heating, world.seeded.building_id
    support_heating.set_heating(world.registry, b)
    report = await heating.control(world.tokens["reader"], b, period=date(2026, 1, 1))
    assert (report.meter.serial if report.meter else None, report.channel, report.station) == (
        "307T0001", 1, "Казань, Опорная")  # the nearer of the two stations
    assert report.heating_days == tuple(date(2026, 1, d) for d in range(1, 15))  # up to today
    rows = {r.start.day: r for r in report.rows}
    assert (rows[9].supply_c, rows[9].outdoor_c, rows[9].supply_violation) == (None, None, None)  # no data: missing

    r = rows[10]  # Tнв -5: 62.0/49.5; supply 63.8: +1.8 = +2.90 % ok; return 52.0: +2.5 = +5.05 % violates
    assert (r.outdoor_c, r.outdoor_hours, r.hours, r.supply_hours) == (-5.0, 24, 24, 24)
    assert (r.prescribed_supply_c, r.prescribed_return_c) == pytest.approx((62.0, 49.5))
    assert (r.supply_c, r.supply_delta, r.supply_delta_pct) == pytest.approx((63.8, 1.8, 2.9032258))
    assert (r.return_c, r.return_delta, r.return_delta_pct) == pytest.approx((52.0, 2.5, 5.0505050))
    assert (r.supply_violation, r.return_violation) == (False, True)

    r = rows[11]  # Tнв -2.5: 58.5/47.25; supply 60.5: +2.0 = +3.42 % violates; return 40: -15.3 %, not limited
    assert r.outdoor_c == pytest.approx(-2.5)
    assert (r.prescribed_supply_c, r.prescribed_return_c) == pytest.approx((58.5, 47.25))
    assert (r.supply_c, r.supply_delta_pct) == pytest.approx((60.5, 3.4188034))
    assert (r.return_delta, r.return_delta_pct) == pytest.approx((-7.25, -15.3439153))
    assert (r.supply_violation, r.return_violation) == (True, False)

    r = rows[12]  # one hourly T1 missing: the supply mean of 23 hours is shown, not judged; return judged
    assert (r.supply_hours, r.supply_c, r.supply_violation) == (23, pytest.approx(62.0), None)
    assert (r.return_delta, r.return_violation) == (pytest.approx(0.0), False)

    r = rows[13]  # no outdoor temperature: nothing prescribed, nothing judged
    assert (r.outdoor_c, r.prescribed_supply_c, r.supply_c, r.supply_violation, r.return_violation) == (
        None, None, pytest.approx(70.0), None, None)

    r = rows[14]  # today: 15 closed hours (00..14 local) of 24, not judged
    assert (r.hours, r.supply_hours, r.supply_delta, r.supply_violation) == (24, 15, pytest.approx(13.0), None)
    assert report.violations == 2


async def test_hourly_view_is_information_only(world: World) -> None:
    heating, b = world.services.heating, world.seeded.building_id
    support_heating.set_heating(world.registry, b)
    report = await heating.control(world.tokens["disp"], b, granularity=Granularity.HOUR, period=date(2026, 1, 11))
    assert [r.start.hour for r in report.rows] == list(range(24))
    first = report.rows[0]  # 00:00: -2 degC: 55 + 0.2 * 14 = 57.8, 45 + 0.2 * 9 = 46.8; T1 60: +2.2 (3.8 %)
    assert (first.outdoor_c, first.supply_c, first.return_c) == (-2.0, 60.0, 40.0)
    assert (first.prescribed_supply_c, first.prescribed_return_c) == pytest.approx((57.8, 46.8))
    assert first.supply_delta == pytest.approx(2.2)
    assert all(r.supply_violation is None and r.return_violation is None for r in report.rows)
    today = await heating.control(world.tokens["disp"], b, granularity=Granularity.HOUR, period=date(2026, 1, 14))
    assert len(today.rows) == 15  # hours that have closed


async def test_nothing_outside_the_heating_season(world: World) -> None:
    heating, disp, b = world.services.heating, world.tokens["disp"], world.seeded.building_id
    report = await heating.control(disp, b, period=date(2026, 1, 1))  # no season set: nothing judged
    assert (report.season, report.rows, len(report.outside_days)) == (None, (), 14)
    support_heating.set_heating(world.registry, b)
    await heating.set_season(disp, [b], "non_heating", date(2026, 1, 12))
    report = await heating.control(disp, b, period=date(2026, 1, 1))
    assert report.season == "non_heating"
    assert [r.start.day for r in report.rows] == list(range(1, 12))  # heating until 01-11
    assert report.outside_days == (date(2026, 1, 12), date(2026, 1, 13), date(2026, 1, 14))
    hourly = await heating.control(disp, b, granularity=Granularity.HOUR, period=date(2026, 1, 13))
    assert hourly.rows == ()


async def test_control_meter_choice_and_scope(world: World) -> None:
    heating, disp, b = world.services.heating, world.tokens["disp"], world.seeded.building_id
    apartment = world.registry.one("SELECT id FROM meters WHERE serial = '223T0001'")["id"]
    stranger = world.registry.one("SELECT id FROM meters WHERE serial = '307X0001'")["id"]
    with pytest.raises(InvalidInput, match="not a heat building meter"):
        await heating.control(disp, b, meter_id=apartment)
    with pytest.raises(NotFound):
        await heating.control(disp, b, meter_id=stranger)
    with pytest.raises(NotFound):
        await heating.control(disp, world.seeded.other_building_id)
    with pytest.raises(NotFound):
        await heating.control(world.tokens["admin"], b)
    none = await heating.control(disp, world.second, period=date(2026, 1, 1))
    assert none.meter is not None
    assert none.station is None  # no coordinates: no station


# --- /api/v1 -------------------------------------------------------------------------------------

@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.services, clickhouse) as http:
        yield http


async def _api_token(world: World, login: str) -> dict[str, str]:
    return await api_token(world.services, world.registry, world.tokens[login], login)


async def test_api(world: World, client: httpx.AsyncClient) -> None:
    b = world.seeded.building_id
    disp, reader = await _api_token(world, "disp"), await _api_token(world, "reader")
    # this module's routes alone (the other screens' modules are described by their own tests)
    alone = FastAPI()
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_heating.routes(api, world.services)
    alone.include_router(api)
    doc = alone.openapi()
    operations = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {"heating_seasons", "set_heating_season", "undo_heating_season", "heating_season_history",
            "temperature_schedule", "set_temperature_schedule", "reset_temperature_schedule",
            "temperature_schedule_control"} <= operations
    answer = await client.post("/api/v1/heating-seasons", headers=reader,
                               json={"building_ids": [b], "season": "heating", "starts_on": "2025-10-01"})
    assert answer.status_code == 403
    answer = await client.post("/api/v1/heating-seasons", headers=disp,
                               json={"building_ids": [b], "season": "heating", "starts_on": "2025-10-01"})
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["season"] == "heating"
    answer = await client.post("/api/v1/heating-seasons", headers=disp,
                               json={"building_ids": [b], "season": "non_heating", "starts_on": "2026-01-20"})
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input")
    assert (await client.get(f"/api/v1/buildings/{b}/heating-season/history", headers=reader)).status_code == 200
    control = await client.get(f"/api/v1/buildings/{b}/temperature-control?granularity=day&period=2026-01-10",
                               headers=reader)
    assert control.status_code == 200, control.text
    day = next(r for r in control.json()["rows"] if r["start"].startswith("2026-01-10"))
    assert (day["outdoor_c"], day["return_violation"], day["supply_violation"]) == (-5.0, True, False)
    day13 = next(r for r in control.json()["rows"] if r["start"].startswith("2026-01-13"))
    assert (day13["outdoor_c"], day13["prescribed_supply_c"], day13["supply_violation"]) == (None, None, None)
    schedule = (await client.get(f"/api/v1/buildings/{b}/temperature-schedule", headers=reader)).json()
    points = [{**p, "supply_c": p["supply_c"] + 1} for p in schedule["points"]]
    assert (await client.put(f"/api/v1/buildings/{b}/temperature-schedule", headers=reader,
                             json={"points": points})).status_code == 403
    saved = await client.put(f"/api/v1/buildings/{b}/temperature-schedule", headers=disp, json={"points": points})
    assert (saved.status_code, saved.json()["own"], saved.json()["points"][0]["supply_c"]) == (200, True, 44.0)
    reset = await client.delete(f"/api/v1/buildings/{b}/temperature-schedule", headers=disp)
    assert (reset.status_code, reset.json()["own"]) == (200, False)
    undo = await client.post(f"/api/v1/buildings/{b}/heating-season/undo", headers=disp)
    assert (undo.status_code, undo.json()["season"]) == (200, None)
