"""What data a company has, for the menu and the start page (manual 2.3, 3.3): counts over a real
registry, each case built by hand — a company with nothing, a building with three meters (one heat
meter at the building, two apartment meters on LoRaWAN), meters taken out of service or not yet
commissioned, and another company's building that must never be counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.services.auth import AuthService
from cloud.services.navigation import NavigationService
from cloud.storage.registry import Registry
from protocol.vocabulary import Resource

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _building(registry: Registry, company: int, address: str, lora: bool) -> int:
    communicator = "LoRaWAN 0000000000000001" if lora else "Modbus TCP 127.0.0.1:5020 #2"
    return seed_building(registry, company, BuildingSeed(
        site=address, address=address, city="Казань", time_zone="Europe/Moscow", heat_meter_serial=f"307{address}",
        heat_meter_model="KARAT-307", heat_meter_communicator="Modbus TCP 127.0.0.1:5020 #1",
        premises=(PremiseSeed("1", 50.0, 2, f"223{address}1", "KARAT-Compact-2-223", communicator),
                  PremiseSeed("2", 70.0, 3, f"223{address}2", "KARAT-Compact-2-223", communicator))))


async def test_counts_follow_the_registry_and_the_company(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    company = seed_company(registry, "УК Тест", "Казань", (UserSeed("disp", "Д", "dispatcher", "disp-pass"),))
    other = seed_company(registry, "УК Чужая", "Казань", (UserSeed("stranger", "Ч", "dispatcher", "x-pass"),))
    auth = AuthService(registry)
    nav = NavigationService(registry, auth, clock=lambda: NOW)
    token = (await auth.login("disp", "disp-pass")).token

    empty = await nav.facts(token)
    assert empty.empty
    assert (empty.buildings, empty.premises, empty.meters, empty.in_service, empty.lora) == (0, 0, 0, 0, False)
    assert empty.resources == frozenset()

    _building(registry, other, "O", lora=True)  # another company's: not counted below
    _building(registry, company, "A", lora=False)
    facts = await nav.facts(token)
    # one building, premises 1 and 2, three meters (the building's 307 and one 223 per apartment); the
    # seed records no lifecycle dates, so all three stand "in_service"; no LoRaWAN here. The KARAT-307 has
    # channels of heat (1), hot water (2) and cold water (3); so has the Compact-2-223 (heat and two pulse
    # inputs for water)
    assert (facts.buildings, facts.premises, facts.meters, facts.in_service, facts.lora) == (1, 2, 3, 3, False)
    assert facts.resources == frozenset({Resource.HEAT, Resource.HOT_WATER, Resource.COLD_WATER})
    assert not facts.empty

    with registry.connect() as db:
        # apartment 1's meter left service yesterday; apartment 2's is commissioned only tomorrow
        db.execute("UPDATE meters SET decommissioned_at = ? WHERE serial = '223A1'",
                   ((NOW - timedelta(days=1)).isoformat(),))
        db.execute("UPDATE meters SET commissioned_at = ? WHERE serial = '223A2'",
                   ((NOW + timedelta(days=1)).astimezone().isoformat(),))  # any offset: compared as instants
    facts = await nav.facts(token)
    # meters not decommissioned: 307A and 223A2 = 2; in service now: only 307A = 1
    assert (facts.meters, facts.in_service) == (2, 1)

    with registry.connect() as db:  # a legacy row: decommissioned long ago with no date recorded
        db.execute("UPDATE meters SET status = 'decommissioned' WHERE serial = '307A'")
    facts = await nav.facts(token)
    assert (facts.meters, facts.in_service) == (1, 0)
    assert facts.resources == frozenset({Resource.HEAT, Resource.HOT_WATER, Resource.COLD_WATER})  # 223A2's
    with registry.connect() as db:
        db.execute("UPDATE meters SET decommissioned_at = ? WHERE serial = '223A2'",
                   ((NOW - timedelta(hours=1)).isoformat(),))
    facts = await nav.facts(token)
    assert (facts.meters, facts.in_service, facts.resources) == (0, 0, frozenset())

    _building(registry, company, "B", lora=True)
    facts = await nav.facts(token)
    # building B adds 3 meters in service and LoRaWAN apartments: meters 0 + 3, in service 0 + 3
    assert (facts.buildings, facts.premises, facts.meters, facts.in_service, facts.lora) == (2, 4, 3, 3, True)
