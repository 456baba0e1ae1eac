"""Cloud settings: the [cloud] table of the config file plus DOMUCHET_CLOUD_<KEY> overrides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CloudConfig:
    data_dir: Path
    nats_url: str = "nats://127.0.0.1:4222"
    clickhouse_dsn: str = ""  # default: chdb://<data_dir>/clickhouse
    clickhouse_database: str = "domuchet"
    host: str = "127.0.0.1"
    port: int = 8080
    session_hours: float = 24.0
    ingest_workers: int = 1  # ingest workers in this process, sharing the durable consumer

    def __post_init__(self) -> None:
        if not 1 <= self.ingest_workers <= 16:
            raise ValueError(f"ingest_workers must be 1..16, got {self.ingest_workers}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1..65535, got {self.port}")
        if not 0 < self.session_hours <= 24:
            raise ValueError("session_hours must be in (0, 24]: sessions expire at least daily")

    @property
    def dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.db"
