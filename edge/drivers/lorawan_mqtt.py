"""LoRaWAN meters through a network server's MQTT feed (ChirpStack v4 JSON events).

Events are parsed with ChirpStack's own protobuf definitions (unknown fields of newer
ChirpStack versions are tolerated), payloads are decoded with protocol/lorawan.py. The MQTT
session is persistent (clean_session=False, QoS 1) and messages are acknowledged manually,
only after their records are on disk: an uplink is never lost between broker and buffer.
A payload that does not decode is kept raw with the reason and its radio metadata.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from chirpstack_api import integration
from google.protobuf import json_format

from edge.buffer import Buffer, RadioPacket
from edge.config import EdgeConfig, MeterConfig
from protocol import lorawan, lorawan_archive, lorawan_up
from protocol.errors import DecodeError
from protocol.periods import from_device_seconds, local_to_utc, zone
from protocol.vocabulary import Nature, Quality
from protocol.wire import ArchiveRecord

log = logging.getLogger(__name__)


class LoraUplinkHandler:
    """Turns one ChirpStack ``up`` event into buffer rows (pure of MQTT, so it is testable)."""

    def __init__(self, config: EdgeConfig, buffer: Buffer) -> None:
        self.buffer = buffer
        self.tz = zone(config.time_zone)
        self.meters: dict[str, MeterConfig] = {m.dev_eui.lower(): m for m in config.meters if m.transport == "lorawan"}
        self.received = 0
        self.last_uplink: dict[str, float] = {}

    def handle(self, topic: str, payload: bytes) -> None:
        now = time.time()
        try:
            event = json_format.Parse(payload, integration.UplinkEvent(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            self.buffer.reject(f"mqtt:{topic}", f"not a ChirpStack uplink event: {exc}", payload)
            return
        dev_eui = event.device_info.dev_eui.lower()
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
            self.buffer.store(records)
        else:
            self._keep(meter.serial, frame)
        self.buffer.add_radio(RadioPacket(**packet))
        self.received += 1
        self.last_uplink[meter.serial] = now

    def _keep(self, serial: str, frame: object) -> None:
        """Readings, events and passports are kept as buffer events until the wire carries them."""
        if isinstance(frame, lorawan_up.DeviceEvent):
            self.buffer.event("device_event", serial, 1, effect=frame.effect.name, severity=frame.severity.name,
                              code=frame.code, channel=frame.channel,
                              device_time=from_device_seconds(frame.device_time).isoformat())
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

