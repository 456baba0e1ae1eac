"""Notices to residents: drafts, publishing, the resident's view (manual 4.5.10).

A dispatcher writes a notice (title, text, the buildings it is for, the period it is relevant:
from a date up to the end of the works), publishes it and unpublishes it; only drafts are edited, and
only a notice never published is deleted (cloud/services/desk_rules.py). Engineers and readers see
the notices, administrators get NotFound (manual 2.3). ``for_resident`` gives a resident the published
notices current today (their building's date) for the buildings of their premises, each company's own
(the resident's page, issue 16). Every change writes an audit entry in its transaction. Staff times are
the company city's local time. Tests: tests/integration/test_desk.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from cloud.services import audit
from cloud.services import desk_rules as rules
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.models import NotFound, UserInfo, check_id
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone

if TYPE_CHECKING:
    from cloud.services.commands import CommandService

_REFUSAL = "notices are not available to administrators"


@dataclass(frozen=True, slots=True)
class NoticeBuilding:
    id: int
    address: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice as the staff see it; times in the company city's local time."""

    id: int
    title: str
    body: str
    buildings: tuple[NoticeBuilding, ...]
    relevant_from: date
    relevant_to: date | None  # the end of the works; None: until unpublished
    published: bool
    created_at: datetime
    author: str
    updated_at: datetime | None  # last edit
    editor: str | None
    published_at: datetime | None  # the latest publication, while published
    publisher: str | None
    ever_published: bool  # residents have seen it: it is kept, not deleted
    unpublished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ResidentNotice:
    """A notice as a resident sees it."""

    id: int
    title: str
    body: str
    addresses: tuple[str, ...]  # the resident's buildings it is for
    relevant_from: date
    relevant_to: date | None
    published_at: datetime  # local time of (the first of) those buildings
    company: str


class NoticesService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def _viewer(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token), _REFUSAL)

    async def _dispatcher(self, token: str) -> UserInfo:
        return require_dispatcher(await self._viewer(token))

    # --- staff -----------------------------------------------------------------------------------

    async def notices(self, token: str, *, published: bool | None = None) -> list[Notice]:
        """The company's notices, newest first; ``published`` True / False: only those / only drafts."""
        user = await self._viewer(token)

        def read() -> list[Notice]:
            with self.registry.connect() as db:
                sql, args = "SELECT id FROM notices WHERE company_id = ?", [user.company_id]
                if published is not None:
                    sql += " AND published_at IS NOT NULL" if published else " AND published_at IS NULL"
                ids = [r[0] for r in db.execute(sql + " ORDER BY id DESC", args).fetchall()]
                return [_notice(db, user, i) for i in ids]
        return await asyncio.to_thread(read)

    async def notice(self, token: str, notice_id: int) -> Notice:
        user = await self._viewer(token)
        check_id("notice_id", notice_id)

        def read() -> Notice:
            with self.registry.connect() as db:
                return _notice(db, user, notice_id)
        return await asyncio.to_thread(read)

    async def today(self, token: str) -> date:
        """The company city's date now: a new notice's default start, the day publishing is judged by."""
        user = await self._viewer(token)

        def read() -> date:
            with self.registry.connect() as db:
                return self.clock().astimezone(zone(_city_zone(db, user))).date()
        return await asyncio.to_thread(read)

    async def create(self, token: str, title: str, body: str, building_ids: Sequence[int], relevant_from: date,
                     relevant_to: date | None = None) -> Notice:
        """A new draft (a dispatcher)."""
        user = await self._dispatcher(token)
        draft = rules.check_notice(title, body, building_ids, relevant_from, relevant_to)

        def write() -> Notice:
            now = self.clock().astimezone(UTC).isoformat()
            with self.registry.connect() as db:
                _own_buildings(db, user, draft.building_ids)
                notice_id = int(db.execute(
                    "INSERT INTO notices (company_id, title, body, relevant_from, relevant_to, created_by, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (user.company_id, draft.title, draft.body, draft.relevant_from.isoformat(),
                     _iso(draft.relevant_to), user.id, now)).lastrowid or 0)
                db.executemany("INSERT INTO notice_buildings VALUES (?, ?)",
                               [(notice_id, b) for b in draft.building_ids])
                audit.record(db, user, "notice.create", f"notice:{notice_id}", None, _json(draft))
                return _notice(db, user, notice_id)
        return await asyncio.to_thread(write)

    async def edit(self, token: str, notice_id: int, title: str, body: str, building_ids: Sequence[int],
                   relevant_from: date, relevant_to: date | None = None) -> Notice:
        """Change a draft (a dispatcher); a published notice is unpublished first."""
        user = await self._dispatcher(token)
        check_id("notice_id", notice_id)
        draft = rules.check_notice(title, body, building_ids, relevant_from, relevant_to)

        def write(db: sqlite3.Connection, before: Notice, now: str) -> None:
            rules.check_notice_edit(before.published)
            _own_buildings(db, user, draft.building_ids)
            db.execute("UPDATE notices SET title = ?, body = ?, relevant_from = ?, relevant_to = ?, updated_by = ?, "
                       "updated_at = ? WHERE id = ?", (draft.title, draft.body, draft.relevant_from.isoformat(),
                                                       _iso(draft.relevant_to), user.id, now, notice_id))
            db.execute("DELETE FROM notice_buildings WHERE notice_id = ?", (notice_id,))
            db.executemany("INSERT INTO notice_buildings VALUES (?, ?)", [(notice_id, b) for b in draft.building_ids])
            old = rules.NoticeDraft(before.title, before.body, tuple(b.id for b in before.buildings),
                                    before.relevant_from, before.relevant_to)
            audit.record(db, user, "notice.edit", f"notice:{notice_id}", _json(old), _json(draft))
        return await asyncio.to_thread(self._change, user, notice_id, write)

    async def publish(self, token: str, notice_id: int) -> Notice:
        """Show the notice to the residents of its buildings (a dispatcher)."""
        user = await self._dispatcher(token)
        check_id("notice_id", notice_id)

        def write(db: sqlite3.Connection, before: Notice, now: str) -> None:
            today = self.clock().astimezone(zone(_city_zone(db, user))).date()
            rules.check_publish(before.published, before.relevant_to, today)
            db.execute("UPDATE notices SET published_at = ?, published_by = ?, first_published_at = "
                       "COALESCE(first_published_at, ?) WHERE id = ?", (now, user.id, now, notice_id))
            audit.record(db, user, "notice.publish", f"notice:{notice_id}", {"published": False}, {"published": True})
        return await asyncio.to_thread(self._change, user, notice_id, write)

    async def unpublish(self, token: str, notice_id: int) -> Notice:
        """Take the notice back from the residents (a dispatcher); it becomes a draft again."""
        user = await self._dispatcher(token)
        check_id("notice_id", notice_id)

        def write(db: sqlite3.Connection, before: Notice, now: str) -> None:
            rules.check_unpublish(before.published)
            db.execute("UPDATE notices SET published_at = NULL, published_by = NULL, unpublished_at = ?, "
                       "unpublished_by = ? WHERE id = ?", (now, user.id, notice_id))
            audit.record(db, user, "notice.unpublish", f"notice:{notice_id}", {"published": True},
                         {"published": False})
        return await asyncio.to_thread(self._change, user, notice_id, write)

    async def delete(self, token: str, notice_id: int) -> None:
        """Delete a draft never published (a dispatcher)."""
        user = await self._dispatcher(token)
        check_id("notice_id", notice_id)

        def write() -> None:
            with self.registry.connect() as db:
                before = _notice(db, user, notice_id)
                rules.check_delete(before.ever_published)
                db.execute("DELETE FROM notice_buildings WHERE notice_id = ?", (notice_id,))
                db.execute("DELETE FROM notices WHERE id = ?", (notice_id,))
                audit.record(db, user, "notice.delete", f"notice:{notice_id}",
                             _json(rules.NoticeDraft(before.title, before.body, tuple(b.id for b in before.buildings),
                                                     before.relevant_from, before.relevant_to)), None)
        await asyncio.to_thread(write)

    def _change(self, user: UserInfo, notice_id: int,
                write: Callable[[sqlite3.Connection, Notice, str], None]) -> Notice:
        """``write`` under the registry's write lock (two dispatchers at once are serialised), then the result."""
        with self.registry.connect() as db:
            db.execute("UPDATE notices SET id = id WHERE id = ?", (notice_id,))
            write(db, _notice(db, user, notice_id), self.clock().astimezone(UTC).isoformat())
            return _notice(db, user, notice_id)

    # --- residents --------------------------------------------------------------------------------

    async def for_resident(self, resident_id: int) -> list[ResidentNotice]:
        """The published notices current today for the buildings of the resident's premises, newest
        first (the resident's page, issue 16; the caller vouches for the resident id)."""
        check_id("resident_id", resident_id)
        return await asyncio.to_thread(self._for_resident, resident_id)

    def _for_resident(self, resident_id: int) -> list[ResidentNotice]:
        now = self.clock()
        with self.registry.connect() as db:
            rows = db.execute(
                "SELECT DISTINCT n.*, b.id AS building_id, b.address, b.time_zone, c.name AS company FROM notices n "
                "JOIN notice_buildings nb ON nb.notice_id = n.id JOIN buildings b ON b.id = nb.building_id "
                "AND b.company_id = n.company_id JOIN companies c ON c.id = n.company_id "
                "WHERE n.published_at IS NOT NULL AND b.id IN (SELECT p.building_id FROM premise_residents pr "
                "JOIN premises p ON p.id = pr.premise_id WHERE pr.resident_id = ?) ORDER BY n.id DESC, b.address",
                (resident_id,)).fetchall()
        out: dict[int, tuple[sqlite3.Row, list[str]]] = {}
        for r in rows:
            tz = zone(r["time_zone"])
            today = now.astimezone(tz).date()
            if not rules.is_current(date.fromisoformat(r["relevant_from"]), _day(r["relevant_to"]), today):
                continue
            out.setdefault(r["id"], (r, []))[1].append(r["address"])
        return [ResidentNotice(r["id"], r["title"], r["body"], tuple(addresses), date.fromisoformat(r["relevant_from"]),
                               _day(r["relevant_to"]),
                               utc_to_local(datetime.fromisoformat(r["published_at"]), zone(r["time_zone"])),
                               r["company"]) for r, addresses in out.values()]


# --- helpers -------------------------------------------------------------------------------------

def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _json(draft: rules.NoticeDraft) -> dict[str, object]:
    return {"title": draft.title, "body": draft.body, "buildings": list(draft.building_ids),
            "relevant_from": draft.relevant_from.isoformat(), "relevant_to": _iso(draft.relevant_to)}


def _city_zone(db: sqlite3.Connection, user: UserInfo) -> str:
    """The company city's time zone (staff times and "today" of a notice)."""
    row = db.execute("SELECT ci.time_zone FROM companies co JOIN cities ci ON ci.name = co.city WHERE co.id = ?",
                     (user.company_id,)).fetchone()
    return row["time_zone"] if row else "Europe/Moscow"


def _own_buildings(db: sqlite3.Connection, user: UserInfo, ids: Sequence[int]) -> None:
    marks = ",".join("?" * len(ids))
    found = {r[0] for r in db.execute(f"SELECT id FROM buildings WHERE company_id = ? AND id IN ({marks})",  # noqa: S608 - placeholders only
                                      (user.company_id, *ids)).fetchall()}
    for i in ids:
        if i not in found:
            raise NotFound(f"building {i} not found")


def _notice(db: sqlite3.Connection, user: UserInfo, notice_id: int) -> Notice:
    r = db.execute("SELECT n.*, a.full_name AS author, e.full_name AS editor, p.full_name AS publisher "
                   "FROM notices n LEFT JOIN users a ON a.id = n.created_by LEFT JOIN users e ON e.id = n.updated_by "
                   "LEFT JOIN users p ON p.id = n.published_by WHERE n.id = ? AND n.company_id = ?",
                   (notice_id, user.company_id)).fetchone()
    if r is None:
        raise NotFound(f"notice {notice_id} not found")
    buildings = tuple(NoticeBuilding(b["id"], b["address"]) for b in db.execute(
        "SELECT b.id, b.address FROM notice_buildings nb JOIN buildings b ON b.id = nb.building_id "
        "WHERE nb.notice_id = ? ORDER BY b.address", (notice_id,)).fetchall())
    tz = zone(_city_zone(db, user))

    def local(text: str | None) -> datetime | None:
        return None if text is None else utc_to_local(datetime.fromisoformat(text), tz)

    return Notice(r["id"], r["title"], r["body"], buildings, date.fromisoformat(r["relevant_from"]),
                  _day(r["relevant_to"]), r["published_at"] is not None, local(r["created_at"]) or datetime.min,
                  r["author"] or "", local(r["updated_at"]), r["editor"], local(r["published_at"]), r["publisher"],
                  r["first_published_at"] is not None, local(r["unpublished_at"]))
