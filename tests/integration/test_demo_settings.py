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


def test_the_electricity_demo_registers_its_941lw_meters_with_their_tariffs_and_phase(tmp_path: Path) -> None:
    """demo-electricity.toml: the registry gets each 941LW as the edge reads it: apartment 1 on phase A,
    apartment 2 on phase B, two tariff zones, so channels total, T1, T2 (protocol/catalogue.py)."""
    from cloud.seed import seed_building, seed_company
    from domuchet import settings
    from domuchet.demo import building_seed
    from simulators.scenario import load, plan

    scenario = load("demo-electricity")
    registry = Registry(tmp_path / "registry.db")
    company = seed_company(registry, "УК", "Казань", ())
    seed_building(registry, company, building_seed(scenario, plan(scenario), settings.SimSettings(),
                                                   "2026-11-01T20:00:00+00:00"))
    rows = registry.all("SELECT m.serial, m.model, m.phase, m.tariffs, p.number, "
                        "group_concat(c.number || ':' || c.tariff, ' ') AS channels FROM meters m "
                        "JOIN premises p ON p.id = m.premise_id JOIN meter_channels c ON c.meter_id = m.id "
                        "WHERE m.model = 'KARAT-941LW' GROUP BY m.id ORDER BY m.serial")
    assert [tuple(r) for r in rows] == [
        ("941420001", "KARAT-941LW", "A", 2, "1", "1:total 2:T1 3:T2"),
        ("941420002", "KARAT-941LW", "B", 2, "2", "1:total 2:T1 3:T2")]
    # apartment 13's Compact-2 waits for an engineer: its premise is registered, its meter is not
    assert registry.one("SELECT count(*) AS n FROM meters WHERE serial = '223420013'")["n"] == 0
    assert registry.one("SELECT count(*) AS n FROM premises WHERE number = '13'")["n"] == 1


async def test_the_demo_numbers_its_meters_in_gis_but_one_and_sets_norms_once(clickhouse: ClickHouse,
                                                                              tmp_path: Path) -> None:
    """The billing document needs ГИС ЖКХ numbers (4.4.1): every meter of the building but the last
    apartment's gets one, so the document's «Ошибки» sheet has its case; the balance report (4.3.3)
    needs norms. A restart changes neither, nor a dispatcher's own values."""
    registry = Registry(tmp_path / "registry.db")
    seeded = cloud_data.seed(registry, clickhouse)
    seed_demo_settings(registry, seeded.building_id, date(2026, 1, 14))
    rows = registry.all("SELECT m.gis_number, p.number FROM meters m LEFT JOIN premises p ON p.id = m.premise_id "
                        "WHERE m.building_id = ? ORDER BY m.role, CAST(p.number AS INTEGER)", seeded.building_id)
    assert len(rows) >= 2
    assert all(r["gis_number"].startswith("ГИС-") for r in rows[:-1])
    assert rows[-1]["gis_number"] == ""
    numbers = [r["gis_number"] for r in rows]
    assert len(set(numbers)) == len(numbers)
    with registry.connect() as db:
        db.execute("UPDATE consumption_norms SET value = 5.0 WHERE resource = 'cold_water'")
    seed_demo_settings(registry, seeded.building_id, date(2026, 1, 15))  # the demo started again
    again = registry.all("SELECT m.gis_number FROM meters m LEFT JOIN premises p ON p.id = m.premise_id "
                         "WHERE m.building_id = ? ORDER BY m.role, CAST(p.number AS INTEGER)", seeded.building_id)
    assert [r["gis_number"] for r in again] == numbers
    norms = {r["resource"]: r["value"] for r in registry.all("SELECT resource, value FROM consumption_norms "
                                                              "WHERE building_id IS NULL")}
    assert norms == {"cold_water": 5.0, "hot_water": 3.5, "heat": 0.0198}
