"""The /api/v1 routes of the export to billing centres (cloud/api_billing.py) over the real service,
registry, chDB and simulator: a centre added and changed (the token never answered in full), a run
started and followed to its end, its lists, the retry, and the refusals (reader, administrator,
a bad submission day)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from cloud import api_billing
from cloud.api import install_error_handlers
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from simulators.billing_centre import BillingCentre
from tests import cloud_data
from tests import support_billing as support


@pytest.fixture
async def setup(clickhouse: ClickHouse, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Services, int,
                                                                             BillingCentre]]:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    support.export_world(registry, clickhouse, seeded)
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    services.billing.engine.backoff_seconds = 0.01
    centre = BillingCentre(support.book(), support.today)
    await centre.start()
    app = FastAPI()
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    api_billing.routes(api, services)
    app.include_router(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, services, seeded.building_id, centre
    await centre.close()


async def _auth(services: Services, login: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await services.auth.login(login, cloud_data.PASSWORDS[login])).token}"}


async def test_the_routes(setup) -> None:
    http, services, building, centre = setup
    disp, reader, admin = [await _auth(services, u) for u in ("disp", "reader", "admin")]
    body = {"name": "РИЦ", "url": f"http://127.0.0.1:{centre.port}", "token": support.TOKEN, "submission_day": 20,
            "building_ids": [building]}
    assert (await http.post("/api/v1/billing-centres", json=body, headers=reader)).status_code == 403
    assert (await http.post("/api/v1/billing-centres", json={**body, "submission_day": 29},
                            headers=disp)).status_code == 422
    made = await http.post("/api/v1/billing-centres", json=body, headers=disp)
    assert made.status_code == 201
    assert made.json()["token_hint"] == "…1234"  # noqa: S105 - the last four characters only
    assert support.TOKEN not in made.text
    centre_id = made.json()["id"]
    patched = await http.patch(f"/api/v1/billing-centres/{centre_id}", json={"submission_day": 5}, headers=disp)
    assert (patched.json()["submission_day"], patched.json()["token_hint"]) == (5, "…1234")
    assert (await http.get("/api/v1/billing-centres", headers=admin)).status_code == 404
    assert [c["name"] for c in (await http.get("/api/v1/billing-centres", headers=reader)).json()] == ["РИЦ"]

    started = await http.post(f"/api/v1/billing-centres/{centre_id}/runs", headers=disp)
    assert started.status_code == 202
    run_id = started.json()["id"]
    for _ in range(200):
        run = (await http.get(f"/api/v1/billing-runs/{run_id}", headers=reader)).json()
        if run["state"] == "finished":
            break
        await asyncio.sleep(0.05)
    assert (run["status"], run["summary"]["sent_by_resource"]) == ("errors", {"heat": 1})
    page = (await http.get("/api/v1/billing-runs?limit=1", headers=reader)).json()
    assert (page["total"], [r["id"] for r in page["runs"]]) == (1, [run_id])
    accepted = (await http.get(f"/api/v1/billing-runs/{run_id}/items/accepted", headers=reader)).json()
    assert [(i["serial"], i["payload"]["values"]) for i in accepted] == [("223T0001", {"T1": 100.72})]
    assert (await http.get(f"/api/v1/billing-runs/{run_id}/items/other", headers=reader)).status_code == 422
    assert (await http.post(f"/api/v1/billing-runs/{run_id}/retry", headers=reader)).status_code == 403
    again = await http.post(f"/api/v1/billing-runs/{run_id}/retry", headers=disp)
    assert (again.status_code, again.json()["trigger"]) == (202, "retry")
    for _ in range(200):
        if (await http.get(f"/api/v1/billing-runs/{again.json()['id']}", headers=reader)).json()["state"] == "finished":
            break
        await asyncio.sleep(0.05)
    assert (await http.delete(f"/api/v1/billing-centres/{centre_id}", headers=disp)).status_code == 204
    assert (await http.get(f"/api/v1/billing-runs/{run_id}", headers=reader)).status_code == 404
