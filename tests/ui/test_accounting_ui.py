"""The accounting pages as a user sees them (NiceGUI's simulated user over the real services):
login, the building list of the own company only, and consumption figures that match what
ClickHouse holds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from tests import cloud_data
from tests.ui.conftest import login

NBSP = "\u00a0"


def _reading(clickhouse: ClickHouse, serial: str, local: datetime) -> float:
    at = local_to_utc(local, zone(cloud_data.TZ)).replace(tzinfo=None)
    rows = clickhouse.query_sync("SELECT value FROM {db}.archive FINAL WHERE meter = {m:String} AND parameter = 'Q' "
                                 "AND period_start = {t:DateTime}", {"m": serial, "t": at})
    return rows[0][0]


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_sees_building_figures_from_clickhouse(seeded, user: User, clickhouse: ClickHouse) -> None:
    await user.open("/")
    await user.should_see("Логин")  # not logged in: sent to the login page
    await login(user, "disp", "wrong")
    await user.should_see("Неверный логин или пароль")
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.should_not_see("ул. Чужая, 2")

    await user.open(f"/buildings/{seeded.building_id}?resource=heat&granularity=day&period=2026-01-01")
    await user.should_see("Потребление ресурса по объекту")
    table = user.find(marker="consumption-table").elements.pop()
    assert isinstance(table, ui.table)
    rows = {r["key"][:10]: r for r in table.rows}
    # Jan 11 from ClickHouse: the building meter's readings at the ends of Jan 10 and Jan 11
    expected = _reading(clickhouse, "307T0001", datetime(2026, 1, 11, 23)) - _reading(
        clickhouse, "307T0001", datetime(2026, 1, 10, 23))
    assert rows["2026-01-11"]["building"] == f"{expected:.3f}".replace(".", ",")
    apt1 = _reading(clickhouse, "223T0001", datetime(2026, 1, 11, 23)) - _reading(
        clickhouse, "223T0001", datetime(2026, 1, 10, 23))
    assert rows["2026-01-11"]["apartments"] == f"{apt1:.3f}*".replace(".", ",")  # apartment 2 is missing
    assert rows["2026-01-11"]["imbalance"] == "–*"
    assert rows["2026-01-10"]["building"] == "–*"  # no opening reading: shown missing, not invented

    await user.open(f"/buildings/{seeded.other_building_id}")
    await user.should_see("Объект не найден или недоступен.")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_meter_archive_table_shows_device_values(seeded, user: User, clickhouse: ClickHouse) -> None:
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")
    meter_id = Registry(Path(_registry_path())).one("SELECT id FROM meters WHERE serial = '223T0002'")["id"]
    await user.open(f"/meters/{meter_id}?granularity=hour&period=2026-01-11")
    await user.should_see("Измерения (архивы) прибора учёта")
    table = user.find(marker="archive-table").elements.pop()
    assert isinstance(table, ui.table)
    cells = [row for row in table.rows if row]
    assert len(cells) == 24
    first = _reading(clickhouse, "223T0002", datetime(2026, 1, 11, 0))
    assert any(f"{first:.3f}".replace(".", ",") in str(v) for v in cells[0].values())
    assert any(v == "–*" for v in cells[23].values())  # the missing hour stays missing


def _registry_path() -> str:
    import os
    return os.environ["DU_TEST_REGISTRY"]
