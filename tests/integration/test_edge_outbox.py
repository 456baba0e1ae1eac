"""The edge outbox against the cloud's stored watermark (edge/buffer.py): a buffer younger than
the cloud's history (a replaced disk, a new gateway for an existing site) renumbers its batches
above the watermark instead of taking them as stored; a normal restart changes nothing; whole
records always travel in one batch; transactions are real (a failure rolls everything back)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.buffer import Buffer
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord

T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


def _records(n: int, first_hour: int = 0) -> list[ArchiveRecord]:
    return [ArchiveRecord("m1", ch, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * (first_hour + h),
                          {"Q": 1.0 + h, "V1": 2.0, "V2": 3.0}, received_at=1.0)
            for h in range(n) for ch in (1, 2)]


def _states(buf: Buffer) -> dict[int, str]:
    return dict(buf.db.execute("SELECT seq, state FROM batches").fetchall())


def test_a_fresh_buffer_renumbers_its_batches_above_the_cloud_watermark(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    buf.store(_records(6))
    first = buf.next_batch(4, "s")
    assert first is not None
    assert first.seq == 1
    buf.mark_published(1)
    second = buf.next_batch(4, "s")
    assert second is not None
    assert second.seq == 2
    assert buf.adopt_watermark(500) == 2
    buf.mark_stored_upto(500)
    assert _states(buf) == {500: "stored", 501: "pending", 502: "pending"}  # nothing taken as stored
    again = buf.next_batch(4, "s")
    assert again is not None
    assert again.seq == 501
    assert again.records == first.records  # same content, new id
    assert buf.stats()["unsynced_values"] == 12 * 3
    assert buf.events(kind="batches_renumbered")[0]["count"] == 2
    buf.mark_published(501)
    buf.mark_published(502)
    buf.store(_records(1, first_hour=10))
    third = buf.next_batch(4, "s")
    assert third is not None
    assert third.seq == 503
    buf.close()


def test_a_normal_restart_keeps_its_numbers(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    buf.store(_records(6))
    while (b := buf.next_batch(4, "s")) is not None:
        buf.mark_published(b.seq)
    buf.close()
    buf = Buffer(tmp_path / "buffer.db")
    assert buf.adopt_watermark(2) == 0
    assert buf.mark_stored_upto(2) == 2
    assert _states(buf) == {1: "stored", 2: "stored", 3: "published"}
    buf.close()


def test_every_value_of_a_record_goes_in_the_same_batch(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    buf.store(_records(5))
    seen = []
    while (b := buf.next_batch(3, "s")) is not None:
        assert len(b.records) <= 3
        assert all(set(r.values) == {"Q", "V1", "V2"} for r in b.records)
        seen += [(r.channel, r.period_start) for r in b.records]
        buf.mark_published(b.seq)
    assert sorted(seen) == sorted((ch, T0 + 3600 * h) for h in range(5) for ch in (1, 2))
    buf.close()


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")

    def interrupted() -> None:
        with buf.tx():
            buf.insert_values(_records(2))
            buf.add_event("x")
            raise RuntimeError("power gone")
    with pytest.raises(RuntimeError, match="power"):
        interrupted()
    assert buf.db.execute("SELECT count(*) FROM archive").fetchone()[0] == 0
    assert buf.events() == []
    assert not buf.db.conn.in_transaction
    buf.close()
