"""NiceGUI main file for the commissioning end-to-end test (tests/ui/test_commission_e2e.py): the real
service layer over the test's registry and chDB database, on the REAL clock (the simulated devices and
the edge live in the present), with the cloud process's command jobs on NiceGUI's own loop: the
CommandBus publishing commands to the edge and an Ingest storing its batches and applying command
results, so the procedure's automatic operations move as the edge answers. The DU_TEST_* variables
the test sets name the registry, the database and the NATS server."""

import asyncio
import os
from pathlib import Path

from nicegui import app, ui

import ui as pages
from cloud.command_bus import CommandBus
from cloud.ingest import Ingest
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

clickhouse = ClickHouse(os.environ["DU_TEST_CHDB_DSN"], os.environ["DU_TEST_CHDB_DATABASE"])
clickhouse.open_sync()
registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
services = Services.create(registry, clickhouse)
nats_url = os.environ["DU_TEST_NATS_URL"]
stop = asyncio.Event()
jobs: list[asyncio.Task] = []


async def start_jobs() -> None:
    """The cloud process's command jobs, as in cloud_side of tests/integration/test_procedures_edge.py."""
    stop.clear()
    bus = CommandBus(nats_url, services.commands, interval_s=0.2)
    ingest = Ingest(nats_url, clickhouse, known_meters=registry.meter_serials_by_site,
                    companies=registry.company_by_site, name="commission-e2e",
                    on_results=services.commands.apply_results)
    jobs.extend((asyncio.create_task(bus.run(stop)), asyncio.create_task(ingest.run(stop))))


async def stop_jobs() -> None:
    stop.set()
    await asyncio.gather(*jobs)
    jobs.clear()
    clickhouse.close_sync()


app.on_startup(start_jobs)
app.on_shutdown(stop_jobs)
pages.register(services)
ui.run(storage_secret="ui-test-secret")  # noqa: S106 - a test-only secret
