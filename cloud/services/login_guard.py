"""Login throttling and lockout: password guessing gets slower with every failure, then stops.

The rule, per account (the login as typed, lower-cased, whether or not it exists, so the answers
never tell which logins exist) and per client address:

- an account's first ``ACCOUNT_FREE`` (5) consecutive failures cost nothing; after failure n >= 5
  the next attempt must wait ``2 ** (n - 5)`` seconds (1, 2, 4, ...), at most ``MAX_DELAY_S`` (15 min);
- at ``ACCOUNT_LOCK`` (10) consecutive failures the account is locked: every attempt is refused,
  the right password included, until an administrator unlocks it (cloud/services/users.py; a
  company's only administrator, locked, is freed by deleting its row of login_failures in the
  registry); creating a user clears what was counted against its login before it existed;
- a client address gets ``ADDRESS_FREE`` (20) free failures over any logins, then the same growing
  delay; an address's count is forgotten after ``ADDRESS_FORGET_S`` (1 h) without a failure;
- an attempt inside a delay is refused without checking the password, so guessing cannot go on;
- a success resets the account's count (not the address's: one valid account must not launder
  guesses at others).

Every attempt is counted as a failure *before* its password is checked (``reserve``, one
transaction that takes the registry's write lock first) and taken back on success (``succeeded``):
so attempts sent in parallel are counted one after another, and 30 at once check only 5 passwords,
as 30 in a row do; counting after the check let them all through and made their writes collide.

Failures live in the registry (table login_failures), so a restart does not reset them. For an
existing account the start of its throttling (failure 5) and its lock (failure 10) are audit entries
of the account's company with login, client address and time, once per burst, never per refused
attempt; the unlock is the administrator's entry. Throttling of an unknown login or of an address
belongs to no company and is logged instead (``event=login_throttled``), once per burst.
Tests: tests/integration/test_login_guard.py.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt let through and already counted as a failure: the counts including it."""

    login: str
    address: str
    account_failures: int
    address_failures: int  # 0 when the address is unknown


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


def reserve(db: sqlite3.Connection, login: str, address: str, now: datetime) -> Attempt:
    """Let an attempt for ``login`` from ``address`` through, counted as a failure, or raise Throttled.

    ``db`` is a fresh transaction: its first statement is a write (forgetting addresses idle for
    ``ADDRESS_FORGET_S``), so it holds the write lock before it reads, and concurrent attempts wait
    for each other instead of reading the same count.
    """
    now = now.astimezone(UTC)  # stored instants are UTC ISO strings, so they compare as text
    db.execute("DELETE FROM login_failures WHERE kind = 'address' AND last_at <= ?",
               ((now - timedelta(seconds=ADDRESS_FORGET_S)).isoformat(),))
    account = _count(db, "login", login)
    if account is not None:
        if account.failures >= ACCOUNT_LOCK:
            raise Throttled(0, locked=True)
        wait = _remaining(account, ACCOUNT_FREE, now)
        if wait > 0:
            raise Throttled(wait, locked=False)
    by_address = _count(db, "address", address) if address else None
    if by_address is not None:
        wait = _remaining(by_address, ADDRESS_FREE, now)
        if wait > 0:
            raise Throttled(wait, locked=False)
    return Attempt(login, address, _bump(db, "login", login, account, now),
                   _bump(db, "address", address, by_address, now) if address else 0)


def _remaining(count: _Count, free: int, now: datetime) -> int:
    until = count.last_at + timedelta(seconds=delay_s(count.failures, free))
    return max(0, int((until - now).total_seconds() + 0.999))


def _bump(db: sqlite3.Connection, kind: str, subject: str, before: _Count | None, now: datetime) -> int:
    failures = 1 if before is None else before.failures + 1
    db.execute("INSERT INTO login_failures (kind, subject, failures, last_at) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (kind, subject) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at",
               (kind, subject, failures, now.isoformat()))
    return failures


def failed(db: sqlite3.Connection, attempt: Attempt, account: sqlite3.Row | None) -> None:
    """Record what a failed ``attempt`` started (its count is already in): the throttling or the lock
    of an existing account (``account``, its users row) is audited, any other is logged."""
    failures = attempt.account_failures
    if failures in (ACCOUNT_FREE, ACCOUNT_LOCK):
        locked_now = failures >= ACCOUNT_LOCK
        if account is not None:
            after = {"login": attempt.login, "address": attempt.address, "failures": failures}
            if not locked_now:
                after["wait_s"] = delay_s(failures, ACCOUNT_FREE)
            audit.record_event(db, account["company_id"], account["id"],
                               "user.login_locked" if locked_now else "user.login_throttled",
                               f"user:{account['id']}", None, after)
        log.warning("event=login_throttled login=%s address=%s failures=%d locked=%s", attempt.login,
                    attempt.address, failures, locked_now)
    if attempt.address_failures == ADDRESS_FREE:
        log.warning("event=login_throttled address=%s failures=%d", attempt.address, attempt.address_failures)


def succeeded(db: sqlite3.Connection, attempt: Attempt) -> None:
    """Take back the failure ``reserve`` counted: the account starts afresh, the address loses one."""
    db.execute("DELETE FROM login_failures WHERE kind = 'login' AND subject = ?", (attempt.login,))
    if attempt.address:
        db.execute("UPDATE login_failures SET failures = MAX(failures - 1, 0) WHERE kind = 'address' "
                   "AND subject = ?", (attempt.address,))


def locked(db: sqlite3.Connection, login: str) -> bool:
    account = _count(db, "login", login)
    return account is not None and account.failures >= ACCOUNT_LOCK


def unlock(db: sqlite3.Connection, login: str) -> bool:
    """Forget the account's failures; whether it had any."""
    return db.execute("DELETE FROM login_failures WHERE kind = 'login' AND subject = ?", (login,)).rowcount > 0
