"""The device catalogue (protocol/catalogue.py): every model, its channels as the register map and
the LoRa templates define them, counter widths and moduli, archive depths, the 941LW's tariffs,
the 927LW's inputs, plausible increments, and agreement with what the simulators send."""

from __future__ import annotations

from datetime import timedelta

import pytest

from protocol import catalogue, karat307, lorawan, lorawan_archive, lorawan_up
from protocol.catalogue import MODELS, ModelSpec, UnknownModel, max_increment, model
from protocol.vocabulary import PARAMETERS, ArchiveKind, Nature, Resource
from simulators.compact2 import Compact2
from simulators.karat306 import Karat306
from simulators.karat307 import Karat307
from simulators.lora_models import ElectricityMeter941, PulseCounter927, Radio929, WaterMeter926, make_device
from simulators.scenario import BuildingSpec, Scenario, plan
from simulators.world import SimClock, World, commissioning_utc

HOUR, DAY, MONTH = ArchiveKind.HOUR, ArchiveKind.DAY, ArchiveKind.MONTH


def _layout(spec: ModelSpec) -> dict[int, tuple[str, tuple[str, ...]]]:
    return {c.number: (c.resource.value, c.parameters) for c in spec.channels}


def test_every_supported_model_is_present_with_its_code() -> None:
    assert {name: spec.code for name, spec in MODELS.items()} == {
        "KARAT-307": 307, "KARAT-306": 306, "KARAT-Compact-2-213": 2213, "KARAT-Compact-2-223": 2223,
        "KARAT-926LW": 926, "KARAT-941LW": 941, "KARAT-927LW": 927, "KARAT-929LW": 929}
    assert all(spec.name == name and spec.title for name, spec in MODELS.items())
    assert model("KARAT-307").transports == ("modbus-tcp", "modbus-rtu")
    assert {model(n).transports for n in MODELS if n not in ("KARAT-307", "KARAT-306")} == {("lorawan",)}
    assert catalogue.by_code(2213) is model("KARAT-Compact-2-213")


def test_karat307_channels_are_the_register_maps() -> None:
    # protocol/karat307.py: 1 = heat input (Q, V1, V2, T1, T2), 2 = hot water (V), 3 = cold water (V)
    assert _layout(model("KARAT-307")) == {
        karat307.CHANNEL_HEAT: ("heat", ("Q", "V1", "V2", "T1", "T2")),
        karat307.CHANNEL_HOT_WATER: ("hot_water", ("V",)),
        karat307.CHANNEL_COLD_WATER: ("cold_water", ("V",)),
    }
    record = karat307.Karat307Record(HOUR, 0, 1, 2, 3, 4, 5, 6, 7)
    assert {n: tuple(v) for n, v in record.values().items()} == {
        c.number: c.parameters for c in model("KARAT-307").channels}
    # docs/protocols.md section 2: the 306 has no channel 3
    assert _layout(model("KARAT-306")) == {1: ("heat", ("Q", "V1", "V2", "T1", "T2")), 2: ("hot_water", ("V",))}


@pytest.mark.parametrize("name", ["KARAT-Compact-2-213", "KARAT-Compact-2-223"])
def test_compact2_channels_are_its_templates(name: str) -> None:
    # protocol/lorawan.py: 1 = heat, 2 and 3 = pulse inputs 1 (hot water) and 2 (cold water)
    assert _layout(model(name)) == {lorawan.CHANNEL_HEAT: ("heat", ("Q",)),
                                    lorawan.CHANNEL_INPUT1: ("hot_water", ("V",)),
                                    lorawan.CHANNEL_INPUT2: ("cold_water", ("V",))}
    frame = lorawan.CompactArchive(HOUR, 0, 1, 2, 3)
    assert {n: tuple(v) for n, v in frame.values().items()} == {c.number: c.parameters for c in model(name).channels}


def test_radio_modules_channels() -> None:
    # docs/protocols.md section 6: 926LW one volume channel, 927LW pulse counts, 929LW the calculator's
    assert _layout(model("KARAT-926LW")) == {1: ("cold_water", ("V",))}
    assert _layout(model("KARAT-926LW").with_resource(Resource.HOT_WATER)) == {1: ("hot_water", ("V",))}
    assert {c.number: c.parameters for c in model("KARAT-927LW").channels} == {1: ("N",), 2: ("N",)}
    assert model("KARAT-929LW").channels == model("KARAT-307").channels
    assert model("KARAT-929LW").forwards == "KARAT-307"


def test_moduli_worked_by_hand() -> None:
    # 32-bit litres: 2**32 = 4_294_967_296 steps * 0.001 m3 = 4_294_967.296 m3
    assert model("KARAT-307").counter("V1").modulus == pytest.approx(4_294_967.296)
    assert model("KARAT-Compact-2-223").counter("V").modulus == pytest.approx(4_294_967.296)
    # 32-bit kcal: 4_294_967_296 * 1e-6 Gcal = 4_294.967296 Gcal
    assert model("KARAT-307").counter("Q").modulus == pytest.approx(4_294.967296)
    # 32-bit Wh: 4_294_967_296 * 0.001 kWh = 4_294_967.296 kWh
    assert model("KARAT-941LW").counter("E").modulus == pytest.approx(4_294_967.296)
    # 32-bit pulses: 4_294_967_296 * 1 pulse
    assert model("KARAT-927LW").counter("N").modulus == 4_294_967_296
    assert model("KARAT-307").counter("T1") is None  # a mean value, not a counter


def test_every_channel_counter_has_a_spec_and_a_known_unit() -> None:
    for spec in MODELS.values():
        for channel in spec.channels:
            for p in channel.parameters:
                assert p in PARAMETERS
                if PARAMETERS[p].summable:
                    assert spec.counter(p) is not None, (spec.name, p)


def test_device_units_agree_with_the_lorawan_parameter_codes() -> None:
    for code in lorawan_up.PARAM_CODES.values():
        assert catalogue.DEVICE_UNITS[code.code].scale == code.scale
    assert catalogue.unit("Q") == "Gcal"
    assert catalogue.unit("N") == "pulse"
    with pytest.raises(ValueError, match="'X'"):
        catalogue.unit("X")


def test_941_with_tariffs() -> None:
    spec = model("KARAT-941LW").with_tariffs(2)
    assert [(c.number, c.tariff, c.parameters) for c in spec.channels] == [
        (1, "total", ("E",)), (2, "T1", ("E",)), (3, "T2", ("E",))]
    assert spec.tariffs == 2
    assert {c.resource for c in spec.channels} == {Resource.ELECTRICITY}
    four = model("KARAT-941LW").with_tariffs(4)
    assert [c.tariff for c in four.channels] == ["total", "T1", "T2", "T3", "T4"]
    assert [c.number for c in four.channels] == [1, 2, 3, 4, 5]
    for bad in (0, 5):
        with pytest.raises(ValueError, match=r"1\.\.4"):
            model("KARAT-941LW").with_tariffs(bad)
    with pytest.raises(ValueError, match="KARAT-307 has no tariffs"):
        model("KARAT-307").with_tariffs(1)


def test_927_with_inputs() -> None:
    spec = model("KARAT-927LW").with_inputs(4)
    assert [c.number for c in spec.channels] == [1, 2, 3, 4]
    assert all(c.parameters == ("N",) for c in spec.channels)
    with pytest.raises(ValueError, match="2 or 4"):
        model("KARAT-927LW").with_inputs(3)
    with pytest.raises(ValueError, match="KARAT-926LW"):
        model("KARAT-926LW").with_inputs(2)


def test_unknown_model_and_channel_errors_name_them() -> None:
    with pytest.raises(UnknownModel, match="'KARAT-999'") as error:
        model("KARAT-999")
    assert "KARAT-307" in str(error.value)  # and the known models are listed
    assert "KARAT-927LW" in str(error.value)
    assert isinstance(error.value, ValueError)
    with pytest.raises(KeyError) as missing:
        model("KARAT-306").channel(3)
    assert str(missing.value) == "KARAT-306 has no channel 3; its channels are 1, 2"
    with pytest.raises(ValueError, match="cannot measure gas"):
        model("KARAT-926LW").with_resource(Resource.GAS)
    with pytest.raises(ValueError, match="fits KARAT-307 or KARAT-306"):
        model("KARAT-929LW").with_calculator("KARAT-926LW")


@pytest.mark.parametrize(("name", "hours", "days", "months"), [
    ("KARAT-307", 45 * 24, 366, 0),  # 45 days of hours = 1080; no month archive
    ("KARAT-306", 31 * 24, 184, 0),  # 744 hours
    ("KARAT-Compact-2-223", 45 * 24, 366, 60),
    ("KARAT-926LW", 31 * 24, 366, 60),
    ("KARAT-941LW", 93 * 24, 366, 36),  # 2232 hours, three years of months
    ("KARAT-927LW", 45 * 24, 366, 60),
    ("KARAT-929LW", 45 * 24, 366, 0),  # the 307's
])
def test_depth_per_kind(name: str, hours: int, days: int, months: int) -> None:
    spec = model(name)
    assert (spec.depth(HOUR), spec.depth(DAY), spec.depth(MONTH)) == (hours, days, months)
    assert spec.archive_kinds() == ((HOUR, DAY, MONTH) if months else (HOUR, DAY))


def test_archive_nature() -> None:
    water = model("KARAT-926LW")
    assert water.has_archive(HOUR, Nature.INTERVAL)
    assert not water.has_archive(HOUR, Nature.INTEGRAL)
    assert water.has_archive(DAY, Nature.INTEGRAL)
    assert not model("KARAT-307").has_archive(MONTH)
    assert model("KARAT-307").has_archive(HOUR, Nature.INTEGRAL)


def test_929_on_a_306_forwards_the_306() -> None:
    spec = model("KARAT-929LW").with_calculator("KARAT-306")
    assert (spec.name, spec.code, spec.forwards) == ("KARAT-929LW", 929, "KARAT-306")
    assert [c.number for c in spec.channels] == [1, 2]
    assert (spec.depth(HOUR), spec.depth(DAY)) == (31 * 24, 184)
    assert spec.transports == ("lorawan",)


def test_max_increment_by_hand() -> None:
    # Compact-2 water input: DN 20 meter Q4 = 1.25 * 4 m3/h = 5 m3/h, margin 1.25 -> 6.25 m3/h; 24 h -> 150 m3
    assert max_increment(model("KARAT-Compact-2-223"), "V", 24) == pytest.approx(150.0)
    # Compact-2 heat: 5 m3/h * 100 K * 0.001 Gcal/(m3 K) = 0.5 Gcal/h * 1.25 = 0.625; 4 h -> 2.5 Gcal
    assert max_increment(model("KARAT-Compact-2-223"), "Q", 4) == pytest.approx(2.5)
    # KARAT-307 heat: 1000 m3/h * 100 K * 0.001 = 100 Gcal/h * 1.25 = 125 Gcal/h; half an hour -> 62.5
    assert max_increment(model("KARAT-307"), "Q", 0.5) == pytest.approx(62.5)
    # 941LW: 3 phases * 230 V * 100 A = 69 kW * 1.25 = 86.25 kWh/h; 2 h -> 172.5 kWh
    assert max_increment(model("KARAT-941LW"), "E", 2) == pytest.approx(172.5)
    # 927LW: 10 Hz * 3600 s = 36_000 pulses/h * 1.25 = 45_000
    assert max_increment(model("KARAT-927LW"), "N", 1) == pytest.approx(45_000)
    assert max_increment(model("KARAT-307"), "T1", 1) is None
    assert max_increment(model("KARAT-307"), "V", 0) == 0
    with pytest.raises(ValueError, match="negative"):
        max_increment(model("KARAT-307"), "V", -1)


# --- agreement with the simulators -------------------------------------------------------------------------
SPEC = BuildingSpec(site="catalogue", address="x", apartments=4, water_meters_926=2, electricity_meters_941=1,
                    electricity_tariffs=3, pulse_counters_927=1, pulse_inputs=4, karat306_unit=2)


@pytest.fixture(scope="module")
def world() -> World:
    scenario = Scenario(SPEC, seed=7, start="2025-01-10T00:00")
    return World(scenario, plan(scenario), commissioning_utc(scenario))


def _sim_depth(depth: dict[ArchiveKind, timedelta]) -> dict[ArchiveKind, int]:
    """Simulator depths (timedelta) in periods; its month depths are years of 366 days (5 * 366 = 60 months)."""
    per = {HOUR: timedelta(hours=1), DAY: timedelta(days=1), MONTH: timedelta(days=366 / 12)}
    return {kind: round(td / per[kind]) for kind, td in depth.items()}


def _catalogue_depth(spec: ModelSpec) -> dict[ArchiveKind, int]:
    return {a.kind: a.depth for a in spec.archives}


def _pairs(readings: tuple[lorawan_up.Reading, ...]) -> set[tuple[int, str]]:
    return {(r.channel, r.param) for r in readings}


def _spec_pairs(spec: ModelSpec) -> set[tuple[int, str]]:
    return {(c.number, p) for c in spec.channels for p in c.parameters}


def test_calculators_agree_with_the_simulators(world: World) -> None:
    clock = SimClock(world.hour_start(40), 1.0)
    clock.freeze()
    calculators = ((Karat307(world, clock, 1), "KARAT-307"), (Karat306(world, clock, 2, "30611002"), "KARAT-306"))
    for calculator, name in calculators:
        spec = model(name)
        assert calculator.model_code == spec.code
        assert calculator.CHANNELS == tuple(c.number for c in spec.channels)
        assert _sim_depth(calculator.ARCHIVE_DEPTH) == _catalogue_depth(spec)
        radio = Radio929(world, calculator, "70b3d5e7290b0002", "app")
        record = lorawan_archive.decode(radio.hourly_payload(30))
        forwarded = model("KARAT-929LW").with_calculator(name)
        assert _pairs(record.readings) == _spec_pairs(forwarded)
        assert record.nature is Nature.INTEGRAL
        assert _sim_depth(radio.archive_depth()) == _catalogue_depth(forwarded)
    assert Radio929.MODEL_CODE == model("KARAT-929LW").code


def test_compact2_agrees_with_the_simulator(world: World) -> None:
    for name in ("KARAT-Compact-2-223", "KARAT-Compact-2-213"):
        meter = Compact2(world, world.building.apartments[0], "app", model=name)
        spec = model(name)
        assert meter.MODEL_CODE == spec.code
        frame = lorawan.decode(meter.hourly_payload(3))
        assert {(ch, p) for ch, values in frame.values().items() for p in values} == _spec_pairs(spec)
        assert _pairs(meter.current(world.hour_start(5)).readings) == _spec_pairs(spec)
        assert _sim_depth(meter.ARCHIVE_DEPTH) == _catalogue_depth(spec)
        inputs = meter.passport(world.hour_start(5)).inputs
        assert [r.name.lower() for r in inputs[:3]] == [c.resource.value for c in spec.channels]


def test_radio_models_agree_with_the_simulators(world: World) -> None:
    seen = set()
    for device_plan in world.building.radio_devices:
        device = make_device(world, device_plan, "app")
        spec = model(device_plan.model)
        if isinstance(device, ElectricityMeter941):
            spec = spec.with_tariffs(device_plan.tariffs)
            assert device.resources() == (lorawan_up.Resource.ELECTRICITY,) * len(spec.channels)
            assert len(spec.channels) == 1 + 3  # the total and three zones
            # apartment 1's single-phase meter is on phase A: power on channel 1 and on phase channel 11
            assert _pairs(device.instant(3)) == {(1, "P"), (11, "P")}
            assert _pairs(device.instant(3)) <= set(spec.instant)
        elif isinstance(device, PulseCounter927):
            spec = spec.with_inputs(device_plan.inputs)
        elif isinstance(device, WaterMeter926):
            spec = spec.with_resource(Resource(device_plan.resource))
            assert [r.name.lower() for r in device.resources()] == [c.resource.value for c in spec.channels]
        seen.add(spec.name)
        assert device.MODEL_CODE == spec.code
        assert set(device.params()) == _spec_pairs(spec)
        record = lorawan_archive.decode(device.hourly_payload(3))
        assert _pairs(record.readings) == _spec_pairs(spec)
        assert record.nature is spec.archive(HOUR).nature
        assert _sim_depth(device.ARCHIVE_DEPTH) == _catalogue_depth(spec)
    assert seen == {"KARAT-926LW", "KARAT-941LW", "KARAT-927LW"}
