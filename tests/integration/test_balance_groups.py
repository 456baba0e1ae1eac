"""Balance groups over a real registry and chDB: the editor's rules (manual 4.6.6: a dispatcher
only, audited, name unique in the building, root and children measuring the resource, the root
no child, meters of the same building and company) and the group's consumption (4.1.8: the root
against the signed children, imbalance in units and %, only for complete periods that are over).

The seeded building (tests.cloud_data): hourly integral heat archives from 2026-01-10 00:00
Moscow time, building meter 307T0001 +0.035 Gcal/h (0.84 a day), apartment 1 223T0001 +0.01
(0.24), apartment 2 223T0002 +0.02 (0.48), whose 2026-01-11 23:00 reading is missing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cloud.api import router
from cloud.services.balance_groups import GroupDraft
from cloud.services.container import Services
from cloud.services.meter_series import Cell
from cloud.services.models import Forbidden, Granularity, InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import ArchiveKind, Resource
from tests import cloud_data
from tests import support_register as sr
from tests.support_api import shared_app

HOUR = ArchiveKind.HOUR
JAN = date(2026, 1, 1)


@pytest.fixture
def world(clickhouse: ClickHouse, tmp_path: Path) -> tuple[Services, cloud_data.Seeded, Registry, dict[str, int]]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    sr.add_meter(registry, seeded.building_id, None, "941T0009", model="KARAT-941LW", tariffs=2)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    return services, seeded, registry, sr.meter_ids(registry)


def _fill(clickhouse: ClickHouse, company: int) -> None:
    """The readings the seed lacks: each meter's at the end of Jan 9 (100.0, its counter before the
    first seeded hour) and apartment 2's at the end of Jan 11 (100 + 0.02 x 48 = 100.96)."""
    sr.store(clickhouse, company, [sr.record(s, HOUR, datetime(2026, 1, 9, 23), 100.0) for s in cloud_data.RATES]
             + [sr.record("223T0002", HOUR, datetime(2026, 1, 11, 23), 100.96)])


async def test_root_against_all_plus_children_with_a_missing_reading(world) -> None:
    svc, seeded, _, ids = world
    token = (await svc.auth.login("disp", "disp-pass")).token
    group = await svc.balance_groups.create(token, seeded.building_id, GroupDraft(
        "Стояк А", Resource.HEAT, ids["307T0001"], ((ids["223T0001"], "+"), (ids["223T0002"], "+"))))
    data = await svc.balance_groups.consumption(token, group.id, Granularity.DAY, JAN)
    by_day = {p.period.day: p for p in data.points}
    assert sorted(by_day) == [10, 11, 12]  # the days the meters have data for
    assert data.unit == "Gcal"
    # Jan 10: nobody has the reading at the end of Jan 9: «–*» on both sides, no imbalance
    assert by_day[10].root == Cell(None, False, 1, 0, 0, False)
    assert by_day[10].children.value is None
    assert by_day[10].imbalance is None
    # Jan 11: root 0.84; children: apartment 1's 0.24 known of two (apartment 2's closing reading is missing)
    assert by_day[11].root == Cell(pytest.approx(0.84), True, 1, 1, 0, True)
    assert by_day[11].children == Cell(pytest.approx(0.24), False, 2, 1, 0, True)
    assert (by_day[11].imbalance, by_day[11].imbalance_pct) == (None, None)
    # the view: root 0.84 + 0.84 = 1.68 known of 3 days, no imbalance while days are pending
    assert data.root_total.value == pytest.approx(1.68)
    assert not data.root_total.complete
    assert data.imbalance is None
    assert [p.day for p in data.pending] == [10, 11, 12, 13, 14]
    assert data.derived_from == ("hour",)
    rows = {m.meter.serial: m for m in data.meters}
    assert [m.meter.sign for m in data.meters] == ["root", "+", "+"]
    assert rows["223T0002"].total == Cell(None, False, 3, 0, 0, False)  # its only readable days lack a reading


async def test_a_minus_child(world, clickhouse: ClickHouse) -> None:
    svc, seeded, _, ids = world
    _fill(clickhouse, seeded.company_id)
    token = (await svc.auth.login("disp", "disp-pass")).token
    group = await svc.balance_groups.create(token, seeded.building_id, GroupDraft(
        "С вычетом", Resource.HEAT, ids["307T0001"], ((ids["223T0002"], "+"), (ids["223T0001"], "-"))))
    data = await svc.balance_groups.consumption(token, group.id, Granularity.DAY, JAN)
    by_day = {p.period.day: p for p in data.points}
    # Jan 9 shows too: its 23:00 record is data, but the day's opening reading (end of Jan 8) is not there
    assert sorted(by_day) == [9, 10, 11, 12]
    assert by_day[9].root.value is None
    for day in (10, 11, 12):  # each complete now
        point = by_day[day]
        # children = +0.48 - 0.24 = 0.24; imbalance = 0.84 - 0.24 = 0.60 Gcal = 0.60 / 0.84 = 71.43 % of the root
        assert point.children == Cell(pytest.approx(0.24), True, 2, 2, 0, True)
        assert point.imbalance == pytest.approx(0.60)
        assert point.imbalance_pct == pytest.approx(71.43)
    assert data.root_total == Cell(pytest.approx(2.52), False, 4, 3, 0, True)  # 3 x 0.84, Jan 9 unknown
    assert data.children_total.value == pytest.approx(0.72)  # 3 x 0.24
    # Jan 9 incomplete, Jan 13 and 14 (today) without data yet: the month's imbalance stays open
    assert data.imbalance is None
    assert [p.day for p in data.pending] == [9, 13, 14]
    minus = next(m for m in data.meters if m.meter.serial == "223T0001")
    assert minus.meter.sign == "-"
    assert minus.total.value == pytest.approx(0.72)


async def test_editor_rules_and_audit(world) -> None:
    svc, seeded, registry, ids = world
    token = (await svc.auth.login("disp", "disp-pass")).token
    groups = svc.balance_groups
    draft = GroupDraft("Стояк А", Resource.HEAT, ids["307T0001"], ((ids["223T0001"], "+"),))
    group = await groups.create(token, seeded.building_id, draft)
    bad = {
        "name": GroupDraft("  ", Resource.HEAT, ids["307T0001"]),
        "already has": GroupDraft("стояк а", Resource.HEAT, ids["307T0001"]),  # the same name, other case
        "root_meter_id: meter 941T0009 does not measure heat": GroupDraft("Б", Resource.HEAT, ids["941T0009"]),
        "cannot be its own child": GroupDraft("В", Resource.HEAT, ids["307T0001"], ((ids["307T0001"], "+"),)),
        "members\\[0\\].meter_id: meter 941T0009 does not measure": GroupDraft(
            "Г", Resource.HEAT, ids["307T0001"], ((ids["941T0009"], "+"),)),
        "listed twice": GroupDraft("Д", Resource.HEAT, ids["307T0001"],
                                   ((ids["223T0001"], "+"), (ids["223T0001"], "-"))),
        "sign": GroupDraft("Е", Resource.HEAT, ids["307T0001"], ((ids["223T0001"], "*"),)),
        "not a meter of this building": GroupDraft("Ж", Resource.HEAT, ids["307X0001"]),  # the other company's
    }
    for message, wrong in bad.items():
        with pytest.raises(InvalidInput, match=message):
            await groups.create(token, seeded.building_id, wrong)
    changed = await groups.update(token, group.id, GroupDraft("Стояк Б", Resource.HEAT, ids["307T0001"],
                                                              ((ids["223T0001"], "-"), (ids["223T0002"], "+"))))
    assert changed.name == "Стояк Б"
    assert [(m.serial, m.sign) for m in changed.members] == [("223T0001", "-"), ("223T0002", "+")]
    assert [g.name for g in await groups.groups(token, seeded.building_id)] == ["Стояк Б"]
    await groups.delete(token, group.id)
    assert await groups.groups(token, seeded.building_id) == []
    log = registry.all("SELECT action, object, before, after FROM audit_log WHERE action LIKE 'balance_group.%' "
                       "ORDER BY id")
    assert [r["action"] for r in log] == ["balance_group.create", "balance_group.update", "balance_group.delete"]
    assert json.loads(log[1]["before"])["name"] == "Стояк А"
    assert json.loads(log[1]["after"])["name"] == "Стояк Б"
    assert log[2]["after"] is None


async def test_roles_and_scope(world) -> None:
    svc, seeded, registry, ids = world
    disp = (await svc.auth.login("disp", "disp-pass")).token
    group = await svc.balance_groups.create(disp, seeded.building_id,
                                            GroupDraft("Стояк", Resource.HEAT, ids["307T0001"]))
    reader = (await svc.auth.login("reader", "reader-pass")).token
    assert [g.name for g in await svc.balance_groups.groups(reader, seeded.building_id)] == ["Стояк"]
    for write in (svc.balance_groups.create(reader, seeded.building_id, GroupDraft("X", Resource.HEAT,
                                                                                   ids["307T0001"])),
                  svc.balance_groups.update(reader, group.id, GroupDraft("X", Resource.HEAT, ids["307T0001"])),
                  svc.balance_groups.delete(reader, group.id)):
        with pytest.raises(Forbidden):
            await write
    admin = (await svc.auth.login("admin", "admin-pass")).token
    for call in (svc.balance_groups.groups(admin, seeded.building_id),
                 svc.balance_groups.consumption(admin, group.id, Granularity.DAY, JAN),
                 svc.balance_groups.delete(admin, group.id)):
        with pytest.raises(NotFound):
            await call
    stranger = (await svc.auth.login("stranger", "x-pass")).token
    for call in (svc.balance_groups.group(stranger, group.id), svc.balance_groups.delete(stranger, group.id),
                 svc.balance_groups.groups(stranger, seeded.building_id)):
        with pytest.raises(NotFound):
            await call
    assert registry.one("SELECT count(*) AS n FROM balance_groups")["n"] == 1  # nothing changed


@pytest.fixture
async def client(world) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], int, dict[str, int]]]:
    svc, seeded, registry, ids = world
    tokens = await cloud_data.own_tokens(svc, registry, ("disp", "reader"))
    app = shared_app(svc, svc.balance_groups.ch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http, tokens, seeded.building_id, ids


async def test_api(client) -> None:
    http, tokens, building, ids = client
    disp = {"Authorization": f"Bearer {tokens['disp']}"}
    body = {"name": "Стояк", "resource": "heat", "root_meter_id": ids["307T0001"],
            "members": [{"meter_id": ids["223T0001"], "sign": "+"}]}
    created = await http.post(f"/api/v1/buildings/{building}/balance-groups", json=body, headers=disp)
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    reader = {"Authorization": f"Bearer {tokens['reader']}"}
    assert (await http.put(f"/api/v1/balance-groups/{group_id}", json=body, headers=reader)).status_code == 403
    listed = await http.get(f"/api/v1/buildings/{building}/balance-groups", headers=reader)
    assert [g["name"] for g in listed.json()] == ["Стояк"]
    answer = await http.get(f"/api/v1/balance-groups/{group_id}/consumption",
                            params={"granularity": "day", "period": "2026-01-01"}, headers=reader)
    points = {p["period"][:10]: p for p in answer.json()["points"]}
    # Jan 11: root 0.84, apartment 1 0.24: imbalance 0.60 Gcal = 71.43 % of the root
    assert points["2026-01-11"]["imbalance"] == pytest.approx(0.60)
    assert points["2026-01-11"]["imbalance_pct"] == pytest.approx(71.43)
    assert points["2026-01-10"]["root"]["value"] is None
    assert points["2026-01-10"]["imbalance"] is None
    body["members"] = [{"meter_id": ids["223T0001"], "sign": "x"}]
    assert (await http.put(f"/api/v1/balance-groups/{group_id}", json=body, headers=disp)).status_code == 422
    assert (await http.delete(f"/api/v1/balance-groups/{group_id}", headers=disp)).status_code == 204


def test_operation_ids(world) -> None:
    svc = world[0]
    app = FastAPI()
    app.include_router(router(svc.balance_groups.ch, "local-secret", svc))
    ops = {op["operationId"] for path in app.openapi()["paths"].values() for op in path.values()}
    assert {"balance_groups", "create_balance_group", "update_balance_group", "delete_balance_group",
            "balance_group_consumption"} <= ops
