"""Login throttling and lockout: password guessing gets slower with every failure, then stops.

The rule, per account (the login as typed, lower-cased, whether or not it exists, so the answers
never tell which logins exist) and per client address:

- an account's first ``ACCOUNT_FREE`` (5) consecutive failures cost nothing; after failure n >= 5
  the next attempt must wait ``2 ** (n - 5)`` seconds (1, 2, 4, ...), at most ``MAX_DELAY_S`` (15 min);
- at ``ACCOUNT_LOCK`` (10) consecutive failures the account is locked: every attempt is refused,
  the right password included, until an administrator unlocks it (cloud/services/users.py);
- a client address gets ``ADDRESS_FREE`` (20) free failures over any logins, then the same growing
  delay; an address's count is forgotten after ``ADDRESS_FORGET_S`` (1 h) without a failure;
- an attempt inside a delay is refused without checking the password, so guessing cannot go on;
- a success resets the account's count (not the address's: one valid account must not launder
  guesses at others).

Failures live in the registry (table login_failures), so a restart does not reset them. A lockout
of an existing account and its unlock are audit entries of the account's company; throttling of
an unknown login or of an address is logged (``event=login_throttled``) once per burst, when its
delay starts. Tests: tests/integration/test_login_guard.py.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.services import audit

log = logging.getLogger(__name__)

ACCOUNT_FREE = 5
ACCOUNT_LOCK = 10
ADDRESS_FREE = 20
MAX_DELAY_S = 900
ADDRESS_FORGET_S = 3600


class Throttled(Exception):
    """A login attempt refused before the password was checked."""

    def __init__(self, wait_s: int, locked: bool) -> None:
        super().__init__("account locked after failed logins: ask the administrator to unlock it" if locked
                         else f"too many failed logins: try again in {wait_s} s")
        self.wait_s, self.locked = wait_s, locked


def delay_s(failures: int, free: int) -> int:
    """Seconds to wait after ``failures`` consecutive failures (0 while they are free)."""
    if failures < free:
        return 0
    return min(2 ** (failures - free), MAX_DELAY_S)


@dataclass(frozen=True, slots=True)
class _Count:
    failures: int
    last_at: datetime


def _count(db: sqlite3.Connection, kind: str, subject: str) -> _Count | None:
    row = db.execute("SELECT failures, last_at FROM login_failures WHERE kind = ? AND subject = ?",
                     (kind, subject)).fetchone()
    return None if row is None else _Count(row[0], datetime.fromisoformat(row[1]))


def check(db: sqlite3.Connection, login: str, address: str, now: datetime) -> None:
    """Raise Throttled if an attempt for ``login`` from ``address`` must not be tried now."""
    account = _count(db, "login", login)
    if account is not None:
        if account.failures >= ACCOUNT_LOCK:
            raise Throttled(0, locked=True)
        wait = _remaining(account, ACCOUNT_FREE, now)
        if wait > 0:
            raise Throttled(wait, locked=False)
    if address:
        by_address = _count(db, "address", address)
        if by_address is not None and (now - by_address.last_at).total_seconds() < ADDRESS_FORGET_S:
            wait = _remaining(by_address, ADDRESS_FREE, now)
            if wait > 0:
                raise Throttled(wait, locked=False)


def _remaining(count: _Count, free: int, now: datetime) -> int:
    until = count.last_at + timedelta(seconds=delay_s(count.failures, free))
    return max(0, int((until - now).total_seconds() + 0.999))


def failed(db: sqlite3.Connection, login: str, address: str, now: datetime, account: sqlite3.Row | None) -> None:
    """Count a failure; ``account`` is the users row when the login exists (its lockout is audited)."""
    failures = _bump(db, "login", login, now, forget_s=None)
    if failures == ACCOUNT_LOCK and account is not None:
        audit.record_event(db, account["company_id"], account["id"], "user.login_locked", f"user:{account['id']}",
                           None, {"login": login, "address": address, "failures": failures})
    if failures in (ACCOUNT_FREE, ACCOUNT_LOCK):
        log.warning("event=login_throttled login=%s address=%s failures=%d locked=%s", login, address, failures,
                    failures >= ACCOUNT_LOCK)
    if address:
        by_address = _bump(db, "address", address, now, forget_s=ADDRESS_FORGET_S)
        if by_address == ADDRESS_FREE:
            log.warning("event=login_throttled address=%s failures=%d", address, by_address)


def _bump(db: sqlite3.Connection, kind: str, subject: str, now: datetime, forget_s: int | None) -> int:
    before = _count(db, kind, subject)
    stale = before is not None and forget_s is not None and (now - before.last_at).total_seconds() >= forget_s
    failures = 1 if before is None or stale else before.failures + 1
    db.execute("INSERT INTO login_failures (kind, subject, failures, last_at) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (kind, subject) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at",
               (kind, subject, failures, now.isoformat()))
    return failures


def succeeded(db: sqlite3.Connection, login: str) -> None:
    db.execute("DELETE FROM login_failures WHERE kind = 'login' AND subject = ?", (login,))


def locked(db: sqlite3.Connection, login: str) -> bool:
    account = _count(db, "login", login)
    return account is not None and account.failures >= ACCOUNT_LOCK


def unlock(db: sqlite3.Connection, login: str) -> bool:
    """Forget the account's failures; whether it had any."""
    return db.execute("DELETE FROM login_failures WHERE kind = 'login' AND subject = ?", (login,)).rowcount > 0
