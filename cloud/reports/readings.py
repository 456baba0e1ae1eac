"""Meter readings (показания) for reports and billing: the counter of a meter channel at a moment,
read from the integral archives the device keeps. Nothing is estimated: a reading that has no
archive is absent from the answer, and the caller shows it as missing.

A reading at a local ``boundary`` is the integral record of a period that ends there (the month
record when the boundary is the meter's reporting day, else the day record, else the hour
record; all three hold the same counter). Electricity readings are multiplied by the meter's CT
ratio (the counter of a CT-connected meter counts secondary energy). Which channel is which
tariff (T1/T2/total) is ``consumption.channel_tariff``'s; ``tariff_of`` gives it.

One ClickHouse query per call, whatever the number of meters: the monthly export of 1,000
buildings asks for 300,000 channels at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.services import consumption as calc
from cloud.services.accounting import meter_kinds
from cloud.services.models import ChannelInfo, MeterInfo
from cloud.storage.clickhouse import ClickHouse
from protocol.periods import local_to_utc, utc_to_local
from protocol.vocabulary import CONSUMPTION_PARAMETER, ArchiveKind

Key = tuple[int, int]  # (meter id, channel number)
_BULK = 5000  # more meters than this: select by company and keys, not by a list of serials
_PREFERENCE = (ArchiveKind.MONTH, ArchiveKind.DAY, ArchiveKind.HOUR)


@dataclass(frozen=True, slots=True)
class Reading:
    value: float  # the counter, times the CT ratio for electricity
    at: datetime  # local (naive) moment the counter had this value: a period boundary
    kind: ArchiveKind  # the archive it was read from


def parameter_of(channel: ChannelInfo) -> str | None:
    """The counter a channel's readings are of (V, Q, E), or None when the channel keeps none."""
    p = CONSUMPTION_PARAMETER[channel.resource]
    return p if p in channel.parameters else None


def tariff_of(meter: MeterInfo, channel: ChannelInfo) -> str:
    """"T1", "T2", ... or "total" (consumption.TOTAL) for an electricity channel; "total" otherwise."""
    return calc.channel_tariff(meter.model, meter.tariffs, channel.number, channel.tariff)


def month_close(meter: MeterInfo, month: date) -> datetime:
    """The local boundary that closes the meter's reporting period labelled ``month`` (its reporting
    day of the next month, 00:00): the reading a monthly report and the billing document give."""
    return calc.span(calc.Granularity.MONTH, datetime(month.year, month.month, 1), meter.reporting_day)[1]


def expected_at(meter: MeterInfo, boundary: datetime, tz: ZoneInfo) -> bool:
    """Whether the meter's counter is expected at local ``boundary``: it is in service then (from
    commissioning to decommissioning, both ends included: their readings were recorded)."""
    if meter.commissioned_at is None and meter.decommissioned_at is None and meter.status == "commissioning":
        return False
    moment = local_to_utc(boundary, tz)
    if meter.commissioned_at is not None and moment < meter.commissioned_at:
        return False
    return not (meter.decommissioned_at is not None and moment > meter.decommissioned_at)


def _keys(meter: MeterInfo, boundary: datetime, tz: ZoneInfo) -> list[tuple[ArchiveKind, datetime]]:
    kinds = meter_kinds(meter)
    out = []
    for kind in _PREFERENCE:
        if kind in kinds:
            out.extend((kind, k) for k in calc.reading_keys(kind, boundary, meter.reporting_day, tz))
    return out


def _recorded(meter: MeterInfo, channel: ChannelInfo, parameter: str, boundary: datetime,
              tz: ZoneInfo) -> float | None:
    """The reading the engineer recorded at commissioning or decommissioning, when ``boundary`` is that moment."""
    moment = local_to_utc(boundary, tz)
    key = f"{channel.number}:{parameter}"
    if meter.commissioned_at is not None and moment == meter.commissioned_at:
        return meter.initial_readings.get(key)
    if meter.decommissioned_at is not None and moment == meter.decommissioned_at:
        return meter.final_readings.get(key)
    return None


async def readings_at(ch: ClickHouse, company_id: int,
                      wanted: Sequence[tuple[MeterInfo, datetime, ZoneInfo]]) -> dict[Key, Reading]:
    """The reading of every channel of each meter at its local boundary: ``{(meter id, channel): Reading}``;
    a channel with no archive at the boundary is left out (it is missing, never guessed)."""
    plan: dict[str, list[tuple[MeterInfo, ChannelInfo, str, datetime, ZoneInfo, list]]] = defaultdict(list)
    points: dict[str, set[datetime]] = defaultdict(set)
    params: set[str] = set()
    found: dict[Key, Reading] = {}
    for meter, boundary, tz in wanted:
        keys = _keys(meter, boundary, tz)
        for channel in meter.channels:
            parameter = parameter_of(channel)
            if parameter is None:
                continue
            factor = meter.ct_ratio if parameter == "E" else 1.0
            recorded = _recorded(meter, channel, parameter, boundary, tz)
            if recorded is not None:
                found[(meter.id, channel.number)] = Reading(recorded * factor, boundary, ArchiveKind.HOUR)
                continue
            plan[meter.serial].append((meter, channel, parameter, boundary, tz, keys))
            params.add(parameter)
            for kind, key in keys:
                points[kind.value].add(key)
    if not plan:
        return found
    rows = await _query(ch, company_id, sorted(plan), sorted(params), points)
    stored: dict[tuple[str, int, str, str], dict[datetime, float]] = defaultdict(dict)
    for serial, channel_no, parameter, kind, start, value in rows:
        stored[(serial, channel_no, parameter, kind)][calc.utc(start)] = float(value)
    for serial, items in plan.items():
        for meter, channel, parameter, boundary, _tz, keys in items:
            for kind, key in keys:
                value = stored.get((serial, channel.number, parameter, kind.value), {}).get(key)
                if value is not None:
                    factor = meter.ct_ratio if parameter == "E" else 1.0
                    found[(meter.id, channel.number)] = Reading(value * factor, boundary, kind)
                    break
    return found


async def _query(ch: ClickHouse, company_id: int, serials: list[str], params: list[str],
                 points: dict[str, set[datetime]]) -> list[tuple]:
    clauses, args = [], {"co": company_id, "ps": params}
    for kind, keys in points.items():
        clauses.append(f"(kind = '{kind}' AND period_start IN {{k_{kind}:Array(DateTime('UTC'))}})")
        args[f"k_{kind}"] = sorted(calc.utc(k).replace(tzinfo=None) for k in keys)
    if not clauses:
        return []
    by_meter = ""
    if len(serials) <= _BULK:
        by_meter = "AND meter IN {meters:Array(String)} "
        args["meters"] = serials
    return await ch.query(
        "SELECT meter, channel, parameter, kind, period_start, value FROM {db}.archive FINAL "  # noqa: S608 - kinds are enum values
        "WHERE company = {co:UInt32} AND nature = 'integral' AND parameter IN {ps:Array(String)} "
        f"{by_meter}AND ({' OR '.join(clauses)})", args)


async def latest_readings(ch: ClickHouse, company_id: int, meters: Sequence[tuple[MeterInfo, ZoneInfo]],
                          as_of: datetime, lookback_days: int = 62) -> dict[Key, Reading]:
    """The newest reading of every channel at or before UTC ``as_of`` (day or hour archives, at most
    ``lookback_days`` back): what a billing centre is sent on its submission day, with its date."""
    if not meters:
        return {}
    lo = as_of - timedelta(days=lookback_days + 1)
    serials = sorted({m.serial for m, _ in meters})
    args = {"co": company_id, "lo": calc.utc(lo).replace(tzinfo=None), "hi": calc.utc(as_of).replace(tzinfo=None)}
    by_meter = ""
    if len(serials) <= _BULK:
        by_meter = "AND meter IN {meters:Array(String)} "
        args["meters"] = serials
    # the record of a period that ends at or before as_of: period_start + its length <= as_of
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
        old = newest.get((serial, channel_no, parameter))
        if old is None or end > old[0]:
            newest[(serial, channel_no, parameter)] = (end, float(value), k)
    found: dict[Key, Reading] = {}
    for meter, tz in meters:
        for channel in meter.channels:
            parameter = parameter_of(channel)
            hit = newest.get((meter.serial, channel.number, parameter)) if parameter else None
            if hit is None:
                continue
            end, value, kind = hit
            if meter.decommissioned_at is not None and end > meter.decommissioned_at:
                continue  # a value after it left service is not this meter's reading
            factor = meter.ct_ratio if parameter == "E" else 1.0
            found[(meter.id, channel.number)] = Reading(value * factor, utc_to_local(end, tz), kind)
    return found
