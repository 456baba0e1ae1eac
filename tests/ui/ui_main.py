"""NiceGUI main file for the simulated-user UI tests: the real service layer over the test's
registry and chDB database, named by environment variables the test sets."""

import os
from pathlib import Path

from nicegui import app, ui

import ui as pages
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests.cloud_data import NOW

clickhouse = ClickHouse(os.environ["DU_TEST_CHDB_DSN"], os.environ["DU_TEST_CHDB_DATABASE"])
clickhouse.open_sync()
app.on_shutdown(clickhouse.close_sync)
services = Services.create(Registry(Path(os.environ["DU_TEST_REGISTRY"])), clickhouse)
services.set_clock(lambda: NOW)  # the seeded January days are "today": within the archive depth, etc.
pages.register(services)
ui.run(storage_secret="ui-test-secret")  # noqa: S106 - a test-only secret
