"""What every simulated KARAT LoRaWAN device shares: the ChirpStack v4 events its network
server publishes (built with ChirpStack's own protobuf classes), a frame counter that
survives restarts, a settable drifting clock, an event log, archive depth, and the answers
to downlink commands (protocol/lorawan_down.py). Models subclass ``LoraDevice`` and say what
they measure: simulators/compact2.py, simulators/lora_models.py.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from chirpstack_api import common, gw, integration
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from protocol import lorawan, lorawan_down, lorawan_up
from protocol.errors import DecodeError
from protocol.periods import (
    from_device_seconds,
    local_to_utc,
    next_period,
    period_start,
    to_device_seconds,
    utc_to_local,
)
from protocol.vocabulary import ArchiveKind
from simulators.world import World

log = logging.getLogger(__name__)

RU864_CHANNELS_HZ = (868_900_000, 869_100_000, 864_100_000, 864_300_000, 864_500_000)
GATEWAYS = ("0016c001ff10a235", "0016c001ff10a236")
TENANT_ID = "52f14cd4-c6f1-4fbd-8f87-4025e1d49242"

# event codes the simulated KARAT radio devices use (docs/protocols.md section 5, event codes)
EVENT_CASE_OPEN = 0x0101
EVENT_MAGNET = 0x0201
EVENT_LEAK = 0x0301
EVENT_OVERLOAD = 0x0302
EVENT_CLOCK_SET = 0x0401
EVENT_RELAY_SWITCHED = 0x0402
EVENT_ARCHIVE_UNAVAILABLE = 0x0403
EVENT_ACCESS_DENIED = 0x0404
EVENT_COUNTER_RESET = 0x0405
EVENT_METER_REPLACED = 0x0406
EVENT_COMMAND_UNSUPPORTED = 0x04FE
EVENT_COMMAND_REJECTED = 0x04FF


def up_topic(application_id: str, dev_eui: str) -> str:
    return f"application/{application_id}/device/{dev_eui}/event/up"


def event_topic(application_id: str, dev_eui: str, event: str) -> str:
    return f"application/{application_id}/device/{dev_eui}/event/{event}"


def down_topic(application_id: str, dev_eui: str = "+") -> str:
    """Where downlinks are enqueued (``+`` subscribes to every device of the application)."""
    return f"application/{application_id}/device/{dev_eui}/command/down"


def to_json(message: Message) -> str:
    # ChirpStack serialises integration events with default values included (pbjson emit_fields),
    # so the first uplink carries "fCnt": 0 and "confirmed": false rather than omitting them.
    return json_format.MessageToJson(message, indent=None, always_print_fields_with_no_presence=True)


def stamp(moment: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(moment)
    return out


def random_uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


@dataclass
class RadioCounters:
    """What the device's radio remembers across restarts (kept in the runner's state file)."""

    extra: int = 0  # uplinks sent besides the hourly archives (answers, events), minus resets
    down: int = 0  # downlinks received (the network server's fCntDown)
    reset_hour: int = -1  # hour index from which fCnt restarted at 0 (re-registration), -1 never


# how long each model keeps each archive (docs/protocols.md section 6 says why)
DEFAULT_DEPTH = {ArchiveKind.HOUR: timedelta(days=45), ArchiveKind.DAY: timedelta(days=366),
                 ArchiveKind.MONTH: timedelta(days=5 * 366)}


class LoraDevice:
    """A class A LoRaWAN end device as its network server sees it."""

    MODEL = "KARAT"
    MODEL_CODE = 0
    FIRMWARE = 0x0100
    APPLICATION_NAME = "karat-apartments"
    PROFILE_ID = "3c5d9a1e-0f6b-4a8e-9b1c-7d2e4f6a8b0c"
    ARCHIVE_DEPTH: ClassVar[dict[ArchiveKind, timedelta]] = DEFAULT_DEPTH
    OWN_SERIAL: ClassVar[bool] = True  # False: the serial is the meter's it is fitted to (KARAT-929LW)

    def __init__(self, world: World, serial: str, dev_eui: str, name: str, application_id: str,
                 counters: RadioCounters | None = None) -> None:
        self.world = world
        self.serial = serial
        self._dev_eui = dev_eui
        self.name = name
        self.application_id = application_id
        self.counters = counters or RadioCounters()
        self._template: tuple[tuple[str, str, str], dict] | None = None  # (identity, uplink document)
        self.clock_offset = timedelta(0)  # device clock minus true local time, at clock_set_at
        self.drift_ppm = 0.0  # the clock gains this many millionths (negative: loses)
        self.clock_set_at: datetime | None = None  # true UTC time of the last setting, drift counts from it
        self.events: list[lorawan_up.DeviceEvent] = []  # the device's event log
        self.reset_index: int | None = None  # hour from which the registers count afresh (fault)
        self.reset_serial: str | None = None  # None: they count from 0; else from this new meter's readings
        self.leaks: list[list[int]] = []  # [first hour, hour it stopped or -1, litres per hour] (fault)
        self.replaced_at: datetime | None = None  # when this device was fitted in place of another (fault)

    # --- identity and clock -------------------------------------------------------------------
    @property
    def dev_eui(self) -> str:
        return self._dev_eui

    @property
    def topic(self) -> str:
        return up_topic(self.application_id, self.dev_eui)

    def device_now(self, moment_utc: datetime) -> datetime:
        since = moment_utc - (self.clock_set_at or self.world.commissioning)
        drift = timedelta(seconds=since.total_seconds() * self.drift_ppm * 1e-6)
        return utc_to_local(moment_utc, self.world.tz) + self.clock_offset + drift

    def set_clock(self, device_seconds: int, now_utc: datetime) -> None:
        self.clock_offset = from_device_seconds(device_seconds) - utc_to_local(now_utc, self.world.tz)
        self.clock_set_at = now_utc
        log.info("event=clock_set device=%s offset_s=%.0f", self.serial, self.clock_offset.total_seconds())

    def set_drift(self, ppm: float, now_utc: datetime) -> None:
        """From ``now_utc`` on the clock drifts at ``ppm``; what it drifted so far stays."""
        self.clock_offset = self.device_now(now_utc) - utc_to_local(now_utc, self.world.tz)
        self.clock_set_at, self.drift_ppm = now_utc, ppm

    def f_cnt(self, index: int) -> int:
        """fCnt of the hourly uplink of hour ``index``; a re-registered device counts from 0 again."""
        base = index - self.counters.reset_hour if self.counters.reset_hour >= 0 else index
        return base + self.counters.extra

    # --- faults that change what the device counts (simulators/faults.py) ----------------------
    def reset_counters(self, index: int) -> None:
        self.reset_index, self.reset_serial = index, None

    def replace_device(self, index: int, now_utc: datetime, serial: str, dev_eui: str,
                       counters: RadioCounters) -> None:
        """A new device fitted in this one's place at hour ``index``: a new serial and devEUI, its own
        radio counters (fCnt from 0), registers from its own initial readings, a clock set right at
        the factory, an empty event log and a passport of its own (verified a week before)."""
        if self.OWN_SERIAL:
            self.serial = serial
        self._dev_eui, self.counters = dev_eui, counters
        self.reset_index, self.reset_serial = index, serial
        self.replaced_at = now_utc
        self.clock_offset, self.drift_ppm, self.clock_set_at = timedelta(0), 0.0, None
        self.events = []

    def start_readings(self, count: int) -> tuple[int, ...]:
        """Register readings counting restarted from at ``reset_index``: 0 after a counter reset, a new
        meter's out-of-the-box readings (0-99 units each, from the seed and its serial) after a replacement."""
        if self.reset_serial is None:
            return (0,) * count
        rng = random.Random(f"new-meter:{self.world.scenario.seed}:{self.reset_serial}")
        return tuple(rng.randint(0, 99) for _ in range(count))

    def restarted(self, index: int, raw: Callable[[int], tuple[int, ...]]) -> tuple[int, ...]:
        """The registers at the end of hour ``index`` given the raw counters of the metered point."""
        values = raw(index)
        if self.reset_index is None or index < self.reset_index:
            return values
        base = raw(self.reset_index - 1)
        start = self.start_readings(len(values))
        return tuple(v - b + s for v, b, s in zip(values, base, start, strict=True))

    def start_leak(self, index: int, litres_per_hour: int) -> None:
        self.leaks.append([index, -1, litres_per_hour])

    def stop_leak(self, index: int) -> None:
        for leak in self.leaks:
            if leak[1] == -1:
                leak[1] = index

    def leak_litres(self, index: int) -> int:
        """Litres leaked from the first leak up to the end of hour ``index``."""
        total = 0
        for first, stop, rate in self.leaks:
            last = index if stop == -1 else min(index, stop - 1)
            total += max(0, last - first + 1) * rate
        return total

    def leak_flag(self, index: int) -> int:
        """1 once water has run for three hours without a pause (the meter's leak rule)."""
        return int(any(index >= first + 3 and (stop == -1 or index < stop) for first, stop, _ in self.leaks))

    # --- what a model measures (override) ----------------------------------------------------------
    def hourly_payload(self, index: int) -> bytes:
        raise NotImplementedError

    def archive_payload_for(self, kind: ArchiveKind, period: int, end_index: int) -> bytes:
        """FPort 2 payload of the record of ``period`` whose last hour is ``end_index``."""
        raise NotImplementedError

    def current(self, now_utc: datetime) -> lorawan_up.CurrentReadings:
        raise NotImplementedError

    def passport(self, now_utc: datetime) -> lorawan_up.Passport:
        raise NotImplementedError

    def relay(self, command: lorawan_down.RelayCommand, now_utc: datetime) -> list[tuple[int, bytes]]:
        """Answers to a relay command; a device without a relay says it cannot."""
        _ = command
        return [self.log_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.WARNING,
                               EVENT_COMMAND_UNSUPPORTED)]

    # --- archives ------------------------------------------------------------------------------
    def archive_end_index(self, kind: ArchiveKind, period: int, now_utc: datetime) -> int | None:
        """Hour index of the last hour of a stored period, or None if the device keeps no such record.
        The archive is a ring of records: the ``depth`` before the current period, counted from
        that period's start (at 01:50 the 45-day hourly archive begins with the hour at 01:00)."""
        start_local = from_device_seconds(period)
        if period_start(kind, start_local) != start_local:
            return None
        end_local = next_period(kind, start_local)
        now_local = utc_to_local(now_utc, self.world.tz)
        first = utc_to_local(self.world.hour_start(self.archive_start_index()), self.world.tz)
        depth = self.archive_depth().get(kind)
        if depth is None or start_local < first or end_local > now_local:
            return None
        if start_local < period_start(kind, now_local) - depth:  # gone from the ring
            return None
        return self.world.hour_index(local_to_utc(end_local, self.world.tz)) - 1

    def archive_depth(self) -> dict[ArchiveKind, timedelta]:
        return self.ARCHIVE_DEPTH

    def archive_start_index(self) -> int:
        """First hour the device has archives for: commissioning, or when it was fitted (a replacement)."""
        return self.reset_index if self.replaced_at is not None and self.reset_index is not None else 0

    def passport_dates(self, now_utc: datetime) -> tuple[int, int]:
        """(verification date in device seconds, battery %) drawn from the serial."""
        rng = random.Random(f"passport:{self.world.scenario.seed}:{self.serial}")
        commissioned = utc_to_local(self.world.commissioning, self.world.tz)
        verified = period_start(ArchiveKind.DAY, commissioned - timedelta(days=rng.randint(10, 200)))
        if self.replaced_at is not None:  # a new meter, verified at the factory just before it was fitted
            verified = period_start(ArchiveKind.DAY, utc_to_local(self.replaced_at, self.world.tz) - timedelta(days=7))
        days = (now_utc - (self.replaced_at or self.world.commissioning)).total_seconds() / 86_400
        battery = max(0, min(100, round(rng.uniform(92, 100) - days / 36.5)))  # ~10 %/year
        return to_device_seconds(verified), battery

    # --- radio events ------------------------------------------------------------------------
    def device_info(self) -> integration.DeviceInfo:
        return integration.DeviceInfo(
            tenant_id=TENANT_ID,
            tenant_name="domuchet",
            application_id=self.application_id,
            application_name=self.APPLICATION_NAME,
            device_profile_id=self.PROFILE_ID,
            device_profile_name=self.MODEL,
            device_name=self.name,
            dev_eui=self.dev_eui,
            device_class_enabled=common.DeviceClass.CLASS_A,
        )

    def uplink_event(self, data: bytes, f_port: int, f_cnt: int, sent_at: datetime,
                     rng: random.Random) -> integration.UplinkEvent:
        """ChirpStack v4's event of one uplink with radio metadata drawn from ``rng``."""
        event = integration.UplinkEvent(
            deduplication_id=random_uuid(rng),
            device_info=self.device_info(),
            dev_addr=self._dev_addr(),
            adr=True,
            dr=rng.choice((2, 3, 4, 5)),
            f_cnt=f_cnt,
            f_port=f_port,
            confirmed=False,
            data=data,
            rx_info=[gw.UplinkRxInfo(
                gateway_id=rng.choice(GATEWAYS),
                uplink_id=rng.randrange(1, 2**31),
                rssi=round(rng.gauss(-98, 8)),
                snr=round(rng.gauss(4.5, 3.0), 1),
                channel=rng.randrange(0, 5),
                context=b"\x00\x01",
                crc_status=gw.CRCStatus.CRC_OK,
            )],
            tx_info=gw.UplinkTxInfo(
                frequency=rng.choice(RU864_CHANNELS_HZ),
                modulation=gw.Modulation(lora=gw.LoraModulationInfo(
                    bandwidth=125000, spreading_factor=rng.choice((7, 8, 9, 10)),
                    code_rate=gw.CodeRate.CR_4_5)),
            ),
        )
        event.time.CopyFrom(stamp(sent_at))
        return event

    def uplink(self, data: bytes, f_port: int, f_cnt: int, sent_at: datetime, rng: random.Random) -> str:
        """The JSON of ``uplink_event`` (the same document, the same draws from ``rng``), filled
        into the device's template instead of printed by protobuf, whose printer took most of a
        busy simulator's time (tests/unit/simulators compare the two)."""
        key = (self.dev_eui, self.name, self.application_id)
        if self._template is None or self._template[0] != key:
            self._template = (key, json_format.MessageToDict(
                self.uplink_event(b"", 0, 0, datetime(2000, 1, 1), random.Random(0)),
                always_print_fields_with_no_presence=True))
        doc = dict(self._template[1])
        doc["deduplicationId"] = random_uuid(rng)
        doc["time"] = stamp(sent_at).ToJsonString()
        doc["dr"] = rng.choice((2, 3, 4, 5))
        doc["fCnt"], doc["fPort"], doc["data"] = f_cnt, f_port, base64.b64encode(data).decode()
        doc["rxInfo"] = [{**doc["rxInfo"][0], "gatewayId": rng.choice(GATEWAYS), "uplinkId": rng.randrange(1, 2**31),
                          "rssi": round(rng.gauss(-98, 8)), "snr": round(rng.gauss(4.5, 3.0), 1),
                          "channel": rng.randrange(0, 5)}]
        tx = doc["txInfo"]
        frequency = rng.choice(RU864_CHANNELS_HZ)
        lora = {**tx["modulation"]["lora"], "spreadingFactor": rng.choice((7, 8, 9, 10))}
        doc["txInfo"] = {**tx, "frequency": frequency, "modulation": {**tx["modulation"], "lora": lora}}
        return json.dumps(doc)

    def _dev_addr(self) -> str:
        return f"{int(self.dev_eui[-8:], 16) & 0x01FFFFFF:08x}"

    def up_event(self, index: int, sent_at: datetime, data: bytes | None = None) -> str:
        """ChirpStack v4 JSON of the uplink that carries hour ``index``; fCnt counts every uplink sent."""
        rng = random.Random(f"radio:{self.world.scenario.seed}:{self.dev_eui}:{index}")
        payload = self.hourly_payload(index) if data is None else data
        return self.uplink(payload, lorawan.FPORT, self.f_cnt(index), sent_at, rng)

    def status_event(self, index: int, sent_at: datetime) -> tuple[str, str]:
        """ChirpStack's ``status`` event: the device's answer to the daily DevStatusReq (battery, margin)."""
        rng = random.Random(f"status:{self.world.scenario.seed}:{self.dev_eui}:{index}")
        _, battery = self.passport_dates(sent_at)
        event = integration.StatusEvent(deduplication_id=random_uuid(rng), device_info=self.device_info(),
                                        margin=round(rng.gauss(8, 3)), external_power_source=False,
                                        battery_level_unavailable=False, battery_level=float(battery))
        event.time.CopyFrom(stamp(sent_at))
        return event_topic(self.application_id, self.dev_eui, "status"), to_json(event)

    def log_event(self, now_utc: datetime, effect: lorawan_up.Effect, severity: lorawan_up.Severity,
                  code: int, channel: int = 0) -> tuple[int, bytes]:
        """Record an event in the device's log; (fPort, payload) of its uplink."""
        event = lorawan_up.DeviceEvent(to_device_seconds(self.device_now(now_utc)), effect, severity, code, channel)
        self.events.append(event)
        return lorawan_up.FPORT_DATA, lorawan_up.encode(event)

    def raise_event(self, now_utc: datetime, effect: lorawan_up.Effect, severity: lorawan_up.Severity,
                    code: int, channel: int = 0) -> tuple[str, str]:
        """The device logs an event and reports it at once: (topic, uplink JSON)."""
        f_port, data = self.log_event(now_utc, effect, severity, code, channel)
        return self.topic, self.extra_uplink(data, f_port, now_utc, f"event:{code}:{len(self.events)}")

    def extra_uplink(self, data: bytes, f_port: int, sent_at: datetime, key: str) -> str:
        """An uplink besides the hourly ones; it takes the next fCnt."""
        f_cnt = self.f_cnt(self.world.hour_index(sent_at))
        rng = random.Random(f"radio-extra:{self.world.scenario.seed}:{self.dev_eui}:{self.counters.extra}:{key}")
        self.counters.extra += 1
        return self.uplink(data, f_port, f_cnt, sent_at, rng)

    def log_f_cnt_reset(self, now_utc: datetime) -> tuple[str, str]:
        """Re-registration: fCnt restarts at 0 from the next hourly uplink; ChirpStack logs it."""
        index = self.world.hour_index(now_utc)
        self.counters.reset_hour, self.counters.extra = index, 0
        event = integration.LogEvent(device_info=self.device_info(), level=integration.LogLevel.WARNING,
                                     code=integration.LogCode.UPLINK_F_CNT_RESET,
                                     description="Frame-counter reset or rollover detected",
                                     context={"deduplication_id": str(uuid.UUID(int=random.Random(
                                         f"log:{self.dev_eui}:{index}").getrandbits(128), version=4))})
        event.time.CopyFrom(stamp(now_utc))
        return event_topic(self.application_id, self.dev_eui, "log"), to_json(event)

    def join_event(self, now_utc: datetime) -> tuple[str, str]:
        """ChirpStack's ``join`` event: a new device (OTAA) joined the network."""
        rng = random.Random(f"join:{self.world.scenario.seed}:{self.dev_eui}")
        event = integration.JoinEvent(deduplication_id=random_uuid(rng), device_info=self.device_info(),
                                      dev_addr=self._dev_addr())
        event.time.CopyFrom(stamp(now_utc))
        return event_topic(self.application_id, self.dev_eui, "join"), to_json(event)

    # --- downlinks ------------------------------------------------------------------------------
    def answers(self, command: lorawan_down.Downlink, now_utc: datetime) -> list[tuple[int, bytes]]:
        """(fPort, payload) of each uplink the device sends in answer to a command."""
        if isinstance(command, lorawan_down.ArchiveRequest):
            out: list[tuple[int, bytes]] = []
            period = from_device_seconds(command.first)
            last = from_device_seconds(command.last)
            while period <= last and len(out) < lorawan_down.MAX_BACKFILL_RECORDS:
                end = self.archive_end_index(command.kind, to_device_seconds(period), now_utc)
                if end is not None:
                    out.append((lorawan.FPORT, self.archive_payload_for(command.kind, to_device_seconds(period), end)))
                period = next_period(command.kind, period_start(command.kind, period))
            if out:
                return out
            return [self.log_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.WARNING,
                                   EVENT_ARCHIVE_UNAVAILABLE)]
        if isinstance(command, lorawan_down.SetClock):
            self.set_clock(command.device_seconds, now_utc)
            return [self.log_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.INFO, EVENT_CLOCK_SET)]
        if isinstance(command, lorawan_down.RelayCommand):
            return self.relay(command, now_utc)
        if isinstance(command, lorawan_down.PassportRequest):
            return [(lorawan_up.FPORT_DATA, lorawan_up.encode(self.passport(now_utc)))]
        return [(lorawan_up.FPORT_DATA, lorawan_up.encode(self.current(now_utc)))]

    def handle_downlink(self, command: integration.DownlinkCommand, now_utc: datetime,
                        answer_spacing_s: float = 2.0) -> list[tuple[str, str]]:
        """(topic, event JSON) the network server publishes for one downlink delivered to the device.

        Class A: the simulator delivers a queued downlink right after the device's next uplink,
        ``now_utc`` is then. Events: ``txack``, the answer uplinks (``answer_spacing_s`` apart),
        and ``ack`` (confirmed only).
        """
        queue_item_id = command.id or str(uuid.UUID(int=random.Random(
            f"q:{self.dev_eui}:{self.counters.down}").getrandbits(128), version=4))
        rng = random.Random(f"down:{self.world.scenario.seed}:{self.dev_eui}:{self.counters.down}")
        f_cnt_down = self.counters.down
        self.counters.down += 1
        txack = integration.TxAckEvent(
            downlink_id=rng.randrange(1, 2**31), device_info=self.device_info(), queue_item_id=queue_item_id,
            f_cnt_down=f_cnt_down, gateway_id=rng.choice(GATEWAYS),
            tx_info=gw.DownlinkTxInfo(frequency=869_100_000, power=16, modulation=gw.Modulation(
                lora=gw.LoraModulationInfo(bandwidth=125000, spreading_factor=12, code_rate=gw.CodeRate.CR_4_5,
                                           polarization_inversion=True))))
        txack.time.CopyFrom(stamp(now_utc))
        out = [(event_topic(self.application_id, self.dev_eui, "txack"), to_json(txack))]
        try:
            if command.f_port != lorawan_down.FPORT_COMMAND:
                raise DecodeError("fPort", f"expected {lorawan_down.FPORT_COMMAND} for commands, got {command.f_port}")
            answers = self.answers(lorawan_down.decode(bytes(command.data)), now_utc)
        except DecodeError as exc:
            log.warning("event=downlink_rejected dev_eui=%s reason=%r", self.dev_eui, str(exc))
            answers = [self.log_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.WARNING,
                                      EVENT_COMMAND_REJECTED)]
        for i, (f_port, data) in enumerate(answers):
            sent_at = now_utc + timedelta(seconds=answer_spacing_s * (i + 1))
            text = self.extra_uplink(data, f_port, sent_at, f"answer:{f_cnt_down}:{i}")
            out.append((self.topic, text))
            if i == 0 and command.confirmed:  # the device's first answer carries the ACK bit
                ack = integration.AckEvent(
                    deduplication_id=json_format.Parse(text, integration.UplinkEvent()).deduplication_id,
                    device_info=self.device_info(), queue_item_id=queue_item_id, acknowledged=True,
                    f_cnt_down=f_cnt_down)
                ack.time.CopyFrom(stamp(sent_at))
                out.append((event_topic(self.application_id, self.dev_eui, "ack"), to_json(ack)))
        return out
