"""Registry migration 5 and the registry's write services over a real SQLite registry: companies,
buildings, premises and meters with their lifecycle as dated periods (DESIGN.md section 5). A
replacement ends the old meter and starts the new one at the same hour, keeping the old row;
every write is refused to readers and to other companies, and every accepted one is audit-logged."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.services.auth import AuthService
from cloud.services.buildings import BuildingsService
from cloud.services.cities import CitiesService
from cloud.services.companies import CompaniesService, create_company
from cloud.services.meters_admin import MetersService
from cloud.services.models import Forbidden, InvalidInput, NotFound, meter_status, parse_lifecycle
from cloud.services.premises_admin import PremisesService
from cloud.services.sites import SitesService
from cloud.storage.registry import MIGRATIONS, Registry
from tests.cloud_data import USERS

NOW = datetime(2026, 3, 1, tzinfo=UTC)  # the services' clock
MSK = timezone(timedelta(hours=3))


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.registry = Registry(tmp_path / "registry.db")
        self.company = seed_company(self.registry, "УК Тест", "Казань",
                                    (*USERS, UserSeed("eng", "Инженер Тест", "engineer", "eng-pass")))
        other = seed_company(self.registry, "УК Чужая", "Самара", (
            UserSeed("stranger", "Чужой", "dispatcher", "x-pass"),
            UserSeed("stranger-eng", "Чужой инженер", "engineer", "x-pass"),
            UserSeed("stranger-admin", "Чужой админ", "administrator", "x-pass")))
        self.building = seed_building(self.registry, self.company, BuildingSeed(
            "test", "ул. Тестовая, 1", "Казань", "Europe/Moscow", "307T0001", "KARAT-307", "Modbus TCP 10.0.0.1:502",
            (PremiseSeed("1", 50.0, 2, "223T0001", "KARAT-Compact-2-223", "LoRaWAN 0000000000000001"),)))
        self.other_building = seed_building(self.registry, other, BuildingSeed(
            "other", "ул. Чужая, 2", "Самара", "Europe/Samara", "307X0001", "KARAT-307", "Modbus TCP", ()))
        self.premise = self.registry.one("SELECT id FROM premises WHERE building_id = ?", self.building)[0]
        self.apartment_meter = self.registry.one("SELECT id FROM meters WHERE serial = '223T0001'")[0]
        self.auth = AuthService(self.registry)
        self.tokens = {login: self.auth.login_sync(login, pw).token for login, pw in (
            ("admin", "admin-pass"), ("disp", "disp-pass"), ("reader", "reader-pass"), ("eng", "eng-pass"),
            ("stranger", "x-pass"), ("stranger-eng", "x-pass"), ("stranger-admin", "x-pass"))}
        self.companies = CompaniesService(self.registry, self.auth)
        self.cities = CitiesService(self.registry, self.auth)
        self.sites = SitesService(self.registry, self.auth)
        self.buildings = BuildingsService(self.registry, self.auth)
        self.premises = PremisesService(self.registry, self.auth)
        self.meters = MetersService(self.registry, self.auth, clock=lambda: NOW)

    def audit(self) -> list[tuple[str, str]]:
        return [(r["action"], r["object"]) for r in self.registry.all("SELECT * FROM audit_log ORDER BY id")]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


# --- migration 5 and the lifecycle rule ------------------------------------------------------------

def test_migration_5_upgrades_a_version_4_registry(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
    for version, ddl in MIGRATIONS:
        if version <= 4:
            db.executescript(f"BEGIN;\n{ddl}\nINSERT INTO schema_migrations VALUES ({version});\nCOMMIT;")
    db.execute("INSERT INTO companies (name, city) VALUES ('УК', 'Казань')")
    db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
               "VALUES (1, 's', 'ул. 1', 'Казань', 'Europe/Moscow', 100, 3)")
    for serial, status in (("A1", "in_service"), ("A2", "decommissioned")):
        db.execute("INSERT INTO meters (company_id, building_id, serial, model, role, communicator, archives, status) "
                   "VALUES (1, 1, ?, 'KARAT-307', 'common', '', 'hour, integral', ?)", (serial, status))
    db.execute("INSERT INTO meter_channels VALUES (1, 1, 'heat', 'Q')")
    db.close()
    registry = Registry(path)
    assert {r[0] for r in registry.all("SELECT version FROM schema_migrations")} >= {5}
    rows = registry.all("SELECT * FROM meters ORDER BY id")
    for row in rows:  # the defaults: unknown dates, reporting day 1, no transformer, no tariffs, nothing linked
        assert parse_lifecycle(row) == {
            "installed_on": None, "commissioned_at": None, "decommissioned_at": None, "reporting_day": 1,
            "ct_ratio": 1.0, "phase": None, "tariffs": 0, "replaces_meter_id": None, "initial_readings": {},
            "final_readings": {}}
    # the old decommissioning keeps its status; its date was never recorded and stays unknown
    assert [(r["serial"], r["status"], r["decommissioned_at"]) for r in rows] == [
        ("A1", "in_service", None), ("A2", "decommissioned", None)]
    assert [meter_status(None, None, NOW, r["status"]) for r in rows] == ["in_service", "decommissioned"]
    assert registry.one("SELECT tariff FROM meter_channels")[0] is None
    with pytest.raises(sqlite3.IntegrityError):  # the checks of the new columns hold
        with registry.connect() as db:
            db.execute("UPDATE meters SET reporting_day = 29 WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError):
        with registry.connect() as db:
            db.execute("UPDATE meters SET ct_ratio = 0 WHERE id = 1")


def test_status_follows_the_dates() -> None:
    start, end = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC)
    assert meter_status(start, end, start - timedelta(hours=1)) == "commissioning"
    assert meter_status(start, end, start) == "in_service"  # the commissioning hour is in service
    assert meter_status(start, end, end - timedelta(seconds=1)) == "in_service"
    assert meter_status(start, end, end) == "decommissioned"  # decommissioned_at is the first hour out
    assert meter_status(None, end, start) == "in_service"  # no commissioning date: since its first archive
    assert meter_status(None, None, start, "commissioning") == "commissioning"  # legacy: the stored flag


# --- companies -----------------------------------------------------------------------------------

async def test_companies(world: World) -> None:
    admin = world.tokens["admin"]
    assert (await world.companies.get(world.tokens["reader"])).name == "УК Тест"
    city = await world.cities.add(admin, "Зеленодольск", "Europe/Moscow")
    changed = await world.companies.update(admin, name="  УК  Тест-2 ", city_id=city.id)
    assert (changed.name, changed.city, changed.city_id) == ("УК Тест-2", "Зеленодольск", city.id)
    samara = world.registry.one("SELECT id FROM cities WHERE name = 'Самара'")[0]
    with pytest.raises(InvalidInput, match=r"^city_id: .* not a city of the company"):
        await world.companies.update(admin, city_id=samara)
    with pytest.raises(InvalidInput, match=r"^name: a company named 'УК Чужая' exists"):
        await world.companies.update(admin, name="УК Чужая")
    with pytest.raises(InvalidInput, match=r"^name: 1 to 200"):
        await world.companies.update(admin, name="   ")
    for token in (world.tokens["disp"], world.tokens["reader"]):  # company settings are the administrator's
        with pytest.raises(Forbidden):
            await world.companies.update(token, name="x")
    assert world.audit()[-1] == ("company.update", f"company:{world.company}")

    created = create_company(world.registry, "УК Новая", "Тверь")  # a platform operation: no user
    assert (created.name, created.city) == ("УК Новая", "Тверь")
    assert world.registry.one("SELECT time_zone FROM cities WHERE name = 'Тверь'")[0] == "Europe/Moscow"
    entry = world.registry.one("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1")
    assert (entry["company_id"], entry["user_id"], entry["action"]) == (created.id, None, "company.create")
    with pytest.raises(InvalidInput, match=r"^name: a company named 'УК Новая' exists"):
        create_company(world.registry, "УК Новая", "Тверь")
    with pytest.raises(InvalidInput, match=r"^time_zone: unknown"):
        create_company(world.registry, "УК Третья", "Тверь", "Mars/Olympus")


# --- buildings and premises ------------------------------------------------------------------------

async def test_buildings(world: World) -> None:
    disp, admin = world.tokens["disp"], world.tokens["admin"]
    izhevsk = await world.cities.add(admin, "Ижевск", "Europe/Samara")
    kazan = world.registry.one("SELECT id FROM cities WHERE name = 'Казань'")[0]
    site = {"address": "ул. Новая,   5", "city_id": izhevsk.id, "area_m2": 1200.5, "residents": 40, "site": "test"}
    built = await world.buildings.create_building(disp, **site)
    # the time zone is the city's: Izhevsk keeps Samara time (UTC+4), not the company's Moscow time
    assert (built.address, built.city, built.time_zone, built.area_m2, built.residents, built.site) == (
        "ул. Новая, 5", "Ижевск", "Europe/Samara", 1200.5, 40, "test")
    for bad, pattern in (({"address": "ул. Новая, 5"}, r"^address: the company has a building"),
                         ({"area_m2": 0}, r"^area_m2: square metres > 0"),
                         ({"residents": -1}, r"^residents: a whole number >= 0"),
                         ({"site": "other"}, r"^site: 'other' is not an edge site of the company"),
                         ({"city_id": 999}, r"^city_id: 999 is not a city")):
        with pytest.raises(InvalidInput, match=pattern):
            await world.buildings.create_building(disp, **{**site, "address": "ул. Другая, 1", **bad})
    changed = await world.buildings.update_building(disp, built.id, address="ул. Новая, 5а", area_m2=1300.0,
                                                    residents=41, city_id=kazan)
    assert (changed.address, changed.area_m2, changed.residents, changed.time_zone) == (
        "ул. Новая, 5а", 1300.0, 41, "Europe/Moscow")  # the new city's time zone
    with pytest.raises(InvalidInput, match=r"^address: the company has a building at 'ул. Тестовая, 1'"):
        await world.buildings.update_building(disp, built.id, address="ул. Тестовая, 1")
    with pytest.raises(InvalidInput, match=r"^building_id: .* has 2 meter\(s\) registered"):
        await world.buildings.delete_building(disp, world.building)
    await world.premises.create(disp, built.id, number="1", area_m2=40.0, residents=1)
    await world.buildings.delete_building(disp, built.id)  # no meters: it goes, with its premises
    with pytest.raises(NotFound):
        await world.buildings.building(disp, built.id)
    assert world.registry.one("SELECT count(*) FROM premises WHERE building_id = ?", built.id)[0] == 0
    assert [a for a, o in world.audit() if o == f"building:{built.id}"] == [
        "building.create", "building.update", "building.delete"]


async def test_premises(world: World) -> None:
    disp = world.tokens["disp"]
    office = await world.premises.create(disp, world.building, number=" Офис 1 ", kind="nonresidential",
                                         area_m2=80.0, residents=0, account="ЛС-77")
    assert (office.number, office.kind, office.area_m2, office.residents, office.account) == (
        "Офис 1", "nonresidential", 80.0, 0, "ЛС-77")
    for bad, pattern in (({"number": "1"}, r"^number: building .* has a premise '1'"),
                         ({"kind": "garage"}, r"^kind: one of apartment, nonresidential"),
                         ({"area_m2": -5.0}, r"^area_m2: square metres > 0"),
                         ({"residents": 1.5}, r"^residents: a whole number")):
        with pytest.raises(InvalidInput, match=pattern):
            await world.premises.create(disp, world.building, **{"number": "2", "area_m2": 50.0, "residents": 1,
                                                                 **bad})
    with pytest.raises(NotFound):
        await world.premises.create(disp, world.other_building, number="9", area_m2=50.0, residents=1)
    changed = await world.premises.update(disp, office.id, area_m2=85.5, residents=2)
    assert (changed.area_m2, changed.residents, changed.number) == (85.5, 2, "Офис 1")
    with pytest.raises(InvalidInput, match=r"^number: building .* has a premise '1'"):
        await world.premises.update(disp, office.id, number="1")
    with pytest.raises(InvalidInput, match=r"^premise_id: premise 1 has 1 meter"):
        await world.premises.delete(disp, world.premise)
    await world.premises.delete(disp, office.id)
    assert [a for a, o in world.audit() if o == f"premise:{office.id}"] == [
        "premise.create", "premise.update", "premise.delete"]


# --- meters ----------------------------------------------------------------------------------------

async def test_meter_registration_from_the_catalogue(world: World) -> None:
    disp = world.tokens["disp"]
    electricity = await world.meters.create(
        disp, building_id=world.building, serial="941E0001", model="KARAT-941LW", role="individual",
        premise_id=world.premise, communicator="LoRaWAN 00000000000000e1", tariffs=2, ct_ratio=40, phase="B",
        reporting_day=25, installed_on=date(2026, 1, 31), commissioned_at=datetime(2026, 2, 1, 0, tzinfo=MSK),
        initial_readings={"1:E": 1200.5, "2:E": 800.25, "3:E": 400.25})
    # a 941LW with 2 tariff zones: channel 1 the total, 2 and 3 the zones T1, T2 (protocol/catalogue.py)
    assert [(c.number, c.resource.value, c.parameters, c.tariff) for c in electricity.channels] == [
        (1, "electricity", ("E",), "total"), (2, "electricity", ("E",), "T1"), (3, "electricity", ("E",), "T2")]
    assert (electricity.tariffs, electricity.ct_ratio, electricity.phase, electricity.reporting_day) == (
        2, 40.0, "B", 25)
    # 2026-02-01 00:00 in Moscow (UTC+3) is 2026-01-31 21:00 UTC
    assert electricity.commissioned_at == datetime(2026, 1, 31, 21, tzinfo=UTC)
    assert world.registry.one("SELECT commissioned_at FROM meters WHERE id = ?", electricity.id)[0] == (
        "2026-01-31T21:00:00+00:00")
    assert (electricity.status, electricity.installed_on, electricity.premise_number) == (
        "in_service", date(2026, 1, 31), "1")
    assert electricity.archives == "hour, day, month, integral"  # every archive the model keeps, by default
    pulse = await world.meters.create(disp, building_id=world.building, serial="927P0001", model="KARAT-927LW",
                                      role="common", inputs=4, archive_kinds=["hour"],
                                      channel_resources={3: "cold_water"}, commissioned_at=NOW + timedelta(days=31))
    assert [(c.number, c.resource.value) for c in pulse.channels] == [
        (1, "hot_water"), (2, "cold_water"), (3, "cold_water"), (4, "cold_water")]
    assert (pulse.status, pulse.archives, pulse.tariffs) == ("commissioning", "hour, integral", 0)

    good = {"building_id": world.building, "serial": "X1", "model": "KARAT-926LW", "role": "common"}
    for bad, pattern in (({"reporting_day": 29}, r"^reporting_day: a day of month 1 to 28, got 29"),
                         ({"ct_ratio": 0}, r"^ct_ratio: a current-transformer ratio > 0"),
                         ({"ct_ratio": 5}, r"^ct_ratio: .* for electricity meters only"),
                         ({"phase": "A"}, r"^phase: a phase is for single-phase electricity"),
                         ({"model": "KARAT-999"}, r"^model: unknown meter model 'KARAT-999'"),
                         ({"tariffs": 2}, r"^tariffs: KARAT-926LW has no tariffs"),
                         ({"model": "KARAT-941LW", "tariffs": 5}, r"^tariffs: .* must be 1..4"),
                         ({"role": "individual"}, r"^premise_id: an individual meter needs a premise"),
                         ({"premise_id": world.premise}, r"^premise_id: a common \(building\) meter"),
                         ({"serial": "941E0001"}, r"^serial: meter \d+ of the company has serial '941E0001'"),
                         ({"serial": "bad serial"}, r"^serial: 1 to 32 letters"),
                         ({"archive_kinds": ["minute"]}, r"^archive_kinds: KARAT-926LW keeps no 'minute'"),
                         ({"channel_resources": {1: "heat"}}, r"^channel_resources: .* cannot measure heat"),
                         ({"commissioned_at": datetime(2026, 2, 1, 0, 30, tzinfo=UTC)},
                          r"^commissioned_at: must be the start of an hour"),
                         ({"commissioned_at": datetime(2026, 2, 1)}, r"^commissioned_at: needs a UTC offset"),
                         ({"initial_readings": {"1:V": 1.0}}, r"^initial_readings: give commissioned_at"),
                         ({"commissioned_at": NOW, "initial_readings": {"2:V": 1.0}},
                          r"^initial_readings: '2:V' is no counter of the meter; its counters are 1:V"),
                         ({"commissioned_at": NOW, "initial_readings": {"1:V": -1}},
                          r"^initial_readings: 1:V: a finite reading >= 0"),
                         ({"installed_on": date(2026, 3, 2), "commissioned_at": NOW},
                          r"^installed_on: 2026-03-02 is after the commissioning")):
        with pytest.raises(InvalidInput, match=pattern):
            await world.meters.create(disp, **{**good, **bad})
    # a premise of another building (here: of another company) is refused as a premise, not disclosed
    other_premise = world.registry.write("INSERT INTO premises (building_id, number, kind, area_m2, residents) "
                                         "VALUES (?, '5', 'apartment', 30, 1) RETURNING id", world.other_building)[0][0]
    with pytest.raises(InvalidInput, match=rf"^premise_id: building {world.building} has no premise {other_premise}"):
        await world.meters.create(disp, **{**good, "role": "individual", "premise_id": other_premise})
    with pytest.raises(NotFound):
        await world.meters.create(disp, **{**good, "building_id": world.other_building})
    channels = world.registry.all("SELECT tariff FROM meter_channels WHERE meter_id = ? ORDER BY number",
                                  electricity.id)
    assert [r[0] for r in channels] == ["total", "T1", "T2"]
    entry = world.registry.one("SELECT * FROM audit_log WHERE object = ?", f"meter:{electricity.id}")
    assert entry["action"] == "meter.create"
    assert json.loads(entry["after"])["initial_readings"] == {"1:E": 1200.5, "2:E": 800.25, "3:E": 400.25}


async def test_meter_editing(world: World) -> None:
    disp = world.tokens["disp"]
    meter = await world.meters.create(disp, building_id=world.building, serial="941E0002", model="KARAT-941LW",
                                      role="common", commissioned_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert [c.tariff for c in meter.channels] == ["total", "T1"]  # the catalogue's default: one zone
    edited = await world.meters.update(disp, meter.id, tariffs=3, ct_ratio=100, reporting_day=20,
                                       role="individual", premise_id=world.premise,
                                       initial_readings={"4:E": 10.0})
    assert [c.tariff for c in edited.channels] == ["total", "T1", "T2", "T3"]
    assert (edited.tariffs, edited.ct_ratio, edited.reporting_day, edited.role.value, edited.premise_id) == (
        3, 100.0, 20, "individual", world.premise)
    assert edited.initial_readings == {"4:E": 10.0}
    with pytest.raises(InvalidInput, match=r"^initial_readings: '4:E' is no counter"):  # 4 is gone with 1 zone
        await world.meters.update(disp, meter.id, tariffs=1)
    with pytest.raises(InvalidInput, match=r"^ct_ratio: .* for electricity meters only"):
        await world.meters.update(disp, meter.id, model="KARAT-926LW", initial_readings={})
    with pytest.raises(InvalidInput, match=r"^decommissioned_at: not a field that can be edited"):
        await world.meters.update(disp, meter.id, decommissioned_at=NOW)
    with pytest.raises(InvalidInput, match=r"^premise_id: an individual meter needs a premise"):
        await world.meters.update(disp, meter.id, premise_id=None)
    with pytest.raises(InvalidInput, match=r"^serial: meter \d+ of the company has serial '223T0001'"):
        await world.meters.update(disp, meter.id, serial="223T0001")
    unchanged = await world.meters.update(disp, meter.id, reporting_day=20)
    assert unchanged == edited
    assert [a for a, o in world.audit() if o == f"meter:{meter.id}"] == ["meter.create", "meter.update"]


async def test_replacement_keeps_the_old_meter_and_links_the_new(world: World) -> None:
    eng, old_id = world.tokens["eng"], world.apartment_meter
    await world.meters.update(world.tokens["disp"], old_id, commissioned_at=datetime(2026, 1, 10, tzinfo=MSK),
                              reporting_day=15)
    at = datetime(2026, 2, 9, 22, tzinfo=UTC)  # = 2026-02-10 01:00 in Moscow
    with pytest.raises(Forbidden, match="service engineer"):  # a service procedure (manual 2.3, 4.5.2)
        await world.meters.replace(world.tokens["disp"], old_id, new_serial="223T0009", at=at)
    with pytest.raises(InvalidInput, match=r"^at: must be the start of an hour"):
        await world.meters.replace(eng, old_id, new_serial="223T0009", at=at + timedelta(minutes=30))
    with pytest.raises(InvalidInput, match=r"^at: 2026-01-09T21:00:00\+00:00 is not after the commissioning"):
        await world.meters.replace(eng, old_id, new_serial="223T0009", at=datetime(2026, 1, 10, tzinfo=MSK))
    with pytest.raises(InvalidInput, match=r"^new_serial: meter \d+ of the company has serial '307T0001'"):
        await world.meters.replace(eng, old_id, new_serial="307T0001", at=at)
    with pytest.raises(InvalidInput, match=r"^old_final_readings: '1:E' is no counter"):
        await world.meters.replace(eng, old_id, new_serial="223T0009", at=at, old_final_readings={"1:E": 1.0})
    with pytest.raises(InvalidInput, match=r"^installed_on: 2026-02-11 is after the commissioning \(2026-02-10 local"):
        await world.meters.replace(eng, old_id, new_serial="223T0009", at=at, installed_on=date(2026, 2, 11))

    done = await world.meters.replace(eng, old_id, new_serial="223T0009", at=at,
                                      old_final_readings={"1:Q": 100.36, "2:V": 12.5},
                                      new_initial_readings={"1:Q": 0.2, "2:V": 0.0})
    old, new = done.old, done.new
    assert (old.id, old.serial, old.decommissioned_at, old.final_readings, old.status) == (
        old_id, "223T0001", at, {"1:Q": 100.36, "2:V": 12.5}, "decommissioned")
    assert old.commissioned_at == datetime(2026, 1, 9, 21, tzinfo=UTC)  # its start stays
    assert (new.serial, new.replaces_meter_id, new.commissioned_at, new.initial_readings, new.status) == (
        "223T0009", old_id, at, {"1:Q": 0.2, "2:V": 0.0}, "in_service")
    assert (new.building_id, new.premise_id, new.role, new.model, new.reporting_day) == (
        old.building_id, old.premise_id, old.role, old.model, 15)
    assert new.channels == old.channels
    assert new.installed_on == date(2026, 2, 10)  # the building's local date of `at`, not the UTC one
    # nothing of the old meter is deleted: both rows and both channel sets are there
    assert world.registry.one("SELECT count(*) FROM meters WHERE premise_id = ?", world.premise)[0] == 2
    assert world.registry.one("SELECT count(*) FROM meter_channels WHERE meter_id = ?", old_id)[0] == 3
    row = world.registry.one("SELECT status, decommissioned_at FROM meters WHERE id = ?", old_id)
    assert tuple(row) == ("decommissioned", "2026-02-09T22:00:00+00:00")
    assert await world.meters.get(world.tokens["reader"], old_id) == old

    with pytest.raises(InvalidInput, match=r"^meter_id: meter 223T0001 is decommissioned since 2026-02-09T22"):
        await world.meters.replace(eng, old_id, new_serial="223T0010", at=at + timedelta(hours=1))
    with pytest.raises(InvalidInput, match=r"^commissioned_at: meter 223T0009 replaced meter"):
        await world.meters.update(world.tokens["disp"], new.id, commissioned_at=at + timedelta(hours=1))
    assert world.audit()[-2:] == [("meter.replace", f"meter:{old_id}"), ("meter.create", f"meter:{new.id}")]
    entry = world.registry.one("SELECT after FROM audit_log WHERE action = 'meter.replace'")
    assert json.loads(entry[0])["replaced_by"] == new.id

    # a replacement by another model takes the catalogue's channels, keeping the old choices it allows
    water = await world.meters.replace(eng, new.id, new_serial="213T0001", new_model="KARAT-Compact-2-213",
                                       at=at + timedelta(days=1))
    assert [(c.number, c.resource.value) for c in water.new.channels] == [
        (1, "heat"), (2, "hot_water"), (3, "cold_water")]
    assert (water.new.model, water.new.replaces_meter_id) == ("KARAT-Compact-2-213", new.id)


async def test_decommissioning(world: World) -> None:
    eng, meter = world.tokens["eng"], world.apartment_meter
    at = datetime(2026, 2, 20, 9, tzinfo=MSK)
    with pytest.raises(InvalidInput, match=r"^final_readings: '1:T1' is no counter"):  # a temperature is no counter
        await world.meters.decommission(eng, meter, at, {"1:T1": 50.0})
    out = await world.meters.decommission(eng, meter, at, {"1:Q": 100.5})
    assert (out.decommissioned_at, out.final_readings, out.status) == (
        datetime(2026, 2, 20, 6, tzinfo=UTC), {"1:Q": 100.5}, "decommissioned")
    with pytest.raises(InvalidInput, match=r"^meter_id: meter 223T0001 is decommissioned"):
        await world.meters.decommission(eng, meter, at + timedelta(hours=1))
    assert world.registry.one("SELECT count(*) FROM meters WHERE id = ?", meter)[0] == 1  # nothing deleted
    assert world.audit()[-1] == ("meter.decommission", f"meter:{meter}")
    # a decommissioning planned past the services' clock leaves the meter in service until then
    later = await world.meters.decommission(eng, world.registry.one("SELECT id FROM meters WHERE serial = "
                                                                    "'307T0001'")[0], NOW + timedelta(days=1))
    assert later.status == "in_service"


def _writes(w: World) -> list[tuple[str, str, object]]:
    """(name, the role the write needs, call(token)) for every write of these services on company A."""
    at = datetime(2026, 2, 1, tzinfo=UTC)
    meter = w.apartment_meter
    return [
        ("company.update", "admin", lambda t: w.companies.update(t, name="x")),
        ("building.create", "writer", lambda t: w.buildings.create_building(
            t, address="ул. 9", city_id=1, area_m2=10.0, residents=1, site="test")),
        ("building.update", "writer", lambda t: w.buildings.update_building(t, w.building, residents=5)),
        ("building.delete", "writer", lambda t: w.buildings.delete_building(t, w.building)),
        ("premise.create", "writer", lambda t: w.premises.create(t, w.building, number="9", area_m2=1.0,
                                                                 residents=0)),
        ("premise.update", "writer", lambda t: w.premises.update(t, w.premise, residents=5)),
        ("premise.delete", "writer", lambda t: w.premises.delete(t, w.premise)),
        ("meter.create", "writer", lambda t: w.meters.create(t, building_id=w.building, serial="N1",
                                                             model="KARAT-307", role="common")),
        ("meter.update", "writer", lambda t: w.meters.update(t, meter, reporting_day=5)),
        ("meter.replace", "engineer", lambda t: w.meters.replace(t, meter, new_serial="N2", at=at)),
        ("meter.decommission", "engineer", lambda t: w.meters.decommission(t, meter, at)),
    ]


async def test_every_write_is_refused_to_readers_wrong_roles_and_other_companies(world: World) -> None:
    before = world.audit()
    wrong = {"admin": ("disp", "eng"), "writer": ("admin",), "engineer": ("admin", "disp")}
    stranger = {"admin": "stranger-admin", "writer": "stranger", "engineer": "stranger-eng"}
    for name, needs, call in _writes(world):
        for login in ("reader", *wrong[needs]):
            with pytest.raises(Forbidden):
                await call(world.tokens[login])  # type: ignore[operator]
        if name in ("company.update", "building.create"):
            continue  # these name no object of company A: a stranger acts on their own company
        with pytest.raises(NotFound):
            await call(world.tokens[stranger[needs]])  # type: ignore[operator]
    assert world.audit() == before  # nothing refused was logged (nor done)
    with pytest.raises(NotFound):
        await world.meters.get(world.tokens["stranger"], world.apartment_meter)
    with pytest.raises(NotFound):  # administrators: users and settings only
        await world.meters.get(world.tokens["admin"], world.apartment_meter)
