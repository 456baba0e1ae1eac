"""KARAT-307 Modbus register map (protocol/karat307.py): register layout, a golden record
block, round trips, and malformed register lists rejected with DecodeError naming the field."""

from __future__ import annotations

import random

import pytest

from protocol import karat307 as regs
from protocol.errors import DecodeError
from protocol.karat307 import Karat307Record
from protocol.vocabulary import ArchiveKind

# Hour record for period 1718409600 (0x666CD980): Q 5_123_456 kcal (0x004E2D80),
# V1 4_500_000 l (0x0044AA20), V2 4_477_500 l (0x0044523C), T1 75.12 degC (7512 = 0x1D58),
# T2 -1.50 degC (-150 = 0xFF6A two's complement), hot 65_432 l (0x0000FF98),
# cold 123_456 l (0x0001E240), flags 0. 32-bit values high word first, per docs/protocols.md.
GOLDEN_RECORD = Karat307Record(
    kind=ArchiveKind.HOUR, period=1_718_409_600, heat_kcal=5_123_456, supply_litres=4_500_000,
    return_litres=4_477_500, supply_temp_centi=7512, return_temp_centi=-150, hot_water_litres=65_432,
    cold_water_litres=123_456, flags=0,
)
GOLDEN_REGISTERS = [
    0x0000,  # status OK
    0x666C, 0xD980,  # period
    0x004E, 0x2D80,  # Q kcal
    0x0044, 0xAA20,  # V1 litres
    0x0044, 0x523C,  # V2 litres
    0x1D58,  # T1 centi-degC
    0xFF6A,  # T2 centi-degC, signed
    0x0000, 0xFF98,  # hot water litres
    0x0001, 0xE240,  # cold water litres
    0x0000,  # flags
]


def test_register_addresses() -> None:
    assert (regs.REG_CLOCK, regs.REG_MODEL, regs.REG_SERIAL) == (0x0000, 0x0002, 0x0003)
    assert (regs.REG_ARCHIVE_REQUEST, regs.REG_ARCHIVE_RECORD) == (0x0100, 0x0110)
    assert regs.RECORD_LENGTH == 16
    assert regs.MODEL_CODE == 307
    # The request block (3 registers) ends before the record block; the record block fits the space.
    assert regs.REG_ARCHIVE_REQUEST + 3 <= regs.REG_ARCHIVE_RECORD
    assert regs.REG_ARCHIVE_RECORD + regs.RECORD_LENGTH <= regs.REGISTER_COUNT


def test_golden_record_encodes() -> None:
    assert regs.encode_record(GOLDEN_RECORD) == GOLDEN_REGISTERS


def test_golden_record_decodes() -> None:
    assert regs.decode_record(ArchiveKind.HOUR, GOLDEN_REGISTERS) == GOLDEN_RECORD


def test_record_values_in_domain_units() -> None:
    assert GOLDEN_RECORD.values() == {
        regs.CHANNEL_HEAT: {"Q": 5.123456, "V1": 4500.0, "V2": 4477.5, "T1": 75.12, "T2": -1.5},
        regs.CHANNEL_HOT_WATER: {"V": 65.432},
        regs.CHANNEL_COLD_WATER: {"V": 123.456},
    }


def test_record_round_trip_random() -> None:
    rng = random.Random(307)
    for _ in range(200):
        kind = rng.choice([ArchiveKind.HOUR, ArchiveKind.DAY, ArchiveKind.MONTH])
        record = Karat307Record(
            kind, rng.randrange(2**32), rng.randrange(2**32), rng.randrange(2**32), rng.randrange(2**32),
            rng.randrange(-0x8000, 0x8000), rng.randrange(-0x8000, 0x8000), rng.randrange(2**32),
            rng.randrange(2**32), rng.randrange(0x10000),
        )
        block = regs.encode_record(record)
        assert len(block) == regs.RECORD_LENGTH
        assert all(0 <= r <= 0xFFFF for r in block)
        assert regs.decode_record(kind, block) == record


def test_empty_record_decodes_to_none() -> None:
    block = regs.empty_record()
    assert block == [regs.STATUS_EMPTY] + [0] * 15
    assert regs.decode_record(ArchiveKind.DAY, block) is None


@pytest.mark.parametrize("value", [-0x8001, 0x8000])
def test_temperature_out_of_signed_16_bit_range_is_refused(value: int) -> None:
    record = Karat307Record(ArchiveKind.HOUR, 0, 0, 0, 0, value, 0, 0, 0)
    with pytest.raises(ValueError, match="signed 16-bit"):
        regs.encode_record(record)


@pytest.mark.parametrize("value", [-1, 2**32])
def test_counter_out_of_u32_range_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="32-bit"):
        regs.encode_record(Karat307Record(ArchiveKind.HOUR, 0, value, 0, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("registers", "field"),
    [
        pytest.param(GOLDEN_REGISTERS[:-1], "record", id="truncated"),
        pytest.param([*GOLDEN_REGISTERS, 0], "record", id="too-long"),
        pytest.param([], "record", id="empty"),
        pytest.param([2, *GOLDEN_REGISTERS[1:]], "record.status", id="unknown-status"),
        pytest.param([0, 0x10000, *GOLDEN_REGISTERS[2:]], "record.period", id="period-register-over-16-bit"),
        pytest.param([*GOLDEN_REGISTERS[:3], -1, *GOLDEN_REGISTERS[4:]], "record.Q", id="negative-register"),
        pytest.param([*GOLDEN_REGISTERS[:11], 0x10000, *GOLDEN_REGISTERS[12:]], "record.hot_water",
                     id="hot-water-register-over-16-bit"),
    ],
)
def test_malformed_record_names_the_field(registers: list[int], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        regs.decode_record(ArchiveKind.HOUR, registers)
    assert info.value.field == field


@pytest.mark.parametrize(("kind", "code"), [(ArchiveKind.HOUR, 1), (ArchiveKind.DAY, 2), (ArchiveKind.MONTH, 3)])
def test_archive_request_round_trip(kind: ArchiveKind, code: int) -> None:
    registers = regs.encode_archive_request(kind, 0x666CD980)
    assert registers == [code, 0x666C, 0xD980]
    assert regs.decode_archive_request(registers) == (kind, 0x666CD980)


@pytest.mark.parametrize(
    ("registers", "field"),
    [
        pytest.param([1, 0], "archive_request", id="short"),
        pytest.param([1, 0, 0, 0], "archive_request", id="long"),
        pytest.param([0, 0, 0], "archive_request.kind", id="kind-0"),
        pytest.param([4, 0, 0], "archive_request.kind", id="kind-4"),
        pytest.param([1, 0x10000, 0], "archive_request.period", id="period-overflow"),
    ],
)
def test_malformed_archive_request_names_the_field(registers: list[int], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        regs.decode_archive_request(registers)
    assert info.value.field == field


def test_u32_register_pair_high_word_first() -> None:
    assert regs.u32_to_registers(0x01D472C5) == [0x01D4, 0x72C5]
    assert regs.registers_to_u32([0x01D4, 0x72C5]) == 0x01D472C5
    assert regs.registers_to_u32([0xFFFF, 0xFFFF]) == 0xFFFFFFFF
    with pytest.raises(ValueError, match="32-bit"):
        regs.u32_to_registers(2**32)
    with pytest.raises(DecodeError) as info:
        regs.registers_to_u32([1, 2, 3], "serial")
    assert info.value.field == "serial"
