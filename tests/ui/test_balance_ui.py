"""The pages of the building balance as a user sees them (NiceGUI's simulated user over the real
services, registry and chDB): 4.1.2 with its horizontal menu and the period rule, 4.1.3 meter tiles
with the «активный» switch, 4.1.4 consumption by premises, and 4.6.5 moving a meter between the
added / subtracted / left-out columns (a dispatcher; a reader sees them read-only; an administrator
none of it).

Data: tests/cloud_data.py; "now" is Jan 14 15:00 Moscow (ui_main sets cloud_data.NOW).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.registry import Registry
from tests.ui.conftest import login

R = 100  # should_see retries (0.1 s apart)
DAY_VIEW = "resource=heat&granularity=day&period=2026-01-01"


def _registry() -> Registry:
    return Registry(Path(os.environ["DU_TEST_REGISTRY"]))


def _table_rows(user: User, marker: str) -> dict[str, dict]:
    table = user.find(marker=marker).elements.pop()
    assert isinstance(table, ui.table)
    return {row["key"][:10]: row for row in table.rows}


def _texts(user: User, marker: str) -> list[str]:
    """The label texts inside the element marked ``marker``."""
    (element,) = user.find(marker=marker).elements
    return [e.text for e in element.descendants() if isinstance(e, ui.label | ui.link)]


async def _signed_in(user: User, name: str, password: str) -> None:
    await login(user, name, password)
    await user.should_see("ул. Тестовая, 1", retries=R)  # the landing page: the login's navigation is done


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_building_page_menu_and_the_period_rule(seeded, user: User) -> None:
    await _signed_in(user, "disp", "disp-pass")
    await user.open(f"/buildings/{seeded.building_id}?{DAY_VIEW}")
    await user.should_see("Потребление ресурса по объекту", retries=R)
    for target in ("/premises", "/meters", "/register", "/groups"):
        await user.should_see(marker=f"menu{target}")
    # January on Jan 14: Jan 10 lacks the building's opening reading, Jan 11-12 apartment 2, nothing
    # arrived for Jan 13 and Jan 14 is today: the month's imbalance is «–*», and the hint says why
    kpi = _texts(user, "kpi-imbalance")
    assert "–*" in kpi
    assert any("неполные данные" in text and "14.01.2026 (идёт сейчас)" in text for text in kpi)
    await user.should_see(marker="premises")  # the premise links stay on the building page
    await user.should_not_see(marker="meter-307T0001")  # the tiles moved to 4.1.3
    premise_1 = _registry().one("SELECT id FROM premises WHERE building_id = ? AND number = '1'", seeded.building_id)
    links = [e for e in user.find(marker="premises").elements.pop().descendants() if isinstance(e, ui.link)]
    assert f"/premises/{premise_1['id']}" in {link.props.get("href") for link in links}


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_meter_tiles_and_the_active_switch(seeded, user: User) -> None:
    registry = _registry()
    with registry.connect() as db:  # apartment 2's meter taken out of service on Jan 13
        db.execute("UPDATE meters SET status = 'decommissioned', decommissioned_at = ? WHERE serial = '223T0002'",
                   (datetime(2026, 1, 13, tzinfo=UTC).isoformat(),))
    await _signed_in(user, "disp", "disp-pass")
    await user.open(f"/buildings/{seeded.building_id}/meters")
    await user.should_see("Приборы учета объекта", retries=R)
    await user.should_see(marker="menu/meters")
    await user.should_see(marker="meter-307T0001")
    await user.should_see(marker="meter-223T0001")
    await user.should_not_see(marker="meter-223T0002")  # «активный» on: no decommissioned meters
    await user.should_see("Скрыто выведенных из эксплуатации: 1")
    await user.should_see(marker="status-in_service")
    user.find(marker="active-switch").click()
    await user.should_see(marker="meter-223T0002")
    await user.should_see(marker="status-decommissioned")
    await user.should_see(marker="premise-block-2")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_consumption_by_premises(seeded, user: User) -> None:
    await _signed_in(user, "disp", "disp-pass")
    await user.open(f"/buildings/{seeded.building_id}/premises?resource=heat&granularity=day&period=2026-01-11")
    await user.should_see("Потребление в разрезе помещений объекта", retries=R)
    await user.should_see(marker="premises-absolute-chart")
    await user.should_see(marker="premises-specific-chart")
    await user.should_see(marker="premises-share-chart")
    cells = _texts(user, "premises-table")
    # apartment 1: 0.24 Gcal, 0.24 / 50 m² = 0,0048, 0.24 / 0.84 = 28.57 % -> «28,6»
    first = cells.index("223T0001") - 1
    assert cells[first:first + 5] == ["1", "223T0001", "0,240", "0,0048", "28,6"]
    # apartment 2: its meter misses the reading at the end of Jan 11: «–*», never 0
    second = cells.index("223T0002") - 1
    assert cells[second:second + 5] == ["2", "223T0002", "–*", "–*", "–*"]
    assert "0,240*" in " ".join(_texts(user, "kpi-premises"))  # Σ of the premises: the known part
    # a month: the building meter lacks the readings at the end of December, so no shares, said so
    await user.open(f"/buildings/{seeded.building_id}/premises?resource=heat&granularity=month&period=2026-01-01")
    await user.should_see("Доли не рассчитаны", retries=R)
    # a day before any data: «нет данных», not an empty chart
    await user.open(f"/buildings/{seeded.building_id}/premises?resource=heat&granularity=day&period=2025-12-01")
    await user.should_see("Нет данных за выбранный период.", retries=R)


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_moves_a_meter_out_of_the_balance(seeded, user: User) -> None:
    await _signed_in(user, "disp", "disp-pass")
    await user.open(f"/settings/buildings/{seeded.building_id}/balance")
    await user.should_see("Приборы: расчёт баланса", retries=R)
    await user.should_see(marker="settings-menu")
    assert "223T0002" in _texts(user, "column-plus")
    user.find(marker="to-excluded-223T0002").click()
    await user.should_see("Прибор 223T0002: Не участвуют в расчётах", retries=R)
    assert "223T0002" in _texts(user, "column-excluded")
    assert "223T0002" not in _texts(user, "column-plus")
    registry = _registry()
    assert registry.one("SELECT balance_sign FROM meters WHERE serial = '223T0002'")["balance_sign"] == "excluded"
    assert registry.one("SELECT count(*) AS n FROM audit_log WHERE action = 'meter.balance_sign'")["n"] == 1
    # the building page now balances apartment 1 alone: Jan 11 0.84 - 0.24 = 0.60 Gcal, 71.4 %
    await user.open(f"/buildings/{seeded.building_id}?{DAY_VIEW}")
    await user.should_see("Потребление ресурса по объекту", retries=R)
    rows = _table_rows(user, "consumption-table")
    assert (rows["2026-01-11"]["apartments"], rows["2026-01-11"]["imbalance"]) == ("0,240", "0,600")
    assert rows["2026-01-11"]["imbalance_pct"] == "71,4"
    await user.should_see(marker="sign-note")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_reader_sees_the_signs_read_only(seeded, user: User) -> None:
    await _signed_in(user, "reader", "reader-pass")
    await user.open(f"/settings/buildings/{seeded.building_id}/balance")
    await user.should_see("Только просмотр: привязку приборов меняет диспетчер.", retries=R)
    assert "223T0002" in _texts(user, "column-plus")
    await user.should_not_see(marker="to-excluded-223T0002")
    await user.should_not_see(marker="to-minus-223T0001")
    await user.open(f"/buildings/{seeded.building_id}/premises")
    await user.should_see("Потребление в разрезе помещений объекта", retries=R)


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_and_another_company_get_none_of_it(seeded, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see("Пользователи", retries=R)
    for path in (f"/buildings/{seeded.building_id}/premises", f"/buildings/{seeded.building_id}/meters",
                 f"/settings/buildings/{seeded.building_id}/balance"):
        await user.open(path)
        await user.should_see("Этот раздел недоступен для вашей роли.", retries=R)
        await user.should_not_see("ул. Тестовая, 1")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_another_company_building_is_not_found(seeded, user: User) -> None:
    await _signed_in(user, "disp", "disp-pass")
    for path in (f"/buildings/{seeded.other_building_id}/premises", f"/buildings/{seeded.other_building_id}/meters",
                 f"/settings/buildings/{seeded.other_building_id}/balance", "/buildings/abc/premises"):
        await user.open(path)
        await user.should_see("Объект не найден или недоступен.", retries=R)
        await user.should_not_see("ул. Чужая, 2")


def test_premises_charts_show_missing_as_gaps_and_partial_as_marked() -> None:
    """The 4.1.4 charts: a premise with nothing known is a gap (never 0), a partial one a pale bar
    flagged for the tooltip's «*»; the share chart carries the service's percentages."""
    from datetime import date as day

    from cloud.services.balance import PremiseFigures, PremisesConsumption
    from cloud.services.models import BuildingSummary, Figure, Granularity, PremiseInfo
    from protocol.vocabulary import Resource
    from ui import charts

    building = BuildingSummary(1, "ул. Тестовая, 1", "Казань", "Europe/Moscow", 120.0, 5, 3, 3)

    def row(number: str, figure: Figure, specific: float | None, share: float | None) -> PremiseFigures:
        premise = PremiseInfo(int(number), 1, number, "apartment", 50.0, 2, "")
        return PremiseFigures(premise, (f"M{number}",), figure, specific, None if specific is not None else "no_value",
                              share, None if share is not None else "premise_incomplete")

    data = PremisesConsumption(
        building, Resource.HEAT, "Gcal", "area", Granularity.DAY, day(2026, 1, 11), datetime(2026, 1, 11), True,
        Figure(0.84, 1, 1), Figure(0.5, 3, 2), (row("1", Figure(0.24, 1, 1), 0.0048, 28.57),
                                                row("2", Figure(None, 1, 0), None, None),
                                                row("3", Figure(0.26, 2, 1), 0.0052, None)), 0, (Resource.HEAT,))
    absolute = charts.premises_absolute(data, "Потребление")["series"][0]["data"]
    assert absolute[0] == 0.24
    assert absolute[1] is None
    assert absolute[2]["partial"] is True
    assert absolute[2]["value"] == 0.26
    specific = charts.premises_specific(data, "Гкал/м²", "Удельное")
    assert specific["series"][0]["data"][:2] == [0.0048, None]
    assert specific["xAxis"]["data"] == ["1", "2", "3"]
    assert charts.premises_share(data, "Доля")["series"][0]["data"] == [28.57, None, None]
