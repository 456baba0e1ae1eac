"""The event journal (manual 4.2.2) and event subscriptions (4.6.13) as a user sees them (NiceGUI's
simulated user over the real services, registry and chDB): events grouped per meter with their
classification and the meter's state, the details of an event on a click, the multi-select
filters, «нет данных» for an empty period; subscriptions added, refused without a value of each
characteristic, edited and deleted after a confirmation; readers read-only, administrators
refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import support_events
from tests.ui.conftest import login as ui_login

R = 100  # should_see retries (0.1 s apart)


async def _login(user: User, login: str, password: str) -> None:
    await ui_login(user, login, password)
    await user.should_see("Мониторинг", retries=R)


@pytest.fixture
async def events(seeded, clickhouse: ClickHouse):
    """The seeded building's events (tests/support_events.py) and apartment 2's suspect value."""
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    support_events.seed_events(registry, clickhouse, seeded)
    await support_events.add_suspect(registry, clickhouse, seeded.company_id)
    return seeded


def _url(building: int, extra: str = "") -> str:
    return f"/monitoring/events?building={building}&from=2026-01-10&to=2026-01-13{extra}"


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_journal_per_meter_with_details_and_filters(events, user: User) -> None:
    await _login(user, "disp", "disp-pass")
    await user.open(_url(events.building_id))
    await user.should_see("Журнал событий", retries=R)
    await user.should_see("Событий: 6", retries=R)
    # the tampering on apartment 1's meter, classified as the manual says, in the building's time
    await user.should_see("ИПУ 223T0001 (KARAT-Compact-2-223, кв. 1)")
    await user.should_see("Вскрытие корпуса")
    await user.should_see("11.01.2026 10:00")
    await user.should_see("Нарушение целостности ПУ")
    await user.should_see("Аварийный случай")
    # the suspect value the cloud found is a parameter limit violation of apartment 2's meter
    await user.should_see("Недостоверное значение: приращение счётчика выше допустимого")
    await user.should_see("13.01.2026 00:00")
    # after each meter's events its state: 307T0001 reported up to 12.01 23:00, 100 + 0.035 x 72 = 102,520 Gcal
    await user.should_see(marker="events-state-307T0001")
    await user.should_see("В эксплуатации · последний архив 12.01.2026 23:00 · показания: Q 102,520 Гкал")
    await user.should_not_see("ул. Чужая, 2")

    user.find(marker="event-test:e1:1").click()
    await user.should_see("Событие прибора 223T0001", retries=R)
    await user.should_see("integrity / 0x0101")

    # one effect pressed: only the tampering
    user.find(marker="events-effects-integrity").click()
    await user.should_see("Событий: 1", retries=R)
    await user.should_not_see("Магнит у датчика")
    await user.should_not_see(marker="events-meter-307T0001")
    # all four pressed equals none pressed
    for effect in ("interference", "limit", "other"):
        user.find(marker=f"events-effects-{effect}").click()
        await user.should_see(marker=f"events-effects-{effect}", retries=R)
    await user.should_see("Событий: 6", retries=R)
    await user.should_see("Магнит у датчика")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_default_week_empty_period_and_bad_parameters(events, user: User) -> None:
    await _login(user, "disp", "disp-pass")
    await user.open(f"/monitoring/events?building={events.building_id}")  # the last week up to 14.01.2026
    await user.should_see("Событий: 6", retries=R)
    await user.should_see("08.01.2026 – 14.01.2026")
    # a day typed into "from": the journal reloads for 13..14 January, the suspect value only
    user.find(marker="events-from").clear().type("2026-01-13")
    await user.should_see("Событий: 1", retries=R)
    await user.should_see("13.01.2026 – 14.01.2026")
    await user.open(f"/monitoring/events?building={events.building_id}&from=2026-01-01&to=2026-01-09")
    await user.should_see("нет данных: событий с выбранными признаками за период нет", retries=R)
    await user.open(f"/monitoring/events?building={events.other_building_id}&effect=fire&to=9999-01-01")
    await user.should_see("Неверный параметр «building»", retries=R)
    await user.should_see("Неверный параметр «effect»")
    await user.should_see("Неверный параметр «to»")
    await user.should_not_see("ул. Чужая, 2")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_sees_the_journal_and_subscriptions_read_only(events, user: User) -> None:
    await _login(user, "reader", "reader-pass")
    await user.open(_url(events.building_id, "&severity=alarm"))
    await user.should_see("Событий: 1", retries=R)
    await user.should_see("Вскрытие корпуса")
    await user.open("/settings/subscriptions")
    await user.should_see("Статус «читатель»: подписки только для просмотра.", retries=R)
    await user.should_see("нет данных: подписок нет")
    await user.should_not_see(marker="subs-add")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_is_refused(seeded, user: User) -> None:
    await ui_login(user, "admin", "admin-pass")
    await user.should_see("Пользователи", retries=R)
    for path in (f"/monitoring/events?building={seeded.building_id}", "/settings/subscriptions"):
        await user.open(path)
        await user.should_see("Нет доступа", retries=R)
        await user.should_not_see("Журнал событий")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_subscribe_edit_and_delete(seeded, user: User) -> None:
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    await _login(user, "disp", "disp-pass")
    await user.open("/settings/subscriptions")
    await user.should_see("Подписка на события", retries=R)
    await user.should_see("нет данных: подписок нет")

    user.find(marker="subs-add").click()
    await user.should_see("Новая подписка", retries=R)
    user.find(marker="subs-save").click()
    await user.should_see("Выберите хотя бы один тип ПУ", retries=R)
    user.find(marker="subs-meter_types-individual").click()
    user.find(marker="subs-save").click()
    await user.should_see("Выберите хотя бы один вид контролируемого события", retries=R)
    user.find(marker="subs-effects-integrity").click()
    user.find(marker="subs-effects-limit").click()
    user.find(marker="subs-save").click()
    await user.should_see("Выберите хотя бы один статус события", retries=R)
    user.find(marker="subs-severities-alarm").click()
    user.find(marker="subs-email").type("disp@example")
    user.find(marker="subs-save").click()
    await user.should_see("Укажите правильный адрес e-mail", retries=R)
    user.find(marker="subs-email").clear().type("disp@example.ru")
    user.find(marker="subs-save").click()
    await user.should_see("Подписка сохранена", retries=R)
    await user.should_see("e-mail: disp@example.ru")
    await user.should_see("Нарушение целостности ПУ, Нарушение границы значения параметра")
    row = registry.one("SELECT * FROM event_subscriptions")
    assert (row["meter_roles"], row["effects"], row["severities"], row["email"]) == (
        "individual", "integrity,limit", "alarm", "disp@example.ru")

    user.find(marker=f"subs-edit-{row['id']}").click()
    await user.should_see("Изменить подписку", retries=R)
    user.find(marker="subs-meter_types-common").click()
    user.find(marker="subs-save").click()
    await user.should_see("ОДПУ, ИПУ", retries=R)
    assert registry.one("SELECT meter_roles FROM event_subscriptions")[0] == "common,individual"

    user.find(marker=f"subs-delete-{row['id']}").click()
    await user.should_see("Удалить подписку на disp@example.ru? Оповещения по ней больше не придут.", retries=R)
    assert registry.one("SELECT count(*) FROM event_subscriptions")[0] == 1  # nothing before the confirmation
    user.find(marker="subs-confirm-delete").click()
    await user.should_see("Подписка удалена", retries=R)
    await user.should_see("нет данных: подписок нет", retries=R)
    assert registry.one("SELECT count(*) FROM event_subscriptions")[0] == 0
    assert isinstance(user.find(marker="subs-list").elements.pop(), ui.card)
