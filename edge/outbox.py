"""The edge outbox: builds the numbered wire batches from the buffer's tables (edge/buffer.py).

Every batch carries one kind of content, recorded in ``batches.content``: command results
(``result``, small and urgent, built first), archive records (``archive``), lost periods with
events (``event``), LoRa radio packets (``radio``). Archive records are an append-only log
(``records``, edge/buffer_schema.py): an archive batch is the range of record ids
``first_row``..``last_row`` after ``meta.archive_mark``, built by one sequential read that
splices each record's stored wire bytes, and one ``batches`` row; no record row is written. A
row of the other tables joins a batch by its ``batch`` column. A pending batch is rebuilt from
its range or rows with the same seq, so a re-send carries the same content. All contents share
one sequence per site, so the cloud's stored watermark covers every table. A batch carries the
epoch of the buffer that built it (``batches.epoch``; NULL for a batch built before the buffer
had one, sent as before epochs) and, once JetStream acknowledged it, the digest of what was sent
(``batches.digest``). New seqs start above both the highest local seq and the highest seq the
cloud has shown (``meta.seq_floor``). Functions here run inside the buffer's transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgpack

from edge.sqlite_lean import sqlite_utils
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import (
    ArchiveRecord,
    Batch,
    CommandResult,
    DeviceEvent,
    Encoded,
    LostPeriod,
    RadioRecord,
    encode,
    encode_packed,
    packed_array,
)

PENDING, PUBLISHED, STORED = "pending", "published", "stored"
# The life cycle of a batch, every allowed change of state and why; edge/buffer.py changes a
# batch's state only through ``from_states``, so a stored batch never moves again.
TRANSITIONS: dict[tuple[str, str], str] = {
    (PENDING, PUBLISHED): "JetStream acknowledged it; the digest of what was sent is kept",
    (PUBLISHED, PENDING): "the cloud did not confirm it in time: sent again under the same seq, or renumbered "
                          "because the cloud holds another batch under its seq",
    (PENDING, PENDING): "renumbered above the cloud's highest seq before it was published",
    (PENDING, STORED): "the cloud lists it (an earlier send of it was stored; its acknowledgement was lost)",
    (PUBLISHED, STORED): "the cloud lists it under its seq: this buffer's epoch and the digest sent",
}


def from_states(to: str) -> tuple[str, ...]:
    """The states a batch may move to ``to`` from (TRANSITIONS)."""
    sources = tuple(a for a, b in TRANSITIONS if b == to)
    if not sources:
        raise ValueError(f"no batch moves to state {to!r}; states: {PENDING}, {PUBLISHED}, {STORED}")
    return sources


def state_clause(to: str) -> str:
    """``state IN (...)``: the batches that may move to ``to``."""
    return "state IN (" + ", ".join(f"'{s}'" for s in from_states(to)) + ")"
ARCHIVE, EVENT, RADIO, RESULT = "archive", "event", "radio", "result"
CONTENTS = (RESULT, ARCHIVE, EVENT, RADIO)  # the order new batches are built in
TABLES = {ARCHIVE: ("archive",), EVENT: ("lost", "events"), RADIO: ("radio",), RESULT: ("results",)}
# edge events an operator must look at; the others are "info" (a ``severity=`` keyword overrides)
WARNING_KINDS = frozenset({"periods_lost", "period_lost", "unsynced_evicted", "disk_budget", "disk_full",
                           "clock_set", "clock_corrected", "values_evicted", "batches_renumbered"})
_KINDS = {k.value: k for k in ArchiveKind}
_NATURES = {n.value: n for n in Nature}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A batch ready to publish: its seq, its content kind and its bytes (protocol.wire.Encoded)."""

    seq: int
    content: str
    encoded: Encoded


def next_outgoing(db: sqlite_utils.Database, count: int, max_records: int, site: str, skip: Collection[int],
                  new: bool, epoch: str) -> list[Outgoing]:
    if max_records < 1:
        raise ValueError(f"batch_max_records must be at least 1, got {max_records}")
    out: list[Outgoing] = []
    skipped = sorted(skip)
    marks = ",".join("?" * len(skipped))
    for seq, created, content, batch_epoch, first, last in db.execute(
            "SELECT seq, created_at, content, epoch, first_row, last_row FROM batches "  # noqa: S608
            f"WHERE state = ? AND seq NOT IN ({marks}) ORDER BY seq LIMIT ?", [PENDING, *skipped, count]).fetchall():
        if content == ARCHIVE:
            out.append(_archive_range(db, site, seq, created, batch_epoch or "", first, last))
        else:
            batch = replace(_rebuild(db, site, seq, created, content), epoch=batch_epoch or "")
            out.append(Outgoing(seq, content, encode(batch)))
    if not new:
        return out
    seq = next_seq(db)
    for content in CONTENTS:
        while len(out) < count:
            created = time.time()
            made = (_new_archive(db, site, seq, created, max_records, epoch) if content == ARCHIVE
                    else _new_other(db, content, site, seq, created, max_records, epoch))
            if made is None:
                break
            out.append(made)
            seq += 1
    return out


def _new_other(db: sqlite_utils.Database, content: str, site: str, seq: int, created: float, limit: int,
               epoch: str) -> Outgoing | None:
    """A new batch of command results, events with lost periods, or radio packets."""
    batch = _BUILD[content](db, site, seq, created, limit)
    if batch is None:
        return None
    items = len(batch.events) + len(batch.lost) + len(batch.radio) + len(batch.results)
    db.execute("INSERT INTO batches (seq, state, records, created_at, published_at, content, epoch) "
               "VALUES (?, ?, ?, ?, NULL, ?, ?)", [seq, PENDING, items, created, content, epoch])
    return Outgoing(seq, content, encode(replace(batch, epoch=epoch)))


def next_seq(db: sqlite_utils.Database) -> int:
    """The seq of the next new batch: above every local one and every one the cloud has shown."""
    local = db.execute("SELECT max(seq) FROM batches").fetchone()[0] or 0
    return max(local, int(get_meta(db, "seq_floor") or 0)) + 1


def renumber(db: sqlite_utils.Database, seqs: Sequence[int], first: int) -> list[tuple[int, int]]:
    """Move the batches ``seqs`` (not stored), with their rows, to ``first``, ``first + 1`` … in
    their order, as pending: they are sent again under their new seqs, with the same content. An
    archive batch is a range of records: only its batches row moves."""
    moves = list(zip(sorted(seqs), range(first, first + len(seqs)), strict=True))
    for old, new in moves:
        for table in ("events", "lost", "radio", "results"):
            db.execute(f"UPDATE {table} SET batch = ? WHERE batch = ?", [new, old])  # noqa: S608
        db.execute(f"UPDATE batches SET seq = ?, state = ?, published_at = NULL WHERE seq = ? "  # noqa: S608
                   f"AND {state_clause(PENDING)}", [new, PENDING, old])
    return moves


def get_meta(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
               [key, value])


def archive_mark(db: sqlite_utils.Database) -> int:
    """The highest record id in a batch: records above it are not batched yet."""
    return int(get_meta(db, "archive_mark") or 0)


def _rebuild(db: sqlite_utils.Database, site: str, seq: int, created: float, content: str) -> Batch:
    if content == EVENT:
        lost = _lost(db.execute("SELECT meter, kind, period, reason, at FROM lost WHERE batch = ? ORDER BY at, rowid",
                                [seq]))
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


# --- archive records: a batch is a range of record ids -------------------------------------
def _archive_range(db: sqlite_utils.Database, site: str, seq: int, created: float, epoch: str, first: int,
                   last: int) -> Outgoing:
    """A pending archive batch again: the records of its range as they were stored (those evicted
    since are gone from it)."""
    wires = [w for (w,) in db.execute("SELECT wire FROM records WHERE id BETWEEN ? AND ? ORDER BY id",
                                      [first, last])]
    if epoch:
        return Outgoing(seq, ARCHIVE, encode_packed(site, seq, epoch, created, {"records": packed_array(wires)},
                                                    subjects.archive_subject(site)))
    # a batch built before the buffer had an epoch goes out as it was first sent (version 1)
    records = tuple(_unpack_record(w) for w in wires)
    return Outgoing(seq, ARCHIVE, encode(Batch(site=site, seq=seq, records=records, created_at=created)))


def _unpack_record(wire: bytes) -> ArchiveRecord:
    meter, channel, kind, nature, start, values, quality, version, received_at = msgpack.unpackb(wire)
    return ArchiveRecord(meter, channel, _KINDS[kind], _NATURES[nature], start, values, quality, version, received_at)


def _new_archive(db: sqlite_utils.Database, site: str, seq: int, created: float, limit: int,
                 epoch: str) -> Outgoing | None:
    """The next ``limit`` records after the mark, in arrival order: one sequential read, one
    batches row, the mark moved; no record row is written."""
    mark = archive_mark(db)
    rows = db.execute("SELECT id, wire FROM records WHERE id > ? ORDER BY id LIMIT ?", [mark, limit]).fetchall()
    if not rows:
        return None
    first, last = rows[0][0], rows[-1][0]
    db.execute("INSERT INTO batches (seq, state, records, created_at, published_at, content, epoch, first_row, "
               "last_row) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)",
               [seq, PENDING, len(rows), created, ARCHIVE, epoch, first, last])
    set_meta(db, "archive_mark", str(last))
    section = packed_array([w for _, w in rows])
    return Outgoing(seq, ARCHIVE, encode_packed(site, seq, epoch, created, {"records": section},
                                                subjects.archive_subject(site)))


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


def _lost(rows: Any) -> tuple[LostPeriod, ...]:
    """Lost periods as the cloud reads them; ``period`` is UTC already (edge/buffer_schema.py, version 3)."""
    return tuple(LostPeriod(meter=meter, kind=_KINDS[kind], period_start=int(period),
                            reason=reason or "", reported_at=float(at or 0.0))
                 for meter, kind, period, reason, at in rows)


def _new_events(db: sqlite_utils.Database, site: str, seq: int, created: float, limit: int) -> Batch | None:
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
                 lost=_lost(r[1:] for r in lost_rows))


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
    def build(db: sqlite_utils.Database, site: str, seq: int, created: float, limit: int) -> Batch | None:
        rows = db.execute(f"SELECT {columns} FROM {table} WHERE batch IS NULL ORDER BY id LIMIT ?",  # noqa: S608
                          [limit]).fetchall()
        if not rows:
            return None
        db.execute(f"UPDATE {table} SET batch = ? WHERE batch IS NULL AND id <= ?", [seq, rows[-1][0]])  # noqa: S608
        section: dict[str, Any] = {field: make(rows)}
        return Batch(site=site, seq=seq, records=(), created_at=created, **section)
    return build


_BUILD: dict[str, Callable[..., Batch | None]] = {
    EVENT: _new_events, RADIO: _by_id("radio", _RADIO_COLUMNS, _radio, "radio"),
    RESULT: _by_id("results", _RESULT_COLUMNS, _results, "results"),
}
