"""`ensure_streams(js, replicas)` on the 3-node NATS cluster of deploy/nats/cluster (started by
test_nats_cluster's Cluster): streams and the watermark bucket get R3, an existing R1 stream is
raised to R3, and a later call with R1 lowers nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
from nats.js.api import StorageType, StreamConfig

from cloud.streams import ensure_streams
from protocol import subjects
from tests.integration.test_nats_cluster import ENV, Cluster


async def test_streams_and_bucket_get_the_configured_replicas(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.start()
    try:
        nc = await nats.connect(servers=cluster.urls("cloud", ENV["DU_NATS_CLOUD_PASSWORD"]))
        try:
            js = nc.jetstream()
            deadline = asyncio.get_running_loop().time() + 60
            while True:  # JetStream needs a meta leader first
                try:
                    await js.add_stream(StreamConfig(name=subjects.STREAM_DOWN, storage=StorageType.FILE,
                                                     subjects=[subjects.STREAM_DOWN_SUBJECTS], num_replicas=1))
                    break
                except (nats.errors.Error, TimeoutError):
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            await ensure_streams(js, 3)
            for name in (subjects.STREAM_UP, subjects.STREAM_DOWN, f"KV_{subjects.STORED_BUCKET}"):
                assert (await js.stream_info(name)).config.num_replicas == 3, name
            await ensure_streams(js, 1)
            assert (await js.stream_info(subjects.STREAM_UP)).config.num_replicas == 3
        finally:
            await nc.close()
    finally:
        cluster.stop()
