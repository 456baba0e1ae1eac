"""Serials are unique only within a company (DESIGN.md section 5): every stored series is keyed by
(company, serial), through the real ingest into chDB, and the migration that introduced the key
gives rows stored before it their company from the registry's sites."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import nats as nats_client

from cloud.ingest import Ingest
from cloud.seed import UserSeed, seed_company
from cloud.services.auth import AuthService
from cloud.services.container import Services
from cloud.storage import schema
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, DeviceEvent, LostPeriod, encode_batch

HOUR = int(datetime(2026, 1, 10, 5, tzinfo=UTC).timestamp())
SERIAL = "SAME0001"


def _company(registry: Registry, name: str, site: str, login: str) -> int:
    company = seed_company(registry, name, "Казань", (UserSeed(login, login, "dispatcher", f"{login}-pass"),))
    with registry.connect() as db:
        building = db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
                              "VALUES (?, ?, ?, 'Казань', 'UTC', 100, 3)", (company, site, f"ул. {name}, 1")).lastrowid
        meter = db.execute("INSERT INTO meters (company_id, building_id, serial, model, role, communicator, archives) "
                           "VALUES (?, ?, ?, 'KARAT-307', 'common', 'x', 'hour, integral')",
                           (company, building, SERIAL)).lastrowid
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) VALUES (?, 1, 'heat', 'Q')",
                   (meter,))
    return company


def _batch(site: str, q: float) -> Batch:
    record = ArchiveRecord(SERIAL, 1, ArchiveKind.HOUR, Nature.INTEGRAL, HOUR, {"Q": q}, received_at=HOUR + 60.0)
    event = DeviceEvent(1, SERIAL, HOUR + 1800.0, "magnet", "alarm", "device")
    lost = LostPeriod(SERIAL, ArchiveKind.HOUR, HOUR - 3600, "older than the archive depth", HOUR + 60.0)
    return Batch(site, 1, (record,), HOUR + 60.0, events=(event,), lost=(lost,))


async def _until(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_two_companies_with_the_same_serial_are_stored_apart_and_see_only_their_own(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    first = _company(registry, "УК Первая", "first", "one")
    second = _company(registry, "УК Вторая", "second", "two")
    assert registry.company_by_site() == {"first": first, "second": second}
    ingest = Ingest(nats.url, clickhouse, known_meters=registry.meter_serials_by_site,
                    companies=registry.company_by_site, refresh_s=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    nc = await nats_client.connect(nats.url)
    try:
        js = nc.jetstream()

        async def streams() -> bool:
            try:
                await js.stream_info(subjects.STREAM_UP)
                return True
            except nats_client.js.errors.NotFoundError:
                return False
        await _until(streams, "streams created by the ingest")
        for batch in (_batch("first", 100.5), _batch("second", 7.25)):
            await js.publish(subjects.archive_subject(batch.site), encode_batch(batch),
                             headers={"Nats-Msg-Id": batch.msg_id})

        async def both() -> bool:
            return (await clickhouse.query("SELECT count() FROM {db}.sync_batches"))[0][0] >= 2
        await _until(both, "both batches stored")
    finally:
        stop.set()
        await task
        await nc.close()
    rows = await clickhouse.query("SELECT company, meter, value FROM {db}.archive FINAL ORDER BY company")
    assert rows == [(first, SERIAL, 100.5), (second, SERIAL, 7.25)]
    for table in ("device_events", "lost_periods"):
        assert await clickhouse.query(f"SELECT company, meter FROM {{db}}.{table} FINAL ORDER BY company") == [  # noqa: S608
            (first, SERIAL), (second, SERIAL)], table

    # through the service layer, each company's dispatcher sees its own meter's value and events only
    services = Services.create(registry, clickhouse)
    auth = AuthService(registry)
    for login, value in (("one", 100.5), ("two", 7.25)):
        token = (await auth.login(login, f"{login}-pass")).token
        building = (await services.accounting.buildings(token))[0]
        meter = (await services.accounting.meters(token, building.id))[0]
        table = await services.accounting.meter_archive(token, meter.id, 1, "hour", date(2026, 1, 10))
        got = {row.period: row.values["Q"] for row in table.rows if row.values["Q"] is not None}
        assert got == {datetime(2026, 1, 10, 5): value}, login
        report = await services.arrival.report(token, building.id, "hour", date(2026, 1, 10), date(2026, 1, 10),
                                               now=datetime(2026, 1, 11, tzinfo=UTC))
        statuses = {p.start.hour: p.status for p in report.meters[0].periods}
        assert statuses[5] == "received"
        assert statuses[4] == "lost"
        assert [e for p in report.meters[0].periods for e in p.events] == [("alarm", "magnet")]


def _old_schema(ch: ClickHouse, db: str) -> None:
    """The database as migrations 1-8 left it, before the tenant-safe key."""
    for statement in schema.bootstrap(db):
        ch.client.command(statement)
    for version, step in schema.MIGRATIONS:
        if version > 8:
            break
        for statement in schema.ddl(step, db):
            ch.client.command(statement)
        ch.client.command(f"INSERT INTO {db}.schema_migrations (version) VALUES ({version})")  # noqa: S608


def test_the_migration_keys_rows_stored_before_it_by_their_sites_company(clickhouse: ClickHouse) -> None:
    db = f"m_{uuid.uuid4().hex[:12]}"
    _old_schema(clickhouse, db)
    at = datetime(2026, 1, 10, 5, tzinfo=UTC)
    clickhouse.client.insert(f"{db}.archive", [
        ("a", SERIAL, 1, "hour", "integral", "Q", at, 100.000123, 0, 0, at, "a:41"),
        ("b", SERIAL, 2, "hour", "integral", "V", at, 7.25, 0, 0, at, "b:3|replay:abc"),  # the old key had no company
        ("gone", "X1", 1, "hour", "integral", "Q", at, 1.0, 0, 0, at, "api:disp:0f0f"),
    ], column_names=("site", "meter", "channel", "kind", "nature", "parameter", "period_start", "value", "quality",
                     "version", "received_at", "batch"))
    clickhouse.client.insert(f"{db}.device_events", [("a", 1, SERIAL, at, "magnet", "alarm", "device", "{}")],
                             column_names=("site", "id", "meter", "at", "code", "severity", "source", "detail"))
    clickhouse.client.insert(f"{db}.lost_periods", [("b", SERIAL, "hour", at, "depth", at)],
                             column_names=("site", "meter", "kind", "period_start", "reason", "reported_at"))
    migrated = ClickHouse(clickhouse.dsn, database=db)
    try:
        migrated.open_sync({"a": 5, "b": 9})
        rows = migrated.query_sync("SELECT company, site, meter, value, batch_seq FROM {db}.archive ORDER BY site")
        # the value exactly as stored (six decimals), the batch as its seq, an unknown site under company 0
        assert rows == [(5, "a", SERIAL, 100.000123, 41), (9, "b", SERIAL, 7.25, 3), (0, "gone", "X1", 1.0, 0)]
        assert migrated.query_sync("SELECT company, code FROM {db}.device_events") == [(5, "magnet")]
        assert migrated.query_sync("SELECT company, reason FROM {db}.lost_periods") == [(9, "depth")]
        assert migrated.query_sync("SELECT count() FROM system.tables WHERE database = {d:String} "
                                   "AND name LIKE '%_next'", {"d": db}) == [(0,)]
        versions = [v for (v,) in migrated.query_sync("SELECT version FROM {db}.schema_migrations ORDER BY version")]
        assert versions == [v for v, _ in schema.MIGRATIONS]
    finally:
        migrated.client.command(f"DROP DATABASE IF EXISTS {db} SYNC")
        migrated.close_sync()


def test_an_interval_row_never_replaces_the_integral_row_of_the_same_period(clickhouse: ClickHouse) -> None:
    from cloud.ingest_rows import archive_rows
    integral = ArchiveRecord(SERIAL, 1, ArchiveKind.HOUR, Nature.INTEGRAL, HOUR, {"Q": 12.5})
    interval = ArchiveRecord(SERIAL, 1, ArchiveKind.HOUR, Nature.INTERVAL, HOUR, {"Q": 0.05}, version=3)
    clickhouse.insert_archive_sync(archive_rows(Batch("s", 1, (integral, interval)), 1), "s:1")
    rows = clickhouse.query_sync("SELECT nature, value FROM {db}.archive FINAL ORDER BY nature")
    assert rows == [("integral", 12.5), ("interval", 0.05)]
