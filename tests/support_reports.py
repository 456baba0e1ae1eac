"""Shared set-up of the readings exports' tests (slice H1: 4.3.7, 4.3.8, 4.3.12): the seeded world of
tests.cloud_data on the tests' clock, registry rows the seed lacks (a second building of the company,
counter breaks, lifecycle dates), and a report's XLSX read back with openpyxl cell by cell (value,
number format, data type).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import load_workbook

from cloud.reports.service import xlsx_in_memory
from cloud.reports.table import Report
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc
from tests import cloud_data
from tests.support_register import TZ


@dataclass(frozen=True)
class World:
    services: Services
    seeded: cloud_data.Seeded
    registry: Registry
    clickhouse: ClickHouse


@dataclass(frozen=True)
class Cell:
    value: Any
    format: str
    type: str  # openpyxl's data_type: "n" number, "s" text, "d" date


def world(registry: Registry, clickhouse: ClickHouse) -> World:
    seeded = cloud_data.seed(registry, clickhouse)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    return World(services, seeded, registry, clickhouse)


async def token(w: World, login: str) -> str:
    return (await w.services.auth.login(login, cloud_data.PASSWORDS[login])).token


def add_building(registry: Registry, company_id: int, address: str) -> int:
    with registry.connect() as db:
        return int(db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
                              "VALUES (?, 'test2', ?, 'Казань', ?, 100.0, 4)",
                              (company_id, address, cloud_data.TZ)).lastrowid or 0)


def set_premise(registry: Registry, premise_id: int, account: str, area: float, residents: int) -> None:
    with registry.connect() as db:
        db.execute("UPDATE premises SET account = ?, area_m2 = ?, residents = ? WHERE id = ?",
                   (account, area, residents, premise_id))


def set_lifecycle(registry: Registry, serial: str, commissioned: datetime | None = None,
                  decommissioned: datetime | None = None, final: dict[str, float] | None = None,
                  status: str | None = None, initial: dict[str, float] | None = None) -> None:
    """Lifecycle dates (local Europe/Moscow) and the recorded initial and final readings of a meter."""
    with registry.connect() as db:
        if commissioned is not None:
            db.execute("UPDATE meters SET commissioned_at = ? WHERE serial = ?",
                       (local_to_utc(commissioned, TZ).isoformat(), serial))
        if decommissioned is not None:
            db.execute("UPDATE meters SET decommissioned_at = ?, status = 'decommissioned' WHERE serial = ?",
                       (local_to_utc(decommissioned, TZ).isoformat(), serial))
        if final is not None:
            db.execute("UPDATE meters SET final_readings = ? WHERE serial = ?", (json.dumps(final), serial))
        if initial is not None:
            db.execute("UPDATE meters SET initial_readings = ? WHERE serial = ?", (json.dumps(initial), serial))
        if status is not None:
            db.execute("UPDATE meters SET status = ? WHERE serial = ?", (status, serial))


def add_break(registry: Registry, serial: str, channel: int, parameter: str, first_local: datetime, final: float,
              initial: float, kind: str = "reset") -> None:
    with registry.connect() as db:
        meter = db.execute("SELECT id FROM meters WHERE serial = ?", (serial,)).fetchone()[0]
        db.execute("INSERT INTO counter_breaks (meter_id, channel, parameter, kind, first_period, final_value, "
                   "initial_value) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (meter, channel, parameter, kind, local_to_utc(first_local, TZ).isoformat(), final, initial))


def sheets(report: Report) -> dict[str, list[list[Cell]]]:
    """Every sheet of the report's XLSX as rows of cells, read back with openpyxl."""
    book = load_workbook(io.BytesIO(xlsx_in_memory(report)))
    return {ws.title: [[Cell(c.value, c.number_format, c.data_type) for c in row] for row in ws.iter_rows()]
            for ws in book.worksheets}


def table(rows: list[list[Cell]], first_header: str) -> tuple[list[Any], list[list[Cell]]]:
    """(the header titles, the rows under it) of a sheet whose header row starts with ``first_header``."""
    for i, row in enumerate(rows):
        if row and row[0].value == first_header:
            return [c.value for c in row], rows[i + 1:]
    raise AssertionError(f"no header row starting with {first_header!r}")


def values(row: list[Cell]) -> list[Any]:
    return [c.value for c in row]
