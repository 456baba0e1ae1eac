"""The pages «Ограничение потребления» (4.5.8), a premise's limitation history and «Реле мощности»
(4.6.11) as a user sees them (NiceGUI's simulated user over the real services, registry and chDB;
rows of tests/support_power.py): thresholds set for the city and a building, a limitation refused in
Russian then applied after its confirmation, its state following the relay command (the test plays
the edge's answer), lifted after a confirmation; readers read-only, administrators refused."""

from __future__ import annotations

from datetime import datetime

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.services.auth import AuthService
from cloud.services.commands import CommandService
from cloud.storage.registry import Registry
from protocol.wire import CommandResult
from tests import cloud_data, support_power
from tests.chaos.edge_support import until
from tests.ui.conftest import login as ui_login


@pytest.fixture
def power(seeded: cloud_data.Seeded, ui_registry: Registry) -> support_power.PowerSeed:
    return support_power.seed_power(ui_registry, seeded)


def _edge_answers(registry: Registry, state: str) -> None:
    """The edge's final result for every relay command still open (as the ingest hands it over)."""
    commands = CommandService(registry, AuthService(registry))
    open_ = [r["id"] for r in registry.all("SELECT id FROM commands WHERE state NOT IN ('done', 'failed', "
                                           "'timed_out')")]
    at = datetime(2026, 1, 14, 12, 1).timestamp()
    assert commands.apply_results("test", [CommandResult(i, state, at, {"reason": "no answer"}) for i in open_])


def _set(user: User, marker: str, value: object) -> None:
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.number | ui.input | ui.select | ui.radio | ui.checkbox)
    assert user.client is not None
    with user.client:
        element.value = value


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_sets_thresholds_limits_and_lifts(power, ui_registry: Registry, user: User) -> None:
    p1 = power.premise_1
    await ui_login(user, "disp", "disp-pass")
    await user.should_see("Мониторинг")
    await user.open("/service/power")
    await user.should_see("Ограничение потребления")
    await user.should_see(marker=f"power-row-{p1}")
    await user.should_see(marker=f"power-row-{power.premise_3}")
    await user.should_not_see(marker=f"power-row-{power.premise_2}")  # no relay meter
    await user.should_see("Порог реле не задан")
    await user.should_not_see(marker=f"power-start-{p1}")

    await user.open("/settings/relays")
    await user.should_see("Реле мощности")
    _set(user, f"relays-city-input-{power.city_id}", "50")
    user.find(marker=f"relays-city-save-{power.city_id}").click()
    await user.should_see("целое число от 100 до 1000000 Вт")
    _set(user, f"relays-city-input-{power.city_id}", "5000")
    user.find(marker=f"relays-city-save-{power.city_id}").click()
    await user.should_see("Пороги сохранены")
    building = ui_registry.one("SELECT id FROM buildings WHERE address = 'ул. Тестовая, 1'")["id"]
    await user.should_see(marker=f"relays-in-force-{building}")
    _set(user, f"relays-input-{building}", "3000")
    user.find(marker="relays-save").click()
    await user.should_see(marker="relays-confirm")
    user.find(marker="relays-confirm-yes").click()
    await until(lambda: ui_registry.one("SELECT threshold_w FROM building_relay_thresholds") is not None, 10,
                "the building's threshold saved")
    assert ui_registry.one("SELECT threshold_w FROM building_relay_thresholds")["threshold_w"] == 3000
    await user.should_see("Изменено значений: 0")

    await user.open("/service/power")
    user.find(marker=f"power-start-{p1}").click()
    await user.should_see(marker="power-dialog")
    await user.should_see("ограничит мощность до 3")  # 3 000 W, the building's threshold
    user.find(marker="power-next").click()
    await user.should_see("Укажите сумму долга")  # checked before anything is sent
    _set(user, "power-amount", 1500.5)
    _set(user, "power-notify", True)
    _set(user, "power-notify-on", "2026-01-10")
    _set(user, "power-control-on", "2026-01-20")
    user.find(marker="power-next").click()
    await user.should_see("Подтвердите ограничение")
    user.find(marker="power-apply").click()
    await user.should_see("дата уведомления — с 14.01.2026")  # the service's refusal, in Russian, in the form
    assert ui_registry.one("SELECT count(*) AS n FROM power_limitations")["n"] == 0
    _set(user, "power-notify-on", "2026-01-15")
    user.find(marker="power-next").click()
    await user.should_see("Абонент будет уведомлён через ЭК 15.01.2026, контроль 20.01.2026.")
    user.find(marker="power-apply").click()
    await user.should_see("Команда ограничения отправлена на реле")
    await user.should_see("команда отправляется")  # not "limited" before the device confirmed
    await user.should_see("долг 1\u00a0500,50 ₽")

    _edge_answers(ui_registry, "done")
    user.find(marker="power-refresh").click()
    await user.should_see("ограничено")
    user.find(marker=f"power-lift-{p1}").click()
    await user.should_see(marker="power-confirm")
    user.find(marker="power-lift-yes").click()
    await user.should_see("Команда снятия ограничения отправлена")
    await user.should_see("снятие: команда отправляется")

    await user.open(f"/service/power/premises/{p1}")
    await user.should_see("История ограничений: кв. 1, ул. Тестовая, 1")
    await user.should_see("Диспетчер Тест")
    _edge_answers(ui_registry, "failed")
    await user.open(f"/service/power/premises/{p1}")
    await user.should_see("снятие не выполнено")  # a failed lift: the relay still limits
    await user.should_see(marker=f"power-lift-{p1}")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_read_only_and_administrator_refused(power, ui_registry: Registry, user: User) -> None:
    with ui_registry.connect() as db:
        db.execute("INSERT INTO city_relay_thresholds (company_id, city_id, threshold_w, updated_at) "
                   "SELECT company_id, city_id, 4000, '2026-01-14T12:00:00+00:00' FROM buildings WHERE id = 1")
    await ui_login(user, "reader", "reader-pass")
    await user.should_see("Мониторинг")
    await user.open("/service/power")
    await user.should_see(marker=f"power-row-{power.premise_1}")
    await user.should_not_see(marker=f"power-start-{power.premise_1}")
    _set(user, "power-filter-state", "limited")
    await user.should_see("Нет помещений, подходящих под фильтр.")
    await user.open("/settings/relays")
    await user.should_see(marker=f"relays-city-value-{power.city_id}")
    await user.should_see("4\u00a0000")
    await user.should_not_see(marker="relays-save")
    await user.open(f"/service/power/premises/{power.premise_1}")
    await user.should_see("Ограничений потребления по помещению не было.")
    await user.open(f"/service/power/premises/{power.other_premise}")
    await user.should_see("Не найдено")

    await user.open("/logout")
    await ui_login(user, "admin", "admin-pass")
    await user.should_see(marker="users-table")
    for path in ("/service/power", f"/service/power/premises/{power.premise_1}", "/settings/relays"):
        await user.open(path)
        await user.should_see("Нет доступа")
