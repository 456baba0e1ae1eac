"""Interval consumption from integral archives (DESIGN.md section 5): the consumption of a
period is the counter reading at its end minus the reading at its start, both taken from
the hourly integral archive. A missing reading makes the period missing; nothing is
invented. A counter that wraps at its register width, and a recorded meter replacement or
reset (CounterBreak), are bridged; an unexplained backwards step stays missing (docs/storage.md).
Pure functions, tested in tests/unit/cloud/test_consumption.py and test_cloud_counter_breaks.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from cloud.services.models import Granularity
from protocol.periods import local_to_utc, next_period, previous_period
from protocol.vocabulary import ArchiveKind

KIND = {Granularity.HOUR: ArchiveKind.HOUR, Granularity.DAY: ArchiveKind.DAY, Granularity.MONTH: ArchiveKind.MONTH}


def period_starts(granularity: Granularity, period: date) -> list[datetime]:
    """Local starts of the periods shown for ``period``: hours of a day, days of a month, months of a year."""
    if granularity is Granularity.HOUR:
        first, last = datetime(period.year, period.month, period.day), datetime(period.year, period.month,
                                                                                   period.day) + timedelta(days=1)
    elif granularity is Granularity.DAY:
        first = datetime(period.year, period.month, 1)
        last = next_period(ArchiveKind.MONTH, first)
    else:
        first, last = datetime(period.year, 1, 1), datetime(period.year + 1, 1, 1)
    kind = KIND[granularity]
    starts, cur = [], first
    while cur < last:
        starts.append(cur)
        cur = next_period(kind, cur)
    return starts


def boundary_readings_utc(starts: Sequence[datetime], granularity: Granularity, tz: ZoneInfo) -> list[datetime]:
    """UTC period starts of the hourly records whose readings bound the periods.

    The reading at a boundary B is the integral record of the hour that ends at B.
    Returns len(starts) + 1 items: the start boundary of each period and the end of the last.
    """
    kind = KIND[granularity]
    bounds = [*starts, next_period(kind, starts[-1])] if starts else []
    return [local_to_utc(previous_period(ArchiveKind.HOUR, b), tz).replace(tzinfo=None) for b in bounds]


# Counter registers of the devices we read: KARAT-307 (Modbus) and KARAT-Compact-2 (LoRaWAN)
# keep heat in kcal and volumes in litres as unsigned 32-bit integers (protocol/karat307.py,
# protocol/lorawan.py), so the counter wraps to 0 after 2**32 register units.
REGISTER_BITS: dict[str, int] = {"KARAT-307": 32, "KARAT-Compact-2-223": 32}
REGISTER_UNIT: dict[str, float] = {"Q": 1e-6, "V": 1e-3, "V1": 1e-3, "V2": 1e-3, "E": 1e-3}  # domain units per step
# A difference (wrapped or not) larger than this share of the register range is not consumption
# of one period: it is a reset or a replaced counter that nobody recorded, so it stays missing.
PLAUSIBLE_SHARE = 0.25


def counter_modulus(model: str, parameter: str) -> float | None:
    """The value at which the model's counter for ``parameter`` wraps to 0, in domain units (None: unknown)."""
    bits, unit = REGISTER_BITS.get(model), REGISTER_UNIT.get(parameter)
    return None if bits is None or unit is None else (2 ** bits) * unit


@dataclass(frozen=True, slots=True)
class CounterBreak:
    """A recorded discontinuity of one counter: the meter was replaced, or its counter was reset.

    ``first_period`` is the UTC start of the first hourly period read from the new counter;
    ``final`` is the old counter's last reading, ``initial`` the new counter's reading when it
    started (both in domain units, as the engineer recorded them).
    """

    first_period: datetime
    final: float
    initial: float
    kind: str = "replacement"  # or "reset"


def counter_delta(a: float, b: float, modulus: float | None) -> float | None:
    """Consumption between two readings of one counter: b - a, across one wrap of the register
    when the counter went backwards; None when that is not plausible (an unrecorded reset)."""
    if b >= a:
        delta = b - a
    elif modulus is None:
        return None  # backwards without a known register width: a reset, not a negative consumption
    else:
        delta = modulus - a + b
    if modulus is not None and delta > modulus * PLAUSIBLE_SHARE:
        return None
    return round(delta, 9)


def differences(readings: Mapping[datetime, float], bounds: Sequence[datetime], modulus: float | None = None,
                breaks: Sequence[CounterBreak] = ()) -> list[float | None]:
    """Consumption per period from readings at its boundaries; None where one is missing.

    The reading at ``start`` belongs to the counter in use then; a recorded break inside the
    period splits it: (old final - opening) + ... + (closing - new initial). A counter that went
    backwards without a recorded break is a wrap of its register when ``modulus`` is known and
    the result is plausible, and otherwise no value: never a negative or a giant one.
    """
    out: list[float | None] = []
    ordered = sorted(breaks, key=lambda br: br.first_period)
    for start, end in pairwise(bounds):
        a, b = readings.get(start), readings.get(end)
        if a is None or b is None:
            out.append(None)
            continue
        inside = [br for br in ordered if start < br.first_period <= end]
        points = [a]
        for br in inside:
            points += [br.final, br.initial]
        points.append(b)
        parts = [counter_delta(x, y, modulus) for x, y in zip(points[::2], points[1::2], strict=True)]
        out.append(None if any(p is None for p in parts) else round(sum(p for p in parts if p is not None), 9))
    return out


def combine(series: Sequence[Sequence[float | None]]) -> tuple[list[float | None], list[bool]]:
    """Sum several meters' series: (known sums, complete flags). A period where no meter is
    known is None; one where only some are known is the partial sum, flagged incomplete."""
    if not series:
        return [], []
    sums: list[float | None] = []
    complete: list[bool] = []
    for values in zip(*series, strict=True):
        known = [v for v in values if v is not None]
        sums.append(round(sum(known), 9) if known else None)
        complete.append(len(known) == len(values))
    return sums, complete


def imbalance(building: float | None, apartments: float | None, complete: bool) -> tuple[float | None, float | None]:
    """Building meter minus the apartments' sum, in units and in % of the building meter."""
    if building is None or apartments is None or not complete:
        return None, None
    diff = round(building - apartments, 9)
    return diff, (round(diff / building * 100, 2) if building > 0 else None)
