"""Settings «Объекты», «Объект», «Помещения», «Собственники» and «Биллинг» as people see them (NiceGUI's
simulated user over the real services, registry and chDB): the buildings' map and nearest station,
a building added with the construction-unfinished flag after the address register check refused it,
apartments added and removed by ranges, refusals shown next to the form, the inline edit, codes for
all premises and their print sheet, owners, personal accounts; readers and engineers read-only,
administrators refused."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.registry import Registry
from tests import cloud_data
from tests.ui.conftest import login as ui_login

PAGE = "/settings/buildings"


async def _login(user: User, login: str, password: str) -> None:
    await ui_login(user, login, password)
    await user.should_see(marker="nav-/tokens")


def _place(registry: Registry, building: int) -> None:
    """The building 0.01 degree north of the station: 1.1 km (6371 km * pi / 180 * 0.01 = 1.11)."""
    with registry.connect() as db:
        db.execute("INSERT INTO weather_stations (code, name, latitude, longitude) VALUES "
                   "('kzn', 'Казань, Опорная', 55.79, 49.12)")
        db.execute("UPDATE buildings SET latitude = 55.80, longitude = 49.12 WHERE id = ?", (building,))


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_list_with_map_and_a_building_added(seeded: cloud_data.Seeded, ui_registry: Registry,
                                                  user: User) -> None:
    b = seeded.building_id
    _place(ui_registry, b)
    await _login(user, "disp", "disp-pass")
    await user.open(PAGE)
    await user.should_see("ул. Тестовая, 1")
    await user.should_not_see("ул. Чужая, 2")
    await user.should_see(marker="objects-map")
    assert len(user.find(ui.leaflet).elements) == 1
    await user.should_see("Казань, Опорная, 1,1 км")
    for suffix in ("/info", "/premises", "/owners", "/balance", "/billing"):
        await user.should_see(marker=f"settings-{b}{suffix}")

    user.find(marker="objects-add").click()
    await user.should_see(marker="objects-add-dialog")
    user.find(marker="objects-add-address").type("Стройплощадка у леса")
    user.find(marker="objects-add-area").type("abc")
    user.find(marker="objects-add-save").click()
    await user.should_see("Площадь: введите число.")
    user.find(marker="objects-add-area").clear().type("2500")
    user.find(marker="objects-add-save").click()
    await user.should_see("Адрес: «Стройплощадка у леса» — не адрес из справочника адресов")  # next to the form
    user.find(marker="objects-add-unfinished").click()
    user.find(marker="objects-add-save").click()
    await user.should_see("Незавершённое строительство: адрес не проверяется")  # the new building's info page
    assert ui_registry.one("SELECT construction_unfinished FROM buildings WHERE address = "
                           "'Стройплощадка у леса'")[0] == 1


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_building_info_and_edit(seeded: cloud_data.Seeded, ui_registry: Registry, user: User) -> None:
    b = seeded.building_id
    _place(ui_registry, b)
    await _login(user, "disp", "disp-pass")
    await user.open(f"{PAGE}/{b}")  # the first settings page: «Объект»
    await user.should_see("Объект: ул. Тестовая, 1")
    await user.should_see("Многоквартирный дом")
    await user.should_see("Казань, Опорная, 1,1 км")
    await user.should_see(marker="objects-map")
    user.find(marker="objects-edit-lat").clear().type("95")
    user.find(marker="objects-edit-save").click()
    await user.should_see("Широта: от -90 до 90 градусов, указано 95")
    user.find(marker="objects-edit-lat").clear().type("55.81")
    user.find(marker="objects-edit-residents").clear().type("12")
    user.find(marker="objects-edit-save").click()
    await user.should_see("Сохранено")
    row = ui_registry.one("SELECT latitude, residents FROM buildings WHERE id = ?", b)
    assert (row["latitude"], row["residents"]) == (55.81, 12)


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_premises_by_ranges_inline_edit_and_codes(seeded: cloud_data.Seeded, ui_registry: Registry,
                                                        user: User) -> None:
    b = seeded.building_id
    await _login(user, "disp", "disp-pass")
    await user.open(f"{PAGE}/{b}/premises")
    await user.should_see(marker="objects-premise-1")
    user.find(marker="objects-range-numbers").type("3-5")
    user.find(marker="objects-range-area").type("40")
    user.find(marker="objects-range-add").click()
    await user.should_see("Добавлено помещений: 3")
    await user.should_see(marker="objects-premise-5")

    user.find(marker="objects-range-numbers").clear().type("1-2")
    user.find(marker="objects-range-remove").click()
    await user.should_see("Удалить квартиры 1-2?")  # asked first
    user.find(marker="objects-confirm-yes").click()
    await user.should_see("Номера помещений: ничего не удалено: квартиры с приборами учёта или собственниками не "
                          "удаляются: 1 (ПУ: 1), 2 (ПУ: 1)")  # refused next to the form
    user.find(marker="objects-range-numbers").clear().type("4-5")
    user.find(marker="objects-range-remove").click()
    await user.should_see(marker="objects-confirm")
    user.find(marker="objects-confirm-yes").click()
    await user.should_see("Удалено помещений: 2")
    await user.should_not_see(marker="objects-premise-5")

    user.find(marker="objects-edit-3").click()
    await user.should_see(marker="objects-area-3")
    user.find(marker="objects-area-3").clear().type("0")
    user.find(marker="objects-save-3").click()
    await user.should_see("Площадь: число квадратных метров больше нуля")
    user.find(marker="objects-area-3").clear().type("41,5")
    user.find(marker="objects-save-3").click()
    await user.should_see("Сохранено")
    await user.should_see("41,5")
    assert ui_registry.one("SELECT area_m2 FROM premises WHERE building_id = ? AND number = '3'", b)[0] == 41.5

    user.find(marker="objects-delete-1").click()
    await user.should_see(marker="objects-confirm")
    user.find(marker="objects-confirm-yes").click()
    await user.should_see("Помещение: в помещении 1 зарегистрировано ПУ: 1; помещение с приборами учёта "
                          "не удаляется")

    user.find(marker="objects-codes-all").click()
    await user.should_see("кроме тех, где код уже активирован")
    user.find(marker="objects-confirm-yes").click()
    await user.should_see("Сгенерировано кодов: 3")  # premises 1, 2 and 3
    await user.should_see("до 21.01.2026 15:00")  # 14.01 15:00 Moscow + one week
    code = ui_registry.one("SELECT a.code FROM activation_codes a JOIN premises p ON p.id = a.premise_id "
                           "WHERE p.building_id = ? AND p.number = '3'", b)[0]
    await user.open(f"{PAGE}/{b}/codes/print")
    await user.should_see(code)
    await user.should_see("ул. Тестовая, 1, кв. 3")
    await user.should_see("Действует до 21.01.2026 15:00 (время объекта)")
    await user.should_see(marker="objects-print")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_owners_and_personal_accounts(seeded: cloud_data.Seeded, ui_registry: Registry, user: User) -> None:
    b = seeded.building_id
    premise = ui_registry.one("SELECT id FROM premises WHERE building_id = ? AND number = '1'", b)[0]
    await _login(user, "disp", "disp-pass")
    await user.open(f"{PAGE}/{b}/owners")
    await user.should_see(marker="owners-table")
    await user.should_see("кв. 1")
    user.find(marker=f"owners-invite-{premise}").click()
    await user.should_see(marker="owners-invite-dialog")
    user.find(marker="owners-invite-email").type("owner@example.org")
    user.find(marker="owners-invite-name").type("Иван Петров")
    user.find(marker="owners-invite-send").click()
    await user.should_see("E-mail: отправка почты на сервере не настроена")  # this UI has no SMTP server

    await user.open(f"{PAGE}/{b}/billing")  # the building's menu item opens the billing page on it
    await user.should_see("Интеграция с биллинговыми компаниями")
    user.find(marker="billing-edit-1").click()
    await user.should_see(marker="billing-input-1")
    user.find(marker="billing-input-1").clear().type("10 01")
    user.find(marker="billing-save-1").click()
    await user.should_see("Лицевой счёт: от 1 до 30 букв")
    user.find(marker="billing-input-1").clear().type("1000001")
    user.find(marker="billing-save-1").click()
    await user.should_see(marker="billing-account-1")
    await user.should_see("1000001")
    user.find(marker="billing-edit-2").click()
    await user.should_see(marker="billing-input-2")
    user.find(marker="billing-input-2").clear().type("1000001")
    user.find(marker="billing-save-2").click()
    await user.should_see("Лицевой счёт: лицевой счёт 1000001 уже задан помещению 1 (ул. Тестовая, 1)")
    await user.open(f"/settings/billing?building={b}")
    user.find(marker="billing-remove-1").click()
    await user.should_see("Удалить лицевой счёт 1000001")
    user.find(marker="billing-remove-yes").click()
    await user.should_not_see(marker="billing-remove-1")  # the remove icon goes with the account
    assert ui_registry.one("SELECT account FROM premises WHERE id = ?", premise)[0] == ""


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_readers_read_and_administrators_are_refused(seeded: cloud_data.Seeded, user: User) -> None:
    b = seeded.building_id
    await _login(user, "reader", "reader-pass")
    await user.open(PAGE)
    await user.should_see("ул. Тестовая, 1")
    await user.should_not_see(marker="objects-add")
    await user.open(f"{PAGE}/{b}/premises")
    await user.should_see(marker="objects-premise-1")
    await user.should_not_see(marker="objects-range")
    await user.should_not_see(marker="objects-codes-all")
    await user.should_not_see(marker="objects-delete-1")
    await user.open(f"{PAGE}/{b}/info")
    await user.should_see("Только просмотр")
    await user.should_not_see(marker="objects-edit")
    await user.open(f"{PAGE}/{seeded.other_building_id}/premises")
    await user.should_see("Объект не найден или принадлежит другой компании.")
    await user.open(f"{PAGE}/{b}/owners")
    await user.should_not_see(marker="owners-invite-1")
    await user.open("/settings/billing")
    await user.should_see(marker="billing-account-1")
    await user.should_not_see(marker="billing-edit-1")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrators_get_the_forbidden_page(seeded: cloud_data.Seeded, user: User) -> None:
    await _login(user, "admin", "admin-pass")
    for path in (PAGE, f"{PAGE}/{seeded.building_id}/premises", f"{PAGE}/{seeded.building_id}/owners",
                 "/settings/billing", f"{PAGE}/{seeded.building_id}/codes/print"):
        await user.open(path)
        await user.should_see("Этот раздел недоступен для вашей роли.")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_one_premise_with_its_neighbours(seeded: cloud_data.Seeded, ui_registry: Registry, user: User) -> None:
    b = seeded.building_id
    first, second = (r["id"] for r in ui_registry.all("SELECT id FROM premises WHERE building_id = ? ORDER BY "
                                                      "CAST(number AS INTEGER)", b))
    await _login(user, "disp", "disp-pass")
    await user.open(f"{PAGE}/{b}/premises/{first}")
    await user.should_see("кв. 1: ул. Тестовая, 1")
    await user.should_see("нет кода")
    user.find(marker="premise-code").click()
    await user.should_see(marker="objects-confirm")
    user.find(marker="objects-confirm-yes").click()
    await user.should_see("14.01.2026 15:00 – 21.01.2026 15:00")  # one week, Moscow time
    await user.should_see("действует")
    user.find(marker="premise-edit").click()
    await user.should_see(marker="premise-area")
    user.find(marker="premise-residents").clear().type("2.5")
    user.find(marker="premise-save").click()
    await user.should_see("Жильцы: введите число.")  # a whole number only
    user.find(marker="premise-residents").clear().type("4")
    user.find(marker="premise-save").click()
    await user.should_see("Сохранено")
    assert ui_registry.one("SELECT residents FROM premises WHERE id = ?", first)[0] == 4
    user.find(marker="premise-invite").click()
    user.find(marker="owners-invite-email").type("owner@example.org")
    user.find(marker="owners-invite-name").type("Иван Петров")
    user.find(marker="owners-invite-send").click()
    await user.should_see("отправка почты на сервере не настроена")
    await user.open(f"{PAGE}/{b}/premises/{second}")
    await user.should_see("кв. 2: ул. Тестовая, 1")
    await user.open(f"{PAGE}/{b}/premises/{seeded.other_building_id + 999}")
    await user.should_see("Помещение не найдено в этом объекте.")


def test_refusals_are_worded_in_russian() -> None:
    from ui.objects_common import russian
    assert russian("the range 9-8 is reversed: write 8-9") == "диапазон 9-8 записан наоборот: укажите 8-9"
    assert russian("nothing removed: apartments with meters or owners are not deleted: 1 (1 meter(s)), "
                   "5 (2 owner(s))") == ("ничего не удалено: квартиры с приборами учёта или собственниками не "
                                         "удаляются: 1 (ПУ: 1), 5 (собственников: 2)")
    assert russian("apartment 2 is given twice") == "квартира 2 указана дважды"
    assert russian("something new") is None  # shown as the service said it


def test_the_map_shows_the_building_and_its_station() -> None:
    from ui.objects_common import map_view
    # 0.01 degree apart: 200 * 360 / (256 * 0.01) = 28125 = 2**14.8, so zoom 14, centred between them
    assert map_view([(55.80, 49.12), (55.79, 49.12)]) == ((55.795, 49.12), 14)
    assert map_view([(55.80, 49.12)]) == ((55.80, 49.12), 16)  # one point: the closest zoom allowed
    # Moscow and Kazan: 11.52 degrees of longitude at 55.77 N are 11.52 * cos(55.77) = 6.48 degrees;
    # 200 * 360 / (256 * 6.48) = 43.4 = 2**5.4, so zoom 5
    assert map_view([(55.75, 37.6), (55.79, 49.12)])[1] == 5
