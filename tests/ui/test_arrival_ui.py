"""The data-arrival page (manual 4.2.3) and the meter page's command history as a user sees
them (NiceGUI's simulated user over the real services, registry and chDB): completeness per
meter from ClickHouse, the backfill button creating commands whose state is shown and updated,
readers without the button, another company's building not reachable."""

from __future__ import annotations

import json
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


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_page_survives_an_absurd_backfill_and_out_of_range_parameters(seeded, user: User) -> None:
    """Issue 12: a backfill stored before the bounds (from=1e15) took «Мониторинг → Данные» down for
    the whole company (500); a period of 9999 or an odd building id must be a named bad parameter."""
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    meter = registry.one("SELECT m.id, b.site, m.company_id FROM meters m JOIN buildings b ON b.id = m.building_id "
                         "WHERE m.serial = '223T0002'")
    disp = registry.one("SELECT id FROM users WHERE login = 'disp'")
    now = datetime.now(UTC)
    args = {"kind": "hour", "from": 10**15, "to": 10**15 + 3600, "meter": "223T0002"}
    with registry.connect() as db:  # as CommandService.issue stores a command
        db.execute("INSERT INTO commands (id, company_id, site, meter_id, type, args, state, created_by, created_at, "
                   "expires_at) VALUES ('absurd', ?, ?, ?, 'backfill', ?, 'created', ?, ?, ?)",
                   (meter["company_id"], meter["site"], meter["id"], json.dumps(args, sort_keys=True), disp["id"],
                    now.isoformat(timespec="microseconds"),
                    now.replace(year=now.year + 1).isoformat(timespec="microseconds")))
    CommandService(registry, AuthService(registry)).apply_results(
        meter["site"], [CommandResult("absurd", "done", now.timestamp(), {"records": 0, "lost": 2})])
    await _login(user, "disp", "disp-pass")
    await user.open(URL)
    await user.should_see("Контроль поступления данных учёта ресурса", retries=R)
    await user.should_see(f"{10**15} – {10**15 + 3600}", retries=R)  # the raw bounds, not a crash
    await user.should_see("lost: 2", retries=R)
    for query, name in (("kind=hour&period=9999-12-31", "period"), ("kind=month&period=1900-01-01", "period"),
                        ("building=%C2%B2", "building"), ("building=99999999999999999999", "building")):
        await user.open(f"/monitoring/data?{query}")
        await user.should_see(f"Неверный параметр «{name}»", retries=R)
    await user.open(f"/meters/{meter['id']}?granularity=month&period=9999-12-31&channel=99999999999999999999")
    await user.should_see("Неверный параметр «period»", retries=R)
    await user.should_see("Неверный параметр «channel»", retries=R)
    await user.open(f"/buildings/{seeded.building_id}?granularity=day&period=0001-01-01")
    await user.should_see("Неверный параметр «period»", retries=R)
    await user.open("/buildings/99999999999999999999")
    await user.should_see("Не найдено", retries=R)
