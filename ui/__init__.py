"""domuchet's web UI (NiceGUI): sign-in, the role-aware layout and the "Учёт" pages.

``register(services)`` adds every page to NiceGUI's app; nothing is built at import time.
ui/ reaches data only through the cloud service layer (see ui.ports for its shape), never
storage. Tests: tests/ui/ (simulated User) and tests/e2e/ (a real browser).
"""

from __future__ import annotations

from . import accounting, admin, arrival_page, auth, tokens
from .ports import Services

__all__ = ["Services", "register"]


def register(services: Services) -> None:
    """Register all pages: /login, /logout, /, /buildings/{id}, /premises/{id}, /meters/{id}, /users,
    /monitoring/data, /tokens."""
    auth.register(services)
    accounting.register(services)
    admin.register(services)
    arrival_page.register(services)
    tokens.register(services)
