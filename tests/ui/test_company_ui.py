"""The pages «Компания» (4.6.15), «Профиль» (3.4) and the users' edit dialog (4.6.14) as a person
uses them (NiceGUI's simulated user over the real services and registry): the card's fields
refused with the reason next to the form and then saved, cities added and refused removal in
Russian, removal asked first; others read the card only; the working city and one's own password."""

from __future__ import annotations

import sqlite3

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.services.auth import verify_password
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.ui.conftest import login


def _set(user: User, marker: str, value: object) -> None:
    for element in user.find(marker=marker).elements:
        element.set_value(value)  # type: ignore[attr-defined]


def _one(registry: Registry, sql: str, *args: object) -> sqlite3.Row:
    row = registry.one(sql, *args)
    assert row is not None, sql
    return row


def _add_city(registry: Registry, company_id: int, name: str, time_zone: str) -> int:
    with registry.connect() as db:
        db.execute("INSERT OR IGNORE INTO cities (name, time_zone) VALUES (?, ?)", (name, time_zone))
        city_id = int(db.execute("SELECT id FROM cities WHERE name = ?", (name,)).fetchone()[0])
        db.execute("INSERT INTO company_cities VALUES (?, ?)", (company_id, city_id))
    return city_id


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_edits_the_card_and_the_cities(seeded: cloud_data.Seeded, ui_registry: Registry,
                                                           user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see("Пользователи компании")
    await user.open("/settings/company")
    await user.should_see("Карточка компании")
    user.find(marker="card-inn").type("7707083894")  # the check digit should be 3
    user.find(marker="card-phone").type("8 843 123 45 67")
    user.find(marker="card-save").click()
    await user.should_see("Не сохранено: «ИНН»: 7707083894 has a wrong check digit (the 10th); check the number")
    assert ui_registry.one("SELECT inn FROM company_cards") is None
    user.find(marker="card-inn").clear().type("7707083893")
    user.find(marker="card-save").click()
    await user.should_see("Карточка компании сохранена")
    row = _one(ui_registry, "SELECT inn, phone FROM company_cards WHERE company_id = ?", seeded.company_id)
    assert (row["inn"], row["phone"]) == ("7707083893", "+7 (843) 123-45-67")

    await user.should_see(marker="city-Казань")
    user.find(marker="remove-Казань").click()  # the company's building is there
    await user.should_see("В городе Казань есть объекты компании (1): удалить город можно, когда в нём не "
                          "останется объектов.")
    user.find(marker="city-name").type("Самара")
    _set(user, "city-zone", "Europe/Samara")
    user.find(marker="city-add").click()
    await user.should_see("Город Самара добавлен")
    await user.should_see(marker="city-Самара")
    user.find(marker="remove-Самара").click()  # asks first; «Отмена» keeps it
    await user.should_see("Удалить город Самара из списка городов компании?")
    user.find(marker="confirm-no").click()
    await user.should_not_see(marker="confirm-text")
    _one(ui_registry, "SELECT 1 FROM cities c JOIN company_cities cc ON cc.city_id = c.id WHERE c.name = 'Самара'")
    user.find(marker="remove-Самара").click()
    await user.should_see(marker="confirm-text")
    user.find(marker="confirm-yes").click()
    await user.should_see("Город Самара удалён")
    assert ui_registry.one("SELECT 1 FROM cities c JOIN company_cities cc ON cc.city_id = c.id "
                           "WHERE c.name = 'Самара'") is None


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_reads_the_card_only(seeded: cloud_data.Seeded, ui_registry: Registry, user: User) -> None:
    with ui_registry.connect() as db:
        db.execute("INSERT INTO company_cards (company_id, inn) VALUES (?, '7707083893')", (seeded.company_id,))
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open("/settings/company")
    await user.should_see("Изменять карточку и города может администратор компании.")
    await user.should_see("7707083893")
    await user.should_not_see(marker="card-save")
    await user.should_not_see(marker="city-add")
    await user.should_not_see(marker="remove-Казань")
    await user.should_not_see(marker="full-access")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_profile_working_city_and_password(seeded: cloud_data.Seeded, ui_registry: Registry,
                                                 user: User) -> None:
    samara = _add_city(ui_registry, seeded.company_id, "Самара", "Europe/Samara")
    await login(user, "reader", "reader-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open("/profile")
    await user.should_see("Учётная запись")
    await user.should_see("Сервис-инженер, читатель")
    await user.should_see("УК Тест")
    _set(user, "profile-city", samara)
    user.find(marker="profile-city-apply").click()
    await user.should_see("Страницы открываются на городе Самара")
    stored = _one(ui_registry, "SELECT city_id FROM user_working_modes WHERE user_id = "
                             "(SELECT id FROM users WHERE login = 'reader')")
    assert stored["city_id"] == samara

    user.find(marker="current-password").type("reader-pass")
    user.find(marker="new-password").type("reader-pass-2")
    user.find(marker="repeat-password").type("reader-pass-3")
    user.find(marker="password-change").click()
    await user.should_see("Новый пароль и повтор не совпадают")
    user.find(marker="current-password").clear().type("wrong-pass")
    user.find(marker="repeat-password").clear().type("reader-pass-2")
    user.find(marker="password-change").click()
    await user.should_see("Не сохранено: «Текущий пароль»: неверный пароль")
    user.find(marker="current-password").clear().type("reader-pass")
    user.find(marker="password-change").click()
    await user.should_see("Пароль изменён; другие сеансы завершены")
    hashed = _one(ui_registry, "SELECT password_hash FROM users WHERE login = 'reader'")["password_hash"]
    assert verify_password("reader-pass-2", hashed)


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_a_new_browser_opens_on_the_profiles_working_city(seeded: cloud_data.Seeded, ui_registry: Registry,
                                                                user: User) -> None:
    """Manual 3.4: the working mode is the user's, not the browser's: signed in anew, the pages open
    on the city chosen in the profile (Самара), not on the company's first (Казань)."""
    samara = _add_city(ui_registry, seeded.company_id, "Самара", "Europe/Samara")
    with ui_registry.connect() as db:
        user_id = db.execute("SELECT id FROM users WHERE login = 'disp'").fetchone()[0]
        db.execute("INSERT INTO user_working_modes (user_id, city_id) VALUES (?, ?)", (user_id, samara))
    await login(user, "disp", "disp-pass")
    await user.open("/settings/buildings")
    await user.should_see(marker="city-switch")
    switch = user.find(marker="city-switch").elements.pop()
    assert isinstance(switch, ui.select)
    assert switch.value == "Самара"
    await user.should_not_see("ул. Тестовая, 1")  # Казань's building: not the city shown


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_profile_with_one_city_offers_no_choice(seeded: cloud_data.Seeded, user: User) -> None:
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open("/profile")
    await user.should_see("Компания работает в одном городе: Казань")
    await user.should_not_see(marker="profile-city")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_edits_a_user(seeded: cloud_data.Seeded, ui_registry: Registry, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see(marker="user-disp")
    user.find(marker="edit-disp").click()
    await user.should_see(marker="useredit-email")
    user.find(marker="useredit-email").type("disp@")
    user.find(marker="useredit-save").click()
    await user.should_see("Запрос отклонён: «E-mail»: нужен адрес электронной почты вида name@example.ru")
    user.find(marker="useredit-email").clear().type("Disp@UK.ru")
    user.find(marker="useredit-phone").type("88437654321")
    _set(user, "useredit-reader", True)
    user.find(marker="useredit-save").click()
    await user.should_see("Данные пользователя disp сохранены")
    row = _one(ui_registry, "SELECT email, phone, reader, role FROM users WHERE login = 'disp'")
    assert (row["email"], row["phone"], row["reader"], row["role"]) == ("disp@uk.ru", "+7 (843) 765-43-21", 1,
                                                                        "dispatcher")
    await user.should_see("disp@uk.ru")
    user.find(marker="edit-admin").click()  # one's own role and reader status are not offered
    await user.should_see("Свою роль и статус «Читатель» администратор не меняет.")
    for element in user.find(marker="useredit-role").elements:
        assert not getattr(element, "enabled", True)
