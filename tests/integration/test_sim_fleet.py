"""A fleet scenario run by `domuchet sim` in one process: three buildings from one file, every
printed device reachable over its own transport (Modbus TCP per building, the RS-485 line of the
building that has one, each radio device's uplinks on the one MQTT broker), and two runs from
the same seed list the same devices and send the same first readings."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import signal
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

from protocol import karat307 as regs
from protocol import lorawan
from protocol.periods import to_device_seconds
from protocol.vocabulary import ArchiveKind
from simulators.scenario import load

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="pseudo-terminals need a POSIX system")

FLEET = """
seed = 30
speed = 3600          # an hour a wall second
start = "2026-01-15T00:00"

[[buildings]]
count = 2
site = "row"
address = "г. Казань, ул. Тестовая, д. 1"
apartments = 2
water_meters_926 = 1

[[buildings]]
site = "big"
address = "г. Казань, ул. Тестовая, д. 9"
apartments = 3
karat306_unit = 2
serial_line = true
karat929lw = true
"""
# 2 x (307 + 2 Compact-2 + 926LW) + (307 and 306 over TCP and RTU, 3 Compact-2, 929LW)
DEVICES = 16
HOUR0 = to_device_seconds(datetime(2026, 1, 15, 0, 0))  # device seconds of the first hour (local)


def _free_ports(count: int) -> int:
    """A first port with ``count`` free ports from it (the fleet serves building k on first + k)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + count > 65535:
            continue
        socks = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no run of free ports")


async def _modbus_reading(client: AsyncModbusTcpClient | AsyncModbusSerialClient, unit: int) -> tuple:
    """(model, serial) registers, and the record of the first hour after commissioning."""
    ident = await client.read_holding_registers(regs.REG_MODEL, count=3, device_id=unit)
    assert not ident.isError(), ident
    written = await client.write_registers(regs.REG_ARCHIVE_REQUEST, regs.encode_archive_request(ArchiveKind.HOUR,
                                                                                                 HOUR0), device_id=unit)
    assert not written.isError(), written
    record = await client.read_holding_registers(regs.REG_ARCHIVE_RECORD, count=regs.RECORD_LENGTH, device_id=unit)
    assert not record.isError(), record
    return ident.registers[0], regs.registers_to_u32(ident.registers[1:3]), tuple(record.registers)


async def _run_once(scenario: Path, data_dir: Path, first_port: int, mqtt_port: int) -> tuple[list[dict], dict]:
    """Start the fleet, reach every device, stop it: (device lines, first reading of each device)."""
    ups: queue.Queue = queue.Queue()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"qa-{data_dir.name}")
    subscribed = asyncio.Event()
    loop = asyncio.get_running_loop()
    listener.on_subscribe = lambda *_: loop.call_soon_threadsafe(subscribed.set)
    listener.on_connect = lambda c, *_: c.subscribe("application/+/device/+/event/up", qos=1)
    listener.on_message = lambda _c, _u, msg: ups.put(json.loads(msg.payload))
    listener.connect("127.0.0.1", mqtt_port)
    listener.loop_start()
    await asyncio.wait_for(subscribed.wait(), 30)
    proc = subprocess.Popen([sys.executable, "-m", "domuchet", "sim", "--scenario", str(scenario), "--data-dir",
                             str(data_dir), "--modbus-port", str(first_port), "--mqtt-port", str(mqtt_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [json.loads(await asyncio.to_thread(proc.stdout.readline)) for _ in range(DEVICES)]
        readings: dict[str, object] = {}
        # radio first: once hour 0's uplinks are out, hour 0 has closed on the calculators too
        radio = {line["endpoint"]["dev_eui"] for line in lines if line["endpoint"]["transport"] == "lorawan"}
        deadline = loop.time() + 60
        while not radio <= set(readings):
            assert loop.time() < deadline, f"no uplink yet from {sorted(radio - set(readings))}"
            try:
                up = await asyncio.to_thread(ups.get, True, 1.0)
            except queue.Empty:
                continue
            eui = up["deviceInfo"]["devEui"]
            if up["fCnt"] == 0 and up["fPort"] == lorawan.FPORT:  # the hourly uplink of hour 0
                readings[eui] = base64.b64decode(up["data"])
        for line in lines:
            e = line["endpoint"]
            if e["transport"] == "modbus-tcp":
                client: AsyncModbusTcpClient | AsyncModbusSerialClient = AsyncModbusTcpClient(
                    e["host"], port=e["port"], timeout=2, retries=3)
            elif e["transport"] == "modbus-rtu":
                client = AsyncModbusSerialClient(e["port"], baudrate=e["baudrate"], timeout=2, retries=3)
            else:
                continue
            for _ in range(100):  # the servers are up once the lines are printed; a retry covers a slow start
                if await client.connect():
                    break
                await asyncio.sleep(0.1)
            try:
                model, serial, record = await _modbus_reading(client, e["unit"])
            finally:
                client.close()
            assert (f"KARAT-{model}", str(serial)) == (line["model"], line["serial"])
            assert record[0] == regs.STATUS_OK
            readings[f"{line['serial']}/{e['transport']}"] = record
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        listener.loop_stop()
        listener.disconnect()
    assert code == 0
    return lines, readings


async def test_a_fleet_runs_from_one_process_and_is_reproducible(nats, tmp_path: Path) -> None:
    scenario = tmp_path / "three.toml"
    scenario.write_text(FLEET, encoding="utf-8")
    first_port = _free_ports(3)
    lines, readings = await _run_once(scenario, tmp_path / "run1", first_port, nats.mqtt_port)

    assert [line["building"] for line in lines].count("row-1") == 4
    assert {line["building"] for line in lines} == {"row-1", "row-2", "big"}
    tcp = [line for line in lines if line["endpoint"]["transport"] == "modbus-tcp"]
    assert {(line["building"], line["endpoint"]["port"]) for line in tcp} == {
        ("row-1", first_port), ("row-2", first_port + 1), ("big", first_port + 2)}
    assert [line["model"] for line in tcp if line["building"] == "big"] == ["KARAT-307", "KARAT-306"]
    rtu = [line for line in lines if line["endpoint"]["transport"] == "modbus-rtu"]
    assert [line["building"] for line in rtu] == ["big", "big"]
    radio = [line["endpoint"]["dev_eui"] for line in lines if line["endpoint"]["transport"] == "lorawan"]
    assert len(radio) == len(set(radio)) == 2 * 3 + 4
    assert len({line["serial"] for line in lines}) == 4 + 4 + 5  # the 929LW and the RTU lines repeat a serial
    assert len(readings) == len(radio) + len(tcp) + len(rtu)  # every device answered over its transport
    # the same calculator over TCP and over its serial line: the same record
    for line in rtu:
        assert readings[f"{line['serial']}/modbus-rtu"] == readings[f"{line['serial']}/modbus-tcp"]

    again_lines, again_readings = await _run_once(scenario, tmp_path / "run2", first_port, nats.mqtt_port)

    def same(line: dict) -> dict:  # a pseudo-terminal's path is the only thing a run may change
        return {**line, "endpoint": {k: v for k, v in line["endpoint"].items() if k != "port"}} \
            if line["endpoint"]["transport"] == "modbus-rtu" else line
    assert [same(x) for x in again_lines] == [same(x) for x in lines]
    assert again_readings == readings


def test_a_fleet_file_is_refused_where_one_building_is_expected(tmp_path: Path) -> None:
    scenario = tmp_path / "three.toml"
    scenario.write_text(FLEET, encoding="utf-8")
    with pytest.raises(ValueError, match="a fleet of 3 buildings"):
        load(scenario)
