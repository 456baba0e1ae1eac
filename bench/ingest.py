"""Ingest throughput into chDB: archive values/s stored by 1 and by 2 ingest workers sharing the
durable consumer, against the same rows inserted with one plain INSERT in the same run.

The batches are published to a real nats-server (JetStream, file storage) before the clock
starts, so the figure is the ingest alone: fetch (up to 64 batches), decode, range checks, the
registry meter lookup, the check for batches already stored, one deduplicated insert with fsync
per table and fetch, the sync audit rows, the watermark update and the acks. Both workers run
in this process and share one chDB client (embedded chDB serialises its calls) and one GIL, so
the second worker only overlaps NATS round trips and decoding with inserts; it adds no CPU.

Run: python -m bench.ingest [--quick]. Prints what it does, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import nats

from cloud.ingest import DURABLE, Ingest, archive_rows, ensure_streams
from cloud.storage.clickhouse import ClickHouse
from domuchet import natsserver
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord, Batch, encode_batch

SITE = "bench"
START = 1_767_225_600  # 2026-01-01 00:00 UTC


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def batches(count: int, records: int, meters: int) -> list[Batch]:
    """``count`` batches of ``records`` hourly records (3 values each) spread over ``meters`` meters."""
    out = []
    for seq in range(1, count + 1):
        recs = []
        for i in range(records):
            n = (seq - 1) * records + i
            meter, hour = n % meters, n // meters
            recs.append(ArchiveRecord(f"M{meter:05d}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, START + 3600 * hour,
                                      {"Q": 100.0 + 0.01 * hour, "V1": 5.0 + hour, "V2": 4.9 + hour}, received_at=1.0))
        out.append(Batch(SITE, seq, tuple(recs), created_at=2.0))
    return out


async def publish(url: str, items: list[Batch]) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for b in items:
            await js.publish(subjects.archive_subject(SITE), encode_batch(b), headers={"Nats-Msg-Id": b.msg_id})
    finally:
        await nc.close()


async def run_workers(url: str, ch: ClickHouse, workers: int, expected: int, serials: set[str]) -> float:
    """Seconds until ``expected`` batches are in sync_batches, with a fresh durable consumer."""
    nc = await nats.connect(url)
    try:  # start from the first message again
        await nc.jetstream().delete_consumer(subjects.STREAM_UP, DURABLE)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()
    stop = asyncio.Event()
    ingests = [Ingest(url, ch, known_meters=lambda: {SITE: serials}, name=f"w{i}") for i in range(workers)]
    t = time.perf_counter()
    tasks = [asyncio.create_task(w.run(stop)) for w in ingests]
    try:
        while (await ch.query("SELECT count() FROM {db}.sync_batches"))[0][0] < expected:
            if any(task.done() for task in tasks):
                raise RuntimeError("an ingest worker stopped")
            await asyncio.sleep(0.05)
        return time.perf_counter() - t
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def bench(quick: bool) -> dict:
    count, size, meters = (60, 200, 500) if quick else (400, 500, 2_000)
    items = batches(count, size, meters)
    values = count * size * 3
    serials = {f"M{m:05d}" for m in range(meters)}
    tmp = Path(tempfile.mkdtemp(prefix="domuchet-bench-ingest-"))
    cfg = natsserver.NatsSettings(port=_port(), mqtt_port=_port())
    proc = natsserver.start(cfg, tmp / "nats", tmp / "nats.log", new_session=False, auth=False)
    dbs = {name: ClickHouse(f"chdb://{tmp / 'chdb'}", database=name) for name in ("w1", "w2", "plain")}
    try:
        for ch in dbs.values():
            await asyncio.to_thread(ch.open_sync)
        # create the stream (the first worker run does it too) and publish everything up front
        nc = await nats.connect(cfg.url)
        await ensure_streams(nc.jetstream())
        await nc.close()
        await publish(cfg.url, items)
        print(f"{count} batches x {size} records x 3 values = {values:,} values, {meters} meters, "
              f"published to JetStream before timing")
        one = await run_workers(cfg.url, dbs["w1"], 1, count, serials)
        print(f"1 ingest worker : {values / one:,.0f} values/s ({one:.2f} s)")
        two = await run_workers(cfg.url, dbs["w2"], 2, count, serials)
        print(f"2 ingest workers: {values / two:,.0f} values/s ({two:.2f} s)")
        rows = [row for b in items for row in archive_rows(b)]
        t = time.perf_counter()
        await dbs["plain"].insert_archive(rows, dedup_token="plain-insert")  # noqa: S106 - not a secret
        plain = time.perf_counter() - t
        print(f"plain single INSERT of the same {len(rows):,} rows: {values / plain:,.0f} values/s ({plain:.2f} s)")
        for name in ("w1", "w2"):
            stored = (await dbs[name].query("SELECT count() FROM {db}.archive FINAL"))[0][0]
            if stored != values:
                raise RuntimeError(f"{name}: {stored} values stored, expected {values}")
    finally:
        for ch in dbs.values():
            await asyncio.to_thread(ch.close_sync)
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"bench": "ingest", "values": values, "batches": count, "values_per_s_1_worker": round(values / one),
            "values_per_s_2_workers": round(values / two), "baseline_plain_insert_values_per_s": round(values / plain),
            "ratio_1_worker": round(plain / one, 3), "ratio_2_workers": round(plain / two, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a reduced size that runs in well under a minute")
    result = asyncio.run(bench(ap.parse_args().quick))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
