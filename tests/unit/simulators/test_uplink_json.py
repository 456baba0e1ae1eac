"""The simulator fills each uplink's JSON into a per-device template instead of printing ChirpStack's
protobuf message (simulators/lora_device.py ``uplink``): the document must be the one protobuf's
JSON printer gives, field for field, for any payload, port, counter, time and radio draw, and it
must follow the device through a replacement (a new DevEUI and name)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from chirpstack_api import integration
from google.protobuf import json_format

from simulators.compact2 import Compact2, to_json
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import World, commissioning_utc


@pytest.fixture
def meter() -> Compact2:
    scenario = Scenario(BuildingSpec(site="json-test", address="x", apartments=2), seed=5, start="2025-01-10T00:00")
    world = World(scenario, plan(scenario), commissioning_utc(scenario))
    return Compact2(world, world.building.apartments[0], scenario.lora_application_id)


def _both(meter: Compact2, data: bytes, port: int, f_cnt: int, at: datetime, seed: int) -> tuple[dict, dict]:
    fast = meter.uplink(data, port, f_cnt, at, random.Random(seed))
    printed = to_json(meter.uplink_event(data, port, f_cnt, at, random.Random(seed)))
    return json.loads(fast), json.loads(printed)


@pytest.mark.parametrize("seed", range(40))
def test_the_filled_template_is_what_protobuf_prints(meter: Compact2, seed: int) -> None:
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
    at = datetime(2026, 11, 28, 22, 0, 7, tzinfo=UTC) + timedelta(microseconds=rng.choice((0, 50_000, 123_456, 1)))
    fast, printed = _both(meter, data, rng.choice((2, 4)), rng.choice((0, 1, 4_294_967_295)), at, seed)
    assert fast == printed
    json_format.ParseDict(fast, integration.UplinkEvent())  # strict: every field is ChirpStack's


def test_the_template_follows_a_replaced_device(meter: Compact2) -> None:
    at = datetime(2026, 11, 28, 22, 0, 7, tzinfo=UTC)
    meter.uplink(b"\x01", 2, 1, at, random.Random(1))  # the template of the old identity
    meter.replace_device(30, at, meter.serial, "70b3d5e75e0900ff", meter.counters)
    fast, printed = _both(meter, b"\x01", 2, 1, at, 1)
    assert fast == printed
    assert fast["deviceInfo"]["devEui"] == "70b3d5e75e0900ff"
    assert fast["devAddr"] == "000900ff"
