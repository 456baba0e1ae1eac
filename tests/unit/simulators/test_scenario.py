"""Scenario files and the plan derived from them (simulators/scenario.py): the built-in demo,
load errors that name the key, and a reproducible plan with unique serials and devEUIs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from protocol.settings import ConfigError
from simulators.scenario import SCENARIO_DIR, BuildingSpec, Scenario, load, load_fleet, plan

GOOD = """
seed = 5
speed = 600
start = "2025-01-10T00:00"

[building]
site = "kzn-1"
address = "г. Казань, ул. Тестовая, д. 1"
apartments = 4
"""


def _write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _load_error(tmp_path: Path, text: str) -> ConfigError:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.source == str(path)
    return info.value


def test_demo_scenario() -> None:
    demo = load("demo")
    assert demo.name == "demo"
    assert (demo.seed, demo.speed, demo.start) == (42, 1440.0, "auto")
    assert demo.building.site == "demo"
    assert demo.building.time_zone == "Europe/Moscow"
    assert demo.building.apartments == 13
    assert demo.building.unregistered_meters == 1  # apartment 13's meter waits for an engineer
    assert (demo.building.heat_meter_serial, demo.building.heat_meter_unit) == ("30700101", 1)
    assert (demo.building.common_share, demo.building.loss_share) == (0.12, 0.02)
    assert load(SCENARIO_DIR / "demo.toml") == demo


def test_load_by_path_takes_the_name_from_the_file(tmp_path: Path) -> None:
    scenario = load(_write(tmp_path, GOOD, "kazan.toml"))
    assert scenario.name == "kazan"
    assert scenario.building == BuildingSpec(site="kzn-1", address="г. Казань, ул. Тестовая, д. 1", apartments=4)
    assert scenario.speed == 600.0
    assert isinstance(scenario.speed, float)


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    err = _load_error(tmp_path, GOOD.replace("apartments = 4", "apartmnets = 4"))
    assert err.key == "building.apartmnets"
    assert "did you mean 'apartments'" in err.reason


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = _load_error(tmp_path, "sped = 10\n" + GOOD)
    assert err.key == "sped"
    assert "did you mean 'speed'" in err.reason


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("speed = 600", 'speed = "fast"', "speed"),
        ("seed = 5", "seed = 5.5", "seed"),
        ("apartments = 4", 'apartments = "4"', "building.apartments"),
        ('site = "kzn-1"', "site = 1", "building.site"),
    ],
)
def test_wrong_type_names_the_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    err = _load_error(tmp_path, GOOD.replace(old, new))
    assert err.key == key
    assert "expected" in err.reason


def test_missing_building_table(tmp_path: Path) -> None:
    err = _load_error(tmp_path, "seed = 1\n")
    assert err.key == "building"
    assert "missing" in err.reason


def test_missing_building_site(tmp_path: Path) -> None:
    err = _load_error(tmp_path, GOOD.replace('site = "kzn-1"\n', ""))
    assert err.key == "building.site"
    assert "missing" in err.reason


@pytest.mark.parametrize(
    ("old", "new", "key", "mentions"),
    [
        ('site = "kzn-1"', 'site = "Kazan 1"', "building", "site id 'Kazan 1'"),
        ("apartments = 4", "apartments = 0", "building", "apartments"),
        ("apartments = 4", "apartments = 4\ncommon_share = 1.5", "building", "common_share"),
        ("apartments = 4", 'apartments = 4\nheat_meter_serial = "KARAT-1"', "building", "heat_meter_serial"),
        ("apartments = 4", 'apartments = 4\nheat_meter_serial = "4294967296"', "building", "heat_meter_serial"),
        ("apartments = 4", "apartments = 4\nheat_meter_unit = 0", "building", "heat_meter_unit"),
        ("speed = 600", "speed = 0", "(top)", "speed"),
        ('start = "2025-01-10T00:00"', 'start = "yesterday"', "(top)", "start"),
        ("seed = 5", 'lora_application_id = "not-a-uuid"', "(top)", "lora_application_id"),
    ],
)
def test_value_checks_name_the_table_and_the_key(tmp_path: Path, old: str, new: str, key: str, mentions: str) -> None:
    err = _load_error(tmp_path, GOOD.replace(old, new))
    assert err.key == key
    assert mentions in err.reason


def test_toml_syntax_error(tmp_path: Path) -> None:
    err = _load_error(tmp_path, GOOD.replace("speed = 600", "speed = = 600"))
    assert err.key == "(syntax)"
    assert "line" in err.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "absent.toml")
    assert info.value.key == "(file)"
    with pytest.raises(ConfigError):
        load("no-such-built-in-scenario")


def _scenario(seed: int = 5, apartments: int = 12, site: str = "kzn-1") -> Scenario:
    return Scenario(BuildingSpec(site=site, address="x", apartments=apartments), seed=seed)


def test_plan_is_reproducible() -> None:
    assert plan(_scenario()) == plan(_scenario())
    assert plan(load("demo")) == plan(load("demo"))


def test_plan_depends_on_seed_and_site() -> None:
    base = plan(_scenario())
    assert [a.area_m2 for a in plan(_scenario(seed=6)).apartments] != [a.area_m2 for a in base.apartments]
    assert [a.area_m2 for a in plan(_scenario(site="kzn-2")).apartments] != [a.area_m2 for a in base.apartments]


@pytest.mark.parametrize("apartments", [1, 12, 2000])
def test_plan_apartments_are_unique_and_well_formed(apartments: int) -> None:
    building = plan(_scenario(seed=42, apartments=apartments))
    assert len(building.apartments) == apartments
    serials = [a.meter_serial for a in building.apartments]
    euis = [a.dev_eui for a in building.apartments]
    numbers = [a.number for a in building.apartments]
    assert len(set(serials)) == len(set(euis)) == len(set(numbers)) == apartments
    assert building.spec.heat_meter_serial not in serials
    for a in building.apartments:
        assert re.fullmatch(r"223\d{6}", a.meter_serial), a.meter_serial
        assert re.fullmatch(r"[0-9a-f]{16}", a.dev_eui), a.dev_eui
        assert 32.0 <= a.area_m2 <= 96.0
        assert 1 <= a.residents <= 5
    assert building.residents == sum(a.residents for a in building.apartments)
    assert building.total_area_m2 == round(sum(a.area_m2 for a in building.apartments), 1)


FLEET = """
seed = 40
start = "2025-01-10T00:00"

[[buildings]]
count = 3
site = "row"
address = "г. Казань, ул. Тестовая, д. 2"
apartments = 2

[[buildings]]
site = "tower"
address = "г. Казань, ул. Тестовая, д. 4"
apartments = 5
heat_meter_serial = "30799001"
"""


def test_a_fleet_file_expands_its_groups(tmp_path: Path) -> None:
    fleet = load_fleet(_write(tmp_path, FLEET, "street.toml"))
    assert fleet.name == "street"
    assert [(s.seed, s.building.site, s.building.heat_meter_serial) for s in fleet.scenarios] == [
        (40, "row-1", "30740001"), (41, "row-2", "30741001"), (42, "row-3", "30742001"), (43, "tower", "30799001")]
    assert fleet.scenarios[1].building.address == "г. Казань, ул. Тестовая, д. 2, корп. 2"
    assert fleet.scenarios[3].building.address == "г. Казань, ул. Тестовая, д. 4"
    assert {s.start for s in fleet.scenarios} == {"2025-01-10T00:00"}
    assert {s.name for s in fleet.scenarios} == {"street"}
    serials = [a.meter_serial for s in fleet.scenarios for a in plan(s).apartments]
    assert len(serials) == len(set(serials)) == 3 * 2 + 5
    assert load_fleet(_write(tmp_path, FLEET, "street.toml")) == fleet  # reproducible
    assert [s.speed for s in fleet.with_speed(60).scenarios] == [60.0] * 4
    assert {s.weather for s in fleet.scenarios} == {40}  # one weather station for the street
    weather = load_fleet(_write(tmp_path, "weather_seed = 3\n" + FLEET, "street.toml"))
    assert {s.weather for s in weather.scenarios} == {3}
    assert [s.seed for s in weather.scenarios] == [40, 41, 42, 43]


def test_one_building_files_are_fleets_of_one() -> None:
    assert load_fleet("demo").scenarios == (load("demo"),)
    assert [s.building.site for s in load_fleet("fleet").scenarios] == ["zarechnaya-1", "zarechnaya-2", "lenina-12"]


@pytest.mark.parametrize(
    ("old", "new", "key", "mentions"),
    [
        ("count = 3", "count = 0", "buildings[0].count", "1..100"),
        ("count = 3", "count = 101", "buildings[0].count", "1..100"),
        ("count = 3", 'count = 3\nheat_meter_serial = "1"', "buildings[0].heat_meter_serial", "count > 1"),
        ("count = 3", "count = 3\napartmens = 2", "buildings[0].apartmens", "did you mean 'apartments'"),
        ('site = "tower"', 'site = "row-2"', "buildings[1].site", "also in buildings[0]"),
        ("count = 3", "count = 100", "buildings", "at most 100"),
        ("seed = 40", 'seed = 40\n[building]\nsite = "x"\naddress = "y"', "building", "not both"),
        ("apartments = 5", "apartments = 0", "buildings[1]", "apartments"),
    ],
)
def test_fleet_errors_name_the_group_and_the_key(tmp_path: Path, old: str, new: str, key: str,
                                                 mentions: str) -> None:
    path = _write(tmp_path, FLEET.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_fleet(path)
    assert info.value.key == key
    assert mentions in info.value.reason


def test_load_refuses_a_fleet_of_several(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, FLEET))
    assert info.value.key == "buildings"
    assert "a fleet of 4 buildings" in info.value.reason
    one = FLEET.split("[[buildings]]")[0] + "[[buildings]]" + FLEET.split("[[buildings]]")[2]
    assert load(_write(tmp_path, one)).building.site == "tower"


def test_unregistered_meters_cannot_exceed_the_apartments() -> None:
    BuildingSpec(site="s", address="a", apartments=3, unregistered_meters=3)
    with pytest.raises(ValueError, match=r"unregistered_meters must be 0\.\.apartments"):
        BuildingSpec(site="s", address="a", apartments=3, unregistered_meters=4)
