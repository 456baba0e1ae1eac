"""Chaos: the uplink is down while a Modbus meter's 20-day backlog is read into a buffer whose
disk budget is far too small. Unsynced values are evicted oldest first and every eviction is an
event with its count; once the link is back, ClickHouse holds exactly the values that were not
reported evicted, each once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.storage.clickhouse import ClickHouse
from edge.agent import EdgeAgent
from edge.buffer import Buffer
from tests.chaos.edge_support import edge_config, meter_config, modbus_device, supervised_ingest, until
from tests.conftest import free_port

DAYS = 20
VALUES_PER_HOUR = 7  # KARAT-307: Q, V1, V2, T1, T2 on heat; V on hot and on cold water


async def test_a_full_disk_budget_evicts_oldest_first_and_reports_every_lost_value(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    commissioned = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    now = commissioned + timedelta(days=DAYS, minutes=30)
    async with modbus_device(commissioned, now, speed=1.0) as dev:
        dead_link = f"nats://127.0.0.1:{free_port()}"  # nothing listens: the uplink is down
        config = edge_config(tmp_path / "edge", [meter_config(dev)], site="chaos-disk", nats_url=dead_link,
                             disk_budget_bytes=192 * 1024, batch_max_records=50)
        total = DAYS * 24 * VALUES_PER_HOUR
        agent = EdgeAgent(config)
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await until(lambda: not agent.gaps.summary(), 30, "the whole backlog read")
            await until(lambda: agent.budget.evicted_unsynced > 0, 15, "an eviction")
            await asyncio.sleep(1.5)  # one more budget check after the last read
        finally:
            stop.set()
            await task
    buf = Buffer(config.data_dir / "buffer.db")
    events = buf.events(kind="unsynced_evicted", limit=10_000)
    evicted = sum(e["count"] for e in events)
    kept = buf.db.execute("SELECT count(*) FROM archive").fetchone()[0]
    assert evicted > 0
    assert kept + evicted == total  # every value read is either kept or reported evicted
    newest_evicted = max(e["detail"]["last_period_utc"] for e in events)
    assert buf.db.execute("SELECT min(period_start) FROM archive").fetchone()[0] > newest_evicted  # oldest first
    assert "critical" in {e["detail"]["level"] for e in buf.events(kind="disk_budget", limit=100)}
    buf.close()

    # the link comes back: what was kept arrives, exactly once
    agent = EdgeAgent(edge_config(tmp_path / "edge", config.meters, site="chaos-disk", nats_url=nats.url,
                                  disk_budget_bytes=192 * 1024, batch_max_records=50))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(agent.run(stop)), asyncio.create_task(supervised_ingest(nats.url, clickhouse, stop))]
    try:
        async def arrived() -> bool:
            return (await clickhouse.query("SELECT count() FROM {db}.archive FINAL"))[0][0] >= kept
        await until(arrived, 60, f"{kept} values in ClickHouse")
        raw, distinct = (await clickhouse.query(
            "SELECT count(), uniqExact(meter, channel, kind, parameter, period_start) FROM {db}.archive"))[0]
        assert raw == distinct == kept
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
