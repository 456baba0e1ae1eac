"""Premises of a building (manual 4.6.3): apartments and non-residential premises, each with a
number unique in its building, area, residents and personal account (ЛС).

Writes: a dispatcher or engineer without reader status; a building or premise of another company
is "not found". A premise with meters is not deleted (their history stays). Every change writes
an audit entry in the same transaction. Reads are the accounting service's (``premise``,
``premises``). Tests: tests/integration/test_registry_admin.py, tests/integration/test_api_registry.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import asdict
from typing import Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_writer
from cloud.services.buildings import check_area, check_residents
from cloud.services.models import InvalidInput, NotFound, PremiseInfo, UserInfo, check_id
from cloud.storage.registry import Registry

KINDS = ("apartment", "nonresidential")
_UNSET: Any = object()


def _premise(row: sqlite3.Row) -> PremiseInfo:
    return PremiseInfo(id=row["id"], building_id=row["building_id"], number=row["number"], kind=row["kind"],
                       area_m2=row["area_m2"], residents=row["residents"], account=row["account"])


def _number(value: object) -> str:
    number = " ".join(value.split()) if isinstance(value, str) else ""
    if not number or len(number) > 50:
        raise InvalidInput("number: 1 to 50 characters (an apartment number or a premise's name)")
    return number


def _kind(value: object) -> str:
    if value not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}, got {value!r}")
    return str(value)


def _account(value: object) -> str:
    account = value.strip() if isinstance(value, str) else None
    if account is None or len(account) > 64 or not account.isprintable():
        raise InvalidInput("account: up to 64 printable characters")
    return account


def _check(changes: dict[str, Any]) -> dict[str, Any]:
    checks = {"number": _number, "kind": _kind, "account": _account,
              "area_m2": lambda v: check_area("area_m2", v), "residents": lambda v: check_residents("residents", v)}
    return {name: checks[name](value) for name, value in changes.items()}


class PremisesService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def create(self, token: str, building_id: int, *, number: str, area_m2: float, residents: int,
                     kind: str = "apartment", account: str = "") -> PremiseInfo:
        user = require_writer(await self.auth.user(token))
        values = _check({"number": number, "kind": kind, "area_m2": area_m2, "residents": residents,
                         "account": account})
        return await asyncio.to_thread(self._create, user, building_id, values)

    def _create(self, user: UserInfo, building_id: int, values: dict[str, Any]) -> PremiseInfo:
        check_id("building_id", building_id)
        with self.registry.connect() as db:
            if db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                          (building_id, user.company_id)).fetchone() is None:
                raise NotFound(f"building {building_id} not found")
            self._unique(db, building_id, values["number"], None)
            premise_id = db.execute(
                "INSERT INTO premises (building_id, number, kind, area_m2, residents, account) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (building_id, values["number"], values["kind"], values["area_m2"], values["residents"],
                 values["account"])).lastrowid
            after = _premise(self._row(db, user, int(premise_id or 0)))
            audit.record(db, user, "premise.create", f"premise:{after.id}", None, asdict(after))
        return after

    async def update(self, token: str, premise_id: int, *, number: str = _UNSET, kind: str = _UNSET,
                     area_m2: float = _UNSET, residents: int = _UNSET, account: str = _UNSET) -> PremiseInfo:
        """Change what is given."""
        user = require_writer(await self.auth.user(token))
        given = {"number": number, "kind": kind, "area_m2": area_m2, "residents": residents, "account": account}
        changes = _check({k: v for k, v in given.items() if v is not _UNSET})
        return await asyncio.to_thread(self._update, user, premise_id, changes)

    def _update(self, user: UserInfo, premise_id: int, changes: dict[str, Any]) -> PremiseInfo:
        with self.registry.connect() as db:
            before = _premise(self._row(db, user, premise_id))
            if "number" in changes:
                self._unique(db, before.building_id, changes["number"], premise_id)
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)  # column names are ours
                db.execute(f"UPDATE premises SET {assignments} WHERE id = ?",  # noqa: S608
                           (*changes.values(), premise_id))
            after = _premise(self._row(db, user, premise_id))
            if after != before:
                audit.record(db, user, "premise.update", f"premise:{premise_id}", asdict(before), asdict(after))
        return after

    async def delete(self, token: str, premise_id: int) -> None:
        """Delete a premise with no meters (manual 4.6.3)."""
        user = require_writer(await self.auth.user(token))
        await asyncio.to_thread(self._delete, user, premise_id)

    def _delete(self, user: UserInfo, premise_id: int) -> None:
        with self.registry.connect() as db:
            before = _premise(self._row(db, user, premise_id))
            meters = db.execute("SELECT count(*) FROM meters WHERE premise_id = ?", (premise_id,)).fetchone()[0]
            if meters:
                raise InvalidInput(f"premise_id: premise {before.number} has {meters} meter(s) registered; "
                                   "a premise with meters is not deleted")
            try:
                db.execute("DELETE FROM premises WHERE id = ?", (premise_id,))
            except sqlite3.IntegrityError as exc:
                raise InvalidInput(f"premise_id: premise {before.number} is still referenced (residents or "
                                   f"activation codes): {exc}") from exc
            audit.record(db, user, "premise.delete", f"premise:{premise_id}", asdict(before), None)

    @staticmethod
    def _row(db: sqlite3.Connection, user: UserInfo, premise_id: int) -> sqlite3.Row:
        check_id("premise_id", premise_id)
        row = db.execute("SELECT p.* FROM premises p JOIN buildings b ON b.id = p.building_id "
                         "WHERE p.id = ? AND b.company_id = ?", (premise_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"premise {premise_id} not found")
        return row

    @staticmethod
    def _unique(db: sqlite3.Connection, building_id: int, number: str, premise_id: int | None) -> None:
        if db.execute("SELECT 1 FROM premises WHERE building_id = ? AND number = ? AND id IS NOT ?",
                      (building_id, number, premise_id)).fetchone():
            raise InvalidInput(f"number: building {building_id} has a premise {number!r} already")
