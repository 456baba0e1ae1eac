"""Meter replacement as a scheduled fault, over the real transports: at the scheduled hour an
apartment's Compact-2 and the building's KARAT-307 are replaced by new devices. The new radio
device joins with its own devEUI (fCnt from 0, a passport with its serial, registers from its own
initial reading) while the old devEUI falls silent; the calculator answers Modbus TCP with its new
serial, counts afresh and has no archive before it was fitted. The simulator prints one JSON line
per replacement, and a restarted simulator goes on with the new identities."""

from __future__ import annotations

import asyncio
import io
import json
import queue
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from chirpstack_api import integration
from google.protobuf import json_format
from pymodbus.client import AsyncModbusTcpClient

from protocol import karat307 as regs
from protocol import lorawan, lorawan_up
from protocol.periods import to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import Fault, load
from tests.conftest import PLAIN, free_port

PARSERS = {"up": integration.UplinkEvent, "join": integration.JoinEvent, "status": integration.StatusEvent,
           "log": integration.LogEvent, "txack": integration.TxAckEvent}
OLD_EUI = "70b3d5e75e2a0001"  # apartment 1 of the demo (seed 42)
NEW_SERIAL_307 = "30799999"
REPLACED_AT = 3  # hour index


def _scenario():
    s = load("demo")
    return replace(s, speed=3600.0, start="2026-01-15T00:00",
                   building=replace(s.building, apartments=2, site="repl", **PLAIN),
                   faults=[Fault("replacement", device="223420001", at_hour=REPLACED_AT),
                           Fault("replacement", device="30700101", at_hour=REPLACED_AT, new_serial=NEW_SERIAL_307)])


async def _wait(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _archive(client: AsyncModbusTcpClient, building: SimulatedBuilding, index: int) -> regs.Karat307Record | int:
    """The hour record of hour ``index``, or the exception code the write was refused with."""
    period = to_device_seconds(utc_to_local(building.world.hour_start(index), building.world.tz))
    written = await client.write_registers(regs.REG_ARCHIVE_REQUEST, regs.encode_archive_request(ArchiveKind.HOUR,
                                                                                                 period), device_id=1)
    if written.isError():
        return written.exception_code
    record = await client.read_holding_registers(regs.REG_ARCHIVE_RECORD, count=regs.RECORD_LENGTH, device_id=1)
    decoded = regs.decode_record(ArchiveKind.HOUR, record.registers)
    assert decoded is not None
    return decoded


async def test_replaced_devices_take_new_identities(nats, tmp_path: Path) -> None:
    scenario = _scenario()
    port = free_port()
    building = SimulatedBuilding(scenario, tmp_path / "sim", Endpoints(modbus_port=port, mqtt_port=nats.mqtt_port))
    world = building.world
    building.clock.freeze(world.hour_start(2) + timedelta(minutes=30))  # hours 0 and 1 have closed
    got: queue.Queue = queue.Queue()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="qa-replacement")
    subscribed = asyncio.Event()
    loop = asyncio.get_running_loop()
    listener.on_subscribe = lambda *_: loop.call_soon_threadsafe(subscribed.set)
    listener.on_connect = lambda c, *_: c.subscribe(f"application/{scenario.lora_application_id}/device/+/event/#",
                                                    qos=1)
    listener.on_message = lambda _c, _u, msg: got.put((msg.topic, msg.payload))
    listener.connect("127.0.0.1", nats.mqtt_port)
    listener.loop_start()
    await asyncio.wait_for(subscribed.wait(), 30)
    events: list[tuple[str, str, object]] = []  # (devEUI, kind, strictly parsed event)

    def drain() -> list:
        while not got.empty():
            topic, payload = got.get()
            parts = topic.split("/")
            events.append((parts[3], parts[5], json_format.Parse(payload, PARSERS[parts[5]]())))
        return events

    def ups(eui: str) -> list:
        return [e for dev, kind, e in drain() if dev == eui and kind == "up"]

    out = io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(building.run(out, stop))
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=3)
    try:
        await _wait(lambda: len(ups(OLD_EUI)) == 2, 30, "hours 0 and 1 from the old meter")
        assert await client.connect()
        ident = await client.read_holding_registers(regs.REG_SERIAL, count=2, device_id=1)
        assert regs.registers_to_u32(ident.registers) == 30700101
        before = await _archive(client, building, 1)
        assert isinstance(before, regs.Karat307Record)

        building.clock.freeze(world.hour_start(5) + timedelta(minutes=30))  # hours 2, 3 and 4 close

        def announced() -> list[dict]:
            return [json.loads(x) for x in out.getvalue().splitlines() if '"replacement"' in x]
        await _wait(lambda: len(announced()) == 2, 30, "the replacement lines")
        (line,) = [x for x in announced() if x["model"] != "KARAT-307"]
        new_eui = line["new"][0]["endpoint"]["dev_eui"]
        new_serial = line["new"][0]["serial"]
        await _wait(lambda: any(e.f_cnt == 3 for e in ups(new_eui)), 30, "hour 4 from the new meter")

        # the old identity fell silent at the replacement; the new one joined and counts from 0
        assert [e.f_cnt for e in ups(OLD_EUI)] == [0, 1, 2]
        assert line["old"] == {"serial": "223420001", "dev_eui": OLD_EUI}
        assert (line["building"], line["hour"], line["model"]) == ("repl", REPLACED_AT, "KARAT-Compact-2-223")
        assert new_serial != "223420001"
        assert new_eui != OLD_EUI
        mine = [(kind, e) for dev, kind, e in drain() if dev == new_eui]
        assert mine[0][0] == "join"
        new_ups = [e for kind, e in mine if kind == "up"]
        assert [e.f_cnt for e in new_ups] == [0, 1, 2, 3]
        event, passport = (lorawan_up.decode(e.data) for e in new_ups[:2])
        assert event.code == 0x0406
        assert passport.serial == int(new_serial)
        # the counter restarts: from the new meter's initial reading (0-99 kcal) plus hour 3's heat
        last_old = lorawan.decode(ups(OLD_EUI)[-1].data)
        first_new = lorawan.decode(new_ups[2].data)
        apartment = building.plan.apartments[0]
        heat_in_hour = world.apartment_use(apartment, REPLACED_AT).heat_kcal
        assert heat_in_hour <= first_new.heat_kcal <= heat_in_hour + 99
        assert first_new.heat_kcal < last_old.heat_kcal
        assert [lorawan.decode(e.data).period for e in new_ups[2:]] == [
            to_device_seconds(utc_to_local(world.hour_start(i), world.tz)) for i in (3, 4)]

        # the calculator: a new serial on the same address, no archive before it was fitted, counting afresh
        (calc,) = [x for x in announced() if x["model"] == "KARAT-307"]
        assert calc["old"] == {"serial": "30700101"}
        assert calc["new"] == [{"model": "KARAT-307", "serial": NEW_SERIAL_307, "building": "repl", "endpoint": {
            "transport": "modbus-tcp", "host": "127.0.0.1", "port": port, "unit": 1}}]
        ident = await client.read_holding_registers(regs.REG_MODEL, count=3, device_id=1)
        assert ident.registers[0] == 307
        assert regs.registers_to_u32(ident.registers[1:3]) == int(NEW_SERIAL_307)
        assert await _archive(client, building, REPLACED_AT - 1) == 3  # illegal data value: not its archive
        fitted = await _archive(client, building, REPLACED_AT)
        assert isinstance(fitted, regs.Karat307Record)
        assert world.building_use(REPLACED_AT).heat_kcal <= fitted.heat_kcal <= \
            world.building_use(REPLACED_AT).heat_kcal + 99
        assert fitted.heat_kcal < before.heat_kcal
    finally:
        client.close()
        stop.set()
        await task
        listener.loop_stop()
        listener.disconnect()

    # a restart goes on with the new identities and counters, without announcing the replacement again
    again = SimulatedBuilding(scenario, tmp_path / "sim", Endpoints(modbus_port=port, mqtt_port=nats.mqtt_port))
    euis = [x["endpoint"].get("dev_eui") for x in again.device_lines()]
    assert new_eui in euis
    assert OLD_EUI not in euis
    assert again.heat_meter.serial == NEW_SERIAL_307
    again.clock.freeze(world.hour_start(7) + timedelta(minutes=30))
    out_again = again.due_uplinks()
    assert again.take_announcements() == []
    counts = [json_format.Parse(text, integration.UplinkEvent()).f_cnt for topic, text in out_again
              if f"/device/{new_eui}/event/up" in topic]
    assert counts == [4, 5]
    assert again.apartment_meters[0].counters_at(6) == building.apartment_meters[0].counters_at(6)
