"""The physics test of the device simulators, read through the devices themselves: over a simulated
January, the building's KARAT-307 heat (its day archive records, as the Modbus registers hold them)
grows by the apartments' Compact-2 heat (their day archive payloads, as they go on the air) plus
the configured common share, within the configured loss band; the same for hot and cold water."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pymodbus.constants import ExcCodes

from protocol import karat307 as regs
from protocol import lorawan
from protocol.periods import to_device_seconds
from protocol.vocabulary import ArchiveKind
from simulators.compact2 import Compact2
from simulators.karat307 import Karat307
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import SimClock, World, commissioning_utc

FIRST, LAST = datetime(2025, 1, 1), datetime(2025, 1, 31)  # day records: readings at the end of each day


@pytest.fixture(scope="module")
def devices() -> tuple[Scenario, Karat307, list[Compact2]]:
    spec = BuildingSpec(site="physics", address="x", apartments=16, common_share=0.15, loss_share=0.03)
    scenario = Scenario(spec, seed=23, start="2024-12-31T00:00")  # the day before FIRST: its end is Jan 1 00:00
    world = World(scenario, plan(scenario), commissioning_utc(scenario))
    clock = SimClock(world.commissioning + timedelta(days=33), 1.0)
    clock.freeze()
    meters = [Compact2(world, a, scenario.lora_application_id) for a in world.building.apartments]
    return scenario, Karat307(world, clock, 1), meters


def _building_day(meter: Karat307, day: datetime) -> regs.Karat307Record:
    registers = meter.record(ArchiveKind.DAY, to_device_seconds(day))
    assert not isinstance(registers, ExcCodes)
    record = regs.decode_record(ArchiveKind.DAY, registers)
    assert record is not None
    return record


def _apartment_day(meter: Compact2, day: datetime) -> lorawan.CompactArchive:
    now = meter.world.commissioning + timedelta(days=33)
    record = meter.archive_record(ArchiveKind.DAY, to_device_seconds(day), now)
    assert record is not None
    decoded = lorawan.decode(lorawan.encode(record))  # what goes on the air
    assert decoded == record
    return decoded


@pytest.mark.parametrize(("building_field", "apartment_field"), [
    ("heat_kcal", "heat_kcal"), ("hot_water_litres", "input1_litres"), ("cold_water_litres", "input2_litres")])
def test_building_meter_is_the_apartments_plus_common_share_within_the_loss_band(
        devices: tuple, building_field: str, apartment_field: str) -> None:
    scenario, heat_meter, meters = devices
    # the readings at the end of Dec 31 and of Jan 30 bound the 30 days from Jan 1 to Jan 30
    building = getattr(_building_day(heat_meter, LAST - timedelta(days=1)), building_field) - \
        getattr(_building_day(heat_meter, FIRST - timedelta(days=1)), building_field)
    apartments = sum(getattr(_apartment_day(m, LAST - timedelta(days=1)), apartment_field)
                     - getattr(_apartment_day(m, FIRST - timedelta(days=1)), apartment_field) for m in meters)
    spec = scenario.building
    expected = apartments * (1 + spec.common_share)
    rounding = 30 * 24  # the building's hours are rounded to whole units, one each
    assert expected * (1 - spec.loss_share) - rounding <= building <= expected * (1 + spec.loss_share) + rounding
    assert apartments > 100 * rounding  # January: the band is not lost in the rounding
    # and the losses are really there: the building is not simply the sum times the common share
    assert building != round(expected)
