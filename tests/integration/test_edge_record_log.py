"""The buffer's archive as an append-only log of records (edge/buffer_schema.py): one row per
record with its values packed, a batch is a range of record ids, building a batch writes no
record row, a repeat adds only the parameters the stored record lacks, what the sync sends is
what the cloud decodes (the same digest after a round trip), the schema version is kept and a
newer file is refused."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge import outbox
from edge.buffer import PENDING, PUBLISHED, STORED, Buffer
from edge.buffer_schema import SCHEMA_VERSION
from protocol import watermark
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, decode_batch, encode

T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


def _record(hour: int, values: dict[str, float], meter: str = "m1") -> ArchiveRecord:
    return ArchiveRecord(meter, 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * hour, values, received_at=2.5)


def _rows(buf: Buffer) -> list[tuple]:
    return buf.db.execute("SELECT * FROM records ORDER BY id").fetchall()


def test_a_batch_is_a_range_of_records_and_building_it_writes_no_record(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    # 5 records of 2 values: one row each, ids 1..5 in arrival order (hour 4 arrives first)
    assert buf.store([_record(4, {"Q": 5.0, "V1": 1.0})]) == 2
    assert buf.store([_record(h, {"Q": float(h), "V1": 1.0}) for h in range(4)]) == 8
    before = _rows(buf)
    assert len(before) == 5
    first, second = buf.next_outgoing(2, 3, "s")
    assert _rows(buf) == before  # no record row touched
    ranges = buf.db.execute("SELECT seq, first_row, last_row, records FROM batches ORDER BY seq").fetchall()
    assert ranges == [(1, 1, 3, 3), (2, 4, 5, 2)]
    # arrival order: the record of hour 4 travels first, then hours 0 and 1; then hours 2 and 3
    assert [r.period_start for r in decode_batch(first.encoded.data).records] == [T0 + 4 * 3600, T0, T0 + 3600]
    assert [r.period_start for r in decode_batch(second.encoded.data).records] == [T0 + 7200, T0 + 3 * 3600]
    assert buf.stats()["unbatched_values"] == 0
    assert buf.stats()["unsynced_values"] == 10
    buf.close()


def test_a_repeat_adds_only_the_parameters_the_stored_record_lacks(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    assert buf.store([_record(0, {"Q": 1.0})]) == 1
    # the same key again: Q is stored (its new value is ignored), V1 and V2 are new -> 2 values
    assert buf.store([_record(0, {"Q": 9.0, "V1": 2.0, "V2": 3.0})]) == 2
    assert buf.store([_record(0, {"Q": 9.0, "V1": 2.0})]) == 0
    # a repeat inside one call, next to a new key: 1 (hour 1) + 0 (its repeat) values
    assert buf.store([_record(1, {"Q": 4.0}), _record(1, {"Q": 4.0})]) == 1
    values = buf.db.execute("SELECT period_start, parameter, value FROM archive ORDER BY period_start, parameter")
    assert values.fetchall() == [(T0, "Q", 1.0), (T0, "V1", 2.0), (T0, "V2", 3.0), (T0 + 3600, "Q", 4.0)]
    (out,) = buf.next_outgoing(1, 10, "s")
    assert [r.values for r in decode_batch(out.encoded.data).records] == [{"Q": 1.0}, {"V1": 2.0, "V2": 3.0},
                                                                         {"Q": 4.0}]
    buf.close()


def test_what_is_sent_is_what_the_cloud_decodes_to_the_same_digest(tmp_path: Path) -> None:
    """Integer values and times are sent as the floats the cloud decodes them to: re-encoding the
    decoded batch gives the same bytes and the same digest (a re-send is recognised as the same)."""
    buf = Buffer(tmp_path / "buffer.db")
    buf.store([ArchiveRecord("m1", 2, ArchiveKind.DAY, Nature.INTERVAL, T0, {"Q": 5, "V1": 0}, 1, 3, 7)])
    (out,) = buf.next_outgoing(1, 10, "s")
    batch = decode_batch(out.encoded.data)
    assert batch.records[0].values == {"Q": 5.0, "V1": 0.0}
    again = encode(batch)
    assert (again.data, again.digest, again.msg_id) == (out.encoded.data, out.encoded.digest, out.encoded.msg_id)
    buf.close()


def test_the_schema_version_is_kept_and_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    Buffer(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="schema version 4 is newer than this edge's 3"):
        Buffer(path)


def test_a_stored_batch_never_moves_again(tmp_path: Path) -> None:
    """The life cycle (edge/outbox.py TRANSITIONS): once the cloud confirmed a batch, neither a late
    acknowledgement, nor a requeue, nor a watermark that no longer lists it changes it."""
    buf = Buffer(tmp_path / "buffer.db")
    buf.store([_record(0, {"Q": 1.0})])
    (out,) = buf.next_outgoing(1, 10, "s")
    buf.mark_published_many({1: out.encoded.digest})
    assert buf.apply_cloud(watermark.build([(1, buf.epoch, out.encoded.digest)], 0)) == (1, 0)
    buf.mark_published_many({1: "0" * 32})  # a late duplicate acknowledgement
    assert buf.requeue_unconfirmed(-1.0) == 0
    # a later watermark lists another buffer's batch under seq 1: a stored batch is not renumbered
    assert buf.apply_cloud(watermark.build([(1, "00000000000000aa", "f" * 32)], 0)) == (0, 0)
    assert buf.db.execute("SELECT seq, state, digest FROM batches").fetchall() == [(1, "stored", out.encoded.digest)]
    assert outbox.from_states(STORED) == (PENDING, PUBLISHED)
    with pytest.raises(ValueError, match="no batch moves to state 'lost'"):
        outbox.from_states("lost")
    buf.close()
