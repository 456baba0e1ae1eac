"""/api/v1 routes of specific consumption by buildings (4.1.1) and allowed imbalance (4.6.10);
every figure the page shows is an answer here.

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module when it builds its router). Tests: tests/integration/test_overview.py.
"""

# no "from __future__ import annotations": the route signatures name types imported inside ``routes``,
# which FastAPI must see as objects, not as strings it would resolve in this module

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud.services.container import Services
from cloud.services.models import MAX_ID, Granularity
from cloud.services.overview import (
    BUILT_IN_IMBALANCE_PCT,
    MAX_CHANGES,
    BuildingLimits,
    CityLimitChange,
    ImbalanceLimit,
    ImbalanceLimits,
    LimitChange,
    SpecificConsumption,
)
from protocol.vocabulary import Resource

# a percent as JSON carries it; the service checks 0..100 and names the item (bad ones are 422 either way)
Percent = Annotated[float | None, Field(allow_inf_nan=False, description="allowed imbalance in %, 0 to 100; null: "
                                        "back to the default")]
CityId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="one of the company's cities (GET /cities); "
                                     "default: the company's own city")]


class LimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    building_id: int = Field(ge=1, le=MAX_ID)
    resource: Resource
    percent: Percent


class CityLimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource: Resource
    percent: Percent


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import Day, PathId, Token, _service

    overview = services.overview

    @api.get("/specific-consumption", response_model=SpecificConsumption,
             description="Specific consumption and imbalance of every building of a city (manual 4.1.1) for one "
                         "day (`granularity=day`, from daily archives; `period` is the day) or one month "
                         "(`granularity=month`, from monthly archives by each meter's reporting period; `period` "
                         "is any day of the month), in each building's time zone, by the same rules and with the "
                         "same figures as GET /buildings/{id}/consumption. `consumption` is what is divided: the "
                         "building (common) meters when there are any (`basis=building_meter`), else the sum of "
                         "the apartment meters (`basis=apartment_meters`). `specific` is heat in `unit` per m² "
                         "(`per=m2`: the building's area, or without a building meter the area of the premises "
                         "that have heat meters) and every other resource in `unit` per resident (`per=resident`: "
                         "the building's residents, or those of the premises with meters of the resource). A value "
                         "that is not known is null, never zero, and `status` says why: `missing` (an expected "
                         "meter has no archive), `no_meters`, `no_data` (the period lies outside the time the "
                         "building's meters have archives for), `no_denominator` (area or residents zero); "
                         "`partial` gives the known part of the sum (shown marked `*`). `imbalance` (building − Σ "
                         "apartment meters by their balance sign, excluded ones left out, in `unit`) and "
                         "`imbalance_pct` (in % of the building meters) are null unless the building has both "
                         "kinds of meters and both sums are complete; `imbalance_status` is `within_limit` or "
                         "`over_limit` (|imbalance_pct| above `limit.percent`, the allowed imbalance: the "
                         "building's own, else the city's default, else the built-in "
                         f"{BUILT_IN_IMBALANCE_PCT:g} %), or `incomplete`, `not_applicable`, `no_percent`, "
                         "`no_data`. Electricity: the total channels (tariff zones are not added).")
    async def specific_consumption(token: Token, resource: Resource, period: Day,
                                   granularity: Literal["day", "month"] = "month",
                                   city: CityId = None) -> SpecificConsumption:
        return await _service(overview.specific_consumption(token, resource, Granularity(granularity), period, city))

    @api.get("/imbalance-limits", response_model=ImbalanceLimits,
             description="The allowed imbalance in % (manual 4.6.10) of every building of a city by resource: "
                         "`source` says whether it is the building's own (`building`), the city's default "
                         "(`city`) or the built-in default (`built_in`, "
                         f"{BUILT_IN_IMBALANCE_PCT:g} %); `defaults` are the city's.")
    async def imbalance_limits(token: Token, city: CityId = None) -> ImbalanceLimits:
        return await _service(overview.imbalance_limits(token, city))

    @api.put("/imbalance-limits", response_model=list[BuildingLimits],
             description="Set the allowed imbalance of buildings (a dispatcher without reader status; bulk: up to "
                         f"{MAX_CHANGES} items, all or nothing, each change audited). `percent` null returns the "
                         "building to its city's default. Answers the changed buildings' limits of every resource.")
    async def set_imbalance_limits(token: Token, limits: Annotated[list[LimitIn], Body(max_length=MAX_CHANGES)]
                                   ) -> list[BuildingLimits]:
        return await _service(overview.set_imbalance_limits(
            token, [LimitChange(item.building_id, item.resource, item.percent) for item in limits]))

    @api.put("/cities/{city_id}/imbalance-limits", response_model=list[ImbalanceLimit],
             description="Set the company's default allowed imbalance of resources in a city (a dispatcher without "
                         "reader status; each change audited); `percent` null returns the resource to the "
                         f"built-in {BUILT_IN_IMBALANCE_PCT:g} %. Buildings without their own limit follow it. "
                         "Answers every resource's default.")
    async def set_city_imbalance_limits(city_id: PathId, token: Token,
                                        limits: Annotated[list[CityLimitIn], Body(max_length=len(Resource))]
                                        ) -> list[ImbalanceLimit]:
        return list(await _service(overview.set_city_imbalance_limits(
            token, city_id, [CityLimitChange(item.resource, item.percent) for item in limits])))
