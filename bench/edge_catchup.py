"""Catch-up after a 24-hour uplink cut: 1,000 meters with hourly archives (three channels each)
have buffered a day of records; the link comes back. Measured: wall time until the backlog is
zero, i.e. the cloud's stored watermark covers every batch (edge Sync in this process, one cloud
Ingest worker in a child process on chDB, a real nats-server). Target: under 10 s.
Run: python -m bench.edge_catchup [--quick]
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

from bench.edge_sync import _free_port, _wait_for_stream
from domuchet import natsserver
from edge.buffer import Buffer
from edge.config import EdgeConfig
from edge.sync import Sync
from protocol.vocabulary import ArchiveKind, Nature
from protocol.wire import ArchiveRecord

SITE = "bench-catchup"
T0 = 1_767_225_600


def backlog(meters: int, hours: int) -> list[ArchiveRecord]:
    """What a day offline leaves: per meter and hour, heat (Q) and two water channels (V)."""
    out = []
    for h in range(hours):
        for m in range(meters):
            start = T0 + 3600 * h
            out += [ArchiveRecord(f"307{m:05d}", 1, ArchiveKind.HOUR, Nature.INTEGRAL, start,
                                  {"Q": 100.0 + h, "V1": 5.0, "V2": 4.9, "T1": 70.1, "T2": 45.2}, received_at=start),
                    ArchiveRecord(f"307{m:05d}", 2, ArchiveKind.HOUR, Nature.INTEGRAL, start, {"V": 3.0 + h},
                                  received_at=start),
                    ArchiveRecord(f"307{m:05d}", 3, ArchiveKind.HOUR, Nature.INTEGRAL, start, {"V": 7.0 + h},
                                  received_at=start)]
    return out


async def catch_up(url: str, data_dir: Path, meters: int, hours: int, batch: int) -> tuple[int, int, float]:
    buf = Buffer(data_dir / "buffer.db")
    recs = backlog(meters, hours)
    for i in range(0, len(recs), 10_000):
        buf.store(recs[i:i + 10_000])
    values = buf.db.execute("SELECT count(*) FROM archive").fetchone()[0]
    print(f"  buffered while the link was down: {len(recs):,} records ({values:,} values)")
    config = EdgeConfig(site=SITE, time_zone="Europe/Moscow", data_dir=data_dir, nats_url=url,
                        batch_max_records=batch, status_port=0)
    sync = Sync(config, buf)
    stop = asyncio.Event()
    t = time.perf_counter()
    task = asyncio.create_task(sync.run(stop))
    while buf.db.execute("SELECT count(*) FROM batches WHERE state != 'stored'").fetchone()[0] or \
            buf.db.execute("SELECT count(*) FROM archive WHERE batch IS NULL").fetchone()[0]:
        if task.done():
            task.result()
            raise RuntimeError("sync stopped early")
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t
    stop.set()
    await task
    buf.close()
    return len(recs), values, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200 meters instead of 1,000")
    ap.add_argument("--batch", type=int, default=2000, help="records per batch (edge batch_max_records)")
    args = ap.parse_args()
    meters, hours = (200 if args.quick else 1000), 24
    with tempfile.TemporaryDirectory(prefix="bench-edge-catchup-") as tmp:
        root = Path(tmp)
        cfg = natsserver.NatsSettings(port=_free_port(), mqtt_port=_free_port())
        server = natsserver.start(cfg, root / "nats", root / "nats.log", auth=False)
        worker = subprocess.Popen([sys.executable, "-m", "bench.edge_sync", "--ingest-worker", cfg.url,
                                   str(root / "chdb")])
        try:
            print(f"catch-up after a {hours} h uplink cut: {meters:,} meters with hourly archives; time until "
                  "the cloud's stored watermark covers the whole backlog")
            asyncio.run(_wait_for_stream(cfg.url))
            records, values, elapsed = asyncio.run(catch_up(cfg.url, root / "edge", meters, hours, args.batch))
            print(f"  backlog zero after {elapsed:.2f} s ({records / elapsed:,.0f} records/s)")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps({"bench": "edge_catchup", "meters": meters, "hours": hours, "records": records,
                      "values": values, "seconds_to_zero_backlog": round(elapsed, 2), "target_s": 10,
                      "records_per_s": round(records / elapsed)}))


if __name__ == "__main__":
    main()
