"""Ingest: durable JetStream pull consumers on DU_UP that store archive batches in ClickHouse.

Several workers (Ingest instances, in one process or many) share the one durable consumer
``ingest``; JetStream hands each message to one of them. A message is acknowledged only after
its archive rows and its sync audit row (one insert per fetch) are inserted (tables fsync after
insert); a redelivered or re-sent batch is dropped by
ClickHouse's insert deduplication (token = Nats-Msg-Id) and by the ReplacingMergeTree key, so
a replay never doubles a value. After each fetch the site's *stored* watermark (highest
contiguous batch seq in ``sync_batches``) is put into the DU_STORED bucket, monotonically even
when workers race; the edge evicts nothing before it sees it. Bad input - malformed batches,
unknown schema versions, records for meters the registry does not know for the site - goes to
the dead-letter table with the reason and never stops the consumer (cloud/deadletter.py lists
and replays it). Tests: tests/integration/test_cloud_ingest.py, tests/integration/test_pipeline.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import nats
from clickhouse_connect.driver.exceptions import ClickHouseError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from cloud.storage.clickhouse import ClickHouse
from protocol import subjects
from protocol.errors import DecodeError
from protocol.wire import Batch, decode_batch, encode_batch

log = logging.getLogger(__name__)

DURABLE = "ingest"

# site -> the meter serials registered for the buildings that site serves
KnownMeters = Callable[[], Mapping[str, Collection[str]]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``handle`` did with one message."""

    stored_values: int  # archive values inserted (0 when nothing was stored)
    site: str | None = None
    seq: int | None = None
    dead_letter_id: str | None = None  # the entry written for what could not be stored
    reason: str | None = None  # why (some of) the message was not stored


def _batch_of(subject: str, msg_id: str) -> tuple[str, int] | None:
    """(site, seq) of a ``<site>:<seq>`` message id whose site is the subject's, else None."""
    site, _, seq = msg_id.rpartition(":")
    if site and site == subjects.site_of_subject(subject) and seq.isdigit() and int(seq) >= 1:
        return site, int(seq)
    return None


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


def archive_rows(batch: Batch, token: str | None = None) -> list[tuple]:
    """One ClickHouse row per (record, parameter); ``token`` (default the batch's msg id) goes to ``batch``."""
    rows = []
    for r in batch.records:
        start = datetime.fromtimestamp(r.period_start, UTC)
        received = datetime.fromtimestamp(r.received_at, UTC)
        for parameter, value in r.values.items():
            rows.append((batch.site, r.meter, r.channel, r.kind.value, r.nature.value, parameter, start, value,
                         r.quality, r.version, received, token or batch.msg_id))
    return rows


class MeterLookup:
    """The registry's meter serials per site, cached and refreshed every ``refresh_s`` seconds.

    An unknown serial triggers an early refresh (at most every ``min_refresh_s``), so a meter
    registered a moment ago is not dead-lettered because of a stale cache.
    """

    def __init__(self, load: KnownMeters, refresh_s: float = 30.0, min_refresh_s: float = 2.0) -> None:
        self._load = load
        self.refresh_s = refresh_s
        self.min_refresh_s = min_refresh_s
        self._known: dict[str, frozenset[str]] = {}
        self._loaded_at: float | None = None

    async def _refresh(self) -> None:
        known = await asyncio.to_thread(self._load)
        self._known = {site: frozenset(serials) for site, serials in known.items()}
        self._loaded_at = time.monotonic()

    async def unknown(self, site: str, serials: Collection[str]) -> set[str]:
        """The serials among ``serials`` that are not registered for ``site``."""
        age = None if self._loaded_at is None else time.monotonic() - self._loaded_at
        if age is None or age >= self.refresh_s:
            await self._refresh()
            age = 0.0
        missing = set(serials) - self._known.get(site, frozenset())
        if missing and age >= self.min_refresh_s:
            await self._refresh()
            missing = set(serials) - self._known.get(site, frozenset())
        return missing


class Ingest:
    """One ingest worker. ``known_meters`` (optional) gives the registry's serials per site;
    without it every meter is accepted (tests of the wire alone)."""

    def __init__(self, nats_url: str, clickhouse: ClickHouse, fetch_batch: int = 64,
                 known_meters: KnownMeters | None = None, refresh_s: float = 30.0, name: str = "") -> None:
        self.nats_url = nats_url
        self.ch = clickhouse
        self.fetch_batch = fetch_batch
        self.name = name or uuid.uuid4().hex[:8]
        self.meters = MeterLookup(known_meters, refresh_s) if known_meters is not None else None
        self.stored = 0  # batches stored by this worker, for status lines
        self._kv: KeyValue | None = None
        self._published: dict[str, int] = {}  # last watermark this worker saw in the bucket
        self._touched: set[str] = set()  # sites stored since the last watermark update
        self._sync_rows: list[tuple] = []  # sync_batches rows not inserted yet (see flush)

    @property
    def kv(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("ingest is not connected")
        return self._kv

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set (also while NATS is still unreachable)."""
        connecting = asyncio.create_task(nats.connect(
            servers=[self.nats_url], max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            name=f"domuchet-ingest-{self.name}"))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not connecting.done():
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            log.info("event=ingest_stopped worker=%s reason=stopped_before_connecting", self.name)
            return
        nc = connecting.result()
        try:
            js = nc.jetstream()
            self._kv = await ensure_streams(js)
            sub = await js.pull_subscribe(subjects.ARCHIVE_SUBJECTS, durable=DURABLE,
                                          stream=subjects.STREAM_UP,
                                          config=ConsumerConfig(ack_wait=60.0, max_ack_pending=1024))
            log.info("event=ingest_started url=%s durable=%s worker=%s", self.nats_url, DURABLE, self.name)
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self.fetch_batch, timeout=0.5)
                except TimeoutError:  # nats' own, or asyncio's from deeper in fetch under load
                    continue
                handled = []
                for msg in msgs:
                    try:
                        await self.handle(msg.subject, msg.data, msg.headers or {})
                    except (ClickHouseError, OSError) as exc:
                        # storage is unavailable: leave the message to JetStream and try again soon
                        log.error("event=ingest_store_failed worker=%s subject=%s error=%r retry_in_s=2",
                                  self.name, msg.subject, exc)
                        await msg.nak(delay=2.0)
                        continue
                    handled.append(msg)
                try:
                    await self.flush()  # the sync audit rows of this fetch, in one insert, before any ack
                except (ClickHouseError, OSError) as exc:
                    log.error("event=ingest_store_failed worker=%s what=sync_batches error=%r retry_in_s=2",
                              self.name, exc)
                    for msg in handled:
                        await msg.nak(delay=2.0)
                    continue
                for msg in handled:
                    await msg.ack()
                await self.publish_watermarks()
        finally:
            self._kv = None
            await nc.close()

    async def handle(self, subject: str, data: bytes, headers: Mapping[str, str], *,
                     replay_of: str | None = None) -> Outcome:
        """Store one message's batch, or dead-letter what cannot be stored, with the reason.

        ``replay_of`` is the dead-letter id when an operator replays a stored payload: the insert
        then carries its own deduplication token, and a payload that still cannot be stored at
        all is not dead-lettered again (the outcome says why).
        """
        msg_id = headers.get("Nats-Msg-Id", "")
        try:
            batch = decode_batch(data)
        except DecodeError as exc:
            return await self._dead(subject, msg_id, f"{exc.field}: {exc.reason}", data, replay_of)
        if subjects.site_of_subject(subject) != batch.site:
            return await self._dead(subject, msg_id, f"site: {batch.site!r} does not match the subject", data,
                                    replay_of)
        records = batch.records
        dead: Outcome | None = None
        if self.meters is not None and records:
            unknown = await self.meters.unknown(batch.site, {r.meter for r in records})
            if unknown:
                reason = (f"meter: {', '.join(sorted(unknown))} not registered for site {batch.site!r}")
                rejected = Batch(batch.site, batch.seq, tuple(r for r in records if r.meter in unknown),
                                 batch.created_at)
                records = tuple(r for r in records if r.meter not in unknown)
                if replay_of is not None and not records:
                    return Outcome(0, batch.site, batch.seq, reason=reason)
                if replay_of is not None:
                    reason = f"{reason} (left over by the replay of {replay_of})"
                entry = await dead_letter(self.ch, subject, msg_id, reason, encode_batch(rejected))
                dead = Outcome(0, dead_letter_id=entry, reason=reason)
        kept = Batch(batch.site, batch.seq, records, batch.created_at)
        token = batch.msg_id if replay_of is None else f"{batch.msg_id}|replay:{replay_of}"
        rows = archive_rows(kept, token)
        if rows:
            await self.ch.insert_archive(rows, dedup_token=token)
        if replay_of is None or (rows and not await self._seen(batch.site, batch.seq)):
            self._sync_rows.append((batch.site, batch.seq, len(records), len(rows),
                                    datetime.fromtimestamp(batch.created_at, UTC), datetime.now(UTC)))
            self.stored += 1
        return Outcome(len(rows), batch.site, batch.seq, dead.dead_letter_id if dead else None,
                       dead.reason if dead else None)

    async def _dead(self, subject: str, msg_id: str, reason: str, data: bytes, replay_of: str | None) -> Outcome:
        """Dead-letter a whole message; a replayed payload that still fails keeps its one entry.

        When the message id names a batch of the subject's site (``<site>:<seq>``), that batch
        counts as handled for the stored watermark: its payload is safe in the dead-letter table,
        and an edge waiting for the watermark must not resend it forever.
        """
        if replay_of is not None:
            return Outcome(0, reason=reason)
        entry = await dead_letter(self.ch, subject, msg_id, reason, data)
        batch = _batch_of(subject, msg_id)
        if batch is None:
            return Outcome(0, dead_letter_id=entry, reason=reason)
        now = datetime.now(UTC)
        self._sync_rows.append((*batch, 0, 0, now, now))
        return Outcome(0, batch[0], batch[1], dead_letter_id=entry, reason=reason)

    async def _seen(self, site: str, seq: int) -> bool:
        rows = await self.ch.query("SELECT count() FROM {db}.sync_batches WHERE site = {s:String} AND seq = {q:UInt64}",
                                   {"s": site, "q": seq})
        return bool(rows[0][0])

    async def flush(self) -> None:
        """Insert the sync audit rows of the batches handled since the last call (one insert).

        ``run`` calls it before acknowledging them: a crash in between redelivers the messages,
        whose archive rows ClickHouse then drops as duplicates, and the audit rows follow.
        """
        if not self._sync_rows:
            return
        rows = self._sync_rows
        # every arrival stays a row until a merge, as when each batch was inserted on its own
        await self.ch.insert("sync_batches", rows, ("site", "seq", "records", "values", "created_at", "stored_at"),
                             settings={"optimize_on_insert": 0})
        self._sync_rows = []
        self._touched.update(row[0] for row in rows)

    # --- the stored watermark ------------------------------------------------------------
    async def publish_watermarks(self) -> None:
        """Advance the stored watermark of every site stored since the last call."""
        await self.flush()
        if self._kv is None:
            if self._touched:
                log.info("event=watermark_deferred sites=%s reason=not_connected", ",".join(sorted(self._touched)))
            self._touched.clear()  # a running ingest derives them from sync_batches on its next batch
            return
        touched, self._touched = self._touched, set()
        for site in sorted(touched):
            await self._advance(site)

    async def _advance(self, site: str) -> None:
        """Put the highest contiguous seq of ``sync_batches`` into the bucket, never lowering it.

        Every worker reads the table after its own insert, so the last one to finish sees every
        stored batch; a compare-and-set on the bucket keeps a slower worker from writing an
        older value over a newer one.
        """
        current, revision = await self._bucket(site)
        mark = max(current, self._published.get(site, 0))
        rows = await self.ch.query("SELECT DISTINCT seq FROM {db}.sync_batches WHERE site = {s:String} "
                                   "AND seq > {w:UInt64} ORDER BY seq LIMIT 100000", {"s": site, "w": mark})
        for (seq,) in rows:
            if seq != mark + 1:
                break
            mark = seq
        while mark > current:
            try:
                if revision is None:
                    await self.kv.create(site, str(mark).encode())
                else:
                    await self.kv.update(site, str(mark).encode(), last=revision)
            except KeyWrongLastSequenceError:
                current, revision = await self._bucket(site)  # another worker moved it: re-read
                continue
            log.debug("event=watermark site=%s stored=%d worker=%s", site, mark, self.name)
            current = mark
        self._published[site] = max(mark, current)

    async def _bucket(self, site: str) -> tuple[int, int | None]:
        """The bucket's watermark of the site and its revision (None when the key is absent)."""
        try:
            entry = await self.kv.get(site)
        except KeyNotFoundError:
            return 0, None
        return int(entry.value or b"0"), entry.revision


async def dead_letter(ch: ClickHouse, subject: str, msg_id: str, reason: str, data: bytes) -> str:
    """Keep a payload that cannot be stored, with the reason; returns the entry's id.

    The id is derived from the message, so a redelivery of the same message names the same
    entry (listing groups by id) instead of adding a second one.
    """
    digest = hashlib.sha256("\x00".join((subject, msg_id, reason)).encode() + b"\x00" + data)
    entry = digest.hexdigest()[:32]
    log.warning("event=dead_letter id=%s subject=%s msg_id=%s reason=%r", entry, subject, msg_id, reason)
    await ch.insert("dead_letter", [(entry, datetime.now(UTC), subject, msg_id, reason, data.hex())],
                    ("id", "received_at", "subject", "msg_id", "reason", "payload"))
    return entry
