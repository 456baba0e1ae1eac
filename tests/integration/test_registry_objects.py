"""Registry migration 3 and the services over it, on a real SQLite registry: cities, edge sites,
building details, meter passports and communicators. Every write is refused for a reader and,
on company A's objects, for company B's users; every accepted write leaves an audit entry."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.services.auth import AuthService
from cloud.services.buildings import BuildingsService
from cloud.services.cities import CitiesService
from cloud.services.communicators import CommunicatorSpec, CommunicatorsService
from cloud.services.models import Forbidden, InvalidInput, NotFound
from cloud.services.sites import SitesService
from cloud.services.users import UsersService
from cloud.storage.registry import MIGRATIONS, Registry
from tests.cloud_data import USERS

LORA = CommunicatorSpec("lora", "builtin", dev_eui="70-B3-D5-E7-5E-2A-00-01", lora_class="A", lorawan_version="1.0.2")
TCP = CommunicatorSpec("tcp", "external", serial="MOXA-1", host="10.0.0.5", port=502)


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.registry = Registry(tmp_path / "registry.db")
        a = seed_company(self.registry, "УК Тест", "Казань", USERS)
        b = seed_company(self.registry, "УК Чужая", "Самара", (
            UserSeed("stranger", "Чужой", "dispatcher", "x-pass-long"),
            UserSeed("stranger-admin", "Чужой админ", "administrator", "x-pass-long")))
        self.building = seed_building(self.registry, a, BuildingSeed(
            "test", "ул. Тестовая, 1", "Казань", "Europe/Moscow", "307T0001", "KARAT-307", "Modbus TCP",
            (PremiseSeed("1", 50.0, 2, "223T0001", "KARAT-Compact-2-223", "LoRaWAN 1"),)))
        self.other_building = seed_building(self.registry, b, BuildingSeed(
            "other", "ул. Чужая, 2", "Самара", "Europe/Samara", "307X0001", "KARAT-307", "Modbus TCP", ()))
        self.meters = [r[0] for r in self.registry.all("SELECT id FROM meters WHERE company_id = ? ORDER BY id", a)]
        self.auth = AuthService(self.registry)
        self.tokens = {login: self.auth.login_sync(login, pw).token for login, pw in (
            ("admin", "admin-pass"), ("disp", "disp-pass"), ("reader", "reader-pass"),
            ("stranger", "x-pass-long"), ("stranger-admin", "x-pass-long"))}
        self.cities = CitiesService(self.registry, self.auth)
        self.sites = SitesService(self.registry, self.auth)
        self.buildings = BuildingsService(self.registry, self.auth)
        self.communicators = CommunicatorsService(self.registry, self.auth)
        self.users = UsersService(self.registry, self.auth)

    def audit(self) -> list[tuple[str, str]]:
        return [(r["action"], r["object"]) for r in self.registry.all("SELECT * FROM audit_log ORDER BY id")]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_migration_3_upgrades_a_version_2_registry(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
    for version, ddl in MIGRATIONS:
        if version <= 2:
            db.executescript(f"BEGIN;\n{ddl}\nINSERT INTO schema_migrations VALUES ({version});\nCOMMIT;")
    db.execute("INSERT INTO companies (name, city) VALUES ('УК', 'Казань')")
    db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
               "VALUES (1, 'old-site', 'ул. 1', 'Казань', 'Europe/Moscow', 100, 3)")
    db.close()
    registry = Registry(path)
    assert {r[0] for r in registry.all("SELECT version FROM schema_migrations")} >= {1, 2, 3}
    row = registry.one("SELECT b.city_id, c.name, c.time_zone, b.construction_unfinished FROM buildings b "
                       "JOIN cities c ON c.id = b.city_id")
    assert tuple(row) == (1, "Казань", "Europe/Moscow", 0)
    assert [tuple(r) for r in registry.all("SELECT company_id, site FROM edge_sites")] == [(1, "old-site")]
    assert [tuple(r) for r in registry.all("SELECT * FROM company_cities")] == [(1, 1)]


async def test_cities_and_sites(world: World) -> None:
    admin, disp = world.tokens["admin"], world.tokens["disp"]
    assert [c.name for c in await world.cities.list(disp)] == ["Казань"]  # from the seeded company and building
    added = await world.cities.add(admin, "  Нижний   Новгород ", "Europe/Moscow")
    assert added.name == "Нижний Новгород"
    with pytest.raises(InvalidInput, match=r"^time_zone: unknown"):
        await world.cities.add(admin, "Атлантида", "Atlantis/Capital")
    kazan = next(c for c in await world.cities.list(admin) if c.name == "Казань")
    with pytest.raises(InvalidInput, match=r"^city_id: 1 building"):
        await world.cities.remove(admin, kazan.id)
    await world.cities.remove(admin, added.id)
    assert [c.name for c in await world.cities.list(disp)] == ["Казань"]
    assert [c.name for c in await world.cities.list(world.tokens["stranger"])] == ["Самара"]

    sites = await world.sites.list(disp)
    assert [(s.site, s.building_ids, s.meter_serials) for s in sites] == [
        ("test", (world.building,), ("223T0001", "307T0001"))]
    new = await world.sites.create(admin, "test-2", "Шлюз в подвале")
    with pytest.raises(InvalidInput, match=r"^site: 'test-2' is taken"):
        await world.sites.create(admin, "test-2", "ещё один")
    with pytest.raises(InvalidInput, match=r"^site: site id"):
        await world.sites.create(admin, "Bad Site", "x")
    moved = await world.sites.assign_building(admin, new.id, world.building)
    assert moved.building_ids == (world.building,)
    assert "307T0001" in moved.meter_serials
    assert world.registry.meter_serials_by_site()["test-2"] == {"223T0001", "307T0001"}  # the ingest's lookup
    assert (await world.sites.rename(admin, new.id, "Шлюз 2")).name == "Шлюз 2"
    assert world.audit()[-5:] == [("city.add", f"city:{added.id}"), ("city.remove", f"city:{added.id}"),
                                  ("site.create", "site:test-2"), ("building.site", f"building:{world.building}"),
                                  ("site.rename", "site:test-2")]


async def test_building_details_and_meter_passport(world: World) -> None:
    disp = world.tokens["disp"]
    city = await world.cities.add(world.tokens["admin"], "Зеленодольск", "Europe/Moscow")
    details = await world.buildings.update_building(disp, world.building, latitude=55.79, longitude=49.12,
                                                    construction_unfinished=True, city_id=city.id)
    assert (details.latitude, details.longitude, details.construction_unfinished, details.city) == (
        55.79, 49.12, True, "Зеленодольск")
    with pytest.raises(InvalidInput, match=r"^latitude: give latitude and longitude together"):
        await world.buildings.update_building(disp, world.building, latitude=1.0)
    with pytest.raises(InvalidInput, match=r"^latitude: -90 to 90"):
        await world.buildings.update_building(disp, world.building, latitude=91.0, longitude=0.0)
    other_city = world.registry.one("SELECT id FROM cities WHERE name = 'Самара'")[0]
    with pytest.raises(InvalidInput, match=r"^city_id: .* not a city of the company"):
        await world.buildings.update_building(disp, world.building, city_id=other_city)

    meter = world.meters[0]
    passport = await world.buildings.update_meter(disp, meter, barcode=" 4600000000017 ",
                                                  verified_on=date(2025, 3, 1),
                                                  next_verification_on=date(2031, 3, 1))
    assert (passport.barcode, passport.verified_on, passport.next_verification_on) == (
        "4600000000017", date(2025, 3, 1), date(2031, 3, 1))
    with pytest.raises(InvalidInput, match=r"^next_verification_on: must be after"):
        await world.buildings.update_meter(disp, meter, next_verification_on=date(2024, 1, 1))
    assert (await world.buildings.meter(world.tokens["reader"], meter)).barcode == "4600000000017"
    log = [e for e in await world.users.audit_log(world.tokens["admin"]) if e.action == "meter.update_passport"]
    assert log[0].before["barcode"] == ""
    assert log[0].after["verified_on"] == "2025-03-01"
    assert log[0].user_login == "disp"


async def test_communicators(world: World) -> None:
    disp = world.tokens["disp"]
    lora = await world.communicators.create(disp, LORA)
    assert lora.spec.dev_eui == "70b3d5e75e2a0001"
    assert lora.spec.host is None
    tcp = await world.communicators.create(disp, TCP)
    with pytest.raises(InvalidInput, match=r"^dev_eui: 70b3d5e75e2a0001 is registered"):
        await world.communicators.create(disp, LORA)
    for bad, field in ((CommunicatorSpec("tcp", "external", host="10.0.0.5", port=0), "port"),
                       (CommunicatorSpec("gprs", "builtin", imei="12345"), "imei"),
                       (CommunicatorSpec("lora", "builtin", dev_eui="0011", lora_class="A",
                                         lorawan_version="1.0.2"), "dev_eui"),
                       (CommunicatorSpec("lora", "builtin", dev_eui="0011223344556677", lora_class="D",
                                         lorawan_version="1.0.2"), "lora_class"),
                       (CommunicatorSpec("radio", "builtin"), "kind")):
        with pytest.raises(InvalidInput, match=f"^{field}: "):
            await world.communicators.create(disp, bad)
    gprs = await world.communicators.create(disp, CommunicatorSpec("gprs", "external", imei="356938035643809",
                                                                   phone="+79001234567"))
    assert gprs.spec.phone == "+79001234567"

    first, second = world.meters[:2]
    await world.communicators.attach(disp, first, lora.id)
    with pytest.raises(InvalidInput, match=r"^communicator_id: built-in communicator .* already serves meter"):
        await world.communicators.attach(disp, second, lora.id)
    await world.communicators.attach(disp, first, tcp.id)
    await world.communicators.attach(disp, second, tcp.id)  # an external one serves several meters
    assert (await world.communicators.get(world.tokens["reader"], tcp.id)).meter_ids == (first, second)
    with pytest.raises(InvalidInput, match=r"^placement: a built-in communicator serves one meter"):
        await world.communicators.update(disp, tcp.id, CommunicatorSpec("tcp", "builtin", host="h", port=1))
    moved = await world.communicators.update(disp, tcp.id, CommunicatorSpec("tcp", "external", host="moxa.local",
                                                                            port=4001))
    assert (moved.spec.host, moved.spec.port, moved.meter_ids) == ("moxa.local", 4001, (first, second))
    assert [c.id for c in await world.communicators.list(disp)] == [lora.id, tcp.id, gprs.id]
    assert await world.communicators.list(world.tokens["stranger"]) == []
    with pytest.raises(NotFound):
        await world.communicators.list(world.tokens["admin"])  # administrators: users and settings only
    actions = [a for a, _ in world.audit()]
    assert actions.count("communicator.create") == 3
    assert actions.count("meter.communicator") == 3
    assert actions[-1] == "communicator.update"


def _writes(w: World) -> list[tuple[str, str, object]]:
    """(name, the role the write needs, call(token)) for every write of these services on company A."""
    kazan = w.registry.one("SELECT id FROM cities WHERE name = 'Казань'")[0]
    site = w.registry.one("SELECT id FROM edge_sites WHERE site = 'test'")[0]
    comm = w.registry.write("INSERT INTO communicators (company_id, kind, placement, host, port) "
                            "VALUES (1, 'tcp', 'external', 'h', 1) RETURNING id")[0][0]
    meter = w.meters[0]
    return [
        ("city.add", "admin", lambda t: w.cities.add(t, "Казань", "Europe/Moscow")),
        ("city.remove", "admin", lambda t: w.cities.remove(t, kazan)),
        ("site.create", "admin", lambda t: w.sites.create(t, "fresh", "x")),
        ("site.rename", "admin", lambda t: w.sites.rename(t, site, "x")),
        ("site.assign", "admin", lambda t: w.sites.assign_building(t, site, w.building)),
        ("building.update", "writer", lambda t: w.buildings.update_building(t, w.building,
                                                                            construction_unfinished=True)),
        ("meter.passport", "writer", lambda t: w.buildings.update_meter(t, meter, barcode="x")),
        ("communicator.create", "writer", lambda t: w.communicators.create(t, TCP)),
        ("communicator.update", "writer", lambda t: w.communicators.update(t, comm, TCP)),
        ("communicator.attach", "writer", lambda t: w.communicators.attach(t, meter, comm)),
    ]


async def test_every_write_is_refused_to_readers_and_other_companies(world: World) -> None:
    before = world.audit()
    for name, needs, call in _writes(world):
        with pytest.raises(Forbidden):
            await call(world.tokens["reader"])  # type: ignore[operator]
        wrong_role = world.tokens["disp"] if needs == "admin" else world.tokens["admin"]
        with pytest.raises(Forbidden):
            await call(wrong_role)  # type: ignore[operator]
        stranger = world.tokens["stranger-admin" if needs == "admin" else "stranger"]
        if name in ("city.add", "site.create", "communicator.create"):
            continue  # these name no object of company A: a stranger adds to their own company
        with pytest.raises(NotFound):
            await call(stranger)  # type: ignore[operator]
    assert world.audit() == before  # nothing refused was logged (nor done)
    with pytest.raises(NotFound):
        await world.buildings.building(world.tokens["stranger"], world.building)
    with pytest.raises(NotFound):
        await world.buildings.meter(world.tokens["stranger"], world.meters[0])
