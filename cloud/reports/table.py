"""What a report is before it is a file: sheets of typed columns and rows.

A cell is a plain value (text, number, date, datetime), ``None`` for an empty cell, ``MISSING``
for a value that should exist but has no archive (shown ``–*``, manual 4.1.5) or ``Partial`` for a
known partial sum (shown with ``*``). A missing value is never filled in: the writer shows the
mark, the JSON says ``{"missing": true}``. Numbers stay numbers in both forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

ColumnKind = Literal["text", "number", "integer", "date", "datetime"]
MISSING_MARK = "–*"


class _Missing:
    """The one "should be here, is not" cell (manual 4.1.5 ``–*``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True, slots=True)
class Partial:
    """A known partial sum: some meter expected in the period has no value (manual 4.1.5 ``1,77*``)."""

    value: float


Cell = str | int | float | date | datetime | _Missing | Partial | None


@dataclass(frozen=True, slots=True)
class Column:
    title: str  # Russian, as the reader sees it
    unit: str = ""  # shown in the header as «title, unit»
    kind: ColumnKind = "text"
    decimals: int = 3  # for numbers: shown digits (the stored value keeps all of them)
    key: str = ""  # the JSON name; the title when empty
    width: int = 0  # characters; 0: from the title

    @property
    def header(self) -> str:
        return f"{self.title}, {self.unit}" if self.unit else self.title

    @property
    def name(self) -> str:
        return self.key or self.title


@dataclass(slots=True)
class Sheet:
    """One worksheet: heading lines (what, where, when), a header row, rows, optional totals."""

    title: str  # at most 31 characters (XLSX limit)
    columns: tuple[Column, ...]
    rows: Iterable[tuple[Cell, ...]] = ()  # may be a generator: a large export is never held whole
    heading: tuple[str, ...] = ()  # lines above the table: report title, object, period
    totals: tuple[Cell, ...] | None = None  # one last row, bold
    groups: tuple[tuple[str, int], ...] = ()  # a header row above the header: (title, columns spanned)

    def __post_init__(self) -> None:
        if not 0 < len(self.title) <= 31 or any(ch in self.title for ch in "[]:*?/\\"):
            raise ValueError(f"sheet title {self.title!r}: 1-31 characters without []:*?/\\")

    def materialised(self) -> list[tuple[Cell, ...]]:
        """The rows as a list (consumes a generator once and keeps the list)."""
        if not isinstance(self.rows, list):
            self.rows = list(self.rows)
        return self.rows


@dataclass(slots=True)
class Report:
    key: str  # the spec's key
    title: str  # Russian
    sheets: list[Sheet]
    file_stem: str  # the download's name without ".xlsx" (ASCII-safe, see engine.file_stem)
    parameters: dict[str, Any] = field(default_factory=dict)  # as parsed, for the JSON form

    def as_json(self) -> dict[str, Any]:
        """The JSON form: the same rows as the file, cells as ``cell_json`` makes them."""
        return {"report": self.key, "title": self.title,
                "parameters": {k: json_value(v) for k, v in self.parameters.items()},
                "sheets": [{"title": s.title, "heading": list(s.heading),
                            "columns": [{"key": c.name, "title": c.title, "unit": c.unit, "kind": c.kind}
                                        for c in s.columns],
                            "rows": [[cell_json(v) for v in row] for row in s.materialised()],
                            "totals": None if s.totals is None else [cell_json(v) for v in s.totals]}
                           for s in self.sheets]}


def json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def cell_json(value: Cell) -> Any:
    """A cell in JSON: dates ISO, ``MISSING`` ``{"missing": true}``, ``Partial`` ``{"value": x, "partial": true}``."""
    if value is MISSING:
        return {"missing": True}
    if isinstance(value, Partial):
        return {"value": value.value, "partial": True}
    return json_value(value)


def rows_of(report: Report, sheet: int = 0) -> Iterator[tuple[Cell, ...]]:
    """The rows of one sheet (tests and the UI preview)."""
    yield from report.sheets[sheet].materialised()
