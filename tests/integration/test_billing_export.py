"""The automatic export to a billing centre (manual 4.4.2) against the real simulator
(simulators/billing_centre.py on a free port), a real registry and chDB: every reconciliation case of
tests/support_billing.py in one run with its figures worked out there, the protocol's lists, a retry
(no first-time match twice, a resend counted once), a centre that is down or answers 500 or keeps
silent (retried, then «завершен провалом» with the reason), a wrong token (failed at once), a
restart in the middle (a new service resumes the run; the centre records every reading once), the
scheduler on the submission day and not twice, and roles.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from cloud.billing.service import BillingService
from cloud.services.container import Services
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.billing import Device
from simulators.billing_centre import BillingCentre
from tests import cloud_data
from tests import support_billing as support
from tests import support_register as sr


@dataclass
class World:
    services: Services
    billing: BillingService
    registry: Registry
    clickhouse: ClickHouse
    seeded: cloud_data.Seeded
    centre: BillingCentre
    ids: dict[str, int]
    disp: str


def _fast(billing: BillingService) -> BillingService:
    billing.engine.backoff_seconds = 0.01
    billing.engine.timeout_seconds = 0.5
    return billing


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> AsyncIterator[World]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    ids = support.export_world(registry, clickhouse, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    centre = BillingCentre(support.book(), support.today)
    await centre.start()
    disp = (await services.auth.login("disp", cloud_data.PASSWORDS["disp"])).token
    yield World(services, _fast(services.billing), registry, clickhouse, seeded, centre, ids, disp)
    await centre.close()


async def _centre(w: World, day: int = 20, **kw) -> int:
    c = await w.billing.create_centre(w.disp, "РИЦ Казань", f"http://127.0.0.1:{w.centre.port}", support.TOKEN, day,
                                      [w.seeded.building_id], **kw)
    return c.id


async def _eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "it did not happen"
        await asyncio.sleep(0.02)


async def test_every_reconciliation_case(world: World) -> None:
    w = world
    centre_id = await _centre(w)
    support.link_before(w.registry, centre_id, w.ids)
    run = await w.billing.run_now(w.disp, centre_id)
    assert (run.state, run.status, run.attempts, run.period, run.reason) == ("finished", "errors", 1, "2026-01", "")
    # the figures of tests/support_billing.py: 8 premises, 7 with an account; кв.3 unknown, кв.4 missing;
    # 6 meters in matched premises (1, 2, 5, 6, 7, 8); 2 device failures (5, 6); first-time 1 and 2,
    # re-linked 7; accepted heat 1 (кв.1), rejected 2 (кв.2 lower, кв.7 older than 10 days), not prepared 1 (кв.8)
    assert run.summary == {"premises": 8, "with_account": 7, "account_failures": 2, "account_unknown": 1,
                           "account_missing": 1, "meters_matched_accounts": 6, "device_failures": 2,
                           "first_time": 2, "relinked": 1, "sent_by_resource": {"heat": 1},
                           "rejected_by_resource": {"heat": 2}, "errors_by_resource": {"heat": 1}}
    accounts = await w.billing.run_items(w.disp, run.id, "account")
    assert [(i.premise, i.account, i.message) for i in accounts] == [
        ("3", "100-3", "ЛС отсутствует в РИЦ"), ("4", "", "ЛС не указан")]
    devices = await w.billing.run_items(w.disp, run.id, "device")
    assert [(i.premise, i.serial, i.code) for i in devices] == [
        ("5", "223T0005", "serial_not_found"), ("6", "223T0006", "serial_other_resource"),
        ("8", "223T0008", "no_reading")]
    assert "cold_water" in devices[1].message
    accepted = await w.billing.run_items(w.disp, run.id, "accepted")
    assert [(i.serial, i.device_id, i.payload["values"], i.payload["reading_date"], i.payload["actual"])
            for i in accepted] == [("223T0001", "D1", {"T1": 100.72}, "2026-01-13", True)]
    rejected = await w.billing.run_items(w.disp, run.id, "rejected")
    assert [(i.serial, i.code, i.message, i.payload["values"]["T1"], i.payload["reading_date"]) for i in rejected] == [
        ("223T0002", "lower_than_previous", "показание меньше переданного ранее (500)", 101.44, "2026-01-13"),
        ("223T0007", "no_recent_readings", "нет показаний за последние 10 дней", 33.3, "2025-12-21")]
    assert [a.reading.serial for a in w.centre.accepted.values()] == ["223T0001"]
    key = accepted[0].idempotency_key
    assert key == f"c{centre_id}-m{w.ids['223T0001']}-heat-2026-01"

    # the manual's retry: a new protocol; the links stored by the first run: nothing first-time or re-linked,
    # the resend of кв.1 accepted again and recorded once
    again = await w.billing.retry(w.disp, run.id)
    assert (again.id != run.id, again.status, again.summary["first_time"], again.summary["relinked"],
            again.summary["sent_by_resource"]) == (True, "errors", 0, 0, {"heat": 1})
    assert len(w.centre.accepted) == 1
    assert [r.id for r in (await w.billing.runs(w.disp))[0]] == [again.id, run.id]
    audit = [r["action"] for r in w.registry.all("SELECT action FROM audit_log WHERE action LIKE 'billing.%' "
                                                 "ORDER BY id")]
    assert audit == ["billing.centre.create", "billing.run.manual", "billing.run.retry"]


@pytest.mark.parametrize("trouble", ["down", "error", "timeout"])
async def test_a_centre_in_trouble_is_retried_then_the_run_fails(world: World, trouble: str) -> None:
    w = world
    centre_id = await _centre(w)
    if trouble == "down":
        await w.centre.stop()
    else:
        w.centre.mode = trouble
    run = await w.billing.run_now(w.disp, centre_id)
    assert (run.state, run.status, run.attempts) == ("finished", "failed", 3)
    expected = {"down": "РИЦ недоступен (/accounts/match)", "error": "РИЦ ответил 500 на /accounts/match",
                "timeout": "РИЦ не ответил на /accounts/match за 0.5 с"}[trouble]
    assert run.reason.startswith(expected)
    assert run.reason.endswith("(попыток: 3)")
    assert run.summary == {}


async def test_a_wrong_token_fails_at_once(world: World) -> None:
    w = world
    centre_id = await _centre(w)
    await w.billing.update_centre(w.disp, centre_id, secret="wrong-token-0000")  # noqa: S106 - refused by the simulator
    run = await w.billing.run_now(w.disp, centre_id)
    assert (run.status, run.attempts) == ("failed", 1)
    assert run.reason.startswith("РИЦ отказал (401) на /accounts/match")


async def test_a_restart_in_the_middle_resends_with_the_same_keys(world: World) -> None:
    w = world
    centre_id = await _centre(w)
    w.centre.hold = asyncio.Event()
    started = await w.billing.start_run(w.disp, centre_id)
    await _eventually(lambda: any(path == "/readings" for path, _ in w.centre.requests))
    # the process dies with the centre's answer on the way: the run stays "running" in the registry
    for task in list(w.billing._tasks.values()):
        task.cancel()
    await _eventually(lambda: not w.billing._tasks)
    assert (await w.billing.run(w.disp, started.id)).state == "running"
    assert len(w.centre.accepted) == 1
    w.centre.hold.set()
    w.centre.hold = None
    # a new process: its scheduler resumes the run first thing (no centre is due: the submission day is the 20th)
    fresh = Services.create(w.registry, w.clickhouse)
    fresh.set_clock(lambda: cloud_data.NOW)
    stop = asyncio.Event()
    scheduler = asyncio.create_task(_fast(fresh.billing).run_scheduler(stop))
    deadline = asyncio.get_running_loop().time() + 10
    while (await fresh.billing.run(w.disp, started.id)).state != "finished":
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    stop.set()
    await scheduler
    run = await fresh.billing.run(w.disp, started.id)
    assert (run.state, run.status, run.attempts, run.summary["sent_by_resource"]) == ("finished", "errors", 2,
                                                                                      {"heat": 1})
    # the same three readings sent twice, each recorded once
    assert [n for path, n in w.centre.requests if path == "/readings"] == [3, 3]
    assert len(w.centre.accepted) == 1


async def test_the_scheduler_starts_a_run_on_the_submission_day_once(world: World) -> None:
    w = world
    today = await _centre(w, day=14)  # NOW is 2026-01-14 15:00 in Moscow
    later = (await w.billing.create_centre(w.disp, "РИЦ позже", f"http://127.0.0.1:{w.centre.port}", support.TOKEN,
                                           15, [w.seeded.building_id])).id
    await w.billing.create_centre(w.disp, "РИЦ выключен", f"http://127.0.0.1:{w.centre.port}", support.TOKEN, 1,
                                  [w.seeded.building_id], enabled=False)
    stop = asyncio.Event()
    scheduler = asyncio.create_task(w.billing.run_scheduler(stop))

    async def finished() -> list:
        runs, _ = await w.billing.runs(w.disp)
        return [(r.centre_id, r.trigger, r.state) for r in runs]
    deadline = asyncio.get_running_loop().time() + 10
    while await finished() != [(today, "schedule", "finished")]:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    stop.set()
    await scheduler
    assert await w.billing.tick() == []  # this month's run exists: not again
    assert later not in {c for c, _, _ in await asyncio.to_thread(w.billing.due_centres)}


async def test_roles_settings_and_validation(world: World) -> None:
    w = world
    reader = (await w.services.auth.login("reader", cloud_data.PASSWORDS["reader"])).token
    admin = (await w.services.auth.login("admin", cloud_data.PASSWORDS["admin"])).token
    stranger = (await w.services.auth.login("stranger", cloud_data.PASSWORDS["stranger"])).token
    centre_id = await _centre(w)
    centre = await w.billing.centre(reader, centre_id)
    assert (centre.token_hint, centre.submission_day, centre.building_ids) == ("…1234", 20, (w.seeded.building_id,))
    with pytest.raises(Forbidden):
        await w.billing.run_now(reader, centre_id)
    with pytest.raises(Forbidden):
        await w.billing.update_centre(reader, centre_id, submission_day=3)
    with pytest.raises(NotFound):
        await w.billing.centres(admin)
    with pytest.raises(NotFound):
        await w.billing.centre(stranger, centre_id)
    with pytest.raises(NotFound, match="building"):
        await w.billing.update_centre(w.disp, centre_id, building_ids=[w.seeded.other_building_id])
    with pytest.raises(InvalidInput, match=r"^submission_day"):
        await w.billing.update_centre(w.disp, centre_id, submission_day=29)
    with pytest.raises(InvalidInput, match=r"^url"):
        await w.billing.create_centre(w.disp, "Другой", "ftp://x", "t", 5)
    with pytest.raises(InvalidInput, match=r"^name"):
        await w.billing.create_centre(w.disp, "РИЦ Казань", "http://x", "t", 5)
    updated = await w.billing.update_centre(w.disp, centre_id, submission_day=3, enabled=False)
    assert (updated.submission_day, updated.enabled, updated.token_hint) == (3, False, "…1234")
    row = w.registry.one("SELECT after FROM audit_log WHERE action = 'billing.centre.update'")
    assert support.TOKEN not in row["after"]
    assert json.loads(row["after"])["submission_day"] == 3
    run = await w.billing.run_now(w.disp, centre_id)
    with pytest.raises(NotFound):
        await w.billing.run(stranger, run.id)
    with pytest.raises(InvalidInput, match=r"^kind"):
        await w.billing.run_items(reader, run.id, "other")


async def test_a_fault_of_ours_fails_the_run_and_is_raised(world: World) -> None:
    w = world
    centre_id = await _centre(w)

    def broken(kind: str, url: str, token: str, timeout: float):
        raise RuntimeError("no connector today")
    w.billing.engine.connectors = broken
    with pytest.raises(RuntimeError, match="no connector today"):
        await w.billing.run_now(w.disp, centre_id)
    run = (await w.billing.runs(w.disp))[0][0]
    assert (run.state, run.status, run.reason) == ("finished", "failed",
                                                   "внутренняя ошибка сервера: RuntimeError: no connector today")


async def test_a_run_never_started_is_started_after_a_restart(world: World) -> None:
    w = world
    centre_id = await _centre(w)
    run_id = w.billing._new_run(w.seeded.company_id, centre_id, "2026-01", "schedule")
    assert run_id is not None
    assert w.billing._new_run(w.seeded.company_id, centre_id, "2026-01", "manual") is None  # one at a time
    fresh = Services.create(w.registry, w.clickhouse)
    fresh.set_clock(lambda: cloud_data.NOW)
    assert await _fast(fresh.billing).resume() == [run_id]
    run = await fresh.billing.run(w.disp, run_id)
    assert (run.state, run.status, run.attempts) == ("finished", "errors", 1)


async def test_an_electricity_meter_with_zones_sends_t1_and_t2(world: World) -> None:
    w = world
    premise = sr.add_premise(w.registry, w.seeded.building_id, "9")
    sr.add_meter(w.registry, w.seeded.building_id, premise, "941T0009", model="KARAT-941LW", tariffs=2, ct_ratio=2.0)
    w.registry.write("UPDATE premises SET account = '100-9' WHERE id = ?", premise)
    w.centre.accounts["100-9"] = [Device("D9E", "941T0009", "electricity")]
    # day 2026-01-12 (ends 2026-01-13 00:00 local): T1 on channel 2, T2 on channel 3, times the CT ratio 2
    sr.store(w.clickhouse, w.seeded.company_id, [
        sr.record("941T0009", sr.DAY, datetime(2026, 1, 12), 500.25, 1, "E"),
        sr.record("941T0009", sr.DAY, datetime(2026, 1, 12), 300.0, 2, "E"),
        sr.record("941T0009", sr.DAY, datetime(2026, 1, 12), 200.25, 3, "E")])
    run = await w.billing.run_now(w.disp, await _centre(w))
    assert run.summary["sent_by_resource"] == {"heat": 1, "electricity": 1}
    sent = [i for i in await w.billing.run_items(w.disp, run.id, "accepted") if i.serial == "941T0009"]
    # 300.0 × 2 = 600.0 (day), 200.25 × 2 = 400.5 (night)
    assert [(i.payload["values"], i.payload["reading_date"]) for i in sent] == [({"T1": 600.0, "T2": 400.5},
                                                                                 "2026-01-13")]
