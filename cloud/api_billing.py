"""/api/v1 routes of the automatic export to billing centres (manual 4.4.2): the centres (settings of a
dispatcher without reader status, audited; the token is write-only, answered as its last four
characters), the export protocols with their lists, a run now and the manual's retry. Read by
dispatchers, engineers and readers; administrators get not_found. The service is ``services.billing``
(cloud/billing/service.py); the exchange with a centre is docs/billing.md.
Tests: tests/integration/test_billing_export_api.py.
"""

# no ``from __future__ import annotations``: FastAPI must see the route parameters' types, and the shared
# ones (PathId, Token) are names local to ``routes``
from typing import Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.billing.service import ITEM_KINDS, MAX_PAGE, CentreInfo, RunInfo, RunItem
from cloud.services.container import Services
from cloud.services.models import MAX_ID


class CentreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    connector: Literal["http-json"] = "http-json"
    url: str = Field(min_length=1, max_length=500, description="the centre's base address, http(s)")
    token: str = Field(max_length=500, description="the bearer token the centre gave; never answered back in full")
    submission_day: int = Field(ge=1, le=28, description="the day of the month the readings are sent")
    enabled: bool = True
    building_ids: list[int] = Field(default_factory=list, max_length=10_000,
                                    description="the buildings whose apartment meters' readings it is sent")


class CentrePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    connector: Literal["http-json"] | None = None
    url: str | None = Field(None, min_length=1, max_length=500)
    token: str | None = Field(None, max_length=500, description="a new token; absent keeps the stored one")
    submission_day: int | None = Field(None, ge=1, le=28)
    enabled: bool | None = None
    building_ids: list[int] | None = Field(None, max_length=10_000)


class RunPage(BaseModel):
    runs: list[RunInfo]
    total: int


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router (operationIds are the function names)."""
    from cloud.api import PathId, Token, _service

    billing = services.billing
    tags: list = ["billing"]

    @api.get("/billing-centres", response_model=list[CentreInfo], tags=tags,
             description="The company's billing centres (РИЦ) with their linked buildings.")
    async def billing_centres(token: Token) -> list[CentreInfo]:
        return await _service(billing.centres(token))

    @api.post("/billing-centres", response_model=CentreInfo, status_code=201, tags=tags,
              description="Add a billing centre (a dispatcher; audited).")
    async def create_billing_centre(body: CentreIn, token: Token) -> CentreInfo:
        return await _service(billing.create_centre(token, body.name, body.url, body.token, body.submission_day,
                                                    body.building_ids, body.enabled, body.connector))

    @api.get("/billing-centres/{centre_id}", response_model=CentreInfo, tags=tags)
    async def billing_centre(centre_id: PathId, token: Token) -> CentreInfo:
        return await _service(billing.centre(token, centre_id))

    @api.patch("/billing-centres/{centre_id}", response_model=CentreInfo, tags=tags,
               description="Change the fields given (a dispatcher; audited); `building_ids` replaces the links.")
    async def update_billing_centre(centre_id: PathId, body: CentrePatch, token: Token) -> CentreInfo:
        return await _service(billing.update_centre(
            token, centre_id, name=body.name, url=body.url, secret=body.token, submission_day=body.submission_day,
            building_ids=body.building_ids, enabled=body.enabled, connector=body.connector))

    @api.delete("/billing-centres/{centre_id}", status_code=204, response_class=Response, tags=tags,
                description="Remove a centre with its protocols (a dispatcher; audited).")
    async def delete_billing_centre(centre_id: PathId, token: Token) -> Response:
        await _service(billing.delete_centre(token, centre_id))
        return Response(status_code=204)

    @api.post("/billing-centres/{centre_id}/runs", response_model=RunInfo, status_code=202, tags=tags,
              description="Start the centre's export now (a dispatcher): the protocol, still waiting or running; "
                          "follow it at /billing-runs/{id}.")
    async def start_billing_run(centre_id: PathId, token: Token) -> RunInfo:
        return await _service(billing.start_run(token, centre_id))

    @api.get("/billing-runs", response_model=RunPage, tags=tags,
             description="The export protocols, newest first, a page at a time.")
    async def billing_runs(token: Token, centre_id: int | None = Query(None, ge=1, le=MAX_ID),
                           offset: int = Query(0, ge=0, le=10**9),
                           limit: int = Query(20, ge=1, le=MAX_PAGE)) -> RunPage:
        runs, total = await _service(billing.runs(token, centre_id=centre_id, offset=offset, limit=limit))
        return RunPage(runs=runs, total=total)

    @api.get("/billing-runs/{run_id}", response_model=RunInfo, tags=tags,
             description="One protocol: state, status, attempts, the reason of a failure and the summary figures.")
    async def billing_run(run_id: PathId, token: Token) -> RunInfo:
        return await _service(billing.run(token, run_id))

    @api.get("/billing-runs/{run_id}/items/{kind}", response_model=list[RunItem], tags=tags,
             description=f"One of the protocol's lists ({', '.join(ITEM_KINDS)}): «Аккаунты», «Приборы», "
                         "«Данные без ответа» (with the package contents), «Данные с ответом» (with the "
                         "centre's error).")
    async def billing_run_items(run_id: PathId, kind: Literal["account", "device", "accepted", "rejected"],
                                token: Token) -> list[RunItem]:
        return await _service(billing.run_items(token, run_id, kind))

    @api.post("/billing-runs/{run_id}/retry", response_model=RunInfo, status_code=202, tags=tags,
              description="Do a finished export again (a dispatcher): a new protocol of its centre.")
    async def retry_billing_run(run_id: PathId, token: Token) -> RunInfo:
        return await _service(billing.retry(token, run_id, wait=False))
