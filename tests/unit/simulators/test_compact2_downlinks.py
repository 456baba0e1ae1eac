"""Downlinks to the simulated KARAT-Compact-2 (simulators/compact2.py): every command is
answered with a txack, the requested uplinks and (confirmed only) an ack; every event parses
strictly as ChirpStack's protobuf JSON; fCnt keeps counting across answers."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from chirpstack_api import integration
from google.protobuf import json_format

from protocol import lorawan, lorawan_down, lorawan_up
from protocol.periods import to_device_seconds, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.compact2 import EVENT_ARCHIVE_UNAVAILABLE, EVENT_COMMAND_REJECTED, EVENT_COMMAND_UNSUPPORTED, Compact2
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import World, commissioning_utc

PARSERS = {"up": integration.UplinkEvent, "txack": integration.TxAckEvent, "ack": integration.AckEvent}


@pytest.fixture
def meter() -> Compact2:
    scenario = Scenario(BuildingSpec(site="dl-test", address="x", apartments=2), seed=9, start="2025-01-10T00:00")
    world = World(scenario, plan(scenario), commissioning_utc(scenario))
    return Compact2(world, world.building.apartments[0], scenario.lora_application_id)


def _command(frame: lorawan_down.Downlink | bytes, confirmed: bool = False,
             f_port: int = 3) -> integration.DownlinkCommand:
    data = frame if isinstance(frame, bytes) else lorawan_down.encode(frame)
    doc = {"devEui": "70b3d5e75e090001", "confirmed": confirmed, "fPort": f_port,
           "data": base64.b64encode(data).decode()}
    return json_format.Parse(json.dumps(doc), integration.DownlinkCommand())


def _parsed(meter: Compact2, events: list[tuple[str, str]]) -> list[tuple[str, object]]:
    out = []
    for topic, text in events:
        kind = topic.rsplit("/", 1)[1]
        assert topic == f"application/{meter.application_id}/device/{meter.dev_eui}/event/{kind}"
        out.append((kind, json_format.Parse(text, PARSERS[kind]())))  # strict: no unknown fields
    return out


def _now(meter: Compact2, hours: int) -> datetime:
    return meter.world.hour_start(hours) + timedelta(seconds=8)


def test_confirmed_passport_request(meter: Compact2) -> None:
    events = _parsed(meter, meter.handle_downlink(_command(lorawan_down.PassportRequest(), confirmed=True),
                                                  _now(meter, 30)))
    assert [k for k, _ in events] == ["txack", "up", "ack"]
    txack, up, ack = (e for _, e in events)
    assert up.f_port == lorawan_up.FPORT_DATA
    passport = lorawan_up.decode(up.data)
    assert isinstance(passport, lorawan_up.Passport)
    assert (passport.model, passport.serial) == (2223, int(meter.apartment.meter_serial))
    assert passport.inputs[:3] == (lorawan_up.Resource.HEAT, lorawan_up.Resource.HOT_WATER,
                                   lorawan_up.Resource.COLD_WATER)
    assert ack.acknowledged
    assert ack.deduplication_id == up.deduplication_id
    assert ack.queue_item_id == txack.queue_item_id
    assert ack.f_cnt_down == txack.f_cnt_down == 0
    assert txack.tx_info.frequency in range(864_000_000, 870_000_001)


def test_unconfirmed_downlink_has_no_ack(meter: Compact2) -> None:
    kinds = [k for k, _ in _parsed(meter, meter.handle_downlink(_command(lorawan_down.CurrentRequest()),
                                                                 _now(meter, 5)))]
    assert kinds == ["txack", "up"]


def test_current_readings_lie_between_the_hour_records(meter: Compact2) -> None:
    now = meter.world.hour_start(10) + timedelta(minutes=30)
    (_, up), = [e for e in _parsed(meter, meter.handle_downlink(_command(lorawan_down.CurrentRequest()), now))
                if e[0] == "up"]
    current = lorawan_up.decode(up.data)
    assert isinstance(current, lorawan_up.CurrentReadings)
    before = meter.world.apartment_counters(meter.apartment, 9)
    after = meter.world.apartment_counters(meter.apartment, 10)
    raw = {r.channel: r.raw for r in current.readings}
    assert before.heat_kcal <= raw[1] <= after.heat_kcal
    assert before.hot_litres <= raw[2] <= after.hot_litres
    assert before.cold_litres <= raw[3] <= after.cold_litres


def test_backfill_returns_the_same_records_the_hourly_uplinks_carried(meter: Compact2) -> None:
    world = meter.world
    first, last = (to_device_seconds(utc_to_local(world.hour_start(i), world.tz)) for i in (3, 8))
    events = _parsed(meter, meter.handle_downlink(
        _command(lorawan_down.ArchiveRequest(ArchiveKind.HOUR, first, last)), _now(meter, 24)))
    ups = [e for k, e in events if k == "up"]
    assert [bytes(u.data) for u in ups] == [meter.archive_payload(i) for i in range(3, 9)]
    assert all(u.f_port == lorawan.FPORT for u in ups)


def test_backfill_of_days_and_months(meter: Compact2) -> None:
    world = meter.world
    day0 = to_device_seconds(utc_to_local(world.commissioning, world.tz))
    now = world.commissioning + timedelta(days=40)
    request = lorawan_down.ArchiveRequest(ArchiveKind.DAY, day0, day0 + 2 * 86_400)
    frames = [lorawan.decode(u.data) for k, u in _parsed(meter, meter.handle_downlink(_command(request), now))
              if k == "up"]
    assert [f.period - day0 for f in frames] == [0, 86_400, 2 * 86_400]
    end_of_day0 = world.apartment_counters(meter.apartment, 23)
    assert frames[0].heat_kcal == end_of_day0.heat_kcal
    month = lorawan_down.ArchiveRequest(ArchiveKind.MONTH, day0 - 9 * 86_400, day0 - 9 * 86_400)  # 2025-01-01
    (_kind, up), = [e for e in _parsed(meter, meter.handle_downlink(_command(month), now))[1:]]
    assert lorawan_up.decode(up.data).code == EVENT_ARCHIVE_UNAVAILABLE  # before commissioning


def test_backfill_outside_the_depth_is_refused(meter: Compact2) -> None:
    world = meter.world
    first = to_device_seconds(utc_to_local(world.hour_start(0), world.tz))
    events = _parsed(meter, meter.handle_downlink(
        _command(lorawan_down.ArchiveRequest(ArchiveKind.HOUR, first, first + 3600)),
        world.commissioning + timedelta(days=50)))
    event = lorawan_up.decode(events[1][1].data)
    assert isinstance(event, lorawan_up.DeviceEvent)
    assert (event.effect, event.severity, event.code) == (lorawan_up.Effect.OTHER, lorawan_up.Severity.WARNING,
                                                          EVENT_ARCHIVE_UNAVAILABLE)


def test_the_hourly_archive_is_a_ring_of_45_days_before_the_current_hour(meter: Compact2) -> None:
    """At 01:50 the device keeps 45 days × 24 = 1,080 closed hours: the oldest is the one that began
    at 01:00 45 days earlier, which the edge (its device time being the last closed hour's end,
    01:00) also counts as kept; the hour before it is gone."""
    world = meter.world
    now = world.hour_start(50 * 24 + 1) + timedelta(minutes=50)  # hh:50 of day 50
    current = world.hour_start(50 * 24 + 1)  # the hour in progress began at hh:00
    oldest = to_device_seconds(utc_to_local(current - timedelta(days=45), world.tz))

    def answer(period: int) -> object:
        request = lorawan_down.ArchiveRequest(ArchiveKind.HOUR, period, period)
        (_kind, up), = [e for e in _parsed(meter, meter.handle_downlink(_command(request), now))[1:]]
        return lorawan.decode(up.data) if up.f_port == lorawan.FPORT else lorawan_up.decode(up.data)

    assert answer(oldest).period == oldest
    gone = answer(oldest - 3600)
    assert isinstance(gone, lorawan_up.DeviceEvent)
    assert gone.code == EVENT_ARCHIVE_UNAVAILABLE


def test_set_clock_moves_the_device_clock(meter: Compact2) -> None:
    now = _now(meter, 4)
    target = to_device_seconds(utc_to_local(now, meter.world.tz)) + 300
    meter.handle_downlink(_command(lorawan_down.SetClock(target)), now)
    assert meter.clock_offset == timedelta(seconds=300)
    assert meter.events[-1].device_time == target  # logged by the device clock just set


@pytest.mark.parametrize(("command", "code"), [
    (_command(lorawan_down.RelayCommand(lorawan_down.RelayMode.CUT)), EVENT_COMMAND_UNSUPPORTED),
    (_command(bytes.fromhex("32 c3b2a166 781e")), EVENT_COMMAND_REJECTED),  # bad CRC
    (_command(bytes.fromhex("77 00")), EVENT_COMMAND_REJECTED),  # unknown template
    (_command(lorawan_down.PassportRequest(), f_port=2), EVENT_COMMAND_REJECTED),
])
def test_commands_the_device_cannot_carry_out_are_answered_with_an_event(
        meter: Compact2, command: integration.DownlinkCommand, code: int) -> None:
    events = _parsed(meter, meter.handle_downlink(command, _now(meter, 2)))
    assert [k for k, _ in events] == ["txack", "up"]
    event = lorawan_up.decode(events[1][1].data)
    assert isinstance(event, lorawan_up.DeviceEvent)
    assert event.code == code


def test_frame_counters_keep_counting(meter: Compact2) -> None:
    sent = [json.loads(meter.up_event(i, _now(meter, i + 1) - timedelta(seconds=1)))["fCnt"] for i in range(3)]
    answers = meter.handle_downlink(_command(lorawan_down.ArchiveRequest(
        ArchiveKind.HOUR, to_device_seconds(utc_to_local(meter.world.hour_start(0), meter.world.tz)),
        to_device_seconds(utc_to_local(meter.world.hour_start(2), meter.world.tz)))), _now(meter, 3))
    sent += [json.loads(t)["fCnt"] for topic, t in answers if topic.endswith("/up")]
    sent += [json.loads(meter.up_event(i, _now(meter, i + 1) - timedelta(seconds=1)))["fCnt"] for i in (3, 4)]
    assert sent == list(range(8))
    second = meter.handle_downlink(_command(lorawan_down.CurrentRequest()), _now(meter, 5))
    assert json.loads(second[0][1])["fCntDown"] == 1
    assert meter.counters.down == 2
    assert meter.counters.extra == 4


def test_answers_are_deterministic(meter: Compact2) -> None:
    again = Compact2(meter.world, meter.apartment, meter.application_id)
    command = _command(lorawan_down.PassportRequest(), confirmed=True)
    now = datetime(2025, 1, 11, 3, 0, 8, tzinfo=UTC)
    assert meter.handle_downlink(command, now) == again.handle_downlink(command, now)
