"""Billing centres and the automatic export of readings to them (manual 4.4.2).

Settings. A company's billing centres (РИЦ): name, connector kind ("http-json", connector.py), URL,
the bearer token (stored; shown back only as its last four characters), the submission day of the
month (1..28), enabled, and the linked buildings («связь указывается Оператором данных»). Read by
dispatchers, engineers and readers; changed by a dispatcher without reader status, audited; an
administrator sees none of it (NotFound, manual 2.3); another company's centre is NotFound.

Runs (runs.py does one). The scheduler (``run_scheduler``) checks each minute: every enabled centre
whose submission day has come this month (in its first linked building's time zone) and has no run
for this month gets one. At its start it resumes what a restart interrupted: a run "running" is done
again with the same idempotency keys, a run "waiting" is started. ``run_now`` and ``retry`` (the
manual's retry icon: a new protocol for the same period) are a dispatcher's.
Tests: tests/unit/cloud/test_billing_*.py, tests/integration/test_billing_export*.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from cloud.billing.connector import CONNECTORS, connector_for
from cloud.billing.runs import RunEngine
from cloud.services import audit
from cloud.services.auth import AuthService, require_dispatcher, require_operational_view
from cloud.services.models import InvalidInput, NotFound, UserInfo, check_id
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local, zone

log = logging.getLogger(__name__)
_REFUSAL = "billing centres are not available to administrators"
DEFAULT_ZONE = "Europe/Moscow"
TICK_SECONDS = 60.0
ITEM_KINDS = ("account", "device", "accepted", "rejected")
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class CentreInfo:
    id: int
    name: str
    connector: str
    url: str
    token_hint: str  # "…abcd": the token is never shown back in full
    submission_day: int
    enabled: bool
    building_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    centre_id: int
    centre_name: str
    period: str  # "YYYY-MM"
    trigger: str  # "schedule", "manual", "retry"
    state: str  # "waiting", "running", "finished"
    status: str | None  # "success", "errors", "failed" once finished
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    reason: str
    summary: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class RunItem:
    """A line of the protocol's lists: «Аккаунты» (kind account), «Приборы» (device), «Данные без
    ответа» (accepted: the package contents in ``payload``) and «Данные с ответом» (rejected)."""

    id: int
    kind: str
    address: str
    premise: str
    account: str
    serial: str
    resource: str
    device_id: str
    code: str
    message: str
    idempotency_key: str
    payload: dict[str, Any] = field(default_factory=dict, hash=False)


def token_hint(secret: str) -> str:
    if not secret:
        return ""
    return "…" + secret[-4:] if len(secret) >= 8 else "•••"


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def check_centre(name: object, url: object, submission_day: object, connector: object) -> tuple[str, str, int, str]:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise InvalidInput("name: from 1 to 200 characters")
    parts = urlparse(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(str(url)) > 500:
        raise InvalidInput(f"url: an http(s) address, got {url!r}")
    if isinstance(submission_day, bool) or not isinstance(submission_day, int) or not 1 <= submission_day <= 28:
        raise InvalidInput(f"submission_day: a day of the month from 1 to 28, got {submission_day!r}")
    if connector not in CONNECTORS:
        raise InvalidInput(f"connector: one of {', '.join(CONNECTORS)}, got {connector!r}")
    return name.strip(), str(url).rstrip("/"), submission_day, str(connector)


def check_secret(secret: object) -> str:
    if not isinstance(secret, str) or len(secret) > 500 or any(c.isspace() for c in secret):
        raise InvalidInput("token: at most 500 characters without spaces")
    return secret


class BillingService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.engine = RunEngine(registry, clickhouse, lambda: self.clock(), connector_for)
        self._tasks: dict[int, asyncio.Task[None]] = {}  # run id -> its execution started here

    # --- centres -----------------------------------------------------------------------------------

    async def centres(self, token: str) -> list[CentreInfo]:
        user = require_operational_view(await self.auth.user(token), _REFUSAL)
        return await asyncio.to_thread(self._centres, user.company_id, None)

    async def centre(self, token: str, centre_id: int) -> CentreInfo:
        user = require_operational_view(await self.auth.user(token), _REFUSAL)
        check_id("centre_id", centre_id)
        found = await asyncio.to_thread(self._centres, user.company_id, centre_id)
        if not found:
            raise NotFound(f"billing centre {centre_id} not found")
        return found[0]

    def _centres(self, company_id: int, centre_id: int | None) -> list[CentreInfo]:
        with self.registry.reading() as db:
            rows = db.execute("SELECT * FROM billing_centres WHERE company_id = ? AND (? IS NULL OR id = ?) "
                              "ORDER BY name", (company_id, centre_id, centre_id)).fetchall()
            out = []
            for r in rows:
                linked = tuple(x[0] for x in db.execute(
                    "SELECT building_id FROM billing_centre_buildings WHERE centre_id = ? ORDER BY building_id",
                    (r["id"],)))
                out.append(CentreInfo(r["id"], r["name"], r["connector"], r["url"], token_hint(r["token"]),
                                      r["submission_day"], bool(r["enabled"]), linked))
            return out

    async def create_centre(self, token: str, name: str, url: str, secret: str, submission_day: int,
                            building_ids: Sequence[int] = (), enabled: bool = True,
                            connector: str = "http-json") -> CentreInfo:
        user = require_dispatcher(await self.auth.user(token))
        values = check_centre(name, url, submission_day, connector)
        secret = check_secret(secret)
        buildings = [check_id("building_ids", b) for b in building_ids]
        centre_id = await asyncio.to_thread(self._create, user, values, secret, bool(enabled), buildings)
        return (await asyncio.to_thread(self._centres, user.company_id, centre_id))[0]

    def _create(self, user: UserInfo, values: tuple[str, str, int, str], secret: str, enabled: bool,
                buildings: list[int]) -> int:
        name, url, day, connector = values
        with self.registry.connect() as db:
            self._free_name(db, user, name, None)
            centre_id = int(db.execute(
                "INSERT INTO billing_centres (company_id, name, connector, url, token, submission_day, enabled) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (user.company_id, name, connector, url, secret, day, enabled)
            ).lastrowid or 0)
            self._link(db, user, centre_id, buildings)
            audit.record(db, user, "billing.centre.create", f"billing_centre:{centre_id}", None,
                         {"name": name, "url": url, "submission_day": day, "enabled": enabled,
                          "buildings": sorted(set(buildings)), "token": token_hint(secret)})
            return centre_id

    @staticmethod
    def _free_name(db: Any, user: UserInfo, name: str, leaving: int | None) -> None:
        row = db.execute("SELECT id FROM billing_centres WHERE company_id = ? AND name = ?",
                         (user.company_id, name)).fetchone()
        if row is not None and row["id"] != leaving:
            raise InvalidInput(f"name: the company has a billing centre {name!r} already")

    @staticmethod
    def _link(db: Any, user: UserInfo, centre_id: int, buildings: list[int]) -> None:
        db.execute("DELETE FROM billing_centre_buildings WHERE centre_id = ?", (centre_id,))
        for b in sorted(set(buildings)):
            if db.execute("SELECT 1 FROM buildings WHERE id = ? AND company_id = ?",
                          (b, user.company_id)).fetchone() is None:
                raise NotFound(f"building {b} not found")
            db.execute("INSERT INTO billing_centre_buildings (centre_id, building_id) VALUES (?, ?)", (centre_id, b))

    async def update_centre(self, token: str, centre_id: int, *, name: str | None = None, url: str | None = None,
                            secret: str | None = None, submission_day: int | None = None,
                            building_ids: Sequence[int] | None = None, enabled: bool | None = None,
                            connector: str | None = None) -> CentreInfo:
        """Change the fields given; ``secret`` None keeps the stored token."""
        user = require_dispatcher(await self.auth.user(token))
        check_id("centre_id", centre_id)
        before = await self.centre(token, centre_id)
        values = check_centre(before.name if name is None else name, before.url if url is None else url,
                              before.submission_day if submission_day is None else submission_day,
                              before.connector if connector is None else connector)
        checked_secret = None if secret is None else check_secret(secret)
        buildings = None if building_ids is None else [check_id("building_ids", b) for b in building_ids]
        await asyncio.to_thread(self._update, user, before, values, checked_secret, enabled, buildings)
        return await self.centre(token, centre_id)

    def _update(self, user: UserInfo, before: CentreInfo, values: tuple[str, str, int, str], secret: str | None,
                enabled: bool | None, buildings: list[int] | None) -> None:
        name, url, day, connector = values
        with self.registry.connect() as db:
            self._free_name(db, user, name, before.id)
            db.execute("UPDATE billing_centres SET name = ?, url = ?, submission_day = ?, connector = ?, enabled = ? "
                       "WHERE id = ?", (name, url, day, connector,
                                        before.enabled if enabled is None else bool(enabled), before.id))
            if secret is not None:
                db.execute("UPDATE billing_centres SET token = ? WHERE id = ?", (secret, before.id))
            if buildings is not None:
                self._link(db, user, before.id, buildings)
            after = {"name": name, "url": url, "submission_day": day, "connector": connector,
                     "enabled": before.enabled if enabled is None else bool(enabled),
                     "buildings": sorted(set(before.building_ids if buildings is None else buildings))}
            if secret is not None:
                after["token"] = token_hint(secret)
            audit.record(db, user, "billing.centre.update", f"billing_centre:{before.id}",
                         {"name": before.name, "url": before.url, "submission_day": before.submission_day,
                          "connector": before.connector, "enabled": before.enabled,
                          "buildings": list(before.building_ids)}, after)

    async def delete_centre(self, token: str, centre_id: int) -> None:
        user = require_dispatcher(await self.auth.user(token))
        before = await self.centre(token, centre_id)
        if await asyncio.to_thread(self._busy, before.id):
            raise InvalidInput("centre_id: a run of this centre is in progress")
        await asyncio.to_thread(self._delete, user, before)

    def _delete(self, user: UserInfo, before: CentreInfo) -> None:
        with self.registry.connect() as db:
            db.execute("DELETE FROM billing_centres WHERE id = ?", (before.id,))
            audit.record(db, user, "billing.centre.delete", f"billing_centre:{before.id}",
                         {"name": before.name, "url": before.url}, None)

    # --- runs ---------------------------------------------------------------------------------------

    async def runs(self, token: str, *, centre_id: int | None = None, offset: int = 0,
                   limit: int = 20) -> tuple[list[RunInfo], int]:
        """The company's protocols, newest first, and how many there are in all."""
        user = require_operational_view(await self.auth.user(token), _REFUSAL)
        if centre_id is not None:
            check_id("centre_id", centre_id)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidInput(f"offset: 0 or more, got {offset!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit: from 1 to {MAX_PAGE}, got {limit!r}")
        return await asyncio.to_thread(self._runs, user.company_id, centre_id, None, offset, limit)

    async def run(self, token: str, run_id: int) -> RunInfo:
        user = require_operational_view(await self.auth.user(token), _REFUSAL)
        check_id("run_id", run_id)
        found, _ = await asyncio.to_thread(self._runs, user.company_id, None, run_id, 0, 1)
        if not found:
            raise NotFound(f"run {run_id} not found")
        return found[0]

    def _runs(self, company_id: int, centre_id: int | None, run_id: int | None, offset: int,
              limit: int) -> tuple[list[RunInfo], int]:
        where = "r.company_id = ? AND (? IS NULL OR r.centre_id = ?) AND (? IS NULL OR r.id = ?)"
        args = (company_id, centre_id, centre_id, run_id, run_id)
        with self.registry.reading() as db:
            total = db.execute(f"SELECT count(*) FROM billing_runs r WHERE {where}", args).fetchone()[0]  # noqa: S608
            rows = db.execute("SELECT r.*, c.name AS centre_name FROM billing_runs r JOIN billing_centres c "  # noqa: S608
                              f"ON c.id = r.centre_id WHERE {where} ORDER BY r.id DESC LIMIT ? OFFSET ?",
                              (*args, limit, offset)).fetchall()
        return [RunInfo(r["id"], r["centre_id"], r["centre_name"], r["period"], r["trigger"], r["state"], r["status"],
                        datetime.fromisoformat(r["created_at"]), _when(r["started_at"]), _when(r["finished_at"]),
                        r["attempts"], r["reason"], json.loads(r["summary"])) for r in rows], int(total)

    async def run_items(self, token: str, run_id: int, kind: str) -> list[RunItem]:
        """One of the protocol's lists (ITEM_KINDS)."""
        run = await self.run(token, run_id)
        if kind not in ITEM_KINDS:
            raise InvalidInput(f"kind: one of {', '.join(ITEM_KINDS)}, got {kind!r}")
        where = {"account": "kind = 'account'", "device": "kind = 'device'",
                 "accepted": "kind = 'reading' AND answer = 'accepted'",
                 "rejected": "kind = 'reading' AND answer <> 'accepted'"}[kind]
        rows = await asyncio.to_thread(self.registry.all, "SELECT * FROM billing_run_items "  # noqa: S608
                                       f"WHERE run_id = ? AND {where} ORDER BY id", run.id)
        return [RunItem(r["id"], kind, r["address"], r["premise"], r["account"], r["serial"], r["resource"],
                        r["device_id"], r["code"], r["message"], r["idempotency_key"], json.loads(r["payload"]))
                for r in rows]

    def _busy(self, centre_id: int) -> bool:
        return self.registry.one("SELECT 1 FROM billing_runs WHERE centre_id = ? AND state <> 'finished'",
                                 centre_id) is not None

    async def start_run(self, token: str, centre_id: int, *, retry_of: int | None = None) -> RunInfo:
        """Create a run of the centre for the current month and start it in the background (a dispatcher)."""
        user = require_dispatcher(await self.auth.user(token))
        centre = await self.centre(token, centre_id)
        period = self._period(centre.id)
        trigger = "manual" if retry_of is None else "retry"
        run_id = await asyncio.to_thread(self._new_run, user.company_id, centre.id, period, trigger)
        if run_id is None:
            raise InvalidInput("centre_id: a run of this centre is in progress already")
        await asyncio.to_thread(self._audit_run, user, run_id, centre.id, trigger, retry_of)
        self._spawn(run_id)
        return await self.run(token, run_id)

    async def run_now(self, token: str, centre_id: int) -> RunInfo:
        """Run the centre's export now and wait for its end (tests, the API)."""
        run = await self.start_run(token, centre_id)
        await self._wait(run.id)
        return await self.run(token, run.id)

    async def retry(self, token: str, run_id: int, *, wait: bool = True) -> RunInfo:
        """Do a finished run again (a new protocol of its centre for the current month)."""
        run = await self.run(token, run_id)
        if run.state != "finished":
            raise InvalidInput(f"run_id: run {run_id} has not finished yet")
        new = await self.start_run(token, run.centre_id, retry_of=run.id)
        if wait:
            await self._wait(new.id)
        return await self.run(token, new.id)

    def _audit_run(self, user: UserInfo, run_id: int, centre_id: int, trigger: str, retry_of: int | None) -> None:
        with self.registry.connect() as db:
            audit.record(db, user, f"billing.run.{trigger}", f"billing_run:{run_id}", None,
                         {"centre_id": centre_id, "retry_of": retry_of})

    def _new_run(self, company_id: int, centre_id: int, period: str, trigger: str) -> int | None:
        """A waiting run, or None when the centre has a run in progress (or, for the scheduler, a run
        for ``period`` already): checked and inserted in one write transaction, so that a manual start
        and the scheduler never make two."""
        with self.registry.connect() as db:
            if db.execute("SELECT 1 FROM billing_runs WHERE centre_id = ? AND state <> 'finished'",
                          (centre_id,)).fetchone() is not None:
                return None
            if trigger == "schedule" and db.execute("SELECT 1 FROM billing_runs WHERE centre_id = ? AND period = ?",
                                                    (centre_id, period)).fetchone() is not None:
                return None
            row = db.execute("INSERT INTO billing_runs (centre_id, company_id, period, trigger, state, created_at) "
                             "VALUES (?, ?, ?, ?, 'waiting', ?) RETURNING id",
                             (centre_id, company_id, period, trigger, self.clock().astimezone(UTC).isoformat())
                             ).fetchone()
            return int(row["id"])

    def _period(self, centre_id: int) -> str:
        return f"{self._local_now(centre_id):%Y-%m}"

    def _local_now(self, centre_id: int) -> datetime:
        row = self.registry.one("SELECT b.time_zone FROM billing_centre_buildings cb JOIN buildings b "
                                "ON b.id = cb.building_id WHERE cb.centre_id = ? ORDER BY b.id LIMIT 1", centre_id)
        return utc_to_local(self.clock(), zone(row["time_zone"] if row else DEFAULT_ZONE))

    def _spawn(self, run_id: int) -> None:
        task = asyncio.get_running_loop().create_task(self.engine.execute(run_id))
        self._tasks[run_id] = task
        task.add_done_callback(lambda t: self._done(run_id, t))

    def _done(self, run_id: int, task: asyncio.Task[None]) -> None:
        self._tasks.pop(run_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("billing run %s failed unexpectedly", run_id, exc_info=task.exception())

    async def _wait(self, run_id: int) -> None:
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.shield(task)

    # --- the scheduler ------------------------------------------------------------------------------

    async def resume(self) -> list[int]:
        """Start again every run a restart left "running" or "waiting" (same idempotency keys); their ids."""
        rows = await asyncio.to_thread(self.registry.all, "SELECT id FROM billing_runs WHERE state <> 'finished' "
                                       "ORDER BY id")
        ids = [r["id"] for r in rows if r["id"] not in self.engine.active]
        await asyncio.gather(*(self.engine.execute(i) for i in ids))
        return ids

    def due_centres(self) -> list[tuple[int, int, str]]:
        """(company, centre, period) of every enabled centre whose submission day has come this month
        and that has no run for this month yet."""
        out = []
        for r in self.registry.all("SELECT id, company_id, submission_day FROM billing_centres WHERE enabled = 1 "
                                   "ORDER BY id"):
            local = self._local_now(r["id"])
            period = f"{local:%Y-%m}"
            if local.day < r["submission_day"]:
                continue
            if self.registry.one("SELECT 1 FROM billing_runs WHERE centre_id = ? AND period = ?",
                                 r["id"], period) is None:
                out.append((r["company_id"], r["id"], period))
        return out

    async def tick(self) -> list[int]:
        """One scheduler step: create and run the due centres' runs; their ids."""
        due = await asyncio.to_thread(self.due_centres)
        made = [await asyncio.to_thread(self._new_run, company, centre, period, "schedule")
                for company, centre, period in due]
        ids = [i for i in made if i is not None]
        await asyncio.gather(*(self.engine.execute(i) for i in ids))
        return ids

    async def run_scheduler(self, stop: asyncio.Event) -> None:
        """Resume interrupted runs, then each minute start the due ones, until ``stop`` is set."""
        work: set[asyncio.Task[Any]] = {asyncio.create_task(self.resume())}
        while not stop.is_set():
            work = {t for t in work if not t.done()}
            try:
                ids = await asyncio.to_thread(self.due_centres)
            except Exception:
                log.exception("billing scheduler: the due centres could not be read")
                ids = []
            for company, centre, period in ids:
                run_id = await asyncio.to_thread(self._new_run, company, centre, period, "schedule")
                if run_id is not None:
                    work.add(asyncio.create_task(self.engine.execute(run_id)))
            try:
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
            except TimeoutError:
                pass
        for task in work:
            task.cancel()
        await asyncio.gather(*work, return_exceptions=True)
