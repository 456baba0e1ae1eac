"""Domain vocabulary: resources, archive kinds and natures, parameters with their units.

Terms follow DESIGN.md section 4 (manual term -> code name).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Resource(StrEnum):
    HEAT = "heat"
    HOT_WATER = "hot_water"
    COLD_WATER = "cold_water"
    GAS = "gas"
    ELECTRICITY = "electricity"
    SEWAGE = "sewage"


class ArchiveKind(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class Nature(StrEnum):
    """Integral archives hold counter readings; interval archives hold amounts per period."""

    INTEGRAL = "integral"
    INTERVAL = "interval"


class MeterRole(StrEnum):
    """ИПУ (apartment meter) or ОДПУ (building meter)."""

    INDIVIDUAL = "individual"
    COMMON = "common"


@dataclass(frozen=True, slots=True)
class Parameter:
    code: str
    unit: str
    summable: bool  # a counter (differences are consumption) rather than a mean value


PARAMETERS: dict[str, Parameter] = {
    p.code: p
    for p in (
        Parameter("Q", "Gcal", summable=True),  # heat energy
        Parameter("V", "m3", summable=True),  # volume (water, gas)
        Parameter("V1", "m3", summable=True),  # supply pipe volume of a heat input
        Parameter("V2", "m3", summable=True),  # return pipe volume of a heat input
        Parameter("T1", "degC", summable=False),  # supply temperature, period mean
        Parameter("T2", "degC", summable=False),  # return temperature, period mean
        Parameter("E", "kWh", summable=True),  # electric energy
        Parameter("N", "pulse", summable=True),  # pulse count of a pulse input (KARAT-927LW)
        Parameter("P", "W", summable=False),  # active power now (KARAT-941LW current readings)
    )
}

# Which parameter is "consumption" for each resource (manual 4.1.6, table 1).
CONSUMPTION_PARAMETER: dict[Resource, str] = {
    Resource.HEAT: "Q",
    Resource.HOT_WATER: "V",
    Resource.COLD_WATER: "V",
    Resource.GAS: "V",
    Resource.ELECTRICITY: "E",
    Resource.SEWAGE: "V",
}


class Quality:
    """Bit flags carried with every archive record."""

    OK = 0
    DEVICE_FLAGGED = 1 << 0  # the device marked the period (sensor fault, power loss)
    CLOCK_SUSPECT = 1 << 1  # device clock was off past the threshold when read
    BACKFILLED = 1 << 2  # read again from the device after a gap
