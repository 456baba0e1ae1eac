"""The archive insert column by column (cloud/ingest_rows.py ``archive_columns``, cloud/storage/
clickhouse.py ``insert_archive_columns``) on chDB: the same rows, to the last digit of each
Decimal64(6) value and millisecond of each receive time, as the row insert (``archive_rows``,
``insert_archive``), deduplicated by the same token; and the range checks over columns."""

from __future__ import annotations

from cloud.ingest_rows import archive_columns, archive_rows, out_of_range
from cloud.storage.clickhouse import ArchiveColumns, ClickHouse
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, RecordColumns

T0 = 1_767_225_600  # 2026-01-01T00:00Z
RECORDS = (
    ArchiveRecord("M1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0, {"Q": 112.34567799999999, "V1": 1.49},
                  received_at=T0 + 100.25),
    ArchiveRecord("M2", 2, ArchiveKind.DAY, Nature.INTERVAL, T0 + 86_400, {"Q": -2.5}, quality=3, version=1,
                  received_at=T0 + 200.5),
)
BATCH = Batch("cols", 5, RECORDS)
# Worked out by hand: one row per value. 112.34567799999999 is what 112,345,678 kcal * 1e-6 gives
# as a float product (a LoRa reading, protocol/lorawan_up.py before it divided): the float lies
# 1.4e-14 below 112.345678, so the nearest six-decimal value - what is stored - is 112.345678
# (truncating, as clickhouse-connect's row insert does, stored 112.345677: a unit short).
# Receive times in ms: (T0 + 100.25) * 1000 = 1767225700250.
EXPECTED = [
    ("cols", "M1", 1, "hour", "integral", "Q", T0, "112.345678", 0, 0, 1_767_225_700_250, 5),
    ("cols", "M1", 1, "hour", "integral", "V1", T0, "1.49", 0, 0, 1_767_225_700_250, 5),
    ("cols", "M2", 2, "day", "interval", "Q", T0 + 86_400, "-2.5", 3, 1, 1_767_225_800_500, 5),
]
_SELECT = ("SELECT site, meter, channel, toString(kind), toString(nature), parameter, toUnixTimestamp(period_start), "
           "toString(value), quality, version, toUnixTimestamp64Milli(received_at), batch_seq FROM {db}.archive "
           "WHERE company = {c:UInt32} ORDER BY meter, parameter, batch_seq")


def _rows(ch: ClickHouse, company: int) -> list[tuple]:
    return [tuple(r) for r in ch.query_sync(_SELECT, {"c": company})]


def test_columnar_insert_stores_what_the_row_insert_stores(clickhouse: ClickHouse) -> None:
    clickhouse.insert_archive_sync(archive_rows(BATCH, 8), "rows")
    clickhouse.insert_archive_columns_sync(archive_columns(BATCH, RecordColumns.of(RECORDS), 9), "columns")
    assert _rows(clickhouse, 8) == EXPECTED
    assert _rows(clickhouse, 9) == EXPECTED
    # 112.345678 + 1.49 - 2.5 = 111.335678
    sums = clickhouse.query_sync("SELECT company, toString(sum(value)) FROM {db}.archive GROUP BY company "
                                 "ORDER BY company")
    assert sums == [(8, "111.335678"), (9, "111.335678")]


def test_columnar_insert_keeps_the_deduplication_token(clickhouse: ClickHouse) -> None:
    columns = archive_columns(BATCH, RecordColumns.of(RECORDS), 9)
    clickhouse.insert_archive_columns_sync(columns, "cols:5")
    clickhouse.insert_archive_columns_sync(columns, "cols:5")  # a redelivery: dropped by ClickHouse
    assert clickhouse.query_sync("SELECT count() FROM {db}.archive") == [(3,)]
    clickhouse.insert_archive_columns_sync(columns, "fetch:other")  # another token: stored again (3 + 3)
    assert clickhouse.query_sync("SELECT count() FROM {db}.archive") == [(6,)]


def test_several_batches_in_one_insert(clickhouse: ClickHouse) -> None:
    later = Batch("cols", 6, ())
    extra = RecordColumns.of((ArchiveRecord("M3", 1, ArchiveKind.MONTH, Nature.INTEGRAL, T0, {"T1": 65.25},
                                            received_at=T0),))
    both = ArchiveColumns.concat([archive_columns(BATCH, RecordColumns.of(RECORDS), 9),
                                  archive_columns(later, extra, 9)])
    assert len(both) == 4  # 3 values + 1
    clickhouse.insert_archive_columns_sync(both, "two")
    assert _rows(clickhouse, 9) == [*EXPECTED, ("cols", "M3", 1, "month", "integral", "T1", T0, "65.25", 0, 0,
                                                1_767_225_600_000, 6)]
    assert both.rows() == [*archive_rows(BATCH, 9),
                           (9, "cols", "M3", 1, "month", "integral", "T1", T0, 65.25, 0, 0, 1_767_225_600_000, 6)]


def test_out_of_range_over_columns_names_the_first_bad_field() -> None:
    def reason(*records: ArchiveRecord) -> str | None:
        batch = Batch("cols", 1, records)
        from_columns = out_of_range(Batch("cols", 1, ()), RecordColumns.of(records))
        assert from_columns == out_of_range(batch)  # the columns and the records say the same
        return from_columns

    good = RECORDS[0]
    big = ArchiveRecord("M1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0, {"Q": 1.0, "V1": -2e12})
    wide = ArchiveRecord("M1", 70_000, ArchiveKind.HOUR, Nature.INTEGRAL, T0, {"Q": 1.0})
    assert reason(good, good) is None
    assert reason(good, big, big) == "records[1].values.V1: -2000000000000.0 out of range -1e+12..1e+12"
    assert reason(good, good, wide) == "records[2].channel: 70000 out of range 0..65535"
    # a value out of range is named before a channel of an earlier record
    assert reason(wide, big) == "records[1].values.V1: -2000000000000.0 out of range -1e+12..1e+12"
    late = ArchiveRecord("M1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, 2**32, {"Q": 1.0})
    assert reason(good, late) == "records[1].period_start: 4294967296 out of range 0..4294967295"
