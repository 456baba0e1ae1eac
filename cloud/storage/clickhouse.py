"""ClickHouse access through clickhouse-connect: embedded chDB (``chdb:///dir``), a server
(``http(s)://user:pass@host:8123/db``) or a cluster of servers (``cluster`` = its name).

chDB is blocking and allows one open data directory per process, so every call runs on one
dedicated thread; async callers await it without blocking the event loop. Tables are created
by the versioned migrations of cloud/storage/schema.py, rendered for one node or a cluster
(docs/storage.md explains the keys). The ingest inserts archive rows column by column as one
Arrow record batch (``insert_archive_columns``), with the values and deduplication of the row
insert. Tests: every integration test (chDB); tests/unit/test_clickhouse_schema.py (the DSN and
the cluster DDL); tests/integration/test_ingest_columns.py, tests/unit/cloud/test_decimal_units.py.
"""

from __future__ import annotations

import asyncio
import decimal
import io
import logging
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
import numpy as np
import pyarrow as pa
import pyarrow.ipc
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from cloud.storage import schema, sql_guard
from cloud.storage.sql_guard import QueryError, ReadOnlyViolation

log = logging.getLogger(__name__)

ARCHIVE_COLUMNS = (
    "company", "site", "meter", "channel", "kind", "nature", "parameter", "period_start", "value", "quality",
    "version", "received_at", "batch_seq",
)
# the largest magnitude the archive's Decimal64(6) value column holds with room to spare
MAX_VALUE = 1e12
VALUE_SCALE = 6  # the value column's decimals


@dataclass(frozen=True, slots=True)
class ArchiveColumns:
    """Archive rows column by column, compact: the record columns hold one entry per record, and
    record i is ``counts[i]`` rows whose parameters and values follow in ``parameter`` and
    ``value``. Times are epoch seconds (``received_at`` is stored in milliseconds). Built by
    cloud/ingest_rows.py; ``insert_archive_columns`` stores them without a tuple per row."""

    company: Sequence[int]
    site: Sequence[str]
    meter: Sequence[str]
    channel: Sequence[int]
    kind: Sequence[str]
    nature: Sequence[str]
    period_start: Sequence[int]
    quality: Sequence[int]
    version: Sequence[int]
    received_at: Sequence[float]
    batch_seq: Sequence[int]
    counts: Sequence[int]
    parameter: Sequence[str]
    value: Sequence[float]

    def __len__(self) -> int:
        """The number of rows (values)."""
        return len(self.value)

    @classmethod
    def concat(cls, parts: Sequence[ArchiveColumns]) -> ArchiveColumns:
        if len(parts) == 1:
            return parts[0]
        return cls(*(list(chain.from_iterable(getattr(p, name) for p in parts)) for name in cls.__slots__))

    def rows(self) -> list[tuple]:
        """The rows as tuples in ARCHIVE_COLUMNS order (received_at in ms), as ``insert_archive`` takes them."""
        out = []
        values = zip(self.parameter, self.value, strict=True)
        for company, site, meter, channel, kind, nature, period_start, quality, version, received_at, seq, count in zip(
                self.company, self.site, self.meter, self.channel, self.kind, self.nature, self.period_start,
                self.quality, self.version, self.received_at, self.batch_seq, self.counts, strict=True):
            for _ in range(count):
                parameter, value = next(values)
                out.append((company, site, meter, channel, kind, nature, parameter, period_start, value, quality,
                            version, round(received_at * 1000), seq))
        return out

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
        self._reader: Client | None = None  # read_only's own connection (sql_guard)

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
            if self._reader is not None:
                self._reader.close()
                self._reader = None
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
        value = ARCHIVE_COLUMNS.index("value")
        units = decimal_units([row[value] for row in rows]).tolist()
        rows = [(*row[:value], Decimal(u).scaleb(-VALUE_SCALE), *row[value + 1:])  # rounded, not truncated
                for row, u in zip(rows, units, strict=True)]
        self.client.insert(f"{self.database}.archive", rows, column_names=ARCHIVE_COLUMNS,
                           settings={"insert_deduplication_token": dedup_token, "insert_deduplicate": 1})

    async def insert_archive(self, rows: Sequence[Sequence[Any]], dedup_token: str) -> None:
        await self._run(self.insert_archive_sync, rows, dedup_token)

    def insert_archive_columns_sync(self, columns: ArchiveColumns, dedup_token: str) -> None:
        """Insert archive rows given column by column (the ingest's path): one Arrow record batch,
        which ClickHouse reads without a Python object per value; the same rows, values and
        deduplication as ``insert_archive_sync``."""
        self.client.raw_insert(f"{self.database}.archive", ARCHIVE_COLUMNS, archive_arrow(columns),
                               settings={"insert_deduplication_token": dedup_token, "insert_deduplicate": 1},
                               fmt="ArrowStream")

    async def insert_archive_columns(self, columns: ArchiveColumns, dedup_token: str) -> None:
        await self._run(self.insert_archive_columns_sync, columns, dedup_token)

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
        """For `domuchet sql`: one SELECT, decided by ClickHouse's parser (cloud/storage/sql_guard.py)
        and run on a connection of its own with per-query limits, so nothing it runs or sets reaches
        the connection the ingest inserts through (a readonly left on that one stopped all inserts)."""
        if self._reader is None:
            self.client  # noqa: B018 - raises when not open
            self._reader = clickhouse_connect.get_client(dsn=self.dsn)
        reader = self._reader

        def run(query: str, parameters: dict[str, Any] | None, readonly: int) -> Any:
            try:
                return reader.query(query, parameters=parameters, settings=sql_guard.limits(readonly))
            except ClickHouseError as exc:
                # a chDB handle can keep the rest of a query stopped by a limit and hand it to
                # the next query ("unrecognized data found in stream"): start a fresh one
                self._reader = None
                reader.close()
                text = str(exc)
                if "(READONLY)" in text:
                    raise ReadOnlyViolation(sql_guard.error_message(text)) from exc
                raise QueryError(sql_guard.error_message(text)) from exc

        statement = sql_guard.checked_statement(lambda q, p: run(q, p, 2).result_rows, sql)
        result = run(statement, None, 1)
        return list(result.column_names), result.result_rows

    async def read_only(self, sql: str) -> tuple[list[str], list[tuple]]:
        """``read_only_sync`` on the worker thread: a query waits for, and holds up, the ingest's
        inserts at most sql_guard.TIME_LIMIT_S."""
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


def archive_arrow(columns: ArchiveColumns) -> bytes:
    """The rows as an Arrow IPC stream of one record batch, typed as the archive's columns."""
    counts = np.asarray(columns.counts, dtype=np.int64)
    rows = np.repeat(np.arange(len(counts)), counts)  # each row's record

    def ints(values: Sequence[int], dtype: type, arrow: pa.DataType) -> pa.Array:
        return _fixed(np.asarray(values, dtype=dtype).repeat(counts), arrow)

    def texts(values: Sequence[str]) -> pa.Array:
        return _texts(values, rows)

    received_ms = np.rint(np.asarray(columns.received_at, dtype=np.float64) * 1000).astype(np.int64)
    arrays = {
        "company": ints(columns.company, np.uint32, pa.uint32()),
        "site": texts(columns.site),
        "meter": texts(columns.meter),
        "channel": ints(columns.channel, np.uint16, pa.uint16()),
        "kind": texts(columns.kind),
        "nature": texts(columns.nature),
        "parameter": _texts(columns.parameter),
        "period_start": ints(columns.period_start, np.int64, pa.timestamp("s", tz="UTC")),
        "value": _fixed(decimal_units(columns.value), pa.decimal64(18, VALUE_SCALE)),
        "quality": ints(columns.quality, np.uint16, pa.uint16()),
        "version": ints(columns.version, np.uint32, pa.uint32()),
        "received_at": _fixed(received_ms.repeat(counts), pa.timestamp("ms", tz="UTC")),
        "batch_seq": ints(columns.batch_seq, np.uint64, pa.uint64()),
    }
    table = pa.table([arrays[name] for name in ARCHIVE_COLUMNS], names=list(ARCHIVE_COLUMNS))
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _fixed(values: np.ndarray, arrow: pa.DataType) -> pa.Array:
    """An Arrow array of a fixed-width type over a numpy array's buffer, as it is (``pa.array``
    of anything first imports pandas, a third of a second on the first insert)."""
    return pa.Array.from_buffers(arrow, len(values), [None, pa.py_buffer(np.ascontiguousarray(values))])


def _texts(values: Sequence[str], rows: np.ndarray | None = None) -> pa.DictionaryArray:
    """Strings as a dictionary array (ClickHouse reads it into String and LowCardinality columns
    alike): each distinct string encoded once; ``rows`` picks the entry of each row."""
    distinct = list(dict.fromkeys(values))
    codes = dict(zip(distinct, range(len(distinct)), strict=True))
    indices = np.fromiter(map(codes.__getitem__, values), dtype=np.int32, count=len(values))
    if rows is not None:
        indices = indices[rows]
    encoded = [text.encode() for text in distinct]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int32, count=len(encoded)), out=offsets[1:])
    dictionary = pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets),
                                                                   pa.py_buffer(b"".join(encoded))])
    return pa.DictionaryArray.from_arrays(_fixed(indices, pa.int32()), dictionary)


# below 2**26 a float's ulp is at most 2**-27, so x * 1e6 as a float lies within 1/128 of the
# exact product: rint() finds the nearest count unless the product is close to a half
_EXACT_BELOW = 2.0**26


def decimal_units(values: Sequence[float]) -> np.ndarray:
    """Each float as the integer count of 1e-6 the Decimal64(6) value column stores: the count
    nearest to the float's shortest decimal form (an exact half to the even count). A value made
    from a register (112,345,678 kcal * 1e-6 = 112.34567799999999) is stored as the register's
    count, 112345678 (clickhouse-connect's row insert truncates, 112345677: a unit short).
    Computed without a Decimal per value; magnitudes from 2**26 on and products near a half take
    the Decimal way, one by one."""
    x = np.asarray(values, dtype=np.float64)
    product = x * float(10**VALUE_SCALE)
    units = np.rint(product)
    odd = np.abs(np.abs(product - np.trunc(product)) - 0.5) < 1 / 64
    out = units.astype(np.int64)
    for i in np.flatnonzero(odd | (np.abs(x) >= _EXACT_BELOW)):
        out[i] = _units_of(float(x[i]))
    return out


def _units_of(x: float) -> int:
    with decimal.localcontext() as context:
        context.prec = 40
        return int((Decimal(repr(x)).scaleb(VALUE_SCALE)).to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
