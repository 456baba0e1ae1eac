"""An implausible counter increment is stored as received and reported by an event
(DESIGN.md section 5), once, through the real archive in chDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.ingest_rows import archive_rows
from cloud.seed import UserSeed, seed_company
from cloud.services.plausibility import PlausibilityCheck, judge
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch

START = datetime(2026, 1, 10, tzinfo=UTC)
# KARAT-Compact-2 heat: a DN 20 meter, 5 m3/h x 100 K x 1e-3 Gcal/(m3 K) x 1.25 margin = 0.625 Gcal per hour;
# its kcal register wraps at 2**32 kcal = 4294.967296 Gcal
LIMIT_PER_HOUR = 0.625
MODULUS = 4294.967296


def test_judge_by_hand() -> None:
    hour = START + timedelta(hours=1)
    assert judge("KARAT-Compact-2-223", "Q", START, 8.35, hour, 8.36) is None  # 0.01 <= 0.625
    assert judge("KARAT-Compact-2-223", "Q", START, 8.35, hour, 1082.0) == pytest.approx((1073.65, 0.625))
    # a record three hours after the previous one may rise by 3 x 0.625 = 1.875
    assert judge("KARAT-Compact-2-223", "Q", START, 8.0, START + timedelta(hours=3), 9.8) is None
    assert judge("KARAT-Compact-2-223", "Q", START, 8.0, START + timedelta(hours=3), 9.9) == pytest.approx((1.9, 1.875))
    # across the register's wrap: 4294.9 -> 0.02 is 4294.967296 - 4294.9 + 0.02 = 0.087296, plausible
    assert judge("KARAT-Compact-2-223", "Q", START, 4294.9, hour, 0.02) is None
    assert judge("KARAT-Unknown", "Q", START, 1.0, hour, 5000.0) is None  # no limit known: no verdict


@pytest.fixture
def registry(tmp_path: Path) -> tuple[Registry, int]:
    registry = Registry(tmp_path / "registry.db")
    company = seed_company(registry, "УК Тест", "Казань", (UserSeed("d", "Д", "dispatcher", "d-pass"),))
    with registry.connect() as db:
        building = db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
                              "VALUES (?, 'pl', 'ул. 1', 'Казань', 'UTC', 100, 3)", (company,)).lastrowid
        db.execute("INSERT INTO meters (company_id, building_id, serial, model, role, communicator, archives) "
                   "VALUES (?, ?, 'C1', 'KARAT-Compact-2-223', 'common', 'x', 'hour')", (company, building))
    return registry, company


async def test_a_bit_flip_jump_and_the_return_are_reported_once_each(clickhouse: ClickHouse, registry) -> None:
    reg, company = registry
    readings = [8.35, 8.36, 1082.0, 8.38, 8.39]  # hour 2 has a flipped bit: 1082 Gcal
    records = tuple(ArchiveRecord("C1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, int((START + timedelta(hours=h))
                                  .timestamp()), {"Q": q}) for h, q in enumerate(readings))
    clickhouse.insert_archive_sync(archive_rows(Batch("pl", 1, records), company), "pl:1")
    check = PlausibilityCheck(reg, clickhouse)
    found = await check.scan()
    # 8.36 -> 1082.0 rises by 1073.64; 1082.0 -> 8.38 went back: one wrap gives
    # 4294.967296 - 1082.0 + 8.38 = 3221.347296; both above 0.625 for one hour
    assert [(f.start, f.increase, f.limit) for f in found] == [
        (START + timedelta(hours=2), pytest.approx(1073.64), pytest.approx(LIMIT_PER_HOUR)),
        (START + timedelta(hours=3), pytest.approx(MODULUS - 1082.0 + 8.38), pytest.approx(LIMIT_PER_HOUR))]
    # the value is stored as the device sent it
    assert clickhouse.query_sync("SELECT value FROM {db}.archive FINAL WHERE period_start = {t:DateTime}",
                                 {"t": START + timedelta(hours=2)}) == [(1082.0,)]
    events = clickhouse.query_sync("SELECT company, meter, at, code, severity, source, detail "
                                   "FROM {db}.device_events FINAL ORDER BY at")
    assert [(e[0], e[1], e[2].replace(tzinfo=None), e[3], e[4], e[5]) for e in events] == [
        (company, "C1", datetime(2026, 1, 10, 2), "implausible_increment", "warning", "cloud"),
        (company, "C1", datetime(2026, 1, 10, 3), "implausible_increment", "warning", "cloud")]
    detail = json.loads(events[0][6])
    assert (detail["channel"], detail["parameter"], detail["previous"], detail["value"]) == (1, "Q", 8.36, 1082.0)

    # a second pass, and a fresh check after a restart, report nothing new and write no second row
    assert await check.scan() == []
    assert await PlausibilityCheck(reg, clickhouse).scan() != []  # a restart judges again ...
    assert clickhouse.query_sync("SELECT count() FROM {db}.device_events FINAL") == [(2,)]  # ... under the same ids

    # a later hour that continues plausibly from 8.39 adds nothing
    late = ArchiveRecord("C1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, int((START + timedelta(hours=5)).timestamp()),
                         {"Q": 8.40})
    clickhouse.insert_archive_sync(archive_rows(Batch("pl", 2, (late,)), company), "pl:2")
    assert await check.scan() == []
