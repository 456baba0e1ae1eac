"""LoRaWAN meters through a network server's MQTT feed (ChirpStack v4 JSON events).

Events are parsed with ChirpStack's own protobuf definitions (unknown fields of newer
ChirpStack versions are tolerated), payloads are decoded with protocol/lorawan.py. The MQTT
session is persistent (clean_session=False, QoS 1) and messages are acknowledged manually,
only after their records are on disk: an uplink is never lost between broker and buffer.
A payload that does not decode is kept raw with the reason and its radio metadata. Event
uplinks become device events; an archive uplink closes its period's gap (edge/lora_gaps.py).
Downlinks (protocol/lorawan_down.py) go to ``command/down`` as ChirpStack ``DownlinkCommand``
JSON and are logged in the radio table with direction ``down``; a command waiting for the
device's answer registers a waiter (``wait_for``) that the matching uplink resolves.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import paho.mqtt.client as mqtt
from chirpstack_api import integration
from google.protobuf import json_format

from edge.buffer import Buffer, RadioPacket
from edge.config import EdgeConfig, MeterConfig
from edge.gaps import GapBook
from protocol import lorawan, lorawan_archive, lorawan_down, lorawan_up
from protocol.errors import DecodeError
from protocol.periods import from_device_seconds, local_to_utc, next_period, to_device_seconds, zone
from protocol.vocabulary import Nature, Quality
from protocol.wire import ArchiveRecord

log = logging.getLogger(__name__)
Frame = object  # a decoded uplink frame of protocol/lorawan*.py


class DownlinkError(Exception):
    """A downlink cannot be sent (no application id known for the device, MQTT refused it)."""


class LoraUplinkHandler:
    """Turns one ChirpStack ``up`` event into buffer rows (pure of MQTT, so it is testable)."""

    def __init__(self, config: EdgeConfig, buffer: Buffer, meters: list[MeterConfig] | None = None) -> None:
        self.buffer = buffer
        self.tz = zone(config.time_zone)
        self.meters: dict[str, MeterConfig] = {}
        self.set_meters(config.meters if meters is None else meters)
        self.received = 0
        self.last_uplink: dict[str, float] = {}
        self.app_ids: dict[str, str] = {}  # devEUI -> ChirpStack application id, learnt from uplinks
        self.gaps = GapBook(buffer, config.poll_interval_s, config.gap_backoff_max_s)
        self._waiters: list[tuple[str, Callable[[Frame], bool], asyncio.Queue[Frame]]] = []
        if "lora_clock" not in buffer.db.table_names():  # latest device time heard from each meter
            buffer.db.table("lora_clock").create({"meter": str, "device_time": int, "at": float}, pk="meter")

    def set_meters(self, meters: list[MeterConfig]) -> None:
        self.meters = {m.dev_eui.lower(): m for m in meters if m.transport == "lorawan"}

    def device_time(self, serial: str) -> int | None:
        """The latest device time (device seconds) a meter's uplinks have shown, or None."""
        row = self.buffer.db.execute("SELECT device_time FROM lora_clock WHERE meter = ?", [serial]).fetchone()
        return row[0] if row else None

    def _saw_time(self, serial: str, device_seconds: int, now: float) -> None:
        self.buffer.db.execute("INSERT INTO lora_clock (meter, device_time, at) VALUES (?, ?, ?) ON CONFLICT(meter) "
                               "DO UPDATE SET device_time = max(device_time, excluded.device_time), at = excluded.at",
                               [serial, device_seconds, now])

    def subscribe(self, dev_eui: str, predicate: Callable[[Frame], bool]) -> asyncio.Queue[Frame]:
        """A queue that receives every later decoded uplink of ``dev_eui`` satisfying ``predicate``
        (until ``unsubscribe``): how a command waits for a device's answers."""
        queue: asyncio.Queue[Frame] = asyncio.Queue()
        self._waiters.append((dev_eui.lower(), predicate, queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Frame]) -> None:
        self._waiters = [w for w in self._waiters if w[2] is not queue]

    async def wait_for(self, dev_eui: str, predicate: Callable[[Frame], bool], timeout: float) -> Frame | None:
        """The next decoded uplink of ``dev_eui`` that satisfies ``predicate``, or None after ``timeout``."""
        queue = self.subscribe(dev_eui, predicate)
        try:
            return await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            return None
        finally:
            self.unsubscribe(queue)

    def _wake(self, dev_eui: str, frame: Frame) -> None:
        for eui, predicate, queue in list(self._waiters):
            if eui == dev_eui and predicate(frame):
                queue.put_nowait(frame)

    def handle(self, topic: str, payload: bytes) -> None:
        now = time.time()
        try:
            event = json_format.Parse(payload, integration.UplinkEvent(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            self.buffer.reject(f"mqtt:{topic}", f"not a ChirpStack uplink event: {exc}", payload)
            return
        dev_eui = event.device_info.dev_eui.lower()
        if event.device_info.application_id:
            self.app_ids[dev_eui] = event.device_info.application_id
        rx = event.rx_info[0] if event.rx_info else None
        packet = dict(received_at=now, dev_eui=dev_eui, f_cnt=event.f_cnt, f_port=event.f_port,
                      rssi=rx.rssi if rx else None, snr=rx.snr if rx else None, gateway=rx.gateway_id if rx else "",
                      frequency=event.tx_info.frequency, payload=bytes(event.data))
        meter = self.meters.get(dev_eui)
        if meter is None:
            self.buffer.add_radio(RadioPacket(**packet, error="unknown device"))
            log.info("event=uplink_unknown_device dev_eui=%s", dev_eui)
            return
        try:
            if event.f_port == lorawan.FPORT:
                frame: object = lorawan_archive.decode_any(bytes(event.data))
            elif event.f_port == lorawan_up.FPORT_DATA:
                frame = lorawan_up.decode(bytes(event.data))
            else:
                raise DecodeError("fPort", f"expected {lorawan.FPORT} (archives) or {lorawan_up.FPORT_DATA} "
                                           f"(readings, events, passport), got {event.f_port}")
        except DecodeError as exc:
            reason = f"{exc.field}: {exc.reason}"
            self.buffer.add_radio(RadioPacket(**packet, error=reason))
            self.buffer.reject(f"lorawan:{dev_eui}", reason, bytes(event.data))
            log.warning("event=uplink_rejected dev_eui=%s f_cnt=%d reason=%r", dev_eui, event.f_cnt, reason)
            return
        if isinstance(frame, lorawan.CompactArchive | lorawan_archive.ChannelArchive):
            start = int(local_to_utc(from_device_seconds(frame.period), self.tz).timestamp())
            quality = Quality.DEVICE_FLAGGED if frame.flags else Quality.OK
            nature = frame.nature if isinstance(frame, lorawan_archive.ChannelArchive) else Nature.INTEGRAL
            records = [ArchiveRecord(meter=meter.serial, channel=channel, kind=frame.kind, nature=nature,
                                     period_start=start, values=values, quality=quality, received_at=now)
                       for channel, values in frame.values().items()]
            period, kind = frame.period, frame.kind
            seen = to_device_seconds(next_period(kind, from_device_seconds(period)))

            def write() -> None:  # the records and the closing of their period's gap, at once
                self.buffer.insert_values(records)
                self.gaps.close_period(meter.serial, kind, period)
                self._saw_time(meter.serial, seen, now)
            self.buffer.write(write)
        else:
            self._keep(meter.serial, frame)
            device_time = getattr(frame, "device_time", None)
            if isinstance(device_time, int) and device_time > 0:
                self.buffer.write(lambda: self._saw_time(meter.serial, device_time, now))
        self.buffer.add_radio(RadioPacket(**packet))
        self.received += 1
        self.last_uplink[meter.serial] = now
        self._wake(dev_eui, frame)

    def _keep(self, serial: str, frame: object) -> None:
        """Device events go to the cloud as device events; readings and passports are kept as
        buffer events (the commands that asked for them answer with their values)."""
        if isinstance(frame, lorawan_up.DeviceEvent):
            local = from_device_seconds(frame.device_time)
            at = local_to_utc(local, self.tz).timestamp()
            self.buffer.add_device_event(serial, at, frame.effect.name.lower(), frame.severity.name.lower(),
                                         {"event_code": f"0x{frame.code:04X}", "channel": frame.channel,
                                          "device_time": local.isoformat()})
        elif isinstance(frame, lorawan_up.CurrentReadings):
            self.buffer.event("current_readings", serial, len(frame.readings),
                              device_time=from_device_seconds(frame.device_time).isoformat(),
                              values={str(ch): v for ch, v in frame.values().items()})
        elif isinstance(frame, lorawan_up.Passport):
            self.buffer.event("passport", serial, 0, model=frame.model, device_serial=frame.serial,
                              firmware=frame.firmware_text, battery_pct=frame.battery_pct, status=frame.status,
                              relay=frame.relay, threshold_w=frame.threshold_w)


class LoraMqttListener:
    """Subscribes to the network server's uplink topic and feeds the handler on the event loop."""

    def __init__(self, config: EdgeConfig, handler: LoraUplinkHandler) -> None:
        self.config = config
        self.handler = handler
        self.connected = False
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"domuchet-edge-{config.site}",
                                   clean_session=False, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_queued_messages_set(0)  # downlinks queued while the broker is away are sent later

    def send(self, dev_eui: str, frame: lorawan_down.Downlink) -> None:
        """Enqueue a downlink at the network server (QoS 1) and log it with direction ``down``."""
        dev_eui = dev_eui.lower()
        app = self.config.lora_application_id or self.handler.app_ids.get(dev_eui)
        if not app:
            raise DownlinkError(f"device {dev_eui}: ChirpStack application unknown (set lora_application_id "
                                "or wait for the device's first uplink)")
        payload = lorawan_down.encode(frame)
        command = integration.DownlinkCommand(id=str(uuid.uuid4()), dev_eui=dev_eui, confirmed=False,
                                              f_port=lorawan_down.FPORT_COMMAND, data=payload)
        info = self._client.publish(f"application/{app}/device/{dev_eui}/command/down",
                                    json_format.MessageToJson(command, indent=None), qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise DownlinkError(f"device {dev_eui}: MQTT publish refused ({mqtt.error_string(info.rc)})")
        self.handler.buffer.add_radio(RadioPacket(received_at=time.time(), dev_eui=dev_eui, f_cnt=0,
                                                  f_port=lorawan_down.FPORT_COMMAND, rssi=None, snr=None, gateway="",
                                                  frequency=0, payload=payload, direction="down"))
        log.info("event=downlink_sent dev_eui=%s frame=%s at=%s", dev_eui, type(frame).__name__,
                 datetime.now().astimezone().isoformat(timespec="seconds"))

    def _on_connect(self, client: mqtt.Client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.warning("event=mqtt_connect_failed reason=%s", reason_code)
            return
        self.connected = True
        client.subscribe(self.config.lora_topic, qos=1)
        log.info("event=mqtt_connected host=%s port=%d topic=%s", self.config.mqtt_host, self.config.mqtt_port,
                 self.config.lora_topic)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected = False
        log.warning("event=mqtt_disconnected reason=%s", reason_code)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[mqtt.MQTTMessage] = asyncio.Queue()
        on_message: Callable = lambda _c, _u, msg: loop.call_soon_threadsafe(queue.put_nowait, msg)  # noqa: E731
        self._client.on_message = on_message
        self._client.connect_async(self.config.mqtt_host, self.config.mqtt_port, keepalive=30)
        self._client.loop_start()
        try:
            while not stop.is_set():
                try:
                    msg = await asyncio.wait_for(queue.get(), 0.5)
                except TimeoutError:
                    continue
                self.handler.handle(msg.topic, bytes(msg.payload))  # on the loop thread, like every buffer user
                self._client.ack(msg.mid, msg.qos)  # only now may the broker forget it
        finally:
            self._client.loop_stop()
            self._client.disconnect()

