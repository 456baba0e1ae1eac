"""Meter readings (показания) for reports and billing: the counter of a meter channel at a moment,
read from the integral archives the device keeps. Nothing is estimated: a reading that has no
archive is absent from the answer, and the caller shows it as missing.

A reading at a local ``boundary`` is the integral record of a period that ends there (the month
record when the boundary is the meter's reporting day, else the day record, else the hour
record; all three hold the same counter). At the meter's commissioning or decommissioning moment
the reading the engineer recorded is the reading. Outside the meter's service period there is no
reading of it (a record there is another meter's life: factory tests, a reinstalled serial).
Electricity readings are multiplied by the meter's CT ratio (the counter of a CT-connected meter
counts secondary energy). Which channel is which tariff (T1/T2/total) is
``consumption.channel_tariff``'s; ``tariff_of`` gives it.

A few ClickHouse queries whatever the number of meters: the monthly export of 1,000 buildings asks
for 300,000 meters at once (the month records first, 60,000 counters a query; the day and hour records
only for what the month records did not give). ``company_meters`` reads the company's
meters with their buildings and premises in one registry query. Tests:
tests/unit/cloud/test_reports_readings.py, tests/integration/test_reports_readings_store.py.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from cloud.services import consumption as calc
from cloud.services.models import ChannelInfo, MeterInfo, parse_lifecycle
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, utc_to_local, zone
from protocol.vocabulary import CONSUMPTION_PARAMETER, ArchiveKind, MeterRole, Resource

Key = tuple[int, int]  # (meter id, channel number)
_BULK = 5000  # more meters than this: select by company, a range of serials and keys, not by a list of serials
_CHUNK = 60_000  # counters asked in one archive query
_PREFERENCE = (ArchiveKind.MONTH, ArchiveKind.DAY, ArchiveKind.HOUR)


@dataclass(frozen=True, slots=True)
class Reading:
    value: float  # the counter, times the CT ratio for electricity
    at: datetime  # local (naive) moment the counter had this value: a period boundary
    kind: ArchiveKind | None  # the archive it was read from; None: the engineer's recorded reading


@dataclass(frozen=True, slots=True)
class Placed:
    """A meter with where it is: what an export lists beside its readings."""

    meter: MeterInfo
    address: str
    tz: ZoneInfo
    account: str  # the premise's personal account ('' for a building meter or none set)
    area_m2: float | None
    residents: int | None


def parameter_of(channel: ChannelInfo) -> str | None:
    """The counter a channel's readings are of (V, Q, E), or None when the channel keeps none."""
    p = CONSUMPTION_PARAMETER[channel.resource]
    return p if p in channel.parameters else None


def tariff_of(meter: MeterInfo, channel: ChannelInfo) -> str:
    """"T1", "T2", ... or "total" (consumption.TOTAL) for an electricity channel; "total" otherwise."""
    return _tariff(meter.model, meter.tariffs, channel.number, channel.tariff)


@lru_cache(maxsize=1024)
def _tariff(model: str, tariffs: int, number: int, registered: str | None) -> str:
    return calc.channel_tariff(model, tariffs, number, registered)  # a catalogue look-up: once per kind of channel


def month_close(meter: MeterInfo, month: date) -> datetime:
    """The local boundary that closes the meter's reporting period labelled ``month`` (its reporting
    day of the next month, 00:00): the reading a monthly report and the billing document give."""
    return calc.span(calc.Granularity.MONTH, datetime(month.year, month.month, 1), meter.reporting_day)[1]


def expected_at(meter: MeterInfo, boundary: datetime, tz: ZoneInfo) -> bool:
    """Whether the meter's counter is expected at local ``boundary``: it is in service then (from
    commissioning to decommissioning, both ends included: their readings were recorded)."""
    if meter.commissioned_at is None and meter.decommissioned_at is None:
        return meter.status != "commissioning"
    moment = local_to_utc(boundary, tz)
    if meter.commissioned_at is not None and moment < meter.commissioned_at:
        return False
    return not (meter.decommissioned_at is not None and moment > meter.decommissioned_at)


def _keys(meter: MeterInfo, boundary: datetime, tz: ZoneInfo) -> list[tuple[ArchiveKind, tuple[datetime, ...]]]:
    return _keys_of(meter.archives, meter.model, meter.reporting_day, boundary, tz)


@lru_cache(maxsize=4096)
def _keys_of(archives: str, model: str, reporting_day: int, boundary: datetime,
             tz: ZoneInfo) -> list[tuple[ArchiveKind, tuple[datetime, ...]]]:
    # 300,000 meters of a monthly export share a handful of (archives, model, boundary) combinations
    kinds = meter_kinds_of(archives, model)
    return [(kind, keys) for kind in _PREFERENCE if kind in kinds
            and (keys := calc.reading_keys(kind, boundary, reporting_day, tz))]


def meter_kinds_of(archives: str, model: str) -> frozenset[ArchiveKind]:
    """``accounting.meter_kinds`` of a meter's registry ``archives`` and model."""
    named = [ArchiveKind(w) for w in (part.strip() for part in archives.split(",")) if w in _KIND_WORDS]
    return calc.archive_kinds(named, calc.device_kinds(model))


_KIND_WORDS = frozenset(k.value for k in ArchiveKind)


def _recorded(meter: MeterInfo, channel: ChannelInfo, parameter: str, boundary: datetime,
              tz: ZoneInfo) -> float | None:
    """The reading the engineer recorded at commissioning or decommissioning, when ``boundary`` is that moment."""
    if meter.commissioned_at is None and meter.decommissioned_at is None:
        return None
    moment = local_to_utc(boundary, tz)
    key = f"{channel.number}:{parameter}"
    if meter.commissioned_at is not None and moment == meter.commissioned_at:
        return meter.initial_readings.get(key)
    if meter.decommissioned_at is not None and moment == meter.decommissioned_at:
        return meter.final_readings.get(key)
    return None


@dataclass(slots=True)
class _Ask:
    meter: MeterInfo
    channel: ChannelInfo
    parameter: str
    boundary: datetime
    keys: list[tuple[ArchiveKind, tuple[datetime, ...]]]


async def readings_at(ch: ClickHouse, company_id: int,
                      wanted: Sequence[tuple[MeterInfo, datetime, ZoneInfo]]) -> dict[Key, Reading]:
    """The reading of every channel of each meter at its local boundary: ``{(meter id, channel): Reading}``;
    a channel with no archive at the boundary, or a meter out of service then, is left out (it is
    missing or not expected, never guessed). The per-meter work runs in a thread: for 300,000 meters
    it takes seconds, which must not stop the event loop (the UI)."""
    found, asks = await asyncio.to_thread(_asks, wanted)
    for kind in _PREFERENCE:
        todo = await asyncio.to_thread(_todo, asks, kind, found)
        # by ranges of serials: the rows of one query at a time stay a few tens of MB
        for i in range(0, len(todo), _CHUNK):
            part = todo[i:i + _CHUNK]
            rows = await _query(ch, company_id, kind, part)
            await asyncio.to_thread(_match, part, kind, rows, found)
    return found


def _asks(wanted: Sequence[tuple[MeterInfo, datetime, ZoneInfo]]) -> tuple[dict[Key, Reading], list[_Ask]]:
    """The recorded readings at commissioning/decommissioning, and what is to be read from the archive."""
    found: dict[Key, Reading] = {}
    asks: list[_Ask] = []
    for meter, boundary, tz in wanted:
        if not expected_at(meter, boundary, tz):
            continue
        keys: list[tuple[ArchiveKind, tuple[datetime, ...]]] | None = None
        for channel in meter.channels:
            parameter = parameter_of(channel)
            if parameter is None:
                continue
            recorded = _recorded(meter, channel, parameter, boundary, tz)
            if recorded is not None:
                found[(meter.id, channel.number)] = Reading(recorded * _factor(meter, parameter), boundary, None)
                continue
            if keys is None:
                keys = _keys(meter, boundary, tz)
            asks.append(_Ask(meter, channel, parameter, boundary, keys))
    return found, asks


def _todo(asks: list[_Ask], kind: ArchiveKind, found: dict[Key, Reading]) -> list[_Ask]:
    """The asks still without a reading that a ``kind`` record could answer (month first, then day, hour)."""
    todo = [a for a in asks if (a.meter.id, a.channel.number) not in found and any(k is kind for k, _ in a.keys)]
    todo.sort(key=lambda a: a.meter.serial)
    return todo


def _match(todo: list[_Ask], kind: ArchiveKind, rows: list[tuple], found: dict[Key, Reading]) -> None:
    # one flat dict: a dict per counter cost 120 MB more for a 300,000-meter company
    stored = {(serial, int(channel_no), parameter, int(start)): float(value)
              for serial, channel_no, parameter, start, value in rows}
    rows.clear()
    for a in todo:
        keys = next(ks for k, ks in a.keys if k is kind)
        value = next((v for k in keys if (v := stored.get((a.meter.serial, a.channel.number, a.parameter,
                                                            int(k.timestamp())))) is not None), None)
        if value is not None:
            found[(a.meter.id, a.channel.number)] = Reading(value * _factor(a.meter, a.parameter), a.boundary, kind)


def _factor(meter: MeterInfo, parameter: str) -> float:
    return meter.ct_ratio if parameter == "E" else 1.0


async def _query(ch: ClickHouse, company_id: int, kind: ArchiveKind, asks: list[_Ask]) -> list[tuple]:
    """The integral records of ``kind`` at the asked keys: (serial, channel, parameter, UTC start in
    seconds, value) rows; ``asks`` sorted by serial (more than _BULK meters: the range of their serials)."""
    serials = sorted({a.meter.serial for a in asks})
    keys = sorted({calc.utc(k).replace(tzinfo=None) for a in asks for k_kind, ks in a.keys if k_kind is kind
                   for k in ks})
    args = {"co": company_id, "ps": sorted({a.parameter for a in asks}), "kind": kind.value, "keys": keys}
    if len(serials) <= _BULK:
        by_meter = "AND meter IN {meters:Array(String)} "
        args["meters"] = serials
    else:
        by_meter = "AND meter >= {lo:String} AND meter <= {hi:String} "
        args["lo"], args["hi"] = serials[0], serials[-1]
    return await ch.query(  # seconds and floats: smaller than a datetime and a Decimal per row
        "SELECT meter, channel, parameter, toUInt32(period_start), toFloat64(value) "  # noqa: S608 - constant text
        "FROM {db}.archive FINAL "
        "WHERE company = {co:UInt32} AND nature = 'integral' AND kind = {kind:String} "
        f"AND parameter IN {{ps:Array(String)}} {by_meter}"
        "AND period_start IN {keys:Array(DateTime('UTC'))}", args)


async def latest_readings(ch: ClickHouse, company_id: int, meters: Sequence[tuple[MeterInfo, ZoneInfo]],
                          as_of: datetime, lookback_days: int = 62) -> dict[Key, Reading]:
    """The newest reading of every channel at or before UTC ``as_of`` (day or hour archives, at most
    ``lookback_days`` back, or the engineer's recorded readings): what a billing centre is sent on its
    submission day, with its date. A decommissioned meter's newest is at or before its decommissioning
    (its final reading when recorded); nothing before its commissioning counts."""
    if not meters:
        return {}
    # each meter's own end: as_of, or its decommissioning when that came first (one query per distinct end)
    by_end: dict[datetime, list[tuple[MeterInfo, ZoneInfo]]] = defaultdict(list)
    for meter, tz in meters:
        end = as_of if meter.decommissioned_at is None else min(as_of, meter.decommissioned_at)
        by_end[calc.utc(end)].append((meter, tz))
    found: dict[Key, Reading] = {}
    for hi, group in by_end.items():
        newest = await _newest(ch, company_id, group, hi, hi - timedelta(days=lookback_days + 1))
        for meter, tz in group:
            for channel in meter.channels:
                parameter = parameter_of(channel)
                if parameter is None:
                    continue
                key = f"{channel.number}:{parameter}"
                candidates: list[tuple[datetime, float, ArchiveKind | None]] = []
                hit = newest.get((meter.serial, channel.number, parameter))
                if hit is not None and (meter.commissioned_at is None or hit[0] >= meter.commissioned_at):
                    candidates.append(hit)
                if meter.commissioned_at is not None and meter.commissioned_at <= hi \
                        and key in meter.initial_readings:
                    candidates.append((meter.commissioned_at, meter.initial_readings[key], None))
                if meter.decommissioned_at is not None and meter.decommissioned_at <= hi \
                        and key in meter.final_readings:
                    candidates.append((meter.decommissioned_at, meter.final_readings[key], None))
                if not candidates:
                    continue
                # the latest moment wins; at the same moment the recorded reading (kind None) does
                end, value, kind = max(candidates, key=lambda c: (c[0], c[2] is None))
                found[(meter.id, channel.number)] = Reading(value * _factor(meter, parameter),
                                                            utc_to_local(end, tz), kind)
    return found


async def _newest(ch: ClickHouse, company_id: int, meters: list[tuple[MeterInfo, ZoneInfo]], hi: datetime,
                  lo: datetime) -> dict[tuple[str, int, str], tuple[datetime, float, ArchiveKind]]:
    """Per (serial, channel, parameter) the newest day or hour record ending in (lo, hi]: (its end, value, kind)."""
    serials = sorted({m.serial for m, _ in meters})
    args = {"co": company_id, "lo": calc.utc(lo).replace(tzinfo=None), "hi": calc.utc(hi).replace(tzinfo=None)}
    by_meter = ""
    if len(serials) <= _BULK:
        by_meter = "AND meter IN {meters:Array(String)} "
        args["meters"] = serials
    # the record of a period that ends at or before hi: period_start + its length <= hi
    rows = await ch.query(
        "SELECT meter, channel, parameter, kind, argMax(value, period_start), max(period_start) "  # noqa: S608 - constant text
        "FROM {db}.archive FINAL WHERE company = {co:UInt32} AND nature = 'integral' "
        f"AND kind IN ('day', 'hour') {by_meter}AND period_start >= {{lo:DateTime('UTC')}} "
        "AND ((kind = 'day' AND period_start + INTERVAL 1 DAY <= {hi:DateTime('UTC')}) "
        "OR (kind = 'hour' AND period_start + INTERVAL 1 HOUR <= {hi:DateTime('UTC')})) "
        "GROUP BY meter, channel, parameter, kind", args)
    newest: dict[tuple[str, int, str], tuple[datetime, float, ArchiveKind]] = {}
    for serial, channel_no, parameter, kind, value, start in rows:
        k = ArchiveKind(kind)
        end = calc.utc(start) + (timedelta(days=1) if k is ArchiveKind.DAY else timedelta(hours=1))
        old = newest.get((serial, int(channel_no), parameter))
        if old is None or end > old[0]:
            newest[(serial, int(channel_no), parameter)] = (end, float(value), k)
    return newest


_LIFECYCLE = ("installed_on", "commissioned_at", "decommissioned_at", "reporting_day", "ct_ratio", "phase", "tariffs",
              "replaces_meter_id", "initial_readings", "final_readings")  # models.parse_lifecycle's columns
_PLACED_SQL = f"""
SELECT m.id, m.serial, m.model, m.role, m.building_id, m.premise_id, m.communicator, m.archives, m.status,
       p.number, p.account, p.area_m2, p.residents, b.address, b.time_zone, {", ".join("m." + c for c in _LIFECYCLE)}
FROM meters m JOIN buildings b ON b.id = m.building_id LEFT JOIN premises p ON p.id = m.premise_id
WHERE m.company_id = ? AND b.company_id = ?
"""  # noqa: S608 - constant column names
_CHANNELS_SQL = """
SELECT c.meter_id, c.number, c.resource, c.parameters, c.tariff FROM meter_channels c
JOIN meters m ON m.id = c.meter_id WHERE m.company_id = ?
"""


def _lifecycle(values: tuple, cache: dict[tuple, dict[str, Any]]) -> dict[str, Any]:
    """``models.parse_lifecycle`` of the lifecycle columns, parsed once per distinct set of values (the
    meters of a building usually share them; the parsed readings are read, never written)."""
    life = cache.get(values)
    if life is None:
        life = cache[values] = parse_lifecycle(dict(zip(_LIFECYCLE, values, strict=True)))
    return life


def company_meters(registry: Registry, company_id: int, building_id: int | None = None) -> list[Placed]:
    """Every meter of the company (or of one of its buildings) with its channels, building and premise:
    two registry queries in all, whatever the size of the company."""
    where, args = "", [company_id, company_id]
    if building_id is not None:
        where, args = " AND m.building_id = ?", [*args, building_id]
    channel_sql = _CHANNELS_SQL + where + " ORDER BY c.meter_id, c.number"
    interned: dict[tuple, ChannelInfo] = {}  # 300,000 meters share a handful of distinct channels
    channels: dict[int, list[ChannelInfo]] = defaultdict(list)
    with registry.reading() as db:
        for meter_id, *fields in db.execute(channel_sql, args[1:]):
            key = tuple(fields)
            info = interned.get(key)
            if info is None:
                info = interned[key] = ChannelInfo(fields[0], Resource(fields[1]), tuple(fields[2].split(",")),
                                                   fields[3])
            channels[meter_id].append(info)
        zones: dict[str, ZoneInfo] = {}
        sets: dict[tuple[ChannelInfo, ...], tuple[ChannelInfo, ...]] = {}
        _one = lambda t: sets.setdefault(t, t)  # noqa: E731 - meters of a model share one channel tuple
        same: dict[str, str] = {}  # one string object per distinct address, model, archives ...
        out = []
        lives: dict[tuple, dict[str, Any]] = {}
        for (meter_id, serial, model, role, building, premise, communicator, archives, status, number, account,
             area, residents, address, tz_name, *life) in db.execute(_PLACED_SQL + where, args):
            # row by row (fetchall would hold a copy of every row); one string object per distinct value
            tz = zones.get(tz_name) or zones.setdefault(tz_name, zone(tz_name))
            meter = MeterInfo(id=meter_id, serial=serial, model=same.setdefault(model, model), role=MeterRole(role),
                              building_id=building, premise_id=premise, premise_number=number,
                              channels=_one(tuple(channels.get(meter_id, ()))),
                              communicator=same.setdefault(communicator, communicator),
                              archives=same.setdefault(archives, archives), status=same.setdefault(status, status),
                              **_lifecycle(tuple(life), lives))
            out.append(Placed(meter, same.setdefault(address, address), tz, account or "", area, residents))
    return out

