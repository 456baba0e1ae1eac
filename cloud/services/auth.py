"""Authentication: scrypt password hashes, server-side sessions that expire (manual 3.5).

A session token is random; only its SHA-256 is stored, so a leaked registry file does not
hand out sessions. Failed logins slow down and then lock the account (cloud/services/login_guard.py);
an integration account (an API token's owner) never logs in with a password. Blocked users cannot
log in and their sessions stop working. An API token
(prefix ``duapi.``, cloud/services/api_tokens.py) is resolved to its user the same way, so
every service call checks role, reader status and company whichever the caller is.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cloud.services import login_guard
from cloud.services.models import AuthError, Forbidden, LoginThrottled, NotFound, Role, Session, UserInfo
from cloud.storage.registry import Registry

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(digest) // 2)
    return hmac.compare_digest(candidate.hex(), digest)


def require_writer(user: UserInfo) -> UserInfo:
    """The user, if they may change operational data: a dispatcher or engineer without reader status."""
    if user.reader:
        raise Forbidden("reader status is read-only")
    if user.role not in (Role.DISPATCHER, Role.ENGINEER):
        raise Forbidden(f"the {user.role.value} role may not change operational data")
    return user


def require_engineer(user: UserInfo, work: str = "service procedures") -> UserInfo:
    """The user, if a service engineer without reader status: the only one who touches devices, through
    service procedures, and who adds meters (manual 2.3, 4.5.1)."""
    require_writer(user)
    if user.role is not Role.ENGINEER:
        raise Forbidden(f"{work} are a service engineer's, not the {user.role.value} role's (manual 2.3)")
    return user


def require_dispatcher(user: UserInfo) -> UserInfo:
    """The user, if they may change the settings of sections 4.1/4.2 and the heating season: a
    dispatcher without reader status (manual 4.5.7, 4.6.5-4.6.10, 4.6.13)."""
    if user.reader:
        raise Forbidden("reader status is read-only")
    if user.role is not Role.DISPATCHER:
        raise Forbidden(f"only a dispatcher may change this setting, not the {user.role.value} role")
    return user


def require_operational_view(user: UserInfo, refusal: str) -> UserInfo:
    """The user, if they may see operational data (buildings, meters, accounting): an administrator
    without reader status administers users and settings only (manual 2.3), and gets ``NotFound(refusal)``."""
    if user.role is Role.ADMINISTRATOR and not user.reader:
        raise NotFound(refusal)
    return user


def require_administrator(user: UserInfo) -> UserInfo:
    """The user, if they administer the company (administrator without reader status)."""
    if user.reader or user.role is not Role.ADMINISTRATOR:
        raise Forbidden("only an administrator may do this")
    return user


API_TOKEN_PREFIX = "duapi."  # noqa: S105 - '.' is outside the session tokens' alphabet, so the two never mix


def token_hash(token: str) -> str:
    """What is stored of a session or API token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


_token_hash = token_hash


# a signed-in user acts in the company of their working mode (manual 3.4) with the role and reader status
# they have there (company_members, registry migration 10); without a membership there, in their own
_USER_SQL = """
SELECT u.id, u.login, u.full_name, COALESCE(m.role, u.role) AS role, COALESCE(m.reader, u.reader) AS reader,
       u.blocked, u.password_hash, c.id AS company_id, u.integration, c.name AS company_name, c.city
FROM users u LEFT JOIN user_working_modes w ON w.user_id = u.id
LEFT JOIN company_members m ON m.user_id = u.id AND m.company_id = w.company_id
JOIN companies c ON c.id = COALESCE(m.company_id, u.company_id)
"""
# an API token acts in its user's own company, whatever company the person works in on the pages
_HOME_SQL = """
SELECT u.id, u.login, u.full_name, u.role, u.reader, u.blocked, u.password_hash, u.company_id,
       u.integration, c.name AS company_name, c.city
FROM users u JOIN companies c ON c.id = u.company_id
"""


def _user(row, via_token: int | None = None) -> UserInfo:
    return UserInfo(id=row["id"], login=row["login"], full_name=row["full_name"], role=Role(row["role"]),
                    reader=bool(row["reader"]), company_id=row["company_id"], company_name=row["company_name"],
                    city=row["city"], via_token=via_token)


class AuthService:
    def __init__(self, registry: Registry, session_hours: float = 24.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if not 0 < session_hours <= 24:
            raise ValueError("sessions must expire within a day (manual 3.5)")
        self.registry = registry
        self.session_ttl = timedelta(hours=session_hours)
        self.clock = clock

    async def login(self, login: str, password: str, address: str = "") -> Session:
        return await asyncio.to_thread(self.login_sync, login, password, address)

    def login_sync(self, login: str, password: str, address: str = "") -> Session:
        """A new session, or AuthError; ``address`` is the client's, for throttling (login_guard)."""
        login = login.strip().lower()
        now = self.clock()
        with self.registry.connect() as db:
            try:  # counted as a failure before the (slow) check, so parallel guesses queue up
                attempt = login_guard.reserve(db, login, address, now)
            except login_guard.Throttled as exc:
                raise LoginThrottled(str(exc), exc.wait_s, exc.locked) from None
        row = self.registry.one(_USER_SQL + " WHERE u.login = ?", login)
        # verify against a dummy hash for unknown logins so timing does not reveal them
        ok = verify_password(password, row["password_hash"] if row else _DUMMY_HASH)
        if row is None or not ok or row["integration"]:
            with self.registry.connect() as db:
                login_guard.failed(db, attempt, row)
            raise AuthError("wrong login or password")
        if row["blocked"]:  # the right password: not a guess, but no session either
            with self.registry.connect() as db:
                login_guard.succeeded(db, attempt)
            raise AuthError("account is blocked")
        token = secrets.token_urlsafe(32)
        with self.registry.connect() as db:
            login_guard.succeeded(db, attempt)
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                       (_token_hash(token), row["id"], now.isoformat(), (now + self.session_ttl).isoformat()))
        return Session(token=token, user=_user(row), expires_at=now + self.session_ttl)

    async def user(self, token: str) -> UserInfo:
        return await asyncio.to_thread(self.user_sync, token)

    def user_sync(self, token: str | None) -> UserInfo:
        """The user behind a live session, or AuthError."""
        if not token:
            raise AuthError("not logged in")
        if token.startswith(API_TOKEN_PREFIX):
            return self._api_user(token)
        row = self.registry.one(
            _USER_SQL + " JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = ? AND s.expires_at > ?",
            _token_hash(token), datetime.now(UTC).isoformat())
        if row is None:
            raise AuthError("session expired or unknown")
        if row["blocked"]:
            raise AuthError("account is blocked")
        return _user(row)

    def _api_user(self, token: str) -> UserInfo:
        """The user an integration's API token acts as (cloud/services/api_tokens.py)."""
        row = self.registry.one(
            _HOME_SQL.replace("SELECT ", "SELECT t.id AS token_id, ", 1)
            + " JOIN api_tokens t ON t.user_id = u.id WHERE t.token_hash = ? AND t.expires_at > ? "
            "AND t.revoked_at IS NULL", _token_hash(token), datetime.now(UTC).isoformat())
        if row is None:
            raise AuthError("API token expired, revoked or unknown")
        if row["blocked"]:
            raise AuthError("account is blocked")
        return _user(row, via_token=row["token_id"])

    async def logout(self, token: str) -> None:
        await asyncio.to_thread(self._logout, token)

    def _logout(self, token: str) -> None:
        with self.registry.connect() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


# verified against for unknown logins, so a wrong login takes as long as a wrong password (residents too)
DUMMY_HASH = _DUMMY_HASH = hash_password(secrets.token_hex(8))
