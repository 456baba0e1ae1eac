"""Balance groups as a user sees them (manual 4.6.6 and 4.1.8), over the real services, registry
and chDB: the dispatcher builds a group in the editor (name, resource, root, signs for selected
meters from the column header, the apartment-range filter and its reset, removing a meter, Russian
validation messages), sees its consumption and imbalance, deletes it after a confirmation; a
reader sees everything read-only; an administrator gets the forbidden page.

Numbers (tests.cloud_data, days derived from hourly archives): building meter 307T0001 0.84 Gcal a
day, apartment 1 223T0001 0.24; on 2026-01-11 root 0.84 − (+0.24) = 0.60 Gcal = 71.4 % of the root.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.registry import Registry
from protocol.vocabulary import Resource
from tests import support_register as sr
from tests.ui.conftest import login


def _set(user: User, marker: str, value: object) -> None:
    element = user.find(marker=marker).elements.pop()
    element.set_value(value)  # type: ignore[attr-defined]


def _group_rows(registry: Registry) -> list[tuple[str, str]]:
    return [(r["serial"], r["sign"]) for r in registry.all(
        "SELECT m.serial, g.sign FROM balance_group_members g JOIN meters m ON m.id = g.meter_id ORDER BY m.serial")]


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_builds_a_group_sees_it_and_deletes_it(seeded, user: User) -> None:
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    ids = sr.meter_ids(registry)
    await login(user, "disp", "disp-pass")
    await user.should_see("Объекты")
    settings = f"/settings/buildings/{seeded.building_id}/groups"
    await user.open(settings)
    await user.should_see("Балансовых групп нет.")
    await user.should_see(marker="settings-menu")
    user.find(marker="groups-add").click()
    await user.should_see("Новая балансовая группа")
    user.find(marker="groups-save").click()
    await user.should_see("Укажите название группы.")
    user.find(marker="groups-name").type("Стояк А")
    _set(user, "groups-resource", Resource.HEAT)
    await user.should_see("Выберите корневой прибор учёта (приборов этого ресурса: 3).")
    _set(user, "groups-root", ids["307T0001"])
    await user.should_see(marker="groups-member-223T0001")
    await user.should_not_see(marker="groups-member-307T0001")  # the root is no child

    # apartments 2..2 only, then the filter reset
    _set(user, "groups-range-from", 2)
    _set(user, "groups-range-to", 2)
    user.find(marker="groups-range-apply").click()
    await user.should_see("Квартиры 2–2")
    await user.should_not_see(marker="groups-member-223T0001")
    await user.should_see(marker="groups-member-223T0002")
    user.find(marker="groups-range-reset").click()
    await user.should_see(marker="groups-member-223T0001")

    # both selected, "−" from the column header; then apartment 1 to "+", apartment 2 removed
    user.find(marker="groups-select-223T0001").click()
    user.find(marker="groups-select-223T0002").click()
    user.find(marker="groups-bulk-minus").click()
    await user.should_see("В группе дочерних приборов: 2")
    assert user.find(marker="groups-sign-223T0002").elements.pop().value == "-"
    _set(user, "groups-sign-223T0001", "+")
    user.find(marker="groups-remove-223T0002").click()
    await user.should_see("В группе дочерних приборов: 1")
    user.find(marker="groups-save").click()
    await user.should_see("Балансовая группа сохранена.")
    assert _group_rows(registry) == [("223T0001", "+")]
    group_id = registry.one("SELECT id FROM balance_groups")["id"]
    await user.should_see(marker=f"groups-row-{group_id}")

    # the same name again: refused in Russian
    user.find(marker="groups-add").click()
    await user.should_see("Новая балансовая группа")
    user.find(marker="groups-name").type("стояк а")
    _set(user, "groups-resource", Resource.HEAT)
    await user.should_see("Выберите корневой прибор учёта (приборов этого ресурса: 3).")
    _set(user, "groups-root", ids["307T0001"])
    user.find(marker="groups-save").click()
    await user.should_see("Группа с таким названием у объекта уже есть.")
    user.find(marker="groups-cancel").click()

    # 4.1.8: the group's days of January 2026
    await user.open(f"/buildings/{seeded.building_id}/groups?granularity=day&period=2026-01-01")
    await user.should_see("Балансовые группы объекта")
    await user.should_see(marker="groups-chart")
    await user.should_see(marker="building-menu")
    table = user.find(marker="groups-periods").elements.pop()
    assert isinstance(table, ui.table)
    rows = {r["period"]: r for r in table.rows}
    assert (rows["11.01.2026"]["root"], rows["11.01.2026"]["children"], rows["11.01.2026"]["imbalance"],
            rows["11.01.2026"]["pct"]) == ("0,840", "0,240", "0,600", "71,4")
    assert rows["10.01.2026"]["root"] == "–*"  # no reading at the end of Jan 9
    await user.should_see("корневой")
    await user.open(f"/buildings/{seeded.building_id}/groups?granularity=day&period=2025-06-01")
    await user.should_see("Нет данных за выбранный период.")

    # deleting asks first
    await user.open(settings)
    user.find(marker=f"groups-del-{group_id}").click()
    await user.should_see("Удалить балансовую группу «Стояк А»?")
    user.find(marker="groups-confirm-delete").click()
    await user.should_see("Балансовая группа удалена.")
    assert registry.one("SELECT count(*) AS n FROM balance_groups")["n"] == 0


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_read_only_and_admin_refused(seeded, user: User) -> None:
    registry = Registry(Path(os.environ["DU_TEST_REGISTRY"]))
    ids = sr.meter_ids(registry)
    with registry.connect() as db:
        group_id = db.execute("INSERT INTO balance_groups (building_id, name, resource, root_meter_id, created_at) "
                              "VALUES (?, 'Стояк', 'heat', ?, '2026-01-14T12:00:00+00:00')",
                              (seeded.building_id, ids["307T0001"])).lastrowid
        db.execute("INSERT INTO balance_group_members VALUES (?, ?, '+')", (group_id, ids["223T0001"]))
    await login(user, "reader", "reader-pass")
    await user.should_see("Объекты")
    await user.open(f"/settings/buildings/{seeded.building_id}/groups")
    await user.should_see("Только просмотр: изменять балансовые группы может диспетчер.")
    await user.should_not_see(marker="groups-add")
    await user.should_not_see(marker=f"groups-del-{group_id}")
    user.find(marker=f"groups-edit-{group_id}").click()
    await user.should_see(marker="groups-member-223T0001")
    await user.should_not_see(marker="groups-save")
    await user.should_not_see(marker="groups-bulk-plus")
    assert not user.find(marker="groups-sign-223T0001").elements.pop().enabled
    await user.open(f"/buildings/{seeded.building_id}/groups?granularity=day&period=2026-01-01")
    await user.should_see(marker="groups-chart")
    await user.should_see("Выберите группу")
    await user.open("/logout")
    await login(user, "admin", "admin-pass")
    await user.should_see("Пользователи")
    for path in (f"/settings/buildings/{seeded.building_id}/groups", f"/buildings/{seeded.building_id}/groups"):
        await user.open(path)
        await user.should_see("Нет доступа")
    assert registry.one("SELECT count(*) AS n FROM balance_group_members")["n"] == 1
