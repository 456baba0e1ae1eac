"""The consumption register page (manual 4.1.5) as a user sees it, over the real services, registry
and chDB: the day's map with «–*» for a sole missing meter and «1,770*» for one of two, electricity
tariffs in their own columns, switching to the month, «нет данных» for an empty period, the
building's horizontal menu, readers allowed, administrators refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import support_register as sr
from tests.ui.conftest import login

URL = "/buildings/{id}/register?granularity=day&period=2026-01-11"


def _table(user: User) -> dict[str, dict]:
    table = user.find(marker="register-table").elements.pop()
    assert isinstance(table, ui.table)
    return {row["premise"]: row for row in table.rows}


def _column(user: User, title: str) -> str:
    table = user.find(marker="register-table").elements.pop()
    assert isinstance(table, ui.table)
    return next(c["name"] for c in table.columns if c["label"] == title)


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_sees_the_days_map(seeded, clickhouse: ClickHouse, user: User) -> None:
    sr.register_rows(Registry(Path(os.environ["DU_TEST_REGISTRY"])), clickhouse, seeded)
    await login(user, "disp", "disp-pass")
    await user.should_see("Объекты")
    await user.open(URL.format(id=seeded.building_id))
    await user.should_see("Реестр потребления ресурсов на объекте")
    await user.should_see(marker="register-table")
    await user.should_see(marker="building-menu")
    heat = _column(user, "Отопление, Гкал")
    rows = _table(user)
    assert rows["ОДПУ (общедомовые)"][heat] == "0,840"  # 200.84 - 200.0
    assert rows["кв. 1"][heat] == "0,250"  # 50.25 - 50.0, from the daily archive
    assert rows["кв. 2"][heat] == "–*"  # its sole meter lacks the Jan 11 record
    assert rows["кв. 3"][heat] == "1,770*"  # one of its two meters: 11.77 - 10.0
    assert rows["кв. 4"][heat] == "—"  # no heat meter
    assert rows["Итого по помещениям"][heat] == "2,020*"  # 0.25 + 1.77 of four meters
    # electricity x CT 2: total 25.00, T1 16.00, T2 9.00, each its own column
    assert rows["кв. 4"][_column(user, "Электроэнергия, кВт·ч")] == "25,00"
    assert rows["кв. 4"][_column(user, "Электроэнергия T1 (день), кВт·ч")] == "16,00"
    assert rows["кв. 4"][_column(user, "Электроэнергия T2 (ночь), кВт·ч")] == "9,00"

    user.find(marker="register-granularity").elements.pop().set_value("month")
    await user.should_see("Январь 2026")
    rows = _table(user)
    assert rows["кв. 1"][heat] == "7,500"  # 47.5 - 40.0
    assert rows["кв. 2"][heat] == "6,200"  # its own reporting period, Jan 15 - Feb 15
    assert rows["ОДПУ (общедомовые)"][heat] == "26,040"  # derived from the day records: 176.04 - 150.0
    await user.should_see(marker="derived-note")
    await user.should_see("Период ещё не закончился")

    await user.open(f"/buildings/{seeded.building_id}/register?granularity=day&period=2025-06-01")
    await user.should_see("Нет данных за выбранный период.")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_reads_and_admin_is_refused(seeded, user: User) -> None:
    await login(user, "reader", "reader-pass")
    await user.should_see("Объекты")
    await user.open(URL.format(id=seeded.building_id))
    await user.should_see(marker="register-table")
    # derived from the hourly archive: apartment 2's closing hour of Jan 11 is missing
    assert _table(user)["кв. 2"][_column(user, "Отопление, Гкал")] == "–*"
    await user.open(URL.format(id=seeded.other_building_id))
    await user.should_see("Объект не найден или недоступен.")
    await user.open("/logout")
    await login(user, "admin", "admin-pass")
    await user.should_see("Пользователи")
    await user.open(URL.format(id=seeded.building_id))
    await user.should_see("Нет доступа")
