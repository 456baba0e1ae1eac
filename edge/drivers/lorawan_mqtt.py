"""LoRaWAN meters through a network server's MQTT feed (ChirpStack v4 JSON events).

Events are parsed with ChirpStack's own protobuf definitions (unknown fields of newer
ChirpStack versions are tolerated), payloads are decoded with protocol/lorawan.py. The MQTT
session is persistent (clean_session=False, QoS 1) and messages are acknowledged manually,
only after their records are on disk: an uplink is never lost between broker and buffer.
Input is checked here, at the driver boundary, and what cannot become data goes to ``rejects``
raw with a reason naming what was wrong, and is acknowledged (it can never become valid): a
message that is not a ChirpStack uplink (not UTF-8, not a JSON object, a missing or mistyped
field), one of a devEUI no meter has, a payload that does not decode, an archive period that
does not start its hour, day or month, and a timestamp farther from the edge's clock than
``EdgeConfig.allowed_clock_drift_s`` allows (the time service's threshold when it is on, else
``max_clock_drift_s``, a day by default): an archive period that
cannot have ended yet or that is older than the device keeps, or a device event's time off
either way; such a record also makes a ``clock_out_of_range`` event and never becomes data, a
gap or a lost period. A passport or current readings with its device time off is kept (it is the
device's report of itself, its clock included, and the answer to a command) with the same event,
but its time moves no gap bookkeeping. With ``max_clock_drift_s = 0`` and the time service off no
device clock is judged: a simulated building on its own fast clock is read as it is.
Event uplinks become device events; an archive uplink closes its period's gap (lorawan_gaps.py).
Device times and archive periods arrive in the device's local clock ("device seconds") and are
turned into UTC epoch seconds here, before anything reaches the buffer (records, gaps and the
latest device time heard, ``lora_clock``).
Downlinks (protocol/lorawan_down.py) go to ``command/down`` as ChirpStack ``DownlinkCommand``
JSON and are logged in the radio table with direction ``down``; a command waiting for the
device's answer registers a waiter (``wait_for``) that the matching uplink resolves.
Tests: tests/integration/test_edge_lora_uplinks.py, test_edge_lora_boundary.py.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import string
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from edge.buffer import Buffer, RadioPacket
from edge.config import EdgeConfig, MeterConfig
from edge.drivers.base import DriverError
from edge.gaps import GapBook
from protocol import lorawan, lorawan_archive, lorawan_down, lorawan_up
from protocol.errors import DecodeError
from protocol.periods import (
    device_to_utc,
    from_device_seconds,
    local_to_utc,
    next_period,
    period_start,
    utc_next_period,
    utc_to_local,
    zone,
)
from protocol.vocabulary import ArchiveKind, Nature, Quality
from protocol.wire import ArchiveRecord

if TYPE_CHECKING:
    from chirpstack_api import integration

log = logging.getLogger(__name__)
Frame = object  # a decoded uplink frame of protocol/lorawan*.py
Archive = lorawan.CompactArchive | lorawan_archive.ChannelArchive
BATCH_MESSAGES = 500  # MQTT messages that waited are stored together, at most this many a transaction
_PERIOD_NAMES = {ArchiveKind.HOUR: "an hour", ArchiveKind.DAY: "a day", ArchiveKind.MONTH: "a month"}
_TIMED_FRAMES = {lorawan_up.CurrentReadings: "current readings", lorawan_up.Passport: "passport"}


def _chirpstack() -> tuple[ModuleType, ModuleType]:
    """ChirpStack's integration messages and protobuf's JSON codec. They are imported on first use,
    so a site without LoRaWAN meters never loads them (2.4 MiB of the agent's RSS)."""
    from chirpstack_api import integration
    from google.protobuf import json_format
    return integration, json_format


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "a boolean"), (dict, "an object"), (list, "an array"), (str, "a string"), ((int, float), "a number"))
    return next((name for cls, name in kinds if isinstance(value, cls)), type(value).__name__)


def _shown(value: object, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _field(doc: dict[str, Any], name: str, kind: type, where: str = "") -> Any:
    """``doc[name]`` when present (None otherwise), which must be of ``kind``."""
    value = doc.get(name)
    if value is not None and not isinstance(value, kind):
        raise DecodeError(where + name, f"expected {_json_type(kind())}, got {_json_type(value)}")
    return value


def _integer(doc: dict[str, Any], name: str, top: int) -> None:
    value = doc.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top):
        raise DecodeError(name, f"expected an integer 0..{top}, got {_shown(value)}")


def envelope(payload: bytes) -> dict[str, Any]:
    """The JSON object of one ChirpStack uplink event, with the fields the edge relies on
    checked (protobuf's JSON parser would take a string for an object and "!!!" for base64 data
    without a word); DecodeError names the first that is wrong."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("payload", f"not UTF-8 at byte {exc.start}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DecodeError("payload", f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError("payload", f"expected a JSON object, got {_json_type(doc)}")
    info = _field(doc, "deviceInfo", dict)
    eui = None if info is None else info.get("devEui")
    if eui is None:
        raise DecodeError("deviceInfo.devEui", "missing")
    if not (isinstance(eui, str) and len(eui) == 16 and all(c in string.hexdigits for c in eui)):
        raise DecodeError("deviceInfo.devEui", f"expected 16 hex digits, got {_shown(eui)}")
    _integer(doc, "fCnt", 0xFFFFFFFF)
    _integer(doc, "fPort", 0xFF)
    data = _field(doc, "data", str)
    try:
        base64.b64decode(data or "", validate=True)
    except binascii.Error:
        raise DecodeError("data", f"not base64: {_shown(data)}") from None
    for i, rx in enumerate(_field(doc, "rxInfo", list) or []):
        if not isinstance(rx, dict):
            raise DecodeError(f"rxInfo[{i}]", f"expected an object, got {_json_type(rx)}")
    _field(doc, "txInfo", dict)
    return doc


def _depth(meter: MeterConfig, kind: ArchiveKind) -> timedelta | None:
    """How far back the device keeps archives of ``kind``, or None when that is not known."""
    try:
        days = meter.depth_days(kind)
    except ValueError:  # a model the catalogue does not know, without a depth of its own
        return None
    return timedelta(days=days) if days > 0 else None


class DownlinkError(DriverError):
    """A downlink cannot be sent (no application id known for the device, MQTT refused it)."""


class LoraUplinkHandler:
    """Turns one ChirpStack ``up`` event into buffer rows (pure of MQTT, so it is testable)."""

    def __init__(self, config: EdgeConfig, buffer: Buffer, meters: list[MeterConfig] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.buffer = buffer
        self.tz = zone(config.time_zone)
        self.clock = clock  # the edge's clock, UTC epoch seconds
        # how far a device time may be from the edge's clock (0: not judged)
        self.allowed_drift_s = config.allowed_clock_drift_s or 0.0
        self.meters: dict[str, MeterConfig] = {}
        self.set_meters(config.meters if meters is None else meters)
        self.received = 0
        self.last_uplink: dict[str, float] = {}
        self.last_error: dict[str, tuple[str, float]] = {}  # meter -> why its latest rejected uplink was rejected, when
        self.app_ids: dict[str, str] = {}  # devEUI -> ChirpStack application id, learnt from uplinks
        self.gaps = GapBook(buffer, config.poll_interval_s, config.gap_backoff_max_s, config.time_zone)
        self._waiters: list[tuple[str, Callable[[Frame], bool], asyncio.Queue[Frame]]] = []
        self._stored: list[tuple[str, Frame]] | None = None  # frames of a batch, told to waiters once it commits
        if "lora_clock" not in buffer.db.table_names():  # latest device time heard from each meter
            buffer.db.table("lora_clock").create({"meter": str, "device_time": int, "at": float}, pk="meter")

    def set_meters(self, meters: list[MeterConfig]) -> None:
        self.meters = {m.dev_eui.lower(): m for m in meters if m.transport == "lorawan"}

    def device_time(self, serial: str) -> int | None:
        """The latest device time a meter's uplinks have shown (UTC epoch seconds), or None."""
        row = self.buffer.db.execute("SELECT device_time FROM lora_clock WHERE meter = ?", [serial]).fetchone()
        return row[0] if row else None

    def _saw_time(self, serial: str, moment: int, now: float) -> None:
        """Keep ``moment`` (the device's time, UTC seconds) as the meter's latest if it is later."""
        self.buffer.db.execute("INSERT INTO lora_clock (meter, device_time, at) VALUES (?, ?, ?) ON CONFLICT(meter) "
                               "DO UPDATE SET device_time = max(device_time, excluded.device_time), at = excluded.at",
                               [serial, moment, now])

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
        """Store one MQTT message's records, or reject it with the reason; returns normally
        whenever the message may be acknowledged (raises only when the buffer cannot write)."""
        now = self.clock()
        integration, json_format = _chirpstack()
        try:
            event = json_format.ParseDict(envelope(payload), integration.UplinkEvent(), ignore_unknown_fields=True)
        except (DecodeError, json_format.ParseError) as exc:
            reason = str(exc) if isinstance(exc, DecodeError) else f"payload: not a ChirpStack uplink event: {exc}"
            self.buffer.reject(f"mqtt:{topic}", reason, payload)
            log.warning("event=uplink_rejected topic=%s reason=%r", topic, reason)
            return
        dev_eui = event.device_info.dev_eui.lower()
        if event.device_info.application_id:
            self.app_ids[dev_eui] = event.device_info.application_id
        # one radio row per packet: the gateway that heard it best (highest SNR, then RSSI), which is
        # the reception the LoRa page judges; ChirpStack lists gateways in no promised order
        rx = max(event.rx_info, key=lambda r: (r.snr, r.rssi)) if event.rx_info else None
        packet = dict(received_at=now, dev_eui=dev_eui, f_cnt=event.f_cnt, f_port=event.f_port,
                      rssi=rx.rssi if rx else None, snr=rx.snr if rx else None, gateway=rx.gateway_id if rx else "",
                      frequency=event.tx_info.frequency, payload=bytes(event.data))
        meter = self.meters.get(dev_eui)
        if meter is None:
            reason = f"deviceInfo.devEui: {dev_eui} is not a configured meter"

            def write() -> None:  # the packet log and the raw message, at once
                self.buffer.add_radio(RadioPacket(**packet, error=reason))
                self.buffer.reject(f"mqtt:{topic}", reason, payload)
            self.buffer.write(write)
            log.info("event=uplink_unknown_device dev_eui=%s", dev_eui)
            return
        held_s = max(0.0, now - event.time.ToDatetime(tzinfo=UTC).timestamp()) if event.HasField("time") else 0.0
        try:
            frame = self._decode(event)
            out_of_range = self._clock_check(meter, frame, now, held_s)
        except DecodeError as exc:
            self._reject(meter, packet, str(exc))
            return
        if out_of_range is not None and isinstance(frame, Archive | lorawan_up.DeviceEvent):
            self._reject(meter, packet, *out_of_range)  # never data, never the cloud's event log
            return
        if isinstance(frame, Archive):
            self._store(meter, frame, now)
        elif out_of_range is not None:
            # a passport or current readings: the device's report of itself, the answer to a command,
            # its wrong clock included; kept, but its time moves no gap bookkeeping
            def keep() -> None:
                self._keep(meter.serial, frame)
                self.buffer.add_event("clock_out_of_range", meter.serial, 1, severity="warning", **out_of_range[1])
            self.buffer.write(keep)
            self.last_error[meter.serial] = (out_of_range[0], now)
            log.warning("event=clock_out_of_range meter=%s reason=%r", meter.serial, out_of_range[0])
        else:
            self._keep(meter.serial, frame)
            device_time = getattr(frame, "device_time", None)
            if isinstance(device_time, int) and device_time > 0:
                moment = device_to_utc(device_time, self.tz)
                self.buffer.write(lambda: self._saw_time(meter.serial, moment, now))
        self.buffer.add_radio(RadioPacket(**packet))
        self.last_uplink[meter.serial] = now
        if self._stored is not None:
            self._stored.append((dev_eui, frame))
        else:
            self.received += 1
            self._wake(dev_eui, frame)

    def handle_batch(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """``handle`` for several messages in one transaction: one commit (one fsync of the WAL)
        instead of two a message, which is what bounds a busy gateway's uplink rate. Waiters hear
        the frames only once they are stored; after an eviction the whole batch is tried again."""
        def write() -> list[tuple[str, Frame]]:
            self._stored = []  # a retry starts over
            for topic, payload in messages:
                self.handle(topic, payload)
            return self._stored
        try:
            stored = self.buffer.write(write)
        finally:
            self._stored = None
        self.received += len(stored)
        for dev_eui, frame in stored:
            self._wake(dev_eui, frame)

    def _decode(self, event: integration.UplinkEvent) -> Frame:
        """The uplink's frame by its port; an archive's period must start its hour, day or month."""
        if event.f_port == lorawan.FPORT:
            frame: Archive = lorawan_archive.decode_any(bytes(event.data))
            start = from_device_seconds(frame.period)
            if period_start(frame.kind, start) != start:
                raise DecodeError("period", f"{start} is not the start of {_PERIOD_NAMES[frame.kind]}")
            return frame
        if event.f_port == lorawan_up.FPORT_DATA:
            return lorawan_up.decode(bytes(event.data))
        raise DecodeError("fPort", f"expected {lorawan.FPORT} (archives) or {lorawan_up.FPORT_DATA} "
                                   f"(readings, events, passport), got {event.f_port}")

    def _clock_check(self, meter: MeterConfig, frame: Frame, now: float,
                     held_s: float) -> tuple[str, dict[str, Any]] | None:
        """None when the frame's time is within the allowed drift of the edge's clock (or the time
        service is off), else the reason and the detail of a ``clock_out_of_range`` event. An
        archive period must have ended by the edge's clock and be one the device still keeps; a
        device time (readings, passport, event) must be the edge's clock at the moment the network
        server received the uplink (``held_s`` ago: the edge may have been away)."""
        allowed = self.allowed_drift_s
        if allowed <= 0:
            return None
        edge = utc_to_local(datetime.fromtimestamp(now, UTC), self.tz)
        drift = timedelta(seconds=allowed)
        detail: dict[str, Any] = {"edge_time": edge.isoformat(), "allowed_drift_s": allowed}
        if isinstance(frame, Archive):
            start = from_device_seconds(frame.period)
            end = next_period(frame.kind, start)
            depth = _depth(meter, frame.kind)
            name = f"{frame.kind.value} archive"
            detail.update(frame=name, period=start.isoformat(), device_time=end.isoformat())
            if end > edge + drift:
                return (f"clock: {name} of {start} ends {(end - edge).total_seconds():.0f} s after the edge's "
                        f"clock ({edge:%Y-%m-%d %H:%M:%S}; allowed drift {allowed:g} s)"), detail
            if depth is not None and start < edge - depth - drift:
                detail["depth_days"] = depth.days
                return (f"clock: {name} of {start} is older than the {depth.days} days the device keeps by the "
                        f"edge's clock ({edge:%Y-%m-%d %H:%M:%S}; allowed drift {allowed:g} s)"), detail
            return None
        if isinstance(frame, lorawan_up.DeviceEvent):
            name = f"event 0x{frame.code:04X}"
        else:
            name = next((n for cls, n in _TIMED_FRAMES.items() if isinstance(frame, cls)), type(frame).__name__)
        device = from_device_seconds(getattr(frame, "device_time", 0))
        sent = edge - timedelta(seconds=held_s)
        detail.update(frame=name, device_time=device.isoformat())
        if held_s:
            detail["held_by_network_server_s"] = round(held_s, 1)
        if device > edge + drift or device < sent - drift:
            off = (device - sent).total_seconds()
            return (f"clock: {name} at device time {device} is {abs(off):.0f} s {'ahead of' if off > 0 else 'behind'} "
                    f"the edge's clock ({sent:%Y-%m-%d %H:%M:%S}; allowed drift {allowed:g} s)"), detail
        return None

    def _reject(self, meter: MeterConfig, packet: dict[str, Any], reason: str,
                clock_detail: dict[str, Any] | None = None) -> None:
        """A radio row with the error, the payload in ``rejects`` and, for a device clock out of
        range, a ``clock_out_of_range`` event: one transaction."""
        def write() -> None:
            self.buffer.add_radio(RadioPacket(**packet, error=reason))
            self.buffer.reject(f"lorawan:{packet['dev_eui']}", reason, packet["payload"])
            if clock_detail is not None:
                self.buffer.add_event("clock_out_of_range", meter.serial, 1, severity="warning", **clock_detail)
        self.buffer.write(write)
        self.last_error[meter.serial] = (reason, packet["received_at"])
        log.warning("event=uplink_rejected dev_eui=%s meter=%s f_cnt=%d reason=%r", packet["dev_eui"], meter.serial,
                    packet["f_cnt"], reason)

    def _store(self, meter: MeterConfig, frame: Archive, now: float) -> None:
        """An archive record's values and the closing of its period's gap, at once."""
        start = device_to_utc(frame.period, self.tz)
        quality = Quality.DEVICE_FLAGGED if frame.flags else Quality.OK
        nature = frame.nature if isinstance(frame, lorawan_archive.ChannelArchive) else Nature.INTEGRAL
        records = [ArchiveRecord(meter=meter.serial, channel=channel, kind=frame.kind, nature=nature,
                                 period_start=start, values=values, quality=quality, received_at=now)
                   for channel, values in frame.values().items()]
        kind = frame.kind
        seen = utc_next_period(kind, start, self.tz)  # the device's clock had reached the period's end

        def write() -> None:
            self.buffer.insert_values(records)
            self.gaps.close_period(meter.serial, kind, start)
            self._saw_time(meter.serial, seen, now)
        self.buffer.write(write)

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
                              relay=frame.relay, threshold_w=frame.threshold_w,
                              device_time=from_device_seconds(frame.device_time).isoformat())


class LoraMqttListener:
    """Subscribes to the network server's uplink topic and feeds the handler on the event loop."""

    def __init__(self, config: EdgeConfig, handler: LoraUplinkHandler) -> None:
        self.config = config
        self.handler = handler
        self.connected = False
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"domuchet-edge-{config.site}",
                                   clean_session=False, manual_ack=True)
        if config.mqtt_user:
            self._client.username_pw_set(config.mqtt_user, config.mqtt_password)
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
        integration, json_format = _chirpstack()
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
                    messages = [await asyncio.wait_for(queue.get(), 0.5)]
                except TimeoutError:
                    continue
                while len(messages) < BATCH_MESSAGES and not queue.empty():
                    messages.append(queue.get_nowait())
                # on the loop thread, like every buffer user; what waited arrives in one transaction
                self.handler.handle_batch([(m.topic, bytes(m.payload)) for m in messages])
                for msg in messages:
                    self._client.ack(msg.mid, msg.qos)  # only now may the broker forget it
        finally:
            self._client.loop_stop()
            self._client.disconnect()

