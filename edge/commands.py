"""Commands from the cloud (protocol/commands.py): received on the site's durable pull consumer
on DU_DOWN, persisted, answered and carried out.

A command is first written to the ``commands`` table together with its ``accepted`` result in
one transaction, and only then is the JetStream message acknowledged: a crash before that
redelivers it, a crash after it resumes the persisted command at the next start, and a
redelivered id is recognised and not carried out twice. A command that does not decode is
kept raw in ``rejects`` with the reason (and answered ``failed`` when its id is readable); an
expired one is answered ``failed`` with reason ``expired``. Every command ends with a ``done``
or ``failed`` result with its detail; results travel in the outbox like archive records.
Life cycle (one table): accepted -> done | failed. A command for a meter is carried out by the
meter's driver through edge/drivers/base.py only; a driver's DriverError (Unsupported: the
transport cannot do it) becomes the ``failed`` result with its reason.
Tests: tests/integration/test_edge_commands.py, test_edge_drivers.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
import nats
from nats.errors import ConnectionClosedError, NoServersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import Error as JetStreamError

from edge.buffer import Buffer
from edge.config import EdgeConfig, MeterConfig, nats_options
from edge.drivers.base import Driver, DriverError, Drivers
from edge.sync import cancel_connect
from protocol import subjects
from protocol.commands import Command, CommandType, decode_command
from protocol.errors import DecodeError
from protocol.meters import meter_list
from protocol.settings import ConfigError
from protocol.vocabulary import ArchiveKind

log = logging.getLogger(__name__)

ACCEPTED, DONE, FAILED = "accepted", "done", "failed"
# state -> states it may move to (STYLE.md habit 3)
TRANSITIONS: dict[str, tuple[str, ...]] = {ACCEPTED: (DONE, FAILED), DONE: (), FAILED: ()}
ApplyMeters = Callable[[list[MeterConfig]], Awaitable[dict[str, object]]]  # a pushed list -> the change made


class CommandFailed(DriverError):
    """A command could not be carried out (an unknown meter, arguments the edge cannot use);
    ``detail`` goes into the ``failed`` result, as a driver's own errors do."""


def _raw_id(data: bytes) -> str | None:
    """The id of a command that does not decode, if it can be read at all."""
    try:
        doc = msgpack.unpackb(data, raw=False)
    except (msgpack.UnpackException, ValueError):
        return None
    value = doc.get("id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else None


class CommandRunner:
    """Takes commands off the site's durable consumer and carries them out through the meters'
    drivers (edge/drivers/base.py), whatever their transport."""

    def __init__(self, drivers: Drivers, buffer: Buffer, config: EdgeConfig, apply_meters: ApplyMeters) -> None:
        self.drivers = drivers
        self.apply_meters = apply_meters  # the agent's: replaces drivers and their tasks live
        self.buffer = buffer
        self.db = buffer.db
        self.config = config  # the site, the NATS connection, the workers: a meter push changes none of them
        self.subject = subjects.command_subject(config.site)
        self.durable = subjects.edge_consumer(config.site)
        self.received = 0
        self._running: dict[str, asyncio.Task[None]] = {}
        self._workers = asyncio.Semaphore(config.command_workers)
        self._error_logged_at = -1e9
        if "commands" not in self.db.table_names():
            self.db.table("commands").create({"id": str, "type": str, "args": str, "state": str, "received_at": float,
                                              "finished_at": float, "detail": str}, pk="id")
            self.db.table("commands").create_index(["state"])
        self._handlers: dict[CommandType, Callable[[Command], Awaitable[dict[str, Any]]]] = {
            CommandType.BACKFILL: self._backfill, CommandType.TIME_SYNC: self._time_sync,
            CommandType.RELAY: self._relay, CommandType.METER_CONFIG: self._meter_config,
            CommandType.AVAILABILITY: self._availability, CommandType.READ_CURRENT: self._read_current}

    # --- the table ---------------------------------------------------------------------------
    def state(self, command_id: str) -> str | None:
        row = self.db.execute("SELECT state FROM commands WHERE id = ?", [command_id]).fetchone()
        return row[0] if row else None

    def _record(self, command_id: str, kind: str, args: object, state: str, detail: dict[str, Any]) -> None:
        """A new command row and its first result, in one transaction."""
        now = time.time()

        def write() -> None:
            self.db.table("commands").insert({"id": command_id, "type": kind, "args": json.dumps(args, default=str),
                                              "state": state, "received_at": now,
                                              "finished_at": None if state == ACCEPTED else now,
                                              "detail": json.dumps(detail, default=str)})
            self.buffer.add_result(command_id, state, detail)
        self.buffer.write(write)  # one transaction, tried again after an eviction when the disk is full

    def _finish(self, command_id: str, state: str, detail: dict[str, Any]) -> None:
        def write() -> str | None:
            current = self.state(command_id)
            if current is None or state not in TRANSITIONS[current]:
                return current
            self.db.execute("UPDATE commands SET state = ?, finished_at = ?, detail = ? WHERE id = ?",
                            [state, time.time(), json.dumps(detail, default=str), command_id])
            self.buffer.add_result(command_id, state, detail)
            return state
        current = self.buffer.write(write)
        if current != state:
            log.warning("event=command_transition_refused id=%s from=%s to=%s", command_id, current, state)
            return
        log.info("event=command_finished id=%s state=%s detail=%s", command_id, state, json.dumps(detail, default=str))

    def unfinished(self) -> list[Command]:
        out = []
        for cid, kind, args in self.db.execute("SELECT id, type, args FROM commands WHERE state = ? "
                                               "ORDER BY received_at", [ACCEPTED]):
            out.append(Command(id=cid, site=self.config.site, type=CommandType(kind), args=json.loads(args)))
        return out

    # --- receiving ---------------------------------------------------------------------------
    def accept(self, data: bytes, source: str) -> Command | None:
        """Persist one received message; the command to carry out, or None (rejected, repeat, expired)."""
        try:
            command = decode_command(data)
        except DecodeError as exc:
            reason = f"{exc.field}: {exc.reason}"
            cid = _raw_id(data)
            def write() -> None:
                self.buffer.reject(source, reason, data)
                if cid is not None and self.state(cid) is None:
                    self._record(cid, "unreadable", {}, FAILED, {"reason": reason})
            self.buffer.write(write)
            log.warning("event=command_rejected id=%s reason=%r", cid, reason)
            return None
        if self.state(command.id) is not None:
            log.info("event=command_repeat id=%s state=%s", command.id, self.state(command.id))
            return None
        if command.site != self.config.site:
            self._record(command.id, command.type.value, command.args, FAILED,
                         {"reason": f"site: command for {command.site!r} reached {self.config.site!r}"})
            return None
        if command.expires_at and command.expires_at < time.time():
            self._record(command.id, command.type.value, command.args, FAILED, {"reason": "expired"})
            log.warning("event=command_expired id=%s type=%s", command.id, command.type.value)
            return None
        self._record(command.id, command.type.value, command.args, ACCEPTED, {})
        self.received += 1
        log.info("event=command_accepted id=%s type=%s args=%s", command.id, command.type.value,
                 json.dumps(command.args, default=str))
        return command

    def start(self, command: Command) -> None:
        if command.id not in self._running:
            self._running[command.id] = asyncio.create_task(self._execute(command))

    async def _execute(self, command: Command) -> None:
        """Top level of one command's task: every outcome ends in a result."""
        try:
            async with self._workers:
                try:
                    detail = await self._handlers[command.type](command)
                    state = DONE
                except DriverError as exc:  # CommandFailed, a device's error, Unsupported
                    state, detail = FAILED, exc.detail
                except ConfigError as exc:
                    state, detail = FAILED, {"reason": str(exc)}
                except Exception as exc:
                    log.exception("event=command_crashed id=%s type=%s", command.id, command.type.value)
                    state, detail = FAILED, {"reason": f"internal error: {exc!r}"}
                self._finish(command.id, state, detail)
        finally:
            self._running.pop(command.id, None)

    async def run(self, stop: asyncio.Event) -> None:
        for command in self.unfinished():  # persisted before a restart: carry on
            log.info("event=command_resumed id=%s type=%s", command.id, command.type.value)
            self.start(command)
        try:
            await self._consume(stop)
        finally:
            running = list(self._running.values())
            for task in running:  # still "accepted" in the table: resumed at the next start
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _consume(self, stop: asyncio.Event) -> None:
        nc = None
        while nc is None and not stop.is_set():
            connect = asyncio.ensure_future(nats.connect(**nats_options(self.config, "commands",
                                                                        error_cb=self._nats_error)))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not connect.done():
                await cancel_connect(connect)  # a plain cancel can be swallowed: stop would hang
                return
            try:
                nc = connect.result()
            except (NoServersError, OSError, NatsTimeout) as exc:
                log.warning("event=commands_nats_unreachable reason=%r", str(exc))
                await _sleep(stop, 1.0)
        if nc is None:
            return
        try:
            js = nc.jetstream()
            psub = None
            while psub is None and not stop.is_set():
                try:
                    psub = await js.pull_subscribe(
                        self.subject, durable=self.durable, stream=subjects.STREAM_DOWN,
                        config=ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
                                              filter_subject=self.subject, ack_wait=30.0))
                except (JetStreamError, NatsTimeout, ConnectionClosedError) as exc:
                    log.warning("event=commands_consumer_unavailable reason=%r retry_s=2", str(exc))
                    await _sleep(stop, 2.0)
            while psub is not None and not stop.is_set():
                try:
                    msgs = await psub.fetch(16, timeout=1.0)
                except (TimeoutError, NatsTimeout):
                    continue
                except (JetStreamError, ConnectionClosedError) as exc:
                    log.warning("event=commands_fetch_failed reason=%r retry_s=1", str(exc))
                    await _sleep(stop, 1.0)
                    continue
                for msg in msgs:
                    command = self.accept(msg.data, f"command:{msg.subject}")
                    await msg.ack()  # only now: the command (or its rejection) is on disk
                    if command is not None:
                        self.start(command)
        finally:
            await nc.close()

    async def _nats_error(self, exc: Exception) -> None:
        """nats.py reports each failed (re)connect attempt here: log it, at most every 60 s."""
        now = time.monotonic()
        if now - self._error_logged_at >= 60.0:
            self._error_logged_at = now
            log.warning("event=commands_nats_error reason=%r", str(exc) or type(exc).__name__)

    # --- the commands: each through the meter's driver ---------------------------------------
    def _driver(self, command: Command) -> Driver:
        serial = command.args["meter"]
        driver = self.drivers.driver(serial)
        if driver is None:
            raise CommandFailed(f"meter: {serial!r} is not configured on this site")
        return driver

    async def _backfill(self, command: Command) -> dict[str, Any]:
        args = command.args
        return await self._driver(command).backfill(ArchiveKind(args["kind"]), args["from"], args["to"])

    async def _time_sync(self, command: Command) -> dict[str, Any]:
        return await self._driver(command).time_sync(bool(command.args.get("force", False)))

    async def _relay(self, command: Command) -> dict[str, Any]:
        return await self._driver(command).relay(command.args["on"], command.args.get("limit_w", 0))

    async def _availability(self, command: Command) -> dict[str, Any]:
        return await self._driver(command).availability()

    async def _read_current(self, command: Command) -> dict[str, Any]:
        return await self._driver(command).read_current()

    async def _meter_config(self, command: Command) -> dict[str, Any]:
        """Take the pushed list whole or not at all: one entry the protocol's check refuses
        (protocol/meters.py) fails the command naming it, and the running list stays."""
        try:
            meters = meter_list(command.args["meters"], "args.meters")
        except DecodeError as exc:
            raise CommandFailed(str(exc)) from exc
        return await self.apply_meters(meters)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
