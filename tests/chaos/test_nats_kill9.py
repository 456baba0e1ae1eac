"""Chaos: nats-server is killed with SIGKILL (not SIGTERM) twice while the edge publishes and the
ingest consumes, and restarted on the same store directory and port.

1. A plain SIGKILL right after the edge got JetStream's acknowledgements for new batches. Only
   what nats-server had not yet handed to the kernel is gone (the kernel keeps the rest); the
   test reports how many acknowledged batches that was (usually none).
2. A SIGKILL that also loses what JetStream had not fsynced. JetStream fsyncs every 2 minutes by
   default, so a power cut loses every write since the last sync - acknowledged messages, the
   consumer's acknowledgements, the watermark bucket's updates. The test copies the store at one
   moment (nats-server frozen with SIGSTOP meanwhile: what a sync would have made durable), with
   batches of the third part acknowledged and not yet consumed; lets the ingest store and the
   edge confirm some, and JetStream acknowledge more; kills nats-server and puts the copy back
   before the restart. Every batch acknowledged after the copy and not yet confirmed is then gone
   from the stream, and only the end-to-end watermark makes the edge send it again: the test
   checks that it did (and the ingest gets again what it had consumed after the copy).

The edge is a real buffer and a real Sync, the ingest the real one (in the test process, on
chDB). Timings are shortened, not the mechanism: the edge re-sends a published batch the cloud
has not confirmed after 5 s (``confirm_timeout_s``, the agent's default is 60 s), and the
ingest's consumer redelivers after 5 s (60 s in the deployment, edge_support.ingest_consumer).

N (written by hand): 10 meters x 900 hours = 9,000 records of 3 parameters (Q, V1, V2) =
27,000 values, in batches of 10 records: 9,000 / 10 = 900 batches, stored into the buffer in
three parts of 300 hours (3,000 records, 300 batches each) - before the start, before kill 1
and before kill 2. Expected: 27,000 values in ClickHouse, each field as produced, none twice -
raw rows = distinct keys = rows with FINAL = 27,000 (the ingest is not killed here, so no
redelivery may add a row at all) - nothing lost and nothing reported lost, all 900 batches
confirmed stored at the edge.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import nats as nats_client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from cloud.ingest import Ingest
from cloud.storage.clickhouse import ClickHouse
from cloud.streams import DURABLE
from domuchet import natsserver
from edge.buffer import Buffer
from edge.sync import Sync
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature, Quality
from protocol.wire import ArchiveRecord
from tests.chaos.edge_support import edge_config, ingest_consumer, until_progress
from tests.conftest import free_port

SITE = "chaos-nats-kill"
T0 = 1_767_225_600  # 2026-01-01T00:00Z
METERS, PART_HOURS, PARTS, BATCH = 10, 300, 3, 10
N_RECORDS = METERS * PART_HOURS * PARTS  # 9,000
N_VALUES = 3 * N_RECORDS  # 27,000
N_BATCHES = N_RECORDS // BATCH  # 900
TIMEOUT_S = 5.0  # the edge's confirm timeout and the consumer's ack wait


def _records(part: int) -> list[ArchiveRecord]:
    """Every field varies: channel, nature, quality, values and receive time by meter and hour."""
    return [ArchiveRecord(f"n{m:02d}", 1 + m % 3, ArchiveKind.HOUR, Nature.INTEGRAL if m % 2 else Nature.INTERVAL,
                          T0 + 3600 * h, {"Q": 10.0 * m + 0.125 * h, "V1": 7_000.0 + m + 0.5 * h, "V2": 0.25 * h},
                          quality=Quality.CLOCK_SUSPECT if h % 7 == 0 else Quality.OK,
                          received_at=T0 + 3600 * (h + 1) + 2 * m + 0.5)
            for h in range(part * PART_HOURS, (part + 1) * PART_HOURS) for m in range(METERS)]


def _expected_rows() -> Counter:
    records = [r for part in range(PARTS) for r in _records(part)]
    return Counter((r.meter, r.channel, r.kind.value, r.nature.value, p, r.period_start, v, r.quality, r.version,
                    round(r.received_at * 1000)) for r in records for p, v in r.values.items())


class Nats:
    """nats-server on a fixed port and store directory, killed and started again."""

    def __init__(self, tmp_path: Path) -> None:
        self.cfg = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port())
        shm = Path("/dev/shm")  # as the nats fixture: fsyncs on tmpfs cost nothing
        self.dir = Path(tempfile.mkdtemp(prefix="domuchet-nats-kill-", dir=shm if shm.is_dir() else None))
        self.log = tmp_path / "nats.log"
        self.proc: subprocess.Popen | None = None

    @property
    def store(self) -> Path:
        return self.dir / "jetstream"

    def start(self) -> None:
        self.proc = natsserver.start(self.cfg, self.dir, self.log, new_session=False, auth=False)

    def kill(self) -> float:
        """SIGKILL; returns when it happened."""
        assert self.proc is not None
        at = time.time()
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL
        return at

    def snapshot(self, to: Path) -> None:
        """The store as it is now, copied while nats-server is frozen."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        try:
            shutil.copytree(self.store, to)
        finally:
            self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _stored(buf: Buffer) -> int:
    return buf.db.execute("SELECT count(*) FROM batches WHERE state = 'stored'").fetchone()[0]


def _published(buf: Buffer) -> set[int]:
    """Batches JetStream acknowledged that the cloud has not confirmed stored yet."""
    return {s for (s,) in buf.db.execute("SELECT seq FROM batches WHERE state = 'published'")}


async def _kill_right_after_acks(nats: Nats, sync: Sync, buf: Buffer, progress: Callable[[], object],
                                 check: Callable[[], None]) -> tuple[float, set[int]]:
    """SIGKILL as soon as JetStream has acknowledged new batches the cloud has not stored yet (the
    moment its unflushed writes matter most); the kill time and the acknowledged, unconfirmed batches."""
    before = sync.published
    await until_progress(lambda: sync.published > before and bool(_published(buf)), progress,
                         "acknowledgements of new batches", check=check, poll_s=0.001)
    acked = _published(buf)  # no await since the acknowledgements were seen: nothing else ran
    return nats.kill(), acked


async def _stream(url: str) -> dict[int, list[float]]:
    """Every message of the DU_UP stream: batch seq -> the times its messages were stored."""
    nc = await nats_client.connect(url)
    try:
        js = nc.jetstream()
        total = (await js.stream_info(subjects.STREAM_UP)).state.messages
        sub = await js.pull_subscribe(subjects.STREAM_UP_SUBJECTS, stream=subjects.STREAM_UP, config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL))
        out: dict[int, list[float]] = {}
        seen = 0
        while seen < total:
            for msg in await sub.fetch(min(256, total - seen), timeout=10):
                seq = int(msg.headers["Nats-Msg-Id"].split(":")[2])  # <site>:<epoch>:<seq>:<digest>
                out.setdefault(seq, []).append(msg.metadata.timestamp.timestamp())
                seen += 1
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


async def _ingest(nats_url: str, clickhouse: ClickHouse, stop: asyncio.Event, workers: list[Ingest]) -> None:
    """The cloud's ingest, restarted after a failure as edge_support.supervised_ingest does; keeps
    its workers, whose ``stored`` counts every batch handled (again, too)."""
    while not stop.is_set():
        workers.append(Ingest(nats_url, clickhouse))
        try:
            await workers[-1].run(stop)
        except Exception:  # the test's supervisor: log and start again
            logging.getLogger(__name__).exception("event=ingest_failed restart_in_s=0.5")
            await asyncio.sleep(0.5)


def _lost(acked: set[int], killed_at: float, stream: dict[int, list[float]]) -> set[int]:
    """Of the batches acknowledged before a kill, those of which the stream kept no message from before it."""
    return {s for s in acked if not any(t < killed_at for t in stream.get(s, []))}


async def test_kill_9_of_nats_server_loses_and_doubles_nothing(clickhouse: ClickHouse, tmp_path: Path) -> None:
    nats = Nats(tmp_path)
    nats.start()
    await ingest_consumer(nats.cfg.url, TIMEOUT_S)
    buf = Buffer(tmp_path / "edge" / "buffer.db")
    buf.store(_records(0))
    config = edge_config(tmp_path / "edge", [], site=SITE, nats_url=nats.cfg.url, batch_max_records=BATCH,
                         time_zone="UTC")
    sync, stop = Sync(config, buf, confirm_timeout_s=TIMEOUT_S), asyncio.Event()
    workers: list[Ingest] = []
    tasks = [asyncio.create_task(sync.run(stop), name="edge sync"),
             asyncio.create_task(_ingest(nats.cfg.url, clickhouse, stop, workers), name="ingest")]
    nc: nats_client.NATS | None = None

    def check() -> None:
        for task in tasks:
            assert not task.done(), f"{task.get_name()} ended early: {task}"

    def progress() -> tuple:
        return buf.stats()["batches"], sync.published, sync.watermark, sync.connected

    def confirmed(batches: int) -> bool:
        stats = buf.stats()
        return stats["unsynced_values"] == 0 and stats["unbatched_values"] == 0 and buf.db.execute(
            "SELECT count(*) FROM batches WHERE state = 'stored'").fetchone()[0] == batches
    try:
        await until_progress(lambda: sync.watermark >= 5, progress, "a few batches stored", check=check)
        # 1. SIGKILL while the edge publishes its second part and the ingest consumes the first
        buf.store(_records(1))
        killed_1, acked_1 = await _kill_right_after_acks(nats, sync, buf, progress, check)
        nats.start()
        await until_progress(lambda: confirmed(2 * N_BATCHES // PARTS), progress, "parts 1-2 confirmed stored",
                             check=check)

        # 2. the store is copied (the last sync) once the first batches of part 3 are acknowledged and
        # not yet consumed; SIGKILL once the cloud has confirmed some of part 3 and more are
        # acknowledged after the copy; the copy put back: what was written after it is lost
        buf.store(_records(2))
        before = sync.published
        await until_progress(lambda: sync.published > before, progress, "part 3 acknowledged", check=check,
                             poll_s=0.001)
        nats.snapshot(tmp_path / "synced")
        copied_at = time.time()
        stored_at_copy = _stored(buf)

        def later_acked() -> bool:
            return bool(buf.db.execute("SELECT count(*) FROM batches WHERE state = 'published' AND published_at > ?",
                                       [copied_at]).fetchone()[0])
        await until_progress(lambda: _stored(buf) > stored_at_copy and later_acked(), progress,
                             "part 3 partly confirmed, partly acknowledged after the copy", check=check, poll_s=0.001)
        acked_2 = _published(buf)  # no await since the condition held: nothing else ran
        killed_2 = nats.kill()
        confirmed_after_copy = _stored(buf) - stored_at_copy
        shutil.rmtree(nats.store)
        shutil.copytree(tmp_path / "synced", nats.store)
        nats.start()
        await until_progress(lambda: confirmed(N_BATCHES), progress, f"all {N_BATCHES} batches confirmed stored",
                             check=check)
        nc = await nats_client.connect(nats.cfg.url)

        async def drained() -> bool:  # every message handled, the redelivered ones too: they must add nothing
            assert nc is not None
            info = await nc.jetstream().consumer_info(subjects.STREAM_UP, DURABLE)
            return info.num_pending == 0 and info.num_ack_pending == 0
        await until_progress(drained, progress, "the ingest's consumer drained", check=check)
        stream = await _stream(nats.cfg.url)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if nc is not None:
            await nc.close()
        nats.close()

    # kill 2 lost acknowledged batches by construction, and the edge sent them again
    lost_1, lost_2 = _lost(acked_1, killed_1, stream), _lost(acked_2, killed_2, stream)
    resent = {s for s in lost_1 | lost_2 if any(t > killed_1 for t in stream.get(s, []))}
    assert lost_2 & resent, f"kill 2 made the edge send nothing again: acknowledged {len(acked_2)}, " \
                            f"lost {len(lost_2)}, re-sent {len(resent)}"
    # the edge: all 900 batches confirmed stored, nothing evicted, nothing renumbered
    edge_batches = buf.db.execute("SELECT seq, epoch, digest, state FROM batches").fetchall()
    assert len(edge_batches) == N_BATCHES
    assert {state for *_, state in edge_batches} == {"stored"}
    assert [e["kind"] for e in buf.events(100)] == []
    buf.close()

    # every field of every value as produced; none twice, even before a merge
    p = {"s": SITE}
    rows = Counter(await clickhouse.query(
        "SELECT meter, channel, toString(kind), toString(nature), parameter, toUnixTimestamp(period_start), value, "
        "quality, version, toUnixTimestamp64Milli(received_at) FROM {db}.archive FINAL WHERE site = {s:String}", p))
    expected = _expected_rows()
    assert sum(expected.values()) == N_VALUES
    missing, extra = expected - rows, rows - expected
    assert not missing, f"{sum(missing.values())} of {N_VALUES} values missing or changed, e.g. {list(missing)[:3]}"
    assert not extra, f"{sum(extra.values())} unexpected values, e.g. {list(extra)[:3]}"
    raw, distinct = (await clickhouse.query(
        "SELECT count(), uniqExact(company, meter, channel, kind, nature, parameter, period_start) "
        "FROM {db}.archive WHERE site = {s:String}", p))[0]
    assert (raw, distinct, rows.total()) == (N_VALUES, N_VALUES, N_VALUES)
    # the cloud's audit holds exactly the edge's batches; nothing dead-lettered or lost
    audit = await clickhouse.query("SELECT DISTINCT seq, epoch, digest FROM {db}.sync_batches WHERE site = {s:String}",
                                   p)
    assert set(audit) == {(s, e, d) for s, e, d, _ in edge_batches}
    assert (await clickhouse.query("SELECT count() FROM {db}.dead_letter"))[0][0] == 0
    assert (await clickhouse.query("SELECT count() FROM {db}.lost_periods WHERE site = {s:String}", p))[0][0] == 0
    print(f"\nkill 1: {len(acked_1)} batches acknowledged and unconfirmed, {len(lost_1)} of them lost by "
          f"nats-server; kill 2: {confirmed_after_copy} confirmed after the copy, {len(acked_2)} acknowledged and "
          f"unconfirmed, {len(lost_2)} of them lost; {len(resent)} lost batches sent again by the edge (the others "
          f"were stored before the kill); "
          f"stream: {sum(map(len, stream.values()))} messages for {len(stream)} batches; "
          f"the ingest handled {sum(w.stored for w in workers)} batches ({len(workers)} workers)")
