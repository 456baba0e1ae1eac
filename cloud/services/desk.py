"""The dispatch desk: tickets from residents and engineers and their stages (manual 4.5.9).

Tickets live in the registry (``desk_tickets``; every step in ``desk_ticket_log``, DDL in
cloud/storage/registry_ddl/desk.py); who may do what, and which stage moves are legal, is
cloud/services/desk_rules.py. Staff act through a session token: dispatchers and engineers register
tickets, a dispatcher qualifies, assigns, cancels and groups them, an engineer changes only the tickets
assigned to them, readers read, administrators get NotFound (manual 2.3). A resident registers a
ticket for a premise of theirs through ``submit_by_resident`` (the resident's own sign-in is issue 16;
the caller vouches for the resident id). Every change writes an audit entry in its transaction.
Times are the building's local time. Tests: tests/integration/test_desk.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cloud.services import audit
from cloud.services import desk_rules as rules
from cloud.services.auth import AuthService, require_operational_view
from cloud.services.desk_rules import Actor, TicketState
from cloud.services.models import Forbidden, InvalidInput, NotFound, UserInfo, check_day, check_id
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone

if TYPE_CHECKING:
    from cloud.services.commands import CommandService

MAX_ROWS = 500  # tickets in one answer, newest first
_REFUSAL = "the dispatch desk is not available to administrators"


# --- what the callers get ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Ticket:
    """One ticket as the desk's list shows it; times are the building's local time."""

    id: int  # the ticket number
    building_id: int
    address: str
    premise_id: int | None
    premise_number: str | None
    source: str  # "resident", "engineer" or "dispatcher"
    sphere: str | None  # desk_rules.SPHERES; None until qualified
    category: str | None  # desk_rules.CATEGORIES; None until qualified
    description: str
    applicant_name: str
    applicant_phone: str
    author: str  # who registered it: the user's or the resident's full name
    assignee_id: int | None
    assignee: str | None
    stage: str
    stage_at: datetime  # when it entered its stage
    created_at: datetime
    cancelled: bool
    cancelled_at: datetime | None
    parent_id: int | None  # the head of its group
    children: int  # tickets attached to this one

    @property
    def grouped(self) -> bool:
        return self.parent_id is not None or self.children > 0


@dataclass(frozen=True, slots=True)
class TicketStep:
    """One step of a ticket's history."""

    at: datetime  # local time of the building
    who: str  # the user's or the resident's full name
    action: str  # "register", "move", "assign", "edit", "comment", "cancel", "attach", "detach"
    from_stage: str | None
    stage: str  # the stage the ticket is at after the step
    note: str
    details: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class StageMark:
    """A stage the ticket reached: when it last entered it, who moved it there, the assignee then."""

    stage: str
    entered_at: datetime
    entered_by: str
    left_at: datetime | None  # None: the ticket is at this stage now


@dataclass(frozen=True, slots=True)
class TicketDetail:
    """A ticket with its history and what the viewer may do with it now."""

    ticket: Ticket
    steps: tuple[TicketStep, ...]  # oldest first
    stages: tuple[StageMark, ...]  # the stages reached, in the order of STAGES
    attached: tuple[Ticket, ...]  # the tickets of its group headed by it
    moves: tuple[str, ...]  # stages the viewer may move it to
    may_edit: bool
    may_assign: bool
    may_cancel: bool
    may_comment: bool
    may_group: bool


@dataclass(frozen=True, slots=True)
class TicketList:
    rows: tuple[Ticket, ...]  # newest first, at most MAX_ROWS
    total: int  # how many matched


@dataclass(frozen=True, slots=True)
class Engineer:
    """An engineer a dispatcher may assign (not blocked, not a reader)."""

    id: int
    full_name: str


@dataclass(frozen=True, slots=True)
class TicketQuery:
    """The desk's filters (manual 4.5.9); empty tuples and None mean "any"."""

    spheres: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    cancelled: bool | None = None  # True: only cancelled ones, False: only not cancelled
    grouped: bool | None = None  # True: only grouped (attached, or heading a group)
    building_id: int | None = None
    number: int | None = None
    address: str = ""  # part of the building's address
    premise: str = ""  # the premise number, exactly
    applicant: str = ""  # part of the applicant's name
    text: str = ""  # part of any of: number, address, premise, applicant, description
    day_from: date | None = None  # registered on or after (building's local date)
    day_to: date | None = None
    mine: bool = False  # only tickets assigned to the viewer


# --- the service ---------------------------------------------------------------------------------

_TICKET_SQL = """
SELECT t.*, b.address, b.time_zone, p.number AS premise_number,
       COALESCE(au.full_name, ar.full_name) AS author_name, a.full_name AS assignee_name,
       (SELECT count(*) FROM desk_tickets c WHERE c.parent_id = t.id) AS children
FROM desk_tickets t JOIN buildings b ON b.id = t.building_id
LEFT JOIN premises p ON p.id = t.premise_id
LEFT JOIN users au ON au.id = t.author_user_id
LEFT JOIN residents ar ON ar.id = t.author_resident_id
LEFT JOIN users a ON a.id = t.assignee_id
"""


class DeskService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def _viewer(self, token: str) -> UserInfo:
        return require_operational_view(await self.auth.user(token), _REFUSAL)

    def _now(self) -> str:
        return self.clock().astimezone(UTC).isoformat()

    # --- reads ---------------------------------------------------------------------------------

    async def tickets(self, token: str, query: TicketQuery | None = None) -> TicketList:
        """The company's tickets matching ``query``, newest first."""
        user = await self._viewer(token)
        query = _checked(query or TicketQuery())
        return await asyncio.to_thread(self._tickets, user, query)

    def _tickets(self, user: UserInfo, q: TicketQuery) -> TicketList:
        sql, args = _TICKET_SQL + " WHERE t.company_id = ?", list[object]([user.company_id])
        for column, values in (("t.sphere", q.spheres), ("t.category", q.categories), ("t.stage", q.stages)):
            if values:
                sql += f" AND {column} IN ({','.join('?' * len(values))})"
                args += list(values)
        if q.cancelled is not None:
            sql += " AND t.cancelled_at IS NOT NULL" if q.cancelled else " AND t.cancelled_at IS NULL"
        if q.grouped is not None:
            grouped = "(t.parent_id IS NOT NULL OR EXISTS (SELECT 1 FROM desk_tickets c WHERE c.parent_id = t.id))"
            sql += f" AND {grouped}" if q.grouped else f" AND NOT {grouped}"
        if q.building_id is not None:
            sql += " AND t.building_id = ?"
            args.append(q.building_id)
        if q.number is not None:
            sql += " AND t.id = ?"
            args.append(q.number)
        if q.premise:
            sql += " AND p.number = ?"
            args.append(q.premise)
        if q.mine:
            sql += " AND t.assignee_id = ?"
            args.append(user.id)
        if q.day_from is not None:  # a day of slack for the zones; the exact local test is below
            sql += " AND t.created_at >= ?"
            args.append((datetime.combine(q.day_from, datetime.min.time(), UTC) - timedelta(days=1)).isoformat())
        if q.day_to is not None:
            sql += " AND t.created_at < ?"
            args.append((datetime.combine(q.day_to, datetime.min.time(), UTC) + timedelta(days=2)).isoformat())
        with self.registry.connect() as db:
            rows = db.execute(sql + " ORDER BY t.id DESC", args).fetchall()
        found = [t for t in (_ticket(r) for r in rows) if _matches(t, q)]
        return TicketList(tuple(found[:MAX_ROWS]), len(found))

    async def ticket(self, token: str, ticket_id: int) -> TicketDetail:
        """One ticket with its stage history and the viewer's possible actions."""
        user = await self._viewer(token)
        check_id("ticket_id", ticket_id)
        return await asyncio.to_thread(self._detail, user, ticket_id)

    def _detail(self, user: UserInfo, ticket_id: int) -> TicketDetail:
        with self.registry.connect() as db:
            row = _row(db, user.company_id, ticket_id)
            log = db.execute(
                "SELECT l.*, COALESCE(u.full_name, r.full_name, '') AS who FROM desk_ticket_log l "
                "LEFT JOIN users u ON u.id = l.user_id LEFT JOIN residents r ON r.id = l.resident_id "
                "WHERE l.ticket_id = ? ORDER BY l.id", (ticket_id,)).fetchall()
            attached = db.execute(_TICKET_SQL + " WHERE t.parent_id = ? ORDER BY t.id", (ticket_id,)).fetchall()
        ticket = _ticket(row)
        tz = zone(row["time_zone"])
        steps = tuple(TicketStep(_local(s["at"], tz), s["who"], s["action"], s["from_stage"], s["stage"], s["note"],
                                 json.loads(s["details"]) if s["details"] else {}) for s in log)
        state, actor = _state(row), _actor(user)
        moves = rules.allowed_moves(state, actor)
        return TicketDetail(ticket, steps, _stages(steps), tuple(_ticket(r) for r in attached), moves,
                            _may(rules.check_edit, state, actor), _may(rules.check_assign, state, actor),
                            _may(lambda s, a: rules.check_cancel(s, a, "-"), state, actor),
                            _may(lambda s, a: rules.check_comment(s, a, "-"), state, actor),
                            not actor.reader and actor.role == "dispatcher")

    async def engineers(self, token: str) -> list[Engineer]:
        """The company's engineers a ticket may be assigned to."""
        user = await self._viewer(token)
        rows = await asyncio.to_thread(
            self.registry.all, "SELECT u.id, u.full_name FROM company_staff s JOIN users u ON u.id = s.user_id "
            "WHERE s.company_id = ? AND s.role = 'engineer' AND s.reader = 0 AND u.blocked = 0 AND u.integration = 0 "
            "ORDER BY u.full_name, u.id", user.company_id)  # its own, and other companies' working here
        return [Engineer(r["id"], r["full_name"]) for r in rows]

    # --- registering -----------------------------------------------------------------------------

    async def create(self, token: str, building_id: int, description: str, *, premise_id: int | None = None,
                     sphere: str | None = None, category: str | None = None, applicant_name: str = "",
                     applicant_phone: str = "") -> TicketDetail:
        """Register a ticket (a dispatcher or an engineer). ``applicant_name`` given: on behalf of a
        resident who called (source "resident"); else the author is the applicant."""
        user = await self._viewer(token)
        rules.check_create(_actor(user))
        check_id("building_id", building_id)
        if premise_id is not None:
            check_id("premise_id", premise_id)
        fields = _fields(description, sphere, category)
        name = rules.check_text("applicant_name", applicant_name, rules.MAX_NAME, required=False)
        phone = _phone(applicant_phone)
        source = "resident" if name else user.role.value
        return await asyncio.to_thread(self._create, user, building_id, premise_id, fields, name or user.full_name,
                                       phone, source)

    def _create(self, user: UserInfo, building_id: int, premise_id: int | None, fields: dict[str, Any],
                name: str, phone: str, source: str) -> TicketDetail:
        now = self._now()
        with self.registry.connect() as db:
            _place(db, user.company_id, building_id, premise_id)
            ticket_id = int(db.execute(
                "INSERT INTO desk_tickets (company_id, building_id, premise_id, source, sphere, category, description, "
                "applicant_name, applicant_phone, author_user_id, stage, created_at, stage_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'registration', ?, ?)",
                (user.company_id, building_id, premise_id, source, fields["sphere"], fields["category"],
                 fields["description"], name, phone, user.id, now, now)).lastrowid or 0)
            _log(db, ticket_id, now, user.id, None, "register", None, "registration", "", None)
            audit.record(db, user, "desk_ticket.create", f"desk_ticket:{ticket_id}", None,
                         {"building": building_id, "premise": premise_id, "source": source, **fields})
        return self._detail(user, ticket_id)

    async def submit_by_resident(self, resident_id: int, premise_id: int, description: str,
                                 sphere: str | None = None) -> Ticket:
        """A resident registers a ticket for a premise of theirs (the resident's page, issue 16)."""
        check_id("resident_id", resident_id)
        check_id("premise_id", premise_id)
        fields = _fields(description, sphere, None)
        return await asyncio.to_thread(self._submit_by_resident, resident_id, premise_id, fields)

    def _submit_by_resident(self, resident_id: int, premise_id: int, fields: dict[str, Any]) -> Ticket:
        now = self._now()
        with self.registry.connect() as db:
            place = db.execute(
                "SELECT p.building_id, b.company_id, r.full_name, r.phone FROM premise_residents pr "
                "JOIN premises p ON p.id = pr.premise_id JOIN buildings b ON b.id = p.building_id "
                "JOIN residents r ON r.id = pr.resident_id WHERE pr.resident_id = ? AND pr.premise_id = ?",
                (resident_id, premise_id)).fetchone()
            if place is None:
                raise NotFound(f"premise {premise_id} is not one of resident {resident_id}'s")
            ticket_id = int(db.execute(
                "INSERT INTO desk_tickets (company_id, building_id, premise_id, source, sphere, description, "
                "applicant_name, applicant_phone, author_resident_id, stage, created_at, stage_at) "
                "VALUES (?, ?, ?, 'resident', ?, ?, ?, ?, ?, 'registration', ?, ?)",
                (place["company_id"], place["building_id"], premise_id, fields["sphere"], fields["description"],
                 place["full_name"], place["phone"], resident_id, now, now)).lastrowid or 0)
            _log(db, ticket_id, now, None, resident_id, "register", None, "registration", "", None)
            audit.record_event(db, place["company_id"], None, "desk_ticket.create", f"desk_ticket:{ticket_id}", None,
                               {"building": place["building_id"], "premise": premise_id, "source": "resident",
                                "resident": resident_id, **fields}, via=f"resident:{resident_id}")
            return _ticket(_row(db, place["company_id"], ticket_id))

    async def resident_tickets(self, resident_id: int) -> list[Ticket]:
        """The tickets a resident registered, newest first (the resident's page, issue 16)."""
        check_id("resident_id", resident_id)
        rows = await asyncio.to_thread(self.registry.all, _TICKET_SQL + " WHERE t.author_resident_id = ? "
                                       "ORDER BY t.id DESC LIMIT ?", resident_id, MAX_ROWS)
        return [_ticket(r) for r in rows]

    async def resident_ticket(self, resident_id: int, ticket_id: int) -> tuple[Ticket, tuple[StageMark, ...]]:
        """One ticket the resident registered, with the stages it reached (the resident's app, issue 16).
        The staff's notes stay with the staff; another resident's ticket is NotFound."""
        check_id("resident_id", resident_id)
        check_id("ticket_id", ticket_id)

        def read() -> tuple[Ticket, tuple[StageMark, ...]]:
            with self.registry.connect() as db:
                row = db.execute(_TICKET_SQL + " WHERE t.id = ? AND t.author_resident_id = ?",
                                 (ticket_id, resident_id)).fetchone()
                if row is None:
                    raise NotFound(f"ticket {ticket_id} not found")
                log = db.execute("SELECT * FROM desk_ticket_log WHERE ticket_id = ? AND action IN ('register', 'move') "
                                 "ORDER BY id", (ticket_id,)).fetchall()
            tz = zone(row["time_zone"])
            steps = tuple(TicketStep(_local(s["at"], tz), "", s["action"], s["from_stage"], s["stage"], "")
                          for s in log)
            return _ticket(row), _stages(steps)
        return await asyncio.to_thread(read)

    # --- changing ---------------------------------------------------------------------------------

    async def move(self, token: str, ticket_id: int, stage: str, note: str) -> TicketDetail:
        """Move the ticket to ``stage`` with a note (the table of legal moves: desk_rules.MOVES)."""
        user = await self._viewer(token)
        check_id("ticket_id", ticket_id)

        def change(db: sqlite3.Connection, row: sqlite3.Row, now: str) -> None:
            move = rules.check_move(_state(row), stage, _actor(user), note)
            db.execute("UPDATE desk_tickets SET stage = ?, stage_at = ? WHERE id = ?", (stage, now, ticket_id))
            _log(db, ticket_id, now, user.id, None, "move", row["stage"], stage, note.strip(), {"kind": move.kind})
            audit.record(db, user, "desk_ticket.move", f"desk_ticket:{ticket_id}", {"stage": row["stage"]},
                         {"stage": stage, "note": note.strip()})
        return await asyncio.to_thread(self._change, user, ticket_id, change)

    async def assign(self, token: str, ticket_id: int, engineer_id: int | None, note: str = "") -> TicketDetail:
        """Assign the ticket to an engineer of the company (None: take the assignment back); a dispatcher."""
        user = await self._viewer(token)
        check_id("ticket_id", ticket_id)
        if engineer_id is not None:
            check_id("engineer_id", engineer_id)
        text = rules.check_text("note", note, rules.MAX_NOTE, required=False)

        def change(db: sqlite3.Connection, row: sqlite3.Row, now: str) -> None:
            rules.check_assign(_state(row), _actor(user))
            name = None
            if engineer_id is not None:
                engineer = db.execute("SELECT u.full_name FROM company_staff s JOIN users u ON u.id = s.user_id "
                                      "WHERE s.user_id = ? AND s.company_id = ? AND s.role = 'engineer' AND "
                                      "s.reader = 0 AND u.blocked = 0 AND u.integration = 0",
                                      (engineer_id, user.company_id)).fetchone()
                if engineer is None:
                    raise InvalidInput(f"engineer_id: {engineer_id} is not an engineer of the company who may work "
                                       "(not blocked, not a reader)")
                name = engineer["full_name"]
            if row["assignee_id"] == engineer_id:
                raise rules.DeskRuleError("assigned_already", "the ticket is assigned so already")
            db.execute("UPDATE desk_tickets SET assignee_id = ? WHERE id = ?", (engineer_id, ticket_id))
            _log(db, ticket_id, now, user.id, None, "assign", None, row["stage"], text,
                 {"assignee": name, "assignee_id": engineer_id})
            audit.record(db, user, "desk_ticket.assign", f"desk_ticket:{ticket_id}",
                         {"assignee": row["assignee_id"]}, {"assignee": engineer_id})
        return await asyncio.to_thread(self._change, user, ticket_id, change)

    async def edit(self, token: str, ticket_id: int, *, description: str, sphere: str | None,
                   category: str | None, premise_id: int | None) -> TicketDetail:
        """Change the ticket's fields (a dispatcher or the assignee) before completion."""
        user = await self._viewer(token)
        check_id("ticket_id", ticket_id)
        if premise_id is not None:
            check_id("premise_id", premise_id)
        fields = _fields(description, sphere, category)

        def change(db: sqlite3.Connection, row: sqlite3.Row, now: str) -> None:
            rules.check_edit(_state(row), _actor(user))
            _place(db, user.company_id, row["building_id"], premise_id)
            after = {**fields, "premise": premise_id}
            before = {"description": row["description"], "sphere": row["sphere"], "category": row["category"],
                      "premise": row["premise_id"]}
            changed = {k: v for k, v in after.items() if before[k] != v}
            if not changed:
                return
            db.execute("UPDATE desk_tickets SET description = ?, sphere = ?, category = ?, premise_id = ? "
                       "WHERE id = ?", (fields["description"], fields["sphere"], fields["category"], premise_id,
                                        ticket_id))
            _log(db, ticket_id, now, user.id, None, "edit", None, row["stage"], "", changed)
            audit.record(db, user, "desk_ticket.edit", f"desk_ticket:{ticket_id}",
                         {k: before[k] for k in changed}, changed)
        return await asyncio.to_thread(self._change, user, ticket_id, change)

    async def comment(self, token: str, ticket_id: int, note: str) -> TicketDetail:
        """Add a comment to the ticket's current stage (a dispatcher or the assignee)."""
        user = await self._viewer(token)
        check_id("ticket_id", ticket_id)

        def change(db: sqlite3.Connection, row: sqlite3.Row, now: str) -> None:
            text = rules.check_comment(_state(row), _actor(user), note)
            _log(db, ticket_id, now, user.id, None, "comment", None, row["stage"], text, None)
            audit.record(db, user, "desk_ticket.comment", f"desk_ticket:{ticket_id}", None, {"note": text})
        return await asyncio.to_thread(self._change, user, ticket_id, change)

    async def cancel(self, token: str, ticket_id: int, note: str) -> TicketDetail:
        """Cancel the ticket, saying why (a dispatcher; not once completed)."""
        user = await self._viewer(token)
        check_id("ticket_id", ticket_id)

        def change(db: sqlite3.Connection, row: sqlite3.Row, now: str) -> None:
            text = rules.check_cancel(_state(row), _actor(user), note)
            db.execute("UPDATE desk_tickets SET cancelled_at = ?, cancelled_by = ? WHERE id = ?",
                       (now, user.id, ticket_id))
            _log(db, ticket_id, now, user.id, None, "cancel", None, row["stage"], text, None)
            audit.record(db, user, "desk_ticket.cancel", f"desk_ticket:{ticket_id}", {"cancelled": False},
                         {"cancelled": True, "note": text})
        return await asyncio.to_thread(self._change, user, ticket_id, change)

    async def attach(self, token: str, ticket_id: int, head_id: int) -> TicketDetail:
        """Attach the ticket to the group headed by ``head_id`` (a dispatcher)."""
        user = await self._viewer(token)
        check_id("ticket_id", ticket_id)
        check_id("head_id", head_id)

        def change(db: sqlite3.Connection, row: sqlite3.Row, now: str) -> None:
            head = _row(db, user.company_id, head_id)
            rules.check_attach(ticket_id, _state(row), head_id, _state(head), _actor(user))
            db.execute("UPDATE desk_tickets SET parent_id = ? WHERE id = ?", (head_id, ticket_id))
            _log(db, ticket_id, now, user.id, None, "attach", None, row["stage"], "", {"head": head_id})
            audit.record(db, user, "desk_ticket.attach", f"desk_ticket:{ticket_id}", {"head": row["parent_id"]},
                         {"head": head_id})
        return await asyncio.to_thread(self._change, user, ticket_id, change)

    async def detach(self, token: str, ticket_id: int) -> TicketDetail:
        """Take the ticket out of its group (a dispatcher)."""
        user = await self._viewer(token)
        check_id("ticket_id", ticket_id)

        def change(db: sqlite3.Connection, row: sqlite3.Row, now: str) -> None:
            rules.check_detach(_state(row), _actor(user))
            db.execute("UPDATE desk_tickets SET parent_id = NULL WHERE id = ?", (ticket_id,))
            _log(db, ticket_id, now, user.id, None, "detach", None, row["stage"], "", {"head": row["parent_id"]})
            audit.record(db, user, "desk_ticket.detach", f"desk_ticket:{ticket_id}", {"head": row["parent_id"]},
                         {"head": None})
        return await asyncio.to_thread(self._change, user, ticket_id, change)

    def _change(self, user: UserInfo, ticket_id: int,
                change: Callable[[sqlite3.Connection, sqlite3.Row, str], None]) -> TicketDetail:
        """Run ``change`` on the company's ticket under the registry's write lock (two dispatchers acting
        on one ticket at once are serialised: the second sees the first's result), then read it back."""
        with self.registry.connect() as db:
            db.execute("UPDATE desk_tickets SET id = id WHERE id = ?", (ticket_id,))  # takes the write lock
            change(db, _row(db, user.company_id, ticket_id), self._now())
        return self._detail(user, ticket_id)


# --- helpers -------------------------------------------------------------------------------------

def _actor(user: UserInfo) -> Actor:
    return Actor(user.role.value, user.reader, user.id)


def _state(row: sqlite3.Row) -> TicketState:
    return TicketState(row["stage"], row["cancelled_at"] is not None, row["sphere"], row["category"],
                       row["assignee_id"], row["parent_id"], row["children"])


def _may(check: Callable[[TicketState, Actor], object], state: TicketState, actor: Actor) -> bool:
    try:
        check(state, actor)
    except (Forbidden, InvalidInput):
        return False
    return True


def _row(db: sqlite3.Connection, company_id: int, ticket_id: int) -> sqlite3.Row:
    row = db.execute(_TICKET_SQL + " WHERE t.id = ? AND t.company_id = ?", (ticket_id, company_id)).fetchone()
    if row is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return row


def _place(db: sqlite3.Connection, company_id: int, building_id: int, premise_id: int | None) -> None:
    """NotFound unless the building is the company's; InvalidInput unless the premise is in it."""
    if db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?", (building_id, company_id)).fetchone() \
            is None:
        raise NotFound(f"building {building_id} not found")
    if premise_id is not None and db.execute("SELECT 1 FROM premises WHERE id = ? AND building_id = ?",
                                             (premise_id, building_id)).fetchone() is None:
        raise InvalidInput(f"premise_id: premise {premise_id} is not in building {building_id}")


def _fields(description: str, sphere: str | None, category: str | None) -> dict[str, Any]:
    return {"description": rules.check_text("description", description, rules.MAX_DESCRIPTION, required=True),
            "sphere": rules.check_choice("sphere", sphere, rules.SPHERES),
            "category": rules.check_choice("category", category, rules.CATEGORIES)}


def _phone(value: str) -> str:
    phone = value.strip()
    if phone and (len(phone) > 20 or not all(c.isdigit() or c in "+ ()-" for c in phone)
                  or sum(c.isdigit() for c in phone) < 5):
        raise InvalidInput(f"applicant_phone: digits, spaces, '()-' and an optional '+', got {phone!r}")
    return phone


def _log(db: sqlite3.Connection, ticket_id: int, at: str, user_id: int | None, resident_id: int | None,
         action: str, from_stage: str | None, stage: str, note: str, details: dict[str, Any] | None) -> None:
    db.execute("INSERT INTO desk_ticket_log (ticket_id, at, user_id, resident_id, action, from_stage, stage, note, "
               "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (ticket_id, at, user_id, resident_id, action, from_stage, stage, note,
                None if details is None else json.dumps(details, ensure_ascii=False, sort_keys=True)))


def _local(text: str, tz: Any) -> datetime:
    return utc_to_local(datetime.fromisoformat(text), tz)


def _ticket(r: sqlite3.Row) -> Ticket:
    tz = zone(r["time_zone"])
    return Ticket(r["id"], r["building_id"], r["address"], r["premise_id"], r["premise_number"], r["source"],
                  r["sphere"], r["category"], r["description"], r["applicant_name"], r["applicant_phone"],
                  r["author_name"] or "", r["assignee_id"], r["assignee_name"], r["stage"], _local(r["stage_at"], tz),
                  _local(r["created_at"], tz), r["cancelled_at"] is not None,
                  _local(r["cancelled_at"], tz) if r["cancelled_at"] else None, r["parent_id"], r["children"])


def _stages(steps: Sequence[TicketStep]) -> tuple[StageMark, ...]:
    """Each stage reached: its latest entry (a return or reopening enters a stage again) and when it was left."""
    entries = [(i, s) for i, s in enumerate(steps) if s.action in ("register", "move")]
    marks = {}
    for n, (_, step) in enumerate(entries):
        left = entries[n + 1][1].at if n + 1 < len(entries) else None
        marks[step.stage] = StageMark(step.stage, step.at, step.who, left)
    return tuple(marks[s] for s in rules.STAGES if s in marks)


def _checked(q: TicketQuery) -> TicketQuery:
    for name, values, choices in (("spheres", q.spheres, rules.SPHERES), ("categories", q.categories,
                                                                          rules.CATEGORIES),
                                  ("stages", q.stages, rules.STAGES)):
        for value in values:
            rules.check_choice(name, value, choices)
    for name, day in (("day_from", q.day_from), ("day_to", q.day_to)):
        if day is not None:
            check_day(name, day)
    if q.day_from and q.day_to and q.day_to < q.day_from:
        raise InvalidInput(f"day_to: {q.day_to} is before day_from {q.day_from}")
    if q.building_id is not None:
        check_id("building_id", q.building_id)
    if q.number is not None:
        check_id("number", q.number)
    for name, text in (("address", q.address), ("premise", q.premise), ("applicant", q.applicant),
                       ("text", q.text)):
        rules.check_text(name, text, rules.MAX_NAME, required=False)
    return TicketQuery(q.spheres, q.categories, q.stages, q.cancelled, q.grouped, q.building_id, q.number,
                       q.address.strip(), q.premise.strip(), q.applicant.strip(), q.text.strip(), q.day_from,
                       q.day_to, q.mine)


def _matches(t: Ticket, q: TicketQuery) -> bool:
    """The filters SQLite cannot apply: text parts in any letter case (its LIKE folds only ASCII) and
    the building's local registration day."""
    if q.address and q.address.casefold() not in t.address.casefold():
        return False
    if q.applicant and q.applicant.casefold() not in t.applicant_name.casefold():
        return False
    if q.text:
        needle = q.text.casefold()
        hay = (str(t.id), t.address, t.premise_number or "", t.applicant_name, t.description)
        if not any(needle in h.casefold() for h in hay):
            return False
    day = t.created_at.date()
    return not ((q.day_from and day < q.day_from) or (q.day_to and day > q.day_to))
