"""Dependency direction of DESIGN.md section 2, checked on the source with ``ast``:
protocol/ imports only the standard library, msgpack and itself; edge/ and cloud/ never
import each other (nor ui/, simulators/, domuchet/); ui/ never touches cloud.storage.
A package directory that does not exist yet is skipped, not passed silently."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _resolve(path: Path, root: Path, level: int, module: str | None) -> str:
    """Absolute module name of a relative ``from ... import`` in ``path``."""
    package = list(path.relative_to(root).with_suffix("").parts)
    package = package[:-1]  # the package that holds the module (or that __init__.py is)
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([module] if module else [])])


def imported_modules(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in a file, wherever it is (functions, TYPE_CHECKING blocks).

    ``from a import b`` yields both ``a`` and ``a.b``, so ``from cloud import storage`` is seen as
    ``cloud.storage``. ``importlib.import_module("x")`` and ``__import__("x")`` with a literal count too.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(path, root, node.level, node.module) if node.level else (node.module or "")
            yield node.lineno, module
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{module}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def only(*allowed_top_level: str, stdlib: bool) -> Callable[[str], bool]:
    allowed = set(allowed_top_level) | (set(sys.stdlib_module_names) if stdlib else set())
    return lambda module: module.split(".")[0] in allowed


def never(*forbidden: str) -> Callable[[str], bool]:
    return lambda module: not any(_within(module, f) for f in forbidden)


@dataclass(frozen=True)
class Rule:
    package: str
    allows: Callable[[str], bool]
    says: str


RULES = (
    Rule("protocol", only("msgpack", "protocol", stdlib=True), "protocol/ imports only the stdlib, msgpack, protocol"),
    Rule("edge", never("cloud", "ui", "simulators", "domuchet"), "edge/ never imports cloud/ui/simulators/domuchet"),
    Rule("cloud", never("edge", "ui", "simulators", "domuchet"), "cloud/ never imports edge/ui/simulators/domuchet"),
    Rule("ui", never("cloud.storage"), "ui/ uses cloud's services, never cloud.storage"),
    Rule("simulators", never("edge", "cloud", "ui", "domuchet"), "simulators/ imports protocol/, not the tiers"),
)


def violations(root: Path, rule: Rule) -> list[str]:
    found = []
    for path in sorted((root / rule.package).rglob("*.py")):
        for line, module in imported_modules(path, root):
            if not rule.allows(module):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("rule", RULES, ids=[r.package for r in RULES])
def test_dependency_direction(rule: Rule) -> None:
    if not (ROOT / rule.package).is_dir():
        pytest.skip(f"{rule.package}/ does not exist yet")
    assert violations(ROOT, rule) == [], rule.says


def test_protocol_is_actually_scanned() -> None:
    modules = {m for p in (ROOT / "protocol").rglob("*.py") for _, m in imported_modules(p, ROOT)}
    # the walker sees the imports the codecs really have; an empty set would make the rule vacuous
    assert {"msgpack", "struct", "protocol.errors", "protocol.errors.DecodeError"} <= modules


# The checker itself, on a scratch tree: it must catch each kind of violation.

_BAD_TREE = {
    "protocol/__init__.py": "",
    "protocol/codec.py": "import struct\nfrom protocol.errors import DecodeError\n",
    "protocol/bad.py": "def f():\n    import asyncio.subprocess\n    import pymodbus.pdu\n",
    "edge/__init__.py": "",
    "edge/driver.py": "from . import buffer\nfrom cloud.services import consumption\n",
    "edge/sub/deep.py": "from ...cloud import storage\n",
    "edge/dyn.py": "import importlib\nimportlib.import_module('ui.pages')\n",
    "cloud/__init__.py": "",
    "cloud/ingest.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from edge.buffer import Buffer\n",
    "ui/__init__.py": "",
    "ui/ok.py": "from cloud.services.consumption import ConsumptionService\nimport cloud.services\n",
    "ui/page.py": "from cloud import storage\n",
    "ui/page2.py": "import cloud.storage.clickhouse as ch\n",
}


@pytest.fixture
def bad_tree(tmp_path: Path) -> Path:
    for name, text in _BAD_TREE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_checker_catches_violations(bad_tree: Path) -> None:
    by_package = {r.package: violations(bad_tree, r) for r in RULES}
    assert by_package["protocol"] == ["protocol/bad.py:3 imports pymodbus.pdu"]
    assert by_package["edge"] == [
        "edge/driver.py:2 imports cloud.services",
        "edge/driver.py:2 imports cloud.services.consumption",
        "edge/dyn.py:2 imports ui.pages",
        "edge/sub/deep.py:1 imports cloud",
        "edge/sub/deep.py:1 imports cloud.storage",
    ]
    assert by_package["cloud"] == [
        "cloud/ingest.py:3 imports edge.buffer",
        "cloud/ingest.py:3 imports edge.buffer.Buffer",
    ]
    assert by_package["ui"] == [
        "ui/page.py:1 imports cloud.storage",
        "ui/page2.py:1 imports cloud.storage.clickhouse",
    ]
    assert by_package["simulators"] == []  # missing directory: nothing to check


def test_relative_imports_resolve_against_the_package(tmp_path: Path) -> None:
    assert _resolve(tmp_path / "edge/driver.py", tmp_path, 1, "buffer") == "edge.buffer"
    assert _resolve(tmp_path / "edge/__init__.py", tmp_path, 1, None) == "edge"
    assert _resolve(tmp_path / "edge/sub/deep.py", tmp_path, 2, "gaps") == "edge.gaps"
    assert _resolve(tmp_path / "edge/sub/deep.py", tmp_path, 3, "cloud") == "cloud"
