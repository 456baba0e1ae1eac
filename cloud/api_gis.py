"""/api/v1 routes of meters' numbers in ГИС ЖКХ (manual 4.4.1): the identifier the billing side assigns
to a meter, by which the billing document names it. Read by dispatchers and engineers (readers too);
set, cleared and imported for a building by a dispatcher without reader status (audited). The answers
are cloud/billing/gis_numbers.py's ``GisNumber`` and ``BulkResult``.

Wired by cloud/api.py (``routes(api, services)``; the service is ``services.gis_numbers``).
Tests: tests/integration/test_gis_numbers.py.
"""

# no ``from __future__ import annotations``: FastAPI must see the route parameters' types, and the shared
# ones (PathId, Token) are names local to ``routes``
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cloud.billing.gis_numbers import MAX_BULK, MAX_LENGTH, BulkResult, GisNumber
from cloud.services.container import Services


class GisNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gis_number: str = Field(max_length=200, description=f"printable, at most {MAX_LENGTH} characters after the "
                                                        "surrounding spaces are dropped; '' clears it")


class GisLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: str = Field(min_length=1, max_length=64, description="the meter's serial (заводской номер)")
    gis_number: str = Field(max_length=200, description="its number in ГИС ЖКХ; '' clears it")


class GisImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[GisLine] = Field(min_length=1, max_length=MAX_BULK)


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import PathId, Token, _service

    gis = services.gis_numbers  # type: ignore[attr-defined]
    tags: list = ["billing"]

    @api.get("/buildings/{building_id}/gis-numbers", response_model=list[GisNumber], tags=tags,
             description="The building's meters with their numbers in ГИС ЖКХ ('' where none is known), "
                         "building meters first, then by premise.")
    async def building_gis_numbers(building_id: PathId, token: Token) -> list[GisNumber]:
        return await _service(gis.numbers(token, building_id))

    @api.put("/buildings/{building_id}/gis-numbers", response_model=BulkResult, tags=tags,
             description="Set the numbers of the building's meters named by serial (a file import), all or "
                         "nothing: a serial not of this building, a serial or number twice, or a number another "
                         "meter of the company has is refused (invalid_input naming the line). A dispatcher; "
                         "each change audited.")
    async def import_gis_numbers(building_id: PathId, body: GisImportIn, token: Token) -> BulkResult:
        pairs = [(line.serial, line.gis_number) for line in body.numbers]
        return await _service(gis.set_numbers(token, building_id, pairs))

    @api.get("/meters/{meter_id}/gis-number", response_model=GisNumber, tags=tags,
             description="The meter's number in ГИС ЖКХ ('' while none is known).")
    async def meter_gis_number(meter_id: PathId, token: Token) -> GisNumber:
        return await _service(gis.number(token, meter_id))

    @api.put("/meters/{meter_id}/gis-number", response_model=GisNumber, tags=tags,
             description="Set the meter's number in ГИС ЖКХ (a dispatcher; audited). Unique in the company: "
                         "a number another meter has is refused (invalid_input naming `gis_number`).")
    async def set_meter_gis_number(meter_id: PathId, body: GisNumberIn, token: Token) -> GisNumber:
        return await _service(gis.set_number(token, meter_id, body.gis_number))

    @api.delete("/meters/{meter_id}/gis-number", response_model=GisNumber, tags=tags,
                description="Clear the meter's number in ГИС ЖКХ (a dispatcher; audited): the billing document "
                            "then lists the meter in «Ошибки».")
    async def clear_meter_gis_number(meter_id: PathId, token: Token) -> GisNumber:
        return await _service(gis.clear_number(token, meter_id))
