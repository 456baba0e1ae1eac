"""Cities a company works in (manual 2.3, 4.6: company and city scope; city defaults).

A city is shared reference data (name, default time zone); a company works in some of them. Any
user of the company lists its cities; an administrator without reader status adds a city to the
company (creating it when nobody has yet) or removes one that none of its buildings is in. Every
change writes an audit entry in the same transaction. Tests: tests/integration/test_registry_cities_sites.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud.services import audit
from cloud.services.auth import AuthService, require_administrator
from cloud.services.models import InvalidInput, NotFound, UserInfo, check_id
from cloud.storage.registry import Registry


@dataclass(frozen=True, slots=True)
class CityInfo:
    id: int
    name: str
    time_zone: str
    buildings: int  # of the user's company in this city


def check_time_zone(field: str, value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{field}: unknown time zone {value!r} (an IANA name such as Europe/Moscow)") from None
    return value


class CitiesService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def list(self, token: str) -> list[CityInfo]:
        user = await self.auth.user(token)
        rows = await asyncio.to_thread(
            self.registry.all,
            "SELECT c.*, (SELECT count(*) FROM buildings b WHERE b.city_id = c.id AND b.company_id = cc.company_id) "
            "AS buildings FROM cities c JOIN company_cities cc ON cc.city_id = c.id WHERE cc.company_id = ? "
            "ORDER BY c.name", user.company_id)
        return [CityInfo(r["id"], r["name"], r["time_zone"], r["buildings"]) for r in rows]

    async def add(self, token: str, name: str, time_zone: str) -> CityInfo:
        """Add a city to the company; an existing city keeps its time zone."""
        admin = require_administrator(await self.auth.user(token))
        name = " ".join(name.split())
        if not name or len(name) > 100:
            raise InvalidInput("name: 1 to 100 characters")
        check_time_zone("time_zone", time_zone)
        return await asyncio.to_thread(self._add, admin, name, time_zone)

    def _add(self, admin: UserInfo, name: str, time_zone: str) -> CityInfo:
        with self.registry.connect() as db:
            db.execute("INSERT OR IGNORE INTO cities (name, time_zone) VALUES (?, ?)", (name, time_zone))
            city = db.execute("SELECT * FROM cities WHERE name = ?", (name,)).fetchone()
            added = db.execute("INSERT OR IGNORE INTO company_cities VALUES (?, ?)",
                               (admin.company_id, city["id"])).rowcount
            if added:
                audit.record(db, admin, "city.add", f"city:{city['id']}", None,
                             {"name": city["name"], "time_zone": city["time_zone"]})
            count = db.execute("SELECT count(*) FROM buildings WHERE city_id = ? AND company_id = ?",
                               (city["id"], admin.company_id)).fetchone()[0]
        return CityInfo(city["id"], city["name"], city["time_zone"], count)

    async def remove(self, token: str, city_id: int) -> None:
        admin = require_administrator(await self.auth.user(token))
        await asyncio.to_thread(self._remove, admin, city_id)

    def _remove(self, admin: UserInfo, city_id: int) -> None:
        check_id("city_id", city_id)
        with self.registry.connect() as db:
            city = db.execute("SELECT c.* FROM cities c JOIN company_cities cc ON cc.city_id = c.id "
                              "WHERE c.id = ? AND cc.company_id = ?", (city_id, admin.company_id)).fetchone()
            if city is None:
                raise NotFound(f"city {city_id} not found")
            used = db.execute("SELECT count(*) FROM buildings WHERE city_id = ? AND company_id = ?",
                              (city_id, admin.company_id)).fetchone()[0]
            if used:
                raise InvalidInput(f"city_id: {used} building(s) of the company are in {city['name']}")
            main = db.execute("SELECT 1 FROM companies WHERE id = ? AND city = ?",
                              (admin.company_id, city["name"])).fetchone()
            if main is not None:
                raise InvalidInput(f"city_id: {city['name']} is the company's main city; choose another first")
            db.execute("DELETE FROM company_cities WHERE company_id = ? AND city_id = ?", (admin.company_id, city_id))
            audit.record(db, admin, "city.remove", f"city:{city_id}", {"name": city["name"]}, None)
