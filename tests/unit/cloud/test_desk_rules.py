"""The dispatch desk's rules (manual 4.5.9) and the notices' (4.5.10), each move of the stage table
tried from every stage by every kind of actor; expectations written from the manual, not the code."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest

from cloud.services import desk_rules as rules
from cloud.services.desk_rules import Actor, DeskRuleError, TicketState
from cloud.services.models import Forbidden, InvalidInput

DISPATCHER = Actor("dispatcher", False, 1)
ASSIGNEE = Actor("engineer", False, 7)  # the ticket below is assigned to user 7
OTHER_ENGINEER = Actor("engineer", False, 8)
READER = Actor("dispatcher", True, 2)
ADMIN = Actor("administrator", False, 3)
READY = {"sphere": "heating", "category": "ppr", "assignee_id": 7}

# the legal moves, written from the manual: forward one stage at a time; the assignee completes the
# works or returns them for requalification; a dispatcher reopens a completed ticket
LEGAL = {("registration", "qualification"): "dispatcher",
         ("qualification", "execution"): "dispatcher",
         ("execution", "completion"): "dispatcher or assignee",
         ("execution", "qualification"): "dispatcher or assignee",
         ("completion", "execution"): "dispatcher"}


def _ticket(stage: str, **kw: object) -> TicketState:
    return TicketState(stage, bool(kw.pop("cancelled", False)), **{**READY, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("source", "target"), list(product(rules.STAGES, rules.STAGES)))
def test_every_move_from_every_stage(source: str, target: str) -> None:
    ticket = _ticket(source)
    who = LEGAL.get((source, target))
    if who is None:  # illegal for everybody, a dispatcher included
        with pytest.raises(DeskRuleError) as refused:
            rules.check_move(ticket, target, DISPATCHER, "note")
        assert refused.value.reason == "move_illegal"
        assert target not in rules.allowed_moves(ticket, DISPATCHER)
        return
    assert rules.check_move(ticket, target, DISPATCHER, "done").target == target
    assert target in rules.allowed_moves(ticket, DISPATCHER)
    if who == "dispatcher or assignee":
        rules.check_move(ticket, target, ASSIGNEE, "done")
        assert target in rules.allowed_moves(ticket, ASSIGNEE)
    else:
        with pytest.raises(Forbidden):
            rules.check_move(ticket, target, ASSIGNEE, "done")
        assert target not in rules.allowed_moves(ticket, ASSIGNEE)
    for nobody in (OTHER_ENGINEER, READER, ADMIN):  # an engineer it is not assigned to, a reader, an administrator
        with pytest.raises(Forbidden):
            rules.check_move(ticket, target, nobody, "done")
        assert rules.allowed_moves(ticket, nobody) == ()


def test_move_needs_a_note_a_known_stage_and_an_open_ticket() -> None:
    with pytest.raises(DeskRuleError, match="note: required"):
        rules.check_move(_ticket("registration"), "qualification", DISPATCHER, "   ")
    with pytest.raises(DeskRuleError, match="at most 2000"):
        rules.check_move(_ticket("registration"), "qualification", DISPATCHER, "x" * 2001)
    with pytest.raises(DeskRuleError) as refused:
        rules.check_move(_ticket("registration"), "archive", DISPATCHER, "n")
    assert refused.value.reason == "stage_unknown"
    with pytest.raises(DeskRuleError) as refused:
        rules.check_move(_ticket("execution", cancelled=True), "completion", DISPATCHER, "n")
    assert refused.value.reason == "cancelled"
    assert rules.allowed_moves(_ticket("execution", cancelled=True), DISPATCHER) == ()


@pytest.mark.parametrize("missing", ["sphere", "category", "assignee"])
def test_execution_needs_sphere_category_and_assignee(missing: str) -> None:
    key = "assignee_id" if missing == "assignee" else missing
    ticket = _ticket("qualification", **{key: None})
    with pytest.raises(DeskRuleError) as refused:
        rules.check_move(ticket, "execution", DISPATCHER, "go")
    assert refused.value.reason == f"needs_{missing}"


def test_cancellation() -> None:
    # a dispatcher cancels at registration, qualification and execution, with a reason
    for stage in ("registration", "qualification", "execution"):
        assert rules.check_cancel(_ticket(stage), DISPATCHER, " duplicate ") == "duplicate"
    with pytest.raises(DeskRuleError, match="note: required"):
        rules.check_cancel(_ticket("registration"), DISPATCHER, "")
    with pytest.raises(DeskRuleError) as refused:  # completed: reopen first
        rules.check_cancel(_ticket("completion"), DISPATCHER, "why")
    assert refused.value.reason == "cancel_completed"
    with pytest.raises(DeskRuleError) as refused:  # twice
        rules.check_cancel(_ticket("execution", cancelled=True), DISPATCHER, "why")
    assert refused.value.reason == "cancelled"
    for nobody in (ASSIGNEE, OTHER_ENGINEER, READER, ADMIN):  # the assignee does not cancel either
        with pytest.raises(Forbidden):
            rules.check_cancel(_ticket("execution"), nobody, "why")


def test_edit_assign_comment_rights() -> None:
    rules.check_edit(_ticket("execution"), ASSIGNEE)
    rules.check_edit(_ticket("registration"), DISPATCHER)
    with pytest.raises(Forbidden):
        rules.check_edit(_ticket("execution"), OTHER_ENGINEER)
    with pytest.raises(DeskRuleError):
        rules.check_edit(_ticket("completion"), DISPATCHER)
    with pytest.raises(DeskRuleError):
        rules.check_edit(_ticket("execution", cancelled=True), DISPATCHER)
    rules.check_assign(_ticket("execution"), DISPATCHER)  # reassigning during execution
    with pytest.raises(Forbidden):
        rules.check_assign(_ticket("execution"), ASSIGNEE)
    with pytest.raises(DeskRuleError):
        rules.check_assign(_ticket("completion"), DISPATCHER)
    # comments: a dispatcher or the assignee, at any stage, a cancelled ticket too
    assert rules.check_comment(_ticket("completion", cancelled=True), ASSIGNEE, " called back ") == "called back"
    for nobody in (OTHER_ENGINEER, READER, ADMIN):
        with pytest.raises(Forbidden):
            rules.check_comment(_ticket("execution"), nobody, "x")
    rules.check_create(ASSIGNEE)
    rules.check_create(DISPATCHER)
    for nobody in (READER, ADMIN):
        with pytest.raises(Forbidden):
            rules.check_create(nobody)


def test_grouping_is_one_level_deep() -> None:
    head, child = _ticket("execution"), _ticket("registration")
    rules.check_attach(2, child, 1, head, DISPATCHER)
    cases = [
        (1, child, 1, head, "attach_self"),
        (2, _ticket("registration", cancelled=True), 1, head, "cancelled"),
        (2, child, 1, _ticket("execution", cancelled=True), "head_cancelled"),
        (2, child, 1, _ticket("execution", parent_id=5), "head_attached"),
        (2, _ticket("registration", children=1), 1, head, "has_children"),
        (2, _ticket("registration", parent_id=1), 1, head, "attached_already"),
    ]
    for ticket_id, ticket, head_id, head_state, reason in cases:
        with pytest.raises(DeskRuleError) as refused:
            rules.check_attach(ticket_id, ticket, head_id, head_state, DISPATCHER)
        assert refused.value.reason == reason
    with pytest.raises(Forbidden):
        rules.check_attach(2, child, 1, head, ASSIGNEE)
    rules.check_detach(_ticket("registration", parent_id=1), DISPATCHER)
    with pytest.raises(DeskRuleError):
        rules.check_detach(child, DISPATCHER)


def test_choices_and_texts() -> None:
    assert rules.check_choice("sphere", "", rules.SPHERES) is None
    assert rules.check_choice("category", "azo", rules.CATEGORIES) == "azo"
    with pytest.raises(InvalidInput, match="category: one of azo, ppr, off_journal"):
        rules.check_choice("category", "АЗО", rules.CATEGORIES)
    assert rules.check_text("description", "  течёт кран  ", 10, required=True) == "течёт кран"


# --- notices -------------------------------------------------------------------------------------

def test_notice_fields() -> None:
    draft = rules.check_notice(" Отключение ГВС ", "С 10:00 до 18:00", [3, 3, 4], date(2026, 1, 15),
                               date(2026, 1, 16))
    assert (draft.title, draft.building_ids) == ("Отключение ГВС", (3, 4))  # duplicates counted once
    with pytest.raises(DeskRuleError) as refused:
        rules.check_notice("t", "b", [], date(2026, 1, 15), None)
    assert refused.value.reason == "no_buildings"
    with pytest.raises(DeskRuleError) as refused:
        rules.check_notice("t", "b", [1], date(2026, 1, 15), date(2026, 1, 14))
    assert refused.value.reason == "period_reversed"
    rules.check_notice("t", "b", [1], date(2026, 1, 15), date(2026, 1, 15))  # one day is a period
    with pytest.raises(DeskRuleError, match="title: required"):
        rules.check_notice(" ", "b", [1], date(2026, 1, 15), None)
    with pytest.raises(InvalidInput, match="building_ids"):
        rules.check_notice("t", "b", [0], date(2026, 1, 15), None)
    with pytest.raises(InvalidInput, match="relevant_from"):
        rules.check_notice("t", "b", [1], date(1999, 12, 31), None)


def test_publishing() -> None:
    today = date(2026, 1, 14)
    rules.check_publish(False, None, today)
    rules.check_publish(False, today, today)  # ends today: still relevant today
    with pytest.raises(DeskRuleError) as refused:
        rules.check_publish(False, date(2026, 1, 13), today)
    assert refused.value.reason == "notice_period_over"
    with pytest.raises(DeskRuleError):
        rules.check_publish(True, None, today)
    rules.check_unpublish(True)
    with pytest.raises(DeskRuleError):
        rules.check_unpublish(False)
    rules.check_notice_edit(False)
    with pytest.raises(DeskRuleError):
        rules.check_notice_edit(True)
    rules.check_delete(False)
    with pytest.raises(DeskRuleError):
        rules.check_delete(True)


def test_current_period_includes_both_ends() -> None:
    first, last = date(2026, 1, 15), date(2026, 1, 17)
    assert not rules.is_current(first, last, date(2026, 1, 14))
    assert rules.is_current(first, last, date(2026, 1, 15))
    assert rules.is_current(first, last, date(2026, 1, 17))
    assert not rules.is_current(first, last, date(2026, 1, 18))
    assert rules.is_current(first, None, date(2030, 1, 1))  # open-ended: until unpublished


def test_the_api_offers_exactly_the_rules_values() -> None:
    from typing import get_args

    from cloud import api_desk
    assert set(get_args(api_desk.Sphere)) == set(rules.SPHERES)
    assert set(get_args(api_desk.Category)) == set(rules.CATEGORIES)
    assert set(get_args(api_desk.Stage)) == set(rules.STAGES)
