"""CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), as KARAT devices use on the wire."""

from __future__ import annotations


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc16_modbus(data: bytes) -> int:
    """Return the CRC-16/MODBUS of ``data`` (check value of b"123456789" is 0x4B37)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc
