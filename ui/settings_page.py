"""Section «Настройки», page «Объекты» (manual 4.6.1): the city's buildings, each with the
horizontal menu of its settings (4.6.5 «Приборы», 4.6.6 «Балансовые группы», 4.6.7
«Отклонения», 4.6.8 «Температурный график»). The settings pages themselves live in the page
modules of their screens; /settings/buildings/{id} opens the first of them.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from . import fmt, pages, selection, theme
from .accounting import parse_id
from .building_menu import SETTINGS_PAGES
from .i18n import extend, t
from .ports import Services

extend({
    "settings.buildings.title": ("Настройки объектов", "Building settings"),
    "settings.buildings.hint": ("Выберите объект и настройку: расчёт баланса, балансовые группы, допустимые "
                                "отклонения, температурный график.",
                                "Choose a building and a setting: balance, balance groups, allowed deviations, "
                                "temperature schedule."),
    "settings.buildings.empty": ("У компании нет объектов в выбранном городе.",
                                 "The company has no buildings in the chosen city."),
    "settings.buildings.col.address": ("Объект", "Building"),
    "settings.buildings.col.settings": ("Настройки", "Settings"),
})

PATH = "/settings/buildings"


def register(services: Services) -> None:
    """Register /settings/buildings and /settings/buildings/{id}."""

    @ui.page(PATH, response_timeout=30.0)
    async def buildings_settings(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        buildings = selection.city_buildings(await services.accounting.buildings(viewer.token))
        with theme.frame(t("settings.buildings.title"), viewer.user, subtitle=t("settings.buildings.hint"),
                         active=PATH):
            if not buildings:
                with theme.card():
                    theme.message(t("settings.buildings.empty"))
                return None
            with theme.card().classes("du-table overflow-x-auto"):
                with ui.element("table").classes("du-markup w-full").mark("settings-buildings"):
                    with ui.element("tr"):
                        for key in ("settings.buildings.col.address", "settings.buildings.col.settings"):
                            with ui.element("th"):
                                ui.label(t(key))
                    for building in buildings:
                        with ui.element("tr"):
                            with ui.element("td").classes("align-top"):
                                ui.label(building.address).classes("font-medium")
                                ui.label(f"{building.city} · {fmt.number(building.area_m2, 1)} {t('unit.m2')}") \
                                    .classes("text-xs du-muted")
                            with ui.element("td"), ui.row().classes("gap-x-4 gap-y-1"):
                                for key, suffix in SETTINGS_PAGES:
                                    ui.link(t(key), f"{PATH}/{building.id}{suffix}").classes("du-link") \
                                        .mark(f"settings-{building.id}{suffix}")
        return None

    @ui.page(PATH + "/{building_id}")
    async def building_settings(building_id: str) -> RedirectResponse:
        ident = parse_id(building_id)
        if ident is None:
            return RedirectResponse(PATH, status_code=303)
        selection.remember(building_id=ident)
        return RedirectResponse(f"{PATH}/{ident}{SETTINGS_PAGES[0][1]}", status_code=303)
