"""The JSON API under /api, served by the same server as the UI (FastAPI under NiceGUI).

- ``/api/v1/...``: the API for integrations. A caller sends ``Authorization: Bearer <token>``
  with an API token an administrator created for a user (cloud/services/api_tokens.py); every
  call goes through cloud/services with that user's role, reader status and company scope, so
  an object of another company is "not found" and a reader's write is "forbidden". The registry is
  written through them too: the company (its administrator), cities, buildings, premises and meters
  with their lifecycle (registration, editing, replacement, decommissioning).
- ``/api/health``, and ``/api/local/sql`` and ``/api/local/deadletter`` behind `domuchet sql` and
  `domuchet deadletter`: loopback callers holding the token the cloud wrote to its data directory.

Errors are JSON objects ``{"code", "message"}`` (``install_error_handlers`` adds the handlers
for request validation). The OpenAPI description is FastAPI's /openapi.json.
Tests: tests/integration/test_api_http.py, tests/integration/test_api_registry.py.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Sequence
from dataclasses import asdict
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

from clickhouse_connect.driver.exceptions import ClickHouseError
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud import deadletter, health
from cloud.ingest import Ingest
from cloud.reports.jobs import TooManyJobs
from cloud.services.arrival import ArrivalReport
from cloud.services.buildings import BuildingDetails
from cloud.services.cities import CityInfo
from cloud.services.commands import CommandInfo
from cloud.services.companies import CompanyInfo
from cloud.services.container import Services
from cloud.services.models import (
    FIRST_DAY,
    LAST_DAY,
    MAX_ID,
    MAX_VALUE,
    AuthError,
    BuildingConsumption,
    BuildingSummary,
    Forbidden,
    Granularity,
    InvalidInput,
    MeterArchive,
    MeterInfo,
    NotFound,
    PremiseConsumption,
    PremiseInfo,
    ServiceError,
)
from cloud.services.readings import Reading
from cloud.storage.clickhouse import ClickHouse, QueryError, ReadOnlyViolation
from protocol.vocabulary import MeterRole, Resource

T = TypeVar("T")

STATUS: dict[type[ServiceError], int] = {AuthError: 401, Forbidden: 403, NotFound: 404, InvalidInput: 422,
                                         TooManyJobs: 429}


class ApiError(StarletteHTTPException):
    """An error answered as JSON {"code", "message"} with ``status`` (FastAPI's {"detail"} without
    ``install_error_handlers``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status, detail=message,
                         headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
        self.status, self.code, self.message = status, code, message


# --- bounds (issue 12): every parameter and body field is bounded by its type and the sane ranges of
# cloud/services/models.py, so a value out of range is a 422 naming the field, never a 500 from SQLite's
# INTEGER, a date overflow or a NaN reaching ClickHouse. Domain rules (reporting day 1..28, area > 0 ...)
# stay the services' own, with their messages.
D = TypeVar("D", date, datetime)


def _sane_day(value: D) -> D:
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a date from {FIRST_DAY} to {LAST_DAY}")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID, description="a registry id, 1 to 2^63-1")]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Day = Annotated[date, AfterValidator(_sane_day)]
Moment = Annotated[datetime, AfterValidator(_sane_day)]
Number = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_VALUE, le=MAX_VALUE)]
Count = Annotated[int, Field(ge=0, le=MAX_ID)]
Small = Annotated[int, Field(ge=0, le=1000)]  # tariffs, inputs: the catalogue names the allowed ones
Code = Annotated[str, Field(max_length=64)]  # a serial, a site, a model, a parameter or channel key
Name = Annotated[str, Field(max_length=300)]  # a name, an address, a premise number, a communicator link
Channel = Annotated[int, Query(ge=0, le=65535)]
MAX_ITEMS = 10_000  # readings per request (cloud/services/readings.py MAX_READINGS)


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
    period_start: Moment = Field(description="start of the archive period, ISO 8601 with a UTC offset")
    values: dict[Code, Number] = Field(max_length=64, description="value by parameter code (Q, V, V1 ...), in "
                                       "domain units")


class ReadingsIn(BaseModel):
    channel: int = Field(ge=0, le=65535)
    kind: Literal["hour", "day", "month"] = "hour"
    nature: Literal["integral", "interval"] = "integral"
    readings: list[ReadingIn] = Field(max_length=MAX_ITEMS)


class ReadingsOut(BaseModel):
    batch: str
    stored_values: int
    skipped: list[tuple[datetime, str]] = Field(description="(period start, parameter) already in the archive")


class CommandIn(BaseModel):
    type: Literal["backfill", "time_sync", "relay", "meter_config", "availability", "read_current"]
    meter_id: Id | None = Field(default=None, description="the meter (every type but meter_config)")
    site: Code | None = Field(default=None, description="the edge site (meter_config)")
    args: dict[Code, Any] = Field(default_factory=dict, max_length=32, description="per type, see docs/protocols.md; "
                                 "backfill: kind, from, to (UTC epoch seconds of period starts)")
    ttl_s: int | None = Field(default=None, ge=60, le=7 * 86400, description="seconds the edge has to answer")


class CommandOut(BaseModel):
    id: str
    site: str
    type: str
    state: str = Field(description="created, sent, acknowledged, done, failed or timed_out")
    meter_id: int | None
    meter_serial: str | None
    args: dict[str, Any]
    created_by: str | None
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None

    @classmethod
    def of(cls, c: CommandInfo) -> CommandOut:
        return cls(**{name: getattr(c, name) for name in cls.model_fields})


class ArrivalMeterOut(BaseModel):
    meter_id: int
    serial: str
    role: str
    premise_number: str | None
    channels: list[int]
    due: int
    received: int
    partial: int
    missing: int
    lost: int
    completeness_pct: float | None
    periods: dict[str, str] | None = Field(default=None, description="local period start -> received, partial, "
                                           "missing, lost or not_due (with detail=true)")


class ArrivalOut(BaseModel):
    building_id: int
    kind: str
    time_zone: str
    first: date
    last: date
    periods: int
    due: int
    received: int
    completeness_pct: float | None
    meters: list[ArrivalMeterOut]

    @classmethod
    def of(cls, r: ArrivalReport, detail: bool) -> ArrivalOut:
        return cls(building_id=r.building.id, kind=r.kind.value, time_zone=r.building.time_zone, first=r.first,
                   last=r.last, periods=len(r.periods), due=r.due, received=r.received,
                   completeness_pct=r.completeness_pct,
                   meters=[ArrivalMeterOut(
                       meter_id=m.meter.id, serial=m.meter.serial, role=m.meter.role.value,
                       premise_number=m.meter.premise_number, channels=list(m.channels), due=m.due,
                       received=m.received, partial=m.partial, missing=m.missing, lost=m.lost,
                       completeness_pct=m.completeness_pct,
                       periods={p.start.isoformat(): p.status for p in m.periods} if detail else None)
                       for m in r.meters])


class StrictIn(BaseModel):
    """A request body whose unknown fields are refused rather than ignored: a misspelt or read-only
    field must not look accepted."""

    model_config = ConfigDict(extra="forbid")


class CompanyPatch(StrictIn):
    name: Name | None = None
    city_id: Id | None = Field(default=None, description="one of the company's cities (GET /cities)")


class CityIn(StrictIn):
    name: Name
    time_zone: Code = Field(description="IANA name, e.g. Europe/Moscow; an existing city keeps its own")


class BuildingIn(StrictIn):
    address: Name
    city_id: Id = Field(description="one of the company's cities; the building takes its time zone")
    area_m2: Number
    residents: Count
    site: Code = Field(description="the edge site that serves its meters (an administrator registers sites)")
    latitude: Number | None = None
    longitude: Number | None = None
    construction_unfinished: bool = False


class BuildingPatch(StrictIn):
    """Fields left out stay as they are; latitude and longitude go together (null clears both)."""

    address: Name | None = None
    city_id: Id | None = None
    area_m2: Number | None = None
    residents: Count | None = None
    latitude: Number | None = None
    longitude: Number | None = None
    construction_unfinished: bool | None = None


class PremiseIn(StrictIn):
    number: Name = Field(description="unique in the building: an apartment number or a premise's name")
    kind: Code = Field(default="apartment", description="apartment or nonresidential")
    area_m2: Number
    residents: Count
    account: Name = Field(default="", description="personal account (ЛС)")


class PremisePatch(StrictIn):
    number: Name | None = None
    kind: Code | None = None
    area_m2: Number | None = None
    residents: Count | None = None
    account: Name | None = None


Readings = Annotated[dict[Code, Number], Field(max_length=256)]
_READINGS = "counter readings by \"channel:parameter\" (e.g. \"1:Q\"), in domain units"


class MeterFields(StrictIn):
    """What registering and editing a meter share."""

    premise_id: Id | None = Field(default=None, description="an individual meter's premise in its building")
    communicator: Name | None = Field(default=None, description="link text, e.g. 'Modbus TCP 10.0.0.5:502 #1'")
    communicator_id: Id | None = None
    archive_kinds: list[Code] | None = Field(default=None, max_length=8, description="of hour, day, month: the "
                                             "archives read (default: every one the model keeps)")
    reporting_day: Small | None = Field(default=None, description="1..28: the day of month the monthly archive closes")
    ct_ratio: Number | None = Field(default=None, description="current-transformer ratio (electricity), > 0")
    phase: Code | None = Field(default=None, description="A, B or C for a single-phase electricity meter")
    tariffs: Small | None = Field(default=None, description="tariff zones besides the total (KARAT-941LW: 1..4)")
    inputs: Small | None = Field(default=None, description="pulse inputs (KARAT-927LW: 2 or 4)")
    channel_resources: dict[Small, Code] | None = Field(default=None, max_length=64, description="channel -> "
                                                         "resource chosen at "
                                                     "commissioning, where the model allows a choice")
    calculator: Code | None = Field(default=None, description="KARAT-929LW: the calculator it is fitted to")
    installed_on: Day | None = None
    commissioned_at: Moment | None = Field(default=None, description="start of the first hourly period the "
                                             "meter reports, with a UTC offset; null: since its first archive")
    initial_readings: Readings | None = Field(default=None, description=f"{_READINGS}, at commissioned_at")


class MeterIn(MeterFields):
    building_id: Id
    serial: Code = Field(description="unique within the company")
    model: Code = Field(description="a model of the device catalogue, e.g. KARAT-307; it gives the channels")
    role: MeterRole


class MeterPatch(MeterFields):
    """Fields left out stay as they are."""

    serial: Code | None = None
    model: Code | None = None
    role: MeterRole | None = None


class ReplaceIn(StrictIn):
    new_serial: Code
    at: Moment = Field(description="start of the hourly period from which the new meter reports, with a UTC "
                         "offset: the old one's last period ends there")
    old_final_readings: Readings = Field(default_factory=dict, description=f"{_READINGS}, of the old meter at `at`")
    new_initial_readings: Readings = Field(default_factory=dict, description=f"{_READINGS}, of the new meter at `at`")
    new_model: Code | None = Field(default=None, description="default: the old meter's model and channels")
    tariffs: Small | None = None
    inputs: Small | None = None
    channel_resources: dict[Small, Code] | None = Field(default=None, max_length=64)
    calculator: Code | None = None
    communicator: Name | None = Field(default=None, description="default: the old meter's")
    communicator_id: Id | None = Field(default=None, description="default: the old meter's unless built into it")
    installed_on: Day | None = Field(default=None, description="default: the building's local date of `at`")


class ReplaceOut(BaseModel):
    old: MeterInfo
    new: MeterInfo


class DecommissionIn(StrictIn):
    at: Moment = Field(description="start of the first hourly period the meter no longer reports, with a UTC "
                         "offset")
    final_readings: Readings = Field(default_factory=dict, description=f"{_READINGS}, at `at`")


def _given(body: BaseModel) -> dict[str, Any]:
    """The fields the client sent (a PATCH changes only those; null is a value)."""
    return {name: getattr(body, name) for name in body.model_fields_set}


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
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)  # subclasses too
        raise ApiError(status, exc.code, str(exc)) from exc


_bearer = HTTPBearer(auto_error=False, description="an API token created by the company's administrator")


async def caller_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "unauthorized", "send the API token as 'Authorization: Bearer <token>'")
    return credentials.credentials


Token = Annotated[str, Depends(caller_token)]
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 422)}


def integration_router(services: Services) -> APIRouter:
    """The /api/v1 routes for integrations (included under /api by ``router``)."""
    # operationIds are the function names (the manual's screens: building_consumption, events, ...)
    api = APIRouter(prefix="/v1", tags=["integrations"], responses=ERRORS,
                    generate_unique_id_function=lambda route: route.name)
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
    async def building(building_id: PathId, token: Token) -> BuildingSummary:
        return await _service(accounting.building(token, building_id))

    @api.get("/buildings/{building_id}/premises", response_model=list[PremiseInfo])
    async def premises(building_id: PathId, token: Token) -> list[PremiseInfo]:
        return await _service(accounting.premises(token, building_id))

    @api.get("/buildings/{building_id}/meters", response_model=list[MeterInfo])
    async def building_meters(building_id: PathId, token: Token) -> list[MeterInfo]:
        return await _service(accounting.meters(token, building_id))

    @api.get("/premises/{premise_id}", response_model=PremiseInfo)
    async def premise(premise_id: PathId, token: Token) -> PremiseInfo:
        return await _service(accounting.premise(token, premise_id))

    @api.get("/meters/{meter_id}", response_model=MeterInfo)
    async def meter(meter_id: PathId, token: Token) -> MeterInfo:
        return await _service(accounting.meter(token, meter_id))

    @api.get("/buildings/{building_id}/consumption", response_model=BuildingConsumption,
             description="Consumption of the building meters (all inputs added) and the apartments' sum per "
                         "day of the month (granularity=day) or per month of the year (granularity=month, each "
                         "meter's month running from its reporting day) of `period`, in the building's time "
                         "zone (docs/metering.md). `building` and `apartments` are the known sums, null when "
                         "nothing is known; `building_complete` / `apartments_complete` are false when some meter "
                         "expected in the period (inside its service period) has no value, so the sum is only "
                         "the known part. `building_figure` / `apartments_figure` count the meters: `expected`, "
                         "`known`, `suspect` (left out: an increment above the device's plausible limit) and "
                         "`derived` (a value built from a finer archive). `imbalance` and `imbalance_pct` are "
                         "null unless both sums are complete. Electricity: the sums are the total channels; "
                         "`building_tariffs` / `apartment_tariffs` give each tariff zone on its own, never "
                         "added to the total; values include the CT ratio.")
    async def building_consumption(building_id: PathId, token: Token, resource: Resource, period: Day,
                                   granularity: Literal["day", "month"] = "day") -> BuildingConsumption:
        return await _service(accounting.building_consumption(token, building_id, resource, Granularity(granularity),
                                                              period))

    @api.get("/premises/{premise_id}/consumption", response_model=PremiseConsumption,
             description="Consumption of the premise: the sum over its meters of `resource` per hour of the "
                         "day, day of the month or month of the year of `period` (granularity hour, day, month), "
                         "in the building's time zone, by the same rules as the building's figures: `figures` "
                         "count the meters expected, known, suspect and derived; a missing value is null with "
                         "`complete` false, never zero.")
    async def premise_consumption(premise_id: PathId, token: Token, resource: Resource, period: Day,
                                  granularity: Literal["hour", "day", "month"] = "day") -> PremiseConsumption:
        return await _service(accounting.premise_consumption(token, premise_id, resource, Granularity(granularity),
                                                             period))

    @api.get("/meters/{meter_id}/archive", response_model=MeterArchive,
             description="The meter channel's archive: the hours of a day, the days of a month or the months "
                         "of a year of `period`, as the device stored them; a missing record is null.")
    async def meter_archive(meter_id: PathId, token: Token, channel: Channel, period: Day,
                            granularity: Literal["hour", "day", "month"] = "hour") -> MeterArchive:
        return await _service(accounting.meter_archive(token, meter_id, channel, Granularity(granularity), period))

    @api.post("/meters/{meter_id}/readings", response_model=ReadingsOut, status_code=201,
              description="Submit readings from an external source. They are stored as archive records flagged "
                          "external (quality bit 8); periods the archive already holds are skipped, not replaced.")
    async def submit_readings(meter_id: PathId, body: ReadingsIn, token: Token) -> ReadingsOut:
        result = await _service(services.readings.submit(
            token, meter_id, body.channel, body.kind, body.nature,
            [Reading(r.period_start, r.values) for r in body.readings]))
        return ReadingsOut(batch=result.batch, stored_values=result.stored_values, skipped=list(result.skipped))

    @api.post("/commands", response_model=CommandOut, status_code=201, tags=["commands"],
              description="Issue a command to the edge that serves the meter (or, for meter_config, the site). "
                          "It is sent on DU_DOWN at once, or when NATS is reachable again; poll its state.")
    async def issue_command(body: CommandIn, token: Token) -> CommandOut:
        ttl = timedelta(seconds=body.ttl_s) if body.ttl_s is not None else None
        return CommandOut.of(await _service(services.commands.issue(
            token, body.type, meter_id=body.meter_id, site=body.site, args=body.args, ttl=ttl)))

    @api.get("/commands/{command_id}", response_model=CommandOut, tags=["commands"])
    async def command(command_id: Annotated[str, Path(max_length=64)], token: Token) -> CommandOut:
        return CommandOut.of(await _service(services.commands.get(token, command_id)))

    @api.get("/commands", response_model=list[CommandOut], tags=["commands"],
             description="The company's commands, newest first.")
    async def commands(token: Token, meter_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                       site: Annotated[str | None, Query(max_length=64)] = None,
                       state: Annotated[str | None, Query(max_length=32)] = None,
                       type: Annotated[str | None, Query(max_length=32)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[CommandOut]:
        found = await _service(services.commands.list(token, meter_id=meter_id, site=site, state=state, kind=type,
                                                      limit=limit))
        return [CommandOut.of(c) for c in found]

    @api.get("/buildings/{building_id}/arrival", response_model=ArrivalOut, tags=["monitoring"],
             description="Data-arrival control (manual 4.2.3): per meter, how many periods of the archive kind "
                         "between the local days `from` and `to` (inclusive) are received, partial, missing or "
                         "reported lost by the edge, and the completeness in %.")
    async def data_arrival(building_id: PathId, token: Token, kind: Literal["hour", "day", "month"],
                      first: Annotated[Day, Query(alias="from")], last: Annotated[Day, Query(alias="to")],
                      resource: Resource | None = None, role: MeterRole | None = None,
                      detail: bool = False) -> ArrivalOut:
        report = await _service(services.arrival.report(token, building_id, kind, first, last, resource=resource,
                                                        role=role))
        return ArrivalOut.of(report, detail)

    registry_routes(api, services)
    # the screens of sections 4.1 and 4.2 and their settings, one module each (imported here: they
    # use this module's Token, _service and parameter types)
    from cloud import (
        api_arrival,
        api_balance,
        api_balance_groups,
        api_deviations,
        api_events,
        api_heating,
        api_lora,
        api_overview,
        api_register,
        api_weather,
    )
    for module in (api_overview, api_balance, api_register, api_balance_groups, api_deviations, api_events,
                   api_arrival, api_lora, api_heating, api_weather):
        module.routes(api, services)
    # section «Сервис» and the settings built with it (manual 4.5, 4.6)
    from cloud import (
        api_company,
        api_desk,
        api_objects,
        api_power,
        api_procedures,
        api_service_meters,
        api_wizard,
    )
    for module in (api_procedures, api_service_meters, api_wizard, api_desk, api_power, api_objects,
                   api_company):
        module.routes(api, services)
    # sections «Отчёты» and «Биллинг» (manual 4.3, 4.4)
    from cloud import api_billing, api_gis, api_norms, api_reports
    for module in (api_reports, api_billing, api_norms, api_gis):
        module.routes(api, services)
    # the residents' app (manual 3.6): a resident's own session, not an integration's API token
    from cloud import api_resident
    api_resident.routes(api, services)
    return api


def registry_routes(api: APIRouter, services: Services) -> None:
    """The registry's write routes (and the reads they need) on the /api/v1 router."""
    tags: list[str | Enum] = ["registry"]

    @api.get("/company", response_model=CompanyInfo, tags=tags)
    async def company(token: Token) -> CompanyInfo:
        return await _service(services.companies.get(token))

    @api.patch("/company", response_model=CompanyInfo, tags=tags,
               description="Rename the caller's company or set its main city (an administrator).")
    async def update_company(body: CompanyPatch, token: Token) -> CompanyInfo:
        return await _service(services.companies.update(token, **_given(body)))

    @api.get("/cities", response_model=list[CityInfo], tags=tags)
    async def cities(token: Token) -> list[CityInfo]:
        return await _service(services.cities.list(token))

    @api.post("/cities", response_model=CityInfo, status_code=201, tags=tags,
              description="Add a city to the company (an administrator).")
    async def add_city(body: CityIn, token: Token) -> CityInfo:
        return await _service(services.cities.add(token, body.name, body.time_zone))

    @api.delete("/cities/{city_id}", status_code=204, response_class=Response, tags=tags,
                description="Remove a city none of the company's buildings is in (an administrator).")
    async def remove_city(city_id: PathId, token: Token) -> Response:
        await _service(services.cities.remove(token, city_id))
        return Response(status_code=204)

    @api.post("/buildings", response_model=BuildingDetails, status_code=201, tags=tags)
    async def create_building(body: BuildingIn, token: Token) -> BuildingDetails:
        return await _service(services.buildings.create_building(token, **body.model_dump()))

    @api.get("/buildings/{building_id}/details", response_model=BuildingDetails, tags=tags)
    async def building_details(building_id: PathId, token: Token) -> BuildingDetails:
        return await _service(services.buildings.building(token, building_id))

    @api.patch("/buildings/{building_id}", response_model=BuildingDetails, tags=tags)
    async def update_building(building_id: PathId, body: BuildingPatch, token: Token) -> BuildingDetails:
        return await _service(services.buildings.update_building(token, building_id, **_given(body)))

    @api.delete("/buildings/{building_id}", status_code=204, response_class=Response, tags=tags,
                description="Delete a building with no meters, and its premises.")
    async def delete_building(building_id: PathId, token: Token) -> Response:
        await _service(services.buildings.delete_building(token, building_id))
        return Response(status_code=204)

    @api.post("/buildings/{building_id}/premises", response_model=PremiseInfo, status_code=201, tags=tags)
    async def create_premise(building_id: PathId, body: PremiseIn, token: Token) -> PremiseInfo:
        return await _service(services.premises.create(token, building_id, **body.model_dump()))

    @api.patch("/premises/{premise_id}", response_model=PremiseInfo, tags=tags)
    async def update_premise(premise_id: PathId, body: PremisePatch, token: Token) -> PremiseInfo:
        return await _service(services.premises.update(token, premise_id, **_given(body)))

    @api.delete("/premises/{premise_id}", status_code=204, response_class=Response, tags=tags,
                description="Delete a premise with no meters.")
    async def delete_premise(premise_id: PathId, token: Token) -> Response:
        await _service(services.premises.delete(token, premise_id))
        return Response(status_code=204)

    @api.post("/meters", response_model=MeterInfo, status_code=201, tags=tags,
              description="Register a meter; its channels come from the device catalogue entry of `model`.")
    async def create_meter(body: MeterIn, token: Token) -> MeterInfo:
        fields = {k: v for k, v in body.model_dump().items() if v is not None or k == "premise_id"}
        return await _service(services.meters.create(token, **fields))

    @api.patch("/meters/{meter_id}", response_model=MeterInfo, tags=tags,
               description="Edit a meter; a new model or configuration rederives its channels. The end of "
                           "service changes only through replace and decommission.")
    async def update_meter(meter_id: PathId, body: MeterPatch, token: Token) -> MeterInfo:
        return await _service(services.meters.update(token, meter_id, **_given(body)))

    @api.post("/meters/{meter_id}/replace", response_model=ReplaceOut, status_code=201, tags=tags,
              description="Replace the meter by a new one from the hourly period `at` (a service engineer): the "
                          "old one ends there and keeps its history, the new one continues its series.")
    async def replace_meter(meter_id: PathId, body: ReplaceIn, token: Token) -> ReplaceOut:
        done = await _service(services.meters.replace(token, meter_id, **body.model_dump()))
        return ReplaceOut(old=done.old, new=done.new)

    @api.post("/meters/{meter_id}/decommission", response_model=MeterInfo, tags=tags,
              description="Take the meter out of service from the hourly period `at` on (a service engineer); "
                          "nothing is deleted.")
    async def decommission_meter(meter_id: PathId, body: DecommissionIn, token: Token) -> MeterInfo:
        return await _service(services.meters.decommission(token, meter_id, body.at, body.final_readings))


def router(clickhouse: ClickHouse, local_token: str, services: Services | None = None,
           ingest: Ingest | None = None, links: Sequence[health.Link] = (),
           storing: Sequence[health.Storing] = ()) -> APIRouter:
    """All /api routes: health, the local operator endpoints and (with ``services``) /api/v1.
    /api/health reports the NATS ``links`` and the ingest workers' ``storing`` (cloud/health.py)."""
    api = APIRouter(prefix="/api")

    def local_only(request: Request, token: str) -> None:
        client = request.client.host if request.client else ""
        if client not in ("127.0.0.1", "::1") or not hmac.compare_digest(token, local_token):
            raise ApiError(403, "forbidden", "this endpoint is for the `domuchet` command on this machine only")

    @api.get("/health", include_in_schema=False)
    async def health_answer() -> JSONResponse:
        rows, error = None, ""
        try:
            rows = (await clickhouse.query("SELECT count() FROM {db}.archive"))[0][0]
        except (ClickHouseError, OSError) as exc:  # health must say what is wrong, not answer 500
            error = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        status, body = health.report(links, storing, rows, error)
        return JSONResponse(status_code=status, content=body)

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
