"""Consumption of a chosen set of meter channels per period, for the views that are not the
building page: the consumption register (4.1.5) and the balance groups (4.1.8).

The rules are consumption.py's; this module only gathers what they need, as the accounting
service does for its own views: each channel's ``Source`` (archive kinds, service period,
reporting day, CT ratio, counter limits and recorded breaks) and, in one archive query for all
the channels and parameters together, the records ``consumption.wanted`` names. ``Cell`` is a
``Figure`` as the API gives it: the known value, ``complete`` and the counts, never a zero for
a missing value. Tests: tests/integration/test_register.py, tests/integration/test_balance_groups.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from cloud.services import consumption as calc
from cloud.services import counters
from cloud.services.models import ChannelInfo, Figure, Granularity, MeterInfo
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import utc_to_local
from protocol.vocabulary import CONSUMPTION_PARAMETER, ArchiveKind, Resource

Key = tuple[str, int, str]  # (meter serial, channel number, parameter)
_KIND_WORDS = {k.value for k in ArchiveKind}


@dataclass(frozen=True, slots=True)
class Cell:
    """One consumption value over the meters expected in a period (manual 4.1.5): ``value`` is the
    known sum, null when nothing is known; ``complete`` is false when some expected meter had no
    (plausible) value. Shown ``–*`` when nothing is known, the known part marked ``*`` otherwise."""

    value: float | None
    complete: bool
    expected: int  # meter channels expected to report in the period (0: none in service, shown "—")
    known: int
    suspect: int  # left out: an increment above the device's plausible limit
    derived: bool  # a known part was built from a finer archive (the meter lacks the period's kind)

    @classmethod
    def of(cls, figure: Figure) -> Cell:
        return cls(figure.value, figure.complete, figure.expected, figure.known, figure.suspect, figure.derived)

    @property
    def figure(self) -> Figure:
        return Figure(self.value, self.expected, self.known, self.suspect, self.derived)


@dataclass(frozen=True, slots=True)
class Channel:
    """One meter channel that measures a resource, with what the rules need to know of it."""

    meter: MeterInfo
    channel: ChannelInfo
    resource: Resource
    parameter: str
    tariff: str  # "total", or an electricity zone "T1", "T2" ... never added to the total
    source: calc.Source

    @property
    def key(self) -> Key:
        return self.meter.serial, self.channel.number, self.parameter


def ever_in_service(meter: MeterInfo) -> bool:
    """False for a meter whose commissioning never finished (no dates, status "commissioning")."""
    return not (meter.commissioned_at is None and meter.decommissioned_at is None and meter.status == "commissioning")


def kinds(meter: MeterInfo) -> frozenset[ArchiveKind]:
    """The archive kinds the meter gives: those its registry entry names that its model keeps."""
    named = [ArchiveKind(w) for w in (part.strip() for part in meter.archives.split(",")) if w in _KIND_WORDS]
    return calc.archive_kinds(named, calc.device_kinds(meter.model))


def channels(registry: Registry, meters: Iterable[MeterInfo], resources: Iterable[Resource]) -> list[Channel]:
    """Every channel of ``meters`` that measures one of ``resources`` (its consumption parameter),
    whatever the meter's status: each counts inside its own service period. Reads the registry."""
    wanted = set(resources)
    chosen = [(m, c) for m in meters if ever_in_service(m) for c in m.channels
              if c.resource in wanted and CONSUMPTION_PARAMETER[c.resource] in c.parameters]
    params = {CONSUMPTION_PARAMETER[c.resource] for _, c in chosen}
    breaks = {p: counters.load(registry, sorted({m.id for m, c in chosen if CONSUMPTION_PARAMETER[c.resource] == p}), p)
              for p in sorted(params)}
    out = []
    for m, c in chosen:
        parameter = CONSUMPTION_PARAMETER[c.resource]
        out.append(Channel(m, c, c.resource, parameter, calc.channel_tariff(m.model, m.tariffs, c.number, c.tariff),
                           _source(m, c, parameter, breaks[parameter].get((m.serial, c.number), ()))))
    return out


def _source(meter: MeterInfo, channel: ChannelInfo, parameter: str,
            breaks: Iterable[calc.CounterBreak]) -> calc.Source:
    modulus, per_hour = calc.counter_limits(meter.model, parameter)
    key = f"{channel.number}:{parameter}"
    return calc.Source(kinds=kinds(meter), commissioned=meter.commissioned_at, decommissioned=meter.decommissioned_at,
                       reporting_day=meter.reporting_day, factor=meter.ct_ratio if parameter == "E" else 1.0,
                       modulus=modulus, max_per_hour=per_hour, initial=meter.initial_readings.get(key),
                       final=meter.final_readings.get(key), breaks=tuple(breaks))


async def data_span(ch: ClickHouse, company: int, serials: Iterable[str],
                    tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """Local starts of the oldest and the newest archive period stored for these meters; None
    when there is none. A view shows no period wholly outside it: before the first archive
    nothing was expected, after the newest nothing has arrived yet."""
    names = sorted(set(serials))
    if not names:
        return None
    rows = await ch.query("SELECT min(period_start), max(period_start), count() FROM {db}.archive "
                          "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)}",
                          {"co": company, "meters": names})
    if not rows or not rows[0][2]:
        return None
    return utc_to_local(rows[0][0], tz), utc_to_local(rows[0][1], tz)


def overlaps(span: tuple[datetime, datetime] | None, granularity: Granularity, label: datetime) -> bool:
    """Whether the period labelled ``label`` shares time with the data ``span`` (None: no data at all)."""
    if span is None:
        return False
    first, last = span
    return label <= last and calc.span(granularity, label)[1] > first


async def amounts(ch: ClickHouse, company: int, chans: Sequence[Channel], granularity: Granularity,
                  labels: Sequence[datetime], tz: ZoneInfo) -> dict[Key, list[calc.Amount]]:
    """Each channel's consumption per period labelled ``labels``, from one archive query."""
    if not chans or not labels:
        return {c.key: [] for c in chans}
    need = calc.Wanted()
    for c in chans:
        need.add(calc.wanted(c.source, granularity, labels, tz))
    found = await _archives(ch, company, chans, need)
    return {c.key: calc.amounts(c.source, found.get(c.key, calc.Archive()), granularity, labels, tz) for c in chans}


async def _archives(ch: ClickHouse, company: int, chans: Sequence[Channel],
                    need: calc.Wanted) -> dict[Key, calc.Archive]:
    """The company's archive records that ``need`` names, of the channels' parameters: integral ones
    by key, interval ones by range; the two natures are kept apart."""
    condition, picked = calc.archive_filter(need)
    if not condition:
        return {}
    args: dict[str, object] = {"co": company, "meters": sorted({c.meter.serial for c in chans}),
                               "ps": sorted({c.parameter for c in chans}), **picked}
    rows = await ch.query(
        "SELECT meter, channel, parameter, kind, nature, period_start, value FROM {db}.archive FINAL "  # noqa: S608 - kinds are enum values
        "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} AND parameter IN {ps:Array(String)} "
        f"AND {condition}", args)
    found: dict[Key, dict[str, dict[ArchiveKind, dict[datetime, float]]]] = defaultdict(
        lambda: {"integral": defaultdict(dict), "interval": defaultdict(dict)})
    for meter, channel, parameter, kind, nature, start, value in rows:
        found[(meter, int(channel), parameter)][nature][ArchiveKind(kind)][calc.utc(start)] = float(value)
    return {key: calc.Archive(integral=dict(by["integral"]), interval=dict(by["interval"]))
            for key, by in found.items()}


def derived_from(chans: Iterable[Channel], granularity: Granularity) -> tuple[str, ...]:
    """The finer archive kinds the view's values come from where a meter lacks the view's own kind."""
    found = set()
    for c in chans:
        kind, derived = calc.source_kind(calc.KIND[granularity], c.source.kinds)
        if derived and kind is not None:
            found.add(kind)
    return tuple(k.value for k in ArchiveKind if k in found)
