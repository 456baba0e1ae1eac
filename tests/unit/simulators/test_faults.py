"""Scenario faults on a schedule (simulators/faults.py) driven through the runner's hour loop
without a network: offline windows, radio loss as fCnt gaps, clock drift and jumps, counter and
fCnt resets (ChirpStack log UPLINK_F_CNT_RESET), tampering, malformed frames, a leak. Everything
parses strictly as ChirpStack JSON and is reproducible, across a restart too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from chirpstack_api import integration
from google.protobuf import json_format

from protocol import lorawan, lorawan_archive, lorawan_up
from protocol.errors import DecodeError
from protocol.periods import to_device_seconds, utc_to_local
from protocol.settings import ConfigError
from protocol.vocabulary import ArchiveKind
from simulators.faults import malformed
from simulators.lora_device import (
    EVENT_CASE_OPEN,
    EVENT_COUNTER_RESET,
    EVENT_LEAK,
    EVENT_MAGNET,
    EVENT_METER_REPLACED,
)
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import Fault, load
from simulators.world import SimClock

HOURS = 91  # hours sent: 0 .. 90
PARSERS = {"up": integration.UplinkEvent, "log": integration.LogEvent, "status": integration.StatusEvent,
           "join": integration.JoinEvent}


def _building(data_dir: Path, hours: int = HOURS) -> SimulatedBuilding:
    building = SimulatedBuilding(load("faults"), data_dir, Endpoints(modbus_port=5999))
    building.clock = SimClock(building.world.hour_start(hours), 1.0)  # hours 0 .. hours-1 have closed
    building.clock.freeze()
    return building


def _events(out: list[tuple[str, str]]) -> list[tuple[str, str, object]]:
    """(devEUI, kind, message) with a strict parse of every event."""
    parsed = []
    for topic, text in out:
        parts = topic.split("/")
        parsed.append((parts[3], parts[5], json_format.Parse(text, PARSERS[parts[5]]())))
    return parsed


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulatedBuilding, list, list[dict]]:
    building = _building(tmp_path_factory.mktemp("faults"))
    events = _events(building.due_uplinks())
    return building, events, building.take_announcements()


def _ups(run: tuple, serial: str) -> list:
    building, events, _ = run
    eui = next(d.dev_eui for d in building.lora_devices if d.serial == serial)
    return [e for dev, kind, e in events if dev == eui and kind == "up"]


def _hour_period(world, index: int) -> int:
    return to_device_seconds(utc_to_local(world.hour_start(index), world.tz))


def _hourly(run: tuple, serial: str) -> list:
    return [e for e in _ups(run, serial) if e.f_port == lorawan.FPORT]


def test_the_example_scenario_loads() -> None:
    scenario = load("faults")
    assert {f.kind for f in scenario.faults} == {"offline", "radio_loss", "clock_drift", "clock_jump",
                                                 "counter_reset", "fcnt_reset", "tamper", "malformed", "leak",
                                                 "replacement"}


def test_a_bad_fault_is_refused_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[building]\nsite = "x"\naddress = "y"\n[[faults]]\nkind = "meteor"\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "faults[0].kind" in str(caught.value)
    path.write_text('[building]\nsite = "x"\naddress = "y"\n[[faults]]\nkind = "offline"\ndevice = "nope"\n')
    with pytest.raises(ValueError, match=r"faults\[0\].device"):
        SimulatedBuilding(load(path), tmp_path / "d", Endpoints())
    with pytest.raises(ValueError, match="rate"):
        Fault("radio_loss", rate=1.5)


def test_offline_window_leaves_a_gap_and_silences_modbus(run: tuple, tmp_path: Path) -> None:
    counts = [e.f_cnt for e in _hourly(run, "223070002")]
    assert len(counts) == HOURS - 12
    assert counts == [i for i in range(HOURS) if not 30 <= i < 42]
    building = _building(tmp_path, hours=36)
    building.due_uplinks()
    assert building.heat_meter.offline
    later = _building(tmp_path, hours=51)  # a restart after the window: the unit answers again
    later.due_uplinks()
    assert not later.heat_meter.offline


def test_radio_loss_shows_as_fcnt_gaps(run: tuple) -> None:
    counts = [e.f_cnt for e in _hourly(run, "223070003")]
    lost = sorted(set(range(HOURS)) - set(counts))
    assert lost, "a 20 % loss over 48 hours loses something"
    assert all(24 <= i < 72 for i in lost)
    assert len(lost) < 48 * 0.5


def test_clock_drift_and_jump(run: tuple) -> None:
    building, _, _ = run
    world = building.world
    meter = next(d for d in building.lora_devices if d.serial == "223070004")
    now = world.hour_start(HOURS)
    ahead = (meter.device_now(now) - utc_to_local(now, world.tz)).total_seconds()
    drifting = (now - world.hour_start(10) - timedelta(seconds=30)).total_seconds()
    assert ahead == pytest.approx(3600 + drifting * 200e-6, abs=0.01)
    other = next(d for d in building.lora_devices if d.serial == "223070003")
    assert other.device_now(now) == utc_to_local(now, world.tz)


def test_fcnt_reset_is_logged_and_counting_restarts(run: tuple) -> None:
    building, events, _ = run
    eui = next(d.dev_eui for d in building.lora_devices if d.serial == "223070005")
    (log,) = [e for dev, kind, e in events if dev == eui and kind == "log"]
    assert log.code == integration.LogCode.UPLINK_F_CNT_RESET
    assert log.level == integration.LogLevel.WARNING
    counts = [e.f_cnt for e in _ups(run, "223070005")]
    restart = counts.index(0, 1)
    assert counts[:restart] == list(range(restart))
    assert counts[restart:] == list(range(len(counts) - restart))


def test_counter_reset_restarts_the_registers(run: tuple) -> None:
    ups = _ups(run, "223070005")
    events = [lorawan_up.decode(e.data) for e in ups if e.f_port == lorawan_up.FPORT_DATA]
    assert [e.code for e in events] == [EVENT_COUNTER_RESET]
    frames = [lorawan.decode(e.data) for e in ups if e.f_port == lorawan.FPORT]
    before, after = frames[63], frames[64]
    assert after.heat_kcal < before.heat_kcal
    assert after.input1_litres < 1000  # one hour of water since the reset


def test_replacement_of_the_926lw_water_meter(run: tuple) -> None:
    building, events, announcements = run
    (line,) = announcements
    assert (line["event"], line["building"], line["hour"]) == ("replacement", "faulty", 70)
    assert line["old"] == {"serial": "926070002", "dev_eui": "70b3d5e726070002"}
    (new,) = line["new"]
    assert (new["model"], new["building"]) == ("KARAT-926LW", "faulty")
    serial, eui = new["serial"], new["endpoint"]["dev_eui"]
    assert (serial[:5], eui[:12]) == ("92607", "70b3d5e72607")
    assert 5000 <= int(serial[5:]) <= 9999
    assert new["endpoint"]["topic"].endswith(f"/device/{eui}/event/up")
    # the old identity's uplinks stop at the replacement, the new one's start there with fCnt 0
    old_ups = [e for dev, kind, e in events if dev == "70b3d5e726070002" and kind == "up"]
    assert [e.f_cnt for e in old_ups] == list(range(70))
    mine = [(kind, e) for dev, kind, e in events if dev == eui]
    assert [k for k, _ in mine[:3]] == ["join", "up", "up"]
    ups = [e for k, e in mine if k == "up"]
    assert [e.f_cnt for e in ups] == list(range(len(ups)))
    assert len(ups) == 2 + HOURS - 70  # event 0x0406 and the passport, then one uplink an hour
    event, passport = lorawan_up.decode(ups[0].data), lorawan_up.decode(ups[1].data)
    assert (event.effect, event.code) == (lorawan_up.Effect.OTHER, EVENT_METER_REPLACED)
    world = building.world
    replaced = utc_to_local(world.hour_start(70), world.tz)
    assert passport.serial == int(serial)
    assert passport.verified == to_device_seconds(replaced.replace(hour=0) - timedelta(days=7))
    # registers: the new meter counts from its own initial reading
    module = next(d for d in building.lora_devices if d.dev_eui == eui)
    (start,) = module.start_readings(1)
    assert 0 <= start <= 99
    assert module.counters_at(80)[0] == module.counter.at(80)[0] - module.counter.at(69)[0] + start
    assert module.counters_at(69)[0] == module.counter.at(69)[0]
    # the new device has no archive from before it was fitted
    now = world.hour_start(HOURS)
    assert module.archive_end_index(ArchiveKind.HOUR, _hour_period(world, 69), now) is None
    assert module.archive_end_index(ArchiveKind.HOUR, _hour_period(world, 70), now) == 70
    hour = lorawan_archive.decode(ups[2].data)  # hourly records are amounts: unchanged by the new meter
    assert hour.readings[0].raw == module.counter.at(70)[0] - module.counter.at(69)[0]


def test_tampering_events(run: tuple) -> None:
    events = [lorawan_up.decode(e.data) for e in _ups(run, "223070006") if e.f_port == lorawan_up.FPORT_DATA]
    assert [(e.effect, e.severity, e.code) for e in events] == [
        (lorawan_up.Effect.INTEGRITY, lorawan_up.Severity.ALARM, EVENT_CASE_OPEN),
        (lorawan_up.Effect.INTERFERENCE, lorawan_up.Severity.ALARM, EVENT_MAGNET)]


def test_malformed_frames(run: tuple) -> None:
    hourly = _hourly(run, "223070001")
    fields = []
    for event in hourly[12:15]:
        with pytest.raises(DecodeError) as caught:
            lorawan.decode(event.data)
        fields.append(caught.value.field)
    assert fields == ["crc", "length", "template"]
    lorawan.decode(hourly[15].data)
    good = bytes.fromhex("11 c3b2a166 87d61200 b45b0100 07870000 01 196e")
    assert malformed(good, "bad_crc")[:-2] == good[:-2]


def test_a_leak_runs_the_cold_water_counter(run: tuple, tmp_path: Path) -> None:
    frames = [lorawan.decode(e.data) for e in _hourly(run, "223070001")[15:]]  # 12-14 are malformed
    clean = _building(tmp_path)  # the same world without the leak
    clean.faults.faults.clear()
    meter = next(d for d in clean.lora_devices if d.serial == "223070001")
    extra = [0] * 15 + [frames[i - 15].input2_litres - lorawan.decode(meter.hourly_payload(i)).input2_litres
                        for i in range(15, HOURS)]
    assert extra[:48] == [0] * 48
    assert extra[48:84] == [15 * (i + 1) for i in range(36)]
    assert extra[84:] == [15 * 36] * (HOURS - 84)
    assert [f.flags for f in frames[48 - 15:53 - 15]] == [0, 0, 0, 1, 1]
    assert frames[84 - 15].flags == 0
    alarms = [lorawan_up.decode(e.data) for e in _ups(run, "223070001") if e.f_port == lorawan_up.FPORT_DATA]
    assert [(a.effect, a.code) for a in alarms] == [(lorawan_up.Effect.LIMIT, EVENT_LEAK)]


def test_runs_are_reproducible_across_a_restart(run: tuple, tmp_path: Path) -> None:
    _, events, _ = run
    first = _building(tmp_path, hours=46)
    out = first.due_uplinks()
    first.checkpoint()
    again = _building(tmp_path, hours=HOURS)
    out += again.due_uplinks()
    assert [(d, k, json_format.MessageToDict(e)) for d, k, e in _events(out)] == \
        [(d, k, json_format.MessageToDict(e)) for d, k, e in events]


def test_the_run_publishes_uplinks_a_log_event_and_daily_status(run: tuple) -> None:
    building, events, _ = run
    assert {k for _d, k, _e in events} == {"up", "log", "status", "join"}
    statuses = [e for _d, k, e in events if k == "status"]
    days = sum(1 for i in range(HOURS) if utc_to_local(building.world.hour_start(i), building.world.tz).hour == 23)
    assert days >= 3
    heard_at_23 = len(statuses) / days
    assert heard_at_23 <= len(building.lora_devices)  # a device whose uplink is lost answers no status
    assert all(0 <= s.battery_level <= 100 and not s.battery_level_unavailable for s in statuses)
