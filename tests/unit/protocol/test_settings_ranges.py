"""Numeric settings declare their ranges (protocol.settings.bounded): a value outside is refused
with the file or the environment variable it came from, the dotted key and the allowed range."""

from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path

import pytest

from cloud.config import CloudConfig
from edge.config import EdgeConfig
from protocol.settings import ConfigError, bounded, build, check_ranges, env_overrides, env_sources, range_of

EDGE = {"site": "demo", "time_zone": "Europe/Moscow", "data_dir": "/tmp/edge"}


def test_a_negative_poll_interval_is_refused_with_its_range() -> None:
    # the finding: poll_interval_s = -1 was accepted and the agent logged 5,300 lines a second
    with pytest.raises(ConfigError) as caught:
        build(EdgeConfig, {**EDGE, "poll_interval_s": -1}, "edge.toml", "edge")
    assert caught.value.source == "edge.toml"
    assert caught.value.key == "edge.poll_interval_s"
    assert caught.value.reason == "must be 0.05..3600, got -1.0"


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("poll_interval_s", math.nan, "must be 0.05..3600, got nan"),  # NaN compares false with any bound
    ("poll_interval_s", 0.04, "must be 0.05..3600, got 0.04"),
    ("downlink_timeout_s", 0, "must be in (0, 604800], got 0.0"),  # 7 days = 604,800 s; 0 is excluded
    ("command_workers", 65, "must be 1..64, got 65"),
    ("mqtt_port", 65536, "must be 1..65535, got 65536"),
    ("status_port", -1, "must be 0..65535, got -1"),
])
def test_every_bound_is_told(key: str, value: float, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(EdgeConfig, {**EDGE, key: value}, "edge.toml", "edge")
    assert (caught.value.key, caught.value.reason) == (f"edge.{key}", reason)


def test_the_ends_of_a_range_are_allowed() -> None:
    config = build(EdgeConfig, {**EDGE, "poll_interval_s": 0.05, "command_workers": 64, "status_port": 0},
                   "edge.toml", "edge")
    assert (config.poll_interval_s, config.command_workers, config.status_port) == (0.05, 64, 0)


def test_a_value_from_the_environment_names_the_variable() -> None:
    environ = {"DOMUCHET_EDGE_POLL_INTERVAL_S": "-1"}
    data = env_overrides(dict(EDGE), environ, "edge", EdgeConfig)
    with pytest.raises(ConfigError) as caught:
        build(EdgeConfig, data, "(defaults)", "edge", env_sources(environ, "edge", EdgeConfig))
    assert caught.value.source == "environment DOMUCHET_EDGE_POLL_INTERVAL_S"
    assert "(defaults)" not in str(caught.value)


def test_a_cross_field_check_also_names_the_variable() -> None:
    environ = {"DOMUCHET_CLOUD_NATS_REPLICAS": "2"}
    data = env_overrides({"data_dir": "/tmp/c"}, environ, "cloud", CloudConfig)
    with pytest.raises(ConfigError) as caught:
        build(CloudConfig, data, "(defaults)", "cloud", env_sources(environ, "cloud", CloudConfig))
    assert caught.value.source == "environment DOMUCHET_CLOUD_NATS_REPLICAS"


def test_made_directly_the_dataclass_holds_its_ranges_too() -> None:
    with pytest.raises(ValueError, match=r"^session_hours must be in \(0, 24\] \(sessions expire at least daily\), "
                                         r"got 48"):
        CloudConfig(data_dir=Path("/tmp/c"), session_hours=48)


def test_a_declared_range_with_its_reason() -> None:
    @dataclasses.dataclass(frozen=True)
    class Pump:
        rate: float = bounded(1.0, 0.0, 10.0, above=True, why="litres a second")

    with pytest.raises(ValueError, match=r"rate must be in \(0, 10\] \(litres a second\), got 0"):
        check_ranges(Pump(rate=0))
    check_ranges(Pump(rate=10.0))


@pytest.mark.parametrize("cls", [EdgeConfig, CloudConfig])
def test_every_numeric_setting_declares_its_range(cls: type) -> None:
    hints = typing.get_type_hints(cls)
    numeric = [f.name for f in dataclasses.fields(cls) if hints[f.name] in (int, float)]
    unbounded = [name for name in numeric
                 if range_of(next(f for f in dataclasses.fields(cls) if f.name == name)) is None]
    # nats_replicas is checked as a choice (1, 3 or 5) in __post_init__, not as a range
    assert [n for n in unbounded if n != "nats_replicas"] == []
    assert numeric  # the sweep looked at something
