"""LoRaWAN uplink templates for readings, events and the passport (KARAT radio devices, FPort 4).

Archive records keep their own templates on FPort 2 (protocol/lorawan.py); this module adds
current readings (counters and instantaneous values, answered to a reconciliation request),
events (integrity violation, interference, parameter limit, other; info/warning/alarm) and
the passport with the device status. First byte = template number, little-endian integers,
CRC-16/MODBUS at the end. Byte tables: docs/protocols.md section 5.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from protocol.crc import crc16_modbus
from protocol.errors import DecodeError

FPORT_DATA = 4

TEMPLATE_CURRENT = 0x01
TEMPLATE_EVENT = 0x05
TEMPLATE_PASSPORT = 0x06


@dataclass(frozen=True, slots=True)
class ParamCode:
    """How one parameter travels: its code byte, domain code, device unit -> domain unit scale."""

    number: int
    code: str
    scale: float
    signed: bool = False


# parameter code byte -> meaning; counters are unsigned, temperatures signed
PARAM_CODES: dict[int, ParamCode] = {p.number: p for p in (
    ParamCode(1, "Q", 1e-6),  # heat, kcal -> Gcal
    ParamCode(2, "V", 1e-3),  # volume, litres -> m3
    ParamCode(3, "E", 1e-3),  # active energy, Wh -> kWh
    ParamCode(4, "T1", 1e-2, signed=True),  # supply temperature, 0.01 degC
    ParamCode(5, "T2", 1e-2, signed=True),  # return temperature, 0.01 degC
    ParamCode(6, "P", 1.0),  # active power now, W
    ParamCode(7, "N", 1.0),  # pulse count of a pulse input
    ParamCode(8, "V1", 1e-3),  # supply pipe volume of a heat input, litres -> m3
    ParamCode(9, "V2", 1e-3),  # return pipe volume of a heat input, litres -> m3
)}
PARAM_NUMBERS = {p.code: p.number for p in PARAM_CODES.values()}


class Effect(IntEnum):
    """Event effect (manual 4.2.2)."""

    INTEGRITY = 1  # integrity violation: case opened, seal broken
    INTERFERENCE = 2  # interference: magnet, reverse flow
    LIMIT = 3  # parameter limit violation: leak, overload, temperature out of range
    OTHER = 4  # other controlled event: power loss, clock set, relay switched


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ALARM = 2


class Resource(IntEnum):
    """What a device channel measures, as the passport lists it."""

    NONE = 0
    HEAT = 1
    HOT_WATER = 2
    COLD_WATER = 3
    GAS = 4
    ELECTRICITY = 5
    PULSES = 6


# status bits of the passport
STATUS_CASE_OPEN = 1 << 0
STATUS_MAGNET = 1 << 1
STATUS_LOW_BATTERY = 1 << 2
STATUS_CLOCK_UNSET = 1 << 3
RELAY_ABSENT = 0xFF  # relay byte of a device without a load relay


@dataclass(frozen=True, slots=True)
class Reading:
    channel: int
    param: str  # domain code, a key of PARAM_NUMBERS
    raw: int  # in the device unit (see PARAM_CODES)

    @property
    def value(self) -> float:
        # divide by the unit count (1e-6 -> 1,000,000): the float nearest the decimal value, where
        # a product with 1e-6 may land a unit of the last place off (112345678 * 1e-6)
        scale = PARAM_CODES[PARAM_NUMBERS[self.param]].scale
        return self.raw / round(1 / scale) if scale < 1 else self.raw * scale


@dataclass(frozen=True, slots=True)
class CurrentReadings:
    device_time: int  # device seconds when measured
    readings: tuple[Reading, ...]
    flags: int = 0

    def values(self) -> dict[int, dict[str, float]]:
        out: dict[int, dict[str, float]] = {}
        for r in self.readings:
            out.setdefault(r.channel, {})[r.param] = r.value
        return out


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    device_time: int
    effect: Effect
    severity: Severity
    code: int  # device-specific event code (docs/protocols.md lists the simulators' codes)
    channel: int = 0  # 0: the device as a whole


@dataclass(frozen=True, slots=True)
class Passport:
    model: int  # model code: 307, 306, 2213, 2223, 926, 941, 927
    serial: int
    firmware: int  # major << 8 | minor
    verified: int  # verification date, device seconds of that local midnight
    device_time: int
    battery_pct: int  # 0-100; 100 for mains-powered devices
    status: int  # STATUS_* bits
    relay: int  # protocol.lorawan_down.RelayMode value (0 cut, 1 on, 2 limit), or RELAY_ABSENT
    threshold_w: int  # relay limit, 0 when none
    inputs: tuple[Resource, ...]  # resource of channel 1, 2, ...

    @property
    def firmware_text(self) -> str:
        return f"{self.firmware >> 8}.{self.firmware & 0xFF}"


Uplink = CurrentReadings | DeviceEvent | Passport

_CURRENT_HEAD = struct.Struct("<BIBB")  # template, device time, flags, count
_READING = struct.Struct("<BBI")  # channel, param code, value (u32, or i32 per PARAM_CODES)
_EVENT = struct.Struct("<BIBBHB")  # template, device time, effect, severity, code, channel
_PASSPORT_HEAD = struct.Struct("<BHIHIIBBBIB")  # ... relay, threshold, input count
MAX_READINGS = 32
READING_SIZE = _READING.size  # bytes of one (channel, parameter code, value) entry
MAX_INPUTS = 16


def _crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16_modbus(body))


def _raw(reading: Reading) -> int:
    number = PARAM_NUMBERS.get(reading.param)
    if number is None:
        raise ValueError(f"readings.param: unknown parameter {reading.param!r}")
    lo, hi = (-0x80000000, 0x7FFFFFFF) if PARAM_CODES[number].signed else (0, 0xFFFFFFFF)
    if not lo <= reading.raw <= hi:
        raise ValueError(f"readings.{reading.param}={reading.raw} does not fit its 32-bit field")
    return reading.raw & 0xFFFFFFFF


def encode_readings(readings: tuple[Reading, ...]) -> bytes:
    """The (channel, parameter code, value) list shared by current readings and channel archives."""
    if len(readings) > MAX_READINGS:
        raise ValueError(f"readings: at most {MAX_READINGS}, got {len(readings)}")
    return b"".join(_READING.pack(r.channel, PARAM_NUMBERS.get(r.param, 0), _raw(r)) for r in readings)


def decode_readings(body: bytes, offset: int, count: int) -> tuple[Reading, ...]:
    """``count`` readings from ``body`` at ``offset``; DecodeError names the one that is wrong."""
    readings = []
    for i in range(count):
        channel, number, raw = _READING.unpack_from(body, offset + i * _READING.size)
        param = PARAM_CODES.get(number)
        if param is None:
            raise DecodeError(f"readings[{i}].param", f"unknown parameter code {number}")
        if param.signed and raw & 0x80000000:
            raw -= 1 << 32
        readings.append(Reading(channel, param.code, raw))
    return tuple(readings)


def encode(frame: Uplink) -> bytes:
    """Bytes of one uplink (FPort 4)."""
    if isinstance(frame, CurrentReadings):
        readings = encode_readings(frame.readings)
        head = _CURRENT_HEAD.pack(TEMPLATE_CURRENT, frame.device_time, frame.flags, len(frame.readings))
        return _crc(head + readings)
    if isinstance(frame, DeviceEvent):
        return _crc(_EVENT.pack(TEMPLATE_EVENT, frame.device_time, int(frame.effect), int(frame.severity),
                                frame.code, frame.channel))
    if isinstance(frame, Passport):
        if len(frame.inputs) > MAX_INPUTS:
            raise ValueError(f"inputs: at most {MAX_INPUTS}, got {len(frame.inputs)}")
        body = _PASSPORT_HEAD.pack(TEMPLATE_PASSPORT, frame.model, frame.serial, frame.firmware, frame.verified,
                                   frame.device_time, frame.battery_pct, frame.status, frame.relay,
                                   frame.threshold_w, len(frame.inputs))
        return _crc(body + bytes(int(r) for r in frame.inputs))
    raise TypeError(f"not an uplink frame: {frame!r}")


def _checked(data: bytes, template: int, length: int) -> bytes:
    if len(data) != length:
        raise DecodeError("length", f"template 0x{template:02X} is {length} bytes here, got {len(data)}")
    body, (crc,) = data[:-2], struct.unpack("<H", data[-2:])
    if crc16_modbus(body) != crc:
        raise DecodeError("crc", f"CRC 0x{crc:04X} does not match 0x{crc16_modbus(body):04X}")
    return body


def decode(data: bytes) -> Uplink:
    """Decode one FPort 4 uplink, or raise DecodeError naming the field that is wrong."""
    if not data:
        raise DecodeError("template", "empty payload")
    template = data[0]
    if template == TEMPLATE_CURRENT:
        if len(data) < _CURRENT_HEAD.size + 2:
            raise DecodeError("length", f"template 0x01 needs at least {_CURRENT_HEAD.size + 2} bytes, got {len(data)}")
        count = data[_CURRENT_HEAD.size - 1]
        if count > MAX_READINGS:
            raise DecodeError("count", f"at most {MAX_READINGS} readings, got {count}")
        body = _checked(data, template, _CURRENT_HEAD.size + count * _READING.size + 2)
        _, device_time, flags, _ = _CURRENT_HEAD.unpack_from(body)
        return CurrentReadings(device_time, decode_readings(body, _CURRENT_HEAD.size, count), flags)
    if template == TEMPLATE_EVENT:
        _, device_time, effect, severity, code, channel = _EVENT.unpack(_checked(data, template, _EVENT.size + 2))
        if effect not in Effect._value2member_map_:
            raise DecodeError("effect", f"unknown event effect {effect}")
        if severity not in Severity._value2member_map_:
            raise DecodeError("severity", f"unknown event severity {severity}")
        return DeviceEvent(device_time, Effect(effect), Severity(severity), code, channel)
    if template == TEMPLATE_PASSPORT:
        if len(data) < _PASSPORT_HEAD.size + 2:
            raise DecodeError("length", f"template 0x06 needs at least {_PASSPORT_HEAD.size + 2} bytes, "
                                        f"got {len(data)}")
        count = data[_PASSPORT_HEAD.size - 1]
        if count > MAX_INPUTS:
            raise DecodeError("inputs", f"at most {MAX_INPUTS} inputs, got {count}")
        body = _checked(data, template, _PASSPORT_HEAD.size + count + 2)
        (_, model, serial, firmware, verified, device_time, battery, status, relay, threshold,
         _) = _PASSPORT_HEAD.unpack_from(body)
        if relay not in (0, 1, 2, RELAY_ABSENT):
            raise DecodeError("relay", f"unknown relay mode {relay}")
        if battery > 100:
            raise DecodeError("battery", f"battery level {battery} % is above 100")
        inputs = []
        for i, code in enumerate(body[_PASSPORT_HEAD.size:]):
            if code not in Resource._value2member_map_:
                raise DecodeError(f"inputs[{i}]", f"unknown resource code {code}")
            inputs.append(Resource(code))
        return Passport(model, serial, firmware, verified, device_time, battery, status, relay, threshold,
                        tuple(inputs))
    raise DecodeError("template", f"unknown uplink template 0x{template:02X} on FPort {FPORT_DATA}")
