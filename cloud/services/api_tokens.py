"""Per-user API tokens for integrations (the JSON API under /api).

A token is issued to whoever will use it: a user creates tokens for themself, and an
administrator for themself or for an integration account of the company (a user row that never
logs in with a password, cloud/services/users.py). An administrator cannot mint a token that acts
as a dispatcher or engineer, so every action is audited under its real actor, with the token
named beside it. The token acts as its owner, with the same role, reader status and company scope
(AuthService resolves it like a session). A user lists and revokes their own tokens; an
administrator lists and revokes every token of the company. Only the token's SHA-256 is stored;
the plain token is shown once, at creation. Tokens expire (at most ``MAX_DAYS``) and can be
revoked. Creation and revocation are audit-logged.
Tests: tests/integration/test_api_http.py, tests/integration/test_login_guard.py.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.services import audit
from cloud.services.auth import API_TOKEN_PREFIX, AuthService, require_administrator, token_hash
from cloud.services.models import Forbidden, InvalidInput, NotFound, Role, UserInfo
from cloud.storage.registry import Registry

MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    id: int
    user_login: str
    name: str
    created_at: datetime
    expires_at: datetime
    revoked: bool


@dataclass(frozen=True, slots=True)
class NewApiToken:
    info: ApiTokenInfo
    token: str  # shown once; only its hash is kept


class ApiTokenService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def create(self, token: str, user_id: int, name: str, days: int = 365) -> NewApiToken:
        caller = await self.auth.user(token)
        if caller.id != user_id:
            require_administrator(caller)  # anyone else's token: an administrator, for an integration account
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("name: 1 to 100 characters")
        if not 1 <= days <= MAX_DAYS:
            raise InvalidInput(f"days: 1 to {MAX_DAYS}, got {days}")
        return await asyncio.to_thread(self._create, caller, user_id, name, days)

    def _create(self, admin: UserInfo, user_id: int, name: str, days: int) -> NewApiToken:
        plain = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = now + timedelta(days=days)
        with self.registry.connect() as db:
            owner = db.execute("SELECT login, integration FROM users WHERE id = ? AND company_id = ?",
                               (user_id, admin.company_id)).fetchone()
            if owner is None:
                raise NotFound(f"user {user_id} not found")
            if user_id != admin.id and not owner["integration"]:
                raise Forbidden(f"user_id: {owner['login']} creates their own API tokens; an administrator "
                                "creates them only for integration accounts")
            token_id = db.execute("INSERT INTO api_tokens (user_id, name, token_hash, created_by, created_at, "
                                  "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                                  (user_id, name, token_hash(plain), admin.id, now.isoformat(),
                                   expires.isoformat())).lastrowid
            audit.record(db, admin, "api_token.create", f"api_token:{token_id}", None,
                         {"user": owner["login"], "name": name, "expires_at": expires.isoformat()})
        return NewApiToken(ApiTokenInfo(int(token_id or 0), owner["login"], name, now, expires, False), plain)

    async def list(self, token: str) -> list[ApiTokenInfo]:
        """The company's tokens for an administrator, the caller's own for anyone else."""
        caller = await self.auth.user(token)
        mine = caller.reader or caller.role is not Role.ADMINISTRATOR
        rows = await asyncio.to_thread(
            self.registry.all, "SELECT t.*, u.login FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE u.company_id = ? AND (? = 0 OR u.id = ?) ORDER BY t.id", caller.company_id, int(mine), caller.id)
        return [ApiTokenInfo(r["id"], r["login"], r["name"], datetime.fromisoformat(r["created_at"]),
                             datetime.fromisoformat(r["expires_at"]), r["revoked_at"] is not None) for r in rows]

    async def revoke(self, token: str, token_id: int) -> None:
        """Revoke a token of the company (an administrator) or one of the caller's own."""
        await asyncio.to_thread(self._revoke, await self.auth.user(token), token_id)

    def _revoke(self, admin: UserInfo, token_id: int) -> None:
        with self.registry.connect() as db:
            row = db.execute("SELECT t.revoked_at, t.user_id FROM api_tokens t JOIN users u ON u.id = t.user_id "
                             "WHERE t.id = ? AND u.company_id = ?", (token_id, admin.company_id)).fetchone()
            if row is not None and row["user_id"] != admin.id:
                require_administrator(admin)
            if row is None:
                raise NotFound(f"API token {token_id} not found")
            if row["revoked_at"] is not None:
                return
            now = datetime.now(UTC).isoformat()
            db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
            audit.record(db, admin, "api_token.revoke", f"api_token:{token_id}", {"revoked": False},
                         {"revoked": True})
