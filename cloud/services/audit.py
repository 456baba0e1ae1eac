"""The audit log (DESIGN.md section 7): who did what, when, with the state before and after.

Every state-changing service call writes its entry through ``record``: inside the same registry
transaction as a registry change, so one cannot be committed without the other; right after the
insert for a ClickHouse write (submitted readings), naming the batch that carried it.
Tests: tests/integration/test_api_*.py, tests/integration/test_cloud_users.py.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloud.services.models import UserInfo


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    user_login: str | None
    action: str  # e.g. "user.create", "api_token.create", "readings.submit"
    object: str  # e.g. "user:12", "meter:3"
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    via: str | None = None  # "api_token:7" when the actor called through an API token


def record(db: sqlite3.Connection, actor: UserInfo, action: str, obj: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None) -> None:
    """Write one entry in the caller's transaction; a call through an API token names the token."""
    via = None if actor.via_token is None else f"api_token:{actor.via_token}"
    record_event(db, actor.company_id, actor.id, action, obj, before, after, via)


def record_event(db: sqlite3.Connection, company_id: int, user_id: int | None, action: str, obj: str,
                 before: dict[str, Any] | None, after: dict[str, Any] | None, via: str | None = None) -> None:
    """Write one entry that no signed-in user caused (a login lockout): ``user_id`` is the account concerned."""
    db.execute("INSERT INTO audit_log (company_id, user_id, at, action, object, before, after, via) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (company_id, user_id, datetime.now(UTC).isoformat(), action, obj,
                None if before is None else json.dumps(before, ensure_ascii=False, sort_keys=True),
                None if after is None else json.dumps(after, ensure_ascii=False, sort_keys=True), via))


def entries(db: sqlite3.Connection, company_id: int, limit: int = 200) -> list[AuditEntry]:
    """The company's newest entries first."""
    rows = db.execute("SELECT a.*, u.login FROM audit_log a LEFT JOIN users u ON u.id = a.user_id "
                      "WHERE a.company_id = ? ORDER BY a.id DESC LIMIT ?", (company_id, limit)).fetchall()
    return [AuditEntry(datetime.fromisoformat(r["at"]), r["login"], r["action"], r["object"],
                       json.loads(r["before"]) if r["before"] else None,
                       json.loads(r["after"]) if r["after"] else None, r["via"]) for r in rows]
