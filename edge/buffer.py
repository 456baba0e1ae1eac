"""The durable edge buffer: archive values, LoRa radio packets and rejected frames in SQLite
(WAL, synchronous=FULL) through sqlite-utils, with an outbox of numbered batches.

A value is keyed by (meter, channel, kind, parameter, period start); a repeat of the same
key is ignored. Rows join a batch when it is built (state ``pending``), the batch becomes
``published`` on the JetStream acknowledgement and ``stored`` when the cloud's watermark
reaches it; only stored data may ever be evicted. A pending or published batch is re-sent
with the same sequence number, so the broker and ClickHouse drop repeats.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch

PENDING, PUBLISHED, STORED = "pending", "published", "stored"


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
            self.db["archive"].create(
                {"meter": str, "channel": int, "kind": str, "parameter": str, "period_start": int, "nature": str,
                 "value": float, "quality": int, "version": int, "received_at": float, "clock_offset_s": float,
                 "batch": int},
                pk=("meter", "channel", "kind", "parameter", "period_start"), not_null={"value"})
            self.db["archive"].create_index(["batch"])
        if "batches" not in self.db.table_names():
            self.db["batches"].create({"seq": int, "state": str, "records": int, "created_at": float,
                                       "published_at": float}, pk="seq")
            self.db["batches"].create_index(["state"])
        if "cursors" not in self.db.table_names():
            self.db["cursors"].create({"meter": str, "kind": str, "last_period": int}, pk=("meter", "kind"))
        if "radio" not in self.db.table_names():
            self.db["radio"].create({"id": int, "received_at": float, "dev_eui": str, "f_cnt": int, "f_port": int,
                                     "rssi": int, "snr": float, "gateway": str, "frequency": int, "payload": bytes,
                                     "direction": str, "error": str}, pk="id")
        if "rejects" not in self.db.table_names():
            self.db["rejects"].create({"id": int, "received_at": float, "source": str, "reason": str,
                                       "payload": bytes}, pk="id")

    def close(self) -> None:
        self.db.conn.close()

    # --- acquisition -----------------------------------------------------------------
    def store(self, records: Iterable[ArchiveRecord], clock_offset_s: float = 0.0,
              cursor: tuple[str, ArchiveKind, int] | None = None) -> int:
        """Store records (one row per parameter) and optionally advance a poll cursor, atomically.
        Returns how many new values were stored; repeats of a stored key are ignored."""
        rows = [{"meter": r.meter, "channel": r.channel, "kind": r.kind.value, "parameter": p,
                 "period_start": r.period_start, "nature": r.nature.value, "value": v, "quality": r.quality,
                 "version": r.version, "received_at": r.received_at, "clock_offset_s": clock_offset_s,
                 "batch": None}
                for r in records for p, v in r.values.items()]
        with self.db.conn:
            before = self.db.conn.total_changes
            if rows:
                self.db["archive"].insert_all(rows, ignore=True)
            added = self.db.conn.total_changes - before
            if cursor is not None:
                meter, kind, period = cursor
                self.db["cursors"].upsert({"meter": meter, "kind": kind.value, "last_period": period},
                                          pk=("meter", "kind"))
        return added

    def cursor(self, meter: str, kind: ArchiveKind) -> int | None:
        row = self.db.execute("SELECT last_period FROM cursors WHERE meter = ? AND kind = ?",
                              [meter, kind.value]).fetchone()
        return row[0] if row else None

    def add_radio(self, packet: RadioPacket) -> None:
        with self.db.conn:
            self.db["radio"].insert({k: getattr(packet, k) for k in RadioPacket.__slots__})

    def reject(self, source: str, reason: str, payload: bytes) -> None:
        """Keep a frame that did not decode, with the reason, for diagnosis and the packet log."""
        with self.db.conn:
            self.db["rejects"].insert({"received_at": time.time(), "source": source, "reason": reason,
                                       "payload": payload})

    # --- outbox ----------------------------------------------------------------------
    def next_batch(self, max_records: int, site: str) -> Batch | None:
        """The oldest batch not yet published, else a new one from unbatched rows, else None."""
        with self.db.conn:
            row = self.db.execute("SELECT seq, created_at FROM batches WHERE state = ? ORDER BY seq LIMIT 1",
                                  [PENDING]).fetchone()
            if row is None:
                keys = self.db.execute(
                    "SELECT DISTINCT meter, channel, kind, period_start FROM archive WHERE batch IS NULL "
                    "ORDER BY period_start, meter, channel LIMIT ?", [max_records]).fetchall()
                if not keys:
                    return None
                seq = (self.db.execute("SELECT max(seq) FROM batches").fetchone()[0] or 0) + 1
                created = time.time()
                self.db.conn.executemany(
                    "UPDATE archive SET batch = ? WHERE meter = ? AND channel = ? AND kind = ? AND period_start = ? "
                    "AND batch IS NULL", [(seq, *k) for k in keys])
                self.db["batches"].insert({"seq": seq, "state": PENDING, "records": len(keys),
                                           "created_at": created, "published_at": None})
                row = (seq, created)
        return self._batch(site, row[0], row[1])

    def _batch(self, site: str, seq: int, created_at: float) -> Batch:
        grouped: dict[tuple, dict] = defaultdict(dict)
        meta: dict[tuple, tuple] = {}
        for meter, channel, kind, start, nature, parameter, value, quality, version, received in self.db.execute(
                "SELECT meter, channel, kind, period_start, nature, parameter, value, quality, version, received_at "
                "FROM archive WHERE batch = ? ORDER BY period_start, meter, channel, parameter", [seq]):
            key = (meter, channel, kind, start)
            grouped[key][parameter] = value
            meta[key] = (nature, quality, version, received)
        records = tuple(
            ArchiveRecord(meter=k[0], channel=k[1], kind=ArchiveKind(k[2]), nature=Nature(meta[k][0]),
                          period_start=k[3], values=values, quality=meta[k][1], version=meta[k][2],
                          received_at=meta[k][3])
            for k, values in grouped.items())
        return Batch(site=site, seq=seq, records=records, created_at=created_at)

    def mark_published(self, seq: int) -> None:
        with self.db.conn:
            self.db.execute("UPDATE batches SET state = ?, published_at = ? WHERE seq = ? AND state = ?",
                            [PUBLISHED, time.time(), seq, PENDING])

    def mark_stored_upto(self, watermark: int) -> int:
        """Apply the cloud's stored watermark; returns how many batches it confirmed."""
        with self.db.conn:
            cur = self.db.execute("UPDATE batches SET state = ? WHERE seq <= ? AND state != ?",
                                  [STORED, watermark, STORED])
            return cur.rowcount

    def requeue_unconfirmed(self, older_than_s: float) -> int:
        """Published batches the cloud has not confirmed in time go back to pending (same seq)."""
        with self.db.conn:
            cur = self.db.execute("UPDATE batches SET state = ? WHERE state = ? AND published_at < ?",
                                  [PENDING, PUBLISHED, time.time() - older_than_s])
            return cur.rowcount

    def stats(self) -> dict[str, object]:
        counts = dict(self.db.execute("SELECT state, count(*) FROM batches GROUP BY state").fetchall())
        unbatched = self.db.execute("SELECT count(*) FROM archive WHERE batch IS NULL").fetchone()[0]
        oldest = self.db.execute(
            "SELECT min(a.received_at) FROM archive a LEFT JOIN batches b ON b.seq = a.batch "
            "WHERE a.batch IS NULL OR b.state != ?", [STORED]).fetchone()[0]
        return {"values": self.db["archive"].count, "unbatched_values": unbatched,
                "batches": json.dumps(counts, sort_keys=True), "oldest_unsynced_received_at": oldest,
                "radio_packets": self.db["radio"].count, "rejects": self.db["rejects"].count}
