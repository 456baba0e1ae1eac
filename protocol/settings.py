"""Typed settings from a parsed TOML document: dataclasses in, clear errors out.

Every tier describes its config section as dataclasses; ``build`` checks a parsed TOML
table against them and raises ConfigError naming the file, the dotted key and the reason.
``env_overrides`` applies DOMUCHET_<SECTION>_<KEY> variables to scalar keys. Pure: the
caller reads the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.source, self.key, self.reason = source, key, reason


def build(cls: type[T], data: Mapping[str, Any], source: str, prefix: str = "") -> T:
    """Instantiate dataclass ``cls`` from ``data``; unknown keys and wrong types are errors."""
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
            kwargs[name] = _convert(hints[name], data[name], source, key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(source, key, "required key is missing")
    try:
        return cls(**kwargs)
    except ValueError as exc:  # __post_init__ checks
        raise ConfigError(source, prefix or "(top)", str(exc)) from exc


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
        var = f"DOMUCHET_{section}_{f.name}".upper()
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
