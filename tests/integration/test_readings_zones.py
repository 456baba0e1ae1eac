"""Readings submitted through the service layer (the API's POST /meters/{id}/readings) take day
and month boundaries in the building's time zone, and a month on the meter's reporting day; they
are stored through the ingest's row builder under the user's company."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.services.models import InvalidInput
from cloud.services.readings import EXTERNAL, Reading
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

NOVOSIBIRSK = "Asia/Novosibirsk"  # UTC+7 all year


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> tuple[Services, int, int]:
    registry = Registry(tmp_path / "registry.db")
    company = seed_company(registry, "УК Сибирь", "Новосибирск", (UserSeed("nsk", "Н", "dispatcher", "nsk-pass"),))
    with registry.connect() as db:
        building = db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
                              "VALUES (?, 'nsk', 'ул. Ленина, 1', 'Новосибирск', ?, 1000, 40)",
                              (company, NOVOSIBIRSK)).lastrowid
        meter = db.execute("INSERT INTO meters (company_id, building_id, serial, model, role, communicator, archives, "
                           "reporting_day) VALUES (?, ?, 'NSK1', 'KARAT-307', 'common', 'x', 'day, month', 25)",
                           (company, building)).lastrowid
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) VALUES (?, 1, 'heat', 'Q')",
                   (meter,))
    return Services.create(registry, clickhouse), int(meter or 0), company


async def _submit(svc: Services, meter: int, kind: str, start: str, q: float):
    token = (await svc.auth.login("nsk", "nsk-pass")).token
    return await svc.readings.submit(token, meter, 1, kind, "integral",
                                     [Reading(datetime.fromisoformat(start), {"Q": q})])


async def test_a_day_starts_at_the_buildings_midnight_not_utcs(world, clickhouse: ClickHouse) -> None:
    svc, meter, company = world
    result = await _submit(svc, meter, "day", "2026-01-10T00:00+07:00", 12.5)
    assert result.stored_values == 1
    # local midnight of 10.01 in UTC+7 is 17:00 UTC of 09.01
    rows = clickhouse.query_sync("SELECT company, meter, kind, period_start, value, quality, batch_seq "
                                 "FROM {db}.archive FINAL")
    assert rows == [(company, "NSK1", "day", datetime(2026, 1, 9, 17), 12.5, EXTERNAL, 0)]
    with pytest.raises(InvalidInput, match=r"readings\[0\]\.period_start: a day archive starts at midnight in "
                                           r"the building's time zone Asia/Novosibirsk"):
        await _submit(svc, meter, "day", "2026-01-11T00:00+00:00", 13.0)  # 07:00 local


async def test_a_month_starts_on_the_meters_reporting_day(world, clickhouse: ClickHouse) -> None:
    svc, meter, _ = world
    assert (await _submit(svc, meter, "month", "2026-01-25T00:00+07:00", 40.0)).stored_values == 1
    with pytest.raises(InvalidInput, match=r"starts on its reporting day \(25\)"):
        await _submit(svc, meter, "month", "2026-02-01T00:00+07:00", 41.0)
    # the same period again is skipped, not overwritten: the stored value stands
    again = await _submit(svc, meter, "month", "2026-01-25T00:00+07:00", 99.0)
    assert (again.stored_values, len(again.skipped)) == (0, 1)
    assert clickhouse.query_sync("SELECT value FROM {db}.archive FINAL WHERE kind = 'month'") == [(40.0,)]
