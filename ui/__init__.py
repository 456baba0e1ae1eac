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
    billing_centres_page,
    billing_page,
    billing_runs_page,
    company_page,
    desk_page,
    deviations_page,
    events_page,
    groups_page,
    heating_page,
    lora_page,
    norms_page,
    not_found,
    objects_page,
    overview_page,
    power_page,
    procedures_page,
    register_page,
    reports_page,
    resident_app,
    service_meters_page,
    settings_page,
    tokens,
    wizard_page,
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
    # section «Сервис» and the settings built with it (manual 4.5, 4.6, 3.4)
    for module in (procedures_page, service_meters_page, wizard_page, desk_page, power_page, objects_page,
                   company_page):
        module.register(services)
    # sections «Отчёты» and «Биллинг» (manual 4.3, 4.4)
    for module in (reports_page, billing_page, billing_runs_page, billing_centres_page, norms_page):
        module.register(services)
    resident_app.register(services)  # the residents' app under /kv (manual 3.6)
    not_found.register(services)  # last: it answers every address no page took
