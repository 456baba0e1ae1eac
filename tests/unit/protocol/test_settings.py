"""Typed settings (protocol/settings.py): dataclasses in, ConfigError naming the file, the
dotted key and the reason out; DOMUCHET_<SECTION>_<KEY> environment overrides."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from protocol.settings import ConfigError, build, env_overrides

SOURCE = "edge.toml"


@dataclass(frozen=True)
class Device:
    serial: str
    transport: Literal["modbus-tcp", "modbus-rtu", "lorawan"]
    unit: int = 1


@dataclass(frozen=True)
class Buffer:
    path: Path
    max_mb: float = 512.0


@dataclass(frozen=True)
class Edge:
    site: str
    buffer: Buffer
    poll_seconds: int = 60
    clock_threshold_s: float = 30.0
    verbose: bool = False
    log_format: Literal["json", "kv"] = "kv"
    devices: list[Device] = field(default_factory=list)
    nats_url: str | None = None

    def __post_init__(self) -> None:
        if self.poll_seconds < 1:
            raise ValueError(f"poll_seconds must be >= 1, got {self.poll_seconds}")


GOOD_TOML = """
site = "demo"
poll_seconds = 30
clock_threshold_s = 5
log_format = "json"
nats_url = "nats://127.0.0.1:4222"

[buffer]
path = "/var/lib/domuchet/buffer.db"

[[devices]]
serial = "30700101"
transport = "modbus-tcp"
unit = 3

[[devices]]
serial = "22342000001"
transport = "lorawan"
"""


def _error(data: dict, cls: type = Edge) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        build(cls, data, SOURCE)
    assert str(info.value).startswith(f"{SOURCE}: {info.value.key}: ")
    assert info.value.source == SOURCE
    return info.value


def _good() -> dict:
    return tomllib.loads(GOOD_TOML)


def test_builds_nested_dataclasses() -> None:
    edge = build(Edge, _good(), SOURCE)
    assert edge == Edge(
        site="demo", buffer=Buffer(Path("/var/lib/domuchet/buffer.db")), poll_seconds=30, clock_threshold_s=5.0,
        log_format="json", nats_url="nats://127.0.0.1:4222",
        devices=[Device("30700101", "modbus-tcp", 3), Device("22342000001", "lorawan")],
    )
    assert isinstance(edge.clock_threshold_s, float)  # a TOML integer is accepted for a float
    assert isinstance(edge.buffer.path, Path)
    assert all(isinstance(d, Device) for d in edge.devices)


def test_defaults_apply() -> None:
    edge = build(Edge, {"site": "s", "buffer": {"path": "b.db"}}, SOURCE)
    assert (edge.poll_seconds, edge.verbose, edge.log_format) == (60, False, "kv")
    assert (edge.devices, edge.nats_url) == ([], None)
    assert edge.buffer.max_mb == 512.0


def test_unknown_key_with_did_you_mean() -> None:
    data = _good()
    data["pol_seconds"] = 10
    err = _error(data)
    assert err.key == "pol_seconds"
    assert "unknown key" in err.reason
    assert "did you mean 'poll_seconds'" in err.reason


def test_unknown_key_without_a_close_match() -> None:
    data = _good()
    data["zzzz"] = 1
    err = _error(data)
    assert err.key == "zzzz"
    assert "did you mean" not in err.reason


def test_unknown_key_in_a_nested_list_item() -> None:
    data = _good()
    data["devices"][1]["seriall"] = "x"
    err = _error(data)
    assert err.key == "devices[1].seriall"
    assert "did you mean 'serial'" in err.reason


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("poll_seconds", "30", "expected int"),
        ("poll_seconds", 30.5, "expected int"),
        ("poll_seconds", True, "expected int"),
        ("clock_threshold_s", "5", "expected float"),
        ("clock_threshold_s", False, "expected float"),
        ("verbose", 1, "expected bool"),
        ("site", 7, "expected str"),
        ("devices", {"serial": "1"}, "expected an array"),
        ("buffer", "buffer.db", "expected a table"),
        ("nats_url", 4222, "expected str"),
    ],
)
def test_wrong_type_names_the_key(key: str, value: object, expected: str) -> None:
    data = _good()
    data[key] = value
    err = _error(data)
    assert err.key == key
    assert expected in err.reason


def test_wrong_type_inside_nested_table_and_list() -> None:
    data = _good()
    data["devices"][0]["unit"] = "3"
    assert _error(data).key == "devices[0].unit"
    data = _good()
    data["buffer"]["max_mb"] = "lots"
    assert _error(data).key == "buffer.max_mb"
    data = _good()
    data["devices"][1] = "lorawan"
    assert _error(data).key == "devices[1]"


@pytest.mark.parametrize("value", ["", 5])
def test_path_must_be_a_non_empty_string(value: object) -> None:
    data = _good()
    data["buffer"]["path"] = value
    err = _error(data)
    assert err.key == "buffer.path"
    assert "path" in err.reason


@pytest.mark.parametrize(
    ("remove", "key"),
    [(("site",), "site"), (("buffer",), "buffer"), (("buffer", "path"), "buffer.path")],
)
def test_missing_required_key(remove: tuple[str, ...], key: str) -> None:
    data = _good()
    target = data
    for part in remove[:-1]:
        target = target[part]
    del target[remove[-1]]
    err = _error(data)
    assert err.key == key
    assert "missing" in err.reason


def test_missing_required_key_in_a_list_item() -> None:
    data = _good()
    del data["devices"][0]["transport"]
    err = _error(data)
    assert err.key == "devices[0].transport"


def test_literal_value_must_be_one_of_the_choices() -> None:
    data = _good()
    data["devices"][0]["transport"] = "modbus-udp"
    err = _error(data)
    assert err.key == "devices[0].transport"
    assert "'modbus-tcp'" in err.reason
    assert "'modbus-udp'" in err.reason
    data = _good()
    data["log_format"] = "JSON"
    assert _error(data).key == "log_format"


def test_post_init_check_becomes_config_error() -> None:
    data = _good()
    data["poll_seconds"] = 0
    err = _error(data)
    assert err.key == "(top)"
    assert "poll_seconds must be >= 1" in err.reason


def test_top_level_must_be_a_table() -> None:
    err = _error([1, 2])  # type: ignore[arg-type]
    assert err.key == "(top)"


def test_env_overrides_scalars_by_type() -> None:
    environ = {
        "DOMUCHET_EDGE_POLL_SECONDS": "15",
        "DOMUCHET_EDGE_CLOCK_THRESHOLD_S": "2.5",
        "DOMUCHET_EDGE_VERBOSE": "yes",
        "DOMUCHET_EDGE_SITE": "other",
        "DOMUCHET_CLOUD_SITE": "ignored",  # another section
        "domuchet_edge_log_format": "json",  # names are upper case
    }
    data = _good()
    merged = env_overrides(data, environ, "edge", Edge)
    assert merged["poll_seconds"] == 15
    assert merged["clock_threshold_s"] == 2.5
    assert merged["verbose"] is True
    assert merged["site"] == "other"
    assert merged["log_format"] == "json"  # from the file, the lower-case variable is not read
    assert data["poll_seconds"] == 30  # the input is not modified
    edge = build(Edge, merged, SOURCE)
    assert (edge.poll_seconds, edge.site, edge.verbose) == (15, "other", True)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("on", True), ("0", False),
                                                ("false", False), ("no", False), ("", False)])
def test_env_bool(raw: str, expected: bool) -> None:
    merged = env_overrides({"verbose": not expected}, {"DOMUCHET_EDGE_VERBOSE": raw}, "edge", Edge)
    assert merged["verbose"] is expected


def test_env_string_for_literal_is_checked_by_build() -> None:
    merged = env_overrides(_good(), {"DOMUCHET_EDGE_LOG_FORMAT": "xml"}, "edge", Edge)
    assert _error(merged).key == "log_format"


@pytest.mark.parametrize(("var", "raw", "key"), [("DOMUCHET_EDGE_POLL_SECONDS", "often", "poll_seconds"),
                                                  ("DOMUCHET_EDGE_CLOCK_THRESHOLD_S", "5s", "clock_threshold_s")])
def test_env_bad_number_names_the_variable(var: str, raw: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        env_overrides(_good(), {var: raw}, "edge", Edge)
    assert info.value.source == f"environment {var}"
    assert info.value.key == key
    assert repr(raw) in info.value.reason
