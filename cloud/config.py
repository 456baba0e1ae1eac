"""Cloud settings: the [cloud] table of the config file plus DOMUCHET_CLOUD_<KEY> overrides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cloud.storage.clickhouse import ClickHouse
from protocol.settings import bounded, check_ranges


@dataclass(frozen=True, slots=True)
class CloudConfig:
    data_dir: Path
    nats_url: str = "nats://127.0.0.1:4222"  # a cluster: its URLs separated by commas
    clickhouse_dsn: str = ""  # default: chdb://<data_dir>/clickhouse; or http(s)://user:pass@host:8123/db
    clickhouse_database: str = "domuchet"  # unless the DSN's path names one
    clickhouse_cluster: str = ""  # a ClickHouse cluster's name: Replicated tables + Distributed ones over them
    nats_replicas: int = 1  # JetStream stream replicas: 1 for one nats-server, 3 for the cluster
    host: str = "127.0.0.1"
    port: int = bounded(8080, 1, 65535)
    session_hours: float = bounded(24.0, 0.0, 24.0, above=True, why="sessions expire at least daily")
    ingest_workers: int = bounded(1, 1, 16)  # ingest workers in this process, sharing the durable consumer

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.nats_replicas not in (1, 3, 5):
            raise ValueError(f"nats_replicas must be 1, 3 or 5, got {self.nats_replicas}")
        if self.clickhouse_cluster and not self.clickhouse_dsn.startswith(("http://", "https://")):
            raise ValueError("clickhouse_cluster needs a ClickHouse server clickhouse_dsn (http:// or https://)")

    @property
    def dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    def clickhouse(self) -> ClickHouse:
        """The series store this config names (not opened yet)."""
        return ClickHouse(self.dsn, self.clickhouse_database, self.clickhouse_cluster)

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.db"
