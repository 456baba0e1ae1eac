"""The pages «Приборы» (4.5.1), «Информационно-измерительные каналы ПУ» (4.5.3) and «Поверка» (4.5.4) as a
user sees them (NiceGUI's simulated user over the real services, registry and chDB; rows of
tests/support_service_meters.py, today 2026-01-14): tiles grouped by premise and filtered, «Добавить ПУ»
for a service engineer only, a composite channel added and a binding changed after a confirmation, a
refusal worded in Russian next to the form, overdue verifications marked in the list and the calendar;
readers read-only, administrators refused."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.registry import Registry
from tests import cloud_data, support_service_meters
from tests.support_service_meters import ServiceIds
from tests.ui.conftest import login as ui_login


async def _login(user: User, login: str, password: str) -> None:
    await ui_login(user, login, password)
    await user.should_see("Мониторинг")


@pytest.fixture
def ids(seeded: cloud_data.Seeded, ui_registry: Registry) -> ServiceIds:
    return support_service_meters.seed_service(ui_registry, seeded)


def _set(user: User, marker: str, value: object) -> None:
    """Set a select's value as a choice would (the simulated user's click does not reach its options)."""
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.select | ui.toggle | ui.checkbox)
    assert user.client is not None
    with user.client:
        element.value = value


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_meters_grouped_by_premise_and_filtered(ids: ServiceIds, seeded: cloud_data.Seeded,
                                                      user: User) -> None:
    await _login(user, "disp", "disp-pass")
    await user.open("/service/meters")
    await user.should_see("Приборы")
    await user.should_see(marker=f"sm-group-common-{seeded.building_id}")
    await user.should_see(marker=f"sm-group-premise-{ids.premise10}")
    await user.should_see("Показано приборов: 4 из 4")
    await user.should_see("Поверка просрочена: 01.12.2025")  # 223T0001
    await user.should_not_see("307X0001")  # another company's
    await user.should_not_see(marker="service-meters-add")  # a dispatcher adds no meter
    link = user.find(marker="sm-open-307T0001").elements.pop()
    assert isinstance(link, ui.link)
    assert link.props["href"] == f"/service/meters/{ids.m307}"

    _set(user, "sm-f-line", ["lora"])
    await user.should_see("Показано приборов: 2 из 2")
    await user.should_not_see(marker="sm-tile-307T0001")
    _set(user, "sm-f-active", "yes")
    await user.should_see("Показано приборов: 1 из 1")
    await user.should_see(marker="sm-tile-223T0001")
    _set(user, "sm-f-active", "all")
    _set(user, "sm-f-line", ["tcp", "gprs", "lora"])  # all = none
    await user.should_see("Показано приборов: 4 из 4")
    _set(user, "sm-f-model", ["KARAT-307"])
    await user.should_see("Показано приборов: 1 из 1")
    user.find(marker="sm-f-reset").click()
    await user.should_see("Показано приборов: 4 из 4")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_engineer_may_add_a_meter_administrator_refused(ids: ServiceIds, user: User) -> None:
    await _login(user, "eng", "eng-pass")
    await user.open("/service/meters")
    await user.should_see(marker="service-meters-add")
    add = user.find(marker="service-meters-add").elements.pop()
    assert isinstance(add, ui.link)
    assert add.props["href"] == "/service/meters/new"
    await user.open(f"/service/meters/{ids.m307}/channels")
    await user.should_see("Настройка ИИК доступна диспетчеру.")
    await user.should_not_see(marker="sm-add-channel")
    await user.should_see(marker="sm-add-sensor")  # sensor passports: dispatcher or engineer

    await user.open("/logout")
    await ui_login(user, "admin", "admin-pass")
    await user.should_see(marker="users-table")
    for path in ("/service/meters", f"/service/meters/{ids.m307}/channels", "/service/verification"):
        await user.open(path)
        await user.should_see("Нет доступа")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_adds_a_composite_channel_after_confirmation(ids: ServiceIds, ui_registry: Registry,
                                                                      user: User) -> None:
    await _login(user, "disp", "disp-pass")
    await user.open(f"/service/meters/{ids.m307}/channels")
    await user.should_see("Информационно-измерительные каналы ПУ 307T0001")
    await user.should_see("У прибора нет информационно-измерительных каналов.")
    await user.should_see(marker="sm-sensor-FT-1")

    # a simple channel whose instrument registers another quantity: refused, in Russian, next to the form
    user.find(marker="sm-add-channel").click()
    await user.should_see(marker="sm-channel-dialog")
    _set(user, "sm-channel-resource", "heat:1")
    _set(user, "sm-channel-parameter", "V2")
    _set(user, f"sm-member-{ids.ft1}", True)
    _set(user, f"sm-member-q-{ids.ft1}", "V1")
    user.find(marker="sm-channel-save").click()
    await user.should_see(marker="sm-confirm")
    user.find(marker="sm-confirm-yes").click()
    await user.should_see("должно регистрировать его параметр V2, а не V1")
    assert ui_registry.one("SELECT COUNT(*) AS n FROM measuring_channels")["n"] == 0

    # Q from V1, T1, T2: composite; saved only after «Подтвердить»
    _set(user, "sm-channel-parameter", "Q")
    for sensor, quantity in ((ids.ts1, "T1"), (ids.ts2, "T2")):
        _set(user, f"sm-member-{sensor}", True)
        _set(user, f"sm-member-q-{sensor}", quantity)
    user.find(marker="sm-channel-save").click()
    await user.should_see(marker="sm-confirm-text")
    await user.should_see("FT-1 — V1")
    user.find(marker="sm-confirm-yes").click()
    await user.should_see("Канал сохранён")
    channel = ui_registry.one("SELECT id FROM measuring_channels WHERE parameter = 'Q'")["id"]
    await user.should_see(marker=f"sm-channel-kind-{channel}-composite")
    assert ui_registry.one("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'measuring_channel.create'")["n"] == 1

    # the sensor tile shows its channels; unbinding TS-2 is confirmed, then Q keeps two instruments
    user.find(marker="sm-sensor-TS-2").click()
    await user.should_see(marker="sm-binding")
    _set(user, f"sm-bind-{channel}", False)
    user.find(marker="sm-bind-save").click()
    await user.should_see("Привязать датчик TS-2 к каналам: ни к одному?")
    user.find(marker="sm-confirm-yes").click()
    await user.should_see("Привязка сохранена")
    assert ui_registry.one("SELECT COUNT(*) AS n FROM measuring_channel_sensors")["n"] == 2


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_sees_channels_read_only(ids: ServiceIds, user: User) -> None:
    await _login(user, "reader", "reader-pass")
    await user.open(f"/service/meters/{ids.m307}/channels")
    await user.should_see(marker="sm-sensor-TS-1")
    await user.should_not_see(marker="sm-add-channel")
    await user.should_not_see(marker="sm-add-sensor")
    await user.open(f"/service/meters/{ids.other}/channels")  # another company's meter
    await user.should_see("Не найдено")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_verification_list_and_calendar(ids: ServiceIds, user: User) -> None:
    await _login(user, "reader", "reader-pass")
    await user.open("/service/verification")
    await user.should_see("Поверка")
    # January 2026 (today's month): 223T0001 and FT-1 overdue, TS-1 due today, 307T0001 on the 20th
    await user.should_see("Предстоит поверок: 4, из них просрочено: 2")
    await user.should_see(marker="verification-row-223T0001-meter-overdue")
    await user.should_see(marker="verification-row-307T0001-FT-1-overdue")
    await user.should_see(marker="verification-row-307T0001-TS-1")
    await user.should_not_see(marker="verification-row-307T0001-TS-1-overdue")
    await user.should_not_see("926X0010")  # decommissioned
    _set(user, "vf-kind", ["sensor"])
    await user.should_see("Предстоит поверок: 2, из них просрочено: 1")

    _set(user, "verification-view", "calendar")
    await user.should_see("2026 год: 3")  # sensors only: FT-1, TS-1 in January, TS-2 in February
    _set(user, "vf-kind", [])
    await user.should_see("2026 год: 5")
    await user.should_see("Просрочено с более ранними датами: 1 — см. список.")
    user.find(marker="verification-month-1").click()
    await user.should_see("Январь 2026: 3")
    user.find(marker="verification-day-13").click()
    await user.should_see("Поверки на 13.01.2026")
    await user.should_see(marker="verification-item-307T0001-FT-1")
    await user.should_see("По моделям: KARAT-307: 1")
