"""Modbus RTU on a serial line: two KARAT devices (307 and 306) share one RS-485 bus (a
pseudo-terminal pair, simulators/serial_line.py); the edge agent opens the bus once with
pyserial, polls both units strictly one request at a time, and stores every closed hour."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.agent import EdgeAgent
from edge.config import MeterConfig
from protocol.settings import ConfigError
from simulators.karat307 import Karat307
from simulators.serial_line import NullModem, rtu_server
from simulators.world import SimClock
from tests.chaos.edge_support import device_world, edge_config

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="pseudo-terminals need a POSIX system")
COMMISSIONED_HOURS = 6


async def test_two_units_on_one_bus_are_polled_through_one_port(tmp_path: Path) -> None:
    world = device_world(datetime(2026, 1, 15, 0, tzinfo=UTC))
    clock = SimClock(world.commissioning + timedelta(hours=COMMISSIONED_HOURS, minutes=30), 1.0)
    devices = [Karat307(world, clock, 1), Karat307(world, clock, 2, serial="30600002", model_code=306)]
    line = NullModem()
    line.start()
    server = rtu_server([d.sim_device() for d in devices], line, 19200)
    await server.serve_forever(background=True)
    commissioned = world.commissioning.isoformat()
    meters = [MeterConfig(serial=d.serial, model=f"KARAT-{d.model_code}", transport="modbus-rtu",
                          commissioned=commissioned, serial_port=line.edge_port, baudrate=19200, unit=d.unit)
              for d in devices]
    agent = EdgeAgent(edge_config(tmp_path, meters, nats_url="nats://127.0.0.1:1"))
    assert len(agent.links) == 1  # one bus, one port
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            stored = {serial: n for serial, n in agent.buffer.db.execute(
                "SELECT meter, count(DISTINCT period_start) FROM archive GROUP BY meter")}
            if all(stored.get(d.serial) == COMMISSIONED_HOURS for d in devices):
                break
            assert asyncio.get_running_loop().time() < deadline, f"stored so far: {stored}"
            await asyncio.sleep(0.2)
        # the values are each device's own: the 306 reports its own serial's counters, not the 307's
        q = {m: v for m, v in agent.buffer.db.execute(
            "SELECT meter, value FROM archive WHERE channel = 1 AND parameter = 'Q' AND period_start = "
            "(SELECT max(period_start) FROM archive)")}
        assert set(q) == {d.serial for d in devices}
    finally:
        stop.set()
        await task
        await server.shutdown()
        line.close()


async def test_a_bus_runs_at_one_baudrate(tmp_path: Path) -> None:
    meters = [MeterConfig(serial=s, model="KARAT-307", transport="modbus-rtu", commissioned="2026-01-01T00:00+00:00",
                          serial_port="/dev/ttyUSB0", baudrate=b, unit=u)
              for s, b, u in (("1", 9600, 1), ("2", 19200, 2))]
    with pytest.raises(ConfigError, match="another baudrate"):
        EdgeAgent(edge_config(tmp_path, meters))


def test_rtu_meter_needs_a_serial_port() -> None:
    with pytest.raises(ValueError, match="serial_port"):
        MeterConfig(serial="1", model="KARAT-307", transport="modbus-rtu", commissioned="2026-01-01T00:00+00:00")
