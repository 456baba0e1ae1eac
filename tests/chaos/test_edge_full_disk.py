"""Chaos: the uplink is down while a Modbus meter's 20-day backlog is read into a buffer whose
disk budget is far too small. Unsynced values are evicted oldest first and every eviction is an
event with its count; once the link is back, ClickHouse holds exactly the values that were not
reported evicted, each once, and the eviction events that say how many were. And a disk that
fills up for real under the agent (SQLITE_FULL) stops nothing and loses nothing silently."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.storage.clickhouse import ClickHouse
from edge.agent import EdgeAgent
from edge.buffer import Buffer
from protocol.vocabulary import ArchiveKind
from tests.chaos.edge_support import (
    assert_events_and_lost_exactly_once,
    edge_config,
    meter_config,
    modbus_device,
    supervised_ingest,
    until,
    until_progress,
)
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
        def read() -> int:
            """Values read so far: kept in the buffer or reported evicted."""
            evicted = sum(e["count"] for e in agent.buffer.events(kind="unsynced_evicted", limit=10_000)
                          if e["detail"]["content"] == "archive")
            return agent.buffer.db.execute("SELECT count(*) FROM archive").fetchone()[0] + evicted
        try:
            # every value of the backlog read (an empty gap list alone is also what an agent that
            # has not polled yet shows, so the count is what is waited for)
            # waits as long as reading goes on (a loaded machine reads slower), fails once it stalls
            await until_progress(lambda: read() == total, read, f"the whole backlog of {total} values read")
            await until(lambda: not agent.gaps.summary(), 30, "no open gap")
            await until(lambda: agent.budget.evicted_unsynced > 0, 15, "an eviction")
            await asyncio.sleep(1.5)  # one more budget check after the last read
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)
    buf = Buffer(config.data_dir / "buffer.db")
    events = [e for e in buf.events(kind="unsynced_evicted", limit=10_000) if e["detail"]["content"] == "archive"]
    evicted = sum(e["count"] for e in events)
    kept = buf.db.execute("SELECT count(*) FROM archive").fetchone()[0]
    assert evicted > 0
    assert kept + evicted == total  # every value read is either kept or reported evicted
    newest_evicted = max(e["detail"]["last_period_utc"] for e in events)
    assert buf.db.execute("SELECT min(period_start) FROM archive").fetchone()[0] > newest_evicted  # oldest first
    # the budget warned before it evicted; which marks a check sees depends on how much one poll
    # cycle wrote since the last check (80 % and 95 % both, or straight from below 80 % to full)
    levels = {e["detail"]["level"] for e in buf.events(kind="disk_budget", limit=100)}
    assert levels
    assert levels <= {"warning", "critical", "full"}
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
        # the cloud knows what was lost, exactly: the edge's eviction events arrived, once each
        await assert_events_and_lost_exactly_once(clickhouse, config.data_dir / "buffer.db", "chaos-disk")
        reported = (await clickhouse.query(
            "SELECT sum(JSONExtractInt(detail, 'count')) FROM {db}.device_events WHERE site = 'chaos-disk' "
            "AND code = 'unsynced_evicted' AND JSONExtractString(detail, 'content') = 'archive'"))[0][0]
        assert kept + reported == total
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_disk_that_fills_up_under_the_agent_stops_nothing_and_loses_nothing_silently(
        tmp_path: Path) -> None:
    """The disk (not the budget) fills while a 6-day backlog is read: a real SQLITE_FULL
    (``max_page_count`` on the agent's own connection). The agent keeps running, the backlog is
    read, and every value read is either in the buffer or reported evicted."""
    days = 6
    commissioned = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    now = commissioned + timedelta(days=days, minutes=30)
    async with modbus_device(commissioned, now, speed=1.0) as dev:
        config = edge_config(tmp_path / "edge", [meter_config(dev)], site="chaos-disk-full",
                             nats_url=f"nats://127.0.0.1:{free_port()}")  # the uplink is down
        agent = EdgeAgent(config)
        db = agent.buffer.db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 16}")  # the disk has room for 16 more pages (~4 days)
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))

        def accounted(buf: Buffer) -> tuple[int, int]:
            """(values kept, values reported evicted)"""
            evicted = sum(e["count"] for e in buf.events(kind="unsynced_evicted", limit=10_000)
                          if e["detail"]["content"] == "archive")
            return buf.db.execute("SELECT count(*) FROM archive").fetchone()[0], evicted
        total = days * 24 * VALUES_PER_HOUR
        try:
            await until(lambda: sum(accounted(agent.buffer)) == total and agent.buffer.cursor(
                dev.device.serial, ArchiveKind.HOUR) is not None and not agent.gaps.summary(), 60,
                "the whole backlog read, every value kept or reported evicted")
            assert agent.buffer.events(kind="disk_full")
            assert not task.done()  # the agent runs on
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)
    buf = Buffer(config.data_dir / "buffer.db")
    kept, evicted = accounted(buf)
    assert evicted > 0
    assert kept + evicted == total
    buf.close()
