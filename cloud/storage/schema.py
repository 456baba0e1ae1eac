"""The ClickHouse schema as data, and its DDL for the three deployments, from one definition.

Every table is a ``Table`` (columns, engine, ORDER BY, PARTITION BY, settings, sharding key)
and every migration step a ``Table`` to create or an ``AddColumn``. ``ddl(step, db, cluster)``
renders a step for a single node (embedded chDB or a ClickHouse server: ``cluster=""``) or for
a cluster: a ``Replicated*MergeTree`` local table ``<name>_local`` with the ``{shard}`` and
``{replica}`` macros plus a ``Distributed`` table ``<name>`` over it, each ``ON CLUSTER``, so
the application's queries and inserts name the same tables everywhere. The two cannot drift:
the cluster DDL is the single-node DDL with the engine swapped. docs/storage.md explains the
keys. Tests: tests/unit/test_clickhouse_schema.py (the cluster DDL, structurally) and every
integration test (the single-node DDL on chDB).
"""

from __future__ import annotations

from dataclasses import dataclass

# ClickHouse acknowledges an insert only once the part and its directory are fsynced; the
# ingest acknowledges JetStream only after that (DESIGN.md section 7).
FSYNC = (("fsync_after_insert", "1"), ("fsync_part_directory", "1"))
# insert deduplication by token: non-replicated tables keep none by default
DEDUP_SINGLE = ("non_replicated_deduplication_window", "10000")
DEDUP_REPLICATED = ("replicated_deduplication_window", "10000")
REPLICA = "'{replica}'"  # the macro each server defines (unique in the whole cluster)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, type and default clause)
    order_by: str
    engine: str = "MergeTree"  # or "ReplacingMergeTree"
    version: str = ""  # the ReplacingMergeTree version column, "" for none
    partition_by: str = ""
    dedup: bool = False  # keeps insert deduplication tokens (DEDUP_*)
    sharding_key: str = "rand()"  # the Distributed table's: the same key always on the same shard


@dataclass(frozen=True, slots=True)
class AddColumn:
    table: str
    column: str  # "name Type [DEFAULT …] [FIRST | AFTER x]"


Step = Table | AddColumn

ARCHIVE = Table(
    "archive",
    (("site", "LowCardinality(String)"), ("meter", "String"), ("channel", "UInt16"),
     ("kind", "Enum8('hour' = 1, 'day' = 2, 'month' = 3)"), ("nature", "Enum8('integral' = 1, 'interval' = 2)"),
     ("parameter", "LowCardinality(String)"), ("period_start", "DateTime('UTC')"), ("value", "Float64"),
     ("quality", "UInt16"), ("version", "UInt32"), ("received_at", "DateTime64(3, 'UTC')"), ("batch", "String"),
     ("ingested_at", "DateTime64(3, 'UTC') DEFAULT now64(3)")),
    order_by="(meter, channel, kind, parameter, period_start)", engine="ReplacingMergeTree", version="version",
    partition_by="toYYYYMM(period_start)", dedup=True, sharding_key="cityHash64(meter)")

SYNC_BATCHES = Table(
    "sync_batches",
    (("site", "LowCardinality(String)"), ("seq", "UInt64"), ("records", "UInt32"), ("values", "UInt32"),
     ("created_at", "DateTime64(3, 'UTC')"), ("stored_at", "DateTime64(3, 'UTC')")),
    order_by="(site, seq)", engine="ReplacingMergeTree", sharding_key="cityHash64(site)")

DEAD_LETTER = Table(
    "dead_letter",
    (("received_at", "DateTime64(3, 'UTC')"), ("subject", "String"), ("msg_id", "String"), ("reason", "String"),
     ("payload", "String")),
    order_by="received_at", sharding_key="cityHash64(msg_id)")

DEAD_LETTER_ID = AddColumn(
    "dead_letter",
    "id String DEFAULT substring(lower(hex(SHA256(concat(subject, msg_id, reason, payload)))), 1, 32) FIRST")

DEAD_LETTER_REPLAYS = Table(
    "dead_letter_replays",
    (("id", "String"), ("replayed_at", "DateTime64(3, 'UTC')"), ("stored_values", "UInt32"), ("note", "String")),
    order_by="(id, replayed_at)", sharding_key="cityHash64(id)")

# Events by meter and time (manual 4.2.2). The idempotency key is (site, id); the sort key leads
# with (meter, at), which a re-sent event repeats exactly, so (site, id) still collapses to one row.
DEVICE_EVENTS = Table(
    "device_events",
    (("site", "LowCardinality(String)"), ("id", "UInt64"), ("meter", "String"), ("at", "DateTime64(3, 'UTC')"),
     ("code", "LowCardinality(String)"), ("severity", "Enum8('info' = 1, 'warning' = 2, 'alarm' = 3)"),
     ("source", "Enum8('device' = 1, 'edge' = 2)"), ("detail", "String"),
     ("ingested_at", "DateTime64(3, 'UTC') DEFAULT now64(3)")),
    order_by="(meter, at, site, id)", engine="ReplacingMergeTree", partition_by="toYYYYMM(at)", dedup=True,
    sharding_key="cityHash64(meter)")

# Periods the edge reports lost: the archive's key without channel and parameter, the archive's
# partitions, and the archive's shard (by meter), so the data-arrival join stays local.
LOST_PERIODS = Table(
    "lost_periods",
    (("site", "LowCardinality(String)"), ("meter", "String"), ("kind", "Enum8('hour' = 1, 'day' = 2, 'month' = 3)"),
     ("period_start", "DateTime('UTC')"), ("reason", "String"), ("reported_at", "DateTime64(3, 'UTC')"),
     ("ingested_at", "DateTime64(3, 'UTC') DEFAULT now64(3)")),
    order_by="(meter, kind, period_start)", engine="ReplacingMergeTree", version="reported_at",
    partition_by="toYYYYMM(period_start)", dedup=True, sharding_key="cityHash64(meter)")

# The LoRa monitoring page (manual 4.2.4) reads one device's packets over the last days.
RADIO_PACKETS = Table(
    "radio_packets",
    (("site", "LowCardinality(String)"), ("id", "UInt64"), ("at", "DateTime64(3, 'UTC')"), ("dev_eui", "String"),
     ("direction", "Enum8('up' = 1, 'down' = 2)"), ("f_cnt", "UInt32"), ("f_port", "UInt8"),
     ("rssi", "Nullable(Int16)"), ("snr", "Nullable(Float32)"), ("gateway", "LowCardinality(String)"),
     ("frequency", "UInt32"), ("payload", "String"), ("error", "String"),
     ("ingested_at", "DateTime64(3, 'UTC') DEFAULT now64(3)")),
    order_by="(dev_eui, at, site, id)", engine="ReplacingMergeTree", partition_by="toYYYYMM(at)", dedup=True,
    sharding_key="cityHash64(dev_eui)")

# Each step is applied once, in order; the applied version is kept in schema_migrations.
MIGRATIONS: tuple[tuple[int, Step], ...] = (
    (1, ARCHIVE),
    (2, SYNC_BATCHES),
    (3, DEAD_LETTER),
    (4, DEAD_LETTER_ID),  # an id per entry; rows written before get a stable one from their content
    (5, DEAD_LETTER_REPLAYS),
    (6, DEVICE_EVENTS),
    (7, LOST_PERIODS),
    (8, RADIO_PACKETS),
)

TABLES: dict[str, Table] = {step.name: step for _, step in MIGRATIONS if isinstance(step, Table)}


def local_name(name: str, cluster: str) -> str:
    """The table that holds the rows: ``<name>_local`` in a cluster, ``<name>`` on one node."""
    return f"{name}_local" if cluster else name


def _on(cluster: str) -> str:
    return f" ON CLUSTER '{cluster}'" if cluster else ""


def _engine(table: Table, db: str, cluster: str) -> str:
    args = [table.version] if table.version else []
    if not cluster:
        return f"{table.engine}({', '.join(args)})" if args else table.engine
    path = f"'/clickhouse/tables/{{shard}}/{db}/{table.name}'"
    return f"Replicated{table.engine}({', '.join([path, REPLICA, *args])})"


def create_table(table: Table, db: str, cluster: str = "") -> list[str]:
    """CREATE statements of one table: one on a single node, local + Distributed in a cluster."""
    columns = ",\n    ".join(f"{name} {kind}" for name, kind in table.columns)
    settings = [*FSYNC]
    if table.dedup:
        settings.append(DEDUP_REPLICATED if cluster else DEDUP_SINGLE)
    clauses = [f"ENGINE = {_engine(table, db, cluster)}"]
    if table.partition_by:
        clauses.append(f"PARTITION BY {table.partition_by}")
    clauses.append(f"ORDER BY {table.order_by}")
    clauses.append("SETTINGS " + ", ".join(f"{k} = {v}" for k, v in settings))
    local = local_name(table.name, cluster)
    statements = [f"CREATE TABLE IF NOT EXISTS {db}.{local}{_on(cluster)} (\n    {columns}\n) " + "\n".join(clauses)]
    if cluster:
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {db}.{table.name}{_on(cluster)} AS {db}.{local} "
            f"ENGINE = Distributed('{cluster}', '{db}', '{local}', {table.sharding_key})")
    return statements


def ddl(step: Step, db: str, cluster: str = "") -> list[str]:
    """The statements of one migration step for a single node (``cluster=""``) or a cluster."""
    if isinstance(step, Table):
        return create_table(step, db, cluster)
    targets = [local_name(step.table, cluster), step.table] if cluster else [step.table]
    return [f"ALTER TABLE {db}.{t}{_on(cluster)} ADD COLUMN IF NOT EXISTS {step.column}" for t in targets]


def bootstrap(db: str, cluster: str = "") -> list[str]:
    """The database and the migrations ledger (replicated to every node of a cluster)."""
    if cluster:
        engine = f"ReplicatedMergeTree('/clickhouse/tables/all/{db}/schema_migrations', {REPLICA})"
    else:
        engine = "MergeTree"
    return [f"CREATE DATABASE IF NOT EXISTS {db}{_on(cluster)}",
            f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations{_on(cluster)} (\n    version UInt32,\n"
            f"    applied_at DateTime DEFAULT now()\n) ENGINE = {engine}\nORDER BY version"]


def full_ddl(db: str, cluster: str = "") -> list[str]:
    """Every statement from an empty server to the newest schema (for review or a manual setup)."""
    out = bootstrap(db, cluster)
    for _, step in MIGRATIONS:
        out += ddl(step, db, cluster)
    return out


def main() -> None:
    """``python -m cloud.storage.schema [--cluster NAME] [--database DB]`` prints the DDL."""
    import argparse
    ap = argparse.ArgumentParser(description="Print the ClickHouse DDL of domuchet's schema.")
    ap.add_argument("--cluster", default="", help="cluster name (remote_servers); empty for one node")
    ap.add_argument("--database", default="domuchet")
    args = ap.parse_args()
    print(";\n\n".join(full_ddl(args.database, args.cluster)) + ";")


if __name__ == "__main__":
    main()
