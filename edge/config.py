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
    transport: Literal["modbus-tcp", "lorawan"]
    commissioned: str  # ISO time (UTC) from which the meter's archives are expected
    host: str = "127.0.0.1"
    port: int = 502
    unit: int = 1
    dev_eui: str = ""

    def __post_init__(self) -> None:
        if not self.serial:
            raise ValueError("meter serial must not be empty")
        if self.transport == "lorawan" and len(self.dev_eui) != 16:
            raise ValueError(f"meter {self.serial}: a LoRaWAN meter needs a 16-hex-digit dev_eui")
        if not 1 <= self.unit <= 247:
            raise ValueError(f"meter {self.serial}: Modbus unit must be 1..247, got {self.unit}")
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
    meters: list[MeterConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_site(self.site)
        zone(self.time_zone)
        serials = [m.serial for m in self.meters]
        if len(serials) != len(set(serials)):
            raise ValueError("meter serials must be unique")
