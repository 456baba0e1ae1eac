"""The registry's transactions under concurrency: a service that reads a row and then changes it
must not fail because another connection committed in between (WAL keeps a deferred reader's
snapshot, so its later write used to fail at once with "database is locked")."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from cloud.storage.registry import Registry


def test_read_then_write_while_another_connection_commits(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    with registry.connect() as db:
        db.execute("INSERT INTO companies (name, city) VALUES ('A', 'Казань')")
    read_done, other_committed = threading.Event(), threading.Event()

    def other_writer() -> None:
        read_done.wait(5)
        with registry.connect() as db:  # waits for the first transaction's write lock
            db.execute("UPDATE companies SET name = 'C' WHERE id = 1")
        other_committed.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    with registry.connect() as db:
        name = db.execute("SELECT name FROM companies WHERE id = 1").fetchone()[0]
        read_done.set()
        other_committed.wait(0.5)  # the other writer cannot commit inside this transaction
        db.execute("UPDATE companies SET name = ? WHERE id = 1", (name + "B",))
    thread.join(10)
    # this transaction read "A" and wrote "AB"; the other one ran after it: "C"
    assert registry.one("SELECT name FROM companies WHERE id = 1")["name"] == "C"


def test_reads_refuse_to_write(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
        registry.all("INSERT INTO companies (name, city) VALUES ('A', 'Казань') RETURNING id")
