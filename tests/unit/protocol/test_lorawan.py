"""KARAT-Compact-2 LoRaWAN archive templates (protocol/lorawan.py): round trips, a golden
vector, and every malformed payload rejected with DecodeError naming the field."""

from __future__ import annotations

import random
import struct

import pytest

from protocol import lorawan
from protocol.crc import crc16_modbus
from protocol.errors import DecodeError
from protocol.lorawan import CompactArchive
from protocol.vocabulary import ArchiveKind

# Hour archive: template 0x11, period 0x66A1B2C3, Q 1_234_567 kcal, input 1 89_012 l,
# input 2 34_567 l, flags 0x01. Checked by hand against docs/protocols.md:
#   11 | c3 b2 a1 66 | 87 d6 12 00 | b4 5b 01 00 | 07 87 00 00 | 01 | 19 6e
#   tpl| period LE   | 0x0012D687  | 0x00015BB4  | 0x00008707  |flg| CRC 0x6E19 LE
GOLDEN_FRAME = CompactArchive(ArchiveKind.HOUR, 0x66A1B2C3, 1_234_567, 89_012, 34_567, 0x01)
GOLDEN_BYTES = bytes.fromhex("11 c3b2a166 87d61200 b45b0100 07870000 01 196e")


def test_golden_vector_encodes() -> None:
    assert lorawan.encode(GOLDEN_FRAME) == GOLDEN_BYTES


def test_golden_vector_decodes() -> None:
    assert lorawan.decode(GOLDEN_BYTES) == GOLDEN_FRAME


def test_golden_vector_layout() -> None:
    assert len(GOLDEN_BYTES) == lorawan.ARCHIVE_LENGTH == 20
    assert GOLDEN_BYTES[0] == 0x11
    assert int.from_bytes(GOLDEN_BYTES[1:5], "little") == GOLDEN_FRAME.period
    assert int.from_bytes(GOLDEN_BYTES[5:9], "little") == GOLDEN_FRAME.heat_kcal
    assert int.from_bytes(GOLDEN_BYTES[9:13], "little") == GOLDEN_FRAME.input1_litres
    assert int.from_bytes(GOLDEN_BYTES[13:17], "little") == GOLDEN_FRAME.input2_litres
    assert GOLDEN_BYTES[17] == GOLDEN_FRAME.flags
    assert int.from_bytes(GOLDEN_BYTES[18:20], "little") == crc16_modbus(GOLDEN_BYTES[:18])


def test_template_numbers_and_port() -> None:
    assert lorawan.FPORT == 2
    assert lorawan.TEMPLATE_ARCHIVE == {ArchiveKind.HOUR: 0x11, ArchiveKind.DAY: 0x12, ArchiveKind.MONTH: 0x13}


@pytest.mark.parametrize("kind", list(ArchiveKind))
def test_round_trip_every_kind(kind: ArchiveKind) -> None:
    frame = CompactArchive(kind, 1_700_000_000, 42, 7, 0, 0x80)
    data = lorawan.encode(frame)
    assert data[0] == lorawan.TEMPLATE_ARCHIVE[kind]
    assert lorawan.decode(data) == frame


def test_round_trip_extremes() -> None:
    for value in (0, 1, 0xFFFF, 0x10000, 0xFFFFFFFF):
        frame = CompactArchive(ArchiveKind.DAY, value, value, value, value, 0xFF)
        assert lorawan.decode(lorawan.encode(frame)) == frame


def test_round_trip_random() -> None:
    rng = random.Random(2)
    for _ in range(200):
        frame = CompactArchive(rng.choice(list(ArchiveKind)), *(rng.randrange(2**32) for _ in range(4)),
                               flags=rng.randrange(256))
        assert lorawan.decode(lorawan.encode(frame)) == frame


def test_values_in_domain_units() -> None:
    assert GOLDEN_FRAME.values() == {
        lorawan.CHANNEL_HEAT: {"Q": 1.234567},
        lorawan.CHANNEL_INPUT1: {"V": 89.012},
        lorawan.CHANNEL_INPUT2: {"V": 34.567},
    }


@pytest.mark.parametrize("name", ["period", "heat_kcal", "input1_litres", "input2_litres"])
@pytest.mark.parametrize("value", [-1, 2**32])
def test_encode_rejects_values_that_do_not_fit(name: str, value: int) -> None:
    fields = {"period": 0, "heat_kcal": 0, "input1_litres": 0, "input2_litres": 0, name: value}
    with pytest.raises(ValueError, match=name):
        lorawan.encode(CompactArchive(ArchiveKind.HOUR, **fields))


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16_modbus(body))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param(b"", "template", id="empty"),
        pytest.param(bytes([0x14]) + GOLDEN_BYTES[1:], "template", id="unknown-template-0x14"),
        pytest.param(bytes([0x00]) + GOLDEN_BYTES[1:], "template", id="unknown-template-0x00"),
        pytest.param(_with_crc(bytes([0x21]) + GOLDEN_BYTES[1:18]), "template", id="unknown-template-good-crc"),
        pytest.param(GOLDEN_BYTES[:-1], "length", id="truncated-by-one"),
        pytest.param(GOLDEN_BYTES[:1], "length", id="template-only"),
        pytest.param(GOLDEN_BYTES + b"\x00", "length", id="one-byte-too-long"),
        pytest.param(_with_crc(GOLDEN_BYTES[:18] + b"\x00"), "length", id="too-long-with-valid-crc"),
        pytest.param(GOLDEN_BYTES[:-2] + b"\x00\x00", "crc", id="zero-crc"),
        pytest.param(GOLDEN_BYTES[:-2] + GOLDEN_BYTES[-1:] + GOLDEN_BYTES[-2:-1], "crc", id="crc-big-endian"),
        pytest.param(GOLDEN_BYTES[:5] + bytes([GOLDEN_BYTES[5] ^ 0x01]) + GOLDEN_BYTES[6:], "crc", id="body-bit-flip"),
    ],
)
def test_malformed_payloads_name_the_field(data: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        lorawan.decode(data)
    assert info.value.field == field
    assert info.value.reason


def test_every_single_byte_corruption_is_rejected() -> None:
    for i in range(len(GOLDEN_BYTES)):
        for mask in (0x01, 0x80, 0xFF):
            corrupted = bytearray(GOLDEN_BYTES)
            corrupted[i] ^= mask
            with pytest.raises(DecodeError):
                lorawan.decode(bytes(corrupted))


def test_random_bytes_raise_only_decode_error() -> None:
    rng = random.Random(5)
    fields: set[str] = set()
    for _ in range(2000):
        # half the payloads start with a known template and have about the right length
        if rng.random() < 0.5:
            data = rng.randbytes(rng.randrange(0, 30))
        else:
            data = bytes([rng.choice((0x11, 0x12, 0x13))]) + rng.randbytes(rng.choice((18, 19, 19, 20)))
        try:
            lorawan.decode(data)
        except DecodeError as exc:
            fields.add(exc.field)
    assert fields == {"template", "length", "crc"}
