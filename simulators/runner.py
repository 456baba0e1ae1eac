"""Run a scenario's building: serve its Modbus devices, publish LoRaWAN uplinks as hours close,
and print one JSON line per device with its endpoint (DESIGN.md section 9), and one per device
replaced by a scheduled fault. ``run_buildings`` drives one building or a whole fleet
(simulators/fleet.py) from one process, over one MQTT connection.

State (commissioning time, simulated time reached, last hour sent, radio frame counters, and
downlinks queued for class A devices but not yet delivered) lives in ``<data-dir>/state.json``
so that a restarted simulator continues the same world.

With ``Endpoints.control_port`` set, a small HTTP server takes an engineer's hand while the
simulator runs: ``POST /magnet/<DevEUI or serial>`` holds a magnet to a LoRa device (manual 4.5.5
"тест на доступность ПУ"), which wakes its radio module: it sends an uplink at once and takes one
queued downlink in that uplink's receive window.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import paho.mqtt.client as mqtt
from aiohttp import web
from chirpstack_api import integration
from google.protobuf import json_format

from protocol import lorawan
from protocol.periods import utc_to_local
from simulators.compact2 import Compact2, RadioCounters, down_topic
from simulators.faults import FaultSchedule, Replacement
from simulators.karat306 import Karat306
from simulators.karat307 import Karat307, tcp_server
from simulators.lora_device import LoraDevice
from simulators.lora_models import Radio929, make_device
from simulators.scenario import Scenario, plan
from simulators.serial_line import NullModem, rtu_server
from simulators.world import HOUR, SimClock, World, commissioning_utc, wall_clock

log = logging.getLogger(__name__)


@dataclass
class SimState:
    commissioning: datetime
    sim_now: datetime
    last_sent_hour: int = -1
    radio: dict[str, RadioCounters] = field(default_factory=dict)  # by devEUI: fCnt survives restarts
    # downlinks enqueued but not yet delivered (class A: after the device's next uplink), by devEUI
    pending: dict[str, list[integration.DownlinkCommand]] = field(default_factory=dict)

    @classmethod
    def load_or_create(cls, path: Path, scenario: Scenario) -> SimState:
        if path.exists():
            raw = json.loads(path.read_text())
            radio = {eui: RadioCounters(**counters) for eui, counters in raw.get("radio", {}).items()}
            pending = {eui: [json_format.ParseDict(c, integration.DownlinkCommand()) for c in commands]
                       for eui, commands in raw.get("pending", {}).items()}
            return cls(datetime.fromisoformat(raw["commissioning"]), datetime.fromisoformat(raw["sim_now"]),
                       raw["last_sent_hour"], radio, pending)
        state = cls.fresh(scenario)
        state.save(path)
        return state

    @classmethod
    def fresh(cls, scenario: Scenario, wall_now: datetime | None = None) -> SimState:
        """A new building's state. ``past = "replay"``: simulated time starts at commissioning and
        every hour since is sent as it closes. ``past = "archives"``: it starts at the wall clock with
        every hour but the last closed one counted as sent: the devices hold that time in their
        archives (they are pure functions of the hour) and the edge backfills it; the last closed
        hour goes out at once, so the edge hears every device and learns its clock."""
        wall_now = wall_now or datetime.now(UTC)
        start = commissioning_utc(scenario, wall_now)
        if scenario.past == "replay" or wall_now <= start:
            return cls(start, start)
        closed = math.floor((wall_now - start).total_seconds() / HOUR) - 1  # the last hour that has ended
        return cls(start, wall_now, last_sent_hour=closed - 1)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        pending = {eui: [json_format.MessageToDict(c) for c in commands]
                   for eui, commands in self.pending.items() if commands}
        tmp.write_text(json.dumps({"commissioning": self.commissioning.isoformat(),
                                   "sim_now": self.sim_now.isoformat(), "last_sent_hour": self.last_sent_hour,
                                   "radio": {eui: asdict(c) for eui, c in self.radio.items()},
                                   "pending": pending}))
        os.replace(tmp, path)


def parse_downlink(topic: str, payload: bytes) -> tuple[str, integration.DownlinkCommand] | None:
    """(devEUI, command) of a ``command/down`` message; None (logged) when it is unreadable."""
    try:
        command = json_format.Parse(payload, integration.DownlinkCommand(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        log.warning("event=downlink_unreadable topic=%s reason=%r", topic, str(exc))
        return None
    parts = topic.split("/")
    return (command.dev_eui or (parts[3] if len(parts) > 3 else "")).lower(), command


@dataclass(frozen=True, slots=True)
class Endpoints:
    host: str = "127.0.0.1"
    modbus_port: int = 5020
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_user: str = ""  # the network server's MQTT user on a broker with accounts; empty: anonymous
    mqtt_password: str = ""
    control_port: int = 0  # the HTTP control server's port (POST /magnet/<device>); 0: none


class SimulatedBuilding:
    """One scenario's building with its devices, driven by one simulated clock."""

    def __init__(self, scenario: Scenario, data_dir: Path, endpoints: Endpoints, check_faults: bool = True) -> None:
        self.scenario = scenario
        self.endpoints = endpoints
        self.state_path = data_dir / "state.json"
        self.state = SimState.load_or_create(self.state_path, scenario)
        self.plan = plan(scenario)
        self.world = World(scenario, self.plan, self.state.commissioning)
        # replays the time the simulator was stopped at ``speed``, then keeps to the wall clock
        self.clock = SimClock(self.state.sim_now, scenario.speed, cap=wall_clock)
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
        self.modbus_devices: list[Karat307] = [self.heat_meter]
        if scenario.building.karat306_unit:  # the hot-water heat input (simulators/karat306.py)
            serial = f"306{scenario.seed % 100:02d}{scenario.building.karat306_unit:03d}"
            self.modbus_devices.append(Karat306(self.world, self.clock, scenario.building.karat306_unit, serial))
        self.pending = self.state.pending  # queued downlinks by devEUI (class A), kept in the state file
        self.serial_line: NullModem | None = None  # opened by run() when the scenario has an RS-485 line
        self.faults = FaultSchedule(scenario.faults, scenario.seed, self.lora_devices, self.modbus_devices,
                                    radio, check_devices=check_faults)
        self.faults.catch_up(self.state.last_sent_hour, self.world.hour_start)
        self.faults.replacements.clear()  # announced by the run that made them
        self._by_eui = {m.dev_eui: m for m in self.lora_devices}
        for gone in [eui for eui in self.pending if eui not in self._by_eui]:  # replaced before the restart
            log.warning("event=downlinks_dropped dev_eui=%s count=%d reason=device_replaced", gone,
                        len(self.pending.pop(gone)))
        self.announcements: list[dict] = []  # JSON lines to print (device replacements)
        self.dirty = False  # the state changed between checkpoints (a downlink was queued)
        self._wake_at: dict[str, float] = {}  # devEUI -> monotonic time of its next wake-up uplink
        self._magnet: list[str] = []  # devEUIs woken by a magnet, uplinking at the next tick
        self._transports: list[Callable[[], Awaitable[None]]] = []

    def owns(self, dev_eui: str) -> bool:
        return dev_eui in self._by_eui

    def magnet(self, device: str) -> str | None:
        """Hold a magnet to a LoRa device given by DevEUI or serial: its radio module wakes and uplinks
        at the next tick (``due_uplinks``), taking one queued downlink. Its DevEUI, or None when it is
        not a radio device of this building."""
        found = self._by_eui.get(device.lower()) or next((d for d in self.lora_devices if d.serial == device), None)
        if found is None:
            return None
        if found.dev_eui not in self._magnet:
            self._magnet.append(found.dev_eui)
        log.info("event=magnet dev_eui=%s serial=%s", found.dev_eui, found.serial)
        return found.dev_eui

    def _magnet_wakes(self) -> list[tuple[str, str]]:
        """The uplinks of the devices woken by a magnet (their latest hourly record again), each with
        the answers to one queued downlink delivered in its receive window."""
        index = self.state.last_sent_hour
        out: list[tuple[str, str]] = []
        while self._magnet and index >= 0:
            device = self._by_eui[self._magnet.pop(0)]
            if self.faults.off_air(device, index):
                log.info("event=magnet_no_uplink dev_eui=%s reason=off_air", device.dev_eui)
                continue
            at = self.clock.now() - timedelta(seconds=5)
            out.append((device.topic, device.extra_uplink(device.hourly_payload(index), lorawan.FPORT, at,
                                                          f"magnet:{device.counters.down}")))
            commands = self.pending.get(device.dev_eui)
            if commands:
                out += device.handle_downlink(commands.pop(0), at + timedelta(seconds=1), answer_spacing_s=0.05)
                self.dirty = True
        return out

    def enqueue_downlink(self, topic: str, payload: bytes) -> bool:
        """Queue a ``command/down`` message for its device; False (logged) when it is not one of ours."""
        parsed = parse_downlink(topic, payload)
        if parsed is None:
            return False
        dev_eui, command = parsed
        if dev_eui not in self._by_eui:
            log.warning("event=downlink_unknown_device topic=%s dev_eui=%s", topic, dev_eui)
            return False
        self.queue(dev_eui, command)
        return True

    def queue(self, dev_eui: str, command: integration.DownlinkCommand) -> None:
        """Keep a downlink for delivery after the device's next uplink (saved at the next checkpoint)."""
        self.pending.setdefault(dev_eui, []).append(command)
        self.dirty = True

    def device_line(self, device: Karat307 | LoraDevice, transport: str = "") -> dict:
        """One device's JSON line (DESIGN.md section 9) with the building it belongs to."""
        site = self.scenario.building.site
        if isinstance(device, LoraDevice):
            return {"model": device.MODEL, "serial": device.serial, "building": site,
                    "endpoint": {"transport": "lorawan", "dev_eui": device.dev_eui, "topic": device.topic}}
        model = f"KARAT-{device.model_code}"
        if transport == "modbus-rtu" and self.serial_line is not None:
            return {"model": model, "serial": device.serial, "building": site,
                    "endpoint": {"transport": "modbus-rtu", "port": self.serial_line.edge_port,
                                 "unit": device.unit, "baudrate": self.scenario.building.serial_baudrate}}
        return {"model": model, "serial": device.serial, "building": site,
                "endpoint": {"transport": "modbus-tcp", "host": self.endpoints.host,
                             "port": self.endpoints.modbus_port, "unit": device.unit}}

    def device_lines(self) -> list[dict]:
        lines = []
        for device in self.modbus_devices:
            lines.append(self.device_line(device))
            if self.serial_line is not None:  # the same device on its RS-485 port
                lines.append(self.device_line(device, "modbus-rtu"))
        return lines + [self.device_line(m) for m in self.lora_devices]

    def _announce(self, replacement: Replacement) -> None:
        """A device was replaced: retarget downlinks, and say so in one JSON line (old and new identity)."""
        device = replacement.device
        old = {"serial": replacement.old_serial}
        if isinstance(device, LoraDevice):
            self._by_eui = {m.dev_eui: m for m in self.lora_devices}
            old["dev_eui"] = replacement.old_dev_eui
            dropped = self.pending.pop(replacement.old_dev_eui, [])
            if dropped:  # the network server drops the old device's queue with the device
                log.warning("event=downlinks_dropped dev_eui=%s count=%d reason=device_replaced",
                            replacement.old_dev_eui, len(dropped))
        new = [self.device_line(device)]
        if not isinstance(device, LoraDevice) and self.serial_line is not None:
            new.append(self.device_line(device, "modbus-rtu"))
        self.announcements.append({"event": "replacement", "building": self.scenario.building.site,
                                   "hour": replacement.index, "at": replacement.at.isoformat(),
                                   "model": new[0]["model"], "old": old, "new": new})
        log.info("event=device_replaced building=%s old=%s new=%s hour=%d", self.scenario.building.site,
                 replacement.old_serial, device.serial, replacement.index)

    def due_uplinks(self) -> list[tuple[str, str]]:
        """(topic, event JSON) for every hour that closed since the last call."""
        closed = self.world.hour_index(self.clock.now()) - 1
        out = []
        while self.state.last_sent_hour < closed:
            index = self.state.last_sent_hour + 1
            sent_at = self.world.hour_start(index + 1) + timedelta(seconds=7)
            out += self.faults.start_hour(index, self.world.hour_start(index) + timedelta(seconds=30))
            for replacement in self.faults.replacements:
                self._announce(replacement)
            self.faults.replacements.clear()
            daily_status = utc_to_local(self.world.hour_start(index), self.world.tz).hour == 23
            for m in self.lora_devices:
                data = self.faults.uplink(m, index, m.hourly_payload(index))
                if data is None:
                    continue  # offline or lost on the air: the fCnt it used shows as a gap
                out.append((m.topic, m.up_event(index, sent_at, data)))
                if daily_status:  # the network server asks for the device status once a day
                    out.append(m.status_event(index, sent_at + timedelta(milliseconds=500)))
                if self.pending.get(m.dev_eui):
                    self.dirty = True
                    for n, command in enumerate(self.pending.pop(m.dev_eui)):  # delivered in the RX window
                        out += m.handle_downlink(command, sent_at + timedelta(seconds=1 + 10 * n))
            self.state.last_sent_hour = index
        if self._magnet:
            out += self._magnet_wakes()
        if self.scenario.lora_wakeup_s > 0:
            out += self._wake_ups()
        return out

    def _wake_ups(self) -> list[tuple[str, str]]:
        """Devices with downlinks queued for ``lora_wakeup_s`` wall seconds send an uplink (their
        latest hourly record again, as a device on a short uplink interval does) and take one
        downlink in its receive window. Timed a few seconds back, so that even the answers to an
        archive request (one uplink per record, 0.05 s apart) are no later than the clock."""
        now, index = time.monotonic(), self.state.last_sent_hour
        out: list[tuple[str, str]] = []
        for eui in [e for e in self._wake_at if not self.pending.get(e)]:
            del self._wake_at[eui]
        for eui, commands in self.pending.items():
            if not commands or index < 0:
                continue
            due = self._wake_at.setdefault(eui, now + self.scenario.lora_wakeup_s)
            if now < due:
                continue
            self._wake_at[eui] = now + self.scenario.lora_wakeup_s
            device = self._by_eui[eui]
            if self.faults.off_air(device, index):
                continue  # the downlink waits until the device is back
            data = device.hourly_payload(index)
            at = self.clock.now() - timedelta(seconds=5)
            out.append((device.topic, device.extra_uplink(data, lorawan.FPORT, at, f"wake:{device.counters.down}")))
            out += device.handle_downlink(commands.pop(0), at + timedelta(seconds=1), answer_spacing_s=0.05)
            self.dirty = True
        return out

    def take_announcements(self) -> list[dict]:
        out, self.announcements = self.announcements, []
        return out

    def checkpoint(self) -> None:
        self.state.sim_now = self.clock.now()
        self.state.save(self.state_path)
        self.dirty = False

    async def open_transports(self) -> None:
        """Serve the Modbus devices over TCP, and on an RS-485 line (a pty pair) when configured."""
        host, port = self.endpoints.host, self.endpoints.modbus_port
        server = tcp_server(self.modbus_devices, host, port)
        try:  # listening before it returns: a port in use stops the simulator, not one building silently
            await server.serve_forever(background=True)
        except RuntimeError as exc:
            raise OSError(f"building {self.scenario.building.site}: Modbus TCP {host}:{port}: cannot listen "
                          f"(is the port in use?): {exc}") from exc
        self._transports.append(server.shutdown)
        if self.scenario.building.serial_line:
            line = self.serial_line = NullModem()
            line.start()
            offline = {d.unit: d for d in self.modbus_devices}
            rtu = rtu_server([d.sim_device() for d in self.modbus_devices], line,
                             self.scenario.building.serial_baudrate, silent=lambda unit: offline[unit].offline)
            await rtu.serve_forever(background=True)

            async def close_rtu() -> None:
                await rtu.shutdown()
                line.close()
            self._transports.append(close_rtu)

    async def close_transports(self) -> None:
        while self._transports:
            await self._transports.pop()()

    async def run(self, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> None:
        await run_buildings([self], out, stop, client_id=f"sim-{self.scenario.building.site}")


async def run_buildings(buildings: list[SimulatedBuilding], out: TextIO = sys.stdout,
                        stop: asyncio.Event | None = None, client_id: str = "sim") -> None:
    """Run buildings side by side from one process: their Modbus servers and serial lines, one MQTT
    connection for every radio device (uplinks out, downlinks routed to the device's building),
    one JSON line per device on ``out`` at the start and one per replacement as it happens."""
    stop = stop or asyncio.Event()
    endpoints = buildings[0].endpoints
    control: web.AppRunner | None = None
    try:
        for b in buildings:
            await b.open_transports()
        if endpoints.control_port:
            control = await control_server(buildings, endpoints.host, endpoints.control_port)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if endpoints.mqtt_user:
            client.username_pw_set(endpoints.mqtt_user, endpoints.mqtt_password)
        client.max_queued_messages_set(0)  # unbounded: the network server keeps what it could not send
        client.reconnect_delay_set(min_delay=0.5, max_delay=5)  # a busy broker: try again soon, not in minutes
        unacked: set[int] = set()  # message ids the broker has not acknowledged yet
        client.on_publish = lambda _c, _u, mid, _rc, _p: unacked.discard(mid)
        loop = asyncio.get_running_loop()

        def route(topic: str, payload: bytes) -> None:
            parsed = parse_downlink(topic, payload)
            if parsed is None:
                return
            owner = next((b for b in buildings if b.owns(parsed[0])), None)
            if owner is None:
                log.warning("event=downlink_unknown_device topic=%s dev_eui=%s", topic, parsed[0])
                return
            owner.queue(*parsed)

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:  # paho's network thread
            loop.call_soon_threadsafe(route, msg.topic, bytes(msg.payload))
        applications = sorted({b.scenario.lora_application_id for b in buildings})
        client.on_message = on_message

        def on_connect(c: mqtt.Client, _u: object, _f: object, rc: mqtt.ReasonCode, _p: object) -> None:
            if rc.is_failure:
                log.warning("event=mqtt_connect_failed reason=%s", rc)
                return
            c.subscribe([(down_topic(app), 1) for app in applications])
        client.on_connect = on_connect
        client.on_disconnect = lambda _c, _u, _f, rc, _p: log.log(
            logging.WARNING if rc.is_failure else logging.INFO, "event=mqtt_disconnected reason=%s", rc)
        client.connect_async(endpoints.mqtt_host, endpoints.mqtt_port)
        client.loop_start()
        for b in buildings:
            for line in b.device_lines():
                print(json.dumps(line, ensure_ascii=False), file=out, flush=True)
        log.info("event=sim_started buildings=%d sites=%s speed=%s sim_now=%s", len(buildings),
                 ",".join(b.scenario.building.site for b in buildings[:5]) + ("..." if len(buildings) > 5 else ""),
                 buildings[0].scenario.speed, buildings[0].clock.now().isoformat())
        try:
            ticks = 0
            while not stop.is_set():
                ticks += 1
                for b in buildings:
                    for topic, payload in b.due_uplinks():
                        # queued by paho while disconnected and sent on reconnect (QoS 1)
                        unacked.add(client.publish(topic, payload, qos=1).mid)
                    for line in b.take_announcements():
                        print(json.dumps(line, ensure_ascii=False), file=out, flush=True)
                    if b.dirty or ticks % 10 == 0:
                        b.checkpoint()
                    await asyncio.sleep(0)  # the Modbus servers answer between buildings, not after the fleet
                try:
                    await asyncio.wait_for(stop.wait(), 0.1)
                except TimeoutError:
                    pass
        finally:
            for b in buildings:
                b.checkpoint()
            await _drain(unacked, 10.0)
            client.loop_stop()
            client.disconnect()
            for b in buildings:
                log.info("event=sim_stopped site=%s sim_now=%s last_hour=%d", b.scenario.building.site,
                         b.state.sim_now.isoformat(), b.state.last_sent_hour)
    finally:
        if control is not None:
            await control.cleanup()
        for b in buildings:
            await b.close_transports()


async def control_server(buildings: list[SimulatedBuilding], host: str, port: int) -> web.AppRunner:
    """The engineer's hand while the simulator runs: ``POST /magnet/{device}`` (DevEUI or serial)
    answers 200 with the woken DevEUI, or 404 when no building has such a radio device."""

    async def magnet(request: web.Request) -> web.Response:
        device = request.match_info["device"]
        for b in buildings:
            woken = b.magnet(device)
            if woken is not None:
                return web.json_response({"woken": woken})
        return web.json_response({"error": f"no LoRa device {device!r} in this simulator"}, status=404)

    app = web.Application()
    app.router.add_post("/magnet/{device}", magnet)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("event=sim_control_listening url=http://%s:%d/magnet/<device>", host, port)
    return runner


async def _drain(unacked: set[int], timeout: float) -> None:
    """Wait (bounded) for queued uplinks to reach the broker before stopping."""
    deadline = asyncio.get_running_loop().time() + timeout
    while unacked and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    if unacked:  # as on a real network server, uplinks it could not forward are gone
        log.warning("event=uplinks_unsent count=%d", len(unacked))
