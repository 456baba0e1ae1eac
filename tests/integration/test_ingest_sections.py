"""The v2 sections of a batch on a real nats-server and chDB: events, lost periods and radio
packets each stored exactly once under redelivery and re-sending, command results handed to
the ``on_results`` hook (a raising hook means redelivery, not loss), bad input of each section
dead-lettered with a reason naming the field, the stored watermark advancing over batches of
every kind, and a durable consumer of an older cloud (archive subjects only) widened."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgpack
import nats as nats_client
import pytest

from cloud import deadletter
from cloud.ingest import DURABLE, Ingest, ensure_streams
from cloud.storage.clickhouse import ClickHouse
from protocol import subjects
from protocol.vocabulary import ArchiveKind
from protocol.wire import Batch, CommandResult, DeviceEvent, LostPeriod, RadioRecord, batch_subject, encode_batch
from tests.chaos.edge_support import streams_ready
from tests.integration.test_cloud_ingest import START, _batch, _count, _publish, _registry, _until, _watermark

SITE = "sec"


def _event(i: int, meter: str = "M1", **detail: str | int) -> DeviceEvent:
    return DeviceEvent(i, meter, START + 60.0 * i, "integrity", "alarm", "device", dict(detail))


def _lost(meter: str, hour: int) -> LostPeriod:
    return LostPeriod(meter, ArchiveKind.HOUR, START + 3600 * hour, "older than the archive depth", START + 1e5)


def _radio(i: int, dev_eui: str = "70b3d5e75e000001") -> RadioRecord:
    return RadioRecord(i, START + 10.0 * i, dev_eui, "up", 100 + i, 2, -97, 7.5, "gw1", 868_100_000,
                       bytes([0x02, i, 0xFF]))


def _results(*states: str) -> tuple[CommandResult, ...]:
    return tuple(CommandResult(f"cmd{i}", state, START + i, {"records": i}) for i, state in enumerate(states))


def _message(batch: Batch) -> tuple[str, bytes, str]:
    return batch_subject(batch), encode_batch(batch), batch.msg_id


def _tamper(batch: Batch, section: str, field: int, value: object) -> bytes:
    """The batch's bytes with field ``field`` of the first item of ``section`` replaced."""
    doc = msgpack.unpackb(encode_batch(batch), raw=False)
    doc[section][0][field] = value
    return msgpack.packb(doc, use_bin_type=True)


class Hook:
    """The command service's stand-in: records calls, and fails the first ``fail`` of them."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[str, tuple[CommandResult, ...]]] = []
        self.fail = fail

    def __call__(self, site: str, results: tuple[CommandResult, ...]) -> None:
        self.calls.append((site, results))
        if len(self.calls) <= self.fail:
            raise RuntimeError("registry is locked")


async def _ingesting(url: str, ingest: Ingest, messages: list[tuple[str, bytes, str]], done, what: str) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    try:
        await _until(lambda: streams_ready(url), "streams created by the ingest")
        await _publish(url, messages)
        await _until(done, what, timeout=60.0)
    finally:
        stop.set()
        await task


async def test_every_section_stored_once_under_redelivery_and_resending(
        nats, clickhouse: ClickHouse, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    registry = _registry(tmp_path, SITE, ("M1", "M2"))
    hook = Hook(fail=1)  # the first call fails: the whole message comes again
    ingest = Ingest(nats.url, clickhouse, known_meters=registry.meter_serials_by_site, refresh_s=0.0,
                    on_results=hook)
    mixed = Batch(SITE, 1, (), 2.0, events=(_event(1), _event(2, "", kind="disk_budget")),
                  lost=(_lost("M1", 5), _lost("M2", 5)), radio=(_radio(1), _radio(2, "ffffffffffffffff")),
                  results=_results("accepted", "done"))
    events = Batch(SITE, 2, (), 2.0, events=(_event(3, "M2"),))
    radio = Batch(SITE, 3, (), 2.0, radio=(_radio(3),))
    state = Batch(SITE, 4, (), 2.0, results=_results("failed"))
    archive = _batch(SITE, 5, ("M1",))
    batches = [mixed, events, radio, state, archive]
    # every batch is also re-sent under another Nats-Msg-Id (the broker's duplicate window
    # would drop a repeat of the same id; this is the edge re-sending after a restart)
    messages = [_message(b) for b in batches] + [(s, d, f"{m}:again") for s, d, m in map(_message, batches)]

    async def done() -> bool:
        return await _watermark(nats.url, SITE, 5) and ingest.stored >= 10

    await _ingesting(nats.url, ingest, messages, done, "every batch twice")

    raw = {t: await _count(clickhouse, f"SELECT count() FROM {{db}}.{t}")  # noqa: S608 - test tables
           for t in ("device_events", "lost_periods", "radio_packets", "archive")}
    assert raw == {"device_events": 3, "lost_periods": 2, "radio_packets": 3, "archive": 2}
    rows = await clickhouse.query("SELECT site, id, meter, toUnixTimestamp64Milli(at), code, severity, source, "
                                  "detail FROM {db}.device_events ORDER BY id")
    assert rows[0] == (SITE, 1, "M1", (START + 60) * 1000, "integrity", "alarm", "device", "{}")
    assert rows[1][2] == ""  # an edge event: no meter needed
    assert rows[1][7] == '{"kind": "disk_budget"}'
    lost = await clickhouse.query("SELECT meter, kind, toUnixTimestamp(period_start), reason FROM {db}.lost_periods "
                                  "ORDER BY meter")
    assert lost == [("M1", "hour", START + 5 * 3600, "older than the archive depth"),
                    ("M2", "hour", START + 5 * 3600, "older than the archive depth")]
    radio_rows = await clickhouse.query("SELECT id, dev_eui, direction, f_cnt, f_port, rssi, snr, gateway, frequency, "
                                        "payload, error FROM {db}.radio_packets ORDER BY id")
    assert radio_rows[0] == (1, "70b3d5e75e000001", "up", 101, 2, -97, 7.5, "gw1", 868_100_000, "0201ff", "")
    assert radio_rows[1][1] == "ffffffffffffffff"  # a device nobody registered is monitored too
    # the hook saw every results batch at least once, the failed call again, nothing else
    assert all(site == SITE for site, _ in hook.calls)
    assert [r for _, r in hook.calls].count(mixed.results) >= 2
    assert state.results in [r for _, r in hook.calls]
    assert {r for _, results in hook.calls for r in results} == set(mixed.results + state.results)
    assert "event=results_hook_failed" in caplog.text
    assert await deadletter.entries(clickhouse) == []


async def test_bad_input_of_each_section_is_dead_lettered_naming_the_field(
        nats, clickhouse: ClickHouse, tmp_path: Path) -> None:
    registry = _registry(tmp_path, SITE, ("M1",))
    hook = Hook()
    ingest = Ingest(nats.url, clickhouse, known_meters=registry.meter_serials_by_site, refresh_s=0.0,
                    on_results=hook)
    events = Batch(SITE, 1, (), 2.0, events=(_event(1), _event(2, "STRANGER"), _event(3, "")))
    lost = Batch(SITE, 2, (), 2.0, lost=(_lost("STRANGER", 1), _lost("M1", 1)))
    radio = Batch(SITE, 3, (), 2.0, radio=(_radio(1),))
    state = Batch(SITE, 4, (), 2.0, results=_results("done"))
    ev_subject, rd_subject, st_subject = (subjects.event_subject(SITE), subjects.radio_subject(SITE),
                                          subjects.state_subject(SITE))
    messages = [_message(events), _message(lost), _message(radio), _message(state),
                (ev_subject, _tamper(events, "events", 4, "fatal"), f"{SITE}:5"),
                (ev_subject, _tamper(lost, "lost", 1, "week"), f"{SITE}:6"),
                (rd_subject, _tamper(radio, "radio", 10, "not binary"), f"{SITE}:7"),
                (rd_subject, _tamper(radio, "radio", 6, "loud"), f"{SITE}:8"),
                (st_subject, _tamper(state, "results", 1, "maybe"), f"{SITE}:9"),
                (ev_subject, _tamper(events, "events", 6, ["not", "a", "map"]), f"{SITE}:10"),
                # valid msgpack, but more than the table's column holds
                (rd_subject, _tamper(radio, "radio", 5, 300), f"{SITE}:11"),
                (subjects.archive_subject(SITE), _tamper(_batch(SITE, 12, ("M1",)), "records", 1, 70_000),
                 f"{SITE}:12")]

    async def done() -> bool:
        # the tampered copies name seqs 5-12 in their message ids but hold batches 1-4 and 12: the
        # ones that do not decode take no seq, the two out of range take their own batch's seq
        return (await _watermark(nats.url, SITE, 4)
                and await _count(clickhouse, "SELECT uniqExact(id) FROM {db}.dead_letter") == 10)

    await _ingesting(nats.url, ingest, messages, done, "every batch handled")
    seqs = [seq for (seq,) in await clickhouse.query("SELECT DISTINCT seq FROM {db}.sync_batches ORDER BY seq")]
    assert seqs == [1, 2, 3, 4, 12]

    reasons = {e.msg_id: e.reason for e in await deadletter.entries(clickhouse)}
    assert reasons == {
        f"{SITE}:1": "events.meter: STRANGER not registered for site 'sec'",
        f"{SITE}:2": "lost.meter: STRANGER not registered for site 'sec'",
        f"{SITE}:5": "events[0].severity: must be one of info, warning, alarm, got 'fatal'",
        f"{SITE}:6": "lost[0].kind: unknown archive kind 'week'",
        f"{SITE}:7": "radio[0].payload: must be binary, got str",
        f"{SITE}:8": "radio[0].rssi: must be an integer or nil, got 'loud'",
        f"{SITE}:9": "results[0].state: must be one of accepted, done, failed, got 'maybe'",
        f"{SITE}:10": "events[0].detail: must be a map with string keys",
        f"{SITE}:11": "radio[0].f_port: 300 out of range 0..255",
        f"{SITE}:12": "records[0].channel: 70000 out of range 0..65535",
    }
    # the rest of batches 1 and 2 is stored; a bad result never reached the hook
    assert await clickhouse.query("SELECT id, meter FROM {db}.device_events ORDER BY id") == [(1, "M1"), (3, "")]
    assert await clickhouse.query("SELECT meter FROM {db}.lost_periods") == [("M1",)]
    assert hook.calls == [(SITE, state.results)]

    # once the meter is registered, replaying stores the dead-lettered events and lost periods,
    # and a second replay adds nothing
    with registry.connect() as db:
        db.execute("INSERT INTO meters (company_id, building_id, serial, model, role, communicator, archives) "
                   "VALUES (1, 1, 'STRANGER', 'KARAT-307', 'common', 'x', 'hour, integral')")
    replayer = Ingest("", clickhouse, known_meters=registry.meter_serials_by_site, on_results=hook)
    first = [r for r in await deadletter.replay(clickhouse, replayer) if r.replayed]
    assert len(first) == 2
    assert {r.note for r in first} == {"stored 0 values and 1 events, lost periods, radio packets or command results"}
    again = await deadletter.replay(clickhouse, replayer, [r.id for r in first])  # by their own ids: replayed again
    assert all(r.replayed for r in again)
    assert await _count(clickhouse, "SELECT count() FROM {db}.device_events WHERE meter = 'STRANGER'") == 1
    assert await _count(clickhouse, "SELECT count() FROM {db}.lost_periods WHERE meter = 'STRANGER'") == 1
    replayed = await deadletter.entries(clickhouse, include_replayed=True)
    assert sorted(e.msg_id for e in replayed if e.replayed_at is not None) == [f"{SITE}:1", f"{SITE}:2"]


async def test_an_older_clouds_consumer_is_widened_to_every_up_subject(nats, clickhouse: ClickHouse) -> None:
    nc = await nats_client.connect(nats.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        await js.pull_subscribe(subjects.ARCHIVE_SUBJECTS, durable=DURABLE, stream=subjects.STREAM_UP)
    finally:
        await nc.close()
    ingest = Ingest(nats.url, clickhouse)
    batch = Batch(SITE, 1, (), 2.0, radio=(_radio(1),))

    async def done() -> bool:
        return await _watermark(nats.url, SITE, 1)

    await _ingesting(nats.url, ingest, [_message(batch)], done, "the radio batch")
    assert await _count(clickhouse, "SELECT count() FROM {db}.radio_packets") == 1


async def test_a_table_that_refuses_inserts_holds_back_only_its_batches(nats, clickhouse: ClickHouse) -> None:
    """With radio_packets gone, the fetch's combined insert fails; the batches then go one by one:
    the archive batch is stored and counted for the watermark, the radio batch waits (nak) and is
    stored once the table is back."""
    from cloud.storage import schema
    ingest = Ingest(nats.url, clickhouse)
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    try:
        await _until(lambda: streams_ready(nats.url), "streams created by the ingest")
        await clickhouse.query("DROP TABLE {db}.radio_packets")
        archive, radio = _batch(SITE, 1, ("M1",)), Batch(SITE, 2, (), 2.0, radio=(_radio(1),))
        await _publish(nats.url, [_message(archive), _message(radio)])
        await _until(lambda: _watermark(nats.url, SITE, 1), "the archive batch")
        await asyncio.sleep(0.5)
        assert not await _watermark(nats.url, SITE, 2)
        assert not task.done()
        for statement in schema.ddl(schema.TABLES["radio_packets"], clickhouse.database):
            await asyncio.to_thread(clickhouse.client.command, statement)
        await _until(lambda: _watermark(nats.url, SITE, 2), "the radio batch after the retry")
    finally:
        stop.set()
        await task
    assert await _count(clickhouse, "SELECT count() FROM {db}.archive FINAL") == 2
    assert await _count(clickhouse, "SELECT count() FROM {db}.radio_packets") == 1
