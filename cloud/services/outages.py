"""A meter's out-of-service intervals (manual 4.5.5 «вывод ПУ из эксплуатации»): the edge does not
poll a meter inside one (``site_meters``), and data arrival and accounting expect nothing of it
there. The service procedures open and close them (cloud/services/procedures.py); the rows are
registry table ``meter_outages`` (cloud/storage/registry_ddl/procedures.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.storage.registry import Registry


@dataclass(frozen=True, slots=True)
class Outage:
    from_at: datetime  # UTC
    until_at: datetime | None  # None: still out of service


def iso_utc(at: datetime) -> str:
    """Fixed-width ISO UTC text, so the registry compares these as text."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def utc_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def outages(db: sqlite3.Connection, meter_ids: Iterable[int]) -> dict[int, list[Outage]]:
    """Meter id -> its out-of-service intervals, oldest first (UTC, aware)."""
    ids = sorted(set(meter_ids))
    out: dict[int, list[Outage]] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        rows = db.execute(f"SELECT meter_id, from_at, until_at FROM meter_outages WHERE meter_id IN "  # noqa: S608
                          f"({', '.join('?' for _ in part)}) ORDER BY from_at, id", part).fetchall()
        for r in rows:
            out.setdefault(r["meter_id"], []).append(Outage(utc_time(r["from_at"]), utc_time(r["until_at"])))  # type: ignore[arg-type]
    return out


def load_outages(registry: Registry, meter_ids: Iterable[int]) -> dict[int, list[Outage]]:
    with registry.connect() as db:
        return outages(db, meter_ids)


def out_of_service(intervals: Iterable[Outage], now: datetime) -> bool:
    """Whether the meter is out of service at ``now``."""
    return any(o.from_at <= now and (o.until_at is None or now < o.until_at) for o in intervals)


def resumed_at(intervals: Iterable[Outage], now: datetime) -> datetime | None:
    """The end of the latest closed outage up to ``now``: where polling resumed."""
    ends = [o.until_at for o in intervals if o.until_at is not None and o.until_at <= now]
    return max(ends) if ends else None


def overlaps_outage(intervals: Iterable[Outage], start: datetime, close: datetime) -> bool:
    """Whether the period [start, close) (aware) shares time with an out-of-service interval."""
    return any(o.from_at < close and (o.until_at is None or o.until_at > start) for o in intervals)
