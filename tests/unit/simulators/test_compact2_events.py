"""ChirpStack v4 uplink events of the simulated KARAT-Compact-2 (simulators/compact2.py): they
parse strictly as ChirpStack's own protobuf JSON, use its camelCase keys, and carry a
payload that protocol.lorawan decodes to the world's counters."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from chirpstack_api import integration
from google.protobuf import json_format

from protocol import lorawan
from protocol.periods import to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.compact2 import Compact2, up_topic
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import World, commissioning_utc

HOURS = 24
RU864_HZ = (864_000_000, 870_000_000)


@pytest.fixture(scope="module")
def world() -> World:
    scenario = Scenario(BuildingSpec(site="lora-test", address="x", apartments=12), seed=9, start="2025-01-10T00:00")
    return World(scenario, plan(scenario), commissioning_utc(scenario))


@pytest.fixture(scope="module")
def meters(world: World) -> list[Compact2]:
    return [Compact2(world, a, world.scenario.lora_application_id) for a in world.building.apartments]


def _sent_at(world: World, index: int) -> datetime:
    return world.hour_start(index + 1) + timedelta(seconds=7)


@pytest.fixture(scope="module")
def events(world: World, meters: list[Compact2]) -> list[tuple[Compact2, int, str]]:
    return [(m, i, m.up_event(i, _sent_at(world, i))) for m in meters for i in range(HOURS)]


def test_every_event_parses_strictly_as_a_chirpstack_uplink(events: list[tuple[Compact2, int, str]]) -> None:
    for meter, index, text in events:
        event = json_format.Parse(text, integration.UplinkEvent())  # no ignore_unknown_fields
        assert event.device_info.dev_eui == meter.apartment.dev_eui
        assert event.device_info.application_id == meter.application_id
        assert event.f_cnt == index
        assert event.f_port == lorawan.FPORT == 2
        assert event.time.ToDatetime(tzinfo=UTC) == _sent_at(meter.world, index)


def test_strict_parse_rejects_a_misspelt_field(events: list[tuple[Compact2, int, str]]) -> None:
    # the check above would mean nothing if Parse accepted anything
    doc = json.loads(events[1][2])
    doc["fcnt"] = doc.pop("fCnt")
    with pytest.raises(json_format.ParseError):
        json_format.Parse(json.dumps(doc), integration.UplinkEvent())


def test_events_use_chirpstack_camel_case_keys(events: list[tuple[Compact2, int, str]]) -> None:
    for _meter, _index, text in events:
        doc = json.loads(text)
        assert {"deduplicationId", "time", "deviceInfo", "devAddr", "fCnt", "fPort", "data", "rxInfo",
                "txInfo"} <= doc.keys(), sorted(doc)
        assert "devEui" in doc["deviceInfo"]
        assert doc["rxInfo"], "at least one gateway heard the uplink"
        for rx in doc["rxInfo"]:
            assert {"gatewayId", "rssi", "snr"} <= rx.keys()
            assert len(rx["gatewayId"]) == 16
            int(rx["gatewayId"], 16)
        assert not any("_" in key for key in _all_keys(doc)), "protobuf field names leaked into the JSON"


def _all_keys(value: object) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _all_keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _all_keys(v)]
    return []


def test_first_uplink_carries_frame_counter_zero(world: World, meters: list[Compact2]) -> None:
    doc = json.loads(meters[0].up_event(0, _sent_at(world, 0)))
    assert doc["fCnt"] == 0  # ChirpStack emits default values; a reader may index the key directly


def test_data_decodes_to_the_world_counters(world: World, events: list[tuple[Compact2, int, str]]) -> None:
    for meter, index, text in events:
        data = base64.b64decode(json.loads(text)["data"], validate=True)
        assert data == meter.archive_payload(index)
        frame = lorawan.decode(data)
        counters = world.apartment_counters(meter.apartment, index)
        assert frame.kind is ArchiveKind.HOUR
        assert frame.period == to_device_seconds(utc_to_local(world.hour_start(index), world.tz))
        assert (frame.heat_kcal, frame.input1_litres, frame.input2_litres) == (
            counters.heat_kcal, counters.hot_litres, counters.cold_litres)


def test_consecutive_uplinks_are_consecutive_hours(meters: list[Compact2]) -> None:
    frames = [lorawan.decode(meters[3].archive_payload(i)) for i in range(HOURS)]
    assert [b.period - a.period for a, b in itertools.pairwise(frames)] == [3600] * (HOURS - 1)
    assert frames[0].period % 86_400 == 0  # commissioning at local midnight


def test_frequencies_are_within_ru864(events: list[tuple[Compact2, int, str]]) -> None:
    seen = set()
    for _meter, _index, text in events:
        frequency = json.loads(text)["txInfo"]["frequency"]
        assert RU864_HZ[0] <= frequency <= RU864_HZ[1]
        seen.add(frequency)
    assert len(seen) > 1  # the device hops channels


def test_radio_metadata_is_plausible(events: list[tuple[Compact2, int, str]]) -> None:
    for _meter, _index, text in events:
        event = json_format.Parse(text, integration.UplinkEvent())
        (rx,) = event.rx_info
        assert -140 <= rx.rssi <= -30
        assert -25 <= rx.snr <= 20
        assert event.tx_info.modulation.lora.spreading_factor in range(7, 13)
        assert event.tx_info.modulation.lora.bandwidth == 125_000


def test_events_are_deterministic_and_unique(world: World, meters: list[Compact2],
                                             events: list[tuple[Compact2, int, str]]) -> None:
    assert meters[1].up_event(5, _sent_at(world, 5)) == meters[1].up_event(5, _sent_at(world, 5))
    ids = [json.loads(text)["deduplicationId"] for _m, _i, text in events]
    assert len(set(ids)) == len(ids)


def test_topic(meters: list[Compact2]) -> None:
    meter = meters[0]
    assert meter.topic == f"application/{meter.application_id}/device/{meter.apartment.dev_eui}/event/up"
    assert up_topic("app", "0011") == "application/app/device/0011/event/up"
