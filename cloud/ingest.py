"""Ingest: durable JetStream pull consumers on DU_UP that store the edge's batches in ClickHouse.

Several workers (Ingest instances, in one process or many) share the one durable consumer
``ingest`` on every up subject (archive, event, radio, state); JetStream hands each message to
one of them. Each section of a batch goes to its table - archive records to ``archive``, events
to ``device_events``, lost periods to ``lost_periods``, LoRa packets to ``radio_packets`` - and
command results to the ``on_results`` hook. The batches of one fetch go in one insert per
table, and their sync audit rows in one more; a message is acknowledged only after its rows,
the hook and its sync audit row are done (tables fsync after insert). A redelivered or re-sent
batch changes nothing: one already in ``sync_batches`` adds no rows, a repeated insert is
dropped by ClickHouse's insert deduplication (token = the batch's ``<site>:<seq>``, or a digest
of a fetch's tokens), and the ReplacingMergeTree keys collapse whatever else gets through.
Row building and range checks: cloud/ingest_rows.py.
After each fetch the site's *stored* watermark (highest contiguous batch seq in
``sync_batches``) is put into the DU_STORED bucket, monotonically even when workers race; the
edge evicts nothing before it sees it. Bad input - malformed batches, unknown schema versions,
records, events and lost periods of meters the registry does not know for the site - goes to
the dead-letter table with the reason and never stops the consumer (cloud/deadletter.py lists
and replays it); radio packets are stored whatever the device. Tests:
tests/integration/test_cloud_ingest.py, tests/integration/test_ingest_sections.py,
tests/integration/test_pipeline.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import nats
from clickhouse_connect.driver.exceptions import ClickHouseError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from cloud.ingest_rows import TABLES, archive_rows, out_of_range, table_rows
from cloud.storage.clickhouse import ClickHouse
from cloud.streams import DURABLE, connect, ensure_streams, widen_consumer
from protocol import subjects
from protocol.errors import DecodeError
from protocol.wire import Batch, CommandResult, decode_batch, encode_batch

__all__ = ["DURABLE", "Ingest", "Outcome", "ResultsHookError", "archive_rows", "dead_letter", "ensure_streams"]

log = logging.getLogger(__name__)


# site -> the meter serials registered for the buildings that site serves
KnownMeters = Callable[[], Mapping[str, Collection[str]]]
# site -> the id of the company it belongs to (serials are unique only within a company)
SiteCompanies = Callable[[], Mapping[str, int]]
# (site, results): moves commands by the edge's results; idempotent (a redelivery calls it again)
OnResults = Callable[[str, tuple[CommandResult, ...]], None]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A decoded batch ready to store: the part that may be stored, its rows per table, its
    insert deduplication token, and what was dead-lettered of it."""

    batch: Batch
    token: str
    rows: dict[str, list[tuple]]
    dead_letter_id: str | None = None
    reason: str | None = None


class ResultsHookError(Exception):
    """The ``on_results`` hook raised: the message stays unacknowledged and comes again."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``handle`` did with one message."""

    stored_values: int  # archive values inserted (0 when nothing was stored)
    site: str | None = None
    seq: int | None = None
    dead_letter_id: str | None = None  # the entry written for what could not be stored
    reason: str | None = None  # why (some of) the message was not stored
    stored_items: int = 0  # events, lost periods and radio packets inserted, command results applied

    @property
    def stored_anything(self) -> bool:
        return bool(self.stored_values or self.stored_items)


def _batch_of(subject: str, msg_id: str) -> tuple[str, int] | None:
    """(site, seq) of a ``<site>:<seq>`` message id whose site is the subject's, else None."""
    site, _, seq = msg_id.rpartition(":")
    if site and site == subjects.site_of_subject(subject) and seq.isdigit() and int(seq) >= 1:
        return site, int(seq)
    return None


class MeterLookup:
    """The registry's meter serials and company per site, cached and refreshed every ``refresh_s`` seconds.

    An unknown serial or site triggers an early refresh (at most every ``min_refresh_s``), so a
    meter registered a moment ago is not dead-lettered because of a stale cache.
    """

    def __init__(self, load: KnownMeters | None, refresh_s: float = 30.0, min_refresh_s: float = 2.0,
                 companies: SiteCompanies | None = None) -> None:
        self._load = load
        self._load_companies = companies
        self.refresh_s = refresh_s
        self.min_refresh_s = min_refresh_s
        self._known: dict[str, frozenset[str]] = {}
        self._companies: dict[str, int] = {}
        self._loaded_at: float | None = None

    def _read(self) -> tuple[dict[str, frozenset[str]], dict[str, int]]:
        known = self._load() if self._load is not None else {}
        companies = self._load_companies() if self._load_companies is not None else {}
        return {site: frozenset(serials) for site, serials in known.items()}, dict(companies)

    async def _refresh(self) -> None:
        self._known, self._companies = await asyncio.to_thread(self._read)
        self._loaded_at = time.monotonic()

    async def _fresh(self, missing: Callable[[], bool]) -> None:
        age = None if self._loaded_at is None else time.monotonic() - self._loaded_at
        if age is None or age >= self.refresh_s:
            await self._refresh()
        elif missing() and age >= self.min_refresh_s:
            await self._refresh()

    async def unknown(self, site: str, serials: Collection[str]) -> set[str]:
        """The serials among ``serials`` that are not registered for ``site``."""
        if self._load is None:
            return set()
        await self._fresh(lambda: bool(set(serials) - self._known.get(site, frozenset())))
        return set(serials) - self._known.get(site, frozenset())

    async def company(self, site: str) -> int:
        """The company ``site`` belongs to; 0 for a site the registry does not know (or no registry)."""
        if self._load_companies is None:
            return 0
        await self._fresh(lambda: site not in self._companies)
        return self._companies.get(site, 0)


class Ingest:
    """One ingest worker. ``known_meters`` (optional) gives the registry's serials per site;
    without it every meter is accepted (tests of the wire alone). ``companies`` gives each site's
    company, which keys every stored series; without it rows are stored under company 0."""

    def __init__(self, nats_url: str, clickhouse: ClickHouse, fetch_batch: int = 64,
                 known_meters: KnownMeters | None = None, refresh_s: float = 30.0, name: str = "", *,
                 companies: SiteCompanies | None = None, on_results: OnResults | None = None,
                 replicas: int = 1) -> None:
        self.nats_url = nats_url
        self.on_results = on_results
        self.replicas = replicas
        self.ch = clickhouse
        self.fetch_batch = fetch_batch
        self.name = name or uuid.uuid4().hex[:8]
        self.meters = MeterLookup(known_meters, refresh_s, companies=companies)
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
        nc = await connect(self.nats_url, f"domuchet-ingest-{self.name}", stop)
        if nc is None:
            log.info("event=ingest_stopped worker=%s reason=stopped_before_connecting", self.name)
            return
        try:
            sub = await self._subscribe(nc.jetstream(), stop)
            if sub is None:
                return
            log.info("event=ingest_started url=%s durable=%s worker=%s", self.nats_url, DURABLE, self.name)
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self.fetch_batch, timeout=0.5)
                except TimeoutError:  # nats' own, or asyncio's from deeper in fetch under load
                    if self._touched:  # a watermark that failed earlier
                        await self._publish_or_defer()
                    continue
                except nats.errors.Error as exc:  # JetStream unavailable for a moment (a cluster electing a leader)
                    log.warning("event=ingest_fetch_failed worker=%s error=%r retry_in_s=0.5", self.name, exc)
                    await asyncio.sleep(0.5)
                    continue
                handled = await self._handle_fetch(msgs)
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
                await self._publish_or_defer()
        finally:
            self._kv = None
            await nc.close()

    async def _subscribe(self, js: JetStreamContext, stop: asyncio.Event) -> JetStreamContext.PullSubscription | None:
        """Streams, bucket and the durable consumer; retried while JetStream is not ready (None once stopped)."""
        while not stop.is_set():
            try:
                self._kv = await ensure_streams(js, self.replicas)
                await widen_consumer(js)
                return await js.pull_subscribe(subjects.STREAM_UP_SUBJECTS, durable=DURABLE, stream=subjects.STREAM_UP,
                                               config=ConsumerConfig(ack_wait=60.0, max_ack_pending=1024))
            except (nats.errors.Error, TimeoutError) as exc:  # e.g. 503: JetStream not ready yet, or busy
                log.warning("event=ingest_setup_failed worker=%s error=%r retry_in_s=1", self.name, exc)
                await asyncio.sleep(1.0)
        return None

    async def _handle_fetch(self, msgs: list[Msg]) -> list[Msg]:
        """Store the batches of one fetch with one insert per table; the messages to acknowledge.

        A message whose storage failed is left to JetStream (nak, redelivered in 2 s). A batch
        whose sync audit row is already in ClickHouse (a redelivery or a re-send of a stored
        batch) adds no rows. If the combined insert fails, the batches are inserted one by one,
        so one that ClickHouse refuses cannot hold back the others.
        """
        handled: list[Msg] = []
        ready: list[tuple[Msg, Prepared]] = []
        for msg in msgs:
            try:
                prepared = await self._prepare(msg.subject, msg.data, msg.headers or {}, None)
            except (ClickHouseError, OSError) as exc:  # the dead-letter insert failed
                await self._retry_later(msg, exc)
                continue
            if isinstance(prepared, Outcome):
                handled.append(msg)
            else:
                ready.append((msg, prepared))
        if not ready:
            return handled
        try:
            fresh = await self._new([p for _, p in ready])
            # a batch with command results goes alone, under its own token: if the hook fails,
            # its redelivery is then dropped by ClickHouse whatever else comes with it
            await self._insert([p for p in fresh if not p.batch.results])
            for prepared in (p for p in fresh if p.batch.results):
                await self._insert([prepared])
        except (ClickHouseError, OSError) as exc:
            log.warning("event=ingest_fetch_insert_failed worker=%s batches=%d error=%r retry=one_by_one",
                        self.name, len(ready), exc)
            singly = []
            for msg, prepared in ready:
                try:
                    await self._insert([prepared])
                except (ClickHouseError, OSError) as one_exc:
                    await self._retry_later(msg, one_exc)
                    continue
                singly.append((msg, prepared))
            ready = singly
        for msg, prepared in ready:
            try:
                await self._finish(prepared, None)
            except ResultsHookError as exc:
                await self._retry_later(msg, exc)
                continue
            handled.append(msg)
        return handled

    async def _retry_later(self, msg: Msg, exc: Exception) -> None:
        # storage (or the command service) is unavailable: leave the message to JetStream
        log.error("event=ingest_store_failed worker=%s subject=%s error=%r retry_in_s=2", self.name, msg.subject, exc)
        await msg.nak(delay=2.0)

    async def handle(self, subject: str, data: bytes, headers: Mapping[str, str], *,
                     replay_of: str | None = None) -> Outcome:
        """Store one message's batch, or dead-letter what cannot be stored, with the reason.

        ``replay_of`` is the dead-letter id when an operator replays a stored payload: the insert
        then carries its own deduplication token, and a payload that still cannot be stored at
        all is not dead-lettered again (the outcome says why).
        """
        prepared = await self._prepare(subject, data, headers, replay_of)
        if isinstance(prepared, Outcome):
            return prepared
        await self._insert([prepared])
        return await self._finish(prepared, replay_of)

    async def _prepare(self, subject: str, data: bytes, headers: Mapping[str, str],
                       replay_of: str | None) -> Prepared | Outcome:
        """Decode and check a message; dead-letter what cannot be stored (an Outcome when nothing can)."""
        msg_id = headers.get("Nats-Msg-Id", "")
        try:
            batch = decode_batch(data)
        except DecodeError as exc:
            return await self._dead(subject, msg_id, f"{exc.field}: {exc.reason}", data, replay_of)
        if subjects.site_of_subject(subject) != batch.site:
            return await self._dead(subject, msg_id, f"site: {batch.site!r} does not match the subject", data,
                                    replay_of)
        reason = out_of_range(batch)
        if reason is not None:
            return await self._dead(subject, msg_id, reason, data, replay_of)
        kept, rejected, reason = await self._registered(batch)
        entry: str | None = None
        if rejected is not None:
            if replay_of is not None and not _has_rows(kept):
                return Outcome(0, batch.site, batch.seq, reason=reason)
            if replay_of is not None:
                reason = f"{reason} (left over by the replay of {replay_of})"
            entry = await dead_letter(self.ch, subject, msg_id, reason, encode_batch(rejected))
        token = batch.msg_id if replay_of is None else f"{batch.msg_id}|replay:{replay_of}"
        return Prepared(kept, token, table_rows(kept, await self.meters.company(batch.site)), entry, reason)

    async def _new(self, prepared: list[Prepared]) -> list[Prepared]:
        """Those whose batch has no sync audit row yet (one query for the fetch), each batch once."""
        once: list[Prepared] = []
        for p in prepared:
            if all(p.token != q.token for q in once):
                once.append(p)
        keys = {(p.batch.site, p.batch.seq) for p in once if any(p.rows.values())}
        if not keys:
            return once
        # sites match protocol.subjects' pattern and seqs are integers: safe as literals
        literal = ", ".join(f"('{site}', {seq})" for site, seq in sorted(keys))
        stored = {tuple(r) for r in await self.ch.query(
            f"SELECT DISTINCT site, seq FROM {{db}}.sync_batches WHERE (site, seq) IN ({literal})")}  # noqa: S608
        return [p for p in once if (p.batch.site, p.batch.seq) not in stored]

    async def _insert(self, prepared: Sequence[Prepared]) -> None:
        """One insert per table for all of them; one batch keeps its own token, several a digest of theirs."""
        for table, columns in TABLES:
            parts = [p for p in prepared if p.rows[table]]
            if not parts:
                continue
            if len(parts) == 1:
                token = parts[0].token
            else:
                token = "fetch:" + hashlib.sha256("\n".join(sorted(p.token for p in parts)).encode()).hexdigest()[:32]
            await self.ch.insert(table, [row for p in parts for row in p.rows[table]], columns, dedup_token=token)

    async def _finish(self, prepared: Prepared, replay_of: str | None) -> Outcome:
        """After the inserts: the command results hook, then the batch's sync audit row."""
        batch = prepared.batch
        values = len(prepared.rows["archive"])
        items = sum(len(rows) for table, rows in prepared.rows.items() if table != "archive")
        if batch.results and self.on_results is not None:
            await self._apply_results(batch.site, batch.results)
            items += len(batch.results)
        elif batch.results:
            log.warning("event=results_ignored worker=%s site=%s seq=%d results=%d reason=no_on_results_hook",
                        self.name, batch.site, batch.seq, len(batch.results))
        if replay_of is None or ((values or items) and not await self._seen(batch.site, batch.seq)):
            self._sync_rows.append((batch.site, batch.seq, len(batch.records), values,
                                    datetime.fromtimestamp(batch.created_at, UTC), datetime.now(UTC)))
            self.stored += 1
        return Outcome(values, batch.site, batch.seq, prepared.dead_letter_id, prepared.reason, items)

    async def _registered(self, batch: Batch) -> tuple[Batch, Batch | None, str | None]:
        """(what may be stored, what names unregistered meters or None, the reason).

        Archive records, events of a meter (an edge event has meter "") and lost periods must
        name a meter the registry knows for the site; radio packets and command results need not.
        """
        events = tuple(e for e in batch.events if e.meter)
        serials = {r.meter for r in batch.records} | {e.meter for e in events} | {x.meter for x in batch.lost}
        if not serials:
            return batch, None, None
        unknown = await self.meters.unknown(batch.site, serials)
        if not unknown:
            return batch, None, None
        sections = (("meter", batch.records), ("events.meter", events), ("lost.meter", batch.lost))
        reason = "; ".join(
            f"{field}: {', '.join(sorted({i.meter for i in items} & unknown))} not registered for site {batch.site!r}"
            for field, items in sections if {i.meter for i in items} & unknown)
        bad = Batch(batch.site, batch.seq, tuple(r for r in batch.records if r.meter in unknown), batch.created_at,
                    events=tuple(e for e in batch.events if e.meter in unknown),
                    lost=tuple(x for x in batch.lost if x.meter in unknown))
        kept = Batch(batch.site, batch.seq, tuple(r for r in batch.records if r.meter not in unknown),
                     batch.created_at, events=tuple(e for e in batch.events if e.meter not in unknown),
                     lost=tuple(x for x in batch.lost if x.meter not in unknown), radio=batch.radio,
                     results=batch.results)
        return kept, bad, reason

    async def _apply_results(self, site: str, results: tuple[CommandResult, ...]) -> None:
        assert self.on_results is not None  # noqa: S101 - checked by the caller
        try:
            await asyncio.to_thread(self.on_results, site, results)
        except Exception as exc:  # the hook is the command service's code: any failure means "not yet"
            log.exception("event=results_hook_failed worker=%s site=%s results=%d", self.name, site, len(results))
            raise ResultsHookError(f"on_results: {exc!r}") from exc

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
    async def _publish_or_defer(self) -> None:
        try:
            await self.publish_watermarks()
        except (nats.errors.Error, TimeoutError, ClickHouseError, OSError) as exc:
            # the batches are stored and acknowledged; the watermark follows after the next fetch
            log.warning("event=watermark_failed worker=%s sites=%s error=%r", self.name,
                        ",".join(sorted(self._touched)), exc)

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
            try:
                await self._advance(site)
            except BaseException:
                self._touched.update(touched)  # tried again after the next fetch
                raise

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


def _has_rows(batch: Batch) -> bool:
    return bool(batch.records or batch.events or batch.lost or batch.radio or batch.results)


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
