"""/api/v1 routes of service procedures (manual 4.5.5) and operation deadlines (4.6.12); every
answer comes from cloud/services/procedures.py, whose docstring says who may do what.

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_procedures.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations

from datetime import date
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from cloud.services.container import Services
from cloud.services.procedure_models import ActiveOperation, Deadline, MeterOperations, ProcedureInfo
from cloud.services.procedure_rules import Kind


class StartIn(BaseModel):
    kind: Kind = Field(description="install, verification, repair, decommissioning, correction or reconciliation")
    operation: str | None = Field(default=None, max_length=64,
                                  description="the starting operation (default: the first); install may start "
                                              "with install_request, mounting or commissioning")
    notes: str = Field(default="", max_length=2000)


class CompleteIn(BaseModel):
    done_on: date = Field(ge=date(2000, 1, 1), le=date(2100, 12, 31),
                          description="the actual local date the operation was done (not in the future)")
    notes: str = Field(default="", max_length=2000)
    settings: dict[str, Any] = Field(default_factory=dict, description=(
        "commissioning: next_verification_on, archive_kinds, initial_readings {\"channel:parameter\": value}; "
        "decommissioning: final_readings; replacement decision: new_serial, new_model, final_readings, "
        "initial_readings; sensor choice (correction): channel, parameter, kind, period (local start), value"))
    next_operation: str | None = Field(default=None, max_length=64,
                                       description="an optional operation to do next; default: the next mandatory "
                                                   "one, or the end of the procedure")


class NotesIn(BaseModel):
    notes: str = Field(default="", max_length=2000)


class DaysIn(BaseModel):
    days: int = Field(ge=1, le=365, description="planned duration, whole days 1..365")


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router."""
    from cloud.api import PathId, Token, _service

    procedures = services.procedures
    tags: list[str | Enum] = ["service procedures"]

    @api.get("/service-operations", response_model=list[ActiveOperation], tags=tags,
             description="The company's active (unfinished) service operations, the earliest planned deadline "
                         "first; `overdue` when the deadline passed (manual 4.5.5).")
    async def active_service_operations(token: Token) -> list[ActiveOperation]:
        return await _service(procedures.active(token))

    @api.get("/meters/{meter_id}/procedures", response_model=MeterOperations, tags=tags,
             description="A meter's procedures with their operations and logs, newest first, and the procedures "
                         "it may start now (`startable`) or why not (`refusals`).")
    async def meter_procedures(meter_id: PathId, token: Token) -> MeterOperations:
        return await _service(procedures.meter_operations(token, meter_id))

    @api.post("/meters/{meter_id}/procedures", response_model=ProcedureInfo, tags=tags,
              description="Start a procedure on the meter (a service engineer).")
    async def start_procedure(meter_id: PathId, body: StartIn, token: Token) -> ProcedureInfo:
        return await _service(procedures.start(token, meter_id, body.kind, body.operation, body.notes))

    @api.get("/procedures/{procedure_id}", response_model=ProcedureInfo, tags=tags)
    async def procedure(procedure_id: PathId, token: Token) -> ProcedureInfo:
        return await _service(procedures.procedure(token, procedure_id))

    @api.post("/procedures/{procedure_id}/complete", response_model=ProcedureInfo, tags=tags,
              description="Complete the current manual operation (a service engineer); an automatic one that "
                          "follows runs at once through the edge.")
    async def complete_procedure_operation(procedure_id: PathId, body: CompleteIn, token: Token) -> ProcedureInfo:
        return await _service(procedures.complete(token, procedure_id, done_on=body.done_on, notes=body.notes,
                                                  settings=body.settings, next_operation=body.next_operation))

    @api.post("/procedures/{procedure_id}/retry", response_model=ProcedureInfo, tags=tags,
              description="Run a failed automatic operation again (a service engineer).")
    async def retry_procedure_operation(procedure_id: PathId, token: Token) -> ProcedureInfo:
        return await _service(procedures.retry(token, procedure_id))

    @api.post("/procedures/{procedure_id}/cancel", response_model=ProcedureInfo, tags=tags,
              description="Cancel the procedure (a service engineer); settings of completed operations stay.")
    async def cancel_procedure(procedure_id: PathId, body: NotesIn, token: Token) -> ProcedureInfo:
        return await _service(procedures.cancel(token, procedure_id, body.notes))

    @api.post("/procedures/{procedure_id}/force-complete", response_model=ProcedureInfo, tags=tags,
              description="Force the current operation's completion (a dispatcher or service engineer): the "
                          "procedure is cancelled, settings of completed operations stay.")
    async def force_complete_procedure_operation(procedure_id: PathId, body: NotesIn, token: Token) -> ProcedureInfo:
        return await _service(procedures.force_complete(token, procedure_id, body.notes))

    @api.get("/operation-deadlines", response_model=list[Deadline], tags=tags,
             description="Planned duration of every service operation, days (manual 4.6.12).")
    async def operation_deadlines(token: Token) -> list[Deadline]:
        return await _service(procedures.deadlines(token))

    @api.put("/operation-deadlines/{procedure}/{operation}", response_model=Deadline, tags=tags,
             description="Set an operation's planned duration for the company (a dispatcher).")
    async def set_operation_deadline(procedure: Kind, operation: Annotated[str, Path(max_length=64)], body: DaysIn,
                                     token: Token) -> Deadline:
        return await _service(procedures.set_deadline(token, procedure, operation, body.days))
