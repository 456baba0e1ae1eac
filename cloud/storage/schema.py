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

from collections.abc import Mapping
from dataclasses import dataclass, replace

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
    indexes: tuple[str, ...] = ()  # data-skipping indexes: "name expression TYPE type GRANULARITY n"


@dataclass(frozen=True, slots=True)
class AddColumn:
    table: str
    column: str  # "name Type [DEFAULT …] [FIRST | AFTER x]"


@dataclass(frozen=True, slots=True)
class ModifyColumn:
    """A type change ClickHouse makes in metadata alone, such as a value added to an Enum."""

    table: str
    column: str  # "name NewType"


@dataclass(frozen=True, slots=True)
class Rebuild:
    """A table re-created under a new definition (a key, type or codec change), its rows copied.

    ``select`` gives, in the order of ``table.columns`` minus those with a DEFAULT, an
    expression over the old table for each; ``{site_company}`` in it is replaced by
    ``transform(site, [sites], [companies], 0)`` built from the registry at migration time.
    The new table is filled under the name ``<name>_next`` and swapped in with EXCHANGE
    TABLES, so a crash at any point leaves either the old table or the new one complete.
    """

    table: Table
    select: str
    marker: str  # a column only the new definition has: present means the swap is done


Step = Table | AddColumn | ModifyColumn | Rebuild

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

# Tenant-safe identity (DESIGN.md section 5): a serial is unique only within a company, so every
# series is keyed by (company, meter). Nature joins the key: an interval row never replaces the
# integral row of the same period. The archive is compact (docs/storage.md "Storage cost"):
# values as Decimal64(6) - every KARAT register is an integer count of 1e-6 Gcal, 1e-3 m3,
# 1e-3 kWh or 1e-2 degC, so six decimals hold them exactly - delta-coded; times delta-coded;
# the batch as its seq, not a repeated string.
_KIND = "Enum8('hour' = 1, 'day' = 2, 'month' = 3)"
ARCHIVE_V2 = Table(
    "archive",
    (("company", "UInt32"), ("site", "LowCardinality(String)"), ("meter", "String"), ("channel", "UInt16"),
     ("kind", _KIND), ("nature", "Enum8('integral' = 1, 'interval' = 2)"),
     ("parameter", "LowCardinality(String)"), ("period_start", "DateTime('UTC') CODEC(DoubleDelta, ZSTD(1))"),
     ("value", "Decimal64(6) CODEC(Delta, ZSTD(1))"), ("quality", "UInt16 CODEC(ZSTD(1))"),
     ("version", "UInt32 CODEC(ZSTD(1))"), ("received_at", "DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1))"),
     ("batch_seq", "UInt64 CODEC(Delta, ZSTD(1))"),
     ("ingested_at", "DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))")),
    order_by="(company, meter, channel, kind, nature, parameter, period_start)", engine="ReplacingMergeTree",
    version="version", partition_by="toYYYYMM(period_start)", dedup=True, sharding_key="cityHash64(company, meter)")

DEVICE_EVENTS_V2 = Table(
    "device_events",
    (("company", "UInt32"), *DEVICE_EVENTS.columns),
    order_by="(company, meter, at, site, id)", engine="ReplacingMergeTree", partition_by="toYYYYMM(at)", dedup=True,
    sharding_key="cityHash64(company, meter)")

LOST_PERIODS_V2 = Table(
    "lost_periods",
    (("company", "UInt32"), *LOST_PERIODS.columns),
    order_by="(company, meter, kind, period_start)", engine="ReplacingMergeTree", version="reported_at",
    partition_by="toYYYYMM(period_start)", dedup=True, sharding_key="cityHash64(company, meter)")

# Batch identity (DESIGN.md section 6): a batch is (site, epoch, seq, digest). Two buffers of one
# site may each have sent a batch under one seq: both audit rows stay. The content index finds a
# batch stored before under another seq (a renumbered re-send) without reading the whole site.
_IDENTITY = (("epoch", "String DEFAULT ''"), ("digest", "String DEFAULT ''"))
SYNC_BATCHES_V2 = Table(
    "sync_batches", (*SYNC_BATCHES.columns[:2], *_IDENTITY, *SYNC_BATCHES.columns[2:]),
    order_by="(site, seq, epoch, digest)", engine="ReplacingMergeTree", sharding_key="cityHash64(site)",
    indexes=("idx_content digest TYPE bloom_filter GRANULARITY 1",))

# Event and radio ids are the edge buffer's row ids: unique per (site, epoch), so the epoch joins
# the key (rows stored before it get epoch ""). The source enum keeps migration 12's 'cloud'.
_EPOCH_COLUMN = ("epoch", "String DEFAULT ''")
DEVICE_EVENTS_V3 = Table(
    "device_events",
    (("company", "UInt32"), ("site", "LowCardinality(String)"), _EPOCH_COLUMN, ("id", "UInt64"), ("meter", "String"),
     ("at", "DateTime64(3, 'UTC')"), ("code", "LowCardinality(String)"),
     ("severity", "Enum8('info' = 1, 'warning' = 2, 'alarm' = 3)"),
     ("source", "Enum8('device' = 1, 'edge' = 2, 'cloud' = 3)"), ("detail", "String"),
     ("ingested_at", "DateTime64(3, 'UTC') DEFAULT now64(3)")),
    order_by="(company, meter, at, site, epoch, id)", engine="ReplacingMergeTree", partition_by="toYYYYMM(at)",
    dedup=True, sharding_key="cityHash64(company, meter)")

RADIO_PACKETS_V2 = Table(
    "radio_packets", (RADIO_PACKETS.columns[0], _EPOCH_COLUMN, *RADIO_PACKETS.columns[1:]),
    order_by="(dev_eui, at, site, epoch, id)", engine="ReplacingMergeTree", partition_by="toYYYYMM(at)", dedup=True,
    sharding_key="cityHash64(dev_eui)")

# Hourly outdoor temperature per weather station (manual 4.1.6, 4.2.5): a building reads the station
# nearest to its coordinates (registry weather_stations); a re-sent observation replaces the older one.
WEATHER = Table(
    "weather_observations",
    (("station", "LowCardinality(String)"), ("at", "DateTime('UTC')"), ("temperature_c", "Float64"),
     ("received_at", "DateTime64(3, 'UTC')")),
    order_by="(station, at)", engine="ReplacingMergeTree", version="received_at", partition_by="toYYYYMM(at)",
    sharding_key="cityHash64(station)")

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
    (9, Rebuild(ARCHIVE_V2, "{site_company}, site, meter, channel, kind, nature, parameter, period_start, "
                "toDecimal64(round(value, 6), 6), quality, version, received_at, "
                "toUInt64OrZero(splitByChar(':', splitByChar('|', batch)[1])[-1])", marker="company")),
    (10, Rebuild(DEVICE_EVENTS_V2, "{site_company}, site, id, meter, at, code, severity, source, detail",
                 marker="company")),
    (11, Rebuild(LOST_PERIODS_V2, "{site_company}, site, meter, kind, period_start, reason, reported_at",
                 marker="company")),
    # events the cloud finds itself (an implausible counter increment, cloud/services/plausibility.py)
    (12, ModifyColumn("device_events", "source Enum8('device' = 1, 'edge' = 2, 'cloud' = 3)")),
    # batch identity: epoch and digest in the sync audit, the epoch in the keys of events and packets
    (13, Rebuild(SYNC_BATCHES_V2, "site, seq, records, values, created_at, stored_at", marker="digest")),
    (14, Rebuild(DEVICE_EVENTS_V3, "company, site, id, meter, at, code, severity, source, detail", marker="epoch")),
    (15, Rebuild(RADIO_PACKETS_V2, "site, id, at, dev_eui, direction, f_cnt, f_port, rssi, snr, gateway, frequency, "
                 "payload, error", marker="epoch")),
    (16, WEATHER),
)

# the newest definition of each table
TABLES: dict[str, Table] = {}
for _, _step in MIGRATIONS:
    if isinstance(_step, Table):
        TABLES[_step.name] = _step
    elif isinstance(_step, Rebuild):
        TABLES[_step.table.name] = _step.table


def local_name(name: str, cluster: str) -> str:
    """The table that holds the rows: ``<name>_local`` in a cluster, ``<name>`` on one node."""
    return f"{name}_local" if cluster else name


def _on(cluster: str) -> str:
    return f" ON CLUSTER '{cluster}'" if cluster else ""


def _engine(table: Table, db: str, cluster: str) -> str:
    args = [table.version] if table.version else []
    if not cluster:
        return f"{table.engine}({', '.join(args)})" if args else table.engine
    # a rebuilt table is filled as <name>_next and swapped in: its replication path must not be
    # one a later rebuild reuses, so it is the table's own UUID (Atomic databases)
    path = ("'/clickhouse/tables/{uuid}/{shard}'" if table.name.endswith("_next")
            else f"'/clickhouse/tables/{{shard}}/{db}/{table.name}'")
    return f"Replicated{table.engine}({', '.join([path, REPLICA, *args])})"


def create_table(table: Table, db: str, cluster: str = "") -> list[str]:
    """CREATE statements of one table: one on a single node, local + Distributed in a cluster."""
    columns = ",\n    ".join([*(f"{name} {kind}" for name, kind in table.columns),
                                *(f"INDEX {index}" for index in table.indexes)])
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


def site_company_expr(site_companies: Mapping[str, int]) -> str:
    """``transform(site, [...], [...], 0)``: the company of each known site, 0 for the others."""
    if not site_companies:
        return "toUInt32(0)"
    sites = sorted(site_companies)
    quoted = ", ".join("'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'" for s in sites)
    companies = ", ".join(str(int(site_companies[s])) for s in sites)
    return f"transform(site, [{quoted}], CAST([{companies}] AS Array(UInt32)), toUInt32(0))"


def rebuild(step: Rebuild, db: str, cluster: str = "", site_companies: Mapping[str, int] | None = None) -> list[str]:
    """Create ``<name>_next`` with the new definition, copy the rows, swap, drop the old one."""
    name = step.table.name
    nxt = replace(step.table, name=f"{name}_next")
    columns = ", ".join(c for c, kind in step.table.columns if " DEFAULT " not in f" {kind} ")
    select = step.select.replace("{site_company}", site_company_expr(site_companies or {}))
    out = [f"DROP TABLE IF EXISTS {db}.{t}{_on(cluster)} SYNC" for t in
           ([f"{name}_next", f"{name}_next_local"] if cluster else [f"{name}_next"])]
    out += create_table(nxt, db, cluster)
    out.append(f"INSERT INTO {db}.{nxt.name} ({columns}) SELECT {select} FROM {db}.{name}")  # noqa: S608
    if cluster:
        out.append(f"EXCHANGE TABLES {db}.{name}_local AND {db}.{name}_next_local{_on(cluster)}")
        out.append(f"DROP TABLE {db}.{name}{_on(cluster)} SYNC")
        out.append(f"DROP TABLE {db}.{name}_next{_on(cluster)} SYNC")
        out.append(f"DROP TABLE {db}.{name}_next_local{_on(cluster)} SYNC")
        out += [create_table(step.table, db, cluster)[1]]
    else:
        out.append(f"EXCHANGE TABLES {db}.{name} AND {db}.{nxt.name}")
        out.append(f"DROP TABLE {db}.{nxt.name} SYNC")
    return out


def ddl(step: Step, db: str, cluster: str = "", site_companies: Mapping[str, int] | None = None) -> list[str]:
    """The statements of one migration step for a single node (``cluster=""``) or a cluster."""
    if isinstance(step, Table):
        return create_table(step, db, cluster)
    if isinstance(step, Rebuild):
        return rebuild(step, db, cluster, site_companies)
    targets = [local_name(step.table, cluster), step.table] if cluster else [step.table]
    action = "MODIFY COLUMN" if isinstance(step, ModifyColumn) else "ADD COLUMN IF NOT EXISTS"
    return [f"ALTER TABLE {db}.{t}{_on(cluster)} {action} {step.column}" for t in targets]


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
