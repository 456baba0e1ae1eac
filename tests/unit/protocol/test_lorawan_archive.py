"""Channel archive records of the KARAT radio modules (protocol/lorawan_archive.py): golden
vectors checked by hand against docs/protocols.md section 6, round trips, malformed records
rejected with DecodeError naming the field, and decode_any reading every FPort 2 template."""

from __future__ import annotations

import struct

import pytest

from protocol import lorawan, lorawan_archive
from protocol.crc import crc16_modbus
from protocol.errors import DecodeError
from protocol.lorawan_archive import ChannelArchive
from protocol.lorawan_up import Reading
from protocol.vocabulary import ArchiveKind, Nature

# 941LW day record, 2 tariffs: total 123 456 Wh, T1 100 000 Wh, T2 23 456 Wh
#   42 | 00e0a066 | 00  | 00 | 03 | 01 03 40e20100 | 02 03 a0860100 | 03 03 a05b0000 | a035
#   tpl| period   | nat |flg | n  | ch1 E          | ch2 E          | ch3 E          | CRC
DAY = ChannelArchive(ArchiveKind.DAY, 0x66A0E000, (Reading(1, "E", 123_456), Reading(2, "E", 100_000),
                                                   Reading(3, "E", 23_456)))
DAY_HEX = "42 00e0a066 00 00 03 0103 40e20100 0203 a0860100 0303 a05b0000 a035"
# 926LW hour record: 37 litres used in the hour (interval), flagged (leak)
HOUR = ChannelArchive(ArchiveKind.HOUR, 0x66A1B2C0, (Reading(1, "V", 37),), Nature.INTERVAL, 1)
HOUR_HEX = "41 c0b2a166 01 01 01 0102 25000000 1a66"


@pytest.mark.parametrize(("frame", "hexed"), [(DAY, DAY_HEX), (HOUR, HOUR_HEX)])
def test_golden_vectors(frame: ChannelArchive, hexed: str) -> None:
    data = bytes.fromhex(hexed)
    assert lorawan_archive.encode(frame) == data
    assert lorawan_archive.decode(data) == frame
    assert lorawan_archive.decode_any(data) == frame
    assert int.from_bytes(data[-2:], "little") == crc16_modbus(data[:-2])


def test_values_and_templates() -> None:
    assert DAY.values() == {1: {"E": 123.456}, 2: {"E": 100.0}, 3: {"E": 23.456}}
    assert HOUR.values() == {1: {"V": 0.037}}
    assert lorawan_archive.TEMPLATE_CHANNEL_ARCHIVE == {ArchiveKind.HOUR: 0x41, ArchiveKind.DAY: 0x42,
                                                        ArchiveKind.MONTH: 0x43}


def test_decode_any_still_reads_compact2_records() -> None:
    frame = lorawan.CompactArchive(ArchiveKind.MONTH, 86_400 * 20_000, 1, 2, 3)
    assert lorawan_archive.decode_any(lorawan.encode(frame)) == frame
    with pytest.raises(DecodeError) as caught:
        lorawan_archive.decode_any(b"\x44" + bytes(19))
    assert caught.value.field == "template"


@pytest.mark.parametrize("frame", [
    *(ChannelArchive(kind, 0, (), nature) for kind in ArchiveKind for nature in Nature),
    ChannelArchive(ArchiveKind.MONTH, 0xFFFFFFFF, tuple(Reading(c, "N", c * 1000) for c in range(32)), flags=255),
    ChannelArchive(ArchiveKind.HOUR, 1, (Reading(1, "T1", -2000), Reading(1, "Q", 0xFFFFFFFF))),
])
def test_round_trip(frame: ChannelArchive) -> None:
    assert lorawan_archive.decode(lorawan_archive.encode(frame)) == frame


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16_modbus(body))


BODY = bytes.fromhex(DAY_HEX)[:-2]


@pytest.mark.parametrize(("data", "field"), [
    (b"", "template"),
    (bytes.fromhex(DAY_HEX.replace("42", "11", 1)), "template"),  # a Compact-2 template: not a channel record
    (BODY[:6], "length"),
    (bytes.fromhex(DAY_HEX)[:-4], "length"),
    (bytes.fromhex(DAY_HEX) + b"\x00", "length"),
    (bytes.fromhex(DAY_HEX)[:-1] + b"\x00", "crc"),
    (_with_crc(BODY[:5] + b"\x02" + BODY[6:]), "nature"),
    (_with_crc(BODY[:7] + b"\x21"), "count"),
    (_with_crc(BODY[:9] + b"\x50" + BODY[10:]), "readings[0].param"),
])
def test_malformed_records_name_the_field(data: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        lorawan_archive.decode(data)
    assert caught.value.field == field, caught.value
