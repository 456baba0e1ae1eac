"""The page «Отчёты» (manual 4.3) as a user sees it (NiceGUI's simulated user over the real services,
registry and chDB), with reports of the tests' own in front of the real catalogue
(tests/support_reports_page.py): a form made from every kind of parameter, a report started, its
progress followed while another one is made, its file downloaded; a failing job's reason and a
bad parameter said next to the form in Russian; the real 4.3 reports listed by title without the
billing document; administrators refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_download import UserDownload
from openpyxl import load_workbook

from cloud.reports import catalogue
from cloud.storage.registry import Registry
from tests import cloud_data
from tests import support_reports_page as support
from tests.ui.conftest import login as ui_login

MAIN = pytest.mark.nicegui_main_file("tests/ui/ui_main.py")


@pytest.fixture(autouse=True)
def test_reports(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str | None]]:
    """The test reports in the service ui_main.py builds, a fresh gate, and downloads recorded
    (the simulated user would fetch a file path as a URL)."""
    monkeypatch.setattr("cloud.reports.service.SPECS", support.SPECS + catalogue.SPECS)
    support.reset_gate()
    downloads: list[tuple[Path, str | None]] = []

    def record(self: UserDownload, src: Any, filename: str | None = None, media_type: str = "") -> None:
        assert media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        downloads.append((Path(src), filename))
    monkeypatch.setattr(UserDownload, "__call__", record)
    return downloads


async def _open(user: User, path: str = "/reports", login: str = "disp") -> None:
    await ui_login(user, login, cloud_data.PASSWORDS[login])
    await user.should_see("Мониторинг")
    await user.open(path)


def _set(user: User, marker: str, value: Any) -> None:
    """Choose in a select (the simulated user's click does not reach its options)."""
    element = next(iter(user.find(marker=marker).elements))
    assert isinstance(element, ui.select | ui.checkbox | ui.input), element
    assert user.client is not None
    with user.client:
        element.value = value


def _options(user: User, marker: str) -> dict[Any, str]:
    element = next(iter(user.find(marker=marker).elements))
    assert isinstance(element, ui.select)
    return dict(element.options) if isinstance(element.options, dict) else {o: o for o in element.options}


@MAIN
async def test_a_report_made_from_every_kind_of_parameter(seeded: cloud_data.Seeded, ui_registry: Registry,
                                                          user: User, test_reports) -> None:
    await _open(user)
    await user.should_see("Отчёт со всеми параметрами")
    await user.should_see("Показывает каждый параметр так, как его прочёл отчёт.")
    assert _options(user, "reports-param-building") == {seeded.building_id: "ул. Тестовая, 1"}
    premises = {r["number"]: r["id"] for r in ui_registry.all(
        "SELECT id, number FROM premises WHERE building_id = ?", seeded.building_id)}
    assert sorted(_options(user, "reports-param-premise").values()) == ["1", "2"]
    meters = _options(user, "reports-param-meter")
    assert any(label.startswith("307T0001 · KARAT-307 · ОДПУ") for label in meters.values()), meters
    assert "Электроэнергия" in _options(user, "reports-param-resource").values()
    assert _options(user, "reports-param-choice") == {"sum": "Сумма", "mean": "Среднее"}
    # defaults: the month and day of the service's clock (2026-01-14), «Среднее», heat
    await user.should_see(marker="reports-param-month-month")
    assert _options(user, "reports-param-month-year")[2026] == "2026"

    meter = next(i for i, label in meters.items() if label.startswith("223T0002"))
    _set(user, "reports-param-premise", premises["2"])
    _set(user, "reports-param-meter", meter)
    _set(user, "reports-param-resource", "electricity")
    _set(user, "reports-param-month-month", 12)
    _set(user, "reports-param-month-year", 2025)
    _set(user, "reports-param-day", "2025-12-05")
    _set(user, "reports-param-choice", "sum")
    _set(user, "reports-param-flag", True)
    user.find(marker="reports-param-text").type("проверка")
    user.find(marker="reports-start").click()
    await user.should_see(marker="reports-download")
    await user.should_see(f"all_kinds_{seeded.building_id}_2025-12-01.xlsx")
    await user.should_see(marker="reports-mine")
    user.find(marker="reports-download").click()
    await _eventually(lambda: len(test_reports) == 1)
    path, name = test_reports[0]
    assert name == f"all_kinds_{seeded.building_id}_2025-12-01.xlsx"
    # two heading lines, an empty one, the header: the rows from row 5
    rows = {r[0]: r[1] for r in load_workbook(path)["Параметры"].iter_rows(min_row=5, values_only=True)}
    month, day = rows.pop("month"), rows.pop("day")
    assert (month.date().isoformat(), day.date().isoformat()) == ("2025-12-01", "2025-12-05")
    assert rows == {"building": "ул. Тестовая, 1", "premise": "2", "meter": "223T0002", "group": None,
                    "resource": "Электроэнергия", "choice": "sum", "text": "проверка", "flag": "да"}


@MAIN
async def test_progress_is_followed_while_another_report_is_made(seeded: cloud_data.Seeded, user: User,
                                                                 test_reports) -> None:
    await _open(user, "/reports?report=slow")
    await user.should_see("Ждёт, пока тест его не отпустит.")
    await user.should_see("Параметры не требуются.")
    user.find(marker="reports-start").click()
    await support.GATE.reached.wait()
    await user.should_see(marker="reports-progress")
    await user.should_see("обработано объектов: 1 из 2 · 45 %")
    await user.should_see("формируется")

    # the page stays usable: another report is chosen, made and downloaded while the slow one waits
    _set(user, "reports-type", "all_kinds")
    await user.should_see(marker="reports-param-building")
    user.find(marker="reports-start").click()
    await user.should_see(marker="reports-download")
    await user.should_see("формируется")  # the slow one, in «Мои отчёты»
    support.GATE.open.set()
    # both ready: «Мои отчёты» follows the slow one to its end and offers its file
    await _eventually(lambda: len([m for m in _markers(user) if m.startswith("reports-job-download-")]) == 2)
    await user.should_not_see("формируется")
    await user.should_see("Медленный отчёт")


async def _eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait for what an event handler does after the click returned (it awaits the service)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "it did not happen"
        await asyncio.sleep(0.05)


def _markers(user: User) -> list[str]:
    assert user.client is not None
    return [m for element in user.client.elements.values() for m in element._markers]


@MAIN
async def test_a_failing_report_says_why_in_russian(seeded: cloud_data.Seeded, user: User,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    await _open(user, "/reports?report=failing")
    user.find(marker="reports-start").click()
    await user.should_see("Отчёт не сформирован: meter 999 has no archive for the month")
    await user.should_see(marker="reports-failed")
    _set(user, "reports-param-how", "bug")
    user.find(marker="reports-start").click()
    await user.should_see("Отчёт не сформирован из-за внутренней ошибки; подробности — в журнале сервера.")
    await user.should_not_see("Traceback")
    assert any("RuntimeError: a bug in the report" in (r.exc_text or "") for r in caplog.records)
    caplog.clear()  # the trace belongs in the log; the user fixture fails a test on ERROR records


@MAIN
async def test_a_bad_parameter_is_said_next_to_the_form(seeded: cloud_data.Seeded, user: User) -> None:
    await _open(user, "/reports?report=all_kinds")
    await user.should_see(marker="reports-param-day")
    _set(user, "reports-param-day", "2025-12-31")  # before the default month, January 2026: the report's check
    user.find(marker="reports-start").click()
    await user.should_see("Параметр «Дата»: 2025-12-31 is before the month 2026-01")
    await user.should_not_see(marker="reports-current")  # nothing started
    _set(user, "reports-param-building", None)
    user.find(marker="reports-start").click()
    await user.should_see("Параметр «Объект»: обязательный, не задан.")
    _set(user, "reports-param-building", seeded.building_id)
    _set(user, "reports-param-day", "31.01.2026")  # typed by hand where the browser has no date picker
    user.find(marker="reports-start").click()
    await user.should_see("Параметр «Дата»: укажите дату с 01.01.2000 по 31.12.2100.")
    _set(user, "reports-param-day", "")  # empty: its default, today, applies
    _set(user, "reports-param-text", "я" * 301)
    user.find(marker="reports-start").click()
    await user.should_see("Параметр «Примечание»: at most 300 characters")
    _set(user, "reports-param-text", "")
    user.find(marker="reports-start").click()
    await user.should_see(marker="reports-download")
    await user.should_not_see(marker="reports-error")


@MAIN
async def test_the_real_reports_are_listed_by_title(seeded: cloud_data.Seeded, user: User) -> None:
    await _open(user, "/reports?report=billing_document", login="reader")
    await user.should_see("Неверный параметр «report»: billing_document")
    titles = list(_options(user, "reports-type").values())
    real = [s.title for s in catalogue.SPECS if s.key in catalogue.REPORT_KEYS]
    assert len(real) == 12
    assert titles == [s.title for s in support.SPECS] + real  # the manual's order
    assert "Отчётный документ для биллинга (ГИС ЖКХ)" not in titles
    for key in catalogue.REPORT_KEYS:  # each real report's form is drawn from its parameters, preselected
        await user.open(f"/reports?report={key}")
        await user.should_see(marker="reports-start")
        assert next(iter(user.find(marker="reports-type").elements)).value == key


@MAIN
async def test_an_administrator_is_refused(seeded: cloud_data.Seeded, user: User) -> None:
    await ui_login(user, "admin", cloud_data.PASSWORDS["admin"])
    await user.should_see(marker="logout")
    await user.open("/reports")
    await user.should_see("Нет доступа")
    await user.should_not_see(marker="reports-type")
