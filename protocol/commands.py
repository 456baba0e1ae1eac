"""Commands from the cloud to an edge agent (DESIGN.md section 6: ``du.<site>.down.cmd``).

A command is a msgpack map ``{"v": 1, "id", "site", "type", "args", "at", "expires"}``
published on stream DU_DOWN with ``Nats-Msg-Id = <id>``. The edge takes it from its durable
consumer (``subjects.edge_consumer``), persists it, acknowledges the message, carries it out
and answers with ``wire.CommandResult`` rows (``accepted``, then ``done`` or ``failed``) in its
ordinary outbox, so a result is as durable as an archive record. ``args`` are checked here,
per type, so that both tiers refuse the same malformed command with the same message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgpack

from protocol.errors import DecodeError
from protocol.subjects import check_site
from protocol.vocabulary import ArchiveKind

COMMAND_VERSION = 1


class CommandType(StrEnum):
    BACKFILL = "backfill"  # read a meter's archive of one kind for a period range again
    TIME_SYNC = "time_sync"  # measure a meter's clock offset and set its clock
    RELAY = "relay"  # an electricity meter's load relay: on/off with a power limit
    METER_CONFIG = "meter_config"  # the site's meter list: added, removed, changed at commissioning
    AVAILABILITY = "availability"  # availability test: does the meter answer now
    READ_CURRENT = "read_current"  # current readings, for reconciliation


# per type: argument -> (python type(s), required)
_ARGS: dict[CommandType, dict[str, tuple[tuple[type, ...], bool]]] = {
    CommandType.BACKFILL: {"meter": ((str,), True), "kind": ((str,), True), "from": ((int,), True),
                           "to": ((int,), True)},
    CommandType.TIME_SYNC: {"meter": ((str,), True), "force": ((bool,), False)},
    CommandType.RELAY: {"meter": ((str,), True), "on": ((bool,), True), "limit_w": ((int,), False)},
    CommandType.METER_CONFIG: {"meters": ((list,), True)},
    CommandType.AVAILABILITY: {"meter": ((str,), True)},
    CommandType.READ_CURRENT: {"meter": ((str,), True)},
}


@dataclass(frozen=True, slots=True)
class Command:
    id: str  # unique, chosen by the cloud (also the JetStream Nats-Msg-Id)
    site: str
    type: CommandType
    args: dict[str, Any] = field(hash=False, default_factory=dict)
    issued_at: float = 0.0  # UTC epoch seconds
    expires_at: float = 0.0  # past this the edge answers "failed: expired" instead of acting; 0 = never

    def __post_init__(self) -> None:
        check_args(self.type, self.args)


def check_args(kind: CommandType, args: dict[str, Any], where: str = "args") -> None:
    """Raise DecodeError naming the argument that is missing, unknown or of the wrong type."""
    spec = _ARGS[kind]
    for name in args:
        if name not in spec:
            raise DecodeError(f"{where}.{name}", f"unknown argument for a {kind.value} command "
                                                 f"(known: {', '.join(spec)})")
    for name, (types, required) in spec.items():
        if name not in args:
            if required:
                raise DecodeError(f"{where}.{name}", f"missing (a {kind.value} command needs it)")
            continue
        value = args[name]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            raise DecodeError(f"{where}.{name}", f"expected {' or '.join(t.__name__ for t in types)}, "
                                                 f"got {type(value).__name__}")
        if name == "meter" and not value:
            raise DecodeError(f"{where}.meter", "must not be empty")
    if kind is CommandType.BACKFILL:
        if args["kind"] not in {k.value for k in ArchiveKind}:
            raise DecodeError(f"{where}.kind", f"unknown archive kind {args['kind']!r}")
        if args["from"] < 0 or args["to"] < args["from"]:
            raise DecodeError(f"{where}.to", f"period range {args['from']}..{args['to']} is empty or negative")
    if kind is CommandType.RELAY and args.get("limit_w", 0) < 0:
        raise DecodeError(f"{where}.limit_w", f"must be >= 0 (0 = no limit), got {args['limit_w']}")
    if kind is CommandType.METER_CONFIG:
        for i, meter in enumerate(args["meters"]):
            if not isinstance(meter, dict) or not isinstance(meter.get("serial"), str) or not meter["serial"]:
                raise DecodeError(f"{where}.meters[{i}]", "must be a map with a non-empty serial")


def encode_command(command: Command) -> bytes:
    doc = {"v": COMMAND_VERSION, "id": command.id, "site": command.site, "type": command.type.value,
           "args": command.args, "at": command.issued_at, "expires": command.expires_at}
    return msgpack.packb(doc, use_bin_type=True)


def decode_command(data: bytes) -> Command:
    """Decode and validate a command; DecodeError names the first field that is wrong."""
    try:
        doc = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (msgpack.UnpackException, ValueError) as exc:
        raise DecodeError("command", f"not msgpack: {exc}") from exc
    if not isinstance(doc, dict):
        raise DecodeError("command", f"expected a map, got {type(doc).__name__}")
    if doc.get("v") != COMMAND_VERSION or type(doc.get("v")) is not int:
        raise DecodeError("v", f"unsupported command version {doc.get('v')!r} (this code reads {COMMAND_VERSION})")
    for key, kind in (("id", str), ("site", str), ("type", str), ("args", dict)):
        if not isinstance(doc.get(key), kind) or (kind is str and not doc[key]):
            raise DecodeError(key, f"missing or not a {'non-empty ' if kind is str else ''}{kind.__name__}")
    try:
        check_site(doc["site"])
    except ValueError as exc:
        raise DecodeError("site", str(exc)) from exc
    try:
        kind_ = CommandType(doc["type"])
    except ValueError:
        raise DecodeError("type", f"unknown command type {doc['type']!r}") from None
    times = []
    for key in ("at", "expires"):
        value = doc.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DecodeError(key, f"expected a finite number, got {value!r}")
        times.append(float(value))
    check_args(kind_, doc["args"])
    return Command(id=doc["id"], site=doc["site"], type=kind_, args=doc["args"], issued_at=times[0],
                   expires_at=times[1])
