"""The residents' app (/kv, manual 3.6) as a resident uses it, over the real services (NiceGUI's simulated
user): registration with the activation code the dispatcher generated, the premise's consumption with
numbers (days and hours) worked out from tests/cloud_data.py, the meter's newest reading, a request to the dispatch desk
and its stage, a published notice; nothing of another premise; one set of credentials per browser.

Apartment 1's meter 223T0001 reads 100 + 0.01 * (h + 1) Gcal at the end of hour h from 2026-01-10 00:00
(72 hours). A day's consumption is the reading at its end minus the one at the end of the day before:
the 11th 100.48 - 100.24 = 0.24, the 12th 100.72 - 100.48 = 0.24; the 10th has no reading before it
(«–*»). The newest reading by "now" (2026-01-14) is 100.72 at the end of the 12th: 13.01.2026 00:00.
"""

from __future__ import annotations

from datetime import date

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests.cloud_data import NOW
from tests.ui.conftest import login as staff_login


def _premise(registry: Registry, number: str) -> int:
    return registry.one("SELECT id FROM premises WHERE number = ?", number)["id"]


async def _code(registry: Registry, clickhouse: ClickHouse, number: str) -> str:
    services = Services.create(registry, clickhouse)
    token = (await services.auth.login("disp", "disp-pass")).token
    return (await services.residents.generate(token, _premise(registry, number))).code


async def _register(user: User, code: str, email: str = "anna@example.ru") -> None:
    await user.open(f"/kv/register?code={code}")
    user.find(marker="kv-email").type(email)
    user.find(marker="kv-name").type("Анна Жилец")
    user.find(marker="kv-password").type("anna-pass-1")
    user.find(marker="kv-repeat").type("anna-pass-1")
    user.find(marker="kv-register-submit").click()


def _rows(user: User) -> dict[str, str]:
    table = user.find(marker="kv-table").elements.pop()
    assert isinstance(table, ui.table)
    return {r["period"]: r["amount"] for r in table.rows}


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_from_an_activation_code_to_consumption_meters_tickets_and_notices(
        seeded, ui_registry: Registry, clickhouse: ClickHouse, user: User) -> None:
    code = await _code(ui_registry, clickhouse, "1")
    await _register(user, code.replace("-", "").lower())  # typed as read from paper: no dashes, lower case
    await user.should_see(marker="kv-total")
    await user.open("/kv?resource=heat&granularity=day&period=2026-01-01")
    await user.should_see("ул. Тестовая, 1, кв. 1")
    await user.should_see(marker="kv-total")
    rows = _rows(user)
    assert (rows["11.01.2026"], rows["12.01.2026"]) == ("0,240", "0,240")
    assert rows["10.01.2026"] == "–*"
    await user.should_see("Всего за период: 0,480* Гкал")  # the known days; the 10th unknown: marked

    # the hours of a day (manual 4.1.6): each hour 0.01 Gcal (100 + 0.01 * (h + 1) minus 100 + 0.01 * h); the
    # 10th's first hour has no reading before it («–*»), so the day is 23 * 0.01 = 0.23, marked partial
    await user.open("/kv?resource=heat&granularity=hour&period=2026-01-10")
    await user.should_see(marker="kv-total")
    rows = _rows(user)
    assert (rows["10.01.2026 00:00"], rows["10.01.2026 01:00"], rows["10.01.2026 23:00"]) == ("–*", "0,010", "0,010")
    await user.should_see("Всего за период: 0,230* Гкал")

    await user.open("/kv/meters")
    await user.should_see(marker="kv-meter-223T0001")
    await user.should_see("100,720 Гкал на 13.01.2026 00:00")
    await user.should_not_see(marker="kv-meter-223T0002")  # apartment 2's

    await user.open("/kv/tickets")
    await user.should_see("Заявок пока нет.")
    user.find(marker="kv-ticket-text").type("Холодная батарея в спальне")
    user.find(marker="kv-ticket-submit").click()
    await user.should_see(marker="kv-stage-registration")
    await user.should_see("Этап: Регистрация")
    ticket = ui_registry.one("SELECT id, source, premise_id FROM desk_tickets")
    assert (ticket["source"], ticket["premise_id"]) == ("resident", _premise(ui_registry, "1"))

    services = Services.create(ui_registry, clickhouse)
    services.set_clock(lambda: NOW)  # the seeded January is "today", as in tests/ui/ui_main.py
    disp = (await services.auth.login("disp", "disp-pass")).token
    notice = await services.notices.create(disp, "Отключение горячей воды", "Плановые работы на теплотрассе.",
                                           [seeded.building_id], date(2026, 1, 1), date(2026, 1, 31))
    await services.notices.publish(disp, notice.id)
    await user.open("/kv/notices")
    await user.should_see("Отключение горячей воды")

    # another premise, another ticket, nonsense in the address: "not found", nothing shown of them
    await user.open(f"/kv?premise={_premise(ui_registry, '2')}")
    await user.should_see("Такого помещения или заявки в вашем кабинете нет.")
    await user.open("/kv/tickets/999999")
    await user.should_see("Такого помещения или заявки в вашем кабинете нет.")

    await user.open("/kv/logout")
    await user.open("/kv/meters")
    await user.should_see(marker="kv-login-submit")  # signed out: the residents' sign-in page


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_a_used_code_is_refused_in_words_and_a_second_sign_in_replaces_the_first(
        seeded, ui_registry: Registry, clickhouse: ClickHouse, user: User) -> None:
    code = await _code(ui_registry, clickhouse, "1")
    await _register(user, code)
    await user.should_see(marker="kv-total")
    await user.open("/kv/logout")
    await _register(user, code, "other@example.ru")
    await user.should_see("«Код активации»: этот код активации уже использован")

    await user.open("/login")  # the staff's sign-in page leads residents to theirs
    user.find(marker="to-kv-login").click()
    await user.should_see(marker="kv-login-submit")
    user.find(marker="kv-email").type("ANNA@example.ru")
    user.find(marker="kv-password").type("wrong-pass")
    user.find(marker="kv-login-submit").click()
    await user.should_see("Неверный e-mail или пароль")
    user.find(marker="kv-password").type("anna-pass-1")
    user.find(marker="kv-login-submit").click()
    await user.should_see(marker="kv-total")

    # a member of staff signs in on the same browser: the resident's session ends (manual 3.5)
    elsewhere = ui_registry.one("SELECT count(*) AS n FROM sessions")["n"]  # _code's own sign-in
    await staff_login(user, "disp", "disp-pass")
    await user.should_see(marker="nav-/tokens")
    assert ui_registry.one("SELECT count(*) AS n FROM resident_sessions")["n"] == 0
    await user.open("/kv")
    await user.should_see(marker="kv-login-submit")
    # and the other way round: the resident signs in, the staff session ends
    user.find(marker="kv-email").type("anna@example.ru")
    user.find(marker="kv-password").type("anna-pass-1")
    user.find(marker="kv-login-submit").click()
    await user.should_see(marker="kv-total")
    await user.open("/monitoring/events")
    await user.should_see("Вход в систему")  # the staff's sign-in page
    assert ui_registry.one("SELECT count(*) AS n FROM sessions")["n"] == elsewhere  # this browser's ended
