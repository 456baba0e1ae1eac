"""Writes a ``Report`` as an XLSX workbook with openpyxl's write-only mode (rows stream to disk:
a 300,000-row export never sits in memory as cells).

Numbers are written as numbers with a number format of the column's decimals; dates as dates
(dd.mm.yyyy); a ``MISSING`` cell as the text ``–*``; a ``Partial`` sum as its number with a format
that shows ``*`` after it, so that it still adds up in a spreadsheet (manual 4.1.5).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from copy import copy
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from cloud.reports.table import MISSING, MISSING_MARK, Cell, Column, Partial, Report, Sheet

DATE_FORMAT = "DD.MM.YYYY"
DATETIME_FORMAT = "DD.MM.YYYY HH:MM"
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")
# control characters XML 1.0 cannot hold (openpyxl refuses them); an address pasted with one is shown with U+FFFD
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")


def number_format(column: Column, partial: bool = False) -> str:
    if column.kind == "integer":
        base = "0"
    else:
        base = "0." + "0" * column.decimals if column.decimals > 0 else "0"
    return f'{base}"*"' if partial else base


def write(report: Report, path: Path, progress: Callable[[int], None] | None = None) -> Path:
    """Write ``report`` to ``path`` (through a temporary name: a reader never sees half a file).
    ``progress`` is called with the number of rows written so far, every 1,000 rows."""
    wb = Workbook(write_only=True)
    written = 0
    for sheet in report.sheets:
        ws = wb.create_sheet(sheet.title)
        written = _write_sheet(ws, sheet, written, progress)
    if progress is not None and written % 1000:  # the last rows too: the job's row count is exact
        progress(written)
    tmp = path.with_name(path.name + ".part")
    wb.save(tmp)
    os.replace(tmp, path)
    return path


def _write_sheet(ws: WriteOnlyWorksheet, sheet: Sheet, written: int,
                 progress: Callable[[int], None] | None) -> int:
    for i, col in enumerate(sheet.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width or min(max(len(col.header) + 2, 10), 40)
    if sheet.heading:
        first = _text(ws, sheet.heading[0])  # heading lines and titles carry addresses and names: text
        first.font = Font(bold=True, size=12)
        ws.append([first])
        for line in sheet.heading[1:]:
            ws.append([_text(ws, line)])
        ws.append([])
    if sheet.groups:
        cells: list[WriteOnlyCell | None] = []
        for title, span in sheet.groups:
            cell = _text(ws, title)
            cell.font = _BOLD
            cells.append(cell)
            cells.extend([None] * (span - 1))
        ws.append(cells)
    header = []
    for col in sheet.columns:
        cell = _text(ws, col.header)
        cell.font, cell.alignment = _BOLD, _WRAP
        header.append(cell)
    ws.append(header)
    styles = _Styles(ws, sheet.columns)
    width = len(sheet.columns)
    for row in sheet.rows:
        if len(row) != width:
            raise ValueError(f"a row of {len(row)} cells under {width} columns: {row!r}")
        ws.append(styles.row(row))
        written += 1
        if progress is not None and written % 1000 == 0:
            progress(written)
    if sheet.totals is not None:
        ws.append(_cells(ws, sheet.columns, sheet.totals, bold=True))
    return written


class _Styles:
    """The cells of a sheet's rows, fast: a plain value where the cell needs no style (text, a number in a
    text column), else a cell given a copy of its column's style made once. A 300,000-row export spent
    most of its time in openpyxl's style lookup when every cell set its number format anew."""

    def __init__(self, ws: WriteOnlyWorksheet, columns: tuple[Column, ...]) -> None:
        self.ws = ws
        self.number = [self._style(number_format(c)) if c.kind in ("number", "integer") else None for c in columns]
        self.partial = [self._style(number_format(c, partial=True)) for c in columns]
        self.day = self._style(DATE_FORMAT)
        self.moment = self._style(DATETIME_FORMAT)

    def _style(self, fmt: str) -> StyleArray:
        cell = WriteOnlyCell(self.ws, 0)
        cell.number_format = fmt
        return cell._style

    def _styled(self, value: object, style: StyleArray) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value)
        cell._style = copy(style)
        return cell

    def row(self, row: tuple[Any, ...]) -> list[object]:  # Cells; Any: the dispatch is by exact class
        out: list[object] = []
        for i, value in enumerate(row):
            kind = value.__class__
            if value is None:
                out.append(None)
            elif kind is str:
                plain = not value.startswith(("=", "#")) and _ILLEGAL.search(value) is None
                out.append(value if plain else _text(self.ws, value))
            elif kind is float or kind is int:
                if kind is float and not math.isfinite(value):
                    raise _not_finite(value)
                style = self.number[i]
                out.append(value if style is None else self._styled(value, style))
            elif value is MISSING:
                out.append(MISSING_MARK)
            elif kind is Partial:
                if not math.isfinite(value.value):
                    raise _not_finite(value)
                out.append(self._styled(value.value, self.partial[i]))
            elif kind is date:
                out.append(self._styled(value, self.day))
            elif kind is datetime:
                out.append(self._styled(value.replace(tzinfo=None), self.moment))
            else:
                out.append(_cell(self.ws, self._column(i), value, bold=False))
        return out

    def _column(self, i: int) -> Column:
        return Column("", kind="number" if self.number[i] is not None else "text")


def _text(ws: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    """A text kept as text: openpyxl would store "=..." as a formula and "#N/A" as an error value, and a
    premise number or an address typed as "=HYPERLINK(...)" must never run in the reader's spreadsheet.
    A control character XML cannot hold becomes U+FFFD rather than refusing the whole report."""
    cell = WriteOnlyCell(ws, _ILLEGAL.sub("\ufffd", value))
    cell.data_type = "s"
    return cell


def _cells(ws: WriteOnlyWorksheet, columns: tuple[Column, ...], row: tuple[Cell, ...],
           bold: bool) -> list[WriteOnlyCell | None]:
    if len(row) != len(columns):
        raise ValueError(f"a row of {len(row)} cells under {len(columns)} columns: {row!r}")
    out: list[WriteOnlyCell | None] = []
    for col, value in zip(columns, row, strict=True):
        out.append(_cell(ws, col, value, bold))
    return out


def _cell(ws: WriteOnlyWorksheet, col: Column, value: Cell, bold: bool) -> WriteOnlyCell | None:
    if value is None:
        return None
    if value is MISSING:
        cell = WriteOnlyCell(ws, MISSING_MARK)
    elif isinstance(value, Partial):
        if not math.isfinite(value.value):
            raise _not_finite(value)
        cell = WriteOnlyCell(ws, value.value)
        cell.number_format = number_format(col, partial=True)
    elif isinstance(value, bool):
        cell = WriteOnlyCell(ws, "да" if value else "нет")
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise _not_finite(value)
        cell = WriteOnlyCell(ws, value)
        if col.kind in ("number", "integer"):
            cell.number_format = number_format(col)
    elif isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value.replace(tzinfo=None))
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell = WriteOnlyCell(ws, value)
        cell.number_format = DATE_FORMAT
    else:
        cell = _text(ws, str(value))
    if bold:
        cell.font = _BOLD
    return cell


def _not_finite(value: object) -> ValueError:
    """A nan or an infinity is a bug upstream: openpyxl would write an empty number that a spreadsheet
    reads as 0, a value filled in where none is known (manual 4.1.5). The report fails instead."""
    return ValueError(f"a number that is not finite in a report cell: {value!r}")
