"""Rows ClickHouse has not merged yet count once: the data-arrival report (manual 4.2.3) and the
event journal's meter state (4.2.2) read the archive without FINAL (uniq/argMax by key instead),
so a period stored twice must still be one period with one channel, and a reading stored twice
must be its newest version. Also: a meter's state is the same whether its newest archive lies in
the recent window the journal looks at first or only in the whole history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from cloud.services.container import Services
from cloud.storage.clickhouse import ARCHIVE_COLUMNS, ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import Resource
from tests import cloud_data

TZ = zone(cloud_data.TZ)


def _archive(ch: ClickHouse, company: int, serial: str, local: datetime, value: str, version: int) -> None:
    """One hourly Q reading, inserted on its own: a part of its own, as an unmerged duplicate is."""
    start = local_to_utc(local, TZ).replace(tzinfo=None)
    ch.client.insert(f"{ch.database}.archive",
                     [(company, "test", serial, 1, "hour", "integral", "Q", start, Decimal(value), 0, version,
                       start + timedelta(minutes=version), version)], column_names=ARCHIVE_COLUMNS)


async def _services(clickhouse: ClickHouse, tmp_path: Path) -> tuple[Services, cloud_data.Seeded, str]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    return services, seeded, (await services.auth.login("disp", "disp-pass")).token


async def test_arrival_counts_a_period_stored_twice_once(clickhouse: ClickHouse, tmp_path: Path) -> None:
    services, seeded, token = await _services(clickhouse, tmp_path)
    co = seeded.company_id
    # the one missing hour of 223T0002 arrives twice (two versions), a received hour of 307T0001 again
    _archive(clickhouse, co, "223T0002", cloud_data.MISSING[1], "101.5", 1)
    _archive(clickhouse, co, "223T0002", cloud_data.MISSING[1], "101.5", 2)
    _archive(clickhouse, co, "307T0001", datetime(2026, 1, 10, 0), "100.035", 2)
    report = await services.arrival.report(token, seeded.building_id, "hour", date(2026, 1, 10), date(2026, 1, 13),
                                           resource=Resource.HEAT, now=cloud_data.NOW)
    rows = {r.meter.serial: r for r in report.meters}
    # 96 hours, all due at NOW; 72 stored for each meter now that 223T0002's gap came: 72/96 = 75.0 %
    assert {s: (r.due, r.received, r.partial, r.missing) for s, r in rows.items() if s != "223T0001"} == {
        "307T0001": (96, 72, 0, 24), "223T0002": (96, 72, 0, 24)}
    assert rows["223T0002"].completeness_pct == 75.0
    filled = next(p for p in rows["223T0002"].periods if p.start == cloud_data.MISSING[1])
    assert (filled.status, filled.channels) == ("received", 1)
    # without a resource the building meter shows its 3 channels: a channel stored twice is still 1 of 3
    every = await services.arrival.report(token, seeded.building_id, "hour", date(2026, 1, 10), date(2026, 1, 10),
                                          now=cloud_data.NOW)
    meter = next(r for r in every.meters if r.meter.serial == "307T0001")
    assert (meter.partial, meter.received, meter.periods[0].status, meter.periods[0].channels) == (
        24, 0, "partial", 1)


async def test_a_meters_state_takes_the_newest_version_once(clickhouse: ClickHouse, tmp_path: Path) -> None:
    services, seeded, token = await _services(clickhouse, tmp_path)
    co = seeded.company_id
    newest = datetime(2026, 1, 13, 0)  # an hour after the seeded archives end (Jan 12 23:00 local)
    _archive(clickhouse, co, "223T0001", newest, "200.000000", 1)
    _archive(clickhouse, co, "223T0001", newest, "200.500000", 2)  # the edge's correction: version 2 wins
    event = (co, "test", 7, "223T0001", local_to_utc(datetime(2026, 1, 12, 8), TZ), "magnet", "alarm", "device", "{}")
    columns = ("company", "site", "id", "meter", "at", "code", "severity", "source", "detail")
    clickhouse.client.insert(f"{clickhouse.database}.device_events", [event], column_names=columns)
    other = (co, "test", 8, "223T0001", local_to_utc(datetime(2026, 1, 12, 9), TZ), "magnet", "info", "device", "{}")
    clickhouse.client.insert(f"{clickhouse.database}.device_events", [event, other], column_names=columns)

    async def state() -> tuple:
        journal = await services.events.journal(token, seeded.building_id, date(2026, 1, 12), date(2026, 1, 12))
        (group,) = journal.meters
        return (group.meter.serial, len(group.events), group.state.last_archive_at,
                [(r.channel, r.parameter, r.value) for r in group.state.readings])

    expected = ("223T0001", 2, newest, [(1, "Q", 200.5)])  # event 7 stored twice is one event
    assert await state() == expected
    # a month later the newest archive is outside the recent window: the whole history gives the same
    services.set_clock(lambda: datetime(2026, 2, 14, 12, tzinfo=UTC))
    assert await state() == expected
