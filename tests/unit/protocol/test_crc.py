"""CRC-16/MODBUS (protocol/crc.py) against its published check value, a known Modbus RTU frame
and a bit-by-bit reference implementation."""

from __future__ import annotations

import random

import pytest

from protocol.crc import crc16_modbus


def _reference(data: bytes) -> int:
    """The textbook bitwise algorithm: init 0xFFFF, reflected polynomial 0xA001, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_check_value() -> None:
    # The catalogue check value of CRC-16/MODBUS.
    assert crc16_modbus(b"123456789") == 0x4B37


def test_empty_input_is_the_initial_value() -> None:
    assert crc16_modbus(b"") == 0xFFFF


def test_known_modbus_rtu_frame() -> None:
    # "read 10 holding registers from 0 of unit 1" is sent as 01 03 00 00 00 0A C5 CD.
    frame = bytes.fromhex("01030000000A")
    assert crc16_modbus(frame).to_bytes(2, "little") == bytes.fromhex("C5CD")


@pytest.mark.parametrize("length", [1, 2, 7, 18, 64, 255])
def test_matches_bitwise_reference(length: int) -> None:
    rng = random.Random(length)
    for _ in range(20):
        data = rng.randbytes(length)
        assert crc16_modbus(data) == _reference(data)


def test_appending_the_crc_little_endian_leaves_zero_residue() -> None:
    data = bytes(range(40))
    framed = data + crc16_modbus(data).to_bytes(2, "little")
    assert crc16_modbus(framed) == 0


def test_single_bit_flip_changes_the_crc() -> None:
    data = bytearray(b"\x11" + bytes(17))
    base = crc16_modbus(bytes(data))
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        assert crc16_modbus(bytes(flipped)) != base
