"""Deviation monitoring (manual 4.2.1) and its rules (4.6.7) over chDB and the registry: the mean of
the three previous days and a constant, percent and absolute, above/below/both, a missing value, a
mean that cannot be computed, only building meters in service, off by default; roles, company
scope, bad input and the audit; the three /api/v1 routes.

Numbers: tests/support_deviations.py gives 307T0001 0.035 Gcal every hour and 0.050 in the hour
2026-01-14 14:00 Moscow (the last closed hour at cloud_data.NOW), T1 = 80 °C in that hour.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_deviations
from cloud.api import ERRORS, install_error_handlers
from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.services.deviations import DeviationsReport
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import Resource
from tests import cloud_data, support_deviations

HEAT = Resource.HEAT
HOUR = support_deviations.LAST_HOUR


@pytest.fixture
def env(clickhouse: ClickHouse, tmp_path: Path):
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_company(registry, "УК Тест", "Казань", (UserSeed("eng", "Инженер", "engineer", "eng-pass"),))
    support_deviations.extend(clickhouse, seeded.company_id)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    return services, registry, seeded


async def _token(services: Services, login: str) -> str:
    return (await services.auth.login(login, cloud_data.PASSWORDS[login])).token


def _meters(report: DeviationsReport) -> dict[str, object]:
    (building,) = report.buildings
    return {m.meter.serial: m for m in building.meters}


async def test_off_by_default_and_the_parameters_of_the_building_meters(env) -> None:
    services, _, seeded = env
    token = await _token(services, "disp")
    rules = await services.deviations.rules(token, seeded.building_id)
    # KARAT-307: heat Q, V1, V2, T1, T2; hot water V; cold water V - none configured, all off
    assert [(r.resource.value, r.parameter) for r in rules] == [
        ("heat", "Q"), ("heat", "V1"), ("heat", "V2"), ("heat", "T1"), ("heat", "T2"), ("hot_water", "V"),
        ("cold_water", "V")]
    assert not any(r.enabled or r.configured for r in rules)
    report = await services.deviations.deviations(token, building_ids=[seeded.building_id])
    (building,) = report.buildings
    assert (building.first, building.last, building.rules) == (HOUR, HOUR, ())
    assert [(m.meter.serial, m.checked, m.violations, m.notes) for m in building.meters] == [("307T0001", 0, (), ())]


async def test_mean_of_three_days_percent_and_absolute_each_direction(env) -> None:
    services, registry, seeded = env
    token = await _token(services, "disp")
    dev = services.deviations
    # value 0.050; mean of the 72 hours of Jan 11..13 = 0.035; deviation 0.015 = 42.86 % of 0.035
    cases = [  # (direction, tolerance, unit, violated): allowed 40 % = 0.014, 50 % = 0.0175
        ("both", 40, "percent", True), ("both", 50, "percent", False), ("above", 40, "percent", True),
        ("below", 40, "percent", False), ("both", 0.01, "absolute", True),
        ("both", 0.015, "absolute", False),  # exactly at the limit: allowed
        ("below", 0.01, "absolute", False)]
    for direction, tolerance, unit, violated in cases:
        rule = await dev.set_rule(token, seeded.building_id, HEAT, "Q", enabled=True, rule="mean3d",
                                  direction=direction, tolerance=tolerance, tolerance_unit=unit)
        assert (rule.enabled, rule.configured, rule.updated_by) == (True, True, "disp")
        meter = _meters(await dev.deviations(token, building_ids=[seeded.building_id]))["307T0001"]
        assert meter.checked == 1, (direction, tolerance, unit)
        assert bool(meter.violations) is violated, (direction, tolerance, unit)
    await dev.set_rule(token, seeded.building_id, HEAT, "Q", enabled=True, direction="both", tolerance=40)
    (tile,) = _meters(await dev.deviations(token))["307T0001"].violations
    assert (tile.period, tile.parameter, tile.channel, tile.unit, tile.status) == (HOUR, "Q", 1, "Gcal", "violation")
    assert (tile.value, tile.reference, tile.deviation, tile.deviation_pct, tile.allowed) == (
        0.05, 0.035, 0.015, 42.86, 0.014)
    assert (tile.mean_needed, tile.mean_known) == (72, 72)
    # the whole day: hours 00..13 pass, 14 is the violation, 15..23 have not closed at 15:00
    meter = _meters(await dev.deviations(token, datetime(2026, 1, 14), datetime(2026, 1, 14, 23)))["307T0001"]
    assert (meter.checked, [v.period for v in meter.violations]) == (15, [HOUR])
    # the change is audited with before and after
    last = registry.one("SELECT action, object, before, after FROM audit_log ORDER BY id DESC LIMIT 1")
    assert (last["action"], last["object"]) == ("deviation_rule.set", f"building:{seeded.building_id}:heat:Q")
    assert '"tolerance": 40' in last["after"]
    assert '"tolerance_unit": "absolute"' in last["before"]


async def test_constant_rule_and_missing_values(env) -> None:
    services, _, seeded = env
    token = await _token(services, "disp")
    dev = services.deviations
    await dev.set_rule(token, seeded.building_id, HEAT, "T1", enabled=True, rule="constant", reference=70,
                       tolerance=5, tolerance_unit="absolute")
    await dev.set_rule(token, seeded.building_id, HEAT, "V1", enabled=True, tolerance=10)  # no V1 stored
    meter = _meters(await dev.deviations(token))["307T0001"]
    (tile,) = meter.violations  # 80 - 70 = 10 > 5 °C; 10 / 70 = 14.29 %
    assert (tile.parameter, tile.value, tile.reference, tile.deviation, tile.deviation_pct, tile.allowed) == (
        "T1", 80.0, 70.0, 10.0, 14.29, 5.0)
    (note,) = meter.notes  # a missing value is no violation: "нет данных"
    assert (note.parameter, note.status, note.value) == ("V1", "no_data", None)
    await dev.set_rule(token, seeded.building_id, HEAT, "T1", enabled=True, rule="constant", reference=70,
                       direction="below", tolerance=5, tolerance_unit="absolute")
    assert _meters(await dev.deviations(token))["307T0001"].violations == ()
    # percent of a constant: 12.5 % of 70 = 8.75 < 10
    await dev.set_rule(token, seeded.building_id, HEAT, "T1", enabled=True, rule="constant", reference=70,
                       tolerance=12.5)
    (tile,) = _meters(await dev.deviations(token))["307T0001"].violations
    assert tile.allowed == 8.75
    # switched off again: nothing is checked
    await dev.set_rule(token, seeded.building_id, HEAT, "T1", enabled=False, rule="constant", reference=70,
                       tolerance=12.5)
    await dev.set_rule(token, seeded.building_id, HEAT, "V1", enabled=False, tolerance=10)
    assert _meters(await dev.deviations(token))["307T0001"].checked == 0


async def test_mean_that_cannot_be_computed(env, clickhouse: ClickHouse) -> None:
    services, _, seeded = env
    token = await _token(services, "disp")
    dev = services.deviations
    await dev.set_rule(token, seeded.building_id, HEAT, "Q", enabled=True, tolerance=10)
    at = datetime(2026, 1, 13, 10)
    # the mean of Jan 10..12: the hour Jan 10 00:00 has no opening reading, so 71 of the 72 values
    meter = _meters(await dev.deviations(token, at, at))["307T0001"]
    (note,) = meter.notes
    assert (note.status, note.value, note.reference, note.mean_needed, note.mean_known) == (
        "no_mean", 0.035, None, 72, 71)
    assert meter.violations == ()
    support_deviations.extend(clickhouse, seeded.company_id, with_opening=True)
    meter = _meters(await dev.deviations(token, at, at))["307T0001"]
    assert (meter.checked, meter.violations, meter.notes) == (1, (), ())


async def test_daily_values(env, clickhouse: ClickHouse) -> None:
    services, _, seeded = env
    support_deviations.extend(clickhouse, seeded.company_id, with_opening=True)
    token = await _token(services, "disp")
    dev = services.deviations
    # the meter keeps hourly archives only: the day Jan 13 is 24 x 0.035 = 0.84 Gcal, built from the hours
    await dev.set_rule(token, seeded.building_id, HEAT, "Q", enabled=True, rule="constant", reference=0.5,
                       direction="above", tolerance=0.1, tolerance_unit="absolute")
    report = await dev.deviations(token, kind="day")  # yesterday, Jan 13
    (tile,) = _meters(report)["307T0001"].violations
    assert (tile.period, tile.value, tile.deviation, tile.derived) == (datetime(2026, 1, 13), 0.84, 0.34, True)
    # against the mean of Jan 10, 11, 12 (0.84 each): no deviation at all
    await dev.set_rule(token, seeded.building_id, HEAT, "Q", enabled=True, tolerance=1)
    meter = _meters(await dev.deviations(token, kind="day"))["307T0001"]
    assert (meter.checked, meter.violations, meter.notes) == (1, (), ())


async def test_only_building_meters_in_service(env) -> None:
    services, registry, seeded = env
    token = await _token(services, "disp")
    dev = services.deviations
    await dev.set_rule(token, seeded.building_id, HEAT, "Q", enabled=True, tolerance=40)
    # apartment meters record Q too, but only the building meter is monitored
    assert list(_meters(await dev.deviations(token))) == ["307T0001"]
    # taken out of service at 12:00 Moscow: not shown for 14:00, still for 11:00
    registry.write("UPDATE meters SET decommissioned_at = ? WHERE serial = '307T0001'",
                 datetime(2026, 1, 14, 9, tzinfo=UTC).isoformat())
    assert _meters(await dev.deviations(token)) == {}
    at = datetime(2026, 1, 14, 11)
    meter = _meters(await dev.deviations(token, at, at))["307T0001"]
    assert (meter.checked, meter.violations) == (1, ())


async def test_roles_scope_and_bad_input(env) -> None:
    services, registry, seeded = env
    dev = services.deviations
    disp, reader, eng, admin, stranger = [await _token(services, u)
                                          for u in ("disp", "reader", "eng", "admin", "stranger")]
    b = seeded.building_id
    for token in (reader, eng):  # they see the rules and the monitoring, and change nothing
        assert len(await dev.rules(token, b)) == 7
        await dev.deviations(token)
        with pytest.raises(Forbidden):
            await dev.set_rule(token, b, HEAT, "Q", enabled=True, tolerance=10)
    with pytest.raises(NotFound):  # administrators see none of these screens
        await dev.rules(admin, b)
    with pytest.raises(NotFound):
        await dev.deviations(admin)
    with pytest.raises(Forbidden):
        await dev.set_rule(admin, b, HEAT, "Q", enabled=True, tolerance=10)
    for call in (dev.rules(stranger, b), dev.deviations(stranger, building_ids=[b]),
                 dev.set_rule(stranger, b, HEAT, "Q", enabled=True, tolerance=10)):
        with pytest.raises(NotFound):
            await call
    bad = [({"tolerance": -1}, "tolerance"), ({"rule": "constant", "tolerance": 1}, "reference"),
           ({"rule": "median", "tolerance": 1}, "rule"), ({"direction": "up", "tolerance": 1}, "direction"),
           ({"tolerance": 1, "tolerance_unit": "ppm"}, "tolerance_unit"),
           ({"tolerance": float("nan")}, "tolerance")]
    for kwargs, field in bad:
        with pytest.raises(InvalidInput, match=field):
            await dev.set_rule(disp, b, HEAT, "Q", enabled=True, **kwargs)
    for resource, parameter in ((HEAT, "V"), (Resource.ELECTRICITY, "E"), ("steam", "Q")):
        with pytest.raises(InvalidInput, match=r"resource|parameter"):
            await dev.set_rule(disp, b, resource, parameter, enabled=True, tolerance=1)
    with pytest.raises(InvalidInput, match="kind"):
        await dev.deviations(disp, kind="month")
    with pytest.raises(InvalidInput, match="before"):
        await dev.deviations(disp, datetime(2026, 1, 14, 10), datetime(2026, 1, 14, 9))
    with pytest.raises(InvalidInput, match="744"):
        await dev.deviations(disp, datetime(2025, 1, 1), datetime(2026, 1, 1))
    assert registry.one("SELECT count(*) AS n FROM deviation_rules")["n"] == 0  # nothing refused was written


async def test_api_routes(env) -> None:
    services, registry, seeded = env
    tokens = await cloud_data.own_tokens(services, registry, ("disp", "reader", "stranger"))
    auth = {login: {"Authorization": f"Bearer {token}"} for login, token in tokens.items()}
    # this module's routes on a router set up as cloud.api.integration_router sets up /api/v1 (the
    # whole router also carries the other screens' modules, built at the same time as this one)
    api = APIRouter(prefix="/api/v1", responses=ERRORS, generate_unique_id_function=lambda route: route.name)
    api_deviations.routes(api, services)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(api)
    b = seeded.building_id
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        rules = (await client.get(f"/api/v1/buildings/{b}/deviation-rules", headers=auth["reader"])).json()
        assert [(r["parameter"], r["enabled"]) for r in rules][:2] == [("Q", False), ("V1", False)]
        body = {"enabled": True, "rule": "mean3d", "direction": "both", "tolerance": 40, "tolerance_unit": "percent"}
        put = await client.put(f"/api/v1/buildings/{b}/deviation-rules/heat/Q", json=body, headers=auth["disp"])
        assert put.status_code == 200, put.text
        assert (put.json()["enabled"], put.json()["unit"]) == (True, "Gcal")
        refused = await client.put(f"/api/v1/buildings/{b}/deviation-rules/heat/Q", json=body, headers=auth["reader"])
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        bad = await client.put(f"/api/v1/buildings/{b}/deviation-rules/heat/Q", json={**body, "tolerance": -1},
                               headers=auth["disp"])
        assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
        unknown = await client.put(f"/api/v1/buildings/{b}/deviation-rules/heat/E", json=body, headers=auth["disp"])
        assert (unknown.status_code, unknown.json()["code"]) == (422, "invalid_input")
        got = await client.get("/api/v1/deviations", headers=auth["reader"])
        assert got.status_code == 200, got.text
        (building,) = got.json()["buildings"]
        (meter,) = building["meters"]
        (tile,) = meter["violations"]
        assert (building["first"], tile["value"], tile["reference"], tile["deviation_pct"]) == (
            "2026-01-14T14:00:00", 0.05, 0.035, 42.86)
        ranged = await client.get("/api/v1/deviations", params={"from": "2026-01-14T00:00", "to": "2026-01-14T23:00",
                                                                "building_id": b}, headers=auth["disp"])
        assert ranged.json()["buildings"][0]["meters"][0]["checked"] == 15
        # a time with an offset is converted to the building's: 11:00 UTC is 14:00 Moscow
        aware = await client.get("/api/v1/deviations", params={"from": "2026-01-14T11:00:00Z",
                                                               "to": "2026-01-14T11:00:00Z"}, headers=auth["disp"])
        assert aware.json()["buildings"][0]["first"] == "2026-01-14T14:00:00"
        assert len(aware.json()["buildings"][0]["meters"][0]["violations"]) == 1
        wrong = await client.get("/api/v1/deviations", params={"kind": "month"}, headers=auth["disp"])
        assert wrong.status_code == 422
        hidden = await client.get(f"/api/v1/buildings/{b}/deviation-rules", headers=auth["stranger"])
        assert hidden.status_code == 404
    schema = app.openapi()
    ops = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"deviations", "deviation_rules", "set_deviation_rule"} <= ops
