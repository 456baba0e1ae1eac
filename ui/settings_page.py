"""Section «Настройки», page «Объекты» (manual 4.6.1): the buildings of the chosen city with a map
of where they are, each with its nearest weather station and the horizontal menu of its settings
(«Объект», «Помещения», «Собственники», «Приборы», «Балансовые группы», «Отклонения»,
«Температурный график», «Биллинг»); a dispatcher adds a building here (the address register
check, skipped for a building under construction). /settings/buildings/{id} opens the first
settings page of the building. The settings pages live in the page modules of their screens.
Tests: tests/ui/test_objects_ui.py, tests/ui/test_navigation.py.
"""

from __future__ import annotations

from typing import cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.objects import BuildingCard

from . import fmt, pages, selection, theme
from .accounting import parse_id
from .building_menu import SETTINGS_PAGES
from .i18n import extend, t
from .objects_common import (
    LIST_PATH,
    FormError,
    ObjectsServices,
    area_text,
    buildings_map,
    coordinates,
    dismiss,
    kind_text,
    may_change,
    number_value,
    submit,
)
from .ports import Services

extend({
    "settings.buildings.title": ("Объекты", "Buildings"),
    "settings.buildings.hint": ("Объекты компании на карте, ближайшие метеостанции и настройки каждого объекта.",
                                "The company's buildings on the map, their nearest weather stations and the settings "
                                "of each."),
    "settings.buildings.empty": ("У компании нет объектов в выбранном городе.",
                                 "The company has no buildings in the chosen city."),
    "settings.buildings.col.address": ("Объект", "Building"),
    "settings.buildings.col.premises": ("Помещения", "Premises"),
    "settings.buildings.col.station": ("Метеостанция", "Weather station"),
    "settings.buildings.col.settings": ("Настройки", "Settings"),
    "settings.buildings.station.none": ("нет координат", "no coordinates"),
    "settings.buildings.station.missing": ("нет метеостанций", "no stations"),
    "settings.buildings.station.km": ("{name}, {km} км", "{name}, {km} km"),
    "settings.buildings.unfinished": ("незавершённое строительство", "construction unfinished"),
    "settings.buildings.add": ("Добавить объект", "Add a building"),
    "settings.buildings.add.title": ("Новый объект", "New building"),
    "settings.buildings.add.unfinished": ("Незавершённое строительство (адрес не проверяется по справочнику "
                                          "адресов)", "Construction unfinished (the address is not checked against "
                                          "the address register)"),
    "settings.buildings.add.rule": ("Адрес из справочника: улица и номер дома, например «ул. Ленина, 5».",
                                    "A register address: the street and the house number, e.g. «ул. Ленина, 5»."),
    "settings.buildings.add.done": ("Объект добавлен", "Building added"),
    "settings.buildings.add.no_sites": ("У компании нет шлюзов: их регистрирует администратор.",
                                        "The company has no edge sites: an administrator registers them."),
})

PATH = LIST_PATH


def register(services: Services) -> None:
    """Register /settings/buildings and /settings/buildings/{id}."""
    objects = cast(ObjectsServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def buildings_settings(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        cards = await objects.objects.buildings(viewer.token)
        shown = _city_cards(cards, selection.city_buildings(await services.accounting.buildings(viewer.token)))
        with theme.frame(t("settings.buildings.title"), viewer.user, subtitle=t("settings.buildings.hint"),
                         active=PATH):
            if may_change(viewer):
                with ui.row().classes("w-full justify-end"):
                    ui.button(t("settings.buildings.add"), icon="add_business",
                              on_click=lambda: _add_dialog(objects, viewer.token)) \
                        .props("unelevated no-caps").mark("objects-add")
            if not shown:
                with theme.card():
                    theme.message(t("settings.buildings.empty"))
                return None
            with theme.card():
                buildings_map(shown)
            with theme.card().classes("du-table"):
                _table(shown)
        return None

    @ui.page(PATH + "/{building_id}")
    async def building_settings(building_id: str) -> RedirectResponse:
        ident = parse_id(building_id)
        if ident is None:
            return RedirectResponse(PATH, status_code=303)
        selection.remember(building_id=ident)
        return RedirectResponse(f"{PATH}/{ident}{SETTINGS_PAGES[0][1]}", status_code=303)


def _city_cards(cards: list[BuildingCard], city_buildings: list) -> list[BuildingCard]:
    """The cards of the chosen city's buildings (the city switch of the header, manual 3.4)."""
    ids = {b.id for b in city_buildings}
    return [c for c in cards if c.id in ids]


def _station(card: BuildingCard) -> str:
    if card.latitude is None or card.longitude is None:
        return t("settings.buildings.station.none")
    if card.station is None:
        return t("settings.buildings.station.missing")
    return t("settings.buildings.station.km", name=card.station.name, km=fmt.number(card.station.distance_km, 1))


def _table(cards: list[BuildingCard]) -> None:
    ui.add_css(".du-objects td:first-child, .du-objects th:first-child { position: sticky; left: 0; "
               "background: #fff; z-index: 1; } .du-objects td, .du-objects th { padding: 6px 10px; "
               "border-bottom: 1px solid #edf1f5; text-align: left; vertical-align: top; } "
               ".du-objects th { background: #f7f9fb; font-weight: 600; color: #334e68; }")
    with ui.element("div").classes("w-full overflow-x-auto"), \
            ui.element("table").classes("du-objects w-full min-w-[640px]").mark("settings-buildings"):
        with ui.element("tr"):
            for key in ("settings.buildings.col.address", "settings.buildings.col.premises",
                        "settings.buildings.col.station", "settings.buildings.col.settings"):
                with ui.element("th"):
                    ui.label(t(key))
        for card in cards:
            with ui.element("tr").mark(f"objects-row-{card.id}"):
                with ui.element("td").classes("max-w-[14rem]"):
                    ui.link(card.address, f"{PATH}/{card.id}/info").classes("du-link break-words") \
                        .mark(f"objects-open-{card.id}")
                    ui.label(f"{card.city} · {kind_text(card.building_kind)}").classes("text-xs du-muted")
                    if card.construction_unfinished:
                        ui.badge(t("settings.buildings.unfinished"), color="amber-7").props("outline")
                with ui.element("td"):
                    ui.label(fmt.integer(card.premises))
                    ui.label(area_text(card.area_m2)).classes("text-xs du-muted whitespace-nowrap")
                with ui.element("td"):
                    ui.label(_station(card)).classes("text-sm").mark(f"objects-station-{card.id}")
                with ui.element("td"), ui.row().classes("gap-x-3 gap-y-1"):
                    for key, suffix in SETTINGS_PAGES:
                        ui.link(t(key), f"{PATH}/{card.id}{suffix}").classes("du-link text-sm") \
                            .mark(f"settings-{card.id}{suffix}")


async def _add_dialog(services: ObjectsServices, token: str) -> None:
    """The add-a-building form; the service checks every field and the page shows its refusal."""
    cities = await services.objects.cities(token)
    sites = await services.objects.sites(token)
    chosen = selection.chosen_city()
    with ui.dialog() as dialog, theme.card().classes("w-full max-w-lg").mark("objects-add-dialog"):
        ui.label(t("settings.buildings.add.title")).classes("du-card-title")
        if not sites:
            theme.message(t("settings.buildings.add.no_sites"), icon="warning")
        address = ui.input(t("objects.field.address")).props("outlined dense").classes("w-full") \
            .mark("objects-add-address")
        ui.label(t("settings.buildings.add.rule")).classes("text-xs du-muted")
        unfinished = ui.checkbox(t("settings.buildings.add.unfinished")).mark("objects-add-unfinished")
        with ui.row().classes("w-full gap-2 no-wrap"):
            city = ui.select({c.id: c.name for c in cities}, label=t("objects.field.city_id"),
                             value=next((c.id for c in cities if c.name == chosen), cities[0].id if cities else None)) \
                .props("outlined dense").classes("flex-1").mark("objects-add-city")
            site = ui.select(sites, label=t("objects.field.site"), value=sites[0] if sites else None) \
                .props("outlined dense").classes("flex-1").mark("objects-add-site")
        kind = ui.select({k: kind_text(k) for k in ("apartment_block", "house", "nonresidential")},
                         label=t("objects.field.building_kind"), value="apartment_block") \
            .props("outlined dense").classes("w-full")
        with ui.row().classes("w-full gap-2 no-wrap"):
            area = ui.input(t("objects.field.area_m2")).props("outlined dense inputmode=decimal").classes("flex-1") \
                .mark("objects-add-area")
            residents = ui.input(t("objects.field.residents"), value="0").props("outlined dense inputmode=numeric") \
                .classes("flex-1").mark("objects-add-residents")
        with ui.row().classes("w-full gap-2 no-wrap"):
            lat = ui.input(t("objects.field.latitude")).props("outlined dense inputmode=decimal").classes("flex-1")
            lon = ui.input(t("objects.field.longitude")).props("outlined dense inputmode=decimal").classes("flex-1")
        fias = ui.input(t("objects.field.fias_code")).props("outlined dense").classes("w-full")
        error = FormError("objects-add-error")

        async def save() -> None:
            error.clear()
            area_m2 = number_value(area.value, "area_m2", error)
            people = number_value(residents.value, "residents", error, whole=True)
            if area_m2 is None or people is None:
                return
            coords = coordinates(lat.value, lon.value, error)
            if coords is None:
                return
            made = await submit(services.objects.create_building(
                token, address=str(address.value or ""), city_id=int(city.value or 0), area_m2=float(area_m2),
                residents=int(people), site=str(site.value or ""), latitude=coords[0], longitude=coords[1],
                construction_unfinished=bool(unfinished.value), building_kind=str(kind.value),
                fias_code=str(fias.value or "")), error)
            if made is None:
                return
            dismiss(dialog)
            ui.notify(t("settings.buildings.add.done"), type="positive")
            ui.navigate.to(f"{PATH}/{made.id}/info")

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(t("objects.cancel"), on_click=lambda: dismiss(dialog)).props("flat no-caps")
            ui.button(t("objects.save"), on_click=save).props("unelevated no-caps").mark("objects-add-save")
    dialog.open()
