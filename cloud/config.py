"""Cloud settings: the [cloud] table of the config file plus DOMUCHET_CLOUD_<KEY> overrides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cloud.notifier import SmtpSettings
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
    # e-mail about events to their subscribers (manual 4.6.13, cloud/notifier.py): off without a host
    smtp_host: str = ""
    smtp_port: int = bounded(25, 1, 65535)
    smtp_from: str = "domuchet@localhost"  # the From address of the e-mails
    smtp_user: str = ""  # log in when set (DOMUCHET_CLOUD_SMTP_PASSWORD keeps the password out of the file)
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_timeout_s: float = bounded(30.0, 0.0, 300.0, above=True)
    event_mail_interval_s: float = bounded(30.0, 1.0, 3600.0)  # how often new events are looked for
    # outdoor temperature (manual 4.1.6, 4.2.5, cloud/weather_feed.py): a weather station's feed; off when empty
    weather_url: str = ""
    weather_interval_s: float = bounded(600.0, 1.0, 86400.0)  # how often the station is asked for new hours
    # the address people open the web interface at (e.g. https://dom.example.ru): owner invitations carry a
    # link to the residents' registration there (manual 3.6); without it they carry the code only
    public_url: str = ""

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.nats_replicas not in (1, 3, 5):
            raise ValueError(f"nats_replicas must be 1, 3 or 5, got {self.nats_replicas}")
        if self.clickhouse_cluster and not self.clickhouse_dsn.startswith(("http://", "https://")):
            raise ValueError("clickhouse_cluster needs a ClickHouse server clickhouse_dsn (http:// or https://)")
        for name in ("smtp_host", "smtp_from", "smtp_user", "smtp_password"):
            value = getattr(self, name)
            if len(value) > 254 or any(c in value for c in "\r\n\0"):
                raise ValueError(f"{name} must be one line of at most 254 characters")
        if self.smtp_host and "@" not in self.smtp_from:
            raise ValueError(f"smtp_from must be an e-mail address, got {self.smtp_from!r}")
        if self.smtp_password and not self.smtp_user:
            raise ValueError("smtp_password needs smtp_user")
        if self.public_url and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[\w./-]*)?", self.public_url):
            raise ValueError(f"public_url must be an http(s) address such as https://dom.example.ru, "
                             f"got {self.public_url!r}")

    @property
    def dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    def clickhouse(self) -> ClickHouse:
        """The series store this config names (not opened yet)."""
        return ClickHouse(self.dsn, self.clickhouse_database, self.clickhouse_cluster)

    def smtp(self) -> SmtpSettings | None:
        """Where event e-mails go, or None when they are off (no smtp_host)."""
        if not self.smtp_host:
            return None
        return SmtpSettings(self.smtp_host, self.smtp_port, self.smtp_from, self.smtp_user, self.smtp_password,
                            self.smtp_starttls, self.smtp_timeout_s)

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.db"
