"""Edge agent settings: one TOML file ([edge] table, [[edge.meters]] array) plus
DOMUCHET_EDGE_<KEY> environment overrides for scalar keys; the meter list the cloud pushed
(``meters.json`` in the data directory, written atomically) wins over the file's list; and the
keyword arguments of every NATS connection the agent opens (``nats_options``)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from edge.nats_auth import connect_options
from protocol import catalogue
from protocol.periods import zone
from protocol.subjects import check_site
from protocol.vocabulary import ArchiveKind

METERS_FILE = "meters.json"  # the meter list last pushed by the cloud (meter_config command)
_DEPTH_FIELDS = {ArchiveKind.HOUR: "archive_depth_days", ArchiveKind.DAY: "daily_depth_days",
                 ArchiveKind.MONTH: "monthly_depth_days"}


def catalogue_depth_days(model: str, kind: ArchiveKind) -> int:
    """Days of archives of ``kind`` a device of ``model`` keeps by the catalogue (0: none), rounded up:
    a month counts 31 days, so a period the device may still keep is never taken for lost.
    Raises UnknownModel (a ValueError)."""
    periods = catalogue.model(model).depth(kind)
    return {ArchiveKind.HOUR: -(-periods // 24), ArchiveKind.DAY: periods}.get(kind, periods * 31)


@dataclass(frozen=True, slots=True)
class MeterConfig:
    serial: str
    model: str
    transport: Literal["modbus-tcp", "modbus-rtu", "lorawan"]
    commissioned: str  # ISO time (UTC) from which the meter's archives are expected
    host: str = "127.0.0.1"
    port: int = 502
    unit: int = 1
    dev_eui: str = ""
    serial_port: str = ""  # modbus-rtu: the RS-485 adapter (/dev/ttyUSB0), shared by the units on the bus
    baudrate: int = 9600
    # how many days back the device keeps hourly archives; 0 (the default): its model's catalogue
    # entry (protocol/catalogue.py: KARAT-307 45 days, KARAT-306 31), a number overrides it
    archive_depth_days: int = 0
    archive_kinds: list[str] = field(default_factory=lambda: ["hour"])  # archives read on schedule
    reporting_day: int = 1  # monthly archives are read once this day of the next month has begun
    daily_depth_days: int = 0  # daily archives, likewise (0: the catalogue's, KARAT-307 366 days)
    monthly_depth_days: int = 0  # monthly archives, likewise (0: the catalogue's months x 31 days; a 307 keeps none)

    def __post_init__(self) -> None:
        if not self.serial:
            raise ValueError("meter serial must not be empty")
        known = {k.value for k in ArchiveKind}
        if not self.archive_kinds or any(k not in known for k in self.archive_kinds):
            raise ValueError(f"meter {self.serial}: archive_kinds must be a non-empty list of "
                             f"{', '.join(sorted(known))}, got {self.archive_kinds!r}")
        if not 1 <= self.reporting_day <= 28:
            raise ValueError(f"meter {self.serial}: reporting_day must be 1..28, got {self.reporting_day}")
        for name in ("archive_depth_days", "daily_depth_days", "monthly_depth_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"meter {self.serial}: {name} must be at least 1 (0: the catalogue's depth of the "
                                 f"model), got {getattr(self, name)}")
        if any(not getattr(self, _DEPTH_FIELDS[k]) for k in self.kinds):  # a depth comes from the catalogue
            try:
                catalogue.model(self.model)
            except catalogue.UnknownModel as exc:
                raise ValueError(f"meter {self.serial}: {exc}; give its archive depths (archive_depth_days, "
                                 "daily_depth_days, monthly_depth_days)") from None
        if self.transport == "lorawan" and len(self.dev_eui) != 16:
            raise ValueError(f"meter {self.serial}: a LoRaWAN meter needs a 16-hex-digit dev_eui")
        if self.transport == "modbus-rtu" and not self.serial_port:
            raise ValueError(f"meter {self.serial}: a Modbus RTU meter needs serial_port (for example /dev/ttyUSB0)")
        if self.baudrate not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise ValueError(f"meter {self.serial}: baudrate {self.baudrate} is not a standard RS-485 rate")
        if not 1 <= self.unit <= 247:
            raise ValueError(f"meter {self.serial}: Modbus unit must be 1..247, got {self.unit}")
        datetime.fromisoformat(self.commissioned)

    @property
    def commissioned_at(self) -> datetime:
        return datetime.fromisoformat(self.commissioned)

    @property
    def kinds(self) -> list[ArchiveKind]:
        return [ArchiveKind(k) for k in self.archive_kinds]

    def depth_days(self, kind: ArchiveKind) -> int:
        """How many days back the device keeps archives of ``kind``: the meter's own setting, else
        its model's catalogue entry (0: the model keeps no such archive)."""
        return getattr(self, _DEPTH_FIELDS[kind]) or catalogue_depth_days(self.model, kind)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    site: str
    time_zone: str
    data_dir: Path
    nats_url: str = "nats://127.0.0.1:4222"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    lora_topic: str = "application/+/device/+/event/up"
    poll_interval_s: float = 1.0
    max_periods_per_poll: int = 24
    batch_max_records: int = 500
    max_unconfirmed_batches: int = 2000  # backpressure: no new batch while this many await the cloud's store
    status_host: str = "127.0.0.1"  # local HTTP status endpoint (GET /status)
    status_port: int = 8081  # 0 = no status endpoint
    disk_budget_bytes: int = 1 << 30  # data pages of the buffer; warnings at 80 % and 95 %
    clock_threshold_s: float = 0.0  # time service: set a device clock off by more than this; 0 = off
    # with the time service off, how far a device's time may be from the edge's before its records
    # are rejected (a clock in 2106 must not become data or lost periods): a wrong zone or a missed
    # DST change stays within a day, a clock reading another year does not; 0 = not judged
    max_clock_drift_s: float = 86_400.0
    device_backoff_max_s: float = 60.0  # longest pause between polls of a device that does not answer
    gap_backoff_max_s: float = 3600.0  # longest pause before asking a device again for one missing period
    lora_application_id: str = ""  # ChirpStack application of the meters (else learnt from their uplinks)
    downlink_timeout_s: float = 7200.0  # how long a command waits for a LoRa device's answer (class A: hourly)
    command_workers: int = 4  # commands carried out at the same time
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
        serials = [m.serial for m in self.meters]
        if len(serials) != len(set(serials)):
            raise ValueError("meter serials must be unique")
        if not 0 <= self.status_port <= 65535:
            raise ValueError(f"status_port must be 0..65535, got {self.status_port}")
        if self.disk_budget_bytes < 64 * 1024:
            raise ValueError(f"disk_budget_bytes must be at least 65536, got {self.disk_budget_bytes}")
        if self.clock_threshold_s < 0:
            raise ValueError(f"clock_threshold_s must be >= 0 (0 = time service off), got {self.clock_threshold_s}")
        if self.max_clock_drift_s < 0:
            raise ValueError(f"max_clock_drift_s must be >= 0 (0 = not judged), got {self.max_clock_drift_s}")
        if self.device_backoff_max_s <= 0 or self.gap_backoff_max_s <= 0:
            raise ValueError("device_backoff_max_s and gap_backoff_max_s must be positive")
        if self.downlink_timeout_s <= 0:
            raise ValueError(f"downlink_timeout_s must be positive, got {self.downlink_timeout_s}")
        if self.command_workers < 1:
            raise ValueError(f"command_workers must be at least 1, got {self.command_workers}")
        if self.batch_max_records < 1 or self.max_unconfirmed_batches < 1:
            raise ValueError("batch_max_records and max_unconfirmed_batches must be at least 1")


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
    """Validate a meter list (from the cloud or the persisted file); ValueError names the entry and the reason."""
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list, got {type(raw).__name__}")
    names = {f.name for f in dataclasses.fields(MeterConfig)}
    out: list[MeterConfig] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"{where}[{i}]: expected a map, got {type(item).__name__}")
        unknown = sorted(set(item) - names)
        if unknown:
            raise ValueError(f"{where}[{i}].{unknown[0]}: unknown meter field")
        try:
            out.append(MeterConfig(**item))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}[{i}]: {exc}") from exc
    serials = [m.serial for m in out]
    if len(serials) != len(set(serials)):
        dup = next(s for s in serials if serials.count(s) > 1)
        raise ValueError(f"{where}: serial {dup!r} appears twice")
    return out


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
