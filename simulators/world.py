"""The simulated world: a clock that runs ``speed`` times faster than the wall (never past it), the weather,
and the consumption of every apartment and of the building, hour by hour.

Everything is a pure function of (seed, device, hour index), so a restarted simulator
reproduces the same archives, and counters are integers (kcal, litres) that never drift.
Hour index 0 is the hour that starts at commissioning.
"""

from __future__ import annotations

import math
import random
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from protocol.periods import local_to_utc, zone
from simulators.scenario import ApartmentPlan, BuildingPlan, Scenario

HOUR = 3600
# Share of a resident's daily water use in each local hour: morning and evening peaks.
_WATER_PROFILE = (1, 0.6, 0.5, 0.5, 0.6, 1.5, 4.5, 7.5, 7, 5, 4, 3.5, 3.5, 3.5, 3, 3, 3.5, 4.5, 6.5, 7.5,
                  7.5, 6.5, 4.5, 2)
_WATER_WEIGHT = tuple(w / sum(_WATER_PROFILE) for w in _WATER_PROFILE)
WATER_WEIGHT = _WATER_WEIGHT  # share of a day's water use in each local hour (0-23)
HOT_LITRES_PER_RESIDENT_DAY = 95.0
COLD_LITRES_PER_RESIDENT_DAY = 140.0
HEAT_KCAL_PER_M2_HOUR_AT_DESIGN = 95.0  # at -26 degC outdoors, 20 degC indoors
INDOOR_C, DESIGN_OUTDOOR_C, HEATING_BELOW_C = 20.0, -26.0, 8.0


class SimClock:
    """Simulated UTC time that runs ``speed`` times faster than the wall clock from ``start``.

    With ``cap`` (a function giving the wall clock's UTC time) it never runs ahead of it: simulated
    time is ``min(start + elapsed * speed, cap())``, so a clock that starts in the past replays it at
    ``speed`` and then keeps to real time, and no device reads a time that has not come yet. Without
    it (tests, QA tools) it runs wherever ``speed`` takes it. ``monotonic`` is the elapsed-time source
    (tests pass their own)."""

    def __init__(self, start: datetime, speed: float, cap: Callable[[], datetime] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.speed = speed
        self._sim0 = start
        self._cap = cap
        self._monotonic = monotonic
        self._wall0 = monotonic()
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        sim = self._sim0 + timedelta(seconds=(self._monotonic() - self._wall0) * self.speed)
        if self._cap is not None:
            return min(sim, self._cap())
        return sim

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop simulated time where it is, or at ``at`` (QA and tests: a world that changes only
        when they move it on)."""
        self._frozen = self.now() if at is None else at
        return self._frozen


def wall_clock() -> datetime:
    """The wall clock's UTC time: the cap of the simulator's clock."""
    return datetime.now(UTC)


def commissioning_utc(scenario: Scenario, wall_now: datetime | None = None) -> datetime:
    """When the building's meters were commissioned (hour index 0), in UTC.

    ``start = "auto"``: 23:00 local on the day before the ``history_days`` whole days that end at
    today's local midnight (two by default), so the first hourly record closes at midnight and the
    first whole day already has its opening reading (consumption needs both ends)."""
    tz = zone(scenario.building.time_zone)
    if scenario.start == "auto":
        wall_now = wall_now or datetime.now(UTC)
        local_midnight = wall_now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        local = local_midnight - timedelta(days=scenario.history_days, hours=1)
    else:
        local = datetime.fromisoformat(scenario.start).replace(minute=0, second=0, microsecond=0)
    return local_to_utc(local, tz)


def outdoor_temperature(moment: datetime, seed: int) -> float:
    """The weather station: seasonal and daily swings plus noise, degC."""
    doy = moment.timetuple().tm_yday
    seasonal = 4.0 - 15.0 * math.cos(2 * math.pi * (doy - 20) / 365.25)
    daily = -3.0 * math.cos(2 * math.pi * (moment.hour + 3 - 4) / 24)  # coldest near dawn
    noise = random.Random(f"wx:{seed}:{int(moment.timestamp()) // HOUR}").gauss(0, 1.2)
    return round(seasonal + daily + noise, 2)


def heating_factor(outdoor_c: float) -> float:
    """Share of design heat load at this outdoor temperature; zero outside heating weather."""
    if outdoor_c >= HEATING_BELOW_C:
        return 0.0
    return max(0.0, (INDOOR_C - outdoor_c) / (INDOOR_C - DESIGN_OUTDOOR_C))


@dataclass(frozen=True, slots=True)
class HourUse:
    heat_kcal: int
    hot_litres: int
    cold_litres: int
    carrier_litres: int = 0  # heat carrier through the building's supply pipe


class World:
    """Consumption of one building, computed lazily and cached per hour index."""

    def __init__(self, scenario: Scenario, building: BuildingPlan, commissioning: datetime) -> None:
        self.scenario = scenario
        self.building = building
        self.commissioning = commissioning
        self.tz = zone(scenario.building.time_zone)
        self._apartment_cum: dict[str, _Series] = {a.meter_serial: _Series() for a in building.apartments}
        self._building_cum = _Series()
        self._initial = {a.meter_serial: self._initial_counters(a.meter_serial) for a in building.apartments}
        self._initial[building.spec.heat_meter_serial] = self._initial_counters(building.spec.heat_meter_serial)

    def hour_start(self, index: int) -> datetime:
        return self.commissioning + timedelta(hours=index)

    def hour_index(self, moment_utc: datetime) -> int:
        return math.floor((moment_utc - self.commissioning).total_seconds() / HOUR)

    def _initial_counters(self, serial: str) -> HourUse:
        rng = random.Random(f"init:{self.scenario.seed}:{serial}")
        return HourUse(rng.randint(1_000_000, 9_000_000), rng.randint(10_000, 90_000), rng.randint(10_000, 90_000),
                       rng.randint(100_000, 900_000))

    def initial_counters(self, serial: str) -> HourUse:
        """Counter readings at commissioning (before hour 0)."""
        return self._initial[serial]

    def apartment_use(self, apartment: ApartmentPlan, index: int) -> HourUse:
        start = self.hour_start(index)
        local_hour = start.astimezone(self.tz).hour
        rng = random.Random(f"use:{self.scenario.seed}:{apartment.meter_serial}:{index}")
        factor = heating_factor(outdoor_temperature(start, self.scenario.weather))
        heat = apartment.area_m2 * HEAT_KCAL_PER_M2_HOUR_AT_DESIGN * factor * rng.uniform(0.85, 1.15)
        water = apartment.residents * _WATER_WEIGHT[local_hour]
        hot = water * HOT_LITRES_PER_RESIDENT_DAY * rng.uniform(0.4, 1.6)
        cold = water * COLD_LITRES_PER_RESIDENT_DAY * rng.uniform(0.4, 1.6)
        return HourUse(round(heat), round(hot), round(cold))

    def building_use(self, index: int) -> HourUse:
        """Sum of the apartments plus common needs, within the configured loss band."""
        spec = self.building.spec
        rng = random.Random(f"bld:{self.scenario.seed}:{spec.heat_meter_serial}:{index}")
        uses = [self.apartment_use(a, index) for a in self.building.apartments]
        scale = 1 + spec.common_share

        def total(values: list[int]) -> int:
            return round(sum(values) * scale * (1 + rng.uniform(-spec.loss_share, spec.loss_share)))

        heat = total([u.heat_kcal for u in uses])
        supply, ret = self.supply_return(index)
        carrier = round(heat / max(supply - ret, 1.0))  # 1 kcal heats 1 litre of water by 1 K
        return HourUse(heat, total([u.hot_litres for u in uses]), total([u.cold_litres for u in uses]), carrier)

    def apartment_counters(self, apartment: ApartmentPlan, index: int) -> HourUse:
        """Counter readings at the end of hour ``index``."""
        cum = self._apartment_cum[apartment.meter_serial]
        cum.extend(index, lambda i: self.apartment_use(apartment, i), self._initial[apartment.meter_serial])
        return cum[index]

    def building_counters(self, index: int) -> HourUse:
        self._building_cum.extend(index, self.building_use, self._initial[self.building.spec.heat_meter_serial])
        return self._building_cum[index]

    def supply_return(self, index: int) -> tuple[float, float]:
        """Hour-mean supply and return temperatures of the heat input, degC."""
        outdoor = outdoor_temperature(self.hour_start(index), self.scenario.weather)
        load = max(heating_factor(outdoor), 0.3)  # hot water keeps the loop warm in summer
        rng = random.Random(f"temps:{self.scenario.seed}:{index}")
        supply = INDOOR_C + (95.0 - INDOOR_C) * load ** 0.8 + rng.gauss(0, 0.4)
        ret = INDOOR_C + (70.0 - INDOOR_C) * load ** 0.8 + rng.gauss(0, 0.4)
        return round(supply, 2), round(ret, 2)


class _Series:
    """Counter readings at the end of each hour, four machine integers an hour (a long fleet run
    keeps months of hours for thousands of meters: 32 bytes an hour instead of a Python object)."""

    __slots__ = ("carrier", "cold", "heat", "hot")

    def __init__(self) -> None:
        self.heat, self.hot, self.cold, self.carrier = (array("q") for _ in range(4))

    def __len__(self) -> int:
        return len(self.heat)

    def __getitem__(self, index: int) -> HourUse:
        return HourUse(self.heat[index], self.hot[index], self.cold[index], self.carrier[index])

    def extend(self, index: int, use: Callable[[int], HourUse], initial: HourUse) -> None:
        if index < 0:
            raise ValueError(f"hour index {index} is before commissioning")
        while len(self.heat) <= index:
            prev = self[-1] if len(self.heat) else initial
            u = use(len(self.heat))
            self.heat.append(prev.heat_kcal + u.heat_kcal)
            self.hot.append(prev.hot_litres + u.hot_litres)
            self.cold.append(prev.cold_litres + u.cold_litres)
            self.carrier.append(prev.carrier_litres + u.carrier_litres)
