"""The rows a wire batch becomes in ClickHouse, one list per table, and the range checks the
table types need beyond what protocol/wire.py validates (a channel that does not fit UInt16 is
valid msgpack but would fail the insert forever, so the ingest dead-letters it instead).
Archive records are taken column by column (protocol.wire.RecordColumns -> ArchiveColumns):
the ingest never builds a tuple per value. Used by cloud/ingest.py; tests:
tests/integration/test_ingest_sections.py, tests/integration/test_ingest_columns.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from cloud.storage.clickhouse import ARCHIVE_COLUMNS, MAX_VALUE, ArchiveColumns
from protocol.wire import Batch, RecordColumns

# events and radio packets are keyed by (site, epoch, id): their ids are the edge buffer's row ids
EVENT_COLUMNS = ("company", "site", "epoch", "id", "meter", "at", "code", "severity", "source", "detail")
LOST_COLUMNS = ("company", "site", "meter", "kind", "period_start", "reason", "reported_at")
RADIO_COLUMNS = ("site", "epoch", "id", "at", "dev_eui", "direction", "f_cnt", "f_port", "rssi", "snr", "gateway",
                 "frequency", "payload", "error")
SYNC_COLUMNS = ("site", "seq", "epoch", "digest", "records", "values", "created_at", "stored_at")
# the tables a batch's sections go to, in insert order; command results go to a hook instead
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("archive", ARCHIVE_COLUMNS), ("device_events", EVENT_COLUMNS), ("lost_periods", LOST_COLUMNS),
    ("radio_packets", RADIO_COLUMNS))

_U8, _U16, _U32, _U64 = 2**8 - 1, 2**16 - 1, 2**32 - 1, 2**64 - 1
_EPOCH = (0, _U32)  # DateTime's range; DateTime64 columns keep to it too


def _ms(epoch: float) -> int:
    """A DateTime64(3) value as clickhouse-connect writes it without conversion: epoch milliseconds."""
    return round(epoch * 1000)


# DateTime columns get epoch seconds and DateTime64(3) columns epoch milliseconds, as ints:
# clickhouse-connect then writes them as they are instead of converting a datetime per row.
def archive_rows(batch: Batch, company: int) -> list[tuple]:
    """One ClickHouse row per (record, parameter), under the company the batch's site belongs to."""
    rows = []
    for r in batch.records:
        head = (company, batch.site, r.meter, r.channel, r.kind.value, r.nature.value)
        tail = (r.quality, r.version, _ms(r.received_at), batch.seq)
        for parameter, value in r.values.items():
            rows.append((*head, parameter, r.period_start, value, *tail))
    return rows


def archive_columns(batch: Batch, records: RecordColumns, company: int) -> ArchiveColumns:
    """The rows ``archive_rows`` gives, column by column: ``records`` are the batch's archive
    records (protocol.wire.decode_batch_columns)."""
    n = len(records)
    return ArchiveColumns(
        company=[company] * n, site=[batch.site] * n, meter=records.meter, channel=records.channel,
        kind=records.kind, nature=records.nature, period_start=records.period_start, quality=records.quality,
        version=records.version, received_at=records.received_at, batch_seq=[batch.seq] * n,
        counts=list(map(len, records.values)), parameter=records.parameters, value=records.numbers)


def event_rows(batch: Batch, company: int) -> list[tuple]:
    return [(company, batch.site, batch.epoch, e.id, e.meter, _ms(e.at), e.code, e.severity, e.source,
             json.dumps(e.detail, ensure_ascii=False, sort_keys=True)) for e in batch.events]


def lost_rows(batch: Batch, company: int) -> list[tuple]:
    return [(company, batch.site, x.meter, x.kind.value, x.period_start, x.reason, _ms(x.reported_at))
            for x in batch.lost]


def radio_rows(batch: Batch) -> list[tuple]:
    """The payload is stored as lower-case hex: the monitoring page shows it as it came."""
    return [(batch.site, batch.epoch, p.id, _ms(p.at), p.dev_eui, p.direction, p.f_cnt, p.f_port, p.rssi, p.snr,
             p.gateway, p.frequency, p.payload.hex(), p.error) for p in batch.radio]


def table_rows(batch: Batch, company: int) -> dict[str, list[tuple]]:
    """Every table's rows of one batch (empty lists for sections it does not carry)."""
    return {"archive": archive_rows(batch, company), "device_events": event_rows(batch, company),
            "lost_periods": lost_rows(batch, company), "radio_packets": radio_rows(batch)}


def _columns(batch: Batch, records: RecordColumns) -> Iterator[tuple[str, Sequence, tuple[int, int]]]:
    """(field, its values over a section, the column's range) for every bounded field."""
    yield "at", [batch.created_at], _EPOCH
    if len(records):
        for name, bounds in (("channel", (0, _U16)), ("quality", (0, _U16)), ("version", (0, _U32)),
                             ("period_start", _EPOCH), ("received_at", _EPOCH)):
            yield f"records[{{}}].{name}", getattr(records, name), bounds
    sections: tuple[tuple[str, tuple, tuple[tuple[str, tuple[int, int]], ...]], ...] = (
        ("events", batch.events, (("id", (0, _U64)), ("at", _EPOCH))),
        ("lost", batch.lost, (("period_start", _EPOCH), ("reported_at", _EPOCH))),
        ("radio", batch.radio, (("id", (0, _U64)), ("at", _EPOCH), ("f_cnt", (0, _U32)), ("f_port", (0, _U8)),
                                ("rssi", (-(2**15), 2**15 - 1)), ("frequency", (0, _U32)))),
        ("results", batch.results, (("at", _EPOCH),)),
    )
    for section, items, fields in sections:
        if items:
            for name, bounds in fields:
                yield f"{section}[{{}}].{name}", [getattr(item, name) for item in items], bounds


def out_of_range(batch: Batch, records: RecordColumns | None = None) -> str | None:
    """The first field whose value the table's column cannot hold, as a dead-letter reason; else None.
    ``records``: the batch's archive records as columns (decode_batch_columns); else ``batch.records``.
    Whole columns are checked at once; only a failing one is walked for its first bad entry."""
    if records is None:
        records = RecordColumns.of(batch.records)
    numbers = records.numbers
    # (a nan, possible only in a batch built in memory, makes max or min a nan: walked past as before)
    if numbers and not (max(numbers) <= MAX_VALUE and min(numbers) >= -MAX_VALUE):
        for i, values in enumerate(records.values):
            for parameter, value in values.items():
                if abs(value) > MAX_VALUE:
                    return f"records[{i}].values.{parameter}: {value!r} out of range -{MAX_VALUE:.0e}..{MAX_VALUE:.0e}"
    for where, values, (low, high) in _columns(batch, records):
        present = [v for v in values if v is not None] if None in values else values
        if present and (min(present) < low or max(present) > high):
            i, value = next((i, v) for i, v in enumerate(values) if v is not None and not low <= v <= high)
            return f"{where.format(i)}: {value!r} out of range {low}..{high}"
    return None
