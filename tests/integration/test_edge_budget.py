"""The edge buffer's disk budget (edge/budget.py) on a real SQLite file: warnings at 80 % and
95 % (logged and recorded), data the cloud confirmed stored is evicted first, unsynced data only
when the budget is full, oldest first, and that loss is an event row with the exact counts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.budget import DiskBudget
from edge.buffer import Buffer
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord

BUDGET = 256 * 1024
T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


class Filler:
    """Hourly records of a few meters, in period order, two values each."""

    def __init__(self, buf: Buffer) -> None:
        self.buf = buf
        self.hour = 0

    def add(self, hours: int) -> None:
        records = [ArchiveRecord(f"m{m}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * (self.hour + h),
                                 {"Q": 1.0 + h, "V": 2.0 + m}, received_at=1.0)
                   for h in range(hours) for m in range(4)]
        self.buf.store(records)
        self.hour += hours

    def until(self, budget: DiskBudget, share: float) -> None:
        while budget.buffer.data_bytes() < share * budget.budget:
            self.add(10)


def _values(buf: Buffer) -> int:
    return buf.db.execute("SELECT count(*) FROM archive").fetchone()[0]


def _publish_and_confirm_all(buf: Buffer) -> None:
    while (batch := buf.next_batch(200, "budget")) is not None:
        buf.mark_published(batch.seq)
    buf.mark_stored_upto(10**9)


def test_warnings_at_80_and_95_percent_evict_nothing_unsynced(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    budget = DiskBudget(buf, BUDGET)
    fill = Filler(buf)
    assert budget.check().level == "ok"
    caplog.set_level(logging.WARNING, logger="edge.budget")
    fill.until(budget, 0.81)
    n = _values(buf)
    state = budget.check()
    assert state.level == "warning"
    assert _values(buf) == n  # nothing was confirmed stored, so nothing goes
    fill.until(budget, 0.96)
    n = _values(buf)
    assert budget.check().level == "critical"
    assert _values(buf) == n
    levels = [e["detail"]["level"] for e in reversed(buf.events(kind="disk_budget"))]
    assert levels == ["warning", "critical"]
    assert "level=warning" in caplog.text
    assert "level=critical" in caplog.text
    assert budget.check().level == "critical"
    assert len(buf.events(kind="disk_budget")) == 2  # a level is reported once, not every check
    buf.close()


def test_stored_data_goes_first_and_the_batch_sequence_survives(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    budget = DiskBudget(buf, BUDGET)
    fill = Filler(buf)
    fill.until(budget, 0.5)
    _publish_and_confirm_all(buf)
    stored_values = _values(buf)
    last_seq = buf.db.execute("SELECT max(seq) FROM batches").fetchone()[0]
    fill.until(budget, 0.9)
    unsynced = _values(buf) - stored_values
    state = budget.check()
    assert state.evicted_stored_values > 0
    assert state.evicted_unsynced_values == 0
    assert buf.stats()["unsynced_values"] == unsynced  # every unsynced value is still there
    assert buf.events(kind="unsynced_evicted") == []
    batch = buf.next_batch(200, "budget")
    assert batch is not None
    assert batch.seq == last_seq + 1  # the cloud deduplicates on it: never starts again at 1
    buf.close()


def test_a_full_budget_evicts_unsynced_oldest_first_and_reports_exact_counts(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    budget = DiskBudget(buf, BUDGET)
    fill = Filler(buf)
    fill.until(budget, 1.02)
    total = _values(buf)
    state = budget.check()
    assert state.level in ("critical", "full")  # evicted just below full
    assert state.used_bytes < BUDGET
    remaining = _values(buf)
    assert remaining < total
    events = buf.events(kind="unsynced_evicted", limit=1000)
    assert events
    assert sum(e["count"] for e in events) == total - remaining == state.evicted_unsynced_values
    newest_evicted = max(e["detail"]["last_period_utc"] for e in events)
    oldest_kept = buf.db.execute("SELECT min(period_start) FROM archive").fetchone()[0]
    assert newest_evicted < oldest_kept  # oldest first
    assert oldest_kept == newest_evicted + 3600  # whole periods, none skipped
    assert sum(e["detail"]["records"] for e in events) * 2 == total - remaining  # two values per record
    assert buf.db.execute("SELECT count(*) FROM archive WHERE period_start = ?", [oldest_kept]).fetchone()[0] == 8
    buf.close()
