"""The ClickHouse DDL for a server and for a cluster, checked structurally (no ClickHouse server
runs here; the single-node DDL runs on chDB in every integration test): each table of the
single-node schema is a Replicated engine with the same ORDER BY and PARTITION BY in the
cluster, with a Distributed table over it, every statement ON CLUSTER; the deploy configs
(deploy/clickhouse/) describe the cluster the cloud config names."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cloud.config import CloudConfig
from cloud.storage import schema
from cloud.storage.clickhouse import ClickHouse, split_dsn
from domuchet import settings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "clickhouse"
_CREATE = re.compile(r"^CREATE TABLE IF NOT EXISTS (?P<db>\w+)\.(?P<name>\w+)(?P<on> ON CLUSTER '\w+')?"
                     r"(?: \((?P<columns>.*?)\n\))?(?: AS (?P<as>[\w.]+))? ENGINE = (?P<engine>\w+)"
                     r"(?:\((?P<args>.*?)\))?(?:\nPARTITION BY (?P<partition>.+?))?(?:\nORDER BY (?P<order>.+?))?"
                     r"(?:\nSETTINGS (?P<settings>.+))?$", re.DOTALL)


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 - the repository's own config files


def _tables(statements: list[str]) -> dict[str, dict[str, str | None]]:
    """The newest definition of each table: a rebuilt table's is the one it was filled under
    (``<name>_next``, swapped in by EXCHANGE TABLES)."""
    out = {}
    for statement in statements:
        if statement.startswith("CREATE TABLE"):
            match = _CREATE.match(statement)
            assert match, statement
            found = match.groupdict()
            name = found["name"].replace("_next", "")
            if found["as"]:
                found["as"] = found["as"].replace("_next", "")
            if found["args"]:
                found["args"] = found["args"].replace("_next", "")
            out[name] = found
    return out


SINGLE = schema.full_ddl("domuchet")
CLUSTER = schema.full_ddl("domuchet", "domuchet")


def test_every_cluster_statement_runs_on_the_cluster_and_no_single_node_one_does() -> None:
    # a rebuild's row copy is one INSERT ... SELECT through the Distributed tables, from one node
    assert all(" ON CLUSTER 'domuchet'" in s for s in CLUSTER if not s.startswith("INSERT INTO"))
    assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in SINGLE)
    assert CLUSTER[0] == "CREATE DATABASE IF NOT EXISTS domuchet ON CLUSTER 'domuchet'"


@pytest.mark.parametrize("name", sorted(schema.TABLES))
def test_each_table_is_replicated_with_the_same_keys_and_distributed(name: str) -> None:
    single, cluster = _tables(SINGLE), _tables(CLUSTER)
    one, local, dist = single[name], cluster[f"{name}_local"], cluster[name]
    assert not one["engine"].startswith("Replicated")
    assert local["engine"] == f"Replicated{one['engine']}"
    path, replica, *rest = [a.strip() for a in local["args"].split(",")]
    rebuilt = any(isinstance(step, schema.Rebuild) and step.table.name == name for _, step in schema.MIGRATIONS)
    # a rebuilt table replicates under its own UUID: a later rebuild never meets its path
    own = f"'/clickhouse/tables/{{shard}}/domuchet/{name}'"
    assert path == ("'/clickhouse/tables/{uuid}/{shard}'" if rebuilt else own)
    assert replica == "'{replica}'"
    assert rest == ([one["args"]] if one["args"] else [])  # the ReplacingMergeTree version column
    for clause in ("columns", "partition", "order"):
        assert local[clause] == one[clause], clause
    assert "fsync_after_insert = 1, fsync_part_directory = 1" in local["settings"]
    assert "fsync_after_insert = 1, fsync_part_directory = 1" in one["settings"]
    if "non_replicated_deduplication_window" in one["settings"]:
        assert "replicated_deduplication_window = 10000" in local["settings"]
    assert dist["as"] == f"domuchet.{name}_local"
    assert dist["engine"] == "Distributed"
    cluster_name, db, target, key = [a.strip() for a in dist["args"].split(",", 3)]
    assert (cluster_name, db, target) == ("'domuchet'", "'domuchet'", f"'{name}_local'")
    # a ReplacingMergeTree collapses duplicates within a shard only: its key's rows must always
    # land on the same shard, so the sharding key uses only columns of the sorting key
    if one["engine"] == "ReplacingMergeTree":
        sharded = set(re.findall(r"\w+", key)) - {"cityHash64"}
        assert sharded <= set(re.findall(r"\w+", one["order"])), (key, one["order"])


def test_the_migrations_ledger_and_the_zookeeper_paths() -> None:
    tables = _tables(CLUSTER)
    ledger = tables["schema_migrations"]
    assert ledger["engine"] == "ReplicatedMergeTree"
    assert "{shard}" not in ledger["args"]  # one ledger for the whole cluster
    paths = [t["args"].split(",")[0] for t in tables.values() if t["engine"].startswith("Replicated")
             and "{uuid}" not in t["args"]]
    assert len(paths) == len(set(paths))
    alters = [s for s in CLUSTER if s.startswith("ALTER")]
    assert [a.split()[2] for a in alters] == ["domuchet.dead_letter_local", "domuchet.dead_letter",
                                              "domuchet.device_events_local", "domuchet.device_events"]
    assert all(" MODIFY COLUMN source Enum8(" in a for a in alters[2:])


def test_the_new_tables_keys() -> None:
    t = schema.TABLES
    # serials are unique only within a company: every meter series is keyed by (company, meter)
    assert t["archive"].order_by == "(company, meter, channel, kind, nature, parameter, period_start)"
    # event and radio ids are an edge buffer's row ids: unique per (site, epoch of the buffer)
    assert (t["device_events"].engine, t["device_events"].order_by) == ("ReplacingMergeTree",
                                                                        "(company, meter, at, site, epoch, id)")
    assert (t["lost_periods"].order_by, t["lost_periods"].partition_by) == ("(company, meter, kind, period_start)",
                                                                            t["archive"].partition_by)
    assert t["radio_packets"].order_by == "(dev_eui, at, site, epoch, id)"
    # a batch is (site, epoch, seq, digest): two buffers' batches under one seq both keep their audit row
    assert t["sync_batches"].order_by == "(site, seq, epoch, digest)"
    assert "source Enum8('device' = 1, 'edge' = 2, 'cloud' = 3)" in [f"{n} {k}" for n, k in t["device_events"].columns]
    assert [v for v, _ in schema.MIGRATIONS] == list(range(1, len(schema.MIGRATIONS) + 1))


def test_dsn_database_and_cluster_choices(tmp_path: Path) -> None:
    assert split_dsn("http://u:p@ch1:8123/meters") == ("http://u:p@ch1:8123", "meters")
    assert split_dsn("https://ch1:8443") == ("https://ch1:8443", "")
    assert split_dsn(f"chdb://{tmp_path}") == (f"chdb://{tmp_path}", "")
    ch = ClickHouse("http://u:p@ch1:8123/meters", "domuchet", "main")
    assert (ch.dsn, ch.database, ch.cluster) == ("http://u:p@ch1:8123", "meters", "main")
    assert ClickHouse("http://ch1:8123", "other").database == "other"
    with pytest.raises(ValueError, match="cluster: embedded chDB is one node"):
        ClickHouse(f"chdb://{tmp_path}", cluster="main")
    with pytest.raises(ValueError, match="database name"):
        ClickHouse("http://ch1:8123/x;DROP", "domuchet")
    with pytest.raises(ValueError, match="clickhouse_cluster needs a ClickHouse server"):
        CloudConfig(tmp_path, clickhouse_cluster="main")
    with pytest.raises(ValueError, match="nats_replicas must be 1, 3 or 5"):
        CloudConfig(tmp_path, nats_replicas=2)


def test_the_deploy_configs_describe_the_cluster_the_cloud_names() -> None:
    path = DEPLOY / "domuchet-cloud-cluster.toml"
    config = settings.section(settings.read(path), "cloud", CloudConfig, path)
    assert (config.clickhouse_cluster, config.nats_replicas) == ("domuchet", 3)
    ch = config.clickhouse()
    assert (ch.database, ch.cluster) == ("domuchet", "domuchet")
    cluster = _xml(DEPLOY / "cluster" / "cluster.xml")
    shards = cluster.findall(f"remote_servers/{config.clickhouse_cluster}/shard")
    hosts = [[r.findtext("host") for r in shard.findall("replica")] for shard in shards]
    assert hosts == [["ch1", "ch2"], ["ch3", "ch4"]]
    assert all(shard.findtext("internal_replication") == "true" for shard in shards)
    keepers = [n.findtext("host") for n in cluster.findall("zookeeper/node")]
    raft = _xml(DEPLOY / "cluster" / "keeper.xml").findall("keeper_server/raft_configuration/server")
    assert keepers == [s.findtext("hostname") for s in raft] == ["ch1", "ch2", "ch3"]
    replicas = set()
    for shard_no, shard_hosts in enumerate(hosts, start=1):
        for host in shard_hosts:
            node = _xml(DEPLOY / "cluster" / "nodes" / f"{host}.xml")
            assert node.findtext("macros/shard") == str(shard_no)
            replicas.add(node.findtext("macros/replica"))
            server_id = node.findtext("keeper_server/server_id")
            assert server_id == (host[-1] if host in keepers else None)
    assert len(replicas) == 4  # unique in the whole cluster
    server = DEPLOY / "domuchet-cloud-server.toml"
    one = settings.section(settings.read(server), "cloud", CloudConfig, server)
    assert (one.clickhouse().database, one.clickhouse().cluster, one.nats_replicas) == ("domuchet", "", 1)
    for xml in DEPLOY.rglob("*.xml"):
        _xml(xml)  # well-formed


def test_a_rebuild_fills_a_new_table_and_swaps_it_in() -> None:
    step = next(step for v, step in schema.MIGRATIONS if v == 9)
    assert isinstance(step, schema.Rebuild)
    single = schema.ddl(step, "d", "", {"b'x": 2, "a": 1})
    assert single[0] == "DROP TABLE IF EXISTS d.archive_next SYNC"  # what a crashed attempt left
    assert single[1].startswith("CREATE TABLE IF NOT EXISTS d.archive_next (")
    assert single[2].startswith("INSERT INTO d.archive_next (company, site, meter,")
    # sites sorted, quotes escaped; a site the registry does not know keeps company 0
    assert "transform(site, ['a', 'b\\'x'], CAST([1, 2] AS Array(UInt32)), toUInt32(0))" in single[2]
    assert single[2].endswith("FROM d.archive")
    assert single[3:] == ["EXCHANGE TABLES d.archive AND d.archive_next", "DROP TABLE d.archive_next SYNC"]
    assert "toUInt32(0)" in schema.ddl(step, "d")[2]
    cluster = schema.ddl(step, "d", "c")
    assert "EXCHANGE TABLES d.archive_local AND d.archive_next_local ON CLUSTER 'c'" in cluster
    assert cluster[-1].startswith("CREATE TABLE IF NOT EXISTS d.archive ON CLUSTER 'c' AS d.archive_local "
                                  "ENGINE = Distributed")
