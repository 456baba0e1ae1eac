"""Ingest: a durable JetStream pull consumer on DU_UP that stores archive batches in ClickHouse.

A message is acknowledged only after its rows are inserted (tables fsync after insert);
a redelivered or re-sent batch is dropped by ClickHouse's insert deduplication (token =
Nats-Msg-Id) and by the ReplacingMergeTree key, so a replay never doubles a value. After
each stored batch the site's *stored* watermark (highest contiguous batch seq) is put into
the DU_STORED key-value bucket; the edge evicts nothing before it sees it. Bad input goes to
the dead-letter table with the reason and never stops the consumer.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from cloud.storage.clickhouse import ClickHouse
from protocol import subjects
from protocol.errors import DecodeError
from protocol.wire import Batch, decode_batch

log = logging.getLogger(__name__)

DURABLE = "ingest"


async def ensure_streams(js: JetStreamContext) -> KeyValue:
    """Create the streams and the watermark bucket if they are missing (idempotent)."""
    for name, subject in ((subjects.STREAM_UP, subjects.STREAM_UP_SUBJECTS),
                          (subjects.STREAM_DOWN, subjects.STREAM_DOWN_SUBJECTS)):
        try:
            await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(StreamConfig(name=name, subjects=[subject], storage=StorageType.FILE,
                                             duplicate_window=120.0))
            log.info("event=stream_created stream=%s", name)
    try:
        return await js.key_value(subjects.STORED_BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=subjects.STORED_BUCKET, history=1,
                                                        storage=StorageType.FILE))


def archive_rows(batch: Batch) -> list[tuple]:
    """One ClickHouse row per (record, parameter)."""
    rows = []
    for r in batch.records:
        start = datetime.fromtimestamp(r.period_start, UTC)
        received = datetime.fromtimestamp(r.received_at, UTC)
        for parameter, value in r.values.items():
            rows.append((batch.site, r.meter, r.channel, r.kind.value, r.nature.value, parameter, start, value,
                         r.quality, r.version, received, batch.msg_id))
    return rows


class Ingest:
    def __init__(self, nats_url: str, clickhouse: ClickHouse, fetch_batch: int = 64) -> None:
        self.nats_url = nats_url
        self.ch = clickhouse
        self.fetch_batch = fetch_batch
        self.stored = 0  # batches stored by this worker, for status lines
        self._watermark: dict[str, int] = {}
        self._above: dict[str, set[int]] = {}
        self._kv: KeyValue | None = None

    @property
    def kv(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("ingest is not connected")
        return self._kv

    async def run(self, stop: asyncio.Event) -> None:
        nc = await nats.connect(servers=[self.nats_url], max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                name="domuchet-ingest")
        try:
            js = nc.jetstream()
            self._kv = await ensure_streams(js)
            sub = await js.pull_subscribe(subjects.ARCHIVE_SUBJECTS, durable=DURABLE,
                                          stream=subjects.STREAM_UP,
                                          config=ConsumerConfig(ack_wait=60.0, max_ack_pending=1024))
            log.info("event=ingest_started url=%s durable=%s", self.nats_url, DURABLE)
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self.fetch_batch, timeout=0.5)
                except NatsTimeout:
                    continue
                for msg in msgs:
                    await self.handle(msg.subject, msg.data, msg.headers or {})
                    await msg.ack()
        finally:
            await nc.close()

    async def handle(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        """Store one message's batch, or dead-letter it with the reason."""
        msg_id = headers.get("Nats-Msg-Id", "")
        try:
            batch = decode_batch(data)
        except DecodeError as exc:
            await self.dead_letter(subject, msg_id, f"{exc.field}: {exc.reason}", data)
            return
        if subjects.site_of_subject(subject) != batch.site:
            await self.dead_letter(subject, msg_id, f"site {batch.site!r} does not match the subject", data)
            return
        rows = archive_rows(batch)
        if rows:
            await self.ch.insert_archive(rows, dedup_token=batch.msg_id)
        now = datetime.now(UTC)
        await self.ch.insert("sync_batches",
                             [(batch.site, batch.seq, len(batch.records), len(rows),
                               datetime.fromtimestamp(batch.created_at, UTC), now)],
                             ("site", "seq", "records", "values", "created_at", "stored_at"))
        self.stored += 1
        await self._advance(batch.site, batch.seq)

    async def dead_letter(self, subject: str, msg_id: str, reason: str, data: bytes) -> None:
        log.warning("event=dead_letter subject=%s msg_id=%s reason=%r", subject, msg_id, reason)
        await self.ch.insert("dead_letter", [(datetime.now(UTC), subject, msg_id, reason, data.hex())],
                             ("received_at", "subject", "msg_id", "reason", "payload"))

    async def _advance(self, site: str, seq: int) -> None:
        """Move the site's stored watermark over every contiguous stored batch."""
        if site not in self._watermark:
            self._watermark[site] = await self._load_watermark(site)
            rows = await self.ch.query("SELECT DISTINCT seq FROM {db}.sync_batches WHERE site = {s:String} "
                                       "AND seq > {w:UInt64}", {"s": site, "w": self._watermark[site]})
            self._above[site] = {r[0] for r in rows}
        above = self._above[site]
        if seq > self._watermark[site]:
            above.add(seq)
        mark = self._watermark[site]
        while mark + 1 in above:
            mark += 1
            above.discard(mark)
        if mark != self._watermark[site]:
            self._watermark[site] = mark
            await self.kv.put(site, str(mark).encode())

    async def _load_watermark(self, site: str) -> int:
        try:
            entry = await self.kv.get(site)
        except KeyNotFoundError:
            return 0
        return int(entry.value or b"0")
