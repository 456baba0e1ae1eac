"""Edge -> cloud sync throughput: records/s from a filled edge buffer to ClickHouse, confirmed.

One edge Sync (this process; JetStream asynchronous publishing, a window of batches in flight,
each marked published on its own acknowledgement) publishes the buffer's batches to a real
nats-server; one cloud Ingest worker (a child process, chDB) stores them; the clock stops when
the cloud's stored watermark covers the last batch. Baseline in the same run: plain JSON publishing, one
JetStream message per record, each awaiting its acknowledgement (the usual gateway pattern;
publishing only, nothing stored). Run: python -m bench.edge_sync [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from domuchet import natsserver
from edge.buffer import Buffer
from edge.config import EdgeConfig
from edge.sync import Sync
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord

SITE = "bench-sync"
T0 = 1_767_225_600


def records(n: int, meters: int = 1000) -> list[ArchiveRecord]:
    """Hourly records of ``meters`` apartment meters, three values each, in period order."""
    return [ArchiveRecord(f"223{i % meters:05d}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, T0 + 3600 * (i // meters),
                          {"Q": 12.345678 + i, "V1": 1.5, "V2": 1.49}, received_at=T0 + 100.5) for i in range(n)]


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_for_stream(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        for _ in range(600):
            try:
                await js.stream_info(subjects.STREAM_UP)
                return
            except NotFoundError:
                await asyncio.sleep(0.1)
        raise TimeoutError("the ingest did not create the streams")
    finally:
        await nc.close()


async def edge_run(url: str, data_dir: Path, n: int, batch: int) -> tuple[float, int, float]:
    buf = Buffer(data_dir / "buffer.db")
    recs = records(n)
    t = time.perf_counter()
    for i in range(0, n, 10_000):
        buf.store(recs[i:i + 10_000])
    print(f"  edge buffer filled with {n:,} records ({3 * n:,} values) in {time.perf_counter() - t:.1f} s")
    config = EdgeConfig(site=SITE, time_zone="Europe/Moscow", data_dir=data_dir, nats_url=url, batch_max_records=batch,
                        status_port=0)
    sync = Sync(config, buf)
    batches = -(-n // batch)
    stop = asyncio.Event()
    t = time.perf_counter()
    task = asyncio.create_task(sync.run(stop))
    acked: float | None = None
    while sync.watermark < batches:
        if acked is None and sync.published >= batches:
            acked = time.perf_counter() - t
            print(f"  every batch acknowledged by JetStream after {acked:.2f} s: {n / acked:,.0f} records/s "
                  "published by the edge")
        if task.done():
            task.result()
            raise RuntimeError("sync stopped early")
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t
    stop.set()
    await task
    buf.close()
    return elapsed, batches, acked or elapsed


async def baseline_run(url: str, n: int) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH_JSON", subjects=["bench.json.>"]))
    recs = records(n)
    t = time.perf_counter()
    for r in recs:
        doc = {"site": SITE, "meter": r.meter, "channel": r.channel, "kind": r.kind.value, "nature": r.nature.value,
               "period_start": r.period_start, "values": r.values, "received_at": r.received_at}
        await js.publish("bench.json.archive", json.dumps(doc).encode())
    elapsed = time.perf_counter() - t
    await nc.close()
    return elapsed


def ingest_worker(url: str, chdb_dir: str) -> None:
    """The child process: one cloud Ingest on its own chDB directory, until killed."""
    from cloud.ingest import Ingest
    from cloud.storage.clickhouse import ClickHouse
    ch = ClickHouse(f"chdb://{chdb_dir}", database="bench")
    ch.open_sync()

    async def run() -> None:
        await Ingest(url, ch).run(asyncio.Event())
    asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a reduced size, under a minute")
    ap.add_argument("--ingest-worker", nargs=2, metavar=("NATS_URL", "CHDB_DIR"), help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=500, help="records per batch (edge batch_max_records)")
    args = ap.parse_args()
    if args.ingest_worker:
        ingest_worker(*args.ingest_worker)
        return
    n = 20_000 if args.quick else 200_000
    n_base = 5_000 if args.quick else 20_000
    with tempfile.TemporaryDirectory(prefix="bench-edge-sync-") as tmp:
        root = Path(tmp)
        cfg = natsserver.NatsSettings(port=_free_port(), mqtt_port=_free_port())
        server = natsserver.start(cfg, root / "nats", root / "nats.log", auth=False)
        worker = subprocess.Popen([sys.executable, "-m", "bench.edge_sync", "--ingest-worker", cfg.url,
                                   str(root / "chdb")])
        try:
            print(f"edge sync: {n:,} buffered records -> JetStream -> one ingest worker (child process) -> chDB, "
                  f"until the cloud's stored watermark covers every batch of {args.batch}")
            asyncio.run(_wait_for_stream(cfg.url))
            elapsed, batches, acked = asyncio.run(edge_run(cfg.url, root / "edge", n, args.batch))
            rate = n / elapsed
            print(f"  {batches} batches stored and confirmed in {elapsed:.2f} s: {rate:,.0f} records/s "
                  f"({3 * rate:,.0f} values/s)")
            print(f"baseline: {n_base:,} records published one JSON message each, awaiting each ack (nothing stored)")
            base_elapsed = asyncio.run(baseline_run(cfg.url, n_base))
            base = n_base / base_elapsed
            print(f"  {base:,.0f} records/s")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps({"bench": "edge_sync", "records": n, "batch_records": args.batch,
                      "records_per_s": round(rate), "values_per_s": round(3 * rate),
                      "edge_published_records_per_s": round(n / acked),
                      "baseline_json_per_record_records_per_s": round(base), "ratio": round(rate / base, 1)}))


if __name__ == "__main__":
    main()
