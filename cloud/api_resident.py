"""/api/v1/resident routes: the residents' app (manual 3.6) for a resident's own client (a phone app).

A resident signs in (``POST /resident/login``) or registers with an activation code
(``POST /resident/register``) and sends the session token it gets as ``Authorization: Bearer``.
That token is a resident's, never an integration's API token: each kind is refused where the other
belongs. Every answer is about the resident's own premises (cloud/services/resident_app.py); another
premise or ticket is 404. Wired by cloud/api.py's ``integration_router``.
Tests: tests/integration/test_resident_app.py.
"""

# no ``from __future__ import annotations``: FastAPI must see the route parameters' types, and the shared
# ones (PathId, Day) are names local to ``routes``
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from cloud.services.container import Services
from cloud.services.desk import Ticket
from cloud.services.models import Granularity, PremiseConsumption
from cloud.services.notices import ResidentNotice
from cloud.services.resident_app import HomeMeter, ResidentHome, ResidentTicket
from protocol.vocabulary import Resource

_bearer = HTTPBearer(auto_error=False, scheme_name="resident",
                     description="a resident's session token from POST /api/v1/resident/login or /register")


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40, description="the premise's activation code, e.g. ABCD-EFGH-JKLM")
    email: str = Field(min_length=3, max_length=254, description="becomes the login")
    full_name: str = Field(min_length=1, max_length=200)
    phone: str = Field(default="", max_length=20)
    password: str = Field(min_length=8, max_length=200)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    premise_id: int = Field(ge=1, le=2**63 - 1)
    description: str = Field(min_length=1, max_length=2000)


class SessionOut(BaseModel):
    token: str
    expires_at: datetime
    home: ResidentHome


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import ApiError, Day, PathId, _service

    app = services.resident_app
    tags: list = ["residents"]

    async def resident_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
        if credentials is None or not credentials.credentials:
            raise ApiError(401, "unauthorized", "send the resident's session token as 'Authorization: Bearer <token>'")
        return credentials.credentials

    Token = Annotated[str, Depends(resident_token)]

    def client(request: Request) -> str:
        return request.client.host if request.client is not None else ""

    @api.post("/resident/login", response_model=SessionOut, tags=tags,
              description="Sign in with the e-mail and password set at registration; the session ends within a day.")
    async def resident_login(body: LoginIn, request: Request) -> SessionOut:
        session = await _service(app.login(body.email, body.password, client(request)))
        return SessionOut(token=session.token, expires_at=session.expires_at, home=session.home)

    @api.post("/resident/register", response_model=SessionOut, tags=tags,
              description="Register with a premise's activation code (valid a week, used once) and sign in.")
    async def resident_register(body: RegisterIn) -> SessionOut:
        session = await _service(app.register(body.code, body.email, body.full_name, body.phone, body.password))
        return SessionOut(token=session.token, expires_at=session.expires_at, home=session.home)

    @api.post("/resident/logout", status_code=204, tags=tags, description="End this session.")
    async def resident_logout(token: Token) -> None:
        await _service(app.logout(token))

    @api.get("/resident/home", response_model=ResidentHome, tags=tags,
             description="The resident and their premises, each with the resources its meters measure.")
    async def resident_home(token: Token) -> ResidentHome:
        return await _service(app.home(token))

    @api.get("/resident/premises/{premise_id}/consumption", response_model=PremiseConsumption, tags=tags,
             description="The premise's consumption of `resource` (manual 4.1.6): the days of the month of `period` "
                         "(granularity day) or the months of its year (month), as the staff's premise page has it.")
    async def resident_consumption(premise_id: PathId, resource: Resource, period: Day, token: Token,
                                   granularity: Granularity = Granularity.DAY) -> PremiseConsumption:
        return await _service(app.consumption(token, premise_id, resource, granularity, period))

    @api.get("/resident/premises/{premise_id}/meters", response_model=list[HomeMeter], tags=tags,
             description="The premise's meters, each channel with its newest reading and when it was read.")
    async def resident_meters(premise_id: PathId, token: Token) -> list[HomeMeter]:
        return await _service(app.meters(token, premise_id))

    @api.get("/resident/tickets", response_model=list[Ticket], tags=tags,
             description="The resident's requests to the dispatch desk, newest first.")
    async def resident_tickets(token: Token) -> list[Ticket]:
        return await _service(app.tickets(token))

    @api.post("/resident/tickets", response_model=Ticket, status_code=201, tags=tags,
              description="A request to the dispatch desk about one of the resident's premises (20 a day at most).")
    async def resident_submit_ticket(body: TicketIn, token: Token) -> Ticket:
        return await _service(app.submit_ticket(token, body.premise_id, body.description))

    @api.get("/resident/tickets/{ticket_id}", response_model=ResidentTicket, tags=tags,
             description="One request with the stages it reached.")
    async def resident_ticket(ticket_id: PathId, token: Token) -> ResidentTicket:
        return await _service(app.ticket(token, ticket_id))

    @api.get("/resident/notices", response_model=list[ResidentNotice], tags=tags,
             description="The published notices current today for the buildings of the resident's premises.")
    async def resident_notices(token: Token) -> list[ResidentNotice]:
        return await _service(app.notices_for(token))
