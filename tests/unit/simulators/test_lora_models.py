"""The KARAT radio devices of manual 4.5.2 besides the Compact-2 (simulators/lora_models.py):
СВК + 926LW water meter, 941LW electricity meters, 927LW pulse counter. Archives add up,
tariffs partition the total, the relay cuts and limits, the password guards the time service,
every uplink parses strictly as a ChirpStack event, and the demo's plan is unchanged."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from chirpstack_api import integration
from google.protobuf import json_format

from protocol import lorawan_archive, lorawan_down, lorawan_up
from protocol.periods import to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind, Nature
from simulators.karat306 import Karat306
from simulators.lora_device import EVENT_ACCESS_DENIED, EVENT_RELAY_SWITCHED
from simulators.lora_models import (
    ElectricityMeter941,
    PulseCounter927,
    Radio929,
    WaterMeter926,
    make_device,
    tariff_zone,
)
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import BuildingSpec, Scenario, load, plan
from simulators.world import SimClock, World, commissioning_utc

SPEC = BuildingSpec(site="models", address="x", apartments=6, water_meters_926=3, electricity_meters_941=3,
                    electricity_tariffs=2, common_electricity_meter=True, ct_ratio=40, pulse_counters_927=2,
                    pulse_inputs=4, karat306_unit=2)


@pytest.fixture(scope="module")
def world() -> World:
    scenario = Scenario(SPEC, seed=11, start="2025-01-10T00:00")
    return World(scenario, plan(scenario), commissioning_utc(scenario))


def _devices(world: World) -> dict[str, list]:
    out: dict[str, list] = {}
    for d in world.building.radio_devices:
        out.setdefault(d.model, []).append(make_device(world, d, world.scenario.lora_application_id))
    return out


def _command(frame: lorawan_down.Downlink) -> integration.DownlinkCommand:
    doc = {"devEui": "00", "confirmed": True, "fPort": 3, "data": base64.b64encode(lorawan_down.encode(frame)).decode()}
    return json_format.Parse(json.dumps(doc), integration.DownlinkCommand())


def _period(world: World, index: int) -> int:
    return to_device_seconds(utc_to_local(world.hour_start(index), world.tz))


def test_plan_lists_every_model_with_its_options(world: World) -> None:
    devices = world.building.radio_devices
    assert [d.model for d in devices].count("KARAT-926LW") == 3
    assert {d.resource for d in devices if d.model == "KARAT-926LW"} <= {"hot_water", "cold_water"}
    single = [d for d in devices if d.model == "KARAT-941LW" and d.apartment]
    assert [d.phase for d in single] == ["A", "B", "C"]
    (common,) = [d for d in devices if d.model == "KARAT-941LW" and not d.apartment]
    assert (common.phase, common.multiplier, common.tariffs) == ("", 40, 2)
    assert all(d.inputs == 4 for d in devices if d.model == "KARAT-927LW")
    assert len({d.dev_eui for d in devices} | {a.dev_eui for a in world.building.apartments}) == len(devices) + 6
    assert plan(world.scenario) == world.building  # reproducible


def test_the_demo_plan_has_no_extra_devices_and_its_electricity_variant_two_941lw() -> None:
    demo = load("demo")
    assert plan(demo).radio_devices == ()
    electricity = load("demo-electricity")
    assert [(d.model, d.serial, d.apartment, d.phase, d.tariffs) for d in plan(electricity).radio_devices] == [
        ("KARAT-941LW", "941420001", "1", "A", 2), ("KARAT-941LW", "941420002", "2", "B", 2)]
    assert plan(electricity).apartments == plan(demo).apartments
    extended = replace(demo, building=replace(demo.building, water_meters_926=2, pulse_counters_927=1))
    assert plan(extended).apartments == plan(demo).apartments


def test_water_meter_hourly_intervals_add_up_to_the_daily_readings(world: World) -> None:
    meter: WaterMeter926 = _devices(world)["KARAT-926LW"][0]
    hours = [lorawan_archive.decode(meter.hourly_payload(i)) for i in range(24, 48)]
    assert all(h.nature is Nature.INTERVAL and h.kind is ArchiveKind.HOUR for h in hours)
    now = world.hour_start(24 * 5)
    day0, day1 = (lorawan_archive.decode(meter.archive_payload_for(ArchiveKind.DAY, _period(world, 24 * d),
                                                                   meter.archive_end_index(
                                                                       ArchiveKind.DAY, _period(world, 24 * d), now)))
                  for d in (0, 1))
    assert day1.nature is Nature.INTEGRAL
    used = day1.readings[0].raw - day0.readings[0].raw
    assert used == sum(h.readings[0].raw for h in hours) > 0
    passport = meter.passport(now)
    assert passport.model == 926
    assert passport.inputs == ((lorawan_up.Resource.HOT_WATER,) if meter.plan.resource == "hot_water"
                               else (lorawan_up.Resource.COLD_WATER,))


def test_water_meter_archive_depth(world: World) -> None:
    meter = _devices(world)["KARAT-926LW"][0]
    now = world.commissioning + timedelta(days=40)
    assert meter.archive_end_index(ArchiveKind.HOUR, _period(world, 24), now) is None  # older than 31 days
    assert meter.archive_end_index(ArchiveKind.DAY, _period(world, 24), now) == 47


def test_a_leak_adds_flow_and_flags_the_hours(world: World) -> None:
    meter: WaterMeter926 = _devices(world)["KARAT-926LW"][1]
    before = [lorawan_archive.decode(meter.hourly_payload(i)).readings[0].raw for i in range(100, 110)]
    leaking = _devices(world)["KARAT-926LW"][1]
    leaking.start_leak(100, 12)
    after = [lorawan_archive.decode(leaking.hourly_payload(i)) for i in range(100, 110)]
    assert [a.readings[0].raw - b for a, b in zip(after, before, strict=True)] == [12] * 10
    assert [a.flags for a in after] == [0, 0, 0] + [1] * 7


@pytest.mark.parametrize(("hour", "weekday", "tariffs", "zone"), [
    (12, 2, 1, 1), (12, 2, 2, 1), (23, 2, 2, 2), (3, 2, 2, 2), (8, 2, 3, 1), (12, 2, 3, 3), (18, 2, 3, 1),
    (0, 2, 3, 2), (12, 5, 4, 4), (12, 2, 4, 3), (2, 6, 4, 2),
])
def test_tariff_zones(hour: int, weekday: int, tariffs: int, zone: int) -> None:
    moment = datetime(2025, 1, 6 + weekday, hour)  # 2025-01-06 is a Monday
    assert tariff_zone(moment, tariffs) == zone


def test_electricity_tariffs_partition_the_total(world: World) -> None:
    meter: ElectricityMeter941 = _devices(world)["KARAT-941LW"][0]
    record = lorawan_archive.decode(meter.archive_payload_for(ArchiveKind.DAY, _period(world, 24), 47))
    total, day, night = (r.raw for r in record.readings)
    assert total == day + night
    first = meter.counter.at(23)
    assert (day - first[1]) > (night - first[2]) > 0  # most energy by day
    assert meter.passport(world.hour_start(48)).inputs == (lorawan_up.Resource.ELECTRICITY,) * 3


def test_current_readings_carry_power_per_phase(world: World) -> None:
    meters = _devices(world)["KARAT-941LW"]
    now = world.hour_start(40) + timedelta(minutes=20)
    b_phase = meters[1].current(now)
    assert {(r.channel, r.param) for r in b_phase.readings if r.param == "P"} == {(1, "P"), (12, "P")}
    common = meters[-1].current(now)
    assert {r.channel for r in common.readings if r.param == "P"} == {1, 11, 12, 13}


def test_ct_meter_counts_secondary_energy(world: World) -> None:
    common: ElectricityMeter941 = _devices(world)["KARAT-941LW"][-1]
    use = common.hour_use(30)[0]
    assert use * 40 == pytest.approx(common.demand_wh(30), abs=40)


def test_relay_cut_and_limit(world: World) -> None:
    meter: ElectricityMeter941 = _devices(world)["KARAT-941LW"][2]
    now = world.hour_start(50) + timedelta(minutes=5)
    events = meter.handle_downlink(_command(lorawan_down.RelayCommand(lorawan_down.RelayMode.CUT)), now)
    ups = [json_format.Parse(t, integration.UplinkEvent()) for topic, t in events if topic.endswith("/up")]
    event, passport = (lorawan_up.decode(u.data) for u in ups)
    assert event.code == EVENT_RELAY_SWITCHED
    assert passport.relay == lorawan_down.RelayMode.CUT
    assert meter.hour_use(50)[0] > 0  # the hour under way is counted as it was
    assert meter.hour_use(51) == (0, 0, 0)
    assert meter.flags(51) == 2
    meter.handle_downlink(_command(lorawan_down.RelayCommand(lorawan_down.RelayMode.LIMIT, 100)),
                          world.hour_start(52))
    assert meter.hour_use(53)[0] <= 50  # tripped above 100 W
    assert meter.passport(world.hour_start(54)).threshold_w == 100


def test_a_changed_password_blocks_the_time_service(world: World) -> None:
    meter: ElectricityMeter941 = _devices(world)["KARAT-941LW"][0]
    changed = "".join(str(d) for d in range(1, 7))  # the owner changed it from the factory default
    meter.password = changed
    now = world.hour_start(30)
    events = meter.handle_downlink(_command(lorawan_down.SetClock(_period(world, 31))), now)
    (up,) = [json_format.Parse(t, integration.UplinkEvent()) for topic, t in events if topic.endswith("/up")]
    assert lorawan_up.decode(up.data).code == EVENT_ACCESS_DENIED
    assert meter.clock_offset == timedelta(0)
    meter.module_password = changed  # given to the module at commissioning
    meter.handle_downlink(_command(lorawan_down.SetClock(_period(world, 31))), now)
    assert meter.clock_offset == timedelta(hours=1)


def test_pulse_counter_inputs(world: World) -> None:
    counter: PulseCounter927 = _devices(world)["KARAT-927LW"][0]
    record = lorawan_archive.decode(counter.hourly_payload(30))
    assert [(r.channel, r.param) for r in record.readings] == [(1, "N"), (2, "N"), (3, "N"), (4, "N")]
    assert counter.passport(world.hour_start(31)).inputs == (lorawan_up.Resource.PULSES,) * 4
    later = lorawan_archive.decode(counter.hourly_payload(31))
    assert all(b.raw >= a.raw for a, b in zip(record.readings, later.readings, strict=True))


def test_every_device_speaks_chirpstack_json(world: World) -> None:
    for models in _devices(world).values():
        for device in models:
            for index in range(3):
                text = device.up_event(index, world.hour_start(index + 1))
                event = json_format.Parse(text, integration.UplinkEvent())
                assert event.device_info.device_profile_name == device.plan.model
                assert event.f_cnt == index
                lorawan_archive.decode_any(bytes(event.data))
            for frame in (lorawan_down.PassportRequest(), lorawan_down.CurrentRequest()):
                for topic, text in device.handle_downlink(_command(frame), world.hour_start(5)):
                    kind = topic.rsplit("/", 1)[1]
                    json_format.Parse(text, {"up": integration.UplinkEvent, "txack": integration.TxAckEvent,
                                             "ack": integration.AckEvent}[kind]())


def test_the_runner_lists_every_device(tmp_path) -> None:
    scenario = Scenario(replace(SPEC, serial_line=False), seed=11, start="2025-01-10T00:00")
    building = SimulatedBuilding(scenario, tmp_path, Endpoints(modbus_port=5999))
    lines = building.device_lines()
    models = [line["model"] for line in lines]
    assert models.count("KARAT-307") == 1
    assert models.count("KARAT-306") == 1
    assert models.count("KARAT-Compact-2-223") == 6
    assert (models.count("KARAT-926LW"), models.count("KARAT-941LW"), models.count("KARAT-927LW")) == (3, 4, 2)
    (k306,) = [line for line in lines if line["model"] == "KARAT-306"]
    assert k306["endpoint"]["unit"] == 2
    assert len({line["endpoint"].get("dev_eui") for line in lines if line["endpoint"]["transport"] == "lorawan"}) == 15


def test_the_929lw_module_sends_the_heat_calculators_records(tmp_path) -> None:
    scenario = Scenario(replace(SPEC, karat929lw=True), seed=11, start="2025-01-10T00:00")
    building = SimulatedBuilding(scenario, tmp_path, Endpoints(modbus_port=5999))
    (radio,) = [d for d in building.lora_devices if d.MODEL == "KARAT-929LW"]
    assert radio.serial == building.heat_meter.serial
    assert [line["model"] for line in building.device_lines()].count("KARAT-929LW") == 1
    world = building.world
    record = lorawan_archive.decode(radio.hourly_payload(30))
    registers = building.heat_meter.record_values(30)
    assert {(r.channel, r.param): r.raw for r in record.readings} == {
        (1, "Q"): registers.heat_kcal, (1, "V1"): registers.supply_litres, (1, "V2"): registers.return_litres,
        (1, "T1"): registers.supply_temp_centi, (1, "T2"): registers.return_temp_centi,
        (2, "V"): registers.hot_water_litres, (3, "V"): registers.cold_water_litres}
    now = world.hour_start(100)
    assert radio.archive_end_index(ArchiveKind.MONTH, _period(world, 0), now) is None  # the 307 keeps no months
    events = radio.handle_downlink(_command(lorawan_down.PassportRequest()), now)
    (up,) = [json_format.Parse(t, integration.UplinkEvent()) for topic, t in events if topic.endswith("/up")]
    passport = lorawan_up.decode(up.data)
    assert (passport.model, passport.serial) == (307, int(building.heat_meter.serial))


def test_a_929lw_on_a_karat306_sends_what_the_306_has(world: World) -> None:
    clock = SimClock(world.hour_start(40), 1.0)
    clock.freeze()
    calculator = Karat306(world, clock, 2, "30611002")
    radio = Radio929(world, calculator, "70b3d5e7290b0002", "0b7c1e52-5d1e-4a7b-9d34-1f3a2c9e8d01")
    record = lorawan_archive.decode(radio.hourly_payload(30))
    assert {r.channel for r in record.readings} == {1, 2}  # no cold-water channel on a 306
    registers = calculator.record_values(30)
    assert {(r.channel, r.param): r.raw for r in record.readings}[(2, "V")] == registers.hot_water_litres
    passport = radio.passport(world.hour_start(40))
    assert (passport.model, passport.serial) == (306, 30611002)
    assert passport.inputs == (lorawan_up.Resource.HEAT, lorawan_up.Resource.HOT_WATER)
    assert radio.archive_depth() == calculator.ARCHIVE_DEPTH
