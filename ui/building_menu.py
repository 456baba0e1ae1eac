"""The horizontal menu of a building's pages (manual 4.1.2, fig. 4.1.3) and of its settings (4.6.1).

Pages call ``building_menu(building_id, active)`` under their title. Imports nicegui and
ui.i18n only.
"""

from __future__ import annotations

from nicegui import ui

from .i18n import extend, t

extend({
    "menu.consumption": ("Потребление объекта", "Building consumption"),
    "menu.meters": ("Приборы учета объекта", "Building meters"),
    "menu.premises": ("Потребление в разрезе помещений", "Consumption by premises"),
    "menu.register": ("Реестр потребления", "Consumption register"),
    "menu.groups": ("Балансовые группы", "Balance groups"),
    "menu.settings.balance": ("Приборы", "Meters"),
    "menu.settings.groups": ("Балансовые группы", "Balance groups"),
    "menu.settings.deviations": ("Отклонения", "Deviations"),
    "menu.settings.temperature": ("Температурный график", "Temperature schedule"),
    "menu.settings.imbalance": ("Небаланс", "Imbalance"),
})

# (key, path under /buildings/{id}) of the accounting pages of one building
BUILDING_PAGES: tuple[tuple[str, str], ...] = (
    ("menu.consumption", ""),
    ("menu.groups", "/groups"),
    ("menu.premises", "/premises"),
    ("menu.register", "/register"),
    ("menu.meters", "/meters"),
)
# (key, path under /settings/buildings/{id}) of one building's settings
SETTINGS_PAGES: tuple[tuple[str, str], ...] = (
    ("menu.settings.info", "/info"),  # 4.6.2-4.6.4 and 4.6.9: ui/objects_page.py (its texts: ui/objects_common.py)
    ("menu.settings.premises", "/premises"),
    ("menu.settings.owners", "/owners"),
    ("menu.settings.balance", "/balance"),
    ("menu.settings.groups", "/groups"),
    ("menu.settings.deviations", "/deviations"),
    ("menu.settings.temperature", "/temperature"),
    ("menu.settings.billing", "/billing"),
)


def building_menu(building_id: int, active: str) -> None:
    """The accounting pages of the building; ``active`` is the path suffix of the page shown ("" for 4.1.2)."""
    _menu(f"/buildings/{building_id}", BUILDING_PAGES, active, "building-menu")


def settings_menu(building_id: int, active: str) -> None:
    """The settings pages of the building; ``active`` is the path suffix of the page shown."""
    _menu(f"/settings/buildings/{building_id}", SETTINGS_PAGES, active, "settings-menu")


def _menu(base: str, pages: tuple[tuple[str, str], ...], active: str, marker: str) -> None:
    with ui.row().classes("w-full gap-1 no-wrap overflow-x-auto").mark(marker):
        for key, suffix in pages:
            chosen = suffix == active
            link = ui.link(t(key), base + suffix).classes(
                "du-menu-link px-3 py-1 rounded-md whitespace-nowrap text-sm no-underline"
                + (" bg-[#e6eef7] text-[#1d4f7c] font-semibold" if chosen else " text-[#334e68] hover:bg-[#f0f4f8]"))
            link.mark(f"menu{suffix or '/'}")
