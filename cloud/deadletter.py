"""The dead-letter store as an operator sees it: list entries, replay them through the ingest.

An entry is a payload the ingest could not store (malformed batch, unknown schema version, a
batch whose content does not match its digest or whose ``Nats-Msg-Id`` is not its name,
records, events or lost periods of meters the registry does not know) with the reason. Replay
feeds the stored payload through ``Ingest.handle`` again - after the meter was registered, or
after an upgrade that reads the schema - and records the replay in ``dead_letter_replays``; an
entry whose payload still cannot be stored at all stays as it was (a payload whose digest does
not match never will). A replayed batch keeps its identity: its events and radio packets are
stored under its epoch, its rows under a deduplication token of the replay's own. Used by `domuchet deadletter`
(domuchet/deadletter_cmd.py) and the cloud's local API. Tests: tests/integration/test_cloud_ingest.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.ingest import Ingest
from cloud.storage.clickhouse import ClickHouse

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    received_at: datetime
    subject: str
    msg_id: str
    reason: str
    replayed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    id: str
    replayed: bool  # the payload was (at least partly) stored and the entry is marked replayed
    stored_values: int
    note: str  # what happened, for the operator


_LIST_SQL = """
SELECT d.id, d.received_at, d.subject, d.msg_id, d.reason, r.replayed_at
FROM (SELECT id, min(received_at) AS received_at, any(subject) AS subject, any(msg_id) AS msg_id,
             any(reason) AS reason
      FROM {db}.dead_letter GROUP BY id) AS d
LEFT JOIN (SELECT id, max(replayed_at) AS replayed_at FROM {db}.dead_letter_replays GROUP BY id) AS r
    ON r.id = d.id
"""


async def entries(ch: ClickHouse, *, include_replayed: bool = False) -> list[Entry]:
    """Entries oldest first; by default only those not replayed yet."""
    rows = await ch.query(_LIST_SQL + " ORDER BY d.received_at, d.id")
    out = []
    for entry_id, received, subject, msg_id, reason, replayed in rows:
        replayed_at = _utc(replayed) if replayed is not None else None
        if replayed_at is not None and replayed_at.timestamp() <= 0:  # no replay: the join's default
            replayed_at = None
        if replayed_at is not None and not include_replayed:
            continue
        out.append(Entry(entry_id, _utc(received), subject, msg_id, reason, replayed_at))
    return out


async def replay(ch: ClickHouse, ingest: Ingest, ids: Sequence[str] = ()) -> list[ReplayResult]:
    """Replay the named entries (dead-letter ids or Nats-Msg-Ids), or every entry not replayed yet.

    An id that names no entry is reported, not ignored; an entry already replayed is skipped
    with a note when named by a Nats-Msg-Id and replayed again when named by its own id.
    """
    listed = await entries(ch, include_replayed=True)
    if ids:
        chosen: list[Entry] = []
        results: list[ReplayResult] = []
        for wanted in ids:
            by_id = [e for e in listed if e.id == wanted]
            by_msg = [e for e in listed if e.msg_id == wanted and e.replayed_at is None]
            if not by_id and not by_msg:
                results.append(ReplayResult(wanted, False, 0, "no dead-letter entry with this id or msg id "
                                                              "(or it was replayed already)"))
            chosen += [e for e in by_id or by_msg if e not in chosen]
    else:
        chosen = [e for e in listed if e.replayed_at is None]
        results = []
    for entry in chosen:
        results.append(await _replay_one(ch, ingest, entry))
    await ingest.publish_watermarks()
    return results


async def _replay_one(ch: ClickHouse, ingest: Ingest, entry: Entry) -> ReplayResult:
    rows = await ch.query("SELECT payload FROM {db}.dead_letter WHERE id = {i:String} LIMIT 1", {"i": entry.id})
    try:
        data = bytes.fromhex(rows[0][0])
    except (IndexError, ValueError) as exc:
        return ReplayResult(entry.id, False, 0, f"payload: unreadable ({exc})")
    outcome = await ingest.handle(entry.subject, data, {"Nats-Msg-Id": entry.msg_id}, replay_of=entry.id)
    if not outcome.stored_anything:
        log.info("event=dead_letter_replay_failed id=%s reason=%r", entry.id, outcome.reason)
        return ReplayResult(entry.id, False, 0, f"still not storable: {outcome.reason or 'no values'}")
    note = f"stored {outcome.stored_values} values"
    if outcome.stored_items:
        note += f" and {outcome.stored_items} events, lost periods, radio packets or command results"
    if outcome.dead_letter_id is not None:
        note += f"; the rest is dead-lettered again as {outcome.dead_letter_id}: {outcome.reason}"
    stored = outcome.stored_values + outcome.stored_items
    await ch.insert("dead_letter_replays", [(entry.id, datetime.now(UTC), stored, note)],
                    ("id", "replayed_at", "stored_values", "note"))
    log.info("event=dead_letter_replayed id=%s stored_values=%d stored_items=%d", entry.id, outcome.stored_values,
             outcome.stored_items)
    return ReplayResult(entry.id, True, stored, note)


def _utc(value: datetime) -> datetime:
    """ClickHouse aggregates may drop the column's zone; every time here is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
