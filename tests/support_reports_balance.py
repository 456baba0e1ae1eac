"""Shared set-up of the balance reports' and norms' tests (slice H2): the seeded world of tests.cloud_data
with an engineer without reader status, and reading a report's XLSX back with openpyxl (values and
number formats, so that a partial sum's «*» is checked too).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook

from cloud.reports.service import xlsx_in_memory
from cloud.reports.table import Report
from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data


@dataclass(frozen=True)
class World:
    services: Services
    seeded: cloud_data.Seeded
    registry: Registry
    clickhouse: ClickHouse


def norms_world(registry: Registry, clickhouse: ClickHouse) -> World:
    """The seeded world (tests.cloud_data) with an engineer "eng" of the first company, and
    ``services.norms``, on the tests' clock (cloud_data.NOW)."""
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Тест", "Казань", (UserSeed("eng", "Инженер Тест", "engineer", "eng-pass"),))
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    return World(services, seeded, registry, clickhouse)


async def token(world: World, login: str) -> str:
    return (await world.services.auth.login(login, cloud_data.PASSWORDS[login])).token


def workbook_rows(report: Report) -> dict[str, list[list[tuple[Any, str]]]]:
    """Every sheet of the report's XLSX as rows of (value, number format), read back with openpyxl."""
    book = load_workbook(io.BytesIO(xlsx_in_memory(report)))
    return {ws.title: [[(c.value, c.number_format) for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


def table(rows: list[list[tuple[Any, str]]], header: str) -> tuple[list[Any], list[list[tuple[Any, str]]]]:
    """(the header row's titles, the rows under it) of a sheet whose header row starts with ``header``."""
    for i, row in enumerate(rows):
        if row and row[0][0] == header:
            return [c[0] for c in row], rows[i + 1:]
    raise AssertionError(f"no header row starting with {header!r}")


def by_first(rows: list[list[tuple[Any, str]]]) -> dict[Any, list[tuple[Any, str]]]:
    """The rows keyed by their first cell's value."""
    return {row[0][0]: row for row in rows if row}
