"""KARAT-Compact-2-223 (and -213) apartment heat meter on LoRaWAN, as its network server reports it.

Each closed hour the meter sends its hourly integral archive (protocol/lorawan.py, templates
0x11-0x13: heat, pulse input 1 hot water, pulse input 2 cold water); the simulated network
server publishes it as a ChirpStack v4 ``up`` event. Downlinks, radio events, the clock and
the frame counter are common to all radio devices: simulators/lora_device.py.
"""

from __future__ import annotations

from datetime import datetime

from protocol import lorawan, lorawan_up
from protocol.periods import to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.lora_device import (  # re-exported: the names tests and tools import from here
    EVENT_ARCHIVE_UNAVAILABLE,
    EVENT_CASE_OPEN,
    EVENT_CLOCK_SET,
    EVENT_COMMAND_REJECTED,
    EVENT_COMMAND_UNSUPPORTED,
    EVENT_LEAK,
    EVENT_MAGNET,
    EVENT_RELAY_SWITCHED,
    GATEWAYS,
    RU864_CHANNELS_HZ,
    LoraDevice,
    RadioCounters,
    down_topic,
    event_topic,
    to_json,
    up_topic,
)
from simulators.scenario import ApartmentPlan
from simulators.world import World

__all__ = [
    "EVENT_ARCHIVE_UNAVAILABLE", "EVENT_CASE_OPEN", "EVENT_CLOCK_SET", "EVENT_COMMAND_REJECTED",
    "EVENT_COMMAND_UNSUPPORTED", "EVENT_LEAK", "EVENT_MAGNET", "EVENT_RELAY_SWITCHED", "GATEWAYS",
    "MODEL_CODE", "RU864_CHANNELS_HZ", "Compact2", "RadioCounters", "down_topic", "event_topic", "to_json",
    "up_topic",
]

MODEL_CODE = 2223


class Compact2(LoraDevice):
    MODEL = "KARAT-Compact-2-223"
    MODEL_CODE = MODEL_CODE
    FIRMWARE = 0x0103  # 1.3

    def __init__(self, world: World, apartment: ApartmentPlan, application_id: str,
                 counters: RadioCounters | None = None, model: str = "KARAT-Compact-2-223") -> None:
        super().__init__(world, apartment.meter_serial, apartment.dev_eui, f"apt-{apartment.number}",
                         application_id, counters)
        self.apartment = apartment
        if model not in ("KARAT-Compact-2-223", "KARAT-Compact-2-213"):
            raise ValueError(f"model must be KARAT-Compact-2-223 or -213, got {model!r}")
        self.MODEL = model
        self.MODEL_CODE = 2213 if model.endswith("213") else 2223

    def counters_at(self, index: int) -> tuple[int, ...]:
        """(heat kcal, input 1 litres, input 2 litres) at the end of hour ``index``, as the registers hold
        them: the world's counters plus any leak on the cold-water input; after a counter reset or a
        replacement, counted afresh from that hour (simulators/lora_device.py ``restarted``)."""
        return self.restarted(index, self._raw_counters)

    def _raw_counters(self, index: int) -> tuple[int, int, int]:
        if index < 0:
            c = self.world.initial_counters(self.apartment.meter_serial)
        else:
            c = self.world.apartment_counters(self.apartment, index)
        return c.heat_kcal, c.hot_litres, c.cold_litres + self.leak_litres(index)

    def archive_payload(self, index: int) -> bytes:
        """The hourly archive uplink for hour ``index`` (sent when that hour closes)."""
        heat, hot, cold = self.counters_at(index)
        start_local = utc_to_local(self.world.hour_start(index), self.world.tz)
        return lorawan.encode(lorawan.CompactArchive(
            kind=ArchiveKind.HOUR, period=to_device_seconds(start_local),
            heat_kcal=heat % 2**32, input1_litres=hot % 2**32, input2_litres=cold % 2**32,
            flags=self.leak_flag(index),
        ))

    def hourly_payload(self, index: int) -> bytes:
        return self.archive_payload(index)

    def archive_record(self, kind: ArchiveKind, period: int, now_utc: datetime) -> lorawan.CompactArchive | None:
        """The stored archive record of a period (device seconds), or None if the device has none."""
        end = self.archive_end_index(kind, period, now_utc)
        if end is None:
            return None
        heat, hot, cold = self.counters_at(end)
        return lorawan.CompactArchive(kind, period, heat % 2**32, hot % 2**32, cold % 2**32, self.leak_flag(end))

    def archive_payload_for(self, kind: ArchiveKind, period: int, end_index: int) -> bytes:
        heat, hot, cold = self.counters_at(end_index)
        return lorawan.encode(lorawan.CompactArchive(kind, period, heat % 2**32, hot % 2**32, cold % 2**32,
                                                     self.leak_flag(end_index)))

    def current(self, now_utc: datetime) -> lorawan_up.CurrentReadings:
        """Counters now: the last closed hour plus the share of this hour already used."""
        index = self.world.hour_index(now_utc)
        heat, hot, cold = self.counters_at(index - 1)
        use = self.world.apartment_use(self.apartment, max(index, 0))
        share = max(0.0, (now_utc - self.world.hour_start(index)).total_seconds() / 3600)
        leak = (self.leak_litres(index) - self.leak_litres(index - 1)) * share
        readings = (lorawan_up.Reading(1, "Q", (heat + round(use.heat_kcal * share)) % 2**32),
                    lorawan_up.Reading(2, "V", (hot + round(use.hot_litres * share)) % 2**32),
                    lorawan_up.Reading(3, "V", (cold + round(use.cold_litres * share + leak)) % 2**32))
        return lorawan_up.CurrentReadings(to_device_seconds(self.device_now(now_utc)), readings)

    def passport(self, now_utc: datetime) -> lorawan_up.Passport:
        verified, battery = self.passport_dates(now_utc)
        status = lorawan_up.STATUS_LOW_BATTERY if battery < 15 else 0
        return lorawan_up.Passport(
            model=self.MODEL_CODE, serial=int(self.serial), firmware=self.FIRMWARE, verified=verified,
            device_time=to_device_seconds(self.device_now(now_utc)), battery_pct=battery, status=status,
            relay=lorawan_up.RELAY_ABSENT, threshold_w=0,
            inputs=(lorawan_up.Resource.HEAT, lorawan_up.Resource.HOT_WATER, lorawan_up.Resource.COLD_WATER,
                    lorawan_up.Resource.NONE))
