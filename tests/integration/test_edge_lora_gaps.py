"""Gaps of a LoRaWAN meter backfilled by downlink (edge/lora_gaps.py): a simulated Compact-2
over the nats-server MQTT listener loses uplinks on the air (a radio_loss fault); the edge
notices the missing periods from the device's later uplinks, sends archive-request downlinks
(logged in the radio table with direction "down"), and the device's answers fill every gap."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from edge.agent import EdgeAgent
from edge.config import EdgeConfig, MeterConfig
from protocol.vocabulary import ArchiveKind
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import Fault, load
from tests.chaos.edge_support import edge_config, until
from tests.conftest import PLAIN, free_port

SITE = "lora-gaps"


def lora_building(tmp_path: Path, mqtt_port: int, faults: list[Fault], **building: object) -> SimulatedBuilding:
    s = load("demo")
    scenario = replace(s, speed=3600.0, start="2026-01-15T00:00", faults=faults,
                       building=replace(s.building, **{"site": SITE, "apartments": 1, **PLAIN, **building}))
    return SimulatedBuilding(scenario, tmp_path / "sim", Endpoints(modbus_port=free_port(), mqtt_port=mqtt_port))


def lora_edge(tmp_path: Path, building: SimulatedBuilding, nats_url: str, mqtt_port: int, **overrides) -> EdgeConfig:
    commissioned = building.state.commissioning.isoformat()
    meters = [MeterConfig(serial=d.serial, model=d.MODEL, transport="lorawan", commissioned=commissioned,
                          dev_eui=d.dev_eui) for d in building.lora_devices]
    config = edge_config(tmp_path / "edge", meters, site=SITE, nats_url=nats_url, mqtt_port=mqtt_port,
                         lora_application_id=building.scenario.lora_application_id, **overrides)
    return replace(config, time_zone=building.scenario.building.time_zone)


@contextlib.asynccontextmanager
async def edge_and_building(config: EdgeConfig, building: SimulatedBuilding) -> AsyncIterator[EdgeAgent]:
    agent = EdgeAgent(config)
    stop, sim_stop = asyncio.Event(), asyncio.Event()
    edge = asyncio.create_task(agent.run(stop))
    sim: asyncio.Task | None = None
    with open(os.devnull, "w") as devnull:
        try:
            # the edge's MQTT session must exist before the network server sends, as on a real site
            await until(lambda: agent.mqtt is not None and agent.mqtt.connected, 20, "the edge's MQTT session")
            sim = asyncio.create_task(building.run(devnull, sim_stop))
            yield agent
        finally:
            sim_stop.set()
            if sim is not None:
                await sim
            stop.set()
            await edge


async def test_uplinks_lost_on_the_air_are_recovered_by_downlink(nats, tmp_path: Path) -> None:
    loss = Fault(kind="radio_loss", at_hour=2, hours=8, rate=0.5)
    building = lora_building(tmp_path, nats.mqtt_port, [loss])
    (meter,) = building.apartment_meters
    seed = building.scenario.seed
    lost_on_air = [i for i in range(2, 10)
                   if random.Random(f"loss:{seed}:{meter.dev_eui}:{i}").random() < loss.rate]
    assert lost_on_air, "the fault must lose some uplinks for this test to mean anything"
    config = lora_edge(tmp_path, building, nats.url, nats.mqtt_port, downlink_timeout_s=3.0, gap_backoff_max_s=3.0)
    world = building.world
    expected = {int(world.hour_start(i).timestamp()) for i in range(16)}

    async with edge_and_building(config, building) as agent:
        def stored() -> set[int]:
            return {r[0] for r in agent.buffer.db.execute(
                "SELECT DISTINCT period_start FROM archive WHERE meter = ? AND kind = 'hour'", [meter.serial])}
        await until(lambda: expected <= stored(), 60, "every hour of the first sixteen, the lost ones by downlink")
        downs = agent.buffer.db.execute("SELECT payload FROM radio WHERE direction = 'down' AND dev_eui = ?",
                                        [meter.dev_eui]).fetchall()
        assert downs, "the missing hours came back through archive-request downlinks"
        assert all(p[0][0] == 0x31 for p in downs)  # template 0x31: request archives
        await until(lambda: agent.lora_gaps.gaps.open(meter.serial, ArchiveKind.HOUR) == [], 20, "no open gaps")
        assert agent.lora_gaps.gaps.lost(meter.serial, ArchiveKind.HOUR) == {}
