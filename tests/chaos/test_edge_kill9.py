"""Chaos: the edge agent (a real `python -m domuchet edge` process) is killed with SIGKILL
several times while it polls, buffers and publishes batches; the simulated building keeps
producing over Modbus TCP and LoRaWAN/MQTT. Afterwards every record is in ClickHouse exactly
once (count by key, no duplicates), through the cloud's own ingest, and so is every event (one
device event arrives before each kill) and lost period the edge recorded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from cloud.storage.clickhouse import ClickHouse
from simulators.runner import Endpoints, SimulatedBuilding
from tests.chaos.edge_support import (
    assert_events_and_lost_exactly_once,
    assert_exactly_once,
    building_meters,
    building_scenario,
    edge_config,
    edge_toml,
    expected_keys,
    stored_keys,
    supervised_ingest,
    until,
)
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
KILLS = 4
PAUSED_KILL = 2  # before this kill the cloud's ingest is stopped, so its batches cannot be confirmed
HOURS = 36  # simulated hours the building runs


def _unconfirmed(db: Path, after: int = 0) -> tuple[int, int]:
    """What the killed agent left in flight: batches (numbered above `after`) not yet confirmed
    stored, values not batched."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:  # never creates it
        batches = conn.execute("SELECT count(*) FROM batches WHERE state != 'stored' AND seq > ?",
                               [after]).fetchone()[0]
        values = conn.execute("SELECT count(*) FROM archive WHERE batch IS NULL").fetchone()[0]
    return batches, values


def _last_batch(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT coalesce(max(seq), 0) FROM batches").fetchone()[0]


def _device_event(db: Path, n: int) -> None:
    """A device event as the LoRa driver records it (Buffer.add_device_event), written while the agent is dead."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("INSERT INTO events (at, kind, meter, count, detail, severity, source) "
                     "VALUES (?, 'interference', 'm-kill', 0, '{}', 'warning', 'device')", [1_768_435_200.0 + n])


def _start_edge(config_file: Path, data_dir: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "domuchet", "edge", "--config", str(config_file),
                                 "--data-dir", str(data_dir)], cwd=REPO, env=env, stdout=out, stderr=out)


async def test_kill_9_of_the_edge_mid_batch_loses_and_doubles_nothing(nats, clickhouse: ClickHouse,
                                                                      tmp_path: Path) -> None:
    rng = random.Random(7)
    modbus_port = free_port()
    building = SimulatedBuilding(building_scenario("chaos-kill", speed=9000.0), tmp_path / "sim",
                                 Endpoints(modbus_port=modbus_port, mqtt_port=nats.mqtt_port))
    config = edge_config(tmp_path / "edge", building_meters(building, modbus_port), site="chaos-kill",
                         nats_url=nats.url, mqtt_port=nats.mqtt_port, batch_max_records=6)
    config = replace(config, time_zone=building.scenario.building.time_zone)
    config_file = tmp_path / "edge.toml"
    config_file.write_text(edge_toml(config))
    log = tmp_path / "edge.log"
    stop = asyncio.Event()
    ingest = asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop))
    edge = _start_edge(config_file, tmp_path / "edge-data", log)
    sim: asyncio.Task | None = None
    sim_stop = asyncio.Event()
    devnull = open(os.devnull, "w")  # closed in finally
    in_flight: list[tuple[int, int]] = []  # (unconfirmed batches, unbatched values) at each kill
    try:
        # the MQTT session must exist before the network server sends, as on a real site
        await until(lambda: "event=mqtt_connected" in log.read_text(errors="replace"), 30, "the edge's MQTT session")
        sim = asyncio.create_task(building.run(devnull, sim_stop))
        for n in range(1, KILLS + 1):
            await until(lambda n=n: log.read_text(errors="replace").count("event=edge_started") >= n, 30,
                        f"edge start {n}")
            if n == PAUSED_KILL:
                # one kill certainly lands mid-sync: with the cloud's ingest stopped, batches built
                # from now on stay unconfirmed (acks sent before the stop may still arrive; a race
                # between a random moment and a fast local confirmation decided it before)
                stop.set()
                await ingest
                after = _last_batch(config.data_dir / "buffer.db")
            else:
                after = 0
            # polling, buffering and publishing by now: kill once a batch is in flight (on a loaded
            # machine a fixed pause could end before the agent built one), a random moment later
            await until(lambda after=after: _unconfirmed(config.data_dir / "buffer.db", after)[0] > 0, 60,
                        f"a batch in flight ({n})")
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            edge.send_signal(signal.SIGKILL)
            assert await asyncio.to_thread(edge.wait) == -signal.SIGKILL
            in_flight.append(_unconfirmed(config.data_dir / "buffer.db", after))
            if n == PAUSED_KILL:
                stop = asyncio.Event()
                ingest = asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop))
            _device_event(config.data_dir / "buffer.db", n)  # arrived just before the kill
            edge = _start_edge(config_file, tmp_path / "edge-data", log)
        await until(lambda: building.world.hour_index(building.clock.now()) >= HOURS, 60, "simulated hours")
        frozen = building.clock.freeze()
        closed = building.world.hour_index(frozen)
        await until(lambda: building.state.last_sent_hour == closed - 1, 15, "the last uplinks sent")
        expected = expected_keys(building, closed, closed)

        async def all_stored() -> bool:
            return await stored_keys(clickhouse) >= expected
        await until(all_stored, 60, f"{len(expected)} keys in ClickHouse")
        await assert_exactly_once(clickhouse, expected)
        events, _ = await assert_events_and_lost_exactly_once(clickhouse, config.data_dir / "buffer.db", "chaos-kill")
        assert list(events.values()).count("interference") == KILLS
        # the kills did land mid-sync: batches built or published but not yet confirmed stored
        assert in_flight[PAUSED_KILL - 1][0] > 0, in_flight
        edge.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(edge.wait, 30) == 0
    finally:
        if edge.poll() is None:
            edge.kill()
            edge.wait()
        if sim is not None:
            sim_stop.set()
            await asyncio.gather(sim, return_exceptions=True)
        devnull.close()
        stop.set()
        await ingest
