"""The rules of the dispatch desk (manual 4.5.9) and of notices to residents (4.5.10), as pure
functions over plain values: no storage, no clock (callers pass "today").

A ticket passes the stages registration → qualification → execution → completion. The legal moves
are the one table ``MOVES`` (who may make each, what it needs); every move carries a note (the manual
keeps "comments attached to each stage"). Only a dispatcher registers, qualifies, assigns, cancels and
groups; a service engineer changes a ticket only while it is assigned to them (manual 4.5.9: "Вносить
изменения в обращения может диспетчер и сервис-инженер, если его назначили на выполнение работ");
reader status changes nothing (2.3). A cancelled ticket is final, and so is the cancellation: a
completed ticket cannot be cancelled (reopen it first). Grouping is one level deep: a ticket is
attached to a head ticket that is not attached itself.

A notice is a draft until a dispatcher publishes it; only drafts are edited (unpublish to change a
published one); it reaches the residents of its buildings from ``relevant_from`` up to and including
``relevant_to`` (the end of the works; None: until unpublished).
Tests: tests/unit/cloud/test_desk_rules.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from cloud.services.models import Forbidden, InvalidInput, check_day, check_id

STAGES = ("registration", "qualification", "execution", "completion")
# the blocks of the desk's type filter (manual 4.5.9): the sphere of works and the management category
SPHERES = ("heating", "hot_water", "cold_water", "sewerage", "electricity", "gas", "metering", "other")
CATEGORIES = ("azo", "ppr", "off_journal")  # АЗО, ППР, вне журнальные обращения
SOURCES = ("resident", "engineer", "dispatcher")

MAX_DESCRIPTION = 4000
MAX_NOTE = 2000
MAX_NAME = 200
MAX_TITLE = 200
MAX_BODY = 5000
MAX_BUILDINGS = 1000  # addressees of one notice


class DeskRuleError(InvalidInput):
    """A refusal by these rules: ``reason`` is a stable key (the UI words it in Russian with
    ``params``), the message says it in English for the API."""

    def __init__(self, reason: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.reason, self.params = reason, params


# --- tickets ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Move:
    """One legal stage move: who may make it and which fields it needs set."""

    source: str
    target: str
    assignee_may: bool  # besides a dispatcher, the engineer the ticket is assigned to
    needs: tuple[str, ...] = ()  # "sphere", "category", "assignee"
    kind: str = "forward"  # "forward", "return" (back for requalification) or "reopen"


MOVES: tuple[Move, ...] = (
    Move("registration", "qualification", assignee_may=False),  # the dispatcher takes it up
    Move("qualification", "execution", assignee_may=False, needs=("sphere", "category", "assignee")),
    Move("execution", "completion", assignee_may=True),  # the works are done
    Move("execution", "qualification", assignee_may=True, kind="return"),  # cannot be done as qualified
    Move("completion", "execution", assignee_may=False, kind="reopen"),  # the applicant says it is not done
)


@dataclass(frozen=True, slots=True)
class TicketState:
    """A ticket as the rules need it."""

    stage: str
    cancelled: bool
    sphere: str | None = None
    category: str | None = None
    assignee_id: int | None = None
    parent_id: int | None = None
    children: int = 0  # tickets attached to this one


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a staff role ("dispatcher", "engineer", "administrator"), reader status, their user id."""

    role: str
    reader: bool
    user_id: int

    def assigned(self, ticket: TicketState) -> bool:
        return self.role == "engineer" and ticket.assignee_id == self.user_id


def _writer(actor: Actor) -> None:
    if actor.reader:
        raise Forbidden("reader status is read-only")
    if actor.role not in ("dispatcher", "engineer"):
        raise Forbidden(f"the {actor.role} role has no access to the dispatch desk")


def _dispatcher(actor: Actor, what: str) -> None:
    _writer(actor)
    if actor.role != "dispatcher":
        raise Forbidden(f"only a dispatcher may {what}")


def _dispatcher_or_assignee(actor: Actor, ticket: TicketState, what: str) -> None:
    _writer(actor)
    if actor.role != "dispatcher" and not actor.assigned(ticket):
        raise Forbidden(f"only a dispatcher or the engineer the ticket is assigned to may {what}")


def _open(ticket: TicketState) -> None:
    if ticket.cancelled:
        raise DeskRuleError("cancelled", "the ticket is cancelled: it changes no more")


def check_create(actor: Actor) -> None:
    """Dispatchers and engineers register tickets (residents through their own path)."""
    _writer(actor)


def move_of(source: str, target: str) -> Move | None:
    return next((m for m in MOVES if m.source == source and m.target == target), None)


def check_move(ticket: TicketState, target: str, actor: Actor, note: str) -> Move:
    """The move to ``target`` if ``actor`` may make it now with ``note``, else Forbidden / DeskRuleError."""
    if target not in STAGES:
        raise DeskRuleError("stage_unknown", f"stage: one of {', '.join(STAGES)}, got {target!r}", stage=target)
    move = move_of(ticket.stage, target)
    if move is None:
        _writer(actor)
        raise DeskRuleError("move_illegal", f"a ticket at {ticket.stage} cannot move to {target}",
                            source=ticket.stage, target=target)
    if move.assignee_may:
        _dispatcher_or_assignee(actor, ticket, f"move a ticket from {move.source} to {move.target}")
    else:
        _dispatcher(actor, f"move a ticket from {move.source} to {move.target}")
    _open(ticket)
    check_text("note", note, MAX_NOTE, required=True)
    values = {"sphere": ticket.sphere, "category": ticket.category, "assignee": ticket.assignee_id}
    for need in move.needs:
        if values[need] is None:
            raise DeskRuleError(f"needs_{need}", f"set the ticket's {need} before moving it to {target}",
                                target=target)
    return move


def allowed_moves(ticket: TicketState, actor: Actor) -> tuple[str, ...]:
    """The stages ``actor`` may move the ticket to now (a missing field is refused when asked, with its reason)."""
    if actor.reader or ticket.cancelled or actor.role not in ("dispatcher", "engineer"):
        return ()
    return tuple(m.target for m in MOVES if m.source == ticket.stage
                 and (actor.role == "dispatcher" or (m.assignee_may and actor.assigned(ticket))))


def check_edit(ticket: TicketState, actor: Actor) -> None:
    """Sphere, category, description, premise: a dispatcher or the assignee, while the ticket is open."""
    _dispatcher_or_assignee(actor, ticket, "change the ticket")
    _open(ticket)
    if ticket.stage == "completion":
        raise DeskRuleError("completed", "the ticket is completed: reopen it to change it")


def check_assign(ticket: TicketState, actor: Actor) -> None:
    """A dispatcher assigns (or reassigns) the engineer before completion."""
    _dispatcher(actor, "assign an engineer")
    _open(ticket)
    if ticket.stage == "completion":
        raise DeskRuleError("completed", "the ticket is completed: reopen it to change it")


def check_comment(ticket: TicketState, actor: Actor, note: str) -> str:
    """A comment to the current stage: a dispatcher or the assignee, at any stage, cancelled too."""
    _dispatcher_or_assignee(actor, ticket, "comment on the ticket")
    return check_text("note", note, MAX_NOTE, required=True)


def check_cancel(ticket: TicketState, actor: Actor, note: str) -> str:
    """A dispatcher cancels an open ticket that is not completed, saying why."""
    _dispatcher(actor, "cancel a ticket")
    _open(ticket)
    if ticket.stage == "completion":
        raise DeskRuleError("cancel_completed", "a completed ticket cannot be cancelled; reopen it first")
    return check_text("note", note, MAX_NOTE, required=True)


def check_attach(ticket_id: int, ticket: TicketState, head_id: int, head: TicketState, actor: Actor) -> None:
    """A dispatcher attaches ``ticket`` to the group headed by ``head`` (one level deep)."""
    _dispatcher(actor, "group tickets")
    if ticket_id == head_id:
        raise DeskRuleError("attach_self", "a ticket cannot be attached to itself")
    _open(ticket)
    if head.cancelled:
        raise DeskRuleError("head_cancelled", f"ticket {head_id} is cancelled: nothing can be attached to it",
                            head=head_id)
    if head.parent_id is not None:
        raise DeskRuleError("head_attached", f"ticket {head_id} is itself attached to ticket {head.parent_id}: "
                            "attach to that one", head=head_id, parent=head.parent_id)
    if ticket.children:
        raise DeskRuleError("has_children", "tickets are attached to this one: it heads a group of its own")
    if ticket.parent_id == head_id:
        raise DeskRuleError("attached_already", f"the ticket is attached to ticket {head_id} already", head=head_id)


def check_detach(ticket: TicketState, actor: Actor) -> None:
    _dispatcher(actor, "group tickets")
    if ticket.parent_id is None:
        raise DeskRuleError("not_attached", "the ticket is not attached to any other")


def check_text(field: str, value: str, limit: int, *, required: bool) -> str:
    """``value`` with its outer blanks stripped, or InvalidInput naming ``field``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: text expected")
    text = value.strip()
    if required and not text:
        raise DeskRuleError("required", f"{field}: required", field=field)
    if len(text) > limit:
        raise DeskRuleError("too_long", f"{field}: at most {limit} characters, got {len(text)}", field=field,
                            limit=limit)
    return text


def check_choice(field: str, value: str | None, choices: Sequence[str], *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise DeskRuleError("required", f"{field}: required", field=field)
        return None
    if value not in choices:
        raise InvalidInput(f"{field}: one of {', '.join(choices)}, got {value!r}")
    return value


# --- notices ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice's fields, checked."""

    title: str
    body: str
    building_ids: tuple[int, ...]
    relevant_from: date
    relevant_to: date | None


def check_notice(title: str, body: str, building_ids: Sequence[int], relevant_from: date,
                 relevant_to: date | None) -> NoticeDraft:
    """The fields of a notice, each checked and named when wrong."""
    ids = tuple(dict.fromkeys(check_id("building_ids", i) for i in building_ids))
    if not ids:
        raise DeskRuleError("no_buildings", "building_ids: at least one building the notice is for")
    if len(ids) > MAX_BUILDINGS:
        raise InvalidInput(f"building_ids: at most {MAX_BUILDINGS} buildings")
    check_day("relevant_from", relevant_from)
    if relevant_to is not None:
        check_day("relevant_to", relevant_to)
        if relevant_to < relevant_from:
            raise DeskRuleError("period_reversed", f"relevant_to: {relevant_to} is before relevant_from "
                                f"{relevant_from}", relevant_from=relevant_from, relevant_to=relevant_to)
    return NoticeDraft(check_text("title", title, MAX_TITLE, required=True),
                       check_text("body", body, MAX_BODY, required=True), ids, relevant_from, relevant_to)


def check_notice_edit(published: bool) -> None:
    if published:
        raise DeskRuleError("notice_published", "a published notice is not edited: unpublish it first")


def check_publish(published: bool, relevant_to: date | None, today: date) -> None:
    """A draft whose period has not ended (``today`` in the company's city) may be published."""
    if published:
        raise DeskRuleError("notice_published_already", "the notice is published already")
    if relevant_to is not None and relevant_to < today:
        raise DeskRuleError("notice_period_over", f"the notice's period ended on {relevant_to}: change it first",
                            relevant_to=relevant_to)


def check_unpublish(published: bool) -> None:
    if not published:
        raise DeskRuleError("notice_not_published", "the notice is not published")


def check_delete(ever_published: bool) -> None:
    """Only a draft never shown to residents is deleted; a notice once published stays, unpublished."""
    if ever_published:
        raise DeskRuleError("notice_was_published", "a notice that was published is kept: unpublish it instead")


def is_current(relevant_from: date, relevant_to: date | None, today: date) -> bool:
    """Whether a published notice is shown to residents on ``today`` (their building's date)."""
    return relevant_from <= today and (relevant_to is None or today <= relevant_to)
