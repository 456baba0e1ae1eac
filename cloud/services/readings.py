"""Readings submitted by an external source (an integration through the HTTP API).

They are stored like archive records of the meter, through the ingest's own row builder
(cloud/ingest_rows.py: the same columns, the same company key), with the quality flag
``EXTERNAL`` and version 0, under the deduplication token ``api:<login>:<id>``. A day or month
archive starts at midnight in the building's time zone, as the device stamps it (docs/storage.md).
A period the archive already holds for that
meter, channel, kind and parameter is not overwritten (the device's own value stands; a
correction is a service procedure) and is reported back as skipped. Only a dispatcher or an
engineer without reader status may submit, for meters of their company; every submission is
audit-logged. Tests: tests/integration/test_api_http.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cloud.ingest_rows import archive_rows
from cloud.services import audit
from cloud.services.auth import AuthService, require_writer
from cloud.services.models import InvalidInput, NotFound, UserInfo, check_day, check_id, check_number
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import zone
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch

EXTERNAL = 1 << 8  # quality bit of values from an external source (bits 0-7 are the wire's, protocol.vocabulary)
MAX_READINGS = 10_000


@dataclass(frozen=True, slots=True)
class Reading:
    period_start: datetime  # with a time zone
    values: Mapping[str, float] = field(hash=False)  # by parameter code


@dataclass(frozen=True, slots=True)
class SubmitResult:
    batch: str
    stored_values: int
    skipped: tuple[tuple[datetime, str], ...]  # (period start UTC, parameter) already in the archive


class ReadingsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth

    async def submit(self, token: str, meter_id: int, channel: int, kind: str, nature: str,
                     readings: Sequence[Reading]) -> SubmitResult:
        user = require_writer(await self.auth.user(token))
        check_id("meter_id", meter_id)
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= 65535:
            raise InvalidInput(f"channel: 0 to 65535, got {channel!r}")
        try:
            kind_, nature_ = ArchiveKind(kind), Nature(nature)
        except ValueError as exc:
            raise InvalidInput(f"kind/nature: {exc}") from None
        if not readings:
            raise InvalidInput("readings: at least one reading is needed")
        if len(readings) > MAX_READINGS:
            raise InvalidInput(f"readings: at most {MAX_READINGS} per request, got {len(readings)}")
        meter = await asyncio.to_thread(self._meter, user, meter_id, channel)
        tz = zone(meter["time_zone"])
        rows = []
        for i, r in enumerate(readings):
            rows += _rows(i, r, kind_, nature_, meter["parameters"].split(","), tz, meter["reporting_day"])
        keys = sorted({(row[0], row[1]) for row in rows})
        stored = await self.ch.query(
            "SELECT DISTINCT period_start, parameter FROM {db}.archive WHERE company = {co:UInt32} "
            "AND meter = {m:String} AND channel = {c:UInt16} AND kind = {k:String} AND nature = {n:String} "
            "AND period_start IN {at:Array(DateTime)}",
            {"co": user.company_id, "m": meter["serial"], "c": channel, "k": kind_.value, "n": nature_.value,
             "at": sorted({k[0] for k in keys})})
        present = {(t.replace(tzinfo=None), p) for t, p in stored}
        batch = f"api:{user.login}:{uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC).timestamp()
        fresh = [row for row in rows if (row[0], row[1]) not in present]
        if fresh:
            records = tuple(ArchiveRecord(meter["serial"], channel, kind_, nature_,
                                          int(start.replace(tzinfo=UTC).timestamp()), {p: value}, quality=EXTERNAL,
                                          received_at=now) for start, p, value in fresh)
            await self.ch.insert_archive(archive_rows(Batch(meter["site"], 0, records, now), user.company_id),
                                         dedup_token=batch)
        skipped = tuple(sorted({(row[0].replace(tzinfo=UTC), row[1]) for row in rows if (row[0], row[1]) in present}))
        await asyncio.to_thread(self._audit, user, meter_id, channel, kind_, batch, len(fresh), len(skipped))
        return SubmitResult(batch, len(fresh), skipped)

    def _meter(self, user: UserInfo, meter_id: int, channel: int):
        row = self.registry.one("SELECT m.serial, m.reporting_day, b.site, b.time_zone, c.parameters FROM meters m "
                                "JOIN buildings b ON b.id = m.building_id "
                                "JOIN meter_channels c ON c.meter_id = m.id AND c.number = ? "
                                "WHERE m.id = ? AND m.company_id = ?", channel, meter_id, user.company_id)
        if row is None:
            raise NotFound(f"meter {meter_id} channel {channel} not found")
        return row

    def _audit(self, user: UserInfo, meter_id: int, channel: int, kind: ArchiveKind, batch: str, stored: int,
               skipped: int) -> None:
        with self.registry.connect() as db:
            audit.record(db, user, "readings.submit", f"meter:{meter_id}", None,
                         {"channel": channel, "kind": kind.value, "batch": batch, "stored_values": stored,
                          "skipped_values": skipped})


def _rows(i: int, r: Reading, kind: ArchiveKind, nature: Nature, parameters: list[str], tz: ZoneInfo,
          reporting_day: int = 1) -> list[tuple]:
    """(period start UTC naive, parameter, value) of one reading, checked; day and month
    boundaries are the building's local midnights (``tz``), not UTC's, and a month starts on
    the meter's reporting day."""
    where = f"readings[{i}]"
    start = r.period_start
    if start.tzinfo is None:
        raise InvalidInput(f"{where}.period_start: needs a time zone (UTC offset)")
    check_day(f"{where}.period_start", start)  # before any time zone arithmetic, which could overflow
    local = start.astimezone(tz)
    start = start.astimezone(UTC).replace(tzinfo=None)
    if start.minute or start.second or start.microsecond:
        raise InvalidInput(f"{where}.period_start: must be the start of an hour")
    if kind is not ArchiveKind.HOUR and local.hour:
        raise InvalidInput(f"{where}.period_start: a {kind.value} archive starts at midnight in the building's "
                           f"time zone {tz.key} (got {local.isoformat()})")
    if kind is ArchiveKind.MONTH and local.day != reporting_day:
        raise InvalidInput(f"{where}.period_start: the meter's month archive starts on its reporting day "
                           f"({reporting_day}) in {tz.key} (got {local.date().isoformat()})")
    if start > datetime.now(UTC).replace(tzinfo=None):
        raise InvalidInput(f"{where}.period_start: in the future")
    if not r.values:
        raise InvalidInput(f"{where}.values: at least one parameter")
    out = []
    for code, value in r.values.items():
        if code not in parameters:
            raise InvalidInput(f"{where}.values.{code}: the channel has no such parameter ({', '.join(parameters)})")
        out.append((start, code, check_number(f"{where}.values.{code}", value)))
    return out
