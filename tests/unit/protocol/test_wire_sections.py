"""Schema version 2 of the edge -> cloud wire (protocol/wire.py): events, lost periods,
radio packets and command results, with golden bytes, round trips, the subject each batch
travels on, and malformed sections rejected with DecodeError naming the field."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest

from protocol import wire
from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind
from protocol.wire import Batch, CommandResult, DeviceEvent, LostPeriod, RadioRecord

EVENT = DeviceEvent(id=41, meter="22342000001", at=1_718_398_800.5, code="interference", severity="alarm",
                    source="device", detail={"text": "magnet"})
LOST = LostPeriod(meter="30700101", kind=ArchiveKind.HOUR, period_start=1_714_521_600, reason="older than depth",
                  reported_at=1_718_398_801.0)
RADIO = RadioRecord(id=9, at=1_718_398_802.25, dev_eui="70b3d5e75e000001", direction="up", f_cnt=17, f_port=2,
                    rssi=-97, snr=7.5, gateway="0016c001ff10a235", frequency=868_900_000, payload=b"\x11\x01",
                    error="")
RESULT = CommandResult(command_id="c-1", state="done", at=1_718_398_803.0, detail={"records": 24, "lost": 0})

GOLDEN_EVENTS = Batch(site="demo", seq=8, records=(), created_at=2.0, events=(EVENT,), lost=(LOST,))
# 87 = map of 7: v=2, site, seq=8, at=2.0 (cb + float64), records=[] (90), events=[[7 fields]],
# lost=[[5 fields]]; 29 = id 41, ce 66318600 = period 1714521600 (uint32), b0 = str of 16 bytes
GOLDEN_EVENTS_BYTES = bytes.fromhex(
    "87"
    "a176" "02"
    "a473697465" "a464656d6f"
    "a3736571" "08"
    "a26174" "cb4000000000000000"
    "a77265636f726473" "90"
    "a66576656e7473" "91"
    "97" "29" "ab3232333432303030303031" "cb41d99b2bd4200000" "ac696e746572666572656e6365"
    "a5616c61726d" "a6646576696365" "81" "a474657874" "a66d61676e6574"
    "a46c6f7374" "91"
    "95" "a83330373030313031" "a4686f7572" "ce66318600" "b06f6c646572207468616e206465707468"
    "cb41d99b2bd4400000"
)


def test_golden_event_batch() -> None:
    assert wire.encode_batch(GOLDEN_EVENTS) == GOLDEN_EVENTS_BYTES
    assert wire.decode_batch(GOLDEN_EVENTS_BYTES) == GOLDEN_EVENTS
    assert GOLDEN_EVENTS.version == 2


@pytest.mark.parametrize(
    ("batch", "subject"),
    [
        pytest.param(Batch("demo", 1, ()), "du.demo.up.archive", id="empty"),
        pytest.param(GOLDEN_EVENTS, "du.demo.up.event", id="events"),
        pytest.param(Batch("demo", 1, (), lost=(LOST,)), "du.demo.up.event", id="lost"),
        pytest.param(Batch("demo", 1, (), radio=(RADIO,)), "du.demo.up.radio", id="radio"),
        pytest.param(Batch("demo", 1, (), results=(RESULT,)), "du.demo.up.state", id="results"),
    ],
)
def test_subject_names_the_content(batch: Batch, subject: str) -> None:
    assert wire.batch_subject(batch) == subject


def test_round_trip_every_section() -> None:
    down = RadioRecord(id=10, at=3.0, dev_eui="70b3d5e75e000001", direction="down", f_cnt=0, f_port=3, rssi=None,
                       snr=None, gateway="", frequency=0, payload=b"", error="")
    batch = Batch(site="s", seq=3, records=(), events=(EVENT,), lost=(LOST,), radio=(RADIO, down),
                  results=(RESULT, CommandResult("c-2", "failed", 4.0, {"reason": "timeout"})))
    assert wire.decode_batch(wire.encode_batch(batch)) == batch


def _doc(section: str, index: int, value: Any) -> bytes:
    batch = Batch(site="s", seq=3, records=(), events=(EVENT,), lost=(LOST,), radio=(RADIO,), results=(RESULT,))
    doc = msgpack.unpackb(wire.encode_batch(batch))
    doc[section][0][index] = value
    return msgpack.packb(doc, use_bin_type=True)


@pytest.mark.parametrize(
    ("section", "index", "value", "field"),
    [
        ("events", 0, -1, "events[0].id"),
        ("events", 1, 5, "events[0].meter"),
        ("events", 2, math.nan, "events[0].at"),
        ("events", 3, "", "events[0].code"),
        ("events", 4, "fatal", "events[0].severity"),
        ("events", 5, "cloud", "events[0].source"),
        ("events", 6, [1], "events[0].detail"),
        ("lost", 0, "", "lost[0].meter"),
        ("lost", 1, "week", "lost[0].kind"),
        ("lost", 2, 1.5, "lost[0].period_start"),
        ("lost", 4, None, "lost[0].reported_at"),
        ("radio", 3, "sideways", "radio[0].direction"),
        ("radio", 4, -1, "radio[0].f_cnt"),
        ("radio", 6, "-97", "radio[0].rssi"),
        ("radio", 7, math.inf, "radio[0].snr"),
        ("radio", 10, "1101", "radio[0].payload"),
        ("results", 0, "", "results[0].command_id"),
        ("results", 1, "sent", "results[0].state"),
        ("results", 3, None, "results[0].detail"),
    ],
)
def test_bad_section_field_names_the_field(section: str, index: int, value: Any, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(_doc(section, index, value))
    assert info.value.field == field


@pytest.mark.parametrize("section", ["events", "lost", "radio", "results"])
def test_section_of_wrong_shape(section: str) -> None:
    doc = msgpack.unpackb(wire.encode_batch(GOLDEN_EVENTS))
    doc[section] = [[1, 2]]
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(doc))
    assert info.value.field == f"{section}[0]"
    doc[section] = {"not": "a list"}
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(doc))
    assert info.value.field == section


def test_version_1_batch_with_a_section_is_refused() -> None:
    doc = msgpack.unpackb(GOLDEN_EVENTS_BYTES)
    doc["v"] = 1
    with pytest.raises(DecodeError) as info:
        wire.decode_batch(msgpack.packb(doc))
    assert info.value.field == "events"
