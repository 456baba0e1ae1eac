"""The buffer's versioned schema steps (``PRAGMA user_version``), applied by edge/buffer.py in
one transaction when it opens a file of an older version.

Version 1 is every buffer made before schema versions existed (edge/buffer.py creates or
completes its tables). Version 2 keeps archive data as one row per *record* in ``records``, in
arrival order (``id``, never reused): its values as JSON (``vals``, for reading) and the record
exactly as it travels in a batch (``wire``, protocol.wire.pack_record), so building a batch is a
sequential read of a range of ids and one ``batches`` row (``first_row``..``last_row``); nothing
is updated per value. A repeat of a stored key (meter, channel, kind, period start) is ignored;
parameters a stored record lacks get a row of their own (``part`` 1, 2 ...). The view
``archive`` shows one row per value, as version 1 stored them, with the batch each belongs to.
Version 3 keeps one time base: the periods of ``gaps``, ``lost`` and ``cursors`` and the device
times of ``lora_clock`` become UTC epoch seconds (they were the device's local clock, "device
seconds"), converted with the site's time zone; the archive had UTC period starts already.
"""

from __future__ import annotations

import json
import sqlite3
from itertools import groupby
from zoneinfo import ZoneInfo

from protocol.periods import device_to_utc
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, pack_record

SCHEMA_VERSION = 3

RECORDS = """CREATE TABLE records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter TEXT NOT NULL, channel INTEGER NOT NULL, kind TEXT NOT NULL, period_start INTEGER NOT NULL,
    part INTEGER NOT NULL DEFAULT 0, nature TEXT NOT NULL, vals TEXT NOT NULL, nvals INTEGER NOT NULL,
    quality INTEGER NOT NULL, version INTEGER NOT NULL, received_at REAL NOT NULL,
    clock_offset_s REAL NOT NULL, wire BLOB NOT NULL)"""
RECORD_KEY = "CREATE UNIQUE INDEX idx_records_key ON records (meter, channel, kind, period_start, part)"
# one row per value, as version 1 kept them: for diagnosis, tests and the odd lookup
ARCHIVE_VIEW = """CREATE VIEW archive AS
    SELECT r.meter, r.channel, r.kind, j.key AS parameter, r.period_start, r.nature, j.value AS value, r.quality,
           r.version, r.received_at, r.clock_offset_s, r.id AS record,
           (SELECT CASE WHEN r.id <= b.last_row THEN b.seq END FROM batches b
            WHERE b.content = 'archive' AND b.first_row <= r.id ORDER BY b.first_row DESC LIMIT 1) AS batch
    FROM records r, json_each(r.vals) j"""


def migrate(conn: sqlite3.Connection, version: int, tz: ZoneInfo) -> None:
    """Apply the steps after ``version``, inside the caller's transaction; ``tz`` is the site's
    time zone (the devices' local clocks)."""
    if version < 2:
        _records(conn)
    if version < 3:
        _utc_periods(conn, tz)


def _records(conn: sqlite3.Connection) -> None:
    """Version 2: archive values -> one row per record; a batch of values -> a range of ids."""
    have = {r[0]: r[1] for r in conn.execute("SELECT name, type FROM sqlite_master WHERE name IN ('archive', "
                                             "'records')")}
    if "records" in have:
        return
    conn.execute(RECORDS)
    conn.execute(RECORD_KEY)
    for column in ("first_row", "last_row"):
        conn.execute(f"ALTER TABLE batches ADD COLUMN {column} INTEGER")
    conn.execute("CREATE INDEX idx_batches_rows ON batches (content, first_row)")
    if have.get("archive") == "table":
        _move_values(conn)
        conn.execute("DROP TABLE archive")
    conn.execute(ARCHIVE_VIEW)


def _move_values(conn: sqlite3.Connection) -> None:
    """Group a version 1 buffer's values into records, batch by batch (each batch's records get
    consecutive ids, the unbatched ones come last), and give every archive batch its range."""
    rows = conn.execute(
        "SELECT batch, meter, channel, kind, period_start, parameter, value, nature, quality, version, received_at, "
        "clock_offset_s FROM archive ORDER BY batch IS NULL, batch, period_start, meter, channel, kind, parameter")
    parts: dict[tuple, int] = {}
    ranges: dict[int, list[int]] = {}
    for (batch, meter, channel, kind, start), group in groupby(rows, lambda r: r[:5]):
        values = list(group)
        key = (meter, channel, kind, start)
        part = parts[key] = parts.get(key, -1) + 1
        first = values[0]
        record = ArchiveRecord(meter, int(channel), ArchiveKind(kind), Nature(first[7] or "integral"), int(start),
                               {v[5]: float(v[6]) for v in values}, int(first[8] or 0), int(first[9] or 0),
                               float(first[10] or 0.0))
        cur = conn.execute(
            "INSERT INTO records (meter, channel, kind, period_start, part, nature, vals, nvals, quality, version, "
            "received_at, clock_offset_s, wire) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [meter, channel, kind, start, part, record.nature.value, json.dumps(record.values), len(record.values),
             record.quality, record.version, record.received_at, float(first[11] or 0.0), pack_record(record)])
        if batch is not None:
            ranges.setdefault(batch, []).append(cur.lastrowid or 0)
    conn.executemany("UPDATE batches SET first_row = ?, last_row = ? WHERE seq = ?",
                     [(min(ids), max(ids), seq) for seq, ids in ranges.items()])
    # archive batches whose values were all evicted: an empty range, before every id
    conn.execute("UPDATE batches SET first_row = 0, last_row = -1 WHERE content = 'archive' AND first_row IS NULL")
    mark = max((max(ids) for ids in ranges.values()), default=0)
    conn.execute("INSERT INTO meta (key, value) VALUES ('archive_mark', ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [str(mark)])


# table -> (its device-time column, whether that column is part of the primary key)
_DEVICE_TIMES = {"gaps": ("period", True), "lost": ("period", True), "cursors": ("last_period", False),
                 "lora_clock": ("device_time", False)}


def _utc_periods(conn: sqlite3.Connection, tz: ZoneInfo) -> None:
    """Version 3: device seconds -> UTC epoch seconds in gaps, lost, cursors and lora_clock.

    A key column cannot be rewritten in place (a converted value may equal another row's value not
    yet converted: in Moscow local 03:00 becomes the UTC of local 00:00), so its values are first
    moved out of the way (-1 - value, all negative) and then mapped. Two local values with one UTC
    value (the hour a DST change skips) leave one row; the other is dropped."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, (column, keyed) in _DEVICE_TIMES.items():
        if table not in have:
            continue
        values = [r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM {table} "  # noqa: S608
                                             f"WHERE {column} IS NOT NULL")]
        if not values:
            continue
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS utc_map (device INTEGER PRIMARY KEY, utc INTEGER NOT NULL)")
        conn.execute("DELETE FROM utc_map")
        conn.executemany("INSERT INTO utc_map (device, utc) VALUES (?, ?)",
                         [(int(v), device_to_utc(int(v), tz)) for v in values])
        if keyed:
            conn.execute(f"UPDATE {table} SET {column} = -1 - {column}")  # noqa: S608
            conn.execute(f"UPDATE OR IGNORE {table} SET {column} = (SELECT utc FROM utc_map "  # noqa: S608
                         f"WHERE device = -1 - {column}) WHERE {column} < 0")
            conn.execute(f"DELETE FROM {table} WHERE {column} < 0")  # noqa: S608
        else:
            conn.execute(f"UPDATE {table} SET {column} = (SELECT utc FROM utc_map "  # noqa: S608
                         f"WHERE device = {column}) WHERE {column} IS NOT NULL")
    conn.execute("DROP TABLE IF EXISTS temp.utc_map")
