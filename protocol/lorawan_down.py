"""LoRaWAN downlink templates (network server -> KARAT radio device), FPort 3.

Commands the edge or the cloud sends to a device: request archives for a period (backfill),
set the clock (time service), switch the load relay (on, cut, or limit above a power
threshold), request the passport, request current readings (reconciliation). Like the
uplinks, the first byte is the template number, integers are little-endian and the frame
ends in a CRC-16/MODBUS of the bytes before it. Byte tables: docs/protocols.md section 5.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from protocol.crc import crc16_modbus
from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind

FPORT_COMMAND = 3

TEMPLATE_REQUEST_ARCHIVE = 0x31
TEMPLATE_SET_CLOCK = 0x32
TEMPLATE_RELAY = 0x33
TEMPLATE_REQUEST_PASSPORT = 0x34
TEMPLATE_REQUEST_CURRENT = 0x35

ARCHIVE_KIND_CODES = {ArchiveKind.HOUR: 1, ArchiveKind.DAY: 2, ArchiveKind.MONTH: 3}
_KIND_BY_CODE = {code: kind for kind, code in ARCHIVE_KIND_CODES.items()}

MAX_BACKFILL_RECORDS = 48  # a device answers at most this many records to one request


class RelayMode(IntEnum):
    CUT = 0  # supply off
    ON = 1  # supply on, no limit
    LIMIT = 2  # supply on, cut while the load exceeds the threshold


@dataclass(frozen=True, slots=True)
class ArchiveRequest:
    """Send the archive records whose periods start from ``first`` to ``last`` (inclusive)."""

    kind: ArchiveKind
    first: int  # device seconds, a period start
    last: int  # device seconds, a period start, >= first


@dataclass(frozen=True, slots=True)
class SetClock:
    device_seconds: int


@dataclass(frozen=True, slots=True)
class RelayCommand:
    mode: RelayMode
    threshold_w: int = 0  # load above which a LIMIT relay cuts; 0 for CUT and ON


@dataclass(frozen=True, slots=True)
class PassportRequest:
    pass


@dataclass(frozen=True, slots=True)
class CurrentRequest:
    pass


Downlink = ArchiveRequest | SetClock | RelayCommand | PassportRequest | CurrentRequest

# body layouts after the template byte, before the CRC
_BODIES: dict[int, struct.Struct] = {
    TEMPLATE_REQUEST_ARCHIVE: struct.Struct("<BII"),
    TEMPLATE_SET_CLOCK: struct.Struct("<I"),
    TEMPLATE_RELAY: struct.Struct("<BI"),
    TEMPLATE_REQUEST_PASSPORT: struct.Struct("<"),
    TEMPLATE_REQUEST_CURRENT: struct.Struct("<"),
}
LENGTHS = {template: 1 + body.size + 2 for template, body in _BODIES.items()}


def _u32(name: str, value: int) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{name}={value} does not fit an unsigned 32-bit field")
    return value


def encode(frame: Downlink) -> bytes:
    """Bytes of one downlink command (FPort 3)."""
    if isinstance(frame, ArchiveRequest):
        if frame.first > frame.last:
            raise ValueError(f"first={frame.first} is after last={frame.last}")
        template = TEMPLATE_REQUEST_ARCHIVE
        fields: tuple[int, ...] = (ARCHIVE_KIND_CODES[frame.kind], _u32("first", frame.first),
                                   _u32("last", frame.last))
    elif isinstance(frame, SetClock):
        template, fields = TEMPLATE_SET_CLOCK, (_u32("device_seconds", frame.device_seconds),)
    elif isinstance(frame, RelayCommand):
        if problem := _relay_problem(frame.mode, frame.threshold_w):
            raise ValueError(f"threshold_w: {problem}")
        template, fields = TEMPLATE_RELAY, (int(frame.mode), _u32("threshold_w", frame.threshold_w))
    elif isinstance(frame, PassportRequest):
        template, fields = TEMPLATE_REQUEST_PASSPORT, ()
    elif isinstance(frame, CurrentRequest):
        template, fields = TEMPLATE_REQUEST_CURRENT, ()
    else:
        raise TypeError(f"not a downlink frame: {frame!r}")
    body = bytes([template]) + _BODIES[template].pack(*fields)
    return body + struct.pack("<H", crc16_modbus(body))


def _relay_problem(mode: int, threshold_w: int) -> str | None:
    """Why a relay command is inconsistent, or None (field: threshold_w)."""
    if mode == RelayMode.LIMIT and threshold_w == 0:
        return "a LIMIT relay command needs a threshold above 0 W"
    if mode != RelayMode.LIMIT and threshold_w != 0:
        return f"only LIMIT takes a threshold, got {threshold_w} W"
    return None


def decode(data: bytes) -> Downlink:
    """Decode one downlink command, or raise DecodeError naming the field that is wrong."""
    if not data:
        raise DecodeError("template", "empty payload")
    template = data[0]
    if template not in _BODIES:
        raise DecodeError("template", f"unknown downlink template 0x{template:02X}")
    if len(data) != LENGTHS[template]:
        raise DecodeError("length", f"template 0x{template:02X} is {LENGTHS[template]} bytes, got {len(data)}")
    body, (crc,) = data[:-2], struct.unpack("<H", data[-2:])
    if crc16_modbus(body) != crc:
        raise DecodeError("crc", f"CRC 0x{crc:04X} does not match 0x{crc16_modbus(body):04X}")
    fields = _BODIES[template].unpack(body[1:])
    if template == TEMPLATE_REQUEST_ARCHIVE:
        code, first, last = fields
        kind = _KIND_BY_CODE.get(code)
        if kind is None:
            raise DecodeError("kind", f"unknown archive kind code {code}")
        if first > last:
            raise DecodeError("last", f"last period {last} is before first {first}")
        return ArchiveRequest(kind, first, last)
    if template == TEMPLATE_SET_CLOCK:
        return SetClock(fields[0])
    if template == TEMPLATE_RELAY:
        mode, threshold = fields
        if mode not in RelayMode._value2member_map_:
            raise DecodeError("mode", f"unknown relay mode {mode}")
        if problem := _relay_problem(mode, threshold):
            raise DecodeError("threshold_w", problem)
        return RelayCommand(RelayMode(mode), threshold)
    if template == TEMPLATE_REQUEST_PASSPORT:
        return PassportRequest()
    return CurrentRequest()
