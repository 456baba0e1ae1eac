"""Power limitation (manual 4.5.8) and relay thresholds (4.6.11) over the real registry and chDB,
the test playing the edge's results (CommandService.apply_results, as the ingest does): the
threshold building -> city -> none, a limitation that follows its relay command (sent, done,
failed, timed out, a late result), lifting, retrying, the history and the audit; roles (engineer
and reader change nothing, administrator sees nothing), another company's objects not found, and
the /api/v1 answers. Seed: tests/cloud_data.py with tests/support_power.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_power
from cloud.services import audit
from cloud.services.container import Services
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.services.power_limits import ThresholdChange
from cloud.services.power_rules import PowerRuleError
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.wire import CommandResult
from tests import cloud_data, support_power
from tests.support_api import api_client, api_token

NOW_S = cloud_data.NOW.timestamp()


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    power: support_power.PowerSeed
    tokens: dict[str, str]  # login -> session token


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    power = support_power.seed_power(registry, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng")}
    return World(services, registry, seeded, power, tokens)


def _audit(world: World, action: str) -> list[audit.AuditEntry]:
    with world.registry.connect() as db:
        return [e for e in audit.entries(db, world.seeded.company_id) if e.action == action]


def _edge(world: World, command_id: str, state: str, after_s: float = 60, **detail: object) -> None:
    """The edge's result for a command, as the ingest hands it over."""
    moved = world.services.commands.apply_results("test", [CommandResult(command_id, state, NOW_S + after_s,
                                                                          dict(detail))])
    assert moved == 1


async def _thresholds(world: World, city: int | None, building: int | None) -> None:
    power, disp = world.services.power, world.tokens["disp"]
    await power.set_city_threshold(disp, world.power.city_id, city)
    await power.set_building_thresholds(disp, [ThresholdChange(world.seeded.building_id, building)])


# --- thresholds (4.6.11) ----------------------------------------------------------------------------

async def test_threshold_building_then_city_then_none(world: World) -> None:
    power, disp, b = world.services.power, world.tokens["disp"], world.seeded.building_id
    table = await power.thresholds(disp)
    assert [(c.city, c.threshold_w) for c in table.cities] == [("Казань", None)]
    assert [(x.building_id, x.own_w, x.threshold_w, x.source) for x in table.buildings] == [(b, None, None, None)]
    rows = {p.premise_id: p for p in await power.premises(disp)}
    # premise 2 has no 941LW; the other company's premise is not ours
    assert set(rows) == {world.power.premise_1, world.power.premise_3}
    assert (rows[world.power.premise_1].threshold_w, rows[world.power.premise_1].may_start) == (None, False)
    with pytest.raises(PowerRuleError, match="no relay threshold") as caught:
        await power.start(disp, world.power.premise_1, "debt", debt_amount=1000.0)
    assert caught.value.reason == "no_threshold"
    assert world.registry.one("SELECT count(*) AS n FROM commands")["n"] == 0  # nothing was sent

    city = await power.set_city_threshold(disp, world.power.city_id, 5000)
    assert (city.threshold_w, city.updated_by) == (5000, "Диспетчер Тест")
    assert city.updated_at is not None
    assert city.updated_at.hour == 15
    premise = await power.premise(disp, world.power.premise_1)
    assert (premise.threshold_w, premise.threshold_source, premise.may_start) == (5000, "city", True)
    (changed,) = await power.set_building_thresholds(disp, [ThresholdChange(b, 3000)])
    assert (changed.own_w, changed.threshold_w, changed.source) == (3000, 3000, "building")
    (changed,) = await power.set_building_thresholds(disp, [ThresholdChange(b, None)])
    assert (changed.own_w, changed.threshold_w, changed.source) == (None, 5000, "city")
    assert [(e.object, e.before, e.after) for e in reversed(_audit(world, "relay_threshold.building"))] == [
        (f"building:{b}", {"threshold_w": None}, {"threshold_w": 3000}),
        (f"building:{b}", {"threshold_w": 3000}, {"threshold_w": None})]
    assert [(e.before, e.after) for e in _audit(world, "relay_threshold.city")] == [
        ({"threshold_w": None}, {"threshold_w": 5000})]
    # the same value again changes nothing and is not audited again
    await power.set_city_threshold(disp, world.power.city_id, 5000)
    assert len(_audit(world, "relay_threshold.city")) == 1


async def test_thresholds_are_bounded_and_a_dispatchers(world: World) -> None:
    power, b, city = world.services.power, world.seeded.building_id, world.power.city_id
    for bad in (99, 1_000_001, 0):
        with pytest.raises(InvalidInput, match=r"threshold_w: whole watts from 100 to 1000000"):
            await power.set_city_threshold(world.tokens["disp"], city, bad)
        with pytest.raises(InvalidInput, match=r"changes\[0\]\.threshold_w"):
            await power.set_building_thresholds(world.tokens["disp"], [ThresholdChange(b, bad)])
    with pytest.raises(InvalidInput, match="changed twice"):
        await power.set_building_thresholds(world.tokens["disp"], [ThresholdChange(b, 200), ThresholdChange(b, 300)])
    for login in ("eng", "reader"):
        with pytest.raises(Forbidden):
            await power.set_city_threshold(world.tokens[login], city, 5000)
        with pytest.raises(Forbidden):
            await power.set_building_thresholds(world.tokens[login], [ThresholdChange(b, 3000)])
        assert (await power.thresholds(world.tokens[login])).buildings  # but they read them
    with pytest.raises(NotFound):
        await power.thresholds(world.tokens["admin"])
    with pytest.raises(NotFound):
        await power.set_city_threshold(world.tokens["admin"], city, 5000)
    # the other company: our building is not found; our city is one it works in too, but its
    # default is its own and ours stays unset
    with pytest.raises(NotFound, match="building"):
        await power.set_building_thresholds(world.tokens["stranger"], [ThresholdChange(b, 3000)])
    await power.set_city_threshold(world.tokens["stranger"], city, 7000)
    assert (await power.thresholds(world.tokens["disp"])).cities[0].threshold_w is None
    assert _audit(world, "relay_threshold.city") == []


# --- limitations (4.5.8) ----------------------------------------------------------------------------

async def test_debt_limitation_follows_its_relay_command_and_is_lifted(world: World) -> None:
    power, commands, disp, p1 = world.services.power, world.services.commands, world.tokens["disp"], \
        world.power.premise_1
    await _thresholds(world, 5000, 3000)
    started = await power.start(disp, p1, "debt", debt_amount=12345.67, notify=True,
                                notify_on=date(2026, 1, 15), control_on=date(2026, 1, 20))
    # no bus attached: the command waits "created", the limitation is being sent, not in force yet
    assert (started.state, started.command_state, started.threshold_w, started.threshold_source) == (
        "sending", "created", 3000, "building")
    assert (started.reason, started.debt_amount, started.notify, started.notify_on, started.control_on) == (
        "debt", 12345.67, True, date(2026, 1, 15), date(2026, 1, 20))
    assert (started.meter_serial, started.created_by, started.created_at.hour, started.actions) == (
        "941T0001", "Диспетчер Тест", 15, ())
    command = await commands.get(disp, started.command_id)
    assert (command.type, command.meter_id, command.args) == (
        "relay", world.power.meter_1, {"meter": "941T0001", "on": True, "limit_w": 3000})
    with pytest.raises(PowerRuleError, match="in force already"):
        await power.start(disp, p1, "repairs", repairs_from=date(2026, 1, 20))
    with pytest.raises(PowerRuleError):
        await power.lift(disp, started.id)  # not limiting yet

    _edge(world, started.command_id, "accepted")
    assert (await power.get(disp, started.id)).state == "sending"
    _edge(world, started.command_id, "done", mode="limit", threshold_w=3000)
    limited = await power.get(disp, started.id)
    assert (limited.state, limited.command_state, limited.actions) == ("limited", "done", ("lift",))
    assert limited.finished_at is not None
    assert limited.finished_at.minute == 1
    (row,) = [p for p in await power.premises(disp) if p.premise_id == p1]
    assert row.limitation is not None
    assert (row.limitation.state, row.may_start) == ("limited", False)
    assert [p.premise_id for p in await power.premises(disp, state="limited")] == [p1]
    assert [p.premise_id for p in await power.premises(disp, state="none")] == [world.power.premise_3]
    assert [p.premise_id for p in await power.premises(disp, reason="debt")] == [p1]
    assert await power.premises(disp, reason="repairs") == []

    lifting = await power.lift(disp, started.id)
    assert (lifting.state, lifting.lifted_by) == ("lifting", "Диспетчер Тест")
    lift_command = await commands.get(disp, lifting.command_id)
    assert lift_command.args == {"meter": "941T0001", "on": True, "limit_w": 0}  # relay ON, no limit
    _edge(world, lifting.command_id, "done", mode="on", threshold_w=0)
    assert (await power.get(disp, started.id)).state == "lifted"
    (row,) = [p for p in await power.premises(disp) if p.premise_id == p1]
    assert (row.limitation, row.may_start) == (None, True)  # a lifted limitation is no longer shown
    history = await power.history(disp, p1)
    assert [(h.id, h.state) for h in history] == [(started.id, "lifted")]
    starts = _audit(world, "power_limitation.start")
    assert [(e.object, e.after["threshold_w"], e.after["debt_amount"], e.after["command_id"]) for e in starts] == [
        (f"premise:{p1}", 3000, 12345.67, started.command_id)]
    (lift,) = _audit(world, "power_limitation.lift")
    assert (lift.before["state"], lift.after["command_id"], lift.after["limit_w"]) == (
        "limited", lifting.command_id, 0)
    assert len(_audit(world, "command.issue")) == 2


async def test_a_failed_or_timed_out_command_is_not_shown_as_limiting(world: World) -> None:
    power, commands, disp, p3 = world.services.power, world.services.commands, world.tokens["disp"], \
        world.power.premise_3
    await _thresholds(world, 4000, None)
    started = await power.start(disp, p3, "repairs", repairs_from=date(2026, 1, 20))
    assert (started.threshold_w, started.threshold_source, started.repairs_from) == (4000, "city", date(2026, 1, 20))
    _edge(world, started.command_id, "failed", reason="access denied by the device (0x0404)")
    failed = await power.get(disp, started.id)
    assert (failed.state, failed.command_detail, failed.actions) == (
        "failed", "access denied by the device (0x0404)", ("retry",))
    (row,) = await power.premises(disp, state="failed")
    assert row.may_start  # nothing is in force: a new limitation may start too

    retried = await power.retry(disp, started.id)
    assert (retried.state, retried.command_state) == ("sending", "created")
    assert retried.command_id != started.command_id
    (entry,) = _audit(world, "power_limitation.retry")
    assert (entry.before["command_id"], entry.after["command_id"]) == (started.command_id, retried.command_id)
    # nobody answers: six hours later the command is timed out, and so is the limitation
    assert commands.sweep(cloud_data.NOW + timedelta(hours=7)) == 1
    assert (await power.get(disp, started.id)).state == "timed_out"
    # a late answer is still the truth about the device
    _edge(world, retried.command_id, "done", after_s=8 * 3600)
    assert (await power.get(disp, started.id)).state == "limited"
    with pytest.raises(PowerRuleError):
        await power.retry(disp, started.id)
    # a lift that times out leaves the relay limiting: lift again
    lifting = await power.lift(disp, started.id)
    assert commands.sweep(cloud_data.NOW + timedelta(hours=7)) == 1
    stuck = await power.get(disp, started.id)
    assert (stuck.state, stuck.actions) == ("lift_timed_out", ("lift",))
    again = await power.lift(disp, started.id)
    assert again.command_id != lifting.command_id
    assert again.state == "lifting"


async def test_a_new_limitation_after_a_failed_one_governs(world: World) -> None:
    power, disp, p1 = world.services.power, world.tokens["disp"], world.power.premise_1
    await _thresholds(world, 5000, None)
    first = await power.start(disp, p1, "debt", debt_amount=500.0)
    _edge(world, first.command_id, "failed", reason="no answer")
    second = await power.start(disp, p1, "debt", debt_amount=600.0)
    history = await power.history(disp, p1)
    assert [(h.id, h.state, h.actions) for h in history] == [(second.id, "sending", ()), (first.id, "failed", ())]
    with pytest.raises(PowerRuleError, match="not the premise's latest"):
        await power.retry(disp, first.id)


async def test_refusals_roles_and_tenancy(world: World) -> None:
    power, t, p = world.services.power, world.tokens, world.power
    await _thresholds(world, 5000, None)
    with pytest.raises(PowerRuleError, match="no KARAT-941LW meter") as caught:
        await power.start(t["disp"], p.premise_2, "debt", debt_amount=100.0)
    assert caught.value.reason == "no_relay"
    with pytest.raises(PowerRuleError) as caught:
        await power.start(t["disp"], p.premise_1, "debt", debt_amount=100.0, notify=True,
                          notify_on=date(2026, 1, 13), control_on=date(2026, 1, 20))
    assert caught.value.reason == "notify_on_range"
    with pytest.raises(InvalidInput, match="reason"):
        await power.start(t["disp"], p.premise_1, "flood")
    with pytest.raises(InvalidInput, match="state"):
        await power.premises(t["disp"], state="cut")
    for login in ("eng", "reader"):
        with pytest.raises(Forbidden):
            await power.start(t[login], p.premise_1, "debt", debt_amount=100.0)
        assert len(await power.premises(t[login])) == 2  # they see the page
        assert await power.history(t[login], p.premise_1) == []
    with pytest.raises(NotFound):
        await power.premises(t["admin"])
    with pytest.raises(NotFound):
        await power.start(t["admin"], p.premise_1, "debt", debt_amount=100.0)
    # another company's premise, history and limitation are not found, in both directions
    with pytest.raises(NotFound):
        await power.start(t["disp"], p.other_premise, "debt", debt_amount=100.0)
    with pytest.raises(NotFound):
        await power.history(t["disp"], p.other_premise)
    with pytest.raises(NotFound):
        await power.premises(t["disp"], building_id=world.seeded.other_building_id)
    started = await power.start(t["disp"], p.premise_1, "debt", debt_amount=100.0)
    for call in (power.get(t["stranger"], started.id), power.lift(t["stranger"], started.id),
                 power.history(t["stranger"], p.premise_1), power.start(t["stranger"], p.premise_1, "debt",
                                                                         debt_amount=1.0)):
        with pytest.raises(NotFound):
            await call
    for login in ("eng", "reader"):
        with pytest.raises(Forbidden):
            await power.lift(t[login], started.id)
        with pytest.raises(Forbidden):
            await power.retry(t[login], started.id)
    assert len(_audit(world, "power_limitation.start")) == 1


# --- /api/v1 ----------------------------------------------------------------------------------------

@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.services, clickhouse) as http:
        yield http


async def _api_token(world: World, login: str) -> dict[str, str]:
    return await api_token(world.services, world.registry, world.tokens[login], login)


async def test_api(world: World, client: httpx.AsyncClient) -> None:
    alone = FastAPI()
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_power.routes(api, world.services)
    alone.include_router(api)
    operations = {op["operationId"] for path in alone.openapi()["paths"].values() for op in path.values()}
    assert operations == {"power_limitation_premises", "power_limitation_premise", "power_limitation_history",
                          "start_power_limitation", "power_limitation", "lift_power_limitation",
                          "retry_power_limitation", "relay_thresholds", "set_city_relay_threshold",
                          "set_building_relay_thresholds"}
    disp, reader, eng = (await _api_token(world, "disp"), await _api_token(world, "reader"),
                         await _api_token(world, "eng"))
    city, b, p1 = world.power.city_id, world.seeded.building_id, world.power.premise_1
    assert (await client.put(f"/api/v1/settings/relay-thresholds/cities/{city}", headers=reader,
                             json={"threshold_w": 5000})).status_code == 403
    bad = await client.put(f"/api/v1/settings/relay-thresholds/cities/{city}", headers=disp, json={"threshold_w": 50})
    assert bad.status_code == 422
    answer = await client.put(f"/api/v1/settings/relay-thresholds/cities/{city}", headers=disp,
                              json={"threshold_w": 5000})
    assert (answer.status_code, answer.json()["threshold_w"]) == (200, 5000)
    answer = await client.put("/api/v1/settings/relay-thresholds/buildings", headers=disp,
                              json={"changes": [{"building_id": b, "threshold_w": 2500}]})
    assert (answer.status_code, answer.json()[0]["source"]) == (200, "building")
    assert (await client.get("/api/v1/settings/relay-thresholds", headers=eng)).json()["buildings"][0][
        "threshold_w"] == 2500
    body = {"premise_id": p1, "reason": "debt", "debt_amount": 900.5}
    assert (await client.post("/api/v1/power/limitations", headers=eng, json=body)).status_code == 403
    refused = await client.post("/api/v1/power/limitations", headers=disp,
                                json={"premise_id": p1, "reason": "debt", "repairs_from": "2026-01-20"})
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_input")
    started = await client.post("/api/v1/power/limitations", headers=disp, json=body)
    assert started.status_code == 200, started.text
    limitation = started.json()
    assert (limitation["state"], limitation["threshold_w"], limitation["debt_amount"]) == ("sending", 2500, 900.5)
    _edge(world, limitation["command_id"], "done")
    listed = await client.get("/api/v1/power/premises?state=limited", headers=reader)
    assert [r["premise_id"] for r in listed.json()] == [p1]
    assert (await client.get("/api/v1/power/premises?state=cut", headers=reader)).status_code == 422
    lifted = await client.post(f"/api/v1/power/limitations/{limitation['id']}/lift", headers=disp)
    assert (lifted.status_code, lifted.json()["state"]) == (200, "lifting")
    again = await client.post(f"/api/v1/power/limitations/{limitation['id']}/lift", headers=disp)
    assert again.status_code == 422
    history = await client.get(f"/api/v1/power/premises/{p1}/limitations", headers=reader)
    assert [h["state"] for h in history.json()] == ["lifting"]
    assert (await client.get(f"/api/v1/power/premises/{world.power.premise_2}", headers=reader)).status_code == 404
    theirs = await client.get("/api/v1/power/premises", headers=await _api_token(world, "stranger"))
    assert [r["premise_id"] for r in theirs.json()] == [world.power.other_premise]  # only their own
