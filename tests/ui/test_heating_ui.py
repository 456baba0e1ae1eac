"""The pages of the heating season (4.5.7), the building's temperature schedule (4.6.8) and its
control (4.2.5) as a user sees them (NiceGUI's simulated user over the real services, registry and
chDB; data of tests/support_heating.py): violations marked red, the outdoor series hidden on the
chart, nothing outside the heating season, seasons set, refused in Russian and undone, a group
change, the schedule grey then black then grey again; readers read-only, administrators refused."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_heating
from tests.ui.conftest import login as ui_login

CONTROL = "/monitoring/temperature?building={b}&period=2026-01-01&granularity=day"


async def _login(user: User, login: str, password: str) -> None:
    await ui_login(user, login, password)
    await user.should_see("Мониторинг")


@pytest.fixture
def temperatures(seeded: cloud_data.Seeded, ui_registry: Registry, clickhouse: ClickHouse) -> cloud_data.Seeded:
    support_heating.seed_temperatures(ui_registry, clickhouse, seeded)
    return seeded


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_control_marks_violations_and_hides_the_outdoor_series(temperatures, ui_registry: Registry,
                                                                     user: User) -> None:
    b = temperatures.building_id
    support_heating.set_heating(ui_registry, b)
    await _login(user, "disp", "disp-pass")
    await user.open(CONTROL.format(b=b))
    await user.should_see("Контроль температурного графика по объекту")
    await user.should_see("Нарушений: 2")
    # 01-10: return +5.05 % in red, supply +2.90 % not; 01-11: supply +3.42 % in red, return -15.3 % not
    await user.should_see(marker="heating-return-2026-01-10T00-bad")
    await user.should_see(marker="heating-supply-2026-01-10T00")
    await user.should_see(marker="heating-supply-2026-01-11T00-bad")
    await user.should_see(marker="heating-return-2026-01-11T00")
    await user.should_not_see(marker="heating-return-2026-01-11T00-bad")
    await user.should_see("60,5")  # the supply mean of 01-11
    await user.should_see("62,0*")  # 01-12: a mean of 23 hours, marked and not judged
    await user.should_see("Казань, Опорная")
    chart = user.find(marker="heating-chart").elements.pop()
    assert isinstance(chart, ui.echart)
    assert chart.options["legend"]["selected"] == {"Т нв": False}  # outdoor hidden until switched on

    toggle = user.find(marker="heating-view").elements.pop()
    assert isinstance(toggle, ui.toggle)
    assert user.client is not None
    with user.client:  # the simulated user's click does not reach a toggle's options
        toggle.value = "hour"
    await user.should_see("нарушения по часам не определяются")
    await user.should_not_see("Нарушений: 2")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_control_says_nothing_outside_the_heating_season(temperatures, ui_registry: Registry,
                                                               user: User) -> None:
    await _login(user, "reader", "reader-pass")
    await user.open(CONTROL.format(b=temperatures.building_id))
    await user.should_see("только в отопительный период")
    await user.should_see(marker="heating-season-link")
    await user.should_not_see(marker="heating-chart")
    apartment_meter = ui_registry.one("SELECT id FROM meters WHERE serial = '223T0001'")["id"]  # not a building meter
    await user.open(CONTROL.format(b=temperatures.building_id) + f"&meter={apartment_meter}")
    await user.should_see("Неверный параметр «meter»")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_sets_refuses_and_undoes_a_season(temperatures, ui_registry: Registry,
                                                           user: User) -> None:
    b = temperatures.building_id
    await _login(user, "disp", "disp-pass")
    await user.open("/service/season")
    await user.should_see("ул. Тестовая, 1")
    await user.should_see(marker=f"season-icon-{b}-heating")  # not set: both icons grey
    await user.should_see(marker=f"season-icon-{b}-non_heating")
    await user.should_not_see("ул. Чужая, 2")

    user.find(marker=f"season-icon-{b}-heating").click()
    await user.should_see(marker="season-dialog")
    user.find(marker="season-start").clear().type("2026-01-20")
    user.find(marker="season-confirm").click()
    await user.should_see("позже текущей даты")  # the rule's refusal, in Russian
    user.find(marker="season-start").clear().type("2025-10-01")
    user.find(marker="season-confirm").click()
    await user.should_see("Сезон установлен: 1")
    await user.should_see(marker=f"season-icon-{b}-heating-on")
    await user.should_see("01.10.2025")
    await user.should_see("Диспетчер Тест")

    user.find(marker=f"season-history-{b}").click()
    await user.should_see("История установок сезона: ул. Тестовая, 1")

    user.find(marker=f"season-undo-{b}").click()
    await user.should_see(marker="season-undo-dialog")
    user.find(marker="season-undo-yes").click()
    await user.should_see("Установка сезона отменена")
    await user.should_not_see(marker=f"season-icon-{b}-heating-on")
    assert ui_registry.one("SELECT undone_at FROM heating_seasons")["undone_at"] is not None


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_group_change_of_buildings_in_one_season(temperatures, ui_registry: Registry, user: User) -> None:
    from cloud.seed import BuildingSeed, seed_building
    b = temperatures.building_id
    second = seed_building(ui_registry, temperatures.company_id, BuildingSeed(
        site="test", address="ул. Тестовая, 3", city="Казань", time_zone=cloud_data.TZ, heat_meter_serial="307T0003",
        heat_meter_model="KARAT-307", heat_meter_communicator="Modbus TCP 127.0.0.1:5021 #1", premises=()))
    support_heating.set_heating(ui_registry, b)
    await _login(user, "disp", "disp-pass")
    await user.open("/service/season")
    await user.should_see("ул. Тестовая, 3")
    user.find(marker=f"season-check-{b}").click()
    user.find(marker=f"season-check-{second}").click()
    await user.should_see(marker="season-group-mixed")  # heating and not set: no group change
    user.find(marker=f"season-check-{b}").click()
    await user.should_see(marker="season-group-heating")
    user.find(marker="season-group-heating").click()
    user.find(marker="season-start").clear().type("2025-10-05")
    user.find(marker="season-confirm").click()
    await user.should_see("Сезон установлен: 1")
    await user.should_see(marker=f"season-icon-{second}-heating-on")

    # the filter: "not set" shows none of the two now; nothing chosen shows all, as all chosen does
    shown = user.find(marker="season-filter").elements.pop()
    assert isinstance(shown, ui.select)
    assert user.client is not None
    with user.client:
        shown.value = ["none"]
    await user.should_see("Нет объектов.")
    await user.should_not_see(marker=f"season-row-{b}")
    shown = user.find(marker="season-filter").elements.pop()  # the page was redrawn with the filter
    assert isinstance(shown, ui.select)
    with user.client:
        shown.value = []
    await user.should_see(marker=f"season-row-{b}")
    await user.should_see(marker=f"season-row-{second}")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_schedule_default_grey_own_black_and_revert(temperatures, user: User) -> None:
    b = temperatures.building_id
    await _login(user, "disp", "disp-pass")
    await user.open(f"/settings/buildings/{b}/temperature")
    await user.should_see("Температурный график объекта")
    await user.should_see(marker="settings-menu")
    await user.should_see(marker="schedule-default")
    await user.should_see(marker="schedule-supply-8-default")
    user.find(marker="schedule-edit").click()
    await user.should_see(marker="schedule-save")
    supply = user.find(marker="schedule-supply-8").elements.pop()
    assert isinstance(supply, ui.number)
    supply.value = 45.5
    back = user.find(marker="schedule-return-0").elements.pop()
    assert isinstance(back, ui.number)
    back.value = 60.0  # above the supply of 55: refused, in Russian
    user.find(marker="schedule-save").click()
    await user.should_see("температура обратки выше температуры подачи")
    back.value = 45.0
    user.find(marker="schedule-save").click()
    await user.should_see("График объекта сохранён")
    await user.should_see(marker="schedule-supply-8-own")
    await user.should_see("45,5")
    await user.should_see(marker="schedule-own")

    user.find(marker="schedule-reset").click()
    await user.should_see(marker="schedule-reset-dialog")
    user.find(marker="schedule-reset-yes").click()
    await user.should_see("Возвращён типовой график")
    await user.should_see(marker="schedule-supply-8-default")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_read_only_and_administrator_refused(temperatures, ui_registry: Registry, user: User) -> None:
    b = temperatures.building_id
    support_heating.set_heating(ui_registry, b, set_at=cloud_data.NOW.isoformat())  # made "today": undoable
    await _login(user, "reader", "reader-pass")
    await user.open("/service/season")
    await user.should_see(marker=f"season-icon-{b}-heating-on")
    await user.should_not_see(marker=f"season-check-{b}")
    await user.should_not_see(marker=f"season-undo-{b}")
    await user.open(f"/settings/buildings/{b}/temperature")
    await user.should_see(marker="schedule-read-only")
    await user.should_not_see(marker="schedule-edit")

    await user.open("/logout")
    await ui_login(user, "admin", "admin-pass")
    await user.should_see(marker="users-table")  # signed in: the administrator's home
    for path in ("/service/season", f"/settings/buildings/{b}/temperature", CONTROL.format(b=b)):
        await user.open(path)
        await user.should_see("Нет доступа")
