"""LoRa monitoring (manual 4.2.4) over chDB and the registry: the device table of a building (last
packet, function code, packet number, PER over 10 days, SNR, RSSI, gateway), the packet log of
5 days with uplinks and downlinks, paging and averages, the multi-select filters, the company
scope through the registered DevEUIs and the company's sites, the roles, and the API answers.
The figures are worked out in tests/support_lora.py next to the rows they come from."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from fastapi.openapi.utils import get_openapi

from cloud import api_lora
from cloud.ingest_rows import RADIO_COLUMNS
from cloud.services.container import Services
from cloud.services.models import InvalidInput, NotFound
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from protocol.vocabulary import MeterRole, Resource
from tests import cloud_data
from tests.support_api import shared_app
from tests.support_lora import APT1, APT2, BLDG, GW_NEAR, OTHER, archive_payload, seed_lora, up_row


@pytest.fixture
def env(clickhouse: ClickHouse, tmp_path: Path):
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    lora = seed_lora(registry, clickhouse, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    return services, registry, seeded, lora


async def _token(services: Services, login: str) -> str:
    return (await services.auth.login(login, cloud_data.PASSWORDS[login])).token


async def test_device_table(env) -> None:
    services, _, seeded, _ = env
    token = await _token(services, "disp")
    table = await services.lora.devices(token, seeded.building_id)
    assert table.now == datetime(2026, 1, 14, 15, 0)  # NOW in Moscow
    # building meter first, then the apartments in number order; the Modbus meter 307T0001 is not listed
    assert [(d.serial, d.dev_eui) for d in table.devices] == [("941E0001", BLDG), ("223T0001", APT1),
                                                              ("223T0002", APT2)]
    building, apt1, apt2 = table.devices
    last = apt1.last
    assert last is not None
    # packet 299 at 11:30 UTC, two copies: shown with gw-near (SNR 8.0 > 2.0), the first copy's time
    assert (last.at, last.f_cnt, last.function_code, last.snr, last.rssi, last.gateway, last.copies) == (
        datetime(2026, 1, 14, 14, 30), 299, 0x11, 8.0, -90, GW_NEAR, 2)
    assert last.payload == archive_payload(299)
    # 10 days: numbers 60..299 without 295, 297 -> 2 / 240 = 0.83 %
    assert (apt1.per.per_pct, apt1.per.expected, apt1.per.received, apt1.per.lost, apt1.per.reset) == (
        0.83, 240, 238, 2, False)
    assert apt1.per.first == datetime(2026, 1, 4, 15, 30)  # number 60: NOW - 30 min - 239 h, in Moscow
    # apartment 2 re-registered inside the window: PER not computed; its last packet is number 49
    assert (apt2.per.per_pct, apt2.per.reset, apt2.last.f_cnt, apt2.last.at) == (
        None, True, 49, datetime(2026, 1, 14, 14, 0))
    # the building meter's device was last heard 20 days ago: shown, but nothing to compute PER over
    assert (building.last.f_cnt, building.last.at, building.last.function_code) == (7, datetime(2025, 12, 25, 15), 0x42)
    assert (building.per.per_pct, building.per.received, building.per.reset) == (None, 0, False)
    assert (building.role, building.premise_number, building.resources) == (
        MeterRole.COMMON, None, (Resource.ELECTRICITY,))
    assert table.resources == (Resource.HEAT, Resource.HOT_WATER, Resource.COLD_WATER, Resource.ELECTRICITY)


async def test_filters_all_equals_none(env) -> None:
    services, _, seeded, _ = env
    token = await _token(services, "disp")

    async def serials(**kw) -> list[str]:
        return [d.serial for d in (await services.lora.devices(token, seeded.building_id, **kw)).devices]

    everything = ["941E0001", "223T0001", "223T0002"]
    assert await serials() == everything
    assert await serials(resources=list(Resource)) == everything  # every button pressed = none pressed
    offered = (Resource.HEAT, Resource.HOT_WATER, Resource.COLD_WATER, Resource.ELECTRICITY)
    assert await serials(resources=offered) == everything
    assert await serials(resources=[Resource.ELECTRICITY]) == ["941E0001"]
    assert await serials(resources=[Resource.HEAT, Resource.GAS]) == ["223T0001", "223T0002"]
    assert await serials(roles=[MeterRole.COMMON, MeterRole.INDIVIDUAL]) == everything
    assert await serials(roles=[MeterRole.INDIVIDUAL]) == ["223T0001", "223T0002"]
    assert await serials(roles=[MeterRole.COMMON], resources=[Resource.HEAT]) == []
    filtered = await services.lora.devices(token, seeded.building_id, resources=[Resource.ELECTRICITY])
    assert (filtered.resource_filter, filtered.role_filter) == ((Resource.ELECTRICITY,), ())


async def test_packet_log(env) -> None:
    services, _, _, _ = env
    token = await _token(services, "reader")  # readers may look
    log = await services.lora.packets(token, APT1, limit=50)
    # 5 days: numbers 180..299 without 295, 297 -> 118 packets; PER 2 / 120 = 1.67 %
    assert (log.total, len(log.packets), log.offset, log.limit) == (118, 50, 0, 50)
    assert (log.per.per_pct, log.per.expected, log.per.lost) == (1.67, 120, 2)
    assert (log.snr_avg, log.rssi_avg) == (5.03, -99.92)  # (117 * 5 + 8) / 118; (117 * -100 - 90) / 118
    assert [p.f_cnt for p in log.packets[:4]] == [299, 298, 296, 294]  # newest first, the lost ones absent
    assert (log.since, log.until, log.meters) == (datetime(2026, 1, 9, 15), datetime(2026, 1, 14, 15), ("223T0001",))
    page3 = await services.lora.packets(token, APT1, limit=50, offset=100)
    # packets 101..118 of the newest-first list: numbers 299 - 100 - 2 = 197 down to 180
    assert [p.f_cnt for p in page3.packets] == list(range(197, 179, -1))
    down = await services.lora.packets(token, APT1, direction="down")
    # one downlink within 5 days (the passport request of 6 days ago is outside); averages stay the uplinks'
    assert (down.total, down.per.per_pct, down.snr_avg) == (1, 1.67, 5.03)
    (command,) = down.packets
    assert (command.at, command.direction, command.f_cnt, command.function_code, command.snr, command.frequency,
            command.gateway) == (datetime(2026, 1, 14, 13), "down", None, 0x35, None, None, "")
    restarted = await services.lora.packets(token, APT2.upper())
    # 5 days = 120 h: 0..49 (1..50 h ago) and 500..549 (51..100 h ago): 100 packets, the numbering restarted
    assert (restarted.total, restarted.per.per_pct, restarted.per.reset) == (100, None, True)
    assert (await services.lora.packets(token, BLDG)).total == 0  # last heard 20 days ago


async def test_company_scope(env) -> None:
    """The other company never sees our devices, and our table never counts what came through its site."""
    services, _, seeded, lora = env
    ours = await _token(services, "disp")
    stranger = await _token(services, "stranger")
    table = await services.lora.devices(ours, seeded.building_id)
    apt1 = next(d for d in table.devices if d.dev_eui == APT1)
    assert apt1.last.f_cnt == 299  # not 9999, heard a minute ago through the other company's site
    for eui in (APT1, APT2, BLDG):
        with pytest.raises(NotFound):
            await services.lora.packets(stranger, eui)
    with pytest.raises(NotFound):
        await services.lora.devices(stranger, seeded.building_id)
    with pytest.raises(NotFound):
        await services.lora.packets(ours, OTHER)
    theirs = await services.lora.devices(stranger, seeded.other_building_id)
    (device,) = theirs.devices
    assert (device.meter_id, device.dev_eui, device.last.f_cnt) == (lora.other_meter_id, OTHER, 42)
    # their site's row of our DevEUI is not theirs either: the DevEUI is not registered by them
    assert (await services.lora.packets(stranger, OTHER)).total == 1


async def test_roles_and_bad_input(env) -> None:
    services, _, seeded, _ = env
    admin = await _token(services, "admin")
    with pytest.raises(NotFound):
        await services.lora.devices(admin, seeded.building_id)
    with pytest.raises(NotFound):
        await services.lora.packets(admin, APT1)
    reader = await _token(services, "reader")
    assert (await services.lora.devices(reader, seeded.building_id)).devices
    for kw, field in (({"direction": "sideways"}, "direction"), ({"limit": 0}, "limit"),
                      ({"limit": 2001}, "limit"), ({"offset": -1}, "offset")):
        with pytest.raises(InvalidInput, match=field):
            await services.lora.packets(reader, APT1, **kw)
    with pytest.raises(InvalidInput, match="dev_eui"):
        await services.lora.packets(reader, "not-a-eui")


async def test_api(env) -> None:
    services, registry, seeded, _ = env
    tokens = await cloud_data.own_tokens(services, registry, ("disp", "reader", "stranger", "admin"))
    app = shared_app(services, services.accounting.ch)
    auth = {login: {"Authorization": f"Bearer {token}"} for login, token in tokens.items()}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        path = f"/api/v1/buildings/{seeded.building_id}/lora-devices"
        answer = await client.get(path, headers=auth["reader"], params=[("resource", "heat"), ("resource", "gas")])
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert [d["serial"] for d in data["devices"]] == ["223T0001", "223T0002"]
        apt1 = data["devices"][0]
        assert (apt1["last"]["f_cnt"], apt1["last"]["gateway"], apt1["per"]["per_pct"]) == (299, GW_NEAR, 0.83)
        assert data["devices"][1]["per"] == {"per_pct": None, "received": 100, "expected": None, "lost": None,
                                             "reset": True, "first": "2026-01-10T11:00:00"}
        log = await client.get(f"/api/v1/lora-devices/{APT1}/packets", headers=auth["disp"],
                               params={"direction": "up", "limit": 2, "offset": 1})
        assert log.status_code == 200, log.text
        assert [p["f_cnt"] for p in log.json()["packets"]] == [298, 296]
        assert (await client.get(f"/api/v1/lora-devices/{APT1}/packets", headers=auth["stranger"])).status_code == 404
        assert (await client.get(path, headers=auth["stranger"])).status_code == 404
        assert (await client.get(path, headers=auth["admin"])).status_code == 404
        bad = await client.get(f"/api/v1/lora-devices/{APT1}/packets", headers=auth["disp"], params={"limit": 0})
        assert bad.status_code == 422
        assert (await client.get("/api/v1/lora-devices/xyz/packets", headers=auth["disp"])).status_code == 422
        assert (await client.get(path)).status_code == 401
    # this module's part of the OpenAPI description (the routes of the other screens are theirs)
    api = APIRouter(prefix="/v1", generate_unique_id_function=lambda route: route.name)
    api_lora.routes(api, services)
    spec = get_openapi(title="lora", version="1", routes=api.routes)
    ops = {op["operationId"]: path for path, item in spec["paths"].items() for op in item.values()}
    assert ops == {"lora_devices": "/v1/buildings/{building_id}/lora-devices",
                   "lora_packets": "/v1/lora-devices/{dev_eui}/packets"}
    assert "PER in %" in spec["paths"]["/v1/lora-devices/{dev_eui}/packets"]["get"]["description"]


async def test_dev_eui_matches_case_insensitively(env) -> None:
    """A DevEUI is hex: the path, the registry and the packet log match it whatever its case
    (docs/protocols.md); the edge writes lower case, a row in upper case still counts."""
    services, _, seeded, _ = env
    services.accounting.ch.insert_sync("radio_packets", [up_row("test", 50_000, cloud_data.NOW, BLDG.upper(), 8)],
                                       RADIO_COLUMNS)
    token = await _token(services, "disp")
    table = await services.lora.devices(token, seeded.building_id, resources=[Resource.ELECTRICITY])
    (device,) = table.devices
    # the uplink at NOW (15:00 Moscow) is the only one in 10 days: expected 1, received 1 -> 0 %
    assert (device.dev_eui, device.last.f_cnt, device.last.at, device.per.per_pct) == (
        BLDG, 8, datetime(2026, 1, 14, 15), 0.0)
    log = await services.lora.packets(token, BLDG.upper())
    assert (log.dev_eui, log.total, log.meters) == (BLDG, 1, ("941E0001",))


async def test_only_installed_meters(env) -> None:
    """A meter decommissioned before now is no longer installed: its device leaves the table."""
    services, registry, seeded, _ = env
    with registry.connect() as db:
        db.execute("UPDATE meters SET decommissioned_at = '2026-01-13T00:00:00+00:00', status = 'decommissioned' "
                   "WHERE serial = '223T0002'")
    token = await _token(services, "disp")
    assert [d.serial for d in (await services.lora.devices(token, seeded.building_id)).devices] == [
        "941E0001", "223T0001"]
