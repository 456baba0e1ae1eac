"""Cloud -> edge commands (protocol/commands.py): golden bytes, round trips of every type,
and malformed commands refused with DecodeError naming the field."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from protocol.commands import Command, CommandType, decode_command, encode_command
from protocol.errors import DecodeError

GOLDEN = Command(id="c-1", site="demo", type=CommandType.RELAY, args={"meter": "94100001", "on": False},
                 issued_at=1.5, expires_at=0.0)
# 87 = map of 7; a1 "v" 01; a2 "id" a3 "c-1"; a4 "site" a4 "demo"; a4 "type" a5 "relay";
# a4 "args" 82 {a5 "meter" a8 "94100001", a2 "on" c2 (false)}; a2 "at" cb 1.5; a7 "expires" cb 0.0
GOLDEN_BYTES = bytes.fromhex(
    "87" "a176" "01" "a26964" "a3632d31" "a473697465" "a464656d6f" "a474797065" "a572656c6179"
    "a461726773" "82" "a56d65746572" "a83934313030303031" "a26f6e" "c2"
    "a26174" "cb3ff8000000000000" "a765787069726573" "cb0000000000000000"
)

EXAMPLES = [
    Command("b", "demo", CommandType.BACKFILL, {"meter": "30700101", "kind": "hour", "from": 0, "to": 7200}),
    Command("t", "demo", CommandType.TIME_SYNC, {"meter": "30700101", "force": True}),
    Command("r", "demo", CommandType.RELAY, {"meter": "94100001", "on": True, "limit_w": 3500}),
    Command("m", "demo", CommandType.METER_CONFIG, {"meters": [{"serial": "1", "model": "KARAT-307"}]}),
    Command("a", "demo", CommandType.AVAILABILITY, {"meter": "30700101"}),
    Command("c", "demo", CommandType.READ_CURRENT, {"meter": "30700101"}, issued_at=5.0, expires_at=65.0),
]


def test_golden() -> None:
    assert encode_command(GOLDEN) == GOLDEN_BYTES
    assert decode_command(GOLDEN_BYTES) == GOLDEN


@pytest.mark.parametrize("command", EXAMPLES, ids=[c.type.value for c in EXAMPLES])
def test_round_trip(command: Command) -> None:
    assert decode_command(encode_command(command)) == command


def _with(**changes: Any) -> bytes:
    doc = msgpack.unpackb(GOLDEN_BYTES)
    doc.update(changes)
    return msgpack.packb(doc)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\xc1", "command"),
        (msgpack.packb([1]), "command"),
        (_with(v=2), "v"),
        (_with(id=""), "id"),
        (_with(site="Bad Site"), "site"),
        (_with(type="reboot"), "type"),
        (_with(args=[]), "args"),
        (_with(at="now"), "at"),
        (_with(expires=float("nan")), "expires"),
        (_with(args={"on": True}), "args.meter"),
        (_with(args={"meter": "1", "on": "yes"}), "args.on"),
        (_with(args={"meter": "1", "on": True, "colour": 1}), "args.colour"),
        (_with(args={"meter": "1", "on": True, "limit_w": -5}), "args.limit_w"),
        (_with(args={"meter": "", "on": True}), "args.meter"),
        (_with(type="backfill", args={"meter": "1", "kind": "week", "from": 0, "to": 1}), "args.kind"),
        (_with(type="backfill", args={"meter": "1", "kind": "hour", "from": 10, "to": 1}), "args.to"),
        (_with(type="backfill", args={"meter": "1", "kind": "hour", "from": True, "to": 1}), "args.from"),
        (_with(type="meter_config", args={"meters": [{"model": "x"}]}), "args.meters[0]"),
    ],
)
def test_malformed_command_names_the_field(data: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_command(data)
    assert info.value.field == field


def test_constructor_checks_args_too() -> None:
    with pytest.raises(DecodeError, match=r"args\.meter"):
        Command("x", "demo", CommandType.AVAILABILITY, {})
