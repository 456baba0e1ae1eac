"""The edge outbox: builds the numbered wire batches from the buffer's tables (edge/buffer.py).

Every batch carries one kind of content, recorded in ``batches.content``: command results
(``result``, small and urgent, built first), archive values (``archive``), lost periods with
events (``event``), LoRa radio packets (``radio``). A row joins a batch by its ``batch``
column when the batch is built; a pending batch is rebuilt from its rows with the same seq, so
a re-send carries the same content. All contents share one sequence per site, so the cloud's
stored watermark covers every table. A batch carries the epoch of the buffer that built it
(``batches.epoch``; NULL for a batch built before the buffer had one, sent as before epochs)
and, once JetStream acknowledged it, the digest of what was sent (``batches.digest``). New
seqs start above both the highest local seq and the highest seq the cloud has shown
(``meta.seq_floor``). Functions here run inside the buffer's transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from itertools import groupby
from operator import itemgetter
from typing import Any

from edge.sqlite_lean import sqlite_utils
from protocol.periods import from_device_seconds, local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, CommandResult, DeviceEvent, LostPeriod, RadioRecord

PENDING, PUBLISHED, STORED = "pending", "published", "stored"
ARCHIVE, EVENT, RADIO, RESULT = "archive", "event", "radio", "result"
CONTENTS = (RESULT, ARCHIVE, EVENT, RADIO)  # the order new batches are built in
TABLES = {ARCHIVE: ("archive",), EVENT: ("lost", "events"), RADIO: ("radio",), RESULT: ("results",)}
# edge events an operator must look at; the others are "info" (a ``severity=`` keyword overrides)
WARNING_KINDS = frozenset({"periods_lost", "period_lost", "unsynced_evicted", "disk_budget", "disk_full",
                           "clock_set", "clock_corrected", "values_evicted", "batches_renumbered"})
_KINDS = {k.value: k for k in ArchiveKind}
_NATURES = {n.value: n for n in Nature}
_ARCHIVE_COLUMNS = "period_start, meter, channel, kind, parameter, value, nature, quality, version, received_at"
_KEY, _VALUE = itemgetter(0, 1, 2, 3), itemgetter(4, 5)
_ARCHIVE_ORDER = "ORDER BY period_start, meter, channel, kind, rowid"  # idx_archive_unbatched has this order


def next_batches(db: sqlite_utils.Database, count: int, max_records: int, site: str, skip: Collection[int],
                 new: bool, time_zone: str, epoch: str) -> list[Batch]:
    if max_records < 1:
        raise ValueError(f"batch_max_records must be at least 1, got {max_records}")
    out: list[Batch] = []
    skipped = sorted(skip)
    marks = ",".join("?" * len(skipped))
    for seq, created, content, batch_epoch in db.execute(
            f"SELECT seq, created_at, content, epoch FROM batches WHERE state = ? AND seq NOT IN ({marks}) "  # noqa: S608
            "ORDER BY seq LIMIT ?", [PENDING, *skipped, count]).fetchall():
        out.append(replace(_rebuild(db, site, seq, created, content, time_zone), epoch=batch_epoch or ""))
    if not new:
        return out
    seq = next_seq(db)
    for content in CONTENTS:
        while len(out) < count:
            created = time.time()
            batch = _BUILD[content](db, site, seq, created, max_records, time_zone)
            if batch is None:
                break
            items = len(batch.records) + len(batch.events) + len(batch.lost) + len(batch.radio) + len(batch.results)
            db.execute("INSERT INTO batches (seq, state, records, created_at, published_at, content, epoch) "
                       "VALUES (?, ?, ?, ?, NULL, ?, ?)", [seq, PENDING, items, created, content, epoch])
            out.append(replace(batch, epoch=epoch))
            seq += 1
    return out


def next_seq(db: sqlite_utils.Database) -> int:
    """The seq of the next new batch: above every local one and every one the cloud has shown."""
    local = db.execute("SELECT max(seq) FROM batches").fetchone()[0] or 0
    return max(local, int(get_meta(db, "seq_floor") or 0)) + 1


def renumber(db: sqlite_utils.Database, seqs: Sequence[int], first: int) -> list[tuple[int, int]]:
    """Move the batches ``seqs`` (not stored), with their rows of every table, to ``first``,
    ``first + 1`` … in their order, as pending: they are sent again under their new seqs, with the
    same content. Returns (old, new) pairs."""
    moves = list(zip(sorted(seqs), range(first, first + len(seqs)), strict=True))
    for old, new in moves:
        for table in ("archive", "events", "lost", "radio", "results"):
            db.execute(f"UPDATE {table} SET batch = ? WHERE batch = ?", [new, old])  # noqa: S608
        db.execute("UPDATE batches SET seq = ?, state = ?, published_at = NULL WHERE seq = ? AND state != ?",
                   [new, PENDING, old, STORED])
    return moves


def get_meta(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
               [key, value])


def _rebuild(db: sqlite_utils.Database, site: str, seq: int, created: float, content: str, time_zone: str) -> Batch:
    if content == ARCHIVE:
        records, _ = _archive_records(db.execute(
            f"SELECT {_ARCHIVE_COLUMNS} FROM archive WHERE batch = ? {_ARCHIVE_ORDER}", [seq]), None)  # noqa: S608
        return Batch(site=site, seq=seq, records=records, created_at=created)
    if content == EVENT:
        lost = _lost(db.execute("SELECT meter, kind, period, reason, at FROM lost WHERE batch = ? ORDER BY at, rowid",
                                [seq]), time_zone)
        events = _events(db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE batch = ? ORDER BY id",  # noqa: S608
                                    [seq]))
        return Batch(site=site, seq=seq, records=(), created_at=created, events=events, lost=lost)
    if content == RADIO:
        radio = _radio(db.execute(f"SELECT {_RADIO_COLUMNS} FROM radio WHERE batch = ? ORDER BY id", [seq]))  # noqa: S608
        return Batch(site=site, seq=seq, records=(), created_at=created, radio=radio)
    if content == RESULT:
        results = _results(db.execute(f"SELECT {_RESULT_COLUMNS} FROM results WHERE batch = ? ORDER BY id",  # noqa: S608
                                      [seq]))
        return Batch(site=site, seq=seq, records=(), created_at=created, results=results)
    raise ValueError(f"batches.content: unknown content {content!r} of batch {seq}")


# --- archive values ----------------------------------------------------------------------
def _archive_records(rows: Any, limit: int | None) -> tuple[tuple[ArchiveRecord, ...], tuple | None]:
    """Group value rows (in key order) into records, at most ``limit``; returns them and the last key."""
    records: list[ArchiveRecord] = []
    key: tuple | None = None
    kinds, natures = _KINDS, _NATURES
    for key, group in groupby(rows, _KEY):
        if limit is not None and len(records) == limit:
            break
        first = next(group)
        values = {first[4]: first[5]}
        values.update(map(_VALUE, group))  # noqa: B031 (the rest of the group, once)
        records.append(ArchiveRecord(meter=key[1], channel=key[2], kind=kinds[key[3]], nature=natures[first[6]],
                                     period_start=key[0], values=values, quality=first[7], version=first[8],
                                     received_at=first[9]))
    rows.close()
    return tuple(records), (_record_key(records[-1]) if records else None)


def _record_key(r: ArchiveRecord) -> tuple:
    return (r.period_start, r.meter, r.channel, r.kind.value)


def _new_archive(db: sqlite_utils.Database, site: str, seq: int, created: float, limit: int,
                 _tz: str) -> Batch | None:
    # one walk of idx_archive_unbatched, stopped after ``limit`` keys; every value of a key joins the
    # same batch: the range update takes all unbatched rows up to the last key
    records, last = _archive_records(db.execute(
        f"SELECT {_ARCHIVE_COLUMNS} FROM archive WHERE batch IS NULL {_ARCHIVE_ORDER}"), limit)  # noqa: S608
    if last is None:
        return None
    db.execute("UPDATE archive SET batch = ? WHERE batch IS NULL AND (period_start, meter, channel, kind) "
               "<= (?, ?, ?, ?)", [seq, *last])
    return Batch(site=site, seq=seq, records=records, created_at=created)


# --- lost periods and events ---------------------------------------------------------------
_EVENT_COLUMNS = "id, meter, at, kind, severity, source, count, detail"


def severity_of(kind: str) -> str:
    return "warning" if kind in WARNING_KINDS else "info"


def _events(rows: Any) -> tuple[DeviceEvent, ...]:
    out = []
    for id_, meter, at, kind, severity, source, count, detail in rows:
        doc = json.loads(detail or "{}")
        if source != "device" and count:
            doc.setdefault("count", count)
        out.append(DeviceEvent(id=id_, meter=meter or "", at=float(at), code=kind,
                               severity=severity or severity_of(kind), source=source or "edge", detail=doc))
    return tuple(out)


def _lost(rows: Any, time_zone: str) -> tuple[LostPeriod, ...]:
    tz = zone(time_zone)
    return tuple(LostPeriod(meter=meter, kind=_KINDS[kind],
                            period_start=int(local_to_utc(from_device_seconds(period), tz).timestamp()),
                            reason=reason or "", reported_at=float(at or 0.0))
                 for meter, kind, period, reason, at in rows)


def _new_events(db: sqlite_utils.Database, site: str, seq: int, created: float, limit: int,
                time_zone: str) -> Batch | None:
    lost_rows = db.execute("SELECT rowid, meter, kind, period, reason, at FROM lost WHERE batch IS NULL "
                           "ORDER BY at, rowid LIMIT ?", [limit]).fetchall()
    event_rows = db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE batch IS NULL ORDER BY id "  # noqa: S608
                            "LIMIT ?", [limit - len(lost_rows)]).fetchall()
    if not lost_rows and not event_rows:
        return None
    if lost_rows:
        db.conn.executemany("UPDATE lost SET batch = ? WHERE rowid = ?", [(seq, r[0]) for r in lost_rows])
    if event_rows:
        db.execute("UPDATE events SET batch = ? WHERE batch IS NULL AND id <= ?", [seq, event_rows[-1][0]])
    return Batch(site=site, seq=seq, records=(), created_at=created, events=_events(event_rows),
                 lost=_lost((r[1:] for r in lost_rows), time_zone))


# --- radio packets and command results -----------------------------------------------------
_RADIO_COLUMNS = "id, received_at, dev_eui, direction, f_cnt, f_port, rssi, snr, gateway, frequency, payload, error"
_RESULT_COLUMNS = "id, command_id, state, at, detail"


def _radio(rows: Any) -> tuple[RadioRecord, ...]:
    return tuple(RadioRecord(id=id_, at=float(at), dev_eui=dev_eui or "?", direction=direction or "up",
                             f_cnt=f_cnt or 0, f_port=f_port or 0, rssi=rssi, snr=snr, gateway=gateway or "",
                             frequency=frequency or 0, payload=bytes(payload or b""), error=error or "")
                 for id_, at, dev_eui, direction, f_cnt, f_port, rssi, snr, gateway, frequency, payload, error
                 in rows)


def _results(rows: Any) -> tuple[CommandResult, ...]:
    return tuple(CommandResult(command_id=cid, state=state, at=float(at), detail=json.loads(detail or "{}"))
                 for _id, cid, state, at, detail in rows)


def _by_id(table: str, columns: str, make: Callable[[Any], tuple], field: str) -> Callable[..., Batch | None]:
    def build(db: sqlite_utils.Database, site: str, seq: int, created: float, limit: int, _tz: str) -> Batch | None:
        rows = db.execute(f"SELECT {columns} FROM {table} WHERE batch IS NULL ORDER BY id LIMIT ?",  # noqa: S608
                          [limit]).fetchall()
        if not rows:
            return None
        db.execute(f"UPDATE {table} SET batch = ? WHERE batch IS NULL AND id <= ?", [seq, rows[-1][0]])  # noqa: S608
        section: dict[str, Any] = {field: make(rows)}
        return Batch(site=site, seq=seq, records=(), created_at=created, **section)
    return build


_BUILD: dict[str, Callable[..., Batch | None]] = {
    ARCHIVE: _new_archive, EVENT: _new_events, RADIO: _by_id("radio", _RADIO_COLUMNS, _radio, "radio"),
    RESULT: _by_id("results", _RESULT_COLUMNS, _results, "results"),
}
