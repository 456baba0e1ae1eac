"""Service procedures (manual 4.5.5, 4.6.12) on the real registry and chDB: a verification takes
the seeded heat meter 307T0001 out of service and back (the edge's meter list before, during and
after, with the date polling resumes from; the gap not missing in data arrival and accounting),
its automatic checks answered through CommandService's real result path (apply_results, sweep),
install, decommissioning, correction (a new archive version, audited) and reconciliation, forced
completion and cancellation, deadlines, roles and company scope, and the /api/v1 routes.

Times: NOW = 2026-01-14 12:00 UTC = 15:00 in Europe/Moscow (UTC+3). The seeded archive is hourly
from 2026-01-10 00:00 to 2026-01-12 23:00 local."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_procedures
from cloud.ingest import archive_rows
from cloud.services import audit
from cloud.services.auth import hash_password
from cloud.services.commands import site_meters
from cloud.services.container import Services
from cloud.services.models import Forbidden, Granularity, InvalidInput, NotFound
from cloud.services.procedure_models import ProcedureInfo
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature, Resource
from protocol.wire import ArchiveRecord, Batch, CommandResult
from tests import cloud_data
from tests.support_api import api_client, api_token


@dataclass
class World:
    services: Services
    registry: Registry
    clickhouse: ClickHouse
    seeded: cloud_data.Seeded
    tokens: dict[str, str]
    meters: dict[str, int]  # serial -> id
    now: list[datetime]  # the services' clock (one item, changed by tests)


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    with registry.connect() as db:
        db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                   "(?, 'eng', 'Инженер Тест', 'engineer', ?)", (seeded.company_id, hash_password("eng-pass")))
        other = db.execute("SELECT company_id FROM buildings WHERE id = ?", (seeded.other_building_id,)).fetchone()
        db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                   "(?, 'stranger-eng', 'Чужой инженер', 'engineer', ?)", (other[0], hash_password("x-pass")))
    services = Services.create(registry, clickhouse)
    now = [cloud_data.NOW]
    services.set_clock(lambda: now[0])
    tokens = {login: (await services.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger", "eng", "stranger-eng")}
    meters = {r["serial"]: r["id"] for r in registry.all("SELECT id, serial FROM meters")}
    return World(services, registry, clickhouse, seeded, tokens, meters, now)


def _edge_list(world: World, site: str = "test") -> dict[str, str]:
    """serial -> the ``commissioned`` the edge polls from, as the meter_config push would carry it."""
    with world.registry.connect() as db:
        return {m["serial"]: m["commissioned"] for m in site_meters(db, site, world.now[0])}


def _answer(world: World, command_id: str, state: str = "done", **detail: object) -> int:
    """The edge's result as the ingest hands it to the cloud (cloud_process: on_results=apply_results)."""
    at = world.now[0].timestamp()
    return world.services.commands.apply_results("test", [CommandResult(command_id, "accepted", at),
                                                          CommandResult(command_id, state, at, dict(detail))])


def _archive_day(world: World, serial: str, day: datetime) -> None:
    """24 hourly integral readings of channel 1 "Q" for the local ``day`` (naive)."""
    tz = zone(cloud_data.TZ)
    records = []
    for h in range(24):
        start = int(local_to_utc(day + timedelta(hours=h), tz).timestamp())
        records.append(ArchiveRecord(serial, 1, ArchiveKind.HOUR, Nature.INTEGRAL, start, {"Q": 200.0 + h / 100},
                                     received_at=start + 60.0))
    world.clickhouse.insert_archive_sync(archive_rows(Batch("test", 2, tuple(records)), world.seeded.company_id),
                                         f"test:{serial}:{day.date()}")


async def _meter_list_taken(world: World, procedure_id: int) -> ProcedureInfo:
    """The edge takes the meter list pushed with the commissioning; the availability test runs then."""
    waiting = await world.services.procedures.procedure(world.tokens["eng"], procedure_id)
    command = await world.services.commands.get(world.tokens["eng"], waiting.current.command_id)
    assert (waiting.current.operation, command.type) == ("availability_test", "meter_config")
    _answer(world, command.id, changed=1)
    return await world.services.procedures.procedure(world.tokens["eng"], procedure_id)


def _audit(world: World, action: str) -> list[audit.AuditEntry]:
    with world.registry.connect() as db:
        return [e for e in audit.entries(db, world.seeded.company_id) if e.action == action]


COMMISSIONING = {"next_verification_on": "2030-01-14", "archive_kinds": ["hour", "day"]}


async def test_verification_out_of_service_and_back(world: World) -> None:
    p = world.services.procedures
    eng = world.tokens["eng"]
    heat = world.meters["307T0001"]
    # before: polled; no commissioning recorded, so from the start of today (UTC)
    assert _edge_list(world)["307T0001"] == "2026-01-14T00:00:00+00:00"
    started = await p.start(eng, heat, "verification")
    assert [s.operation for s in started.steps] == ["out_of_service"]
    # planned: 1 day after 2026-01-14 12:00 UTC
    assert started.steps[0].planned_at == datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert started.default_next == "commissioning"
    assert "verification" in started.next_operations
    # illegal: automatic operation named as next, mandatory commissioning skipped
    with pytest.raises(InvalidInput, match="mandatory «ввод ПУ в эксплуатацию» cannot be skipped"):
        await p.complete(eng, started.id, done_on=date(2026, 1, 12), next_operation="availability_test")
    with pytest.raises(InvalidInput, match="in the future"):
        await p.complete(eng, started.id, done_on=date(2026, 1, 15), next_operation="verification")
    out = await p.complete(eng, started.id, done_on=date(2026, 1, 12), notes="снят на поверку",
                           next_operation="verification")
    # out of service from 2026-01-12 00:00 MSK = 2026-01-11 21:00 UTC: not in the edge's list
    assert out.steps[0].settings["out_of_service_from"] == "2026-01-11T21:00:00+00:00"
    assert "307T0001" not in _edge_list(world)
    assert set(_edge_list(world)) == {"223T0001", "223T0002"}
    pushed = (await world.services.commands.list(eng, kind="meter_config"))[0]  # the edge stops polling it
    assert [m["serial"] for m in pushed.args["meters"]] == ["223T0001", "223T0002"]
    ops = await p.meter_operations(eng, heat)
    assert ops.out_of_service_since == datetime(2026, 1, 11, 21, tzinfo=UTC)
    assert "verification" in ops.refusals
    assert "already has an active procedure" in ops.refusals["verification"]

    # the gap is not missing: 2026-01-13 (no archive at all) is "not_expected", not "missing"
    hourly = await world.services.arrival.report(world.tokens["disp"], world.seeded.building_id, "hour",
                                                 date(2026, 1, 13), date(2026, 1, 13), now=world.now[0])
    heat_row = next(r for r in hourly.meters if r.meter.serial == "307T0001")
    apt_row = next(r for r in hourly.meters if r.meter.serial == "223T0001")
    assert {pp.status for pp in heat_row.periods} == {"not_expected"}
    assert heat_row.missing == 0
    assert {pp.status for pp in apt_row.periods} == {"missing"}  # the apartment meter, in service, is missing
    # accounting: 2026-01-13's building sum is not "missing" for the meter out of service (the apartment
    # meter 223T0001 reports that day, so the day is shown)
    _archive_day(world, "223T0001", datetime(2026, 1, 13))
    consumption = await world.services.accounting.building_consumption(
        world.tokens["disp"], world.seeded.building_id, Resource.HEAT, Granularity.DAY, date(2026, 1, 1))
    day13 = next(pt for pt in consumption.points if pt.period.day == 13)
    assert day13.building_figure.expected == 0  # nothing expected of the building meter that day

    done = await p.complete(eng, started.id, done_on=date(2026, 1, 13), notes="поверен")
    assert done.steps[-1].operation == "commissioning"
    with pytest.raises(InvalidInput, match="date of the next verification is required"):
        await p.complete(eng, started.id, done_on=date(2026, 1, 14), settings={"archive_kinds": ["hour"]})
    with pytest.raises(InvalidInput, match="no counter of the meter"):
        await p.complete(eng, started.id, done_on=date(2026, 1, 14),
                         settings={**COMMISSIONING, "initial_readings": {"9:Q": 1.0}})
    back = await p.complete(eng, started.id, done_on=date(2026, 1, 14),
                            settings={**COMMISSIONING, "initial_readings": {"1:Q": 102.52}})
    # back in service from 2026-01-14 00:00 MSK = 2026-01-13 21:00 UTC: the edge polls from there
    assert _edge_list(world)["307T0001"] == "2026-01-13T21:00:00+00:00"
    meter = await world.services.meters.get(eng, heat)
    assert meter.archives == "hour, day, integral"
    passport = world.registry.one("SELECT verified_on, next_verification_on FROM meters WHERE id = ?", heat)
    assert (passport["verified_on"], passport["next_verification_on"]) == ("2026-01-14", "2030-01-14")

    # the edge gets its meter list back with 307T0001 polled from 2026-01-13 21:00 UTC; the availability
    # test waits for the edge to take it
    pushed = await world.services.commands.get(eng, back.current.command_id)
    assert pushed.type == "meter_config"
    assert next(m for m in pushed.args["meters"] if m["serial"] == "307T0001")["commissioned"] == \
        "2026-01-13T21:00:00+00:00"
    back = await _meter_list_taken(world, started.id)
    # the automatic checks: availability issued then, for the engineer who led the procedure
    step = back.steps[-1]
    assert (step.operation, step.state, step.automatic) == ("availability_test", "active", True)
    command = await world.services.commands.get(eng, step.command_id)
    assert (command.type, command.state, command.created_by, command.args) == (
        "availability", "created", "eng", {"meter": "307T0001"})
    with pytest.raises(InvalidInput, match="automatic"):
        await p.complete(eng, started.id, done_on=date(2026, 1, 14))
    assert _answer(world, step.command_id, response_ms=42.0) == 2  # accepted, done
    after = await p.procedure(world.tokens["reader"], started.id)
    assert after.steps[-2].notes == "ПУ доступен, ответ за 42.0 мс"
    passport_step = after.steps[-1]
    assert passport_step.operation == "passport_check"
    assert (await world.services.commands.get(eng, passport_step.command_id)).type == "read_current"
    _answer(world, passport_step.command_id, device_time="2026-01-14 14:59:50", values={"1": {"Q": 102.6}})
    after = await p.procedure(eng, started.id)
    assert "согласованы" in after.steps[-2].notes
    assert after.steps[-2].state == "done"
    time_step = after.steps[-1]
    time_command = await world.services.commands.get(eng, time_step.command_id)
    assert (time_command.type, time_command.args) == ("time_sync", {"force": True, "meter": "307T0001"})
    _answer(world, time_step.command_id, offset_before_s=12.5, offset_after_s=0.1, set=True)
    final = await p.procedure(eng, started.id)
    assert final.state == "completed"
    assert final.current is None
    assert [s.state for s in final.steps] == ["done"] * 6
    # every step logged with time, user and notes
    actions = [(e.action, e.user) for e in final.log]
    eng_name = "Инженер Тест"
    assert actions[:6] == [("start", eng_name), ("complete", eng_name), ("meter_list", eng_name),
                           ("complete", eng_name), ("complete", eng_name), ("meter_list", eng_name)]
    assert ("meter_list", None) in actions  # the edge took the list (the system's entry)
    assert ("result", None) in actions
    assert actions[-1] == ("finish", None)
    assert "снят на поверку" in final.log[1].notes
    assert [e.after["operation"] for e in _audit(world, "procedure.complete")][::-1] == [
        "out_of_service", "verification", "commissioning"]
    # after: 2026-01-14's hours are expected again; the 13th stays not expected
    hourly = await world.services.arrival.report(world.tokens["disp"], world.seeded.building_id, "hour",
                                                 date(2026, 1, 13), date(2026, 1, 14), now=world.now[0])
    heat_row = next(r for r in hourly.meters if r.meter.serial == "307T0001")
    statuses = [pp.status for pp in heat_row.periods]
    assert set(statuses[:24]) == {"not_expected"}
    assert statuses[24] == "missing"


async def test_failed_and_timed_out_checks_run_again(world: World) -> None:
    p = world.services.procedures
    eng = world.tokens["eng"]
    apt = world.meters["223T0001"]  # a LoRa meter: the engineer wakes it with the magnet
    started = await p.start(eng, apt, "repair")
    await p.complete(eng, started.id, done_on=date(2026, 1, 13))
    await p.complete(eng, started.id, done_on=date(2026, 1, 14), settings=COMMISSIONING)
    back = await _meter_list_taken(world, started.id)
    first = back.steps[-1].command_id
    _answer(world, first, "failed", reason="no answer from the device")
    failed = await p.procedure(eng, started.id)
    assert failed.current.state == "failed"
    assert failed.current.notes == "тест на доступность ПУ: не выполнено: no answer from the device"
    active = await p.active(world.tokens["disp"])
    assert [(a.operation, a.state) for a in active] == [("availability_test", "failed")]
    with pytest.raises(Forbidden, match="service engineer"):
        await p.retry(world.tokens["disp"], started.id)
    again = await p.retry(eng, started.id)
    second = again.current.command_id
    assert second
    assert second != first
    assert again.current.state == "active"
    # no answer within the command's 6 hours: timed out by the sweeper, the operation fails
    world.services.commands.sweep(world.now[0] + timedelta(hours=7))
    timed_out = await p.procedure(eng, started.id)
    assert timed_out.current.state == "failed"
    assert "нет ответа от ПУ до 2026-01-14 18:00 UTC" in timed_out.current.notes
    assert "магнит" in timed_out.current.notes


async def test_forced_completion_keeps_settings(world: World) -> None:
    p = world.services.procedures
    eng, disp = world.tokens["eng"], world.tokens["disp"]
    heat = world.meters["307T0001"]
    started = await p.start(eng, heat, "verification")
    await p.complete(eng, started.id, done_on=date(2026, 1, 13), next_operation="dismounting")
    active = await p.active(disp)
    assert [(a.meter_serial, a.operation_name, a.overdue) for a in active] == [("307T0001", "демонтаж ПУ", False)]
    # 3 days planned from 2026-01-14 12:00 UTC: overdue from 2026-01-17 12:00 on
    world.now[0] = datetime(2026, 1, 17, 13, tzinfo=UTC)
    assert (await p.active(disp))[0].overdue
    with pytest.raises(Forbidden):
        await p.force_complete(world.tokens["reader"], started.id)
    with pytest.raises(NotFound):
        await p.force_complete(world.tokens["stranger"], started.id)
    forced = await p.force_complete(disp, started.id, notes="подрядчик не приехал")
    assert forced.state == "cancelled"
    assert [s.state for s in forced.steps] == ["done", "forced"]
    assert forced.log[-1].action == "force"
    assert forced.log[-1].user == "Диспетчер Тест"
    assert await p.active(disp) == []
    # the completed out-of-service stays: the meter is still not polled
    assert "307T0001" not in _edge_list(world)
    with pytest.raises(InvalidInput, match="not active"):
        await p.force_complete(disp, started.id)
    # a new repair brings it back; its own out-of-service keeps the earlier interval
    repair = await p.start(eng, heat, "repair")
    again = await p.complete(eng, repair.id, done_on=date(2026, 1, 17))
    assert "ранее" in again.steps[0].notes
    await p.complete(eng, repair.id, done_on=date(2026, 1, 17), settings=COMMISSIONING)
    assert _edge_list(world)["307T0001"] == "2026-01-16T21:00:00+00:00"
    cancelled = await p.cancel(eng, repair.id, notes="проверки позже")
    assert cancelled.state == "cancelled"
    assert cancelled.steps[-1].state == "cancelled"
    assert _edge_list(world)["307T0001"] == "2026-01-16T21:00:00+00:00"  # commissioning kept


async def test_install_and_decommissioning(world: World) -> None:
    p = world.services.procedures
    eng = world.tokens["eng"]
    heat = world.meters["307T0001"]
    with world.registry.connect() as db:  # a meter registered for a later commissioning
        db.execute("UPDATE meters SET commissioned_at = '2026-02-01T00:00:00+00:00' WHERE id = ?", (heat,))
    with pytest.raises(InvalidInput, match="not commissioned yet"):
        await p.start(eng, heat, "verification")
    with pytest.raises(InvalidInput, match="cannot start with «тест на доступность ПУ»"):
        await p.start(eng, heat, "install", "availability_test")
    started = await p.start(eng, heat, "install", "install_request")
    assert "307T0001" not in _edge_list(world)  # not polled until commissioned
    with pytest.raises(InvalidInput, match="cannot follow"):
        await p.complete(eng, started.id, done_on=date(2026, 1, 14), next_operation="install_request")
    await p.complete(eng, started.id, done_on=date(2026, 1, 13))  # mounting skipped
    done = await p.complete(eng, started.id, done_on=date(2026, 1, 14),
                            settings={**COMMISSIONING, "initial_readings": {"1:Q": 102.0}})
    meter = await world.services.meters.get(eng, heat)
    assert meter.commissioned_at == datetime(2026, 1, 13, 21, tzinfo=UTC)
    assert meter.initial_readings == {"1:Q": 102.0}
    assert _edge_list(world)["307T0001"] == "2026-01-13T21:00:00+00:00"
    assert done.current.operation == "availability_test"
    await p.cancel(eng, done.id)
    with pytest.raises(InvalidInput, match="commissioned already"):
        await p.start(eng, heat, "install")
    # decommissioning: the meter's service ends at the actual date; the procedure may end there
    gone = await p.start(eng, world.meters["223T0002"], "decommissioning")
    ended = await p.complete(eng, gone.id, done_on=date(2026, 1, 13), settings={"final_readings": {"1:Q": 101.4}})
    assert ended.state == "completed"
    decommissioned = await world.services.meters.get(eng, world.meters["223T0002"])
    assert decommissioned.decommissioned_at == datetime(2026, 1, 12, 21, tzinfo=UTC)
    assert "223T0002" not in _edge_list(world)
    with pytest.raises(InvalidInput, match="decommissioned"):
        await p.start(eng, world.meters["223T0002"], "repair")


async def test_correction_and_reconciliation(world: World) -> None:
    p = world.services.procedures
    eng = world.tokens["eng"]
    apt = world.meters["223T0001"]
    started = await p.start(eng, apt, "correction")
    with pytest.raises(InvalidInput, match=r"settings\.parameter: channel 1 has"):
        await p.complete(eng, started.id, done_on=date(2026, 1, 14),
                         settings={"channel": 1, "parameter": "X", "kind": "hour", "period": "2026-01-11T10:00:00",
                                   "value": 1.0})
    with pytest.raises(InvalidInput, match="not the start of a hour period"):
        await p.complete(eng, started.id, done_on=date(2026, 1, 14),
                         settings={"channel": 1, "parameter": "Q", "kind": "hour", "period": "2026-01-11T10:30:00",
                                   "value": 1.0})
    # the seeded reading of 223T0001 at 2026-01-11 10:00 local is hour 34: 100 + 0.01 * 35 = 100.35
    done = await p.complete(eng, started.id, done_on=date(2026, 1, 14),
                            settings={"channel": 1, "parameter": "Q", "kind": "hour", "period": "2026-01-11T10:00:00",
                                      "value": 100.5})
    assert done.state == "completed"
    assert done.steps[-1].notes == ("коррекция показаний: канал 1, Q, hour 2026-01-11T10:00:00: 100.35 → 100.5 "
                                    "(версия 1)")
    rows = world.clickhouse.query_sync(
        "SELECT value, version FROM {db}.archive FINAL WHERE meter = '223T0001' AND "
        "period_start = toDateTime('2026-01-11 07:00:00', 'UTC')")
    assert [(float(v), int(ver)) for v, ver in rows] == [(100.5, 1)]
    corrected = _audit(world, "archive.correct")
    assert corrected[0].before["value"] == 100.35
    assert corrected[0].after["value"] == 100.5
    # reconciliation: read_current through the edge, the values shown in the notes
    rec = await p.start(eng, apt, "reconciliation")
    running = await p.complete(eng, rec.id, done_on=date(2026, 1, 14))
    command = await world.services.commands.get(eng, running.current.command_id)
    assert command.type == "read_current"
    _answer(world, command.id, device_time="2026-01-14 14:58:00", values={"1": {"Q": 101.23}})
    shown = await p.procedure(eng, rec.id)
    assert shown.state == "completed"
    assert shown.steps[-1].notes == "текущие показания (2026-01-14 14:58:00): канал 1: Q=101.23"
    assert shown.steps[-1].settings["values"] == {"1": {"Q": 101.23}}


async def test_passport_mismatch_fails(world: World) -> None:
    p = world.services.procedures
    eng = world.tokens["eng"]
    started = await p.start(eng, world.meters["307T0001"], "repair")
    await p.complete(eng, started.id, done_on=date(2026, 1, 13))
    await p.complete(eng, started.id, done_on=date(2026, 1, 14), settings=COMMISSIONING)
    back = await _meter_list_taken(world, started.id)
    _answer(world, back.current.command_id, response_ms=10.0)
    check = await p.procedure(eng, started.id)
    _answer(world, check.current.command_id, serial="999", model="KARAT-307", values={"1": {"Q": 1.0}, "7": {}})
    failed = await p.procedure(eng, started.id)
    assert failed.current.state == "failed"
    assert failed.current.notes == ("паспортные данные не согласованы: серийный номер ПУ 999, в реестре 307T0001; "
                                    "каналы [7] не описаны в реестре (в реестре: [1, 2, 3])")


async def test_a_lora_modules_passport_from_the_availability_test_is_checked(world: World) -> None:
    """A LoRa module answers the availability test with its passport (serial, model); the passport
    check compares those with the registry even though its own reading carries channels only."""
    p = world.services.procedures
    eng = world.tokens["eng"]
    for serial, model, verdict in (
            ("223", "KARAT-Compact-2-223", "серийный номер ПУ 223, в реестре 223T0001"),
            ("223T0001", "KARAT-Compact-2-213", "модель ПУ KARAT-Compact-2-213, в реестре KARAT-Compact-2-223")):
        started = await p.start(eng, world.meters["223T0001"], "repair")
        await p.complete(eng, started.id, done_on=date(2026, 1, 13))
        await p.complete(eng, started.id, done_on=date(2026, 1, 14), settings=COMMISSIONING)
        back = await _meter_list_taken(world, started.id)
        _answer(world, back.current.command_id, response_s=3.0, serial=serial, model=model)
        check = await p.procedure(eng, started.id)
        _answer(world, check.current.command_id, values={"1": {"Q": 1.0}})
        failed = await p.procedure(eng, started.id)
        assert (failed.current.state, failed.current.notes) == ("failed",
                                                                f"паспортные данные не согласованы: {verdict}")
        await p.cancel(eng, started.id)


async def test_deadlines_roles_and_scope(world: World) -> None:
    p = world.services.procedures
    disp, eng, reader = world.tokens["disp"], world.tokens["eng"], world.tokens["reader"]
    table = await p.deadlines(reader)
    assert len(table) == 6 + 9 + 9 + 2 + 2 + 2
    request = next(d for d in table if d.procedure == "install" and d.operation == "install_request")
    assert (request.days, request.default_days, request.operation_name) == (1, 1, "заявка на установку ПУ")
    for token, error in ((eng, Forbidden), (reader, Forbidden), (world.tokens["admin"], Forbidden)):
        with pytest.raises(error):
            await p.set_deadline(token, "verification", "verification", 30)
    with pytest.raises(InvalidInput, match="days: a whole number"):
        await p.set_deadline(disp, "verification", "verification", 0)
    with pytest.raises(InvalidInput, match="has no operation"):
        await p.set_deadline(disp, "verification", "repair", 5)
    changed = await p.set_deadline(disp, "verification", "out_of_service", 2)
    assert changed.days == 2
    assert _audit(world, "operation_deadline.set")[0].after == {"days": 2}
    started = await p.start(eng, world.meters["307T0001"], "verification")
    assert started.steps[0].planned_at == cloud_data.NOW + timedelta(days=2)
    # who may do what
    for login in ("disp", "reader", "admin"):
        with pytest.raises(Forbidden):
            await p.start(world.tokens[login], world.meters["223T0001"], "repair")
        with pytest.raises(Forbidden):
            await p.complete(world.tokens[login], started.id, done_on=date(2026, 1, 14))
        with pytest.raises(Forbidden):
            await p.cancel(world.tokens[login], started.id)
    with pytest.raises(NotFound):
        await p.active(world.tokens["admin"])
    with pytest.raises(NotFound):
        await p.meter_operations(world.tokens["admin"], world.meters["307T0001"])
    with pytest.raises(NotFound):
        await p.deadlines(world.tokens["admin"])
    # another company's meter and procedure are not found
    with pytest.raises(NotFound):
        await p.procedure(world.tokens["stranger"], started.id)
    with pytest.raises(NotFound):
        await p.meter_operations(world.tokens["stranger"], world.meters["307T0001"])
    with pytest.raises(NotFound):
        await p.start(world.tokens["stranger-eng"], world.meters["307T0001"], "repair")
    with pytest.raises(NotFound):
        await p.complete(world.tokens["stranger-eng"], started.id, done_on=date(2026, 1, 14))
    assert await p.active(world.tokens["stranger"]) == []
    assert [a.meter_serial for a in await p.active(reader)] == ["307T0001"]


# --- /api/v1 -------------------------------------------------------------------------------------

@pytest.fixture
async def client(world: World, clickhouse: ClickHouse) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.services, clickhouse) as http:
        yield http


async def _api_token(world: World, login: str) -> dict[str, str]:
    return await api_token(world.services, world.registry, world.tokens[login], login)


async def test_api(world: World, client: httpx.AsyncClient) -> None:
    eng, disp, reader = (await _api_token(world, "eng"), await _api_token(world, "disp"),
                         await _api_token(world, "reader"))
    heat = world.meters["307T0001"]
    answer = await client.post(f"/api/v1/meters/{heat}/procedures", headers=reader, json={"kind": "verification"})
    assert answer.status_code == 403
    answer = await client.post(f"/api/v1/meters/{heat}/procedures", headers=eng, json={"kind": "calibration"})
    assert answer.status_code == 422
    answer = await client.post(f"/api/v1/meters/{heat}/procedures", headers=eng, json={"kind": "verification"})
    assert answer.status_code == 200, answer.text
    procedure_id = answer.json()["id"]
    answer = await client.post(f"/api/v1/procedures/{procedure_id}/complete", headers=eng,
                               json={"done_on": "2026-01-13", "notes": "снят", "next_operation": "repair"})
    assert answer.status_code == 422
    assert "has no operation 'repair'" in answer.json()["message"]
    answer = await client.post(f"/api/v1/procedures/{procedure_id}/complete", headers=eng,
                               json={"done_on": "2026-01-13", "notes": "снят"})
    assert answer.status_code == 200
    assert answer.json()["steps"][-1]["operation"] == "commissioning"
    listed = (await client.get("/api/v1/service-operations", headers=reader)).json()
    assert [(a["meter_serial"], a["operation"]) for a in listed] == [("307T0001", "commissioning")]
    history = (await client.get(f"/api/v1/meters/{heat}/procedures", headers=disp)).json()
    assert history["procedures"][0]["log"][0]["action"] == "start"
    assert (await client.get("/api/v1/operation-deadlines", headers=reader)).status_code == 200
    answer = await client.put("/api/v1/operation-deadlines/repair/repair", headers=disp, json={"days": 21})
    assert answer.status_code == 200
    assert answer.json()["days"] == 21
    assert (await client.put("/api/v1/operation-deadlines/repair/repair", headers=eng,
                             json={"days": 21})).status_code == 403
    answer = await client.post(f"/api/v1/procedures/{procedure_id}/force-complete", headers=disp, json={"notes": ""})
    assert answer.status_code == 200
    assert answer.json()["state"] == "cancelled"
    assert (await client.get(f"/api/v1/procedures/{procedure_id}", headers=reader)).status_code == 200
    admin = await _api_token(world, "admin")  # users and company settings only (manual 2.3)
    assert (await client.get("/api/v1/service-operations", headers=admin)).status_code == 404
    assert (await client.get("/api/v1/operation-deadlines", headers=admin)).status_code == 404
    stranger = await _api_token(world, "stranger")
    assert (await client.get(f"/api/v1/procedures/{procedure_id}", headers=stranger)).status_code == 404
    # this module's operations, named as the screens' actions
    alone = FastAPI()
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_procedures.routes(api, world.services)
    alone.include_router(api)
    operations = {op["operationId"] for path in alone.openapi()["paths"].values() for op in path.values()}
    assert operations == {"active_service_operations", "meter_procedures", "start_procedure", "procedure",
                          "complete_procedure_operation", "retry_procedure_operation", "cancel_procedure",
                          "force_complete_procedure_operation", "operation_deadlines", "set_operation_deadline"}
