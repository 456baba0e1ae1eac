"""Scenario files: which simulated building runs, with which devices, how fast, from which seed.

The format is documented in simulators/scenarios/README.md; ``demo.toml`` there is the
building `domuchet demo` runs. The plan of premises and devices is derived from the seed,
so the simulator, the edge config and the registry seed all agree on it.
"""

from __future__ import annotations

import random
import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from protocol.settings import ConfigError, build
from protocol.subjects import check_site

SCENARIO_DIR = Path(__file__).parent / "scenarios"


@dataclass(frozen=True, slots=True)
class BuildingSpec:
    site: str
    address: str
    time_zone: str = "Europe/Moscow"
    apartments: int = 12
    heat_meter_serial: str = "30700101"
    heat_meter_unit: int = 1
    common_share: float = 0.12  # common needs (ОДН) on top of the apartments' sum
    loss_share: float = 0.02  # +/- band of unmetered losses and metering error

    def __post_init__(self) -> None:
        check_site(self.site)
        if not 1 <= self.apartments <= 2000:
            raise ValueError(f"apartments must be 1..2000, got {self.apartments}")
        # the KARAT-307 serves its serial as an unsigned 32-bit register pair, its unit id per Modbus
        serial = self.heat_meter_serial
        if not (serial.isascii() and serial.isdigit()) or int(serial) > 0xFFFFFFFF:
            raise ValueError(f"heat_meter_serial must be decimal digits below 2**32, got {self.heat_meter_serial!r}")
        if not 1 <= self.heat_meter_unit <= 247:
            raise ValueError(f"heat_meter_unit must be 1..247, got {self.heat_meter_unit}")
        if not 0 <= self.common_share < 1 or not 0 <= self.loss_share < 0.5:
            raise ValueError("common_share must be in [0, 1) and loss_share in [0, 0.5)")


@dataclass(frozen=True, slots=True)
class Scenario:
    building: BuildingSpec
    seed: int = 1
    speed: float = 1440.0  # simulated seconds per wall second
    start: str = "auto"  # local ISO time of commissioning, or "auto": 23:00 local, three days ago
    lora_application_id: str = "0b7c1e52-5d1e-4a7b-9d34-1f3a2c9e8d01"
    name: str = "scenario"

    def __post_init__(self) -> None:
        if not 1 <= self.speed <= 100_000:
            raise ValueError(f"speed must be 1..100000, got {self.speed}")
        if self.start != "auto":
            try:
                datetime.fromisoformat(self.start)
            except ValueError:
                raise ValueError(f"start must be 'auto' or an ISO local time, got {self.start!r}") from None
        try:
            uuid.UUID(self.lora_application_id)
        except ValueError:
            raise ValueError(f"lora_application_id must be a UUID, got {self.lora_application_id!r}") from None


@dataclass(frozen=True, slots=True)
class ApartmentPlan:
    number: str
    area_m2: float
    residents: int
    meter_serial: str  # KARAT-Compact-2-223
    dev_eui: str


@dataclass(frozen=True, slots=True)
class BuildingPlan:
    spec: BuildingSpec
    apartments: tuple[ApartmentPlan, ...] = field(default_factory=tuple)

    @property
    def total_area_m2(self) -> float:
        return round(sum(a.area_m2 for a in self.apartments), 1)

    @property
    def residents(self) -> int:
        return sum(a.residents for a in self.apartments)


def plan(scenario: Scenario) -> BuildingPlan:
    """Premises and devices of the scenario's building, reproducible from its seed."""
    rng = random.Random(f"plan:{scenario.seed}:{scenario.building.site}")
    apartments = []
    for i in range(1, scenario.building.apartments + 1):
        serial = f"223{scenario.seed % 100:02d}{i:04d}"
        apartments.append(ApartmentPlan(
            number=str(i),
            area_m2=round(rng.uniform(32.0, 96.0), 1),
            residents=rng.randint(1, 5),
            meter_serial=serial,
            dev_eui=f"70b3d5e75e{scenario.seed % 256:02x}{i:04x}",
        ))
    return BuildingPlan(scenario.building, tuple(apartments))


def load(path_or_name: str | Path) -> Scenario:
    """Load a scenario file, or a built-in one by name (``demo``)."""
    path = Path(path_or_name)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{path_or_name}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot read scenario: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", str(exc)) from exc
    data.setdefault("name", path.stem)
    return build(Scenario, data, str(path))
