"""/api/health tells the truth (cloud/health.py) over a real nats-server and chDB: ok while the
ingest stores; 503 naming the failing insert when ClickHouse refuses it, and ok again (the
batch stored, nothing lost) when it takes inserts again; 503 when NATS is away (never reached,
or stopped under a running ingest), with one log line per change instead of a traceback per
reconnect attempt; the consumer's backlog."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import nats as nats_client
import pytest
from fastapi import FastAPI

from cloud import health
from cloud.api import install_error_handlers, router
from cloud.ingest import Ingest
from cloud.storage.clickhouse import ClickHouse
from cloud.streams import connect, ensure_streams
from domuchet import natsserver
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, encode_batch
from tests.chaos.edge_support import streams_ready
from tests.conftest import _fast_dir, free_port

START = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


def _batch(site: str, seq: int) -> bytes:
    record = ArchiveRecord("H1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, START + 3600 * seq, {"Q": 1.0 + seq},
                           received_at=1.0)
    return encode_batch(Batch(site, seq, (record,), created_at=2.0))


async def _publish(url: str, site: str, seqs: range) -> None:
    nc = await nats_client.connect(url)
    try:
        for seq in seqs:
            await nc.jetstream().publish(subjects.archive_subject(site), _batch(site, seq),
                                         headers={"Nats-Msg-Id": f"{site}-{seq}"})
    finally:
        await nc.close()


async def _ddl(clickhouse: ClickHouse, sql: str) -> None:
    """A statement on the store's own thread (chDB takes one caller at a time)."""
    await asyncio.get_running_loop().run_in_executor(clickhouse._pool, clickhouse.client.command, sql)


async def _until(check, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def api(clickhouse: ClickHouse, nats) -> AsyncIterator[tuple[httpx.AsyncClient, Ingest]]:
    ingest = Ingest(nats.url, clickhouse, name="ingest0")
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router(clickhouse, "local", links=[ingest.link], storing=[ingest.storing]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, ingest


async def test_health_follows_the_inserts_and_nothing_is_lost(api, clickhouse: ClickHouse, nats) -> None:
    client, ingest = api
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    try:
        await _until(lambda: streams_ready(nats.url), "the streams")
        await _publish(nats.url, "hl", range(1, 2))
        await _until(lambda: asyncio.sleep(0, ingest.storing.last_insert_at is not None), "the first insert")
        answer = await client.get("/api/health")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["status"], body["problems"]) == ("ok", [])
        assert body["ingest"]["ingest0"]["last_insert_at"] is not None
        assert body["nats"]["ingest0"]["up"] is True

        # the finding: a store that refuses every insert left health "ok"
        await _ddl(clickhouse, f"DETACH TABLE {clickhouse.database}.archive")
        try:
            await _publish(nats.url, "hl", range(2, 3))
            await _until(lambda: asyncio.sleep(0, ingest.storing.failing > 0), "a failing insert")
            answer = await client.get("/api/health")
            assert answer.status_code == 503
            body = answer.json()
            assert body["status"] == "failing"
            assert any(p.startswith("ingest0: inserts failing since") for p in body["problems"]), body["problems"]
        finally:
            await _ddl(clickhouse, f"ATTACH TABLE {clickhouse.database}.archive")
        await _until(lambda: asyncio.sleep(0, ingest.storing.failing == 0), "inserts again", timeout=60)
        assert (await client.get("/api/health")).status_code == 200
        stored = await clickhouse.query("SELECT count() FROM {db}.archive FINAL WHERE site = 'hl'")
        assert stored[0][0] == 2  # one value from each of the two batches: the refused one was redelivered
    finally:
        stop.set()
        await task


async def test_a_nats_outage_is_one_line_and_makes_health_fail(nats, caplog: pytest.LogCaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "GRACE_S", 0.5)
    url = "nats://127.0.0.1:1"  # nothing listens on port 1: every attempt is refused
    link = health.Link("probe")
    stop = asyncio.Event()
    caplog.set_level(logging.DEBUG)
    attempt = asyncio.create_task(connect(url, "probe", stop, link))
    await asyncio.sleep(3.0)  # reconnect_time_wait 0.5 s: about 6 refused attempts
    stop.set()
    assert await attempt is None
    lines = [r for r in caplog.records if r.name.startswith(("nats", "cloud"))]
    down = [r.getMessage() for r in lines if "state=down" in r.getMessage()]
    assert len(down) == 1, [r.getMessage() for r in lines]
    assert not any(r.exc_info for r in lines)  # nats.py logged a traceback per attempt
    status, body = health.report([link], [], 0)
    assert status == 503
    assert body["problems"][0].startswith("probe: NATS link down since")


async def test_a_stopped_nats_server_is_one_line_each_way_and_a_503_meanwhile(
        clickhouse: ClickHouse, tmp_path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server goes away under a running ingest (nats.py's disconnected and error callbacks)
    and comes back on the same port (its reconnected callback)."""
    monkeypatch.setattr(health, "GRACE_S", 0.5)
    settings = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port())
    store = _fast_dir("domuchet-nats-")
    proc = natsserver.start(settings, store, tmp_path / "nats.log", new_session=False, auth=False)
    url = f"nats://127.0.0.1:{settings.port}"
    ingest = Ingest(url, clickhouse, name="ingest0")
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router(clickhouse, "local", links=[ingest.link], storing=[ingest.storing]))
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            await _until(lambda: streams_ready(url), "the streams")
            await _until(lambda: asyncio.sleep(0, ingest.link.up), "the link up")
            assert (await client.get("/api/health")).status_code == 200
            caplog.clear()
            caplog.set_level(logging.DEBUG)
            proc.terminate()
            proc.wait(timeout=10)
            # 4 s down: reconnect_time_wait 0.5 s gives about 8 refused attempts; a traceback (or a
            # line) per attempt would be 8 records, the state change is 1
            await asyncio.sleep(4.0)
            answer = await client.get("/api/health")
            assert answer.status_code == 503
            assert answer.json()["problems"][0].startswith("ingest0: NATS link down since"), answer.json()
            assert answer.json()["nats"]["ingest0"]["up"] is False
            proc = natsserver.start(settings, store, tmp_path / "nats.log", new_session=False, auth=False)
            await _until(lambda: asyncio.sleep(0, ingest.link.up), "the link up again")
            assert (await client.get("/api/health")).status_code == 200
        ours = [r for r in caplog.records if r.name.startswith(("nats", "cloud", "domuchet", "asyncio"))]
        said = [r.getMessage() for r in ours if r.levelno >= logging.INFO]
        assert [m.split(" error=")[0] for m in said] == ["event=nats_link link=ingest0 state=down",
                                                        "event=nats_link link=ingest0 state=up"], said
        assert not any(r.exc_info for r in ours)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(store, ignore_errors=True)


async def test_the_consumers_backlog_is_reported(api, nats) -> None:
    client, ingest = api
    nc = await nats_client.connect(nats.url)
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.close()
    await _publish(nats.url, "lag", range(1, 6))  # 5 batches wait; nothing consumes them yet
    stop = asyncio.Event()
    # the first reading is taken right after the consumer is made, before its first fetch
    task = asyncio.create_task(ingest.run(stop))
    try:
        await _until(lambda: asyncio.sleep(0, ingest.storing.lag_at is not None), "the first lag reading")
        body = (await client.get("/api/health")).json()
        assert body["ingest"]["ingest0"]["consumer_pending"] == 5  # all 5 published, none delivered yet
    finally:
        stop.set()
        await task


def test_a_logged_url_carries_no_password() -> None:
    from protocol.nats_access import redact_url
    assert redact_url("nats://cloud:s3cret@127.0.0.1:4222,nats://h2:4223") == "nats://127.0.0.1:4222,nats://h2:4223"


async def test_a_failing_task_restarts_with_growing_delays_and_one_traceback(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from domuchet import cloud_process
    monkeypatch.setattr(cloud_process, "RESTART_FIRST_S", 0.1)
    monkeypatch.setattr(cloud_process, "RESTART_MAX_S", 0.4)
    caplog.set_level(logging.INFO, logger="domuchet")
    runs: list[float] = []

    async def job(_stop: asyncio.Event) -> None:
        runs.append(asyncio.get_running_loop().time())
        raise ConnectionRefusedError("storage away")

    stop = asyncio.Event()
    task = asyncio.create_task(cloud_process._supervised("probe", job, stop))
    await asyncio.sleep(1.3)
    stop.set()
    await task
    # runs at 0, 0.1, 0.3 (0.1+0.2), 0.7 (+0.4), 1.1 (+0.4, the ceiling), next 1.5: 5 in 1.3 s, where the old
    # fixed 2 s restart made 1 and a restart without a pause thousands
    assert len(runs) == 5
    failed = [r for r in caplog.records if "event=task_failed" in r.getMessage()]
    assert len(failed) == 5
    assert [bool(r.exc_info) for r in failed] == [True, False, False, False, False]
    assert [r.getMessage().split("restart_in_s=")[1] for r in failed] == ["0.1", "0.2", "0.4", "0.4", "0.4"]
