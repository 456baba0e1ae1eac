"""/api/v1 routes of consumption by premises (4.1.4), balance signs (4.6.5) and the building page's
period totals (4.1.2); every figure the pages show is an answer here.

cloud.api imports this module lazily and calls ``routes``; the shared parameter types come from it
inside the function (a top-level import would be circular). Tests: tests/integration/test_balance.py.
"""

# no ``from __future__ import annotations``: FastAPI must see the route parameters' types, and the
# shared ones (PathId, Token, Day) are names local to ``routes``
from typing import Annotated, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from cloud.services.balance import MAX_CHANGES, BalanceSigns, BuildingBalance, PremisesConsumption, SignChange
from cloud.services.balance_rules import Sign
from cloud.services.container import Services
from cloud.services.models import MAX_ID, Granularity
from protocol.vocabulary import Resource


class SignIn(BaseModel):
    """One apartment meter's new place in the building balance."""

    model_config = ConfigDict(extra="forbid")

    meter_id: int = Field(ge=1, le=MAX_ID, description="an apartment meter of the building")
    sign: Literal["+", "-", "excluded"] = Field(description="+ added to the apartments' sum, - subtracted from "
                                                "it, excluded: not part of the balance")


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import Day, PathId, Token, _service

    balance = services.balance
    tags: list = ["accounting"]

    @api.get("/buildings/{building_id}/balance-signs", response_model=BalanceSigns, tags=tags,
             description="The building's apartment meters, each with its sign in the building balance (manual "
                         "4.6.5): `+` its consumption is added to the apartments' sum, `-` subtracted, `excluded` "
                         "left out. Imbalance = building meter − Σ(apartment meters with their signs). `editable` "
                         "says whether the caller may change them (a dispatcher without reader status).")
    async def balance_signs(building_id: PathId, token: Token) -> BalanceSigns:
        return await _service(balance.balance_signs(token, building_id))

    @api.put("/buildings/{building_id}/balance-signs", response_model=BalanceSigns, tags=tags,
             description="Set the sign of some apartment meters of the building (a dispatcher; all or nothing; "
                         "each change is audited). The body is a list of {meter_id, sign}; meters left out keep "
                         "theirs. A building meter, a meter of another building or a meter named twice is refused.")
    async def set_balance_signs(building_id: PathId, token: Token,
                                body: Annotated[list[SignIn], Body(max_length=MAX_CHANGES)]) -> BalanceSigns:
        return await _service(balance.set_balance_signs(
            token, building_id, [SignChange(item.meter_id, Sign(item.sign)) for item in body]))

    @api.get("/buildings/{building_id}/premises-consumption", response_model=PremisesConsumption, tags=tags,
             description="Consumption by premises (manual 4.1.4) of one day (granularity=day, `period` the day) "
                         "or one month (granularity=month, the month of `period`; each meter's month from its "
                         "reporting day), in the building's time zone. Per premise with a meter of `resource`: "
                         "`figure` (value = the known sum in `unit`: Gcal heat, m³ water and gas, kWh electricity "
                         "total; `expected`/`known`/`suspect` count its meters, so a missing meter makes value null "
                         "or partial, never zero); `specific` per m² of the premise (heat, `specific_basis`=area) "
                         "or per resident (other resources), null with `specific_missing` (no_value, no_area, "
                         "no_residents); `share_pct` its % of the building meter, null with `share_missing` "
                         "(no_building_meter, building_incomplete, premise_incomplete, building_zero). "
                         "`period_start` is null when no meter has data for the period.")
    async def premises_consumption(building_id: PathId, token: Token, resource: Resource, period: Day,
                                   granularity: Literal["day", "month"] = "day") -> PremisesConsumption:
        return await _service(balance.premises_consumption(token, building_id, resource, Granularity(granularity),
                                                           period))

    @api.get("/buildings/{building_id}/balance", response_model=BuildingBalance, tags=tags,
             description="The building page (manual 4.1.2): `consumption` as GET /buildings/{id}/consumption "
                         "(the apartments' sum with the balance signs of 4.6.5), and `total`, the figures of the "
                         "whole view: its `imbalance` (units) and `imbalance_pct` (% of the building meter) are "
                         "null unless every period of the view up to now is complete; `pending` lists the local "
                         "starts of those that are not (incomplete, still running such as today, or after the "
                         "newest archive), `running` the one that contains now.")
    async def building_balance(building_id: PathId, token: Token, resource: Resource, period: Day,
                               granularity: Literal["day", "month"] = "day") -> BuildingBalance:
        return await _service(balance.building_balance(token, building_id, resource, Granularity(granularity),
                                                       period))
