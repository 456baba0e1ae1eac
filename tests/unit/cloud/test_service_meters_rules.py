"""The rules of the service meters list (manual 4.5.1) and of measuring channels (4.5.3), worked by hand:
cloud/services/service_meters_rules.py."""

from __future__ import annotations

import pytest

from cloud.services import service_meters_rules as rules
from cloud.services.service_meters_rules import DeviceChannel, Member, RuleError, Sensor

# a KARAT-307 as the catalogue has it: heat on channel 1, hot water 2, cold water 3
K307 = (DeviceChannel(1, "heat", ("Q", "V1", "V2", "T1", "T2")), DeviceChannel(2, "hot_water", ("V",)),
        DeviceChannel(3, "cold_water", ("V",)))
# a Compact-2-223 configured with two cold water inputs (2 and 3)
COMPACT = (DeviceChannel(1, "heat", ("Q",)), DeviceChannel(3, "cold_water", ("V",)),
           DeviceChannel(2, "cold_water", ("V",)))
SENSORS = {1: Sensor(1, "flow_transducer", "FT-1"), 2: Sensor(2, "temperature_sensor", "TS-1"),
           3: Sensor(3, "temperature_sensor", "TS-2")}


# --- list ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("gprs", "LoRaWAN 0000000000000002", "gprs"),  # the linked communicator wins over the old text
    (None, "Modbus TCP 127.0.0.1:5020 #1", "tcp"),
    (None, "LoRaWAN 70b3d5e75e2a0001", "lora"),
    (None, "GPRS-модем 490154203237518", "gprs"),
    (None, "", "unknown"),
    (None, "RS-485", "unknown"),
])
def test_line_type(kind: str | None, text: str, expected: str) -> None:
    assert rules.line_type(kind, text) == expected


def test_every_option_chosen_is_no_filter() -> None:
    options = ("tcp", "gprs", "lora")
    assert rules.effective(("tcp", "gprs", "lora"), options) == frozenset()  # all = none
    assert rules.effective((), options) == frozenset()
    assert rules.effective(("tcp",), options) == frozenset({"tcp"})
    # a meter with no resources passes "none chosen", and so "all chosen" too, but not one chosen
    assert rules.allows(rules.effective(("heat", "cold_water"), ("heat", "cold_water")), ())
    assert not rules.allows(rules.effective(("heat",), ("heat", "cold_water")), ())
    # several values: any of them passes
    assert rules.allows(frozenset({"cold_water"}), ("heat", "cold_water"))
    assert not rules.allows(frozenset({"gas"}), ("heat", "cold_water"))


def test_number_and_barcode_match_a_part_whatever_the_case() -> None:
    assert rules.contains("", "307T0001")
    assert rules.contains(" t000 ", "307T0001")
    assert not rules.contains("223", "307T0001")


def test_premises_in_counting_order_building_meters_first() -> None:
    numbers = ["10", "2", "1", "10а", "9"]
    assert sorted(numbers, key=rules.natural_key) == ["1", "2", "9", "10", "10а"]
    keys = [rules.group_key("ул. Б, 1", 2, None), rules.group_key("ул. А, 1", 1, "10"),
            rules.group_key("ул. А, 1", 1, "2"), rules.group_key("ул. А, 1", 1, None)]
    # building "А" first; in it the building meters (no premise), then premise 2, then 10
    assert sorted(keys) == [keys[3], keys[2], keys[1], keys[0]]


# --- channels ------------------------------------------------------------------------------------

def test_resource_numbers_count_each_resource_in_channel_order() -> None:
    # channels 2 and 3 are both cold water: numbers 1 and 2 by channel number, whatever the row order
    assert rules.resource_numbers(COMPACT) == {1: ("heat", 1), 2: ("cold_water", 1), 3: ("cold_water", 2)}
    assert rules.device_channel(COMPACT, "cold_water", 2) == COMPACT[1]
    assert rules.device_channel(COMPACT, "hot_water", 1) is None


def test_simple_channels() -> None:
    # T1 of heat 1 by one temperature sensor
    done = rules.check_channel(K307, SENSORS, "heat", 1, "T1", [Member(2, "T1")])
    assert (done.kind, done.device_channel) == ("simple", 1)
    # the cold water meter input itself
    done = rules.check_channel(K307, SENSORS, "cold_water", 1, "V", [Member(None, "V")])
    assert (done.kind, done.device_channel) == ("simple", 3)


def test_composite_channel_computes_its_parameter() -> None:
    # Q of heat 1 from the supply flow V1 and the temperatures T1, T2
    done = rules.check_channel(K307, SENSORS, "heat", 1, "Q", [Member(1, "V1"), Member(2, "T1"), Member(3, "T2")])
    assert (done.kind, done.device_channel, len(done.members)) == ("composite", 1, 3)


@pytest.mark.parametrize(("resource", "number", "parameter", "members", "reason"), [
    ("steam", 1, "Q", [Member(None, "Q")], "resource_unknown"),
    ("heat", 0, "Q", [Member(None, "Q")], "resource_number"),
    ("heat", 2, "Q", [Member(None, "Q")], "no_such_resource"),  # the 307 has one heat input
    ("heat", 1, "E", [Member(None, "E")], "parameter_not_reported"),
    ("heat", 1, "Q", [], "no_members"),
    ("heat", 1, "Q", [Member(1, "V1"), Member(1, "V2")], "instrument_twice"),
    ("heat", 1, "Q", [Member(1, "X9")], "quantity_unknown"),
    ("hot_water", 1, "V", [Member(None, "Q")], "meter_quantity"),  # channel 2 reports V only
    ("heat", 1, "T1", [Member(9, "T1")], "sensor_not_of_meter"),
    ("heat", 1, "V1", [Member(2, "V1")], "quantity_of_kind"),  # a temperature sensor has no volume
    ("heat", 1, "Q", [Member(2, "T1"), Member(3, "T1")], "quantity_twice"),
    ("heat", 1, "V2", [Member(1, "V1")], "simple_mismatch"),
    ("heat", 1, "Q", [Member(None, "Q"), Member(1, "V1")], "composite_measures_parameter"),
])
def test_refusals(resource: str, number: int, parameter: str, members: list[Member], reason: str) -> None:
    with pytest.raises(RuleError) as refused:
        rules.check_channel(K307, SENSORS, resource, number, parameter, members)
    assert refused.value.reason == reason


def test_one_channel_per_resource_number_and_parameter() -> None:
    existing = [(5, "heat", 1, "Q"), (6, "heat", 1, "T1")]
    rules.check_unique(existing, None, "heat", 1, "T2")  # another parameter: fine
    rules.check_unique(existing, 5, "heat", 1, "Q")  # the channel itself, edited: fine
    with pytest.raises(RuleError, match="already") as refused:
        rules.check_unique(existing, 6, "heat", 1, "Q")
    assert refused.value.reason == "channel_exists"
