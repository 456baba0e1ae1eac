"""The buffer's disk budget: warnings at 80 % and 95 %, then eviction.

Used bytes are the buffer database's pages in use (``Buffer.data_bytes``). Past the warning
mark, data the cloud has confirmed stored goes first (with radio packets and rejected frames
older than their retention). Unsynced archive values are evicted only when the budget is
truly full, oldest period first, and each such eviction is an ``unsynced_evicted`` event with
the counts: a loss is never silent. Tests: tests/integration/test_edge_budget.py.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from edge.buffer import STORED, Buffer

log = logging.getLogger(__name__)

WARN, CRITICAL = 0.80, 0.95
STORED_TARGET = 0.70  # past WARN, stored data is evicted down to this share of the budget
FULL_TARGET = 0.97  # when full, unsynced data is evicted down to this share
RADIO_RETENTION_S = 5 * 86400.0  # the LoRa packet log shows five days (manual 4.2.4)
REJECT_RETENTION_S = 30 * 86400.0
LEVELS = ("ok", "warning", "critical", "full")


@dataclass(frozen=True, slots=True)
class BudgetState:
    budget_bytes: int
    used_bytes: int
    level: str  # one of LEVELS
    evicted_stored_values: int  # since the agent started
    evicted_unsynced_values: int  # since the agent started

    @property
    def used_pct(self) -> float:
        return 100.0 * self.used_bytes / self.budget_bytes


class DiskBudget:
    def __init__(self, buffer: Buffer, budget_bytes: int) -> None:
        self.buffer = buffer
        self.budget = budget_bytes
        self.level = "ok"
        self.evicted_stored = 0
        self.evicted_unsynced = 0

    def _level(self, used: int) -> str:
        share = used / self.budget
        if share >= 1.0:
            return "full"
        if share >= CRITICAL:
            return "critical"
        return "warning" if share >= WARN else "ok"

    def state(self) -> BudgetState:
        used = self.buffer.data_bytes()
        return BudgetState(self.budget, used, self._level(used), self.evicted_stored, self.evicted_unsynced)

    def check(self) -> BudgetState:
        """Evict what the budget requires, report level changes, and return the state after it."""
        used = self.buffer.data_bytes()
        if used >= WARN * self.budget:
            used = self._evict_stored(used)
        if used >= self.budget:
            used = self._evict_unsynced(used)
        self._report(self._level(used), used)
        return BudgetState(self.budget, used, self.level, self.evicted_stored, self.evicted_unsynced)

    def _report(self, level: str, used: int) -> None:
        if level == self.level:
            return
        worse = LEVELS.index(level) > LEVELS.index(self.level)
        self.level = level
        pct = round(100.0 * used / self.budget, 1)
        if worse:
            log.warning("event=disk_budget level=%s used_bytes=%d budget_bytes=%d used_pct=%.1f", level, used,
                        self.budget, pct)
            self.buffer.event("disk_budget", count=used, level=level, used_pct=pct, budget_bytes=self.budget)
        else:
            log.info("event=disk_budget level=%s used_bytes=%d used_pct=%.1f", level, used, pct)

    def _evict_stored(self, used: int) -> int:
        db = self.buffer.db
        now = time.time()
        with self.buffer.tx():
            db.execute("DELETE FROM radio WHERE received_at < ?", [now - RADIO_RETENTION_S])
            db.execute("DELETE FROM rejects WHERE received_at < ?", [now - REJECT_RETENTION_S])
        used = self.buffer.data_bytes()
        while used > STORED_TARGET * self.budget:
            with self.buffer.tx():
                seqs = [r[0] for r in db.execute(
                    "SELECT b.seq FROM batches b WHERE b.state = ? AND EXISTS "
                    "(SELECT 1 FROM archive a WHERE a.batch = b.seq) ORDER BY b.seq LIMIT 20", [STORED])]
                if not seqs:
                    break
                marks = ",".join("?" * len(seqs))
                deleted = db.execute(f"DELETE FROM archive WHERE batch IN ({marks})", seqs).rowcount  # noqa: S608
                # keep the newest batch row: it carries the sequence counter the cloud deduplicates on
                db.execute(f"DELETE FROM batches WHERE seq IN ({marks}) "  # noqa: S608
                           "AND seq < (SELECT max(seq) FROM batches)", seqs)
            self.evicted_stored += deleted
            log.info("event=stored_evicted values=%d batches=%d", deleted, len(seqs))
            used = self.buffer.data_bytes()
        return used

    def _evict_unsynced(self, used: int) -> int:
        """Evict whole periods of unsynced values, oldest first, down to FULL_TARGET; each step is an event."""
        db = self.buffer.db
        unsynced = "(a.batch IS NULL OR a.batch IN (SELECT seq FROM batches WHERE state != 'stored'))"
        while used > FULL_TARGET * self.budget:
            total = db.execute("SELECT count(DISTINCT period_start) FROM archive").fetchone()[0]
            chunk = max(1, total // 50)
            with self.buffer.tx():
                starts = [r[0] for r in db.execute(
                    f"SELECT DISTINCT a.period_start FROM archive a WHERE {unsynced} "  # noqa: S608
                    "ORDER BY a.period_start LIMIT ?", [chunk])]
                if not starts:
                    break
                marks = ",".join("?" * len(starts))
                chosen = f"FROM archive a WHERE {unsynced} AND a.period_start IN ({marks})"
                records, meters = db.execute(
                    f"SELECT count(DISTINCT a.meter || '/' || a.channel || '/' || a.kind || '/' || a.period_start), "
                    f"group_concat(DISTINCT a.meter) {chosen}", starts).fetchone()
                deleted = db.execute(f"DELETE FROM archive WHERE rowid IN (SELECT a.rowid {chosen})",  # noqa: S608
                                     starts).rowcount
                first, last = min(starts), max(starts)
                self.buffer.add_event("unsynced_evicted", count=deleted, records=records,
                                      meters=sorted(set((meters or "").split(","))),
                                      first_period_utc=first, last_period_utc=last, budget_bytes=self.budget)
            self.evicted_unsynced += deleted
            log.error("event=unsynced_evicted values=%d records=%d first_period_utc=%d last_period_utc=%d "
                      "reason=disk_budget_full", deleted, records, first, last)
            used = self.buffer.data_bytes()
        return used
