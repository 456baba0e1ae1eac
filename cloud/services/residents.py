"""Residents (owners) of premises and their activation codes (manual 3.3, 4.6.3, 4.6.4).

A dispatcher without reader status (the settings of 4.6 are the dispatcher's) generates an
activation code for a premise (one premise at a time, or for every premise of a building except
those whose code was activated);
a code is valid for ``VALID_DAYS`` ("сроком действия одну неделю": from its creation up to and
including ``expires_at``, the end of the period shown with it) and a new one replaces the
premise's unused code at once. The code is shown on the premise page (manual 4.6.3), so it is
stored as issued. A resident registers with a code, their e-mail as login and a password; the
code then links them to the premise and can never be used again. The same e-mail registering a
second premise must give the same password. The staff may also add an owner by e-mail (the
invitation path: ``invite`` adds the owner and gives the premise's code to send, the one still
valid or a new one; cloud/services/objects.py e-mails it). Every change writes an audit entry in
the same transaction; a resident's own registration is logged without a staff user.
Tests: tests/integration/test_registry_residents.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.services import audit
from cloud.services.auth import (
    AuthService,
    hash_password,
    require_dispatcher,
    require_operational_view,
    verify_password,
)
from cloud.services.models import InvalidInput, NotFound, UserInfo
from cloud.services.users import check_password
from cloud.storage.registry import Registry

VALID_DAYS = 7
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read from paper
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True, slots=True)
class ActivationCode:
    premise_id: int
    premise_number: str
    code: str
    created_at: datetime
    expires_at: datetime
    state: str  # "active", "expired" or "activated"


@dataclass(frozen=True, slots=True)
class ResidentInfo:
    id: int
    email: str  # the login
    full_name: str
    phone: str
    registered: bool  # has set a password (through an activation code)
    premise_ids: tuple[int, ...]


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _expired(expires_at: datetime, now: datetime) -> bool:
    """The week of validity includes its last moment: a code is refused only after ``expires_at``."""
    return now > expires_at


def _normal_code(code: str) -> str:
    raw = re.sub(r"[\s-]", "", code.upper())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else code


def _check_person(email: str, full_name: str, phone: str) -> tuple[str, str, str]:
    email, full_name, phone = email.strip().lower(), " ".join(full_name.split()), phone.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidInput(f"email: not an e-mail address: {email!r}")
    if not full_name or len(full_name) > 200:
        raise InvalidInput("full_name: 1 to 200 characters")
    if phone and not re.match(r"^\+?[\d ()-]{6,20}$", phone):
        raise InvalidInput(f"phone: digits, spaces, '()-' and an optional '+', got {phone!r}")
    return email, full_name, phone


def _self_service(db: sqlite3.Connection, company_id: int, action: str, obj: str, after: dict[str, Any],
                  at: datetime) -> None:
    """An audit entry of an action a resident took (no staff user), as audit.record writes them."""
    db.execute("INSERT INTO audit_log (company_id, user_id, at, action, object, before, after) "
               "VALUES (?, NULL, ?, ?, ?, NULL, ?)",
               (company_id, at.isoformat(), action, obj, json.dumps(after, ensure_ascii=False, sort_keys=True)))


class ResidentsService:
    def __init__(self, registry: Registry, auth: AuthService,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.registry = registry
        self.auth = auth
        self.clock = clock

    async def _reader(self, token: str) -> UserInfo:
        user = await self.auth.user(token)
        return require_operational_view(user, "premises and residents are not available to administrators")

    # --- activation codes -------------------------------------------------------------
    async def generate(self, token: str, premise_id: int) -> ActivationCode:
        """A new code for the premise; its unused earlier code stops working."""
        user = require_dispatcher(await self.auth.user(token))
        return await asyncio.to_thread(self._generate_one, user, premise_id)

    def _generate_one(self, user: UserInfo, premise_id: int) -> ActivationCode:
        with self.registry.connect() as db:
            premise = self._premise(db, user, premise_id)
            return self._issue(db, user, premise)

    async def generate_for_building(self, token: str, building_id: int) -> list[ActivationCode]:
        """Codes for every premise of the building except those whose code was activated (manual 4.6.3)."""
        user = require_dispatcher(await self.auth.user(token))
        return await asyncio.to_thread(self._generate_group, user, building_id)

    def _generate_group(self, user: UserInfo, building_id: int) -> list[ActivationCode]:
        with self.registry.connect() as db:
            self._building(db, user, building_id)
            premises = db.execute(
                "SELECT p.id, p.number, b.company_id FROM premises p JOIN buildings b ON b.id = p.building_id "
                "WHERE p.building_id = ? AND NOT EXISTS (SELECT 1 FROM activation_codes a WHERE a.premise_id = p.id "
                "AND a.used_at IS NOT NULL) ORDER BY p.id", (building_id,)).fetchall()
            return [self._issue(db, user, p) for p in premises]

    def _issue(self, db: sqlite3.Connection, user: UserInfo, premise: sqlite3.Row) -> ActivationCode:
        now = self.clock()
        db.execute("UPDATE activation_codes SET expires_at = ? WHERE premise_id = ? AND used_at IS NULL "
                   "AND expires_at > ?", (now.isoformat(), premise["id"], now.isoformat()))
        expires = now + timedelta(days=VALID_DAYS)
        while True:
            code = new_code()
            try:
                db.execute("INSERT INTO activation_codes (premise_id, code, created_by, created_at, expires_at) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (premise["id"], code, user.id, now.isoformat(), expires.isoformat()))
                break
            except sqlite3.IntegrityError:
                continue  # the same 12 letters drawn twice: draw again
        audit.record(db, user, "activation_code.create", f"premise:{premise['id']}", None,
                     {"expires_at": expires.isoformat()})  # the code itself is a credential: not in the log
        return ActivationCode(premise["id"], premise["number"], code, now, expires, "active")

    async def codes(self, token: str, building_id: int) -> list[ActivationCode]:
        """The newest code of each premise of the building, with its state."""
        user = await self._reader(token)

        def read() -> list[ActivationCode]:
            with self.registry.connect() as db:
                self._building(db, user, building_id)
                rows = db.execute(
                    "SELECT a.*, p.number FROM activation_codes a JOIN premises p ON p.id = a.premise_id "
                    "WHERE p.building_id = ? AND a.id = (SELECT max(id) FROM activation_codes WHERE premise_id = p.id) "
                    "ORDER BY p.id", (building_id,)).fetchall()
            return [self._code(r) for r in rows]
        return await asyncio.to_thread(read)

    def _code(self, row: sqlite3.Row) -> ActivationCode:
        expires = datetime.fromisoformat(row["expires_at"])
        state = "activated" if row["used_at"] else "expired" if _expired(expires, self.clock()) else "active"
        return ActivationCode(row["premise_id"], row["number"], row["code"], datetime.fromisoformat(row["created_at"]),
                              expires, state)

    # --- residents ----------------------------------------------------------------------
    async def register(self, code: str, email: str, full_name: str, phone: str, password: str) -> ResidentInfo:
        """A resident registers with an activation code (no session: this is how they get one)."""
        email, full_name, phone = _check_person(email, full_name, phone)
        check_password(password)
        hashed = await asyncio.to_thread(hash_password, password)
        return await asyncio.to_thread(self._register, _normal_code(code), email, full_name, phone, password, hashed)

    def _register(self, code: str, email: str, full_name: str, phone: str, password: str,
                  hashed: str) -> ResidentInfo:
        now = self.clock()
        with self.registry.connect() as db:
            row = db.execute("SELECT a.*, b.company_id FROM activation_codes a JOIN premises p ON p.id = a.premise_id "
                             "JOIN buildings b ON b.id = p.building_id WHERE a.code = ?", (code,)).fetchone()
            if row is None:
                raise InvalidInput("code: unknown activation code")
            if row["used_at"] is not None:
                raise InvalidInput("code: this activation code has been used already")
            if _expired(datetime.fromisoformat(row["expires_at"]), now):
                raise InvalidInput("code: this activation code has expired; ask for a new one")
            if db.execute("SELECT 1 FROM activation_codes WHERE premise_id = ? AND id > ?",
                          (row["premise_id"], row["id"])).fetchone() is not None:
                raise InvalidInput("code: this activation code has expired: a newer code replaced it; "
                                   "use the newest one")
            resident = db.execute("SELECT * FROM residents WHERE email = ?", (email,)).fetchone()
            if resident is None:
                resident_id = db.execute("INSERT INTO residents (email, full_name, phone, password_hash, created_at, "
                                         "registered_at) VALUES (?, ?, ?, ?, ?, ?)",
                                         (email, full_name, phone, hashed, now.isoformat(), now.isoformat())).lastrowid
            elif resident["password_hash"] is None:  # added by the staff, registering now
                resident_id = resident["id"]
                db.execute("UPDATE residents SET full_name = ?, phone = ?, password_hash = ?, registered_at = ? "
                           "WHERE id = ?", (full_name, phone, hashed, now.isoformat(), resident_id))
            elif verify_password(password, resident["password_hash"]):
                resident_id = resident["id"]
            else:
                raise InvalidInput("password: this e-mail is registered with another password")
            used = db.execute("UPDATE activation_codes SET used_at = ?, resident_id = ? WHERE id = ? "
                              "AND used_at IS NULL", (now.isoformat(), resident_id, row["id"])).rowcount
            if not used:  # another registration took it in between
                raise InvalidInput("code: this activation code has been used already")
            db.execute("INSERT OR IGNORE INTO premise_residents VALUES (?, ?, ?)",
                       (row["premise_id"], resident_id, now.isoformat()))
            _self_service(db, row["company_id"], "resident.register", f"premise:{row['premise_id']}",
                          {"email": email, "full_name": full_name, "resident": resident_id}, now)
            return self._resident(db, int(resident_id or 0))

    async def add_owner(self, token: str, premise_id: int, email: str, full_name: str, phone: str = "") -> ResidentInfo:
        """The staff adds an owner by e-mail (manual 4.6.3); they register later to set a password."""
        user = require_dispatcher(await self.auth.user(token))
        email, full_name, phone = _check_person(email, full_name, phone)
        return await asyncio.to_thread(self._add_owner, user, premise_id, email, full_name, phone)

    def _add_owner(self, user: UserInfo, premise_id: int, email: str, full_name: str, phone: str) -> ResidentInfo:
        with self.registry.connect() as db:
            self._premise(db, user, premise_id)
            return self._link_owner(db, user, premise_id, email, full_name, phone)

    def _link_owner(self, db: sqlite3.Connection, user: UserInfo, premise_id: int, email: str, full_name: str,
                    phone: str) -> ResidentInfo:
        now = self.clock().isoformat()
        db.execute("INSERT OR IGNORE INTO residents (email, full_name, phone, created_at) VALUES (?, ?, ?, ?)",
                   (email, full_name, phone, now))
        resident_id = db.execute("SELECT id FROM residents WHERE email = ?", (email,)).fetchone()[0]
        if db.execute("INSERT OR IGNORE INTO premise_residents VALUES (?, ?, ?)",
                      (premise_id, resident_id, now)).rowcount:
            audit.record(db, user, "resident.add", f"premise:{premise_id}", None,
                         {"email": email, "full_name": full_name, "resident": resident_id})
        return self._resident(db, resident_id)

    async def invite(self, token: str, premise_id: int, email: str, full_name: str,
                     phone: str = "") -> tuple[ResidentInfo, ActivationCode, int, str]:
        """Add an owner by e-mail and give the activation code to send them (manual 4.6.3): the
        premise's newest code while it is valid and unused (a printed copy stays good), else a new
        one. Records the invitation (not sent yet); gives (owner, code, invitation id, address)."""
        user = require_dispatcher(await self.auth.user(token))
        email, full_name, phone = _check_person(email, full_name, phone)
        return await asyncio.to_thread(self._invite, user, premise_id, email, full_name, phone)

    def _invite(self, user: UserInfo, premise_id: int, email: str, full_name: str,
                phone: str) -> tuple[ResidentInfo, ActivationCode, int, str]:
        now = self.clock()
        with self.registry.connect() as db:
            premise = self._premise(db, user, premise_id)
            owner = self._link_owner(db, user, premise_id, email, full_name, phone)
            row = db.execute("SELECT a.*, p.number FROM activation_codes a JOIN premises p ON p.id = a.premise_id "
                             "WHERE a.premise_id = ? ORDER BY a.id DESC LIMIT 1", (premise_id,)).fetchone()
            if row is None or row["used_at"] is not None or _expired(datetime.fromisoformat(row["expires_at"]), now):
                code = self._issue(db, user, premise)
                row = db.execute("SELECT a.*, p.number FROM activation_codes a JOIN premises p ON p.id = a.premise_id "
                                 "WHERE a.code = ?", (code.code,)).fetchone()
            code = self._code(row)
            invitation = db.execute(
                "INSERT INTO owner_invitations (premise_id, resident_id, email, code_id, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (premise_id, owner.id, email, row["id"], user.id, now.isoformat())).lastrowid
            audit.record(db, user, "owner.invite", f"premise:{premise_id}", None,
                         {"email": email, "invitation": invitation, "expires_at": code.expires_at.isoformat()})
            address = db.execute("SELECT b.address FROM buildings b JOIN premises p ON p.building_id = b.id "
                                 "WHERE p.id = ?", (premise_id,)).fetchone()[0]
        return owner, code, int(invitation or 0), address

    async def residents(self, token: str, building_id: int) -> list[ResidentInfo]:
        """The owners of the building's premises (manual 4.6.4), each with only this company's premises."""
        user = await self._reader(token)

        def read() -> list[ResidentInfo]:
            with self.registry.connect() as db:
                self._building(db, user, building_id)
                ids = db.execute("SELECT DISTINCT pr.resident_id FROM premise_residents pr JOIN premises p "
                                 "ON p.id = pr.premise_id WHERE p.building_id = ? ORDER BY pr.resident_id",
                                 (building_id,)).fetchall()
                return [self._resident(db, r[0], building_id) for r in ids]
        return await asyncio.to_thread(read)

    # --- helpers ------------------------------------------------------------------------
    @staticmethod
    def _resident(db: sqlite3.Connection, resident_id: int, building_id: int | None = None) -> ResidentInfo:
        r = db.execute("SELECT * FROM residents WHERE id = ?", (resident_id,)).fetchone()
        sql = "SELECT pr.premise_id FROM premise_residents pr JOIN premises p ON p.id = pr.premise_id " \
              "WHERE pr.resident_id = ?"
        args: tuple = (resident_id,)
        if building_id is not None:
            sql += " AND p.building_id = ?"
            args += (building_id,)
        premises = tuple(p[0] for p in db.execute(sql + " ORDER BY pr.premise_id", args).fetchall())
        return ResidentInfo(r["id"], r["email"], r["full_name"], r["phone"], r["password_hash"] is not None, premises)

    @staticmethod
    def _building(db: sqlite3.Connection, user: UserInfo, building_id: int) -> None:
        if db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                      (building_id, user.company_id)).fetchone() is None:
            raise NotFound(f"building {building_id} not found")

    @staticmethod
    def _premise(db: sqlite3.Connection, user: UserInfo, premise_id: int) -> sqlite3.Row:
        row = db.execute("SELECT p.id, p.number, b.company_id FROM premises p JOIN buildings b ON b.id = p.building_id "
                         "WHERE p.id = ? AND b.company_id = ?", (premise_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"premise {premise_id} not found")
        return row
