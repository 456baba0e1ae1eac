"""Ingest hardening on a real nats-server and chDB: records of meters the registry does not
know are dead-lettered with the reason (the rest of the batch is stored), two workers share
one durable consumer without storing anything twice, and dead-lettered payloads are listed
and replayed through the ingest's handle path (`domuchet deadletter`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import nats as nats_client
import pytest

from cloud import deadletter
from cloud.ingest import Ingest
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from domuchet import deadletter_cmd
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, encode_batch
from tests.chaos.edge_support import streams_ready

START = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


def _batch(site: str, seq: int, meters: tuple[str, ...], hours: int = 2) -> Batch:
    records = tuple(ArchiveRecord(m, 1, ArchiveKind.HOUR, Nature.INTEGRAL, START + 3600 * (h + seq * hours),
                                  {"Q": 100.0 + seq + h}, received_at=1.0)
                    for m in meters for h in range(hours))
    return Batch(site, seq, records, created_at=2.0)


async def _until(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _count(ch: ClickHouse, sql: str) -> int:
    return (await ch.query(sql))[0][0]


async def _publish(url: str, batches: list[tuple[str, bytes, str]]) -> None:
    nc = await nats_client.connect(url)
    try:
        js = nc.jetstream()
        for subject, data, msg_id in batches:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


def _registry(tmp_path: Path, site: str, serials: tuple[str, ...]) -> Registry:
    registry = Registry(tmp_path / "registry.db")
    with registry.connect() as db:
        company = db.execute("INSERT INTO companies (name, city) VALUES ('УК', 'Казань')").lastrowid
        building = db.execute("INSERT INTO buildings (company_id, site, address, city, time_zone, area_m2, residents) "
                              "VALUES (?, ?, 'ул. 1', 'Казань', 'UTC', 100, 3)", (company, site)).lastrowid
        for serial in serials:
            _add_meter(db, company, building, serial)
    return registry


def _add_meter(db, company: int, building: int, serial: str) -> None:
    db.execute("INSERT INTO meters (company_id, building_id, serial, model, role, communicator, archives) "
               "VALUES (?, ?, ?, 'KARAT-307', 'common', 'x', 'hour, integral')", (company, building, serial))


async def test_unknown_meters_are_dead_lettered_and_replayed_after_registration(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    registry = _registry(tmp_path, "dl", ("KNOWN1",))
    ingest = Ingest(nats.url, clickhouse, known_meters=registry.meter_serials_by_site, refresh_s=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    subject = subjects.archive_subject("dl")
    mixed = _batch("dl", 1, ("KNOWN1", "STRANGER"))
    only_unknown = _batch("dl", 2, ("STRANGER",))
    wrong_site = _batch("other", 3, ("KNOWN1",))
    newer = encode_batch(mixed).replace(b"\xa1v\x01", b"\xa1v\x07")  # schema version 7
    await _until(lambda: streams_ready(nats.url), "streams created by the ingest")
    await _publish(nats.url, [(subject, encode_batch(mixed), mixed.msg_id),
                              (subject, encode_batch(only_unknown), only_unknown.msg_id),
                              (subject, encode_batch(wrong_site), "other:3"),
                              (subject, newer, "dl:newer"),
                              (subject, b"\xc1", "dl:garbage")])
    try:
        await _until(lambda: _has(clickhouse, "SELECT count() FROM {db}.dead_letter", 4), "dead letters")
        await _until(lambda: _watermark(nats.url, "dl", 2), "stored watermark over both batches")
    finally:
        stop.set()
        await task
    # the known meter's records are stored, the stranger's are not
    assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL WHERE meter = 'KNOWN1'") == 2
    assert await _count(clickhouse, "SELECT count() FROM {db}.archive WHERE meter = 'STRANGER'") == 0
    listed = await deadletter.entries(clickhouse)
    reasons = {e.msg_id: e.reason for e in listed}
    assert reasons["dl:1"] == "meter: STRANGER not registered for site 'dl'"
    assert reasons["dl:2"] == "meter: STRANGER not registered for site 'dl'"
    assert reasons["other:3"].startswith("site: 'other' does not match")
    assert reasons["dl:newer"].startswith("v: unsupported schema version 7")
    assert reasons["dl:garbage"].startswith("batch: not msgpack")
    lines = await deadletter_cmd.list_lines(clickhouse, include_replayed=False)
    assert len(lines) == 5
    time_, subj, msg_id, _reason, entry_id, state = lines[0].split("\t")
    assert (subj, msg_id, state) == (subject, "dl:1", "pending")
    assert datetime.fromisoformat(time_).tzinfo is not None

    # replaying before the meter is registered changes nothing and keeps the entries pending
    lines, ok = await deadletter_cmd.replay_lines(clickhouse, registry, ["dl:1"])
    assert not ok
    assert "still not storable: meter: STRANGER" in lines[0]
    assert len(await deadletter.entries(clickhouse)) == 5

    with registry.connect() as db:
        _add_meter(db, 1, 1, "STRANGER")
    lines, ok = await deadletter_cmd.replay_lines(clickhouse, registry, ["dl:1", "dl:2", "no-such-id"])
    assert [line.split("\t")[1] for line in lines] == ["not-replayed", "replayed", "replayed"]
    assert "no dead-letter entry" in lines[0]
    assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL WHERE meter = 'STRANGER'") == 4
    pending = {e.msg_id for e in await deadletter.entries(clickhouse)}
    assert pending == {"other:3", "dl:newer", "dl:garbage"}
    # a second replay of the same entry stores nothing twice
    await deadletter_cmd.replay_lines(clickhouse, registry, [entry_id])
    assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL WHERE meter = 'STRANGER'") == 4
    everything = await deadletter.entries(clickhouse, include_replayed=True)
    assert sum(e.replayed_at is not None for e in everything) == 2
    # a payload that still does not decode stays pending, whatever is asked
    lines, ok = await deadletter_cmd.replay_lines(clickhouse, registry, [])
    assert not ok
    assert len(lines) == 3
    assert len(await deadletter.entries(clickhouse)) == 3


async def test_two_workers_share_one_durable_consumer(nats, clickhouse: ClickHouse) -> None:
    n = 60
    workers = [Ingest(nats.url, clickhouse, fetch_batch=4, name=f"w{i}") for i in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        await _until(lambda: streams_ready(nats.url), "streams created by the ingest")
        batches = [_batch("pair", seq, ("M1", "M2")) for seq in range(1, n + 1)]
        await _publish(nats.url, [(subjects.archive_subject("pair"), encode_batch(b), b.msg_id) for b in batches])
        await _until(lambda: _has(clickhouse, "SELECT count() FROM {db}.sync_batches FINAL", n), f"{n} batches")
        await _until(lambda: _watermark(nats.url, "pair", n), "stored watermark at the last batch")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert sum(w.stored for w in workers) == n  # each batch was handled by exactly one worker
    raw, distinct = (await clickhouse.query(
        "SELECT count(), uniqExact(meter, channel, kind, parameter, period_start) FROM {db}.archive"))[0]
    assert raw == distinct == n * 2 * 2


async def test_storage_failure_is_retried_not_acknowledged(nats, clickhouse: ClickHouse,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """With the archive table gone, inserts fail in ClickHouse itself: the message is not
    acknowledged, the consumer keeps running, and the batch is stored once the table is back."""
    from cloud.storage import schema
    caplog.set_level(logging.INFO, logger="cloud.health")
    ingest = Ingest(nats.url, clickhouse)
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    try:
        await _until(lambda: streams_ready(nats.url), "streams created by the ingest")
        await clickhouse.query("DROP TABLE {db}.archive")
        batch = _batch("down", 1, ("M1",))
        await _publish(nats.url, [(subjects.archive_subject("down"), encode_batch(batch), batch.msg_id)])
        await asyncio.sleep(1.0)
        assert ingest.stored == 0
        assert not task.done()
        for statement in schema.create_table(schema.TABLES["archive"], clickhouse.database):
            await asyncio.to_thread(clickhouse.client.command, statement)
        await _until(lambda: _has(clickhouse, "SELECT count() FROM {db}.archive", 2), "the batch after the retry")
        await _until(lambda: _watermark(nats.url, "down", 1), "stored watermark")
    finally:
        stop.set()
        await task
    assert ingest.stored == 1
    # the outage is told once, as a change of state each way (cloud/health.py), not once per retry
    assert caplog.text.count("event=ingest_state") == 2
    assert "state=failing" in caplog.text
    assert "state=ok" in caplog.text


async def test_ingest_stops_while_nats_is_unreachable(clickhouse: ClickHouse) -> None:
    from tests.conftest import free_port
    stop = asyncio.Event()
    task = asyncio.create_task(Ingest(f"nats://127.0.0.1:{free_port()}", clickhouse).run(stop))
    await asyncio.sleep(0.3)
    assert not task.done()  # still trying to connect
    stop.set()
    await asyncio.wait_for(task, 30)  # returns instead of retrying forever


def test_deadletter_command_on_an_empty_data_dir(tmp_path: Path) -> None:
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "domuchet", "deadletter", "list", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


async def _has(ch: ClickHouse, sql: str, n: int) -> bool:
    return await _count(ch, sql) >= n


async def _watermark(url: str, site: str, seq: int) -> bool:
    nc = await nats_client.connect(url)
    try:
        kv = await nc.jetstream().key_value(subjects.STORED_BUCKET)
        return int((await kv.get(site)).value) == seq
    except nats_client.js.errors.KeyNotFoundError:
        return False
    finally:
        await nc.close()
