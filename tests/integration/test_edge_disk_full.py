"""The edge buffer when the disk itself is full (edge/buffer.py ``write``, edge/budget.py
``evict_when_full``): a real SQLITE_FULL, from ``PRAGMA max_page_count`` on the buffer's own
connection. The write is not lost and the agent does not stop: data the cloud confirmed stored
is evicted first and the write retried; with nothing stored, the oldest unsynced data goes and
that loss is an event with its exact count; a ``disk_full`` event says what happened. The
write-ahead log counts in the disk budget."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.budget import DiskBudget
from edge.buffer import Buffer, BufferFull
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord

T0 = 1_767_225_600


def _records(first_hour: int, hours: int) -> list[ArchiveRecord]:
    return [ArchiveRecord(f"m{m}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * h,
                          {"Q": 1.0 + h, "V": 2.0 + m, "T1": 70.5, "T2": 40.25}, received_at=1.0)
            for h in range(first_hour, first_hour + hours) for m in range(8)]


def _count(buf: Buffer, where: str = "1") -> int:
    return buf.db.execute(f"SELECT count(*) FROM archive WHERE {where}").fetchone()[0]  # noqa: S608


def _cap(buf: Buffer) -> None:
    """The disk is full now: the database may not grow by a single page."""
    buf.checkpoint()
    pages = buf.db.execute("PRAGMA page_count").fetchone()[0]
    assert buf.db.execute(f"PRAGMA max_page_count = {pages}").fetchone()[0] == pages


def test_sqlite_full_is_real_and_raised_without_a_budget(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    buf.store(_records(0, 10))
    _cap(buf)
    with pytest.raises(BufferFull) as info:
        buf.store(_records(10, 200))
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert _count(buf) == 10 * 8 * 4  # the failed write left nothing half done
    assert not buf.db.conn.in_transaction
    buf.close()


def test_a_full_disk_evicts_stored_data_first_and_the_write_goes_through(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    budget = DiskBudget(buf, 1 << 30)  # the budget is far away: the disk is what is full
    buf.store(_records(0, 100))
    while (batch := buf.next_batch(50, "full")) is not None:
        buf.mark_published(batch.seq)
    buf.mark_stored_upto(10**6)  # the cloud has all of it
    buf.store(_records(100, 20))  # unsynced
    unsynced = _count(buf, "batch IS NULL")
    _cap(buf)
    added = buf.store(_records(120, 50))
    assert added == 50 * 8 * 4  # the write went through after the eviction
    assert _count(buf, "batch IS NULL") == unsynced + added  # no unsynced value lost
    assert budget.evicted_stored > 0
    assert budget.evicted_unsynced == 0
    assert buf.events(kind="unsynced_evicted") == []
    (full,) = buf.events(kind="disk_full")
    assert full["severity"] == "alarm"
    assert full["detail"]["evicted_stored_values"] == budget.evicted_stored
    assert "full" in full["detail"]["error"]
    assert budget.state().disk_full_errors >= 1
    buf.close()


def test_a_full_disk_with_nothing_stored_evicts_the_oldest_unsynced_and_says_so(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    budget = DiskBudget(buf, 1 << 30)
    buf.store(_records(0, 150))
    before = _count(buf)
    _cap(buf)
    buf.event("clock_set", meter="m1", count=1)  # a small write: the eviction makes room for it
    added = buf.store(_records(150, 10))
    assert added == 10 * 8 * 4
    events = buf.events(kind="unsynced_evicted", limit=1000)
    evicted = sum(e["count"] for e in events if e["detail"]["content"] == "archive")
    assert evicted > 0
    assert evicted == budget.evicted_unsynced
    assert _count(buf) + evicted == before + added  # every value is kept or reported evicted
    newest_evicted = max(e["detail"]["last_period_utc"] for e in events)
    assert buf.db.execute("SELECT min(period_start) FROM archive").fetchone()[0] > newest_evicted  # oldest first
    assert buf.events(kind="disk_full")
    assert len(buf.events(kind="clock_set")) == 1
    buf.close()


def test_the_write_ahead_log_counts_in_the_disk_budget(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    budget = DiskBudget(buf, 4 << 20)
    buf.store(_records(0, 100))
    state = budget.state()
    assert state.wal_bytes == buf.wal_bytes() > 0
    assert state.used_bytes == buf.data_bytes() + state.wal_bytes
    checked = budget.check()  # a log past its share of the budget is checkpointed and truncated
    assert checked.wal_bytes <= 0.05 * (4 << 20)
    assert checked.used_bytes == buf.data_bytes() + buf.wal_bytes()
    buf.close()
