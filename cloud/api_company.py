"""/api/v1 routes of the company card (manual 4.6.15), the company's users (4.6.14) and the
caller's own profile and working mode (3.4); cloud/services/profile.py and users.py check rights.

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_company.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations
from enum import Enum

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from cloud.services.container import Services
from cloud.services.models import MAX_ID
from cloud.services.profile import CardFields, CompanyCard, Profile
from cloud.services.users import UserRecord


class CardIn(BaseModel):
    legal_name: str = Field(default="", max_length=300, description="the full legal name")
    inn: str = Field(default="", max_length=20, description="10 digits (a company) or 12 (an entrepreneur), "
                                                            "with valid check digits")
    kpp: str = Field(default="", max_length=20, description="9 characters; empty for an entrepreneur")
    ogrn: str = Field(default="", max_length=20, description="13 digits (OGRN) or 15 (OGRNIP), valid check digit")
    director: str = Field(default="", max_length=200, description="the director's full name")
    address: str = Field(default="", max_length=300, description="the actual address")
    hours: str = Field(default="", max_length=200, description="working hours, free text")
    phone: str = Field(default="", max_length=40, description="+7 and 10 digits (or 8 and 10 digits)")
    email: str = Field(default="", max_length=254, description="the administrator's e-mail")


class WorkingCityIn(BaseModel):
    city_id: int = Field(ge=1, le=MAX_ID, description="one of the company's cities (GET /profile lists them)")


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200, description="at least 8 characters, no leading or trailing spaces")


class UserPatchIn(BaseModel):
    full_name: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=32, description="administrator, dispatcher or engineer")
    reader: bool | None = Field(default=None, description="read-only status that overrides the role (manual 2.3)")
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)


class BlockedIn(BaseModel):
    blocked: bool


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router (operationIds are the function names)."""
    from cloud.api import PathId, Token, _given, _service

    company_tags: list[str | Enum] = ["company"]
    profile_tags: list[str | Enum] = ["profile"]
    profile = services.profile

    @api.get("/company/card", response_model=CompanyCard, tags=company_tags,
             description="The caller's company card with its cities (manual 4.6.15); any role, readers too.")
    async def company_card(token: Token) -> CompanyCard:
        return await _service(profile.card(token))

    @api.put("/company/card", response_model=CompanyCard, tags=company_tags,
             description="Replace the card's fields (an administrator). Each field is checked (INN and OGRN "
                         "check digits, KPP, e-mail, phone); any wrong field refuses the whole card (422).")
    async def update_company_card(body: CardIn, token: Token) -> CompanyCard:
        return await _service(profile.update_card(token, CardFields(**body.model_dump())))

    @api.post("/company/full-access-request", response_model=CompanyCard, tags=company_tags,
              description="Ask for the full version of the platform (an administrator; once).")
    async def request_full_access(token: Token) -> CompanyCard:
        return await _service(profile.request_full_access(token))

    @api.get("/users", response_model=list[UserRecord], tags=company_tags,
             description="The company's users with roles, reader status, blocking and contacts (an administrator).")
    async def company_users(token: Token) -> list[UserRecord]:
        return await _service(services.users.list(token))

    @api.patch("/users/{user_id}", response_model=UserRecord, tags=company_tags,
               description="Change a user's name, role, reader status or contacts (an administrator; never their "
                           "own administration rights).")
    async def update_company_user(user_id: PathId, body: UserPatchIn, token: Token) -> UserRecord:
        return await _service(services.users.update(token, user_id, **_given(body)))

    @api.put("/users/{user_id}/blocked", response_model=UserRecord, tags=company_tags,
             description="Block or unblock an account (an administrator; not their own). Blocking ends its sessions.")
    async def set_user_blocked(user_id: PathId, body: BlockedIn, token: Token) -> UserRecord:
        return await _service(services.users.set_blocked(token, user_id, body.blocked))

    @api.get("/profile", response_model=Profile, tags=profile_tags,
             description="The caller's own profile: login, name, role, company, its cities and the working city "
                         "the pages open on (manual 3.4).")
    async def my_profile(token: Token) -> Profile:
        return await _service(profile.profile(token))

    @api.put("/profile/city", response_model=Profile, tags=profile_tags,
             description="Choose the working city among the company's cities (any role, readers too).")
    async def set_working_city(body: WorkingCityIn, token: Token) -> Profile:
        return await _service(profile.set_working_city(token, body.city_id))

    @api.post("/profile/password", status_code=204, response_class=Response, tags=profile_tags,
              description="Change one's own password (the current one first); refused with an API token. "
                          "The caller's other sessions end.")
    async def change_own_password(body: PasswordIn, token: Token) -> Response:
        await _service(profile.change_password(token, body.current_password, body.new_password))
        return Response(status_code=204)
