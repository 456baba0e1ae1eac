"""One export run to a billing centre (manual 4.4.2, протокол выгрузки): gather the premises and
apartment meters of the centre's linked buildings, match accounts and devices (reconcile.py), prepare
each matched meter's newest actual reading at or before the run's start, send them in packages and
write the protocol. State lives in the registry (billing_runs, billing_run_items), so that a run found
"running" after a restart is done again from the start with the same idempotency keys: the centre
answers a resend "accepted" without counting it twice, and the device links that decide first-time
and re-linked matches are stored only when a run finishes, so a redo counts them the same.

Attempts. A transport failure (centre down, timeout, 5xx, an answer not by the protocol) is retried
with backoff up to ``attempts`` times within the run, then the run ends «завершен провалом» with the
reason; a refusal (4xx) ends it at once. Nothing is estimated: a meter with no reading within the
look-back is a preparation error of its resource (Government Decree 354, points 59-60: the centre's).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloud.billing import reconcile as rc
from cloud.billing.connector import (
    PACKAGE_SIZE,
    TIMEOUT_SECONDS,
    BillingConnector,
    RefusedError,
    TransportError,
    connector_for,
)
from cloud.billing.document import lines_of
from cloud.reports import readings as rd
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import billing as p
from protocol.vocabulary import MeterRole

log = logging.getLogger(__name__)
LOOKBACK_DAYS = 62
ConnectorFactory = Callable[[str, str, str, float], BillingConnector]  # kind, url, token, timeout


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def status_of(summary: dict[str, Any]) -> str:
    """«успешно» when nothing failed, else «с ошибками» (the run itself finished)."""
    errors = (summary["account_failures"] + summary["device_failures"] + sum(summary["errors_by_resource"].values())
              + sum(summary["rejected_by_resource"].values()))
    return "errors" if errors else "success"


@dataclass(slots=True)
class _Prepared:
    outcome: rc.Outcome
    readings: list[tuple[rc.Match, p.Reading]]
    not_prepared: list[rc.Match]


class RunEngine:
    """Executes runs; one execution per run at a time in this process."""

    def __init__(self, registry: Registry, clickhouse: ClickHouse, clock: Callable[[], datetime],
                 connectors: ConnectorFactory = connector_for) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.clock = clock
        self.connectors = connectors
        self.attempts = 3
        self.timeout_seconds = TIMEOUT_SECONDS
        self.backoff_seconds = 5.0
        self.lookback_days = LOOKBACK_DAYS
        self.active: set[int] = set()

    async def execute(self, run_id: int) -> None:
        """Run (or resume) ``run_id`` to its end. A cancellation leaves it "running" (as a crash would)."""
        if run_id in self.active:
            return
        self.active.add(run_id)
        try:
            await self._execute(run_id)
        except Exception as error:
            # a fault of ours (the registry, chDB, a bug): the protocol says so instead of staying "running"
            log.exception("billing run %s broke", run_id)
            await asyncio.to_thread(self._fail, run_id, f"внутренняя ошибка сервера: {type(error).__name__}: {error}")
            raise
        finally:
            self.active.discard(run_id)

    async def _execute(self, run_id: int) -> None:
        run, centre = await asyncio.to_thread(self._start, run_id)
        if run is None:
            return
        as_of = datetime.fromisoformat(run["started_at"])
        connector = self.connectors(centre["connector"], centre["url"], centre["token"], self.timeout_seconds)
        attempt = run["attempts"]
        while True:
            attempt += 1
            await asyncio.to_thread(self.registry.write, "UPDATE billing_runs SET attempts = ? WHERE id = ?",
                                    attempt, run_id)
            try:
                summary, links = await self._attempt(run, centre, connector, as_of, attempt)
            except RefusedError as error:
                await asyncio.to_thread(self._fail, run_id, str(error))
                return
            except TransportError as error:
                if attempt >= self.attempts:
                    await asyncio.to_thread(self._fail, run_id, f"{error} (попыток: {attempt})")
                    return
                log.warning("billing run %s: attempt %s failed: %s", run_id, attempt, error)
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - run["attempts"] - 1))
                continue
            await asyncio.to_thread(self._finish, run_id, centre["id"], summary, links)
            return

    def _start(self, run_id: int) -> tuple[Any, Any]:
        with self.registry.connect() as db:
            run = db.execute("SELECT * FROM billing_runs WHERE id = ?", (run_id,)).fetchone()
            if run is None or run["state"] == "finished":
                return None, None
            if run["started_at"] is None:
                db.execute("UPDATE billing_runs SET state = 'running', started_at = ? WHERE id = ?",
                           (_iso(self.clock()), run_id))
            run = db.execute("SELECT * FROM billing_runs WHERE id = ?", (run_id,)).fetchone()
            centre = db.execute("SELECT * FROM billing_centres WHERE id = ?", (run["centre_id"],)).fetchone()
            return run, centre

    def _fail(self, run_id: int, reason: str) -> None:
        self.registry.write("UPDATE billing_runs SET state = 'finished', status = 'failed', finished_at = ?, "
                            "reason = ? WHERE id = ?", _iso(self.clock()), reason, run_id)

    def _finish(self, run_id: int, centre_id: int, summary: dict[str, Any],
                links: list[tuple[int, str, str]]) -> None:
        with self.registry.connect() as db:
            for meter_id, resource, device_id in links:
                db.execute("INSERT INTO billing_device_links (centre_id, meter_id, resource, device_id) "
                           "VALUES (?, ?, ?, ?) ON CONFLICT (centre_id, meter_id, resource) "
                           "DO UPDATE SET device_id = excluded.device_id", (centre_id, meter_id, resource, device_id))
            db.execute("UPDATE billing_runs SET state = 'finished', status = ?, finished_at = ?, summary = ?, "
                       "reason = '' WHERE id = ?", (status_of(summary), _iso(self.clock()),
                                                     json.dumps(summary, ensure_ascii=False), run_id))

    async def _attempt(self, run: Any, centre: Any, connector: BillingConnector, as_of: datetime,
                       attempt: int) -> tuple[dict[str, Any], list[tuple[int, str, str]]]:
        premises, placed, links = await asyncio.to_thread(self._gather, run, as_of)
        lines: list[rc.Line] = []
        channels: dict[tuple[int, str], tuple[int | None, ...]] = {}
        meters = {m.meter.id: m for m in placed}
        for m in placed:
            for line in lines_of(m.meter):
                lines.append(rc.Line(m.meter.id, m.meter.premise_id or 0, m.meter.serial, line.resource.value))
                channels[(m.meter.id, line.resource.value)] = line.channels
        asked = rc.accounts_to_ask(premises)
        answers = await connector.match_accounts(asked) if asked else {}
        outcome = rc.reconcile(premises, lines, answers, links)
        wanted = list({mt.line.meter_id: (meters[mt.line.meter_id].meter, meters[mt.line.meter_id].tz)
                       for mt in outcome.matches}.values())
        got = await rd.latest_readings(self.ch, run["company_id"], wanted, as_of, lookback_days=self.lookback_days)
        prepared = _Prepared(outcome, [], [])
        for match in outcome.matches:
            # zones by position: Т1, Т2, Т3 (a single-tariff meter gives its total in Т1)
            zones = {f"T{i}": c for i, c in enumerate(channels[(match.line.meter_id, match.line.resource)], 1)
                     if c is not None}
            found = {z: got.get((match.line.meter_id, c)) for z, c in zones.items()}
            readings = {z: r for z, r in found.items() if r is not None}
            if not zones or len(readings) < len(zones):
                prepared.not_prepared.append(match)
                continue
            values = {z: round(r.value, 7) for z, r in readings.items()}
            day = min(r.at for r in readings.values()).date()
            prepared.readings.append((match, p.Reading(
                p.idempotency_key(centre["id"], match.line.meter_id, match.line.resource, run["period"]),
                match.premise.account, match.device_id, match.line.serial, match.line.resource, run["period"],
                day.isoformat(), values)))
        await asyncio.to_thread(self._write_items, run["id"], prepared)
        answers_by_key: dict[str, p.Result] = {}
        for n in range(0, len(prepared.readings), PACKAGE_SIZE):
            package = [r for _, r in prepared.readings[n:n + PACKAGE_SIZE]]
            results = await connector.send_readings(f"run{run['id']}-a{attempt}-p{n // PACKAGE_SIZE + 1}", package)
            await asyncio.to_thread(self._write_answers, run["id"], results)
            answers_by_key.update(results)
        return _summary(prepared, answers_by_key), [(m.line.meter_id, m.line.resource, m.device_id)
                                                    for m in outcome.matches]

    def _gather(self, run: Any, as_of: datetime) -> tuple[list[rc.Premise], list[rd.Placed],
                                                          dict[tuple[int, str], str]]:
        company = run["company_id"]
        buildings = [r["building_id"] for r in self.registry.all(
            "SELECT cb.building_id FROM billing_centre_buildings cb JOIN buildings b ON b.id = cb.building_id "
            "WHERE cb.centre_id = ? AND b.company_id = ? ORDER BY b.address", run["centre_id"], company)]
        premises: list[rc.Premise] = []
        placed: list[rd.Placed] = []
        for building in buildings:
            premises.extend(rc.Premise(r["id"], r["address"], r["number"], (r["account"] or "").strip())
                            for r in self.registry.all(
                "SELECT p.id, p.number, p.account, b.address FROM premises p JOIN buildings b ON b.id = p.building_id "
                "WHERE p.building_id = ? ORDER BY CAST(p.number AS INTEGER), p.number", building))
            placed.extend(m for m in rd.company_meters(self.registry, company, building)
                          if m.meter.role is MeterRole.INDIVIDUAL and m.meter.premise_id is not None
                          and _in_service(m, as_of))
        links = {(r["meter_id"], r["resource"]): r["device_id"] for r in self.registry.all(
            "SELECT meter_id, resource, device_id FROM billing_device_links WHERE centre_id = ?", run["centre_id"])}
        return premises, placed, links

    def _write_items(self, run_id: int, prepared: _Prepared) -> None:
        """The protocol's lists; a redo (retry, restart) replaces the lists of the earlier attempt."""
        o = prepared.outcome
        sql = ("INSERT INTO billing_run_items (run_id, kind, address, premise, account, meter_id, serial, resource, "
               "device_id, code, message, idempotency_key, payload, answer) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        with self.registry.connect() as db:
            db.execute("DELETE FROM billing_run_items WHERE run_id = ?", (run_id,))
            for f in o.account_failures:
                db.execute(sql, (run_id, "account", f.premise.address, f.premise.number, f.premise.account, None, "",
                                 "", "", f.code, rc.ACCOUNT_TEXT[f.code], "", "{}", ""))
            for d in o.device_failures:
                message = rc.DEVICE_TEXT[d.code].format(resource=d.centre_resource)
                db.execute(sql, (run_id, "device", d.premise.address, d.premise.number, d.premise.account,
                                 d.line.meter_id, d.line.serial, d.line.resource, "", d.code, message, "", "{}", ""))
            for m in prepared.not_prepared:
                db.execute(sql, (run_id, "device", m.premise.address, m.premise.number, m.premise.account,
                                 m.line.meter_id, m.line.serial, m.line.resource, m.device_id, rc.NO_READING,
                                 rc.DEVICE_TEXT[rc.NO_READING].format(days=self.lookback_days), "", "{}", ""))
            for m, r in prepared.readings:
                db.execute(sql, (run_id, "reading", m.premise.address, m.premise.number, m.premise.account,
                                 m.line.meter_id, m.line.serial, m.line.resource, m.device_id, "", "",
                                 r.idempotency_key, json.dumps(p.reading_json(r), ensure_ascii=False), "pending"))

    def _write_answers(self, run_id: int, results: dict[str, p.Result]) -> None:
        with self.registry.connect() as db:
            for key, result in results.items():
                db.execute("UPDATE billing_run_items SET answer = ?, code = ?, message = ? WHERE run_id = ? "
                           "AND kind = 'reading' AND idempotency_key = ?",
                           (result.status, result.code, result.message, run_id, key))


def _in_service(m: rd.Placed, as_of: datetime) -> bool:
    meter = m.meter
    if meter.commissioned_at is None and meter.decommissioned_at is None and meter.status == "commissioning":
        return False
    if meter.commissioned_at is not None and meter.commissioned_at > as_of:
        return False
    return meter.decommissioned_at is None or meter.decommissioned_at > as_of


def _summary(prepared: _Prepared, answers: dict[str, p.Result]) -> dict[str, Any]:
    """The figures of the protocol's summary (manual 4.4.2, in its order)."""
    o = prepared.outcome
    sent: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for _, r in prepared.readings:
        result = answers.get(r.idempotency_key)
        if result is not None and result.status == p.ACCEPTED:
            sent[r.resource] += 1
        else:
            rejected[r.resource] += 1
    errors = Counter(m.line.resource for m in prepared.not_prepared)
    return {"premises": o.premises, "with_account": o.with_account, "account_failures": len(o.account_failures),
            "account_unknown": sum(f.code == rc.UNKNOWN for f in o.account_failures),
            "account_missing": sum(f.code == rc.MISSING for f in o.account_failures),
            "meters_matched_accounts": o.lines_of_matched, "device_failures": len(o.device_failures),
            "first_time": o.first_time, "relinked": o.relinked, "sent_by_resource": dict(sent),
            "rejected_by_resource": dict(rejected), "errors_by_resource": dict(errors)}
