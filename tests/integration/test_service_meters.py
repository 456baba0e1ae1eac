"""The service meters list (manual 4.5.1), measuring channels and sensors (4.5.3) and the verification
calendar (4.5.4) over the real registry and chDB, with the rows of tests/support_service_meters.py
(today 2026-01-14 in Moscow): filters, grouping, channel rules and bindings, the audit, roles (reader
and engineer change no channel, administrator sees nothing, another company's meters are NotFound and
never listed), and the /api/v1 answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_service_meters
from cloud.services import audit
from cloud.services.container import Services
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.services.service_meters import MeterFilter
from cloud.services.service_meters_rules import Member, RuleError
from cloud.services.verification import VerificationFilter
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import MeterRole, Resource
from tests import cloud_data, support_service_meters
from tests.support_api import api_client
from tests.support_service_meters import ServiceIds

JAN = (date(2026, 1, 1), date(2026, 1, 31))


@dataclass
class World:
    services: Services
    registry: Registry
    seeded: cloud_data.Seeded
    ids: ServiceIds
    tokens: dict[str, str]


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    ids = support_service_meters.seed_service(registry, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng")}
    return World(services, registry, seeded, ids, tokens)


def _audit(world: World, action: str) -> list[audit.AuditEntry]:
    with world.registry.connect() as db:
        return [e for e in audit.entries(db, world.seeded.company_id) if e.action == action]


def _serials(result) -> list[str]:
    return [m.serial for g in result.groups for m in g.meters]


# --- the list (4.5.1) ------------------------------------------------------------------------------

async def test_meters_grouped_by_premise_building_meters_first(world: World) -> None:
    result = await world.services.service_meters.meters(world.tokens["disp"])
    # the building meter first, then premises 1, 2, 10 in counting order; never the other company's 307X0001
    assert [(g.premise_number, [m.serial for m in g.meters]) for g in result.groups] == [
        (None, ["307T0001"]), ("1", ["223T0001"]), ("2", ["223T0002"]), ("10", ["926X0010"])]
    assert (result.total, result.shown) == (4, 4)
    tiles = {m.serial: m for g in result.groups for m in g.meters}
    assert {s: t.line_type for s, t in tiles.items()} == {"307T0001": "tcp", "223T0001": "lora", "223T0002": "gprs",
                                                           "926X0010": "lora"}
    assert tiles["926X0010"].status == "decommissioned"
    # 223T0001 was due 2025-12-01: overdue; the decommissioned 926X0010 (2026-01-05) is not
    assert [s for s, t in tiles.items() if t.verification_overdue] == ["223T0001"]
    assert result.options.models == ("KARAT-307", "KARAT-926LW", "KARAT-Compact-2-223")
    assert result.options.line_types == ("tcp", "gprs", "lora")


async def test_filters(world: World) -> None:
    meters, disp, ids = world.services.service_meters.meters, world.tokens["disp"], world.ids

    async def serials(**given) -> list[str]:
        return _serials(await meters(disp, MeterFilter(**given)))

    everything = ["307T0001", "223T0001", "223T0002", "926X0010"]
    assert await serials(line_types=("lora",)) == ["223T0001", "926X0010"]
    assert await serials(line_types=("tcp", "gprs", "lora")) == everything  # all = none
    assert await serials(roles=(MeterRole.COMMON,)) == ["307T0001"]
    assert await serials(roles=(MeterRole.COMMON, MeterRole.INDIVIDUAL)) == everything
    assert await serials(active=True) == ["307T0001", "223T0001", "223T0002"]
    assert await serials(active=False) == ["926X0010"]
    assert await serials(barcode="0017") == ["223T0001"]
    assert await serials(number="223t") == ["223T0001", "223T0002"]
    assert await serials(models=("KARAT-926LW",)) == ["926X0010"]
    assert await serials(resources=(Resource.HEAT,)) == ["307T0001", "223T0001", "223T0002"]
    assert await serials(resources=(Resource.HEAT, Resource.HOT_WATER, Resource.COLD_WATER)) == everything
    # one premise: its meter only (a building meter is in no premise); every premise: no filter at all
    assert await serials(premise_ids=(ids.premise1,)) == ["223T0001"]
    assert await serials(premise_ids=(ids.premise1, ids.premise2, ids.premise10)) == everything
    assert await serials(building_ids=(world.seeded.building_id,)) == everything
    assert await serials(building_ids=(world.seeded.other_building_id,)) == []  # another company's: nothing
    assert await serials(line_types=("lora",), active=True) == ["223T0001"]
    with pytest.raises(InvalidInput, match="line_types"):
        await meters(disp, MeterFilter(line_types=("wifi",)))


async def test_list_roles(world: World) -> None:
    meters = world.services.service_meters.meters
    assert (await meters(world.tokens["eng"])).may_add  # only a service engineer adds a meter
    assert not (await meters(world.tokens["disp"])).may_add
    assert not (await meters(world.tokens["reader"])).may_add  # a reader engineer: read-only
    with pytest.raises(NotFound):
        await meters(world.tokens["admin"])
    assert _serials(await meters(world.tokens["stranger"])) == ["307X0001"]  # the other company sees its own


# --- channels and sensors (4.5.3) -------------------------------------------------------------------

async def test_channels_simple_composite_and_refusals(world: World) -> None:
    sm, disp, ids = world.services.service_meters, world.tokens["disp"], world.ids
    page = await sm.channels(disp, ids.m307)
    assert [(d.number, d.resource.value, d.resource_number) for d in page.device_channels] == [
        (1, "heat", 1), (2, "hot_water", 1), (3, "cold_water", 1)]
    assert [s.serial for s in page.sensors] == ["FT-1", "TS-1", "TS-2"]
    # FT-1 was due 01-13: overdue; TS-1 is due today: not yet
    assert [s.serial for s in page.sensors if s.verification_overdue] == ["FT-1"]
    assert (page.channels, page.may_edit, page.may_edit_sensors) == ((), True, True)

    t1 = await sm.create_channel(disp, ids.m307, resource="heat", resource_number=1, parameter="T1",
                                 members=[Member(ids.ts1, "T1")])
    assert (t1.kind, t1.device_channel, [m.serial for m in t1.members]) == ("simple", 1, ["TS-1"])
    q = await sm.create_channel(disp, ids.m307, resource="heat", resource_number=1, parameter="Q",
                                members=[Member(ids.ft1, "V1"), Member(ids.ts1, "T1"), Member(ids.ts2, "T2")])
    assert (q.kind, [m.quantity for m in q.members]) == ("composite", ["V1", "T1", "T2"])  # TS-1 in two channels
    cold = await sm.create_channel(disp, ids.m307, resource="cold_water", resource_number=1, parameter="V",
                                   members=[Member(None, "V")])
    assert (cold.kind, cold.members[0].serial, cold.updated_by) == ("simple", "307T0001", "Диспетчер Тест")

    for refused, reason in [
        (dict(resource="heat", resource_number=1, parameter="T1", members=[Member(ids.ts2, "T1")]),
         "channel_exists"),
        (dict(resource="heat", resource_number=2, parameter="Q", members=[Member(None, "Q")]), "no_such_resource"),
        (dict(resource="heat", resource_number=1, parameter="T2", members=[Member(ids.ft1, "T2")]),
         "quantity_of_kind"),
        (dict(resource="heat", resource_number=1, parameter="V1", members=[Member(None, "V1"), Member(ids.ft1, "V1")]),
         "quantity_twice"),
    ]:
        with pytest.raises(RuleError) as error:
            await sm.create_channel(disp, ids.m307, **refused)
        assert error.value.reason == reason
    # a sensor of another meter of the company is no instrument of this one
    other_sensor = await sm.add_sensor(disp, ids.m223_1, kind="temperature_sensor", serial="TS-9")
    with pytest.raises(RuleError) as error:
        await sm.create_channel(disp, ids.m307, resource="heat", resource_number=1, parameter="T2",
                                members=[Member(other_sensor.id, "T2")])
    assert error.value.reason == "sensor_not_of_meter"

    # edit: the T1 channel becomes T2 by TS-2
    t2 = await sm.update_channel(disp, t1.id, resource="heat", resource_number=1, parameter="T2",
                                 members=[Member(ids.ts2, "T2")])
    assert (t2.id, t2.parameter, t2.members[0].serial) == (t1.id, "T2", "TS-2")
    page = await sm.channels(disp, ids.m307)
    assert {s.serial: s.channel_ids for s in page.sensors} == {"FT-1": (q.id,), "TS-1": (q.id,),
                                                               "TS-2": (t1.id, q.id)}
    await sm.delete_channel(disp, cold.id)
    assert [c.id for c in (await sm.channels(disp, ids.m307)).channels] == [q.id, t1.id]
    entries = [(e.action, e.object) for e in _audit(world, "measuring_channel.create")
               + _audit(world, "measuring_channel.update") + _audit(world, "measuring_channel.delete")]
    assert sorted(entries) == sorted([
        ("measuring_channel.create", f"measuring_channel:{t1.id}"), ("measuring_channel.create",
                                                                    f"measuring_channel:{q.id}"),
        ("measuring_channel.create", f"measuring_channel:{cold.id}"),
        ("measuring_channel.update", f"measuring_channel:{t1.id}"),
        ("measuring_channel.delete", f"measuring_channel:{cold.id}")])
    (update,) = _audit(world, "measuring_channel.update")
    assert (update.before["members"], update.after["members"]) == ([[f"sensor:{ids.ts1}", "T1"]],
                                                                   [[f"sensor:{ids.ts2}", "T2"]])


async def test_sensor_bindings(world: World) -> None:
    sm, disp, ids = world.services.service_meters, world.tokens["disp"], world.ids
    q = await sm.create_channel(disp, ids.m307, resource="heat", resource_number=1, parameter="Q",
                                members=[Member(ids.ft1, "V1"), Member(ids.ts1, "T1"), Member(ids.ts2, "T2")])
    t1 = await sm.create_channel(disp, ids.m307, resource="heat", resource_number=1, parameter="T1",
                                 members=[Member(ids.ts1, "T1")])
    # TS-2 out of Q: Q keeps V1 and T1, still composite
    page = await sm.bind_sensor(disp, ids.ts2, [])
    assert [(c.parameter, c.kind, len(c.members)) for c in page.channels] == [("Q", "composite", 2),
                                                                               ("T1", "simple", 1)]
    (entry,) = _audit(world, "measuring_channel.bind")
    assert entry.object == f"measuring_channel:{q.id}"
    # TS-1 out of everything: Q would keep FT-1 alone, a simple channel whose instrument registers V1, not Q
    # (and T1 no instrument at all): refused, naming the first channel, nothing changed
    with pytest.raises(RuleError, match="heat 1 Q") as error:
        await sm.bind_sensor(disp, ids.ts1, [])
    assert error.value.reason == "simple_mismatch"
    # out of T1 only: T1 would have no instrument
    with pytest.raises(RuleError) as error:
        await sm.bind_sensor(disp, ids.ts1, [(q.id, "T1")])
    assert error.value.reason == "no_members"
    assert len(_audit(world, "measuring_channel.bind")) == 1
    # TS-2 as T2 into the simple T1 channel would make it composite and measuring T1 itself: refused
    with pytest.raises(RuleError) as error:
        await sm.bind_sensor(disp, ids.ts2, [(t1.id, "T2")])
    assert error.value.reason == "composite_measures_parameter"
    page = await sm.bind_sensor(disp, ids.ts2, [(q.id, "T2")])
    assert {s.serial: s.channel_ids for s in page.sensors}["TS-2"] == (q.id,)
    assert len(_audit(world, "measuring_channel.bind")) == 2
    with pytest.raises(InvalidInput, match="no measuring channel"):
        await sm.bind_sensor(disp, ids.ts2, [(999, "T2")])
    # a bound sensor is not removed, nor given a kind its channels cannot use
    with pytest.raises(RuleError) as error:
        await sm.remove_sensor(disp, ids.ts2)
    assert error.value.reason == "sensor_bound"
    with pytest.raises(RuleError) as error:
        await sm.update_sensor(disp, ids.ft1, kind="temperature_sensor")
    assert error.value.reason == "kind_breaks_binding"


async def test_sensor_passports(world: World) -> None:
    sm, eng, ids = world.services.service_meters, world.tokens["eng"], world.ids
    added = await sm.add_sensor(eng, ids.m307, kind="flow_transducer", serial="FT-2", model="ПРЭМ-20",
                                verified_on=date(2025, 6, 1), next_verification_on=date(2029, 6, 1))
    assert (added.serial, added.model, added.channel_ids) == ("FT-2", "ПРЭМ-20", ())
    with pytest.raises(InvalidInput, match="has serial"):
        await sm.add_sensor(eng, ids.m307, kind="flow_transducer", serial="FT-2")
    with pytest.raises(InvalidInput, match="after verified_on"):
        await sm.update_sensor(eng, added.id, next_verification_on=date(2025, 1, 1))
    with pytest.raises(InvalidInput, match="kind"):
        await sm.add_sensor(eng, ids.m307, kind="barometer", serial="B-1")
    with pytest.raises(InvalidInput, match="serial"):
        await sm.add_sensor(eng, ids.m307, kind="flow_transducer", serial="  ")
    changed = await sm.update_sensor(eng, added.id, next_verification_on=date(2030, 6, 1))
    assert changed.next_verification_on == date(2030, 6, 1)
    await sm.remove_sensor(eng, added.id)
    assert [e.action for e in _audit(world, "sensor.create") + _audit(world, "sensor.update")
            + _audit(world, "sensor.delete")] == ["sensor.create", "sensor.update", "sensor.delete"]
    # a decommissioned meter's sensors and channels stay as they were
    with pytest.raises(RuleError) as error:
        await sm.add_sensor(eng, ids.m926, kind="water_meter", serial="W-1")
    assert error.value.reason == "meter_decommissioned"
    with pytest.raises(RuleError):
        await sm.create_channel(world.tokens["disp"], ids.m926, resource="cold_water", resource_number=1,
                                parameter="V", members=[Member(None, "V")])
    assert not (await sm.channels(eng, ids.m926)).may_edit_sensors


async def test_channel_roles_and_scope(world: World) -> None:
    sm, ids = world.services.service_meters, world.ids
    spec = dict(resource="heat", resource_number=1, parameter="T1", members=[Member(ids.ts1, "T1")])
    for login in ("eng", "reader"):  # channels are the dispatcher's (4.5.3)
        with pytest.raises(Forbidden):
            await sm.create_channel(world.tokens[login], ids.m307, **spec)
        with pytest.raises(Forbidden):
            await sm.bind_sensor(world.tokens[login], ids.ts1, [])
    assert not (await sm.channels(world.tokens["eng"], ids.m307)).may_edit
    assert (await sm.channels(world.tokens["eng"], ids.m307)).may_edit_sensors
    reader_view = await sm.channels(world.tokens["reader"], ids.m307)
    assert (reader_view.may_edit, reader_view.may_edit_sensors) == (False, False)
    with pytest.raises(Forbidden):
        await sm.add_sensor(world.tokens["reader"], ids.m307, kind="flow_transducer", serial="X")
    with pytest.raises(NotFound):
        await sm.channels(world.tokens["admin"], ids.m307)
    with pytest.raises(NotFound):  # another company's meter and sensor do not exist for a stranger
        await sm.channels(world.tokens["stranger"], ids.m307)
    with pytest.raises(NotFound):
        await sm.create_channel(world.tokens["stranger"], ids.m307, **spec)
    with pytest.raises(NotFound):
        await sm.bind_sensor(world.tokens["stranger"], ids.ts1, [])
    with pytest.raises(NotFound):
        await sm.channels(world.tokens["disp"], ids.other)
    assert not _audit(world, "measuring_channel.create")


# --- verification (4.5.4) ----------------------------------------------------------------------------

async def test_due_in_january_with_overdue(world: World) -> None:
    v, disp, ids = world.services.verification, world.tokens["disp"], world.ids
    due = await v.due(disp, *JAN)
    # 223T0001 (2025-12-01, overdue), FT-1 (01-13, overdue), TS-1 (01-14, today), 307T0001 (01-20); not
    # 223T0002 (03-15), TS-2 (02-01), the decommissioned 926X0010 (01-05), the other company's 307X0001 (01-20)
    assert [(i.meter_serial, i.sensor_serial, i.next_verification_on.isoformat(), i.overdue) for i in due.items] == [
        ("223T0001", None, "2025-12-01", True), ("307T0001", "FT-1", "2026-01-13", True),
        ("307T0001", "TS-1", "2026-01-14", False), ("307T0001", None, "2026-01-20", False)]
    assert (due.overdue, due.today) == (2, date(2026, 1, 14))
    # the period starts tomorrow: TS-1 (due today) drops out, the overdue ones stay
    later = await v.due(disp, date(2026, 1, 15), date(2026, 1, 31))
    assert [(i.meter_serial, i.sensor_serial) for i in later.items] == [
        ("223T0001", None), ("307T0001", "FT-1"), ("307T0001", None)]
    sensors = await v.due(disp, *JAN, VerificationFilter(kinds=("sensor",)))
    assert [i.sensor_serial for i in sensors.items] == ["FT-1", "TS-1"]
    both = await v.due(disp, *JAN, VerificationFilter(kinds=("meter", "sensor")))
    assert both.items == due.items  # all = none
    apartment = await v.due(disp, *JAN, VerificationFilter(roles=(MeterRole.INDIVIDUAL,)))
    assert [i.meter_serial for i in apartment.items] == ["223T0001"]
    assert [i.sensor_serial for i in (await v.due(disp, *JAN, VerificationFilter(number="ts-1"))).items] == ["TS-1"]
    # an unbound sensor has its meter's resources; bound to the heat channel, only heat
    await world.services.service_meters.create_channel(disp, ids.m307, resource="heat", resource_number=1,
                                                       parameter="V1", members=[Member(ids.ft1, "V1")])
    hot = await v.due(disp, *JAN, VerificationFilter(resources=(Resource.HOT_WATER,)))
    assert [(i.meter_serial, i.sensor_serial) for i in hot.items] == [
        ("223T0001", None), ("307T0001", "TS-1"), ("307T0001", None)]
    # the other company sees only its own meter
    stranger = await v.due(world.tokens["stranger"], *JAN)
    assert [i.meter_serial for i in stranger.items] == ["307X0001"]


async def test_calendar_counts(world: World) -> None:
    v, disp = world.services.verification, world.tokens["disp"]
    year = await v.calendar(disp, 2026)
    # January: FT-1, TS-1, 307T0001 (FT-1 overdue); February TS-2; March 223T0002; 926X0010 never
    assert [(c.month, c.count, c.overdue) for c in year.months if c.count] == [(1, 3, 1), (2, 1, 0), (3, 1, 0)]
    assert (year.total, year.overdue_before, year.days) == (5, 1, ())  # 223T0001 (2025-12-01) before the year
    january = await v.calendar(disp, 2026, 1)
    assert [(d.day, d.count, d.overdue, d.by_model) for d in january.days if d.count] == [
        (13, 1, 1, {"KARAT-307": 1}), (14, 1, 0, {"KARAT-307": 1}), (20, 1, 0, {"KARAT-307": 1})]
    assert len(january.days) == 31
    day = await v.scheduled(disp, date(2026, 1, 13), date(2026, 1, 13))
    assert [(i.kind, i.sensor_serial) for i in day.items] == [("sensor", "FT-1")]
    apartment_2025 = await v.calendar(disp, 2025, filters=VerificationFilter(roles=(MeterRole.INDIVIDUAL,)))
    assert [(c.month, c.count, c.overdue) for c in apartment_2025.months if c.count] == [(12, 1, 1)]
    with pytest.raises(InvalidInput, match="month"):
        await v.calendar(disp, 2026, 13)
    with pytest.raises(InvalidInput, match="before first"):
        await v.due(disp, date(2026, 2, 1), date(2026, 1, 1))


async def test_verification_roles(world: World) -> None:
    v = world.services.verification
    for login in ("disp", "eng", "reader"):
        assert len((await v.due(world.tokens[login], *JAN)).items) == 4
    with pytest.raises(NotFound):
        await v.due(world.tokens["admin"], *JAN)
    with pytest.raises(NotFound):
        await v.calendar(world.tokens["admin"], 2026)


# --- /api/v1 ------------------------------------------------------------------------------------------

@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.services, clickhouse) as http:
        yield http


async def test_api(world: World, client: httpx.AsyncClient) -> None:
    tokens = await cloud_data.own_tokens(world.services, world.registry, ("disp", "reader", "eng"))
    disp, reader, eng = ({"Authorization": f"Bearer {tokens[login]}"} for login in ("disp", "reader", "eng"))
    admin = {"Authorization": f"Bearer {world.tokens['admin']}"}
    ids = world.ids
    alone = FastAPI()
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_service_meters.routes(api, world.services)
    alone.include_router(api)
    operations = {op["operationId"] for path in alone.openapi()["paths"].values() for op in path.values()}
    assert operations == {"service_meters_list", "meter_measuring_channels", "create_measuring_channel",
                          "update_measuring_channel", "delete_measuring_channel", "bind_sensor_channels",
                          "create_meter_sensor", "update_meter_sensor", "delete_meter_sensor", "verification_due",
                          "verification_calendar"}

    listed = await client.get("/api/v1/service/meters?line_type=lora&active=true", headers=reader)
    assert listed.status_code == 200, listed.text
    assert [m["serial"] for g in listed.json()["groups"] for m in g["meters"]] == ["223T0001"]
    assert (await client.get("/api/v1/service/meters", headers=eng)).json()["may_add"] is True
    assert (await client.get("/api/v1/service/meters", headers=admin)).status_code == 404
    assert (await client.get("/api/v1/service/meters?line_type=wifi", headers=disp)).status_code == 422

    body = {"resource": "heat", "resource_number": 1, "parameter": "Q",
            "members": [{"sensor_id": ids.ft1, "quantity": "V1"}, {"sensor_id": ids.ts1, "quantity": "T1"},
                        {"sensor_id": ids.ts2, "quantity": "T2"}]}
    assert (await client.post(f"/api/v1/meters/{ids.m307}/measuring-channels", headers=eng,
                              json=body)).status_code == 403
    created = await client.post(f"/api/v1/meters/{ids.m307}/measuring-channels", headers=disp, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "composite"
    again = await client.post(f"/api/v1/meters/{ids.m307}/measuring-channels", headers=disp, json=body)
    assert (again.status_code, again.json()["code"]) == (422, "invalid_input")
    channel_id = created.json()["id"]
    bound = await client.put(f"/api/v1/sensors/{ids.ts2}/bindings", headers=disp, json={"bindings": []})
    assert bound.status_code == 200, bound.text
    assert [len(c["members"]) for c in bound.json()["channels"]] == [2]
    page = await client.get(f"/api/v1/meters/{ids.m307}/measuring-channels", headers=reader)
    assert (page.status_code, page.json()["may_edit"]) == (200, False)
    assert (await client.get(f"/api/v1/meters/{ids.other}/measuring-channels", headers=disp)).status_code == 404

    sensor = await client.post(f"/api/v1/meters/{ids.m307}/sensors", headers=eng,
                               json={"kind": "temperature_sensor", "serial": "TS-3",
                                     "next_verification_on": "2026-01-25"})
    assert sensor.status_code == 201, sensor.text
    patched = await client.patch(f"/api/v1/sensors/{sensor.json()['id']}", headers=eng,
                                 json={"next_verification_on": None})
    assert (patched.status_code, patched.json()["next_verification_on"]) == (200, None)
    assert (await client.patch(f"/api/v1/sensors/{sensor.json()['id']}", headers=reader,
                               json={"model": "x"})).status_code == 403
    assert (await client.delete(f"/api/v1/sensors/{sensor.json()['id']}", headers=eng)).status_code == 204
    assert (await client.delete(f"/api/v1/measuring-channels/{channel_id}", headers=disp)).status_code == 204

    due = await client.get("/api/v1/verification/due?from=2026-01-01&to=2026-01-31&kind=sensor", headers=reader)
    assert due.status_code == 200, due.text
    assert [(i["sensor_serial"], i["overdue"]) for i in due.json()["items"]] == [("FT-1", True), ("TS-1", False)]
    cal = await client.get("/api/v1/verification/calendar?year=2026&month=1", headers=eng)
    assert cal.status_code == 200, cal.text
    assert [m["count"] for m in cal.json()["months"]][:3] == [3, 1, 1]
    assert (await client.get("/api/v1/verification/calendar?year=2026", headers=admin)).status_code == 404
    assert (await client.get("/api/v1/verification/due?from=2026-02-01&to=2026-01-01",
                             headers=disp)).status_code == 422
