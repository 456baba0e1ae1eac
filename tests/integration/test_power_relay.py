"""A power limitation end to end (manual 4.5.8): the dispatcher limits a premise through the
service; its relay command goes over a real nats-server (CommandBus) to a real edge agent, which
sends the downlink over the MQTT feed to a simulated KARAT-941LW (accelerated clock); the device
switches its relay and answers; the edge's results come back through the real ingest and move the
command, and so the limitation, to "limited". The next uplink, the device's passport, shows the
relay in LIMIT at the threshold; lifting puts it back ON. Waits on conditions, never fixed sleeps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from cloud.command_bus import CommandBus
from cloud.ingest import Ingest
from cloud.seed import BuildingSeed, seed_building, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.lorawan_down import RelayMode
from tests import cloud_data, support_power
from tests.chaos.edge_support import until
from tests.integration.test_edge_lora_gaps import edge_and_building, lora_building, lora_edge

SITE = "power-relay"
THRESHOLD_W = 2000


@contextlib.asynccontextmanager
async def cloud(services: Services, nats_url: str, clickhouse: ClickHouse) -> AsyncIterator[None]:
    """The cloud's command bus and ingest (whose results hook moves the commands), as `domuchet cloud` runs them."""
    stop = asyncio.Event()
    bus = CommandBus(nats_url, services.commands, interval_s=0.2)
    ingest = Ingest(nats_url, clickhouse, on_results=services.commands.apply_results, name="power")
    tasks = [asyncio.create_task(bus.run(stop)), asyncio.create_task(ingest.run(stop))]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_limitation_switches_the_simulated_relay(nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    building = lora_building(tmp_path, nats.mqtt_port, [], electricity_meters_941=1)
    building.scenario = replace(building.scenario, building=replace(building.scenario.building, site=SITE))
    (device,) = [d for d in building.radio_devices if d.MODEL == "KARAT-941LW"]
    config = replace(lora_edge(tmp_path, building, nats.url, nats.mqtt_port, downlink_timeout_s=20.0), site=SITE)

    registry = Registry(tmp_path / "registry.db")
    company = seed_company(registry, "УК Реле", "Казань", cloud_data.USERS)
    building_id = seed_building(registry, company, BuildingSeed(
        site=SITE, address="ул. Релейная, 1", city="Казань", time_zone=building.scenario.building.time_zone,
        heat_meter_serial="307R0001", heat_meter_model="KARAT-307",
        heat_meter_communicator="Modbus TCP 127.0.0.1:5020 #1", premises=()))
    with registry.connect() as db:
        premise_id = db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents) "
                                "VALUES (?, '1', 'apartment', 50.0, 2)", (building_id,)).lastrowid
        support_power.add_meter(db, company, building_id, premise_id, device.serial, device.dev_eui.upper())
        city_id = db.execute("SELECT city_id FROM buildings WHERE id = ?", (building_id,)).fetchone()[0]
    services = Services.create(registry, clickhouse)  # the real clock: the edge judges expiry by it
    disp = (await services.auth.login("disp", "disp-pass")).token
    await services.power.set_city_threshold(disp, city_id, THRESHOLD_W)

    def passports() -> list[dict]:
        return [e["detail"] for e in agent.buffer.events(limit=50, kind="passport") if e["meter"] == device.serial]

    async with cloud(services, nats.url, clickhouse), edge_and_building(config, building) as agent:
        await until(lambda: agent.buffer.db.execute("SELECT count(*) FROM archive WHERE meter = ?",
                                                    [device.serial]).fetchone()[0] > 0, 30, "the 941LW's uplinks")
        assert device.relay_state() == (RelayMode.ON, 0)
        started = await services.power.start(disp, premise_id, "debt", debt_amount=4200.0)
        assert started.threshold_w == THRESHOLD_W

        async def state(wanted: str) -> bool:
            current = await services.power.get(disp, started.id)
            assert current.state not in ("failed", "timed_out", "lift_failed", "lift_timed_out"), current
            return current.state == wanted

        await until(lambda: state("limited"), 60, "the limitation confirmed by the device")
        assert device.relay_state() == (RelayMode.LIMIT, THRESHOLD_W)
        command = await services.commands.get(disp, started.command_id)
        assert command.result == {"mode": "limit", "threshold_w": THRESHOLD_W}
        # the uplink after the switch, the device's passport, carries the relay's mode and threshold
        await until(lambda: any(p["relay"] == RelayMode.LIMIT for p in passports()), 20, "a passport in LIMIT")
        assert passports()[0]["threshold_w"] == THRESHOLD_W

        await services.power.lift(disp, started.id)
        await until(lambda: state("lifted"), 60, "the lift confirmed by the device")
        assert device.relay_state() == (RelayMode.ON, 0)
        await until(lambda: passports()[0]["relay"] == RelayMode.ON, 20, "a passport with the relay ON again")
        assert passports()[0]["threshold_w"] == 0
        (row,) = await services.power.premises(disp)
        assert (row.limitation, row.may_start) == (None, True)
