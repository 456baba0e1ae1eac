"""The rules of the heating season (manual 4.5.7) and of temperature schedule control (4.2.5, 4.6.8),
as pure functions over plain values: no storage, no clock (callers pass "today").

Season: per building a chain of dated changes ("heating" / "non_heating" from a start date). A new
change starts after the previous one's start (two seasons may not start on one date) and not after
today; one change per day per building (the day the dispatcher made it, in the building's zone);
only the latest change can be undone, and only on the day it was made; a group is changed only
when all its buildings are in the same season now (not set counts as a season of its own) and
none of them is in the target season already.

Schedule: supply and return temperature per integer outdoor temperature; between two points the
value is interpolated linearly, outside the table it is clamped to the nearest end (the schedule's
warm end is the heating threshold, the cold end the design temperature: the heat network holds the
end values there). Control: %∆ = (actual − prescribed) / prescribed × 100; supply violates when
|%∆| exceeds its tolerance (±3 % by default), return only when %∆ exceeds +tolerance (+5 %; a
lower return is not limited). Tests: tests/unit/cloud/test_heating_rules.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from cloud.services.models import InvalidInput

SEASONS = ("heating", "non_heating")
EPSILON = 1e-9  # a %∆ equal to the tolerance is within it, whatever the float arithmetic made of it
OUTDOOR_RANGE = (-70, 40)  # degC of a schedule point: any inhabited place
WATER_RANGE = (0.0, 200.0)  # degC of network water

# The built-in default (no city schedule recorded): the standard 95/70 schedule of qualitative
# regulation of a directly connected radiator system (Sokolov, "Теплофикация и тепловые сети"):
# with Q = (ti − to) / (ti − t_design), ∆t' = (95 + 70) / 2 − ti and θ' = 95 − 70,
#   supply = ti + ∆t'·Q^0.8 + θ'/2·Q,   return = ti + ∆t'·Q^0.8 − θ'/2·Q
# for indoor ti = 20 °C, design outdoor t_design = −30 °C, from +8 (the heating threshold) to −30.
BUILTIN_INDOOR_C = 20.0
BUILTIN_DESIGN_C = -30
BUILTIN_WARMEST_C = 8


class RuleError(InvalidInput):
    """A refusal by one of these rules: ``reason`` is a stable key (the UI words it in Russian with
    ``params``), the message says it in English for the API."""

    def __init__(self, reason: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.reason, self.params = reason, params


@dataclass(frozen=True, slots=True)
class Change:
    """One season change as the rules need it; ``made_on`` is the building-local day it was made."""

    id: int
    season: str
    starts_on: date
    made_on: date
    undone: bool = False


@dataclass(frozen=True, slots=True)
class Point:
    """One schedule row: at ``outdoor_c`` the supply and return water temperatures (degC)."""

    outdoor_c: int
    supply_c: float
    return_c: float


def current(changes: Sequence[Change], on: date | None = None) -> Change | None:
    """The change in force on day ``on`` (None: the latest, whatever its start), undone ones ignored."""
    live = [c for c in changes if not c.undone and (on is None or c.starts_on <= on)]
    return max(live, key=lambda c: (c.starts_on, c.id)) if live else None


def season_on(changes: Sequence[Change], on: date) -> str | None:
    """"heating", "non_heating" or None (never set, or set only from a later day)."""
    change = current(changes, on)
    return change.season if change else None


def check_change(changes: Sequence[Change], season: str, starts_on: date, today: date) -> None:
    """InvalidInput unless ``season`` may start on ``starts_on`` for a building with these changes."""
    if season not in SEASONS:
        raise RuleError("season_unknown", f"season: one of {', '.join(SEASONS)}, got {season!r}", season=season)
    if starts_on > today:
        raise RuleError("after_today", f"starts_on: {starts_on} is after today ({today})", starts_on=starts_on,
                        today=today)
    latest = current(changes)
    if latest is None:
        return
    if latest.season == season:
        raise RuleError("same_season", f"season: the building is in the {season} season already (since "
                        f"{latest.starts_on})", season=season, since=latest.starts_on)
    if starts_on < latest.starts_on:
        raise RuleError("before_previous", f"starts_on: {starts_on} is before the previous change's start "
                        f"{latest.starts_on}", starts_on=starts_on, previous=latest.starts_on)
    if starts_on == latest.starts_on:
        raise RuleError("same_start", f"starts_on: a season starts on {starts_on} already; two seasons cannot "
                        "start on one date", starts_on=starts_on)
    if latest.made_on == today:
        raise RuleError("changed_today", "the season of this building was changed today already; undo that "
                        "change first")


def check_group(currents: Sequence[str | None]) -> None:
    """InvalidInput unless all buildings of a group are in the same season now (None: not set)."""
    if len(set(currents)) > 1:
        raise RuleError("group_mixed", "building_ids: a group change needs buildings that are all in the same "
                        "season now")


def check_undo(changes: Sequence[Change], today: date) -> Change:
    """The change to undo (the latest one in force), or InvalidInput when there is none or it was not made today."""
    latest = current(changes)
    if latest is None:
        raise RuleError("nothing_to_undo", "the building has no season change to undo")
    if latest.made_on != today:
        raise RuleError("undo_not_today", f"only a change made today can be undone; the latest was made on "
                        f"{latest.made_on}", made_on=latest.made_on)
    return latest


def builtin_schedule() -> tuple[Point, ...]:
    """The built-in 95/70 schedule, +8 .. −30 °C by 1 K, water temperatures rounded to 0.1 °C."""
    points = []
    span = BUILTIN_INDOOR_C - BUILTIN_DESIGN_C
    mean_head = (95.0 + 70.0) / 2 - BUILTIN_INDOOR_C
    half_drop = (95.0 - 70.0) / 2
    for outdoor in range(BUILTIN_WARMEST_C, BUILTIN_DESIGN_C - 1, -1):
        load = (BUILTIN_INDOOR_C - outdoor) / span
        base = BUILTIN_INDOOR_C + mean_head * load ** 0.8
        points.append(Point(outdoor, round(base + half_drop * load, 1), round(base - half_drop * load, 1)))
    return tuple(points)


def check_points(points: Sequence[Point], outdoor: Sequence[int] | None = None) -> tuple[Point, ...]:
    """The points ordered warm to cold, or InvalidInput naming the row: integer outdoor temperatures,
    unique, at least two; water temperatures finite within WATER_RANGE with return ≤ supply; with
    ``outdoor`` given, exactly those outdoor temperatures (the city's approved range)."""
    if len(points) < 2:
        raise RuleError("points_few", "points: a schedule needs at least two outdoor temperatures")
    seen: set[int] = set()
    for index, p in enumerate(points):
        where = f"points[{index}]"
        if isinstance(p.outdoor_c, bool) or not isinstance(p.outdoor_c, int) \
                or not OUTDOOR_RANGE[0] <= p.outdoor_c <= OUTDOOR_RANGE[1]:
            raise RuleError("outdoor_bad", f"{where}.outdoor_c: an integer from {OUTDOOR_RANGE[0]} to "
                            f"{OUTDOOR_RANGE[1]}, got {p.outdoor_c!r}", value=p.outdoor_c)
        if p.outdoor_c in seen:
            raise RuleError("outdoor_twice", f"{where}.outdoor_c: {p.outdoor_c} appears twice", outdoor=p.outdoor_c)
        seen.add(p.outdoor_c)
        for name, value in (("supply_c", p.supply_c), ("return_c", p.return_c)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                    or not WATER_RANGE[0] <= value <= WATER_RANGE[1]:
                raise RuleError("water_bad", f"{where}.{name}: a temperature from {WATER_RANGE[0]:g} to "
                                f"{WATER_RANGE[1]:g} degC, got {value!r}", outdoor=p.outdoor_c)
        if p.return_c > p.supply_c:
            raise RuleError("return_above_supply", f"{where}: return {p.return_c:g} is above supply "
                            f"{p.supply_c:g} at {p.outdoor_c} degC", outdoor=p.outdoor_c)
    if outdoor is not None and seen != set(outdoor):
        raise RuleError("outdoor_not_city", f"points: the outdoor temperatures must be the city's "
                        f"{max(outdoor)}..{min(outdoor)} degC; a different range is set by the data operator",
                        warmest=max(outdoor), coldest=min(outdoor))
    return tuple(sorted(points, key=lambda p: -p.outdoor_c))


def prescribed(points: Sequence[Point], outdoor_c: float) -> tuple[float, float]:
    """(supply, return) the schedule prescribes at ``outdoor_c``: linear between the neighbouring
    points, the end point's values beyond either end."""
    ordered = sorted(points, key=lambda p: p.outdoor_c)
    if not ordered:
        raise InvalidInput("the temperature schedule is empty")
    if outdoor_c <= ordered[0].outdoor_c:
        return ordered[0].supply_c, ordered[0].return_c
    if outdoor_c >= ordered[-1].outdoor_c:
        return ordered[-1].supply_c, ordered[-1].return_c
    for low, high in pairwise(ordered):
        if low.outdoor_c <= outdoor_c <= high.outdoor_c:
            share = (outdoor_c - low.outdoor_c) / (high.outdoor_c - low.outdoor_c)
            return (low.supply_c + share * (high.supply_c - low.supply_c),
                    low.return_c + share * (high.return_c - low.return_c))
    raise AssertionError("unreachable: the ends are handled above")


def deviation(actual: float, target: float) -> tuple[float, float | None]:
    """(∆, %∆) of ``actual`` from ``target``; %∆ is None when the target is 0 °C."""
    delta = actual - target
    return delta, (delta / target * 100.0 if target else None)


def supply_violates(pct: float | None, tolerance_pct: float) -> bool:
    """Supply outside ±tolerance (a 0 °C target, where no % exists, is not judged)."""
    return pct is not None and abs(pct) > tolerance_pct + EPSILON


def return_violates(pct: float | None, tolerance_pct: float) -> bool:
    """Return above +tolerance; a return below the schedule is not limited."""
    return pct is not None and pct > tolerance_pct + EPSILON


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
