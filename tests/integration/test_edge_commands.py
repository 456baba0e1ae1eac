"""Commands from the cloud through a real nats-server (edge/commands.py): published on DU_DOWN,
taken by the site's durable consumer, answered with results read back from DU_UP; against a
simulated KARAT-307 on a real pymodbus server and simulated LoRaWAN devices over the nats-server
MQTT listener. Commands published while the edge is down are all carried out once it starts;
a repeated id is carried out once; a meter configuration push replaces pollers live, leaves the
buffer intact and survives a restart with no cloud."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import msgpack
import nats

from cloud.ingest import ensure_streams
from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from protocol import subjects
from protocol.commands import Command, CommandType, encode_command
from protocol.wire import CommandResult, decode_batch
from tests.chaos.edge_support import SERIAL, edge_config, hours, meter_config, modbus_device, until
from tests.conftest import free_port
from tests.integration.test_edge_lora_gaps import edge_and_building, lora_building, lora_edge

SITE = "cmd-test"
COMMISSIONED = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)


class Cloud:
    """The cloud's side of the wire for a test: publishes commands, collects results."""

    def __init__(self, nc: nats.NATS) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.results: dict[str, dict[str, CommandResult]] = {}  # command id -> state -> result
        self._sub = None

    async def start(self) -> None:
        await ensure_streams(self.js)

        async def on_msg(msg) -> None:
            for r in decode_batch(msg.data).results:
                self.results.setdefault(r.command_id, {})[r.state] = r
            await msg.ack()
        self._sub = await self.js.subscribe(subjects.state_subject(SITE), cb=on_msg, ordered_consumer=True)

    async def send(self, type_: CommandType, msg_id: str | None = None, expires_at: float = 0.0,
                   **args: object) -> str:
        command = Command(id=uuid.uuid4().hex, site=SITE, type=type_, args=dict(args), issued_at=time.time(),
                          expires_at=expires_at)
        await self.js.publish(subjects.command_subject(SITE), encode_command(command),
                              headers={"Nats-Msg-Id": msg_id or command.id})
        return command.id

    async def send_raw(self, data: bytes) -> None:
        await self.js.publish(subjects.command_subject(SITE), data, headers={"Nats-Msg-Id": uuid.uuid4().hex})

    def final(self, command_id: str) -> CommandResult | None:
        states = self.results.get(command_id, {})
        return states.get("done") or states.get("failed")

    async def wait_final(self, command_id: str, timeout: float = 30) -> CommandResult:
        await until(lambda: self.final(command_id) is not None, timeout, f"the result of command {command_id}")
        result = self.final(command_id)
        assert result is not None
        return result


@contextlib.asynccontextmanager
async def cloud(url: str) -> AsyncIterator[Cloud]:
    nc = await nats.connect(url)
    c = Cloud(nc)
    await c.start()
    try:
        yield c
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def running(config: EdgeConfig) -> AsyncIterator[EdgeAgent]:
    agent = EdgeAgent(config)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield agent
    finally:
        stop.set()
        await task


def _utc(moment: datetime) -> int:
    return int(moment.timestamp())


def _executions(agent: EdgeAgent, command_id: str) -> int:
    return agent.buffer.db.execute("SELECT count(*) FROM results WHERE command_id = ? AND state != 'accepted'",
                                   [command_id]).fetchone()[0]


async def test_commands_sent_while_the_edge_is_down_are_all_carried_out(nats, tmp_path: Path) -> None:
    # the device runs on real time: time_sync sets its clock to the gateway's
    now = datetime.now(UTC)
    commissioned = now.replace(minute=0, second=0, microsecond=0) - hours(72)
    async with modbus_device(commissioned, now, speed=1.0) as dev, cloud(nats.url) as c:
        meter = meter_config(dev, archive_depth_days=1)
        config = edge_config(tmp_path / "edge", [meter], site=SITE, nats_url=nats.url, mqtt_port=nats.mqtt_port)
        # all published before the edge runs: the durable consumer keeps them
        backfill = await c.send(CommandType.BACKFILL, meter=SERIAL, kind="hour", **{"from": _utc(commissioned),
                                                                                   "to": _utc(now)})
        time_sync = await c.send(CommandType.TIME_SYNC, meter=SERIAL)
        available = await c.send(CommandType.AVAILABILITY, meter=SERIAL)
        current = await c.send(CommandType.READ_CURRENT, meter=SERIAL)
        unknown = await c.send(CommandType.AVAILABILITY, meter="nope")
        relay = await c.send(CommandType.RELAY, meter=SERIAL, on=False)
        expired = await c.send(CommandType.AVAILABILITY, meter=SERIAL, expires_at=time.time() - 1)
        await c.send_raw(msgpack.packb({"v": 1, "id": "bad-1", "site": SITE, "type": "explode", "args": {}}))
        await c.send_raw(b"\xc1 not msgpack")
        dev.device.clock_offset -= hours(0.1)  # six minutes slow: time_sync sets it right
        async with running(config) as agent:
            done = await c.wait_final(backfill, 60)
            assert done.state == "done", done.detail
            # about 72 closed hours; with a 1-day depth, those that started before (device now - 24 h) are
            # lost: all but the last 23
            periods = done.detail["periods"]
            assert periods in (71, 72, 73)
            assert (done.detail["records"], done.detail["lost"]) == (23, periods - 23)
            result = await c.wait_final(time_sync)
            assert result.state == "done", result.detail
            assert abs(result.detail["offset_before_s"] + 360) < 30
            assert abs(result.detail["offset_after_s"]) < 5
            assert agent.buffer.events(kind="clock_corrected")[0]["detail"]["reason"] == "command"
            result = await c.wait_final(available)
            assert (result.state, result.detail["available"]) == ("done", True)
            result = await c.wait_final(current)
            assert result.state == "done"
            assert set(result.detail["values"]) == {"1", "2", "3"}
            result = await c.wait_final(unknown)
            assert result.state == "failed"
            assert "not configured" in result.detail["reason"]
            result = await c.wait_final(relay)
            assert result.state == "failed"
            assert "no relay" in result.detail["reason"]
            assert (await c.wait_final(expired)).detail == {"reason": "expired"}
            result = await c.wait_final("bad-1")
            assert result.state == "failed"
            assert result.detail["reason"].startswith("type:")
            reasons = [r[0] for r in agent.buffer.db.execute("SELECT reason FROM rejects ORDER BY id")]
            assert len(reasons) == 2
            assert reasons[0].startswith("type:")
            assert reasons[1].startswith("command:")
            for cid in (backfill, time_sync, available, current):
                assert "accepted" in c.results[cid]
            # a redelivery (another message with the same command id) is not carried out again
            await c.js.publish(subjects.command_subject(SITE), encode_command(Command(
                id=available, site=SITE, type=CommandType.AVAILABILITY, args={"meter": SERIAL})),
                headers={"Nats-Msg-Id": uuid.uuid4().hex})
            probe = await c.send(CommandType.AVAILABILITY, meter=SERIAL)
            await c.wait_final(probe)  # taken after the repeat, from the same consumer
            assert _executions(agent, available) == 1
            assert len(agent.gaps.lost(SERIAL, meter.kinds[0])) >= periods - 23


async def test_meter_config_push_while_records_are_buffered(nats, tmp_path: Path) -> None:
    """No cloud ingest runs: every record stays in the buffer, unsynced, through the push."""
    now = COMMISSIONED + hours(5.5)
    async with modbus_device(COMMISSIONED, now, speed=1.0) as dev_a, \
            modbus_device(COMMISSIONED, now, speed=1.0) as dev_b, cloud(nats.url) as c:
        meter_a = meter_config(dev_a)
        meter_b = replace(meter_config(dev_b), serial="30700777")
        config = edge_config(tmp_path / "edge", [meter_a], site=SITE, nats_url=nats.url, mqtt_port=nats.mqtt_port)

        def rows(agent: EdgeAgent, serial: str) -> list[tuple]:
            return agent.buffer.db.execute("SELECT channel, kind, parameter, period_start, value FROM archive "
                                           "WHERE meter = ? ORDER BY 1, 2, 3, 4", [serial]).fetchall()
        async with running(config) as agent:
            await until(lambda: len({r[3] for r in rows(agent, SERIAL)}) == 5, 20, "meter A's five hours")
            before = rows(agent, SERIAL)
            push = await c.send(CommandType.METER_CONFIG, meters=[meter_b.as_dict()])
            dev_a.jump(COMMISSIONED + hours(6.5), speed=1.0)  # an hour closes that only a poller of A would read
            result = await c.wait_final(push)
            assert result.state == "done", result.detail
            assert (result.detail["added"], result.detail["removed"]) == (["30700777"], [SERIAL])
            await until(lambda: len({r[3] for r in rows(agent, "30700777")}) == 5, 20, "meter B polled")
            assert rows(agent, SERIAL) == before  # the buffer is untouched
            assert [p.meter.serial for p in agent.pollers] == ["30700777"]
            bad = await c.send(CommandType.METER_CONFIG, meters=[{"serial": "x", "model": "KARAT-307"}])
            result = await c.wait_final(bad)
            assert result.state == "failed"
            assert result.detail["reason"].startswith("args.meters[0]")
            assert [p.meter.serial for p in agent.pollers] == ["30700777"]
        pushed = json.loads((tmp_path / "edge" / "meters.json").read_text())
        assert [m["serial"] for m in pushed["meters"]] == ["30700777"]
        # restart with no cloud at all: the pushed list wins over the config file's
        offline = replace(config, nats_url=f"nats://127.0.0.1:{free_port()}")
        async with running(offline) as agent:
            assert [p.meter.serial for p in agent.pollers] == ["30700777"]
            assert [m.serial for m in agent.config.meters] == ["30700777"]
            assert rows(agent, SERIAL) == before
            count = len(rows(agent, "30700777"))
            dev_a.jump(COMMISSIONED + hours(7.5), speed=1.0)
            dev_b.jump(COMMISSIONED + hours(7.5), speed=1.0)  # two more hours close
            await until(lambda: len(rows(agent, "30700777")) > count, 20, "meter B polled after the restart")
            assert rows(agent, SERIAL) == before


async def test_lora_commands_go_by_downlink_and_end_with_the_device_answer(nats, tmp_path: Path) -> None:
    building = lora_building(tmp_path, nats.mqtt_port, [], electricity_meters_941=1)
    building.scenario = replace(building.scenario, building=replace(building.scenario.building, site=SITE))
    compact = building.apartment_meters[0]
    (power,) = [d for d in building.radio_devices if d.MODEL == "KARAT-941LW"]
    config = replace(lora_edge(tmp_path, building, nats.url, nats.mqtt_port, downlink_timeout_s=20.0), site=SITE)
    world = building.world
    async with cloud(nats.url) as c, edge_and_building(config, building) as agent:
        def hours_heard(serial: str) -> int:
            return agent.buffer.db.execute("SELECT count(DISTINCT period_start) FROM archive WHERE meter = ?",
                                           [serial]).fetchone()[0]
        await until(lambda: hours_heard(compact.serial) >= 5 and hours_heard(power.serial) >= 1, 30,
                    "five hours of uplinks")
        current = await c.send(CommandType.READ_CURRENT, meter=power.serial)
        relay = await c.send(CommandType.RELAY, meter=power.serial, on=True, limit_w=2000)
        available = await c.send(CommandType.AVAILABILITY, meter=compact.serial)
        backfill = await c.send(CommandType.BACKFILL, meter=compact.serial, kind="hour",
                                **{"from": _utc(world.hour_start(0)), "to": _utc(world.hour_start(3))})
        result = await c.wait_final(current, 60)
        assert result.state == "done", result.detail
        assert result.detail["values"]
        result = await c.wait_final(relay, 60)
        assert result.state == "done", result.detail
        assert result.detail == {"mode": "limit", "threshold_w": 2000}
        result = await c.wait_final(available, 60)
        assert (result.state, result.detail["available"]) == ("done", True)
        result = await c.wait_final(backfill, 60)
        assert result.state == "done", result.detail
        assert (result.detail["records"], result.detail["lost"], result.detail["periods"]) == (4, 0, 4)
        # the relay's "switched" event is a device event for the cloud
        events = [e for e in agent.buffer.events(limit=100) if e["source"] == "device" and e["meter"] == power.serial]
        assert any(e["detail"]["event_code"] == "0x0402" for e in events)
        # last, as it sets the simulated device's clock to the gateway's (real) time
        clock = await c.send(CommandType.TIME_SYNC, meter=power.serial)
        result = await c.wait_final(clock, 60)
        assert result.state == "done", result.detail
        assert agent.buffer.events(kind="clock_corrected")[0]["meter"] == power.serial
        kinds = {r[0] for r in agent.buffer.db.execute("SELECT DISTINCT substr(hex(payload), 1, 2) FROM radio "
                                                        "WHERE direction = 'down'")}
        assert kinds == {"35", "33", "34", "31", "32"}  # current, relay, passport, archive requests, clock


async def test_a_command_persisted_before_a_crash_is_resumed_at_the_next_start(nats, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with modbus_device(now.replace(minute=0, second=0, microsecond=0) - hours(3), now, speed=1.0) as dev, \
            cloud(nats.url) as c:
        config = edge_config(tmp_path / "edge", [meter_config(dev)], site=SITE, nats_url=nats.url,
                             mqtt_port=nats.mqtt_port)
        first = EdgeAgent(config)  # takes the command, persists it, then "crashes" before carrying it out
        command = Command(id="resume-1", site=SITE, type=CommandType.AVAILABILITY, args={"meter": SERIAL})
        assert first.commands.accept(encode_command(command), "test") == command
        assert first.commands.accept(encode_command(command), "test") is None  # a redelivery: known
        assert first.commands.state("resume-1") == "accepted"
        first.buffer.close()
        async with running(config) as agent:
            result = await c.wait_final("resume-1")
            assert (result.state, result.detail["available"]) == ("done", True)
            assert agent.commands.state("resume-1") == "done"
            assert _executions(agent, "resume-1") == 1
