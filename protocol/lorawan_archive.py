"""Channel archive records of the KARAT radio modules (926LW, 941LW, 927LW), FPort 2.

The Compact-2's archive templates (0x11-0x13, protocol/lorawan.py) have a fixed layout for
its three channels; the modules that serve other meters send a record as a list of
(channel, parameter, value) readings instead, integral or interval as the model keeps them.
``decode_any`` reads every FPort 2 template. Byte tables: docs/protocols.md section 6.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from protocol import lorawan
from protocol.crc import crc16_modbus
from protocol.errors import DecodeError
from protocol.lorawan_up import MAX_READINGS, READING_SIZE, Reading, decode_readings, encode_readings
from protocol.vocabulary import ArchiveKind, Nature

TEMPLATE_CHANNEL_ARCHIVE = {ArchiveKind.HOUR: 0x41, ArchiveKind.DAY: 0x42, ArchiveKind.MONTH: 0x43}
_KIND_BY_TEMPLATE = {code: kind for kind, code in TEMPLATE_CHANNEL_ARCHIVE.items()}
NATURE_CODES = {Nature.INTEGRAL: 0, Nature.INTERVAL: 1}
_NATURE_BY_CODE = {code: nature for nature, code in NATURE_CODES.items()}

_HEAD = struct.Struct("<BIBBB")  # template, period, nature, flags, count


@dataclass(frozen=True, slots=True)
class ChannelArchive:
    """One archive record: readings at the period end (integral) or amounts in it (interval)."""

    kind: ArchiveKind
    period: int  # period start, device seconds
    readings: tuple[Reading, ...]
    nature: Nature = Nature.INTEGRAL
    flags: int = 0

    def values(self) -> dict[int, dict[str, float]]:
        out: dict[int, dict[str, float]] = {}
        for r in self.readings:
            out.setdefault(r.channel, {})[r.param] = r.value
        return out


def encode(frame: ChannelArchive) -> bytes:
    readings = encode_readings(frame.readings)
    if not 0 <= frame.period <= 0xFFFFFFFF:
        raise ValueError(f"period={frame.period} does not fit an unsigned 32-bit field")
    body = _HEAD.pack(TEMPLATE_CHANNEL_ARCHIVE[frame.kind], frame.period, NATURE_CODES[frame.nature], frame.flags,
                      len(frame.readings)) + readings
    return body + struct.pack("<H", crc16_modbus(body))


def decode(data: bytes) -> ChannelArchive:
    """Decode a channel archive record (templates 0x41-0x43), or raise DecodeError naming the field."""
    if not data:
        raise DecodeError("template", "empty payload")
    kind = _KIND_BY_TEMPLATE.get(data[0])
    if kind is None:
        raise DecodeError("template", f"unknown channel archive template 0x{data[0]:02X}")
    if len(data) < _HEAD.size + 2:
        raise DecodeError("length", f"template 0x{data[0]:02X} needs at least {_HEAD.size + 2} bytes, got {len(data)}")
    count = data[_HEAD.size - 1]
    if count > MAX_READINGS:
        raise DecodeError("count", f"at most {MAX_READINGS} readings, got {count}")
    length = _HEAD.size + count * READING_SIZE + 2
    if len(data) != length:
        raise DecodeError("length", f"template 0x{data[0]:02X} with {count} readings is {length} bytes, "
                                    f"got {len(data)}")
    body, (crc,) = data[:-2], struct.unpack("<H", data[-2:])
    if crc16_modbus(body) != crc:
        raise DecodeError("crc", f"CRC 0x{crc:04X} does not match 0x{crc16_modbus(body):04X}")
    _, period, nature_code, flags, _ = _HEAD.unpack_from(body)
    nature = _NATURE_BY_CODE.get(nature_code)
    if nature is None:
        raise DecodeError("nature", f"unknown nature code {nature_code}")
    return ChannelArchive(kind, period, decode_readings(body, _HEAD.size, count), nature, flags)


def decode_any(data: bytes) -> lorawan.CompactArchive | ChannelArchive:
    """Any FPort 2 archive payload: Compact-2 templates 0x11-0x13 or channel templates 0x41-0x43."""
    if data and data[0] in _KIND_BY_TEMPLATE:
        return decode(data)
    return lorawan.decode(data)
