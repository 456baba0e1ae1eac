"""Edge agent settings: one TOML file ([edge] table, [[edge.meters]] array) plus
DOMUCHET_EDGE_<KEY> environment overrides for scalar keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from protocol.periods import zone
from protocol.subjects import check_site


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
    archive_depth_days: int = 45  # how far back the device keeps hourly archives (KARAT-307: 45 days)

    def __post_init__(self) -> None:
        if not self.serial:
            raise ValueError("meter serial must not be empty")
        if self.transport == "lorawan" and len(self.dev_eui) != 16:
            raise ValueError(f"meter {self.serial}: a LoRaWAN meter needs a 16-hex-digit dev_eui")
        if self.transport == "modbus-rtu" and not self.serial_port:
            raise ValueError(f"meter {self.serial}: a Modbus RTU meter needs serial_port (for example /dev/ttyUSB0)")
        if self.baudrate not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise ValueError(f"meter {self.serial}: baudrate {self.baudrate} is not a standard RS-485 rate")
        if not 1 <= self.unit <= 247:
            raise ValueError(f"meter {self.serial}: Modbus unit must be 1..247, got {self.unit}")
        if self.archive_depth_days < 1:
            raise ValueError(f"meter {self.serial}: archive_depth_days must be at least 1, "
                             f"got {self.archive_depth_days}")
        datetime.fromisoformat(self.commissioned)

    @property
    def commissioned_at(self) -> datetime:
        return datetime.fromisoformat(self.commissioned)


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
    status_host: str = "127.0.0.1"  # local HTTP status endpoint (GET /status)
    status_port: int = 8081  # 0 = no status endpoint
    disk_budget_bytes: int = 1 << 30  # data pages of the buffer; warnings at 80 % and 95 %
    clock_threshold_s: float = 0.0  # time service: set a device clock off by more than this; 0 = off
    device_backoff_max_s: float = 60.0  # longest pause between polls of a device that does not answer
    gap_backoff_max_s: float = 3600.0  # longest pause before asking a device again for one missing period
    meters: list[MeterConfig] = field(default_factory=list)

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
        if self.device_backoff_max_s <= 0 or self.gap_backoff_max_s <= 0:
            raise ValueError("device_backoff_max_s and gap_backoff_max_s must be positive")
