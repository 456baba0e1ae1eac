"""Premises of a building (manual 4.6.3): apartments and non-residential premises, each with a
number unique in its building, area, residents and personal account (ЛС, manual 4.6.9: unique
in the company, since a billing centre names a premise by it).

Writes: a dispatcher without reader status (settings of 4.6 are the dispatcher's); a building or
premise of another company is "not found". Apartments are added and removed by number ranges
("1-120", objects_rules.parse_numbers) in one transaction: all or nothing. A premise with meters
(their history stays) or with owners (their access) is not deleted; its unused activation codes
go with it. Every change writes an audit entry in the same transaction. Reads are the accounting
service's (``premise``, ``premises``). Tests: tests/integration/test_registry_admin.py,
tests/integration/test_api_registry.py, tests/integration/test_objects.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_dispatcher
from cloud.services.buildings import check_area, check_residents
from cloud.services.models import InvalidInput, NotFound, PremiseInfo, UserInfo, check_id
from cloud.services.objects_rules import check_account, parse_numbers
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


def _check(changes: dict[str, Any]) -> dict[str, Any]:
    checks = {"number": _number, "kind": _kind, "account": check_account,
              "area_m2": lambda v: check_area("area_m2", v), "residents": lambda v: check_residents("residents", v)}
    return {name: checks[name](value) for name, value in changes.items()}


@dataclass(frozen=True, slots=True)
class RangeResult:
    """What a range call did: the numbers added (or removed) and those it left alone because they
    were there already (or were not there)."""

    done: tuple[str, ...]
    skipped: tuple[str, ...]


class PremisesService:
    def __init__(self, registry: Registry, auth: AuthService) -> None:
        self.registry = registry
        self.auth = auth

    async def create(self, token: str, building_id: int, *, number: str, area_m2: float, residents: int,
                     kind: str = "apartment", account: str = "") -> PremiseInfo:
        user = require_dispatcher(await self.auth.user(token))
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
            self._account_unique(db, user, values["account"], None)
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
        user = require_dispatcher(await self.auth.user(token))
        given = {"number": number, "kind": kind, "area_m2": area_m2, "residents": residents, "account": account}
        changes = _check({k: v for k, v in given.items() if v is not _UNSET})
        return await asyncio.to_thread(self._update, user, premise_id, changes)

    def _update(self, user: UserInfo, premise_id: int, changes: dict[str, Any]) -> PremiseInfo:
        with self.registry.connect() as db:
            before = _premise(self._row(db, user, premise_id))
            if "number" in changes:
                self._unique(db, before.building_id, changes["number"], premise_id)
            if "account" in changes:
                self._account_unique(db, user, changes["account"], premise_id)
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
        user = require_dispatcher(await self.auth.user(token))
        await asyncio.to_thread(self._delete, user, premise_id)

    def _delete(self, user: UserInfo, premise_id: int) -> None:
        with self.registry.connect() as db:
            self._remove(db, user, _premise(self._row(db, user, premise_id)))

    @staticmethod
    def _remove(db: sqlite3.Connection, user: UserInfo, before: PremiseInfo) -> None:
        """Delete one premise in the caller's transaction, or refuse naming why (meters, owners)."""
        meters = db.execute("SELECT count(*) FROM meters WHERE premise_id = ?", (before.id,)).fetchone()[0]
        if meters:
            raise InvalidInput(f"premise_id: premise {before.number} has {meters} meter(s) registered; "
                               "a premise with meters is not deleted")
        owners = db.execute("SELECT count(*) FROM premise_residents WHERE premise_id = ?", (before.id,)).fetchone()[0]
        if owners:
            raise InvalidInput(f"premise_id: premise {before.number} has {owners} owner(s); a premise with owners "
                               "is not deleted")
        try:  # codes nobody used and the invitations that carried them go with the premise
            db.execute("DELETE FROM owner_invitations WHERE premise_id = ?", (before.id,))
            db.execute("DELETE FROM activation_codes WHERE premise_id = ? AND used_at IS NULL", (before.id,))
            db.execute("DELETE FROM premises WHERE id = ?", (before.id,))
        except sqlite3.IntegrityError as exc:
            raise InvalidInput(f"premise_id: premise {before.number} is still referenced (limitations, tickets or "
                               f"activation codes): {exc}") from exc
        audit.record(db, user, "premise.delete", f"premise:{before.id}", asdict(before), None)

    async def create_range(self, token: str, building_id: int, numbers: str, *, area_m2: float,
                           residents: int) -> RangeResult:
        """Add apartments by numbers ("1-120", "1-3, 7"), each with the area and residents given (the
        inline edit corrects them one by one); numbers the building has already are skipped and named."""
        user = require_dispatcher(await self.auth.user(token))
        wanted = parse_numbers(numbers)
        area, people = check_area("area_m2", area_m2), check_residents("residents", residents)
        return await asyncio.to_thread(self._create_range, user, building_id, wanted, area, people)

    def _create_range(self, user: UserInfo, building_id: int, wanted: list[str], area: float,
                      people: int) -> RangeResult:
        check_id("building_id", building_id)
        with self.registry.connect() as db:
            self._building(db, user, building_id)
            present = self._numbers(db, building_id, apartments_only=False)  # a number is unique in the building
            added = [n for n in wanted if n not in present]
            for number in added:
                premise_id = db.execute("INSERT INTO premises (building_id, number, kind, area_m2, residents, account) "
                                        "VALUES (?, ?, 'apartment', ?, ?, '')",
                                        (building_id, number, area, people)).lastrowid
                after = _premise(self._row(db, user, int(premise_id or 0)))
                audit.record(db, user, "premise.create", f"premise:{after.id}", None, asdict(after))
        return RangeResult(tuple(added), tuple(n for n in wanted if n in present))

    async def delete_range(self, token: str, building_id: int, numbers: str) -> RangeResult:
        """Remove apartments by numbers; all or nothing: one with meters or owners refuses the whole
        call, naming it. Numbers the building does not have are skipped and named; none found is refused."""
        user = require_dispatcher(await self.auth.user(token))
        wanted = parse_numbers(numbers)
        return await asyncio.to_thread(self._delete_range, user, building_id, wanted)

    def _delete_range(self, user: UserInfo, building_id: int, wanted: list[str]) -> RangeResult:
        check_id("building_id", building_id)
        with self.registry.connect() as db:
            self._building(db, user, building_id)
            present = self._numbers(db, building_id, apartments_only=True)
            found = [n for n in wanted if n in present]
            if not found:
                raise InvalidInput(f"numbers: the building has none of the apartments {_span(wanted)}")
            busy = []
            for number in found:
                counts = db.execute("SELECT (SELECT count(*) FROM meters WHERE premise_id = :p), "
                                    "(SELECT count(*) FROM premise_residents WHERE premise_id = :p)",
                                    {"p": present[number]["id"]}).fetchone()
                if counts[0] or counts[1]:
                    busy.append((number, counts[0], counts[1]))
            if busy:
                named = ", ".join(f"{number} ({_why(meters, owners)})" for number, meters, owners in busy[:10])
                more = f" and {len(busy) - 10} more" if len(busy) > 10 else ""
                raise InvalidInput(f"numbers: nothing removed: apartments with meters or owners are not deleted: "
                                   f"{named}{more}")
            for number in found:
                self._remove(db, user, _premise(present[number]))
        return RangeResult(tuple(found), tuple(n for n in wanted if n not in present))

    @staticmethod
    def _numbers(db: sqlite3.Connection, building_id: int, *, apartments_only: bool) -> dict[str, sqlite3.Row]:
        """The building's premises by number; a range removes apartments only (non-residential
        premises have names and are removed one by one)."""
        rows = db.execute("SELECT * FROM premises WHERE building_id = ?", (building_id,)).fetchall()
        return {r["number"]: r for r in rows if not apartments_only or r["kind"] == "apartment"}

    @staticmethod
    def _building(db: sqlite3.Connection, user: UserInfo, building_id: int) -> None:
        if db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                      (building_id, user.company_id)).fetchone() is None:
            raise NotFound(f"building {building_id} not found")

    @staticmethod
    def _account_unique(db: sqlite3.Connection, user: UserInfo, account: str, premise_id: int | None) -> None:
        """A personal account names one premise of the company (the billing centre's key); empty is none."""
        if not account:
            return
        other = db.execute("SELECT p.number, b.address FROM premises p JOIN buildings b ON b.id = p.building_id "
                           "WHERE b.company_id = ? AND p.account = ? AND p.id IS NOT ?",
                           (user.company_id, account, premise_id)).fetchone()
        if other is not None:
            raise InvalidInput(f"account: {account!r} is the personal account of {other['address']}, "
                               f"premise {other['number']} already")

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


def _why(meters: int, owners: int) -> str:
    return ", ".join(part for part in (f"{meters} meter(s)" if meters else "", f"{owners} owner(s)" if owners else "")
                     if part)


def _span(numbers: list[str]) -> str:
    return f"{numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else numbers[0]
