"""The page «Нормативы потребления» (/settings/norms, the norms of manual 4.3.3) as a user sees it (NiceGUI's
simulated user over the real services, registry and chDB): a dispatcher sets the company's norm (a decimal
comma accepted, a value out of bounds refused in Russian beside its field) and a building's own, which is
then in force; a reader sees the values read-only; an administrator is refused."""

from __future__ import annotations

import json

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.seed import UserSeed, seed_company
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.ui.conftest import login as ui_login

MAIN = "tests/ui/ui_main.py"


@pytest.fixture
def norms_world(seeded: cloud_data.Seeded, ui_registry: Registry) -> cloud_data.Seeded:
    """The seeded registry with an engineer besides."""
    seed_company(ui_registry, "УК Тест", "Казань", (UserSeed("eng", "Инженер Тест", "engineer", "eng-pass"),))
    return seeded


def _type(user: User, marker: str, value: str) -> None:
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.input)
    assert user.client is not None
    with user.client:
        element.value = value


@pytest.mark.nicegui_main_file(MAIN)
async def test_dispatcher_sets_company_and_building_norms(norms_world, ui_registry: Registry, user: User) -> None:
    building = norms_world.building_id
    await ui_login(user, "disp", "disp-pass")
    await user.should_see("Мониторинг")
    await user.open("/settings/norms")
    await user.should_see("Нормативы потребления")
    await user.should_see("Гкал на м² в месяц")
    await user.should_see("м³ на человека в месяц")
    await user.should_see("кВт·ч на человека в месяц")
    _type(user, "norms-input-heat", "5")  # above the maximum of 1 Gcal per m²
    user.find(marker="norms-save-heat").click()
    await user.should_see("Введите число больше 0 и не больше 1")
    _type(user, "norms-input-heat", "0,0185")
    user.find(marker="norms-save-heat").click()
    await user.should_see("Норматив сохранён")
    assert ui_registry.one("SELECT value FROM consumption_norms WHERE building_id IS NULL AND resource = 'heat'"
                           )["value"] == pytest.approx(0.0185)
    await user.open(f"/settings/norms?building={building}")
    await user.should_see(marker="norms-in-force-heat")
    await user.should_see("Действует: 0,0185 (компании)")
    _type(user, "norms-input-cold_water", "4,5")
    user.find(marker="norms-save-cold_water").click()
    await user.should_see("Действует: 4,5 (объекта)")
    audit = ui_registry.all("SELECT action, object, after FROM audit_log WHERE action LIKE 'consumption_norm.%' "
                            "ORDER BY id")
    assert [(r["action"], r["object"], json.loads(r["after"])) for r in audit] == [
        ("consumption_norm.set", f"company:{norms_world.company_id}", {"resource": "heat", "value": 0.0185}),
        ("consumption_norm.set", f"building:{building}", {"resource": "cold_water", "value": 4.5})]
    user.find(marker="norms-clear-cold_water").click()
    await user.should_see("Норматив сброшен")
    await user.should_see("Действует: не задан")


@pytest.mark.nicegui_main_file(MAIN)
async def test_reader_reads_only(norms_world, ui_registry: Registry, user: User) -> None:
    with ui_registry.connect() as db:
        db.execute("INSERT INTO consumption_norms (company_id, building_id, resource, value, updated_at) "
                   "VALUES (?, NULL, 'electricity', 90, '2026-01-14T12:00:00+00:00')", (norms_world.company_id,))
    await ui_login(user, "reader", "reader-pass")
    await user.should_see("Мониторинг")
    await user.open("/settings/norms")
    await user.should_see("Нормативы меняет диспетчер.")
    await user.should_see("Норматив компании: 90")
    await user.should_not_see(marker="norms-save-electricity")
    await user.should_not_see(marker="norms-input-heat")


@pytest.mark.nicegui_main_file(MAIN)
async def test_administrator_is_refused(norms_world, user: User) -> None:
    await ui_login(user, "admin", "admin-pass")
    await user.should_see("Пользователи")
    await user.open("/settings/norms")
    await user.should_see("Нет доступа")
