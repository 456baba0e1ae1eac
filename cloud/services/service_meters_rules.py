"""Pure rules of the service meters list (manual 4.5.1) and of measuring channels (ИИК, 4.5.3).

No I/O: the service (cloud/services/service_meters.py) reads the registry and hands plain values in.
List: a meter's line type (its communicator's kind), filters where choosing every option is the same
as choosing none, tiles grouped by premise with the building meters first. Channels: a simple channel
measures its one parameter by one instrument (the meter itself or one sensor); a composite one
measures several quantities by several instruments and computes its parameter from them, so none of
them registers that parameter itself. Tests: tests/unit/cloud/test_service_meters_rules.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from cloud.services.models import InvalidInput
from protocol.vocabulary import PARAMETERS, Resource

T = TypeVar("T")

LINE_TYPES = ("tcp", "gprs", "lora", "unknown")  # communicator kinds; "unknown": no communicator recorded
# what each kind of sensor can register (protocol/vocabulary.py PARAMETERS); kinds as the wizard's kit parts
SENSOR_QUANTITIES: dict[str, tuple[str, ...]] = {
    "flow_transducer": ("V", "V1", "V2"),
    "temperature_sensor": ("T1", "T2"),
    "water_meter": ("V",),
    "pulse_meter": ("N", "V", "E"),
}
MAX_RESOURCE_NUMBER = 16


class RuleError(InvalidInput):
    """A refusal by these rules: ``reason`` is a stable key (the page words it in Russian with ``params``),
    the message says it in English for the API."""

    def __init__(self, reason: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.reason, self.params = reason, params


# --- the list (4.5.1) --------------------------------------------------------------------------------

def line_type(kind: str | None, text: str) -> str:
    """The meter's communication line: its linked communicator's kind, else read from the free-text link
    older rows carry ("Modbus TCP 10.0.0.5:502", "LoRaWAN 70b3...", "GPRS ..."), else "unknown"."""
    if kind in ("tcp", "gprs", "lora"):
        return kind
    low = text.lower()
    if "lora" in low:
        return "lora"
    if "gprs" in low or "gsm" in low:
        return "gprs"
    if "tcp" in low:
        return "tcp"
    return "unknown"


def effective(chosen: Iterable[T], options: Iterable[T]) -> frozenset[T]:
    """The filter a choice means: every option chosen is no filter at all (all = none)."""
    picked, known = frozenset(chosen), frozenset(options)
    return frozenset() if known and known <= picked else picked


def allows(chosen: frozenset[T], values: Iterable[T]) -> bool:
    """Whether a filter lets through an object with ``values`` (one value, or several: any of them)."""
    return not chosen or bool(chosen & frozenset(values))


def contains(needle: str, text: str) -> bool:
    """A typed number or barcode: a case-insensitive part of it; empty lets everything through."""
    needle = needle.strip().lower()
    return not needle or needle in text.lower()


def natural_key(number: str) -> tuple[tuple[int, int | str], ...]:
    """Premise numbers in the order people count them: "2" before "10", "10" before "10а"."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower())
                 for part in re.findall(r"\d+|\D+", number))


def group_key(address: str, building_id: int, premise_number: str | None) -> tuple[object, ...]:
    """Where a meter's tile goes: by building, the building meters (no premise) first, then premises."""
    return (address, building_id, 0 if premise_number is None else 1,
            natural_key(premise_number) if premise_number is not None else ())


# --- measuring channels (4.5.3) ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DeviceChannel:
    """A channel of the meter as the device catalogue gives it (registry ``meter_channels``)."""

    number: int
    resource: str
    parameters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Member:
    """One instrument of a channel and the quantity it registers there; ``sensor_id`` None: the meter."""

    sensor_id: int | None
    quantity: str


@dataclass(frozen=True, slots=True)
class Sensor:
    id: int
    kind: str
    serial: str


@dataclass(frozen=True, slots=True)
class Checked:
    kind: str  # "simple" or "composite"
    device_channel: int  # the number of the device channel whose parameter it gives
    members: tuple[Member, ...] = field(default=())


def resource_numbers(channels: Sequence[DeviceChannel]) -> dict[int, tuple[str, int]]:
    """Device channel number -> (resource, its number among the meter's channels of that resource, from 1,
    in channel order): a Compact-2-223 with cold water on inputs 2 and 3 has cold water 1 and 2."""
    seen: dict[str, int] = {}
    out = {}
    for c in sorted(channels, key=lambda c: c.number):
        seen[c.resource] = seen.get(c.resource, 0) + 1
        out[c.number] = (c.resource, seen[c.resource])
    return out


def device_channel(channels: Sequence[DeviceChannel], resource: str, number: int) -> DeviceChannel | None:
    """The ``number``-th device channel of ``resource``; None when the meter has fewer."""
    numbers = resource_numbers(channels)
    return next((c for c in channels if numbers[c.number] == (resource, number)), None)


def check_channel(channels: Sequence[DeviceChannel], sensors: Mapping[int, Sensor], resource: str,
                  resource_number: int, parameter: str, members: Sequence[Member]) -> Checked:
    """The channel if the rules allow it, else RuleError naming the first broken rule."""
    if resource not in {r.value for r in Resource}:
        raise RuleError("resource_unknown", f"resource: unknown resource {resource!r}", resource=resource)
    if isinstance(resource_number, bool) or not isinstance(resource_number, int) \
            or not 1 <= resource_number <= MAX_RESOURCE_NUMBER:
        raise RuleError("resource_number", f"resource_number: from 1 to {MAX_RESOURCE_NUMBER}, got "
                        f"{resource_number!r}", number=resource_number)
    device = device_channel(channels, resource, resource_number)
    if device is None:
        count = sum(1 for c in channels if c.resource == resource)
        raise RuleError("no_such_resource", f"resource_number: the meter has {count} channel(s) of {resource}, "
                        f"not a number {resource_number}", resource=resource, number=resource_number, count=count)
    if parameter not in device.parameters:
        raise RuleError("parameter_not_reported", f"parameter: the meter's {resource} {resource_number} reports "
                        f"{', '.join(device.parameters)}, not {parameter!r}", parameter=parameter,
                        known=", ".join(device.parameters))
    if not members:
        raise RuleError("no_members", "members: a channel needs at least one instrument (the meter or a sensor)")
    instruments = [m.sensor_id for m in members]
    if len(set(instruments)) != len(instruments):
        raise RuleError("instrument_twice", "members: an instrument is listed twice")
    quantities = [m.quantity for m in members]
    for m in members:
        if m.quantity not in PARAMETERS:
            raise RuleError("quantity_unknown", f"members: unknown quantity {m.quantity!r}", quantity=m.quantity)
        if m.sensor_id is None:
            if m.quantity not in device.parameters:
                raise RuleError("meter_quantity", f"members: the meter reports {', '.join(device.parameters)} on "
                                f"this channel, not {m.quantity!r}", quantity=m.quantity,
                                known=", ".join(device.parameters))
            continue
        sensor = sensors.get(m.sensor_id)
        if sensor is None:
            raise RuleError("sensor_not_of_meter", f"members: sensor {m.sensor_id} is not a sensor of this meter",
                            sensor=m.sensor_id)
        allowed = SENSOR_QUANTITIES[sensor.kind]
        if m.quantity not in allowed:
            raise RuleError("quantity_of_kind", f"members: sensor {sensor.serial} ({sensor.kind}) registers "
                            f"{', '.join(allowed)}, not {m.quantity!r}", serial=sensor.serial, kind=sensor.kind,
                            quantity=m.quantity, allowed=", ".join(allowed))
    if len(set(quantities)) != len(quantities):
        twice = next(q for q in quantities if quantities.count(q) > 1)
        raise RuleError("quantity_twice", f"members: two instruments register {twice}", quantity=twice)
    if len(members) == 1:
        if quantities[0] != parameter:
            raise RuleError("simple_mismatch", f"members: a simple channel's one instrument registers its parameter "
                            f"{parameter}, not {quantities[0]}", parameter=parameter, quantity=quantities[0])
        return Checked("simple", device.number, tuple(members))
    if parameter in quantities:
        raise RuleError("composite_measures_parameter", f"members: a composite channel computes {parameter} from "
                        "the quantities its instruments measure; none of them may register it itself "
                        "(one instrument that does makes a simple channel)", parameter=parameter)
    return Checked("composite", device.number, tuple(members))


def check_unique(existing: Iterable[tuple[int, str, int, str]], channel_id: int | None, resource: str,
                 resource_number: int, parameter: str) -> None:
    """One channel per (resource, resource number, parameter) of a meter; ``existing`` are (id, resource,
    number, parameter) of its channels, ``channel_id`` the one being edited (None: a new one)."""
    for other_id, other_resource, other_number, other_parameter in existing:
        if other_id != channel_id and (other_resource, other_number, other_parameter) == (
                resource, resource_number, parameter):
            raise RuleError("channel_exists", f"the meter has a channel of {resource} {resource_number} "
                            f"{parameter} already (id {other_id})", resource=resource, number=resource_number,
                            parameter=parameter)
