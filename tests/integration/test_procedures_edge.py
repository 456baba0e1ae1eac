"""A verification end to end (manual 4.5.5): the cloud's services, command bus and ingest, a real
nats-server, an edge agent and a simulated KARAT-307 on a real pymodbus server. Taking the meter
out of service pushes the site's meter list without it and the edge stops polling it; the
commissioning pushes it back from the actual date, and the availability test, the passport
check and the time-service enrolment run on the device through the edge, each moving the
procedure when its result comes back through the ingest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from cloud.command_bus import CommandBus
from cloud.ingest import Ingest
from cloud.seed import BuildingSeed, UserSeed, seed_building, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from protocol.periods import zone
from tests.chaos.edge_support import SERIAL, UNIT, edge_config, hours, meter_config, modbus_device, until

SITE = "proc-e2e"
TZ = "Europe/Moscow"


@contextlib.asynccontextmanager
async def cloud_side(registry: Registry, clickhouse: ClickHouse, services: Services, url: str) -> AsyncIterator[None]:
    """The cloud process's jobs for commands: the bus publishing them, an ingest applying the results."""
    stop = asyncio.Event()
    bus = CommandBus(url, services.commands, interval_s=0.2)
    ingest = Ingest(url, clickhouse, known_meters=registry.meter_serials_by_site, companies=registry.company_by_site,
                    name="proc", on_results=services.commands.apply_results)
    tasks = [asyncio.create_task(bus.run(stop)), asyncio.create_task(ingest.run(stop))]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


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


async def test_verification_through_the_edge(nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    commissioned = now.replace(minute=0, second=0, microsecond=0) - hours(48)
    async with modbus_device(commissioned, now, speed=1.0) as dev:
        registry = Registry(tmp_path / "registry.db")
        company = seed_company(registry, "УК Тест", "Казань", (UserSeed("eng", "Инженер", "engineer", "eng-pass"),))
        seed_building(registry, company, BuildingSeed(
            site=SITE, address="ул. Сервисная, 1", city="Казань", time_zone=TZ, heat_meter_serial=SERIAL,
            heat_meter_model="KARAT-307", heat_meter_communicator=f"Modbus TCP 127.0.0.1:{dev.port} #{UNIT}",
            premises=()))
        meter_id = registry.one("SELECT id FROM meters WHERE serial = ?", SERIAL)["id"]
        services = Services.create(registry, clickhouse)
        eng = (await services.auth.login("eng", "eng-pass")).token
        p = services.procedures
        config = edge_config(tmp_path / "edge", [meter_config(dev)], site=SITE, nats_url=nats.url,
                             mqtt_port=nats.mqtt_port, time_zone=TZ)
        today = now.astimezone(zone(TZ)).date()
        async with cloud_side(registry, clickhouse, services, nats.url), running(config) as agent:
            assert agent.drivers.driver(SERIAL) is not None
            started = await p.start(eng, meter_id, "verification")
            await p.complete(eng, started.id, done_on=today, notes="снят на поверку")
            # the edge takes the list without the meter: it is no longer polled
            await until(lambda: agent.drivers.driver(SERIAL) is None, 30, "the edge to drop the meter")
            await p.complete(eng, started.id, done_on=today,
                             settings={"next_verification_on": today.replace(year=today.year + 4).isoformat(),
                                       "archive_kinds": ["hour"]})
            await until(lambda: agent.drivers.driver(SERIAL) is not None, 30, "the edge to poll the meter again")

            async def finished() -> bool:
                return (await p.procedure(eng, started.id)).state != "active"
            await until(finished, 60, "the automatic operations to run on the device")
            done = await p.procedure(eng, started.id)
            assert done.state == "completed", [(s.operation, s.state, s.notes) for s in done.steps]
            checks = {s.operation: s for s in done.steps}
            assert checks["availability_test"].notes.startswith("ПУ доступен, ответ за ")
            assert checks["passport_check"].notes.startswith("паспортные данные согласованы")
            assert checks["time_service"].state == "done"
            # the meter the edge polls again starts from the actual commissioning date (local midnight)
            entry = next(m for m in agent.config.meters if m.serial == SERIAL)
            midnight = datetime(today.year, today.month, today.day, tzinfo=zone(TZ)).astimezone(UTC)
            assert datetime.fromisoformat(entry.commissioned) == midnight
