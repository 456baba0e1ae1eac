"""The JSON API under /api, served by the same server as the UI (FastAPI under NiceGUI).

- ``/api/v1/...``: the API for integrations. A caller sends ``Authorization: Bearer <token>``
  with an API token an administrator created for a user (cloud/services/api_tokens.py); every
  call goes through cloud/services with that user's role, reader status and company scope, so
  an object of another company is "not found" and a reader's write is "forbidden".
- ``/api/health``, and ``/api/local/sql`` and ``/api/local/deadletter`` behind `domuchet sql` and
  `domuchet deadletter`: loopback callers holding the token the cloud wrote to its data directory.

Errors are JSON objects ``{"code", "message"}`` (``install_error_handlers`` adds the handlers
for request validation). The OpenAPI description is FastAPI's /openapi.json.
Tests: tests/integration/test_api_http.py.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud import deadletter
from cloud.ingest import Ingest
from cloud.services.container import Services
from cloud.services.models import (
    AuthError,
    BuildingConsumption,
    BuildingSummary,
    Forbidden,
    Granularity,
    InvalidInput,
    MeterArchive,
    MeterInfo,
    NotFound,
    PremiseInfo,
    ServiceError,
)
from cloud.services.readings import Reading
from cloud.storage.clickhouse import ClickHouse, QueryError, ReadOnlyViolation
from protocol.vocabulary import Resource

T = TypeVar("T")

STATUS: dict[type[ServiceError], int] = {AuthError: 401, Forbidden: 403, NotFound: 404, InvalidInput: 422}


class ApiError(StarletteHTTPException):
    """An error answered as JSON {"code", "message"} with ``status`` (FastAPI's {"detail"} without
    ``install_error_handlers``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status, detail=message,
                         headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
        self.status, self.code, self.message = status, code, message


class ErrorBody(BaseModel):
    code: str
    message: str


class SqlRequest(BaseModel):
    sql: str


class DeadLetterRequest(BaseModel):
    action: Literal["list", "replay"]
    ids: list[str] = Field(default_factory=list)
    include_replayed: bool = False


class ReadingIn(BaseModel):
    period_start: datetime = Field(description="start of the archive period, ISO 8601 with a UTC offset")
    values: dict[str, float] = Field(description="value by parameter code (Q, V, V1 ...), in domain units")


class ReadingsIn(BaseModel):
    channel: int = Field(ge=0, le=65535)
    kind: Literal["hour", "day", "month"] = "hour"
    nature: Literal["integral", "interval"] = "integral"
    readings: list[ReadingIn]


class ReadingsOut(BaseModel):
    batch: str
    stored_values: int
    skipped: list[tuple[datetime, str]] = Field(description="(period start, parameter) already in the archive")


class UserOut(BaseModel):
    login: str
    full_name: str
    role: str
    reader: bool
    company: str
    city: str


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"code": code, "message": message},
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def _cell(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime | date) else value


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error under /api as {"code", "message"}; other paths keep the handlers they had
    (NiceGUI registers its own for 404, which would otherwise answer /api's not-found too)."""
    previous_404 = app.exception_handlers.get(404)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        if not request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(422, "invalid_input", problems)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Any:
        if request.url.path.startswith("/api/") and isinstance(exc, StarletteHTTPException):
            return await http_error(request, exc)
        if previous_404 is not None:
            return await previous_404(request, exc)
        return await http_exception_handler(request, exc)  # type: ignore[arg-type]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if not request.url.path.startswith("/api/"):
            return await http_exception_handler(request, exc)
        code = getattr(exc, "code", None) or {401: "unauthorized", 403: "forbidden", 404: "not_found",
                                               405: "method_not_allowed"}.get(exc.status_code, "error")
        return _error(exc.status_code, code, str(exc.detail))


async def _service(call: Awaitable[T]) -> T:
    """Await a service call; its refusals become API errors with the service's code."""
    try:
        return await call
    except ServiceError as exc:
        raise ApiError(STATUS.get(type(exc), 400), exc.code, str(exc)) from exc


_bearer = HTTPBearer(auto_error=False, description="an API token created by the company's administrator")


async def caller_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "unauthorized", "send the API token as 'Authorization: Bearer <token>'")
    return credentials.credentials


Token = Annotated[str, Depends(caller_token)]
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 422)}


def integration_router(services: Services) -> APIRouter:
    """The /api/v1 routes for integrations (included under /api by ``router``)."""
    api = APIRouter(prefix="/v1", tags=["integrations"], responses=ERRORS)
    accounting = services.accounting

    @api.get("/me", response_model=UserOut)
    async def me(token: Token) -> UserOut:
        user = await _service(services.auth.user(token))
        return UserOut(login=user.login, full_name=user.full_name, role=user.role.value, reader=user.reader,
                       company=user.company_name, city=user.city)

    @api.get("/buildings", response_model=list[BuildingSummary])
    async def buildings(token: Token) -> list[BuildingSummary]:
        return await _service(accounting.buildings(token))

    @api.get("/buildings/{building_id}", response_model=BuildingSummary)
    async def building(building_id: int, token: Token) -> BuildingSummary:
        return await _service(accounting.building(token, building_id))

    @api.get("/buildings/{building_id}/premises", response_model=list[PremiseInfo])
    async def premises(building_id: int, token: Token) -> list[PremiseInfo]:
        return await _service(accounting.premises(token, building_id))

    @api.get("/buildings/{building_id}/meters", response_model=list[MeterInfo])
    async def meters(building_id: int, token: Token) -> list[MeterInfo]:
        return await _service(accounting.meters(token, building_id))

    @api.get("/premises/{premise_id}", response_model=PremiseInfo)
    async def premise(premise_id: int, token: Token) -> PremiseInfo:
        return await _service(accounting.premise(token, premise_id))

    @api.get("/meters/{meter_id}", response_model=MeterInfo)
    async def meter(meter_id: int, token: Token) -> MeterInfo:
        return await _service(accounting.meter(token, meter_id))

    @api.get("/buildings/{building_id}/consumption", response_model=BuildingConsumption,
             description="Consumption of the building meter and the apartments' sum per day of the month "
                         "(granularity=day) or per month of the year (granularity=month) of `period`; a missing "
                         "value is null, an incomplete apartments' sum has apartments_complete=false.")
    async def building_consumption(building_id: int, token: Token, resource: Resource, period: date,
                                   granularity: Literal["day", "month"] = "day") -> BuildingConsumption:
        return await _service(accounting.building_consumption(token, building_id, resource, Granularity(granularity),
                                                              period))

    @api.get("/meters/{meter_id}/archive", response_model=MeterArchive,
             description="The meter channel's archive: the hours of a day, the days of a month or the months "
                         "of a year of `period`, as the device stored them; a missing record is null.")
    async def meter_archive(meter_id: int, token: Token, channel: int, period: date,
                            granularity: Literal["hour", "day", "month"] = "hour") -> MeterArchive:
        return await _service(accounting.meter_archive(token, meter_id, channel, Granularity(granularity), period))

    @api.post("/meters/{meter_id}/readings", response_model=ReadingsOut, status_code=201,
              description="Submit readings from an external source. They are stored as archive records flagged "
                          "external (quality bit 8); periods the archive already holds are skipped, not replaced.")
    async def submit_readings(meter_id: int, body: ReadingsIn, token: Token) -> ReadingsOut:
        result = await _service(services.readings.submit(
            token, meter_id, body.channel, body.kind, body.nature,
            [Reading(r.period_start, r.values) for r in body.readings]))
        return ReadingsOut(batch=result.batch, stored_values=result.stored_values, skipped=list(result.skipped))

    return api


def router(clickhouse: ClickHouse, local_token: str, services: Services | None = None,
           ingest: Ingest | None = None) -> APIRouter:
    """All /api routes: health, the local operator endpoints and (with ``services``) /api/v1."""
    api = APIRouter(prefix="/api")

    def local_only(request: Request, token: str) -> None:
        client = request.client.host if request.client else ""
        if client not in ("127.0.0.1", "::1") or not hmac.compare_digest(token, local_token):
            raise ApiError(403, "forbidden", "this endpoint is for the `domuchet` command on this machine only")

    @api.get("/health", include_in_schema=False)
    async def health() -> dict:
        rows = await clickhouse.query("SELECT count() FROM {db}.archive")
        return {"status": "ok", "archive_rows": rows[0][0]}

    @api.post("/local/sql", response_model=None, include_in_schema=False)
    async def local_sql(body: SqlRequest, request: Request,
                        x_local_token: str = Header(default="")) -> dict | JSONResponse:
        try:
            local_only(request, x_local_token)
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.message)
        try:
            columns, rows = await clickhouse.read_only(body.sql)
        except ReadOnlyViolation as exc:
            return _error(400, "read_only", str(exc))
        except QueryError as exc:
            return _error(400, "query_error", str(exc))
        return {"columns": columns, "rows": [[_cell(v) for v in row] for row in rows]}

    @api.post("/local/deadletter", response_model=None, include_in_schema=False)
    async def local_deadletter(body: DeadLetterRequest, request: Request,
                               x_local_token: str = Header(default="")) -> dict | JSONResponse:
        try:
            local_only(request, x_local_token)
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.message)
        if body.action == "list":
            found = await deadletter.entries(clickhouse, include_replayed=body.include_replayed)
            return {"entries": [{k: _cell(v) for k, v in asdict(e).items()} for e in found]}
        if ingest is None:
            return _error(409, "no_ingest", "this cloud process runs no ingest to replay through")
        results = await deadletter.replay(clickhouse, ingest, body.ids)
        return {"results": [asdict(r) for r in results]}

    if services is not None:
        api.include_router(integration_router(services))
    return api
