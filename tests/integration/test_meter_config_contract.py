"""The meter list as a contract (protocol/meters.py) on both tiers: the edge refuses a pushed
list with one bad entry as a whole, with a failed result naming the entry and the field, and
keeps polling its running list; the cloud refuses to build a meter_config command from registry
rows that cannot make a valid entry, naming each such meter, instead of pushing it."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from cloud.seed import BuildingSeed, PremiseSeed, UserSeed, seed_building, seed_company
from cloud.services.auth import AuthService
from cloud.services.commands import CommandService
from cloud.services.models import InvalidInput
from cloud.storage.registry import Registry
from edge.agent import EdgeAgent
from edge.config import EdgeConfig, MeterConfig, parse_meters
from protocol.commands import Command, CommandType, encode_command
from protocol.settings import ConfigError, build

COMMISSIONED = "2026-01-10T00:00:00+00:00"
TCP: dict[str, Any] = {"serial": "30700001", "model": "KARAT-307", "transport": "modbus-tcp",
                       "commissioned": COMMISSIONED, "host": "10.0.0.5", "port": 502, "unit": 1}
RTU: dict[str, Any] = {"serial": "30600002", "model": "KARAT-306", "transport": "modbus-rtu",
                       "commissioned": COMMISSIONED, "serial_port": "/dev/ttyUSB0", "unit": 2, "baudrate": 19200}
LORA: dict[str, Any] = {"serial": "223000003", "model": "KARAT-Compact-2-223", "transport": "lorawan",
                        "commissioned": COMMISSIONED, "dev_eui": "70b3d5e75e2a0003"}


# neighbours of a bad entry in a list: their serials and DevEUI are their own
OTHER_LORA = {**LORA, "serial": "223000010", "dev_eui": "70b3d5e75e2a0010"}
OTHER_RTU = {**RTU, "serial": "30600011"}


def _without(entry: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != key}


# (case, bad entry, the field the error must name)
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("port as text", {**TCP, "port": "502"}, "port"),
    ("unknown transport", {**TCP, "transport": "bogus"}, "transport"),
    ("unknown model", {**TCP, "model": "KARAT-999"}, "model"),
    ("a 307 has no radio", {**TCP, "transport": "lorawan", "dev_eui": "70b3d5e75e2a0009"}, "transport"),
    ("a Compact-2 has no Modbus", {**LORA, "transport": "modbus-tcp"}, "transport"),
    ("LoRa without dev_eui", _without(LORA, "dev_eui"), "dev_eui"),
    ("dev_eui of 15 digits", {**LORA, "dev_eui": "70b3d5e75e2a000"}, "dev_eui"),
    ("dev_eui not hex", {**LORA, "dev_eui": "70b3d5e75e2a000g"}, "dev_eui"),
    ("TCP with an empty host", {**TCP, "host": ""}, "host"),
    ("TCP with no host (null)", {**TCP, "host": None}, "host"),
    ("TCP with no port (null)", {**TCP, "port": None}, "port"),
    ("port 0", {**TCP, "port": 0}, "port"),
    ("port 65536", {**TCP, "port": 65536}, "port"),  # 2**16: one past the largest TCP port
    ("unit 0", {**TCP, "unit": 0}, "unit"),
    ("unit 248", {**TCP, "unit": 248}, "unit"),  # Modbus unit addresses are 1..247
    ("RTU without serial_port", _without(RTU, "serial_port"), "serial_port"),
    ("unknown key", {**TCP, "colour": "blue"}, "colour"),
    ("commissioned without an offset", {**TCP, "commissioned": "2026-01-10T00:00"}, "commissioned"),
    ("commissioned not a time", {**TCP, "commissioned": "yesterday"}, "commissioned"),
    ("archive kind unknown", {**TCP, "archive_kinds": ["hour", "week"]}, "archive_kinds"),
    ("reporting_day 0", {**TCP, "reporting_day": 0}, "reporting_day"),
    ("reporting_day 29", {**TCP, "reporting_day": 29}, "reporting_day"),  # 1..28: every month has the day
]


# --- the edge's parse of a pushed (or persisted) list -------------------------------------------

@pytest.mark.parametrize(("entry", "field"), [(e, f) for _, e, f in BAD], ids=[c for c, _, _ in BAD])
def test_the_edge_refuses_a_bad_entry_naming_it_and_its_field(entry: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"args.meters[1].{field}:")):
        parse_meters([OTHER_LORA, entry, OTHER_RTU], "args.meters")


def test_a_port_given_as_text_is_refused_with_the_value_shown() -> None:
    with pytest.raises(ValueError, match="port") as caught:
        parse_meters([TCP, RTU, LORA, {**TCP, "serial": "30700004", "port": "502"}])
    assert str(caught.value) == 'meters[3].port: expected an integer 1..65535, got "502"'


def test_duplicate_serials_name_both_entries() -> None:
    with pytest.raises(ValueError, match=re.escape('meters[2].serial: "30700001" is also meters[0]')):
        parse_meters([TCP, LORA, {**RTU, "serial": "30700001"}])


def test_the_edge_takes_entries_at_the_limits() -> None:
    at_limits = [{**TCP, "port": 65535, "unit": 247, "reporting_day": 28},
                 {**RTU, "unit": 1}, {**LORA, "dev_eui": "70B3D5E75E2A0003"}]  # upper-case hex is hex too
    assert [(m.serial, m.port, m.unit) for m in parse_meters(at_limits)] == [
        ("30700001", 65535, 247), ("30600002", 502, 1), ("223000003", 502, 1)]


def test_a_toml_meter_goes_through_the_same_checks(tmp_path: Path) -> None:
    """settings.build makes MeterConfig from the [[edge.meters]] table: a value the contract
    refuses is refused there too, naming the entry and the field."""
    def edge(meter: dict[str, Any]) -> EdgeConfig:
        return build(EdgeConfig, {"site": "t", "time_zone": "Europe/Moscow", "data_dir": str(tmp_path),
                                  "meters": [LORA, meter]}, "edge.toml", "edge")
    assert [m.serial for m in edge(TCP).meters] == ["223000003", "30700001"]
    for meter, field in (({**TCP, "port": 0}, "port"), ({**LORA, "serial": "x", "dev_eui": "zz"}, "dev_eui"),
                         ({**TCP, "model": "KARAT-307", "transport": "lorawan"}, "transport"),
                         ({**TCP, "commissioned": "2026-01-10T00:00"}, "commissioned")):
        with pytest.raises(ConfigError, match=re.escape("edge.meters[1]") + r".*" + field):
            edge(meter)
    with pytest.raises(ConfigError, match=re.escape('edge: meters[1].serial: "223000003" is also meters[0]')):
        edge({**LORA, "dev_eui": "70b3d5e75e2a0004"})


# --- the edge's command runner: a bad list is refused whole, the running list stays --------------

async def _run(agent: EdgeAgent, meters: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Carry out one meter_config command on the agent's runner (no NATS); its final state and detail."""
    command = Command(id=f"cfg-{time.monotonic_ns()}", site="t", type=CommandType.METER_CONFIG,
                      args={"meters": meters}, issued_at=time.time())
    accepted = agent.commands.accept(encode_command(command), "test")
    assert accepted is not None
    agent.commands.start(accepted)
    for _ in range(200):
        if agent.commands.state(command.id) != "accepted":
            break
        await asyncio.sleep(0.01)
    state, detail = agent.buffer.db.execute("SELECT state, detail FROM commands WHERE id = ?",
                                            [command.id]).fetchone()
    return state, json.loads(detail)


async def test_a_pushed_list_with_one_bad_entry_is_refused_whole(tmp_path: Path) -> None:
    running = MeterConfig(**TCP)
    agent = EdgeAgent(EdgeConfig(site="t", time_zone="Europe/Moscow", data_dir=tmp_path, status_port=0,
                                 meters=[running]))
    try:
        state, detail = await _run(agent, [RTU, {**TCP, "serial": "30700005", "port": "502"}])
        assert state == "failed"
        assert detail["reason"] == 'args.meters[1].port: expected an integer 1..65535, got "502"'
        assert agent.config.meters == [running]  # nothing of the list was taken, not even its good entry
        assert [p.meter.serial for p in agent.pollers] == ["30700001"]
        assert not (tmp_path / "meters.json").exists()

        state, detail = await _run(agent, [RTU])  # a good list is taken and kept ...
        assert (state, detail["added"], detail["removed"]) == ("done", ["30600002"], ["30700001"])
        kept = (tmp_path / "meters.json").read_text()
        state, detail = await _run(agent, [RTU, {**LORA, "transport": "bogus"}])  # ... and survives a bad one
        assert (state, detail["reason"]) == ("failed", "args.meters[1].transport: expected one of "
                                             "modbus-tcp, modbus-rtu, lorawan, got \"bogus\"")
        assert [m.serial for m in agent.config.meters] == ["30600002"]
        assert (tmp_path / "meters.json").read_text() == kept
    finally:
        agent.buffer.close()


# --- the cloud's building of the list -----------------------------------------------------------

ENGINEER = UserSeed("eng", "Инженер Тест", "engineer", "eng-pass")


@pytest.fixture
def cloud(tmp_path: Path) -> tuple[Registry, CommandService, int]:
    registry = Registry(tmp_path / "registry.db")
    company = seed_company(registry, "УК Контракт", "Казань", (ENGINEER,))
    seed_building(registry, company, BuildingSeed(
        site="contract", address="ул. Договорная, 1", city="Казань", time_zone="Europe/Moscow",
        heat_meter_serial="307C0001", heat_meter_model="KARAT-307",
        heat_meter_communicator="Modbus TCP 10.0.0.5:502 #1",
        premises=(PremiseSeed("1", 50.0, 2, "223C0001", "KARAT-Compact-2-223", "LoRaWAN 70B3D5E75E2A0001"),
                  PremiseSeed("2", 60.0, 2, "223C0002", "KARAT-Compact-2-223", "LoRaWAN 70B3D5E75E2A0002"))))
    return registry, CommandService(registry, AuthService(registry)), company


async def _issue(registry: Registry, commands: CommandService) -> Any:
    token = (await commands.auth.login("eng", "eng-pass")).token
    return await commands.issue(token, "meter_config", site="contract")


def _commands(registry: Registry) -> int:
    return registry.one("SELECT count(*) AS n FROM commands")["n"]


async def test_the_cloud_pushes_a_valid_list(cloud) -> None:
    registry, commands, _company = cloud
    issued = await _issue(registry, commands)
    assert [m.serial for m in parse_meters(issued.args["meters"])] == ["223C0001", "223C0002", "307C0001"]


@pytest.mark.parametrize(("update", "serial", "field"), [
    ("UPDATE meters SET communicator = 'Modbus TCP 10.0.0.5:0 #1' WHERE serial = '307C0001'", "307C0001", "port"),
    ("UPDATE meters SET communicator = 'Modbus TCP 10.0.0.5:502 #300' WHERE serial = '307C0001'", "307C0001", "unit"),
    ("UPDATE meters SET model = 'KARAT-999' WHERE serial = '223C0002'", "223C0002", "model"),
    ("UPDATE meters SET communicator = 'LoRaWAN 70B3D5E75E2A0009' WHERE serial = '307C0001'", "307C0001",
     "transport"),  # a KARAT-307 has no radio: only a 929LW on it has
], ids=["port 0", "unit 300", "unknown model", "transport the model has not"])
async def test_the_cloud_reports_a_registry_row_that_cannot_make_an_entry(cloud, update: str, serial: str,
                                                                          field: str) -> None:
    registry, commands, _company = cloud
    with registry.connect() as db:
        db.execute(update)
    with pytest.raises(InvalidInput, match=rf"meter {serial}\b.*\b{field}: "):
        await _issue(registry, commands)
    assert _commands(registry) == 0  # refused before a command was created, so nothing is pushed


async def test_the_cloud_names_every_bad_meter_at_once(cloud) -> None:
    """A LoRa communicator registered with a DevEUI of 14 hex digits (the registry checks only
    that there is one) and a TCP port out of range: both named, the good meter is not."""
    registry, commands, company = cloud
    with registry.connect() as db:
        lora = db.execute("INSERT INTO communicators (company_id, kind, placement, dev_eui, lora_class, "
                          "lorawan_version) VALUES (?, 'lora', 'builtin', '70B3D5E75E2A01', 'A', '1.0.3')",
                          (company,)).lastrowid
        db.execute("UPDATE meters SET communicator_id = ? WHERE serial = '223C0001'", (lora,))
        db.execute("UPDATE meters SET communicator = 'Modbus TCP 10.0.0.5:65536 #1' WHERE serial = '307C0001'")
    with pytest.raises(InvalidInput) as caught:
        await _issue(registry, commands)
    message = str(caught.value)
    assert re.search(r"meter 223C0001\b.*\bdev_eui: ", message), message
    assert re.search(r"meter 307C0001\b.*\bport: ", message), message
    assert "223C0002" not in message  # the good one is not blamed
    assert _commands(registry) == 0
