"""Shared fixtures: real servers on free loopback ports, one chDB directory per test session."""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest

from cloud.storage.clickhouse import ClickHouse
from domuchet import natsserver

pytest_plugins = ["nicegui.testing.user_plugin"]

# The demo scenario's extras a test building derived from it leaves out (replace(load("demo").building,
# ..., **PLAIN)): its electricity meters and its meter waiting to be commissioned. Tests that want
# them say so.
PLAIN = {"electricity_meters_941": 0, "unregistered_meters": 0}

_CHDB_DIR = Path(tempfile.mkdtemp(prefix="domuchet-chdb-"))


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port never handed out before in this session: a client some earlier test
    left reconnecting (paho, nats.py) must not find a later test's server on its old port."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@pytest.fixture(autouse=True)
def _no_leaked_mqtt_clients() -> Iterator[None]:
    """Fail the test that leaves a paho network thread running: such a client reconnects forever
    and, with a reused client id, takes a later test's MQTT session away from it."""
    import threading
    import time
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [t.name for t in threading.enumerate() if t.ident not in before and t.name.startswith("paho-mqtt")]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not leaked, f"MQTT client threads left running: {leaked}"


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[natsserver.NatsSettings]:
    """A real nats-server with JetStream and its MQTT listener, on free ports."""
    cfg = natsserver.NatsSettings(port=free_port(), mqtt_port=free_port())
    store = _fast_dir("domuchet-nats-")
    proc = natsserver.start(cfg, store, tmp_path / "nats.log", new_session=False, auth=False)
    yield cfg
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(store, ignore_errors=True)


def _fast_dir(prefix: str) -> Path:
    """A directory on tmpfs when there is one. On ext4 every fsync waits for all dirty data of the
    file system, and late in a run chDB keeps plenty of it: nats-server then took minutes to create
    the streams behind its MQTT listener (each stream's files are fsynced)."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix=prefix, dir=shm if shm.is_dir() else None))


@pytest.fixture(scope="session")
def chdb_path() -> Iterator[Path]:
    """chDB allows one data directory per process: every test shares this one (DESIGN.md 3).

    One client stays open for the whole session: when the last client of the directory closes,
    chDB shuts its engine down, and the next client starts it again with a new set of pool
    threads while the old ones stay, each holding three /proc files open. Per test that added
    five threads; late in a run the process passed 1024 descriptors, where select() (paho-mqtt,
    pyserial) fails, and MQTT and RS-485 tests failed with it."""
    anchor = clickhouse_connect.get_client(dsn=f"chdb://{_CHDB_DIR}")
    yield _CHDB_DIR
    anchor.close()
    shutil.rmtree(_CHDB_DIR, ignore_errors=True)


@pytest.fixture
def clickhouse(chdb_path: Path) -> Iterator[ClickHouse]:
    """A fresh database in the session's chDB directory, migrated, closed after the test."""
    ch = ClickHouse(f"chdb://{chdb_path}", database=f"t_{uuid.uuid4().hex[:12]}")
    ch.open_sync()
    yield ch
    try:  # a left-over database keeps chDB merging (and writing) in the background for the rest of the run
        ch.client.command(f"DROP DATABASE IF EXISTS {ch.database} SYNC")
    finally:
        ch.close_sync()
