"""Scenario faults on the Modbus devices (simulators/karat307.py, serial_line.py): an offline
unit does not answer at all, over TCP and over the RTU line, and answers again afterwards;
a drifting clock shows in the clock registers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from protocol import karat307 as regs
from protocol.periods import to_device_seconds, utc_to_local
from simulators.karat307 import Karat307, tcp_server
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.serial_line import NullModem, rtu_server
from simulators.world import SimClock, World, commissioning_utc
from tests.conftest import free_port


def _devices() -> list[Karat307]:
    scenario = Scenario(BuildingSpec(site="mb-faults", address="x", apartments=2), seed=4, start="2025-01-10T00:00")
    world = World(scenario, plan(scenario), commissioning_utc(scenario))
    clock = SimClock(world.commissioning + timedelta(days=10), 1.0)
    clock.freeze()
    return [Karat307(world, clock, 1), Karat307(world, clock, 2, serial="30600002", model_code=306)]


async def test_offline_unit_is_silent_over_tcp() -> None:
    devices = _devices()
    port = free_port()
    server = tcp_server(devices, "127.0.0.1", port)
    await server.serve_forever(background=True)
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    try:
        assert await client.connect()
        devices[0].offline = True
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(regs.REG_MODEL, count=1, device_id=1)
        other = await client.read_holding_registers(regs.REG_MODEL, count=1, device_id=2)
        assert other.registers == [306]
        devices[0].offline = False
        if not client.connected:  # pymodbus may drop the connection after a timeout
            assert await client.connect()
        back = await client.read_holding_registers(regs.REG_MODEL, count=1, device_id=1)
        assert back.registers == [307]
    finally:
        client.close()
        await server.shutdown()


async def test_offline_unit_is_silent_on_the_serial_line() -> None:
    devices = _devices()
    line = NullModem()
    line.start()
    by_unit = {d.unit: d for d in devices}
    server = rtu_server([d.sim_device() for d in devices], line, silent=lambda unit: by_unit[unit].offline)
    await server.serve_forever(background=True)
    client = AsyncModbusSerialClient(line.edge_port, baudrate=9600, timeout=1, retries=0)
    try:
        assert await client.connect()
        devices[1].offline = True
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(regs.REG_MODEL, count=1, device_id=2)
        devices[1].offline = False
        response = await client.read_holding_registers(regs.REG_MODEL, count=1, device_id=2)
        assert response.registers == [306]
    finally:
        client.close()
        await server.shutdown()
        line.close()


def test_a_drifting_clock_gains_time() -> None:
    device = _devices()[0]
    start = device.clock.now()
    device.set_drift(500.0, start - timedelta(days=2))  # drifting for two days: 86.4 s ahead
    ahead = (device.device_now() - utc_to_local(start, device.world.tz)).total_seconds()
    assert ahead == pytest.approx(2 * 86_400 * 500e-6, abs=0.01)
    device.set_clock(to_device_seconds(utc_to_local(start, device.world.tz)))
    assert abs(device.device_now() - utc_to_local(start, device.world.tz)) < timedelta(seconds=1)  # whole seconds
