"""Commands to the edge through the service layer, over a real registry and a real nats-server:
an issued command reaches DU_DOWN as the same command (Nats-Msg-Id = its id), waits while
NATS is down and is sent when it comes up; edge results move its state idempotently; the
sweeper times it out; roles, reader status and company scope are enforced; every issue is audited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats as nats_client
import pytest

from cloud.command_bus import CommandBus
from cloud.ingest import Ingest
from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.services.auth import AuthService
from cloud.services.commands import CommandService
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.services.users import UsersService
from cloud.storage.registry import Registry
from domuchet import natsserver
from edge.config import parse_meters
from protocol import subjects
from protocol.commands import CommandType, decode_command
from protocol.wire import Batch, CommandResult, batch_subject, encode_batch
from tests import cloud_data
from tests.cloud_data import USERS
from tests.conftest import free_port

ENGINEER = UserSeed("eng", "Инженер Тест", "engineer", "eng-pass")


def seed(registry: Registry) -> dict[str, int]:
    company = seed_company(registry, "УК Тест", "Казань", (*USERS, ENGINEER))
    seed_building(registry, company, BuildingSeed(
        site="test", address="ул. Тестовая, 1", city="Казань", time_zone="Europe/Moscow",
        heat_meter_serial="307T0001", heat_meter_model="KARAT-307",
        heat_meter_communicator="Modbus TCP 127.0.0.1:5020 #1",
        premises=(PremiseSeed("1", 50.0, 2, "223T0001", "KARAT-Compact-2-223", "LoRaWAN 70B3D5E75E2A0001"),)))
    other = seed_company(registry, "УК Чужая", "Казань", (UserSeed("stranger", "Чужой", "dispatcher", "x-pass"),
                                                     UserSeed("stranger.eng", "Чужой инженер", "engineer", "x-pass")))
    seed_building(registry, other, BuildingSeed(
        site="other", address="ул. Чужая, 2", city="Казань", time_zone="Europe/Moscow",
        heat_meter_serial="307X0001", heat_meter_model="KARAT-307",
        heat_meter_communicator="Modbus TCP 127.0.0.1:5021 #1", premises=()))
    ids = {r["serial"]: r["id"] for r in registry.all("SELECT id, serial FROM meters")}
    return ids


# an hourly period two days back: inside every model's hourly archive depth (45 days)
HOUR_AGO_48 = (int(time.time()) // 3600 - 48) * 3600


@pytest.fixture
def world(tmp_path: Path):
    registry = Registry(tmp_path / "registry.db")
    meters = seed(registry)
    auth = AuthService(registry)
    return registry, auth, CommandService(registry, auth), meters


async def _tokens(auth: AuthService, *logins: str) -> list[str]:
    passwords = {u.login: u.password for u in (*USERS, ENGINEER)} | {"stranger": "x-pass", "stranger.eng": "x-pass"}
    return [(await auth.login(login, passwords[login])).token for login in logins]


async def _until(check, what: str, seconds: float = 20.0):
    """Poll ``check`` (async) until it returns something truthy; the deadline only avoids hanging."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (value := await check()) is None or value is False:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


@pytest.fixture
async def running_bus(world, nats: natsserver.NatsSettings) -> AsyncIterator[CommandBus]:
    bus = CommandBus(nats.url, world[2], interval_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    yield bus
    stop.set()
    await task


async def test_command_reaches_du_down_and_results_move_it(world, nats, running_bus) -> None:
    _registry, auth, commands, meters = world
    (disp,) = await _tokens(auth, "disp")
    issued = await commands.issue(disp, "backfill", meter_id=meters["307T0001"],
                                  args={"kind": "hour", "from": HOUR_AGO_48, "to": HOUR_AGO_48 + 3600})
    assert issued.args["meter"] == "307T0001"
    assert issued.site == "test"

    async def sent():
        info = await commands.get(disp, issued.id)
        return info if info.state == "sent" else None
    info = await _until(sent, "the command to be sent")
    assert info.sent_at is not None

    nc = await nats_client.connect(nats.url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subjects.command_subject("test"), durable=subjects.edge_consumer("test"),
                                      stream=subjects.STREAM_DOWN)
        (msg,) = await sub.fetch(1, timeout=10)
        command = decode_command(msg.data)
        assert msg.headers
        assert msg.headers["Nats-Msg-Id"] == issued.id
        assert (command.id, command.site, command.type, command.args) == (
            issued.id, "test", CommandType.BACKFILL,
            {"meter": "307T0001", "kind": "hour", "from": HOUR_AGO_48, "to": HOUR_AGO_48 + 3600})
        assert command.expires_at == pytest.approx(issued.expires_at.timestamp())
        await msg.ack()
    finally:
        await nc.close()

    at = datetime.now(UTC).timestamp()
    assert commands.apply_results("test", [CommandResult(issued.id, "accepted", at)]) == 1
    assert (await commands.get(disp, issued.id)).state == "acknowledged"
    done = CommandResult(issued.id, "done", at + 5, {"records": 2, "lost": 0})
    assert commands.apply_results("test", [done]) == 1
    assert commands.apply_results("test", [done, CommandResult(issued.id, "accepted", at)]) == 0  # redelivery
    final = await commands.get(disp, issued.id)
    assert (final.state, final.result, final.final) == ("done", {"records": 2, "lost": 0}, True)
    assert final.finished_at == datetime.fromtimestamp(at + 5, UTC)
    # results naming an unknown command or another site's command are ignored
    assert commands.apply_results("other", [CommandResult(issued.id, "failed", at)]) == 0
    assert commands.apply_results("test", [CommandResult("no-such-id", "done", at)]) == 0
    assert (await commands.get(disp, issued.id)).state == "done"


async def test_command_waits_while_nats_is_down(world, tmp_path: Path) -> None:
    _registry, auth, commands, meters = world
    (eng,) = await _tokens(auth, "eng")
    port = free_port()
    bus = CommandBus(f"nats://127.0.0.1:{port}", commands, interval_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    proc = None
    try:
        issued = await commands.issue(eng, "time_sync", meter_id=meters["307T0001"], args={"force": True})
        assert issued.state == "created"
        await asyncio.sleep(0.5)
        assert (await commands.get(eng, issued.id)).state == "created"  # nothing to send to: it waits
        proc = natsserver.start(natsserver.NatsSettings(port=port, mqtt_port=free_port()), tmp_path / "nats",
                                tmp_path / "nats.log", new_session=False, auth=False)

        async def sent():
            return (await commands.get(eng, issued.id)).state == "sent"
        await _until(sent, "the command to be sent once NATS is up")
    finally:
        stop.set()
        await task
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


async def test_sweeper_times_out_and_a_late_result_still_counts(world) -> None:
    _registry, auth, commands, meters = world
    (disp,) = await _tokens(auth, "disp")
    issued = await commands.issue(disp, "availability", meter_id=meters["223T0001"], ttl=timedelta(minutes=5))
    assert commands.sweep(datetime.now(UTC) + timedelta(minutes=1)) == 0
    assert commands.sweep(datetime.now(UTC) + timedelta(minutes=6)) == 1
    assert commands.sweep(datetime.now(UTC) + timedelta(minutes=7)) == 0
    assert (await commands.get(disp, issued.id)).state == "timed_out"
    assert await commands.send_pending() == 0  # an expired command is never sent
    late = datetime.now(UTC).timestamp()
    assert commands.apply_results("test", [CommandResult(issued.id, "accepted", late)]) == 0
    assert commands.apply_results("test", [CommandResult(issued.id, "failed", late, {"reason": "expired"})]) == 1
    info = await commands.get(disp, issued.id)
    assert (info.state, info.result) == ("failed", {"reason": "expired"})


async def test_roles_reader_and_tenancy(world) -> None:
    registry, auth, commands, meters = world
    disp, eng, reader, admin, stranger, stranger_eng = await _tokens(auth, "disp", "eng", "reader", "admin", "stranger",
                                                                     "stranger.eng")
    meter = meters["307T0001"]
    for token in (reader, admin):
        with pytest.raises(Forbidden):
            await commands.issue(token, "backfill", meter_id=meter, args={"kind": "hour", "from": 0, "to": 0})
    with pytest.raises(Forbidden, match="dispatcher"):
        await commands.issue(disp, "time_sync", meter_id=meter)
    with pytest.raises(Forbidden, match="engineer"):
        await commands.issue(eng, "relay", meter_id=meter, args={"on": False})
    relay = await commands.issue(disp, "relay", meter_id=meter, args={"on": False, "limit_w": 1500})
    read = await commands.issue(eng, "read_current", meter_id=meter)
    with pytest.raises(InvalidInput, match=r"args\.kind"):
        await commands.issue(disp, "backfill", meter_id=meter, args={"kind": "week", "from": 0, "to": 0})
    with pytest.raises(InvalidInput, match="type"):
        await commands.issue(disp, "reboot", meter_id=meter)

    # another company sees and reaches nothing of ours
    with pytest.raises(NotFound):
        await commands.issue(stranger, "availability", meter_id=meter)
    with pytest.raises(NotFound):
        await commands.get(stranger, relay.id)
    assert await commands.list(stranger) == []
    with pytest.raises(NotFound):
        await commands.issue(stranger_eng, "meter_config", site="test")
    # and we see ours, filtered
    assert [c.id for c in await commands.list(reader)] == [read.id, relay.id]
    assert [c.id for c in await commands.list(disp, kind="relay", meter_id=meter, state="created")] == [relay.id]
    assert await commands.list(disp, site="other") == []

    log = await UsersService(registry, auth).audit_log(admin)
    issues = [e for e in log if e.action == "command.issue"]
    assert [(e.user_login, e.object) for e in issues] == [("eng", f"command:{read.id}"),
                                                          ("disp", f"command:{relay.id}")]
    assert issues[1].after == {"type": "relay", "site": "test", "meter_id": meter, "expires_at": issues[1].after[
        "expires_at"], "args": {"meter": "307T0001", "on": False, "limit_w": 1500}}


async def test_meter_config_lists_the_sites_meters_with_their_transport(world) -> None:
    _registry, auth, commands, meters = world
    disp, eng = await _tokens(auth, "disp", "eng")
    with pytest.raises(Forbidden):
        await commands.issue(disp, "meter_config", site="test")
    with pytest.raises(InvalidInput, match="site"):
        await commands.issue(eng, "meter_config", meter_id=meters["307T0001"])
    issued = await commands.issue(eng, "meter_config", site="test")
    by_serial = {m["serial"]: m for m in issued.args["meters"]}
    assert set(by_serial) == {"307T0001", "223T0001"}
    assert {k: by_serial["307T0001"][k] for k in ("model", "transport", "host", "port", "unit")} == {
        "model": "KARAT-307", "transport": "modbus-tcp", "host": "127.0.0.1", "port": 5020, "unit": 1}
    assert (by_serial["223T0001"]["transport"], by_serial["223T0001"]["dev_eui"]) == ("lorawan", "70b3d5e75e2a0001")
    assert by_serial["223T0001"]["archive_kinds"] == ["hour"]  # from the registry's "hour, integral"
    assert [m.serial for m in parse_meters(issued.args["meters"])] == ["223T0001", "307T0001"]  # the edge takes it
    assert issued.meter_id is None
    assert issued.site == "test"


async def test_edge_results_arrive_through_the_ingest(world, nats, running_bus, clickhouse) -> None:
    """The whole loop: the command on DU_DOWN, the edge's results as a state batch on DU_UP, the
    ingest's on_results hook moving the command (here the test plays the edge)."""
    _registry, auth, commands, meters = world
    (disp,) = await _tokens(auth, "disp")
    ingest = Ingest(nats.url, clickhouse, on_results=commands.apply_results, name="t")
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    nc = await nats_client.connect(nats.url)
    try:
        issued = await commands.issue(disp, "read_current", meter_id=meters["223T0001"])
        js = nc.jetstream()
        sub = await js.pull_subscribe(subjects.command_subject("test"), durable=subjects.edge_consumer("test"),
                                      stream=subjects.STREAM_DOWN)
        (msg,) = await sub.fetch(1, timeout=20)
        command = decode_command(msg.data)
        await msg.ack()
        now = datetime.now(UTC).timestamp()
        for seq, result in enumerate((CommandResult(command.id, "accepted", now),
                                      CommandResult(command.id, "done", now + 1, {"V": 12.5})), start=1):
            batch = Batch("test", seq, (), now, results=(result,))
            await js.publish(batch_subject(batch), encode_batch(batch), headers={"Nats-Msg-Id": batch.msg_id})

        async def done():
            info = await commands.get(disp, issued.id)
            return info if info.state == "done" else None
        info = await _until(done, "the edge's result to arrive through the ingest")
        assert info.result == {"V": 12.5}
    finally:
        await nc.close()
        stop.set()
        await task


async def test_meter_config_prefers_the_registry_communicators(world) -> None:
    registry, auth, commands, _meters = world
    (eng,) = await _tokens(auth, "eng")
    company = registry.one("SELECT company_id FROM meters WHERE serial = '307T0001'")["company_id"]
    with registry.connect() as db:
        tcp = db.execute("INSERT INTO communicators (company_id, kind, placement, host, port) "
                         "VALUES (?, 'tcp', 'external', '10.0.0.5', 502)", (company,)).lastrowid
        gprs = db.execute("INSERT INTO communicators (company_id, kind, placement, imei) "
                          "VALUES (?, 'gprs', 'builtin', '356938035643809')", (company,)).lastrowid
        db.execute("UPDATE meters SET communicator_id = ? WHERE serial = '307T0001'", (tcp,))
        db.execute("UPDATE meters SET communicator_id = ? WHERE serial = '223T0001'", (gprs,))
    issued = await commands.issue(eng, "meter_config", site="test")
    (only,) = issued.args["meters"]  # the GPRS meter calls the cloud itself: not the edge's to poll
    assert {k: only[k] for k in ("serial", "transport", "host", "port", "unit")} == {
        "serial": "307T0001", "transport": "modbus-tcp", "host": "10.0.0.5", "port": 502, "unit": 1}


async def test_meter_config_commissioned_from_the_first_stored_archive(clickhouse, tmp_path: Path) -> None:
    """A meter with archives keeps them expected from its first stored period (so the edge may
    still backfill gaps after it); a meter with none is expected from today."""
    registry = Registry(tmp_path / "registry.db")
    cloud_data.seed(registry, clickhouse)
    company = seed_company(registry, "УК Тест", "Казань", (ENGINEER,))
    seed_building(registry, company, BuildingSeed(
        site="test", address="ул. Тестовая, 3", city="Казань", time_zone="Europe/Moscow",
        heat_meter_serial="307T0009", heat_meter_model="KARAT-307",
        heat_meter_communicator="Modbus TCP 127.0.0.1:5029 #1", premises=()))
    auth = AuthService(registry)
    commands = CommandService(registry, auth, clickhouse=clickhouse)
    (eng,) = await _tokens(auth, "eng")
    issued = await commands.issue(eng, "meter_config", site="test")
    commissioned = {m["serial"]: m["commissioned"] for m in issued.args["meters"]}
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert commissioned == {"307T0001": "2026-01-09T21:00:00+00:00", "223T0001": "2026-01-09T21:00:00+00:00",
                            "223T0002": "2026-01-09T21:00:00+00:00", "307T0009": today.isoformat()}


async def test_meter_config_follows_each_meters_service_period(world) -> None:
    """The edge polls a meter only between its commissioning and its decommissioning: a recorded
    commissioning time is pushed as it is, and a meter whose decommissioning has come (or one
    marked decommissioned before dates were kept) is left out; one decommissioned later stays."""
    registry, auth, commands, _meters = world
    with registry.connect() as db:
        db.execute("UPDATE meters SET commissioned_at = '2026-02-03T07:00:00+03:00' WHERE serial = '307T0001'")
        db.execute("UPDATE meters SET decommissioned_at = '2026-03-01T00:00:00+00:00' WHERE serial = '223T0001'")
    (eng,) = await _tokens(auth, "eng")
    issued = await commands.issue(eng, "meter_config", site="test")
    by_serial = {m["serial"]: m for m in issued.args["meters"]}
    assert set(by_serial) == {"307T0001"}  # 223T0001 was taken out of service on 01.03.2026 (before today)
    assert by_serial["307T0001"]["commissioned"] == "2026-02-03T04:00:00+00:00"  # 07:00 at UTC+3
    with registry.connect() as db:  # decommissioning in the future: still polled until then
        db.execute("UPDATE meters SET decommissioned_at = '2099-01-01T00:00:00+00:00' WHERE serial = '223T0001'")
    issued = await commands.issue(eng, "meter_config", site="test")
    assert {m["serial"] for m in issued.args["meters"]} == {"307T0001", "223T0001"}
    with registry.connect() as db:  # a legacy row: status only
        db.execute("UPDATE meters SET decommissioned_at = NULL, status = 'decommissioned' WHERE serial = '223T0001'")
    issued = await commands.issue(eng, "meter_config", site="test")
    assert {m["serial"] for m in issued.args["meters"]} == {"307T0001"}
