"""/api/v1 routes of the dispatch desk (manual 4.5.9) and notices to residents (4.5.10); every answer
is the service's (cloud/services/desk.py, cloud/services/notices.py).

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_desk.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations
from datetime import date
from enum import Enum
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cloud.services.container import Services
from cloud.services.desk import Engineer, TicketDetail, TicketList, TicketQuery
from cloud.services.desk_rules import MAX_BODY, MAX_DESCRIPTION, MAX_NOTE, MAX_TITLE
from cloud.services.models import FIRST_DAY, LAST_DAY, MAX_ID
from cloud.services.notices import Notice

Sphere = Literal["heating", "hot_water", "cold_water", "sewerage", "electricity", "gas", "metering", "other"]
Category = Literal["azo", "ppr", "off_journal"]
Stage = Literal["registration", "qualification", "execution", "completion"]  # = desk_rules (its test checks)
RegistryId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _sane(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"a date from {FIRST_DAY} to {LAST_DAY}")
    return value


SaneDay = Annotated[date, AfterValidator(_sane)]  # = cloud.api.Day (not importable here: cloud.api imports us)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketIn(Strict):
    building_id: RegistryId
    premise_id: RegistryId | None = None
    description: str = Field(max_length=MAX_DESCRIPTION)
    sphere: Sphere | None = None
    category: Category | None = None
    applicant_name: str = Field("", max_length=200, description="a resident who called; empty: the author applies")
    applicant_phone: str = Field("", max_length=20)


class TicketEdit(Strict):
    description: str = Field(max_length=MAX_DESCRIPTION)
    sphere: Sphere | None = None
    category: Category | None = None
    premise_id: RegistryId | None = None


class MoveIn(Strict):
    stage: Stage
    note: str = Field(max_length=MAX_NOTE, description="required: the comment kept with the stage")


class AssignIn(Strict):
    engineer_id: RegistryId | None = Field(description="null: take the assignment back")
    note: str = Field("", max_length=MAX_NOTE)


class NoteIn(Strict):
    note: str = Field(max_length=MAX_NOTE)


class AttachIn(Strict):
    head_id: RegistryId


class NoticeIn(Strict):
    title: str = Field(max_length=MAX_TITLE)
    body: str = Field(max_length=MAX_BODY)
    building_ids: list[RegistryId] = Field(min_length=1, max_length=1000)
    relevant_from: SaneDay
    relevant_to: SaneDay | None = Field(None, description="the end of the works (inclusive); null: until unpublished")


def routes(api: APIRouter, services: Services) -> None:
    """Add the desk's and the notices' operations to the /api/v1 router."""
    from cloud.api import Day, PathId, Token, _service

    desk, notices = services.desk, services.notices
    desk_tags: list[str | Enum] = ["dispatch desk"]
    notice_tags: list[str | Enum] = ["notices"]

    @api.get("/desk/tickets", response_model=TicketList, tags=desk_tags,
             description="The company's tickets (manual 4.5.9), newest first, at most 500 (`total` counts all that "
                         "matched). Filters: spheres, categories (azo = АЗО, ppr = ППР, off_journal), stages, "
                         "cancelled (true: only cancelled, false: only not), grouped, the ticket number, part of the "
                         "address, the premise number, part of the applicant's name, `text` in any of them or the "
                         "description, registration days (building's local dates), `mine` (assigned to the caller).")
    async def list_desk_tickets(
            token: Token, spheres: Annotated[list[Sphere] | None, Query()] = None,
            categories: Annotated[list[Category] | None, Query()] = None,
            stages: Annotated[list[Stage] | None, Query()] = None, cancelled: bool | None = None,
            grouped: bool | None = None, building_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
            number: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
            address: Annotated[str, Query(max_length=200)] = "", premise: Annotated[str, Query(max_length=200)] = "",
            applicant: Annotated[str, Query(max_length=200)] = "", text: Annotated[str, Query(max_length=200)] = "",
            day_from: Day | None = None, day_to: Day | None = None, mine: bool = False) -> TicketList:
        query = TicketQuery(tuple(spheres or ()), tuple(categories or ()), tuple(stages or ()), cancelled, grouped,
                            building_id, number, address, premise, applicant, text, day_from, day_to, mine)
        return await _service(desk.tickets(token, query))

    @api.get("/desk/tickets/{ticket_id}", response_model=TicketDetail, tags=desk_tags,
             description="One ticket with every step (time, who, note), the stages reached and what the caller may do.")
    async def get_desk_ticket(ticket_id: PathId, token: Token) -> TicketDetail:
        return await _service(desk.ticket(token, ticket_id))

    @api.get("/desk/engineers", response_model=list[Engineer], tags=desk_tags,
             description="The engineers a ticket may be assigned to (not blocked, not readers).")
    async def list_desk_engineers(token: Token) -> list[Engineer]:
        return await _service(desk.engineers(token))

    @api.post("/desk/tickets", response_model=TicketDetail, tags=desk_tags,
              description="Register a ticket (a dispatcher or an engineer); it starts at registration. Audited.")
    async def create_desk_ticket(body: TicketIn, token: Token) -> TicketDetail:
        return await _service(desk.create(token, body.building_id, body.description, premise_id=body.premise_id,
                                          sphere=body.sphere, category=body.category,
                                          applicant_name=body.applicant_name, applicant_phone=body.applicant_phone))

    @api.put("/desk/tickets/{ticket_id}", response_model=TicketDetail, tags=desk_tags,
             description="Change description, sphere, category, premise (a dispatcher, or the engineer the ticket "
                         "is assigned to) before completion. Audited.")
    async def edit_desk_ticket(ticket_id: PathId, body: TicketEdit, token: Token) -> TicketDetail:
        return await _service(desk.edit(token, ticket_id, description=body.description, sphere=body.sphere,
                                        category=body.category, premise_id=body.premise_id))

    @api.post("/desk/tickets/{ticket_id}/move", response_model=TicketDetail, tags=desk_tags,
              description="Move to a stage with a note. Legal: registration→qualification, qualification→execution "
                          "(needs sphere, category, assignee), execution→completion, execution→qualification (a "
                          "return), completion→execution (reopening). A dispatcher; the assignee completes or "
                          "returns. 422 for an illegal move, 403 for a caller who may not. Audited.")
    async def move_desk_ticket(ticket_id: PathId, body: MoveIn, token: Token) -> TicketDetail:
        return await _service(desk.move(token, ticket_id, body.stage, body.note))

    @api.post("/desk/tickets/{ticket_id}/assign", response_model=TicketDetail, tags=desk_tags,
              description="Assign an engineer (a dispatcher), before completion. Audited.")
    async def assign_desk_ticket(ticket_id: PathId, body: AssignIn, token: Token) -> TicketDetail:
        return await _service(desk.assign(token, ticket_id, body.engineer_id, body.note))

    @api.post("/desk/tickets/{ticket_id}/comments", response_model=TicketDetail, tags=desk_tags,
              description="A comment to the current stage (a dispatcher or the assignee). Audited.")
    async def comment_desk_ticket(ticket_id: PathId, body: NoteIn, token: Token) -> TicketDetail:
        return await _service(desk.comment(token, ticket_id, body.note))

    @api.post("/desk/tickets/{ticket_id}/cancel", response_model=TicketDetail, tags=desk_tags,
              description="Cancel with a reason (a dispatcher; not a completed ticket). Final. Audited.")
    async def cancel_desk_ticket(ticket_id: PathId, body: NoteIn, token: Token) -> TicketDetail:
        return await _service(desk.cancel(token, ticket_id, body.note))

    @api.post("/desk/tickets/{ticket_id}/attach", response_model=TicketDetail, tags=desk_tags,
              description="Attach to the group headed by `head_id` (a dispatcher; one level deep). Audited.")
    async def attach_desk_ticket(ticket_id: PathId, body: AttachIn, token: Token) -> TicketDetail:
        return await _service(desk.attach(token, ticket_id, body.head_id))

    @api.post("/desk/tickets/{ticket_id}/detach", response_model=TicketDetail, tags=desk_tags,
              description="Take the ticket out of its group (a dispatcher). Audited.")
    async def detach_desk_ticket(ticket_id: PathId, token: Token) -> TicketDetail:
        return await _service(desk.detach(token, ticket_id))

    @api.get("/notices", response_model=list[Notice], tags=notice_tags,
             description="The company's notices to residents (manual 4.5.10), newest first; `published` true / "
                         "false: only published / only drafts. Times in the company city's local time.")
    async def list_notices(token: Token, published: bool | None = None) -> list[Notice]:
        return await _service(notices.notices(token, published=published))

    @api.get("/notices/{notice_id}", response_model=Notice, tags=notice_tags)
    async def get_notice(notice_id: PathId, token: Token) -> Notice:
        return await _service(notices.notice(token, notice_id))

    @api.post("/notices", response_model=Notice, tags=notice_tags,
              description="A new draft (a dispatcher). Audited.")
    async def create_notice(body: NoticeIn, token: Token) -> Notice:
        return await _service(notices.create(token, body.title, body.body, body.building_ids, body.relevant_from,
                                             body.relevant_to))

    @api.put("/notices/{notice_id}", response_model=Notice, tags=notice_tags,
             description="Change a draft (a dispatcher); a published notice is unpublished first (422). Audited.")
    async def edit_notice(notice_id: PathId, body: NoticeIn, token: Token) -> Notice:
        return await _service(notices.edit(token, notice_id, body.title, body.body, body.building_ids,
                                           body.relevant_from, body.relevant_to))

    @api.post("/notices/{notice_id}/publish", response_model=Notice, tags=notice_tags,
              description="Publish: the residents of its buildings see it within its period (a dispatcher; 422 "
                          "when the period has ended). Audited.")
    async def publish_notice(notice_id: PathId, token: Token) -> Notice:
        return await _service(notices.publish(token, notice_id))

    @api.post("/notices/{notice_id}/unpublish", response_model=Notice, tags=notice_tags,
              description="Unpublish: a draft again (a dispatcher). Audited.")
    async def unpublish_notice(notice_id: PathId, token: Token) -> Notice:
        return await _service(notices.unpublish(token, notice_id))

    @api.delete("/notices/{notice_id}", status_code=204, tags=notice_tags,
                description="Delete a draft never published (a dispatcher). Audited.")
    async def delete_notice(notice_id: PathId, token: Token) -> None:
        await _service(notices.delete(token, notice_id))
