"""The pages of service procedures (manual 4.5.5) and operation deadlines (4.6.12) as a user sees
them (NiceGUI's simulated user over the real services, registry and chDB; NOW = 2026-01-14 15:00
Moscow): an engineer starts a verification and takes the meter out of service, a refusal shown next
to the form; the dispatcher sees the overdue operation in red and forces its completion after a
confirmation; deadlines edited by a dispatcher; readers read-only; administrators refused."""

from __future__ import annotations

from datetime import date

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.services.auth import hash_password
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.ui.conftest import login as ui_login


@pytest.fixture
def engineer(seeded: cloud_data.Seeded, ui_registry: Registry) -> cloud_data.Seeded:
    with ui_registry.connect() as db:
        db.execute("INSERT INTO users (company_id, login, full_name, role, password_hash) VALUES "
                   "(?, 'eng', 'Инженер Тест', 'engineer', ?)", (seeded.company_id, hash_password("eng-pass")))
    return seeded


def _meter(registry: Registry, serial: str) -> int:
    return registry.one("SELECT id FROM meters WHERE serial = ?", serial)["id"]


def _set(user: User, marker: str, value: object) -> None:
    """Set a select's or input's value (the simulated user's typing does not reach a q-select)."""
    element = user.find(marker=marker).elements.pop()
    assert user.client is not None
    with user.client:
        element.value = value


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_engineer_takes_a_meter_out_of_service(engineer, ui_registry: Registry, clickhouse: ClickHouse,
                                                     user: User) -> None:
    heat = _meter(ui_registry, "307T0001")
    await ui_login(user, "eng", "eng-pass")
    await user.should_see("Мониторинг")
    await user.open(f"/service/meters/{heat}/operations")
    await user.should_see("Сервисные операции ПУ 307T0001")
    await user.should_see("Сервисных процедур по ПУ не было.")
    _set(user, "procedures-start-kind", "verification")
    await user.should_see("вывод ПУ из эксплуатации для поверки")
    user.find(marker="procedures-start-button").click()
    await user.should_see(marker="procedures-start-dialog")
    user.find(marker="procedures-start-dialog-yes").click()
    await user.should_see("Текущая процедура: поверка ПУ")
    await user.should_see(marker="procedures-complete-form")
    # a date after today (2026-01-14 in Moscow) is refused next to the form, in the service's words
    _set(user, "procedures-done-on", "2026-01-15")
    _set(user, "procedures-next", "verification")
    user.find(marker="procedures-complete").click()
    user.find(marker="procedures-complete-dialog-yes").click()
    await user.should_see("done_on: 2026-01-15 is in the future (today is 2026-01-14)")
    _set(user, "procedures-done-on", "2026-01-12")
    user.find(marker="procedures-complete").click()
    user.find(marker="procedures-complete-dialog-yes").click()
    await user.should_see(marker="procedures-out-of-service")
    await user.should_see("Выведен из эксплуатации с 12.01.2026: не опрашивается")
    await user.should_see("Завершить операцию: поверка ПУ")
    # the active operations page lists it
    await user.open("/service/operations")
    await user.should_see("Активные операции")
    await user.should_see("307T0001")
    await user.should_see("поверка ПУ")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_forces_an_overdue_operation(engineer, ui_registry: Registry, user: User) -> None:
    heat = _meter(ui_registry, "307T0001")
    with ui_registry.connect() as db:  # a verification started on 2026-01-10, its first operation due 01-11
        db.execute("INSERT INTO procedures (id, company_id, meter_id, kind, state, started_by, started_at) VALUES "
                   "(1, ?, ?, 'verification', 'active', (SELECT id FROM users WHERE login = 'eng'), "
                   "'2026-01-10T09:00:00.000000+00:00')", (engineer.company_id, heat))
        db.execute("INSERT INTO procedure_steps (id, procedure_id, operation, state, started_at, planned_at) VALUES "
                   "(1, 1, 'out_of_service', 'active', '2026-01-10T09:00:00.000000+00:00', "
                   "'2026-01-11T09:00:00.000000+00:00')")
    await ui_login(user, "disp", "disp-pass")
    await user.should_see("Мониторинг")
    await user.open("/service/operations")
    await user.should_see(marker="procedures-overdue-1")
    await user.should_see("11.01.2026 12:00")  # 09:00 UTC in Moscow
    user.find(marker="procedures-force-1").click()
    await user.should_see(marker="procedures-force-dialog")
    await user.should_see("Процедура «поверка ПУ» будет отменена")
    user.find(marker="procedures-force-yes").click()
    await user.should_see("Активных сервисных операций нет.")
    assert ui_registry.one("SELECT state FROM procedures WHERE id = 1")["state"] == "cancelled"
    # the meter's history shows it, forced
    await user.open(f"/service/meters/{heat}/operations")
    await user.should_see("поверка ПУ: отменена")
    # a dispatcher does not start procedures
    await user.should_not_see(marker="procedures-start")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_deadlines_dispatcher_edits(engineer, ui_registry: Registry, user: User) -> None:
    await ui_login(user, "disp", "disp-pass")
    await user.should_see("Мониторинг")
    await user.open("/settings/deadlines")
    await user.should_see("Сроки выполнения СО")
    await user.should_see("заявка на установку ПУ")
    field = user.find(marker="procedures-days-repair-repair").elements.pop()
    assert isinstance(field, ui.number)
    assert field.value == 14
    _set(user, "procedures-days-repair-repair", 21)
    user.find(marker="procedures-save-repair-repair").click()
    await user.should_see("Срок сохранён")
    assert ui_registry.one("SELECT days FROM operation_deadlines WHERE operation = 'repair'")["days"] == 21


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_read_only_and_administrator_refused(engineer, ui_registry: Registry, user: User) -> None:
    await ui_login(user, "reader", "reader-pass")
    await user.should_see("Мониторинг")
    await user.open("/settings/deadlines")
    await user.should_see(marker="procedures-days-repair-repair")
    field = user.find(marker="procedures-days-repair-repair").elements.pop()
    assert isinstance(field, ui.label)  # a figure, not an editor
    await user.open(f"/service/meters/{_meter(ui_registry, '307T0001')}/operations")
    await user.should_see("Сервисные операции ПУ 307T0001")
    await user.should_not_see(marker="procedures-start")
    await user.open("/logout")
    await ui_login(user, "admin", "admin-pass")
    await user.should_see("Пользователи")
    await user.open("/service/operations")
    await user.should_see("Нет доступа")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_commissioning_form_then_the_automatic_test(engineer, ui_registry: Registry, clickhouse: ClickHouse,
                                                           user: User) -> None:
    heat = _meter(ui_registry, "307T0001")
    services = Services.create(ui_registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    token = (await services.auth.login("eng", "eng-pass")).token
    started = await services.procedures.start(token, heat, "verification")
    await services.procedures.complete(token, started.id, done_on=date(2026, 1, 12))
    await ui_login(user, "eng", "eng-pass")
    await user.should_see("Мониторинг")
    await user.open(f"/service/meters/{heat}/operations")
    await user.should_see("Завершить операцию: ввод ПУ в эксплуатацию")
    await user.should_see(marker="procedures-initial-1:Q")
    _set(user, "procedures-done-on", "2026-01-14")
    _set(user, "procedures-initial-1:Q", "сто")
    user.find(marker="procedures-complete").click()
    await user.should_see("1:Q: введите число.")  # checked on the page before anything is sent
    _set(user, "procedures-initial-1:Q", "102,52")
    user.find(marker="procedures-complete").click()
    user.find(marker="procedures-complete-dialog-yes").click()
    # the service's own check: the next verification date is required
    await user.should_see("settings.next_verification_on: the date of the next verification is required")
    _set(user, "procedures-next-verification", "2030-01-14")
    user.find(marker="procedures-complete").click()
    user.find(marker="procedures-complete-dialog-yes").click()
    await user.should_see(marker="procedures-running")
    await user.should_see("тест на доступность ПУ (автоматическая)")
    await user.should_not_see(marker="procedures-out-of-service")
    done = ui_registry.one("SELECT settings FROM procedure_steps WHERE operation = 'commissioning'")["settings"]
    assert '"1:Q": 102.52' in done


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_correction_from_the_page(engineer, ui_registry: Registry, user: User) -> None:
    apt = _meter(ui_registry, "223T0001")
    await ui_login(user, "eng", "eng-pass")
    await user.should_see("Мониторинг")
    await user.open(f"/service/meters/{apt}/operations")
    _set(user, "procedures-start-kind", "correction")
    user.find(marker="procedures-start-button").click()
    user.find(marker="procedures-start-dialog-yes").click()
    await user.should_see("Завершить операцию: выбор сенсора")
    _set(user, "procedures-done-on", "2026-01-14")
    _set(user, "procedures-sensor-counter", "1:Q")
    _set(user, "procedures-sensor-period", "2026-01-11T10:00")
    _set(user, "procedures-sensor-value", "100,5")
    user.find(marker="procedures-complete").click()
    user.find(marker="procedures-complete-dialog-yes").click()
    # the correction runs at once in the cloud: the seeded 100.35 (hour 34 of 223T0001) becomes 100.5
    await user.should_see("коррекция показаний ПУ: завершена", retries=100)
    user.find("коррекция показаний ПУ: завершена").click()
    await user.should_see("коррекция показаний: канал 1, Q, hour 2026-01-11T10:00:00: 100.35 → 100.5 (версия 1)")
