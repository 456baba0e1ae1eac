"""Companies (manual 2.3, 4.6.15 "Компания"): a company's name and its main city.

Creating a company is a platform operation, not a user's (``create_company``: the CLI and the
seed call it with no token); every user of a company reads it; its administrator without reader
status renames it and picks its main city among the company's cities (cloud/services/cities.py).
Every change writes an audit entry in the same transaction. Tests:
tests/integration/test_registry_admin.py, tests/integration/test_api_registry.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_administrator
from cloud.services.cities import check_time_zone
from cloud.services.models import InvalidInput, NotFound, UserInfo, check_id
from cloud.storage.registry import Registry

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class CompanyInfo:
    id: int
    name: str
    city: str  # the main city (its name); the company may work in more (``CitiesService.list``)
    city_id: int | None


def _name(value: str) -> str:
    name = " ".join(value.split())
    if not name or len(name) > 200:
        raise InvalidInput("name: 1 to 200 characters")
    return name


def _info(db: sqlite3.Connection, company_id: int) -> CompanyInfo:
    row = db.execute("SELECT co.*, c.id AS city_id FROM companies co LEFT JOIN cities c ON c.name = co.city "
                     "WHERE co.id = ?", (company_id,)).fetchone()
    if row is None:
        raise NotFound(f"company {company_id} not found")
    return CompanyInfo(row["id"], row["name"], row["city"], row["city_id"])


def _taken(db: sqlite3.Connection, name: str, company_id: int | None) -> bool:
    row = db.execute("SELECT 1 FROM companies WHERE name = ? AND id IS NOT ?", (name, company_id)).fetchone()
    return row is not None


def create_company(registry: Registry, name: str, city: str, time_zone: str = "Europe/Moscow") -> CompanyInfo:
    """Register a company working in ``city`` (created with ``time_zone`` when nobody has it yet).

    A platform operation (no user acts): its audit entry has no user."""
    name, city = _name(name), " ".join(city.split())
    if not city or len(city) > 100:
        raise InvalidInput("city: 1 to 100 characters")
    check_time_zone("time_zone", time_zone)
    with registry.connect() as db:
        if _taken(db, name, None):
            raise InvalidInput(f"name: a company named {name!r} exists")
        db.execute("INSERT OR IGNORE INTO cities (name, time_zone) VALUES (?, ?)", (city, time_zone))
        company_id = int(db.execute("INSERT INTO companies (name, city) VALUES (?, ?)", (name, city)).lastrowid or 0)
        info = _info(db, company_id)  # the companies_city trigger linked the city
        # audit.record needs an acting user; a platform operation has none
        db.execute("INSERT INTO audit_log (company_id, user_id, at, action, object, before, after) "
                   "VALUES (?, NULL, ?, 'company.create', ?, NULL, ?)",
                   (company_id, datetime.now(UTC).isoformat(), f"company:{company_id}",
                    json.dumps({"name": name, "city": city}, ensure_ascii=False, sort_keys=True)))
    return info


class CompaniesService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def get(self, token: str) -> CompanyInfo:
        """The user's own company (any role, readers too)."""
        user = await self.auth.user(token)

        def read() -> CompanyInfo:
            with self.registry.connect() as db:
                return _info(db, user.company_id)
        return await asyncio.to_thread(read)

    async def update(self, token: str, *, name: str = _UNSET, city_id: int = _UNSET) -> CompanyInfo:
        """Rename the company or move its main city to another of its cities."""
        admin = require_administrator(await self.auth.user(token))
        changes: dict[str, Any] = {}
        if name is not _UNSET:
            if not isinstance(name, str):
                raise InvalidInput("name: 1 to 200 characters")
            changes["name"] = _name(name)
        if city_id is not _UNSET:
            if not isinstance(city_id, int):
                raise InvalidInput("city_id: a city of the company")
            changes["city_id"] = check_id("city_id", city_id)
        return await asyncio.to_thread(self._update, admin, changes)

    def _update(self, admin: UserInfo, changes: dict[str, Any]) -> CompanyInfo:
        with self.registry.connect() as db:
            before = _info(db, admin.company_id)
            columns: dict[str, Any] = {}
            if "name" in changes:
                if _taken(db, changes["name"], admin.company_id):
                    raise InvalidInput(f"name: a company named {changes['name']!r} exists")
                columns["name"] = changes["name"]
            if "city_id" in changes:
                city = db.execute("SELECT c.name FROM cities c JOIN company_cities cc ON cc.city_id = c.id "
                                  "WHERE c.id = ? AND cc.company_id = ?",
                                  (changes["city_id"], admin.company_id)).fetchone()
                if city is None:
                    raise InvalidInput(f"city_id: {changes['city_id']} is not a city of the company "
                                       "(an administrator adds cities first)")
                columns["city"] = city["name"]
            if columns:
                assignments = ", ".join(f"{column} = ?" for column in columns)  # column names are ours
                db.execute(f"UPDATE companies SET {assignments} WHERE id = ?",  # noqa: S608
                           (*columns.values(), admin.company_id))
            after = _info(db, admin.company_id)
            if after != before:
                audit.record(db, admin, "company.update", f"company:{admin.company_id}",
                             {"name": before.name, "city": before.city}, {"name": after.name, "city": after.city})
        return after
