"""Edge sync (edge/sync.py) against a real nats-server: every content kind reaches the DU_UP
stream on the subject of its content after a restart of the agent; with many batches in flight
each is marked published only on its own acknowledgement and an unacknowledged one is sent
again with the same seq; backpressure stops building batches while the cloud confirms
nothing; and the first seconds after a link drop are not lost: no batch is marked published
without its acknowledgement, and everything arrives once the link is back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats as nats_client
from nats.js.api import KeyValueConfig, StreamConfig

from edge.agent import EdgeAgent
from edge.buffer import Buffer, RadioPacket
from edge.sync import Sync
from protocol import subjects, watermark
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, content_digest, decode_batch
from tests.chaos.edge_support import CuttableProxy, edge_config, until

T0 = 1_767_225_600
SITE = "edge-sync"


def _records(first_hour: int, hours: int, meters: int = 5) -> list[ArchiveRecord]:
    return [ArchiveRecord(f"m{m}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * h, {"Q": 1.0 + h, "V": 2.0},
                          received_at=1.0) for h in range(first_hour, first_hour + hours) for m in range(meters)]


@contextlib.asynccontextmanager
async def _js(url: str) -> AsyncIterator:
    nc = await nats_client.connect(url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def _stream(js, subject: str = subjects.STREAM_UP_SUBJECTS) -> None:
    await js.add_stream(StreamConfig(name=subjects.STREAM_UP, subjects=[subject], duplicate_window=120.0))


async def _in_stream(js) -> list[tuple[str, str, Batch]]:
    """(subject, Nats-Msg-Id, decoded batch) of every message in DU_UP."""
    info = await js.stream_info(subjects.STREAM_UP)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(subjects.STREAM_UP, seq)
        out.append((msg.subject, (msg.headers or {}).get("Nats-Msg-Id", ""), decode_batch(msg.data)))
    return out


def _states(buf: Buffer) -> dict[int, str]:
    return dict(buf.db.execute("SELECT seq, state FROM batches").fetchall())


async def _run(sync: Sync, stop: asyncio.Event) -> asyncio.Task:
    return asyncio.create_task(sync.run(stop))


async def test_every_content_kind_reaches_the_stream_after_an_agent_restart(nats, tmp_path: Path) -> None:
    config = edge_config(tmp_path / "edge", [], site=SITE, nats_url=nats.url, time_zone="UTC")
    agent = EdgeAgent(config)
    buf = agent.buffer
    buf.store(_records(0, 2))
    buf.add_device_event("m1", 1_767_000_000.0, "interference", "warning", {"channel": 1})
    buf.event("clock_set", meter="m1", count=1)
    with buf.tx():
        buf.db.table("lost").insert({"meter": "m2", "kind": "hour", "period": T0, "reason": "refused", "at": 3.0})
    buf.add_radio(RadioPacket(received_at=7.0, dev_eui="0011223344556677", f_cnt=9, f_port=2, rssi=None, snr=None,
                              gateway="gw1", frequency=868_100_000, payload=b"\x01"))
    buf.add_result("cmd-1", "done", {"records": 2})
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    # the agent runs while the cloud has no stream yet (every publish fails), then stops: nothing acknowledged
    await until(lambda: buf.db.execute("SELECT count(*) FROM batches").fetchone()[0] >= 4, 20, "batches built")
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, 60)
    assert agent.sync.published == 0

    async with _js(nats.url) as js:
        await _stream(js)
        agent = EdgeAgent(config)  # the restart
        assert set(_states(agent.buffer).values()) == {"pending"}
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await until(lambda: agent.sync.published >= 4, 20, "four batches acknowledged")
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)
        got = await _in_stream(js)
    epoch = agent.buffer.epoch
    # each batch is named by its buffer's epoch, its seq and the digest of its content
    assert [(subject, msg_id) for subject, msg_id, _ in got] == [
        (f"du.{SITE}.up.{content}", f"{SITE}:{epoch}:{seq}:{content_digest(batch)}")
        for seq, (content, (_, _, batch)) in enumerate(zip(("state", "archive", "event", "radio"), got, strict=True),
                                                      start=1)]
    result, archive, events, radio = (b for _, _, b in got)
    assert {b.epoch for b in (result, archive, events, radio)} == {epoch}
    assert [(r.command_id, r.state, r.detail) for r in result.results] == [("cmd-1", "done", {"records": 2})]
    assert {(r.meter, r.period_start) for r in archive.records} == {(f"m{m}", T0 + 3600 * h)
                                                                    for m in range(5) for h in range(2)}
    assert [(e.code, e.source) for e in events.events] == [("interference", "device"), ("clock_set", "edge")]
    assert [(x.meter, x.period_start, x.reason) for x in events.lost] == [("m2", T0, "refused")]
    assert [(p.dev_eui, p.payload, p.rssi) for p in radio.radio] == [("0011223344556677", b"\x01", None)]


async def test_each_batch_is_published_on_its_own_acknowledgement_and_resent_with_its_seq(nats,
                                                                                         tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    buf.store(_records(0, 40))  # 200 records: 20 archive batches of 10
    for i in range(5):
        buf.add_device_event("m1", float(i), "limit", "info", {})
    config = edge_config(tmp_path, [], site=SITE, nats_url=nats.url, batch_max_records=10, time_zone="UTC")
    async with _js(nats.url) as js:
        await _stream(js, f"du.{SITE}.up.archive")  # the stream takes archive batches only, for now
        sync = Sync(config, buf, window=8, ack_timeout_s=1.0)
        stop = asyncio.Event()
        task = await _run(sync, stop)
        try:
            await until(lambda: sync.published >= 20, 20, "the archive batches acknowledged")
            await asyncio.sleep(1.5)  # the event batch got no acknowledgement and was tried again meanwhile
            states = _states(buf)
            assert [s for s, st in states.items() if st == "published"] == list(range(1, 21))
            assert [s for s, st in states.items() if st == "pending"] == [21]  # same seq, never marked published
            info = await js.stream_info(subjects.STREAM_UP)
            info.config.subjects = [subjects.STREAM_UP_SUBJECTS]
            await js.update_stream(info.config)  # the missing subject appears
            await until(lambda: sync.published >= 21, 20, "the event batch acknowledged")
        finally:
            stop.set()
            await task
        got = await _in_stream(js)
    assert sorted(b.seq for _, _, b in got) == list(range(1, 22))  # each seq once
    assert [e.code for e in got[-1][2].events] == ["limit"] * 5
    assert set(_states(buf).values()) == {"published"}
    buf.close()


async def test_backpressure_stops_new_batches_while_the_cloud_confirms_nothing(nats, tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "buffer.db")
    buf.store(_records(0, 20))  # 100 records
    config = edge_config(tmp_path, [], site=SITE, nats_url=nats.url, batch_max_records=5,
                         max_unconfirmed_batches=6, time_zone="UTC")
    async with _js(nats.url) as js:
        await _stream(js)
        kv = await js.create_key_value(KeyValueConfig(bucket=subjects.STORED_BUCKET, history=1))
        sync = Sync(config, buf, window=4)
        stop = asyncio.Event()
        task = await _run(sync, stop)
        try:
            await until(lambda: sync.backpressure and sync.in_flight == 0, 20, "backpressure")
            await asyncio.sleep(0.5)
            published = [s for s, st in _states(buf).items() if st == "published"]
            assert 6 <= len(published) < 6 + 4  # at most one window past the bound
            assert buf.stats()["unbatched_values"] > 0  # the rest waits in the buffer, unbatched

            async def cloud_catches_up() -> bool:  # the cloud stores what was published, and lists it
                stored = buf.db.execute("SELECT seq, epoch, digest FROM batches WHERE state != 'pending'").fetchall()
                await kv.put(SITE, watermark.build(stored, 0).encode())
                return buf.stats()["unsynced_values"] == 0
            await until(cloud_catches_up, 20, "the rest built, sent and confirmed")
            assert not sync.backpressure
        finally:
            stop.set()
            await task
    buf.close()


async def test_the_first_seconds_after_a_link_drop_are_not_lost(nats, tmp_path: Path) -> None:
    proxy = CuttableProxy(nats.port)
    await proxy.start()
    buf = Buffer(tmp_path / "buffer.db")
    config = edge_config(tmp_path, [], site=SITE, nats_url=f"nats://127.0.0.1:{proxy.port}", batch_max_records=5,
                         time_zone="UTC")
    stop = asyncio.Event()
    hour = 0

    async def produce() -> None:  # acquisition goes on all the time: 5 records every 50 ms
        nonlocal hour
        while not stop.is_set():
            buf.store(_records(hour, 1))
            hour += 1
            await asyncio.sleep(0.05)

    async def published_are_in_the_stream(js) -> None:
        in_stream = {b.seq for _, _, b in await _in_stream(js)}
        marked = {s for s, st in _states(buf).items() if st != "pending"}
        assert marked <= in_stream, f"marked published without an acknowledgement: {sorted(marked - in_stream)[:5]}"

    async with _js(nats.url) as js:
        await _stream(js)
        sync = Sync(config, buf, window=8)
        tasks = [asyncio.create_task(produce()), await _run(sync, stop)]
        try:
            await until(lambda: sync.published >= 10, 20, "sync running")
            proxy.cut = True  # batches keep going out into the void for the seconds until pings fail
            at_cut = sync.published
            await until(lambda: not sync.connected, 20, "the drop detected")
            await published_are_in_the_stream(js)
            assert sync.published - at_cut <= 8  # at most acks already on the way (one window)
            s = snapshot_sync(sync)
            assert s["connected"] is False
            proxy.restore()
            produced_until = hour
            await until(lambda: sync.connected, 20, "reconnected")
            await until(lambda: buf.db.execute("SELECT count(*) FROM archive WHERE batch IS NULL OR batch IN "
                                               "(SELECT seq FROM batches WHERE state = 'pending')").fetchone()[0]
                        == 0 and hour > produced_until + 2, 30, "everything published")
            stop.set()
            await asyncio.gather(*tasks)
            await published_are_in_the_stream(js)
            got = await _in_stream(js)
            seqs = [b.seq for _, _, b in got]
            assert len(seqs) == len(set(seqs)), "a batch stored twice in the stream"
            keys = [(r.meter, r.period_start) for _, _, b in got for r in b.records]
            assert len(keys) == len(set(keys))
            stored_hours = {(r.period_start - T0) // 3600 for _, _, b in got for r in b.records}
            assert stored_hours == set(range(hour))  # nothing produced around the drop is missing
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await proxy.close()
    buf.close()


def snapshot_sync(sync: Sync) -> dict[str, object]:
    return {"connected": sync.connected, "published": sync.published, "in_flight": sync.in_flight}
