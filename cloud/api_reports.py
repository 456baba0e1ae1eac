"""/api/v1 routes of the reports (manual 4.3; the billing document of 4.4.1 is one of them): the
list of reports with the parameters each asks for, a report's rows as JSON or its XLSX file made
now, and the same file made in the background with its progress (cloud/reports/service.py).

A report's parameters are its own (cloud/reports/engine.py ``Param``), so the JSON and file routes
take them from the query string by name and the engine parses them: an unknown or bad one is a 422
naming it. Routes use cloud.api's Token, _service and ApiError (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_reports_api.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations, whose types
# (Token) are imported inside ``routes`` and so are not module globals it could resolve
from collections.abc import Awaitable
from enum import Enum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from cloud.reports.engine import RESOURCE_CHOICES, ReportSpec
from cloud.reports.jobs import JobInfo, TooManyJobs
from cloud.services.auth import require_operational_view
from cloud.services.container import Services
from cloud.services.models import MAX_ID, InvalidInput

T = TypeVar("T")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PARAMETERS = 50  # far more than any report takes: a longer list is not a report's parameters

ReportKey = Annotated[str, Path(max_length=64, description="the report's key (see list_reports)")]
JobId = Annotated[str, Path(max_length=64, description="the job's id (start_report_job's answer)")]
ParamValue = (Annotated[str, Field(max_length=300)] | Annotated[int, Field(ge=0, le=MAX_ID)] | bool)


class ChoiceOut(BaseModel):
    value: str
    label: str


class ParamOut(BaseModel):
    name: str = Field(description="the query-string name (JSON form and file) or the key in `parameters` (jobs)")
    kind: str = Field(description="building, premise, meter, group: a registry id (a premise, meter or group of "
                                  "the chosen building); resource: one of `choices`; month: YYYY-MM; day: "
                                  "YYYY-MM-DD; choice: one of `choices`; text; flag: true or false")
    label: str = Field(description="Russian, as the page's form shows it")
    required: bool
    choices: list[ChoiceOut]
    default: str | None = Field(description="used when the parameter is not given; \"today\", \"this_month\" and "
                                            "\"last_month\" are worked out on the day of the request")


class ReportOut(BaseModel):
    key: str
    title: str = Field(description="Russian, as in the manual")
    section: str = Field(description="the manual's section, e.g. 4.3.7")
    description: str
    params: list[ParamOut]


class ColumnOut(BaseModel):
    key: str
    title: str
    unit: str
    kind: str = Field(description="text, number, integer, date or datetime")


class SheetOut(BaseModel):
    title: str
    heading: list[str]
    columns: list[ColumnOut]
    rows: list[list[Any]] = Field(description="cells in the columns' order: numbers as numbers, dates ISO, null "
                                              "empty; {\"missing\": true} a value that should exist and has no "
                                              "archive (the file's «–*», never filled in); {\"value\": x, "
                                              "\"partial\": true} a known partial sum (the file's «x*»)")
    totals: list[Any] | None


class ReportRowsOut(BaseModel):
    report: str
    title: str
    parameters: dict[str, Any] = Field(description="the parameters as parsed, defaults filled in")
    sheets: list[SheetOut]


class ReportJobIn(BaseModel):
    report: str = Field(max_length=64, description="the report's key (see list_reports)")
    parameters: dict[Annotated[str, Field(max_length=64)], ParamValue] = Field(
        default_factory=dict, max_length=MAX_PARAMETERS,
        description="the report's parameters by name, as in the query string of get_report")


def describe(spec: ReportSpec) -> ReportOut:
    """A report and its parameters as list_reports answers them."""
    params = []
    for p in spec.params:
        choices = p.choices or (RESOURCE_CHOICES if p.kind == "resource" else ())
        params.append(ParamOut(name=p.name, kind=p.kind, label=p.label, required=p.required,
                               choices=[ChoiceOut(value=v, label=label) for v, label in choices],
                               default=p.default))
    return ReportOut(key=spec.key, title=spec.title, section=spec.section, description=spec.description,
                     params=params)


def query_parameters(request: Request) -> dict[str, str]:
    """The query string as a report's raw parameters; a name given twice is refused (which one was meant?)."""
    raw: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in raw:
            raise InvalidInput(f"{name}: given more than once")
        raw[name] = value
    return raw


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router (operationIds are the function names)."""
    from cloud.api import ApiError, Token, _service

    reports = services.reports
    tags: list[str | Enum] = ["reports"]

    async def limited(call: Awaitable[T]) -> T:
        """TooManyJobs is a 429 (wait and retry), not the 400 of an unknown refusal."""
        try:
            return await call
        except TooManyJobs as error:
            raise ApiError(429, error.code, str(error)) from error

    async def listed(token: str) -> list[ReportOut]:
        require_operational_view(await services.auth.user(token), "reports are not available to administrators")
        return [describe(spec) for spec in reports.specs()]

    async def rows(token: str, key: str, request: Request) -> dict[str, Any]:
        report = await reports.report(token, key, query_parameters(request))
        return report.as_json()

    async def made(token: str, key: str, request: Request) -> tuple[bytes, str]:
        return await reports.xlsx_bytes(token, key, query_parameters(request))

    @api.get("/reports", response_model=list[ReportOut], tags=tags,
             description="The reports of manual 4.3 in its order, and the billing document (4.4.1), each with the "
                         "parameters it asks for. Dispatchers and engineers, readers included (a report changes "
                         "nothing); not administrators.")
    async def list_reports(token: Token) -> list[ReportOut]:
        return await _service(listed(token))

    @api.get("/reports/{key}", response_model=ReportRowsOut, tags=tags,
             description="The report's rows as JSON, the same as its file. The query string holds the report's "
                         "parameters by name (see list_reports), e.g. `?building=12&month=2026-01`; an unknown "
                         "name or a bad value is a 422 naming it; a building, premise, meter or group of another "
                         "company is a 404. Large reports (the monthly export of every building) are better made "
                         "as a job: start_report_job.")
    async def get_report(key: ReportKey, request: Request, token: Token) -> JSONResponse:
        return JSONResponse(await _service(rows(token, key, request)))

    @api.get("/reports/{key}/xlsx", response_class=Response, tags=tags,
             responses={200: {"content": {XLSX: {}}, "description": "the XLSX file, as an attachment"}},
             description="The report's XLSX file made now (parameters as for get_report): Russian headers with "
                         "units, numbers as numbers, a missing value «–*» and never filled in (manual 4.1.5).")
    async def get_report_xlsx(key: ReportKey, request: Request, token: Token) -> Response:
        content, name = await _service(made(token, key, request))
        return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api.post("/report-jobs", response_model=JobInfo, status_code=202, tags=tags,
              description="Start making the report's file in the background; the parameters are checked first "
                          "(422 naming a bad one). Poll get_report_job for `state` (running, done, failed), "
                          "`progress` 0..1 and `stage`; fetch get_report_job_file when done. At most 3 jobs of a "
                          "user run at once (429). Jobs and files are kept 24 h, and only for the user who "
                          "started them.")
    async def start_report_job(body: ReportJobIn, token: Token) -> JobInfo:
        raw = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in body.parameters.items()}
        return await _service(limited(reports.start(token, body.report, raw)))

    @api.get("/report-jobs", response_model=list[JobInfo], tags=tags,
             description="The caller's report jobs of the last 24 h, newest first.")
    async def list_report_jobs(token: Token) -> list[JobInfo]:
        return await _service(reports.my_jobs(token))

    @api.get("/report-jobs/{job_id}", response_model=JobInfo, tags=tags,
             description="One of the caller's jobs: its state, progress, stage; `error` says why a failed one "
                         "failed; `file_name` and `rows` once done.")
    async def get_report_job(job_id: JobId, token: Token) -> JobInfo:
        return await _service(reports.job(token, job_id))

    @api.get("/report-jobs/{job_id}/file", response_class=FileResponse, tags=tags,
             responses={200: {"content": {XLSX: {}}, "description": "the XLSX file, as an attachment"}},
             description="The finished job's XLSX file; 404 while it runs, when it failed, or after 24 h.")
    async def get_report_job_file(job_id: JobId, token: Token) -> FileResponse:
        path, name = await _service(reports.job_file(token, job_id))
        return FileResponse(path, media_type=XLSX, filename=name)
