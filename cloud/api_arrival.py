"""/api/v1 route of the manual's table of archive parameter values (4.2.3, beside the completeness
of ``data_arrival`` in cloud/api.py): operationId ``data_arrival_values``. The answer is the
service's dataclass (cloud/services/arrival.py ``ArrivalValues``).

Wired by cloud/api.py's ``integration_router`` (``routes(api, services)``). Tests:
tests/integration/test_arrival_table.py.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cloud.services.arrival import ArrivalValues
from cloud.services.container import Services
from protocol.vocabulary import MeterRole, Resource


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    # evaluated when the route is defined (no postponed annotations here): FastAPI resolves these local names
    from cloud.api import Day, PathId, Token, _service

    @api.get("/buildings/{building_id}/arrival/values", response_model=ArrivalValues, tags=["monitoring"],
             description=(
                 "The archive parameter values per meter (manual 4.2.3, «Контроль поступления данных»): for the "
                 "building's meters of `role` (common: ОДПУ, individual: ИПУ; both when absent) measuring "
                 "`resource` (all when absent), every period of the archive `kind` that begins within the local "
                 "days `from`..`to` (inclusive; at most 2000 periods): `values` maps `<channel>:<parameter>` to "
                 "the value the device's archive holds for the period, as the device keeps it (`columns[].nature`: "
                 "integral readings or interval values of the period) in `columns[].unit` (Gcal, m3, degC, kWh, "
                 "pulse); a period without a value is null, never zero, and its `status` says why (received, "
                 "partial, missing, lost, not_due, not_expected). `messages` are the period's device, edge and "
                 "cloud events and the quality flags of its values (device_flagged, clock_suspect, backfilled, "
                 "external), each with its description; `quality` is the OR of the values' quality bits. "
                 "Periods are the building's local times (`building.time_zone`)."))
    async def data_arrival_values(building_id: PathId, token: Token, kind: Literal["hour", "day", "month"],
                                  first: Annotated[Day, Query(alias="from")], last: Annotated[Day, Query(alias="to")],
                                  resource: Resource | None = None, role: MeterRole | None = None) -> ArrivalValues:
        return await _service(services.arrival.values(token, building_id, kind, first, last, resource=resource,
                                                      role=role))
