"""Edge -> cloud wire batches (protocol/wire.py): golden bytes, round trips, and every
malformed batch rejected with DecodeError (or UnsupportedVersion) naming the field; version 3,
the batch's identity (epoch and content digest): golden bytes, the digest checked on decoding."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import replace
from typing import Any

import msgpack
import pytest

from protocol import wire
from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch

GOLDEN_BATCH = Batch(
    site="demo",
    seq=7,
    records=(
        ArchiveRecord(
            meter="30700101", channel=1, kind=ArchiveKind.HOUR, nature=Nature.INTEGRAL, period_start=1_718_398_800,
            values={"Q": 5.123456, "V1": 4500.0}, quality=0, version=0, received_at=1_718_402_405.5,
        ),
    ),
    created_at=1_718_402_410.25,
)
# Checked by hand: 85 = map of 5; a1 76 "v" 01; a4 "site" a4 "demo"; a3 "seq" 07; a2 "at" cb <float64>;
# a7 "records" 91 (array of 1) 99 (array of 9): a8 "30700101", 01, a4 "hour", a8 "integral",
# ce 666caf50 (uint32 period_start), 82 {a1 "Q" cb <f64>, a2 "V1" cb <f64>}, 00, 00, cb <f64 received_at>.
GOLDEN_BYTES = bytes.fromhex(
    "85"
    "a176" "01"
    "a473697465" "a464656d6f"
    "a3736571" "07"
    "a26174" "cb41d99b2f5a900000"
    "a77265636f726473" "91"
    "99"
    "a83330373030313031"
    "01"
    "a4686f7572"
    "a8696e74656772616c"
    "ce666caf50"
    "82" "a151" "cb40147e6b3fe9fadb" "a25631" "cb40b1940000000000"
    "00" "00"
    "cb41d99b2f59600000"
)


def test_golden_vector_encodes() -> None:
    assert wire.encode_batch(GOLDEN_BATCH) == GOLDEN_BYTES


def test_golden_vector_decodes() -> None:
    assert wire.decode_batch(GOLDEN_BYTES) == GOLDEN_BATCH


def test_golden_vector_is_the_documented_map() -> None:
    doc = msgpack.unpackb(GOLDEN_BYTES)
    assert list(doc) == ["v", "site", "seq", "at", "records"]
    assert doc["v"] == GOLDEN_BATCH.version == 1  # archive-only batches keep the v1 shape
    assert doc["records"] == [
        ["30700101", 1, "hour", "integral", 1_718_398_800, {"Q": 5.123456, "V1": 4500.0}, 0, 0, 1_718_402_405.5],
    ]


def test_msg_id() -> None:
    assert GOLDEN_BATCH.msg_id == "demo:7" == wire.msg_id("demo", 7)


def _record(**overrides: Any) -> ArchiveRecord:
    fields: dict[str, Any] = {
        "meter": "22342000001", "channel": 2, "kind": ArchiveKind.DAY, "nature": Nature.INTERVAL,
        "period_start": 1_735_678_800, "values": {"V": 0.125}, "quality": 5, "version": 3,
        "received_at": 1_735_765_300.125,
    }
    fields.update(overrides)
    return ArchiveRecord(**fields)


def test_round_trip_all_kinds_and_natures() -> None:
    records = tuple(
        _record(kind=kind, nature=nature, channel=i, values={"Q": i * 0.5, "T1": -12.25})
        for i, (kind, nature) in enumerate((k, n) for k in ArchiveKind for n in Nature)
    )
    batch = Batch(site="kzn-baumana_17", seq=2**40, records=records, created_at=1.5)
    decoded = wire.decode_batch(wire.encode_batch(batch))
    assert decoded == batch
    assert all(isinstance(r.kind, ArchiveKind) and isinstance(r.nature, Nature) for r in decoded.records)


def test_round_trip_empty_batch_and_integer_values() -> None:
    batch = Batch(site="s", seq=1, records=(_record(values={"E": 12}),))
    decoded = wire.decode_batch(wire.encode_batch(batch))
    assert decoded.records[0].values == {"E": 12.0}
    assert isinstance(decoded.records[0].values["E"], float)
    assert wire.decode_batch(wire.encode_batch(Batch(site="s", seq=1, records=()))).records == ()


def test_missing_created_at_defaults_to_zero() -> None:
    doc = msgpack.unpackb(GOLDEN_BYTES)
    del doc["at"]
    assert wire.decode_batch(msgpack.packb(doc)).created_at == 0.0


_DELETE = object()  # marks a key to remove in _doc()


def _doc(**changes: Any) -> dict[str, Any]:
    doc = msgpack.unpackb(GOLDEN_BYTES)
    for key, value in changes.items():
        if value is _DELETE:
            del doc[key]
        else:
            doc[key] = value
    return doc


def _doc_record(index: int, value: Any) -> dict[str, Any]:
    doc = msgpack.unpackb(GOLDEN_BYTES)
    doc["records"][0][index] = value
    return doc


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xc1", id="never-used-byte"),
        pytest.param(b"\x85", id="map-header-only"),
        pytest.param(GOLDEN_BYTES[:-3], id="truncated"),
        pytest.param(GOLDEN_BYTES + b"\x00", id="trailing-byte"),
        pytest.param(msgpack.packb({1: 2}), id="integer-key"),
        pytest.param(b"\x81\x91\x01\x01", id="array-key"),
    ],
)
def test_not_msgpack(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(data)
    assert info.value.field == "batch"
    assert not isinstance(info.value, wire.UnsupportedVersion)


@pytest.mark.parametrize("doc", [[1, 2], "batch", 1, None])
def test_not_a_map(doc: Any) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(doc))
    assert info.value.field == "batch"


@pytest.mark.parametrize("version", [4, 0, "1", None, _DELETE])
def test_unknown_schema_version(version: Any) -> None:
    with pytest.raises(wire.UnsupportedVersion) as info:
        wire.decode_batch(msgpack.packb(_doc(v=version)))
    assert info.value.field == "v"
    assert isinstance(info.value, DecodeError)  # a consumer catching DecodeError dead-letters it too


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"site": _DELETE}, "site", id="site-missing"),
        pytest.param({"site": 17}, "site", id="site-int"),
        pytest.param({"site": b"demo"}, "site", id="site-bytes"),
        pytest.param({"site": "Demo"}, "site", id="site-upper-case"),
        pytest.param({"site": "du.demo"}, "site", id="site-with-dot"),
        pytest.param({"site": "demo>"}, "site", id="site-wildcard"),
        pytest.param({"site": ""}, "site", id="site-empty"),
        pytest.param({"site": "a" * 65}, "site", id="site-too-long"),
        pytest.param({"seq": _DELETE}, "seq", id="seq-missing"),
        pytest.param({"seq": "7"}, "seq", id="seq-str"),
        pytest.param({"seq": 7.0}, "seq", id="seq-float"),
        pytest.param({"seq": True}, "seq", id="seq-bool"),
        pytest.param({"seq": 0}, "seq", id="seq-zero"),
        pytest.param({"seq": -1}, "seq", id="seq-negative"),
        pytest.param({"at": math.nan}, "at", id="at-nan"),
        pytest.param({"at": math.inf}, "at", id="at-inf"),
        pytest.param({"at": "now"}, "at", id="at-str"),
        pytest.param({"at": False}, "at", id="at-bool"),
        pytest.param({"records": _DELETE}, "records", id="records-missing"),
        pytest.param({"records": {}}, "records", id="records-map"),
        pytest.param({"records": "[]"}, "records", id="records-str"),
    ],
)
def test_bad_batch_header_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(_doc(**changes), use_bin_type=True))
    assert info.value.field == field
    assert not isinstance(info.value, wire.UnsupportedVersion)


@pytest.mark.parametrize(
    ("index", "value", "field"),
    [
        pytest.param(0, "", "records[0].meter", id="meter-empty"),
        pytest.param(0, 30700101, "records[0].meter", id="meter-int"),
        pytest.param(1, -1, "records[0].channel", id="channel-negative"),
        pytest.param(1, "1", "records[0].channel", id="channel-str"),
        pytest.param(1, True, "records[0].channel", id="channel-bool"),
        pytest.param(2, "week", "records[0].kind", id="kind-unknown"),
        pytest.param(2, 1, "records[0].kind", id="kind-int"),
        pytest.param(3, "cumulative", "records[0].nature", id="nature-unknown"),
        pytest.param(4, -3600, "records[0].period_start", id="period-negative"),
        pytest.param(4, 1_718_398_800.0, "records[0].period_start", id="period-float"),
        pytest.param(5, {}, "records[0].values", id="values-empty"),
        pytest.param(5, [1.0], "records[0].values", id="values-array"),
        pytest.param(5, {b"Q": 1.0}, "records[0].values", id="values-bytes-key"),
        pytest.param(5, {"Q": math.nan}, "records[0].values.Q", id="values-nan"),
        pytest.param(5, {"Q": 1.0, "V1": -math.inf}, "records[0].values.V1", id="values-inf"),
        pytest.param(5, {"Q": "1.0"}, "records[0].values.Q", id="values-str"),
        pytest.param(5, {"Q": None}, "records[0].values.Q", id="values-nil"),
        pytest.param(6, -1, "records[0].quality", id="quality-negative"),
        pytest.param(6, False, "records[0].quality", id="quality-bool"),
        pytest.param(7, 1.5, "records[0].version", id="version-float"),
        pytest.param(8, math.inf, "records[0].received_at", id="received-inf"),
        pytest.param(8, None, "records[0].received_at", id="received-nil"),
    ],
)
def test_bad_record_field_names_the_field(index: int, value: Any, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(_doc_record(index, value), use_bin_type=True))
    assert info.value.field == field


@pytest.mark.parametrize("raw", [[], ["30700101"], [*range(10)], "record", {"meter": "x"}])
def test_record_of_wrong_shape(raw: Any) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(_doc(records=[raw])))
    assert info.value.field == "records[0]"


def test_error_names_the_index_of_the_bad_record() -> None:
    good = msgpack.unpackb(GOLDEN_BYTES)["records"][0]
    bad = [*good[:4], -1, *good[5:]]
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(_doc(records=[good, good, bad])))
    assert info.value.field == "records[2].period_start"


def test_random_corruption_raises_only_decode_error() -> None:
    rng = random.Random(11)
    outcomes: set[str] = set()
    for _ in range(3000):
        data = bytearray(GOLDEN_BYTES)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            wire.decode_batch(bytes(data))
            outcomes.add("ok")
        except DecodeError as exc:
            outcomes.add(exc.field.split(".")[0].split("[")[0])
    # the corruption reached several layers of the decoder, not only the msgpack parser
    assert {"batch", "records"} <= outcomes


# --- version 3: the batch's identity ------------------------------------------------------

EPOCH = "0123456789abcdef"
GOLDEN_V3 = replace(GOLDEN_BATCH, epoch=EPOCH)
# The record section exactly as in GOLDEN_BYTES: 91 (array of 1) and the record's 9 fields.
RECORDS_HEX = ("91" "99" "a83330373030313031" "01" "a4686f7572" "a8696e74656772616c" "ce666caf50"
               "82" "a151" "cb40147e6b3fe9fadb" "a25631" "cb40b1940000000000" "00" "00" "cb41d99b2f59600000")
# The digest covers a msgpack array of the five sections: 95 (array of 5), the records, then
# events, lost, radio and results, each an empty array 90. SHA-256 of those bytes, first 16 bytes.
DIGEST = hashlib.sha256(bytes.fromhex("95" + RECORDS_HEX + "90" * 4)).hexdigest()[:32]
# 87 = map of 7: v=3, site, epoch (b0 = str of 16), seq, digest (d9 20 = str8 of 32), at, records
GOLDEN_V3_BYTES = bytes.fromhex(
    "87"
    "a176" "03"
    "a473697465" "a464656d6f"
    "a565706f6368" "b0" + EPOCH.encode().hex()
    + "a3736571" "07"
    "a6646967657374" "d920" + DIGEST.encode().hex()
    + "a26174" "cb41d99b2f5a900000"
    "a77265636f726473" + RECORDS_HEX
)


def test_v3_golden_vector() -> None:
    assert DIGEST == "31d83a1ac763fc7b9f3a80e7f9e03925"  # as docs/protocols.md shows it
    encoded = wire.encode(GOLDEN_V3)
    assert encoded.data == GOLDEN_V3_BYTES
    assert (encoded.digest, encoded.subject) == (DIGEST, "du.demo.up.archive")
    assert encoded.msg_id == f"demo:{EPOCH}:7:{DIGEST}" == GOLDEN_V3.msg_id
    decoded = wire.decode_batch(GOLDEN_V3_BYTES)
    assert decoded == GOLDEN_V3
    assert (decoded.version, decoded.epoch, decoded.digest) == (3, EPOCH, DIGEST)
    assert list(msgpack.unpackb(GOLDEN_V3_BYTES)) == ["v", "site", "epoch", "seq", "digest", "at", "records"]


def test_the_digest_covers_the_content_only() -> None:
    """A renumbered batch (another seq, another time) keeps its digest; other content changes it."""
    moved = replace(GOLDEN_V3, seq=501, created_at=5.0)
    assert wire.encode(moved).digest == DIGEST
    assert wire.encode(moved).msg_id == f"demo:{EPOCH}:501:{DIGEST}"
    record = replace(GOLDEN_V3.records[0], values={"Q": 5.123457, "V1": 4500.0})
    assert wire.encode(replace(GOLDEN_V3, records=(record,))).digest != DIGEST
    assert wire.content_digest(GOLDEN_V3) == DIGEST


def test_a_batch_without_an_epoch_keeps_the_old_shape() -> None:
    assert (GOLDEN_BATCH.version, wire.encode(GOLDEN_BATCH).digest) == (1, "")
    assert wire.encode(GOLDEN_BATCH).data == GOLDEN_BYTES


def _v3_doc(**changes: Any) -> bytes:
    doc = msgpack.unpackb(GOLDEN_V3_BYTES)
    for key, value in changes.items():
        if value is _DELETE:
            del doc[key]
        else:
            doc[key] = value
    return msgpack.packb(doc, use_bin_type=True)


def test_content_that_does_not_match_its_digest_is_refused() -> None:
    doc = msgpack.unpackb(GOLDEN_V3_BYTES)
    doc["records"][0][5]["Q"] = 6.0  # the value changed on the way; the digest still the old one
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(doc, use_bin_type=True))
    assert info.value.field == "digest"
    assert info.value.reason.startswith(f"{DIGEST} does not match the content")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"epoch": _DELETE}, "epoch", id="epoch-missing"),
        pytest.param({"epoch": "0123456789ABCDEF"}, "epoch", id="epoch-upper-case"),
        pytest.param({"epoch": "0123"}, "epoch", id="epoch-short"),
        pytest.param({"epoch": 81985529216486895}, "epoch", id="epoch-int"),
        pytest.param({"digest": _DELETE}, "digest", id="digest-missing"),
        pytest.param({"digest": DIGEST[:31]}, "digest", id="digest-short"),
        pytest.param({"digest": "0" * 32}, "digest", id="digest-of-other-content"),
        pytest.param({"events": [[1, "", 1.0, "x", "info", "edge", {}]]}, "digest", id="section-added"),
    ],
)
def test_bad_identity_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(_v3_doc(**changes))
    assert info.value.field == field


@pytest.mark.parametrize("key", ["epoch", "digest"])
def test_an_identity_in_an_older_version_is_refused(key: str) -> None:
    doc = msgpack.unpackb(GOLDEN_BYTES)
    doc[key] = EPOCH if key == "epoch" else DIGEST
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(doc))
    assert info.value.field == key


def test_an_older_reader_refuses_version_3_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cloud that reads versions 1 and 2 raises UnsupportedVersion on a version 3 batch (it
    dead-letters it) rather than storing its records without their identity."""
    monkeypatch.setattr(wire, "_READS", (1, 2))
    with pytest.raises(wire.UnsupportedVersion) as info:
        wire.decode_batch(GOLDEN_V3_BYTES)
    assert info.value.field == "v"
    assert wire.decode_batch(GOLDEN_BYTES) == GOLDEN_BATCH


def test_v3_round_trip_every_section() -> None:
    from tests.unit.protocol.test_wire_sections import EVENT, LOST, RADIO, RESULT
    batch = Batch(site="s", seq=3, records=(_record(),), events=(EVENT,), lost=(LOST,), radio=(RADIO,),
                  results=(RESULT,), epoch=EPOCH)
    decoded = wire.decode_batch(wire.encode_batch(batch))
    assert decoded == batch
    assert decoded.digest == wire.content_digest(batch)
