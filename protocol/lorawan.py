"""LoRaWAN payload templates of the KARAT-Compact-2 apartment heat meter (FPort 2).

The first byte of every payload is the template number, which the manual's LoRa
monitoring page calls the "function code". Integers are little-endian; every payload ends
in a CRC-16/MODBUS of the bytes before it. The byte tables are in docs/protocols.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocol.crc import crc16_modbus
from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind

FPORT = 2

TEMPLATE_ARCHIVE = {ArchiveKind.HOUR: 0x11, ArchiveKind.DAY: 0x12, ArchiveKind.MONTH: 0x13}
_KIND_BY_TEMPLATE = {code: kind for kind, code in TEMPLATE_ARCHIVE.items()}

# template, period (device seconds), heat kcal, input 1 litres, input 2 litres, flags
_ARCHIVE = struct.Struct("<BIIIIB")
ARCHIVE_LENGTH = _ARCHIVE.size + 2

# Channel numbers of the Compact-2: 1 = heat calculator, 2 and 3 = pulse inputs 1 and 2.
CHANNEL_HEAT, CHANNEL_INPUT1, CHANNEL_INPUT2 = 1, 2, 3


@dataclass(frozen=True, slots=True)
class CompactArchive:
    """One integral archive record: counter readings at the end of the period."""

    kind: ArchiveKind
    period: int  # period start, device seconds
    heat_kcal: int  # 1 kcal = 1e-6 Gcal
    input1_litres: int
    input2_litres: int
    flags: int = 0

    def values(self) -> dict[int, dict[str, float]]:
        """Readings by channel number, then parameter code, in domain units."""
        return {
            CHANNEL_HEAT: {"Q": self.heat_kcal / 1e6},
            CHANNEL_INPUT1: {"V": self.input1_litres / 1e3},
            CHANNEL_INPUT2: {"V": self.input2_litres / 1e3},
        }


def encode(frame: CompactArchive) -> bytes:
    for name in ("period", "heat_kcal", "input1_litres", "input2_litres"):
        value = getattr(frame, name)
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{name}={value} does not fit an unsigned 32-bit field")
    body = _ARCHIVE.pack(
        TEMPLATE_ARCHIVE[frame.kind],
        frame.period,
        frame.heat_kcal,
        frame.input1_litres,
        frame.input2_litres,
        frame.flags,
    )
    return body + struct.pack("<H", crc16_modbus(body))


def decode(data: bytes) -> CompactArchive:
    """Decode one uplink payload, or raise DecodeError naming the field that is wrong."""
    if not data:
        raise DecodeError("template", "empty payload")
    kind = _KIND_BY_TEMPLATE.get(data[0])
    if kind is None:
        raise DecodeError("template", f"unknown template 0x{data[0]:02X}")
    if len(data) != ARCHIVE_LENGTH:
        raise DecodeError("length", f"template 0x{data[0]:02X} is {ARCHIVE_LENGTH} bytes, got {len(data)}")
    body, (crc,) = data[:-2], struct.unpack("<H", data[-2:])
    if crc16_modbus(body) != crc:
        raise DecodeError("crc", f"CRC 0x{crc:04X} does not match 0x{crc16_modbus(body):04X}")
    _, period, heat, in1, in2, flags = _ARCHIVE.unpack(body)
    return CompactArchive(kind, period, heat, in1, in2, flags)
