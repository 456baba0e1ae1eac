"""/api/v1 routes of the consumption norms (нормативы потребления) the building balance report compares
with (manual 4.3.3): the company's per resource, a building's own overriding it; reading for dispatchers
and engineers, setting and clearing for a dispatcher (audited). The answers are cloud/services/norms.py's
``NormsTable``.

Wired by cloud/api.py's ``integration_router`` (``routes(api, services)``). Tests: tests/integration/test_norms.py.
"""

# no ``from __future__ import annotations``: FastAPI must see the route parameters' types, and the shared
# ones (PathId, Token) are names local to ``routes``
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cloud.services.container import Services
from cloud.services.norms import NormsTable
from protocol.vocabulary import Resource


class NormIn(BaseModel):
    """A norm per month: Gcal per m² of area for heat, m³ or kWh per resident for the other resources."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(gt=0, description="above 0 and at most the resource's `maximum` (see GET /norms)")


_ABOUT = ("Per resource: `company` the company's norm, `building` the building's own (building view), `in_force` "
          "the one that applies, `unit` of the amount (Gcal, m3, kWh) per `basis` (area: per m² of area, heat; "
          "resident: per resident) per month, `maximum` the largest value accepted; `editable` says whether the "
          "caller may change them (a dispatcher without reader status).")


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import PathId, Token, _service

    norms = services.norms  # type: ignore[attr-defined]
    tags: list = ["settings"]

    @api.get("/norms", response_model=NormsTable, tags=tags,
             description="The company's consumption norms (manual 4.3.3). " + _ABOUT)
    async def consumption_norms(token: Token) -> NormsTable:
        return await _service(norms.norms(token))

    @api.get("/buildings/{building_id}/norms", response_model=NormsTable, tags=tags,
             description="The building's consumption norms: its own and the company's. " + _ABOUT)
    async def building_norms(building_id: PathId, token: Token) -> NormsTable:
        return await _service(norms.norms(token, building_id))

    @api.put("/norms/{resource}", response_model=NormsTable, tags=tags,
             description="Set the company's norm of `resource` (a dispatcher; audited). A value above the "
                         "resource's maximum is refused (invalid_input naming `value`).")
    async def set_consumption_norm(resource: Resource, body: NormIn, token: Token) -> NormsTable:
        return await _service(norms.set_norm(token, resource, body.value))

    @api.delete("/norms/{resource}", response_model=NormsTable, tags=tags,
                description="Remove the company's norm of `resource` (a dispatcher; audited): the balance report "
                            "then shows no norm for the buildings without their own.")
    async def clear_consumption_norm(resource: Resource, token: Token) -> NormsTable:
        return await _service(norms.clear_norm(token, resource))

    @api.put("/buildings/{building_id}/norms/{resource}", response_model=NormsTable, tags=tags,
             description="Set the building's own norm of `resource`, overriding the company's (a dispatcher; "
                         "audited).")
    async def set_building_norm(building_id: PathId, resource: Resource, body: NormIn, token: Token) -> NormsTable:
        return await _service(norms.set_norm(token, resource, body.value, building_id))

    @api.delete("/buildings/{building_id}/norms/{resource}", response_model=NormsTable, tags=tags,
                description="Remove the building's own norm of `resource`: the company's applies again (a "
                            "dispatcher; audited).")
    async def clear_building_norm(building_id: PathId, resource: Resource, token: Token) -> NormsTable:
        return await _service(norms.clear_norm(token, resource, building_id))
