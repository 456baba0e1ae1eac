"""Chaos: the cloud's ingest is killed with SIGKILL in the middle of a fetch, four times: at the
three points where a fetch can be cut (tests/chaos/ingest_process.py) - after its archive insert,
after its sync audit rows, after its acknowledgements (before the stored watermark) - and once
at a random moment while it stores. The ingest runs in a process of its own on its own chDB
directory; each new worker opens the same one. The edge is a real buffer and a real Sync in the
test process, on a real nats-server.

N (written by hand): 12 meters x 800 hours = 9,600 records of 3 parameters (Q, V1, V2) =
28,800 values, in batches of 15 records: 9,600 / 15 = 640 batches. Expected: 28,800 values in
ClickHouse, each field of each one as produced, none twice, nothing lost and nothing reported
lost (no dead letter, no lost period, no eviction), all 640 batches confirmed stored at the edge.

What "none twice" asserts: the count with FINAL and the count of distinct keys (the archive's
whole sort key) are both 28,800 - every exact query sees each value once. The raw row count may
be higher only by copies of batches whose archive insert a killed worker began and never
followed with their audit row (the crash window docs/storage.md names: when the redelivery comes
in a fetch of other batches, its insert deduplication token differs and ReplacingMergeTree, not
the insert, collapses the copy); the test checks that every raw duplicate is such a copy, and
only one. The ingest's consumer is made with a 5 s ack wait instead of 60 s
(edge_support.ingest_consumer), so a killed worker's messages come back sooner.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import nats as nats_client
import pytest

from cloud.streams import DURABLE
from edge.buffer import Buffer
from edge.sync import Sync
from protocol import subjects
from protocol.vocabulary import ArchiveKind, Nature, Quality
from protocol.wire import ArchiveRecord
from tests.chaos.edge_support import edge_config, ingest_consumer, until_progress
from tests.chaos.ingest_process import cut_batches

REPO = Path(__file__).resolve().parents[2]
SITE = "chaos-cloud-kill"
T0 = 1_767_225_600  # 2026-01-01T00:00Z
METERS, HOURS, BATCH = 12, 800, 15
N_RECORDS = METERS * HOURS  # 9,600
N_VALUES = 3 * N_RECORDS  # 28,800
N_BATCHES = N_RECORDS // BATCH  # 640
# where each killed worker stops (in its 2nd storing fetch); None: killed at a random moment
POINTS = ("insert", "audit", "ack", None)
ACK_WAIT_S = 5.0


def _records() -> list[ArchiveRecord]:
    """Every field varies: channel, nature, quality, values and receive time by meter and hour."""
    return [ArchiveRecord(f"k{m:02d}", 1 + m % 3, ArchiveKind.HOUR, Nature.INTEGRAL if m % 2 == 0 else Nature.INTERVAL,
                          T0 + 3600 * h, {"Q": 1000.0 * m + 0.125 * h, "V1": 50_000.0 + 2 * m + 0.5 * h,
                                          "V2": m + 0.25 * h},
                          quality=Quality.BACKFILLED if h % 5 == 0 else Quality.OK,
                          received_at=T0 + 3600 * (h + 1) + m + 0.25)
            for h in range(HOURS) for m in range(METERS)]


def _expected_rows(records: list[ArchiveRecord]) -> Counter:
    """Each value as ClickHouse must hold it: key, value, quality, version, receive time in ms."""
    return Counter((r.meter, r.channel, r.kind.value, r.nature.value, p, r.period_start, v, r.quality, r.version,
                    round(r.received_at * 1000)) for r in records for p, v in r.values.items())


def _start_ingest(nats_url: str, chdb: Path, log: Path, point: str | None = None,
                  marker: Path | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.chaos.ingest_process", "run", nats_url, str(chdb)]
    if point is not None:
        cmd += ["--pause", point, "--fetch", "2", "--marker", str(marker)]
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                stdout=out, stderr=out)


def _alive(proc: subprocess.Popen, log: Path) -> Callable[[], None]:
    def check() -> None:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"the ingest process exited with {proc.returncode}:\n{tail}")
    return check


def _logged(log: Path, pid: int, event: str) -> bool:
    return any(f"pid={pid} " in line and event in line for line in log.read_text(errors="replace").splitlines())


def _confirmed(buf: Buffer) -> bool:
    stats = buf.stats()
    return stats["unsynced_values"] == 0 and stats["unbatched_values"] == 0


def _dump(chdb: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.chaos.ingest_process", "dump", str(chdb), SITE],
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, timeout=120)
    if out.returncode != 0:
        pytest.fail(f"reading {chdb} failed ({out.returncode}): {out.stderr.decode(errors='replace')[-3000:]}")
    return json.loads(out.stdout)


async def test_kill_9_of_the_cloud_ingest_mid_fetch_loses_and_doubles_nothing(nats, tmp_path: Path) -> None:
    await ingest_consumer(nats.url, ACK_WAIT_S)
    records = _records()
    buf = Buffer(tmp_path / "edge" / "buffer.db")
    buf.store(records)
    config = edge_config(tmp_path / "edge", [], site=SITE, nats_url=nats.url, batch_max_records=BATCH,
                         time_zone="UTC")
    sync, stop = Sync(config, buf), asyncio.Event()
    sync_task = asyncio.create_task(sync.run(stop))
    chdb, log = tmp_path / "chdb", tmp_path / "ingest.log"
    log.touch()
    kills: list[dict] = []
    proc: subprocess.Popen | None = None

    def progress() -> tuple:
        return buf.stats()["batches"], log.stat().st_size
    rng = random.Random(11)
    try:
        for n, point in enumerate(POINTS, 1):
            marker = tmp_path / f"paused-{n}.json"
            proc = _start_ingest(nats.url, chdb, log, point, marker)
            if point is None:  # storing: it has begun an insert
                await until_progress(lambda p=proc.pid: _logged(log, p, "event=chaos_inserting"), progress,
                                     f"worker {n} storing", check=_alive(proc, log))
                await asyncio.sleep(rng.uniform(0.0, 0.3))
            else:
                await until_progress(marker.exists, progress, f"worker {n} at its '{point}' point",
                                     check=_alive(proc, log))
            proc.send_signal(signal.SIGKILL)
            assert await asyncio.to_thread(proc.wait, 30) == -signal.SIGKILL
            paused = json.loads(marker.read_text()) if point else {"point": None, "inserted": [], "audited": []}
            kills.append({**paused, "pid": proc.pid, "edge_unconfirmed": buf.unconfirmed_batches()})
        proc = _start_ingest(nats.url, chdb, log)
        await until_progress(lambda: _confirmed(buf), progress, f"all {N_BATCHES} batches confirmed stored",
                             check=_alive(proc, log))
        # and every message handled, the killed fetches' redeliveries too: they must add nothing
        nc = await nats_client.connect(nats.url)
        try:
            async def drained() -> bool:
                info = await nc.jetstream().consumer_info(subjects.STREAM_UP, DURABLE)
                return info.num_pending == 0 and info.num_ack_pending == 0
            await until_progress(drained, progress, "the ingest's consumer drained", check=_alive(proc, log))
        finally:
            await nc.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        stop.set()
        await sync_task

    # each kill landed mid-fetch with batches of the edge in flight (published, not confirmed)
    assert [k["point"] for k in kills] == list(POINTS)
    assert kills[0]["inserted"], kills
    assert kills[1]["audited"], kills
    assert all(k["edge_unconfirmed"] > 0 for k in kills), kills
    # the edge: all 640 batches confirmed stored, nothing evicted, nothing renumbered
    edge_batches = buf.db.execute("SELECT seq, epoch, digest, state FROM batches").fetchall()
    assert len(edge_batches) == N_BATCHES
    assert {state for *_, state in edge_batches} == {"stored"}
    assert [e["kind"] for e in buf.events(100)] == []
    buf.close()

    got = _dump(chdb)
    # every field of every value as produced, each once under FINAL
    rows = Counter(tuple(r[:10]) for r in got["rows"])
    expected = _expected_rows(records)
    assert sum(expected.values()) == N_VALUES
    missing, extra = expected - rows, rows - expected
    assert not missing, f"{sum(missing.values())} of {N_VALUES} values missing or changed, e.g. {list(missing)[:3]}"
    assert not extra, f"{sum(extra.values())} unexpected values, e.g. {list(extra)[:3]}"
    assert (got["final"], got["distinct"]) == (N_VALUES, N_VALUES)
    # raw copies: only of batches cut between their archive insert and their audit row, once each
    cut = cut_batches(log.read_text(errors="replace"), {k["pid"] for k in kills})
    assert set(kills[0]["inserted"]) <= cut
    bad = [d for d in got["doubled"] if d[1] != 2 or not set(d[2]) <= cut]
    assert not bad, f"values stored twice outside the insert/audit crash window: {bad[:3]}"
    assert got["raw"] - got["distinct"] == len(got["doubled"])
    # the cloud's audit holds exactly the edge's batches, one identity per seq; nothing dead-lettered or lost
    assert {(s, e, d) for s, e, d, _ in got["audit"]} == {(s, e, d) for s, e, d, _ in edge_batches}
    assert (got["dead_letter"], got["lost_periods"]) == (0, 0)
    print(f"\nkills (point, batches inserted, edge batches unconfirmed): "
          f"{[(k['point'], len(k['inserted']), k['edge_unconfirmed']) for k in kills]}; "
          f"raw rows {got['raw']}, distinct {got['distinct']}, FINAL {got['final']}, "
          f"raw copies {got['raw'] - got['distinct']} (of {len(cut)} cut batches)")
