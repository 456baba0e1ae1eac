"""domuchet's web UI (NiceGUI): sign-in, the role-aware layout and the "Учёт" pages.

``register(services)`` adds every page to NiceGUI's app; nothing is built at import time.
ui/ reaches data only through the cloud service layer (see ui.ports for its shape), never
storage. Tests: tests/ui/ (simulated User) and tests/e2e/ (a real browser).
"""

from __future__ import annotations

from . import (
    accounting,
    admin,
    arrival_page,
    auth,
    balance_page,
    deviations_page,
    events_page,
    groups_page,
    heating_page,
    lora_page,
    not_found,
    overview_page,
    register_page,
    settings_page,
    tokens,
)
from .ports import Services

__all__ = ["Services", "register"]


def register(services: Services) -> None:
    """Register all pages (the main menu: ui/access.py) and the Russian 404 page inside the frame."""
    auth.register(services)
    accounting.register(services)
    admin.register(services)
    arrival_page.register(services)
    tokens.register(services)
    for module in (overview_page, balance_page, register_page, groups_page, deviations_page, events_page,
                   lora_page, heating_page, settings_page):
        module.register(services)
    not_found.register(services)  # last: it answers every address no page took
