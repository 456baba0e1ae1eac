"""A report's two forms (cloud/reports/table.py, cloud/reports/xlsx.py): the JSON cells and the XLSX
file opened with openpyxl, cell by cell. Numbers are numbers in both; a missing value is «–*» in
the file and ``{"missing": true}`` in JSON, never a zero; a partial sum keeps its number and shows
a star (manual 4.1.5)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cloud.reports import xlsx
from cloud.reports.table import MISSING, Column, Partial, Report, Sheet, cell_json, rows_of

# a write refused half-way leaves openpyxl's sheet generator to the garbage collector, which says so
# in whichever test it runs
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
COLUMNS = (Column("Помещение"), Column("Расход", "м³", "number", 2), Column("Дней", kind="integer"),
           Column("Дата", kind="date"), Column("Время", kind="datetime"), Column("Поверен"))


def _report() -> Report:
    rows = [("кв. 1", 1.234, 31, date(2026, 1, 1), datetime(2026, 1, 1, 12, 30, tzinfo=UTC), True),
            ("кв. 2", MISSING, 0, None, None, False),
            ("кв. 3", Partial(2.5), 29, date(2026, 1, 31), datetime(2026, 1, 31, 23, 59), None)]
    return Report("t", "Тест", [Sheet("Лист 1", COLUMNS, rows, heading=("Тест", "ул. Тестовая, 1"),
                                      totals=("Итого", Partial(3.734), 60, None, None, None),
                                      groups=(("Где", 1), ("Что", 5)))], "t_1",
                  parameters={"month": date(2026, 1, 1), "ids": (1, 2)})


def test_the_json_form_keeps_numbers_and_marks() -> None:
    body = _report().as_json()
    assert body["parameters"] == {"month": "2026-01-01", "ids": [1, 2]}
    sheet = body["sheets"][0]
    assert sheet["columns"][1] == {"key": "Расход", "title": "Расход", "unit": "м³", "kind": "number"}
    assert sheet["rows"][0] == ["кв. 1", 1.234, 31, "2026-01-01", "2026-01-01T12:30:00+00:00", True]
    assert sheet["rows"][1][1] == {"missing": True}
    assert sheet["rows"][2][1] == {"value": 2.5, "partial": True}
    assert sheet["totals"][:3] == ["Итого", {"value": 3.734, "partial": True}, 60]
    assert cell_json(None) is None
    assert Column("Расход", "Гкал").header == "Расход, Гкал"
    assert Column("Помещение").header == "Помещение"


def test_a_generator_is_consumed_once_and_kept() -> None:
    sheet = Sheet("Лист", (Column("№", kind="integer"),), ((i,) for i in range(3)))
    report = Report("g", "Г", [sheet], "g")
    assert list(rows_of(report)) == [(0,), (1,), (2,)]
    assert report.as_json()["sheets"][0]["rows"] == [[0], [1], [2]]  # the same rows the second time


@pytest.mark.parametrize("title", ["", "x" * 32, "a/b", "a:b", "итог*"])
def test_a_sheet_title_excel_refuses_is_refused_early(title: str) -> None:
    with pytest.raises(ValueError, match="sheet title"):
        Sheet(title, COLUMNS)


def test_the_file_cell_by_cell(tmp_path: Path) -> None:
    path = xlsx.write(_report(), tmp_path / "t.xlsx")
    assert not (tmp_path / "t.xlsx.part").exists()  # written under a temporary name, then renamed
    ws = load_workbook(path)["Лист 1"]
    # 1-2 heading, 3 empty, 4 the groups above the header, 5 the header, 6-8 the rows, 9 the totals
    assert (ws["A1"].value, ws["A1"].font.bold, ws["A2"].value, ws["A3"].value) == ("Тест", True,
                                                                                 "ул. Тестовая, 1", None)
    assert [c.value for c in ws[4]] == ["Где", "Что", None, None, None, None]
    assert [c.value for c in ws[5]] == ["Помещение", "Расход, м³", "Дней", "Дата", "Время", "Поверен"]
    assert ws["B6"].value == 1.234
    assert ws["B6"].number_format == "0.00"  # two shown, all kept
    assert (ws["C6"].value, ws["C6"].number_format) == (31, "0")
    assert (ws["D6"].value, ws["D6"].number_format) == (datetime(2026, 1, 1), "DD.MM.YYYY")
    # an aware datetime is written as its wall-clock value: builders give local times
    assert (ws["E6"].value, ws["E6"].number_format) == (datetime(2026, 1, 1, 12, 30), "DD.MM.YYYY HH:MM")
    assert (ws["F6"].value, ws["F7"].value, ws["F8"].value) == ("да", "нет", None)
    assert ws["B7"].value == "–*"  # missing: the mark, not a zero
    assert ws["C7"].value == 0  # a real zero stays a zero
    assert (ws["B8"].value, ws["B8"].number_format) == (2.5, '0.00"*"')  # partial: still a number
    assert [c.value for c in ws[9]][:3] == ["Итого", 3.734, 60]
    assert ws["A9"].font.bold
    assert ws.column_dimensions["B"].width == 12  # «Расход, м³» is 10 characters, + 2


def test_a_row_of_the_wrong_width_is_a_bug_said_at_once(tmp_path: Path) -> None:
    report = Report("w", "W", [Sheet("Лист", COLUMNS[:2], [("кв. 1",)])], "w")
    with pytest.raises(ValueError, match="a row of 1 cells under 2 columns"):
        xlsx.write(report, tmp_path / "w.xlsx")


def test_progress_counts_every_row_written(tmp_path: Path) -> None:
    seen: list[int] = []
    report = Report("p", "P", [Sheet("Один", (Column("№", kind="integer"),), ((i,) for i in range(1500))),
                               Sheet("Два", (Column("№", kind="integer"),), [(i,) for i in range(1000)])], "p")
    xlsx.write(report, tmp_path / "p.xlsx", seen.append)
    # every 1,000 rows across the sheets (1000, 2000), and the total at the end: 1500 + 1000
    assert seen == [1000, 2000, 2500]


def test_a_text_that_starts_with_equals_stays_text_in_rows_and_totals(tmp_path: Path) -> None:
    """A premise number or an address typed as a formula is written as the text it is: a spreadsheet
    must never run what somebody typed into the registry (openpyxl stores "=..." as a formula)."""
    sheet = Sheet("Лист", (Column("Помещение"), Column("Адрес")), [("=1+1", '=HYPERLINK("http://x","y")')],
                  totals=("=SUM(A1:A9)", "+7"))
    path = xlsx.write(Report("k", "T", [sheet], "k"), tmp_path / "f.xlsx")
    ws = load_workbook(path).active
    assert ws is not None
    typed = ("=1+1", '=HYPERLINK("http://x","y")', "=SUM(A1:A9)")
    found = [(c.value, c.data_type) for row in ws.iter_rows() for c in row if c.value in typed]
    assert found == [(t, "s") for t in typed]
