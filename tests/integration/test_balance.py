"""The building balance through the service layer and /api/v1 over a real registry and chDB:
balance signs (manual 4.6.5) changing the imbalance of 4.1.2, the period total rule, consumption
by premises (4.1.4), audit, and who may do what.

Data: tests/cloud_data.py (building 0.035 Gcal/h, apartment 1 0.01, apartment 2 0.02; a whole day
0.84 / 0.24 / 0.48 Gcal; apartment 2's reading at the end of Jan 11 missing; apartment 1 50 m²,
2 residents; apartment 2 70 m², 3 residents). "Now" is cloud_data.NOW = Jan 14 15:00 Moscow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cloud.api import integration_router
from cloud.ingest import archive_rows
from cloud.services import audit
from cloud.services.balance_rules import Sign
from cloud.services.container import Services
from cloud.services.models import Figure, Forbidden, Granularity, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, Nature, Resource
from protocol.wire import ArchiveRecord, Batch
from tests import cloud_data
from tests.support_api import shared_app

JAN = date(2026, 1, 1)
MSK = zone(cloud_data.TZ)


@dataclass
class World:
    svc: Services
    registry: Registry
    clickhouse: ClickHouse
    seeded: cloud_data.Seeded
    tokens: dict[str, str]  # login -> session token
    meters: dict[str, int]  # serial -> id
    premises: dict[str, int]  # number -> id


@pytest.fixture
async def world(clickhouse: ClickHouse, tmp_path: Path) -> World:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    svc = Services.create(registry, clickhouse)
    svc.set_clock(lambda: cloud_data.NOW)
    tokens = {login: (await svc.auth.login(login, cloud_data.PASSWORDS[login])).token
              for login in ("disp", "reader", "admin", "stranger")}
    meters = {r["serial"]: r["id"] for r in registry.all("SELECT id, serial FROM meters")}
    premises = {r["number"]: r["id"] for r in registry.all("SELECT id, number FROM premises WHERE building_id = ?",
                                                            seeded.building_id)}
    return World(svc, registry, clickhouse, seeded, tokens, meters, premises)


def _records(serial: str, channel: int, parameter: str, rate: float, hours: range) -> list[ArchiveRecord]:
    """Hourly integral readings like cloud_data's: record h (local Jan 10 00:00 + h) reads 100 + rate x (h + 1)."""
    out = []
    for h in hours:
        start = int(local_to_utc(cloud_data.START_LOCAL + timedelta(hours=h), MSK).timestamp())
        out.append(ArchiveRecord(serial, channel, ArchiveKind.HOUR, Nature.INTEGRAL, start,
                                 {parameter: round(100 + rate * (h + 1), 6)}, received_at=start + 60.0))
    return out


def _store(world: World, records: list[ArchiveRecord], seq: int) -> None:
    world.clickhouse.insert_archive_sync(archive_rows(Batch("test", seq, tuple(records)), world.seeded.company_id),
                                         f"test:{seq}")


def _fill_the_missing_reading(world: World) -> None:
    """Apartment 2's reading at the end of Jan 11 (hour 47): 100 + 0.02 x 48 = 100.96."""
    _store(world, _records("223T0002", 1, "Q", 0.02, range(47, 48)), 2)


async def _days(world: World, token: str = "") -> dict:
    data = await world.svc.accounting.building_consumption(token or world.tokens["disp"], world.seeded.building_id,
                                                           Resource.HEAT, Granularity.DAY, JAN)
    return {p.period.day: p for p in data.points}


async def _set(world: World, **signs: str) -> None:
    await world.svc.balance.set_balance_signs(world.tokens["disp"], world.seeded.building_id,
                                              [(world.meters[serial], sign) for serial, sign in signs.items()])


# --- 4.6.5 signs and the imbalance of 4.1.2 ----------------------------------------------------------


async def test_signs_default_to_added(world: World) -> None:
    signs = await world.svc.balance.balance_signs(world.tokens["disp"], world.seeded.building_id)
    assert {m.serial: m.sign for m in signs.meters} == {"223T0001": Sign.ADDED, "223T0002": Sign.ADDED}
    assert signs.editable
    assert (await world.svc.balance.balance_signs(world.tokens["reader"], world.seeded.building_id)).editable is False


async def test_excluded_meter_leaves_the_balance(world: World) -> None:
    await _set(world, **{"223T0002": "excluded"})
    days = await _days(world)
    # Jan 11: apartment 2 (missing there) no longer counts: 0.84 - 0.24 = 0.60 Gcal, 0.60 / 0.84 = 71.43 %
    assert days[11].apartments_figure == Figure(pytest.approx(0.24), expected=1, known=1, derived=True)
    assert days[11].imbalance == pytest.approx(0.60)
    assert days[11].imbalance_pct == pytest.approx(71.43)
    assert days[12].imbalance == pytest.approx(0.60)
    assert days[10].imbalance is None  # the building meter has no opening reading for Jan 10


async def test_subtracted_meter_with_its_reading_there(world: World) -> None:
    _fill_the_missing_reading(world)
    days = await _days(world)
    # both added: 0.84 - (0.24 + 0.48) = 0.12 Gcal, 14.29 %
    assert days[11].imbalance == pytest.approx(0.12)
    assert days[11].imbalance_pct == pytest.approx(14.29)
    await _set(world, **{"223T0002": "-"})
    days = await _days(world)
    # apartment 2 subtracted: Σ = 0.24 - 0.48 = -0.24; 0.84 - (-0.24) = 1.08 Gcal, 1.08 / 0.84 = 128.57 %
    assert days[11].apartments == pytest.approx(-0.24)
    assert days[11].imbalance == pytest.approx(1.08)
    assert days[11].imbalance_pct == pytest.approx(128.57)


async def test_subtracted_meter_missing_gives_no_imbalance(world: World) -> None:
    await _set(world, **{"223T0002": "-"})
    days = await _days(world)
    # Jan 11: apartment 2 is missing: the known part +0.24 of 2 meters, no imbalance («–*»)
    assert days[11].apartments_figure == Figure(pytest.approx(0.24), expected=2, known=1, derived=True)
    assert days[11].imbalance is None


async def test_every_change_is_audited_and_an_unchanged_one_is_not(world: World) -> None:
    await _set(world, **{"223T0002": "excluded", "223T0001": "+"})
    with world.registry.connect() as db:
        entries = [e for e in audit.entries(db, world.seeded.company_id) if e.action == "meter.balance_sign"]
    assert [(e.object, e.before["balance_sign"], e.after["balance_sign"], e.user_login) for e in entries] == [
        (f"meter:{world.meters['223T0002']}", "+", "excluded", "disp")]


async def test_only_a_dispatcher_changes_signs(world: World) -> None:
    building, apt2 = world.seeded.building_id, world.meters["223T0002"]
    with pytest.raises(Forbidden):
        await world.svc.balance.set_balance_signs(world.tokens["reader"], building, [(apt2, "-")])
    with pytest.raises(NotFound):  # administrators see none of the accounting settings
        await world.svc.balance.set_balance_signs(world.tokens["admin"], building, [(apt2, "-")])
    with pytest.raises(NotFound):
        await world.svc.balance.balance_signs(world.tokens["admin"], building)
    with pytest.raises(NotFound):  # another company's building
        await world.svc.balance.balance_signs(world.tokens["stranger"], building)
    with pytest.raises(NotFound):
        await world.svc.balance.set_balance_signs(world.tokens["disp"], world.seeded.other_building_id,
                                                  [(world.meters["307X0001"], "-")])
    assert world.registry.one("SELECT balance_sign FROM meters WHERE id = ?", apt2)["balance_sign"] == "+"


async def test_bad_changes_are_refused_whole(world: World) -> None:
    building, apt1, apt2 = world.seeded.building_id, world.meters["223T0001"], world.meters["223T0002"]
    disp = world.tokens["disp"]
    with pytest.raises(InvalidInput, match="building meter"):
        await world.svc.balance.set_balance_signs(disp, building, [(apt1, "-"), (world.meters["307T0001"], "-")])
    with pytest.raises(InvalidInput, match="named twice"):
        await world.svc.balance.set_balance_signs(disp, building, [(apt2, "-"), (apt2, "+")])
    with pytest.raises(InvalidInput, match=r"changes\[1\]: sign must be one of"):
        await world.svc.balance.set_balance_signs(disp, building, [(apt1, "-"), (apt2, "minus")])
    with pytest.raises(NotFound):  # a meter of another company named in our building
        await world.svc.balance.set_balance_signs(disp, building, [(apt1, "-"), (world.meters["307X0001"], "-")])
    with pytest.raises(InvalidInput, match="meter_id"):
        await world.svc.balance.set_balance_signs(disp, building, [(0, "-")])
    # all or nothing: apartment 1 named first in each refused request keeps its sign
    assert world.registry.one("SELECT balance_sign FROM meters WHERE id = ?", apt1)["balance_sign"] == "+"


# --- 4.1.2 the period total ----------------------------------------------------------------------------


async def test_total_of_the_running_month_is_missing(world: World) -> None:
    await _set(world, **{"223T0002": "excluded"})
    result = await world.svc.balance.building_balance(world.tokens["disp"], world.seeded.building_id, Resource.HEAT,
                                                      Granularity.DAY, JAN)
    # Jan 11 and 12 are complete (0.60 each) but Jan 10 lacks the building's opening reading, nothing
    # arrived for Jan 13, and Jan 14 is today: the total has no imbalance
    assert result.total.pending == (datetime(2026, 1, 10), datetime(2026, 1, 13), datetime(2026, 1, 14))
    assert result.total.running == datetime(2026, 1, 14)
    assert result.total.imbalance is None
    assert result.total.building.value == pytest.approx(1.68)  # the known part: Jan 11 + Jan 12


async def test_a_day_still_running_has_no_imbalance_even_when_its_meters_reported(world: World) -> None:
    await _set(world, **{"223T0002": "excluded"})
    # "now" Jan 12 12:00 Moscow: Jan 12 has every reading (the seeded archive runs to its end) but is not over
    world.svc.set_clock(lambda: datetime(2026, 1, 12, 9, tzinfo=UTC))
    days = await _days(world)
    assert days[11].imbalance == pytest.approx(0.60)
    assert days[12].building == pytest.approx(0.84)
    assert days[12].imbalance is None


# --- 4.1.4 consumption by premises ----------------------------------------------------------------------


async def test_premises_of_a_day_share_and_specific(world: World) -> None:
    _fill_the_missing_reading(world)
    result = await world.svc.balance.premises_consumption(world.tokens["disp"], world.seeded.building_id,
                                                          Resource.HEAT, Granularity.DAY, date(2026, 1, 11))
    rows = {r.premise.number: r for r in result.premises}
    assert result.building_figure == Figure(pytest.approx(0.84), expected=1, known=1, derived=True)
    assert result.specific_basis == "area"
    assert result.period_start == datetime(2026, 1, 11)
    # apartment 1: 0.24 Gcal, 0.24 / 50 m² = 0.0048 Gcal/m², 0.24 / 0.84 = 28.57 %
    assert rows["1"].figure.value == pytest.approx(0.24)
    assert rows["1"].specific == pytest.approx(0.0048)
    assert rows["1"].share_pct == pytest.approx(28.57)
    # apartment 2: 0.48 Gcal, 0.48 / 70 = 0.006857 Gcal/m², 0.48 / 0.84 = 57.14 %
    assert rows["2"].specific == pytest.approx(0.006857143)
    assert rows["2"].share_pct == pytest.approx(57.14)
    assert result.premises_figure.value == pytest.approx(0.72)


async def test_a_premise_with_its_meter_missing_is_missing_not_zero(world: World) -> None:
    result = await world.svc.balance.premises_consumption(world.tokens["disp"], world.seeded.building_id,
                                                          Resource.HEAT, Granularity.DAY, date(2026, 1, 11))
    apt2 = next(r for r in result.premises if r.premise.number == "2")
    assert apt2.figure == Figure(None, expected=1, known=0, derived=False)
    assert (apt2.specific, apt2.specific_missing) == (None, "no_value")
    assert (apt2.share_pct, apt2.share_missing) == (None, "premise_incomplete")
    assert result.premises_figure == Figure(pytest.approx(0.24), expected=2, known=1, derived=True)  # «0,240*»


async def test_premises_of_a_month_without_the_building_opening_reading(world: World) -> None:
    result = await world.svc.balance.premises_consumption(world.tokens["disp"], world.seeded.building_id,
                                                          Resource.HEAT, Granularity.MONTH, date(2026, 1, 20))
    assert result.period == JAN
    assert result.period_start == datetime(2026, 1, 1)
    # the month needs the readings at the end of December: nothing known, so no share
    assert result.building_figure.value is None
    assert {r.share_missing for r in result.premises} == {"building_incomplete"}


async def test_a_day_without_any_data_says_so(world: World) -> None:
    result = await world.svc.balance.premises_consumption(world.tokens["disp"], world.seeded.building_id,
                                                          Resource.HEAT, Granularity.DAY, date(2025, 12, 1))
    assert result.period_start is None
    assert all(r.figure == Figure() for r in result.premises)


async def test_water_per_resident_and_no_building_meter(world: World) -> None:
    """Cold water on the apartment meters' channel 3 only (the building meter's water channel removed):
    apartment 1 0.005 m³/h -> 0.12 m³ a day / 2 residents = 0.06; apartment 2 0.01 m³/h -> 0.24 / 3 = 0.08."""
    building_meter = world.meters["307T0001"]
    with world.registry.connect() as db:
        db.execute("DELETE FROM meter_channels WHERE meter_id = ? AND resource = 'cold_water'", (building_meter,))
    _store(world, _records("223T0001", 3, "V", 0.005, range(72)) + _records("223T0002", 3, "V", 0.01, range(72)), 3)
    result = await world.svc.balance.premises_consumption(world.tokens["disp"], world.seeded.building_id,
                                                          Resource.COLD_WATER, Granularity.DAY, date(2026, 1, 11))
    rows = {r.premise.number: r for r in result.premises}
    assert result.specific_basis == "residents"
    assert not result.has_building_meter
    assert rows["1"].specific == pytest.approx(0.06)
    assert rows["2"].specific == pytest.approx(0.08)
    assert {r.share_missing for r in result.premises} == {"no_building_meter"}
    with world.registry.connect() as db:
        db.execute("UPDATE premises SET residents = 0 WHERE id = ?", (world.premises["2"],))
    result = await world.svc.balance.premises_consumption(world.tokens["disp"], world.seeded.building_id,
                                                          Resource.COLD_WATER, Granularity.DAY, date(2026, 1, 11))
    apt2 = next(r for r in result.premises if r.premise.number == "2")
    assert apt2.figure.value == pytest.approx(0.24)
    assert (apt2.specific, apt2.specific_missing) == (None, "no_residents")


async def test_premises_consumption_refusals(world: World) -> None:
    with pytest.raises(InvalidInput, match="granularity"):
        await world.svc.balance.premises_consumption(world.tokens["disp"], world.seeded.building_id, Resource.HEAT,
                                                     Granularity.HOUR, date(2026, 1, 11))
    with pytest.raises(NotFound):
        await world.svc.balance.premises_consumption(world.tokens["admin"], world.seeded.building_id, Resource.HEAT,
                                                     Granularity.DAY, date(2026, 1, 11))
    with pytest.raises(NotFound):
        await world.svc.balance.premises_consumption(world.tokens["stranger"], world.seeded.building_id,
                                                     Resource.HEAT, Granularity.DAY, date(2026, 1, 11))


# --- /api/v1 -------------------------------------------------------------------------------------------


@pytest.fixture
async def api(world: World) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    tokens = await cloud_data.own_tokens(world.svc, world.registry, ("disp", "reader", "admin", "stranger"))
    app = shared_app(world.svc, world.clickhouse)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, {login: f"Bearer {token}" for login, token in tokens.items()}


async def test_api_signs_read_and_write(world: World, api) -> None:
    client, auth = api
    url = f"/api/v1/buildings/{world.seeded.building_id}/balance-signs"
    apt2 = world.meters["223T0002"]
    got = await client.get(url, headers={"Authorization": auth["disp"]})
    assert got.status_code == 200
    assert {m["serial"]: m["sign"] for m in got.json()["meters"]} == {"223T0001": "+", "223T0002": "+"}
    body = [{"meter_id": apt2, "sign": "excluded"}]
    assert (await client.put(url, json=body, headers={"Authorization": auth["reader"]})).status_code == 403
    assert (await client.put(url, json=body, headers={"Authorization": auth["admin"]})).status_code == 404
    assert (await client.get(url, headers={"Authorization": auth["stranger"]})).status_code == 404
    bad = await client.put(url, json=[{"meter_id": apt2, "sign": "minus"}], headers={"Authorization": auth["disp"]})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_input"
    done = await client.put(url, json=body, headers={"Authorization": auth["disp"]})
    assert done.status_code == 200
    assert {m["serial"]: m["sign"] for m in done.json()["meters"]}["223T0002"] == "excluded"
    balance = await client.get(f"/api/v1/buildings/{world.seeded.building_id}/balance?resource=heat&granularity=day"
                               "&period=2026-01-01", headers={"Authorization": auth["disp"]})
    assert balance.status_code == 200
    points = {p["period"][:10]: p for p in balance.json()["consumption"]["points"]}
    assert points["2026-01-11"]["imbalance"] == pytest.approx(0.60)
    assert balance.json()["total"]["imbalance"] is None
    assert balance.json()["total"]["running"] == "2026-01-14T00:00:00"


async def test_api_premises_consumption(world: World, api) -> None:
    client, auth = api
    url = f"/api/v1/buildings/{world.seeded.building_id}/premises-consumption"
    got = await client.get(url, params={"resource": "heat", "granularity": "day", "period": "2026-01-11"},
                           headers={"Authorization": auth["disp"]})
    assert got.status_code == 200
    rows = {r["premise"]["number"]: r for r in got.json()["premises"]}
    assert rows["1"]["share_pct"] == pytest.approx(28.57)
    assert rows["2"]["figure"]["value"] is None  # missing, null, never 0
    assert rows["2"]["figure"]["expected"] == 1
    assert rows["2"]["share_missing"] == "premise_incomplete"
    refused = await client.get(url, params={"resource": "heat", "granularity": "hour", "period": "2026-01-11"},
                               headers={"Authorization": auth["disp"]})
    assert refused.status_code == 422
    admin = await client.get(url, params={"resource": "heat", "period": "2026-01-11"},
                             headers={"Authorization": auth["admin"]})
    assert admin.status_code == 404


async def test_the_routes_carry_the_issue_operation_ids(world: World) -> None:
    api = integration_router(world.svc)  # /api/v1, where operationIds are the function names
    ids = {getattr(route, "unique_id", None) for route in api.routes}
    assert {"balance_signs", "set_balance_signs", "premises_consumption", "building_balance"} <= ids
