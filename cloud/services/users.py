"""Users of a company as its administrator manages them (manual 2.3, 4.6 "Пользователи").

An administrator without reader status lists the users of their own company, creates one
(role, reader status, initial password), changes name, role, reader status and contacts (e-mail,
phone: checked by cloud/services/company_rules.py), blocks and unblocks
an account and resets a password. Blocking or a password reset ends the user's sessions; a
blocked user's API tokens stop working too (AuthService refuses blocked accounts). Every change
writes an audit entry with the state before and after (never a password or its hash) in the
same transaction. A user of another company is "not found". An integration account is the owner
of API tokens an integration uses (it never logs in with a password); an account locked after
failed logins (cloud/services/login_guard.py) is unlocked here.
Tests: tests/integration/test_cloud_users.py, tests/integration/test_login_guard.py,
tests/integration/test_company.py.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from cloud.services import audit, company_rules, login_guard
from cloud.services.audit import AuditEntry
from cloud.services.auth import AuthService, hash_password, require_administrator
from cloud.services.models import InvalidInput, NotFound, Role, UserInfo
from cloud.storage.registry import Registry

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    login: str
    full_name: str
    role: Role
    reader: bool
    blocked: bool
    integration: bool = False  # an API token owner that never logs in with a password
    login_locked: bool = False  # locked after failed logins until an administrator unlocks it
    email: str = ""  # contacts the list shows (manual 4.6.14); "" = not given
    phone: str = ""


def _record(row: sqlite3.Row, login_locked: bool = False) -> UserRecord:
    return UserRecord(row["id"], row["login"], row["full_name"], Role(row["role"]), bool(row["reader"]),
                      bool(row["blocked"]), bool(row["integration"]), login_locked, row["email"], row["phone"])


def _state(user: UserRecord) -> dict[str, Any]:
    return {"login": user.login, "full_name": user.full_name, "role": user.role.value, "reader": user.reader,
            "blocked": user.blocked, "email": user.email, "phone": user.phone}


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password: at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise InvalidInput("password: must not start or end with spaces")


class UsersService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def _admin(self, token: str) -> UserInfo:
        return require_administrator(await self.auth.user(token))

    async def list(self, token: str) -> list[UserRecord]:
        admin = await self._admin(token)
        rows = await asyncio.to_thread(
            self.registry.all, "SELECT u.*, f.failures FROM users u LEFT JOIN login_failures f ON f.kind = 'login' "
            "AND f.subject = u.login WHERE u.company_id = ? ORDER BY u.login", admin.company_id)
        return [_record(r, (r["failures"] or 0) >= login_guard.ACCOUNT_LOCK) for r in rows]

    async def create(self, token: str, login: str, full_name: str, role: str, reader: bool,
                     password: str, integration: bool = False) -> UserRecord:
        """A new user; an integration account gets no usable password (``password`` is ignored)."""
        admin = await self._admin(token)
        if integration:
            password = secrets.token_urlsafe(24)  # never told: the account logs in only by API token
        login, full_name = login.strip().lower(), full_name.strip()
        if not LOGIN.match(login):
            raise InvalidInput("login: 3-32 characters: latin letters, digits, '.', '_' or '-'")
        if not full_name or len(full_name) > 200:
            raise InvalidInput("full_name: 1 to 200 characters")
        role_ = _role(role)
        check_password(password)
        hashed = await asyncio.to_thread(hash_password, password)
        if integration and role_ is Role.ADMINISTRATOR:
            raise InvalidInput("role: an integration account may not administer the company")
        return await asyncio.to_thread(self._create, admin, login, full_name, role_, reader, hashed, integration)

    def _create(self, admin: UserInfo, login: str, full_name: str, role: Role, reader: bool, hashed: str,
                integration: bool) -> UserRecord:
        with self.registry.connect() as db:
            try:
                user_id = db.execute("INSERT INTO users (company_id, login, full_name, role, reader, password_hash, "
                                     "integration) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                     (admin.company_id, login, full_name, role.value, int(reader), hashed,
                                      int(integration))).lastrowid
            except sqlite3.IntegrityError as exc:
                raise InvalidInput(f"login: {login!r} is taken") from exc
            login_guard.unlock(db, login)  # guesses at the login before it existed are not the new user's
            created = _record(db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())
            audit.record(db, admin, "user.create", f"user:{created.id}", None, _state(created))
        return created

    async def update(self, token: str, user_id: int, *, role: str | None = None, reader: bool | None = None,
                     full_name: str | None = None, email: str | None = None,
                     phone: str | None = None) -> UserRecord:
        """Change role, reader status, name or contacts; an administrator cannot take away their own rights."""
        admin = await self._admin(token)
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = _role(role).value
        if reader is not None:
            changes["reader"] = int(reader)
        if full_name is not None:
            if not full_name.strip() or len(full_name) > 200:
                raise InvalidInput("full_name: 1 to 200 characters")
            changes["full_name"] = full_name.strip()
        if email is not None:
            changes["email"] = company_rules.email(email)
        if phone is not None:
            changes["phone"] = company_rules.phone(phone)
        if user_id == admin.id and (changes.get("role", Role.ADMINISTRATOR.value) != Role.ADMINISTRATOR.value
                                    or changes.get("reader")):
            raise InvalidInput("role: an administrator cannot take away their own administration rights")
        return await asyncio.to_thread(self._change, admin, user_id, "user.update", changes, False)

    async def set_blocked(self, token: str, user_id: int, blocked: bool) -> UserRecord:
        admin = await self._admin(token)
        if blocked and user_id == admin.id:
            raise InvalidInput("blocked: an administrator cannot block their own account")
        action = "user.block" if blocked else "user.unblock"
        return await asyncio.to_thread(self._change, admin, user_id, action, {"blocked": int(blocked)}, blocked)

    async def unlock(self, token: str, user_id: int) -> UserRecord:
        """Lift the lock that failed logins put on the account (audited)."""
        admin = await self._admin(token)
        return await asyncio.to_thread(self._unlock, admin, user_id)

    def _unlock(self, admin: UserInfo, user_id: int) -> UserRecord:
        with self.registry.connect() as db:
            row = db.execute("SELECT * FROM users WHERE id = ? AND company_id = ?",
                             (user_id, admin.company_id)).fetchone()
            if row is None:
                raise NotFound(f"user {user_id} not found")
            was_locked = login_guard.locked(db, row["login"])
            if login_guard.unlock(db, row["login"]):
                audit.record(db, admin, "user.login_unlock", f"user:{user_id}", {"login_locked": was_locked},
                             {"login_locked": False})
        return _record(row)

    async def reset_password(self, token: str, user_id: int, password: str) -> UserRecord:
        admin = await self._admin(token)
        check_password(password)
        hashed = await asyncio.to_thread(hash_password, password)
        return await asyncio.to_thread(self._change, admin, user_id, "user.reset_password",
                                       {"password_hash": hashed}, True)

    def _change(self, admin: UserInfo, user_id: int, action: str, changes: dict[str, Any],
                end_sessions: bool) -> UserRecord:
        with self.registry.connect() as db:
            row = db.execute("SELECT * FROM users WHERE id = ? AND company_id = ?",
                             (user_id, admin.company_id)).fetchone()
            if row is None:
                raise NotFound(f"user {user_id} not found")
            before = _record(row)
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)  # column names are ours, not input
                db.execute(f"UPDATE users SET {assignments} WHERE id = ?", (*changes.values(), user_id))  # noqa: S608
            if end_sessions:
                db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            after = _record(db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())
            after_state = _state(after)
            if "password_hash" in changes:
                after_state["password"] = "reset"  # noqa: S105 - a marker, never the password
            audit.record(db, admin, action, f"user:{user_id}", _state(before), after_state)
        return after

    async def audit_log(self, token: str, limit: int = 200) -> builtins.list[AuditEntry]:
        """The company's audit entries, newest first."""
        admin = await self._admin(token)

        def read() -> list[AuditEntry]:
            with self.registry.connect() as db:
                return audit.entries(db, admin.company_id, limit)
        return await asyncio.to_thread(read)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"role: one of {', '.join(r.value for r in Role)}, got {value!r}") from None
