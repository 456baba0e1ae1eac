"""Typed settings from a parsed TOML document: dataclasses in, clear errors out.

Every tier describes its config section as dataclasses; ``build`` checks a parsed TOML
table against them and raises ConfigError naming the file, the dotted key and the reason.
``env_overrides`` applies DOMUCHET_<SECTION>_<KEY> variables to scalar keys; an error in a
value that came from one names the variable as its source. A numeric setting declares its range
with ``bounded`` (field metadata): ``build`` checks it before the dataclass is made, and
``check_ranges`` (called from ``__post_init__``) holds it for code that makes the dataclass
directly. Pure: the caller reads the file.
Tests: tests/unit/protocol/test_settings_ranges.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.source, self.key, self.reason = source, key, reason


@dataclass(frozen=True, slots=True)
class Range:
    """The values a numeric setting may take: ``low``..``high`` inclusive; ``above`` makes the low
    end exclusive (a duration that must be positive). NaN is never in range."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    why: str = ""

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            text = f"in ({self.low:g}, {self.high:g}]" if self.above else f"{self.low:g}..{self.high:g}"
        elif self.low is not None:
            text = f"> {self.low:g}" if self.above else f">= {self.low:g}"
        else:
            text = f"<= {self.high:g}"
        return f"{text} ({self.why})" if self.why else text

    def holds(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high


_RANGE = "range"


def bounded(default: Any, low: float | None = None, high: float | None = None, *, above: bool = False,
            why: str = "") -> Any:
    """A dataclass field with ``default`` whose value must lie in ``Range(low, high, above)``;
    ``why`` is told with a refusal."""
    return dataclasses.field(default=default, metadata={_RANGE: Range(low, high, above, why)})


def range_of(f: dataclasses.Field) -> Range | None:
    return f.metadata.get(_RANGE)


def range_problem(f: dataclasses.Field, value: Any) -> str | None:
    """Why ``value`` is out of the field's declared range, or None (also for a field without one)."""
    allowed = range_of(f)
    if allowed is None or value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if allowed.holds(value) else f"must be {allowed.describe()}, got {value!r}"


def check_ranges(obj: Any) -> None:
    """Raise ValueError naming the first field of dataclass ``obj`` outside its declared range."""
    for f in dataclasses.fields(obj):
        problem = range_problem(f, getattr(obj, f.name))
        if problem is not None:
            raise ValueError(f"{f.name} {problem}")


def env_var(section: str, key: str) -> str:
    return f"DOMUCHET_{section}_{key}".upper()


def build(cls: type[T], data: Mapping[str, Any], source: str, prefix: str = "",
          sources: Mapping[str, str] | None = None) -> T:
    """Instantiate dataclass ``cls`` from ``data``; unknown keys, wrong types and values out of a
    field's range are errors. ``sources`` names where some keys came from instead of ``source``
    (e.g. the environment variable that set them)."""
    sources = sources or {}
    if not isinstance(data, Mapping):
        raise ConfigError(source, prefix or "(top)", f"expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(source, _join(prefix, key), f"unknown key{hint}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = _join(prefix, name)
        if name in data:
            where = sources.get(name, source)
            kwargs[name] = _convert(hints[name], data[name], where, key)
            problem = range_problem(f, kwargs[name])
            if problem is not None:
                raise ConfigError(where, key, problem)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(source, key, "required key is missing")
    try:
        return cls(**kwargs)
    except ValueError as exc:  # __post_init__ checks
        named = [sources[n] for n in sources if n in kwargs and str(exc).startswith(n)]
        raise ConfigError(named[0] if named else source, prefix or "(top)", str(exc)) from exc


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _convert(hint: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return None
        return _convert(options[0], value, source, key)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(source, key, f"expected an array, got {type(value).__name__}")
        return [_convert(item, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(source, key, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, source, key)  # type: ignore[arg-type]
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(source, key, f"expected a path string, got {value!r}")
        return Path(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ConfigError(source, key, f"expected {hint.__name__}, got {type(value).__name__} {value!r}")
        return value
    raise ConfigError(source, key, f"unsupported setting type {hint!r}")  # a bug in the dataclass


def env_overrides(data: dict[str, Any], environ: Mapping[str, str], section: str, cls: type) -> dict[str, Any]:
    """Return ``data`` with DOMUCHET_<SECTION>_<KEY> variables applied to scalar keys of ``cls``."""
    merged = dict(data)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        var = env_var(section, f.name)
        if var not in environ:
            continue
        raw, hint = environ[var], hints[f.name]
        if hint is int:
            try:
                merged[f.name] = int(raw)
            except ValueError:
                raise ConfigError(f"environment {var}", f.name, f"expected an integer, got {raw!r}") from None
        elif hint is float:
            try:
                merged[f.name] = float(raw)
            except ValueError:
                raise ConfigError(f"environment {var}", f.name, f"expected a number, got {raw!r}") from None
        elif hint is bool:
            merged[f.name] = raw.lower() in ("1", "true", "yes", "on")
        else:
            merged[f.name] = raw
    return merged


def env_sources(environ: Mapping[str, str], section: str, cls: type) -> dict[str, str]:
    """Key -> "environment DOMUCHET_<SECTION>_<KEY>" for the keys of ``cls`` the environment sets."""
    return {f.name: f"environment {env_var(section, f.name)}" for f in dataclasses.fields(cls)
            if env_var(section, f.name) in environ}
