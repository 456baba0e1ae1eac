"""The JetStream side the cloud sets up: streams DU_UP and DU_DOWN, the DU_STORED watermark
bucket (DESIGN.md section 6), with the replication factor of ``[cloud] nats_replicas``, and the
ingest's durable consumer. Used by cloud/ingest.py and cloud/command_bus.py; tests:
tests/integration/test_ingest_sections.py, tests/integration/test_nats_cluster.py.
"""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType, StreamConfig, StreamInfo
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from cloud.health import Link
from protocol import subjects

log = logging.getLogger(__name__)

DURABLE = "ingest"  # the one durable pull consumer every ingest worker shares


async def connect(nats_url: str, name: str, stop: asyncio.Event, link: Link | None = None) -> nats.NATS | None:
    """Connect to any of the comma-separated ``nats_url`` servers, retrying forever, unless
    ``stop`` is set first (then None). On Python 3.11 a cancellation can be swallowed while a
    refused attempt completes and nats.py tries again, so the attempt is cancelled until it ends.

    ``link`` (cloud/health.py) follows the connection; nats.py's default error callback, which
    logs a traceback for every refused attempt (two a second while the server is away), is
    replaced by it: one line when the link goes down, one when it comes back."""
    link = link or Link(name)

    async def error(exc: Exception) -> None:
        link.failed(exc)

    async def disconnected() -> None:
        link.disconnected()

    async def reconnected() -> None:
        link.connected()

    connecting = asyncio.ensure_future(nats.connect(
        servers=[u.strip() for u in nats_url.split(",")], max_reconnect_attempts=-1, reconnect_time_wait=0.5,
        name=name, error_cb=error, disconnected_cb=disconnected, reconnected_cb=reconnected))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    while not connecting.done():
        connecting.cancel()
        await asyncio.wait({connecting}, timeout=0.5)
    if connecting.cancelled():
        return None
    nc = connecting.result()
    if stop.is_set():
        await nc.close()
        return None
    link.connected()
    return nc


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> KeyValue:
    """Create the streams and the watermark bucket if they are missing (idempotent).

    ``replicas`` is the JetStream replication factor (1 on one nats-server, 3 on the cluster);
    a stream or the bucket existing with fewer replicas is raised to it (nats-server copies the
    data to the new replicas), never lowered.
    """
    for name, subject in ((subjects.STREAM_UP, subjects.STREAM_UP_SUBJECTS),
                          (subjects.STREAM_DOWN, subjects.STREAM_DOWN_SUBJECTS)):
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(StreamConfig(name=name, subjects=[subject], storage=StorageType.FILE,
                                             duplicate_window=120.0, num_replicas=replicas))
            log.info("event=stream_created stream=%s replicas=%d", name, replicas)
            continue
        await _raise_replicas(js, info, replicas)
    try:
        kv = await js.key_value(subjects.STORED_BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=subjects.STORED_BUCKET, history=1, direct=True,
                                                        storage=StorageType.FILE, replicas=replicas))
    info = await js.stream_info(f"KV_{subjects.STORED_BUCKET}")
    if not info.config.allow_direct:  # site users read their own key by direct get only (docs/deploy.md)
        info.config.allow_direct = True
        await js.update_stream(info.config)
        log.info("event=bucket_direct_get_enabled bucket=%s", subjects.STORED_BUCKET)
        kv = await js.key_value(subjects.STORED_BUCKET)
    await _raise_replicas(js, info, replicas)
    return kv


async def _raise_replicas(js: JetStreamContext, info: StreamInfo, replicas: int) -> None:
    if (info.config.num_replicas or 1) >= replicas:
        return
    info.config.num_replicas = replicas
    await js.update_stream(info.config)
    log.info("event=stream_replicas_raised stream=%s replicas=%d", info.config.name, replicas)


async def widen_consumer(js: JetStreamContext) -> None:
    """Point an existing durable consumer of an older cloud (archive subjects only) at every up subject."""
    try:
        info = await js.consumer_info(subjects.STREAM_UP, DURABLE)
    except NotFoundError:
        return  # pull_subscribe creates it
    if info.config.filter_subject != subjects.STREAM_UP_SUBJECTS:
        info.config.filter_subject = subjects.STREAM_UP_SUBJECTS
        await js.add_consumer(subjects.STREAM_UP, info.config)  # create-or-update on nats-server 2.10+
        log.info("event=consumer_updated durable=%s filter=%s", DURABLE, subjects.STREAM_UP_SUBJECTS)
