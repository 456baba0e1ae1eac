"""sqlite-utils without pandas and numpy.

At its own import, sqlite-utils imports pandas and numpy when they are installed, only to map
their scalar types to column types; the edge never stores either. The cloud needs them, and one
package installs both sides, so they are installed on the edge as well. There they cost the
agent about 78 MiB of resident memory: `bench.edge_memory` measured 137 MiB with 5,000 meters
before this module and 59 MiB after. Import ``sqlite_utils`` from here, before anything else
imports it. That first import then finds neither module. A process that already has them (the
cloud's, a test session's) keeps them, and both stay importable afterwards.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

HIDDEN = ("pandas", "numpy")  # optional imports of sqlite-utils the edge never uses


def import_without(name: str, hidden: Sequence[str] = HIDDEN) -> ModuleType:
    """Import module ``name`` while ``hidden`` modules (those not imported yet) look absent to it.
    Its ``import`` of one of them raises ImportError. Afterwards they can be imported again."""
    if name in sys.modules:
        return sys.modules[name]
    absent = [h for h in hidden if h not in sys.modules]
    for h in absent:
        sys.modules[h] = None  # type: ignore[assignment]  # None in sys.modules: ImportError on import
    try:
        return importlib.import_module(name)
    finally:
        for h in absent:
            if h in sys.modules and sys.modules[h] is None:
                del sys.modules[h]


if TYPE_CHECKING:
    import sqlite_utils as sqlite_utils
else:
    sqlite_utils = import_without("sqlite_utils")
