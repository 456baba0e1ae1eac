"""/api/v1 routes of the consumption register (4.1.5); every figure the page shows is an answer here.

Imports cloud.api's Token, _service and parameter types inside ``routes`` (cloud.api imports this
module lazily; no ``from __future__ import annotations`` here: FastAPI must
resolve the route annotations, whose types are local names). Tests: tests/integration/test_register.py.
"""

from typing import Literal

from fastapi import APIRouter

from cloud.services.container import Services
from cloud.services.models import Granularity
from cloud.services.register import ConsumptionRegister


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import Day, PathId, Token, _service

    @api.get("/buildings/{building_id}/consumption-register", response_model=ConsumptionRegister,
             tags=["accounting"],
             description="The consumption register of the building (manual 4.1.5): a row per premise "
                         "(`rows`) and one for the building meters (`building_row`), a column per resource "
                         "(`columns`; electricity: the total and each tariff zone T1 (day), T2 (night) ... "
                         "apart, never added together; values include the CT ratio). `granularity=day`: the "
                         "local day `period`, from the daily archives; `granularity=month`: the month `period` "
                         "falls in, from the monthly archives by each meter's own reporting period (its "
                         "reporting day), so months of different meters need not line up. A value of a meter "
                         "lacking that archive kind is derived from a finer one (`derived`, `derived_from`). "
                         "Units: `columns[].unit` (Gcal heat, m3 water and gas, kWh electricity). Each cell "
                         "is the known sum over the row's meters of the column: `value` null when nothing is "
                         "known (shown –*), `complete` false when some expected meter has no value (the known "
                         "part, shown 1,77*), `expected`/`known`/`suspect` count the meters (expected 0: no "
                         "meter of the column in service, shown —); a missing value is never 0. `totals` sum "
                         "the premises per column, marked the same way. `has_data` false: no archive of the "
                         "building's meters reaches into the period; `running`: the period has not ended.")
    async def consumption_register(building_id: PathId, token: Token, period: Day,
                                   granularity: Literal["day", "month"] = "day") -> ConsumptionRegister:
        return await _service(services.register.register(token, building_id, Granularity(granularity), period))
