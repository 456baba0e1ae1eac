"""/api/v1 routes of balance groups: the editor (manual 4.6.6) and the group's consumption and
imbalance (4.1.8); every figure the page shows is an answer here.

Imports cloud.api's Token, _service and parameter types inside ``routes`` (cloud.api imports this
module lazily; no ``from __future__ import annotations`` here: FastAPI must
resolve the route annotations, whose types are local names). Tests: tests/integration/test_balance_groups.py.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.services.balance_groups import MAX_MEMBERS, NAME_LENGTH, BalanceGroup, GroupConsumption, GroupDraft
from cloud.services.container import Services
from cloud.services.models import MAX_ID, Granularity
from protocol.vocabulary import Resource


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meter_id: Annotated[int, Field(ge=1, le=MAX_ID, description="a meter of the group's building")]
    sign: Literal["+", "-"] = Field(description="+ adds the meter's consumption to the children's sum, - subtracts it")


class BalanceGroupIn(BaseModel):
    """A whole group: an update replaces the name, resource, root and children with these."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=NAME_LENGTH, description="non-empty, unique in the building")]
    resource: Resource
    root_meter_id: Annotated[int, Field(ge=1, le=MAX_ID, description="a meter of the building that measures "
                                        "`resource`, usually a building meter")]
    members: list[MemberIn] = Field(default_factory=list, max_length=MAX_MEMBERS,
                                    description="the child meters with their signs; each measures `resource`, "
                                                "none is the root, none twice")

    def draft(self) -> GroupDraft:
        return GroupDraft(self.name, self.resource, self.root_meter_id,
                          tuple((m.meter_id, m.sign) for m in self.members))


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import Day, PathId, Token, _service

    groups = services.balance_groups
    tags: list = ["balance groups"]

    @api.get("/buildings/{building_id}/balance-groups", response_model=list[BalanceGroup], tags=tags,
             description="The building's balance groups (manual 4.6.6) by name: the resource, the root meter and "
                         "the child meters with their signs.")
    async def balance_groups(building_id: PathId, token: Token) -> list[BalanceGroup]:
        return await _service(groups.groups(token, building_id))

    @api.post("/buildings/{building_id}/balance-groups", response_model=BalanceGroup, status_code=201, tags=tags,
              description="Create a balance group (a dispatcher; audit-logged). The name is non-empty and unique "
                          "in the building; the root and every child are meters of the building that measure the "
                          "resource; the root is no child.")
    async def create_balance_group(building_id: PathId, body: BalanceGroupIn, token: Token) -> BalanceGroup:
        return await _service(groups.create(token, building_id, body.draft()))

    @api.put("/balance-groups/{group_id}", response_model=BalanceGroup, tags=tags,
             description="Replace a balance group's name, resource, root and children (a dispatcher; "
                         "audit-logged), by the rules of create_balance_group.")
    async def update_balance_group(group_id: PathId, body: BalanceGroupIn, token: Token) -> BalanceGroup:
        return await _service(groups.update(token, group_id, body.draft()))

    @api.delete("/balance-groups/{group_id}", status_code=204, response_class=Response, tags=tags,
                description="Delete a balance group (a dispatcher; audit-logged). Its meters stay as they are.")
    async def delete_balance_group(group_id: PathId, token: Token) -> Response:
        await _service(groups.delete(token, group_id))
        return Response(status_code=204)

    @api.get("/balance-groups/{group_id}/consumption", response_model=GroupConsumption, tags=tags,
             description="The balance group's consumption (manual 4.1.8) per day of the month "
                         "(granularity=day) or per month of the year (granularity=month, each meter's month "
                         "from its reporting day) of `period`, in the building's time zone; `unit` Gcal (heat), "
                         "m3 (water, gas) or kWh (electricity: the total channels, CT ratio applied). Per period: "
                         "`root` and `children` (Σ children + minus Σ children −) as cells: `value` the known "
                         "sum, null when nothing is known, `complete` false when an expected meter has no value, "
                         "`expected`/`known`/`suspect` counts, `derived` when built from a finer archive; a "
                         "missing value is never 0. `imbalance` = root − children, in units, and `imbalance_pct` "
                         "in % of the root: null unless both are complete and the period is over. The whole "
                         "view's `imbalance` is null while any period up to now is `pending`. `meters`: the "
                         "root, then each child with its sign, per period and in total.")
    async def balance_group_consumption(group_id: PathId, token: Token, period: Day,
                                        granularity: Literal["day", "month"] = "day") -> GroupConsumption:
        return await _service(groups.consumption(token, group_id, Granularity(granularity), period))
