"""The meter list: what the edge must know of each meter it polls, as one typed spec and one
validating function. The contract between the edge's TOML (``[[edge.meters]]``), the cloud's
``meter_config`` push (cloud/services/commands.py ``site_meters``) and the edge's ``meters.json``
(docs/protocols.md, "The meter list").

``meter_spec`` turns a mapping into a ``MeterSpec`` or raises ``DecodeError`` naming the entry
and the field (``meters[3].port: expected an integer 1..65535, got "502"``); ``meter_list`` does
a whole list and refuses a serial, DevEUI or Modbus address used twice. A ``MeterSpec`` checks
itself when it is made, so one made from TOML by protocol/settings.py passes the same checks.
Models and the transports each has come from protocol/catalogue.py. Pure: no I/O.
Tests: tests/unit/protocol/test_meters.py, tests/integration/test_meter_config_contract.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from protocol import catalogue
from protocol.errors import DecodeError
from protocol.vocabulary import ArchiveKind

Transport = Literal["modbus-tcp", "modbus-rtu", "lorawan"]
TRANSPORTS: tuple[str, ...] = ("modbus-tcp", "modbus-rtu", "lorawan")
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)  # standard RS-485 rates
REQUIRED = ("serial", "model", "transport", "commissioned")
DEPTH_FIELDS: dict[ArchiveKind, str] = {ArchiveKind.HOUR: "archive_depth_days", ArchiveKind.DAY: "daily_depth_days",
                                        ArchiveKind.MONTH: "monthly_depth_days"}
_KINDS = tuple(k.value for k in ArchiveKind)
_DEV_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")
_NO_SPACE = re.compile(r"^\S+$")


def catalogue_depth_days(model: str, kind: ArchiveKind) -> int:
    """Days of archives of ``kind`` a device of ``model`` keeps by the catalogue (0: none), rounded up:
    a month counts 31 days, so a period the device may still keep is never taken for lost.
    Raises UnknownModel (a ValueError)."""
    periods = catalogue.model(model).depth(kind)
    return {ArchiveKind.HOUR: -(-periods // 24), ArchiveKind.DAY: periods}.get(kind, periods * 31)


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """One meter of a site's list; made only valid (``__post_init__`` runs every check)."""

    serial: str
    model: str  # a catalogue model name ("KARAT-307")
    transport: Transport  # one of the model's transports by the catalogue
    commissioned: str  # ISO date and time with its UTC offset, from which the meter's archives are expected
    host: str = "127.0.0.1"  # modbus-tcp: the device or its gateway
    port: int = 502
    unit: int = 1  # Modbus unit address, 1..247
    dev_eui: str = ""  # lorawan: 16 hex digits
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
        for name, check in _CHECKS:
            reason = check(self, getattr(self, name))
            if reason is not None:
                raise DecodeError(name, reason)

    @property
    def commissioned_at(self) -> datetime:
        return datetime.fromisoformat(self.commissioned)

    @property
    def kinds(self) -> list[ArchiveKind]:
        return [ArchiveKind(k) for k in self.archive_kinds]

    def depth_days(self, kind: ArchiveKind) -> int:
        """How many days back the device keeps archives of ``kind``: the meter's own setting, else
        its model's catalogue entry (0: the model keeps no such archive)."""
        return getattr(self, DEPTH_FIELDS[kind]) or catalogue_depth_days(self.model, kind)

    def as_dict(self) -> dict[str, Any]:
        """The mapping ``meter_spec`` takes back (JSON and msgpack safe)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), list) else v
                for f in dataclasses.fields(self)}


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(MeterSpec))


def meter_spec(raw: object, where: str = "meter") -> MeterSpec:
    """The one validation of a meter entry: ``raw`` (a mapping of MeterSpec fields) as a MeterSpec,
    or DecodeError whose field is ``<where>.<field>`` (``where`` "" names the field alone)."""
    if not isinstance(raw, Mapping):
        raise DecodeError(where or "meter", f"expected a map of meter fields, got {type(raw).__name__}")
    for key in raw:
        if key not in FIELDS:
            raise DecodeError(_at(where, str(key)), f"unknown meter field (known: {', '.join(FIELDS)})")
    for name in REQUIRED:
        if name not in raw:
            raise DecodeError(_at(where, name), f"missing (every meter needs {', '.join(REQUIRED)})")
    try:
        return MeterSpec(**raw)
    except DecodeError as exc:
        raise DecodeError(_at(where, exc.field), exc.reason) from None


def meter_list(raw: object, where: str = "meters") -> list[MeterSpec]:
    """A whole meter list: every entry by ``meter_spec`` (``<where>[i]``), then ``check_unique``."""
    if not isinstance(raw, list):
        raise DecodeError(where, f"expected a list of meters, got {type(raw).__name__}")
    specs = [meter_spec(item, f"{where}[{i}]") for i, item in enumerate(raw)]
    check_unique(specs, where)
    return specs


def check_unique(specs: Sequence[MeterSpec], where: str = "meters") -> None:
    """Refuse a serial, a DevEUI (in any case) or a Modbus address (host:port or bus, and unit)
    that two meters of one list share: the edge would store one device's data under two meters."""
    seen: dict[tuple[str, str], int] = {}
    for i, spec in enumerate(specs):
        for name, key, shown in _identities(spec):
            j = seen.setdefault((name, key), i)
            if j == i:
                continue
            if name == "serial":
                raise DecodeError(f"{where}[{i}].serial", f"{_shown(spec.serial)} is also {where}[{j}]")
            raise DecodeError(f"{where}[{i}].{name}", f"meter {spec.serial} has the {shown} of {where}[{j}] "
                                                      f"(meter {specs[j].serial})")


def _identities(spec: MeterSpec) -> list[tuple[str, str, str]]:
    """(field to blame, key that must be unique, how to show it) of one meter."""
    out = [("serial", spec.serial, "")]
    if spec.transport == "lorawan":
        out.append(("dev_eui", spec.dev_eui.lower(), f"DevEUI {spec.dev_eui.lower()}"))
    elif spec.transport == "modbus-tcp":
        address = f"{spec.host}:{spec.port} #{spec.unit}"
        out.append(("unit", f"tcp {address}", f"Modbus address {address}"))
    else:
        address = f"{spec.serial_port} #{spec.unit}"
        out.append(("unit", f"rtu {address}", f"Modbus address {address}"))
    return out


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _shown(value: object) -> str:
    """A value as the error shows it: JSON, so that "502" and 502 look different."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- the checks, one per field, in the order they run: each returns the reason, or None -------------

def _serial(_m: MeterSpec, v: Any) -> str | None:
    ok = isinstance(v, str) and _NO_SPACE.match(v)
    return None if ok else f"expected a non-empty serial number without spaces, got {_shown(v)}"


def _model(_m: MeterSpec, v: Any) -> str | None:
    if isinstance(v, str) and v in catalogue.MODELS:
        return None
    return f"unknown model {_shown(v)}; the catalogue knows {', '.join(catalogue.MODELS)}"


def _transport(m: MeterSpec, v: Any) -> str | None:
    if not isinstance(v, str) or v not in TRANSPORTS:
        return f"expected one of {', '.join(TRANSPORTS)}, got {_shown(v)}"
    has = catalogue.model(m.model).transports
    return None if v in has else f"a {m.model} is reached by {' or '.join(has)}, not {v}"


def _host(m: MeterSpec, v: Any) -> str | None:
    if not isinstance(v, str):
        return f"expected a host name or address, got {_shown(v)}"
    if m.transport == "modbus-tcp" and not _NO_SPACE.match(v):
        return f"a Modbus TCP meter needs the host name or address of its device or gateway, got {_shown(v)}"
    return None


def _port(_m: MeterSpec, v: Any) -> str | None:
    return None if _is_int(v) and 1 <= v <= 65535 else f"expected an integer 1..65535, got {_shown(v)}"


def _unit(_m: MeterSpec, v: Any) -> str | None:
    return None if _is_int(v) and 1 <= v <= 247 else f"expected a Modbus unit address 1..247, got {_shown(v)}"


def _serial_port(m: MeterSpec, v: Any) -> str | None:
    if not isinstance(v, str):
        return f"expected a device path, got {_shown(v)}"
    if m.transport == "modbus-rtu" and not _NO_SPACE.match(v):
        return f"a Modbus RTU meter needs the RS-485 adapter it is on (for example /dev/ttyUSB0), got {_shown(v)}"
    return None


def _baudrate(_m: MeterSpec, v: Any) -> str | None:
    ok = _is_int(v) and v in BAUDRATES
    return None if ok else f"expected a standard RS-485 rate ({', '.join(map(str, BAUDRATES))}), got {_shown(v)}"


def _dev_eui(m: MeterSpec, v: Any) -> str | None:
    if not isinstance(v, str):
        return f"expected 16 hex digits, got {_shown(v)}"
    if (m.transport == "lorawan" or v) and not _DEV_EUI.match(v):
        return f"a LoRaWAN meter needs its DevEUI of 16 hex digits, got {_shown(v)}"
    return None


def _archive_kinds(_m: MeterSpec, v: Any) -> str | None:
    ok = (isinstance(v, list) and v and all(isinstance(k, str) and k in _KINDS for k in v)
          and len(set(v)) == len(v))
    return None if ok else f"expected a non-empty list of {', '.join(_KINDS)} without repeats, got {_shown(v)}"


def _depth(_m: MeterSpec, v: Any) -> str | None:
    ok = _is_int(v) and v >= 0
    return None if ok else f"expected whole days >= 0 (0: the model's depth by the catalogue), got {_shown(v)}"


def _reporting_day(_m: MeterSpec, v: Any) -> str | None:
    ok = _is_int(v) and 1 <= v <= 28
    return None if ok else f"expected a day of the month 1..28 (every month has it), got {_shown(v)}"


def _commissioned(_m: MeterSpec, v: Any) -> str | None:
    try:
        ok = isinstance(v, str) and datetime.fromisoformat(v).tzinfo is not None
    except ValueError:
        ok = False
    return None if ok else ("expected an ISO date and time with its UTC offset (2026-01-10T00:00:00+00:00), "
                            f"got {_shown(v)}")


_CHECKS: tuple[tuple[str, Callable[[MeterSpec, Any], str | None]], ...] = (
    ("serial", _serial), ("model", _model), ("transport", _transport), ("host", _host), ("port", _port),
    ("unit", _unit), ("serial_port", _serial_port), ("baudrate", _baudrate), ("dev_eui", _dev_eui),
    ("archive_kinds", _archive_kinds), ("archive_depth_days", _depth), ("daily_depth_days", _depth),
    ("monthly_depth_days", _depth), ("reporting_day", _reporting_day), ("commissioned", _commissioned))
