"""Edge agent settings: one TOML file ([edge] table, [[edge.meters]] array) plus
DOMUCHET_EDGE_<KEY> environment overrides for scalar keys; the meter list the cloud pushed
(``meters.json`` in the data directory, written atomically) wins over the file's list; and the
keyword arguments of every NATS connection the agent opens (``nats_options``). A meter is the
protocol's MeterSpec (protocol/meters.py): every path to a meter list passes its one check."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.nats_auth import connect_options
from protocol import watermark
from protocol.meters import MeterSpec, check_unique, meter_list
from protocol.meters import catalogue_depth_days as catalogue_depth_days  # re-exported for the drivers
from protocol.periods import zone
from protocol.settings import bounded, check_ranges
from protocol.subjects import check_site

METERS_FILE = "meters.json"  # the meter list last pushed by the cloud (meter_config command)

# one meter of the site: the protocol's spec (protocol/meters.py), the same for the TOML's
# [[edge.meters]], a pushed meter_config and meters.json; it checks itself when made
MeterConfig = MeterSpec


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    site: str
    time_zone: str
    data_dir: Path
    nats_url: str = "nats://127.0.0.1:4222"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = bounded(1883, 1, 65535)
    mqtt_user: str = ""  # the network server feed's MQTT user (docs/deploy.md); empty: anonymous
    mqtt_password: str = ""
    lora_topic: str = "application/+/device/+/event/up"
    poll_interval_s: float = bounded(1.0, 0.05, 3600.0)  # a tight loop must not be configurable
    max_periods_per_poll: int = bounded(24, 1, 10_000)
    batch_max_records: int = bounded(500, 1, 100_000)
    # backpressure: no new batch while this many await the cloud's store; at most the cloud's
    # listing window (protocol.watermark.WINDOW), or a batch the cloud stored could fall below the
    # listing before the edge reads it and be sent again under a new seq
    max_unconfirmed_batches: int = bounded(1000, 1, watermark.WINDOW, why="the batches the cloud lists below "
                                           "its highest seq")
    status_host: str = "127.0.0.1"  # local HTTP status endpoint (GET /status)
    status_port: int = bounded(8081, 0, 65535)  # 0 = no status endpoint
    disk_budget_bytes: int = bounded(1 << 30, 64 * 1024, 1 << 50)  # data pages of the buffer; warnings at 80 % and 95 %
    # time service: set a device clock off by more than this; 0 = off
    clock_threshold_s: float = bounded(0.0, 0.0, 366 * 86_400.0)
    # with the time service off, how far a device's time may be from the edge's before its records
    # are rejected (a clock in 2106 must not become data or lost periods): a wrong zone or a missed
    # DST change stays within a day, a clock reading another year does not; 0 = not judged
    max_clock_drift_s: float = bounded(86_400.0, 0.0, 100 * 366 * 86_400.0)
    # longest pause between polls of a device that does not answer
    device_backoff_max_s: float = bounded(60.0, 0.0, 86_400.0, above=True)
    # longest pause before asking a device again for one missing period
    gap_backoff_max_s: float = bounded(3600.0, 0.0, 7 * 86_400.0, above=True)
    lora_application_id: str = ""  # ChirpStack application of the meters (else learnt from their uplinks)
    # how long a command waits for a LoRa device's answer (class A: hourly)
    downlink_timeout_s: float = bounded(7200.0, 0.0, 7 * 86_400.0, above=True)
    command_workers: int = bounded(4, 1, 64)  # commands carried out at the same time
    # NATS credentials and TLS (edge/nats_auth.py); empty = not configured
    nats_user: str = ""
    nats_password: str = ""
    nats_creds_file: str = ""
    nats_nkey_seed_file: str = ""
    nats_tls_ca: str = ""
    nats_tls_cert: str = ""
    nats_tls_key: str = ""
    meters: list[MeterConfig] = field(default_factory=list)

    @property
    def allowed_clock_drift_s(self) -> float | None:
        """How far a device's time may be from the edge's clock, for every driver: the time
        service's threshold when it is on (it sets a clock off by more), else ``max_clock_drift_s``;
        None when neither judges."""
        allowed = self.clock_threshold_s if self.clock_threshold_s > 0 else self.max_clock_drift_s
        return allowed if allowed > 0 else None

    def __post_init__(self) -> None:
        check_site(self.site)
        zone(self.time_zone)
        check_unique(self.meters, "meters")  # a serial, DevEUI or Modbus address used twice
        check_ranges(self)


def nats_options(config: EdgeConfig, name: str, **callbacks: Callable[..., Any]) -> dict[str, Any]:
    """Keyword arguments for ``nats.connect`` shared by every connection of the agent (sync,
    commands): the URL, reconnect forever, pings every 2 s (a silent cut shows within seconds),
    the site's credentials and TLS. ``callbacks``: disconnected_cb, reconnected_cb, error_cb."""
    options: dict[str, Any] = dict(
        servers=[config.nats_url], max_reconnect_attempts=-1, reconnect_time_wait=0.5,
        name=f"domuchet-edge-{config.site}-{name}", ping_interval=2, max_outstanding_pings=2, connect_timeout=2)
    options.update(connect_options(config.nats_user, config.nats_password, config.nats_creds_file,
                                   config.nats_nkey_seed_file, config.nats_tls_ca, config.nats_tls_cert,
                                   config.nats_tls_key, site=config.site))  # the site's own inbox prefix
    options.update(callbacks)
    return options


def parse_meters(raw: object, where: str = "meters") -> list[MeterConfig]:
    """Validate a meter list (pushed by the cloud, or persisted) by the protocol's one check
    (protocol/meters.py ``meter_list``); DecodeError (a ValueError) names the entry and the field."""
    return meter_list(raw, where)


def save_meters(data_dir: Path, meters: list[MeterConfig]) -> Path:
    """Persist the pushed meter list atomically: temp file, fsync, rename, fsync of the directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / METERS_FILE
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump({"meters": [m.as_dict() for m in meters]}, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def load_meters(config: EdgeConfig) -> list[MeterConfig]:
    """The persisted meter list pushed by the cloud if there is one, else the config file's list."""
    path = config.data_dir / METERS_FILE
    if not path.exists():
        return list(config.meters)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    return parse_meters(doc.get("meters") if isinstance(doc, dict) else None, str(path))
