"""Scenario files: which simulated buildings run, with which devices, how fast, from which seed.

The format is documented in simulators/scenarios/README.md; ``demo.toml`` there is the
building `domuchet demo` runs, ``fleet.toml`` a fleet of several buildings. A file describes
one building (``[building]``, read by ``load``) or many (``[[buildings]]`` groups with a
``count``, read by ``load_fleet`` into one ``Scenario`` per building, each with its own seed).
The plan of premises and devices is derived from the seed, so the simulator, the edge config
and the registry seed all agree on it.
"""

from __future__ import annotations

import random
import tomllib
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from protocol.settings import ConfigError, build
from protocol.subjects import check_site

SCENARIO_DIR = Path(__file__).parent / "scenarios"
MAX_FLEET = 100  # buildings in one fleet: their serials carry the seed modulo 100


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
    serial_line: bool = False  # also serve the Modbus devices over Modbus RTU on an RS-485 line (a pty)
    serial_baudrate: int = 9600
    karat306_unit: int = 0  # > 0: a KARAT-306 on the hot-water heat input, this Modbus unit id
    karat929lw: bool = False  # the KARAT-307 also reports over LoRaWAN through a KARAT-929LW module
    compact2_model: Literal["KARAT-Compact-2-223", "KARAT-Compact-2-213"] = "KARAT-Compact-2-223"
    water_meters_926: int = 0  # apartments 1..N also get a СВК water meter with a KARAT-926LW
    electricity_meters_941: int = 0  # apartments 1..N get a single-phase meter with a KARAT-941LW
    electricity_tariffs: int = 2  # 1-4 tariff zones of the 941LW meters
    common_electricity_meter: bool = False  # a three-phase CT meter on the common loads (ОДН)
    ct_ratio: int = 40  # its current transformers' ratio (200/5 A): the reading multiplier
    pulse_counters_927: int = 0  # apartments 1..N get a KARAT-927LW pulse counter
    pulse_inputs: int = 2  # its inputs: 2 or 4
    # the last N apartments' meters are "on the shelf": installed and transmitting, but neither the
    # cloud's registry nor the edge knows them until an engineer commissions them (manual 4.5.2,
    # 4.5.5); the simulator runs them like any other, `domuchet demo` leaves them unregistered
    unregistered_meters: int = 0

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
        for key in ("water_meters_926", "electricity_meters_941", "pulse_counters_927", "unregistered_meters"):
            if not 0 <= getattr(self, key) <= self.apartments:
                raise ValueError(f"{key} must be 0..apartments ({self.apartments}), got {getattr(self, key)}")
        if not 1 <= self.electricity_tariffs <= 4:
            raise ValueError(f"electricity_tariffs must be 1..4, got {self.electricity_tariffs}")
        if self.pulse_inputs not in (2, 4):
            raise ValueError(f"pulse_inputs must be 2 or 4, got {self.pulse_inputs}")
        if not 1 <= self.ct_ratio <= 10_000:
            raise ValueError(f"ct_ratio must be 1..10000, got {self.ct_ratio}")
        if self.karat306_unit and (not 1 <= self.karat306_unit <= 247 or self.karat306_unit == self.heat_meter_unit):
            raise ValueError(f"karat306_unit must be 1..247 and differ from heat_meter_unit, got {self.karat306_unit}")
        if self.serial_baudrate not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise ValueError(f"serial_baudrate must be a standard rate (1200..115200), got {self.serial_baudrate}")
        if not 0 <= self.common_share < 1 or not 0 <= self.loss_share < 0.5:
            raise ValueError("common_share must be in [0, 1) and loss_share in [0, 0.5)")


FaultKind = Literal["offline", "radio_loss", "clock_drift", "clock_jump", "counter_reset", "fcnt_reset", "tamper",
                    "malformed", "leak", "replacement"]


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    device: str = "*"  # serial or devEUI of one device; "*": every device the kind applies to
    at_hour: int = 0  # hour index since commissioning when it starts
    hours: int = 0  # how long a window lasts (offline, radio_loss, malformed, leak); 0: to the end
    rate: float = 0.0  # radio_loss: share of uplinks lost, 0-1
    ppm: float = 0.0  # clock_drift: the clock gains this many millionths (negative: loses)
    seconds: int = 0  # clock_jump: the clock jumps by this much
    event: Literal["case_open", "magnet"] = "case_open"  # tamper
    frame: Literal["bad_crc", "truncated", "unknown_template"] = "bad_crc"  # malformed
    litres_per_hour: int = 12  # leak
    new_serial: str = ""  # replacement: the new device's serial ("": drawn from the seed)
    new_dev_eui: str = ""  # replacement of a radio device: its new devEUI ("": drawn from the seed)

    def __post_init__(self) -> None:
        if self.new_serial and not (self.new_serial.isascii() and self.new_serial.isdigit()
                                    and int(self.new_serial) <= 0xFFFFFFFF):
            raise ValueError(f"new_serial must be decimal digits below 2**32, got {self.new_serial!r}")
        if self.new_dev_eui and (len(self.new_dev_eui) != 16
                                 or any(c not in "0123456789abcdef" for c in self.new_dev_eui)):
            raise ValueError(f"new_dev_eui must be 16 lowercase hex digits, got {self.new_dev_eui!r}")
        if (self.new_serial or self.new_dev_eui) and (self.kind != "replacement" or self.device == "*"):
            raise ValueError("new_serial and new_dev_eui belong to a replacement of one named device")
        if self.at_hour < 0 or self.hours < 0:
            raise ValueError(f"at_hour and hours must be >= 0, got {self.at_hour} and {self.hours}")
        if not 0 <= self.rate <= 1:
            raise ValueError(f"rate must be 0..1, got {self.rate}")
        if not -1000 <= self.ppm <= 1000:
            raise ValueError(f"ppm must be -1000..1000, got {self.ppm}")
        if self.kind == "leak" and self.litres_per_hour <= 0:
            raise ValueError(f"litres_per_hour must be > 0, got {self.litres_per_hour}")

    def active(self, index: int) -> bool:
        return index >= self.at_hour and (self.hours == 0 or index < self.at_hour + self.hours)


@dataclass(frozen=True, slots=True)
class Scenario:
    building: BuildingSpec
    seed: int = 1
    speed: float = 1440.0  # simulated seconds per wall second, up to the wall clock (a replay of the past)
    start: str = "auto"  # local ISO time of commissioning, or "auto": 23:00 local, history_days whole days ago
    history_days: int = 2  # start = "auto": whole local days between commissioning and today
    # what the first start does with the time since commissioning: "replay" sends every hour's
    # uplinks from commissioning at ``speed``; "archives" starts the devices at the wall clock with
    # that time in their archives, for the edge to backfill (Modbus reads, archive-request downlinks)
    past: Literal["replay", "archives"] = "replay"
    # > 0: a radio device with downlinks queued sends an uplink (its latest hourly record again)
    # after this many wall seconds and takes one downlink in its receive window; 0: downlinks wait
    # for the next hourly uplink, as in the field (the demo shortens it so its backfill is quick)
    lora_wakeup_s: float = 0.0
    lora_application_id: str = "0b7c1e52-5d1e-4a7b-9d34-1f3a2c9e8d01"
    name: str = "scenario"
    faults: list[Fault] = field(default_factory=list)  # faults on a schedule (simulators/faults.py)
    weather_seed: int | None = None  # the weather station's seed (outdoor, cold-water temperatures); None: seed

    @property
    def weather(self) -> int:
        """Seed of the weather: a fleet's buildings share one weather station, the file's."""
        return self.seed if self.weather_seed is None else self.weather_seed

    def __post_init__(self) -> None:
        if not 1 <= self.speed <= 100_000:
            raise ValueError(f"speed must be 1..100000, got {self.speed}")
        if not 0 <= self.history_days <= 3660:
            raise ValueError(f"history_days must be 0..3660, got {self.history_days}")
        if not 0 <= self.lora_wakeup_s <= 3600:
            raise ValueError(f"lora_wakeup_s must be 0..3600 seconds, got {self.lora_wakeup_s}")
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
class DevicePlan:
    """A radio device besides the apartment's Compact-2 (manual 4.5.2 models)."""

    model: str  # "KARAT-926LW", "KARAT-941LW", "KARAT-927LW"
    serial: str
    dev_eui: str
    apartment: str  # apartment number, "" for a building-level device
    resource: str = ""  # 926LW: "hot_water" or "cold_water", chosen at commissioning
    phase: str = ""  # single-phase 941LW: "A", "B" or "C"; "" for three-phase
    tariffs: int = 1
    multiplier: int = 1  # reading multiplier (current-transformer ratio) of a 941LW
    inputs: int = 0  # 927LW: 2 or 4


@dataclass(frozen=True, slots=True)
class BuildingPlan:
    spec: BuildingSpec
    apartments: tuple[ApartmentPlan, ...] = field(default_factory=tuple)
    radio_devices: tuple[DevicePlan, ...] = field(default_factory=tuple)

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
    return BuildingPlan(scenario.building, tuple(apartments), _radio_devices(scenario))


def _radio_devices(scenario: Scenario) -> tuple[DevicePlan, ...]:
    """The other radio devices of the building; their own RNG keeps the apartments' plan unchanged."""
    b, seed = scenario.building, scenario.seed
    rng = random.Random(f"devices:{seed}:{b.site}")
    out = []
    for i in range(1, b.water_meters_926 + 1):
        out.append(DevicePlan("KARAT-926LW", f"926{seed % 100:02d}{i:04d}", f"70b3d5e726{seed % 256:02x}{i:04x}",
                              str(i), resource=rng.choice(("hot_water", "cold_water"))))
    for i in range(1, b.electricity_meters_941 + 1):
        out.append(DevicePlan("KARAT-941LW", f"941{seed % 100:02d}{i:04d}", f"70b3d5e741{seed % 256:02x}{i:04x}",
                              str(i), phase="ABC"[(i - 1) % 3], tariffs=b.electricity_tariffs))
    if b.common_electricity_meter:
        out.append(DevicePlan("KARAT-941LW", f"941{seed % 100:02d}0000", f"70b3d5e741{seed % 256:02x}0000", "",
                              tariffs=b.electricity_tariffs, multiplier=b.ct_ratio))
    for i in range(1, b.pulse_counters_927 + 1):
        out.append(DevicePlan("KARAT-927LW", f"927{seed % 100:02d}{i:04d}", f"70b3d5e727{seed % 256:02x}{i:04x}",
                              str(i), inputs=b.pulse_inputs))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Fleet:
    """The buildings of one scenario file, each a ``Scenario`` with its own seed (building k of the
    file gets ``seed + k``), all sharing the speed, the start, the application id and the faults."""

    name: str
    scenarios: tuple[Scenario, ...]

    def with_speed(self, speed: float) -> Fleet:
        return Fleet(self.name, tuple(replace(s, speed=speed) for s in self.scenarios))


def _read(path_or_name: str | Path) -> tuple[Path, dict[str, Any]]:
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
    return path, data


def load(path_or_name: str | Path) -> Scenario:
    """Load a one-building scenario file, or a built-in one by name (``demo``); a fleet file of
    one building is read too, a fleet of several is refused (``load_fleet`` reads it)."""
    path, data = _read(path_or_name)
    if "buildings" not in data:
        return build(Scenario, data, str(path))
    fleet = _fleet(data, str(path))
    if len(fleet.scenarios) != 1:
        raise ConfigError(str(path), "buildings", f"a fleet of {len(fleet.scenarios)} buildings: "
                                                  "run it with `domuchet sim` (simulators.scenario.load_fleet)")
    return fleet.scenarios[0]


def load_fleet(path_or_name: str | Path) -> Fleet:
    """Load a scenario file of one building (``[building]``) or many (``[[buildings]]``)."""
    path, data = _read(path_or_name)
    if "buildings" not in data:
        scenario = build(Scenario, data, str(path))
        return Fleet(scenario.name, (scenario,))
    return _fleet(data, str(path))


def _fleet(data: dict[str, Any], source: str) -> Fleet:
    """Expand ``[[buildings]]`` groups into one scenario per building."""
    data = dict(data)
    groups = data.pop("buildings")
    if "building" in data:
        raise ConfigError(source, "building", "give either [building] or [[buildings]], not both")
    if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) for g in groups):
        raise ConfigError(source, "buildings", "expected an array of tables ([[buildings]])")
    # the top-level keys are checked once, with a stand-in building that each real one replaces
    base = build(Scenario, {**data, "building": {"site": "fleet", "address": "-"}}, source)
    total = 0
    for i, group in enumerate(groups):
        count = group.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_FLEET:
            raise ConfigError(source, f"buildings[{i}].count", f"expected an integer 1..{MAX_FLEET}, got {count!r}")
        if count > 1 and "heat_meter_serial" in group:
            raise ConfigError(source, f"buildings[{i}].heat_meter_serial",
                              "a group of count > 1 derives one serial per building: drop the key or set count = 1")
        total += count
    if total > MAX_FLEET:
        raise ConfigError(source, "buildings", f"a fleet has at most {MAX_FLEET} buildings "
                                               f"(serials carry the seed modulo 100), got {total}")
    scenarios: list[Scenario] = []
    sites: dict[str, int] = {}
    for i, group in enumerate(groups):
        table = {k: v for k, v in group.items() if k != "count"}
        count = group.get("count", 1)
        for n in range(1, count + 1):
            seed = base.seed + len(scenarios)
            one = dict(table)
            if count > 1 and isinstance(one.get("site"), str):
                one["site"] = f"{one['site']}-{n}"
            if count > 1 and isinstance(one.get("address"), str):
                one["address"] = f"{one['address']}, корп. {n}"
            unit = one.get("heat_meter_unit", 1)
            if "heat_meter_serial" not in one and isinstance(unit, int) and 1 <= unit <= 247:
                one["heat_meter_serial"] = f"307{seed % 100:02d}{unit:03d}"
            spec = build(BuildingSpec, one, source, f"buildings[{i}]")
            if spec.site in sites:
                raise ConfigError(source, f"buildings[{i}].site",
                                  f"site {spec.site!r} is also in buildings[{sites[spec.site]}]")
            sites[spec.site] = i
            scenarios.append(replace(base, building=spec, seed=seed, weather_seed=base.weather))
    return Fleet(base.name, tuple(scenarios))
