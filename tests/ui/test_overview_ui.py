"""The first page of «Учёт» (manual 4.1.1) and the settings page «Небаланс» (4.6.10) as a user
sees them (NiceGUI's simulated user over the real services, registry and chDB): the city's
buildings with hand-computed specific consumption and imbalance, the marks of missing data, the
links to each building; the allowed imbalance edited singly and in bulk, defaults grey and
overrides black, reverted; readers read only, administrators get nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests.cloud_data import Seeded
from tests.support_overview import seed_extra
from tests.ui.conftest import login

URL = "/?resource=heat&granularity=day&period=2026-01-11"


def _registry() -> Registry:
    return Registry(Path(os.environ["DU_TEST_REGISTRY"]))


def _text(user: User, marker: str) -> str:
    (element,) = user.find(marker=marker).elements
    assert isinstance(element, ui.label)
    return element.text


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_compares_buildings(seeded: Seeded, user: User, clickhouse: ClickHouse) -> None:
    extra = seed_extra(_registry(), clickhouse, seeded.company_id)
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")  # the first page lists the city's buildings
    await user.open(URL)
    await user.should_see("Удельное потребление ресурса и баланс в разрезе объектов")
    await user.should_see(marker=f"building-{seeded.building_id}")
    await user.should_see(marker=f"building-{extra.balance_id}")
    await user.should_not_see("ул. Чужая, 2")
    # 0.84 Gcal over 120 m²; 1.2 over 200; no building meter: 0.72 over the 120 m² of metered premises
    assert _text(user, f"specific-{seeded.building_id}") == "0,0070"
    assert _text(user, f"specific-{extra.balance_id}") == "0,0060"
    assert _text(user, f"specific-{extra.apartments_id}") == "0,0060"
    # imbalance 0.6 of 1.2 Gcal = 50 %, above the default 10 %; the seeded building's apartments are
    # incomplete (–*); no building meter: not applicable
    assert _text(user, f"imbalance-{extra.balance_id}") == "50,0"
    assert _text(user, f"imbalance-{seeded.building_id}") == "–*"
    assert _text(user, f"imbalance-{extra.apartments_id}") == "—"
    await user.should_see(marker="specific-chart")
    await user.should_see(marker="imbalance-chart")
    await user.should_see("Небаланс (%)")

    # Jan 12: the building meter of "Балансовая" and premise 2 of "Квартирная" lack a reading
    await user.open("/?resource=heat&granularity=day&period=2026-01-12")
    await user.should_see(marker=f"specific-{extra.balance_id}")
    assert _text(user, f"specific-{extra.balance_id}") == "–*"
    assert _text(user, f"specific-{extra.apartments_id}") == "0,0020*"  # the known part, marked

    # a day after the newest data: «нет данных», never a zero or a blank chart
    await user.open("/?resource=heat&granularity=day&period=2026-01-13")
    await user.should_see("Нет данных за выбранный период.")
    assert _text(user, f"specific-{extra.balance_id}") == "нет данных"

    # the address opens the building's page (4.1.2) on the same resource and day
    await user.open(URL)
    await user.should_see(marker=f"address-{extra.balance_id}")
    user.find(marker=f"address-{extra.balance_id}").click()
    await user.should_see("Потребление ресурса по объекту")
    await user.should_see("ул. Балансовая, 3")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_switching_resource_and_month(seeded: Seeded, user: User, clickhouse: ClickHouse) -> None:
    extra = seed_extra(_registry(), clickhouse, seeded.company_id)
    await login(user, "reader", "reader-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open(URL)
    await user.should_see(marker=f"specific-{extra.apartments_id}")
    user.find(marker="overview-resource").elements.pop().set_value("cold_water")
    # cold water: 0.72 m³ over the 5 residents of the metered premises = 0.144 per resident
    await user.should_see("Удельное, м³/чел.")
    assert _text(user, f"specific-{extra.apartments_id}") == "0,1440"
    user.find(marker="overview-kind").elements.pop().set_value("month")
    await user.should_see("Январь 2026")
    assert _text(user, f"specific-{extra.apartments_id}") == "–*"  # no reading at the end of December


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_gets_neither_page(seeded: Seeded, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see("Пользователи компании")
    await user.open("/")
    await user.should_see("Пользователи компании")  # sent to their own page
    await user.open("/settings/imbalance")
    await user.should_see("Этот раздел недоступен для вашей роли.")


def _classes(user: User, marker: str) -> list[str]:
    (element,) = user.find(marker=marker).elements
    return element.classes


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_edits_allowed_imbalance(seeded: Seeded, user: User, clickhouse: ClickHouse) -> None:
    extra = seed_extra(_registry(), clickhouse, seeded.company_id)
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open("/settings/imbalance")
    await user.should_see("Допустимый небаланс по объектам")
    cell = f"limit-{extra.balance_id}-heat"
    await user.should_see(marker=cell)
    assert "text-[#9aa5b1]" in _classes(user, cell)  # the default: grey

    # one cell: click, type, ✓ - black now, and the 4.1.1 page follows it
    user.find(marker=cell).click()
    await user.should_see(marker="limits-editor-value")
    user.find(marker="limits-editor-value").clear().type("150")
    user.find(marker="limits-editor-save").click()
    await user.should_see("Введите число от 0 до 100.")  # refused in Russian, nothing saved
    user.find(marker="limits-editor-value").clear().type("60,5")
    user.find(marker="limits-editor-save").click()
    await user.should_see("Сохранено: 1")
    await user.should_see(marker=cell, content="60,5")
    assert "font-semibold" in _classes(user, cell)
    assert _registry().one("SELECT percent FROM building_imbalance_limits WHERE building_id = ?",
                           extra.balance_id)["percent"] == 60.5

    # the city's default for heat: 20 %, shown black in the defaults and grey in the buildings following it
    user.find(marker="limit-default-heat").click()
    await user.should_see(marker="limits-editor-value")
    user.find(marker="limits-editor-value").clear().type("20")
    user.find(marker="limits-editor-save").click()
    await user.should_see(marker=f"limit-{extra.apartments_id}-heat", content="20,0")
    assert "text-[#9aa5b1]" in _classes(user, f"limit-{extra.apartments_id}-heat")

    # bulk: two buildings selected, one value for both after a confirmation
    user.find(marker=f"limit-select-{seeded.building_id}").elements.pop().set_value(True)
    user.find(marker=f"limit-select-{extra.apartments_id}").elements.pop().set_value(True)
    await user.should_see("Выбрано объектов: 2")
    user.find(marker="limits-bulk-value").elements.pop().set_value(7.5)
    user.find(marker="limits-bulk-apply").click()
    await user.should_see("Установить допустимый небаланс 7,5 % (Отопление) для объектов: 2?")
    user.find(marker="limits-confirm-yes").click()
    await user.should_see("Сохранено: 2")
    await user.should_see(marker=f"limit-{seeded.building_id}-heat", content="7,5")
    await user.should_see(marker=f"limit-{extra.apartments_id}-heat", content="7,5")

    # back to the default for one cell: grey again, the city's 20 %
    user.find(marker=cell).click()
    await user.should_see(marker="limits-editor-revert")
    user.find(marker="limits-editor-revert").click()
    await user.should_see(marker=cell, content="20,0")
    assert "text-[#9aa5b1]" in _classes(user, cell)

    # 4.1.1 shows each building's allowed imbalance: "Балансовая" 50 % is above the city's 20 %
    await user.open(URL)
    await user.should_see(marker=f"imbalance-{extra.balance_id}")
    assert "du-over" in _classes(user, f"imbalance-{extra.balance_id}")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_sees_limits_read_only(seeded: Seeded, user: User) -> None:
    await login(user, "reader", "reader-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open("/settings/imbalance")
    await user.should_see("Только просмотр: менять допустимый небаланс может диспетчер.")
    await user.should_see(marker=f"limit-{seeded.building_id}-heat", content="10,0")
    (cell,) = user.find(marker=f"limit-{seeded.building_id}-heat").elements
    assert isinstance(cell, ui.label)  # no button to click
    await user.should_not_see(marker="limits-bulk")
    await user.should_not_see(marker=f"limit-select-{seeded.building_id}")
    assert not user.find(marker="limit-default-heat").elements.pop().enabled
