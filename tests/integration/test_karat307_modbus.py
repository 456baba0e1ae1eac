"""The simulated KARAT-307 on a real pymodbus TCP server (simulators/karat307.py), read with
pymodbus's own client and with hand-built MBAP frames: identity, clock, archive requests,
and the Modbus exception responses a real device gives (function code + 0x80)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ModbusPDU

from protocol import karat307 as regs
from protocol.periods import local_to_utc, next_period, period_start, to_device_seconds
from protocol.vocabulary import ArchiveKind
from simulators.karat307 import Karat307, tcp_server
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import SimClock, World, commissioning_utc

UNIT = 5
SERIAL = "30700777"
SPEED = 3600.0  # one simulated hour per wall second
AGE = timedelta(days=50)  # how long the device has been running when the test starts


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scenario() -> Scenario:
    spec = BuildingSpec(site="modbus-test", address="x", apartments=6, heat_meter_serial=SERIAL, heat_meter_unit=UNIT)
    return Scenario(spec, seed=17, start="2025-01-10T00:00")


def _world() -> World:
    scenario = _scenario()
    return World(scenario, plan(scenario), commissioning_utc(scenario))


@dataclass
class Running:
    device: Karat307
    port: int


@pytest.fixture
async def karat() -> AsyncIterator[Running]:
    world = _world()
    clock = SimClock(world.commissioning + AGE, SPEED)
    device = Karat307(world, clock, UNIT)
    port = _free_port()
    server = tcp_server([device], "127.0.0.1", port)
    await server.serve_forever(background=True)
    try:
        yield Running(device, port)
    finally:
        await server.shutdown()


@pytest.fixture
async def client(karat: Running) -> AsyncIterator[AsyncModbusTcpClient]:
    client = AsyncModbusTcpClient("127.0.0.1", port=karat.port, timeout=5, retries=0)
    assert await client.connect()
    try:
        yield client
    finally:
        client.close()


def _expected_record(kind: ArchiveKind, start_local: datetime) -> regs.Karat307Record:
    """What the device must answer, from an independent World with the same seed."""
    world = _world()
    end_index = world.hour_index(local_to_utc(next_period(kind, start_local), world.tz)) - 1
    counters = world.building_counters(end_index)
    supply, ret = world.supply_return(end_index)
    return regs.Karat307Record(
        kind=kind, period=to_device_seconds(start_local), heat_kcal=counters.heat_kcal,
        supply_litres=counters.carrier_litres, return_litres=round(counters.carrier_litres * 0.995),
        supply_temp_centi=round(supply * 100), return_temp_centi=round(ret * 100),
        hot_water_litres=counters.hot_litres, cold_water_litres=counters.cold_litres,
    )


async def _request(client: AsyncModbusTcpClient, kind: ArchiveKind, start_local: datetime) -> ModbusPDU:
    return await client.write_registers(
        regs.REG_ARCHIVE_REQUEST, regs.encode_archive_request(kind, to_device_seconds(start_local)), device_id=UNIT)


async def _read_record(client: AsyncModbusTcpClient, kind: ArchiveKind) -> regs.Karat307Record | None:
    response = await client.read_holding_registers(regs.REG_ARCHIVE_RECORD, count=regs.RECORD_LENGTH, device_id=UNIT)
    assert not response.isError(), response
    return regs.decode_record(kind, response.registers)


async def test_identity_and_clock(karat: Running, client: AsyncModbusTcpClient) -> None:
    before = to_device_seconds(karat.device.device_now())
    response = await client.read_holding_registers(regs.REG_CLOCK, count=5, device_id=UNIT)
    after = to_device_seconds(karat.device.device_now())
    assert not response.isError(), response
    clock, model, serial = response.registers[0:2], response.registers[2], response.registers[3:5]
    assert model == regs.MODEL_CODE == 307
    assert regs.registers_to_u32(serial) == int(SERIAL)
    assert before <= regs.registers_to_u32(clock) <= after + 1


async def test_clock_write_moves_the_device_clock(karat: Running, client: AsyncModbusTcpClient) -> None:
    ahead = to_device_seconds(karat.device.device_now()) + 7 * 86_400
    response = await client.write_registers(regs.REG_CLOCK, regs.u32_to_registers(ahead), device_id=UNIT)
    assert not response.isError(), response
    read = await client.read_holding_registers(regs.REG_CLOCK, count=2, device_id=UNIT)
    device_clock = regs.registers_to_u32(read.registers)
    assert ahead <= device_clock <= ahead + 60 * SPEED
    assert timedelta(days=6) < karat.device.clock_offset < timedelta(days=8)


async def test_hour_archive(karat: Running, client: AsyncModbusTcpClient) -> None:
    start = period_start(ArchiveKind.HOUR, karat.device.device_now() - timedelta(days=2))
    response = await _request(client, ArchiveKind.HOUR, start)
    assert not response.isError(), response
    record = await _read_record(client, ArchiveKind.HOUR)
    assert record is not None
    assert record == _expected_record(ArchiveKind.HOUR, start)
    assert record.heat_kcal > 0  # January: the heating is on


async def test_consecutive_hours_are_monotonic(karat: Running, client: AsyncModbusTcpClient) -> None:
    first = period_start(ArchiveKind.HOUR, karat.device.device_now() - timedelta(days=1))
    records = []
    for i in range(3):
        assert not (await _request(client, ArchiveKind.HOUR, first + timedelta(hours=i))).isError()
        records.append(await _read_record(client, ArchiveKind.HOUR))
    assert [r.period for r in records] == [to_device_seconds(first) + 3600 * i for i in range(3)]
    assert records[0].heat_kcal < records[1].heat_kcal < records[2].heat_kcal
    assert records[0].cold_water_litres <= records[1].cold_water_litres <= records[2].cold_water_litres


async def test_day_archive(karat: Running, client: AsyncModbusTcpClient) -> None:
    start = period_start(ArchiveKind.DAY, karat.device.device_now() - timedelta(days=10))
    assert not (await _request(client, ArchiveKind.DAY, start)).isError()
    assert await _read_record(client, ArchiveKind.DAY) == _expected_record(ArchiveKind.DAY, start)


async def test_open_period_answers_an_empty_record(karat: Running, client: AsyncModbusTcpClient) -> None:
    start = period_start(ArchiveKind.DAY, karat.device.device_now() + timedelta(days=3))
    assert not (await _request(client, ArchiveKind.DAY, start)).isError()
    response = await client.read_holding_registers(regs.REG_ARCHIVE_RECORD, count=regs.RECORD_LENGTH, device_id=UNIT)
    assert response.registers[0] == regs.STATUS_EMPTY
    assert regs.decode_record(ArchiveKind.DAY, response.registers) is None


@pytest.mark.parametrize(
    ("kind", "offset"),
    [
        pytest.param(ArchiveKind.HOUR, timedelta(days=46), id="hour-beyond-45-days"),
        pytest.param(ArchiveKind.HOUR, AGE + timedelta(days=1), id="hour-before-commissioning"),
        pytest.param(ArchiveKind.DAY, AGE + timedelta(days=2), id="day-before-commissioning"),
        pytest.param(ArchiveKind.MONTH, timedelta(days=10), id="no-month-archive"),
    ],
)
async def test_period_outside_the_archive_is_illegal_value(
    karat: Running, client: AsyncModbusTcpClient, kind: ArchiveKind, offset: timedelta,
) -> None:
    start = period_start(kind, karat.device.device_now() - offset)
    response = await _request(client, kind, start)
    assert response.isError()
    assert response.function_code == 0x90  # 16 + 0x80
    assert response.exception_code == 3  # illegal data value


async def test_request_not_on_a_period_boundary_is_illegal_value(karat: Running, client: AsyncModbusTcpClient) -> None:
    start = period_start(ArchiveKind.HOUR, karat.device.device_now() - timedelta(days=1)) + timedelta(minutes=30)
    response = await _request(client, ArchiveKind.HOUR, start)
    assert (response.function_code, response.exception_code) == (0x90, 3)


async def test_unknown_archive_kind_is_illegal_value(client: AsyncModbusTcpClient) -> None:
    response = await client.write_registers(regs.REG_ARCHIVE_REQUEST, [9, 0, 0], device_id=UNIT)
    assert (response.function_code, response.exception_code) == (0x90, 3)


async def test_writing_an_unknown_register_is_illegal_address(client: AsyncModbusTcpClient) -> None:
    response = await client.write_registers(0x0050, [1, 2], device_id=UNIT)
    assert (response.function_code, response.exception_code) == (0x90, 2)
    response = await client.write_register(regs.REG_MODEL, 1, device_id=UNIT)  # FC 06 on a read-only register
    assert (response.function_code, response.exception_code) == (0x86, 2)
    response = await client.write_registers(regs.REGISTER_COUNT, [1], device_id=UNIT)  # outside the map
    assert (response.function_code, response.exception_code) == (0x90, 2)
    read = await client.read_holding_registers(regs.REG_MODEL, count=1, device_id=UNIT)
    assert read.registers == [regs.MODEL_CODE]  # nothing was written


async def test_reading_outside_the_map_is_illegal_address(client: AsyncModbusTcpClient) -> None:
    response = await client.read_holding_registers(regs.REGISTER_COUNT - 1, count=2, device_id=UNIT)
    assert (response.function_code, response.exception_code) == (0x83, 2)


# Hand-built Modbus TCP: MBAP header (transaction id, protocol id 0, length of what follows,
# unit id) followed by the PDU (function code and its data), all big-endian.

_MBAP = struct.Struct(">HHHB")


async def _exchange(port: int, transaction: int, pdu: bytes) -> tuple[int, int, int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_MBAP.pack(transaction, 0, len(pdu) + 1, UNIT) + pdu)
        await writer.drain()
        header = await asyncio.wait_for(reader.readexactly(_MBAP.size), 5)
        tid, protocol, length, unit = _MBAP.unpack(header)
        body = await asyncio.wait_for(reader.readexactly(length - 1), 5)
        assert unit == UNIT
        return tid, protocol, length, body
    finally:
        writer.close()
        await writer.wait_closed()


async def test_raw_fc03_frame(karat: Running) -> None:
    request_pdu = struct.pack(">BHH", 0x03, regs.REG_MODEL, 3)  # model + serial
    frame = _MBAP.pack(0x1234, 0, len(request_pdu) + 1, UNIT) + request_pdu
    assert frame == bytes.fromhex("1234 0000 0006 05 03 0002 0003")

    tid, protocol, length, body = await _exchange(karat.port, 0x1234, request_pdu)
    assert (tid, protocol) == (0x1234, 0)
    assert length == 1 + 1 + 1 + 2 * 3  # unit, function code, byte count, 3 registers
    function_code, byte_count = body[0], body[1]
    assert (function_code, byte_count) == (0x03, 6)
    model, serial_hi, serial_lo = struct.unpack(">HHH", body[2:])
    assert model == 307
    assert (serial_hi << 16 | serial_lo) == int(SERIAL)


async def test_raw_fc16_exception_frame(karat: Running) -> None:
    old = period_start(ArchiveKind.HOUR, karat.device.device_now() - timedelta(days=46))
    values = regs.encode_archive_request(ArchiveKind.HOUR, to_device_seconds(old))
    request_pdu = struct.pack(">BHHB3H", 0x10, regs.REG_ARCHIVE_REQUEST, 3, 6, *values)
    tid, protocol, length, body = await _exchange(karat.port, 0xBEEF, request_pdu)
    assert (tid, protocol, length) == (0xBEEF, 0, 3)
    assert body == bytes([0x90, 0x03])  # function code 16 + 0x80, illegal data value


async def test_raw_archive_request_then_record_read(karat: Running) -> None:
    start = period_start(ArchiveKind.HOUR, karat.device.device_now() - timedelta(days=3))
    values = regs.encode_archive_request(ArchiveKind.HOUR, to_device_seconds(start))
    write = struct.pack(">BHHB3H", 0x10, regs.REG_ARCHIVE_REQUEST, 3, 6, *values)
    _, _, _, body = await _exchange(karat.port, 1, write)
    assert body == struct.pack(">BHH", 0x10, regs.REG_ARCHIVE_REQUEST, 3)  # echo of address and quantity
    read = struct.pack(">BHH", 0x03, regs.REG_ARCHIVE_RECORD, regs.RECORD_LENGTH)
    _, _, length, body = await _exchange(karat.port, 2, read)
    assert length == 3 + 2 * regs.RECORD_LENGTH
    assert body[:2] == bytes([0x03, 2 * regs.RECORD_LENGTH])
    registers = list(struct.unpack(f">{regs.RECORD_LENGTH}H", body[2:]))
    assert regs.decode_record(ArchiveKind.HOUR, registers) == _expected_record(ArchiveKind.HOUR, start)


# pymodbus's server answers a request it cannot decode with function code 0x80; the simulator
# rewrites that to what a device sends, the request's fc + 0x80 with 01 or 03 (DESIGN.md 3).

@pytest.mark.parametrize(
    ("pdu", "answer"),
    [
        pytest.param(bytes([0x41, 0x00]), bytes([0xC1, 0x01]), id="unknown-function-code"),
        pytest.param(struct.pack(">BHH", 0x03, 0, 0), bytes([0x83, 0x03]), id="fc03-quantity-0"),
        pytest.param(struct.pack(">BHH", 0x03, 0, 126), bytes([0x83, 0x03]), id="fc03-quantity-126"),
    ],
)
async def test_raw_undecodable_request_answers_request_fc_plus_0x80(karat: Running, pdu: bytes, answer: bytes) -> None:
    _, _, _, body = await _exchange(karat.port, 7, pdu)
    assert body == answer
