"""The device catalogue: for every KARAT model we support, its channels, resources, parameters
with their device units, counter register widths, archives (kind, nature, depth), tariffs and
the largest plausible increment of each counter per hour.

The single owner of these facts (DESIGN.md section 5): simulators, edge and cloud read them
here. Sources: protocol/karat307.py and docs/protocols.md sections 2 and 6 (register map,
channel templates, depths), manual 4.5.2 (models and their options). Pure data, no I/O.
Tests: tests/unit/protocol/test_catalogue.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from protocol.vocabulary import PARAMETERS, ArchiveKind, Nature, Resource


class UnknownModel(ValueError):
    """A model string the catalogue does not know."""

    def __init__(self, name: object) -> None:
        super().__init__(f"unknown meter model {name!r}; known models: {', '.join(MODELS)}")
        self.name = name


class UnknownChannel(KeyError):
    """A channel number the model does not have."""

    def __init__(self, model: str, number: int, known: tuple[int, ...]) -> None:
        super().__init__(model, number)
        self.message = f"{model} has no channel {number}; its channels are {', '.join(map(str, known))}"

    def __str__(self) -> str:  # KeyError would print the repr of its args
        return self.message


@dataclass(frozen=True, slots=True)
class DeviceUnit:
    """How a parameter is held in the device: its unit there and the domain units per device unit."""

    unit: str
    scale: float


# device unit of each parameter -> domain unit of protocol.vocabulary.PARAMETERS
DEVICE_UNITS: dict[str, DeviceUnit] = {
    "Q": DeviceUnit("kcal", 1e-6),  # -> Gcal
    "V": DeviceUnit("l", 1e-3),  # -> m3
    "V1": DeviceUnit("l", 1e-3),
    "V2": DeviceUnit("l", 1e-3),
    "T1": DeviceUnit("0.01 degC", 1e-2),  # signed 16/32-bit, period mean
    "T2": DeviceUnit("0.01 degC", 1e-2),
    "E": DeviceUnit("Wh", 1e-3),  # -> kWh
    "N": DeviceUnit("pulse", 1.0),
    "P": DeviceUnit("W", 1.0),
}


def unit(parameter: str) -> str:
    """The domain unit of a parameter ("Gcal", "m3", ...)."""
    known = PARAMETERS.get(parameter)
    if known is None:
        raise ValueError(f"unknown parameter {parameter!r}; known: {', '.join(PARAMETERS)}")
    return known.unit


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """One counter register: what it counts, its step, its width and its plausible rate."""

    parameter: str  # "Q", "V", "V1", "V2", "E", "N"
    step: float  # domain units per register step: Q 1e-6 Gcal (kcal), V 1e-3 m3 (litres), E 1e-3 kWh (Wh)
    bits: int  # register width; the counter wraps to 0 after 2**bits steps
    max_per_hour: float  # largest plausible increment in one hour, domain units

    def __post_init__(self) -> None:
        if self.parameter not in PARAMETERS or not PARAMETERS[self.parameter].summable:
            raise ValueError(f"counter {self.parameter!r}: not a counter parameter of protocol.vocabulary")
        if self.step <= 0 or self.bits < 1 or self.max_per_hour <= 0:
            raise ValueError(f"counter {self.parameter}: step, bits and max_per_hour must be positive")

    @property
    def modulus(self) -> float:
        """The reading at which the counter wraps to 0, domain units."""
        return 2**self.bits * self.step


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A numbered channel (номер ресурса): the resource it measures and the parameters it archives."""

    number: int
    resource: Resource
    parameters: tuple[str, ...]
    tariff: str | None = None  # electricity only: "total", "T1", "T2", "T3", "T4"
    choices: tuple[Resource, ...] = ()  # resources it may be set to at commissioning (926LW, 927LW)


@dataclass(frozen=True, slots=True)
class ArchiveSpec:
    kind: ArchiveKind
    nature: Nature
    depth: int  # periods of this kind the device keeps (45 days of hours = 1080)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything the system knows about one KARAT model (one configuration of it)."""

    name: str
    code: int  # the model code in radio passports and the Modbus model register
    title: str  # Russian, for the UI
    transports: tuple[str, ...]  # of "modbus-tcp", "modbus-rtu", "lorawan"
    channels: tuple[ChannelSpec, ...]
    counters: tuple[CounterSpec, ...]
    archives: tuple[ArchiveSpec, ...]
    tariffs: int = 0  # electricity: tariff zones besides the total
    instant: tuple[tuple[int, str], ...] = ()  # (channel, parameter) sent only in current readings
    forwards: str | None = None  # KARAT-929LW: the calculator whose channels and archives it forwards

    def __post_init__(self) -> None:
        numbers = [c.number for c in self.channels]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"{self.name}: channel numbers repeat: {numbers}")
        if len({c.parameter for c in self.counters}) != len(self.counters):
            raise ValueError(f"{self.name}: a parameter has two counters")
        if len({a.kind for a in self.archives}) != len(self.archives):
            raise ValueError(f"{self.name}: an archive kind is listed twice")
        for c in self.channels:
            for p in c.parameters:
                if p not in PARAMETERS:
                    raise ValueError(f"{self.name} channel {c.number}: unknown parameter {p!r}")
                if PARAMETERS[p].summable and self.counter(p) is None:
                    raise ValueError(f"{self.name} channel {c.number}: counter {p} has no CounterSpec")

    def channel(self, number: int) -> ChannelSpec:
        for c in self.channels:
            if c.number == number:
                return c
        raise UnknownChannel(self.name, number, tuple(c.number for c in self.channels))

    def counter(self, parameter: str) -> CounterSpec | None:
        return next((c for c in self.counters if c.parameter == parameter), None)

    def archive(self, kind: ArchiveKind) -> ArchiveSpec | None:
        return next((a for a in self.archives if a.kind is kind), None)

    def archive_kinds(self) -> tuple[ArchiveKind, ...]:
        return tuple(a.kind for a in self.archives)

    def has_archive(self, kind: ArchiveKind, nature: Nature | None = None) -> bool:
        found = self.archive(kind)
        return found is not None and (nature is None or found.nature is nature)

    def depth(self, kind: ArchiveKind) -> int:
        """Periods of ``kind`` the device keeps; 0 when it keeps no such archive."""
        found = self.archive(kind)
        return 0 if found is None else found.depth

    def with_tariffs(self, n: int) -> ModelSpec:
        """A 941LW with ``n`` tariff zones: channel 1 the total, channels 2..1+n the zones T1..Tn."""
        if self.name != ELECTRICITY_941:
            raise ValueError(f"{self.name} has no tariffs; only {ELECTRICITY_941} has")
        if not 1 <= n <= MAX_TARIFFS:
            raise ValueError(f"{self.name}: tariffs must be 1..{MAX_TARIFFS}, got {n}")
        return replace(self, channels=_electricity_channels(n), tariffs=n)

    def with_inputs(self, n: int) -> ModelSpec:
        """A 927LW with ``n`` pulse inputs (2 or 4), channels 1..n."""
        if self.name != PULSE_927:
            raise ValueError(f"{self.name} has no configurable pulse inputs; only {PULSE_927} has")
        if n not in PULSE_INPUTS:
            raise ValueError(f"{self.name}: inputs must be 2 or 4, got {n}")
        return replace(self, channels=_pulse_channels(n))

    def with_resource(self, resource: Resource, channel: int = 1) -> ModelSpec:
        """The model with ``channel`` set to ``resource`` at commissioning (926LW: hot or cold water)."""
        current = self.channel(channel)
        if resource not in current.choices:
            allowed = ", ".join(r.value for r in current.choices) or "none (fixed by the device)"
            raise ValueError(f"{self.name} channel {channel} cannot measure {resource.value}; allowed: {allowed}")
        channels = tuple(replace(c, resource=resource) if c.number == channel else c for c in self.channels)
        return replace(self, channels=channels)

    def with_calculator(self, calculator: str) -> ModelSpec:
        """A 929LW fitted to ``calculator`` (KARAT-307 or KARAT-306): its channels and archives."""
        if self.name != RADIO_929:
            raise ValueError(f"{self.name} forwards no calculator; only {RADIO_929} does")
        if calculator not in CALCULATORS:
            raise ValueError(f"{self.name} fits {' or '.join(CALCULATORS)}, not {calculator!r}")
        return _radio929(MODELS[calculator])


# --- nominal limits: the largest device of the class each model serves, with MARGIN on top ----------
MARGIN = 1.25
GCAL_PER_M3_K = 1e-3  # 1 m3 of water warmed by 1 K takes 1 Mcal
MAX_DELTA_T_K = 100.0  # the largest supply-return difference a heat meter measures
BUILDING_FLOW_M3H = 1000.0  # DN 200 flow transducer on a building's heat or water input, upper range
APARTMENT_HEAT_FLOW_M3H = 5.0  # DN 20 apartment heat meter: qs = 2 x qp 2.5 m3/h
WATER_METER_M3H = 5.0  # DN 20 water meter: overload flow Q4 = 1.25 x Q3 4 m3/h
ELECTRIC_KW = 3 * 230 * 100 / 1000  # three-phase direct meter, Imax 100 A at 230 V: 69 kW
PULSES_PER_HOUR = 10 * 3600  # a pulse input counts at most 10 Hz (50 ms closures)
REGISTER_BITS = 32  # every KARAT counter we read is an unsigned 32-bit register


def _counter(parameter: str, nominal_per_hour: float) -> CounterSpec:
    return CounterSpec(parameter, DEVICE_UNITS[parameter].scale, REGISTER_BITS, nominal_per_hour * MARGIN)


def _archives(hour_days: int, day_days: int, months: int, hour_nature: Nature = Nature.INTEGRAL,
              ) -> tuple[ArchiveSpec, ...]:
    out = [ArchiveSpec(ArchiveKind.HOUR, hour_nature, hour_days * 24),
           ArchiveSpec(ArchiveKind.DAY, Nature.INTEGRAL, day_days)]
    if months:
        out.append(ArchiveSpec(ArchiveKind.MONTH, Nature.INTEGRAL, months))
    return tuple(out)


MODBUS = ("modbus-tcp", "modbus-rtu")
LORAWAN = ("lorawan",)
ELECTRICITY_941, PULSE_927, RADIO_929 = "KARAT-941LW", "KARAT-927LW", "KARAT-929LW"
CALCULATORS = ("KARAT-307", "KARAT-306")
MAX_TARIFFS = 4
PULSE_INPUTS = (2, 4)
PHASE_CHANNELS = {"A": 11, "B": 12, "C": 13}  # 941LW: power per phase in current readings
# the published factory admin password of the meters whose module must know it (manual 4.5.2, 941LW "Пароль");
# simulators/lora_models.py ElectricityMeter941.FACTORY_PASSWORD is the same
FACTORY_PASSWORDS: dict[str, str] = {ELECTRICITY_941: "000000"}
WATER = (Resource.HOT_WATER, Resource.COLD_WATER)

_HEAT_INPUT = ChannelSpec(1, Resource.HEAT, ("Q", "V1", "V2", "T1", "T2"))
_BUILDING_COUNTERS = (
    _counter("Q", BUILDING_FLOW_M3H * MAX_DELTA_T_K * GCAL_PER_M3_K),
    _counter("V1", BUILDING_FLOW_M3H),
    _counter("V2", BUILDING_FLOW_M3H),
    _counter("V", BUILDING_FLOW_M3H),
)


def _calculator(name: str, code: int, channels: tuple[ChannelSpec, ...], hour_days: int,
                day_days: int) -> ModelSpec:
    # protocol/karat307.py: one register map; no month archive (kind 3 refused with exception 03)
    return ModelSpec(name, code, f"Вычислитель КАРАТ-{code}", MODBUS, channels, _BUILDING_COUNTERS,
                     _archives(hour_days, day_days, 0))


def _compact2(code: int) -> ModelSpec:
    # protocol/lorawan.py: 1 heat, 2 pulse input 1 (hot water), 3 pulse input 2 (cold water)
    return ModelSpec(
        f"KARAT-Compact-2-{code - 2000}", code, f"Теплосчетчик КАРАТ-Компакт-2-{code - 2000}", LORAWAN,
        (ChannelSpec(1, Resource.HEAT, ("Q",)), ChannelSpec(2, Resource.HOT_WATER, ("V",), choices=WATER),
         ChannelSpec(3, Resource.COLD_WATER, ("V",), choices=WATER)),
        (_counter("Q", APARTMENT_HEAT_FLOW_M3H * MAX_DELTA_T_K * GCAL_PER_M3_K), _counter("V", WATER_METER_M3H)),
        _archives(45, 366, 60))


def _electricity_channels(tariffs: int) -> tuple[ChannelSpec, ...]:
    zones = tuple(ChannelSpec(1 + z, Resource.ELECTRICITY, ("E",), tariff=f"T{z}") for z in range(1, tariffs + 1))
    return (ChannelSpec(1, Resource.ELECTRICITY, ("E",), tariff="total"), *zones)


# inputs 1-4 as the simulated flats wire them: hot, cold, second riser hot, cold; set at commissioning
_PULSE_DEFAULTS = (Resource.HOT_WATER, Resource.COLD_WATER, Resource.HOT_WATER, Resource.COLD_WATER)


def _pulse_channels(inputs: int) -> tuple[ChannelSpec, ...]:
    return tuple(ChannelSpec(i, _PULSE_DEFAULTS[i - 1], ("N",), choices=tuple(Resource))
                 for i in range(1, inputs + 1))


def _radio929(calculator: ModelSpec) -> ModelSpec:
    """The 929LW sends the calculator's channels over LoRaWAN; the calculator keeps the archives."""
    return replace(calculator, name=RADIO_929, code=929, transports=LORAWAN, forwards=calculator.name,
                   title=f"Модуль радиоинтерфейса КАРАТ-929LW на вычислителе КАРАТ-{calculator.code}")


def _build() -> dict[str, ModelSpec]:
    k307 = _calculator("KARAT-307", 307, (_HEAT_INPUT, ChannelSpec(2, Resource.HOT_WATER, ("V",)),
                                          ChannelSpec(3, Resource.COLD_WATER, ("V",))), 45, 366)
    # docs/protocols.md section 2: two flow inputs, channel 2 = hot water drawn (V1 - V2), no channel 3
    k306 = _calculator("KARAT-306", 306, (_HEAT_INPUT, ChannelSpec(2, Resource.HOT_WATER, ("V",))), 31, 184)
    models = (
        k307,
        k306,
        _compact2(2213),
        _compact2(2223),
        # СВК water meter: one volume channel, hot or cold water chosen at commissioning (manual 4.5.2, 3)
        ModelSpec("KARAT-926LW", 926, "Счетчик воды СВК с модулем КАРАТ-926LW", LORAWAN,
                  (ChannelSpec(1, Resource.COLD_WATER, ("V",), choices=WATER),),
                  (_counter("V", WATER_METER_M3H),), _archives(31, 366, 60, hour_nature=Nature.INTERVAL)),
        ModelSpec(ELECTRICITY_941, 941, "Электросчетчик с модулем КАРАТ-941LW", LORAWAN, _electricity_channels(1),
                  (_counter("E", ELECTRIC_KW),), _archives(93, 366, 36), tariffs=1,
                  instant=((1, "P"), *((ch, "P") for ch in PHASE_CHANNELS.values()))),
        ModelSpec(PULSE_927, 927, "Счетчик импульсов КАРАТ-927LW", LORAWAN, _pulse_channels(2),
                  (_counter("N", PULSES_PER_HOUR),), _archives(45, 366, 60)),
        _radio929(k307),
    )
    return {m.name: m for m in models}


MODELS: dict[str, ModelSpec] = _build()
_BY_CODE = {m.code: m for m in MODELS.values()}


def model(name: str) -> ModelSpec:
    """The catalogue entry of a registry model string ("KARAT-307", ...), or UnknownModel."""
    spec = MODELS.get(name)
    if spec is None:
        raise UnknownModel(name)
    return spec


def by_code(code: int) -> ModelSpec:
    """The catalogue entry of a passport or Modbus model code (307, 2223, 941, ...)."""
    spec = _BY_CODE.get(code)
    if spec is None:
        raise UnknownModel(code)
    return spec


def max_increment(spec: ModelSpec, parameter: str, hours: float) -> float | None:
    """The largest plausible increase of the counter of ``parameter`` over ``hours``; None without a counter."""
    if hours < 0:
        raise ValueError(f"hours must not be negative, got {hours}")
    counter = spec.counter(parameter)
    return None if counter is None else counter.max_per_hour * hours
