"""The edge's driver interface (edge/drivers/base.py, registry.py): transports load only when a
meter needs them, commands reach meters through their drivers only (a transport that cannot do
a command fails it with the reason), and status is built from the drivers' own view."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.agent import EdgeAgent
from edge.buffer import Buffer
from edge.commands import CommandRunner
from edge.config import MeterConfig
from edge.drivers.base import DeviceStatus, Driver, GapSummary, Unsupported
from edge.status import snapshot
from protocol.commands import Command, CommandType, encode_command
from tests.chaos.edge_support import edge_config

COMMISSIONED = "2026-01-07T21:00+00:00"
LORA = MeterConfig(serial="223000009", model="KARAT-Compact-2-223", transport="lorawan", commissioned=COMMISSIONED,
                   dev_eui="70b3d5e75e00c001")
TCP = MeterConfig(serial="30700001", model="KARAT-307", transport="modbus-tcp", commissioned=COMMISSIONED,
                  host="10.0.0.5", port=502, unit=2)
RTU = MeterConfig(serial="30600003", model="KARAT-306", transport="modbus-rtu", commissioned=COMMISSIONED,
                  serial_port="/dev/ttyUSB0", baudrate=19200, unit=3)

# a fresh interpreter with nothing but the agent (the tests' own helpers import the simulators)
_PROBE = """
import asyncio, json, sys
from pathlib import Path
from edge.agent import EdgeAgent
from edge.config import EdgeConfig, parse_meters

async def main():  # a Modbus client wants a running loop
    config = EdgeConfig(site="edge-test", time_zone="Europe/Moscow", data_dir=Path(sys.argv[1]), status_port=0,
                        meters=parse_meters(json.loads(sys.argv[2])))
    EdgeAgent(config).buffer.close()
asyncio.run(main())
print(json.dumps({m: m in sys.modules for m in ("pymodbus", "paho", "paho.mqtt.client")}))
"""


def _modules_loaded(tmp_path: Path, meters: list[MeterConfig]) -> dict[str, bool]:
    """Build an agent in a fresh interpreter and say which transport libraries it imported."""
    out = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path), json.dumps([m.as_dict() for m in meters])],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2], timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_edge_with_only_lora_meters_never_imports_pymodbus(tmp_path: Path) -> None:
    loaded = _modules_loaded(tmp_path, [LORA])
    assert loaded == {"pymodbus": False, "paho": True, "paho.mqtt.client": True}


def test_an_edge_with_only_modbus_meters_never_imports_paho(tmp_path: Path) -> None:
    loaded = _modules_loaded(tmp_path, [TCP, RTU])
    assert loaded == {"pymodbus": True, "paho": False, "paho.mqtt.client": False}


async def _run_one(runner: CommandRunner, command: Command) -> tuple[str, dict[str, object]]:
    """Accept, carry out and read back one command's final state and detail from its table."""
    accepted = runner.accept(encode_command(command), "test")
    assert accepted is not None
    runner.start(accepted)
    for _ in range(200):
        if runner.state(command.id) != "accepted":
            break
        await asyncio.sleep(0.01)
    state, detail = runner.db.execute("SELECT state, detail FROM commands WHERE id = ?", [command.id]).fetchone()
    return state, json.loads(detail)


async def test_a_relay_command_to_a_modbus_meter_fails_with_the_reason(tmp_path: Path) -> None:
    """No device is reached: a Modbus heat meter has no relay, so its driver refuses at once."""
    agent = EdgeAgent(edge_config(tmp_path, [TCP]))
    try:
        state, detail = await _run_one(agent.commands, Command(id="relay-1", site="edge-test", type=CommandType.RELAY,
                                                                args={"meter": TCP.serial, "on": False}))
    finally:
        agent.buffer.close()
    assert state == "failed"
    assert detail == {"reason": "meter: '30700001' (KARAT-307) has no relay the edge can switch"}


class _StubDriver:
    """A driver of a made-up transport that can only say it cannot: what the runner depends on."""

    def __init__(self, meter: MeterConfig) -> None:
        self.meter = meter
        self.asked: list[str] = []

    @property
    def endpoint(self) -> str:
        return "stub"

    def job(self) -> None:
        return None

    async def _no(self, what: str) -> dict[str, object]:
        self.asked.append(what)
        raise Unsupported(f"stub transport: no {what}", transport="stub")

    async def backfill(self, kind: object, first_utc: int, last_utc: int) -> dict[str, object]:
        return await self._no("backfill")

    async def time_sync(self, force: bool = False) -> dict[str, object]:
        return await self._no("clock")

    async def relay(self, on: bool, limit_w: int = 0) -> dict[str, object]:
        return await self._no("relay")

    async def availability(self) -> dict[str, object]:
        return {"available": True}

    async def read_current(self) -> dict[str, object]:
        return await self._no("current readings")

    def status(self, gaps: GapSummary) -> DeviceStatus:
        raise NotImplementedError


class _StubDrivers:
    def __init__(self, driver: Driver) -> None:
        self.one = driver

    def driver(self, serial: str) -> Driver | None:
        return self.one if serial == self.one.meter.serial else None

    def drivers(self) -> list[Driver]:
        return [self.one]

    def statuses(self) -> list[DeviceStatus]:
        return []

    def link_status(self) -> dict[str, object]:
        return {}


async def test_commands_reach_a_meter_only_through_its_driver(tmp_path: Path) -> None:
    """The runner works with any object of the Drivers protocol: no agent, no transport of its own."""
    stub = _StubDriver(TCP)
    buffer = Buffer(tmp_path / "buffer.db")

    async def no_push(_meters: list[MeterConfig]) -> dict[str, object]:
        raise AssertionError("no meter push in this test")
    runner = CommandRunner(_StubDrivers(stub), buffer, edge_config(tmp_path, [TCP]), no_push)
    try:
        assert await _run_one(runner, Command(id="c1", site="edge-test", type=CommandType.TIME_SYNC,
                                              args={"meter": TCP.serial})) == (
            "failed", {"reason": "stub transport: no clock", "transport": "stub"})
        assert await _run_one(runner, Command(id="c2", site="edge-test", type=CommandType.AVAILABILITY,
                                              args={"meter": TCP.serial})) == ("done", {"available": True})
        assert await _run_one(runner, Command(id="c3", site="edge-test", type=CommandType.READ_CURRENT,
                                              args={"meter": "nope"})) == (
            "failed", {"reason": "meter: 'nope' is not configured on this site"})
    finally:
        buffer.close()
    assert stub.asked == ["clock"]  # the unknown meter never reached the driver


async def test_status_shows_each_transport_by_its_drivers_endpoint(tmp_path: Path) -> None:
    """RTU: the serial port at its baud rate and the unit; TCP: host:port and unit; LoRa: devEUI.
    Nothing was read yet: no contact, no error, no gaps."""
    agent = EdgeAgent(edge_config(tmp_path, [TCP, RTU, LORA]))
    try:
        s = snapshot(agent)
    finally:
        agent.buffer.close()
    devices = {d["serial"]: d for d in s["devices"]}
    assert [d["serial"] for d in s["devices"]] == ["30700001", "30600003", "223000009"]  # the site's order
    assert devices["30600003"]["endpoint"] == "/dev/ttyUSB0@19200 #3"
    assert devices["30700001"]["endpoint"] == "10.0.0.5:502 #2"
    assert devices["223000009"]["endpoint"] == "70b3d5e75e00c001"
    for d in devices.values():
        assert (d["last_ok_at"], d["last_ok_age_s"], d["last_error"], d["open_gaps"], d["lost_periods"]) == (
            None, None, "", 0, 0)
    assert s["mqtt_connected"] is False  # the LoRa transport is loaded, its listener not yet connected


async def test_status_without_lora_meters_has_no_mqtt_link(tmp_path: Path) -> None:
    agent = EdgeAgent(edge_config(tmp_path, [TCP]))
    try:
        assert snapshot(agent)["mqtt_connected"] is None
    finally:
        agent.buffer.close()


def test_a_meter_of_an_unknown_transport_is_refused_by_name(tmp_path: Path) -> None:
    agent = EdgeAgent(edge_config(tmp_path, []))
    try:
        with pytest.raises(ValueError, match="no driver for transport 'zigbee'"):
            agent.drivers.transport("zigbee")
    finally:
        agent.buffer.close()


async def test_a_pushed_lora_meter_loads_the_lora_transport_live(tmp_path: Path) -> None:
    """A Modbus-only site gets its first LoRa meter by a push: the LoRa transport is loaded then,
    its meter gets a driver, and the Modbus meter keeps the poller it had."""
    agent = EdgeAgent(edge_config(tmp_path, [TCP]))
    try:
        poller = agent.drivers.driver(TCP.serial)
        assert agent.mqtt is None
        change = await agent.apply_meters([TCP, LORA])
        assert change == {"meters": 2, "added": [LORA.serial], "removed": [], "changed": []}
        assert agent.mqtt is not None
        assert agent.drivers.driver(TCP.serial) is poller
        lora = agent.drivers.driver(LORA.serial)
        assert lora is not None
        assert lora.endpoint == LORA.dev_eui
        assert [d.meter.serial for d in agent.drivers.drivers()] == [TCP.serial, LORA.serial]
    finally:
        agent.buffer.close()
