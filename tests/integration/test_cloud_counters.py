"""A recorded meter replacement is bridged in the premise's consumption, through the service
layer over a real registry and chDB; recording it is refused to readers, scoped to the
company and audit-logged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cloud.ingest import archive_rows
from cloud.services import audit
from cloud.services.container import Services
from cloud.services.models import Forbidden, Granularity, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature, Resource
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data

SWAP_HOUR = 36  # local 2026-01-11 12:00: the first hour read from the new counter of apartment 1


@pytest.fixture
def services(clickhouse: ClickHouse, tmp_path: Path) -> tuple[Services, cloud_data.Seeded, Registry]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    tz = zone(cloud_data.TZ)
    records = []
    for h in range(SWAP_HOUR, cloud_data.HOURS):  # the new meter starts at 0.2 Gcal
        start = int(local_to_utc(cloud_data.START_LOCAL + timedelta(hours=h), tz).timestamp())
        records.append(ArchiveRecord("223T0001", 1, ArchiveKind.HOUR, Nature.INTEGRAL, start,
                                     {"Q": round(0.2 + 0.01 * (h - SWAP_HOUR + 1), 6)}, version=1))
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 2, tuple(records)), seeded.company_id), "test:2")
    return Services.create(registry, clickhouse), seeded, registry


async def _premise_day(svc: Services, token: str, premise_id: int, day: int) -> float | None:
    result = await svc.accounting.premise_consumption(token, premise_id, Resource.HEAT, Granularity.DAY,
                                                      date(2026, 1, 1))
    return {p.day: v for p, v in result.points}[day]


async def test_recorded_replacement_is_bridged(services) -> None:
    svc, seeded, registry = services
    token = (await svc.auth.login("disp", "disp-pass")).token
    premise = next(p for p in await svc.accounting.premises(token, seeded.building_id) if p.number == "1")
    meter = next(m for m in await svc.accounting.meters(token, seeded.building_id) if m.serial == "223T0001")
    assert await _premise_day(svc, token, premise.id, 11) is None  # 100.24 -> 0.32: not a value
    first = local_to_utc(cloud_data.START_LOCAL + timedelta(hours=SWAP_HOUR), zone(cloud_data.TZ))

    reader = (await svc.auth.login("reader", "reader-pass")).token
    with pytest.raises(Forbidden):
        await svc.counters.record_break(reader, meter.id, 1, "Q", first, 100.36, 0.2)
    stranger = (await svc.auth.login("stranger", "x-pass")).token
    with pytest.raises(NotFound):
        await svc.counters.record_break(stranger, meter.id, 1, "Q", first, 100.36, 0.2)

    await svc.counters.record_break(token, meter.id, 1, "Q", first, 100.36, 0.2)
    # (100.36 - 100.24) from the old counter + (0.32 - 0.2) from the new one
    assert await _premise_day(svc, token, premise.id, 11) == pytest.approx(0.24)
    assert await _premise_day(svc, token, premise.id, 12) == pytest.approx(0.24)  # wholly the new counter
    with registry.connect() as db:
        logged = audit.entries(db, (await svc.auth.user(token)).company_id)
    assert logged[0].action == "counter.replacement"
    assert logged[0].user_login == "disp"
    after = dict(logged[0].after or {})
    assert datetime.fromisoformat(after.pop("first_period")) == first
    assert after == {"channel": 1, "parameter": "Q", "final": 100.36, "initial": 0.2}


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"first_period": datetime(2026, 1, 11, 9)}, "time zone"),
    ({"first_period": datetime(2026, 1, 11, 9, 30, tzinfo=UTC)}, "start of an hour"),
    ({"parameter": "T1"}, "not a counter"),
    ({"parameter": "V"}, "channel 1 has no V"),
    ({"final": -1.0}, "final"),
    ({"initial": float("nan")}, "initial"),
    ({"kind": "swap"}, "kind"),
])
async def test_bad_break_records_are_refused(services, kwargs: dict, fragment: str) -> None:
    svc, seeded, registry = services
    token = (await svc.auth.login("disp", "disp-pass")).token
    meter = next(m for m in await svc.accounting.meters(token, seeded.building_id) if m.serial == "223T0001")
    args = {"meter_id": meter.id, "channel": 1, "parameter": "Q", "first_period": datetime(2026, 1, 11, 9, tzinfo=UTC),
            "final": 100.36, "initial": 0.2, "kind": "replacement"} | kwargs
    with pytest.raises(InvalidInput, match=fragment):
        await svc.counters.record_break(token, **args)
    assert registry.one("SELECT count(*) AS n FROM counter_breaks")["n"] == 0


async def test_a_second_break_for_the_same_period_is_refused(services) -> None:
    svc, seeded, _ = services
    token = (await svc.auth.login("disp", "disp-pass")).token
    meter = next(m for m in await svc.accounting.meters(token, seeded.building_id) if m.serial == "223T0001")
    first = datetime(2026, 1, 11, 9, tzinfo=UTC)
    await svc.counters.record_break(token, meter.id, 1, "Q", first, 100.36, 0.2)
    with pytest.raises(InvalidInput, match="already recorded"):
        await svc.counters.record_break(token, meter.id, 1, "Q", first, 100.36, 0.2, kind="reset")
