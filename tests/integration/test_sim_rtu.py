"""Modbus RTU on a simulated RS-485 line (simulators/serial_line.py): pymodbus's serial server
on one side of a pseudo-terminal pair, read with pymodbus's serial client (pyserial) and with
hand-built RTU frames on the other side; two units share the bus, a missing unit is silent.
`domuchet sim`'s runner prints the line's /dev/pts/N endpoint when the scenario asks for it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
import serial
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusIOException

from protocol import karat307 as regs
from protocol.crc import crc16_modbus
from protocol.periods import period_start, to_device_seconds
from protocol.vocabulary import ArchiveKind
from simulators.karat307 import Karat307
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import BuildingSpec, Scenario, load, plan
from simulators.serial_line import NullModem, rtu_server
from simulators.world import SimClock, World, commissioning_utc
from tests.conftest import PLAIN, free_port

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="pseudo-terminals need a POSIX system")


@dataclass
class Bus:
    line: NullModem
    devices: list[Karat307]


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    scenario = Scenario(BuildingSpec(site="rtu-test", address="x", apartments=3), seed=5, start="2025-01-10T00:00")
    world = World(scenario, plan(scenario), commissioning_utc(scenario))
    clock = SimClock(world.commissioning + timedelta(days=50), 60.0)
    devices = [Karat307(world, clock, 1), Karat307(world, clock, 2, serial="30600002", model_code=306)]
    line = NullModem()
    line.start()
    server = rtu_server([d.sim_device() for d in devices], line, 9600)
    await server.serve_forever(background=True)
    try:
        yield Bus(line, devices)
    finally:
        await server.shutdown()
        line.close()


@pytest.fixture
async def client(bus: Bus) -> AsyncIterator[AsyncModbusSerialClient]:
    client = AsyncModbusSerialClient(bus.line.edge_port, baudrate=9600, timeout=1, retries=0)
    assert await client.connect()
    try:
        yield client
    finally:
        client.close()


async def test_two_units_answer_on_one_bus(bus: Bus, client: AsyncModbusSerialClient) -> None:
    assert bus.line.edge_port.startswith("/dev/")
    for device in bus.devices:
        response = await client.read_holding_registers(regs.REG_CLOCK, count=5, device_id=device.unit)
        assert not response.isError(), response
        assert response.registers[regs.REG_MODEL] == device.model_code
        assert regs.registers_to_u32(response.registers[3:5]) == int(device.serial)
        clock = regs.registers_to_u32(response.registers[0:2])
        assert abs(clock - to_device_seconds(device.device_now())) < 120


async def test_archive_record_and_exception_over_rtu(bus: Bus, client: AsyncModbusSerialClient) -> None:
    device = bus.devices[0]
    start = period_start(ArchiveKind.DAY, device.device_now()) - timedelta(days=3)
    period = to_device_seconds(start)
    write = await client.write_registers(regs.REG_ARCHIVE_REQUEST,
                                         regs.encode_archive_request(ArchiveKind.DAY, period), device_id=1)
    assert not write.isError(), write
    read = await client.read_holding_registers(regs.REG_ARCHIVE_RECORD, count=regs.RECORD_LENGTH, device_id=1)
    record = regs.decode_record(ArchiveKind.DAY, read.registers)
    assert record is not None
    assert record.period == period
    assert regs.encode_record(record) == device.record(ArchiveKind.DAY, period)
    too_old = to_device_seconds(start - timedelta(days=400))
    refused = await client.write_registers(regs.REG_ARCHIVE_REQUEST,
                                           regs.encode_archive_request(ArchiveKind.DAY, too_old), device_id=1)
    assert refused.isError()
    assert (refused.function_code, refused.exception_code) == (0x90, 3)


async def test_a_missing_unit_is_silent_and_the_bus_recovers(client: AsyncModbusSerialClient) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(regs.REG_MODEL, count=1, device_id=9)
    response = await client.read_holding_registers(regs.REG_MODEL, count=1, device_id=2)
    assert response.registers == [306]


def _rtu(unit: int, pdu: bytes) -> bytes:
    frame = bytes([unit]) + pdu
    return frame + struct.pack("<H", crc16_modbus(frame))


def _exchange(port: str, request: bytes, expect: int) -> bytes:
    with serial.Serial(port, 9600, timeout=2) as line:
        line.write(request)
        return line.read(expect)


async def test_hand_built_rtu_frames(bus: Bus) -> None:
    # FC 03, 3 registers at 0x0002 of unit 2: model and serial, framed by hand (Modbus over serial line, 2.5.1)
    request = _rtu(2, bytes([0x03, 0x00, 0x02, 0x00, 0x03]))
    answer = await asyncio.to_thread(_exchange, bus.line.edge_port, request, 11)
    assert answer == _rtu(2, bytes([0x03, 0x06]) + struct.pack(">HI", 306, 30600002))
    # FC 06 anywhere is refused with 0x86 02, CRC and all
    request = _rtu(1, bytes([0x06, 0x00, 0x00, 0x00, 0x01]))
    answer = await asyncio.to_thread(_exchange, bus.line.edge_port, request, 5)
    assert answer == _rtu(1, bytes([0x86, 0x02]))


async def test_runner_prints_the_serial_endpoint(tmp_path: Path) -> None:
    base = load("demo")
    scenario = replace(base, speed=60.0, start="2026-01-15T00:00",
                       building=replace(base.building, site="rtu-run", apartments=2, serial_line=True, **PLAIN))
    building = SimulatedBuilding(scenario, tmp_path / "sim", Endpoints(modbus_port=free_port(), mqtt_port=free_port()))
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(building.run(out, stop))
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while "modbus-rtu" not in out.getvalue():
            assert asyncio.get_running_loop().time() < deadline, out.getvalue()
            await asyncio.sleep(0.05)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        (rtu,) = [line for line in lines if line["endpoint"]["transport"] == "modbus-rtu"]
        assert rtu["model"] == "KARAT-307"
        assert rtu["endpoint"]["port"].startswith("/dev/")
        assert rtu["endpoint"]["unit"] == scenario.building.heat_meter_unit
        client = AsyncModbusSerialClient(rtu["endpoint"]["port"], baudrate=rtu["endpoint"]["baudrate"], timeout=1,
                                         retries=1)
        assert await client.connect()
        response = await client.read_holding_registers(regs.REG_SERIAL, count=2, device_id=rtu["endpoint"]["unit"])
        client.close()
        assert regs.registers_to_u32(response.registers) == int(scenario.building.heat_meter_serial)
    finally:
        stop.set()
        await task


@pytest.mark.parametrize(("pdu", "answer"), [
    pytest.param(struct.pack(">BHH", 0x03, 0, 126), bytes([0x83, 0x03]), id="fc03-quantity-126"),
    pytest.param(struct.pack(">BHH", 0x03, 0, 0), bytes([0x83, 0x03]), id="fc03-quantity-0"),
])
async def test_undecodable_rtu_request_answers_request_fc_plus_0x80(bus: Bus, pdu: bytes, answer: bytes) -> None:
    # (an unknown function code gets no answer over RTU: pymodbus's RTU framer cannot tell where
    # such a frame ends, where a device would use the 3.5-character silence; docs/protocols.md)
    reply = await asyncio.to_thread(_exchange, bus.line.edge_port, _rtu(1, pdu), 5)
    assert reply == _rtu(1, answer)
