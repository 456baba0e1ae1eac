"""Service procedures of a meter as state machines (manual 4.5.5) and their deadlines (4.6.12).

The transitions are cloud/services/procedure_rules.py's one table; this module stores the runs
(registry tables of cloud/storage/registry_ddl/procedures.py), carries out what each operation
does to the meter and runs the automatic operations:
- "вывод из эксплуатации" opens an out-of-service interval from the actual date (local midnight):
  the edge's meter list (``site_meters``) leaves the meter out and data arrival and accounting
  expect nothing from it; "ввод в эксплуатацию" closes it at its actual date, which becomes the
  ``commissioned`` date the edge polls from (install: the meter's commissioning, through
  MetersService); decommissioning and the decision to replace go through MetersService too;
- the edge checks (availability, passport, time service) and reconciliation are commands issued
  through CommandService on behalf of the engineer who led the procedure there; the procedure
  moves when the command's final result arrives (CommandService calls ``on_commands`` after
  applying results or timing commands out; every read here also catches up), a failed or
  timed-out command leaves the operation failed with the reason in its notes, to be run again;
- a correction writes a new version of the archive value (ReplacingMergeTree ``version``), audited.
Every action is logged (time, user, notes) in ``procedure_log`` and audited.

Roles (manual 2.3: only a service engineer interacts with devices, through procedures; 4.5.5:
the active operations page lets the user force an operation's completion): a service engineer
without reader status starts, completes, retries and cancels procedures; a dispatcher sees them
and may force-complete an operation (it touches no device: the procedure is cancelled, settings
of completed operations stay) and edits the planned durations (4.6.12); a reader sees all of it
and changes nothing; an administrator (users and company settings only) sees none of it
(NotFound). Another company's meter or procedure is "not found".
Beside it: procedure_models.py (what it hands out), procedure_results.py (the sensor choice, the
verdict on a command's result, why a procedure cannot start), outages.py (out-of-service
intervals, which site_meters, arrival and accounting read).
Tests: tests/unit/cloud/test_procedure_rules.py, tests/integration/test_procedures.py,
tests/ui/test_procedures_ui.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from cloud.services import audit
from cloud.services import procedure_rules as rules
from cloud.services.auth import AuthService, require_engineer, require_operational_view, require_writer
from cloud.services.buildings import BuildingsService
from cloud.services.meters_admin import MetersService, _channels, check_readings
from cloud.services.models import (
    Forbidden,
    InvalidInput,
    NotFound,
    Role,
    UserInfo,
    check_day,
    check_id,
)
from cloud.services.outages import iso_utc, load_outages, outages, utc_time
from cloud.services.procedure_models import (
    ActiveOperation,
    Deadline,
    LogEntry,
    MeterOperations,
    ProcedureInfo,
    StepInfo,
)
from cloud.services.procedure_results import judge, lifecycle_status, model_spec, sensor_choice, start_refusal
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind

if TYPE_CHECKING:
    from cloud.services.commands import CommandService

log = logging.getLogger(__name__)

# completing these changes which meters the edge polls: the site's meter list is pushed to it
_CHANGES_POLLING = frozenset({rules.Effect.OUT_OF_SERVICE, rules.Effect.COMMISSION, rules.Effect.DECOMMISSION,
                              rules.Effect.REPLACE})
MAX_NOTES = 2000


# --- small helpers -----------------------------------------------------------------------------------

def _plain(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except rules.RuleError as exc:
        raise InvalidInput(str(exc)) from None


def _notes(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_NOTES:
        raise InvalidInput(f"notes: text of at most {MAX_NOTES} characters")
    return value.strip()


def _local_midnight(day: date, time_zone: str) -> datetime:
    return local_to_utc(datetime(day.year, day.month, day.day), zone(time_zone))


def _require_dispatcher_or_engineer(user: UserInfo) -> UserInfo:
    require_writer(user)  # readers and administrators refused
    return user


# --- the service ---------------------------------------------------------------------------------

class ProceduresService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        commands.listeners.append(self.on_commands)

    def _meters(self) -> MetersService:
        return MetersService(self.registry, self.auth, self.clock)

    # --- reading -------------------------------------------------------------------------------
    async def active(self, token: str) -> list[ActiveOperation]:
        """The company's active (unfinished) operations, the oldest deadline first."""
        user = require_operational_view(await self.auth.user(token), "service operations are operational data")
        await asyncio.to_thread(self.catch_up)
        rows = await asyncio.to_thread(
            self.registry.all,
            "SELECT s.*, p.kind, p.meter_id, m.serial, b.address, b.time_zone, pr.number AS premise_number "
            "FROM procedure_steps s JOIN procedures p ON p.id = s.procedure_id JOIN meters m ON m.id = p.meter_id "
            "JOIN buildings b ON b.id = m.building_id LEFT JOIN premises pr ON pr.id = m.premise_id "
            "WHERE p.company_id = ? AND p.state = 'active' AND s.state IN ('active', 'failed') "
            "ORDER BY s.planned_at, s.id", user.company_id)
        now = self.clock()
        out = []
        for r in rows:
            kind = rules.Kind(r["kind"])
            op = rules.operation(kind, r["operation"])
            planned = utc_time(r["planned_at"])
            assert planned is not None  # noqa: S101 - NOT NULL column
            out.append(ActiveOperation(r["procedure_id"], r["id"], r["meter_id"], r["serial"], r["address"],
                                       r["premise_number"], kind.value, rules.NAMES[kind], op.code, op.name,
                                       op.automatic, r["state"], utc_time(r["started_at"]), planned,  # type: ignore[arg-type]
                                       rules.overdue(planned, now, False), r["notes"], r["time_zone"]))
        return out

    async def procedure(self, token: str, procedure_id: int) -> ProcedureInfo:
        user = require_operational_view(await self.auth.user(token), f"procedure {procedure_id} not found")
        check_id("procedure_id", procedure_id)
        await asyncio.to_thread(self.catch_up)

        def read() -> ProcedureInfo:
            with self.registry.connect() as db:
                return self._info(db, self._procedure_row(db, user, procedure_id), with_log=True)
        return await asyncio.to_thread(read)

    async def meter_operations(self, token: str, meter_id: int) -> MeterOperations:
        """The meter's procedures (newest first, with their logs) and the procedures it may start now."""
        user = require_operational_view(await self.auth.user(token), f"meter {meter_id} not found")
        check_id("meter_id", meter_id)
        await asyncio.to_thread(self.catch_up)

        def read() -> MeterOperations:
            with self.registry.connect() as db:
                meter = self._meter_row(db, user, meter_id)
                rows = db.execute("SELECT * FROM procedures WHERE meter_id = ? ORDER BY started_at DESC, id DESC",
                                  (meter_id,)).fetchall()
                procedures = tuple(self._info(db, r, with_log=True) for r in rows)
                intervals = outages(db, [meter_id]).get(meter_id, [])
                channels = db.execute("SELECT number, parameters FROM meter_channels WHERE meter_id = ? "
                                      "ORDER BY number", (meter_id,)).fetchall()
                link = db.execute("SELECT kind FROM communicators WHERE id = ?", (meter["communicator_id"],)).fetchone()
            lora = (link["kind"] == "lora") if link else meter["communicator"].strip().startswith("LoRaWAN")
            now = self.clock()
            startable: dict[str, tuple[str, ...]] = {}
            refusals: dict[str, str] = {}
            for kind in rules.Kind:
                why = start_refusal(meter, kind, procedures, intervals, now)
                if why:
                    refusals[kind.value] = why
                else:
                    startable[kind.value] = tuple(op.code for op in rules.starting(kind))
            since = next((o.from_at for o in reversed(intervals)
                          if o.until_at is None and o.from_at <= now), None)
            spec = model_spec(meter["model"])
            counters = tuple(f"{c['number']}:{p}" for c in channels for p in c["parameters"].split(",")
                             if spec is not None and spec.counter(p) is not None)
            kinds = tuple(a.kind.value for a in spec.archives) if spec is not None else ()
            return MeterOperations(meter_id, meter["serial"], meter["model"], meter["address"],
                                   meter["premise_number"], lifecycle_status(meter, now), meter["time_zone"], since,
                                   counters, kinds, procedures, startable, refusals, tuple(intervals),
                                   now.astimezone(zone(meter["time_zone"])).date(), lora)
        return await asyncio.to_thread(read)

    # --- the engineer's actions ---------------------------------------------------------------------
    async def start(self, token: str, meter_id: int, kind: str, operation: str | None = None,
                    notes: str = "") -> ProcedureInfo:
        """Start a procedure with one of its starting operations (default: the first)."""
        user = require_engineer(await self.auth.user(token))
        check_id("meter_id", meter_id)
        procedure = _plain(lambda: rules.kind(kind))
        first = _plain(lambda: rules.check_start(procedure, operation or rules.starting(procedure)[0].code))
        text = _notes(notes)

        def write() -> tuple[int, str]:
            with self.registry.connect() as db:
                meter = self._meter_row(db, user, meter_id)
                now = self.clock()
                existing = db.execute("SELECT * FROM procedures WHERE meter_id = ? ORDER BY id", (meter_id,)).fetchall()
                infos = tuple(self._info(db, r) for r in existing)
                why = start_refusal(meter, procedure, infos, outages(db, [meter_id]).get(meter_id, []), now)
                if why:
                    raise InvalidInput(f"kind: {why}")
                procedure_id = int(db.execute(
                    "INSERT INTO procedures (company_id, meter_id, kind, state, started_by, started_at) "
                    "VALUES (?, ?, ?, 'active', ?, ?)", (user.company_id, meter_id, procedure.value, user.id,
                                                        iso_utc(now))).lastrowid or 0)
                self._log(db, procedure_id, None, user.id, "start", f"{rules.NAMES[procedure]}. {text}".strip(". "))
                if procedure is rules.Kind.INSTALL:  # not polled until commissioned (4.5.5 "Установка ПУ")
                    db.execute("INSERT INTO meter_outages (meter_id, procedure_id, from_at) VALUES (?, ?, ?)",
                               (meter_id, procedure_id, iso_utc(now.replace(minute=0, second=0, microsecond=0))))
                self._new_step(db, user.company_id, procedure_id, procedure, first, now)
                audit.record(db, user, "procedure.start", f"procedure:{procedure_id}", None,
                             {"meter_id": meter_id, "kind": procedure.value, "operation": first.code})
            return procedure_id, meter["site"]
        procedure_id, site = await asyncio.to_thread(write)
        if procedure is rules.Kind.INSTALL:  # the edge stops polling it until it is commissioned
            await self._push_meter_list(token, user, procedure_id, site)
        return await self.procedure(token, procedure_id)

    async def complete(self, token: str, procedure_id: int, *, done_on: date, notes: str = "",
                       settings: Mapping[str, Any] | None = None, next_operation: str | None = None) -> ProcedureInfo:
        """Complete the current (manual) operation on its actual date with its settings, and go on
        to ``next_operation`` (default: the next mandatory one; none left: the procedure ends)."""
        user = require_engineer(await self.auth.user(token))
        check_id("procedure_id", procedure_id)
        if not isinstance(done_on, date) or isinstance(done_on, datetime):
            raise InvalidInput(f"done_on: a date, got {done_on!r}")
        check_day("done_on", done_on)
        text = _notes(notes)
        given = dict(settings or {})
        row, step, meter = await asyncio.to_thread(self._current, user, procedure_id)
        kind = rules.Kind(row["kind"])
        op = rules.operation(kind, step["operation"])
        _plain(lambda: rules.check_manual(op))
        if step["state"] != "active":
            raise InvalidInput(f"procedure: «{op.name}» is {step['state']}")
        follow = _plain(lambda: rules.check_next(kind, op.code, next_operation))
        tz = meter["time_zone"]
        today = self.clock().astimezone(zone(tz)).date()
        earliest = await asyncio.to_thread(self._last_done_on, procedure_id)
        _plain(lambda: rules.check_actual_date(done_on, earliest, today))
        at = _local_midnight(done_on, tz)
        applied = await self._apply(token, user, row, op, meter, at, done_on, given)
        await asyncio.to_thread(self._finish_step, user, row, step["id"], op, follow, done_on, text, applied)
        if op.effect in _CHANGES_POLLING:
            await self._push_meter_list(token, user, procedure_id, meter["site"])
        await self._run_automatic(procedure_id)
        return await self.procedure(token, procedure_id)

    async def _push_meter_list(self, token: str, user: UserInfo, procedure_id: int, site: str) -> None:
        """Send the site's edge its new meter list (polling stops or resumes there, from the dates of
        ``site_meters``). An automatic operation that follows waits for the edge to take it: the meter
        must be on the edge's list before the edge can test it. A list the cloud cannot send (the
        site's registry has a meter the edge would refuse) is logged on the procedure with the reason."""
        try:
            command = await self.commands.issue(token, "meter_config", site=site)
        except (InvalidInput, Forbidden, NotFound) as exc:
            await asyncio.to_thread(self._note, procedure_id, user.id, "meter_list",
                                    f"список ПУ не отправлен контроллеру объекта {site}: {exc}")
            return

        def write() -> None:
            with self.registry.connect() as db:
                step = db.execute("SELECT s.id, s.operation, p.kind FROM procedure_steps s JOIN procedures p ON "
                                  "p.id = s.procedure_id WHERE s.procedure_id = ? AND s.state = 'active' AND "
                                  "s.command_id IS NULL", (procedure_id,)).fetchone()
                if step is not None and rules.operation(rules.Kind(step["kind"]), step["operation"]).automatic:
                    db.execute("UPDATE procedure_steps SET command_id = ? WHERE id = ?", (command.id, step["id"]))
                self._log(db, procedure_id, None, user.id, "meter_list",
                          f"список ПУ отправлен контроллеру объекта {site}: команда meter_config {command.id}")
        await asyncio.to_thread(write)

    def _note(self, procedure_id: int, user_id: int | None, action: str, notes: str) -> None:
        with self.registry.connect() as db:
            self._log(db, procedure_id, None, user_id, action, notes)
        log.warning("event=procedure_note procedure=%s action=%s notes=%r", procedure_id, action, notes)

    async def retry(self, token: str, procedure_id: int) -> ProcedureInfo:
        """Run a failed automatic operation again (LoRa: wake the module first)."""
        user = require_engineer(await self.auth.user(token))
        check_id("procedure_id", procedure_id)
        row, step, _ = await asyncio.to_thread(self._current, user, procedure_id)
        op = rules.operation(rules.Kind(row["kind"]), step["operation"])
        if not op.automatic or step["state"] != "failed":
            raise InvalidInput(f"procedure: «{op.name}» has not failed; only a failed automatic operation runs again")

        def write() -> None:
            with self.registry.connect() as db:
                db.execute("UPDATE procedure_steps SET state = 'active', command_id = NULL, finished_at = NULL "
                           "WHERE id = ? AND state = 'failed'", (step["id"],))
                self._log(db, procedure_id, step["id"], user.id, "retry", "")
                audit.record(db, user, "procedure.retry", f"procedure:{procedure_id}", None,
                             {"operation": op.code})
        await asyncio.to_thread(write)
        await self._run_automatic(procedure_id)
        return await self.procedure(token, procedure_id)

    async def cancel(self, token: str, procedure_id: int, notes: str = "") -> ProcedureInfo:
        """Cancel the procedure (the engineer, on the meter's page): settings of completed operations stay."""
        user = require_engineer(await self.auth.user(token))
        return await self._stop(token, user, procedure_id, _notes(notes), "cancel", "cancelled")

    async def force_complete(self, token: str, procedure_id: int, notes: str = "") -> ProcedureInfo:
        """Force the current operation's completion (active operations page): the procedure is
        cancelled; settings of completed operations stay (an open out-of-service interval too)."""
        user = _require_dispatcher_or_engineer(await self.auth.user(token))
        return await self._stop(token, user, procedure_id, _notes(notes), "force", "forced")

    async def _stop(self, token: str, user: UserInfo, procedure_id: int, text: str, action: str,
                    step_state: str) -> ProcedureInfo:
        check_id("procedure_id", procedure_id)

        def write() -> None:
            with self.registry.connect() as db:
                row = self._procedure_row(db, user, procedure_id)
                if row["state"] != "active":
                    raise InvalidInput(f"procedure: procedure {procedure_id} is {row['state']}, not active")
                now = iso_utc(self.clock())
                step = db.execute("SELECT * FROM procedure_steps WHERE procedure_id = ? AND state IN "
                                  "('active', 'failed') ORDER BY id DESC LIMIT 1", (procedure_id,)).fetchone()
                if step is not None:
                    db.execute("UPDATE procedure_steps SET state = ?, finished_at = ?, finished_by = ?, "
                               "notes = CASE WHEN notes = '' THEN ? ELSE notes || '; ' || ? END WHERE id = ?",
                               (step_state, now, user.id, text, text, step["id"]))
                db.execute("UPDATE procedures SET state = 'cancelled', finished_at = ?, finished_by = ? WHERE id = ?",
                           (now, user.id, procedure_id))
                self._log(db, procedure_id, step["id"] if step else None, user.id, action, text)
                audit.record(db, user, f"procedure.{action}", f"procedure:{procedure_id}",
                             {"state": "active", "operation": step["operation"] if step else None},
                             {"state": "cancelled", "notes": text})
        await asyncio.to_thread(write)
        return await self.procedure(token, procedure_id)

    # --- deadlines (4.6.12) ------------------------------------------------------------------------
    async def deadlines(self, token: str) -> list[Deadline]:
        user = require_operational_view(await self.auth.user(token), "operation deadlines are operational settings")
        own = {(r["procedure"], r["operation"]): r["days"] for r in await asyncio.to_thread(
            self.registry.all, "SELECT * FROM operation_deadlines WHERE company_id = ?", user.company_id)}
        return [Deadline(k.value, rules.NAMES[k], op.code, op.name, own.get((k.value, op.code), op.days), op.days,
                         op.automatic) for k in rules.Kind for op in rules.operations(k)]

    async def set_deadline(self, token: str, procedure: str, operation: str, days: int) -> Deadline:
        """A dispatcher sets an operation's planned duration for the company (operations started later use it)."""
        user = require_writer(await self.auth.user(token))
        if user.role is not Role.DISPATCHER:
            raise Forbidden(f"only a dispatcher edits the operation deadlines, not the {user.role.value} role")
        kind = _plain(lambda: rules.kind(procedure))
        op = _plain(lambda: rules.operation(kind, operation))
        days = _plain(lambda: rules.check_days(days))

        def write() -> None:
            with self.registry.connect() as db:
                before = db.execute("SELECT days FROM operation_deadlines WHERE company_id = ? AND procedure = ? "
                                    "AND operation = ?", (user.company_id, kind.value, op.code)).fetchone()
                db.execute("INSERT INTO operation_deadlines (company_id, procedure, operation, days, updated_by, "
                           "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (company_id, procedure, operation) "
                           "DO UPDATE SET days = excluded.days, updated_by = excluded.updated_by, "
                           "updated_at = excluded.updated_at",
                           (user.company_id, kind.value, op.code, days, user.id, iso_utc(self.clock())))
                audit.record(db, user, "operation_deadline.set", f"operation_deadline:{kind.value}:{op.code}",
                             {"days": before["days"] if before else op.days}, {"days": days})
        await asyncio.to_thread(write)
        return Deadline(kind.value, rules.NAMES[kind], op.code, op.name, days, op.days, op.automatic)

    # --- what an operation does to the meter ---------------------------------------------------------
    async def _apply(self, token: str, user: UserInfo, row: sqlite3.Row, op: rules.Operation, meter: sqlite3.Row,
                     at: datetime, done_on: date, given: dict[str, Any]) -> dict[str, Any]:
        """Carry out a manual operation's effect; the settings to keep with the step."""
        kind = rules.Kind(row["kind"])
        effect = op.effect
        meter_id = meter["id"]
        if effect is rules.Effect.COMMISSION:
            return await self._commission(token, row, meter, at, done_on, given)
        if effect is rules.Effect.DECOMMISSION:
            final = given.get("final_readings") or None
            await self._meters().decommission(token, meter_id, at, final)
            return {"at": at.isoformat(), "final_readings": final or {}}
        if effect is rules.Effect.REPLACE and given.get("new_serial"):
            replaced = await self._meters().replace(
                token, meter_id, new_serial=given["new_serial"], at=at,
                old_final_readings=given.get("final_readings"), new_initial_readings=given.get("initial_readings"),
                new_model=given.get("new_model"))
            await asyncio.to_thread(self._close_outage, meter_id, at, allow_before=True)
            return {"at": at.isoformat(), "new_meter_id": replaced.new.id, "new_serial": replaced.new.serial}
        if effect is rules.Effect.CHOOSE_SENSOR:
            return sensor_choice(given, meter, at)
        if given:
            raise InvalidInput(f"settings: «{op.name}» of {rules.NAMES[kind]} takes no settings "
                               f"(got {', '.join(sorted(given))})")
        return {}

    async def _commission(self, token: str, row: sqlite3.Row, meter: sqlite3.Row, at: datetime, done_on: date,
                          given: dict[str, Any]) -> dict[str, Any]:
        """ввод ПУ в эксплуатацию: polling from ``at``; next verification date, archive kinds, initial readings."""
        allowed = {"next_verification_on", "archive_kinds", "initial_readings"}
        if unknown := sorted(set(given) - allowed):
            raise InvalidInput(f"settings: {unknown[0]} is not a commissioning setting ({', '.join(sorted(allowed))})")
        nxt = given.get("next_verification_on")
        if isinstance(nxt, str):
            try:
                nxt = date.fromisoformat(nxt)
            except ValueError:
                raise InvalidInput(f"settings.next_verification_on: a date, got {nxt!r}") from None
        if not isinstance(nxt, date):
            raise InvalidInput("settings.next_verification_on: the date of the next verification is required")
        check_day("settings.next_verification_on", nxt)
        if nxt <= done_on:
            raise InvalidInput(f"settings.next_verification_on: {nxt.isoformat()} must be after the commissioning "
                               f"date {done_on.isoformat()}")
        kinds = given.get("archive_kinds")
        if not isinstance(kinds, list | tuple) or not kinds or not all(isinstance(k, str) for k in kinds):
            raise InvalidInput("settings.archive_kinds: choose the archive kinds to transfer (hour, day, month)")
        readings = given.get("initial_readings") or {}
        if not isinstance(readings, Mapping):
            raise InvalidInput("settings.initial_readings: an object of \"channel:parameter\" -> reading")
        intervals = await asyncio.to_thread(load_outages, self.registry, [meter["id"]])
        open_ = [o for o in intervals.get(meter["id"], []) if o.until_at is None]
        if row["kind"] != rules.Kind.INSTALL.value and open_ and at < open_[-1].from_at:
            raise InvalidInput(f"done_on: {done_on.isoformat()} is before the meter was taken out of service "
                               f"({open_[-1].from_at.astimezone(zone(meter['time_zone'])).date().isoformat()})")
        changes: dict[str, Any] = {"archive_kinds": list(kinds)}
        if row["kind"] == rules.Kind.INSTALL.value:
            if meter["replaces_meter_id"] is None:
                changes["commissioned_at"] = at
            changes["initial_readings"] = dict(readings)
        elif readings:  # kept with the step: the meter's own check of its counters
            with self.registry.connect() as db:
                check_readings("settings.initial_readings", readings, _channels(db, meter["id"]))
        await self._meters().update(token, meter["id"], **changes)
        dates: dict[str, Any] = {"next_verification_on": nxt}
        if row["kind"] == rules.Kind.VERIFICATION.value:
            dates["verified_on"] = done_on
        await BuildingsService(self.registry, self.auth).update_meter(token, meter["id"], **dates)
        await asyncio.to_thread(self._close_outage, meter["id"], at, allow_before=row["kind"] == "install")
        return {"commissioned_at": at.isoformat(), "next_verification_on": nxt.isoformat(),
                "archive_kinds": list(kinds), "initial_readings": {str(k): v for k, v in readings.items()}}

    def _close_outage(self, meter_id: int, at: datetime, allow_before: bool) -> None:
        with self.registry.connect() as db:
            for r in db.execute("SELECT id, from_at FROM meter_outages WHERE meter_id = ? AND until_at IS NULL",
                                (meter_id,)).fetchall():
                start = utc_time(r["from_at"])
                assert start is not None  # noqa: S101 - NOT NULL column
                if at < start and allow_before:  # commissioned on an earlier date than the procedure began
                    db.execute("UPDATE meter_outages SET from_at = ?, until_at = ? WHERE id = ?",
                               (iso_utc(at), iso_utc(at), r["id"]))
                else:
                    db.execute("UPDATE meter_outages SET until_at = ? WHERE id = ?", (iso_utc(max(at, start)), r["id"]))

    def _finish_step(self, user: UserInfo, row: sqlite3.Row, step_id: int, op: rules.Operation,
                     follow: rules.Operation | None, done_on: date, text: str, applied: dict[str, Any]) -> None:
        procedure_id = row["id"]
        kind = rules.Kind(row["kind"])
        with self.registry.connect() as db:
            now = self.clock()
            if op.effect is rules.Effect.OUT_OF_SERVICE:  # polling stops from the actual date's local midnight
                at = _local_midnight(done_on, db.execute(
                    "SELECT b.time_zone FROM meters m JOIN buildings b ON b.id = m.building_id WHERE m.id = ?",
                    (row["meter_id"],)).fetchone()["time_zone"])
                still = db.execute("SELECT from_at FROM meter_outages WHERE meter_id = ? AND until_at IS NULL",
                                   (row["meter_id"],)).fetchone()
                if still is None:
                    db.execute("INSERT INTO meter_outages (meter_id, procedure_id, from_at) VALUES (?, ?, ?)",
                               (row["meter_id"], procedure_id, iso_utc(at)))
                    applied = {**applied, "out_of_service_from": at.isoformat()}
                else:  # a cancelled procedure left it out of service: that interval goes on
                    text = f"{text} (ПУ выведен из эксплуатации ранее, с {still['from_at'][:10]})".strip()
            changed = db.execute("UPDATE procedure_steps SET state = 'done', done_on = ?, finished_at = ?, "
                                 "finished_by = ?, notes = ?, settings = ? WHERE id = ? AND state = 'active'",
                                 (done_on.isoformat(), iso_utc(now), user.id, text,
                                  json.dumps(applied, ensure_ascii=False, sort_keys=True, default=str), step_id))
            if changed.rowcount != 1:
                raise InvalidInput(f"procedure: «{op.name}» was completed or stopped meanwhile")
            if applied:
                db.execute("UPDATE procedures SET settings = json_patch(settings, ?) WHERE id = ?",
                           (json.dumps({op.code: applied}, ensure_ascii=False, default=str), procedure_id))
            self._log(db, procedure_id, step_id, user.id, "complete", f"{op.name}: {done_on.isoformat()}. {text}"
                      .strip(". "))
            audit.record(db, user, "procedure.complete", f"procedure:{procedure_id}", {"operation": op.code},
                         {"operation": op.code, "done_on": done_on.isoformat(), "notes": text, "settings": applied,
                          "next": follow.code if follow else None})
            if follow is None:
                self._end(db, procedure_id, user.id, now)
            else:
                self._new_step(db, row["company_id"], procedure_id, kind, follow, now)

    # --- automatic operations ---------------------------------------------------------------------------
    async def _run_automatic(self, procedure_id: int) -> None:
        """Issue the current automatic operation's command (if any is due) and publish it at once."""
        issued = await asyncio.to_thread(self._run_pending, procedure_id)
        if issued:
            await self.commands.send_pending()

    def _run_pending(self, procedure_id: int) -> bool:
        """Start the procedure's active automatic operation that has not run yet; True if a command was issued."""
        with self.registry.connect() as db:
            row = db.execute("SELECT p.*, s.id AS step_id, s.operation FROM procedures p JOIN procedure_steps s ON "
                             "s.procedure_id = p.id WHERE p.id = ? AND p.state = 'active' AND s.state = 'active' "
                             "AND s.command_id IS NULL", (procedure_id,)).fetchone()
        if row is None:
            return False
        kind = rules.Kind(row["kind"])
        op = rules.operation(kind, row["operation"])
        if not op.automatic:
            return False
        actor = self._actor(row["id"])
        if op.effect is rules.Effect.CORRECT:
            self._correct(row, actor)
            return False
        command = op.command
        assert command is not None  # noqa: S101 - every automatic operation is a command or the correction
        args = {"force": True} if op.effect is rules.Effect.TIME_SERVICE else {}
        try:
            command_id = self.commands.issue_as(actor, command, row["meter_id"], args)
        except (InvalidInput, Forbidden, NotFound) as exc:
            self._fail(row["step_id"], procedure_id, f"команда {command} не отправлена: {exc}")
            return False
        with self.registry.connect() as db:
            db.execute("UPDATE procedure_steps SET command_id = ? WHERE id = ? AND state = 'active'",
                       (command_id, row["step_id"]))
            self._log(db, procedure_id, row["step_id"], None, "run", f"{op.name}: команда {command} {command_id}")
        return True

    def on_commands(self, command_ids: list[str]) -> None:
        """CommandService's hook after results or time-outs moved commands: advance their procedures."""
        if command_ids:
            self.catch_up(command_ids)

    def catch_up(self, command_ids: list[str] | None = None) -> int:
        """Complete or fail every active automatic operation whose command has finished; issue the
        next ones. Idempotent (a step moves only from "active"); returns how many moved."""
        sql = ("SELECT s.id, s.procedure_id, s.operation, s.command_id, c.state AS command_state, c.result, "
               "c.expires_at, c.type AS command_type, p.kind, p.meter_id FROM procedure_steps s "
               "JOIN commands c ON c.id = s.command_id JOIN procedures p ON p.id = s.procedure_id "
               "WHERE s.state = 'active' AND p.state = 'active' AND c.state IN ('done', 'failed', 'timed_out')")
        params: list[Any] = []
        if command_ids is not None:
            sql += f" AND s.command_id IN ({', '.join('?' for _ in command_ids)})"
            params = list(command_ids)
        rows = self.registry.all(sql, *params)
        moved = 0
        for r in rows:
            if self._settle(r):
                moved += 1
                if self._run_pending(r["procedure_id"]):
                    pass  # published by the command bus's send_pending loop (or the caller's)
        return moved

    def _device_identity(self, procedure_id: int) -> dict[str, Any]:
        """The serial and model the device gave in this procedure's availability test (a LoRa module
        answers it with its passport), for the passport check to compare with the registry."""
        with self.registry.reading() as db:
            row = db.execute("SELECT settings FROM procedure_steps WHERE procedure_id = ? AND operation = "
                             "'availability_test' AND state = 'done' ORDER BY id DESC LIMIT 1",
                             (procedure_id,)).fetchone()
        found = json.loads(row["settings"]) if row is not None and row["settings"] else {}
        return {k: found[k] for k in ("serial", "model") if isinstance(found, dict) and k in found}

    def _settle(self, r: sqlite3.Row) -> bool:
        kind = rules.Kind(r["kind"])
        op = rules.operation(kind, r["operation"])
        result = json.loads(r["result"]) if r["result"] else {}
        if r["command_type"] == "meter_config":  # the edge's new meter list, awaited before the check runs
            if r["command_state"] != "done":
                reason = (result.get("reason") if isinstance(result, dict) else None) or r["command_state"]
                return self._fail(r["id"], r["procedure_id"], f"{op.name}: контроллер не принял список ПУ: {reason}")
            with self.registry.connect() as db:
                changed = db.execute("UPDATE procedure_steps SET command_id = NULL WHERE id = ? AND state = 'active' "
                                     "AND command_id = ?", (r["id"], r["command_id"]))
                if changed.rowcount == 1:
                    self._log(db, r["procedure_id"], r["id"], None, "meter_list", "контроллер принял список ПУ")
            return changed.rowcount == 1
        if r["command_state"] != "done":
            reason = result.get("reason") if isinstance(result, dict) else None
            if r["command_state"] == "timed_out":
                reason = f"нет ответа от ПУ до {r['expires_at'][:16].replace('T', ' ')} UTC" + (
                    " (LoRa: поднесите магнит к ПУ и повторите)" if op.effect is rules.Effect.AVAILABILITY else "")
            return self._fail(r["id"], r["procedure_id"], f"{op.name}: не выполнено: {reason or r['command_state']}")
        if op.effect is rules.Effect.PASSPORT:
            result = {**self._device_identity(r["procedure_id"]), **result}
        ok, text, kept = judge(op, result, self._meter_facts(r["meter_id"]))
        if not ok:
            return self._fail(r["id"], r["procedure_id"], text)
        with self.registry.connect() as db:
            now = self.clock()
            changed = db.execute("UPDATE procedure_steps SET state = 'done', finished_at = ?, notes = ?, settings = ? "
                                 "WHERE id = ? AND state = 'active'",
                                 (iso_utc(now), text, json.dumps(kept, ensure_ascii=False, default=str), r["id"]))
            if changed.rowcount != 1:
                return False
            self._log(db, r["procedure_id"], r["id"], None, "result", text)
            follow = rules.default_next(kind, op.code)
            if follow is None:
                self._end(db, r["procedure_id"], None, now)
            else:
                company = db.execute("SELECT company_id FROM procedures WHERE id = ?", (r["procedure_id"],)).fetchone()
                self._new_step(db, company["company_id"], r["procedure_id"], kind, follow, now)
        log.info("event=procedure_operation_done procedure=%s operation=%s", r["procedure_id"], op.code)
        return True

    def _fail(self, step_id: int, procedure_id: int, reason: str) -> bool:
        with self.registry.connect() as db:
            changed = db.execute("UPDATE procedure_steps SET state = 'failed', finished_at = ?, notes = ? "
                                 "WHERE id = ? AND state = 'active'", (iso_utc(self.clock()), reason, step_id))
            if changed.rowcount != 1:
                return False
            self._log(db, procedure_id, step_id, None, "fail", reason)
        log.warning("event=procedure_operation_failed procedure=%s step=%s reason=%r", procedure_id, step_id, reason)
        return True

    def _correct(self, row: sqlite3.Row, actor: UserInfo) -> None:
        """коррекция показаний: a new version of the chosen archive value (ReplacingMergeTree keeps the
        highest), audited with the value before and after."""
        with self.registry.connect() as db:
            chosen = json.loads(db.execute("SELECT settings FROM procedures WHERE id = ?",
                                           (row["id"],)).fetchone()["settings"]).get("choose_sensor", {})
            meter = db.execute("SELECT m.serial, m.model, b.site FROM meters m JOIN buildings b ON "
                               "b.id = m.building_id WHERE m.id = ?", (row["meter_id"],)).fetchone()
        if not chosen:
            self._fail(row["step_id"], row["id"], "коррекция показаний: не выбран сенсор")
            return
        period = datetime.fromisoformat(chosen["period_utc"]).astimezone(UTC).replace(tzinfo=None)
        key = {"co": row["company_id"], "m": meter["serial"], "ch": chosen["channel"], "k": chosen["kind"],
               "p": chosen["parameter"], "at": period}
        found = self.ch.query_sync(
            "SELECT nature, value, version, quality FROM {db}.archive FINAL WHERE company = {co:UInt32} AND "
            "meter = {m:String} AND channel = {ch:UInt16} AND kind = {k:String} AND parameter = {p:String} AND "
            "period_start = {at:DateTime}", key)
        top = self.ch.query_sync(
            "SELECT max(version) FROM {db}.archive WHERE company = {co:UInt32} AND meter = {m:String} AND "
            "channel = {ch:UInt16} AND kind = {k:String} AND parameter = {p:String} AND "
            "period_start = {at:DateTime}", key)
        spec = model_spec(meter["model"])
        archive = spec.archive(ArchiveKind(chosen["kind"])) if spec else None
        nature = found[0][0] if found else (archive.nature.value if archive else "integral")
        before = float(found[0][1]) if found else None
        version = int(top[0][0] or 0) + 1 if top and top[0][0] is not None else 1
        quality = int(found[0][3]) if found else 0
        now = self.clock()
        self.ch.insert_archive_sync([(row["company_id"], meter["site"], meter["serial"], chosen["channel"],
                                      chosen["kind"], nature, chosen["parameter"], period, float(chosen["value"]),
                                      quality, version, now.replace(tzinfo=None), 0)],
                                    f"correction:{row['step_id']}")
        text = (f"коррекция показаний: канал {chosen['channel']}, {chosen['parameter']}, {chosen['kind']} "
                f"{chosen['period_local']}: {'—' if before is None else f'{before:g}'} → {float(chosen['value']):g} "
                f"(версия {version})")
        with self.registry.connect() as db:
            changed = db.execute("UPDATE procedure_steps SET state = 'done', finished_at = ?, notes = ?, settings = ? "
                                 "WHERE id = ? AND state = 'active'",
                                 (iso_utc(now), text, json.dumps({"before": before, "after": chosen["value"],
                                                               "version": version}), row["step_id"]))
            if changed.rowcount != 1:
                return
            self._log(db, row["id"], row["step_id"], actor.id, "result", text)
            audit.record(db, actor, "archive.correct", f"meter:{row['meter_id']}",
                         {"channel": chosen["channel"], "parameter": chosen["parameter"], "kind": chosen["kind"],
                          "period": chosen["period_utc"], "value": before},
                         {"channel": chosen["channel"], "parameter": chosen["parameter"], "kind": chosen["kind"],
                          "period": chosen["period_utc"], "value": chosen["value"], "version": version,
                          "procedure_id": row["id"]})
            self._end(db, row["id"], None, now)

    # --- rows and records ---------------------------------------------------------------------------------
    def _actor(self, procedure_id: int) -> UserInfo:
        """Who an automatic operation runs for: the engineer who completed the last operation (or started it)."""
        row = self.registry.one(
            "SELECT u.id, u.login, u.full_name, u.role, u.reader, u.company_id, c.name AS company_name, c.city "
            "FROM users u JOIN companies c ON c.id = u.company_id WHERE u.id = COALESCE((SELECT finished_by FROM "
            "procedure_steps WHERE procedure_id = ? AND finished_by IS NOT NULL ORDER BY id DESC LIMIT 1), "
            "(SELECT started_by FROM procedures WHERE id = ?))", procedure_id, procedure_id)
        if row is None:
            raise NotFound(f"procedure {procedure_id}: its engineer's account is gone")
        return UserInfo(row["id"], row["login"], row["full_name"], Role(row["role"]), bool(row["reader"]),
                        row["company_id"], row["company_name"], row["city"])

    def _meter_facts(self, meter_id: int) -> dict[str, Any]:
        with self.registry.connect() as db:
            meter = db.execute("SELECT serial, model FROM meters WHERE id = ?", (meter_id,)).fetchone()
            channels = [r["number"] for r in db.execute("SELECT number FROM meter_channels WHERE meter_id = ?",
                                                        (meter_id,))]
        return {"serial": meter["serial"], "model": meter["model"], "channels": channels}

    def _current(self, user: UserInfo, procedure_id: int) -> tuple[sqlite3.Row, sqlite3.Row, sqlite3.Row]:
        with self.registry.connect() as db:
            row = self._procedure_row(db, user, procedure_id)
            if row["state"] != "active":
                raise InvalidInput(f"procedure: procedure {procedure_id} is {row['state']}, not active")
            step = db.execute("SELECT * FROM procedure_steps WHERE procedure_id = ? AND state IN ('active', 'failed') "
                              "ORDER BY id DESC LIMIT 1", (procedure_id,)).fetchone()
            if step is None:
                raise InvalidInput(f"procedure: procedure {procedure_id} has no current operation")
            return row, step, self._meter_row(db, user, row["meter_id"])

    def _last_done_on(self, procedure_id: int) -> date | None:
        row = self.registry.one("SELECT max(done_on) AS d FROM procedure_steps WHERE procedure_id = ? AND "
                                "state = 'done'", procedure_id)
        return date.fromisoformat(row["d"]) if row and row["d"] else None

    @staticmethod
    def _procedure_row(db: sqlite3.Connection, user: UserInfo, procedure_id: int) -> sqlite3.Row:
        row = db.execute("SELECT * FROM procedures WHERE id = ? AND company_id = ?",
                         (procedure_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"procedure {procedure_id} not found")
        return row

    @staticmethod
    def _meter_row(db: sqlite3.Connection, user: UserInfo, meter_id: int) -> sqlite3.Row:
        row = db.execute("SELECT m.*, b.address, b.time_zone, b.site, p.number AS premise_number FROM meters m "
                         "JOIN buildings b ON b.id = m.building_id LEFT JOIN premises p ON p.id = m.premise_id "
                         "WHERE m.id = ? AND m.company_id = ?", (meter_id, user.company_id)).fetchone()
        if row is None:
            raise NotFound(f"meter {meter_id} not found")
        return row

    def _planned_days(self, db: sqlite3.Connection, company_id: int, kind: rules.Kind, op: rules.Operation) -> int:
        own = db.execute("SELECT days FROM operation_deadlines WHERE company_id = ? AND procedure = ? AND "
                         "operation = ?", (company_id, kind.value, op.code)).fetchone()
        return int(own["days"]) if own else op.days

    def _new_step(self, db: sqlite3.Connection, company_id: int, procedure_id: int, kind: rules.Kind,
                  op: rules.Operation, now: datetime) -> int:
        planned = rules.deadline(now, self._planned_days(db, company_id, kind, op))
        return int(db.execute("INSERT INTO procedure_steps (procedure_id, operation, state, started_at, planned_at) "
                              "VALUES (?, ?, 'active', ?, ?)",
                              (procedure_id, op.code, iso_utc(now), iso_utc(planned))).lastrowid or 0)

    def _end(self, db: sqlite3.Connection, procedure_id: int, user_id: int | None, now: datetime) -> None:
        db.execute("UPDATE procedures SET state = 'completed', finished_at = ?, finished_by = ? WHERE id = ? "
                   "AND state = 'active'", (iso_utc(now), user_id, procedure_id))
        self._log(db, procedure_id, None, user_id, "finish", "процедура завершена")

    def _log(self, db: sqlite3.Connection, procedure_id: int, step_id: int | None, user_id: int | None,
             action: str, notes: str) -> None:
        db.execute("INSERT INTO procedure_log (procedure_id, step_id, at, user_id, action, notes) VALUES "
                   "(?, ?, ?, ?, ?, ?)", (procedure_id, step_id, iso_utc(self.clock()), user_id, action, notes))

    def _info(self, db: sqlite3.Connection, row: sqlite3.Row, with_log: bool = False) -> ProcedureInfo:
        kind = rules.Kind(row["kind"])
        now = self.clock()
        names = {r["id"]: r["full_name"] for r in db.execute(
            "SELECT id, full_name FROM users WHERE company_id = ?", (row["company_id"],))}
        steps = []
        for s in db.execute("SELECT s.*, c.state AS command_state FROM procedure_steps s LEFT JOIN commands c "
                            "ON c.id = s.command_id WHERE s.procedure_id = ? ORDER BY s.id", (row["id"],)):
            op = rules.operation(kind, s["operation"])
            planned = utc_time(s["planned_at"])
            assert planned is not None  # noqa: S101 - NOT NULL column
            steps.append(StepInfo(s["id"], op.code, op.name, op.mandatory, op.automatic, s["state"],
                                  utc_time(s["started_at"]), planned,  # type: ignore[arg-type]
                                  rules.overdue(planned, now, s["state"] != "active" and s["state"] != "failed"),
                                  date.fromisoformat(s["done_on"]) if s["done_on"] else None,
                                  utc_time(s["finished_at"]), names.get(s["finished_by"]), s["notes"],
                                  json.loads(s["settings"]), s["command_id"], s["command_state"]))
        current = next((s for s in reversed(steps) if s.state in ("active", "failed")), None) \
            if row["state"] == "active" else None
        following: tuple[str, ...] = ()
        default: str | None = None
        if current is not None and not current.automatic:
            following = tuple(op.code for op in rules.next_operations(kind, current.operation))
            nxt = rules.default_next(kind, current.operation)
            default = nxt.code if nxt else None
        entries: tuple[LogEntry, ...] = ()
        if with_log:
            ops = {s.id: s.name for s in steps}
            entries = tuple(LogEntry(utc_time(r["at"]), names.get(r["user_id"]), r["action"],  # type: ignore[arg-type]
                                     ops.get(r["step_id"]), r["notes"]) for r in db.execute(
                "SELECT * FROM procedure_log WHERE procedure_id = ? ORDER BY id", (row["id"],)))
        meter = db.execute("SELECT serial FROM meters WHERE id = ?", (row["meter_id"],)).fetchone()
        return ProcedureInfo(row["id"], row["meter_id"], meter["serial"], kind.value, rules.NAMES[kind], row["state"],
                             utc_time(row["started_at"]), names.get(row["started_by"]),  # type: ignore[arg-type]
                             utc_time(row["finished_at"]), names.get(row["finished_by"]), tuple(steps), following,
                             default, entries)
