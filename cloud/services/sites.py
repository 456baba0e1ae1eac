"""Edge sites: the gateways of a company, each with its NATS site id, a name, and the buildings
(hence the meters) it serves (DESIGN.md sections 1 and 6; the ingest's meter lookup reads the
buildings' site).

Any user of the company lists its sites; an administrator without reader status registers a
site (the id is global: it names NATS subjects and credentials, deploy/nats/accounts.conf),
renames it and moves a building to it. Every change writes an audit entry in the same
transaction. Tests: tests/integration/test_registry_cities_sites.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.services import audit
from cloud.services.auth import AuthService, require_administrator
from cloud.services.models import InvalidInput, NotFound, UserInfo
from cloud.storage.registry import Registry
from protocol import subjects


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: int
    site: str  # the NATS site id: du.<site>.…
    name: str
    building_ids: tuple[int, ...]
    meter_serials: tuple[str, ...]  # the meters of those buildings, which this site's edge polls


class SitesService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def list(self, token: str) -> list[SiteInfo]:
        user = await self.auth.user(token)

        def read() -> list[SiteInfo]:
            with self.registry.connect() as db:
                rows = db.execute("SELECT * FROM edge_sites WHERE company_id = ? ORDER BY site",
                                  (user.company_id,)).fetchall()
                return [self._info(db, r) for r in rows]
        return await asyncio.to_thread(read)

    async def create(self, token: str, site: str, name: str) -> SiteInfo:
        admin = require_administrator(await self.auth.user(token))
        try:
            subjects.check_site(site)
        except ValueError as exc:
            raise InvalidInput(f"site: {exc}") from None
        name = _name(name)

        def write() -> SiteInfo:
            with self.registry.connect() as db:
                try:
                    site_id = db.execute("INSERT INTO edge_sites (company_id, site, name, created_at) "
                                         "VALUES (?, ?, ?, ?)", (admin.company_id, site, name,
                                                                 datetime.now(UTC).isoformat())).lastrowid
                except sqlite3.IntegrityError as exc:
                    raise InvalidInput(f"site: {site!r} is taken") from exc
                audit.record(db, admin, "site.create", f"site:{site}", None, {"site": site, "name": name})
                return SiteInfo(int(site_id or 0), site, name, (), ())
        return await asyncio.to_thread(write)

    async def rename(self, token: str, site_id: int, name: str) -> SiteInfo:
        admin = require_administrator(await self.auth.user(token))
        name = _name(name)

        def write() -> SiteInfo:
            with self.registry.connect() as db:
                row = self._row(db, admin, site_id)
                db.execute("UPDATE edge_sites SET name = ? WHERE id = ?", (name, site_id))
                audit.record(db, admin, "site.rename", f"site:{row['site']}", {"name": row["name"]}, {"name": name})
                return self._info(db, self._row(db, admin, site_id))
        return await asyncio.to_thread(write)

    async def assign_building(self, token: str, site_id: int, building_id: int) -> SiteInfo:
        """The building's meters are from now on served by this site's edge."""
        admin = require_administrator(await self.auth.user(token))

        def write() -> SiteInfo:
            with self.registry.connect() as db:
                row = self._row(db, admin, site_id)
                building = db.execute("SELECT site FROM buildings WHERE id = ? AND company_id = ?",
                                      (building_id, admin.company_id)).fetchone()
                if building is None:
                    raise NotFound(f"building {building_id} not found")
                if building["site"] != row["site"]:
                    db.execute("UPDATE buildings SET site = ? WHERE id = ?", (row["site"], building_id))
                    audit.record(db, admin, "building.site", f"building:{building_id}", {"site": building["site"]},
                                 {"site": row["site"]})
                return self._info(db, row)
        return await asyncio.to_thread(write)

    @staticmethod
    def _row(db: sqlite3.Connection, user: UserInfo, site_id: int) -> sqlite3.Row:
        row = db.execute("SELECT * FROM edge_sites WHERE id = ? AND company_id = ?",
                         (site_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"site {site_id} not found")
        return row

    @staticmethod
    def _info(db: sqlite3.Connection, row: sqlite3.Row) -> SiteInfo:
        buildings = db.execute("SELECT id FROM buildings WHERE site = ? AND company_id = ? ORDER BY id",
                               (row["site"], row["company_id"])).fetchall()
        meters = db.execute("SELECT m.serial FROM meters m JOIN buildings b ON b.id = m.building_id "
                            "WHERE b.site = ? AND b.company_id = ? ORDER BY m.serial",
                            (row["site"], row["company_id"])).fetchall()
        return SiteInfo(row["id"], row["site"], row["name"], tuple(b[0] for b in buildings),
                        tuple(m[0] for m in meters))


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InvalidInput("name: 1 to 200 characters")
    return name
