"""What the service procedures hand out (manual 4.5.5, 4.6.12): procedures with their steps and log,
the active operations, a meter's procedures page and the planned durations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cloud.services.outages import Outage


@dataclass(frozen=True, slots=True)
class LogEntry:
    at: datetime  # UTC
    user: str | None  # full name; None: the system (an automatic operation's result)
    action: str  # start, complete, run, result, fail, retry, cancel, force, finish
    operation: str | None  # the operation's Russian name
    notes: str


@dataclass(frozen=True, slots=True)
class StepInfo:
    id: int
    operation: str  # code in procedure_rules
    name: str
    mandatory: bool
    automatic: bool
    state: str  # active, done, failed, cancelled, forced
    started_at: datetime  # UTC
    planned_at: datetime  # the planned deadline (4.6.12)
    overdue: bool
    done_on: date | None  # the actual date (manual operations)
    finished_at: datetime | None
    finished_by: str | None
    notes: str
    settings: dict[str, Any] = field(hash=False)
    command_id: str | None = None
    command_state: str | None = None


@dataclass(frozen=True, slots=True)
class ProcedureInfo:
    id: int
    meter_id: int
    meter_serial: str
    kind: str
    name: str
    state: str  # active, completed, cancelled
    started_at: datetime
    started_by: str | None
    finished_at: datetime | None
    finished_by: str | None
    steps: tuple[StepInfo, ...]
    next_operations: tuple[str, ...]  # after the current operation is completed (codes, in order)
    default_next: str | None  # what follows when nothing is chosen (None: the procedure ends)
    log: tuple[LogEntry, ...] = ()

    @property
    def current(self) -> StepInfo | None:
        return next((s for s in reversed(self.steps) if s.state in ("active", "failed")), None) \
            if self.state == "active" else None


@dataclass(frozen=True, slots=True)
class ActiveOperation:
    """One row of the active operations page (4.5.5)."""

    procedure_id: int
    step_id: int
    meter_id: int
    meter_serial: str
    address: str
    premise_number: str | None
    procedure: str  # kind
    procedure_name: str
    operation: str
    operation_name: str
    automatic: bool
    state: str  # active or failed
    started_at: datetime
    planned_at: datetime
    overdue: bool
    notes: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class MeterOperations:
    """A meter's procedures and what may start now (the meter's «Сервисные операции» page)."""

    meter_id: int
    serial: str
    model: str
    address: str
    premise_number: str | None
    status: str  # the meter's lifecycle status
    time_zone: str
    out_of_service_since: datetime | None
    counters: tuple[str, ...]  # "channel:parameter" of its counters, for initial readings
    archive_kinds: tuple[str, ...]  # kinds its model keeps
    procedures: tuple[ProcedureInfo, ...]  # newest first
    startable: dict[str, tuple[str, ...]] = field(hash=False)  # kind -> operations it may start with now
    refusals: dict[str, str] = field(hash=False)  # kind -> why it cannot start now
    outages: tuple[Outage, ...] = ()
    today: date | None = None  # the building's local date now: actual dates may not pass it
    lora: bool = False  # a LoRaWAN meter: its availability test waits for the engineer to wake the module


@dataclass(frozen=True, slots=True)
class Deadline:
    procedure: str
    procedure_name: str
    operation: str
    operation_name: str
    days: int
    default_days: int
    automatic: bool
