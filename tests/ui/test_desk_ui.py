"""The dispatch desk (4.5.9) and notices (4.5.10) as a user sees them (NiceGUI's simulated user over the
real services and registry): a dispatcher registers a ticket, moves it with a note, is refused in
Russian, cancels it after confirming; the list's filters; an engineer acts only on a ticket assigned to
them; notices drafted, published after confirming, unpublished; readers read-only, administrators
refused."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.integration.test_desk import seed_people
from tests.ui.conftest import login as ui_login


async def _login(user: User, login: str, password: str) -> None:
    await ui_login(user, login, password)
    await user.should_see("Мониторинг")


@pytest.fixture
def people(seeded: cloud_data.Seeded, ui_registry: Registry) -> dict[str, int]:
    _, users = seed_people(ui_registry, seeded)
    return users


async def _tickets(registry: Registry, clickhouse: ClickHouse, seeded: cloud_data.Seeded,
                   users: dict[str, int]) -> tuple[int, int]:
    """Two tickets: one at execution assigned to "eng", one just registered."""
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    disp = (await services.auth.login("disp", "disp-pass")).token
    desk = services.desk
    working = (await desk.create(disp, seeded.building_id, "Течёт кран на кухне", sphere="cold_water",
                                 category="ppr", applicant_name="Сидорова Мария")).ticket.id
    await desk.move(disp, working, "qualification", "принято")
    await desk.assign(disp, working, users["eng"])
    await desk.move(disp, working, "execution", "в работу")
    fresh = (await desk.create(disp, seeded.building_id, "Шумит насос", sphere="heating")).ticket.id
    return working, fresh


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_registers_moves_and_cancels(people, seeded, ui_registry: Registry, user: User) -> None:
    await _login(user, "disp", "disp-pass")
    await user.open("/service/desk")
    await user.should_see("Диспетчерская")
    await user.should_see("Обращений нет.")
    user.find(marker="desk-new").click()
    await user.should_see(marker="desk-new-dialog")
    user.find(marker="desk-new-save").click()  # no description: refused next to the form, in Russian
    await user.should_see("заполните поле «описание»")
    user.find(marker="desk-new-description").type("Нет горячей воды")
    user.find(marker="desk-new-applicant").type("Иванов Иван")
    user.find(marker="desk-new-save").click()
    await user.should_see("Обращение № 1")
    await user.should_see("Нет горячей воды")
    await user.should_see("Иванов Иван")
    await user.should_see(marker="desk-stage-registration")

    user.find(marker="desk-move-qualification").click()
    await user.should_see(marker="desk-move-dialog")
    user.find(marker="desk-move-dialog-confirm").click()  # a note is required
    await user.should_see("заполните поле «комментарий»")
    user.find(marker="desk-note").type("принято диспетчером")
    user.find(marker="desk-move-dialog-confirm").click()
    await user.should_see("принято диспетчером")
    await user.should_see("Этап: Регистрация → Квалификация")
    user.find(marker="desk-move-execution").click()  # not qualified yet: refused in Russian
    user.find(marker="desk-note").type("в работу")
    user.find(marker="desk-move-dialog-confirm").click()
    await user.should_see("сначала укажите сферу работ.")

    user.find(marker="desk-cancel").click()
    await user.should_see("Отмена окончательна")
    user.find(marker="desk-note").type("дубликат")
    user.find(marker="desk-cancel-dialog-confirm").click()
    await user.should_see(marker="desk-ticket-cancelled")
    await user.should_not_see(marker="desk-cancel")
    await user.open("/service/desk")
    await user.should_see(marker="desk-cancelled-1")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_filters_and_search(people, seeded, ui_registry: Registry, clickhouse: ClickHouse,
                                  user: User) -> None:
    working, fresh = await _tickets(ui_registry, clickhouse, seeded, people)
    await _login(user, "disp", "disp-pass")
    await user.open("/service/desk")
    await user.should_see(marker=f"desk-row-{working}")
    await user.should_see(marker=f"desk-row-{fresh}")
    stages = user.find(marker="desk-filter-stages").elements.pop()
    assert isinstance(stages, ui.select)
    assert user.client is not None
    with user.client:
        stages.value = ["execution"]
    await user.should_not_see(marker=f"desk-row-{fresh}")
    await user.should_see(marker=f"desk-row-{working}")
    with user.client:
        stages.value = []
    await user.should_see(marker=f"desk-row-{fresh}")
    user.find(marker="desk-applicant").type("сидорова")
    await user.should_not_see(marker=f"desk-row-{fresh}")
    await user.should_see("Сидорова Мария")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_engineer_acts_only_on_a_ticket_assigned_to_them(people, seeded, ui_registry: Registry,
                                                                clickhouse: ClickHouse, user: User) -> None:
    working, fresh = await _tickets(ui_registry, clickhouse, seeded, people)
    await _login(user, "eng", "eng-pass")
    await user.open(f"/service/desk/{fresh}")
    await user.should_see("Шумит насос")
    await user.should_see("Изменять обращение могут диспетчер")
    await user.should_not_see(marker="desk-move-qualification")
    await user.open(f"/service/desk/{working}")
    await user.should_see(marker="desk-move-completion")
    await user.should_not_see(marker="desk-cancel")
    await user.should_not_see(marker="desk-assign")
    user.find(marker="desk-move-completion").click()
    user.find(marker="desk-note").type("кран заменён")
    user.find(marker="desk-move-dialog-confirm").click()
    await user.should_see("кран заменён")
    await user.should_see("Этап: Выполнение → Завершение")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_and_administrator(people, seeded, ui_registry: Registry, clickhouse: ClickHouse,
                                        user: User) -> None:
    working, _ = await _tickets(ui_registry, clickhouse, seeded, people)
    await _login(user, "reader", "reader-pass")
    await user.open(f"/service/desk/{working}")
    await user.should_see("Течёт кран на кухне")
    await user.should_see("Изменять обращение могут диспетчер")
    await user.open("/service/desk")
    await user.should_see(marker=f"desk-row-{working}")
    await user.should_not_see(marker="desk-new")
    await user.open("/service/notices")
    await user.should_see("Опубликованных уведомлений нет.")
    await user.should_not_see(marker="notices-new")
    await user.open("/service/desk/999")
    await user.should_see("Обращение не найдено или недоступно.")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_is_refused(seeded, user: User) -> None:
    await ui_login(user, "admin", "admin-pass")
    await user.should_see("Пользователи")
    await user.open("/service/desk")
    await user.should_see("Нет доступа")
    await user.open("/service/notices")
    await user.should_see("Нет доступа")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_notice_drafted_published_and_unpublished(seeded, user: User) -> None:
    await _login(user, "disp", "disp-pass")
    await user.open("/service/notices")
    await user.should_see("Опубликованных уведомлений нет.")
    user.find(marker="notices-new").click()
    await user.should_see(marker="notice-form")
    user.find(marker="notice-title").type("Отключение ГВС")
    user.find(marker="notice-body").type("15 января с 10:00 до 18:00")
    user.find(marker="notice-save").click()  # no building chosen
    await user.should_see("выберите хотя бы один объект.")
    chosen = user.find(marker="notice-buildings").elements.pop()
    assert isinstance(chosen, ui.select)
    assert user.client is not None
    with user.client:
        chosen.value = [seeded.building_id]
    user.find(marker="notice-save").click()
    await user.should_see("Неопубликованные")
    await user.should_see("Отключение ГВС")
    await user.should_see(marker="notice-publish-1")
    user.find(marker="notice-publish-1").click()
    await user.should_see("Его увидят владельцы помещений")
    user.find(marker="notice-confirm").click()
    await user.should_see("Неопубликованных уведомлений нет.")
    switch = user.find(marker="notices-switch").elements.pop()
    assert isinstance(switch, ui.toggle)
    with user.client:
        switch.value = True
    await user.should_see(marker="notice-unpublish-1")
    await user.should_see("Диспетчер Тест")
    user.find(marker="notice-unpublish-1").click()
    user.find(marker="notice-confirm").click()
    await user.should_see("Опубликованных уведомлений нет.")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_qualifies_assigns_and_groups(people, seeded, ui_registry: Registry,
                                                       clickhouse: ClickHouse, user: User) -> None:
    working, fresh = await _tickets(ui_registry, clickhouse, seeded, people)
    await _login(user, "disp", "disp-pass")
    await user.open(f"/service/desk/{fresh}")
    await user.should_see("Шумит насос")
    user.find(marker="desk-edit").click()
    await user.should_see(marker="desk-edit-dialog")
    category = user.find(marker="desk-edit-category").elements.pop()
    premise = user.find(marker="desk-edit-premise").elements.pop()
    assert isinstance(category, ui.select)
    assert isinstance(premise, ui.select)
    assert user.client is not None
    premise_2 = ui_registry.one("SELECT id FROM premises WHERE building_id = ? AND number = '2'",
                                seeded.building_id)["id"]
    with user.client:
        category.value = "azo"
        premise.value = premise_2
    user.find(marker="desk-edit-dialog-confirm").click()
    await user.should_see("АЗО")
    await user.should_see("Изменены данные обращения")
    user.find(marker="desk-assign").click()
    await user.should_see(marker="desk-assign-dialog")
    engineer = user.find(marker="desk-assign-engineer").elements.pop()
    assert isinstance(engineer, ui.select)
    with user.client:
        engineer.value = people["eng2"]
    user.find(marker="desk-assign-dialog-confirm").click()
    await user.should_see("Назначен исполнитель: Инженер Второй")
    # grouping: attach it to the working ticket, then the list marks both
    user.find(marker="desk-attach").click()
    user.find(marker="desk-attach-head").type(str(working))
    user.find(marker="desk-attach-dialog-confirm").click()
    await user.should_see(marker="desk-ticket-head")
    await user.open("/service/desk")
    await user.should_see(marker=f"desk-grouped-{working}")
    await user.should_see(marker=f"desk-grouped-{fresh}")
