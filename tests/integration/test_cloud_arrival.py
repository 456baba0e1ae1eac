"""Data-arrival control (manual 4.2.3) over chDB with rows in the real archive and lost_periods
tables: every period of a meter is received, partial, missing, lost or not due yet; completeness
per meter and per building; a backfill request for exactly the gaps the edge has not declared
lost; company scope and roles as everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cloud.seed import UserSeed, seed_company
from cloud.services.arrival import ArrivalService, period_range
from cloud.services.auth import AuthService
from cloud.services.commands import CommandService
from cloud.services.container import Services
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, MeterRole, Resource
from tests import cloud_data
from tests.support_api import shared_app

TZ = zone(cloud_data.TZ)
FIRST, LAST = date(2026, 1, 10), date(2026, 1, 13)  # 96 hours; archives exist for the first 72
LOST = [datetime(2026, 1, 13, h) for h in range(3)]  # 223T0001's first three hours of Jan 13, reported lost


def _utc(local: datetime) -> datetime:
    return local_to_utc(local, TZ)


@pytest.fixture
def svc(clickhouse: ClickHouse, tmp_path: Path):
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    clickhouse.client.insert(
        f"{clickhouse.database}.lost_periods",
        [(seeded.company_id, "test", "223T0001", "hour", _utc(h), "older than the archive depth", datetime.now(UTC))
         for h in LOST],
        column_names=("company", "site", "meter", "kind", "period_start", "reason", "reported_at"))
    clickhouse.client.insert(
        f"{clickhouse.database}.device_events",
        [(seeded.company_id, "test", 1, "223T0001", _utc(datetime(2026, 1, 10, 5, 30)), "magnet", "alarm", "device",
          "{}"),
         (seeded.company_id, "test", 2, "223T0001", _utc(datetime(2026, 1, 10, 5, 40)), "clock_corrected", "warning",
          "edge", "{}")],
        column_names=("company", "site", "id", "meter", "at", "code", "severity", "source", "detail"))
    auth = AuthService(registry)
    commands = CommandService(registry, auth, clock=lambda: cloud_data.NOW)
    return ArrivalService(registry, clickhouse, auth, commands), commands, auth, seeded


async def test_statuses_and_completeness(svc) -> None:
    arrival, _, auth, seeded = svc
    token = (await auth.login("disp", "disp-pass")).token
    report = await arrival.report(token, seeded.building_id, "hour", FIRST, LAST, resource=Resource.HEAT)
    assert len(report.periods) == 96
    assert report.periods[0] == datetime(2026, 1, 10)
    rows = {r.meter.serial: r for r in report.meters}
    assert {s: (r.due, r.received, r.missing, r.lost, r.partial, r.completeness_pct) for s, r in rows.items()} == {
        "307T0001": (96, 72, 24, 0, 0, 75.0),
        "223T0001": (96, 72, 21, 3, 0, 75.0),
        "223T0002": (96, 71, 25, 0, 0, 74.0),  # 71/96 = 73.96 %
    }
    assert (report.due, report.received, report.completeness_pct) == (288, 215, 74.7)
    apt2 = {p.start: p.status for p in rows["223T0002"].periods}
    assert apt2[cloud_data.MISSING[1]] == "missing"
    assert apt2[datetime(2026, 1, 11, 22)] == "received"
    lost = [p for p in rows["223T0001"].periods if p.status == "lost"]
    assert [p.start for p in lost] == LOST
    assert lost[0].reason == "older than the archive depth"
    assert rows["223T0001"].gaps[0] == datetime(2026, 1, 13, 3)  # a lost period is no gap to fill
    marked = {p.start: p.events for p in rows["223T0001"].periods if p.events}
    assert marked == {datetime(2026, 1, 10, 5): (("alarm", "magnet"),)}  # the device's message, not the edge's

    # the building meter has three channels and only the heat one has archives: partial without a resource
    every = await arrival.report(token, seeded.building_id, "hour", FIRST, FIRST)
    building_meter = next(r for r in every.meters if r.meter.serial == "307T0001")
    assert (building_meter.channels, building_meter.partial, building_meter.received) == ((1, 2, 3), 24, 0)

    # periods that have not closed are not due; filters by meter type; a kind no meter keeps
    now = _utc(datetime(2026, 1, 13, 12, 30))
    midday = await arrival.report(token, seeded.building_id, "hour", FIRST, LAST, resource=Resource.HEAT,
                                  role=MeterRole.COMMON, now=now)
    (only,) = midday.meters
    assert (only.meter.serial, only.due, only.missing) == ("307T0001", 84, 12)
    assert [p.status for p in only.periods[-12:]] == ["not_due"] * 12
    daily = await arrival.report(token, seeded.building_id, "day", FIRST, LAST)
    assert daily.meters == ()
    assert daily.completeness_pct is None


async def test_backfill_request_covers_the_gaps(svc) -> None:
    arrival, commands, auth, seeded = svc
    token = (await auth.login("disp", "disp-pass")).token
    issued = await arrival.request_backfill(token, seeded.building_id, "hour", FIRST, LAST, resource=Resource.HEAT)
    by_meter = {c.args["meter"]: c for c in issued}
    assert set(by_meter) == {"307T0001", "223T0001", "223T0002"}
    ts = lambda local: int(_utc(local).timestamp())  # noqa: E731
    assert (by_meter["223T0001"].args["from"], by_meter["223T0001"].args["to"]) == (
        ts(datetime(2026, 1, 13, 3)), ts(datetime(2026, 1, 13, 23)))
    assert (by_meter["223T0002"].args["from"], by_meter["223T0002"].args["to"]) == (
        ts(datetime(2026, 1, 11, 23)), ts(datetime(2026, 1, 13, 23)))
    assert all(c.type == "backfill" and c.args["kind"] == "hour" and c.state == "created" for c in issued)
    assert {c.id for c in await commands.list(token, kind="backfill")} == {c.id for c in issued}
    # only the meters asked for; none when the range has no gaps
    one = await arrival.request_backfill(token, seeded.building_id, "hour", FIRST, LAST, resource=Resource.HEAT,
                                         meter_ids={by_meter["223T0002"].meter_id or 0})
    assert [c.args["meter"] for c in one] == ["223T0002"]
    assert await arrival.request_backfill(token, seeded.building_id, "hour", FIRST, FIRST + timedelta(days=1),
                                          resource=Resource.HEAT, role=MeterRole.COMMON) == []


async def test_scope_and_roles(svc) -> None:
    arrival, _, auth, seeded = svc
    reader = (await auth.login("reader", "reader-pass")).token
    admin = (await auth.login("admin", "admin-pass")).token
    stranger = (await auth.login("stranger", "x-pass")).token
    assert (await arrival.report(reader, seeded.building_id, "hour", FIRST, FIRST)).meters  # readers may look
    with pytest.raises(Forbidden):
        await arrival.request_backfill(reader, seeded.building_id, "hour", FIRST, LAST)
    for token in (admin, stranger):
        with pytest.raises(NotFound):
            await arrival.report(token, seeded.building_id, "hour", FIRST, FIRST)
        with pytest.raises(NotFound):
            await arrival.request_backfill(token, seeded.building_id, "hour", FIRST, FIRST)
    with pytest.raises(InvalidInput, match="kind"):
        await arrival.report(reader, seeded.building_id, "week", FIRST, FIRST)
    with pytest.raises(InvalidInput, match="before"):
        await arrival.report(reader, seeded.building_id, "hour", LAST, FIRST)


def test_period_range() -> None:
    assert period_range(ArchiveKind.MONTH, date(2026, 1, 15), date(2026, 4, 1)) == [
        datetime(2026, 2, 1), datetime(2026, 3, 1), datetime(2026, 4, 1)]
    assert len(period_range(ArchiveKind.DAY, date(2026, 2, 1), date(2026, 2, 28))) == 28
    with pytest.raises(InvalidInput, match="at most"):
        period_range(ArchiveKind.HOUR, date(2026, 1, 1), date(2026, 12, 31))


async def test_api_routes(clickhouse: ClickHouse, tmp_path: Path) -> None:
    """POST a command, GET its state and the company's list, GET the arrival summary: token
    authentication, the reader refused, another company's token gets 404."""
    registry = Registry(tmp_path / "api-registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Чужая", "Казань", (UserSeed("b-admin", "Админ Б", "administrator", "b-pass"),))
    services = Services.create(registry, clickhouse)
    services.commands.clock = lambda: cloud_data.NOW
    tokens = await cloud_data.own_tokens(services, registry, ("disp", "reader", "stranger"))
    meter = registry.one("SELECT id FROM meters WHERE serial = '223T0002'")["id"]
    app = shared_app(services, clickhouse)
    auth = {login: {"Authorization": f"Bearer {token}"} for login, token in tokens.items()}
    body = {"type": "backfill", "meter_id": meter, "args": {"kind": "hour", "from": 1_767_999_600,
                                                             "to": 1_768_003_200}}  # 2026-01-09 23:00, 24:00 UTC
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        created = await client.post("/api/v1/commands", json=body, headers=auth["disp"])
        assert created.status_code == 201, created.text
        command = created.json()
        assert (command["state"], command["args"]["meter"], command["created_by"]) == ("created", "223T0002", "disp")
        got = await client.get(f"/api/v1/commands/{command['id']}", headers=auth["reader"])
        assert got.json()["id"] == command["id"]
        listed = await client.get("/api/v1/commands", params={"meter_id": meter, "state": "created"},
                                  headers=auth["reader"])
        assert [c["id"] for c in listed.json()] == [command["id"]]
        refused = await client.post("/api/v1/commands", json=body, headers=auth["reader"])
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        bad = await client.post("/api/v1/commands", json={**body, "args": {"kind": "hour"}}, headers=auth["disp"])
        assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
        assert "args.from" in bad.json()["message"]
        for path in (f"/api/v1/commands/{command['id']}",
                     f"/api/v1/buildings/{seeded.building_id}/arrival?kind=hour&from=2026-01-10&to=2026-01-10"):
            assert (await client.get(path, headers=auth["stranger"])).status_code == 404
        assert (await client.post("/api/v1/commands", json=body, headers=auth["stranger"])).status_code == 404
        assert (await client.get("/api/v1/commands", headers=auth["stranger"])).json() == []
        summary = await client.get(f"/api/v1/buildings/{seeded.building_id}/arrival", headers=auth["reader"],
                                   params={"kind": "hour", "from": "2026-01-11", "to": "2026-01-11",
                                           "resource": "heat", "detail": "true"})
        assert summary.status_code == 200, summary.text
        data = summary.json()
        assert (data["periods"], data["due"], data["received"]) == (24, 72, 71)
        apt2 = next(m for m in data["meters"] if m["serial"] == "223T0002")
        assert (apt2["missing"], apt2["periods"]["2026-01-11T23:00:00"]) == (1, "missing")
        assert (await client.get(f"/api/v1/buildings/{seeded.building_id}/arrival",
                                 params={"kind": "hour", "from": "2026-01-11", "to": "2026-01-11"})).status_code == 401


async def test_a_meter_is_expected_only_inside_its_service_period(svc, tmp_path: Path) -> None:
    """Hours before commissioning and after decommissioning are not missing (manual 4.2.3 with
    DESIGN.md section 5); a meter with no recorded commissioning is expected from its first archive."""
    arrival, _, auth, seeded = svc
    registry = arrival.accounting.registry
    with registry.connect() as db:
        # apartment 1's meter was commissioned at 12:00 local on 10.01 (09:00 UTC, Moscow is UTC+3) ...
        db.execute("UPDATE meters SET commissioned_at = '2026-01-10T09:00:00+00:00' WHERE serial = '223T0001'")
        # ... and apartment 2's taken out of service at 00:00 local on 12.01
        db.execute("UPDATE meters SET decommissioned_at = '2026-01-11T21:00:00+00:00' WHERE serial = '223T0002'")
    token = (await auth.login("disp", "disp-pass")).token
    report = await arrival.report(token, seeded.building_id, "hour", date(2026, 1, 9), LAST, resource=Resource.HEAT)
    rows = {r.meter.serial: r for r in report.meters}
    statuses = {s: {p.start: p.status for p in r.periods} for s, r in rows.items()}
    # 307T0001 has no commissioning date: expected from its first archive, 10.01 00:00 local
    assert {statuses["307T0001"][datetime(2026, 1, 9, h)] for h in range(24)} == {"not_expected"}
    # 120 hours from 09.01 to 13.01; 24 of them before its first archive; 72 received, 24 missing on 13.01
    assert (rows["307T0001"].due, rows["307T0001"].received, rows["307T0001"].missing) == (96, 72, 24)
    # 223T0001: expected from 10.01 12:00; 09.01 and 10.01 00:00-11:00 (36 hours) not expected;
    # due 120 - 36 = 84: received 72 - 12 = 60, lost 3 (13.01 00-02), missing 21 (13.01 03-23)
    assert statuses["223T0001"][datetime(2026, 1, 10, 11)] == "not_expected"
    assert statuses["223T0001"][datetime(2026, 1, 10, 12)] == "received"
    assert (rows["223T0001"].due, rows["223T0001"].received, rows["223T0001"].lost,
            rows["223T0001"].missing) == (84, 60, 3, 21)
    # 223T0002 out of service from 12.01 00:00: its 48 hours after that are not expected, not missing;
    # due 120 - 24 (09.01, before its first archive) - 48 = 48: received 47, missing 1 (11.01 23:00)
    assert statuses["223T0002"][datetime(2026, 1, 12, 0)] == "not_expected"
    assert (rows["223T0002"].due, rows["223T0002"].received, rows["223T0002"].missing) == (48, 47, 1)
    # a decommissioned meter stays in the report for the periods it served, and leaves it after
    later = await arrival.report(token, seeded.building_id, "hour", date(2026, 1, 12), LAST, resource=Resource.HEAT)
    assert "223T0002" not in {r.meter.serial for r in later.meters}
