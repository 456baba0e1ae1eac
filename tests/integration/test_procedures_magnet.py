"""The simulator's magnet (manual 4.5.5 "тест на доступность ПУ": the engineer wakes a LoRa
module): a passport request queued for a class A device waits for its next uplink; the magnet,
through the simulator's HTTP control server, makes the device uplink at once and answer it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import aiohttp
from chirpstack_api import integration

from protocol import lorawan_down
from simulators.runner import Endpoints, SimulatedBuilding, control_server
from simulators.scenario import load
from tests.conftest import PLAIN, free_port


def _building(tmp_path: Path) -> SimulatedBuilding:
    s = load("demo")
    scenario = replace(s, speed=3600.0, start="2026-01-15T00:00", lora_wakeup_s=0.0,
                       building=replace(s.building, apartments=2, site="magnet", **PLAIN))
    return SimulatedBuilding(scenario, tmp_path / "sim", Endpoints(modbus_port=free_port(), control_port=free_port()))


def _kinds(events: list[tuple[str, str]], dev_eui: str) -> list[str]:
    return [topic.rsplit("/", 1)[1] for topic, _ in events if f"/device/{dev_eui}/" in topic]


async def test_magnet_wakes_the_device_and_it_answers(tmp_path: Path) -> None:
    building = _building(tmp_path)
    device = building.apartment_meters[0]
    for _ in range(100):  # the simulated clock runs at 3600x: the first hour closes within a second
        if building.due_uplinks():
            break
        await asyncio.sleep(0.05)
    command = integration.DownlinkCommand(dev_eui=device.dev_eui, confirmed=False,
                                          f_port=lorawan_down.FPORT_COMMAND,
                                          data=lorawan_down.encode(lorawan_down.PassportRequest()))
    building.queue(device.dev_eui, command)
    building.checkpoint()
    # nothing wakes it by itself before its next hourly uplink
    before = [e for e in building.due_uplinks() if f"/device/{device.dev_eui}/" in e[0]
              and "wake" in e[1]]
    assert before == []
    runner = await control_server([building], "127.0.0.1", building.endpoints.control_port)
    try:
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{building.endpoints.control_port}"
            async with http.post(f"{base}/magnet/{device.serial}") as answer:
                assert answer.status == 200
                assert await answer.json() == {"woken": device.dev_eui}
            async with http.post(f"{base}/magnet/no-such-device") as answer:
                assert answer.status == 404
    finally:
        await runner.cleanup()
    woken = building.due_uplinks()
    kinds = _kinds(woken, device.dev_eui)
    # the woken uplink, then the downlink's txack and the device's answer (an uplink with its passport)
    assert kinds[0] == "up"
    assert "txack" in kinds
    assert kinds.count("up") >= 2
    assert building.pending.get(device.dev_eui) == []
    answer = json.loads(woken[-1][1])
    assert answer["deviceInfo"]["devEui"] == device.dev_eui
