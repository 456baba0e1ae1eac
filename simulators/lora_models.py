"""The other KARAT radio devices of manual 4.5.2: СВК water meter with a KARAT-926LW, electricity
meters with a KARAT-941LW (1-4 tariffs, phase, reading multiplier, load relay), KARAT-927LW
pulse counter (2 or 4 inputs). Each sends its hourly archive as a channel archive record
(protocol/lorawan_archive.py) and answers downlinks like every radio device
(simulators/lora_device.py). Consumption is a pure function of (seed, serial, hour index).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from protocol import lorawan_archive, lorawan_down, lorawan_up
from protocol.lorawan_up import Reading
from protocol.periods import to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind, Nature
from simulators.karat307 import Karat307
from simulators.lora_device import (
    EVENT_ACCESS_DENIED,
    EVENT_RELAY_SWITCHED,
    LoraDevice,
    RadioCounters,
)
from simulators.scenario import DevicePlan
from simulators.world import WATER_WEIGHT, World

_ELECTRIC_WEIGHT = tuple(0.4 / 24 + 0.6 * w for w in WATER_WEIGHT)  # a flatter base load under the peaks


def tariff_zone(local: datetime, tariffs: int) -> int:
    """Tariff zone (1-based) of a local hour: day/night, then peak/semi-peak, then weekend days."""
    hour = local.hour
    night = hour >= 23 or hour < 7
    if tariffs == 1:
        return 1
    if tariffs == 2:
        return 2 if night else 1
    if night:
        return 2
    if tariffs == 4 and local.weekday() >= 5:
        return 4  # weekend daytime
    return 1 if 7 <= hour < 10 or 17 <= hour < 21 else 3  # peak, else semi-peak


class _Cumulative:
    """Counter readings at the end of each hour, extended lazily from initial values."""

    def __init__(self, initial: tuple[int, ...], use: Callable[[int], tuple[int, ...]]) -> None:
        self.initial = initial
        self.use = use
        self._cum: list[tuple[int, ...]] = []

    def at(self, index: int) -> tuple[int, ...]:
        if index < 0:
            return self.initial
        while len(self._cum) <= index:
            prev = self._cum[-1] if self._cum else self.initial
            self._cum.append(tuple(a + b for a, b in zip(prev, self.use(len(self._cum)), strict=True)))
        return self._cum[index]


class _ChannelDevice(LoraDevice):
    """A radio module with numbered channels; archives are integral unless HOUR_NATURE says otherwise."""

    HOUR_NATURE = Nature.INTEGRAL

    def __init__(self, world: World, plan: DevicePlan, application_id: str,
                 counters: RadioCounters | None = None) -> None:
        name = f"apt-{plan.apartment}-{plan.model[6:].lower()}" if plan.apartment else f"common-{plan.model[6:]}"
        super().__init__(world, plan.serial, plan.dev_eui, name, application_id, counters)
        self.plan = plan
        self.MODEL = plan.model
        rng = random.Random(f"init:{world.scenario.seed}:{plan.serial}")
        self.counter = _Cumulative(self.initial_counters(rng), self.hour_use)

    def initial_counters(self, rng: random.Random) -> tuple[int, ...]:
        """Readings at commissioning."""
        return tuple(rng.randint(1_000, 900_000) for _ in self.params())

    # a model lists its channels: (channel, parameter) in the order of its counters
    def params(self) -> tuple[tuple[int, str], ...]:
        raise NotImplementedError

    def hour_use(self, index: int) -> tuple[int, ...]:
        raise NotImplementedError

    def _rng(self, index: int) -> random.Random:  # the metered point's, unchanged by a replacement
        return random.Random(f"use:{self.world.scenario.seed}:{self.plan.serial}:{index}")

    def _local(self, index: int) -> datetime:
        return utc_to_local(self.world.hour_start(index), self.world.tz)

    def _readings(self, values: tuple[int, ...]) -> tuple[Reading, ...]:
        return tuple(Reading(ch, p, v % 2**32) for (ch, p), v in zip(self.params(), values, strict=True))

    def counters_at(self, index: int) -> tuple[int, ...]:
        """Register readings at the end of hour ``index``; after a counter reset they count from 0, after a
        replacement from the new meter's readings."""
        return self.restarted(index, self.counter.at)

    def _record(self, kind: ArchiveKind, period: int, end_index: int) -> lorawan_archive.ChannelArchive:
        if kind is ArchiveKind.HOUR and self.HOUR_NATURE is Nature.INTERVAL:
            before, after = self.counter.at(end_index - 1), self.counter.at(end_index)
            return lorawan_archive.ChannelArchive(kind, period, self._readings(
                tuple(b - a for a, b in zip(before, after, strict=True))), Nature.INTERVAL, self.flags(end_index))
        return lorawan_archive.ChannelArchive(kind, period, self._readings(self.counters_at(end_index)),
                                              Nature.INTEGRAL, self.flags(end_index))

    def flags(self, index: int) -> int:
        _ = index
        return 0

    def hourly_payload(self, index: int) -> bytes:
        period = to_device_seconds(self._local(index))
        return lorawan_archive.encode(self._record(ArchiveKind.HOUR, period, index))

    def archive_payload_for(self, kind: ArchiveKind, period: int, end_index: int) -> bytes:
        return lorawan_archive.encode(self._record(kind, period, end_index))

    def current(self, now_utc: datetime) -> lorawan_up.CurrentReadings:
        index = self.world.hour_index(now_utc)
        share = max(0.0, (now_utc - self.world.hour_start(index)).total_seconds() / 3600)
        now = tuple(round(c + u * share) for c, u in zip(self.counters_at(index - 1), self.hour_use(index),
                                                        strict=True))
        return lorawan_up.CurrentReadings(to_device_seconds(self.device_now(now_utc)),
                                          self._readings(now) + self.instant(index))

    def instant(self, index: int) -> tuple[Reading, ...]:
        _ = index
        return ()

    def resources(self) -> tuple[lorawan_up.Resource, ...]:
        raise NotImplementedError

    def relay_state(self) -> tuple[int, int]:
        return lorawan_up.RELAY_ABSENT, 0

    def passport(self, now_utc: datetime) -> lorawan_up.Passport:
        verified, battery = self.passport_dates(now_utc)
        relay, threshold = self.relay_state()
        return lorawan_up.Passport(
            model=self.MODEL_CODE, serial=int(self.serial), firmware=self.FIRMWARE, verified=verified,
            device_time=to_device_seconds(self.device_now(now_utc)), battery_pct=battery,
            status=lorawan_up.STATUS_LOW_BATTERY if battery < 15 else 0, relay=relay, threshold_w=threshold,
            inputs=self.resources())


class WaterMeter926(_ChannelDevice):
    """СВК water meter with a KARAT-926LW: one volume channel; the module keeps the archives,
    hourly as litres used in the hour (interval), daily and monthly as readings (integral)."""

    MODEL_CODE = 926
    FIRMWARE = 0x0201
    HOUR_NATURE = Nature.INTERVAL
    ARCHIVE_DEPTH: ClassVar[dict[ArchiveKind, timedelta]] = {
        ArchiveKind.HOUR: timedelta(days=31), ArchiveKind.DAY: timedelta(days=366),
        ArchiveKind.MONTH: timedelta(days=5 * 366)}
    LITRES_PER_RESIDENT_DAY: ClassVar[dict[str, float]] = {"hot_water": 45.0, "cold_water": 70.0}  # one riser

    def __init__(self, world: World, plan: DevicePlan, application_id: str,
                 counters: RadioCounters | None = None) -> None:
        apartment = next(a for a in world.building.apartments if a.number == plan.apartment)
        self.residents = apartment.residents
        super().__init__(world, plan, application_id, counters)

    def params(self) -> tuple[tuple[int, str], ...]:
        return ((1, "V"),)

    def hour_use(self, index: int) -> tuple[int, ...]:
        rng = self._rng(index)
        litres = self.residents * WATER_WEIGHT[self._local(index).hour] * \
            self.LITRES_PER_RESIDENT_DAY[self.plan.resource] * rng.uniform(0.3, 1.7)
        return (round(litres) + self.leak_litres(index) - self.leak_litres(index - 1),)

    def flags(self, index: int) -> int:
        return self.leak_flag(index)

    def resources(self) -> tuple[lorawan_up.Resource, ...]:
        return (lorawan_up.Resource.HOT_WATER if self.plan.resource == "hot_water" else lorawan_up.Resource.COLD_WATER,)


@dataclass(frozen=True, slots=True)
class RelayChange:
    from_index: int  # first hour the new state governs
    mode: lorawan_down.RelayMode
    threshold_w: int


class ElectricityMeter941(_ChannelDevice):
    """Electricity meter with a KARAT-941LW: total and per-tariff energy (Wh; channel 1 total,
    channels 2..1+tariffs by zone), power per phase in current readings (channels 11-13 = A-C),
    a reading multiplier for current-transformer meters (the meter counts secondary energy),
    an admin password the module must know, and a load relay that cuts or limits."""

    MODEL_CODE = 941
    FIRMWARE = 0x0302
    ARCHIVE_DEPTH: ClassVar[dict[ArchiveKind, timedelta]] = {
        ArchiveKind.HOUR: timedelta(days=93), ArchiveKind.DAY: timedelta(days=366),
        ArchiveKind.MONTH: timedelta(days=3 * 366)}
    FACTORY_PASSWORD = "000000"  # noqa: S105 - the published factory default, as the manual says

    def __init__(self, world: World, plan: DevicePlan, application_id: str,
                 counters: RadioCounters | None = None) -> None:
        apartment = next((a for a in world.building.apartments if a.number == plan.apartment), None)
        self.residents = apartment.residents if apartment else 0
        self.password = self.FACTORY_PASSWORD  # the meter's admin password
        self.module_password = self.FACTORY_PASSWORD  # what the 941LW module sends
        self.relay_log: list[RelayChange] = [RelayChange(0, lorawan_down.RelayMode.ON, 0)]
        super().__init__(world, plan, application_id, counters)

    def params(self) -> tuple[tuple[int, str], ...]:
        return tuple((ch, "E") for ch in range(1, self.plan.tariffs + 2))

    def initial_counters(self, rng: random.Random) -> tuple[int, ...]:
        zones = tuple(rng.randint(100_000, 9_000_000) for _ in range(self.plan.tariffs))
        return (sum(zones), *zones)  # the total is the sum of the tariff registers

    def start_readings(self, count: int) -> tuple[int, ...]:
        zones = super().start_readings(count)[1:]
        return (sum(zones), *zones)  # a new meter's total is the sum of its tariff registers too

    def replace_device(self, index: int, now_utc: datetime, serial: str, dev_eui: str,
                       counters: RadioCounters) -> None:
        super().replace_device(index, now_utc, serial, dev_eui, counters)
        self.password = self.module_password = self.FACTORY_PASSWORD  # a new meter: relay closed
        self.relay_log.append(RelayChange(index, lorawan_down.RelayMode.ON, 0))

    def demand_wh(self, index: int) -> float:
        rng = self._rng(index)
        if self.plan.apartment:
            daily_kwh = 2.0 + 1.6 * self.residents
        else:  # lifts, lighting, pumps of the building: about 0.4 kWh per m2 a month
            daily_kwh = 0.013 * self.world.building.total_area_m2
        return daily_kwh * 1000 * _ELECTRIC_WEIGHT[self._local(index).hour] * rng.uniform(0.7, 1.3)

    def relay_at(self, index: int) -> RelayChange:
        return next(c for c in reversed(self.relay_log) if c.from_index <= index)

    def hour_use(self, index: int) -> tuple[int, ...]:
        wh = self.demand_wh(index)
        relay = self.relay_at(index)
        if relay.mode is lorawan_down.RelayMode.CUT:
            wh = 0.0
        elif relay.mode is lorawan_down.RelayMode.LIMIT and wh > relay.threshold_w:
            wh = relay.threshold_w / 2  # tripped about half-way through the hour
        secondary = round(wh / self.plan.multiplier)  # what a CT meter counts
        zones = [0] * self.plan.tariffs
        zones[tariff_zone(self._local(index), self.plan.tariffs) - 1] = secondary
        return (secondary, *zones)

    def flags(self, index: int) -> int:
        relay = self.relay_at(index)
        tripped = relay.mode is lorawan_down.RelayMode.LIMIT and self.demand_wh(index) > relay.threshold_w
        return 2 if relay.mode is lorawan_down.RelayMode.CUT or tripped else 0

    def instant(self, index: int) -> tuple[Reading, ...]:
        watts = round(self.hour_use(index)[0] * self.plan.multiplier)
        if self.plan.phase:
            return (Reading(1, "P", watts), Reading(11 + "ABC".index(self.plan.phase), "P", watts))
        shares = (0.36, 0.31, 0.33)
        return (Reading(1, "P", watts), *(Reading(11 + i, "P", round(watts * s)) for i, s in enumerate(shares)))

    def resources(self) -> tuple[lorawan_up.Resource, ...]:
        return (lorawan_up.Resource.ELECTRICITY,) * (self.plan.tariffs + 1)

    def relay_state(self) -> tuple[int, int]:
        last = self.relay_log[-1]
        return int(last.mode), last.threshold_w

    def answers(self, command: lorawan_down.Downlink, now_utc: datetime) -> list[tuple[int, bytes]]:
        if isinstance(command, lorawan_down.SetClock) and self.module_password != self.password:
            return [self.log_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.WARNING,
                                   EVENT_ACCESS_DENIED)]
        return super().answers(command, now_utc)

    def relay(self, command: lorawan_down.RelayCommand, now_utc: datetime) -> list[tuple[int, bytes]]:
        if self.module_password != self.password:
            return [self.log_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.WARNING,
                                   EVENT_ACCESS_DENIED)]
        # the new state governs from the next whole hour (hours already counted stay as they were)
        self.relay_log.append(RelayChange(self.world.hour_index(now_utc) + 1, command.mode, command.threshold_w))
        event = self.log_event(now_utc, lorawan_up.Effect.OTHER, lorawan_up.Severity.INFO, EVENT_RELAY_SWITCHED)
        return [event, (lorawan_up.FPORT_DATA, lorawan_up.encode(self.passport(now_utc)))]


class PulseCounter927(_ChannelDevice):
    """KARAT-927LW pulse counter: 2 or 4 inputs counting pulses (parameter N) of the meters wired
    to them (10 litres a pulse); the weight of a pulse is set at commissioning, not in the device."""

    MODEL_CODE = 927
    FIRMWARE = 0x0105
    LITRES_PER_PULSE = 10

    def __init__(self, world: World, plan: DevicePlan, application_id: str,
                 counters: RadioCounters | None = None) -> None:
        apartment = next(a for a in world.building.apartments if a.number == plan.apartment)
        self.residents = apartment.residents
        super().__init__(world, plan, application_id, counters)

    def params(self) -> tuple[tuple[int, str], ...]:
        return tuple((ch, "N") for ch in range(1, self.plan.inputs + 1))

    def hour_use(self, index: int) -> tuple[int, ...]:
        rng = self._rng(index)
        weight = WATER_WEIGHT[self._local(index).hour]
        per_day = (40.0, 60.0, 25.0, 35.0)  # inputs 1-4: hot, cold, second riser hot, cold
        litres = [self.residents * weight * per_day[i] * rng.uniform(0.3, 1.7) for i in range(self.plan.inputs)]
        return tuple(round(v / self.LITRES_PER_PULSE) for v in litres)

    def resources(self) -> tuple[lorawan_up.Resource, ...]:
        return (lorawan_up.Resource.PULSES,) * self.plan.inputs


class Radio929(LoraDevice):
    """A KARAT-929LW radio module on a KARAT-307/306 heat calculator: it reads the calculator
    and sends its hourly record over LoRaWAN as a channel archive (heat input 1: Q, V1, V2, T1, T2;
    2 hot water V; 3 cold water V). The calculator keeps the archives (no month archive) and the
    clock; a clock command through the module sets the calculator's clock."""

    MODEL = "KARAT-929LW"
    MODEL_CODE = 929
    FIRMWARE = 0x0104
    APPLICATION_NAME = "karat-building-meters"
    OWN_SERIAL = False

    def __init__(self, world: World, calculator: Karat307, dev_eui: str, application_id: str,
                 counters: RadioCounters | None = None) -> None:
        self.calculator = calculator
        super().__init__(world, calculator.serial, dev_eui, f"heat-input-{calculator.unit}", application_id, counters)

    @property  # type: ignore[override]
    def serial(self) -> str:
        """The calculator's serial: the module reports the meter it is fitted to (a new one after a replacement)."""
        return self.calculator.serial

    @serial.setter
    def serial(self, value: str) -> None:
        _ = value  # the module has no serial of its own here

    def archive_depth(self) -> dict[ArchiveKind, timedelta]:
        return self.calculator.ARCHIVE_DEPTH  # the calculator keeps the archives (a 306 shorter ones)

    def archive_start_index(self) -> int:
        return self.calculator.installed_index or 0  # a new module reads the calculator's archives

    def device_now(self, moment_utc: datetime) -> datetime:
        return self.calculator.device_now(moment_utc)

    def set_clock(self, device_seconds: int, now_utc: datetime) -> None:
        _ = now_utc
        self.calculator.set_clock(device_seconds)

    def _readings(self, end_index: int) -> tuple[Reading, ...]:
        registers = self.calculator.record_values(end_index)
        readings = (Reading(1, "Q", registers.heat_kcal), Reading(1, "V1", registers.supply_litres),
                    Reading(1, "V2", registers.return_litres), Reading(1, "T1", registers.supply_temp_centi),
                    Reading(1, "T2", registers.return_temp_centi), Reading(2, "V", registers.hot_water_litres),
                    Reading(3, "V", registers.cold_water_litres))
        return tuple(r for r in readings if r.channel in self.calculator.CHANNELS)  # what the calculator has

    def hourly_payload(self, index: int) -> bytes:
        period = to_device_seconds(utc_to_local(self.world.hour_start(index), self.world.tz))
        return self.archive_payload_for(ArchiveKind.HOUR, period, index)

    def archive_payload_for(self, kind: ArchiveKind, period: int, end_index: int) -> bytes:
        return lorawan_archive.encode(lorawan_archive.ChannelArchive(kind, period, self._readings(end_index)))

    def current(self, now_utc: datetime) -> lorawan_up.CurrentReadings:
        index = self.world.hour_index(now_utc)  # the calculator's last closed hour
        return lorawan_up.CurrentReadings(to_device_seconds(self.device_now(now_utc)), self._readings(index - 1))

    def passport(self, now_utc: datetime) -> lorawan_up.Passport:
        verified, _ = self.passport_dates(now_utc)
        return lorawan_up.Passport(
            model=self.calculator.model_code, serial=int(self.serial), firmware=self.FIRMWARE, verified=verified,
            device_time=to_device_seconds(self.device_now(now_utc)), battery_pct=100, status=0,
            relay=lorawan_up.RELAY_ABSENT, threshold_w=0,
            inputs=(lorawan_up.Resource.HEAT, lorawan_up.Resource.HOT_WATER, lorawan_up.Resource.COLD_WATER)[
                :len(self.calculator.CHANNELS)])


MODELS: dict[str, type[_ChannelDevice]] = {
    "KARAT-926LW": WaterMeter926,
    "KARAT-941LW": ElectricityMeter941,
    "KARAT-927LW": PulseCounter927,
}


def make_device(world: World, plan: DevicePlan, application_id: str,
                counters: RadioCounters | None = None) -> _ChannelDevice:
    return MODELS[plan.model](world, plan, application_id, counters)
