"""The deviation monitoring page (manual 4.2.1) and its settings (4.6.7) as a user sees them
(NiceGUI's simulated user over the real services, registry and chDB; the services' clock is
tests.cloud_data.NOW = 2026-01-14 12:00 UTC = 15:00 Moscow).

The archive rows: tests/support_deviations.py - 307T0001 used 0.035 Gcal every hour of Jan 11..13
and 0.050 Gcal in the hour 14:00-15:00 of Jan 14, the last closed hour of today: 0.015 = 42.86 %
above the mean 0.035, beyond an allowed 40 % (0.014).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_deviations
from tests.ui.conftest import login as ui_login

R = 100  # should_see retries (0.1 s apart)
PAGE = "/monitoring/deviations"


async def _login(user: User, login: str, password: str) -> None:
    await ui_login(user, login, password)
    await user.should_see("Мониторинг", retries=R)


def _only(user: User, marker: str):
    found = user.find(marker=marker).elements
    assert len(found) == 1, marker
    return next(iter(found))


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_sets_a_rule_and_sees_the_violation(seeded: cloud_data.Seeded, clickhouse: ClickHouse,
                                                             user: User) -> None:
    support_deviations.extend(clickhouse, seeded.company_id)
    await _login(user, "disp", "disp-pass")
    await user.open(PAGE)
    await user.should_see("Мониторинг отклонений", retries=R)
    await user.should_see("Период: 14.01.2026 14:00–15:00 · нарушений: 0", retries=R)  # the last hour of today
    await user.should_see("Мониторинг отключён — не задано ни одного правила (объектов: 1):", retries=R)  # default
    await user.should_see(marker=f"deviations-configure-{seeded.building_id}", retries=R)

    b = seeded.building_id
    await user.open(f"/settings/buildings/{b}/deviations")
    await user.should_see("Настройка допустимых отклонений для мониторинга", retries=R)
    await user.should_see(marker="settings-menu", retries=R)
    for parameter in ("Q", "V1", "V2", "T1", "T2"):
        await user.should_see(marker=f"rule-heat-{parameter}", retries=R)
    # the mnemonic's description on hover (the tooltip of the info icon)
    await user.should_see("Тепловая энергия, Гкал", kind=ui.tooltip, retries=R)
    assert _only(user, "rule-enabled-heat-Q").value is False
    user.find(marker="rule-enabled-heat-Q").click()
    _only(user, "rule-tolerance-heat-Q").value = 40
    user.find(marker="rule-save-heat-Q").click()
    await user.should_see("Сохранено: Q", retries=R)
    await user.should_see("Изменено: disp", retries=R)
    user.find(marker="rule-enabled-heat-V1").click()  # V1 is not in the archive: "нет данных"
    user.find(marker="rule-save-heat-V1").click()
    await user.should_see("Сохранено: V1", retries=R)
    # a constant rule without its constant is refused before it is sent
    _only(user, "rule-kind-heat-T1").value = "constant"
    user.find(marker="rule-save-heat-T1").click()
    await user.should_see("Для правила «от константы» укажите константу", retries=R)

    await user.open(PAGE)
    await user.should_see("Период: 14.01.2026 14:00–15:00 · нарушений: 1", retries=R)
    await user.should_not_see(marker="deviations-off")
    tile = "deviation-307T0001-Q-2026011414"
    await user.should_see(marker=tile, retries=R)
    await user.should_see("0,050 Гкал", retries=R)
    await user.should_see("от среднего за 3 дня: ±40 %", retries=R)
    await user.should_see("V1: нет данных (14:00)", retries=R)
    await user.should_not_see(marker="deviations-meter-223T0001")  # apartment meters are not monitored
    user.find(marker=tile).click()
    await user.should_see("Отклонение параметра Q", retries=R)
    await user.should_see("Среднее за три предыдущих дня", retries=R)
    await user.should_see("+0,015 Гкал (+42,86 %)", retries=R)
    await user.should_see("±40 % (0,014 Гкал)", retries=R)

    # another period: every hour of the day - the one violation stays, the unclosed hours are not checked
    _only(user, "deviations-hour").value = "all"
    await user.should_see("Период: 14.01.2026 00:00–24:00 · нарушений: 1", retries=R)
    # the day before: no violation of Q
    await user.open(f"{PAGE}?kind=hour&day=2026-01-13&hour=10")
    await user.should_see("Период: 13.01.2026 10:00–11:00 · нарушений: 0", retries=R)
    await user.should_see("Отклонений нет", retries=R)
    # the meter number opens the meter's page
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    meter_id = registry.one("SELECT id FROM meters WHERE serial = '307T0001'")["id"]
    link = next(iter(user.find("№ 307T0001").elements))
    assert isinstance(link, ui.link)
    assert link.props["href"] == f"/meters/{meter_id}"
    # the daily archive: yesterday (today has not ended)
    _only(user, "deviations-kind").value = "day"
    await user.should_see("Период: 13.01.2026 · нарушений: 0", retries=R)


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_read_only_and_administrator_refused(seeded: cloud_data.Seeded, user: User) -> None:
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    b = seeded.building_id
    await _login(user, "reader", "reader-pass")
    await user.open(f"/settings/buildings/{b}/deviations")
    await user.should_see("Только просмотр: изменять настройки может диспетчер.", retries=R)
    await user.should_not_see(marker="rule-save-heat-Q")
    switch = _only(user, "rule-enabled-heat-Q")
    assert isinstance(switch, ui.switch)
    assert not switch.enabled
    user.find(marker="rule-enabled-heat-Q").click()  # disabled: nothing happens, nothing is stored
    assert registry.one("SELECT count(*) AS n FROM deviation_rules")["n"] == 0
    await user.open(PAGE)
    await user.should_see("Мониторинг отклонений", retries=R)
    await user.open(f"/settings/buildings/{seeded.other_building_id}/deviations")
    await user.should_see("Не найдено", retries=R)
    await user.open("/logout")

    await ui_login(user, "admin", "admin-pass")
    await user.should_see(marker="logout", retries=R)
    for path in (PAGE, f"/settings/buildings/{b}/deviations"):
        await user.open(path)
        await user.should_see("Нет доступа", retries=R)
        await user.should_not_see("Мониторинг отклонений")
