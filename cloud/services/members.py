"""People of other companies who work in this one (manual 3.4: "если Вы работаете в нескольких
обслуживающих компаниях"), and the company a person works in.

A company's administrator (without reader status) adds an existing user of another company by login,
with the role and reader status they have here, changes them, and removes them; the person then picks
the company to work in on their profile (``choices``, ``choose``), and every service sees them as a
user of that company with that role (cloud/services/auth.py). Integration accounts stay in their own
company. Removing a membership sends the person back to their own company at their next request.
Every change writes an audit entry in the same transaction.
Tests: tests/integration/test_members.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.services import audit
from cloud.services.auth import AuthService, require_administrator
from cloud.services.models import InvalidInput, NotFound, Role, UserInfo, check_id


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    login: str
    full_name: str
    home_company: str  # the company the person belongs to
    role: str  # their role in this company
    reader: bool
    added_at: datetime


@dataclass(frozen=True, slots=True)
class CompanyChoice:
    """A company the person may work in, with their role there."""

    id: int
    name: str
    role: str
    reader: bool
    own: bool  # their own company (not a membership)


def _role(value: str) -> str:
    try:
        return Role(value).value
    except ValueError:
        raise InvalidInput(f"role: one of {', '.join(r.value for r in Role)}, got {value!r}") from None


_MEMBER_SQL = """
SELECT m.user_id, u.login, u.full_name, hc.name AS home_company, m.role, m.reader, m.added_at
FROM company_members m JOIN users u ON u.id = m.user_id JOIN companies hc ON hc.id = u.company_id
"""


def _member(row: sqlite3.Row) -> Member:
    return Member(row["user_id"], row["login"], row["full_name"], row["home_company"], row["role"],
                  bool(row["reader"]), datetime.fromisoformat(row["added_at"]))


class MembersService:
    def __init__(self, registry, auth: AuthService,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.registry = registry
        self.auth = auth
        self.clock = clock

    # --- the administrator's side ----------------------------------------------------------------
    async def members(self, token: str) -> list[Member]:
        admin = require_administrator(await self.auth.user(token))
        rows = await asyncio.to_thread(self.registry.all, _MEMBER_SQL + " WHERE m.company_id = ? ORDER BY u.login",
                                       admin.company_id)
        return [_member(r) for r in rows]

    async def add(self, token: str, login: str, role: str, reader: bool = False) -> Member:
        """Let the user with ``login`` (of another company) work in this one with ``role``."""
        admin = require_administrator(await self.auth.user(token))
        login, role = login.strip().lower(), _role(role)
        if not login:
            raise InvalidInput("login: the login of a user of another company")
        return await asyncio.to_thread(self._add, admin, login, role, bool(reader))

    def _add(self, admin: UserInfo, login: str, role: str, reader: bool) -> Member:
        with self.registry.connect() as db:
            user = db.execute("SELECT id, company_id, integration FROM users WHERE login = ?", (login,)).fetchone()
            if user is None:
                raise InvalidInput(f"login: no user {login!r}")
            if user["company_id"] == admin.company_id:
                raise InvalidInput(f"login: {login!r} is a user of this company already")
            if user["integration"]:
                raise InvalidInput(f"login: {login!r} is an integration account; it works in its own company only")
            if db.execute("SELECT 1 FROM company_members WHERE user_id = ? AND company_id = ?",
                          (user["id"], admin.company_id)).fetchone() is not None:
                raise InvalidInput(f"login: {login!r} works in this company already")
            db.execute("INSERT INTO company_members (user_id, company_id, role, reader, added_by, added_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (user["id"], admin.company_id, role, int(reader), admin.id, self.clock().isoformat()))
            audit.record(db, admin, "member.add", f"user:{user['id']}", None,
                         {"login": login, "role": role, "reader": reader})
            return _member(db.execute(_MEMBER_SQL + " WHERE m.user_id = ? AND m.company_id = ?",
                                      (user["id"], admin.company_id)).fetchone())

    async def update(self, token: str, user_id: int, role: str, reader: bool) -> Member:
        admin = require_administrator(await self.auth.user(token))
        check_id("user_id", user_id)
        role = _role(role)

        def write() -> Member:
            with self.registry.connect() as db:
                before = self._row(db, admin, user_id)
                db.execute("UPDATE company_members SET role = ?, reader = ? WHERE user_id = ? AND company_id = ?",
                           (role, int(reader), user_id, admin.company_id))
                audit.record(db, admin, "member.update", f"user:{user_id}",
                             {"role": before["role"], "reader": bool(before["reader"])},
                             {"role": role, "reader": bool(reader)})
                return _member(self._row(db, admin, user_id))
        return await asyncio.to_thread(write)

    async def remove(self, token: str, user_id: int) -> None:
        admin = require_administrator(await self.auth.user(token))
        check_id("user_id", user_id)

        def write() -> None:
            with self.registry.connect() as db:
                before = self._row(db, admin, user_id)
                db.execute("DELETE FROM company_members WHERE user_id = ? AND company_id = ?",
                           (user_id, admin.company_id))
                audit.record(db, admin, "member.remove", f"user:{user_id}",
                             {"login": before["login"], "role": before["role"]}, None)
        await asyncio.to_thread(write)

    @staticmethod
    def _row(db: sqlite3.Connection, admin: UserInfo, user_id: int) -> sqlite3.Row:
        row = db.execute(_MEMBER_SQL + " WHERE m.user_id = ? AND m.company_id = ?",
                         (user_id, admin.company_id)).fetchone()
        if row is None:
            raise NotFound(f"member {user_id} not found")
        return row

    # --- the person's side (the working mode, manual 3.4) ------------------------------------------
    async def choices(self, token: str) -> list[CompanyChoice]:
        """The companies the signed-in person may work in: their own first."""
        user = await self.auth.user(token)
        return await asyncio.to_thread(self._choices, user.id)

    def _choices(self, user_id: int) -> list[CompanyChoice]:
        rows = self.registry.all(
            "SELECT c.id, c.name, u.role, u.reader, 1 AS own FROM users u JOIN companies c ON c.id = u.company_id "
            "WHERE u.id = ? UNION ALL SELECT c.id, c.name, m.role, m.reader, 0 FROM company_members m "
            "JOIN companies c ON c.id = m.company_id WHERE m.user_id = ? ORDER BY own DESC, name", user_id, user_id)
        return [CompanyChoice(r["id"], r["name"], r["role"], bool(r["reader"]), bool(r["own"])) for r in rows]

    async def choose(self, token: str, company_id: int) -> UserInfo:
        """Work in ``company_id`` from now on (its main city becomes the working city); the user as the
        services now see them."""
        user = await self.auth.user(token)
        if user.via_token is not None:
            raise InvalidInput("company_id: an API token works in its user's own company")
        check_id("company_id", company_id)
        choices = await asyncio.to_thread(self._choices, user.id)
        chosen = next((c for c in choices if c.id == company_id), None)
        if chosen is None:
            raise InvalidInput(f"company_id: {company_id} is not a company you work in")

        def write() -> None:
            with self.registry.connect() as db:
                city = db.execute("SELECT ci.id FROM companies c JOIN cities ci ON ci.name = c.city "
                                  "JOIN company_cities cc ON cc.city_id = ci.id AND cc.company_id = c.id "
                                  "WHERE c.id = ?", (company_id,)).fetchone()
                if city is None:  # a company without its main city registered: any of its cities
                    city = db.execute("SELECT city_id AS id FROM company_cities WHERE company_id = ? "
                                      "ORDER BY city_id LIMIT 1", (company_id,)).fetchone()
                if city is None:
                    raise InvalidInput(f"company_id: the company {chosen.name!r} has no city to work in")
                db.execute("INSERT INTO user_working_modes (user_id, city_id, company_id) VALUES (?, ?, ?) "
                           "ON CONFLICT (user_id) DO UPDATE SET city_id = excluded.city_id, "
                           "company_id = excluded.company_id",
                           (user.id, city["id"], None if chosen.own else company_id))
                audit.record(db, user, "profile.company", f"user:{user.id}", {"company": user.company_name},
                             {"company": chosen.name})
        if chosen.id != user.company_id:
            await asyncio.to_thread(write)
        return await self.auth.user(token)
