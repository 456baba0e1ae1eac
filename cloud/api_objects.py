"""/api/v1 routes of settings «Объекты», «Помещения», «Собственники» and personal accounts (manual
4.6.1-4.6.4, 4.6.9); every answer is cloud/services/objects.py's. Reads: dispatchers, engineers and
readers of the company; writes: a dispatcher (403 otherwise); another company's objects are 404.

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_objects.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations

from enum import Enum
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.services.container import Services
from cloud.services.models import MAX_ID, PremiseInfo
from cloud.services.objects import BuildingCard, CodeSheet, Invitation, OwnerRow, PremiseRow
from cloud.services.premises_admin import RangeResult
from cloud.services.residents import ActivationCode

Area = Annotated[float, Field(gt=0, le=10_000_000, allow_inf_nan=False, description="square metres")]
People = Annotated[int, Field(ge=0, le=1_000_000, description="number of residents")]
Numbers = Annotated[str, Field(max_length=2000, description="apartment numbers: \"1-120\", \"1-3, 7, 10-12\"")]
Kind = Literal["apartment_block", "house", "nonresidential"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectBuildingIn(_Strict):
    address: str = Field(max_length=300)
    city_id: int = Field(ge=1, le=MAX_ID)
    area_m2: Area
    residents: People
    site: str = Field(max_length=64, description="one of the company's edge sites")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    construction_unfinished: bool = Field(default=False, description="no legal address yet: the address "
                                                                      "register check is skipped")
    building_kind: Kind = "apartment_block"
    fias_code: str = Field(default="", max_length=64, description="the house's ФИАС GUID, empty when unknown")


class ObjectBuildingPatch(_Strict):
    """Fields left out stay as they are; latitude and longitude go together (null clears both)."""

    address: str | None = Field(default=None, max_length=300)
    city_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    area_m2: Area | None = None
    residents: People | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    construction_unfinished: bool | None = None
    building_kind: Kind | None = None
    fias_code: str | None = Field(default=None, max_length=64)


class RangeIn(_Strict):
    numbers: Numbers
    area_m2: Area
    residents: People = 0


class RangeOut(_Strict):
    numbers: Numbers


class NamedIn(_Strict):
    name: str = Field(max_length=50, description="the premise's name: «Офис 1», «Магазин»")
    area_m2: Area
    residents: People = 0


class PremisePatchIn(_Strict):
    area_m2: Area | None = None
    residents: People | None = None


class InvitationIn(_Strict):
    email: str = Field(max_length=254)
    full_name: str = Field(max_length=200)
    phone: str = Field(default="", max_length=20)


class AccountIn(_Strict):
    account: str = Field(max_length=64, description="the personal account (ЛС); empty clears it")


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router (operationIds are the function names)."""
    from cloud.api import PathId, Token, _given, _service

    objects = services.objects
    tags: list[str | Enum] = ["objects"]

    @api.get("/objects/buildings", response_model=list[BuildingCard], tags=tags,
             description="The company's buildings (manual 4.6.1) with coordinates and the nearest weather station.")
    async def objects_buildings(token: Token) -> list[BuildingCard]:
        return await _service(objects.buildings(token))

    @api.get("/objects/buildings/{building_id}", response_model=BuildingCard, tags=tags,
             description="One building's information (manual 4.6.2).")
    async def objects_building_info(building_id: PathId, token: Token) -> BuildingCard:
        return await _service(objects.building(token, building_id))

    @api.post("/objects/buildings", response_model=BuildingCard, status_code=201, tags=tags,
              description="Add a building (a dispatcher). The address must pass the address register check "
                          "(street and house number) unless `construction_unfinished` is true. Audited.")
    async def create_object_building(body: ObjectBuildingIn, token: Token) -> BuildingCard:
        return await _service(objects.create_building(token, **body.model_dump()))

    @api.patch("/objects/buildings/{building_id}", response_model=BuildingCard, tags=tags,
               description="Change a building's settings (a dispatcher; audited).")
    async def update_object_building(building_id: PathId, body: ObjectBuildingPatch, token: Token) -> BuildingCard:
        return await _service(objects.update_building(token, building_id, **_given(body)))

    @api.get("/objects/buildings/{building_id}/premises", response_model=list[PremiseRow], tags=tags,
             description="The building's premises with meters, owners and the newest activation code "
                         "(times in the building's local time).")
    async def objects_premises(building_id: PathId, token: Token) -> list[PremiseRow]:
        return await _service(objects.premises(token, building_id))

    @api.post("/objects/buildings/{building_id}/premises/range", response_model=RangeResult, tags=tags,
              description="Add apartments by numbers (at most 2000); `skipped` names those present already.")
    async def add_premises_range(building_id: PathId, body: RangeIn, token: Token) -> RangeResult:
        return await _service(objects.add_premises(token, building_id, body.numbers, area_m2=body.area_m2,
                                                   residents=body.residents))

    @api.post("/objects/buildings/{building_id}/premises/range/remove", response_model=RangeResult, tags=tags,
              description="Remove apartments by numbers, all or nothing: one with meters or owners refuses (422).")
    async def remove_premises_range(building_id: PathId, body: RangeOut, token: Token) -> RangeResult:
        return await _service(objects.remove_premises(token, building_id, body.numbers))

    @api.post("/objects/buildings/{building_id}/premises/named", response_model=PremiseInfo, status_code=201,
              tags=tags, description="Add a non-residential premise by name.")
    async def add_named_premise(building_id: PathId, body: NamedIn, token: Token) -> PremiseInfo:
        return await _service(objects.add_named_premise(token, building_id, body.name, area_m2=body.area_m2,
                                                        residents=body.residents))

    @api.patch("/objects/premises/{premise_id}", response_model=PremiseInfo, tags=tags,
               description="Change a premise's area or number of residents.")
    async def update_object_premise(premise_id: PathId, body: PremisePatchIn, token: Token) -> PremiseInfo:
        return await _service(objects.update_premise(token, premise_id, **_given(body)))

    @api.delete("/objects/premises/{premise_id}", status_code=204, response_class=Response, tags=tags,
                description="Remove a premise without meters and owners.")
    async def remove_object_premise(premise_id: PathId, token: Token) -> Response:
        await _service(objects.remove_premise(token, premise_id))
        return Response(status_code=204)

    @api.post("/objects/premises/{premise_id}/activation-code", response_model=ActivationCode, tags=tags,
              description="A new activation code for the premise, valid one week (its unused earlier code stops).")
    async def generate_activation_code(premise_id: PathId, token: Token) -> ActivationCode:
        return await _service(objects.generate_code(token, premise_id))

    @api.post("/objects/buildings/{building_id}/activation-codes", response_model=list[ActivationCode], tags=tags,
              description="Codes for every premise of the building whose code was not activated, valid one week.")
    async def generate_activation_codes(building_id: PathId, token: Token) -> list[ActivationCode]:
        return await _service(objects.generate_codes(token, building_id))

    @api.get("/objects/buildings/{building_id}/activation-codes/sheet", response_model=CodeSheet, tags=tags,
             description="The printable sheet: one card per premise with a valid unused code.")
    async def activation_code_sheet(building_id: PathId, token: Token) -> CodeSheet:
        return await _service(objects.code_sheet(token, building_id))

    @api.get("/objects/buildings/{building_id}/owners", response_model=list[OwnerRow], tags=tags,
             description="Owners of the building's premises (manual 4.6.4) with the activation codes.")
    async def objects_owners(building_id: PathId, token: Token) -> list[OwnerRow]:
        return await _service(objects.owners(token, building_id))

    @api.post("/objects/premises/{premise_id}/invitations", response_model=Invitation, tags=tags,
              description="Add an owner and e-mail them the premise's activation code (a dispatcher). 422 when "
                          "e-mail is not set up on the server; `sent` false with the server's reason when refused.")
    async def invite_owner(premise_id: PathId, body: InvitationIn, token: Token) -> Invitation:
        return await _service(objects.invite_owner(token, premise_id, body.email, body.full_name, body.phone))

    @api.put("/objects/premises/{premise_id}/account", response_model=PremiseInfo, tags=tags,
             description="Set the premise's personal account for billing (manual 4.6.9); unique in the company; "
                         "empty clears it.")
    async def set_personal_account(premise_id: PathId, body: AccountIn, token: Token) -> PremiseInfo:
        return await _service(objects.set_account(token, premise_id, body.account))
