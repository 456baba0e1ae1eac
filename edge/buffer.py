"""The durable edge buffer: archive values, LoRa radio packets and rejected frames in SQLite
(WAL, synchronous=FULL) through sqlite-utils, with an outbox of numbered batches.

A value is keyed by (meter, channel, kind, parameter, period start); a repeat of the same
key is ignored. Rows join a batch when it is built (state ``pending``), the batch becomes
``published`` on the JetStream acknowledgement and ``stored`` when the cloud's watermark
reaches it. A pending or published batch is re-sent with the same sequence number, so the
broker and ClickHouse drop repeats. Eviction (edge/budget.py) takes stored data first and
unsynced data only when the disk budget is full, and every such loss is an ``events`` row.
Gaps and lost periods of polled meters live in ``gaps`` and ``lost`` (edge/gaps.py).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch

PENDING, PUBLISHED, STORED = "pending", "published", "stored"
_KINDS = {k.value: k for k in ArchiveKind}
_NATURES = {n.value: n for n in Nature}


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


class Buffer:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def _migrate(self) -> None:
        if "archive" not in self.db.table_names():
            self.db.table("archive").create(
                {"meter": str, "channel": int, "kind": str, "parameter": str, "period_start": int, "nature": str,
                 "value": float, "quality": int, "version": int, "received_at": float, "clock_offset_s": float,
                 "batch": int},
                pk=("meter", "channel", "kind", "parameter", "period_start"), not_null={"value"})
            self.db.table("archive").create_index(["batch"])
        # the outbox walks unbatched values in period order (edge/buffer.py next_batch)
        self.db.execute("CREATE INDEX IF NOT EXISTS idx_archive_outbox "
                        "ON archive (batch, period_start, meter, channel, kind)")
        if "batches" not in self.db.table_names():
            self.db.table("batches").create({"seq": int, "state": str, "records": int, "created_at": float,
                                       "published_at": float}, pk="seq")
            self.db.table("batches").create_index(["state"])
        if "cursors" not in self.db.table_names():
            self.db.table("cursors").create({"meter": str, "kind": str, "last_period": int}, pk=("meter", "kind"))
        if "radio" not in self.db.table_names():
            self.db.table("radio").create({"id": int, "received_at": float, "dev_eui": str, "f_cnt": int, "f_port": int,
                                     "rssi": int, "snr": float, "gateway": str, "frequency": int, "payload": bytes,
                                     "direction": str, "error": str}, pk="id")
        if "rejects" not in self.db.table_names():
            self.db.table("rejects").create({"id": int, "received_at": float, "source": str, "reason": str,
                                       "payload": bytes}, pk="id")
        if "events" not in self.db.table_names():
            self.db.table("events").create({"id": int, "at": float, "kind": str, "meter": str, "count": int,
                                      "detail": str}, pk="id")
        if "gaps" not in self.db.table_names():  # periods a polled meter must have and we have not read yet
            self.db.table("gaps").create({"meter": str, "kind": str, "period": int, "attempts": int,
                                          "next_try_at": float, "last_error": str}, pk=("meter", "kind", "period"))
        if "lost" not in self.db.table_names():  # periods the device cannot give us any more: never filled in
            self.db.table("lost").create({"meter": str, "kind": str, "period": int, "reason": str, "at": float},
                                   pk=("meter", "kind", "period"))

    def close(self) -> None:
        self.db.conn.close()

    @contextlib.contextmanager
    def tx(self) -> Iterator[None]:
        """One SQLite transaction (the connection is in autocommit mode, so ``with conn:`` alone
        would commit every statement on its own). Joins the caller's transaction when nested."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- acquisition -----------------------------------------------------------------
    def store(self, records: Iterable[ArchiveRecord], clock_offset_s: float = 0.0,
              cursor: tuple[str, ArchiveKind, int] | None = None) -> int:
        """Store records (one row per parameter) and optionally advance a poll cursor, atomically.
        Returns how many new values were stored; repeats of a stored key are ignored."""
        with self.tx():
            added = self.insert_values(records, clock_offset_s)
            if cursor is not None:
                meter, kind, period = cursor
                self.db.table("cursors").upsert({"meter": meter, "kind": kind.value, "last_period": period},
                                          pk=("meter", "kind"))
        return added

    def insert_values(self, records: Iterable[ArchiveRecord], clock_offset_s: float = 0.0) -> int:
        """Insert records inside the caller's transaction; returns how many new values were stored."""
        rows = [(r.meter, r.channel, r.kind.value, p, r.period_start, r.nature.value, v, r.quality, r.version,
                 r.received_at, clock_offset_s)
                for r in records for p, v in r.values.items()]
        before = self.db.conn.total_changes
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO archive (meter, channel, kind, parameter, period_start, nature, value, quality, "
            "version, received_at, clock_offset_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return self.db.conn.total_changes - before

    def cursor(self, meter: str, kind: ArchiveKind) -> int | None:
        row = self.db.execute("SELECT last_period FROM cursors WHERE meter = ? AND kind = ?",
                              [meter, kind.value]).fetchone()
        return row[0] if row else None

    def add_radio(self, packet: RadioPacket) -> None:
        with self.tx():
            self.db.table("radio").insert({k: getattr(packet, k) for k in RadioPacket.__slots__})

    def reject(self, source: str, reason: str, payload: bytes) -> None:
        """Keep a frame that did not decode, with the reason, for diagnosis and the packet log."""
        with self.tx():
            self.db.table("rejects").insert({"received_at": time.time(), "source": source, "reason": reason,
                                       "payload": payload})

    def event(self, kind: str, meter: str = "", count: int = 0, **detail: object) -> None:
        """Record something the operator and the cloud must know about (a loss, a clock correction ...)."""
        with self.tx():
            self.add_event(kind, meter, count, **detail)

    def add_event(self, kind: str, meter: str = "", count: int = 0, **detail: object) -> None:
        """``event`` inside the caller's transaction."""
        self.db.table("events").insert({"at": time.time(), "kind": kind, "meter": meter, "count": count,
                                  "detail": json.dumps(detail, sort_keys=True, default=str)})

    def events(self, limit: int = 20, kind: str | None = None) -> list[dict]:
        where, args = ("WHERE kind = ?", [kind]) if kind else ("", [])
        rows = self.db.execute(f"SELECT id, at, kind, meter, count, detail FROM events {where} "  # noqa: S608
                               "ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [{"id": i, "at": at, "kind": k, "meter": m, "count": c, "detail": json.loads(d)}
                for i, at, k, m, c, d in rows]

    def data_bytes(self) -> int:
        """Bytes of the database's pages in use (free pages are reused before the file grows)."""
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self.db.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    # --- outbox ----------------------------------------------------------------------
    def next_batch(self, max_records: int, site: str) -> Batch | None:
        """The oldest batch not yet published, else a new one from unbatched rows, else None."""
        with self.tx():
            row = self.db.execute("SELECT seq, created_at FROM batches WHERE state = ? ORDER BY seq LIMIT 1",
                                  [PENDING]).fetchone()
            if row is None:
                # keys in (period, meter, channel, kind) order through idx_archive_outbox; every value of a
                # key joins the same batch: the range update below takes all rows up to the last key
                keys = self.db.execute(
                    "SELECT DISTINCT period_start, meter, channel, kind FROM archive WHERE batch IS NULL "
                    "ORDER BY period_start, meter, channel, kind LIMIT ?", [max_records]).fetchall()
                if not keys:
                    return None
                seq = (self.db.execute("SELECT max(seq) FROM batches").fetchone()[0] or 0) + 1
                created = time.time()
                self.db.execute("UPDATE archive SET batch = ? WHERE batch IS NULL "
                                "AND (period_start, meter, channel, kind) <= (?, ?, ?, ?)", [seq, *keys[-1]])
                self.db.table("batches").insert({"seq": seq, "state": PENDING, "records": len(keys),
                                           "created_at": created, "published_at": None})
                row = (seq, created)
        return self._batch(site, row[0], row[1])

    def _batch(self, site: str, seq: int, created_at: float) -> Batch:
        grouped: dict[tuple, dict] = {}
        meta: dict[tuple, tuple] = {}
        for meter, channel, kind, start, nature, parameter, value, quality, version, received in self.db.execute(
                "SELECT meter, channel, kind, period_start, nature, parameter, value, quality, version, received_at "
                "FROM archive WHERE batch = ? ORDER BY period_start, meter, channel, kind, parameter", [seq]):
            key = (meter, channel, kind, start)
            values = grouped.get(key)
            if values is None:
                grouped[key] = values = {}
                meta[key] = (_KINDS[kind], _NATURES[nature], quality, version, received)
            values[parameter] = value
        records = tuple(
            ArchiveRecord(meter=k[0], channel=k[1], kind=m[0], nature=m[1], period_start=k[3], values=values,
                          quality=m[2], version=m[3], received_at=m[4])
            for (k, values), m in zip(grouped.items(), meta.values(), strict=True))
        return Batch(site=site, seq=seq, records=records, created_at=created_at)

    def mark_published(self, seq: int) -> None:
        with self.tx():
            self.db.execute("UPDATE batches SET state = ?, published_at = ? WHERE seq = ? AND state = ?",
                            [PUBLISHED, time.time(), seq, PENDING])

    def adopt_watermark(self, watermark: int) -> int:
        """Guard against a buffer younger than the cloud's history (a replaced disk, a new
        gateway for an existing site): when the cloud's stored watermark is above every local
        batch seq, the local unconfirmed batches are renumbered above it, so that they are
        neither taken as stored nor deduplicated against old batches. Returns how many moved."""
        with self.tx():
            local = self.db.execute("SELECT max(seq) FROM batches").fetchone()[0] or 0
            if local >= watermark:
                return 0  # the normal case: the watermark only covers batches this buffer made
            old = [r[0] for r in self.db.execute("SELECT seq FROM batches WHERE state != ? ORDER BY seq", [STORED])]
            for i, seq in enumerate(old, start=1):
                self.db.execute("UPDATE archive SET batch = ? WHERE batch = ?", [watermark + i, seq])
                self.db.execute("UPDATE batches SET seq = ?, state = ? WHERE seq = ?", [watermark + i, PENDING, seq])
            # the sequence continues above the cloud's watermark even with nothing to renumber
            self.db.table("batches").insert({"seq": watermark, "state": STORED, "records": 0, "created_at": time.time(),
                                       "published_at": None}, ignore=True)
            self.add_event("batches_renumbered", count=len(old), watermark=watermark, local_max_seq=local)
        return len(old)

    def mark_stored_upto(self, watermark: int) -> int:
        """Apply the cloud's stored watermark; returns how many batches it confirmed."""
        with self.tx():
            cur = self.db.execute("UPDATE batches SET state = ? WHERE seq <= ? AND state != ?",
                                  [STORED, watermark, STORED])
            return cur.rowcount

    def requeue_unconfirmed(self, older_than_s: float) -> int:
        """Published batches the cloud has not confirmed in time go back to pending (same seq)."""
        with self.tx():
            cur = self.db.execute("UPDATE batches SET state = ? WHERE state = ? AND published_at < ?",
                                  [PENDING, PUBLISHED, time.time() - older_than_s])
            return cur.rowcount

    def stats(self) -> dict[str, object]:
        counts = dict(self.db.execute("SELECT state, count(*) FROM batches GROUP BY state").fetchall())
        unbatched = self.db.execute("SELECT count(*) FROM archive WHERE batch IS NULL").fetchone()[0]
        oldest, unsynced = self.db.execute(
            "SELECT min(a.received_at), count(*) FROM archive a LEFT JOIN batches b ON b.seq = a.batch "
            "WHERE a.batch IS NULL OR b.state != ?", [STORED]).fetchone()
        return {"values": self.db["archive"].count, "unbatched_values": unbatched, "unsynced_values": unsynced,
                "batches": json.dumps(counts, sort_keys=True), "oldest_unsynced_received_at": oldest,
                "radio_packets": self.db["radio"].count, "rejects": self.db["rejects"].count}
