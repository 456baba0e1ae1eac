"""Commands from the cloud to an edge agent and their life cycle (interfaces: protocol/commands.py).

A command is a registry row (migration 4) created by a user's request, published on DU_DOWN
through an injected ``Publisher`` (cloud/command_bus.py wires NATS; this module knows no NATS),
and moved by the edge's results: created -> sent -> acknowledged -> done | failed, or timed_out
when no final result came by ``expires_at``. Every move is in ``TRANSITIONS``, one table.
While no publisher is attached or it fails, a command stays "created" and ``send_pending``
sends it later. Who may issue what follows the manual (see ``ALLOWED``); readers never; every
issue is audit-logged in the same transaction. Another company's command is "not found".
A service procedure's automatic operations issue theirs with ``issue_as`` and move on the
``listeners`` called with the commands that results or time-outs moved (cloud/services/procedures.py).
Tests: tests/integration/test_cloud_commands.py, tests/integration/test_roles_tokens.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_operational_view
from cloud.services.models import Forbidden, InvalidInput, NotFound, Role, UserInfo
from cloud.services.outages import out_of_service, outages, resumed_at
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import subjects
from protocol.commands import Command, CommandType, check_args, encode_command
from protocol.errors import DecodeError
from protocol.meters import catalogue_depth_days, meter_list, meter_spec
from protocol.periods import zone
from protocol.vocabulary import ArchiveKind
from protocol.wire import CommandResult

log = logging.getLogger(__name__)

STATES = ("created", "sent", "acknowledged", "done", "failed", "timed_out")
FINAL = frozenset({"done", "failed", "timed_out"})

# (state, event) -> new state. Events: "published" (JetStream acknowledged the publish), the
# edge's result states "accepted" / "done" / "failed", and "expired" (the sweeper). A pair not
# listed leaves the command as it is, which makes every event idempotent. A result may overtake
# the record of its publish ack, and a final result that arrives after the time-out is still
# the truth about what the edge did, so it replaces "timed_out".
TRANSITIONS: dict[tuple[str, str], str] = {
    ("created", "published"): "sent",
    ("created", "accepted"): "acknowledged",
    ("sent", "accepted"): "acknowledged",
    **{(state, final): final for state in ("created", "sent", "acknowledged", "timed_out")
       for final in ("done", "failed")},
    **{(state, "expired"): "timed_out" for state in ("created", "sent", "acknowledged")},
}

# Who may issue each type (manual 2.3: the administrator manages users and company settings
# only; device interaction that changes a device or the edge's meter list belongs to the
# service engineer's procedures, 4.5.5: commissioning, time service; power limitation is the
# dispatcher's, 4.5.8). Reading archives, current values or testing availability changes
# nothing on a device, so dispatchers (data-arrival control, 4.2.3) and engineers may.
ALLOWED: dict[CommandType, frozenset[Role]] = {
    CommandType.BACKFILL: frozenset({Role.DISPATCHER, Role.ENGINEER}),
    CommandType.AVAILABILITY: frozenset({Role.DISPATCHER, Role.ENGINEER}),
    CommandType.READ_CURRENT: frozenset({Role.DISPATCHER, Role.ENGINEER}),
    CommandType.TIME_SYNC: frozenset({Role.ENGINEER}),
    CommandType.METER_CONFIG: frozenset({Role.ENGINEER}),
    CommandType.RELAY: frozenset({Role.DISPATCHER}),
}

# how long the edge has to answer, by type (a LoRa class A device answers only after its next uplink)
DEFAULT_TTL: dict[CommandType, timedelta] = {
    CommandType.BACKFILL: timedelta(hours=24),
    CommandType.METER_CONFIG: timedelta(hours=24),
    CommandType.TIME_SYNC: timedelta(hours=6),
    CommandType.RELAY: timedelta(hours=6),
    CommandType.AVAILABILITY: timedelta(hours=6),
    CommandType.READ_CURRENT: timedelta(hours=6),
}
MIN_TTL, MAX_TTL = timedelta(minutes=1), timedelta(days=7)
# a relay's power limit: 1 MW is far above any metered connection here, and keeps the value a plain int
MAX_LIMIT_W = 1_000_000


class PublishError(Exception):
    """The bus could not take a command now (NATS unreachable, no JetStream ack)."""


# (subject, payload, message id) -> returns once JetStream acknowledged the publish, or raises PublishError
Publisher = Callable[[str, bytes, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CommandInfo:
    id: str
    site: str
    type: str
    state: str
    meter_id: int | None
    meter_serial: str | None
    args: dict[str, Any] = field(hash=False)
    created_by: str | None  # login
    created_at: datetime  # UTC, like every time here
    expires_at: datetime
    sent_at: datetime | None = None
    acknowledged_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = field(default=None, hash=False)  # the final result's detail

    @property
    def final(self) -> bool:
        return self.state in FINAL


def _iso(at: datetime) -> str:
    """A fixed-width ISO UTC time, so that the registry can compare them as text."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


_SELECT = """
SELECT c.*, m.serial AS meter_serial, u.login AS creator FROM commands c
LEFT JOIN meters m ON m.id = c.meter_id LEFT JOIN users u ON u.id = c.created_by
"""


def _info(row: sqlite3.Row) -> CommandInfo:
    return CommandInfo(id=row["id"], site=row["site"], type=row["type"], state=row["state"], meter_id=row["meter_id"],
                       meter_serial=row["meter_serial"], args=json.loads(row["args"]), created_by=row["creator"],
                       created_at=datetime.fromisoformat(row["created_at"]),
                       expires_at=datetime.fromisoformat(row["expires_at"]), sent_at=_time(row["sent_at"]),
                       acknowledged_at=_time(row["acknowledged_at"]), finished_at=_time(row["finished_at"]),
                       result=json.loads(row["result"]) if row["result"] else None)


def command_type(value: str) -> CommandType:
    try:
        return CommandType(value)
    except ValueError:
        raise InvalidInput(f"type: one of {', '.join(t.value for t in CommandType)}, got {value!r}") from None


def may_issue(user: UserInfo, kind: CommandType) -> bool:
    """Whether the user may issue commands of this type (the UI hides what this refuses)."""
    return not user.reader and user.role in ALLOWED[kind]


class CommandService:
    def __init__(self, registry: Registry, auth: AuthService, publisher: Publisher | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 clickhouse: ClickHouse | None = None) -> None:
        self.registry = registry
        self.auth = auth
        self.ch = clickhouse  # for meter_config: the first archive period stored of each meter
        self.publisher = publisher
        self.clock = clock
        self._send_lock = asyncio.Lock()
        # called with the ids of commands results or time-outs moved, after they are committed (a
        # service procedure advances on them: cloud/services/procedures.py); an error propagates, so the
        # ingest redelivers the results and the (idempotent) call is made again
        self.listeners: list[Callable[[list[str]], None]] = []

    # --- the bus -----------------------------------------------------------------------
    def attach(self, publisher: Publisher | None) -> None:
        """Set (or, with None, remove) the publisher; cloud/command_bus.py does it on (dis)connect."""
        self.publisher = publisher

    async def send_pending(self) -> int:
        """Publish the commands still "created" and not expired, oldest first; stops at the first
        failure (the bus is down: the rest waits too). Returns how many were sent."""
        rows = await asyncio.to_thread(
            self.registry.all, "SELECT * FROM commands WHERE state = 'created' AND expires_at > ? "
            "ORDER BY created_at, id", _iso(self.clock()))
        sent = 0
        for row in rows:
            if not await self._send(row):
                break
            sent += 1
        return sent

    async def _send(self, row: sqlite3.Row) -> bool:
        publisher = self.publisher
        if publisher is None:
            return False
        command = Command(id=row["id"], site=row["site"], type=CommandType(row["type"]), args=json.loads(row["args"]),
                          issued_at=datetime.fromisoformat(row["created_at"]).timestamp(),
                          expires_at=datetime.fromisoformat(row["expires_at"]).timestamp())
        async with self._send_lock:  # the issuing request and the sender task never publish at once
            current = await asyncio.to_thread(self.registry.one, "SELECT state FROM commands WHERE id = ?", command.id)
            if current is None or current["state"] != "created":
                return True
            try:
                await publisher(subjects.command_subject(command.site), encode_command(command), command.id)
            except PublishError as exc:
                log.warning("event=command_not_sent id=%s site=%s error=%r retry=later", command.id, command.site, exc)
                return False
            await asyncio.to_thread(self._move, command.id, "published", {"sent_at": _iso(self.clock())})
        log.info("event=command_sent id=%s site=%s type=%s", command.id, command.site, command.type.value)
        return True

    def _move(self, command_id: str, event: str, stamps: Mapping[str, str | None],
              db: sqlite3.Connection | None = None) -> str | None:
        """Apply ``event`` to the command by TRANSITIONS; the new state, or None when it did not apply."""
        if db is None:
            with self.registry.connect() as own:
                return self._move(command_id, event, stamps, own)
        row = db.execute("SELECT state FROM commands WHERE id = ?", (command_id,)).fetchone()
        new = TRANSITIONS.get((row["state"], event)) if row else None
        if new is None:
            return None
        sets = ", ".join(f"{name} = COALESCE({name}, ?)" if name in ("sent_at", "acknowledged_at") else f"{name} = ?"
                         for name in stamps)  # column names are ours
        db.execute(f"UPDATE commands SET state = ?{', ' if sets else ''}{sets} WHERE id = ?",  # noqa: S608
                   (new, *stamps.values(), command_id))
        return new

    # --- results from the edge and time-outs ---------------------------------------------
    def apply_results(self, site: str, results: Iterable[CommandResult]) -> int:
        """Move commands by the edge's results (called by the ingest after the batch is stored;
        idempotent: a redelivered result changes nothing). Results naming an unknown command or
        another site's are logged and ignored. Returns how many moved a command."""
        moved = 0
        moved_ids: list[str] = []
        with self.registry.connect() as db:
            for result in results:
                row = db.execute("SELECT site, state FROM commands WHERE id = ?", (result.command_id,)).fetchone()
                if row is None:
                    log.warning("event=command_result_ignored reason=unknown_command id=%s site=%s state=%s",
                                result.command_id, site, result.state)
                    continue
                if row["site"] != site:
                    log.warning("event=command_result_ignored reason=other_site id=%s site=%s command_site=%s",
                                result.command_id, site, row["site"])
                    continue
                at = _iso(datetime.fromtimestamp(result.at, UTC))
                stamps: dict[str, str | None] = {"acknowledged_at": at}
                if result.state in ("done", "failed"):
                    stamps["finished_at"] = at
                    stamps["result"] = json.dumps(result.detail, ensure_ascii=False, sort_keys=True)
                new = self._move(result.command_id, result.state, stamps, db)
                if new is not None:
                    moved += 1
                    moved_ids.append(result.command_id)
                    log.info("event=command_result id=%s site=%s state=%s", result.command_id, site, new)
        for listener in self.listeners:
            listener(moved_ids)
        return moved

    def sweep(self, now: datetime | None = None) -> int:
        """Mark "timed_out" every command with no final result past its expires_at."""
        at = _iso(now or self.clock())
        with self.registry.connect() as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM commands WHERE state IN ('created', 'sent', "
                                               "'acknowledged') AND expires_at <= ?", (at,))]
            for command_id in ids:
                self._move(command_id, "expired", {"finished_at": at}, db)
        for command_id in ids:
            log.info("event=command_timed_out id=%s", command_id)
        for listener in self.listeners:
            listener(ids)
        return len(ids)

    # --- issuing -----------------------------------------------------------------------
    async def issue(self, token: str, kind: str, *, meter_id: int | None = None, site: str | None = None,
                    args: Mapping[str, Any] | None = None, ttl: timedelta | None = None) -> CommandInfo:
        """Issue a command for a meter (``meter_id``; its serial becomes args["meter"]) or, for
        meter_config, a site (the meter list is built from the registry). Sent at once when the
        bus is up; otherwise it waits in "created" for ``send_pending``."""
        user = await self.auth.user(token)
        type_ = command_type(kind)
        if user.reader:
            raise Forbidden("reader status is read-only")
        if user.role not in ALLOWED[type_]:
            raise Forbidden(f"the {user.role.value} role may not issue {type_.value} commands")
        ttl = ttl or DEFAULT_TTL[type_]
        if not MIN_TTL <= ttl <= MAX_TTL:
            raise InvalidInput(f"ttl: between {MIN_TTL} and {MAX_TTL}, got {ttl}")
        first_seen: dict[str, datetime] = {}
        if type_ is CommandType.METER_CONFIG and site and meter_id is None:
            first_seen = await self._first_seen(user, site)
        row = await asyncio.to_thread(self._create, user, type_, meter_id, site, dict(args or {}), ttl, first_seen)
        await self._send(row)
        return await self.get(token, row["id"])

    async def _first_seen(self, user: UserInfo, site: str) -> dict[str, datetime]:
        """The first archive period stored of each meter of the company's site (none without ClickHouse)."""
        rows = await asyncio.to_thread(self.registry.all, "SELECT m.serial FROM meters m JOIN buildings b ON "
                                       "b.id = m.building_id WHERE b.site = ? AND b.company_id = ?", site,
                                       user.company_id)
        if self.ch is None or not rows:
            return {}
        found = await self.ch.query("SELECT meter, min(period_start) FROM {db}.archive WHERE company = {co:UInt32} "
                                    "AND meter IN {m:Array(String)} GROUP BY meter",
                                    {"co": user.company_id, "m": sorted(r["serial"] for r in rows)})
        return {serial: start.replace(tzinfo=UTC) for serial, start in found}

    def issue_as(self, user: UserInfo, kind: str, meter_id: int, args: Mapping[str, Any] | None = None) -> str:
        """Create a command for a meter on behalf of ``user`` with ``issue``'s checks, where no request
        carries a token: a service procedure's automatic operation (cloud/services/procedures.py). It
        stays "created" until ``send_pending`` publishes it (the command bus does every few seconds).
        Returns its id."""
        type_ = command_type(kind)
        if user.reader:
            raise Forbidden("reader status is read-only")
        if user.role not in ALLOWED[type_]:
            raise Forbidden(f"the {user.role.value} role may not issue {type_.value} commands")
        return str(self._create(user, type_, meter_id, None, dict(args or {}), DEFAULT_TTL[type_], {})["id"])

    def _create(self, user: UserInfo, kind: CommandType, meter_id: int | None, site: str | None,
                args: dict[str, Any], ttl: timedelta, first_seen: Mapping[str, datetime]) -> sqlite3.Row:
        now = self.clock()
        with self.registry.connect() as db:
            if kind is CommandType.METER_CONFIG:
                if meter_id is not None or not site:
                    raise InvalidInput("site: a meter_config command is for a site, not a meter")
                if args:
                    raise InvalidInput("args: a meter_config command takes its meter list from the registry")
                if db.execute("SELECT 1 FROM buildings WHERE site = ? AND company_id = ?",
                              (site, user.company_id)).fetchone() is None:
                    raise NotFound(f"site {site!r} not found")
                args = {"meters": site_meters(db, site, now, first_seen)}
            else:
                if meter_id is None:
                    raise InvalidInput(f"meter_id: a {kind.value} command is for one meter")
                meter = db.execute("SELECT m.serial, m.status, m.model, b.site, b.time_zone FROM meters m JOIN "
                                   "buildings b ON b.id = m.building_id WHERE m.id = ? AND m.company_id = ?",
                                   (meter_id, user.company_id)).fetchone()
                if meter is None:
                    raise NotFound(f"meter {meter_id} not found")
                if site is not None and site != meter["site"]:
                    raise InvalidInput(f"site: meter {meter_id} is served by site {meter['site']!r}, not {site!r}")
                if meter["status"] == "decommissioned":
                    raise InvalidInput(f"meter_id: meter {meter['serial']} is decommissioned and not polled")
                if "meter" in args and args["meter"] != meter["serial"]:
                    raise InvalidInput(f"args.meter: {args['meter']!r} is not meter {meter_id} ({meter['serial']})")
                args = {**args, "meter": meter["serial"]}
                site = meter["site"]
            try:
                check_args(kind, args)
            except DecodeError as exc:
                raise InvalidInput(f"{exc.field}: {exc.reason}") from None
            if kind is CommandType.BACKFILL:
                check_backfill_range(args, meter["model"], now, meter["time_zone"])
            if kind is CommandType.RELAY and args.get("limit_w", 0) > MAX_LIMIT_W:
                raise InvalidInput(f"args.limit_w: at most {MAX_LIMIT_W} W (0 = no limit), got {args['limit_w']}")
            command_id = uuid.uuid4().hex
            db.execute("INSERT INTO commands (id, company_id, site, meter_id, type, args, state, created_by, "
                       "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, 'created', ?, ?, ?)",
                       (command_id, user.company_id, site, meter_id, kind.value,
                        json.dumps(args, ensure_ascii=False, sort_keys=True), user.id, _iso(now), _iso(now + ttl)))
            audit.record(db, user, "command.issue", f"command:{command_id}", None,
                         {"type": kind.value, "site": site, "meter_id": meter_id, "args": args,
                          "expires_at": _iso(now + ttl)})
            row = db.execute("SELECT * FROM commands WHERE id = ?", (command_id,)).fetchone()
        log.info("event=command_created id=%s site=%s type=%s user=%s", command_id, site, kind.value, user.login)
        return row

    # --- reading -------------------------------------------------------------------------
    async def get(self, token: str, command_id: str) -> CommandInfo:
        user = require_operational_view(await self.auth.user(token), f"command {command_id} not found")
        row = await asyncio.to_thread(self.registry.one, _SELECT + " WHERE c.id = ? AND c.company_id = ?",
                                      command_id, user.company_id)
        if row is None:
            raise NotFound(f"command {command_id} not found")
        return _info(row)

    async def list(self, token: str, *, meter_id: int | None = None, site: str | None = None,
                   state: str | None = None, kind: str | None = None, limit: int = 100) -> list[CommandInfo]:
        """The company's commands, newest first, filtered by meter, site, state and type; an
        administrator (users and settings only, manual 2.3) sees none."""
        user = require_operational_view(await self.auth.user(token), "commands are operational data")
        where, params = ["c.company_id = ?"], [user.company_id]
        if meter_id is not None:
            where.append("c.meter_id = ?")
            params.append(meter_id)
        if site is not None:
            where.append("c.site = ?")
            params.append(site)
        if state is not None:
            if state not in STATES:
                raise InvalidInput(f"state: one of {', '.join(STATES)}, got {state!r}")
            where.append("c.state = ?")
            params.append(state)
        if kind is not None:
            where.append("c.type = ?")
            params.append(command_type(kind).value)
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"limit: 1 to 1000, got {limit}")
        rows = await asyncio.to_thread(self.registry.all, _SELECT + f" WHERE {' AND '.join(where)} "
                                       "ORDER BY c.created_at DESC, c.id LIMIT ?", *params, limit)
        return [_info(r) for r in rows]


# the periods one archive kind spans at most, for the slack at the old end of a backfill range
_LONGEST = {ArchiveKind.HOUR: timedelta(hours=1), ArchiveKind.DAY: timedelta(days=1),
            ArchiveKind.MONTH: timedelta(days=31)}


def check_backfill_range(args: Mapping[str, Any], model: str, now: datetime, time_zone: str) -> None:
    """A backfill asks only for periods the device can still hold: from the oldest its archive
    depth keeps (the catalogue's, plus one period of slack) up to now; InvalidInput names the bound.
    Both ends are period starts in the building's time zone (as the arrival page asks for them:
    a local hour, midnight, or the 1st at midnight), so the edge never reads a period it cannot name."""
    kind = ArchiveKind(args["kind"])
    try:
        depth = catalogue_depth_days(model, kind)
    except ValueError:
        raise InvalidInput(f"meter_id: model {model!r} is not in the device catalogue") from None
    if depth <= 0:
        raise InvalidInput(f"args.kind: a {model} keeps no {kind.value} archive")
    oldest = int((now - timedelta(days=depth) - _LONGEST[kind]).timestamp())
    latest = int(now.timestamp())
    for key in ("from", "to"):
        if not oldest <= args[key] <= latest:
            raise InvalidInput(f"args.{key}: {args[key]} is outside the {model}'s {kind.value} archive: UTC epoch "
                               f"seconds {oldest}..{latest} ({depth} days back from now)")
    tz = zone(time_zone)
    for key in ("from", "to"):
        local = datetime.fromtimestamp(args[key], tz)
        if (local.minute, local.second) == (0, 0) and (
                kind is ArchiveKind.HOUR or (local.hour == 0 and (kind is ArchiveKind.DAY or local.day == 1))):
            continue
        start = {ArchiveKind.HOUR: "an hour", ArchiveKind.DAY: "a day", ArchiveKind.MONTH: "a month"}[kind]
        raise InvalidInput(f"args.{key}: {args[key]} is not the start of {start} in {time_zone} (UTC epoch seconds "
                           f"of a period start)")


# --- the site's meter list for meter_config ---------------------------------------------------

_TCP = re.compile(r"^Modbus TCP (?P<host>[^\s:]+):(?P<port>\d+)(?: #(?P<unit>\d+))?$")
_RTU = re.compile(r"^Modbus RTU (?P<port>/\S+)(?: #(?P<unit>\d+))?(?: (?P<baud>\d+))?$")
_LORA = re.compile(r"^LoRaWAN (?P<eui>[0-9A-Fa-f]{16})$")


def transport_of(serial: str, communicator: str) -> dict[str, Any]:
    """The edge's transport settings (edge MeterConfig fields) from the registry's communicator text:
    ``Modbus TCP host:port #unit``, ``Modbus RTU /dev/tty… #unit [baud]`` or ``LoRaWAN <DevEUI>``."""
    text = communicator.strip()
    if m := _TCP.match(text):
        return {"transport": "modbus-tcp", "host": m["host"], "port": int(m["port"]), "unit": int(m["unit"] or 1)}
    if m := _RTU.match(text):
        out: dict[str, Any] = {"transport": "modbus-rtu", "serial_port": m["port"], "unit": int(m["unit"] or 1)}
        if m["baud"]:
            out["baudrate"] = int(m["baud"])
        return out
    if m := _LORA.match(text):
        return {"transport": "lorawan", "dev_eui": m["eui"].lower()}
    raise InvalidInput(f"meter {serial}: communicator {communicator!r} has no transport settings the edge can use "
                       "('Modbus TCP host:port #unit', 'Modbus RTU /dev/... #unit [baud]' or 'LoRaWAN <16 hex>')")


def site_meters(db: sqlite3.Connection, site: str, now: datetime,
                first_seen: Mapping[str, datetime] | None = None) -> list[dict[str, Any]]:
    """The whole desired meter list of a site: meters of the buildings it serves that are not
    decommissioned, with the transport settings of their communicator (the registry's
    communicators table when the meter is linked to one, else its communicator text). A GPRS
    communicator calls the cloud itself, so its meters are not the edge's to poll. The archive
    kinds to read come from the meter's "archives" text.

    A meter is in the list inside its service period only (DESIGN.md section 5): one whose
    decommissioning date has come is left out, as is one whose status says decommissioned with no
    date. A meter out of service (an open interval of a verification or repair, or an install not yet
    commissioned: cloud/services/procedures.py) is left out too; back in service, its ``commissioned``
    is the end of its latest out-of-service interval, the procedure's actual commissioning date, so
    the edge polls from there and never chases the periods it was out. Otherwise
    ``commissioned`` is the meter's recorded commissioning time; for a meter without one it
    is the first archive period stored for it (``first_seen``), or the start of today (UTC) for a
    meter with none: an earlier date would make the edge chase periods from before the meter
    existed, a later one would stop it from backfilling gaps it should still fill.

    Every entry passes the edge's own check (protocol/meters.py) here, and so does the whole list
    (a serial, DevEUI or Modbus address used twice): rows that cannot make a valid entry raise
    InvalidInput naming each such meter and field, and nothing is pushed."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first_seen = first_seen or {}
    rows = db.execute("SELECT m.id, m.serial, m.model, m.communicator, m.archives, m.status, m.commissioned_at, "
                      "m.decommissioned_at, c.id AS communicator_id, c.kind, c.host, c.port, c.dev_eui FROM meters m "
                      "JOIN buildings b ON b.id = m.building_id LEFT JOIN communicators c ON c.id = m.communicator_id "
                      "WHERE b.site = ? ORDER BY m.serial", (site,)).fetchall()
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    stops = outages(db, [r["id"] for r in rows])
    for r in rows:
        if out_of_service(stops.get(r["id"], ()), now):
            log.info("event=meter_config_skipped serial=%s reason=out_of_service", r["serial"])
            continue
        if r["decommissioned_at"] is not None:
            if datetime.fromisoformat(r["decommissioned_at"]) <= now:
                continue
        elif r["status"] == "decommissioned":
            continue
        if r["kind"] == "gprs":
            log.info("event=meter_config_skipped serial=%s reason=gprs_communicator", r["serial"])
            continue
        try:
            entry = _entry(r, today, first_seen)
            resumed = resumed_at(stops.get(r["id"], ()), now)
            if resumed is not None and (r["commissioned_at"] is None
                                        or resumed > datetime.fromisoformat(r["commissioned_at"])):
                entry["commissioned"] = resumed.astimezone(UTC).isoformat()
            meter_spec(entry, "")
        except InvalidInput as exc:  # a communicator text with no transport settings, a bad date
            problems.append(str(exc))
            continue
        except DecodeError as exc:
            problems.append(f"meter {r['serial']} ({r['model']}, {_source(r)}): {exc}")
            continue
        out.append(entry)
    if not problems:
        try:
            meter_list(out, "meters")
        except DecodeError as exc:
            problems.append(str(exc))
    if problems:
        raise InvalidInput(f"site {site}: the edge would refuse this meter list; fix in the registry: "
                           + "; ".join(problems))
    return out


def _entry(r: sqlite3.Row, today: datetime, first_seen: Mapping[str, datetime]) -> dict[str, Any]:
    """One registry row as a meter entry (protocol/meters.py fields), not yet checked."""
    if r["kind"] == "tcp":
        unit = re.search(r"#(\d+)\s*$", r["communicator"])
        transport: dict[str, Any] = {"transport": "modbus-tcp", "host": r["host"], "port": r["port"],
                                     "unit": int(unit[1]) if unit else 1}
    elif r["kind"] == "lora":
        dev_eui = r["dev_eui"]
        transport = {"transport": "lorawan", "dev_eui": dev_eui.lower() if isinstance(dev_eui, str) else dev_eui}
    else:
        transport = transport_of(r["serial"], r["communicator"])
    if r["commissioned_at"] is not None:
        try:
            commissioned = datetime.fromisoformat(r["commissioned_at"]).astimezone(UTC).isoformat()
        except ValueError:
            raise InvalidInput(f"meter {r['serial']}: commissioned_at {r['commissioned_at']!r} is not an ISO "
                               "date and time") from None
    else:
        commissioned = min(first_seen.get(r["serial"], today), today).isoformat()
    entry = {"serial": r["serial"], "model": r["model"], "commissioned": commissioned, **transport}
    words = {w.strip() for w in r["archives"].split(",")}
    if kinds := [k for k in ("hour", "day", "month") if k in words]:  # the registry's "hour, integral"
        entry["archive_kinds"] = kinds
    return entry


def _source(r: sqlite3.Row) -> str:
    """Where a row's transport settings came from, for an error message."""
    if r["kind"] in ("tcp", "lora"):
        return f"registry communicator #{r['communicator_id']}"
    return f"communicator {r['communicator']!r}"
