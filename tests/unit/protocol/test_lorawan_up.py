"""LoRaWAN uplink templates for readings, events and the passport (protocol/lorawan_up.py):
golden vectors checked by hand against docs/protocols.md section 5, round trips, and
malformed payloads rejected with DecodeError naming the field."""

from __future__ import annotations

import struct

import pytest

from protocol import lorawan_up as up
from protocol.crc import crc16_modbus
from protocol.errors import DecodeError

T = 0x66A1B2C3  # device seconds
CURRENT = up.CurrentReadings(T, (up.Reading(1, "Q", 1_234_567), up.Reading(1, "T1", -150)))
#   01 | c3b2a166 | 00 | 02 | 01 01 87d61200 | 01 04 6affffff | fc53
#   tpl| time     |flg |cnt | ch Q  1234567  | ch T1  -150    | CRC
CURRENT_HEX = "01 c3b2a166 00 02 01 01 87d61200 01 04 6affffff fc53"
EVENT = up.DeviceEvent(T, up.Effect.INTERFERENCE, up.Severity.ALARM, 0x0201, 2)
EVENT_HEX = "05 c3b2a166 02 02 0102 02 be5a"
PASSPORT = up.Passport(2223, 223_420_001, 0x0103, 0x65E0F800, T, 87, up.STATUS_MAGNET, up.RELAY_ABSENT, 0,
                       (up.Resource.HEAT, up.Resource.HOT_WATER, up.Resource.COLD_WATER))
#   06 | af08 | 611e510d  | 0301 | 00f8e065 | c3b2a166 | 57 | 02     | ff    | 00000000 | 03 | 01 02 03 | c749
#   tpl| 2223 | 223420001 | 1.3  | verified | clock    | 87%| magnet | relay | limit W  | n  | inputs   | CRC
PASSPORT_HEX = "06 af08 611e510d 0301 00f8e065 c3b2a166 57 02 ff 00000000 03 010203 c749"


@pytest.mark.parametrize(("frame", "hexed"), [(CURRENT, CURRENT_HEX), (EVENT, EVENT_HEX), (PASSPORT, PASSPORT_HEX)])
def test_golden_vectors(frame: up.Uplink, hexed: str) -> None:
    data = bytes.fromhex(hexed)
    assert up.encode(frame) == data
    assert up.decode(data) == frame
    assert int.from_bytes(data[-2:], "little") == crc16_modbus(data[:-2])


def test_values_in_domain_units() -> None:
    assert CURRENT.values() == {1: {"Q": 1.234567, "T1": -1.5}}
    # a register in device units becomes the float nearest the decimal value: 112,345,678 kcal is
    # 112.345678 Gcal (the product 112345678 * 1e-6 is 112.34567799999999, a unit of the last
    # place short), 1,001 l is 1.001 m3 (1001 * 1e-3 = 1.0010000000000001), -1,234 is -12.34 degC
    readings = [up.Reading(1, "Q", 112_345_678), up.Reading(1, "V1", 1_001), up.Reading(1, "T1", -1_234),
                up.Reading(2, "N", 77)]
    assert [repr(r.value) for r in readings] == ["112.345678", "1.001", "-12.34", "77.0"]
    assert PASSPORT.firmware_text == "1.3"
    assert up.FPORT_DATA == 4


@pytest.mark.parametrize("frame", [
    up.CurrentReadings(0, ()),
    up.CurrentReadings(T, tuple(up.Reading(c, p, v) for c, p, v in [
        (1, "E", 0xFFFFFFFF), (2, "E", 0), (3, "P", 12_000), (4, "N", 77), (5, "T2", -0x80000000),
        (6, "V", 5), (7, "T1", 0x7FFFFFFF)]), flags=3),
    *(up.DeviceEvent(T, e, s, 0xFFFF, 255) for e in up.Effect for s in up.Severity),
    up.Passport(941, 1, 0, 0, 0, 100, 0, 2, 3500, tuple(up.Resource)),
    up.Passport(927, 2, 0x0201, 0, 0, 0, 0xFF, 0, 0, ()),
])
def test_round_trip(frame: up.Uplink) -> None:
    assert up.decode(up.encode(frame)) == frame


@pytest.mark.parametrize("frame", [
    up.CurrentReadings(T, (up.Reading(1, "Q", -1),)),
    up.CurrentReadings(T, (up.Reading(1, "X", 1),)),
    up.CurrentReadings(T, (up.Reading(1, "T1", 2**31),)),
    up.CurrentReadings(T, tuple(up.Reading(1, "N", 1) for _ in range(up.MAX_READINGS + 1))),
])
def test_encode_refuses_what_does_not_fit(frame: up.Uplink) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        up.encode(frame)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16_modbus(body))


def _body(hexed: str) -> bytes:
    return bytes.fromhex(hexed)[:-2]


@pytest.mark.parametrize(("data", "field"), [
    (b"", "template"),
    (_with_crc(b"\x11"), "template"),  # archive templates travel on FPort 2
    (_with_crc(b"\x07"), "template"),
    (bytes.fromhex(CURRENT_HEX)[:5], "length"),
    (bytes.fromhex(CURRENT_HEX)[:-3], "length"),  # truncated inside a reading
    (bytes.fromhex(CURRENT_HEX) + b"\x00", "length"),
    (bytes.fromhex(EVENT_HEX)[:-1], "length"),
    (bytes.fromhex(PASSPORT_HEX)[:10], "length"),
    (bytes.fromhex(PASSPORT_HEX)[:-3], "length"),
    (bytes.fromhex(CURRENT_HEX)[:-1] + b"\x00", "crc"),
    (bytes.fromhex(EVENT_HEX)[:-1] + b"\x00", "crc"),
    (bytes.fromhex(PASSPORT_HEX)[:-1] + b"\x00", "crc"),
    (_with_crc(_body(CURRENT_HEX)[:6] + bytes([up.MAX_READINGS + 1])), "count"),
    (_with_crc(_body(CURRENT_HEX)[:8] + b"\x63" + _body(CURRENT_HEX)[9:]), "readings[0].param"),
    (_with_crc(_body(EVENT_HEX)[:5] + b"\x09" + _body(EVENT_HEX)[6:]), "effect"),
    (_with_crc(_body(EVENT_HEX)[:6] + b"\x03" + _body(EVENT_HEX)[7:]), "severity"),
    (_with_crc(_body(PASSPORT_HEX)[:17] + b"\x65" + _body(PASSPORT_HEX)[18:]), "battery"),
    (_with_crc(_body(PASSPORT_HEX)[:19] + b"\x07" + _body(PASSPORT_HEX)[20:]), "relay"),
    (_with_crc(_body(PASSPORT_HEX)[:-1] + b"\x09"), "inputs[2]"),
    (_with_crc(_body(PASSPORT_HEX)[:24] + bytes([up.MAX_INPUTS + 1])), "inputs"),
])
def test_malformed_payloads_name_the_field(data: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        up.decode(data)
    assert caught.value.field == field, caught.value
