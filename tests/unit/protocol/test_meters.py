"""protocol/meters.py: the meter spec, its one validating function and the list rules."""

from __future__ import annotations

import re
from typing import Any

import pytest

from protocol import catalogue, meters
from protocol.errors import DecodeError
from protocol.meters import MeterSpec, check_unique, meter_list, meter_spec
from protocol.vocabulary import ArchiveKind

TCP: dict[str, Any] = {"serial": "30700001", "model": "KARAT-307", "transport": "modbus-tcp",
                       "commissioned": "2026-01-10T03:00:00+03:00", "host": "10.0.0.5", "port": 502, "unit": 1}
RTU: dict[str, Any] = {"serial": "30600002", "model": "KARAT-306", "transport": "modbus-rtu",
                       "commissioned": "2026-01-10T00:00:00Z", "serial_port": "/dev/ttyUSB0", "unit": 2}
LORA: dict[str, Any] = {"serial": "223000003", "model": "KARAT-Compact-2-223", "transport": "lorawan",
                        "commissioned": "2026-01-10T00:00:00+00:00", "dev_eui": "70b3d5e75e2a0003"}


def test_a_minimal_entry_takes_the_documented_defaults() -> None:
    spec = meter_spec({k: LORA[k] for k in ("serial", "model", "transport", "commissioned", "dev_eui")})
    assert (spec.host, spec.port, spec.unit, spec.baudrate, spec.serial_port) == ("127.0.0.1", 502, 1, 9600, "")
    assert (spec.archive_kinds, spec.reporting_day) == (["hour"], 1)
    assert (spec.archive_depth_days, spec.daily_depth_days, spec.monthly_depth_days) == (0, 0, 0)


def test_depth_days_zero_means_the_catalogue_and_a_number_overrides_it() -> None:
    k307, compact = meter_spec(TCP), meter_spec(LORA)
    # docs/protocols.md section 2: a KARAT-307 keeps 45 days of hours (1080 periods / 24 = 45 days) and
    # 366 days, and no month archive; a Compact-2 keeps 60 months, counted 31 days each: 60 x 31 = 1860
    assert [k307.depth_days(k) for k in ArchiveKind] == [45, 366, 0]
    assert compact.depth_days(ArchiveKind.MONTH) == 1860
    own = meter_spec({**TCP, "archive_depth_days": 10, "daily_depth_days": 20, "monthly_depth_days": 3})
    assert [own.depth_days(k) for k in ArchiveKind] == [10, 20, 3]


def test_commissioned_keeps_its_offset() -> None:
    spec = meter_spec(TCP)
    assert spec.commissioned == "2026-01-10T03:00:00+03:00"
    assert spec.commissioned_at.timestamp() == meter_spec(LORA).commissioned_at.timestamp()  # 03:00 at +3 = 00:00 UTC
    assert meter_spec(RTU).commissioned_at.utcoffset().total_seconds() == 0  # "Z" is UTC


def test_as_dict_is_the_mapping_meter_spec_takes_back() -> None:
    for entry in (TCP, RTU, LORA):
        spec = meter_spec({**entry, "archive_kinds": ["hour", "day"]})
        assert meter_spec(spec.as_dict()) == spec
        assert spec.as_dict()["archive_kinds"] is not spec.archive_kinds  # a copy: the spec stays as it was


@pytest.mark.parametrize(("entry", "field", "reason"), [
    ({**TCP, "port": "502"}, "port", 'expected an integer 1..65535, got "502"'),
    ({**TCP, "port": True}, "port", "expected an integer 1..65535, got true"),  # a bool is not a port
    ({**TCP, "port": 502.0}, "port", "expected an integer 1..65535, got 502.0"),
    ({**TCP, "transport": "bogus"}, "transport", 'expected one of modbus-tcp, modbus-rtu, lorawan, got "bogus"'),
    ({**TCP, "transport": "lorawan", "dev_eui": "70b3d5e75e2a0009"}, "transport",
     "a KARAT-307 is reached by modbus-tcp or modbus-rtu, not lorawan"),
    ({**TCP, "serial": ""}, "serial", 'expected a non-empty serial number without spaces, got ""'),
    ({**TCP, "serial": "307 01"}, "serial", 'expected a non-empty serial number without spaces, got "307 01"'),
    ({**TCP, "model": 307}, "model", None),
    ({**TCP, "host": "10.0.0.5 "}, "host", None),
    ({**TCP, "baudrate": 9601}, "baudrate", None),
    ({**TCP, "archive_kinds": []}, "archive_kinds", None),
    ({**TCP, "archive_kinds": ["hour", "hour"]}, "archive_kinds", None),
    ({**TCP, "archive_kinds": "hour"}, "archive_kinds", None),
    ({**TCP, "archive_depth_days": -1}, "archive_depth_days", None),
    ({**TCP, "monthly_depth_days": 1.5}, "monthly_depth_days", None),
    ({**TCP, "dev_eui": "xyz"}, "dev_eui", None),  # not a LoRa meter, but not a DevEUI either
    ({**LORA, "dev_eui": None}, "dev_eui", "expected 16 hex digits, got null"),
    ({**RTU, "serial_port": " "}, "serial_port", None),
    ({**TCP, "commissioned": "2026-01-10"}, "commissioned", None),  # a date alone is a naive midnight
    ({**TCP, "commissioned": 1767999600}, "commissioned", None),
])
def test_a_bad_field_is_named(entry: dict[str, Any], field: str, reason: str | None) -> None:
    with pytest.raises(DecodeError) as caught:
        meter_spec(entry, "meters[4]")
    assert caught.value.field == f"meters[4].{field}"
    if reason is not None:
        assert caught.value.reason == reason


def test_entries_at_the_limits_are_taken() -> None:
    assert meter_spec({**TCP, "port": 1, "unit": 247, "reporting_day": 28}).unit == 247
    assert meter_spec({**TCP, "port": 65535, "unit": 1}).port == 65535  # 2**16 - 1
    assert meter_spec({**RTU, "baudrate": 115200}).baudrate == 115200
    assert meter_spec({**LORA, "dev_eui": "70B3D5E75E2A0003"}).dev_eui == "70B3D5E75E2A0003"


def test_the_shape_of_an_entry_is_checked_first() -> None:
    with pytest.raises(DecodeError, match=re.escape("meters[0]: expected a map of meter fields, got list")):
        meter_spec([], "meters[0]")
    with pytest.raises(DecodeError, match=re.escape("meters[0].commissioned: missing")):
        meter_spec({k: v for k, v in TCP.items() if k != "commissioned"}, "meters[0]")
    with pytest.raises(DecodeError, match=re.escape("meters[0].Port: unknown meter field")):
        meter_spec({**TCP, "Port": 502}, "meters[0]")
    with pytest.raises(DecodeError, match=re.escape("port: expected")):  # where "": the field alone
        meter_spec({**TCP, "port": 0}, "")


def test_transports_are_the_catalogues() -> None:
    for model in catalogue.MODELS.values():
        for transport in meters.TRANSPORTS:
            entry = {**TCP, "serial_port": "/dev/ttyUSB0", "dev_eui": "70b3d5e75e2a0003", "model": model.name,
                     "transport": transport}
            if transport in model.transports:
                assert meter_spec(entry).transport == transport
            else:
                with pytest.raises(DecodeError, match="transport"):
                    meter_spec(entry)


def test_a_spec_made_directly_runs_the_same_checks() -> None:
    with pytest.raises(DecodeError) as caught:
        MeterSpec(**{**TCP, "port": 70000})
    assert (caught.value.field, isinstance(caught.value, ValueError)) == ("port", True)
    assert {name for name, _check in meters._CHECKS} == set(meters.FIELDS)  # no field goes unchecked


def test_a_list_is_checked_entry_by_entry_then_as_a_whole() -> None:
    assert [m.serial for m in meter_list([TCP, RTU, LORA])] == ["30700001", "30600002", "223000003"]
    assert meter_list([]) == []  # a site with no meters left
    with pytest.raises(DecodeError, match=re.escape("args.meters: expected a list of meters, got dict")):
        meter_list({"meters": []}, "args.meters")
    with pytest.raises(DecodeError, match=re.escape("args.meters[1].unit:")):
        meter_list([TCP, {**RTU, "unit": 0}], "args.meters")


@pytest.mark.parametrize(("first", "second", "message"), [
    (TCP, {**RTU, "serial": "30700001"}, 'meters[1].serial: "30700001" is also meters[0]'),
    (TCP, {**TCP, "serial": "30700009"},
     "meters[1].unit: meter 30700009 has the Modbus address 10.0.0.5:502 #1 of meters[0] (meter 30700001)"),
    (LORA, {**LORA, "serial": "223000009", "dev_eui": "70B3D5E75E2A0003"},  # the same DevEUI in capitals
     "meters[1].dev_eui: meter 223000009 has the DevEUI 70b3d5e75e2a0003 of meters[0] (meter 223000003)"),
    (RTU, {**RTU, "serial": "30600009"},
     "meters[1].unit: meter 30600009 has the Modbus address /dev/ttyUSB0 #2 of meters[0] (meter 30600002)"),
])
def test_two_meters_may_not_share_a_serial_dev_eui_or_address(first: dict[str, Any], second: dict[str, Any],
                                                              message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        meter_list([first, second])
    assert str(caught.value) == message


def test_the_same_unit_on_another_bus_or_gateway_is_another_meter() -> None:
    specs = meter_list([TCP, {**TCP, "serial": "30700002", "port": 503}, {**TCP, "serial": "30700003", "unit": 2},
                        RTU, {**RTU, "serial": "30600003", "serial_port": "/dev/ttyUSB1"}])
    check_unique(specs)
    assert len(specs) == 5
