"""The one config file (TOML) of every `domuchet` command: [nats], [sim], [edge], [cloud]
tables, each checked against its dataclass; environment variables DOMUCHET_<TABLE>_<KEY>
override scalar keys. Errors name the file and the key."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from domuchet.natsserver import NatsSettings
from protocol.settings import ConfigError, bounded, build, env_overrides, env_sources

T = TypeVar("T")
DEFAULT_DATA_DIR = Path("domuchet-data")
_TABLES = ("nats", "sim", "edge", "cloud")


@dataclass(frozen=True, slots=True)
class SimSettings:
    scenario: str = "demo"
    speed: float = bounded(0.0, 0.0, 100_000.0)  # 0 = the scenario's own speed
    host: str = "127.0.0.1"
    modbus_port: int = bounded(5020, 1, 65535)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = bounded(1883, 1, 65535)
    mqtt_user: str = ""  # the network server's MQTT user (docs/deploy.md); empty: anonymous
    mqtt_password: str = ""
    weather_port: int = bounded(8090, 0, 65535)  # the simulated weather station's HTTP feed; 0: none
    control_port: int = bounded(0, 0, 65535)  # the engineer's hand: POST /magnet/<device> wakes a LoRa device; 0: none


def read(path: Path | None) -> dict[str, Any]:
    """The parsed config file ({} without one); unknown tables are refused."""
    if path is None:
        return {}
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", str(exc)) from exc
    for key in doc:
        if key not in _TABLES:
            raise ConfigError(str(path), key, f"unknown table; expected one of {', '.join(_TABLES)}")
    return doc


def section(doc: dict[str, Any], name: str, cls: type[T], path: Path | None, **overrides: Any) -> T:
    data = env_overrides(dict(doc.get(name, {})), os.environ, name, cls)
    given = {k: v for k, v in overrides.items() if v is not None}
    data.update(given)
    sources = {k: v for k, v in env_sources(os.environ, name, cls).items() if k not in given}
    sources.update({k: f"command line ({k})" for k in given})
    return build(cls, data, str(path) if path else "(defaults)", name, sources)


def nats(doc: dict[str, Any], path: Path | None, **overrides: Any) -> NatsSettings:
    return section(doc, "nats", NatsSettings, path, **overrides)
