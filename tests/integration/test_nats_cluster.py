"""The 3-node NATS cluster of deploy/nats/cluster/ on loopback (issue 6, scale-out path): with
DU_UP at R3, a site publishes N batches while the node it is connected to is killed (SIGKILL);
the client moves to another node, resends what was not acknowledged with the same Nats-Msg-Id,
and the real ingest then stores exactly N distinct batches in ClickHouse, none lost, none doubled."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from cloud.ingest import DURABLE, Ingest
from cloud.storage.clickhouse import ClickHouse
from domuchet import natsserver
from edge.nats_auth import connect_options
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, encode_batch
from tests.conftest import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats"
ENV = {"DU_NATS_CLOUD_PASSWORD": "cloud-pw-1", "DU_NATS_SITE_DEMO_PASSWORD": "demo-pw-1",
       "DU_NATS_SYS_PASSWORD": "sys-pw-1"}
N = 120
START = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


class Cluster:
    """The three deploy configs with loopback ports and temporary store directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copy(DEPLOY / "accounts.conf", root / "accounts.conf")
        (root / "cluster").mkdir()
        self.client_ports = [free_port() for _ in range(3)]
        self.route_ports = [free_port() for _ in range(3)]
        self.procs: list[subprocess.Popen] = []

    def config(self, i: int) -> Path:
        text = (DEPLOY / "cluster" / f"node-{i + 1}.conf").read_text()
        text = text.replace('listen: "0.0.0.0:4222"', f'listen: "127.0.0.1:{self.client_ports[i]}"')
        text = text.replace('listen: "0.0.0.0:6222"', f'listen: "127.0.0.1:{self.route_ports[i]}"')
        text = re.sub(r'http: "127.0.0.1:8222"\n', "", text)
        text = text.replace('"/var/lib/domuchet/nats"', f'"{self.root / f"js{i + 1}"}"')
        for j in range(3):
            text = text.replace(f"@nats{j + 1}:6222", f"@127.0.0.1:{self.route_ports[j]}")
        assert "0.0.0.0" not in text, "the deploy config changed shape"  # noqa: S104
        assert "/var/lib" not in text, "the deploy config changed shape"
        path = self.root / "cluster" / f"node-{i + 1}.conf"
        path.write_text(text)
        return path

    def start(self) -> None:
        for i in range(3):
            with open(self.root / f"node-{i + 1}.log", "ab") as log:
                self.procs.append(subprocess.Popen([natsserver.binary(), "-c", str(self.config(i))],
                                                   stdout=log, stderr=subprocess.STDOUT, env=ENV))
        for i in range(3):
            natsserver.wait_for_port("127.0.0.1", self.client_ports[i], self.procs[i])

    def urls(self, user: str = "", password: str = "") -> list[str]:
        auth = f"{user}:{password}@" if user else ""
        return [f"nats://{auth}127.0.0.1:{p}" for p in self.client_ports]

    def kill(self, port: int) -> None:
        proc = self.procs[self.client_ports.index(port)]
        proc.kill()  # SIGKILL: no goodbye to the cluster, no flush
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    c.start()
    try:
        yield c
    finally:
        c.stop()


def _batch(seq: int) -> Batch:
    records = tuple(ArchiveRecord(f"M{m}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, START + 3600 * seq,
                                  {"Q": 100.0 + seq}, received_at=1.0) for m in range(3))
    return Batch("demo", seq, records, created_at=2.0)


async def _until(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _create_r3(cluster: Cluster) -> None:
    """Create the streams and the bucket at R3 once the cluster has a JetStream meta leader
    (what ensure_streams does at R1; it leaves existing streams alone)."""
    nc = await nats.connect(cluster.urls("cloud", ENV["DU_NATS_CLOUD_PASSWORD"]))
    js = nc.jetstream(timeout=2)
    last: Exception | None = None

    async def created() -> bool:
        nonlocal last
        try:
            for name, subject in ((subjects.STREAM_UP, subjects.STREAM_UP_SUBJECTS),
                                  (subjects.STREAM_DOWN, subjects.STREAM_DOWN_SUBJECTS)):
                await js.add_stream(StreamConfig(name=name, subjects=[subject], storage=StorageType.FILE,
                                                 duplicate_window=120.0, num_replicas=3))
            await js.create_key_value(KeyValueConfig(bucket=subjects.STORED_BUCKET, history=1, direct=True,
                                                     storage=StorageType.FILE, replicas=3))
            # the ingest's durable consumer, as a running cloud has it before a node fails (R3 like
            # its stream); Ingest.run finds it instead of creating it while a node is down
            await js.add_consumer(subjects.STREAM_UP, ConsumerConfig(
                name=DURABLE, durable_name=DURABLE, filter_subject=subjects.STREAM_UP_SUBJECTS,
                ack_policy=AckPolicy.EXPLICIT, ack_wait=60.0, max_ack_pending=1024))
        except (nats.errors.Error, TimeoutError) as exc:  # no meta leader yet, or peers not all known
            last = exc
            return False
        return True
    try:
        await _until(created, f"a JetStream meta leader and R3 streams (last error {last!r})", timeout=30)
        info = await js.stream_info(subjects.STREAM_UP)
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        assert len(info.cluster.replicas or []) == 2
    finally:
        await nc.close()


async def _publish_through_a_kill(cluster: Cluster) -> tuple[int, int]:
    """Publish N batches as site ``demo``; kill the connected node after a third. Returns (resends, duplicates)."""
    opts = connect_options("site-demo", ENV["DU_NATS_SITE_DEMO_PASSWORD"], "", "", "", "", "", site="demo")
    nc = await nats.connect(cluster.urls(), reconnect_time_wait=0.2, max_reconnect_attempts=-1,
                            dont_randomize=True, **opts)
    js = nc.jetstream(timeout=2)
    resends = duplicates = 0
    try:
        for seq in range(1, N + 1):
            if seq == N // 3:
                assert nc.connected_url is not None
                cluster.kill(nc.connected_url.port)
            batch = _batch(seq)
            while True:
                try:
                    ack = await js.publish(subjects.archive_subject("demo"), encode_batch(batch),
                                           headers={"Nats-Msg-Id": batch.msg_id})
                    duplicates += bool(ack.duplicate)
                    break
                except (nats.errors.Error, TimeoutError):  # moving to another node, or a new stream leader
                    resends += 1
                    await asyncio.sleep(0.2)
    finally:
        await nc.close()
    return resends, duplicates


async def test_r3_cluster_loses_and_doubles_nothing_when_a_node_is_killed(
        cluster: Cluster, clickhouse: ClickHouse) -> None:
    await _create_r3(cluster)
    resends, _ = await _publish_through_a_kill(cluster)
    assert resends > 0, "the kill should have interrupted at least one publish"

    alive = [url for url, proc in zip(cluster.urls("cloud", ENV["DU_NATS_CLOUD_PASSWORD"]), cluster.procs,
                                      strict=True) if proc.poll() is None]
    assert len(alive) == 2
    nc = await nats.connect(alive)
    js = nc.jetstream(timeout=2)

    async def leaders() -> bool:
        """Every stream and the ingest's consumer have a leader again and so has the JetStream meta
        group (it answers for consumers that do not exist); a raft election takes seconds."""
        try:
            for name in (subjects.STREAM_UP, subjects.STREAM_DOWN, f"KV_{subjects.STORED_BUCKET}"):
                await js.stream_info(name)
            try:
                await js.consumer_info(subjects.STREAM_UP, "no-such-consumer")
            except NotFoundError:
                pass  # an answer: the meta group has a leader
            await js.consumer_info(subjects.STREAM_UP, DURABLE)  # and the ingest's consumer has one
        except (nats.errors.Error, TimeoutError):
            return False
        return True
    # Ingest.run does not retry a JetStream API timeout while it starts (stream and consumer
    # lookups): wait for the leaders first
    await _until(leaders, "stream leaders on the two remaining nodes")
    info = await js.stream_info(subjects.STREAM_UP)
    assert info.state.messages == N  # the stream holds each batch once (resends deduplicated by Nats-Msg-Id)

    ingest = Ingest(alive[0], clickhouse)
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    kv = await js.key_value(subjects.STORED_BUCKET)

    async def stored_all() -> bool:
        if task.done():
            task.result()  # the worker stopped: show why
            pytest.fail("the ingest worker stopped")
        try:
            return int((await kv.get("demo")).value or b"0") >= N
        except nats.js.errors.KeyNotFoundError:
            return False
    try:
        await _until(stored_all, f"the stored watermark of site demo to reach {N}", timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await nc.close()
    distinct = (await clickhouse.query("SELECT uniqExact(site, seq) FROM {db}.sync_batches"))[0][0]
    rows, keys = (await clickhouse.query("SELECT count(), uniqExact(meter, channel, kind, parameter, period_start) "
                                         "FROM {db}.archive"))[0]
    assert distinct == N
    assert rows == keys == 3 * N  # every value once: nothing lost, nothing doubled
