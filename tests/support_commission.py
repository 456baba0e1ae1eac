"""The simulated building of the commissioning end-to-end test (tests/ui/test_commission_e2e.py), set
up as `domuchet demo` sets up its own (domuchet/demo.py): one scenario is what the simulator runs,
what the registry is seeded with and what the edge polls. Two apartments; the second one's
KARAT-Compact-2-223 transmits but is unregistered (``unregistered_meters=1``) until an engineer
commissions it. Its history is in the devices' archives (``past="archives"``) and the simulator runs
at the wall clock, its radio devices answering a queued downlink within half a second."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from cloud.seed import UserSeed, seed_building, seed_company
from cloud.storage.registry import Registry
from domuchet import demo, settings
from edge.config import EdgeConfig, MeterConfig
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import ApartmentPlan, load
from tests.chaos.edge_support import edge_config

SITE = "commission-e2e"
ENGINEER = UserSeed("eng", "Инженер Пусконаладкин", "engineer", "eng-pass")
HISTORY_DAYS = 2  # whole local days before today in the devices' archives: today's midnight is well after
WAKEUP_S = 0.5  # as the demo's: a device with a downlink queued uplinks within half a second
SPEED = 86_400.0  # catch up with the wall clock at once, then keep to it


def building(tmp_path: Path, modbus_port: int, mqtt_port: int) -> SimulatedBuilding:
    s = load("demo")
    scenario = replace(s, speed=SPEED, past="archives", history_days=HISTORY_DAYS, lora_wakeup_s=WAKEUP_S,
                       building=replace(s.building, site=SITE, apartments=2, unregistered_meters=1,
                                        electricity_meters_941=0))
    return SimulatedBuilding(scenario, tmp_path / "sim", Endpoints(modbus_port=modbus_port, mqtt_port=mqtt_port))


def spare(sim: SimulatedBuilding) -> ApartmentPlan:
    """The apartment whose meter waits, unregistered, for the engineer."""
    registered = demo.registered(sim.scenario, sim.plan)
    (waiting,) = (a for a in sim.plan.apartments if a not in registered)
    return waiting


def sim_settings(sim: SimulatedBuilding) -> settings.SimSettings:
    return settings.SimSettings(host=sim.endpoints.host, modbus_port=sim.endpoints.modbus_port,
                                mqtt_port=sim.endpoints.mqtt_port)


def seed(registry: Registry, sim: SimulatedBuilding) -> int:
    """The company with its engineer and the building as the demo seeds it: the registered meters
    commissioned with the simulated building; the spare apartment a premise without a meter."""
    company = seed_company(registry, demo.COMPANY, demo.CITY, (ENGINEER,))
    commissioned = sim.state.commissioning.isoformat()
    return seed_building(registry, company, demo.building_seed(sim.scenario, sim.plan, sim_settings(sim),
                                                               commissioned))


def edge(tmp_path: Path, sim: SimulatedBuilding, nats_url: str) -> EdgeConfig:
    """The edge's config as `domuchet demo` writes it (demo.edge_toml): only the registered meters."""
    b = sim.scenario.building
    commissioned = sim.state.commissioning.isoformat()
    meters = [MeterConfig(serial=b.heat_meter_serial, model="KARAT-307", transport="modbus-tcp",
                          commissioned=commissioned, host=sim.endpoints.host, port=sim.endpoints.modbus_port,
                          unit=b.heat_meter_unit, archive_kinds=list(demo.HEAT_METER_KINDS),
                          reporting_day=demo.REPORTING_DAY)]
    meters += [MeterConfig(serial=a.meter_serial, model=b.compact2_model, transport="lorawan",
                           commissioned=commissioned, dev_eui=a.dev_eui, archive_kinds=list(demo.APARTMENT_KINDS),
                           reporting_day=demo.REPORTING_DAY) for a in demo.registered(sim.scenario, sim.plan)]
    config = edge_config(tmp_path / "edge", meters, site=SITE, nats_url=nats_url, mqtt_port=sim.endpoints.mqtt_port,
                         lora_application_id=sim.scenario.lora_application_id, downlink_timeout_s=60.0,
                         poll_interval_s=0.5)
    return replace(config, time_zone=b.time_zone)
