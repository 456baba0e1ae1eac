"""`domuchet deadletter list|replay`: what the ingest could not store, and feeding it back.

``list`` prints one tab-separated line per entry: time (UTC, ISO), subject, msg id, reason,
then the entry id and its state (``pending`` or ``replayed <time>``). ``replay [--id ID ...]``
feeds stored payloads through the ingest's handle path again (ids are dead-letter ids or
Nats-Msg-Ids; without --id every pending entry) and prints one line per entry: id, result,
note. When a cloud runs on the data directory the command asks it through its local API
(chDB allows one process per directory); otherwise it opens the storage itself.
Tests: tests/integration/test_cloud_ingest.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from cloud.config import CloudConfig
from cloud.deadletter import Entry, ReplayResult, entries, replay
from cloud.ingest import Ingest
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from domuchet.cloud_process import open_storage


def entry_line(e: Entry) -> str:
    state = f"replayed {e.replayed_at.isoformat()}" if e.replayed_at else "pending"
    return "\t".join((e.received_at.isoformat(), e.subject, e.msg_id, _one_line(e.reason), e.id, state))


def result_line(r: ReplayResult) -> str:
    return "\t".join((r.id, "replayed" if r.replayed else "not-replayed", _one_line(r.note)))


def _one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")


async def list_lines(ch: ClickHouse, include_replayed: bool) -> list[str]:
    return [entry_line(e) for e in await entries(ch, include_replayed=include_replayed)]


async def replay_lines(ch: ClickHouse, registry: Registry, ids: Sequence[str]) -> tuple[list[str], bool]:
    """Replay without a NATS connection: the stored watermark follows when the ingest next runs."""
    ingest = Ingest("", ch, known_meters=registry.meter_serials_by_site, companies=registry.company_by_site)
    results = await replay(ch, ingest, ids)
    return [result_line(r) for r in results], all(r.replayed for r in results)


def run(action: str, config: CloudConfig, api_file_info: dict | None, *, ids: Sequence[str] = (),
        include_replayed: bool = False, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Exit status: 0 done, 1 some entry was not replayed, 2 the request failed."""
    if api_file_info is not None:
        answer = _ask_cloud(api_file_info, action, ids, include_replayed, err)
        if answer is not None:
            lines, ok = answer
            for line in lines:
                print(line, file=out)
            return 0 if ok else 1
    registry, ch = open_storage(config)
    try:
        if action == "list":
            lines, ok = asyncio.run(list_lines(ch, include_replayed)), True
        else:
            lines, ok = asyncio.run(replay_lines(ch, registry, ids))
    finally:
        ch.close_sync()
    for line in lines:
        print(line, file=out)
    return 0 if ok else 1


def _ask_cloud(info: dict, action: str, ids: Sequence[str], include_replayed: bool,
               err: TextIO) -> tuple[list[str], bool] | None:
    """The running cloud's answer, or None when it is gone (a stale local-api file)."""
    body = {"action": action, "ids": list(ids), "include_replayed": include_replayed}
    req = urllib.request.Request(info["url"] + "/api/local/deadletter", data=json.dumps(body).encode(),  # noqa: S310
                                 headers={"Content-Type": "application/json", "X-Local-Token": info["token"]})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback URL the cloud wrote
            doc = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        message = json.loads(exc.read() or b"{}").get("message", exc.reason)
        print(f"domuchet deadletter: {message}", file=err)
        raise SystemExit(2) from exc
    except urllib.error.URLError:
        return None
    if action == "list":
        return [entry_line(_entry(e)) for e in doc["entries"]], True
    results = [ReplayResult(**r) for r in doc["results"]]
    return [result_line(r) for r in results], all(r.replayed for r in results)


def _entry(doc: dict) -> Entry:
    replayed = doc["replayed_at"]
    return Entry(doc["id"], datetime.fromisoformat(doc["received_at"]), doc["subject"], doc["msg_id"], doc["reason"],
                 datetime.fromisoformat(replayed) if replayed else None)
