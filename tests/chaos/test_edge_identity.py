"""Chaos: the edge's disk is replaced while the cloud already holds the site's history (issue 11,
"a replaced disk loses data silently"). A new buffer numbers its batches from 1 again; the cloud
holds other batches under those seqs. With a real nats-server and the real ingest on chDB,
every value of the old and the new buffer reaches ClickHouse exactly once, and the new buffer
marks a batch stored only when the cloud has that very batch.

Numbers (written by hand): 5 meters, 3 values (Q, V1, V2) per record, 5 records per batch.
The old disk stored hours 0-7: 8 batches, 8 x 5 x 3 = 120 values. The new disk buffers hours
8-39 while the uplink is down: 32 x 5 = 160 records in 32 batches, 480 values. Expected in
ClickHouse: 120 + 480 = 600 values, none twice, none lost, no eviction event."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cloud.storage.clickhouse import ClickHouse
from edge.buffer import Buffer
from edge.sync import Sync
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord
from tests.chaos.edge_support import CuttableProxy, edge_config, supervised_ingest, until

SITE = "chaos-identity"
T0 = 1_767_225_600  # 2026-01-01T00:00Z
METERS = 5


def _records(first_hour: int, hours: int) -> list[ArchiveRecord]:
    return [ArchiveRecord(f"m{m}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * h,
                          {"Q": 10.0 + h, "V1": 100.0 + h, "V2": 99.0 + h}, received_at=T0 + 3600 * h + 60.0)
            for h in range(first_hour, first_hour + hours) for m in range(METERS)]


async def _synced(sync: Sync, buf: Buffer, stop: asyncio.Event, what: str) -> None:
    """Run ``sync`` until every value of ``buf`` is confirmed stored by the cloud."""
    task = asyncio.create_task(sync.run(stop))
    try:
        await until(lambda: buf.stats()["unsynced_values"] == 0 and buf.stats()["unbatched_values"] == 0, 60, what)
    finally:
        stop.set()
        await task


async def _old_disk_stored(nats_url: str, tmp_path: Path, clickhouse: ClickHouse) -> None:
    old = Buffer(tmp_path / "old" / "buffer.db")
    old.store(_records(0, 8))
    config = edge_config(tmp_path / "old", [], site=SITE, nats_url=nats_url, batch_max_records=5, time_zone="UTC")
    sync = Sync(config, old)
    await _synced(sync, old, asyncio.Event(), "the old disk's 8 batches stored")
    assert sync.watermark == 8
    old.close()
    assert await _counts(clickhouse) == (120, 120, 120)


async def _counts(clickhouse: ClickHouse) -> tuple[int, int, int]:
    """(rows, distinct keys, rows after FINAL) of the site's archive values."""
    raw, distinct = (await clickhouse.query(
        "SELECT count(), uniqExact(meter, channel, kind, parameter, period_start) FROM {db}.archive "
        "WHERE site = {s:String}", {"s": SITE}))[0]
    final = (await clickhouse.query("SELECT count() FROM {db}.archive FINAL WHERE site = {s:String}", {"s": SITE}))
    return raw, distinct, final[0][0]


async def _assert_every_value_once(clickhouse: ClickHouse) -> None:
    expected = {(f"m{m}", p, T0 + 3600 * h) for h in range(40) for m in range(METERS) for p in ("Q", "V1", "V2")}
    rows = await clickhouse.query("SELECT meter, parameter, toUnixTimestamp(period_start), value FROM {db}.archive "
                                  "FINAL WHERE site = {s:String}", {"s": SITE})
    got = {(m, p, t) for m, p, t, _ in rows}
    assert len(expected - got) == 0, f"{len(expected - got)} of 600 values never reached ClickHouse, " \
                                     f"e.g. {sorted(expected - got)[:3]}"
    assert got == expected
    # every value as the device gave it: Q = 10 + hour, V1 = 100 + hour, V2 = 99 + hour
    assert all(v == {"Q": 10.0, "V1": 100.0, "V2": 99.0}[p] + (t - T0) // 3600 for _, p, t, v in rows)
    assert await _counts(clickhouse) == (600, 600, 600)  # nothing stored twice, even before a merge


async def test_a_replaced_disk_with_the_uplink_down_at_boot_loses_and_doubles_nothing(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    stop_cloud = asyncio.Event()
    ingest = asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop_cloud))
    proxy = CuttableProxy(nats.port)
    await proxy.start()
    try:
        await _old_disk_stored(nats.url, tmp_path, clickhouse)
        # the disk is replaced: a new, empty buffer; the uplink is down when the edge starts
        proxy.cut = True
        new = Buffer(tmp_path / "new" / "buffer.db")
        config = edge_config(tmp_path / "new", [], site=SITE, nats_url=f"nats://127.0.0.1:{proxy.port}",
                             batch_max_records=5, time_zone="UTC")
        stop = asyncio.Event()
        sync = Sync(config, new)
        task = asyncio.create_task(sync.run(stop))
        new.store(_records(8, 32))  # the backlog buffered while the uplink is down
        await asyncio.sleep(1.0)
        assert not sync.connected
        proxy.restore()
        try:
            await until(lambda: new.stats()["unsynced_values"] == 0 and new.stats()["unbatched_values"] == 0, 60,
                        "the new disk's 480 values confirmed stored")
        finally:
            stop.set()
            await task
        await _assert_every_value_once(clickhouse)
        assert [e for e in new.events(100) if e["kind"] == "unsynced_evicted"] == []
        new.close()
    finally:
        stop_cloud.set()
        await ingest
        await proxy.close()


async def test_batches_built_before_the_edge_knew_the_clouds_history_are_renumbered(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    """The new buffer built its 32 batches (seqs 1-32) before it ever read the cloud's state (its
    publishes were never acknowledged): seqs 1-8 hold the old disk's batches in the cloud, so those
    8 are renumbered above the cloud's highest seq and sent again, with an event saying so."""
    stop_cloud = asyncio.Event()
    ingest = asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop_cloud))
    try:
        await _old_disk_stored(nats.url, tmp_path, clickhouse)
        new = Buffer(tmp_path / "new" / "buffer.db")
        new.store(_records(8, 32))
        built = new.next_batches(40, 5, SITE)
        assert [b.seq for b in built] == list(range(1, 33))
        config = edge_config(tmp_path / "new", [], site=SITE, nats_url=nats.url, batch_max_records=5,
                             time_zone="UTC")
        await _synced(Sync(config, new), new, asyncio.Event(), "the new disk's 480 values confirmed stored")
        await _assert_every_value_once(clickhouse)
        renumbered = new.events(100, kind="batches_renumbered")
        assert sum(e["count"] for e in renumbered) == 8  # seqs 1-8: the old disk's batches hold them
        # the new buffer's batches are its 24 untouched seqs 9-32 and the 8 renumbered above them
        seqs = sorted(s for (s,) in new.db.execute("SELECT seq FROM batches WHERE content = 'archive'"))
        assert seqs == list(range(9, 41))
        new.close()
    finally:
        stop_cloud.set()
        await ingest
