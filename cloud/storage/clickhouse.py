"""ClickHouse access through clickhouse-connect: embedded chDB (``chdb:///dir``) or a server.

chDB is blocking and allows one open data directory per process, so every call runs on one
dedicated thread; async callers await it without blocking the event loop. Tables are created
by versioned migrations (docs/storage.md explains the keys).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

log = logging.getLogger(__name__)

ARCHIVE_COLUMNS = (
    "site", "meter", "channel", "kind", "nature", "parameter", "period_start", "value", "quality", "version",
    "received_at", "batch",
)

# Each migration is applied once, in order; the applied version is kept in schema_migrations.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
CREATE TABLE IF NOT EXISTS {db}.archive (
    site LowCardinality(String),
    meter String,
    channel UInt16,
    kind Enum8('hour' = 1, 'day' = 2, 'month' = 3),
    nature Enum8('integral' = 1, 'interval' = 2),
    parameter LowCardinality(String),
    period_start DateTime('UTC'),
    value Float64,
    quality UInt16,
    version UInt32,
    received_at DateTime64(3, 'UTC'),
    batch String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(period_start)
ORDER BY (meter, channel, kind, parameter, period_start)
SETTINGS fsync_after_insert = 1, fsync_part_directory = 1, non_replicated_deduplication_window = 10000
"""),
    (2, """
CREATE TABLE IF NOT EXISTS {db}.sync_batches (
    site LowCardinality(String),
    seq UInt64,
    records UInt32,
    values UInt32,
    created_at DateTime64(3, 'UTC'),
    stored_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (site, seq)
SETTINGS fsync_after_insert = 1, fsync_part_directory = 1
"""),
    (3, """
CREATE TABLE IF NOT EXISTS {db}.dead_letter (
    received_at DateTime64(3, 'UTC'),
    subject String,
    msg_id String,
    reason String,
    payload String
) ENGINE = MergeTree
ORDER BY received_at
SETTINGS fsync_after_insert = 1, fsync_part_directory = 1
"""),
    # an id per dead-letter entry, for `domuchet deadletter replay --id`; rows written before this
    # migration get a stable one derived from their content
    (4, """
ALTER TABLE {db}.dead_letter ADD COLUMN IF NOT EXISTS id String
    DEFAULT substring(lower(hex(SHA256(concat(subject, msg_id, reason, payload)))), 1, 32) FIRST
"""),
    (5, """
CREATE TABLE IF NOT EXISTS {db}.dead_letter_replays (
    id String,
    replayed_at DateTime64(3, 'UTC'),
    stored_values UInt32,
    note String
) ENGINE = MergeTree
ORDER BY (id, replayed_at)
SETTINGS fsync_after_insert = 1, fsync_part_directory = 1
"""),
)

_WRITE = re.compile(r"^\s*(insert|alter|create|drop|truncate|rename|optimize|delete|update|grant|revoke|system|"
                    r"attach|detach|kill|set|use|exchange|undrop|backup|restore|move)\b", re.IGNORECASE)


class ReadOnlyViolation(ValueError):
    """A statement that would change data was given to a read-only entry point."""


class QueryError(ValueError):
    """ClickHouse refused a query (syntax, unknown table ...); the message is its first line."""


def check_read_only(sql: str) -> None:
    if _WRITE.match(sql) or ";" in sql.strip().rstrip(";"):
        raise ReadOnlyViolation("only a single SELECT, SHOW, DESCRIBE, EXPLAIN or WITH query is allowed")


class ClickHouse:
    """One client and one worker thread; ``database`` isolates tenants of a shared chDB dir (tests)."""

    def __init__(self, dsn: str, database: str = "domuchet") -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
            raise ValueError(f"database name {database!r} is not a plain identifier")
        self.dsn = dsn
        self.database = database
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client: Client | None = None

    # --- lifecycle -------------------------------------------------------------------
    def open_sync(self) -> None:
        """Connect and migrate (blocking; runs on the caller's thread only at start-up)."""
        self._pool.submit(self._open).result()

    def _open(self) -> None:
        self._client = clickhouse_connect.get_client(dsn=self.dsn)
        self._client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self._client.command(
            f"CREATE TABLE IF NOT EXISTS {self.database}.schema_migrations (version UInt32, applied_at DateTime "
            "DEFAULT now()) ENGINE = MergeTree ORDER BY version")
        applied = {r[0] for r in self._client.query(
            f"SELECT version FROM {self.database}.schema_migrations").result_rows}  # noqa: S608 - checked identifier
        for version, ddl in MIGRATIONS:
            if version in applied:
                continue
            self._client.command(ddl.format(db=self.database))
            self._client.command(f"INSERT INTO {self.database}.schema_migrations (version) VALUES ({version})")  # noqa: S608
            log.info("event=clickhouse_migrated database=%s version=%d", self.database, version)

    def close_sync(self) -> None:
        def _close() -> None:
            if self._client is not None:
                self._client.close()
                self._client = None
        self._pool.submit(_close).result()
        self._pool.shutdown(wait=True)

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("ClickHouse is not open")
        return self._client

    async def _run(self, fn, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # --- writes ----------------------------------------------------------------------
    def insert_archive_sync(self, rows: Sequence[Sequence[Any]], dedup_token: str) -> None:
        """Insert archive rows; a repeat of the same token is dropped by ClickHouse itself."""
        self.client.insert(f"{self.database}.archive", rows, column_names=ARCHIVE_COLUMNS,
                           settings={"insert_deduplication_token": dedup_token, "insert_deduplicate": 1})

    async def insert_archive(self, rows: Sequence[Sequence[Any]], dedup_token: str) -> None:
        await self._run(self.insert_archive_sync, rows, dedup_token)

    async def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str],
                     settings: dict[str, Any] | None = None) -> None:
        await self._run(lambda: self.client.insert(f"{self.database}.{table}", rows, column_names=columns,
                                                   settings=settings))

    # --- reads -----------------------------------------------------------------------
    def query_sync(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        return self.client.query(sql.replace("{db}", self.database), parameters=parameters).result_rows

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        """Run a query; ``{db}`` in the text is replaced by this instance's database name."""
        return await self._run(self.query_sync, sql, parameters)

    def read_only_sync(self, sql: str) -> tuple[list[str], list[tuple]]:
        """For `domuchet sql`: refuse writes here and again in ClickHouse (readonly=1)."""
        check_read_only(sql)
        try:
            result = self.client.query(sql, settings={"readonly": 1})
        except ClickHouseError as exc:
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            if "READONLY" in text:
                raise ReadOnlyViolation(first) from exc
            raise QueryError(first) from exc
        return list(result.column_names), result.result_rows

    async def read_only(self, sql: str) -> tuple[list[str], list[tuple]]:
        return await self._run(self.read_only_sync, sql)
