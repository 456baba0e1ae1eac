"""Consumption by the manual's rules (4.1.5, 4.1.6; DESIGN.md section 5), as pure functions.

One meter channel's consumption of a period comes from the archive of the period's own kind:
hours from hourly, days from daily, months from monthly archives by the meter's reporting
period (reporting day D: the month M runs from D of M to D of M+1, 00:00 local). Where the
meter gives no archive of that kind it is derived from a finer one and marked derived.
Integral archives are differenced (across one wrap of the register and the recorded counter
breaks), interval archives summed; an interval record is used when present, otherwise the
difference of the integral ones. A meter counts only inside its service period
[commissioned, decommissioned): outside it nothing is expected, so nothing is missing; at
either end the recorded initial or final reading closes the period, so a replacement by a
new serial gives (old final - old opening) + (new closing - new initial). An increment above
the model's plausible limit (max per hour x hours) is suspect: left out of sums like a
missing one, with its own mark. Sums over several meters keep the known part and say how
much is not known (``Figure``). No I/O: the accounting service queries and calls these.
Tests: tests/unit/cloud/test_consumption.py, test_consumption_rules.py, test_cloud_counter_breaks.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from cloud.services.models import ArchiveRow, Figure, Granularity, check_day
from protocol import catalogue
from protocol.periods import local_to_utc, next_period, period_start, previous_period
from protocol.vocabulary import ArchiveKind

KIND = {Granularity.HOUR: ArchiveKind.HOUR, Granularity.DAY: ArchiveKind.DAY, Granularity.MONTH: ArchiveKind.MONTH}
# the finer kinds a coarser value may be derived from, the nearest first
FINER: dict[ArchiveKind, tuple[ArchiveKind, ...]] = {
    ArchiveKind.MONTH: (ArchiveKind.DAY, ArchiveKind.HOUR), ArchiveKind.DAY: (ArchiveKind.HOUR,),
    ArchiveKind.HOUR: ()}

Records = Mapping[datetime, float]  # UTC period start (aware) -> value


class State(StrEnum):
    MEASURED = "measured"
    MISSING = "missing"  # expected, but an archive needed for it is not there
    SUSPECT = "suspect"  # there, but the increment is implausible (bit flip, unrecorded reset)
    NOT_EXPECTED = "not_expected"  # outside the meter's service period


@dataclass(frozen=True, slots=True)
class Amount:
    """One meter channel's consumption of one period, in domain units (CT ratio applied)."""

    state: State
    value: float | None = None
    derived: bool = False  # from a finer archive: the meter gives no archive of the period's kind


@dataclass(frozen=True, slots=True)
class CounterBreak:
    """A recorded discontinuity of one counter of the same meter: a counter reset, or a
    replacement recorded on the meter itself (a replacement by a new serial is two meters).

    ``first_period`` is the UTC start of the first hourly period read from the new counter;
    ``final`` is the old counter's last reading, ``initial`` the new counter's reading when it
    started (both in domain units, as the engineer recorded them).
    """

    first_period: datetime
    final: float
    initial: float
    kind: str = "replacement"  # or "reset"


@dataclass(frozen=True, slots=True)
class Source:
    """What the rules need to know of one meter channel's counter (one parameter)."""

    kinds: frozenset[ArchiveKind] = frozenset(ArchiveKind)  # archive kinds the meter gives
    commissioned: datetime | None = None  # UTC; None: unknown, counted from its first archive
    decommissioned: datetime | None = None  # UTC; None: still in service
    reporting_day: int = 1
    factor: float = 1.0  # the CT ratio for electricity; 1 otherwise
    modulus: float | None = None  # the counter wraps to 0 here (register width x step)
    max_per_hour: float | None = None  # the largest plausible increment in one hour
    initial: float | None = None  # the counter's reading at commissioning
    final: float | None = None  # the counter's reading at decommissioning
    breaks: tuple[CounterBreak, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.reporting_day <= 28:
            raise ValueError(f"reporting_day must be 1..28, got {self.reporting_day}")
        if self.factor <= 0:
            raise ValueError(f"factor (CT ratio) must be positive, got {self.factor}")
        for name in ("commissioned", "decommissioned"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name} must carry a time zone (UTC), got {moment!r}")


@dataclass(frozen=True, slots=True)
class Archive:
    """One meter channel's records of one parameter, by nature and kind."""

    integral: Mapping[ArchiveKind, Records] = field(default_factory=dict)
    interval: Mapping[ArchiveKind, Records] = field(default_factory=dict)


# --- periods ----------------------------------------------------------------------------------


def period_starts(granularity: Granularity, period: date) -> list[datetime]:
    """Local starts (labels) of the periods shown for ``period``: hours of a day, days of a month, months of a year.
    A period outside the sane range (models.FIRST_DAY..LAST_DAY) is InvalidInput naming "period"."""
    check_day("period", period)
    if granularity is Granularity.HOUR:
        first = datetime(period.year, period.month, period.day)
        last = first + timedelta(days=1)
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


def span(granularity: Granularity, label: datetime, reporting_day: int = 1) -> tuple[datetime, datetime]:
    """Local [start, end) of the period labelled ``label``: a month is the meter's reporting period."""
    kind = KIND[granularity]
    if kind is ArchiveKind.MONTH:
        start = label.replace(day=reporting_day, hour=0, minute=0, second=0, microsecond=0)
        return start, next_period(kind, start)
    return label, next_period(kind, label)


def archive_kinds(named: Iterable[ArchiveKind], device: Iterable[ArchiveKind] | None) -> frozenset[ArchiveKind]:
    """The archive kinds a meter gives: those its registry entry names that its model keeps
    (the catalogue's ``device`` kinds; None for a model the catalogue does not know)."""
    named_set, device_set = frozenset(named), None if device is None else frozenset(device)
    if named_set and device_set is not None and named_set & device_set:
        return named_set & device_set
    return named_set or device_set or frozenset({ArchiveKind.HOUR})


def source_kind(want: ArchiveKind, kinds: frozenset[ArchiveKind]) -> tuple[ArchiveKind | None, bool]:
    """(the archive kind a value of ``want`` comes from, whether it is derived from a finer one)."""
    if want in kinds:
        return want, False
    return next((k for k in FINER[want] if k in kinds), None), True


# --- the plan of one period: which records make it --------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    kind: ArchiveKind | None  # None: the meter has no archive it could come from
    derived: bool
    start: datetime  # UTC, clipped to the service period
    end: datetime
    opening: tuple[datetime, ...]  # candidate keys of the integral record whose reading opens the period
    closing: tuple[datetime, ...]
    opens_at_commissioning: bool  # the recorded initial reading opens it
    closes_at_decommissioning: bool  # the recorded final reading closes it
    intervals: tuple[tuple[datetime, ...], ...]  # the interval records that make it up, as candidate keys


@lru_cache(maxsize=262_144)
def _utc(local: datetime, tz: ZoneInfo) -> datetime:
    # a view asks the same boundaries for every meter: a building of 100 meters over a month
    # made about a million conversions per page before this cache
    return local_to_utc(local, tz)


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def record_keys(kind: ArchiveKind, label: datetime, reporting_day: int, tz: ZoneInfo) -> tuple[datetime, ...]:
    """UTC keys the record of the ``kind`` period labelled ``label`` may be stored under.

    A month record is keyed by the start of the reporting period (the reporting day) or, as
    the edge reads it, by the first of the month; both mean the same record.
    """
    if kind is ArchiveKind.MONTH:
        keys = [_utc(label.replace(day=reporting_day), tz), _utc(label.replace(day=1), tz)]
        return tuple(dict.fromkeys(keys))
    return (_utc(label, tz),)


def reading_keys(kind: ArchiveKind, boundary: datetime, reporting_day: int, tz: ZoneInfo) -> tuple[datetime, ...]:
    """Keys of the integral record whose reading is the counter at local ``boundary``: the
    record of the period that ends there; () when no ``kind`` period ends there."""
    if kind is ArchiveKind.MONTH:
        if boundary != boundary.replace(day=reporting_day, hour=0, minute=0, second=0, microsecond=0):
            return ()
        return record_keys(kind, previous_period(kind, boundary.replace(day=1)), reporting_day, tz)
    if period_start(kind, boundary) != boundary:
        return ()
    return (_utc(previous_period(kind, boundary), tz),)


def _plan(src: Source, granularity: Granularity, label: datetime, tz: ZoneInfo) -> _Plan | None:
    """Which records make the period labelled ``label``; None when the meter is not expected in it."""
    return _plan_of(src.kinds, src.commissioned, src.decommissioned, src.reporting_day, granularity, label, tz)


@lru_cache(maxsize=65_536)
def _plan_of(kinds: frozenset[ArchiveKind], commissioned: datetime | None, decommissioned: datetime | None,
             reporting_day: int, granularity: Granularity, label: datetime, tz: ZoneInfo) -> _Plan | None:
    """``_plan`` by the facts it depends on: the meters of a building mostly share them, so a
    view computes each plan once rather than once per meter."""
    src = Source(kinds=kinds, commissioned=commissioned, decommissioned=decommissioned,
                 reporting_day=reporting_day)
    want = KIND[granularity]
    lo_local, hi_local = span(granularity, label, src.reporting_day)
    lo, hi = _utc(lo_local, tz), _utc(hi_local, tz)
    start = lo if src.commissioned is None else max(lo, src.commissioned)
    end = hi if src.decommissioned is None else min(hi, src.decommissioned)
    if start >= end:
        return None
    kind, derived = source_kind(want, src.kinds)
    opens = src.commissioned is not None and src.commissioned >= lo
    closes = src.decommissioned is not None and src.decommissioned <= hi
    if kind is None:
        return _Plan(None, derived, start, end, (), (), opens, closes, ())
    rd = src.reporting_day
    opening = reading_keys(kind, _local(start, tz), rd, tz)
    closing = reading_keys(kind, _local(end, tz), rd, tz)
    if not derived:
        intervals: tuple[tuple[datetime, ...], ...] = (record_keys(kind, label, rd, tz),)
    else:
        keys, cur = [], period_start(kind, _local(start, tz))
        while _utc(cur, tz) < end:
            keys.append((_utc(cur, tz),))
            cur = next_period(kind, cur)
        intervals = tuple(keys)
    return _Plan(kind, derived, start, end, opening, closing, opens, closes, intervals)


@dataclass(frozen=True, slots=True)
class Wanted:
    """The records a set of periods needs: integral records by key, interval records by range."""

    points: dict[ArchiveKind, set[datetime]] = field(default_factory=dict)
    ranges: dict[ArchiveKind, tuple[datetime, datetime]] = field(default_factory=dict)  # inclusive UTC keys

    def add(self, other: Wanted) -> None:
        for kind, keys in other.points.items():
            self.points.setdefault(kind, set()).update(keys)
        for kind, (lo, hi) in other.ranges.items():
            old = self.ranges.get(kind)
            self.ranges[kind] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))


def archive_filter(need: Wanted) -> tuple[str, dict[str, datetime | list[datetime]]]:
    """The ClickHouse condition that selects what ``need`` names, with its parameters: integral
    records by key, interval records by range, the two natures kept apart ("" when nothing is
    needed). Kinds are enum values, so only the parameters carry data."""
    clauses: list[str] = []
    args: dict[str, datetime | list[datetime]] = {}
    for kind, keys in need.points.items():
        if keys:
            clauses.append(f"(nature = 'integral' AND kind = '{kind.value}' "
                           f"AND period_start IN {{pk_{kind.value}:Array(DateTime('UTC'))}})")
            args[f"pk_{kind.value}"] = sorted(utc(k).replace(tzinfo=None) for k in keys)
    for kind, (lo, hi) in need.ranges.items():
        clauses.append(f"(nature = 'interval' AND kind = '{kind.value}' AND period_start "
                       f"BETWEEN {{lo_{kind.value}:DateTime('UTC')}} AND {{hi_{kind.value}:DateTime('UTC')}})")
        args[f"lo_{kind.value}"], args[f"hi_{kind.value}"] = utc(lo).replace(tzinfo=None), utc(hi).replace(tzinfo=None)
    return (f"({' OR '.join(clauses)})" if clauses else ""), args


def wanted(src: Source, granularity: Granularity, labels: Sequence[datetime], tz: ZoneInfo) -> Wanted:
    """The records ``amounts`` will look at for these periods (what the service queries)."""
    out = Wanted()
    for label in labels:
        plan = _plan(src, granularity, label, tz)
        if plan is None or plan.kind is None:
            continue
        out.points.setdefault(plan.kind, set()).update(plan.opening + plan.closing)
        bounds = _interval_range(plan)
        if bounds is not None:
            out.add(Wanted(ranges={plan.kind: bounds}))
    return out


@lru_cache(maxsize=65_536)
def _interval_range(plan: _Plan) -> tuple[datetime, datetime] | None:
    """The first and last key of the plan's interval records (a month derived from hours has 744:
    worked out once per plan, not once per meter)."""
    keys = [k for keys in plan.intervals for k in keys]
    return (min(keys), max(keys)) if keys else None


# --- device facts from the catalogue -----------------------------------------------------------

TOTAL = "total"  # the tariff of an electricity total channel, and of every channel of other resources


def counter_limits(model: str, parameter: str) -> tuple[float | None, float | None]:
    """(the wrap modulus, the plausible increment per hour) of the model's counter of ``parameter``;
    (None, None) for a model the catalogue does not know or a parameter that is no counter of it."""
    try:
        counter = catalogue.model(model).counter(parameter)
    except catalogue.UnknownModel:
        return None, None
    return (None, None) if counter is None else (counter.modulus, counter.max_per_hour)


def device_kinds(model: str) -> frozenset[ArchiveKind] | None:
    """The archive kinds the model keeps; None for a model the catalogue does not know."""
    try:
        return frozenset(catalogue.model(model).archive_kinds())
    except catalogue.UnknownModel:
        return None


def channel_tariff(model: str, tariffs: int, number: int, registered: str | None) -> str:
    """The tariff zone of a meter channel: as registered, else as the catalogue numbers them
    (941LW: channel 1 the total, 2.. the zones T1..), else the total."""
    if registered:
        return registered
    try:
        spec = catalogue.model(model)
        if tariffs and spec.name == catalogue.ELECTRICITY_941:
            spec = spec.with_tariffs(tariffs)
        return spec.channel(number).tariff or TOTAL
    except (catalogue.UnknownModel, catalogue.UnknownChannel):
        return TOTAL


# --- counters -------------------------------------------------------------------------------


def counter_delta(a: float, b: float, modulus: float | None) -> float | None:
    """The increase of one counter from reading ``a`` to ``b``: across one wrap of the register
    when it went backwards; None when it went backwards and its width is not known."""
    if b >= a:
        return round(b - a, 9)
    if modulus is None:
        return None
    return round(modulus - a + b, 9)


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _first(records: Records, keys: tuple[datetime, ...]) -> float | None:
    return next((records[k] for k in keys if k in records), None)


def _limit(src: Source, hours: float) -> float | None:
    return None if src.max_per_hour is None else src.max_per_hour * hours


def _from_intervals(plan: _Plan, src: Source, records: Records, tz: ZoneInfo) -> State | float:
    """The sum of the period's interval records; MISSING if one is absent, SUSPECT if one is implausible."""
    total = 0.0
    kind = plan.kind
    assert kind is not None  # noqa: S101 - the caller checked
    for keys in plan.intervals:
        value = _first(records, keys)
        if value is None:
            return State.MISSING
        own = _local(next(k for k in keys if k in records), tz)
        limit = _limit(src, _hours(_utc(own, tz), _utc(next_period(kind, own), tz)))
        if value < 0 or (limit is not None and value > limit):
            return State.SUSPECT
        total += value
    return round(total, 9)


def _from_integral(plan: _Plan, src: Source, records: Records) -> State | float:
    """Closing minus opening reading, across wraps and recorded breaks; MISSING or SUSPECT otherwise."""
    opening = src.initial if plan.opens_at_commissioning and src.initial is not None else _first(records, plan.opening)
    closing = src.final if plan.closes_at_decommissioning and src.final is not None else _first(records, plan.closing)
    if opening is None or closing is None:
        return State.MISSING
    points = [opening]
    for br in sorted(src.breaks, key=lambda b: b.first_period):
        if plan.start <= br.first_period < plan.end:
            points += [br.final, br.initial]
    points.append(closing)
    parts = [counter_delta(x, y, src.modulus) for x, y in zip(points[::2], points[1::2], strict=True)]
    if any(p is None for p in parts):
        return State.SUSPECT
    total = round(sum(p for p in parts if p is not None), 9)
    limit = _limit(src, _hours(plan.start, plan.end))
    if limit is not None and total > limit:
        return State.SUSPECT
    return total


def amount(src: Source, archive: Archive, granularity: Granularity, label: datetime, tz: ZoneInfo) -> Amount:
    """One meter channel's consumption of the period labelled ``label`` (local time of ``tz``)."""
    plan = _plan(src, granularity, label, tz)
    if plan is None:
        return Amount(State.NOT_EXPECTED)
    if plan.kind is None:
        return Amount(State.MISSING, derived=plan.derived)
    outcomes = [_from_intervals(plan, src, archive.interval.get(plan.kind, {}), tz),
                _from_integral(plan, src, archive.integral.get(plan.kind, {}))]
    for outcome in outcomes:
        if not isinstance(outcome, State):
            return Amount(State.MEASURED, round(outcome * src.factor, 9), plan.derived)
    state = State.SUSPECT if State.SUSPECT in outcomes else State.MISSING
    return Amount(state, derived=plan.derived)


def amounts(src: Source, archive: Archive, granularity: Granularity, labels: Sequence[datetime],
            tz: ZoneInfo) -> list[Amount]:
    return [amount(src, archive, granularity, label, tz) for label in labels]


# --- sums ---------------------------------------------------------------------------------------


def figure(parts: Iterable[Amount]) -> Figure:
    """The sum of several meters' amounts of one period: the known part, and how much is not known."""
    expected = [a for a in parts if a.state is not State.NOT_EXPECTED]
    known = [a for a in expected if a.state is State.MEASURED and a.value is not None]
    return Figure(value=round(sum(a.value for a in known if a.value is not None), 9) if known else None,
                  expected=len(expected), known=len(known),
                  suspect=sum(1 for a in expected if a.state is State.SUSPECT),
                  derived=any(a.derived for a in known))


def combine(columns: Sequence[Sequence[Amount]], periods: int) -> list[Figure]:
    """Per period, the ``figure`` of every meter's amount (``columns``: one series per meter)."""
    return [figure(column[i] for column in columns) for i in range(periods)]


def total(figures: Iterable[Figure]) -> Figure:
    """The figure of a whole view (the periods' figures together): known only as far as each period is."""
    cells = list(figures)
    known = [f.value for f in cells if f.value is not None]
    return Figure(value=round(sum(known), 9) if known else None, expected=sum(f.expected for f in cells),
                  known=sum(f.known for f in cells), suspect=sum(f.suspect for f in cells),
                  derived=any(f.derived for f in cells))


def imbalance(building: Figure, apartments: Figure) -> tuple[float | None, float | None]:
    """Building meters minus the apartments' sum, in units and in % of the building meters;
    only when both are complete (a partial or suspect part gives no imbalance)."""
    if not (building.expected and apartments.expected and building.complete and apartments.complete):
        return None, None
    if building.value is None or apartments.value is None:
        return None, None
    diff = round(building.value - apartments.value, 9)
    return diff, (round(diff / building.value * 100, 2) if building.value > 0 else None)


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (a naive one is taken as UTC, as ClickHouse's DateTime('UTC') is)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- the archive table of one meter channel (manual 4.1.7) -------------------------------------


@dataclass(frozen=True, slots=True)
class Counter:
    """The catalogue's facts of one counter parameter, for marking implausible archive rows."""

    modulus: float | None = None
    max_per_hour: float | None = None


def _implausible(value: float | None, hours: float, counter: Counter) -> bool:
    limit = None if counter.max_per_hour is None else counter.max_per_hour * hours
    return value is None or value < 0 or (limit is not None and value > limit)


def archive_rows(granularity: Granularity, labels: Sequence[datetime], kind: ArchiveKind, derived: bool,
                 nature: str, records: Mapping[str, Records], counters: Mapping[str, Counter],
                 summable: Mapping[str, bool], reporting_day: int, tz: ZoneInfo) -> list[ArchiveRow]:
    """Rows of a meter channel's archive table, one per period labelled in ``labels``.

    Not derived: the device's own record of each period, as stored (``records`` of ``kind``
    by parameter). Derived from the finer ``kind``: a counter's reading at the period's end
    (integral) or the sum of its records (interval, nothing when one is missing); a mean
    parameter's mean. A counter row is marked suspect when its increment over the period is
    above the catalogue's limit or goes backwards beyond a wrap.
    """
    rows = []
    for label in labels:
        lo_local, hi_local = span(granularity, label, reporting_day)
        hours = _hours(_utc(lo_local, tz), _utc(hi_local, tz))
        values: dict[str, float | None] = {}
        suspect: list[str] = []
        for parameter, recs in records.items():
            counter = counters.get(parameter, Counter())
            if not derived:
                value = _first(recs, record_keys(kind, label, reporting_day, tz))
                before = _first(recs, record_keys(kind, previous_period(KIND[granularity], label), reporting_day, tz))
            else:
                value, before = _derived_value(recs, kind, nature, summable.get(parameter, True), lo_local,
                                               hi_local, reporting_day, tz)
            values[parameter] = value
            if value is None or not summable.get(parameter, True):
                continue
            increment = value if nature == "interval" else (
                None if before is None else counter_delta(before, value, counter.modulus))
            if (nature == "interval" or before is not None) and _implausible(increment, hours, counter):
                suspect.append(parameter)
        rows.append(ArchiveRow(label, values, tuple(suspect)))
    return rows


def _derived_value(recs: Records, kind: ArchiveKind, nature: str, summable: bool, lo: datetime, hi: datetime,
                   reporting_day: int, tz: ZoneInfo) -> tuple[float | None, float | None]:
    """(the period's value built from finer records, the reading that opens it for an integral counter)."""
    if summable and nature == "integral":
        return (_first(recs, reading_keys(kind, hi, reporting_day, tz)),
                _first(recs, reading_keys(kind, lo, reporting_day, tz)))
    inside, cur = [], lo
    while cur < hi:
        inside.append(recs.get(_utc(cur, tz)))
        cur = next_period(kind, cur)
    known = [v for v in inside if v is not None]
    if summable:  # interval amounts: the sum, only when every finer record is there
        return (round(sum(known), 9) if inside and len(known) == len(inside) else None), None
    return (round(sum(known) / len(known), 2) if known else None), None
