"""Downlinks through a real broker: a ChirpStack-style `command/down` message published on
the nats-server MQTT listener reaches the simulated Compact-2, which answers with txack, the
requested uplink and, for a confirmed downlink, an ack; all parse strictly as ChirpStack's
protobuf JSON. The device's fCnt and fCntDown survive a restart of the simulator."""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from chirpstack_api import integration
from google.protobuf import json_format

from protocol import lorawan_down, lorawan_up
from simulators.compact2 import down_topic
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import load
from tests.conftest import PLAIN, free_port

PARSERS = {"up": integration.UplinkEvent, "txack": integration.TxAckEvent, "ack": integration.AckEvent,
           "status": integration.StatusEvent, "log": integration.LogEvent}


def _scenario():
    s = load("demo")
    return replace(s, speed=3600.0, start="2026-01-15T00:00",
                   building=replace(s.building, apartments=2, site="dltest", **PLAIN))


async def _wait(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _listener(port: int, app: str, got: queue.Queue) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="qa-listener")
    subscribed = threading.Event()
    client.on_message = lambda _c, _u, msg: got.put((msg.topic, msg.payload))
    client.on_connect = lambda c, *_: c.subscribe(f"application/{app}/device/+/event/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(30), "the listener did not subscribe"  # before the simulator publishes anything
    return client


async def test_downlink_round_trip_and_counters_survive_restart(nats, tmp_path: Path) -> None:
    scenario = _scenario()
    app = scenario.lora_application_id
    endpoints = Endpoints(modbus_port=free_port(), mqtt_port=nats.mqtt_port)
    got: queue.Queue = queue.Queue()
    listener = _listener(nats.mqtt_port, app, got)
    events: list[tuple[str, object]] = []

    def drain() -> None:
        while not got.empty():
            topic, payload = got.get()
            kind = topic.rsplit("/", 1)[1]
            events.append((kind, json_format.Parse(payload, PARSERS[kind]())))  # strict parse

    try:
        building = SimulatedBuilding(scenario, tmp_path / "sim", endpoints)
        dev_eui = building.apartment_meters[0].dev_eui
        stop = asyncio.Event()
        task = asyncio.create_task(building.run(open("/dev/null", "w"), stop))
        await _wait(lambda: (drain(), any(k == "up" for k, _ in events))[1], 30, "first uplink")
        command = {"devEui": dev_eui, "confirmed": True, "fPort": lorawan_down.FPORT_COMMAND,
                   "data": base64.b64encode(lorawan_down.encode(lorawan_down.PassportRequest())).decode()}
        listener.publish(down_topic(app, dev_eui), json.dumps(command), qos=1)
        await _wait(lambda: (drain(), any(k == "ack" for k, _ in events))[1], 30, "ack of the confirmed downlink")
        stop.set()
        await task
        sent = building.state.last_sent_hour + 1 + 1  # hourly uplinks and the one answer

        def ups_of_device() -> int:
            drain()
            return sum(1 for k, e in events if k == "up" and e.device_info.dev_eui == dev_eui)
        await _wait(lambda: ups_of_device() == sent, 30, "every uplink of the first run")

        mine = [(k, e) for k, e in events if e.device_info.dev_eui == dev_eui]
        txack = next(i for i, (k, _) in enumerate(mine) if k == "txack")
        answer, ack = mine[txack + 1][1], mine[txack + 2][1]
        assert mine[txack + 2][0] == "ack"
        assert ack.acknowledged
        assert answer.f_port == lorawan_up.FPORT_DATA
        passport = lorawan_up.decode(answer.data)
        assert isinstance(passport, lorawan_up.Passport)
        assert passport.serial == int(building.apartment_meters[0].apartment.meter_serial)
        counts = [e.f_cnt for k, e in mine if k == "up"]
        assert counts == list(range(len(counts)))  # the answer took its fCnt, no gap, no repeat
        last = counts[-1]

        # restart: the radio counters continue from the state file
        events.clear()
        again = SimulatedBuilding(scenario, tmp_path / "sim", endpoints)
        assert again.apartment_meters[0].counters.extra == 1
        assert again.apartment_meters[0].counters.down == 1
        stop = asyncio.Event()
        task = asyncio.create_task(again.run(open("/dev/null", "w"), stop))
        await _wait(lambda: (drain(), any(k == "up" and e.device_info.dev_eui == dev_eui for k, e in events))[1],
                    30, "uplink after restart")
        stop.set()
        await task
        first_after = next(e.f_cnt for k, e in events if k == "up" and e.device_info.dev_eui == dev_eui)
        assert first_after == last + 1
    finally:
        listener.loop_stop()
        listener.disconnect()


async def test_a_queued_downlink_survives_a_restart_before_delivery(nats, tmp_path: Path) -> None:
    """Class A: a downlink waits for the device's next uplink; a simulator restarted in between
    still delivers it (it is kept with the rest of the state), once."""
    scenario = _scenario()
    app = scenario.lora_application_id
    endpoints = Endpoints(modbus_port=free_port(), mqtt_port=nats.mqtt_port)
    got: queue.Queue = queue.Queue()
    listener = _listener(nats.mqtt_port, app, got)
    events: list[tuple[str, object]] = []

    def drain() -> list[tuple[str, object]]:
        while not got.empty():
            topic, payload = got.get()
            kind = topic.rsplit("/", 1)[1]
            events.append((kind, json_format.Parse(payload, PARSERS[kind]())))
        return events

    try:
        building = SimulatedBuilding(scenario, tmp_path / "sim", endpoints)
        world = building.world
        dev_eui = building.apartment_meters[1].dev_eui
        building.clock.freeze(world.hour_start(1) + timedelta(minutes=30))  # hour 0 closed, hour 1 not yet
        stop = asyncio.Event()
        task = asyncio.create_task(building.run(open("/dev/null", "w"), stop))
        await _wait(lambda: any(k == "up" and e.device_info.dev_eui == dev_eui for k, e in drain()), 30,
                    "the uplink of hour 0")
        frame = lorawan_down.encode(lorawan_down.PassportRequest())
        command = {"devEui": dev_eui, "confirmed": False, "fPort": lorawan_down.FPORT_COMMAND,
                   "data": base64.b64encode(frame).decode()}
        listener.publish(down_topic(app, dev_eui), json.dumps(command), qos=1)
        await _wait(lambda: bool(building.pending.get(dev_eui)), 30, "the downlink in the queue")
        stop.set()
        await task
        assert not [k for k, e in drain() if k == "txack"]  # not delivered: no uplink since

        again = SimulatedBuilding(scenario, tmp_path / "sim", endpoints)
        (queued,) = again.pending[dev_eui]  # from the state file, before any broker traffic
        assert (queued.dev_eui, queued.f_port, bytes(queued.data)) == (dev_eui, lorawan_down.FPORT_COMMAND, frame)
        again.clock.freeze(world.hour_start(2) + timedelta(minutes=30))  # hour 1 closes: the device's next uplink
        stop = asyncio.Event()
        task = asyncio.create_task(again.run(open("/dev/null", "w"), stop))
        await _wait(lambda: any(k == "txack" for k, _ in drain()), 30, "delivery after the restart")
        mine = [(k, e) for k, e in drain() if e.device_info.dev_eui == dev_eui]
        txack = next(i for i, (k, _) in enumerate(mine) if k == "txack")
        assert mine[txack - 1][0] == "up"
        assert mine[txack - 1][1].f_cnt == 1  # right after the hourly uplink of hour 1
        assert mine[txack][1].f_cnt_down == 0
        await _wait(lambda: len([k for k, e in drain() if e.device_info.dev_eui == dev_eui]) > txack + 1, 30,
                    "the answer")
        answer = [e for k, e in drain() if e.device_info.dev_eui == dev_eui][txack + 1]
        assert isinstance(lorawan_up.decode(answer.data), lorawan_up.Passport)
        stop.set()
        await task
        assert SimulatedBuilding(scenario, tmp_path / "sim", endpoints).pending == {}  # delivered once
    finally:
        listener.loop_stop()
        listener.disconnect()
