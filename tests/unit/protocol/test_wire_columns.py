"""The records section decoded column by column (protocol/wire.py ``decode_batch_columns``,
``RecordColumns``): the same records and the same DecodeError, field and reason, as the check
record by record - also for a bad field deep in a large batch, which the whole-column checks
find and the walk over the records then names."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest

from protocol import wire
from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, RecordColumns

T0 = 1_767_225_600  # 2026-01-01T00:00Z
N = 1000  # records in the large batch
BAD = 777  # the index of the one bad record in it


def _record(i: int) -> list[Any]:
    """Record i of the large batch as it travels (the field order of _RECORD_FIELDS)."""
    return [f"M{i % 50:03d}", 1, "hour", "integral", T0 + 3600 * (i // 50), {"Q": 10.5 + i, "V1": 2.25, "V2": 2.0},
            0, 0, T0 + 3600.5]


def _large(index: int | None = None, value: Any = None, whole: Any = None) -> bytes:
    records = [_record(i) for i in range(N)]
    if whole is not None:
        records[BAD] = whole
    elif index is not None:
        records[BAD][index] = value
    return msgpack.packb({"v": 1, "site": "demo", "seq": 3, "at": 1.0, "records": records}, use_bin_type=True)


def test_columns_hold_the_records_decode_batch_gives() -> None:
    data = _large()
    batch, columns = wire.decode_batch_columns(data)
    assert batch.records == ()
    assert (batch.site, batch.seq, len(columns)) == ("demo", 3, N)
    assert columns.records() == wire.decode_batch(data).records
    # record 777: meter M027 (777 % 50), hour 15 (777 // 50), Q = 10.5 + 777
    assert columns.records()[BAD] == ArchiveRecord("M027", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * 15,
                                                   {"Q": 787.5, "V1": 2.25, "V2": 2.0}, 0, 0, T0 + 3600.5)
    # the value maps flattened in record order: three per record
    assert len(columns.parameters) == len(columns.numbers) == 3 * N
    assert columns.parameters[3 * BAD:3 * BAD + 3] == ["Q", "V1", "V2"]
    assert columns.numbers[3 * BAD:3 * BAD + 3] == [787.5, 2.25, 2.0]


@pytest.mark.parametrize(
    ("index", "value", "field", "reason"),
    [
        pytest.param(0, "", "records[777].meter", "must be a non-empty string", id="meter-empty"),
        pytest.param(1, True, "records[777].channel", "must be a non-negative integer, got True", id="channel-bool"),
        pytest.param(4, -1, "records[777].period_start", "must be a non-negative integer, got -1", id="period"),
        pytest.param(2, "week", "records[777].kind", "unknown archive kind 'week'", id="kind"),
        pytest.param(3, ["integral"], "records[777].nature", "unknown archive nature ['integral']", id="nature-list"),
        pytest.param(5, {}, "records[777].values", "must be a non-empty map of parameter -> number", id="values"),
        pytest.param(5, {"Q": 1.0, b"V1": 2.0}, "records[777].values", "parameter code b'V1' is not a string",
                     id="values-bytes-key"),
        pytest.param(5, {"Q": 1.0, "V1": math.nan}, "records[777].values.V1", "expected a finite number, got nan",
                     id="values-nan"),
        pytest.param(5, {"Q": False}, "records[777].values.Q", "expected a finite number, got False",
                     id="values-bool"),
        pytest.param(6, 1.0, "records[777].quality", "must be a non-negative integer, got 1.0", id="quality"),
        pytest.param(8, None, "records[777].received_at", "expected a finite number, got None", id="received"),
    ],
)
def test_bad_field_deep_in_a_large_batch_is_named_as_before(index: int, value: Any, field: str, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch_columns(_large(index, value))
    assert (info.value.field, info.value.reason) == (field, reason)
    with pytest.raises(DecodeError) as again:  # decode_batch says the same
        wire.decode_batch(_large(index, value))
    assert (again.value.field, again.value.reason) == (field, reason)


@pytest.mark.parametrize("whole", [[], "record", [*range(10)]])
def test_record_of_wrong_shape_deep_in_a_large_batch(whole: Any) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch_columns(_large(whole=whole))
    assert (info.value.field, info.value.reason) == ("records[777]", "expected an array of 9 fields")


def test_the_first_bad_record_is_named_when_several_are_bad() -> None:
    records = [_record(i) for i in range(N)]
    records[900][1] = -5  # channel of 900: a later record
    records[300][2] = "week"  # kind of 300: the first bad record, though channel is checked before kind
    data = msgpack.packb({"v": 1, "site": "demo", "seq": 3, "records": records})
    with pytest.raises(DecodeError) as info:
        wire.decode_batch_columns(data)
    assert info.value.field == "records[300].kind"


def test_integer_values_and_times_become_floats() -> None:
    records = [_record(i) for i in range(3)]
    records[1][5] = {"Q": 7, "V1": 2.5}
    records[2][8] = T0
    _, columns = wire.decode_batch_columns(msgpack.packb({"v": 1, "site": "demo", "seq": 1, "records": records}))
    assert columns.values[1] == {"Q": 7.0, "V1": 2.5}
    assert type(columns.values[1]["Q"]) is float
    assert columns.numbers[3:5] == [7.0, 2.5]
    assert all(type(x) is float for x in columns.numbers)
    assert columns.received_at == (T0 + 3600.5, T0 + 3600.5, float(T0))
    assert type(columns.received_at[2]) is float


def test_finite_values_whose_sum_overflows_still_decode() -> None:
    # 1e308 + 1e308 is inf: the whole-column check cannot tell, the walk over the records can
    records = [_record(0), _record(1)]
    records[0][5] = {"Q": 1e308}
    records[1][5] = {"Q": 1e308}
    _, columns = wire.decode_batch_columns(msgpack.packb({"v": 1, "site": "demo", "seq": 1, "records": records}))
    assert columns.numbers == [1e308, 1e308]


def test_select_and_of_keep_the_records() -> None:
    recs = (ArchiveRecord("A", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0, {"Q": 1.0}),
            ArchiveRecord("B", 2, ArchiveKind.DAY, Nature.INTERVAL, T0, {"Q": 2.0, "V1": 3.0}, 1, 2, 5.5))
    columns = RecordColumns.of(recs)
    assert columns.records() == recs
    picked = columns.select([False, True])
    assert picked.records() == recs[1:]
    assert (picked.parameters, picked.numbers) == (["Q", "V1"], [2.0, 3.0])
    assert len(RecordColumns.of(())) == 0


def test_a_batch_with_other_sections_keeps_them() -> None:
    batch = Batch("demo", 4, (ArchiveRecord("A", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0, {"Q": 1.0}),),
                  events=(wire.DeviceEvent(1, "A", float(T0), "integrity", "alarm", "device"),),
                  epoch="0123456789abcdef")
    decoded, columns = wire.decode_batch_columns(wire.encode_batch(batch))
    assert decoded.events == batch.events
    assert decoded.digest == wire.content_digest(batch)
    assert columns.records() == batch.records
