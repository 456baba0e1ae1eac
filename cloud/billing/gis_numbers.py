"""Meters' numbers in ГИС ЖКХ (manual 4.4.1): the «номер прибора учета в ГИС ЖКХ» that the billing
side (the management company in ГИС ЖКХ, or its billing centre) assigns to a meter. The billing
document (document.py) names a meter by it; a meter without one goes to the document's «Ошибки».

Who: dispatchers, engineers and readers read them; a dispatcher without reader status sets and clears
them (settings of 4.6 are the dispatcher's); administrators see none of it (manual 2.3). A meter of
another company is "not found". A number is printable text of at most 40 characters, unique within
the company (two meters with one number would put one reading on the other's bill); '' clears it.
A building's numbers can be set at once from a file (serial → number): all or nothing, so that a
file with one bad line changes nothing. Every change writes an audit entry in the same transaction.
Tests: tests/unit/cloud/test_billing_document_rules.py, tests/integration/test_gis_numbers.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from cloud.services import audit
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.models import InvalidInput, NotFound, UserInfo, check_id
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

MAX_LENGTH = 40
MAX_BULK = 10_000  # lines of one import: a building has at most a few thousand meters
_REFUSAL = "meters' numbers in ГИС ЖКХ are not available to administrators"
_SQL = ("SELECT m.id, m.serial, m.building_id, m.premise_id, p.number AS premise_number, m.role, m.status, "
        "m.gis_number, (SELECT group_concat(DISTINCT c.resource) FROM meter_channels c WHERE c.meter_id = m.id) "
        "AS resources FROM meters m LEFT JOIN premises p ON p.id = m.premise_id")


@dataclass(frozen=True, slots=True)
class GisNumber:
    meter_id: int
    serial: str
    building_id: int
    premise_id: int | None
    premise_number: str | None
    role: str  # "individual" (ИПУ) or "common" (ОДПУ)
    status: str
    resources: tuple[str, ...]  # protocol.vocabulary.Resource values of its channels
    gis_number: str  # '' while none is known


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What an import did: the serials whose number changed and those that had it already."""

    changed: tuple[str, ...]
    unchanged: tuple[str, ...]


def check_number(value: object, field: str = "gis_number") -> str:
    """The number as stored: surrounding spaces dropped; '' clears. Printable, at most MAX_LENGTH."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: text, got {type(value).__name__}")
    number = value.strip()
    if len(number) > MAX_LENGTH:
        raise InvalidInput(f"{field}: at most {MAX_LENGTH} characters, got {len(number)}")
    if not number.isprintable():
        raise InvalidInput(f"{field}: printable characters only (no tabs, line breaks or control characters)")
    return number


def parse_lines(text: str) -> list[tuple[str, str]]:
    """(serial, number) pairs of an import file's text: one meter a line, «заводской номер;номер в ГИС
    ЖКХ» separated by ``;``, a tab or ``,``; empty lines skipped; a line that is not two fields is refused
    with its number."""
    pairs: list[tuple[str, str]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        sep = next((s for s in (";", "\t", ",") if s in line), None)
        parts = [p.strip().strip('"') for p in line.split(sep)] if sep else [line]
        if len(parts) != 2 or not parts[0]:
            raise InvalidInput(f"line {n}: «заводской номер;номер в ГИС ЖКХ», got {raw.strip()[:60]!r}")
        pairs.append((parts[0], parts[1]))
    return pairs


def _row(r: sqlite3.Row) -> GisNumber:
    return GisNumber(r["id"], r["serial"], r["building_id"], r["premise_id"], r["premise_number"], r["role"],
                     r["status"], tuple(sorted((r["resources"] or "").split(","))) if r["resources"] else (),
                     r["gis_number"])


class GisNumbersService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse  # kept for the container's uniform construction; the numbers live in the registry
        self.auth = auth

    async def numbers(self, token: str, building_id: int) -> list[GisNumber]:
        """The building's meters with their numbers (building meters first, then by premise)."""
        user = require_operational_view(await self.auth.user(token), _REFUSAL)
        return await asyncio.to_thread(self._numbers, user, building_id)

    def _numbers(self, user: UserInfo, building_id: int) -> list[GisNumber]:
        check_id("building_id", building_id)
        if self.registry.one("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                             building_id, user.company_id) is None:
            raise NotFound(f"building {building_id} not found")
        rows = self.registry.all(_SQL + " WHERE m.building_id = ? AND m.company_id = ? "
                                 "ORDER BY m.role, CAST(p.number AS INTEGER), p.number, m.serial",
                                 building_id, user.company_id)
        return [_row(r) for r in rows]

    async def number(self, token: str, meter_id: int) -> GisNumber:
        user = require_operational_view(await self.auth.user(token), _REFUSAL)
        check_id("meter_id", meter_id)
        return await asyncio.to_thread(self._read_one, user, meter_id)

    def _read_one(self, user: UserInfo, meter_id: int) -> GisNumber:
        with self.registry.reading() as db:
            return self._meter(db, user, meter_id)

    def _meter(self, db: sqlite3.Connection, user: UserInfo, meter_id: int) -> GisNumber:
        row = db.execute(_SQL + " WHERE m.id = ? AND m.company_id = ?", (meter_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"meter {meter_id} not found")
        return _row(row)

    async def set_number(self, token: str, meter_id: int, gis_number: str) -> GisNumber:
        """Set (or with '' clear) the meter's number; refused when another meter of the company has it."""
        user = require_dispatcher(await self.auth.user(token))
        check_id("meter_id", meter_id)
        number = check_number(gis_number)
        return await asyncio.to_thread(self._set, user, meter_id, number)

    async def clear_number(self, token: str, meter_id: int) -> GisNumber:
        return await self.set_number(token, meter_id, "")

    def _set(self, user: UserInfo, meter_id: int, number: str) -> GisNumber:
        with self.registry.connect() as db:
            before = self._meter(db, user, meter_id)
            if number != before.gis_number:
                self._free(db, user, number, {meter_id})
                db.execute("UPDATE meters SET gis_number = ? WHERE id = ?", (number, meter_id))
                audit.record(db, user, "meter.gis_number", f"meter:{meter_id}",
                             {"serial": before.serial, "gis_number": before.gis_number},
                             {"serial": before.serial, "gis_number": number})
            return self._meter(db, user, meter_id)

    @staticmethod
    def _free(db: sqlite3.Connection, user: UserInfo, number: str, leaving: set[int]) -> None:
        """InvalidInput when a meter of the company outside ``leaving`` holds ``number``."""
        if not number:
            return
        holder = db.execute("SELECT id, serial FROM meters WHERE company_id = ? AND gis_number = ?",
                            (user.company_id, number)).fetchone()
        if holder is not None and holder["id"] not in leaving:
            raise InvalidInput(f"gis_number: {number!r} is the number of meter {holder['serial']} already "
                               "(a number in ГИС ЖКХ is unique in the company)")

    async def set_numbers(self, token: str, building_id: int, pairs: Sequence[tuple[str, str]]) -> BulkResult:
        """Set the numbers of the building's meters named by serial (a file import), all or nothing;
        '' clears. A serial not of this building, a serial twice or a number twice is refused with the
        line it is on (1-based)."""
        user = require_dispatcher(await self.auth.user(token))
        check_id("building_id", building_id)
        if not pairs:
            raise InvalidInput("numbers: at least one line «serial;number»")
        if len(pairs) > MAX_BULK:
            raise InvalidInput(f"numbers: at most {MAX_BULK} lines, got {len(pairs)}")
        checked: list[tuple[str, str]] = []
        seen_serials: dict[str, int] = {}
        seen_numbers: dict[str, int] = {}
        for n, (serial, number) in enumerate(pairs, start=1):
            serial = serial.strip() if isinstance(serial, str) else ""
            if not serial:
                raise InvalidInput(f"line {n}: the serial is empty")
            value = check_number(number, f"line {n}")
            if serial in seen_serials:
                raise InvalidInput(f"line {n}: serial {serial} is on line {seen_serials[serial]} too")
            if value and value in seen_numbers:
                raise InvalidInput(f"line {n}: number {value!r} is on line {seen_numbers[value]} too")
            seen_serials[serial] = n
            if value:
                seen_numbers[value] = n
            checked.append((serial, value))
        return await asyncio.to_thread(self._set_many, user, building_id, checked)

    def _set_many(self, user: UserInfo, building_id: int, pairs: list[tuple[str, str]]) -> BulkResult:
        with self.registry.connect() as db:
            if db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                          (building_id, user.company_id)).fetchone() is None:
                raise NotFound(f"building {building_id} not found")
            meters = {r["serial"]: (r["id"], r["gis_number"]) for r in db.execute(
                "SELECT id, serial, gis_number FROM meters WHERE building_id = ? AND company_id = ?",
                (building_id, user.company_id))}
            for n, (serial, _) in enumerate(pairs, start=1):
                if serial not in meters:
                    raise InvalidInput(f"line {n}: no meter {serial} in this building")
            moving = [(serial, number) for serial, number in pairs if meters[serial][1] != number]
            leaving = {meters[s][0] for s, _ in moving}
            for _serial, number in moving:
                self._free(db, user, number, leaving)
            # numbers may move between the listed meters (a swap): clear them all first (the unique index)
            for serial, _ in moving:
                db.execute("UPDATE meters SET gis_number = '' WHERE id = ?", (meters[serial][0],))
            for serial, number in moving:
                meter_id, old = meters[serial]
                db.execute("UPDATE meters SET gis_number = ? WHERE id = ?", (number, meter_id))
                audit.record(db, user, "meter.gis_number", f"meter:{meter_id}",
                             {"serial": serial, "gis_number": old}, {"serial": serial, "gis_number": number})
        changed = {s for s, _ in moving}
        return BulkResult(tuple(s for s, _ in pairs if s in changed), tuple(s for s, _ in pairs if s not in changed))
