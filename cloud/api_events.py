"""/api/v1 routes of the event journal and subscriptions (4.2.2, 4.6.13);
every figure the page shows is an answer here: ``events``, ``event_subscriptions``,
``create_event_subscription``, ``update_event_subscription``, ``delete_event_subscription``.

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module lazily). Tests: tests/integration/test_events.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations, and Token, Day,
# PathId and the body model are names local to ``routes``
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from cloud.services.container import Services
from cloud.services.events import MAX_DAYS, MAX_EMAIL, EventJournal, Subscription
from cloud.services.models import MAX_ID
from protocol.event_classes import EventEffect, EventSeverity, MeterType

_CLASSES = ("Each event has `meter_type` (individual = apartment meter ИПУ, common = building meter ОДПУ, the "
            "registry's meter role), `effect` (integrity = integrity violation, interference = interference with "
            "the meter, limit = parameter limit violation, other = other controlled event) and `severity` (info, "
            "warning, alarm). The effect comes from the stored code: a device's own event carries it, the device's "
            "event code (`device_code`, e.g. 0x0101 case opened) gives the description; `implausible_increment` "
            "(a suspect value the cloud found) is a limit violation; edge codes (clock_corrected, periods_lost ...) "
            "and unknown codes are other.")


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import ERRORS, Day, PathId, StrictIn, Token, _service

    tags: list = ["monitoring"]

    class SubscriptionIn(StrictIn):
        meter_types: list[MeterType] = Field(max_length=2, description="at least one: individual (ИПУ), common (ОДПУ)")
        effects: list[EventEffect] = Field(max_length=4, description="at least one: integrity, interference, limit, "
                                           "other")
        severities: list[EventSeverity] = Field(max_length=3, description="at least one: info, warning, alarm")
        method: Literal["email"] = Field(default="email", description="how the notice is sent: e-mail")
        email: str = Field(max_length=MAX_EMAIL, description="the address the e-mails go to")

    @api.get("/events", response_model=EventJournal, tags=tags, responses=ERRORS,
             description="The event journal of one building (manual 4.2.2): its meters' events between the local "
                         f"days `from` and `to` (inclusive, the building's time zone; default the last 7 days up to "
                         f"today; at most {MAX_DAYS} days), grouped per meter (building meters first), each meter's "
                         "events in time order (`at` local time, `at_utc` UTC), followed by the meter's current "
                         "`state`: status (commissioning, in_service, decommissioned), `last_archive_at` (local "
                         "start of its newest archive period, null when none is stored) and its counter readings "
                         f"of that period (`readings`, in their `unit`). {_CLASSES} Filters `meter_role`, `effect` "
                         "and `severity` may each be repeated (multi-select); none given and all given are the "
                         "same. At most 5,000 events, the newest: `truncated` says when more matched.")
    async def events(token: Token, building_id: Annotated[int, Query(ge=1, le=MAX_ID)],
                     first: Annotated[Day | None, Query(alias="from")] = None,
                     last: Annotated[Day | None, Query(alias="to")] = None,
                     meter_role: Annotated[list[MeterType] | None, Query(max_length=2)] = None,
                     effect: Annotated[list[EventEffect] | None, Query(max_length=4)] = None,
                     severity: Annotated[list[EventSeverity] | None, Query(max_length=3)] = None) -> EventJournal:
        return await _service(services.events.journal(
            token, building_id, first, last, meter_types=[v.value for v in meter_role or ()],
            effects=[v.value for v in effect or ()], severities=[v.value for v in severity or ()]))

    @api.get("/event-subscriptions", response_model=list[Subscription], tags=tags,
             description="The caller's own subscriptions to events by e-mail (manual 4.6.13), oldest first. "
                         "Administrators have none (404).")
    async def event_subscriptions(token: Token) -> list[Subscription]:
        return await _service(services.events.subscriptions(token))

    @api.post("/event-subscriptions", response_model=Subscription, status_code=201, tags=tags,
              description="Subscribe the caller (a dispatcher or engineer without reader status) to e-mails about "
                          "events: one e-mail per new event of the caller's company whose meter type, effect and "
                          "severity are each among the chosen ones. Each characteristic needs at least one value "
                          "(422 naming the one without); choosing all of them is allowed.")
    async def create_event_subscription(body: SubscriptionIn, token: Token) -> Subscription:
        return await _service(services.events.create_subscription(
            token, [v.value for v in body.meter_types], [v.value for v in body.effects],
            [v.value for v in body.severities], body.email, body.method))

    @api.put("/event-subscriptions/{subscription_id}", response_model=Subscription, tags=tags,
             description="Replace one of the caller's subscriptions (same rules as creating one); another user's "
                         "is 404.")
    async def update_event_subscription(subscription_id: PathId, body: SubscriptionIn, token: Token) -> Subscription:
        return await _service(services.events.update_subscription(
            token, subscription_id, [v.value for v in body.meter_types], [v.value for v in body.effects],
            [v.value for v in body.severities], body.email, body.method))

    @api.delete("/event-subscriptions/{subscription_id}", status_code=204, tags=tags,
                description="Delete one of the caller's subscriptions; another user's is 404.")
    async def delete_event_subscription(subscription_id: PathId, token: Token) -> Response:
        await _service(services.events.delete_subscription(token, subscription_id))
        return Response(status_code=204)
