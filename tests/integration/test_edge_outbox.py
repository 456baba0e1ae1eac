"""The edge outbox against the cloud's stored watermark (edge/buffer.py): a batch is confirmed
only when the cloud lists this buffer's epoch and the batch's digest under its seq; a buffer
younger than the cloud's history (a replaced disk, a new gateway for an existing site) renumbers
the batches the cloud holds others for above the cloud's highest seq instead of taking them as
stored; a normal restart changes nothing; whole records always travel in one batch; transactions
are real (a failure rolls everything back). Every content kind (command results, archive values,
events with lost periods, radio packets) travels in batches of its own, in that order, survives a
restart and a renumbering; a buffer of the previous version opens, gets an epoch and migrates."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.buffer import Buffer, RadioPacket
from protocol import watermark
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, batch_subject, decode_batch, encode, encode_batch

T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


def _records(n: int, first_hour: int = 0) -> list[ArchiveRecord]:
    return [ArchiveRecord("m1", ch, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * (first_hour + h),
                          {"Q": 1.0 + h, "V1": 2.0, "V2": 3.0}, received_at=1.0)
            for h in range(n) for ch in (1, 2)]


def _states(buf: Buffer) -> dict[int, str]:
    return dict(buf.db.execute("SELECT seq, state FROM batches").fetchall())


OLD_EPOCH = "00000000000000aa"  # the epoch of the buffer the replaced disk held


def _older_buffer(seqs: range) -> list[tuple[int, str, str]]:
    """(seq, epoch, digest) of batches an older buffer of the site had stored in the cloud."""
    return [(seq, OLD_EPOCH, f"{seq:032x}") for seq in seqs]


def _sent(buf: Buffer, batch: Batch | None) -> str:
    """Publish ``batch`` as the sync does (acknowledged, with its digest); returns the digest."""
    assert batch is not None
    digest = encode(batch).digest
    buf.mark_published_many({batch.seq: digest})
    return digest


def test_a_fresh_buffer_renumbers_the_batches_the_cloud_holds_others_for(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    buf.store(_records(6))  # 12 records of 3 values, in 3 batches of 4
    first = buf.next_batch(4, "s")
    assert first is not None
    assert first.seq == 1
    _sent(buf, first)
    second = buf.next_batch(4, "s")  # built, never acknowledged
    assert second is not None
    assert second.seq == 2
    # the cloud holds an older buffer's batches under seqs 1-500
    assert buf.apply_cloud(watermark.build(_older_buffer(range(1, 501)), 0)) == (0, 2)
    assert _states(buf) == {501: "pending", 502: "pending"}  # nothing taken as stored
    again = buf.next_batch(4, "s")
    assert again is not None
    assert again.seq == 501
    assert again.records == first.records  # same content, new seq
    assert buf.stats()["unsynced_values"] == 12 * 3
    assert buf.events(kind="batches_renumbered")[0]["count"] == 2
    # the cloud stores 501 as sent, and under 502 a batch of this epoch with other content (a
    # buffer restored from a backup had sent it): 501 is confirmed, 502 moves on
    digest = _sent(buf, again)
    _sent(buf, buf.next_batch(4, "s"))
    cloud = watermark.build([*_older_buffer(range(1, 501)), (501, buf.epoch, digest), (502, buf.epoch, "f" * 32)], 0)
    assert buf.apply_cloud(cloud) == (1, 1)
    assert _states(buf) == {501: "stored", 503: "pending"}
    buf.store(_records(1, first_hour=10))
    # 503 goes again; new batches follow it: the 4 records never batched and the 2 new ones, then
    # the two renumbering events
    assert [(b.seq, _content(b), len(b.records) + len(b.events)) for b in buf.next_batches(10, 4, "s")] == [
        (503, "archive", 4), (504, "archive", 4), (505, "archive", 2), (506, "event", 2)]
    buf.close()


def test_a_new_buffer_numbers_above_the_clouds_history_from_its_first_batch(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    assert buf.apply_cloud(watermark.build(_older_buffer(range(1, 9)), 0)) == (0, 0)
    buf.store(_records(1))
    first = buf.next_batch(4, "s")
    assert first is not None
    assert first.seq == 9
    assert buf.events(kind="batches_renumbered") == []
    buf.close()


def test_a_batch_below_what_the_cloud_lists_is_renumbered_not_confirmed(tmp_path: Path) -> None:
    """The cloud lists the batches of its last WINDOW seqs: one of ours further below (the edge
    could not read the watermark while the cloud stored WINDOW more) cannot be confirmed there."""
    buf = Buffer(tmp_path / "buffer.db")
    buf.store(_records(2))
    digest = _sent(buf, buf.next_batch(4, "s"))
    top = 1 + watermark.WINDOW  # seq 1 is at the listing's floor: top - WINDOW = 1
    cloud = watermark.build([(1, buf.epoch, digest), *_older_buffer(range(2, top + 1))], 0)
    assert (cloud.floor, 1 in cloud.batches) == (1, False)
    assert buf.apply_cloud(cloud) == (0, 1)
    assert _states(buf) == {top + 1: "pending"}
    buf.close()


def test_a_normal_restart_keeps_its_numbers_and_epoch(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    epoch = buf.epoch
    assert len(epoch) == 16
    buf.store(_records(6))
    digests = {}
    while (b := buf.next_batch(4, "s")) is not None:
        digests[b.seq] = _sent(buf, b)
    buf.close()
    buf = Buffer(tmp_path / "buffer.db")
    assert buf.epoch == epoch
    assert buf.apply_cloud(watermark.build([(s, epoch, digests[s]) for s in (1, 2)], 0)) == (2, 0)
    assert _states(buf) == {1: "stored", 2: "stored", 3: "published"}
    assert Buffer(tmp_path / "other.db").epoch != epoch  # every new buffer draws its own
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


# --- every content kind in the outbox (events, lost periods, radio packets, command results) ---

def _fill_every_kind(buf: Buffer) -> dict[str, object]:
    """One of each: archive records, a device event, an edge event, a lost period, a radio packet,
    a command result. Returns what the batches must carry."""
    buf.store(_records(2))
    assert buf.add_device_event("m1", 1_767_000_000.0, "integrity", "alarm", {"channel": 1}) is True
    assert buf.add_device_event("m1", 1_767_000_000.0, "integrity", "alarm", {"channel": 1}) is False  # a repeat
    buf.event("clock_set", meter="m1", count=1, offset_before_s=42.0)
    with buf.tx():  # the buffer keeps a lost period by its UTC start, sent as it is
        buf.db.table("lost").insert({"meter": "m1", "kind": "hour", "period": T0, "reason": "beyond depth",
                                     "at": 5.0})
        buf.add_result("cmd-1", "accepted", {})
    buf.add_radio(RadioPacket(received_at=7.0, dev_eui="0011223344556677", f_cnt=9, f_port=2, rssi=-100, snr=7.5,
                              gateway="gw1", frequency=868_100_000, payload=b"\x01\x02"))
    return {
        "event_ids": [r[0] for r in buf.db.execute("SELECT id FROM events ORDER BY id")],
        "radio_id": buf.db.execute("SELECT id FROM radio").fetchone()[0],
    }


def _content(batch: Batch) -> str:
    return ("archive" if batch.records else "event" if batch.events or batch.lost else
            "radio" if batch.radio else "result")


def test_each_kind_travels_in_batches_of_its_own_results_first(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    ids = _fill_every_kind(buf)
    batches = buf.next_batches(10, 100, "s")
    assert [(b.seq, _content(b)) for b in batches] == [(1, "result"), (2, "archive"), (3, "event"), (4, "radio")]
    result, archive, events, radio = batches
    assert [(r.command_id, r.state) for r in result.results] == [("cmd-1", "accepted")]
    assert len(archive.records) == 4
    assert [e.id for e in events.events] == ids["event_ids"]
    device, edge = events.events
    assert (device.meter, device.code, device.severity, device.source, device.detail) == (
        "m1", "integrity", "alarm", "device", {"channel": 1})
    assert (edge.code, edge.severity, edge.source, edge.detail["count"]) == ("clock_set", "warning", "edge", 1)
    assert [(x.meter, x.kind, x.period_start, x.reason) for x in events.lost] == [
        ("m1", ArchiveKind.HOUR, T0, "beyond depth")]
    assert radio.radio[0].id == ids["radio_id"]
    assert (radio.radio[0].dev_eui, radio.radio[0].payload, radio.radio[0].rssi) == ("0011223344556677", b"\x01\x02",
                                                                                     -100)
    for b in batches:
        assert b.epoch == buf.epoch  # event and radio ids are unique per (site, epoch)
        assert decode_batch(encode_batch(b)) == b  # what the cloud reads is what was built
    assert [batch_subject(b) for b in batches] == ["du.s.up.state", "du.s.up.archive", "du.s.up.event",
                                                   "du.s.up.radio"]
    assert dict(buf.db.execute("SELECT seq, content FROM batches").fetchall()) == {
        1: "result", 2: "archive", 3: "event", 4: "radio"}
    assert buf.next_batches(10, 100, "s", skip={1, 2, 3, 4}) == []
    buf.close()


def test_every_kind_survives_a_restart_before_sync(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    _fill_every_kind(buf)
    built = buf.next_batches(2, 100, "s")  # results and archive built, nothing published
    buf.close()
    buf = Buffer(tmp_path / "buffer.db")  # the agent restarts (or was killed) before any acknowledgement
    again = buf.next_batches(10, 100, "s")
    assert again[:2] == built  # the same seqs with the same content
    assert [_content(b) for b in again] == ["result", "archive", "event", "radio"]
    stats = buf.stats()
    assert (stats["unsynced_events"], stats["unsynced_lost"], stats["unsynced_radio"], stats["unsynced_results"]) == (
        2, 1, 1, 1)
    digests = {b.seq: encode(b).digest for b in again}
    buf.mark_published_many(digests)
    assert buf.apply_cloud(watermark.build([(s, buf.epoch, d) for s, d in digests.items()], 0)) == (4, 0)
    stats = buf.stats()
    assert (stats["unsynced_events"], stats["unsynced_lost"], stats["unsynced_radio"], stats["unsynced_results"],
            stats["unsynced_values"]) == (0, 0, 0, 0, 0)
    buf.close()


def test_renumbering_moves_every_kind(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    _fill_every_kind(buf)
    before = buf.next_batches(10, 100, "s")
    buf.mark_published_many({b.seq: encode(b).digest for b in before[:2]})
    assert buf.apply_cloud(watermark.build(_older_buffer(range(1, 701)), 0)) == (0, 4)
    after = buf.next_batches(4, 100, "s")
    assert [b.seq for b in after] == [701, 702, 703, 704]
    for old, new in zip(before, after, strict=True):
        assert (new.records, new.events, new.lost, new.radio, new.results) == (
            old.records, old.events, old.lost, old.radio, old.results)
    assert buf.db.execute("SELECT count(*) FROM events WHERE batch < 700").fetchone()[0] == 0
    renumbered = buf.next_batches(10, 100, "s", skip={701, 702, 703, 704})
    assert [(b.seq, _content(b), b.events[0].code) for b in renumbered] == [
        (705, "event", "batches_renumbered")]  # the renumbering's own event goes up too
    buf.close()


def test_a_result_is_durable_exactly_when_its_transaction_is(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")

    def interrupted() -> None:
        with buf.tx():
            buf.add_result("cmd-2", "done", {"records": 3})
            raise RuntimeError("power gone")
    with pytest.raises(RuntimeError):
        interrupted()
    assert buf.next_batch(10, "s") is None
    with pytest.raises(ValueError, match="state"):
        buf.add_result("cmd-2", "finished", {})
    with pytest.raises(ValueError, match="severity"):
        buf.add_device_event("m1", 1.0, "x", "fatal", {})
    buf.close()


_OLD_SCHEMA = """
CREATE TABLE "archive" ("meter" TEXT, "channel" INTEGER, "kind" TEXT, "parameter" TEXT, "period_start" INTEGER,
   "nature" TEXT, "value" REAL NOT NULL, "quality" INTEGER, "version" INTEGER, "received_at" REAL,
   "clock_offset_s" REAL, "batch" INTEGER, PRIMARY KEY ("meter", "channel", "kind", "parameter", "period_start"));
CREATE INDEX "idx_archive_batch" ON "archive" ("batch");
CREATE INDEX idx_archive_outbox ON archive (batch, period_start, meter, channel, kind);
CREATE TABLE "batches" ("seq" INTEGER PRIMARY KEY, "state" TEXT, "records" INTEGER, "created_at" REAL,
   "published_at" REAL);
CREATE INDEX "idx_batches_state" ON "batches" ("state");
CREATE TABLE "cursors" ("meter" TEXT, "kind" TEXT, "last_period" INTEGER, PRIMARY KEY ("meter", "kind"));
CREATE TABLE "radio" ("id" INTEGER PRIMARY KEY, "received_at" REAL, "dev_eui" TEXT, "f_cnt" INTEGER,
   "f_port" INTEGER, "rssi" INTEGER, "snr" REAL, "gateway" TEXT, "frequency" INTEGER, "payload" BLOB,
   "direction" TEXT, "error" TEXT);
CREATE TABLE "rejects" ("id" INTEGER PRIMARY KEY, "received_at" REAL, "source" TEXT, "reason" TEXT, "payload" BLOB);
CREATE TABLE "events" ("id" INTEGER PRIMARY KEY, "at" REAL, "kind" TEXT, "meter" TEXT, "count" INTEGER,
   "detail" TEXT);
CREATE TABLE "gaps" ("meter" TEXT, "kind" TEXT, "period" INTEGER, "attempts" INTEGER, "next_try_at" REAL,
   "last_error" TEXT, PRIMARY KEY ("meter", "kind", "period"));
CREATE TABLE "lost" ("meter" TEXT, "kind" TEXT, "period" INTEGER, "reason" TEXT, "at" REAL,
   PRIMARY KEY ("meter", "kind", "period"));
INSERT INTO batches VALUES (1, 'stored', 1, 1.0, 2.0), (2, 'published', 1, 1.0, 2.0), (3, 'pending', 1, 1.0, NULL);
INSERT INTO archive VALUES ('m1', 1, 'hour', 'Q', {t0}, 'integral', 1.5, 0, 0, 1.0, 0.0, 1),
   ('m1', 1, 'hour', 'Q', {t1}, 'integral', 2.5, 0, 0, 1.0, 0.0, 2),
   ('m1', 1, 'hour', 'Q', {t2}, 'integral', 3.5, 0, 0, 1.0, 0.0, 3),
   ('m1', 1, 'hour', 'Q', {t3}, 'integral', 4.5, 0, 0, 1.0, 0.0, NULL);
INSERT INTO events VALUES (1, 10.0, 'periods_lost', 'm1', 2, '{{"reason": "depth"}}');
INSERT INTO radio VALUES (1, 11.0, '0011223344556677', 1, 2, NULL, NULL, 'gw', 868100000, x'00', 'up', '');
"""


def test_a_buffer_of_the_previous_version_opens_and_migrates(tmp_path: Path) -> None:
    """A data directory of the previous version (archive-only batches) keeps its batches and numbers."""
    path = tmp_path / "buffer.db"
    conn = sqlite3.connect(path)
    conn.executescript(_OLD_SCHEMA.format(t0=T0, t1=T0 + 3600, t2=T0 + 7200, t3=T0 + 10800))
    conn.close()
    buf = Buffer(path)
    assert dict(buf.db.execute("SELECT seq, content FROM batches").fetchall()) == {
        1: "archive", 2: "archive", 3: "archive"}
    batches = buf.next_batches(10, 100, "s")
    assert [(b.seq, _content(b)) for b in batches] == [(3, "archive"), (4, "archive"), (5, "event"), (6, "radio")]
    assert batches[0].records[0].values == {"Q": 3.5}  # the old pending batch, rebuilt with the same seq
    # the buffer got an epoch on opening; the batch built before keeps the identity it was sent with
    assert [b.epoch for b in batches] == ["", buf.epoch, buf.epoch, buf.epoch]
    assert (batches[0].msg_id, batches[0].version) == ("s:3", 1)
    assert batches[1].records[0].period_start == T0 + 10800
    old_event = batches[2].events[0]
    assert (old_event.id, old_event.code, old_event.severity, old_event.source) == (
        1, "periods_lost", "warning", "edge")
    assert batches[3].radio[0].rssi is None
    # a cloud before epochs confirms by seq: the old batches 2 and 3, not the new ones above its 3
    buf.mark_published_many({b.seq: encode(b).digest for b in batches})
    assert buf.apply_cloud(watermark.parse(b"3")) == (2, 0)
    assert _states(buf) == {1: "stored", 2: "stored", 3: "stored", 4: "published", 5: "published",
                            6: "published"}
    epoch = buf.epoch
    buf.close()
    again = Buffer(path)  # a second open changes nothing
    assert again.epoch == epoch
    again.close()
