"""KARAT-306: the smaller heat calculator, simulated on the building's hot-water (ГВС) heat input.

It answers the KARAT-307's register map (protocol/karat307.py, model code 306) but is a
smaller device (docs/protocols.md section 2, "KARAT-306"): one heat system with two flow
inputs (supply V1, circulation return V2) and two temperatures (T1, T2); it has no third flow
input, so the cold-water registers of its record read 0, and it keeps shorter archives (hours
for 31 days, days for 184 days, no months), refusing older periods with exception 03.

Physics of its own: hot water drawn by the building (the apartments' sum plus common needs,
within the loss band, as the 307 sees it) plus a circulation flow that keeps the risers hot;
the loop loses a steady amount of heat, so the return is cooler the less is drawn. The heat
is Q = drawn * (T1 - Tcold) + V2 * (T1 - T2) kcal (1 kcal heats 1 litre by 1 K), Tcold being the
cold-water temperature at the inlet, seasonal (``cold_water_temperature``).
"""

from __future__ import annotations

import math
import random
from array import array
from datetime import datetime, timedelta
from typing import ClassVar

from protocol import karat307 as regs
from protocol.periods import to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.karat307 import Karat307
from simulators.world import SimClock, World

MODEL_CODE = 306
SUPPLY_C = 62.0  # hot water leaves the heat exchanger at 60-65 degC (SanPiN: 60-75 at the tap)
CIRCULATION_LITRES_PER_APARTMENT_HOUR = 20.0
LOOP_DROP_K = 8.0  # temperature drop around the loop with no draw


def cold_water_temperature(moment: datetime, seed: int) -> float:
    """Cold-water temperature at the building's inlet, degC: about 4 in February, 15 in August."""
    doy = moment.timetuple().tm_yday
    noise = random.Random(f"tcold:{seed}:{int(moment.timestamp()) // 86_400}").gauss(0, 0.3)
    return round(9.5 - 5.5 * math.cos(2 * math.pi * (doy - 45) / 365.25) + noise, 2)


class Karat306(Karat307):
    """A KARAT-306 on the hot-water heat input; counters are a pure function of (seed, serial, hour)."""

    ARCHIVE_DEPTH: ClassVar[dict[ArchiveKind, timedelta]] = {
        ArchiveKind.HOUR: timedelta(days=31), ArchiveKind.DAY: timedelta(days=184)}
    CHANNELS: ClassVar[tuple[int, ...]] = (regs.CHANNEL_HEAT, regs.CHANNEL_HOT_WATER)

    def __init__(self, world: World, clock: SimClock, unit: int, serial: str) -> None:
        super().__init__(world, clock, unit, serial, model_code=MODEL_CODE)
        rng = random.Random(f"init:{world.scenario.seed}:{serial}")
        v2 = rng.randint(200_000, 2_000_000)
        drawn = rng.randint(100_000, 1_000_000)
        self._initial = (rng.randint(10_000_000, 90_000_000), v2 + drawn, v2, drawn)
        self._cum = tuple(array("q") for _ in self._initial)  # Q, V1, V2, drawn at the end of each hour

    def hour(self, index: int) -> tuple[int, int, int, int, float, float]:
        """Hour ``index``: (Q kcal, V1 l, V2 l, drawn l, T1 degC, T2 degC) with T rounded as registers hold them."""
        seed = self.world.scenario.seed
        start = self.world.hour_start(index)
        rng = random.Random(f"k306:{seed}:{self.plan_serial}:{index}")
        drawn = self.world.building_use(index).hot_litres
        nominal = CIRCULATION_LITRES_PER_APARTMENT_HOUR * len(self.world.building.apartments)
        circulation = round(nominal * rng.uniform(0.95, 1.05))
        t1 = round(SUPPLY_C + rng.gauss(0, 0.8), 2)
        t2 = round(t1 - LOOP_DROP_K * nominal / max(circulation + drawn, 1) + rng.gauss(0, 0.2), 2)
        t_cold = cold_water_temperature(start, self.world.scenario.weather)
        heat = round(drawn * (t1 - t_cold) + circulation * (t1 - t2))
        return heat, drawn + circulation, circulation, drawn, t1, t2

    def raw_counters(self, index: int) -> tuple[int, ...]:
        """(Q kcal, V1 l, V2 l, drawn l) at the end of hour ``index`` (-1: at commissioning)."""
        if index < 0:
            return self._initial
        cum = self._cum
        while len(cum[0]) <= index:
            i = len(cum[0])
            prev = tuple(c[-1] for c in cum) if i else self._initial
            for series, before, add in zip(cum, prev, self.hour(i)[:4], strict=True):
                series.append(before + add)
        return tuple(c[index] for c in cum)

    def record_values(self, end_index: int) -> regs.Karat307Record:
        heat, v1, v2, drawn = self.counters(end_index)
        _, _, _, _, t1, t2 = self.hour(end_index)
        period = to_device_seconds(utc_to_local(self.world.hour_start(end_index), self.world.tz))
        return regs.Karat307Record(
            kind=ArchiveKind.HOUR, period=period, heat_kcal=heat % 2**32, supply_litres=v1 % 2**32,
            return_litres=v2 % 2**32, supply_temp_centi=round(t1 * 100), return_temp_centi=round(t2 * 100),
            hot_water_litres=drawn % 2**32, cold_water_litres=0,  # no third flow input
        )
