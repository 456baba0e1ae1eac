"""Data-arrival control (manual 4.2.3, "Контроль поступления данных"): for each meter of a
building and one archive kind, every period of a chosen range is received, partial (some of
the meter's channels only), missing, or reported lost by the edge (older than the device's
archive depth, never filled in); with completeness per meter and per building, and a backfill
request (cloud/services/commands.py) for the gaps the cloud sees and the edge has not declared lost.

Read from ClickHouse: the distinct period starts per meter, channel and kind in ``archive``, the
``lost_periods`` the edge reported and the device's messages (``device_events``), marked in their
period. Periods that have not closed yet are "not_due" and not counted; so are periods outside
the meter's service period (DESIGN.md section 5: a meter is expected to report only between its
commissioning and its decommissioning), "not_expected": before commissioning there is nothing
to miss; nor while it is out of service for a verification or repair (a period sharing time with
an out-of-service interval of cloud/services/procedures.py and not received). A meter with no
recorded commissioning is expected from its first stored archive of any kind. A replaced or
decommissioned meter stays in the report for the periods it served. Scope and roles as in
the accounting section (cloud/services/accounting.py): the company's buildings only,
administrators not at all. Tests: tests/integration/test_cloud_arrival.py.

The manual's table of archive parameter values (``values``, API ``data_arrival_values``): for the same
choice, per meter and period the values the device's archive holds for the parameters of the chosen
resource's channels (so the set differs between an apartment's ИПУ, Q, and a building's ОДПУ, Q V1 V2
T1 T2), as stored (integral readings or interval values), null where nothing came with the period's
status saying why, and the messages of the period: the device's events and the archive's quality
flags, each with its content. Tests: tests/integration/test_arrival_table.py.
"""

from __future__ import annotations

import asyncio
import json
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cloud.services.accounting import AccountingService
from cloud.services.auth import AuthService
from cloud.services.commands import CommandInfo, CommandService
from cloud.services.models import FIRST_DAY, BuildingSummary, InvalidInput, MeterInfo, check_day
from cloud.services.outages import load_outages
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import catalogue
from protocol.event_classes import classify
from protocol.periods import local_to_utc, next_period, utc_to_local, zone
from protocol.vocabulary import PARAMETERS, ArchiveKind, MeterRole, Quality, Resource

MAX_PERIODS = 2000  # periods of one kind in one report (a quarter of hours)
STATUSES = ("received", "partial", "missing", "lost", "not_due", "not_expected")


@dataclass(frozen=True, slots=True)
class PeriodArrival:
    start: datetime  # local time of the building
    status: str  # one of STATUSES
    channels: int  # how many of the meter's shown channels have the period
    reason: str = ""  # the edge's reason for a lost period
    events: tuple[tuple[str, str], ...] = ()  # the device's messages in the period: (severity, code)


@dataclass(frozen=True, slots=True)
class MeterArrival:
    meter: MeterInfo
    channels: tuple[int, ...]  # the channels looked at (those of the chosen resource)
    periods: tuple[PeriodArrival, ...]
    due: int  # periods that have closed
    received: int
    partial: int
    missing: int
    lost: int
    completeness_pct: float | None  # received / due, None when nothing is due

    @property
    def gaps(self) -> tuple[datetime, ...]:
        """Local starts of the periods the cloud lacks and the edge has not declared lost."""
        return tuple(p.start for p in self.periods if p.status in ("missing", "partial"))


@dataclass(frozen=True, slots=True)
class ArrivalReport:
    building: BuildingSummary
    kind: ArchiveKind
    first: date  # local days, inclusive
    last: date
    resource: Resource | None
    role: MeterRole | None
    periods: tuple[datetime, ...]  # local starts
    meters: tuple[MeterArrival, ...]
    due: int
    received: int
    completeness_pct: float | None


@dataclass(frozen=True, slots=True)
class ArchiveMessage:
    """A message of an archive period (manual 4.2.3: the icon, its content on click): a device or
    edge event in the period, or a quality flag the archive's values carry."""

    at: datetime  # local time of the building (a flag: the period's start)
    source: str  # "device", "edge", "cloud" (events) or "archive" (a quality flag)
    severity: str  # "info", "warning", "alarm"
    code: str  # the event's code, or the flag's name: "device_flagged", "clock_suspect", "backfilled", "external"
    text: str  # Russian description (events: protocol/event_classes.py)
    text_en: str
    detail: str = ""  # the event's detail as stored (JSON text)


# quality bits of archive values (protocol.vocabulary.Quality; bit 8 cloud/services/readings.py EXTERNAL)
QUALITY_MESSAGES: tuple[tuple[int, str, str, str, str], ...] = (
    (Quality.DEVICE_FLAGGED, "device_flagged", "warning", "Прибор отметил период (неисправность датчика, "
     "отключение питания)", "The device flagged the period (sensor fault, power loss)"),
    (Quality.CLOCK_SUSPECT, "clock_suspect", "warning", "Часы прибора расходились с точным временем при чтении",
     "The device clock was off when read"),
    (Quality.BACKFILLED, "backfilled", "info", "Значения дочитаны с прибора после пропуска",
     "Values read again from the device after a gap"),
    (1 << 8, "external", "info", "Значения внесены из внешнего источника", "Values submitted by an external source"),
)
MAX_MESSAGES = 20_000  # events of one table (a device sending thousands an hour is shown to that point)


@dataclass(frozen=True, slots=True)
class ValueColumn:
    key: str  # "<channel>:<parameter>", the key of ``ValuesRow.values``
    channel: int
    resource: Resource
    parameter: str  # e.g. "Q", "V1", "T1"
    unit: str  # e.g. "Gcal", "m3", "degC"
    nature: str  # "integral" (readings) or "interval" (values of the period), as the device keeps them


@dataclass(frozen=True, slots=True)
class ValuesRow:
    start: datetime  # local start of the period
    status: str  # as in the completeness view (STATUSES): why a value is null
    values: dict[str, float | None] = field(hash=False)  # column key -> the archive's value, null: none came
    quality: int = 0  # the OR of the quality bits of the period's values
    messages: tuple[ArchiveMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class MeterValues:
    meter: MeterInfo
    columns: tuple[ValueColumn, ...]  # the parameters of the meter's channels of the chosen resource
    rows: tuple[ValuesRow, ...]
    messages: int  # messages in the period, all rows together


@dataclass(frozen=True, slots=True)
class ArrivalValues:
    building: BuildingSummary
    kind: ArchiveKind
    first: date
    last: date
    resource: Resource | None
    role: MeterRole | None
    periods: tuple[datetime, ...]  # local starts
    meters: tuple[MeterValues, ...]


def shown_nature(model: str, kind: ArchiveKind, present: set[str]) -> str:
    """The nature of the values shown for a meter: the one its model keeps for ``kind`` when such
    values came, else the one that came (integral first), else the model's (integral unknown)."""
    try:
        spec = catalogue.model(model).archive(kind)
    except catalogue.UnknownModel:
        spec = None
    preferred = spec.nature.value if spec is not None else "integral"
    if preferred in present or not present:
        return preferred
    return "integral" if "integral" in present else "interval"


def quality_messages(quality: int, at: datetime) -> list[ArchiveMessage]:
    """The archive's quality bits of a period as messages (``at``: the period's local start)."""
    return [ArchiveMessage(at, "archive", severity, code, ru, en)
            for bit, code, severity, ru, en in QUALITY_MESSAGES if quality & bit]


def event_message(at: datetime, source: str, severity: str, code: str, detail: str) -> ArchiveMessage:
    """A stored event as a message: its description from protocol/event_classes.py (a detail that is
    not a JSON object is shown as it is and describes nothing more)."""
    try:
        parsed = json.loads(detail) if detail else {}
    except ValueError:
        parsed = {}
    described = classify(code, parsed if isinstance(parsed, dict) else {})
    return ArchiveMessage(at, source, severity, code, described.description_ru, described.description_en, detail)


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _overlaps(service: tuple[datetime | None, datetime | None], start: datetime, close: datetime) -> bool:
    """Whether the period [start, close) and the service period [begin, end) share any time."""
    begin, end = service
    return (begin is None or begin < close) and (end is None or end > start)


def _pct(received: int, due: int) -> float | None:
    return round(100.0 * received / due, 1) if due else None


def period_range(kind: ArchiveKind, first: date, last: date) -> list[datetime]:
    """Local starts of the ``kind`` periods that begin within the days first..last (each within
    models.FIRST_DAY..LAST_DAY, at most MAX_PERIODS of them)."""
    check_day("from", first)
    check_day("to", last)
    if last < first:
        raise InvalidInput(f"to: {last} is before from: {first}")
    start = datetime(first.year, first.month, first.day)
    if kind is ArchiveKind.MONTH:
        start = start.replace(day=1) if first.day == 1 else next_period(kind, start.replace(day=1))
    end = datetime(last.year, last.month, last.day) + timedelta(days=1)
    out: list[datetime] = []
    while start < end:
        out.append(start)
        if len(out) > MAX_PERIODS:
            raise InvalidInput(f"to: at most {MAX_PERIODS} {kind.value} periods per report")
        start = next_period(kind, start)
    return out


def has_kind(meter: MeterInfo, kind: ArchiveKind) -> bool:
    """Whether the meter is configured to give archives of ``kind`` (its "archives" text)."""
    return kind.value in {part.strip() for part in meter.archives.split(",")}


class ArrivalService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.ch = clickhouse
        self.accounting = AccountingService(registry, clickhouse, auth)  # its scope and role checks
        self.commands = commands

    async def report(self, token: str, building_id: int, kind: str, first: date, last: date, *,
                     resource: Resource | None = None, role: MeterRole | None = None,
                     now: datetime | None = None) -> ArrivalReport:
        try:
            kind_ = ArchiveKind(kind)
        except ValueError:
            raise InvalidInput(f"kind: one of hour, day, month, got {kind!r}") from None
        building = await self.accounting.building(token, building_id)
        company = (await self.accounting.auth.user(token)).company_id
        tz = zone(building.time_zone)
        starts = period_range(kind_, first, last)
        utc = [local_to_utc(s, tz).replace(tzinfo=None) for s in starts]
        closes = [local_to_utc(next_period(kind_, s), tz).replace(tzinfo=None) for s in starts]
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        candidates = [m for m in await self.accounting.meters(token, building_id)
                      if has_kind(m, kind_) and (role is None or m.role is role)
                      and (resource is None or resource in m.resources)]
        served = await self._service_periods(company, candidates)
        meters = [m for m in candidates if utc and _overlaps(served[m.id], utc[0], closes[-1])]
        # out of service within its service period (a verification or repair, 4.5.5): nothing to miss
        stops = await asyncio.to_thread(load_outages, self.accounting.registry, [m.id for m in meters])
        serials = sorted(m.serial for m in meters)
        have: dict[tuple[str, int], list[int]] = {}  # (meter, channel) -> UTC epochs of its stored periods
        lost: dict[str, dict[datetime, str]] = defaultdict(dict)
        events: dict[str, dict[datetime, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
        if serials and starts:
            window = {"co": company, "meters": serials, "k": kind_.value, "lo": utc[0], "hi": closes[-1]}
            # one row per meter and channel, its periods as epochs: far fewer Python objects than a row
            # per period; groupUniqArray counts a row ClickHouse has not merged yet once, as FINAL would
            for serial, channel, epochs in await self.ch.query(
                    "SELECT meter, channel, groupUniqArray(toUInt32(period_start)) FROM {db}.archive "
                    "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} AND kind = {k:String} "
                    "AND period_start >= {lo:DateTime} AND period_start < {hi:DateTime} GROUP BY meter, channel",
                    window):
                have[(serial, int(channel))] = epochs
            for serial, start, reason in await self.ch.query(
                    "SELECT meter, period_start, argMax(reason, reported_at) FROM {db}.lost_periods "
                    "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} AND kind = {k:String} "
                    "AND period_start >= {lo:DateTime} AND period_start < {hi:DateTime} GROUP BY meter, period_start",
                    window):
                lost[serial][start.replace(tzinfo=None)] = reason
            # the device's messages (manual 4.2.3: a mark in the period, its content on click)
            for serial, at, code, severity in await self.ch.query(
                    "SELECT DISTINCT meter, at, code, severity FROM {db}.device_events "
                    "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} AND source = 'device' "
                    "AND at >= {lo:DateTime} "
                    "AND at < {hi:DateTime} ORDER BY at LIMIT 10000", window):
                index = bisect_right(utc, at.replace(tzinfo=None)) - 1
                if index >= 0:
                    events[serial][utc[index]].append((str(severity), code))
        epochs = [int(at.replace(tzinfo=UTC).timestamp()) for at in utc]
        open_ = [close > moment for close in closes]  # periods that have not closed: not due
        first_close, last_start = (min(closes), max(utc)) if utc else (moment, moment)
        plain: dict[tuple[int, str, int], PeriodArrival] = {}  # immutable, so shared by meters
        rows = []
        for meter in meters:
            channels = tuple(c.number for c in meter.channels if resource is None or c.resource is resource)
            present: Counter[int] = Counter()  # epoch -> how many of the shown channels have the period
            for number in set(channels):
                present.update(have.get((meter.serial, number), ()))
            width = len(channels)
            begin, end = served[meter.id]
            # a meter in service over the whole range (the usual one) needs no check per period
            throughout = (begin is None or begin < first_close) and (end is None or end > last_start)
            reasons = lost.get(meter.serial, {})
            marks = events.get(meter.serial, {})
            outs = [(_naive(o.from_at), _naive(o.until_at) if o.until_at else None) for o in stops.get(meter.id, ())]
            periods = []
            for i, (local, at) in enumerate(zip(starts, utc, strict=True)):
                got = present.get(epochs[i], 0)
                if not throughout and not _overlaps((begin, end), at, closes[i]):
                    status = "not_expected"  # whatever it sent then is not the meter in service
                elif got and got == width:
                    status = "received"
                elif outs and any(_overlaps(out, at, closes[i]) for out in outs):
                    status = "not_expected"  # out of service: not polled, so not missing
                elif at in reasons:
                    status = "lost"
                elif open_[i]:
                    status = "not_due"
                else:
                    status = "partial" if got else "missing"
                reason = reasons.get(at, "") if reasons else ""
                mark = marks.get(at) if marks else None
                if reason or mark:
                    periods.append(PeriodArrival(local, status, got, reason, tuple(mark or ())))
                    continue
                period = plain.get((i, status, got))
                if period is None:
                    period = plain[(i, status, got)] = PeriodArrival(local, status, got)
                periods.append(period)
            statuses = [p.status for p in periods]
            count = {s: statuses.count(s) for s in STATUSES}
            due = len(periods) - count["not_due"] - count["not_expected"]
            rows.append(MeterArrival(meter, channels, tuple(periods), due, count["received"], count["partial"],
                                     count["missing"], count["lost"], _pct(count["received"], due)))
        due = sum(r.due for r in rows)
        received = sum(r.received for r in rows)
        return ArrivalReport(building, kind_, first, last, resource, role, tuple(starts), tuple(rows), due, received,
                             _pct(received, due))

    async def values(self, token: str, building_id: int, kind: str, first: date, last: date, *,
                     resource: Resource | None = None, role: MeterRole | None = None,
                     now: datetime | None = None) -> ArrivalValues:
        """The archive parameter values per meter and period (manual 4.2.3's table), with the
        period's status and messages; the meters and periods are those of ``report``."""
        report = await self.report(token, building_id, kind, first, last, resource=resource, role=role, now=now)
        return await self.values_of(token, report)

    async def values_of(self, token: str, report: ArrivalReport) -> ArrivalValues:
        """``values`` for a report already made (the page shows both and reads the archive once more only)."""
        company = (await self.accounting.auth.user(token)).company_id
        tz = zone(report.building.time_zone)
        starts = list(report.periods)
        utc = [local_to_utc(s, tz).replace(tzinfo=None) for s in starts]
        serials = sorted(r.meter.serial for r in report.meters)
        stored: dict[tuple[str, int, str, str, datetime], float] = {}
        quality: dict[tuple[str, int, datetime], int] = defaultdict(int)
        natures: dict[str, set[str]] = defaultdict(set)
        events: dict[tuple[str, datetime], list[ArchiveMessage]] = defaultdict(list)
        if serials and starts:
            hi = local_to_utc(next_period(report.kind, starts[-1]), tz).replace(tzinfo=None)
            window = {"co": company, "meters": serials, "k": report.kind.value, "lo": utc[0], "hi": hi}
            for serial, channel, parameter, nature, start, value, flags in await self.ch.query(
                    "SELECT meter, channel, parameter, nature, period_start, value, quality FROM {db}.archive FINAL "
                    "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} AND kind = {k:String} "
                    "AND period_start >= {lo:DateTime} AND period_start < {hi:DateTime}", window):
                at = start.replace(tzinfo=None)
                stored[(serial, channel, parameter, nature, at)] = float(value)
                quality[(serial, channel, at)] |= int(flags)
                natures[serial].add(nature)
            for serial, at, code, severity, source, detail in await self.ch.query(
                    "SELECT DISTINCT meter, at, code, toString(severity), toString(source), detail "
                    "FROM {db}.device_events WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} "
                    "AND at >= {lo:DateTime} AND at < {hi:DateTime} ORDER BY meter, at, code LIMIT {limit:UInt32}",
                    {**window, "limit": MAX_MESSAGES}):
                moment = at.replace(tzinfo=None)
                index = bisect_right(utc, moment) - 1
                if index >= 0:
                    local = utc_to_local(moment.replace(tzinfo=UTC), tz).replace(tzinfo=None)
                    events[(serial, utc[index])].append(event_message(local, source, severity, code, detail))
        meters = []
        for arrival in report.meters:
            meter = arrival.meter
            nature = shown_nature(meter.model, report.kind, natures.get(meter.serial, set()))
            columns = tuple(
                ValueColumn(f"{c.number}:{p}", c.number, c.resource, p, PARAMETERS[p].unit if p in PARAMETERS else "",
                            nature)
                for c in meter.channels if c.number in arrival.channels for p in c.parameters)
            rows = []
            for local, at, period in zip(starts, utc, arrival.periods, strict=True):
                flags = 0
                for number in arrival.channels:
                    flags |= quality.get((meter.serial, number, at), 0)
                values = {c.key: stored.get((meter.serial, c.channel, c.parameter, nature, at)) for c in columns}
                messages = (*events.get((meter.serial, at), ()), *quality_messages(flags, local))
                rows.append(ValuesRow(local, period.status, values, flags, tuple(messages)))
            meters.append(MeterValues(meter, columns, tuple(rows), sum(len(r.messages) for r in rows)))
        return ArrivalValues(report.building, report.kind, report.first, report.last, report.resource, report.role,
                             report.periods, tuple(meters))

    async def _service_periods(self, company: int, meters: list[MeterInfo]
                               ) -> dict[int, tuple[datetime | None, datetime | None]]:
        """Meter id -> its service period in naive UTC (None: open). Without a recorded
        commissioning it begins with the meter's first stored archive (of any kind) or reported
        lost period from FIRST_DAY on (a period stored as 1970 by an absurd edge report makes no
        meter expected for decades); a meter with neither is expected throughout."""
        unknown = sorted({m.serial for m in meters if m.commissioned_at is None})
        first: dict[str, datetime] = {}
        if unknown:
            first = {serial: start.replace(tzinfo=None) for serial, start in await self.ch.query(
                "SELECT meter, min(start) FROM (SELECT meter, period_start AS start FROM {db}.archive "
                "WHERE company = {co:UInt32} AND meter IN {meters:Array(String)} UNION ALL "
                "SELECT meter, period_start FROM {db}.lost_periods WHERE company = {co:UInt32} "
                "AND meter IN {meters:Array(String)}) WHERE start >= {sane:DateTime} GROUP BY meter",
                {"co": company, "meters": unknown, "sane": datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day)})}
        out: dict[int, tuple[datetime | None, datetime | None]] = {}
        for m in meters:
            begin = _naive(m.commissioned_at) if m.commissioned_at is not None else first.get(m.serial)
            out[m.id] = (begin, _naive(m.decommissioned_at) if m.decommissioned_at is not None else None)
        return out

    async def request_backfill(self, token: str, building_id: int, kind: str, first: date, last: date, *,
                               meter_ids: set[int] | None = None, resource: Resource | None = None,
                               role: MeterRole | None = None) -> list[CommandInfo]:
        """One backfill command per meter with gaps in the range (from its first to its last gap;
        the edge re-reads the whole span, and what is already stored changes nothing)."""
        report = await self.report(token, building_id, kind, first, last, resource=resource, role=role)
        tz = zone(report.building.time_zone)
        issued = []
        for row in report.meters:
            if (meter_ids is not None and row.meter.id not in meter_ids) or not row.gaps:
                continue
            span = [int(local_to_utc(s, tz).timestamp()) for s in (row.gaps[0], row.gaps[-1])]
            issued.append(await self.commands.issue(
                token, "backfill", meter_id=row.meter.id,
                args={"kind": report.kind.value, "from": span[0], "to": span[1]}))
        return issued


def local_time(moment: datetime, time_zone: str) -> datetime:
    """A UTC time of a command (created, finished) as the building's local time, for display."""
    return utc_to_local(moment, zone(time_zone))
