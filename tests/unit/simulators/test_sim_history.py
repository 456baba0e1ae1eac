"""The simulator's clock never runs ahead of the wall clock (SimClock's cap), a building that starts
with its history in the devices' archives (``past = "archives"``), the catch-up after a stop, and
the demo's wake-up uplinks that carry queued downlinks (docs/demo.md)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chirpstack_api import integration
from google.protobuf import json_format

from protocol import lorawan, lorawan_down
from protocol.vocabulary import ArchiveKind
from simulators.runner import Endpoints, SimState, SimulatedBuilding
from simulators.scenario import Scenario, load
from simulators.world import SimClock, commissioning_utc

T0 = datetime(2026, 11, 28, 5, 27, 0, tzinfo=UTC)  # the wall clock at the first start (08:27 in Moscow)


def _demo() -> Scenario:
    """The demo's building as `domuchet demo --history-days 3` runs it (domuchet/demo.py)."""
    return replace(load("demo"), history_days=3, past="archives", speed=86400.0, lora_wakeup_s=0.5)


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_capped_clock_replays_at_speed_then_keeps_to_the_wall() -> None:
    ticks = Ticks()
    wall = {"now": T0}
    start = T0 - timedelta(hours=10)  # stopped ten hours ago
    clock = SimClock(start, 3600.0, cap=lambda: wall["now"], monotonic=ticks)
    assert clock.now() == start
    ticks.t += 4  # 4 wall seconds at x3600: 4 simulated hours
    wall["now"] = T0 + timedelta(seconds=4)
    assert clock.now() == T0 - timedelta(hours=6)
    ticks.t += 6  # 10 s in: start + 10 h = T0, but the wall clock is at T0 + 10 s
    wall["now"] = T0 + timedelta(seconds=10)
    assert clock.now() == T0
    ticks.t += 20  # 30 s in: start + 30 h would be 20 h ahead; the wall clock (T0 + 30 s) wins
    wall["now"] = T0 + timedelta(seconds=30)
    assert clock.now() == T0 + timedelta(seconds=30)


def test_clock_started_ahead_of_the_wall_reads_the_wall() -> None:
    ticks = Ticks()
    clock = SimClock(T0 + timedelta(days=21), 1440.0, cap=lambda: T0, monotonic=ticks)
    assert clock.now() == T0  # a state saved by a clock that ran ahead comes back to now
    uncapped = SimClock(T0, 1440.0, monotonic=ticks)
    ticks.t += 60  # a minute at x1440 is a day: without a cap (tests, QA) it goes there
    assert uncapped.now() == T0 + timedelta(days=1)


def test_history_days_set_commissioning() -> None:
    scenario = _demo()
    # 08:27 Moscow on 28.11: midnight 28.11, minus 3 days and an hour: 24.11 23:00 Moscow = 20:00 UTC
    assert commissioning_utc(scenario, T0) == datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    # the default of a scenario file without the key: two whole days, 25.11 23:00 Moscow
    assert commissioning_utc(replace(scenario, history_days=2), T0) == datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def test_archives_mode_starts_at_the_wall_clock() -> None:
    scenario = _demo()
    state = SimState.fresh(scenario, T0)
    assert state.commissioning == datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    assert state.sim_now == T0
    # T0 is 81 h 27 min after commissioning: hours 0..80 have closed; 80 goes out at once, 0..79
    # are in the archives
    assert state.last_sent_hour == 79
    replay = SimState.fresh(replace(scenario, past="replay"), T0)
    assert (replay.sim_now, replay.last_sent_hour) == (replay.commissioning, -1)


def _building(tmp_path: Path, state: SimState, monotonic: Ticks, now: datetime) -> SimulatedBuilding:
    scenario = _demo()
    state.save(tmp_path / "state.json")
    building = SimulatedBuilding(scenario, tmp_path, Endpoints(modbus_port=5999))
    building.clock = SimClock(building.state.sim_now, scenario.speed, cap=lambda: now, monotonic=monotonic)
    return building


def _hours(out: list[tuple[str, str]], dev_eui: str) -> list[datetime]:
    """Local starts (naive) of the hourly archives a device sent, in order."""
    starts = []
    for topic, text in out:
        if topic.endswith(f"{dev_eui}/event/up"):
            event = json_format.Parse(text, integration.UplinkEvent())
            if event.f_port == lorawan.FPORT:
                frame = lorawan.decode(bytes(event.data))
                starts.append(datetime(1970, 1, 1) + timedelta(seconds=frame.period))
    return starts


def test_first_start_sends_the_last_closed_hour_only(tmp_path: Path) -> None:
    state = SimState.fresh(_demo(), T0)
    building = _building(tmp_path, state, Ticks(), T0)
    eui = building.apartment_meters[0].dev_eui
    # hour 80 starts at 24.11 23:00 + 80 h = 28.11 07:00 Moscow and closed at 08:00
    assert _hours(building.due_uplinks(), eui) == [datetime(2026, 11, 28, 7, 0)]
    assert _hours(building.due_uplinks(), eui) == []


def test_restart_catches_up_the_pause_and_stops_at_now(tmp_path: Path) -> None:
    first = SimState.fresh(_demo(), T0)
    stopped = replace(first, sim_now=T0 - timedelta(hours=6), last_sent_hour=74)  # stopped at 02:27 Moscow
    ticks = Ticks()
    building = _building(tmp_path, stopped, ticks, T0)
    eui = building.apartment_meters[0].dev_eui
    ticks.t += 3  # 3 s at x86400: far past now, capped at T0 (08:27 Moscow)
    sent = _hours(building.due_uplinks(), eui)
    # hours 75..80: 28.11 02:00 .. 07:00 Moscow (08:00 has not closed at 08:27)
    assert sent == [datetime(2026, 11, 28, h, 0) for h in range(2, 8)]
    assert building.clock.now() == T0


def test_wake_up_uplink_carries_one_downlink(tmp_path: Path, monkeypatch) -> None:
    state = SimState.fresh(_demo(), T0)
    building = _building(tmp_path, state, Ticks(), T0)
    building.due_uplinks()
    meter = building.apartment_meters[0]
    wall = {"t": 500.0}
    monkeypatch.setattr("simulators.runner.time.monotonic", lambda: wall["t"])
    for first, last in ((datetime(2026, 11, 28, 4), datetime(2026, 11, 28, 6)),
                        (datetime(2026, 11, 27, 0), datetime(2026, 11, 27, 0))):
        request = lorawan_down.ArchiveRequest(ArchiveKind.HOUR, int((first - datetime(1970, 1, 1)).total_seconds()),
                                              int((last - datetime(1970, 1, 1)).total_seconds()))
        payload = json.dumps({"devEui": meter.dev_eui, "fPort": lorawan_down.FPORT_COMMAND,
                              "data": base64.b64encode(lorawan_down.encode(request)).decode()}).encode()
        assert building.enqueue_downlink(f"application/x/device/{meter.dev_eui}/command/down", payload)
    assert _hours(building.due_uplinks(), meter.dev_eui) == []  # queued just now: 0.5 s to wait
    wall["t"] += 0.5
    out = building.due_uplinks()
    # the wake-up repeats the last closed hour (07:00), then the first request's three hours answer
    assert _hours(out, meter.dev_eui) == [datetime(2026, 11, 28, h) for h in (7, 4, 5, 6)]
    times = [json_format.Parse(t, integration.UplinkEvent()).time.ToDatetime(tzinfo=UTC)
             for topic, t in out if topic.endswith("/event/up")]
    assert max(times) <= T0  # nothing the network server reports is later than the clock
    wall["t"] += 0.4
    assert _hours(building.due_uplinks(), meter.dev_eui) == []  # the second waits for the next wake-up
    wall["t"] += 0.1
    assert _hours(building.due_uplinks(), meter.dev_eui) == [datetime(2026, 11, 28, 7), datetime(2026, 11, 27, 0)]
    assert not building.pending.get(meter.dev_eui)
