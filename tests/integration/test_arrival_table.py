"""The manual's table of archive parameter values (4.2.3, ``ArrivalService.values``, API
``data_arrival_values``) over chDB with the seeded building (tests/cloud_data.py) plus rows of this
module: the parameter set of the building meter (ОДПУ: Q V1 V2 T1 T2) and of an apartment meter
(ИПУ: Q), the device's values as stored, null with the period's status where nothing came, the
messages of a period (device and edge events, the quality flags of its values); scope and roles."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_arrival
from cloud.api import install_error_handlers
from cloud.ingest import archive_rows
from cloud.services.container import Services
from cloud.services.models import InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, MeterRole, Nature, Quality, Resource
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data

TZ = zone(cloud_data.TZ)
DAY = date(2026, 1, 10)


def _utc(local: datetime) -> datetime:
    return local_to_utc(local, TZ)


def _epoch(local: datetime) -> int:
    return int(_utc(local).timestamp())


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path):
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    h0, h1 = datetime(2026, 1, 10, 0), datetime(2026, 1, 10, 1)
    records = (
        # the building meter's supply and return of 00:00 and 01:00; at 01:00 V1 was flagged by the
        # device and T1 read with the device clock off
        ArchiveRecord("307T0001", 1, ArchiveKind.HOUR, Nature.INTEGRAL, _epoch(h0),
                      {"V1": 1200.5, "V2": 1190.25, "T1": 70.4, "T2": 45.1}, received_at=_epoch(h0) + 60.0),
        ArchiveRecord("307T0001", 1, ArchiveKind.HOUR, Nature.INTEGRAL, _epoch(h1), {"V1": 1201.0},
                      quality=Quality.DEVICE_FLAGGED, received_at=_epoch(h1) + 60.0),
        ArchiveRecord("307T0001", 1, ArchiveKind.HOUR, Nature.INTEGRAL, _epoch(h1), {"T1": 70.2},
                      quality=Quality.CLOCK_SUSPECT, received_at=_epoch(h1) + 60.0),
    )
    clickhouse.insert_archive_sync(archive_rows(Batch("test", 2, records), seeded.company_id), "test:2")
    clickhouse.client.insert(
        f"{clickhouse.database}.device_events",
        [(seeded.company_id, "test", 1, "223T0001", _utc(datetime(2026, 1, 10, 5, 30)), "interference", "alarm",
          "device", '{"event_code": "0x0201"}'),
         (seeded.company_id, "test", 2, "223T0001", _utc(datetime(2026, 1, 10, 5, 40)), "clock_corrected", "warning",
          "edge", "{}")],
        column_names=("company", "site", "id", "meter", "at", "code", "severity", "source", "detail"))
    services = Services.create(registry, clickhouse)
    return services, registry, seeded


async def test_values_of_building_and_apartment_meters(world) -> None:
    services, _, seeded = world
    token = (await services.auth.login("disp", "disp-pass")).token
    table = await services.arrival.values(token, seeded.building_id, "hour", DAY, DAY, resource=Resource.HEAT,
                                          now=cloud_data.NOW)
    assert len(table.periods) == 24
    by = {m.meter.serial: m for m in table.meters}
    assert set(by) == {"307T0001", "223T0001", "223T0002"}
    # the parameter set depends on the meter type: the ОДПУ's heat input has five, the ИПУ's one
    building = by["307T0001"]
    assert [(c.key, c.unit, c.nature) for c in building.columns] == [
        ("1:Q", "Gcal", "integral"), ("1:V1", "m3", "integral"), ("1:V2", "m3", "integral"),
        ("1:T1", "degC", "integral"), ("1:T2", "degC", "integral")]
    assert [(c.key, c.unit) for c in by["223T0001"].columns] == [("1:Q", "Gcal")]
    # values as the device keeps them: the seeded reading of hour h is 100 + rate * (h + 1):
    # 307T0001 at 00:00: 100 + 0.035 * 1 = 100.035; at 01:00: 100 + 0.035 * 2 = 100.07
    first, second = building.rows[0], building.rows[1]
    assert (first.start, first.status) == (datetime(2026, 1, 10, 0), "received")
    assert first.values == {"1:Q": 100.035, "1:V1": 1200.5, "1:V2": 1190.25, "1:T1": 70.4, "1:T2": 45.1}
    assert second.values == {"1:Q": 100.07, "1:V1": 1201.0, "1:V2": None, "1:T1": 70.2, "1:T2": None}
    # 01:00 carries two quality flags: DEVICE_FLAGGED | CLOCK_SUSPECT = 1 | 2 = 3, each a message
    assert second.quality == 3
    assert [(m.source, m.code, m.severity, m.text) for m in second.messages] == [
        ("archive", "device_flagged", "warning", "Прибор отметил период (неисправность датчика, отключение питания)"),
        ("archive", "clock_suspect", "warning", "Часы прибора расходились с точным временем при чтении")]
    assert (first.quality, first.messages) == (0, ())
    assert building.messages == 2
    # 223T0001 at 10:00: 100 + 0.01 * 11 = 100.11; its 05:00 period holds the device's and the edge's events
    apt1 = {r.start: r for r in by["223T0001"].rows}
    assert apt1[datetime(2026, 1, 10, 10)].values == {"1:Q": 100.11}
    five = apt1[datetime(2026, 1, 10, 5)]
    assert [(m.at, m.source, m.severity, m.code, m.text) for m in five.messages] == [
        (datetime(2026, 1, 10, 5, 30), "device", "alarm", "interference", "Магнит у датчика"),
        (datetime(2026, 1, 10, 5, 40), "edge", "warning", "clock_corrected", "Часы прибора скорректированы")]
    assert five.messages[0].detail == '{"event_code": "0x0201"}'


async def test_null_with_the_status_that_says_why(world) -> None:
    services, _, seeded = world
    token = (await services.auth.login("reader", "reader-pass")).token  # readers may look
    day = date(2026, 1, 11)
    table = await services.arrival.values(token, seeded.building_id, "hour", day, day, resource=Resource.HEAT,
                                          role=MeterRole.INDIVIDUAL, now=cloud_data.NOW)
    assert {m.meter.serial for m in table.meters} == {"223T0001", "223T0002"}  # ИПУ only
    apt2 = {r.start: r for r in next(m for m in table.meters if m.meter.serial == "223T0002").rows}
    gap = apt2[cloud_data.MISSING[1]]  # 2026-01-11 23:00 never came: null, not zero
    assert (gap.status, gap.values) == ("missing", {"1:Q": None})
    # 22:00 of the 11th is hour 24 + 22 = 46: 100 + 0.02 * 47 = 100.94
    assert apt2[datetime(2026, 1, 11, 22)].values == {"1:Q": 100.94}
    # a day not closed yet at ``now`` is not due
    late = await services.arrival.values(token, seeded.building_id, "hour", date(2026, 1, 14), date(2026, 1, 14),
                                         resource=Resource.HEAT, now=cloud_data.NOW)
    assert {r.status for m in late.meters for r in m.rows[-3:]} == {"not_due"}


async def test_scope_and_roles(world) -> None:
    services, _, seeded = world
    admin = (await services.auth.login("admin", "admin-pass")).token
    stranger = (await services.auth.login("stranger", "x-pass")).token
    for token in (admin, stranger):
        with pytest.raises(NotFound):
            await services.arrival.values(token, seeded.building_id, "hour", DAY, DAY)
    disp = (await services.auth.login("disp", "disp-pass")).token
    with pytest.raises(InvalidInput, match="kind"):
        await services.arrival.values(disp, seeded.building_id, "week", DAY, DAY)
    with pytest.raises(NotFound):
        await services.arrival.values(disp, seeded.other_building_id, "hour", DAY, DAY)


async def test_api_data_arrival_values(world) -> None:
    services, registry, seeded = world
    tokens = await cloud_data.own_tokens(services, registry, ("disp", "stranger"))
    api = APIRouter(prefix="/api/v1", generate_unique_id_function=lambda route: route.name)
    api_arrival.routes(api, services)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(api)
    url = f"/api/v1/buildings/{seeded.building_id}/arrival/values"
    query = {"kind": "hour", "from": "2026-01-10", "to": "2026-01-10", "resource": "heat", "role": "common"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        got = await client.get(url, params=query, headers={"Authorization": f"Bearer {tokens['disp']}"})
        assert got.status_code == 200, got.text
        body = got.json()
        (meter,) = body["meters"]
        assert meter["meter"]["serial"] == "307T0001"
        assert [c["parameter"] for c in meter["columns"]] == ["Q", "V1", "V2", "T1", "T2"]
        assert meter["rows"][1]["values"]["1:V2"] is None  # missing: null, never zero
        assert [m["code"] for m in meter["rows"][1]["messages"]] == ["device_flagged", "clock_suspect"]
        other = await client.get(url, params=query, headers={"Authorization": f"Bearer {tokens['stranger']}"})
        assert other.status_code == 404
        bad = await client.get(url, params={**query, "kind": "week"},
                               headers={"Authorization": f"Bearer {tokens['disp']}"})
        assert bad.status_code == 422
    schema = app.openapi()
    assert schema["paths"]["/api/v1/buildings/{building_id}/arrival/values"]["get"]["operationId"] == (
        "data_arrival_values")
