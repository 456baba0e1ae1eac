"""The cloud's ingest in a process of its own, for the chaos test that kills it with SIGKILL
(tests/chaos/test_cloud_kill9.py). chDB allows one process per data directory, so this process
owns its chDB directory while it runs; the test reads it afterwards with ``dump`` (again in a
process of its own: the test process may hold the session's chDB directory).

    python -m tests.chaos.ingest_process run NATS_URL CHDB_DIR [--pause POINT --fetch K --marker FILE]
    python -m tests.chaos.ingest_process dump CHDB_DIR SITE     (JSON on stdout)

``run`` is the real ``cloud.ingest.Ingest`` (every meter accepted, company 0) until SIGTERM.
With ``--pause`` it stops dead at one point of its K-th fetch that stored rows, writes what it
had done to ``--marker`` and blocks, so the test's SIGKILL lands exactly there:

- ``insert``: the fetch's archive rows are inserted; no sync audit row, nothing acknowledged;
- ``audit``: the fetch's sync audit rows are inserted too; nothing acknowledged;
- ``ack``: the fetch's acknowledgements have reached nats-server; the stored watermark not yet
  published.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from cloud.ingest import Ingest, Prepared
from cloud.storage.clickhouse import ClickHouse

POINTS = ("insert", "audit", "ack")
_JOURNAL = re.compile(r"pid=(\d+) .*event=chaos_(inserting|audited) seqs=([\d,]+)")
log = logging.getLogger("chaos.ingest_process")


class PausingIngest(Ingest):
    """The real ingest, with a stop at one point of its K-th storing fetch (see the module doc)."""

    def __init__(self, nats_url: str, clickhouse: ClickHouse, point: str | None, fetch: int,
                 marker: Path | None) -> None:
        super().__init__(nats_url, clickhouse, name="chaos")
        self.point, self.fetch, self.marker = point, fetch, marker
        self.inserts = 0  # inserts of archive rows (one per storing fetch here)
        self.audits = 0  # sync audit inserts (one per storing fetch)
        self.inserted: list[int] = []  # seqs whose archive rows the current fetch inserted
        self.nc: NatsClient | None = None

    async def _handle_fetch(self, msgs: list[Msg]) -> list[Msg]:
        if msgs:
            self.nc = msgs[0]._client
        self.inserted = []
        handled = await super()._handle_fetch(msgs)
        log.info("event=chaos_fetch msgs=%d handled=%d stored_batches=%d", len(msgs), len(handled), self.stored)
        return handled

    async def _insert(self, prepared: Sequence[Prepared]) -> None:
        seqs = [p.batch.seq for p in prepared if p.rows["archive"]]
        if seqs:  # said before the insert: a kill during it may leave its rows in ClickHouse
            log.info("event=chaos_inserting seqs=%s", _seqs(seqs))
        await super()._insert(prepared)
        if seqs:
            self.inserts += 1
            self.inserted += seqs
            self._pause_at("insert", self.inserts)

    async def flush(self) -> None:
        seqs = [seq for _, seq, *_ in self._sync_rows]
        await super().flush()
        if seqs:
            log.info("event=chaos_audited seqs=%s", _seqs(seqs))
            self.audits += 1
            self._pause_at("audit", self.audits, audited=seqs)

    async def _publish_or_defer(self) -> None:
        if self.point == "ack" and self.audits == self.fetch and self.nc is not None:
            await self.nc.flush()  # the acknowledgements are with nats-server now
            self._pause_at("ack", self.audits)
        await super()._publish_or_defer()

    def _pause_at(self, point: str, count: int, audited: list[int] | None = None) -> None:
        if point != self.point or count != self.fetch or self.marker is None:
            return
        info = {"point": point, "fetch": count, "inserted": self.inserted, "audited": audited or [],
                "pid": os.getpid()}
        tmp = self.marker.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(self.marker)
        log.warning("event=chaos_paused point=%s fetch=%d: waiting for SIGKILL", point, count)
        while True:  # the event loop stops here: nothing more is stored, acknowledged or published
            time.sleep(60)


def _seqs(seqs: Sequence[int]) -> str:
    return ",".join(map(str, seqs))


def cut_batches(log_text: str, pids: set[int]) -> set[int]:
    """The seqs whose archive insert a worker among ``pids`` began and never followed with their
    audit row (from the ``run`` log): the only batches whose rows a redelivery may copy."""
    found: dict[str, set[int]] = {"inserting": set(), "audited": set()}
    for pid, event, seqs in _JOURNAL.findall(log_text):
        if int(pid) in pids:
            found[event].update(int(s) for s in seqs.split(","))
    return found["inserting"] - found["audited"]


async def run(nats_url: str, chdb_dir: Path, point: str | None, fetch: int, marker: Path | None) -> None:
    ch = ClickHouse(f"chdb://{chdb_dir}")
    ch.open_sync()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    log.info("event=chaos_ingest_ready pid=%d", os.getpid())
    try:
        await PausingIngest(nats_url, ch, point, fetch, marker).run(stop)
    finally:
        ch.close_sync()


def dump(chdb_dir: Path, site: str) -> dict[str, object]:
    """What the archive, the sync audit and the dead letters of ``site`` hold, for the test to check."""
    ch = ClickHouse(f"chdb://{chdb_dir}")
    ch.open_sync()
    key = "company, meter, channel, kind, nature, parameter, period_start"
    p = {"s": site}
    try:
        rows = ch.query_sync(
            "SELECT meter, channel, toString(kind), toString(nature), parameter, toUnixTimestamp(period_start), "
            "value, quality, version, toUnixTimestamp64Milli(received_at), batch_seq "
            "FROM {db}.archive FINAL WHERE site = {s:String}", p)
        raw, distinct = ch.query_sync(f"SELECT count(), uniqExact({key}) FROM {{db}}.archive "  # noqa: S608
                                      "WHERE site = {s:String}", p)[0]
        doubled = ch.query_sync(f"SELECT {key}, count(), groupArray(batch_seq) FROM {{db}}.archive "  # noqa: S608
                                f"WHERE site = {{s:String}} GROUP BY {key} HAVING count() > 1", p)
        audit = ch.query_sync("SELECT seq, epoch, digest, count() FROM {db}.sync_batches WHERE site = {s:String} "
                              "GROUP BY seq, epoch, digest", p)
        dead = ch.query_sync("SELECT count() FROM {db}.dead_letter")[0][0]
        lost = ch.query_sync("SELECT count() FROM {db}.lost_periods WHERE site = {s:String}", p)[0][0]
    finally:
        ch.close_sync()
    return {"rows": [list(r) for r in rows], "final": len(rows), "raw": raw, "distinct": distinct,
            "doubled": [[list(r[:7]), r[7], list(r[8])] for r in doubled],
            "audit": [list(r) for r in audit], "dead_letter": dead, "lost_periods": lost}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.ingest_process")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("nats_url")
    r.add_argument("chdb_dir", type=Path)
    r.add_argument("--pause", choices=POINTS)
    r.add_argument("--fetch", type=int, default=1)
    r.add_argument("--marker", type=Path)
    d = sub.add_parser("dump")
    d.add_argument("chdb_dir", type=Path)
    d.add_argument("site")
    args = parser.parse_args(argv)
    if args.command == "dump":
        json.dump(dump(args.chdb_dir, args.site), sys.stdout, default=str)  # period starts of raw copies
        return
    if args.pause and args.marker is None:
        parser.error("--pause needs --marker")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s pid=%(process)d %(levelname)s %(name)s %(message)s")
    asyncio.run(run(args.nats_url, args.chdb_dir, args.pause, args.fetch, args.marker))


if __name__ == "__main__":
    main()
