"""What the demo sets up for a dispatcher (cloud.seed.seed_demo_settings): here the relay
threshold a power limitation needs (manual 4.6.11), set once and never over a dispatcher's own."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cloud.seed import seed_demo_settings
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data


async def test_the_demo_city_gets_a_relay_threshold_a_dispatcher_may_change(clickhouse: ClickHouse,
                                                                            tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    services = Services.create(registry, clickhouse)
    disp = (await services.auth.login("disp", cloud_data.PASSWORDS["disp"])).token
    seed_demo_settings(registry, seeded.building_id, date(2026, 1, 14))
    building = next(b for b in (await services.power.thresholds(disp)).buildings if b.building_id == seeded.building_id)
    assert (building.threshold_w, building.source) == (3000, "city")  # 3 kW, the city's default
    await services.power.set_city_threshold(disp, building.city_id, 2500)
    seed_demo_settings(registry, seeded.building_id, date(2026, 1, 15))  # the demo started again
    building = next(b for b in (await services.power.thresholds(disp)).buildings if b.building_id == seeded.building_id)
    assert building.threshold_w == 2500  # the dispatcher's value stays
