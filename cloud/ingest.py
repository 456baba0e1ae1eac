"""Ingest: durable JetStream pull consumers on DU_UP that store the edge's batches in ClickHouse.

Several workers (Ingest instances, in one process or many) share the one durable consumer
``ingest`` on every up subject (archive, event, radio, state); JetStream hands each message to
one of them. Each section of a batch goes to its table - archive records to ``archive``, events
to ``device_events``, lost periods to ``lost_periods``, LoRa packets to ``radio_packets`` - and
command results to the ``on_results`` hook. The batches of one fetch go in one insert per
table, and their sync audit rows in one more; a message is acknowledged only after its rows,
the hook and its sync audit row are done (tables fsync after insert). Archive records go column
by column from the decoding to the insert (protocol.wire.decode_batch_columns, one Arrow insert
per fetch), never one object per value.

A batch is (site, epoch, seq, digest) (protocol/wire.py, version 3; a batch of an edge before
epochs is (site, seq)). A seq is taken only by a batch whose content was checked against its
digest: garbage, a batch whose content does not match its digest or whose ``Nats-Msg-Id`` is
not its own, or one claiming another site, is dead-lettered and takes no seq. A batch under a
seq that holds another batch is not stored (``seq_taken``): its edge sees that in the watermark
and sends it again under a new seq. A redelivered or re-sent batch changes nothing: one already
in ``sync_batches`` (the same identity, or the same content under another seq) adds no rows, a
repeated insert is dropped by ClickHouse's insert deduplication (token = the batch's
``<site>:<epoch>:<digest>`` or ``<site>:<seq>``, or a digest of a fetch's tokens), and the
ReplacingMergeTree keys collapse whatever else gets through. Row building and range checks:
cloud/ingest_rows.py.

After each fetch the site's *stored* watermark (protocol/watermark.py: the contiguous and the
highest stored seq, and the epoch and digest of every batch of the recent seqs) is put into the
DU_STORED bucket, monotonically even when workers race; the edge marks a batch stored, and
evicts it, only when it is listed there. Bad input - malformed batches, unknown schema versions,
records, events and lost periods of meters the registry does not know for the site - goes to
the dead-letter table with the reason and never stops the consumer (cloud/deadletter.py lists
and replays it); radio packets are stored whatever the device. Tests:
tests/integration/test_cloud_ingest.py, tests/integration/test_ingest_sections.py,
tests/integration/test_edge_identity.py, tests/integration/test_pipeline.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import nats
from clickhouse_connect.driver.exceptions import ClickHouseError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from cloud.health import Link, Storing
from cloud.ingest_rows import SYNC_COLUMNS, TABLES, archive_columns, archive_rows, out_of_range, table_rows
from cloud.storage.clickhouse import ArchiveColumns, ClickHouse
from cloud.streams import DURABLE, connect, ensure_streams, widen_consumer
from protocol import subjects, watermark
from protocol.errors import DecodeError
from protocol.nats_access import redact_url
from protocol.wire import Batch, CommandResult, RecordColumns, decode_batch_columns, encode_batch

__all__ = ["DURABLE", "Ingest", "Outcome", "ResultsHookError", "archive_rows", "dead_letter", "ensure_streams"]

log = logging.getLogger(__name__)


# site -> the meter serials registered for the buildings that site serves
KnownMeters = Callable[[], Mapping[str, Collection[str]]]
# site -> the id of the company it belongs to (serials are unique only within a company)
SiteCompanies = Callable[[], Mapping[str, int]]
# (site, results): moves commands by the edge's results; idempotent (a redelivery calls it again)
OnResults = Callable[[str, tuple[CommandResult, ...]], None]


NEW, STORED, TAKEN = "new", "stored", "taken"  # what sync_batches says of a prepared batch
NO_RECORDS = RecordColumns.of(())
_CONTIGUOUS_SPAN = 100_000  # seqs read past the contiguous watermark per update

LAG_EVERY_S = 5.0  # how often a worker asks JetStream for its consumer's backlog (/api/health)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked batch ready to store: the part that may be stored (``batch.records`` is empty:
    its archive records are ``rows["archive"]``, column by column), its identity (epoch and digest
    of the whole batch as sent; "" for a batch without an epoch), its rows per table, its insert
    deduplication token, and what was dead-lettered of it."""

    batch: Batch
    epoch: str
    digest: str
    records: int  # records the batch carried (the audit counts them)
    token: str
    rows: dict[str, ArchiveColumns | list[tuple]]  # by table: the archive's as ArchiveColumns, or []
    dead_letter_id: str | None = None
    reason: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.batch.site, self.batch.seq

    @property
    def identity(self) -> tuple[str, str]:
        return self.epoch, self.digest


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
        self._published: dict[str, int] = {}  # last contiguous stored seq this worker saw per site
        self._touched: set[str] = set()  # sites stored since the last watermark update
        self._epoch_sites: set[str] = set()  # sites seen sending batches with an epoch: the JSON watermark
        self._sync_rows: list[tuple] = []  # sync_batches rows not inserted yet (see flush)
        self.link = Link(self.name)  # its NATS connection, and its inserts and backlog (cloud/health.py)
        self.storing = Storing(self.name)

    @property
    def kv(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("ingest is not connected")
        return self._kv

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set (also while NATS is still unreachable)."""
        nc = await connect(self.nats_url, f"domuchet-ingest-{self.name}", stop, self.link)
        if nc is None:
            log.info("event=ingest_stopped worker=%s reason=stopped_before_connecting", self.name)
            return
        try:
            sub = await self._subscribe(nc.jetstream(), stop)
            if sub is None:
                return
            log.info("event=ingest_started url=%s durable=%s worker=%s", redact_url(self.nats_url), DURABLE, self.name)
            lag_due = 0.0
            while not stop.is_set():
                if time.monotonic() >= lag_due:
                    lag_due = time.monotonic() + LAG_EVERY_S
                    await self._measure_lag(sub)
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
                    log.debug("event=ingest_store_failed worker=%s what=sync_batches error=%r retry_in_s=2",
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

    async def _measure_lag(self, sub: JetStreamContext.PullSubscription) -> None:
        """The consumer's backlog for /api/health (one consumer-info request every LAG_EVERY_S)."""
        try:
            info = await sub.consumer_info()
        except (nats.errors.Error, TimeoutError) as exc:
            log.debug("event=consumer_info_failed worker=%s error=%r", self.name, exc)
            return
        self.storing.lag(info.num_pending or 0, info.num_ack_pending or 0)

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
            verdicts = await self._classify([p for _, p in ready])
        except (ClickHouseError, OSError) as exc:
            self.storing.store_failed(exc)
            for msg, _ in ready:
                await self._retry_later(msg, exc)
            return handled
        judged = list(zip(ready, verdicts, strict=True))
        for (msg, prepared), verdict in judged:
            if verdict == TAKEN:  # another batch holds the seq: the edge renumbers this one
                self._taken(prepared)
                handled.append(msg)
        ready = [pair for pair, verdict in judged if verdict != TAKEN]
        fresh = [prepared for (_, prepared), verdict in judged if verdict == NEW]
        try:
            # a batch with command results goes alone, under its own token: if the hook fails,
            # its redelivery is then dropped by ClickHouse whatever else comes with it
            await self._insert([p for p in fresh if not p.batch.results])
            for prepared in (p for p in fresh if p.batch.results):
                await self._insert([prepared])
        except (ClickHouseError, OSError) as exc:
            log.log(logging.DEBUG if self.storing.failing > 1 else logging.WARNING,
                    "event=ingest_fetch_insert_failed worker=%s batches=%d error=%r retry=one_by_one",
                    self.name, len(ready), exc)
            singly = []
            for msg, prepared in ready:
                try:
                    if any(prepared is p for p in fresh):
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

    def _taken(self, prepared: Prepared) -> None:
        site, seq = prepared.key
        if prepared.epoch:
            # its edge must see the other batch listed, even if no batch with an epoch is stored yet
            self._epoch_sites.add(site)
            self._touched.add(site)
        log.warning("event=batch_seq_taken worker=%s site=%s seq=%d epoch=%s digest=%s reason=another batch is "
                    "stored under this seq; the edge sends it again under a new one", self.name, site, seq,
                    prepared.epoch, prepared.digest)

    async def _retry_later(self, msg: Msg, exc: Exception) -> None:
        # storage (or the command service) is unavailable: leave the message to JetStream; a storage
        # outage is told once by the state line (event=ingest_state), not per message and retry
        storage = isinstance(exc, ClickHouseError | OSError)
        log.log(logging.DEBUG if storage else logging.ERROR, "event=ingest_store_failed worker=%s subject=%s "
                "error=%r retry_in_s=2", self.name, msg.subject, exc)
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
        if replay_of is None:  # a replay stores what was dead-lettered, never stored before
            verdict = (await self._classify([prepared]))[0]
            if verdict == TAKEN:
                self._taken(prepared)
                return Outcome(0, *prepared.key, reason=f"seq: {prepared.batch.seq} holds another batch of site "
                                                        f"{prepared.batch.site!r}")
            if verdict == STORED:
                prepared = replace(prepared, rows={table: [] for table in prepared.rows})
        await self._insert([prepared])
        return await self._finish(prepared, replay_of)

    async def _prepare(self, subject: str, data: bytes, headers: Mapping[str, str],
                       replay_of: str | None) -> Prepared | Outcome:
        """Decode and check a message; dead-letter what cannot be stored (an Outcome when nothing can)."""
        msg_id = headers.get("Nats-Msg-Id", "")
        try:
            # a version 3 batch's digest is checked against its content here; records come as columns
            batch, records = decode_batch_columns(data)
        except DecodeError as exc:
            return await self._dead(subject, msg_id, f"{exc.field}: {exc.reason}", data, replay_of)
        if subjects.site_of_subject(subject) != batch.site:
            return await self._dead(subject, msg_id, f"site: {batch.site!r} does not match the subject", data,
                                    replay_of)
        if batch.epoch and replay_of is None and msg_id != batch.msg_id:
            # JetStream deduplicates by this header: a message must be named as the batch it is
            return await self._dead(subject, msg_id, f"Nats-Msg-Id: {msg_id!r} does not name this batch "
                                                     f"({batch.msg_id})", data, replay_of)
        token = f"{batch.site}:{batch.epoch}:{batch.digest}" if batch.epoch else batch.msg_id
        if replay_of is not None:
            token = f"{token}|replay:{replay_of}"

        def prepared(part: Batch, part_records: RecordColumns, company: int, entry: str | None,
                     reason: str | None) -> Prepared:
            rows: dict[str, ArchiveColumns | list[tuple]] = {
                **table_rows(part, company), "archive": archive_columns(part, part_records, company)}
            return Prepared(part, batch.epoch, batch.digest, len(records), token, rows, entry, reason)
        reason = out_of_range(batch, records)
        if reason is not None:
            # the batch is what it says it is: it takes its seq, its payload waits in the dead letters
            if replay_of is not None:
                return Outcome(0, batch.site, batch.seq, reason=reason)
            entry = await dead_letter(self.ch, subject, msg_id, reason, data)
            return prepared(Batch(batch.site, batch.seq, (), batch.created_at, epoch=batch.epoch), NO_RECORDS, 0,
                            entry, reason)
        kept, kept_records, rejected, unknown = await self._registered(batch, records)
        if rejected is None:
            return prepared(kept, kept_records, await self.meters.company(batch.site), None, None)
        assert unknown is not None  # noqa: S101 - _registered gives a reason with what it rejects
        if replay_of is not None and not (_has_rows(kept) or len(kept_records)):
            return Outcome(0, batch.site, batch.seq, reason=unknown)
        if replay_of is not None:
            unknown = f"{unknown} (left over by the replay of {replay_of})"
        entry = await dead_letter(self.ch, subject, msg_id, unknown, encode_batch(rejected))
        return prepared(kept, kept_records, await self.meters.company(batch.site), entry, unknown)

    async def _classify(self, prepared: Sequence[Prepared]) -> list[str]:
        """For each batch, in order: NEW (store its rows), STORED (stored before: no rows, the audit
        row again) or TAKEN (another batch holds its seq: neither), from one query of
        ``sync_batches`` and what the batches before it in the list will store.

        A batch with an epoch is STORED when the same identity holds its seq, or its content
        (site, epoch, digest) is stored under another seq - a renumbered re-send -, and TAKEN
        when another identity holds its seq. A batch without an epoch keeps the rule of its edge:
        any batch under its seq means it was stored.
        """
        held: dict[tuple[str, int], set[tuple[str, str]]] = {}
        contents: set[tuple[str, str, str]] = set()
        for site, seq, epoch, digest in await self._stored_batches(prepared):
            held.setdefault((site, seq), set()).add((epoch, digest))
            if epoch:
                contents.add((site, epoch, digest))
        verdicts = []
        for p in prepared:
            there = held.get(p.key)
            if not p.epoch:
                verdict = STORED if there else NEW
            elif there:
                verdict = STORED if p.identity in there else TAKEN
            else:
                verdict = STORED if (p.batch.site, *p.identity) in contents else NEW
            if verdict != TAKEN:
                held.setdefault(p.key, set()).add(p.identity)
                if p.epoch:
                    contents.add((p.batch.site, *p.identity))
            verdicts.append(verdict)
        return verdicts

    async def _stored_batches(self, prepared: Sequence[Prepared]) -> list[tuple[str, int, str, str]]:
        """(site, seq, epoch, digest) of the audit rows under these batches' seqs or with their content."""
        # sites match protocol.subjects' pattern, seqs are integers, epochs and digests hex (checked
        # by decode_batch): safe as literals
        keys = ", ".join(sorted({f"('{p.batch.site}', {p.batch.seq})" for p in prepared}))
        sql = f"SELECT site, seq, epoch, digest FROM {{db}}.sync_batches WHERE (site, seq) IN ({keys})"  # noqa: S608
        contents = sorted({(p.batch.site, p.epoch, p.digest) for p in prepared if p.epoch})
        if contents:
            digests = ", ".join(f"'{d}'" for d in sorted({d for _, _, d in contents}))
            triples = ", ".join(f"('{s}', '{e}', '{d}')" for s, e, d in contents)
            # the digest condition alone lets the bloom filter index skip the site's other parts
            sql += (f" UNION ALL SELECT site, seq, epoch, digest FROM {{db}}.sync_batches "  # noqa: S608
                    f"WHERE digest IN ({digests}) AND (site, epoch, digest) IN ({triples})")
        return [tuple(r) for r in await self.ch.query(sql)]  # type: ignore[misc]

    async def _insert(self, prepared: Sequence[Prepared]) -> None:
        """One insert per table for all of them; one batch keeps its own token, several a digest of theirs."""
        try:
            await self._insert_tables(prepared)
        except (ClickHouseError, OSError) as exc:
            self.storing.store_failed(exc)
            raise
        self.storing.stored()

    async def _insert_tables(self, prepared: Sequence[Prepared]) -> None:
        for table, columns in TABLES:
            parts = [p for p in prepared if p.rows[table]]
            if not parts:
                continue
            if len(parts) == 1:
                token = parts[0].token
            else:
                token = "fetch:" + hashlib.sha256("\n".join(sorted(p.token for p in parts)).encode()).hexdigest()[:32]
            if table == "archive":  # column by column: no tuple per value
                archive = ArchiveColumns.concat([p.rows[table] for p in parts])  # type: ignore[misc]
                await self.ch.insert_archive_columns(archive, token)
            else:
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
            self._sync_rows.append((batch.site, batch.seq, prepared.epoch, prepared.digest, prepared.records, values,
                                    datetime.fromtimestamp(batch.created_at, UTC), datetime.now(UTC)))
            self.stored += 1
        return Outcome(values, batch.site, batch.seq, prepared.dead_letter_id, prepared.reason, items)

    async def _registered(self, batch: Batch, records: RecordColumns
                          ) -> tuple[Batch, RecordColumns, Batch | None, str | None]:
        """(what may be stored: the batch and its archive records, what names unregistered meters
        or None, the reason). ``batch`` carries its archive records as ``records`` only.

        Archive records, events of a meter (an edge event has meter "") and lost periods must
        name a meter the registry knows for the site; radio packets and command results need not.
        """
        events = tuple(e for e in batch.events if e.meter)
        sections = (("meter", set(records.meter)), ("events.meter", {e.meter for e in events}),
                    ("lost.meter", {x.meter for x in batch.lost}))
        serials = set().union(*(meters for _, meters in sections))
        if not serials:
            return batch, records, None, None
        unknown = await self.meters.unknown(batch.site, serials)
        if not unknown:
            return batch, records, None, None
        reason = "; ".join(
            f"{field}: {', '.join(sorted(meters & unknown))} not registered for site {batch.site!r}"
            for field, meters in sections if meters & unknown)
        known = [meter not in unknown for meter in records.meter]
        bad = Batch(batch.site, batch.seq, records.select([not k for k in known]).records(), batch.created_at,
                    events=tuple(e for e in batch.events if e.meter in unknown),
                    lost=tuple(x for x in batch.lost if x.meter in unknown), epoch=batch.epoch)
        kept = Batch(batch.site, batch.seq, (), batch.created_at,
                     events=tuple(e for e in batch.events if e.meter not in unknown),
                     lost=tuple(x for x in batch.lost if x.meter not in unknown), radio=batch.radio,
                     results=batch.results, epoch=batch.epoch)
        return kept, records.select(known), bad, reason

    async def _apply_results(self, site: str, results: tuple[CommandResult, ...]) -> None:
        assert self.on_results is not None  # noqa: S101 - checked by the caller
        try:
            await asyncio.to_thread(self.on_results, site, results)
        except Exception as exc:  # the hook is the command service's code: any failure means "not yet"
            log.exception("event=results_hook_failed worker=%s site=%s results=%d", self.name, site, len(results))
            raise ResultsHookError(f"on_results: {exc!r}") from exc

    async def _dead(self, subject: str, msg_id: str, reason: str, data: bytes, replay_of: str | None) -> Outcome:
        """Dead-letter a whole message that is not a checked batch of the subject's site (it does
        not decode, its digest or message id does not match its content, or it names another
        site); a replayed payload that still fails keeps its one entry.

        Such a message takes no seq, whatever its ``Nats-Msg-Id`` says: the real batch of that
        seq is stored when it comes (an edge resends a batch until the cloud lists it).
        """
        if replay_of is not None:
            return Outcome(0, reason=reason)
        entry = await dead_letter(self.ch, subject, msg_id, reason, data)
        return Outcome(0, dead_letter_id=entry, reason=reason)

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
        try:
            await self.ch.insert("sync_batches", rows, SYNC_COLUMNS, settings={"optimize_on_insert": 0})
        except (ClickHouseError, OSError) as exc:
            self.storing.store_failed(exc)
            raise
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
        """Put the site's stored watermark (protocol/watermark.py) into the bucket, never older.

        Every worker reads the table after its own insert and after reading the bucket, so what
        it writes covers whatever the bucket held; a compare-and-set on the bucket keeps a slower
        worker from writing over a newer value (on a conflict it reads both again).
        """
        while True:
            current, raw, revision = await self._bucket(site)
            start = max(current.seq, self._published.get(site, 0))
            # the seqs after the contiguous one (a stretch of them: a missing seq ends the walk),
            # and the listed window with everything stored above it
            rows = await self.ch.query(
                "SELECT DISTINCT seq, epoch, digest FROM {db}.sync_batches WHERE site = {s:String} "
                "AND ((seq > {w:UInt64} AND seq <= {end:UInt64}) OR seq > {t:UInt64}) ORDER BY seq",
                {"s": site, "w": start, "end": start + _CONTIGUOUS_SPAN, "t": max(0, current.top - watermark.WINDOW)})
            state = watermark.build(((seq, epoch, digest) for seq, epoch, digest in rows), start,
                                    listing=site in self._epoch_sites)
            value = state.encode()
            if value == raw or state.seq < current.seq or state.top < current.top:
                break  # nothing new (or the bucket is ahead of what this worker can see)
            try:
                if revision is None:
                    await self.kv.create(site, value)
                else:
                    await self.kv.update(site, value, last=revision)
            except KeyWrongLastSequenceError:
                continue  # another worker moved it: read the bucket and the table again
            log.debug("event=watermark site=%s stored=%d top=%d worker=%s", site, state.seq, state.top, self.name)
            break
        self._published[site] = max(self._published.get(site, 0), state.seq, current.seq)

    async def _bucket(self, site: str) -> tuple[watermark.Stored, bytes | None, int | None]:
        """The bucket's watermark of the site, its raw value and its revision (None when absent)."""
        try:
            entry = await self.kv.get(site)
        except KeyNotFoundError:
            return watermark.Stored(0, 0, 0, {}, legacy=True), None, None
        return watermark.parse(entry.value or b"0"), entry.value, entry.revision


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
