"""The durable edge buffer: archive values, device and edge events, lost periods, LoRa radio
packets, command results and rejected frames in SQLite (WAL, synchronous=FULL) through
sqlite-utils, with an outbox of numbered batches (edge/outbox.py builds them).

A value is keyed by (meter, channel, kind, parameter, period start); a repeat of the same
key is ignored. Rows join a batch when it is built (state ``pending``), the batch becomes
``published`` on the JetStream acknowledgement (which records the digest of what was sent)
and ``stored`` when the cloud's stored watermark lists that very batch: this buffer's epoch,
its seq and its digest (``apply_cloud``). A pending or published batch is re-sent with the same
seq, so the broker and ClickHouse drop repeats; when the cloud holds another batch under its
seq (a replaced disk: a new buffer numbers from 1 again), it is renumbered above the cloud's
highest seq and sent again (event ``batches_renumbered``). Every buffer gets a random epoch
when it is created (table ``meta``): event and radio row ids are unique per (site, epoch), so a
new buffer never overwrites an older buffer's rows in the cloud. Every batch carries one
content kind (``CONTENTS``), all kinds share the one sequence. Eviction (edge/budget.py) takes
stored data first and unsynced data only when the disk budget is full, and every such loss is an
``events`` row. A write that finds the disk full (SQLITE_FULL) calls ``on_full`` (the budget's
eviction) and is retried.
Gaps and lost periods of polled meters live in ``gaps`` and ``lost`` (edge/gaps.py). Every time
in the buffer is UTC epoch seconds (a period by its start); the drivers convert the devices'
local clocks at their boundary. ``time_zone`` (the site's) is needed only to bring a buffer of
schema version 2 or older, whose gap bookkeeping was in device local time, to UTC.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from edge import buffer_schema as storage
from edge import outbox
from edge.buffer_schema import SCHEMA_VERSION
from edge.sqlite_lean import sqlite_utils
from protocol import watermark
from protocol.periods import zone
from protocol.vocabulary import ArchiveKind
from protocol.wire import EPOCH_HEX, RESULT_STATES, SEVERITIES, ArchiveRecord, Batch, decode_batch, pack_record

log = logging.getLogger(__name__)

PENDING, PUBLISHED, STORED = outbox.PENDING, outbox.PUBLISHED, outbox.STORED
CONTENTS = outbox.CONTENTS
WARNING_KINDS = outbox.WARNING_KINDS
_T = TypeVar("_T")


class BufferFull(Exception):
    """A write found the disk (or the database's page limit) full; eviction ran, the write did not.
    ``freed`` says whether the eviction made room (then the write is worth trying again)."""

    def __init__(self, message: str, freed: bool = False) -> None:
        super().__init__(message)
        self.freed = freed


def is_disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL from SQLite, or ENOSPC from the file system."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


@dataclass(frozen=True, slots=True)
class RadioPacket:
    received_at: float
    dev_eui: str
    f_cnt: int
    f_port: int
    rssi: int | None
    snr: float | None
    gateway: str
    frequency: int
    payload: bytes
    direction: str = "up"
    error: str = ""


_INSERT_RECORD = ("INSERT OR IGNORE INTO records (meter, channel, kind, period_start, part, nature, vals, nvals, "
                  "quality, version, received_at, clock_offset_s, wire) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

_INSERT_RADIO = (f"INSERT INTO radio ({', '.join(RadioPacket.__slots__)}) "  # noqa: S608 - column names of ours
                 f"VALUES ({', '.join('?' * len(RadioPacket.__slots__))})")


def _record_row(r: ArchiveRecord, part: int, clock_offset_s: float) -> tuple:
    values = {k: float(v) for k, v in r.values.items()}
    return (r.meter, r.channel, r.kind.value, r.period_start, part, r.nature.value, json.dumps(values), len(values),
            r.quality, r.version, float(r.received_at), clock_offset_s, pack_record(r))


class Buffer:
    def __init__(self, path: Path, time_zone: str = "UTC") -> None:
        """``time_zone``: the site's IANA zone (EdgeConfig.time_zone), the devices' local clock."""
        tz = zone(time_zone)  # an unknown zone is refused before the file is touched
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.time_zone = time_zone
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        # called with the error when a write finds the disk full, before the write is retried
        # (DiskBudget sets it: evict per the budget rules and record the loss)
        self.on_full: Callable[[BaseException], bool] | None = None
        self.full_errors = 0
        self._evicting = False
        self._migrate(tz)
        self.epoch = self._epoch()

    def _epoch(self) -> str:
        """This buffer's epoch: made once, at creation (or at the first open of a buffer of an
        earlier version, whose batches built before keep none)."""
        with self.tx():
            epoch = outbox.get_meta(self.db, "epoch")
            if epoch is None:
                epoch = secrets.token_hex(EPOCH_HEX // 2)
                outbox.set_meta(self.db, "epoch", epoch)
                log.info("event=buffer_epoch_created path=%s epoch=%s earlier_version=%s", self.path, epoch,
                         self._existing)
        return epoch

    def _migrate(self, tz: ZoneInfo) -> None:
        """Create the tables, or bring a buffer of an older schema version up to date, in one
        transaction (``PRAGMA user_version`` says which steps a file has had; edge/buffer_schema.py)."""
        names = set(self.db.table_names())
        self._existing = bool(names)  # a buffer of an earlier version: say what changes
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self.db.conn.close()
            raise RuntimeError(f"buffer {self.path}: schema version {version} is newer than this edge's "
                               f"{SCHEMA_VERSION}; run the newer edge, or move the file aside to start a new buffer")
        if version < SCHEMA_VERSION:
            with self.tx():
                self._migrate_tables(names)
                storage.migrate(self.db.conn, version, tz)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if self._existing and version < SCHEMA_VERSION:
                log.info("event=buffer_migrated path=%s from_version=%d to_version=%d", self.path, version,
                         SCHEMA_VERSION)

    def _migrate_tables(self, names: set[str]) -> None:
        """Version 1: the tables of every buffer before schema versions (columns added to older
        ones, nothing rewritten: batches made before contents existed carry archive values)."""
        if "batches" not in names:
            self.db.table("batches").create({"seq": int, "state": str, "records": int, "created_at": float,
                                             "published_at": float}, pk="seq")
            self.db.table("batches").create_index(["state"])
        if "cursors" not in names:
            self.db.table("cursors").create({"meter": str, "kind": str, "last_period": int}, pk=("meter", "kind"))
        if "radio" not in names:
            self.db.table("radio").create({"id": int, "received_at": float, "dev_eui": str, "f_cnt": int,
                                           "f_port": int, "rssi": int, "snr": float, "gateway": str,
                                           "frequency": int, "payload": bytes, "direction": str, "error": str},
                                          pk="id")
        if "rejects" not in names:
            self.db.table("rejects").create({"id": int, "received_at": float, "source": str, "reason": str,
                                             "payload": bytes}, pk="id")
        if "events" not in names:
            self.db.table("events").create({"id": int, "at": float, "kind": str, "meter": str, "count": int,
                                            "detail": str}, pk="id")
        if "gaps" not in names:  # periods a polled meter must have and we have not read yet
            self.db.table("gaps").create({"meter": str, "kind": str, "period": int, "attempts": int,
                                          "next_try_at": float, "last_error": str}, pk=("meter", "kind", "period"))
        if "lost" not in names:  # periods the device cannot give us any more: never filled in
            self.db.table("lost").create({"meter": str, "kind": str, "period": int, "reason": str, "at": float},
                                         pk=("meter", "kind", "period"))
        if "meta" not in names:  # the buffer's epoch, the lowest seq new batches may take
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        if "results" not in names:  # answers to the cloud's commands, sent first
            self.db.execute("CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY, command_id TEXT NOT NULL, "
                            "state TEXT NOT NULL, at REAL NOT NULL, detail TEXT NOT NULL, batch INTEGER)")
        self._add_columns("batches", {"content": "TEXT NOT NULL DEFAULT 'archive'", "epoch": "TEXT",
                                      "digest": "TEXT"})
        self._add_columns("events", {"severity": "TEXT", "source": "TEXT NOT NULL DEFAULT 'edge'", "batch": "INTEGER"})
        self._add_columns("lost", {"batch": "INTEGER"})
        self._add_columns("radio", {"batch": "INTEGER"})
        for table, columns in (("events", "batch, id"), ("radio", "batch, id"), ("results", "batch, id"),
                               ("lost", "batch, at")):
            self.db.execute(f"CREATE INDEX IF NOT EXISTS idx_{table}_outbox ON {table} ({columns})")
        # a device's event log is read again after a restart: one row per (meter, time, code)
        self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_events_device ON events (meter, at, kind) "
                        "WHERE source = 'device'")

    def _add_columns(self, table: str, columns: dict[str, str]) -> None:
        have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
        for name, decl in columns.items():
            if name not in have:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
                if self._existing:
                    log.info("event=buffer_migrated table=%s column=%s", table, name)

    def close(self) -> None:
        self.db.conn.close()

    @contextlib.contextmanager
    def tx(self) -> Iterator[None]:
        """One SQLite transaction (the connection is in autocommit mode, so ``with conn:`` alone
        would commit every statement on its own). Joins the caller's transaction when nested.
        When the outermost transaction finds the disk full it is rolled back, ``on_full`` runs
        (eviction) and BufferFull is raised: the caller tries again (``write`` does)."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may already have rolled back on SQLITE_FULL
                conn.execute("ROLLBACK")
            if isinstance(exc, Exception) and is_disk_full(exc):
                freed = self._disk_full(exc)
                raise BufferFull(f"buffer {self.path}: {exc}", freed) from exc
            raise

    def _disk_full(self, exc: BaseException) -> bool:
        """Log a full disk and let ``on_full`` evict; returns whether it freed anything."""
        self.full_errors += 1
        log.error("event=buffer_disk_full path=%s reason=%r", self.path, str(exc))
        if self.on_full is None or self._evicting:
            return False  # a write of the eviction itself found the disk full: its own caller reports it
        self._evicting = True
        try:
            return self.on_full(exc)
        except BufferFull as evict_exc:  # the write's own error is raised by the caller; say why eviction failed
            log.error("event=eviction_failed reason=%r", str(evict_exc))
            return False
        finally:
            self._evicting = False

    def write(self, fn: Callable[[], _T], attempts: int = 20) -> _T:
        """Run ``fn`` in a transaction; when the disk is full, evict (``on_full``) and try again
        while the eviction frees something. Inside a caller's transaction it just runs: the
        caller's own transaction is the one to retry."""
        if self.db.conn.in_transaction:
            return fn()
        for attempt in range(1, attempts + 1):
            try:
                with self.tx():
                    return fn()
            except BufferFull as exc:
                if not exc.freed or attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    # --- acquisition -----------------------------------------------------------------
    def store(self, records: Iterable[ArchiveRecord], clock_offset_s: float = 0.0,
              cursor: tuple[str, ArchiveKind, int] | None = None) -> int:
        """Store records (one row per parameter) and optionally advance a poll cursor, atomically.
        Returns how many new values were stored; repeats of a stored key are ignored."""
        records = list(records)

        def do() -> int:
            added = self.insert_values(records, clock_offset_s)
            if cursor is not None:
                meter, kind, period = cursor
                self.db.table("cursors").upsert({"meter": meter, "kind": kind.value, "last_period": period},
                                                pk=("meter", "kind"))
            return added
        return self.write(do)

    def insert_values(self, records: Iterable[ArchiveRecord], clock_offset_s: float = 0.0) -> int:
        """Insert records inside the caller's transaction; returns how many new values were stored.
        A record whose key is stored adds only the parameters the stored one lacks (a row of its own)."""
        records = [r for r in records if r.values]
        rows = [_record_row(r, 0, clock_offset_s) for r in records]
        conn = self.db.conn
        conn.execute("SAVEPOINT insert_values")
        before = conn.total_changes
        conn.executemany(_INSERT_RECORD, rows)
        if conn.total_changes - before == len(rows):  # no key was there: the usual case
            conn.execute("RELEASE insert_values")
            return sum(row[7] for row in rows)
        conn.execute("ROLLBACK TO insert_values")  # some were: record by record, parameter by parameter
        added = 0
        for r in records:
            have: set[str] = set()
            parts = -1
            for part, vals in conn.execute("SELECT part, vals FROM records WHERE meter = ? AND channel = ? AND "
                                           "kind = ? AND period_start = ?",
                                           [r.meter, r.channel, r.kind.value, r.period_start]):
                have.update(json.loads(vals))
                parts = max(parts, part)
            new = {k: v for k, v in r.values.items() if k not in have}
            if new:
                conn.execute(_INSERT_RECORD, _record_row(replace(r, values=new), parts + 1, clock_offset_s))
                added += len(new)
        conn.execute("RELEASE insert_values")
        return added

    def periods_present(self, meter: str, kind: ArchiveKind, periods: Collection[int]) -> set[int]:
        """Which of ``periods`` (UTC starts) have a record of ``meter`` and ``kind`` in the buffer."""
        wanted, found = sorted(periods), set[int]()
        for i in range(0, len(wanted), 500):  # below SQLite's limit of bound parameters
            chunk = wanted[i:i + 500]
            found.update(r[0] for r in self.db.execute(
                f"SELECT DISTINCT period_start FROM records WHERE meter = ? AND kind = ? "  # noqa: S608
                f"AND period_start IN ({','.join('?' * len(chunk))})", [meter, kind.value, *chunk]))
        return found

    def cursor(self, meter: str, kind: ArchiveKind) -> int | None:
        row = self.db.execute("SELECT last_period FROM cursors WHERE meter = ? AND kind = ?",
                              [meter, kind.value]).fetchone()
        return row[0] if row else None

    def add_radio(self, packet: RadioPacket) -> None:
        row = [getattr(packet, k) for k in RadioPacket.__slots__]  # one statement: sqlite-utils' insert
        self.write(lambda: self.db.conn.execute(_INSERT_RADIO, row))  # looked the table up every packet

    def reject(self, source: str, reason: str, payload: bytes) -> None:
        """Keep a frame that did not decode, with the reason, for diagnosis and the packet log."""
        row = {"received_at": time.time(), "source": source, "reason": reason, "payload": payload}
        self.write(lambda: self.db.table("rejects").insert(row))

    def add_device_event(self, meter: str, at: float, code: str, severity: str, detail: dict) -> bool:
        """An entry of a device's event log (source "device"); a repeat of (meter, at, code) is
        ignored and returns False. Joins the caller's transaction if inside ``tx()``."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity: must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        if not meter or not code:
            raise ValueError("meter and code of a device event must not be empty")
        text = json.dumps(detail, sort_keys=True, default=str)
        return self.write(lambda: self.db.execute(
            "INSERT OR IGNORE INTO events (at, kind, meter, count, detail, severity, source) "
            "VALUES (?, ?, ?, 0, ?, ?, 'device')", [at, code, meter, text, severity]).rowcount == 1)

    def add_result(self, command_id: str, state: str, detail: dict) -> None:
        """Queue a command's result for the cloud (sent before anything else). Joins the caller's
        transaction if inside ``tx()``, so a result is durable exactly when its effect is."""
        if state not in RESULT_STATES:
            raise ValueError(f"state: must be one of {', '.join(RESULT_STATES)}, got {state!r}")
        if not command_id:
            raise ValueError("command_id must not be empty")
        text = json.dumps(detail, sort_keys=True, default=str)
        self.write(lambda: self.db.execute("INSERT INTO results (command_id, state, at, detail) VALUES (?, ?, ?, ?)",
                                           [command_id, state, time.time(), text]))

    def event(self, kind: str, meter: str = "", count: int = 0, severity: str | None = None,
              **detail: object) -> None:
        """Record something the operator and the cloud must know about (a loss, a clock correction ...)."""
        self.write(lambda: self.add_event(kind, meter, count, severity=severity, **detail))

    def add_event(self, kind: str, meter: str = "", count: int = 0, severity: str | None = None,
                  **detail: object) -> None:
        """``event`` inside the caller's transaction (source "edge"). ``severity`` defaults to
        "warning" for losses, budget warnings and clock corrections, "info" otherwise."""
        level = severity.lower() if isinstance(severity, str) else None
        if level not in SEVERITIES:
            if severity is not None:  # not ours to judge: keep what the caller said in the detail
                detail["severity"] = severity
            level = "warning" if kind in WARNING_KINDS else "info"
        self.db.execute("INSERT INTO events (at, kind, meter, count, detail, severity, source) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'edge')",
                        [time.time(), kind, meter, count, json.dumps(detail, sort_keys=True, default=str), level])

    def events(self, limit: int = 20, kind: str | None = None) -> list[dict]:
        where, args = ("WHERE kind = ?", [kind]) if kind else ("", [])
        rows = self.db.execute(f"SELECT id, at, kind, meter, count, detail, severity, source FROM events {where} "  # noqa: S608
                               "ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [{"id": i, "at": at, "kind": k, "meter": m, "count": c, "detail": json.loads(d),
                 "severity": s or outbox.severity_of(k), "source": src}
                for i, at, k, m, c, d, s, src in rows]

    def data_bytes(self) -> int:
        """Bytes of the database's pages in use (free pages are reused before the file grows)."""
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self.db.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def wal_bytes(self) -> int:
        """Size of the write-ahead log file (it holds recent writes until a checkpoint)."""
        try:
            return os.path.getsize(f"{self.path}-wal")
        except FileNotFoundError:
            return 0

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database and truncate it (outside a transaction)."""
        if not self.db.conn.in_transaction:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- outbox (edge/outbox.py) -------------------------------------------------------
    def next_batch(self, max_records: int, site: str) -> Batch | None:
        """The oldest batch not yet published, else a new one from unbatched rows, else None."""
        batches = self.next_batches(1, max_records, site)
        return batches[0] if batches else None

    def next_batches(self, count: int, max_records: int, site: str, skip: Collection[int] = (),
                     new: bool = True) -> list[Batch]:
        """Up to ``count`` batches to publish, in one transaction: pending ones first (oldest
        first, except the seqs in ``skip``, already in flight), then new ones when ``new``, by
        content: command results, archive values, lost periods and events, radio packets. Each
        is what the cloud will read: the batch decoded from the very bytes ``next_outgoing`` sends."""
        return [decode_batch(out.encoded.data)
                for out in self.next_outgoing(count, max_records, site, skip, new)]

    def next_outgoing(self, count: int, max_records: int, site: str, skip: Collection[int] = (),
                      new: bool = True) -> list[outbox.Outgoing]:
        """``next_batches`` as the sync publishes them: encoded, archive records spliced from
        their stored bytes."""
        return self.write(lambda: outbox.next_outgoing(self.db, count, max_records, site, skip, new, self.epoch))

    def mark_published(self, seq: int) -> None:
        self.mark_published_many([seq])

    def mark_published_many(self, seqs: Collection[int] | Mapping[int, str]) -> None:
        """Batches acknowledged by JetStream (each by its own acknowledgement), in one transaction;
        given as seq -> the digest of what was sent, the digests are kept for ``apply_cloud``."""
        if seqs:
            now = time.time()
            digests = seqs if isinstance(seqs, Mapping) else dict.fromkeys(seqs)
            self.write(lambda: self.db.conn.executemany(
                "UPDATE batches SET state = ?, published_at = ?, digest = coalesce(?, digest) "  # noqa: S608
                f"WHERE seq = ? AND {outbox.state_clause(PUBLISHED)}",
                [(PUBLISHED, now, d, seq) for seq, d in digests.items()]))

    def unconfirmed_batches(self) -> int:
        """Batches published but not yet confirmed stored by the cloud (for backpressure)."""
        return self.db.execute("SELECT count(*) FROM batches WHERE state = ?", [PUBLISHED]).fetchone()[0]

    def apply_cloud(self, state: watermark.Stored) -> tuple[int, int]:
        """Apply the cloud's stored watermark: returns (batches confirmed stored, batches renumbered).

        A batch is confirmed only when the cloud lists this buffer's epoch and the batch's digest
        under its seq (a batch built before the buffer had an epoch: when the contiguous stored
        seq reaches it, as before epochs). One the cloud cannot confirm under its seq - another
        batch is stored there, or the seq is below what the cloud lists - moves, with its rows,
        to new seqs above the cloud's highest one and goes out again (event
        ``batches_renumbered``). New batches are numbered above that highest seq too.
        """
        def do() -> tuple[int, int]:
            confirmed, moved = [], []
            for seq, epoch, digest in self.db.execute(
                    "SELECT seq, epoch, digest FROM batches WHERE state != ? ORDER BY seq", [STORED]).fetchall():
                if epoch is None:
                    if seq <= state.seq:
                        confirmed.append(seq)
                    continue
                verdict = state.verdict(seq, epoch, digest)
                if verdict == watermark.STORED:
                    confirmed.append(seq)
                elif verdict == watermark.OTHER:
                    moved.append(seq)
            self.db.conn.executemany(f"UPDATE batches SET state = ? WHERE seq = ? AND {outbox.state_clause(STORED)}",  # noqa: S608
                                     [(STORED, s) for s in confirmed])
            if state.top > int(outbox.get_meta(self.db, "seq_floor") or 0):
                outbox.set_meta(self.db, "seq_floor", str(state.top))
            if moved:
                moves = outbox.renumber(self.db, moved, outbox.next_seq(self.db))
                self.add_event("batches_renumbered", count=len(moves), cloud_top_seq=state.top,
                               first_old_seq=moves[0][0], last_old_seq=moves[-1][0], first_new_seq=moves[0][1],
                               last_new_seq=moves[-1][1], reason="the cloud holds other batches under these seqs "
                                                                 "or cannot list them")
            return len(confirmed), len(moved)
        return self.write(do)

    def mark_stored_upto(self, watermark: int) -> int:
        """Take every batch up to ``watermark`` as stored, whatever the cloud holds (a test's
        shortcut for a cloud that confirmed everything); returns how many it marked."""
        return self.write(lambda: self.db.execute(
            f"UPDATE batches SET state = ? WHERE seq <= ? AND {outbox.state_clause(STORED)}",  # noqa: S608
            [STORED, watermark]).rowcount)

    def requeue_unconfirmed(self, older_than_s: float) -> int:
        """Published batches the cloud has not confirmed in time go back to pending (same seq)."""
        return self.write(lambda: self.db.execute(  # TRANSITIONS (published, pending)
            "UPDATE batches SET state = ? WHERE state = ? AND published_at < ?",
            [PENDING, PUBLISHED, time.time() - older_than_s]).rowcount)

    def stats(self) -> dict[str, object]:
        counts = dict(self.db.execute("SELECT state, count(*) FROM batches GROUP BY state").fetchall())
        mark = outbox.archive_mark(self.db)
        unbatched, oldest = self.db.execute("SELECT coalesce(sum(nvals), 0), min(received_at) FROM records "
                                            "WHERE id > ?", [mark]).fetchone()
        # unsynced: the unbatched records and those in the ranges of batches not confirmed stored
        in_flight, oldest_sent = self.db.execute(
            "SELECT coalesce(sum(r.nvals), 0), min(r.received_at) FROM batches b JOIN records r "
            "ON r.id BETWEEN b.first_row AND b.last_row WHERE b.content = 'archive' AND b.state != ?",
            [STORED]).fetchone()
        oldest = min((t for t in (oldest, oldest_sent) if t is not None), default=None)
        values = self.db.execute("SELECT coalesce(sum(nvals), 0) FROM records").fetchone()[0]
        out: dict[str, object] = {
            "values": values, "unbatched_values": unbatched, "unsynced_values": unbatched + in_flight,
            "batches": json.dumps(counts, sort_keys=True), "oldest_unsynced_received_at": oldest,
            "radio_packets": self.db["radio"].count, "rejects": self.db["rejects"].count}
        for table in ("events", "lost", "radio", "results"):
            out[f"unsynced_{table}"] = self.db.execute(
                f"SELECT count(*) FROM {table} t LEFT JOIN batches b ON b.seq = t.batch "  # noqa: S608
                "WHERE t.batch IS NULL OR b.state != ?", [STORED]).fetchone()[0]
        return out
