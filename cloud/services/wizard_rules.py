"""The rules of the add-meter wizard (manual 4.5.2 "Добавление ПУ" and "Особенности добавления ... некоторых
моделей ПУ"), pure: a draft in, the step's refusal (InvalidInput naming the field) or the values
MetersService.create takes out. No storage: the service (cloud/services/meter_wizard.py) checks what
needs the registry (the building, premise, serial, communicator) and creates the meter.

Steps: type (ИПУ/ОДПУ and the model) → location → barcode and serial → communication line → channel
group, archive configuration and the model's own options → review. Model rules:
- KARAT-306/307 calculators: a building's heat input (ОДПУ), an external communicator (TCP or GPRS);
  KARAT-929LW is the radio module on such a calculator: the calculator stays the lead device and the
  kit composition names the module, two flow transducers and two temperature sensors on the heat input,
  and optionally a water meter on each water channel.
- KARAT-Compact-2-213/223: an apartment heat meter (ИПУ) with pulse inputs 1 and 2 (channels 2 and 3),
  hot and cold water by default, each hot or cold.
- KARAT-926LW with a СВК water meter: the module is the lead device; one resource, hot or cold, chosen
  explicitly; the verification date from the passport is required.
- KARAT-941LW electricity: 1-4 tariffs, single- or three-phase (a single-phase meter names its phase),
  a reading multiplier only for a building meter fed through current transformers, the meter's admin
  password when it is not the factory one (the factory password is stored as "none").
- KARAT-927LW pulse counter: 2 or 4 inputs, each with the resource of the meter wired to it.
Tests: tests/unit/cloud/test_wizard_rules.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from cloud.services.communicators import CommunicatorSpec
from cloud.services.communicators import validate as validate_communicator
from cloud.services.meters_admin import Channel, archives_text, configure, model_spec
from cloud.services.models import InvalidInput, check_day, check_id
from protocol import catalogue
from protocol.vocabulary import MeterRole, Resource

STEPS = ("type", "location", "barcode", "line", "config", "review")
LINE_MODES = ("builtin", "existing", "new")
KIT_KINDS = ("radio_module", "flow_transducer", "temperature_sensor", "water_meter", "pulse_meter")
CALCULATOR_MODELS = (*catalogue.CALCULATORS, catalogue.RADIO_929)
COMPACT_MODELS = ("KARAT-Compact-2-213", "KARAT-Compact-2-223")
WATER_926 = "KARAT-926LW"
WATER = tuple(r.value for r in catalogue.WATER)
MAX_KIT = 12
MAX_MODBUS_UNIT = 247
_SERIAL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
_PASSWORD = re.compile(r"^[\x21-\x7e]{1,32}$")  # printable ASCII, no spaces: what a meter's keypad protocol takes

# the role a model serves (manual 4.5.2): calculators on a building's heat input, Compact-2 in a flat
ROLES: dict[str, tuple[MeterRole, ...]] = {
    **{m: (MeterRole.COMMON,) for m in CALCULATOR_MODELS},
    **{m: (MeterRole.INDIVIDUAL,) for m in COMPACT_MODELS},
}
# which kit parts each model may list, on which channels (None: not bound to a channel)
_KIT_PARTS: dict[str, dict[str, tuple[int, ...] | None]] = {
    "KARAT-307": {"flow_transducer": (1,), "temperature_sensor": (1,), "water_meter": (2, 3)},
    "KARAT-306": {"flow_transducer": (1,), "temperature_sensor": (1,), "water_meter": (2,)},
    WATER_926: {"water_meter": (1,)},
    **{m: {"water_meter": (2, 3)} for m in COMPACT_MODELS},
    catalogue.PULSE_927: {"pulse_meter": (1, 2, 3, 4)},
}


@dataclass(frozen=True, slots=True)
class KitPart:
    """One device of the primary kit besides the lead device (manual 4.5.2: "состав комплекта")."""

    kind: str  # one of KIT_KINDS
    serial: str
    channel: int | None = None  # the lead device's channel it serves; None for the radio module
    model: str = ""  # free text, e.g. "ПРЭМ-20", "КТПТР-01"


@dataclass(frozen=True, slots=True)
class LineChoice:
    """Step 4: the communication line."""

    mode: str  # "builtin": the device's own module; "existing": a communicator of the list; "new": a new one
    communicator_id: int | None = None  # "existing"
    spec: CommunicatorSpec | None = None  # "builtin" (LoRaWAN fields) and "new"
    unit: int = 1  # the Modbus unit address of the meter behind a TCP line


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything the wizard asks, step by step; later steps' fields may still be empty."""

    role: str = ""
    model: str = ""
    building_id: int | None = None
    premise_id: int | None = None
    serial: str = ""
    barcode: str = ""
    line: LineChoice | None = None
    calculator: str | None = None  # KARAT-929LW: the calculator it is fitted to
    kit: tuple[KitPart, ...] = ()
    channel_resources: Mapping[int, str] = field(default_factory=dict, hash=False)
    inputs: int | None = None  # KARAT-927LW: 2 or 4
    tariffs: int | None = None  # KARAT-941LW: 1..4
    phases: int | None = None  # KARAT-941LW: 1 or 3
    phase: str | None = None  # KARAT-941LW single-phase: A, B or C
    ct_ratio: float = 1.0  # KARAT-941LW building meter: the reading multiplier
    admin_password: str | None = None  # KARAT-941LW: None = the factory password
    archive_kinds: tuple[str, ...] = ()  # empty: every kind the model keeps
    reporting_day: int = 1
    verified_on: date | None = None
    next_verification_on: date | None = None
    installed_on: date | None = None
    commissioned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Configured:
    """The review step: the draft checked and the meter it makes."""

    draft: Draft  # normalised (serial trimmed, defaults filled in, factory password as None)
    spec: catalogue.ModelSpec
    channels: tuple[Channel, ...]
    archives: str
    communicator_text: str  # the meter's link text ("Modbus TCP host:port #unit", "LoRaWAN <eui>", "GPRS <imei>")


# --- single steps ---------------------------------------------------------------------------------

def check_type(draft: Draft) -> Draft:
    """Step 1: ИПУ or ОДПУ, and a model of the catalogue that may serve that role."""
    try:
        role = MeterRole(draft.role)
    except ValueError:
        raise InvalidInput("role: choose the meter type: individual (ИПУ) or common (ОДПУ)") from None
    spec = model_spec(draft.model)
    allowed = ROLES.get(spec.name, tuple(MeterRole))
    if role not in allowed:
        names = {MeterRole.INDIVIDUAL: "an individual (ИПУ)", MeterRole.COMMON: "a common (ОДПУ)"}
        raise InvalidInput(f"role: a {spec.name} is {names[allowed[0]]} meter, not {role.value}")
    return replace(draft, role=role.value)


def check_location(draft: Draft) -> Draft:
    """Step 2: a building; an individual meter in one of its premises, a common one in none."""
    if draft.building_id is None:
        raise InvalidInput("building_id: choose the building the meter is installed in")
    check_id("building_id", draft.building_id)
    if draft.role == MeterRole.INDIVIDUAL.value:
        if draft.premise_id is None:
            raise InvalidInput("premise_id: an individual meter (ИПУ) is installed in a premise: choose it")
        check_id("premise_id", draft.premise_id)
    elif draft.premise_id is not None:
        raise InvalidInput("premise_id: a common meter (ОДПУ) is a building meter, in no premise")
    return draft


def check_barcode(draft: Draft) -> Draft:
    """Step 3: the serial (the lead device's), and the barcode as scanned or typed. A barcode that is
    itself a valid serial gives the serial when none was typed."""
    barcode = draft.barcode.strip() if isinstance(draft.barcode, str) else ""
    if len(barcode) > 64 or not barcode.isprintable():
        raise InvalidInput("barcode: up to 64 printable characters")
    serial = draft.serial.strip() if isinstance(draft.serial, str) else ""
    if not serial and _SERIAL.match(barcode):
        serial = barcode
    if not serial:
        raise InvalidInput("serial: give the serial number of the lead device (from its nameplate or barcode)")
    if not _SERIAL.match(serial):
        raise InvalidInput(f"serial: 1 to 32 letters, digits, '.', '_' or '-', got {serial!r}")
    return replace(draft, serial=serial, barcode=barcode)


def line_kinds(model: str) -> tuple[str, ...]:
    """The communicator kinds a model can use: Modbus calculators a TCP or GPRS line, the rest LoRaWAN."""
    spec = model_spec(model)
    return ("lora",) if "lorawan" in spec.transports else ("tcp", "gprs")


def check_line(draft: Draft, existing: CommunicatorSpec | None = None) -> Draft:
    """Step 4: the line, given ``existing`` = the chosen communicator's spec for mode "existing"."""
    line = draft.line
    if line is None or line.mode not in LINE_MODES:
        raise InvalidInput(f"line.mode: one of {', '.join(LINE_MODES)} (built-in module, a communicator of the "
                           "list, or a new line)")
    kinds = line_kinds(draft.model)
    if line.mode == "builtin":
        if kinds != ("lora",):
            raise InvalidInput(f"line.mode: a {draft.model} has no built-in communication module: choose an external "
                               "communicator (TCP or GPRS) or enter a new line")
        given = line.spec or CommunicatorSpec("lora", "builtin")
        spec = validate_communicator(replace(given, kind="lora", placement="builtin",
                                             serial=given.serial or draft.serial))
        return replace(draft, line=LineChoice("builtin", spec=spec))
    if line.mode == "existing":
        if line.communicator_id is None:
            raise InvalidInput("line.communicator_id: choose a communicator from the list")
        check_id("line.communicator_id", line.communicator_id)
        if existing is not None and existing.kind not in kinds:
            raise InvalidInput(f"line.communicator_id: a {draft.model} talks over {' or '.join(kinds)}, the chosen "
                               f"communicator is {existing.kind}")
        unit = _unit(line.unit) if existing is not None and existing.kind == "tcp" else 1
        return replace(draft, line=LineChoice("existing", communicator_id=line.communicator_id, unit=unit))
    if line.spec is None:
        raise InvalidInput("line.spec: give the parameters of the new line")
    if line.spec.kind not in kinds:
        raise InvalidInput(f"line.spec.kind: a {draft.model} talks over {' or '.join(kinds)}, not {line.spec.kind!r}")
    spec = validate_communicator(replace(line.spec, placement="external"))
    return replace(draft, line=LineChoice("new", spec=spec, unit=_unit(line.unit) if spec.kind == "tcp" else 1))


def _unit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MODBUS_UNIT:
        raise InvalidInput(f"line.unit: a Modbus unit address 1 to {MAX_MODBUS_UNIT}, got {value!r}")
    return value


def communicator_text(draft: Draft, spec: CommunicatorSpec) -> str:
    """The meter's link text for its communicator (the edge's meter list reads host/port/DevEUI from the
    communicator and the Modbus unit from this text)."""
    if spec.kind == "tcp":
        unit = draft.line.unit if draft.line is not None else 1
        return f"Modbus TCP {spec.host}:{spec.port} #{unit}"
    if spec.kind == "lora":
        return f"LoRaWAN {spec.dev_eui}"
    return f"GPRS {spec.imei}"


# --- step 5: the model's configuration --------------------------------------------------------------

def check_config(draft: Draft) -> Configured:
    """Step 5: the channel group, the archive configuration, the kit and the model's own options."""
    model = draft.model
    model_spec(model)
    _only_for(draft, model)
    resources = {int(k): str(v) for k, v in (draft.channel_resources or {}).items()}
    draft = replace(draft, channel_resources=resources)
    if model in COMPACT_MODELS:
        for number in resources:
            if number not in (2, 3):
                raise InvalidInput(f"channel_resources: a {model} has pulse inputs 1 and 2 (channels 2 and 3); "
                                   f"channel {number} is not one")
        for number, resource in resources.items():
            if resource not in WATER:
                raise InvalidInput(f"channel_resources: input {number - 1} of a {model} counts hot_water or "
                                   f"cold_water, not {resource!r}")
        draft = replace(draft, channel_resources={2: Resource.HOT_WATER.value, 3: Resource.COLD_WATER.value,
                                                  **resources})
    elif model == WATER_926:
        if set(resources) != {1} or resources[1] not in WATER:
            raise InvalidInput("channel_resources: a СВК water meter with a KARAT-926LW measures one resource: "
                               "choose hot_water or cold_water for channel 1")
        if draft.verified_on is None:
            raise InvalidInput("verified_on: give the water meter's verification date from its passport")
    elif model == catalogue.PULSE_927:
        inputs = 2 if draft.inputs is None else draft.inputs
        if inputs not in catalogue.PULSE_INPUTS:
            raise InvalidInput(f"inputs: a KARAT-927LW has 2 or 4 pulse inputs, got {inputs!r}")
        for number in resources:
            if not 1 <= number <= inputs:
                raise InvalidInput(f"channel_resources: input {number} is not one of the {inputs} inputs")
        draft = replace(draft, inputs=inputs)
    elif model == catalogue.ELECTRICITY_941:
        draft = _electricity(draft)
    elif resources:
        raise InvalidInput(f"channel_resources: the resources of a {model} are fixed by the device")
    if model == catalogue.RADIO_929:
        if draft.calculator not in catalogue.CALCULATORS:
            raise InvalidInput(f"calculator: a KARAT-929LW is fitted to a {' or a '.join(catalogue.CALCULATORS)}; "
                               "choose the calculator of the kit")
    draft = replace(draft, kit=check_kit(draft))
    _check_verification(draft)
    spec, channels = configure(model, tariffs=draft.tariffs, inputs=draft.inputs,
                               channel_resources=draft.channel_resources or None, calculator=draft.calculator)
    archives = archives_text(spec, draft.archive_kinds or None)
    return Configured(draft, spec, channels, archives, "")


def _only_for(draft: Draft, model: str) -> None:
    """Options of one model given for another: refused, naming the option."""
    if model != catalogue.RADIO_929 and draft.calculator is not None:
        raise InvalidInput(f"calculator: only a KARAT-929LW is fitted to a calculator, not a {model}")
    if model != catalogue.PULSE_927 and draft.inputs is not None:
        raise InvalidInput(f"inputs: only a KARAT-927LW has 2 or 4 inputs; a {model} has its own")
    if model != catalogue.ELECTRICITY_941:
        for name, value, unset in (("tariffs", draft.tariffs, None), ("phases", draft.phases, None),
                                   ("phase", draft.phase, None), ("ct_ratio", draft.ct_ratio, 1.0),
                                   ("admin_password", draft.admin_password, None)):
            if value != unset:
                raise InvalidInput(f"{name}: for a KARAT-941LW electricity meter only, not a {model}")


def _electricity(draft: Draft) -> Draft:
    tariffs = 1 if draft.tariffs is None else draft.tariffs
    if isinstance(tariffs, bool) or not isinstance(tariffs, int) or not 1 <= tariffs <= catalogue.MAX_TARIFFS:
        raise InvalidInput(f"tariffs: 1 to {catalogue.MAX_TARIFFS} tariff zones, got {tariffs!r}")
    if draft.phases not in (1, 3):
        raise InvalidInput("phases: say whether the meter is single-phase (1) or three-phase (3)")
    if draft.phases == 1 and draft.phase not in catalogue.PHASE_CHANNELS:
        raise InvalidInput("phase: a single-phase meter needs the phase it is connected to (A, B or C): it keeps the "
                           "phase balance of its group right")
    if draft.phases == 3 and draft.phase is not None:
        raise InvalidInput("phase: a three-phase meter is on all three phases; leave the phase empty")
    ratio = draft.ct_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 100_000:
        raise InvalidInput(f"ct_ratio: a reading multiplier > 0 and <= 100000, got {ratio!r}")
    if ratio != 1 and draft.role != MeterRole.COMMON.value:
        raise InvalidInput("ct_ratio: a reading multiplier is for a building meter (ОДПУ) fed through current "
                           "transformers; an apartment meter is connected directly (multiplier 1)")
    password = draft.admin_password
    if password is not None and password != "":
        if not _PASSWORD.match(password):
            raise InvalidInput("admin_password: 1 to 32 printable characters without spaces")
        if password == factory_password(catalogue.ELECTRICITY_941):
            password = None  # the factory one: the module knows it already
    else:
        password = None
    return replace(draft, tariffs=tariffs, ct_ratio=float(ratio), admin_password=password)


def factory_password(model: str) -> str | None:
    """The model's published factory admin password (protocol/catalogue.py), None when it has none."""
    return catalogue.FACTORY_PASSWORDS.get(model)


def check_kit(draft: Draft) -> tuple[KitPart, ...]:
    """The kit composition: parts the model may have, on its channels, serials unique and not the lead's;
    a KARAT-929LW kit has exactly one radio module and, like a bare calculator's, two flow transducers and
    two temperature sensors on the heat input."""
    model = draft.model
    kit = tuple(_part(p) for p in draft.kit)
    if len(kit) > MAX_KIT:
        raise InvalidInput(f"kit: at most {MAX_KIT} parts")
    allowed = dict(_KIT_PARTS.get(draft.calculator or "", {})) if model == catalogue.RADIO_929 \
        else dict(_KIT_PARTS.get(model, {}))
    if model == catalogue.RADIO_929:
        allowed["radio_module"] = None
    for part in kit:
        if part.kind not in allowed:
            lead = f"{model} on a {draft.calculator}" if model == catalogue.RADIO_929 else model
            raise InvalidInput(f"kit: a {lead} kit has no {part.kind}" + (
                "; a radio module KARAT-929LW makes the kit a KARAT-929LW: choose that model"
                if part.kind == "radio_module" else ""))
        channels = allowed[part.kind]
        if channels is None:
            if part.channel is not None:
                raise InvalidInput(f"kit: the {part.kind} {part.serial} serves the whole kit, no channel")
        elif part.channel not in channels:
            raise InvalidInput(f"kit: the {part.kind} {part.serial} goes on channel "
                               f"{' or '.join(map(str, channels))}, got {part.channel!r}")
        if part.serial == draft.serial:
            raise InvalidInput(f"kit: {part.serial} is the lead device's serial; a kit part has its own")
    repeated = [s for s, n in Counter(p.serial for p in kit).items() if n > 1]
    if repeated:
        raise InvalidInput(f"kit: serial {repeated[0]} is listed twice")
    kinds = Counter(p.kind for p in kit)
    per_channel = Counter((p.kind, p.channel) for p in kit if p.kind in ("water_meter", "pulse_meter"))
    if crowded := [k for k, n in per_channel.items() if n > 1]:
        raise InvalidInput(f"kit: channel {crowded[0][1]} has {per_channel[crowded[0]]} {crowded[0][0]}s; one at most")
    if model == catalogue.RADIO_929 and kinds["radio_module"] != 1:
        raise InvalidInput(f"kit: a KARAT-929LW kit has one radio module KARAT-929LW (its serial), got "
                           f"{kinds['radio_module']}")
    if model in CALCULATOR_MODELS:
        for kind, what in (("flow_transducer", "flow transducers (supply and return)"),
                           ("temperature_sensor", "temperature sensors (supply and return)")):
            if kinds[kind] != 2:
                raise InvalidInput(f"kit: the heat input (channel 1) needs two {what}, got {kinds[kind]}")
    return kit


def _part(value: object) -> KitPart:
    if not isinstance(value, KitPart):
        raise InvalidInput("kit: each part is a kind, a serial and a channel")
    if value.kind not in KIT_KINDS:
        raise InvalidInput(f"kit: kind one of {', '.join(KIT_KINDS)}, got {value.kind!r}")
    serial = value.serial.strip() if isinstance(value.serial, str) else ""
    if not _SERIAL.match(serial):
        raise InvalidInput(f"kit: the {value.kind}'s serial: 1 to 32 letters, digits, '.', '_' or '-', got "
                           f"{value.serial!r}")
    model = value.model.strip() if isinstance(value.model, str) else ""
    if len(model) > 64 or not model.isprintable():
        raise InvalidInput("kit: a part's model: up to 64 printable characters")
    if value.kind == "radio_module":
        model = model or catalogue.RADIO_929
    return KitPart(value.kind, serial, value.channel, model)


def _check_verification(draft: Draft) -> None:
    for name in ("verified_on", "next_verification_on", "installed_on"):
        value = getattr(draft, name)
        if value is not None:
            if not isinstance(value, date) or isinstance(value, datetime):
                raise InvalidInput(f"{name}: a date, got {value!r}")
            check_day(name, value)
    if draft.verified_on and draft.next_verification_on and draft.next_verification_on <= draft.verified_on:
        raise InvalidInput("next_verification_on: must be after verified_on")


# --- the whole draft ------------------------------------------------------------------------------------

def check_through(draft: Draft, step: str, existing: CommunicatorSpec | None = None) -> Draft | Configured:
    """Every step up to and including ``step``: the first refusal, or the draft as far as checked
    (the Configured meter from "config" on)."""
    if step not in STEPS:
        raise InvalidInput(f"step: one of {', '.join(STEPS)}, got {step!r}")
    upto = STEPS.index(step)
    draft = check_type(draft)
    if upto >= 1:
        draft = check_location(draft)
    if upto >= 2:
        draft = check_barcode(draft)
    if upto >= 3:
        draft = check_line(draft, existing)
    if upto < 4:
        return draft
    return check_config(draft)


def create_arguments(configured: Configured) -> dict[str, Any]:
    """The keyword arguments of MetersService.create for a configured draft (the communicator added by the
    service once it exists)."""
    d = configured.draft
    return {"building_id": d.building_id, "serial": d.serial, "model": d.model, "role": d.role,
            "premise_id": d.premise_id, "archive_kinds": d.archive_kinds or None, "reporting_day": d.reporting_day,
            "ct_ratio": d.ct_ratio, "phase": d.phase, "tariffs": d.tariffs, "inputs": d.inputs,
            "channel_resources": dict(d.channel_resources) or None, "calculator": d.calculator,
            "installed_on": d.installed_on, "commissioned_at": d.commissioned_at, "barcode": d.barcode,
            "verified_on": d.verified_on, "next_verification_on": d.next_verification_on}


def measures_heat(channels: tuple[Channel, ...]) -> bool:
    """Whether the meter measures heat (4.5.7: a heat meter in a building with no season is warned about)."""
    return any(c.resource == Resource.HEAT.value for c in channels)
