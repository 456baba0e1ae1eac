"""Breaking the XLSX writer (cloud/reports/xlsx.py) with what people type: a text from the registry
(a premise number, an address, a channel name) is data, never a formula or an error value, whether
it sits in a row, a heading line, a header or a group title; a control character pasted into an
address must not cost the whole report."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cloud.reports import xlsx
from cloud.reports.table import Column, Partial, Report, Sheet

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _cells(report: Report, tmp_path: Path) -> list[list[tuple[object, str]]]:
    path = xlsx.write(report, tmp_path / "r.xlsx")
    ws = load_workbook(path)[report.sheets[0].title]
    return [[(c.value, c.data_type) for c in row] for row in ws.iter_rows()]


def test_user_text_that_looks_like_a_formula_stays_text_everywhere(tmp_path: Path) -> None:
    # openpyxl stores a text starting with "=" as a formula and "#N/A" as an error value; a premise
    # numbered "#N/A" or an address typed "=1+1" must come back as the very same text
    address = "=HYPERLINK(\"http://x\",\"ул. Ленина, 1\")"
    sheet = Sheet("Лист", (Column("Помещение"), Column("=2*3")),
                  [("=1+1", "#N/A"), ("+7", "-3"), ("@SUM(A1)", "#REF!")],
                  heading=(address, address), groups=(("=group", 2),), totals=("=tot", "#DIV/0!"))
    rows = _cells(Report("t", "Т", [sheet], "t"), tmp_path)
    assert rows[0][0] == (address, "s")  # the first heading line
    assert rows[1][0] == (address, "s")
    assert rows[3][0] == ("=group", "s")  # rows[2] is the blank line under the heading
    assert rows[4] == [("Помещение", "s"), ("=2*3", "s")]
    assert rows[5] == [("=1+1", "s"), ("#N/A", "s")]
    # "+", "-", "@" are plain strings in XLSX (only CSV readers evaluate them): stored as text
    assert rows[6] == [("+7", "s"), ("-3", "s")]
    assert rows[7] == [("@SUM(A1)", "s"), ("#REF!", "s")]
    assert rows[8] == [("=tot", "s"), ("#DIV/0!", "s")]


def test_a_control_character_in_an_address_does_not_kill_the_report(tmp_path: Path) -> None:
    # "\x01" and "\x1f" are refused by openpyxl (IllegalCharacterError): shown as U+FFFD so that
    # the reader sees something was there; tab and newline are legal and kept
    sheet = Sheet("Лист", (Column("Адрес"), Column("Номер")),
                  [("ул.\x01 Ленина", "12\x1f"), ("a\tb", "c\nd")],
                  heading=("Объект: ул.\x02 Мира",), totals=("Итого\x03", None))
    rows = _cells(Report("t", "Т", [sheet], "t"), tmp_path)
    assert rows[0][0] == ("Объект: ул.\ufffd Мира", "s")
    assert rows[3] == [("ул.\ufffd Ленина", "s"), ("12\ufffd", "s")]
    assert rows[4] == [("a\tb", "s"), ("c\nd", "s")]
    assert rows[5][0] == ("Итого\ufffd", "s")


def test_a_very_long_address_is_cut_at_the_cell_limit_not_refused(tmp_path: Path) -> None:
    # an XLSX cell holds at most 32,767 characters; openpyxl cuts, the report is still made
    long = "ул. " + "Д" * 40000
    sheet = Sheet("Лист", (Column("Адрес"),), [(long,)], heading=("Объект: " + long,))
    rows = _cells(Report("t", "Т", [sheet], "t"), tmp_path)
    assert rows[0][0][0] == ("Объект: " + long)[:32767]
    assert rows[3][0][0] == long[:32767]


@pytest.mark.parametrize("cell", [float("nan"), float("inf"), Partial(float("nan"))])
@pytest.mark.parametrize("where", ["row", "totals"])
def test_a_number_that_is_not_finite_fails_the_report_rather_than_showing_zero(
        tmp_path: Path, cell: object, where: str) -> None:
    # openpyxl writes nan as an empty <v/> of a number cell, which a spreadsheet shows as 0: a value
    # filled in where none is known; such a cell is a bug upstream and the report must fail
    columns = (Column("Помещение"), Column("Расход", "м³", "number"))
    rows = [("кв. 1", cell)] if where == "row" else [("кв. 1", 1.0)]
    totals = ("Итого", cell) if where == "totals" else None
    with pytest.raises(ValueError, match="not finite"):
        xlsx.write(Report("t", "Т", [Sheet("Лист", columns, rows, totals=totals)], "t"), tmp_path / "r.xlsx")
    gc.collect()  # openpyxl's half-written sheet generator goes here, under this module's filter, not later
