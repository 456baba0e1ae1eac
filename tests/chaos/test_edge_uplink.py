"""Chaos on the uplink: nats-server restarted in the middle of sync, then the cloud link cut
for two simulated days while the building keeps producing, then restored. The agent shows the
cut in its status within seconds, keeps buffering, and afterwards every record is in ClickHouse
exactly once, and so is every event and lost period the edge recorded. Also: a Modbus device
offline for three simulated days comes back and is backfilled into ClickHouse without restarting
anything; one offline longer than its archive depth has exactly its lost periods in ClickHouse."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.storage.clickhouse import ClickHouse
from domuchet import natsserver
from edge.agent import EdgeAgent
from edge.status import snapshot
from protocol.periods import local_to_utc, periods, utc_to_local
from protocol.vocabulary import ArchiveKind
from simulators.runner import Endpoints, SimulatedBuilding
from tests.chaos.edge_support import (
    assert_events_and_lost_exactly_once,
    assert_exactly_once,
    building_meters,
    building_scenario,
    cloud_events_and_lost,
    edge_config,
    expected_keys,
    hours,
    meter_config,
    modbus_device,
    stored_keys,
    supervised_ingest,
    until,
)
from tests.conftest import free_port

SPEED = 36000.0  # ten simulated hours per wall second


async def test_nats_restart_and_a_two_day_uplink_cut_lose_and_double_nothing(clickhouse: ClickHouse,
                                                                             tmp_path: Path) -> None:
    nats_cfg = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port())

    def start_nats():
        return natsserver.start(nats_cfg, tmp_path / "nats", tmp_path / "nats.log", new_session=False, auth=False)

    nats_proc = start_nats()
    modbus_port = free_port()
    building = SimulatedBuilding(building_scenario("chaos-uplink", speed=SPEED), tmp_path / "sim",
                                 Endpoints(modbus_port=modbus_port, mqtt_port=nats_cfg.mqtt_port))
    config = edge_config(tmp_path / "edge", building_meters(building, modbus_port), site="chaos-uplink",
                         nats_url=nats_cfg.url, mqtt_port=nats_cfg.mqtt_port, batch_max_records=12)
    agent = EdgeAgent(replace(config, time_zone=building.scenario.building.time_zone))
    stop, sim_stop = asyncio.Event(), asyncio.Event()
    devnull = open(os.devnull, "w")  # closed in finally
    tasks = [asyncio.create_task(agent.run(stop)),
             asyncio.create_task(supervised_ingest(nats_cfg.url, clickhouse, stop))]
    sim = None
    try:
        await until(lambda: agent.mqtt is not None and agent.mqtt.connected, 20, "the edge's MQTT session")
        sim = asyncio.create_task(building.run(devnull, sim_stop))
        await until(lambda: agent.sync.watermark >= 3, 30, "a few batches stored")

        # 1. nats-server restarts while batches are in flight (and a device reports an event)
        agent.buffer.add_device_event(building.heat_meter.serial, 1_768_435_200.0, "interference", "warning", {})
        nats_proc.terminate()
        nats_proc.wait()
        nats_proc = start_nats()
        mark = agent.sync.watermark
        await until(lambda: agent.sync.connected and agent.sync.watermark > mark, 30, "sync after the restart")

        # 2. the uplink is cut for two simulated days while the building keeps producing
        nats_proc.terminate()
        nats_proc.wait()
        await until(lambda: not snapshot(agent)["sync"]["nats_connected"], 10, "the cut shown in status")
        cut_at = building.clock.now()
        agent.buffer.add_device_event(building.heat_meter.serial, 1_768_435_260.0, "integrity", "alarm", {})
        await until(lambda: building.clock.now() - cut_at >= timedelta(days=2), 30, "two simulated days")
        s = snapshot(agent)
        assert not s["sync"]["nats_connected"]
        assert s["buffer"]["unsynced_values"] > 0  # acquisition went on and buffered
        assert s["buffer"]["oldest_unsynced_age_s"] is not None
        nats_proc = start_nats()

        frozen = building.clock.freeze()
        closed = building.world.hour_index(frozen)
        await until(lambda: building.state.last_sent_hour == closed - 1, 15, "the last uplinks sent")
        expected = expected_keys(building, closed, closed)
        assert closed >= 48

        async def all_stored() -> bool:
            return await stored_keys(clickhouse) >= expected
        await until(all_stored, 60, f"{len(expected)} keys in ClickHouse")
        await assert_exactly_once(clickhouse, expected)
        await until(lambda: snapshot(agent)["buffer"]["unsynced_values"] == 0, 20, "every batch confirmed stored")
        events, _ = await assert_events_and_lost_exactly_once(clickhouse, config.data_dir / "buffer.db",
                                                              "chaos-uplink")
        assert {"interference", "integrity"} <= set(events.values())
    finally:
        sim_stop.set()
        if sim is not None:
            await asyncio.gather(sim, return_exceptions=True)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        nats_proc.terminate()
        nats_proc.wait()
        devnull.close()


async def test_a_modbus_device_offline_for_three_days_is_backfilled_into_clickhouse(nats, clickhouse: ClickHouse,
                                                                                   tmp_path: Path) -> None:
    commissioned = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    async with modbus_device(commissioned, commissioned + hours(6.5), speed=1.0) as dev:
        config = edge_config(tmp_path / "edge", [meter_config(dev)], site="chaos-backfill", nats_url=nats.url,
                             batch_max_records=20)
        agent = EdgeAgent(config)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(agent.run(stop)),
                 asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop))]
        serial, tz = dev.device.serial, dev.device.world.tz
        try:
            def keys(n_hours: int) -> set[tuple]:
                first = utc_to_local(commissioned, tz)
                return {(serial, ch, p, local_to_utc(start, tz).replace(tzinfo=None))
                        for start in list(periods(ArchiveKind.HOUR, first, dev.device.device_now()))[:n_hours]
                        for ch, p in ((1, "Q"), (2, "V"), (3, "V"))}

            async def stored(n_hours: int) -> bool:
                return await stored_keys(clickhouse) >= keys(n_hours)
            await until(lambda: stored(6), 30, "six hours in ClickHouse")
            await dev.stop()
            await until(lambda: bool(agent.pollers[0].last_error), 15, "the device seen offline")
            dev.jump(commissioned + hours(6.5 + 72), speed=1.0)
            await asyncio.sleep(1.0)
            await dev.start()
            await until(lambda: stored(78), 30, "the backfilled three days in ClickHouse")
            await assert_exactly_once(clickhouse, keys(78))
            s = snapshot(agent)
            assert s["devices"][0]["last_error"] == ""
            assert s["open_gaps"] == 0
            assert s["lost_periods"] == 0
            _, lost = await assert_events_and_lost_exactly_once(clickhouse, config.data_dir / "buffer.db",
                                                                "chaos-backfill")
            assert lost == set()  # three days are within the device's depth: nothing lost
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_device_offline_longer_than_its_archive_depth_has_exactly_its_lost_periods_in_clickhouse(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    """The device keeps one day of hourly archives (as configured) and is off the line for three:
    the periods older than its depth are reported lost (never filled in) and reach ClickHouse's
    lost_periods exactly; every other period reaches the archive; the two never overlap."""
    commissioned = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    async with modbus_device(commissioned, commissioned + hours(6.5), speed=1.0) as dev:
        config = edge_config(tmp_path / "edge", [meter_config(dev, archive_depth_days=1)], site="chaos-depth",
                             nats_url=nats.url, batch_max_records=20)
        agent = EdgeAgent(config)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(agent.run(stop)),
                 asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop))]
        serial, tz = dev.device.serial, dev.device.world.tz
        try:
            await until(lambda: agent.buffer.cursor(serial, ArchiveKind.HOUR) is not None
                        and not agent.gaps.summary(), 30, "the first six hours read")
            await dev.stop()
            await until(lambda: bool(agent.pollers[0].last_error), 15, "the device seen offline")
            dev.jump(commissioned + hours(6.5 + 72), speed=1.0)
            await dev.start()
            first = utc_to_local(commissioned, tz)
            closed = [local_to_utc(p, tz) for p in periods(ArchiveKind.HOUR, first, dev.device.device_now())]
            beyond = commissioned + hours(6.5 + 72 - 24)  # the device's depth when it came back
            lost_hours = {p for p in closed[6:] if p < beyond}
            kept_hours = set(closed) - lost_hours
            assert (len(lost_hours), len(kept_hours)) == (49, 29)

            async def archive_complete() -> bool:
                rows = await clickhouse.query("SELECT DISTINCT period_start FROM {db}.archive WHERE meter = "
                                              "{m:String}", {"m": serial})
                return {t.replace(tzinfo=UTC) for (t,) in rows} == kept_hours
            await until(archive_complete, 30, "the periods within the depth in ClickHouse")
            _, lost = await assert_events_and_lost_exactly_once(clickhouse, config.data_dir / "buffer.db",
                                                                "chaos-depth")
            assert lost == {(serial, "hour", int(p.timestamp())) for p in lost_hours}
            _, cloud_lost = await cloud_events_and_lost(clickhouse, "chaos-depth")
            assert len(cloud_lost) == 49
            reported = await clickhouse.query(
                "SELECT sum(JSONExtractInt(detail, 'count')) FROM {db}.device_events "
                "WHERE site = 'chaos-depth' AND code = 'periods_lost'")
            assert reported[0][0] == 49  # and the edge said so, with the count
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
