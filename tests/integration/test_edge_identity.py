"""Batch identity between the edge and the cloud (issue 11 item 3) on a real nats-server and chDB:
a message that names a batch's seq without being that batch takes nothing from it (garbage, a
batch whose content does not match its digest, another batch under the same seq), and events and
radio packets of a new buffer of a site never overwrite those of an earlier buffer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgpack
import nats as nats_client

from cloud import deadletter
from cloud.ingest import Ingest
from cloud.storage.clickhouse import ClickHouse
from edge.buffer import Buffer, RadioPacket
from edge.sync import Sync
from protocol import subjects, wire
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, encode, encode_batch
from tests.chaos.edge_support import edge_config, streams_ready, supervised_ingest, until

SITE = "ident"
T0 = 1_767_225_600  # 2026-01-01T00:00Z


def _records(first_hour: int, hours: int, meters: int = 5) -> list[ArchiveRecord]:
    return [ArchiveRecord(f"m{m}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * h,
                          {"Q": 1.0 + h, "V1": 2.0 + h, "V2": 3.0 + h}, received_at=T0 + 3600 * h + 60.0)
            for h in range(first_hour, first_hour + hours) for m in range(meters)]


async def _publish(url: str, messages: list[tuple[str, bytes, str]]) -> None:
    nc = await nats_client.connect(url)
    try:
        js = nc.jetstream()
        for subject, data, msg_id in messages:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


async def _count(clickhouse: ClickHouse, sql: str) -> int:
    return (await clickhouse.query(sql, {"s": SITE} if "{s:" in sql else None))[0][0]


async def _has(clickhouse: ClickHouse, sql: str, n: int) -> bool:
    return await _count(clickhouse, sql) == n


async def _sync_all(buf: Buffer, tmp_path: Path, url: str, batch_max_records: int = 5) -> Sync:
    """Run an edge sync of ``buf`` until the cloud has confirmed every row of it."""
    config = edge_config(tmp_path, [], site=SITE, nats_url=url, batch_max_records=batch_max_records,
                         time_zone="UTC")
    sync = Sync(config, buf)
    stop = asyncio.Event()
    task = asyncio.create_task(sync.run(stop))

    def confirmed() -> bool:
        s = buf.stats()
        return (s["unsynced_values"], s["unbatched_values"], s["unsynced_events"], s["unsynced_radio"]) == (0, 0, 0, 0)
    try:
        await until(confirmed, 60, "every row of the buffer confirmed stored")
    finally:
        stop.set()
        await task
    return sync


async def test_garbage_under_a_batch_seq_takes_nothing_from_the_real_batch(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    """Three messages claim seqs 1, 2 and 3 of the site before the edge sends its real batches:
    garbage bytes, a batch whose records are another site's, and a copy of the edge's batch 3 with
    one value changed on the way (its digest no longer matches). The real batches hold 3 x 5
    records x 3 values = 45 values: all 45 are stored, and the three impostors are dead letters."""
    stop = asyncio.Event()
    ingest = asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop))
    try:
        await until(lambda: streams_ready(nats.url), 30, "streams created by the ingest")
        buf = Buffer(tmp_path / "buffer.db")
        buf.store(_records(0, 3))
        built = buf.next_batches(3, 5, SITE)
        assert [b.seq for b in built] == [1, 2, 3]
        tampered = msgpack.unpackb(encode_batch(built[2]), raw=False)
        tampered["records"][0][5]["Q"] += 1.0
        foreign = encode_batch(Batch("elsewhere", 2, tuple(_records(0, 1, meters=1))))
        await _publish(nats.url, [(subjects.archive_subject(SITE), b"\x93garbage", f"{SITE}:1"),
                                  (subjects.archive_subject(SITE), foreign, f"{SITE}:2"),
                                  (subjects.archive_subject(SITE), msgpack.packb(tampered), f"{SITE}:3")])
        await until(lambda: _has(clickhouse, "SELECT count() FROM {db}.dead_letter", 3), 30, "three dead letters")
        await _sync_all(buf, tmp_path, nats.url)
        assert await _count(clickhouse, "SELECT count() FROM {db}.archive WHERE site = {s:String}") == 45
        assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL WHERE site = {s:String}") == 45
        reasons = {e.msg_id: e.reason for e in await deadletter.entries(clickhouse)}
        assert reasons[f"{SITE}:1"].startswith("batch: not msgpack")
        assert reasons[f"{SITE}:2"] == "site: 'elsewhere' does not match the subject"
        assert reasons[f"{SITE}:3"].startswith(f"digest: {encode(built[2]).digest} does not match the content")
        assert buf.events(kind="batches_renumbered") == []  # nothing was in the real batches' way
        buf.close()
    finally:
        stop.set()
        await ingest


async def test_another_batch_under_a_stored_seq_does_not_shadow_the_real_one(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    """Another writer's valid batch is stored under seq 1 first (1 record of meter x1, 3 values);
    the edge then sends its own batch 1 (5 records, 15 values), built before it could know. The
    cloud keeps the first one, the edge renumbers its batch and sends it again: 3 + 15 = 18 values."""
    stop = asyncio.Event()
    ingest = asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop))
    try:
        await until(lambda: streams_ready(nats.url), 30, "streams created by the ingest")
        other = Batch(SITE, 1, (ArchiveRecord("x1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0, {"Q": 9.0, "V1": 8.0,
                                                                                            "V2": 7.0}),))
        await _publish(nats.url, [(subjects.archive_subject(SITE), encode_batch(other), other.msg_id)])
        await until(lambda: _has(clickhouse, "SELECT count() FROM {db}.archive", 3), 30, "the other batch stored")
        buf = Buffer(tmp_path / "buffer.db")
        buf.store(_records(0, 1))
        assert [b.seq for b in buf.next_batches(5, 5, SITE)] == [1]
        await _sync_all(buf, tmp_path, nats.url)
        assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL WHERE startsWith(meter, 'm')") == 15
        assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL WHERE meter = 'x1'") == 3
        assert await _count(clickhouse, "SELECT count() FROM {db}.archive") == 18  # none twice
        assert [e["count"] for e in buf.events(kind="batches_renumbered")] == [1]
        assert await deadletter.entries(clickhouse) == []
        buf.close()
    finally:
        stop.set()
        await ingest


def _packet(at: float, f_cnt: int, payload: bytes) -> RadioPacket:
    return RadioPacket(received_at=at, dev_eui="70b3d5e75e000001", f_cnt=f_cnt, f_port=2, rssi=-90, snr=5.0,
                       gateway="gw1", frequency=868_100_000, payload=payload)


async def test_a_new_buffer_does_not_overwrite_the_events_and_packets_of_the_old_one(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    """The old buffer sent events 1 and 2 (meter M1, one second apart) and radio packet 1; the
    disk is replaced, and the new buffer's first events and packet get the same row ids 1, 2 and
    1, at the same times, with other content. The cloud keeps all four events and both packets,
    and 2 hours x 5 records x 3 values = 30 archive values the new buffer sent first."""
    stop = asyncio.Event()
    ingest = asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop))
    try:
        old = Buffer(tmp_path / "old" / "buffer.db")
        old.add_device_event("M1", T0 + 1.0, "integrity", "alarm", {"text": "case opened"})
        old.add_device_event("M1", T0 + 2.0, "limit", "warning", {"text": "leak"})
        old.add_radio(_packet(T0 + 5.0, 10, b"\x01"))
        await _sync_all(old, tmp_path / "old", nats.url)
        old.close()

        new = Buffer(tmp_path / "new" / "buffer.db")
        new.store(_records(0, 2))  # sent first: archive batches take the lowest seqs
        new.add_device_event("M1", T0 + 1.0, "interference", "warning", {"text": "magnet"})
        new.add_device_event("M1", T0 + 2.0, "other", "info", {"text": "clock set"})
        new.add_radio(_packet(T0 + 5.0, 11, b"\x02"))
        assert [r[0] for r in new.db.execute("SELECT id FROM events ORDER BY id")] == [1, 2]
        assert [r[0] for r in new.db.execute("SELECT id FROM radio")] == [1]
        await _sync_all(new, tmp_path / "new", nats.url)
        new.close()

        events = await clickhouse.query("SELECT id, code, detail FROM {db}.device_events FINAL "
                                        "WHERE site = {s:String} ORDER BY at, code", {"s": SITE})
        assert [(i, code) for i, code, _ in events] == [(1, "integrity"), (1, "interference"), (2, "limit"),
                                                        (2, "other")]
        packets = await clickhouse.query("SELECT id, f_cnt, payload FROM {db}.radio_packets FINAL "
                                         "WHERE site = {s:String} ORDER BY f_cnt", {"s": SITE})
        assert packets == [(1, 10, "01"), (1, 11, "02")]
        assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL WHERE site = {s:String}") == 30
    finally:
        stop.set()
        await ingest


async def test_two_workers_list_every_batch_and_an_upgraded_site_switches_to_the_listing(
        nats, clickhouse: ClickHouse) -> None:
    """An edge before epochs sent batches 1-10 (the decimal watermark, what it reads); the upgraded
    edge sends 11-60 with its epoch. Two workers share the consumer, 4 batches per fetch: the
    watermark ends at seq 60, lists every batch of the epoch by its digest and the older ones under
    epoch "", and every value is stored once: 60 batches x 2 records x 3 values = 360."""
    from protocol import watermark
    from tests.integration.test_cloud_ingest import _watermark

    epoch = "00000000000000ee"
    legacy = [Batch(SITE, seq, tuple(_records(seq, 1, meters=2)), 1.0) for seq in range(1, 11)]
    current = [Batch(SITE, seq, tuple(_records(seq, 1, meters=2)), 1.0, epoch=epoch) for seq in range(11, 61)]
    workers = [Ingest(nats.url, clickhouse, fetch_batch=4, name=f"w{i}") for i in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        await until(lambda: streams_ready(nats.url), 30, "streams created by the ingest")
        await _publish(nats.url, [(subjects.archive_subject(SITE), encode_batch(b), b.msg_id) for b in legacy])
        await until(lambda: _watermark(nats.url, SITE, 10), 30, "the decimal watermark at 10")
        await _publish(nats.url, [(subjects.archive_subject(SITE), encode_batch(b), b.msg_id) for b in current])

        async def listed() -> watermark.Stored | None:
            nc = await nats_client.connect(nats.url)
            try:
                kv = await nc.jetstream().key_value(subjects.STORED_BUCKET)
                state = watermark.parse((await kv.get(SITE)).value)
            finally:
                await nc.close()
            return state if state.seq == 60 else None
        await until(listed, 60, "the watermark at 60")
        state = await listed()
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert state is not None
    assert (state.seq, state.top, state.floor, state.legacy) == (60, 60, 0, False)
    assert all(state.verdict(b.seq, epoch, wire.content_digest(b)) == watermark.STORED for b in current)
    assert all(state.batches[seq] == {("", "0" * 16)} for seq in range(1, 11))
    assert await _count(clickhouse, "SELECT count() FROM {db}.archive") == 60 * 2 * 3
