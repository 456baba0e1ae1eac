"""The test session's chDB engine stays up between tests (tests/conftest.py ``chdb_path``): a
restarted engine left its old pool threads behind, each with three /proc files open, until the
process passed the 1024 descriptors select() can watch and the MQTT and RS-485 tests failed."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from cloud.storage.clickhouse import ClickHouse


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_opening_and_closing_databases_leaves_no_threads_behind(chdb_path: Path) -> None:
    def cycle() -> None:
        ch = ClickHouse(f"chdb://{chdb_path}", database=f"t_{uuid.uuid4().hex[:12]}")
        ch.open_sync()
        ch.query_sync("SELECT count() FROM {db}.archive FINAL")
        ch.client.command(f"DROP DATABASE {ch.database} SYNC")
        ch.close_sync()
    cycle()  # the pools reach their working size
    before = _threads()
    for _ in range(5):
        cycle()
    # before the session kept one client open, five cycles added about 25 threads
    assert _threads() - before <= 3
