"""Archive period arithmetic on device clocks, and conversion to UTC.

Devices keep local wall-clock time of their building without a zone. On the wire a device
time is "device seconds": seconds since 1970-01-01T00:00 of that local clock. The edge keeps
every time in UTC epoch seconds and converts at the driver boundary (``device_to_utc``,
``utc_to_device``); periods still follow the building's local calendar, so the ``utc_*``
helpers take UTC seconds and give UTC seconds but step in local time (a month in Moscow starts
at local midnight of the 1st: 21:00 UTC of the day before).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind

_EPOCH = datetime(1970, 1, 1)


def to_device_seconds(local: datetime) -> int:
    """Naive local datetime -> device seconds."""
    if local.tzinfo is not None:
        raise ValueError("device time must be naive local time")
    return int((local - _EPOCH).total_seconds())


def from_device_seconds(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def period_start(kind: ArchiveKind, local: datetime) -> datetime:
    """Start of the archive period that contains ``local``."""
    if kind is ArchiveKind.HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    if kind is ArchiveKind.DAY:
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_period(kind: ArchiveKind, start: datetime) -> datetime:
    if kind is ArchiveKind.HOUR:
        return start + timedelta(hours=1)
    if kind is ArchiveKind.DAY:
        return start + timedelta(days=1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def previous_period(kind: ArchiveKind, start: datetime) -> datetime:
    if kind is ArchiveKind.HOUR:
        return start - timedelta(hours=1)
    if kind is ArchiveKind.DAY:
        return start - timedelta(days=1)
    year, month = (start.year - 1, 12) if start.month == 1 else (start.year, start.month - 1)
    return start.replace(year=year, month=month)


def periods(kind: ArchiveKind, first: datetime, until: datetime) -> Iterator[datetime]:
    """Period starts from ``first`` (a period start) while the period has closed by ``until``."""
    start = first
    while (end := next_period(kind, start)) <= until:
        yield start
        start = end


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise DecodeError("time_zone", f"unknown IANA time zone {name!r}") from exc


def local_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Naive local time -> aware UTC. In a DST fold the first occurrence is taken."""
    return local.replace(tzinfo=tz).astimezone(UTC)


def utc_to_local(moment: datetime, tz: ZoneInfo) -> datetime:
    """Aware (or naive UTC) time -> naive local time of the zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).replace(tzinfo=None)


# --- UTC epoch seconds, stepped on the building's local calendar ----------------------------
def device_to_utc(device_seconds: int, tz: ZoneInfo) -> int:
    """Device seconds (the building's local clock) -> UTC epoch seconds."""
    return int(local_to_utc(from_device_seconds(device_seconds), tz).timestamp())


def utc_to_device(seconds: float, tz: ZoneInfo) -> int:
    """UTC epoch seconds -> device seconds of the building's local clock (whole seconds, down)."""
    return to_device_seconds(utc_to_local(datetime.fromtimestamp(int(seconds), UTC), tz))


def _local(seconds: float, tz: ZoneInfo) -> datetime:
    return utc_to_local(datetime.fromtimestamp(seconds, UTC), tz)


def _utc(local: datetime, tz: ZoneInfo) -> int:
    return int(local_to_utc(local, tz).timestamp())


def utc_period_start(kind: ArchiveKind, moment: float, tz: ZoneInfo) -> int:
    """UTC start of the local period of ``kind`` that contains ``moment`` (UTC seconds)."""
    return _utc(period_start(kind, _local(moment, tz)), tz)


def utc_next_period(kind: ArchiveKind, start: int, tz: ZoneInfo) -> int:
    """UTC start of the local period after the one that starts at ``start`` (UTC seconds)."""
    return _utc(next_period(kind, period_start(kind, _local(start, tz))), tz)


def utc_periods(kind: ArchiveKind, first: int, until: float, tz: ZoneInfo) -> Iterator[int]:
    """UTC starts of the local periods from ``first`` (a period start) that have closed by ``until``."""
    for local in periods(kind, _local(first, tz), _local(until, tz)):
        yield _utc(local, tz)


def utc_shift(moment: float, delta: timedelta, tz: ZoneInfo) -> int:
    """``moment`` (UTC seconds) moved by ``delta`` on the local wall clock (a day back is the same
    local time the day before), whole seconds."""
    return _utc(_local(int(moment), tz) + delta, tz)
