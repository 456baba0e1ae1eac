"""The data-arrival page (manual 4.2.3) and the meter page's command history as a user sees
them (NiceGUI's simulated user over the real services, registry and chDB): completeness per
meter from ClickHouse, the backfill button creating commands whose state is shown and updated,
readers without the button, another company's building not reachable."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.services.auth import AuthService
from cloud.services.commands import CommandService
from cloud.storage.registry import Registry
from protocol.wire import CommandResult
from tests.ui.conftest import login as ui_login

R = 100  # should_see retries (0.1 s apart): generous, the machine may be busy
URL = "/monitoring/data?kind=hour&period=2026-01-11&resource=heat"


async def _login(user: User, login: str, password: str) -> None:
    await ui_login(user, login, password)
    await user.should_see("Мониторинг", retries=R)


def _rows(user: User) -> dict[str, dict]:
    table = user.find(marker="arrival-table").elements.pop()
    assert isinstance(table, ui.table)
    return {row["serial"]: row for row in table.rows}


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_sees_completeness_and_requests_backfill(seeded, user: User) -> None:
    await _login(user, "disp", "disp-pass")
    await user.open(URL)
    await user.should_see("Контроль поступления данных учёта ресурса", retries=R)
    rows = _rows(user)
    assert (rows["223T0002"]["received"], rows["223T0002"]["missing"], rows["223T0002"]["pct"]) == ("23 / 24", 1,
                                                                                                  "95,8")
    assert (rows["307T0001"]["received"], rows["307T0001"]["pct"]) == ("24 / 24", "100,0")
    assert rows["223T0002"]["backfill"] == ""
    await user.should_see(marker="arrival-grid", retries=R)

    user.find(marker="arrival-backfill").click()
    await user.should_see("Отправлено запросов: 1", retries=R)
    await user.should_see("ожидает отправки", retries=R)  # no bus in this test: the command waits in "created"
    assert _rows(user)["223T0002"]["backfill"] == "ожидает отправки"

    # the edge answers: the page shows the new state without a reload
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    commands = CommandService(registry, AuthService(registry))
    (command_id,) = [r["id"] for r in registry.all("SELECT id FROM commands")]
    commands.apply_results("test", [CommandResult(command_id, "done", datetime.now(UTC).timestamp(),
                                                  {"records": 1, "lost": 0})])
    await user.should_see("выполнена", retries=R)
    assert _rows(user)["223T0002"]["backfill"] == "выполнена"

    # the meter page lists the meter's commands
    meter_id = registry.one("SELECT id FROM meters WHERE serial = '223T0002'")["id"]
    await user.open(f"/meters/{meter_id}?granularity=hour&period=2026-01-11")
    await user.should_see("Команды прибору", retries=R)
    await user.should_see("Дочитать архивы", retries=R)
    await user.should_see("records: 1", retries=R)


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_without_button_and_other_company_not_reachable(seeded, user: User) -> None:
    await _login(user, "reader", "reader-pass")
    await user.open(URL)
    await user.should_see("Контроль поступления данных учёта ресурса", retries=R)
    assert _rows(user)["223T0002"]["pct"] == "95,8"
    await user.should_not_see(marker="arrival-backfill")
    await user.open(f"/monitoring/data?building={seeded.other_building_id}")
    await user.should_see("Неверный параметр «building»", retries=R)
    await user.should_not_see("ул. Чужая, 2")
