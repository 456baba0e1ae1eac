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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

import paho.mqtt.client as mqtt
from chirpstack_api import integration
from google.protobuf import json_format

from protocol.periods import utc_to_local
from simulators.compact2 import Compact2, RadioCounters, down_topic
from simulators.faults import FaultSchedule
from simulators.karat307 import Karat307, tcp_server
from simulators.lora_device import LoraDevice
from simulators.lora_models import Radio929, make_device
from simulators.scenario import Scenario, plan
from simulators.serial_line import NullModem, rtu_server
from simulators.world import SimClock, World, commissioning_utc

log = logging.getLogger(__name__)


@dataclass
class SimState:
    commissioning: datetime
    sim_now: datetime
    last_sent_hour: int = -1
    radio: dict[str, RadioCounters] = field(default_factory=dict)  # by devEUI: fCnt survives restarts

    @classmethod
    def load_or_create(cls, path: Path, scenario: Scenario) -> SimState:
        if path.exists():
            raw = json.loads(path.read_text())
            radio = {eui: RadioCounters(**counters) for eui, counters in raw.get("radio", {}).items()}
            return cls(datetime.fromisoformat(raw["commissioning"]), datetime.fromisoformat(raw["sim_now"]),
                       raw["last_sent_hour"], radio)
        start = commissioning_utc(scenario)
        state = cls(start, start)
        state.save(path)
        return state

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"commissioning": self.commissioning.isoformat(),
                                   "sim_now": self.sim_now.isoformat(), "last_sent_hour": self.last_sent_hour,
                                   "radio": {eui: asdict(c) for eui, c in self.radio.items()}}))
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
        radio = self.state.radio
        self.apartment_meters = [
            Compact2(self.world, a, scenario.lora_application_id, radio.setdefault(a.dev_eui, RadioCounters()),
                     model=scenario.building.compact2_model)
            for a in self.plan.apartments]
        self.radio_devices: list[LoraDevice] = [
            make_device(self.world, d, scenario.lora_application_id, radio.setdefault(d.dev_eui, RadioCounters()))
            for d in self.plan.radio_devices]
        if scenario.building.karat929lw:
            eui = f"70b3d5e729{scenario.seed % 256:02x}0000"
            self.radio_devices.append(Radio929(self.world, self.heat_meter, eui, scenario.lora_application_id,
                                               radio.setdefault(eui, RadioCounters())))
        self.lora_devices: list[LoraDevice] = [*self.apartment_meters, *self.radio_devices]
        self._by_eui = {m.dev_eui: m for m in self.lora_devices}
        self.modbus_devices = [self.heat_meter]
        if scenario.building.karat306_unit:  # the hot-water heat input: about 30 % of the building's heat
            serial = f"306{scenario.seed % 100:02d}{scenario.building.karat306_unit:03d}"
            self.modbus_devices.append(Karat307(self.world, self.clock, scenario.building.karat306_unit, serial,
                                                model_code=306, share=0.3))
        self.pending: dict[str, list[integration.DownlinkCommand]] = {}  # queued downlinks by devEUI (class A)
        self.serial_line: NullModem | None = None  # opened by run() when the scenario has an RS-485 line
        self.faults = FaultSchedule(scenario.faults, scenario.seed, self.lora_devices, self.modbus_devices)
        self.faults.catch_up(self.state.last_sent_hour, self.world.hour_start)

    def enqueue_downlink(self, topic: str, payload: bytes) -> bool:
        """Queue a ``command/down`` message for its device; False (logged) when it is not one of ours."""
        try:
            command = json_format.Parse(payload, integration.DownlinkCommand(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            log.warning("event=downlink_unreadable topic=%s reason=%r", topic, str(exc))
            return False
        dev_eui = (command.dev_eui or topic.split("/")[3]).lower()
        if dev_eui not in self._by_eui:
            log.warning("event=downlink_unknown_device topic=%s dev_eui=%s", topic, dev_eui)
            return False
        self.pending.setdefault(dev_eui, []).append(command)
        return True

    def device_lines(self) -> list[dict]:
        e = self.endpoints
        lines = []
        for device in self.modbus_devices:
            model = f"KARAT-{device.model_code}"
            lines.append({"model": model, "serial": device.serial,
                          "endpoint": {"transport": "modbus-tcp", "host": e.host, "port": e.modbus_port,
                                       "unit": device.unit}})
            if self.serial_line is not None:  # the same device on its RS-485 port
                lines.append({"model": model, "serial": device.serial,
                              "endpoint": {"transport": "modbus-rtu", "port": self.serial_line.edge_port,
                                           "unit": device.unit, "baudrate": self.scenario.building.serial_baudrate}})
        lines += [{"model": m.MODEL, "serial": m.serial,
                   "endpoint": {"transport": "lorawan", "dev_eui": m.dev_eui, "topic": m.topic}}
                  for m in self.lora_devices]
        return lines

    def due_uplinks(self) -> list[tuple[str, str]]:
        """(topic, event JSON) for every hour that closed since the last call."""
        closed = self.world.hour_index(self.clock.now()) - 1
        out = []
        while self.state.last_sent_hour < closed:
            index = self.state.last_sent_hour + 1
            sent_at = self.world.hour_start(index + 1) + timedelta(seconds=7)
            out += self.faults.start_hour(index, self.world.hour_start(index) + timedelta(seconds=30))
            daily_status = utc_to_local(self.world.hour_start(index), self.world.tz).hour == 23
            for m in self.lora_devices:
                data = self.faults.uplink(m, index, m.hourly_payload(index))
                if data is None:
                    continue  # offline or lost on the air: the fCnt it used shows as a gap
                out.append((m.topic, m.up_event(index, sent_at, data)))
                if daily_status:  # the network server asks for the device status once a day
                    out.append(m.status_event(index, sent_at + timedelta(milliseconds=500)))
                for n, command in enumerate(self.pending.pop(m.dev_eui, [])):  # delivered in the RX window
                    out += m.handle_downlink(command, sent_at + timedelta(seconds=1 + 10 * n))
            self.state.last_sent_hour = index
        return out

    def checkpoint(self) -> None:
        self.state.sim_now = self.clock.now()
        self.state.save(self.state_path)

    async def run(self, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        server = tcp_server(self.modbus_devices, self.endpoints.host, self.endpoints.modbus_port)
        serve = asyncio.create_task(server.serve_forever())
        rtu = None
        if self.scenario.building.serial_line:
            self.serial_line = NullModem()
            self.serial_line.start()
            offline = {d.unit: d for d in self.modbus_devices}
            rtu = rtu_server([d.sim_device() for d in self.modbus_devices], self.serial_line,
                             self.scenario.building.serial_baudrate, silent=lambda unit: offline[unit].offline)
            await rtu.serve_forever(background=True)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{self.scenario.building.site}",
                             clean_session=False)
        client.max_queued_messages_set(0)  # unbounded: the network server keeps what it could not send
        unacked: set[int] = set()  # message ids the broker has not acknowledged yet
        client.on_publish = lambda _c, _u, mid, _rc, _p: unacked.discard(mid)
        loop = asyncio.get_running_loop()

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:  # paho's network thread
            loop.call_soon_threadsafe(self.enqueue_downlink, msg.topic, bytes(msg.payload))
        client.on_message = on_message
        client.on_connect = lambda c, _u, _f, rc, _p: None if rc.is_failure else c.subscribe(
            down_topic(self.scenario.lora_application_id), qos=1)
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
            if rtu is not None and self.serial_line is not None:
                await rtu.shutdown()
                self.serial_line.close()
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
