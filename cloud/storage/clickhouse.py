"""ClickHouse access through clickhouse-connect: embedded chDB (``chdb:///dir``), a server
(``http(s)://user:pass@host:8123/db``) or a cluster of servers (``cluster`` = its name).

chDB is blocking and allows one open data directory per process, so every call runs on one
dedicated thread; async callers await it without blocking the event loop. Tables are created
by the versioned migrations of cloud/storage/schema.py, rendered for one node or a cluster
(docs/storage.md explains the keys). Tests: every integration test (chDB);
tests/unit/test_clickhouse_schema.py (the DSN and the cluster DDL).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from cloud.storage import schema

log = logging.getLogger(__name__)

ARCHIVE_COLUMNS = (
    "company", "site", "meter", "channel", "kind", "nature", "parameter", "period_start", "value", "quality",
    "version", "received_at", "batch_seq",
)
# the largest magnitude the archive's Decimal64(6) value column holds with room to spare
MAX_VALUE = 1e12

_WRITE = re.compile(r"^\s*(insert|alter|create|drop|truncate|rename|optimize|delete|update|grant|revoke|system|"
                    r"attach|detach|kill|set|use|exchange|undrop|backup|restore|move)\b", re.IGNORECASE)


class ReadOnlyViolation(ValueError):
    """A statement that would change data was given to a read-only entry point."""


class QueryError(ValueError):
    """ClickHouse refused a query (syntax, unknown table ...); the message is its first line."""


def check_read_only(sql: str) -> None:
    if _WRITE.match(sql) or ";" in sql.strip().rstrip(";"):
        raise ReadOnlyViolation("only a single SELECT, SHOW, DESCRIBE, EXPLAIN or WITH query is allowed")


def split_dsn(dsn: str) -> tuple[str, str]:
    """(the DSN to connect with, the database its path names or ""): a server DSN's database
    may not exist yet, so the client connects without it and every statement names it."""
    if not dsn.startswith(("http://", "https://", "clickhouse://")):
        return dsn, ""
    parts = urlsplit(dsn)
    database = parts.path.strip("/")
    return urlunsplit(parts._replace(path="")), database


class ClickHouse:
    """One client and one worker thread; ``database`` isolates tenants of a shared chDB dir (tests)."""

    def __init__(self, dsn: str, database: str = "domuchet", cluster: str = "") -> None:
        self.dsn, path_db = split_dsn(dsn)
        database = path_db or database
        for what, name in (("database", database), ("cluster", cluster)):
            if name and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{what} name {name!r} is not a plain identifier")
        if cluster and self.dsn.startswith("chdb:"):
            raise ValueError("cluster: embedded chDB is one node; a cluster needs an http(s):// DSN")
        self.database = database
        self.cluster = cluster
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client: Client | None = None

    # --- lifecycle -------------------------------------------------------------------
    def open_sync(self, site_companies: Mapping[str, int] | None = None) -> None:
        """Connect and migrate (blocking; runs on the caller's thread only at start-up).

        ``site_companies`` (the registry's site -> company id) gives rows stored before the
        tenant-safe key (migrations 9-11) their company; without it they get company 0.
        """
        self._pool.submit(self._open, site_companies or {}).result()

    def _open(self, site_companies: Mapping[str, int]) -> None:
        # a cluster: inserts reach the shard's replicas before they return (durable on two
        # nodes), so the watermark read after an insert sees it whichever replica answers
        settings = {"insert_distributed_sync": 1, "insert_quorum": "auto",
                    "select_sequential_consistency": 1} if self.cluster else {}
        self._client = clickhouse_connect.get_client(dsn=self.dsn, settings=settings)
        db, cluster = self.database, self.cluster
        for statement in schema.bootstrap(db, cluster):
            self._client.command(statement)
        applied = {r[0] for r in self._client.query(
            f"SELECT version FROM {db}.schema_migrations").result_rows}  # noqa: S608 - checked identifier
        for version, step in schema.MIGRATIONS:
            if version in applied:
                continue
            if isinstance(step, schema.Rebuild) and self._has_column(step.table.name, step.marker):
                # a rebuild that swapped the tables but did not record itself: only clean up
                statements = [f"DROP TABLE IF EXISTS {db}.{step.table.name}_next SYNC"]
            else:
                statements = schema.ddl(step, db, cluster, site_companies)
            for statement in statements:
                self._client.command(statement)
            self._client.command(f"INSERT INTO {db}.schema_migrations (version) VALUES ({version})")  # noqa: S608
            log.info("event=clickhouse_migrated database=%s version=%d cluster=%s", db, version, cluster or "-")

    def _has_column(self, table: str, column: str) -> bool:
        return bool(self.client.query(
            "SELECT count() FROM system.columns WHERE database = {d:String} AND table = {t:String} "
            "AND name = {c:String}", parameters={"d": self.database, "t": table, "c": column}).result_rows[0][0])

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

    def insert_sync(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str],
                    settings: dict[str, Any] | None = None, dedup_token: str | None = None) -> None:
        """Insert rows; with ``dedup_token`` a repeat of the same token into the table is dropped."""
        if dedup_token is not None:
            settings = {**(settings or {}), "insert_deduplication_token": dedup_token, "insert_deduplicate": 1}
        self.client.insert(f"{self.database}.{table}", rows, column_names=columns, settings=settings)

    async def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str],
                     settings: dict[str, Any] | None = None, dedup_token: str | None = None) -> None:
        await self._run(self.insert_sync, table, rows, columns, settings, dedup_token)

    # --- reads -----------------------------------------------------------------------
    def query_sync(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        result = self.client.query(sql.replace("{db}", self.database), parameters=parameters)
        return _floats(result.result_rows, result.column_types)

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


def _floats(rows: list[tuple], types: Sequence[Any]) -> list[tuple]:
    """Decimal columns (the archive's values) as floats, so callers do plain arithmetic."""
    decimal = [i for i, t in enumerate(types) if "Decimal" in t.name]
    if not decimal or not rows:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i in decimal:
            if isinstance(values[i], Decimal):
                values[i] = float(values[i])
        out.append(tuple(values))
    return out
