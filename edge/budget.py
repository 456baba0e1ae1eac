"""The buffer's disk budget: warnings at 80 % and 95 %, then eviction; and what to do when the
disk itself is full.

Used bytes are the buffer database's pages in use (``Buffer.data_bytes``) plus its write-ahead
log (``Buffer.wal_bytes``; the log is checkpointed and truncated when it holds more than a
twentieth of the budget). Past the warning mark, data the cloud has confirmed stored goes
first, of every table (archive values, events, lost periods, radio packets, command results),
with radio packets and rejected frames older than their retention. Unsynced data is evicted
only when the budget is truly full, oldest first: radio packets, then archive values (whole
periods), then lost periods, events and results; each such eviction is an ``unsynced_evicted``
event with the content and the counts: a loss is never silent. A write that finds the disk
full (SQLITE_FULL or ENOSPC, ``evict_when_full``) evicts stored data, else a chunk of unsynced
data the same way, and records a ``disk_full`` event before the write is tried again.
Tests: tests/integration/test_edge_budget.py, tests/integration/test_edge_disk_full.py.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from edge.buffer import STORED, Buffer
from edge.outbox import archive_mark

log = logging.getLogger(__name__)

WARN, CRITICAL = 0.80, 0.95
STORED_TARGET = 0.70  # past WARN, stored data is evicted down to this share of the budget
FULL_TARGET = 0.97  # when full, unsynced data is evicted down to this share
CHUNK_SHARE = 0.02  # one step of unsynced eviction takes this share of a table (periods for archive values)
FULL_DISK_SHARE = 0.10  # when the disk itself is full, the step is larger, so that the next writes fit too
WAL_SHARE = 0.05  # a write-ahead log larger than this share of the budget is checkpointed and truncated
RADIO_RETENTION_S = 5 * 86400.0  # the LoRa packet log shows five days (manual 4.2.4)
REJECT_RETENTION_S = 30 * 86400.0
LEVELS = ("ok", "warning", "critical", "full")
_UNSYNCED = "(batch IS NULL OR batch IN (SELECT seq FROM batches WHERE state != 'stored'))"
_STORED = "batch IN (SELECT seq FROM batches WHERE state = 'stored')"


def _unsynced_records(mark: int) -> str:
    """Records (alias ``r``) not batched yet, or in the range of a batch not confirmed stored."""
    return (f"(r.id > {int(mark)} OR EXISTS (SELECT 1 FROM batches b WHERE b.content = 'archive' "  # noqa: S608
            "AND b.state != 'stored' AND r.id BETWEEN b.first_row AND b.last_row))")
# the newest row of a table keeps its id counter: an id the cloud holds is never given twice
_NOT_NEWEST = {t: f"id < (SELECT max(id) FROM {t})" for t in ("events", "radio", "results")}  # noqa: S608


@dataclass(frozen=True, slots=True)
class BudgetState:
    budget_bytes: int
    used_bytes: int  # database pages in use plus the write-ahead log
    level: str  # one of LEVELS
    evicted_stored_values: int  # since the agent started
    evicted_unsynced_values: int  # since the agent started
    wal_bytes: int = 0
    evicted_unsynced_rows: int = 0  # radio packets, events, lost periods and results, since the agent started
    disk_full_errors: int = 0  # writes that found the disk full, since the agent started

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
        self.evicted_unsynced_rows = 0
        self._freed_rows = 0  # rows of stored data evicted by the current eviction
        page = buffer.db.execute("PRAGMA page_size").fetchone()[0]
        # checkpoint the log well before it is a noticeable share of a small budget
        buffer.db.execute(f"PRAGMA wal_autocheckpoint = {min(1000, max(16, int(WAL_SHARE * budget_bytes) // page))}")
        buffer.db.execute(f"PRAGMA journal_size_limit = {int(WAL_SHARE * budget_bytes)}")
        buffer.on_full = self.evict_when_full

    def _level(self, used: int) -> str:
        share = used / self.budget
        if share >= 1.0:
            return "full"
        if share >= CRITICAL:
            return "critical"
        return "warning" if share >= WARN else "ok"

    def _used(self) -> tuple[int, int]:
        """(bytes used, of which write-ahead log), after truncating a log grown past its share."""
        wal = self.buffer.wal_bytes()
        if wal > WAL_SHARE * self.budget:
            self.buffer.checkpoint()
            wal = self.buffer.wal_bytes()
        return self.buffer.data_bytes() + wal, wal

    def _state(self, used: int, wal: int, level: str) -> BudgetState:
        return BudgetState(self.budget, used, level, self.evicted_stored, self.evicted_unsynced, wal,
                           self.evicted_unsynced_rows, self.buffer.full_errors)

    def state(self) -> BudgetState:
        wal = self.buffer.wal_bytes()
        used = self.buffer.data_bytes() + wal
        return self._state(used, wal, self._level(used))

    def check(self) -> BudgetState:
        """Evict what the budget requires, report level changes, and return the state after it."""
        used, wal = self._used()
        if used >= WARN * self.budget:
            used = self._evict_stored(STORED_TARGET * self.budget)
        if used >= self.budget:
            used = self._evict_unsynced(used)
        used, wal = self._used()
        self._report(self._level(used), used)
        return self._state(used, wal, self.level)

    def _report(self, level: str, used: int) -> None:
        if level == self.level:
            return
        worse = LEVELS.index(level) > LEVELS.index(self.level)
        self.level = level
        pct = round(100.0 * used / self.budget, 1)
        if worse:
            log.warning("event=disk_budget level=%s used_bytes=%d budget_bytes=%d used_pct=%.1f", level, used,
                        self.budget, pct)
            self.buffer.event("disk_budget", count=used, severity="alarm" if level == "full" else "warning",
                              level=level, used_pct=pct, budget_bytes=self.budget)
        else:
            log.info("event=disk_budget level=%s used_bytes=%d used_pct=%.1f", level, used, pct)

    def evict_when_full(self, exc: BaseException) -> bool:
        """A write found the disk full (``Buffer.on_full``): free room per the budget's rules and
        record it; returns whether anything was freed. Stored data goes first (all of it); only if
        there is none, unsynced data, oldest first, a tenth of the oldest content (so that the next
        writes fit too), reported like any unsynced eviction."""
        before_stored, before_unsynced = self.evicted_stored, self.evicted_unsynced + self.evicted_unsynced_rows
        self._freed_rows = 0
        self._evict_stored(0)
        if not self._freed_rows:
            self._evict_unsynced_chunk(FULL_DISK_SHARE)  # one step, one event: the disk has no room for many
        self.buffer.checkpoint()
        stored = self.evicted_stored - before_stored
        unsynced = self.evicted_unsynced + self.evicted_unsynced_rows - before_unsynced
        log.error("event=disk_full evicted_stored_values=%d evicted_unsynced=%d reason=%r", stored, unsynced,
                  str(exc))
        self.buffer.event("disk_full", severity="alarm", error=str(exc), evicted_stored_values=stored,
                          evicted_unsynced=unsynced, used_bytes=self.buffer.data_bytes())
        return bool(self._freed_rows or unsynced)

    def _evict_stored(self, target: float) -> int:
        """Evict data the cloud confirmed stored, oldest batches first, down to ``target`` bytes;
        returns the bytes used after it."""
        db = self.buffer.db
        now = time.time()
        with self.buffer.tx():
            db.execute(f"DELETE FROM radio WHERE received_at < ? AND {_STORED} AND {_NOT_NEWEST['radio']}",  # noqa: S608
                       [now - RADIO_RETENTION_S])
            db.execute("DELETE FROM rejects WHERE received_at < ?", [now - REJECT_RETENTION_S])
        used, _ = self._used()
        while used > target:
            with self.buffer.tx():
                seqs = [r[0] for r in db.execute("SELECT seq FROM batches WHERE state = ? ORDER BY seq LIMIT 20",
                                                 [STORED])]
                if not seqs:
                    break
                marks = ",".join("?" * len(seqs))
                deleted = 0
                for first, last in db.execute(f"SELECT first_row, last_row FROM batches WHERE seq IN ({marks}) "  # noqa: S608
                                              "AND content = 'archive'", seqs).fetchall():
                    deleted += db.execute("SELECT coalesce(sum(nvals), 0) FROM records WHERE id BETWEEN ? AND ?",
                                          [first, last]).fetchone()[0]
                    db.execute("DELETE FROM records WHERE id BETWEEN ? AND ?", [first, last])
                rows = sum(db.execute(f"DELETE FROM {t} WHERE batch IN ({marks})"  # noqa: S608
                                      + (f" AND {_NOT_NEWEST[t]}" if t in _NOT_NEWEST else ""), seqs).rowcount
                           for t in ("events", "lost", "radio", "results"))
                # keep the newest batch row: it carries the sequence counter the cloud deduplicates on
                gone = db.execute(f"DELETE FROM batches WHERE seq IN ({marks}) "  # noqa: S608
                                  "AND seq < (SELECT max(seq) FROM batches)", seqs).rowcount
            self.evicted_stored += deleted
            self._freed_rows += deleted + rows
            if deleted or rows:
                log.info("event=stored_evicted values=%d rows=%d batches=%d", deleted, rows, len(seqs))
            if not (deleted or rows or gone):
                break
            used, _ = self._used()
        return used

    def _evict_unsynced(self, used: int) -> int:
        """Evict unsynced data, oldest first, down to FULL_TARGET; each step is an event."""
        while used > FULL_TARGET * self.budget:
            if not self._evict_unsynced_chunk(CHUNK_SHARE):
                break
            used, _ = self._used()
        return used

    def _evict_unsynced_chunk(self, share: float = CHUNK_SHARE) -> bool:
        """Evict one chunk of unsynced data: radio packets, else whole archive periods, else lost
        periods, events and results; returns whether anything was evicted."""
        return self._evict_rows("radio", "id", share, at="received_at") or self._evict_periods(share) or any(
            self._evict_rows(t, order, share) for t, order in (("lost", "at, rowid"), ("events", "id"),
                                                               ("results", "id")))

    def _evict_periods(self, share: float) -> bool:
        db = self.buffer.db
        total = db.execute("SELECT count(DISTINCT period_start) FROM records").fetchone()[0]
        chunk = max(1, int(total * share))
        with self.buffer.tx():
            unsynced = _unsynced_records(archive_mark(db))
            starts = [r[0] for r in db.execute(
                f"SELECT DISTINCT period_start FROM records r WHERE {unsynced} "  # noqa: S608
                "ORDER BY period_start LIMIT ?", [chunk])]
            if not starts:
                return False
            marks = ",".join("?" * len(starts))
            chosen = f"FROM records r WHERE {unsynced} AND period_start IN ({marks})"
            records, meters, deleted = db.execute(
                f"SELECT count(DISTINCT meter || '/' || channel || '/' || kind || '/' || period_start), "
                f"group_concat(DISTINCT meter), coalesce(sum(nvals), 0) {chosen}", starts).fetchone()
            db.execute(f"DELETE FROM records WHERE id IN (SELECT r.id {chosen})", starts)  # noqa: S608
            first, last = min(starts), max(starts)
            self.buffer.add_event("unsynced_evicted", count=deleted, severity="alarm", content="archive",
                                  records=records, meters=sorted(set((meters or "").split(","))),
                                  first_period_utc=first, last_period_utc=last, budget_bytes=self.budget)
        self.evicted_unsynced += deleted
        log.error("event=unsynced_evicted content=archive values=%d records=%d first_period_utc=%d "
                  "last_period_utc=%d reason=disk_budget_full", deleted, records, first, last)
        return True

    def _evict_rows(self, table: str, order: str, share: float, at: str = "at") -> bool:
        """Evict the oldest unsynced rows of ``table`` (``share`` of them, at least one)."""
        db = self.buffer.db
        newest = f" AND {_NOT_NEWEST[table]}" if table in _NOT_NEWEST else ""
        where = f"WHERE {_UNSYNCED}{newest}"
        total = db.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0]  # noqa: S608
        if not total:
            return False
        with self.buffer.tx():
            chosen = f"SELECT rowid FROM {table} {where} ORDER BY {order} LIMIT ?"  # noqa: S608
            first, last = db.execute(f"SELECT min({at}), max({at}) FROM {table} WHERE rowid IN ({chosen})",  # noqa: S608
                                     [max(1, int(total * share))]).fetchone()
            deleted = db.execute(f"DELETE FROM {table} WHERE rowid IN ({chosen})",  # noqa: S608
                                 [max(1, int(total * share))]).rowcount
            self.buffer.add_event("unsynced_evicted", count=deleted, severity="alarm", content=table,
                                  first_at=first, last_at=last, budget_bytes=self.budget)
        self.evicted_unsynced_rows += deleted
        log.error("event=unsynced_evicted content=%s rows=%d reason=disk_budget_full", table, deleted)
        return True
