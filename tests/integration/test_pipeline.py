"""Simulated building -> edge agent -> JetStream -> ingest -> ClickHouse, on real parts:
nats-server with its MQTT listener, pymodbus, paho-mqtt, chDB. Every record the simulator
produced must be in ClickHouse exactly once, with the device's timestamps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import nats as nats_client
import pytest

from cloud.ingest import Ingest
from cloud.storage.clickhouse import ClickHouse
from edge.agent import EdgeAgent
from edge.config import EdgeConfig, MeterConfig
from protocol import subjects
from protocol.wire import decode_batch
from simulators.runner import Endpoints, SimulatedBuilding
from simulators.scenario import load
from tests.conftest import PLAIN, free_port

HOURS = 10  # simulated hours to run


def _scenario():
    s = load("demo")
    return replace(s, speed=7200.0, start="2026-01-15T00:00",
                   building=replace(s.building, apartments=4, site="itest", **PLAIN))


def _edge_config(building: SimulatedBuilding, modbus_port: int, nats_url: str, mqtt_port: int,
                 data_dir: Path) -> EdgeConfig:
    commissioned = building.state.commissioning.isoformat()
    b = building.scenario.building
    meters = [MeterConfig(serial=b.heat_meter_serial, model="KARAT-307", transport="modbus-tcp",
                          commissioned=commissioned, port=modbus_port, unit=b.heat_meter_unit)]
    meters += [MeterConfig(serial=a.meter_serial, model="KARAT-Compact-2-223", transport="lorawan",
                           commissioned=commissioned, dev_eui=a.dev_eui) for a in building.plan.apartments]
    return EdgeConfig(site=b.site, time_zone=b.time_zone, data_dir=data_dir, nats_url=nats_url, max_clock_drift_s=0.0,
                      mqtt_port=mqtt_port, poll_interval_s=0.2, batch_max_records=20, meters=meters,
                      # the Modbus server opens with the simulator, after the edge's MQTT session (which
                      # took over a minute late in a loaded run): the poller must not then sleep out a
                      # minute's backoff from its failed connects before that
                      device_backoff_max_s=2.0)


def _expected(building: SimulatedBuilding, closed_hours: int, sent_hours: int) -> dict[tuple, float]:
    """(meter, channel, parameter, period start UTC) -> value, straight from the simulated world."""
    world, out = building.world, {}
    for i in range(closed_hours):
        start = world.hour_start(i).replace(tzinfo=None)
        c = world.building_counters(i)
        serial = building.heat_meter.serial
        out[(serial, 1, "Q", start)] = c.heat_kcal / 1e6
        out[(serial, 2, "V", start)] = c.hot_litres / 1e3
        out[(serial, 3, "V", start)] = c.cold_litres / 1e3
    for a in building.plan.apartments:
        for i in range(sent_hours):
            start = world.hour_start(i).replace(tzinfo=None)
            c = world.apartment_counters(a, i)
            out[(a.meter_serial, 1, "Q", start)] = c.heat_kcal / 1e6
            out[(a.meter_serial, 2, "V", start)] = c.hot_litres / 1e3
            out[(a.meter_serial, 3, "V", start)] = c.cold_litres / 1e3
    return out


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


# A loaded CI machine (2 cores, other servers of the suite still busy) slows the pipeline down
# for seconds at a time, never stops it: a wait fails only once nothing has moved for this long.
# It is longer than the edge's longest pause between two polls of a silent device (60 s).
STALL_S = 90.0


async def _until_progress(done: Callable[[], Awaitable[bool]], progress: Callable[[], Awaitable[object]],
                          what: str, tasks: Iterable[asyncio.Task | None] = ()) -> None:
    """Wait until ``done``; fail when ``progress`` has shown the same value for ``STALL_S``, or
    at once when one of ``tasks`` (which run until the test stops them) has ended."""
    loop = asyncio.get_running_loop()
    seen: object = object()
    since = loop.time()
    while not await done():
        for task in tasks:
            if task is not None and task.done():
                pytest.fail(f"waiting for {what}: {task.get_name()} ended early: {task.exception()!r}"
                            if not task.cancelled() else f"waiting for {what}: {task.get_name()} was cancelled")
        now_seen = await progress()
        if now_seen != seen:
            seen, since = now_seen, loop.time()
        elif loop.time() - since > STALL_S:
            pytest.fail(f"waiting for {what}: no progress for {STALL_S:.0f} s (stuck at {now_seen!r})")
        await asyncio.sleep(0.2)


async def _stored_values(clickhouse: ClickHouse) -> dict[tuple, float]:
    """(meter, channel, parameter, period start UTC) -> value of every Q and V in ClickHouse."""
    rows = await clickhouse.query("SELECT meter, channel, parameter, period_start, value FROM {db}.archive FINAL "
                                  "WHERE parameter IN ('Q', 'V')")
    return {(m, c, p, t.replace(tzinfo=None)): v for m, c, p, t, v in rows}


async def test_every_record_arrives_exactly_once(nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    modbus_port = free_port()
    building = SimulatedBuilding(_scenario(), tmp_path / "sim",
                                 Endpoints(modbus_port=modbus_port, mqtt_port=nats.mqtt_port))
    agent = EdgeAgent(_edge_config(building, modbus_port, nats.url, nats.mqtt_port, tmp_path / "edge"))
    ingest = Ingest(nats.url, clickhouse)
    stop_sim, stop_edge, stop_ingest = asyncio.Event(), asyncio.Event(), asyncio.Event()
    edge_task = asyncio.create_task(agent.run(stop_edge), name="edge agent")
    sim_task = ingest_task = None
    try:
        # nats-server creates its MQTT streams on the first MQTT connection; late in a long test run
        # that has taken over a minute here, so the world starts only once the edge is subscribed
        await _until(lambda: _true(agent.mqtt is not None and agent.mqtt.connected), 150, "edge MQTT session")
        ingest_task = asyncio.create_task(ingest.run(stop_ingest), name="ingest")
        sim_task = asyncio.create_task(building.run(open("/dev/null", "w"), stop_sim), name="simulator")
        running = (sim_task, edge_task, ingest_task)

        async def sim_hour() -> int:
            return building.world.hour_index(building.clock.now())

        async def hours_run() -> bool:
            return await sim_hour() >= HOURS
        await _until_progress(hours_run, sim_hour, "simulated hours", running)
        # on a slow machine the clock may have run past HOURS: every hour closed by the freeze is expected
        frozen = building.clock.freeze()
        closed = building.world.hour_index(frozen)

        async def last_sent() -> int:
            return building.state.last_sent_hour
        await _until_progress(lambda: _true(building.state.last_sent_hour >= closed - 1), last_sent,
                              "last uplinks sent", running)
        assert building.state.last_sent_hour == closed - 1, "an uplink was sent for an hour not closed by the freeze"
        expected = _expected(building, closed, closed)

        async def pipeline() -> tuple:
            """What moves while the values travel: the edge's buffer and batches, ClickHouse's rows."""
            stats = agent.buffer.stats()
            raw = (await clickhouse.query("SELECT count() FROM {db}.archive"))[0][0]
            return stats["values"], stats["unbatched_values"], stats["batches"], agent.sync.watermark, raw

        async def all_stored() -> bool:
            # every expected key, not a row count: the KARAT-307 stores V1, V2, T1 and T2 too (190
            # rows for 150 expected values), so a count was reached with a whole hour still on its way
            return set(expected) <= set(await _stored_values(clickhouse))
        await _until_progress(all_stored, pipeline, f"{len(expected)} values in ClickHouse", running)

        # the edge sees the cloud's stored watermark for every batch it published; from then on
        # everything the edge holds is in ClickHouse, so an extra or repeated value would show below
        async def confirmed() -> bool:
            stats = agent.buffer.stats()
            return stats["unbatched_values"] == 0 and not {"pending", "published"} & set(json.loads(stats["batches"]))
        await _until_progress(confirmed, pipeline, "stored watermark for every batch", running)

        got = await _stored_values(clickhouse)
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=1e-9), key
        raw, distinct = (await clickhouse.query(
            "SELECT count(), uniqExact(meter, channel, kind, parameter, period_start) FROM {db}.archive"))[0]
        assert raw == distinct, "a value was stored twice"
        # the device's hour starts, in UTC: the first is the commissioning hour
        first = min(t for (_, _, _, t) in got)
        assert first == building.state.commissioning.astimezone(UTC).replace(tzinfo=None)
    finally:
        stop_sim.set()
        stop_edge.set()
        stop_ingest.set()
        await asyncio.gather(*(t for t in (sim_task, edge_task, ingest_task) if t is not None),
                             return_exceptions=True)


async def _true(value: bool) -> bool:
    return value


async def test_replay_changes_nothing_and_bad_batches_are_dead_lettered(nats, clickhouse: ClickHouse,
                                                                        tmp_path: Path) -> None:
    from edge.buffer import Buffer
    from protocol import watermark
    from protocol.vocabulary import ArchiveKind, Nature
    from protocol.wire import ArchiveRecord, encode, encode_batch

    buf = Buffer(tmp_path / "b.db")
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    buf.store([ArchiveRecord("m1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, start + 3600 * i, {"Q": 1.5 + i, "V1": 2.0},
                             received_at=1.0) for i in range(5)])
    batch = buf.next_batch(100, "rtest")
    assert batch is not None
    assert batch.seq == 1
    data = encode_batch(batch)
    # the same content renumbered (as after a renumbering): another seq, so past the broker's dedup
    again = encode(replace(batch, seq=2))
    async with _ingesting(nats.url, clickhouse) as js:
        subject = subjects.archive_subject("rtest")
        await js.publish(subject, b"\x93garbage", headers={"Nats-Msg-Id": "rtest:bad"})
        await js.publish(subject, data, headers={"Nats-Msg-Id": batch.msg_id})
        await js.publish(subject, again.data, headers={"Nats-Msg-Id": again.msg_id})
        await js.publish(subject, data, headers={"Nats-Msg-Id": "rtest:replay-with-new-id"})  # not its own name

        async def stored() -> bool:
            return ((await clickhouse.query("SELECT count() FROM {db}.sync_batches"))[0][0] >= 2
                    and (await clickhouse.query("SELECT count() FROM {db}.dead_letter"))[0][0] >= 2)
        await _until(stored, 20, "every copy handled")
        assert (await clickhouse.query("SELECT count() FROM {db}.archive FINAL"))[0][0] == 10
        assert (await clickhouse.query("SELECT count() FROM {db}.archive"))[0][0] == 10  # the content once
        dead = dict(await clickhouse.query("SELECT msg_id, reason FROM {db}.dead_letter"))
        assert sorted(dead) == ["rtest:bad", "rtest:replay-with-new-id"]
        assert dead["rtest:bad"].startswith("batch: not msgpack")
        assert dead["rtest:replay-with-new-id"].startswith("Nats-Msg-Id: 'rtest:replay-with-new-id' does not name")
        kv = await js.key_value(subjects.STORED_BUCKET)
        state = watermark.parse((await kv.get("rtest")).value)
        assert (state.seq, state.top) == (2, 2)
        assert state.verdict(1, buf.epoch, again.digest) == state.verdict(2, buf.epoch, again.digest) == "stored"
        assert decode_batch(data).records == batch.records
    buf.close()


@asynccontextmanager
async def _ingesting(url: str, clickhouse: ClickHouse) -> AsyncIterator:
    """An ingest worker running against ``clickhouse`` and a JetStream client, once the streams exist."""
    ingest = Ingest(url, clickhouse)
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    nc = await nats_client.connect(url)
    try:
        js = nc.jetstream()
        await _until(lambda: _stream_ready(js), 10, "streams created by the ingest")
        yield js
    finally:
        stop.set()
        await task
        await nc.close()


async def _stream_ready(js) -> bool:
    try:
        await js.stream_info(subjects.STREAM_UP)
        return True
    except nats_client.js.errors.NotFoundError:  # not created yet
        return False


async def test_an_undecodable_message_takes_no_seq_and_the_real_batch_fills_it(nats, clickhouse: ClickHouse,
                                                                               tmp_path: Path) -> None:
    """Garbage under ``<site>:1`` is dead-lettered and takes nothing: batch 2 is listed as stored
    at once, and batch 1, when it comes, is stored too; the watermark then covers both."""
    from edge.buffer import Buffer
    from protocol import watermark
    from protocol.vocabulary import ArchiveKind, Nature
    from protocol.wire import ArchiveRecord, encode

    buf = Buffer(tmp_path / "b.db")
    buf.store([ArchiveRecord("m1", 1, ArchiveKind.HOUR, Nature.INTEGRAL, 1_767_225_600 + 3600 * h, {"Q": 1.0 + h})
               for h in range(2)])
    first, second = buf.next_batches(2, 1, "wtest")  # one record each
    assert (first.seq, second.seq) == (1, 2)
    async with _ingesting(nats.url, clickhouse) as js:
        subject = subjects.archive_subject("wtest")
        await js.publish(subject, b"\xc1not msgpack", headers={"Nats-Msg-Id": "wtest:1"})
        out = encode(second)
        await js.publish(subject, out.data, headers={"Nats-Msg-Id": out.msg_id})
        kv = await _until_kv(js)

        async def stored(seq: int, top: int) -> bool:
            try:
                state = watermark.parse((await kv.get("wtest")).value)
            except nats_client.js.errors.KeyNotFoundError:
                return False
            return (state.seq, state.top) == (seq, top)
        await _until(lambda: stored(0, 2), 20, "batch 2 listed, seq 1 still free")
        out = encode(first)
        await js.publish(subject, out.data, headers={"Nats-Msg-Id": out.msg_id})
        await _until(lambda: stored(2, 2), 20, "the real batch 1 stored")
        dead = await clickhouse.query("SELECT msg_id FROM {db}.dead_letter")
        assert [d[0] for d in dead] == ["wtest:1"]
        assert (await clickhouse.query("SELECT count() FROM {db}.archive FINAL"))[0][0] == 2
    buf.close()


async def _until_kv(js):
    for _ in range(100):
        try:
            return await js.key_value(subjects.STORED_BUCKET)
        except nats_client.js.errors.BucketNotFoundError:
            await asyncio.sleep(0.1)
    pytest.fail("no watermark bucket")
