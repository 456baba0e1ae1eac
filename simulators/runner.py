"""Run a scenario: serve the Modbus devices, publish LoRaWAN uplinks as hours close, and
print one JSON line per device with its endpoint (DESIGN.md section 9).

State (commissioning time, simulated time reached, last hour sent) lives in
``<data-dir>/state.json`` so that a restarted simulator continues the same world.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

import paho.mqtt.client as mqtt

from simulators.compact2 import Compact2
from simulators.karat307 import Karat307, tcp_server
from simulators.scenario import Scenario, plan
from simulators.world import SimClock, World, commissioning_utc

log = logging.getLogger(__name__)


@dataclass
class SimState:
    commissioning: datetime
    sim_now: datetime
    last_sent_hour: int = -1

    @classmethod
    def load_or_create(cls, path: Path, scenario: Scenario) -> SimState:
        if path.exists():
            raw = json.loads(path.read_text())
            return cls(datetime.fromisoformat(raw["commissioning"]), datetime.fromisoformat(raw["sim_now"]),
                       raw["last_sent_hour"])
        start = commissioning_utc(scenario)
        state = cls(start, start)
        state.save(path)
        return state

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"commissioning": self.commissioning.isoformat(),
                                   "sim_now": self.sim_now.isoformat(), "last_sent_hour": self.last_sent_hour}))
        os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class Endpoints:
    host: str = "127.0.0.1"
    modbus_port: int = 5020
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883


class SimulatedBuilding:
    """One scenario's building with its devices, driven by one simulated clock."""

    def __init__(self, scenario: Scenario, data_dir: Path, endpoints: Endpoints) -> None:
        self.scenario = scenario
        self.endpoints = endpoints
        self.state_path = data_dir / "state.json"
        self.state = SimState.load_or_create(self.state_path, scenario)
        self.plan = plan(scenario)
        self.world = World(scenario, self.plan, self.state.commissioning)
        self.clock = SimClock(self.state.sim_now, scenario.speed)
        self.heat_meter = Karat307(self.world, self.clock, scenario.building.heat_meter_unit)
        self.apartment_meters = [Compact2(self.world, a, scenario.lora_application_id) for a in self.plan.apartments]

    def device_lines(self) -> list[dict]:
        e = self.endpoints
        lines = [{"model": "KARAT-307", "serial": self.heat_meter.serial,
                  "endpoint": {"transport": "modbus-tcp", "host": e.host, "port": e.modbus_port,
                               "unit": self.heat_meter.unit}}]
        lines += [{"model": "KARAT-Compact-2-223", "serial": m.apartment.meter_serial,
                   "endpoint": {"transport": "lorawan", "dev_eui": m.apartment.dev_eui, "topic": m.topic}}
                  for m in self.apartment_meters]
        return lines

    def due_uplinks(self) -> list[tuple[str, str]]:
        """(topic, event JSON) for every hour that closed since the last call."""
        closed = self.world.hour_index(self.clock.now()) - 1
        out = []
        while self.state.last_sent_hour < closed:
            index = self.state.last_sent_hour + 1
            sent_at = self.world.hour_start(index + 1) + timedelta(seconds=7)
            out += [(m.topic, m.up_event(index, sent_at)) for m in self.apartment_meters]
            self.state.last_sent_hour = index
        return out

    def checkpoint(self) -> None:
        self.state.sim_now = self.clock.now()
        self.state.save(self.state_path)

    async def run(self, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        server = tcp_server([self.heat_meter], self.endpoints.host, self.endpoints.modbus_port)
        serve = asyncio.create_task(server.serve_forever())
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{self.scenario.building.site}",
                             clean_session=False)
        client.max_queued_messages_set(0)  # unbounded: the network server keeps what it could not send
        unacked: set[int] = set()  # message ids the broker has not acknowledged yet
        client.on_publish = lambda _c, _u, mid, _rc, _p: unacked.discard(mid)
        client.connect_async(self.endpoints.mqtt_host, self.endpoints.mqtt_port)
        client.loop_start()
        for line in self.device_lines():
            print(json.dumps(line, ensure_ascii=False), file=out, flush=True)
        log.info("event=sim_started site=%s speed=%s sim_now=%s", self.scenario.building.site,
                 self.scenario.speed, self.clock.now().isoformat())
        try:
            ticks = 0
            while not stop.is_set():
                for topic, payload in self.due_uplinks():
                    # queued by paho while disconnected and sent on reconnect (QoS 1)
                    unacked.add(client.publish(topic, payload, qos=1).mid)
                ticks += 1
                if ticks % 10 == 0:
                    self.checkpoint()
                try:
                    await asyncio.wait_for(stop.wait(), 0.1)
                except TimeoutError:
                    pass
        finally:
            self.checkpoint()
            await _drain(unacked, 10.0)
            await server.shutdown()
            serve.cancel()
            client.loop_stop()
            client.disconnect()
            log.info("event=sim_stopped sim_now=%s last_hour=%d", self.state.sim_now.isoformat(),
                     self.state.last_sent_hour)


async def _drain(unacked: set[int], timeout: float) -> None:
    """Wait (bounded) for queued uplinks to reach the broker before stopping."""
    deadline = asyncio.get_running_loop().time() + timeout
    while unacked and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    if unacked:  # as on a real network server, uplinks it could not forward are gone
        log.warning("event=uplinks_unsent count=%d", len(unacked))
