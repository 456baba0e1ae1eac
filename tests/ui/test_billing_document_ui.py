"""The page «Документ для биллинга» (manual 4.4.1) and the numbers in ГИС ЖКХ on «Интеграция с биллинговыми
компаниями» as a user sees them (NiceGUI's simulated user over the real services, registry and chDB;
data of tests/support_billing_document.py): the document made in the background, its summary and file;
a month not begun refused in Russian; administrators refused; a number set, refused as a duplicate,
cleared and imported from lines; readers read only.

Until the lead wires ``services.gis_numbers`` into the container, the fixture adds it to the services
tests/ui/ui_main.py builds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_download import UserDownload
from openpyxl import load_workbook

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests import support_billing_document as support
from tests.ui.conftest import login as ui_login

MAIN = pytest.mark.nicegui_main_file("tests/ui/ui_main.py")


@pytest.fixture(autouse=True)
def wiring(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str | None]]:
    """Downloads recorded, not sent to a browser."""
    downloads: list[tuple[Path, str | None]] = []

    def record(self: UserDownload, src: Any, filename: str | None = None, media_type: str = "") -> None:
        downloads.append((Path(src), filename))
    monkeypatch.setattr(UserDownload, "__call__", record)
    return downloads


@pytest.fixture
def billing(seeded: cloud_data.Seeded, ui_registry: Registry, clickhouse: ClickHouse) -> cloud_data.Seeded:
    support.billing_world(ui_registry, clickhouse, seeded)
    return seeded


async def _open(user: User, path: str, login: str = "disp") -> None:
    await ui_login(user, login, cloud_data.PASSWORDS[login])
    await user.should_see(marker="logout")
    await user.open(path)


def _set(user: User, marker: str, value: Any) -> None:
    """Choose in a select (the simulated user's click does not reach its options)."""
    element = next(iter(user.find(marker=marker).elements))
    assert isinstance(element, ui.select | ui.input)
    assert user.client is not None
    with user.client:
        element.value = value


async def _eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "it did not happen"
        await asyncio.sleep(0.05)


@MAIN
async def test_the_document_is_made_summarised_and_downloaded(billing, user: User, wiring) -> None:
    await _open(user, "/billing")
    await user.should_see("Документ для биллинга")
    await user.should_see("Все объекты компании")
    await user.should_see("Декабрь")  # last month of the clock (2026-01-14) is the default
    user.find(marker="billdoc-start").click()
    await user.should_see(marker="billdoc-download")
    await user.should_see("billing_document_2025-12.xlsx")
    # the summary: 3 rows of ИПУ (кв. 1 heat and cold water, кв. 4), 1 ОДПУ, 4 errors, the first of them
    await user.should_see(marker="billdoc-summary")
    counts = {m: next(iter(user.find(marker=f"billdoc-count-{m}").elements)).text for m in ("ipu", "odpu", "errors")}
    assert counts == {"ipu": "3", "odpu": "1", "errors": "4"}
    await user.should_see("223T0002 · ул. Тестовая, 1, кв. 2")
    await user.should_see("нет номера прибора учёта в ГИС ЖКХ")
    user.find(marker="billdoc-download").click()
    await _eventually(lambda: len(wiring) == 1)
    path, name = wiring[0]
    assert name == "billing_document_2025-12.xlsx"
    assert load_workbook(path).sheetnames == ["Импорт показаний ИПУ", "Импорт показаний ОДПУ", "Ошибки"]


@MAIN
async def test_a_month_not_begun_and_one_building(billing, user: User) -> None:
    await _open(user, "/billing", login="reader")  # a reader makes documents too
    _set(user, "billdoc-month-month", 3)
    _set(user, "billdoc-month-year", 2026)
    user.find(marker="billdoc-start").click()
    await user.should_see("Месяц ещё не начался")
    _set(user, "billdoc-month-year", 2025)
    _set(user, "billdoc-building", billing.building_id)
    user.find(marker="billdoc-start").click()
    await user.should_see(marker="billdoc-download")
    await user.should_see(f"billing_document_{billing.building_id}_2025-03.xlsx")
    await user.should_not_see("Месяц ещё не начался")


@MAIN
async def test_administrators_are_refused(billing, user: User) -> None:
    await _open(user, "/billing", login="admin")
    await user.should_see("Нет доступа")
    await user.should_not_see(marker="billdoc-start")


@MAIN
async def test_numbers_in_gis_are_edited_on_the_settings_page(billing, ui_registry: Registry, user: User) -> None:
    b = billing.building_id
    await _open(user, f"/settings/billing?building={b}")
    await user.should_see("Номера приборов учёта в ГИС ЖКХ")
    await user.should_see(marker="gis-number-223T0001")
    await user.should_see("ГИС-1")
    # 223T0003 has none: set one
    user.find(marker="gis-edit-223T0003").click()
    await user.should_see(marker="gis-input-223T0003")
    user.find(marker="gis-input-223T0003").clear().type("ГИС-1")
    user.find(marker="gis-save-223T0003").click()
    await user.should_see("номер «ГИС-1» уже у прибора 223T0001")
    user.find(marker="gis-input-223T0003").clear().type("ГИС-3")
    user.find(marker="gis-save-223T0003").click()
    await user.should_see(marker="gis-clear-223T0003")
    assert ui_registry.one("SELECT gis_number FROM meters WHERE serial = '223T0003'")["gis_number"] == "ГИС-3"
    # cleared after a confirmation
    user.find(marker="gis-clear-223T0005").click()
    user.find(marker="gis-clear-yes").click()
    await user.should_not_see(marker="gis-clear-223T0005")
    assert ui_registry.one("SELECT gis_number FROM meters WHERE serial = '223T0005'")["gis_number"] == ""
    # imported from lines: one bad line changes nothing
    user.find(marker="gis-import").click()
    _set(user, "gis-import-text", "223T0005;ГИС-5Н\n999X;1\n")
    user.find(marker="gis-import-apply").click()
    await user.should_see("строка 2: в объекте нет прибора 999X")
    assert ui_registry.one("SELECT gis_number FROM meters WHERE serial = '223T0005'")["gis_number"] == ""
    _set(user, "gis-import-text", "223T0005;ГИС-5Н\n223T0006\tГИС-6\n")
    user.find(marker="gis-import-apply").click()
    await user.should_see("изменено 1, без изменений 1")
    assert ui_registry.one("SELECT gis_number FROM meters WHERE serial = '223T0005'")["gis_number"] == "ГИС-5Н"


@MAIN
async def test_readers_read_the_numbers_only(billing, user: User) -> None:
    await _open(user, f"/settings/billing?building={billing.building_id}", login="reader")
    await user.should_see(marker="gis-number-941T0001")
    await user.should_see("ГИС-Э")
    await user.should_not_see(marker="gis-edit-941T0001")
    await user.should_not_see(marker="gis-import")
