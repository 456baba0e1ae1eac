"""Settings page «Небаланс» (manual 4.6.10, /settings/imbalance): the allowed imbalance in % of
each building of the city by resource. The city's default shows grey, a building's own value
black; a click on a cell edits it (✓ saves, ✗ cancels, «по умолчанию» returns it to the city's
default); several buildings selected get one value, or their defaults back, at once (after a
confirmation). The city's defaults are edited the same way. Only a dispatcher without reader
status changes anything; engineers and readers see the table read-only; administrators get the
forbidden page. The 4.1.1 page is ui/specific_page.py (ui/accounting.py's "/").

Every value comes from and goes to OverviewService (cloud/services/overview.py).
Tests: tests/ui/test_overview_ui.py.
"""

from __future__ import annotations

import math
from typing import cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.cities import CityInfo
from cloud.services.models import NotFound
from cloud.services.overview import CityLimitChange, ImbalanceLimit, ImbalanceLimits, LimitChange
from protocol.vocabulary import Resource

from . import access, auth, fmt, pages, theme, widgets
from .i18n import extend, t
from .ports import Services
from .query import page_url
from .specific_page import OverviewServices, city_choice

PATH = "/settings/imbalance"
PAGE_SIZE = 50
DEFAULT_CLASS = "text-[#9aa5b1]"  # a value that follows a default: grey
OWN_CLASS = "text-[#102a43] font-semibold"  # the building's own value: black

extend({
    "limits.title": ("Небаланс", "Imbalance"),
    "limits.subtitle": ("Допустимый небаланс по объектам, % от потребления по ОДПУ. Серым — значение по "
                        "умолчанию для города, чёрным — заданное для объекта.",
                        "Allowed imbalance by building, % of the building meter. Grey: the city's default; "
                        "black: set for the building."),
    "limits.read_only": ("Только просмотр: менять допустимый небаланс может диспетчер.",
                         "Read only: a dispatcher changes the allowed imbalance."),
    "limits.defaults": ("Значения по умолчанию для города {city}", "Defaults of the city {city}"),
    "limits.defaults_hint": ("Действуют для объектов, у которых значение не задано. Серым — встроенное "
                             "значение {built_in} %.",
                             "They apply to buildings without their own value. Grey: the built-in {built_in} %."),
    "limits.col.address": ("Объект", "Building"),
    "limits.search": ("Поиск по адресу", "Search by address"),
    "limits.selected": ("Выбрано объектов: {count}", "Buildings selected: {count}"),
    "limits.select_found": ("Выбрать все найденные", "Select all found"),
    "limits.clear": ("Снять выбор", "Clear selection"),
    "limits.bulk_resource": ("Ресурс", "Resource"),
    "limits.bulk_value": ("Небаланс, %", "Imbalance, %"),
    "limits.apply": ("Установить", "Set"),
    "limits.revert": ("Вернуть по умолчанию", "Back to default"),
    "limits.edit_title": ("{address}: {resource}", "{address}: {resource}"),
    "limits.edit_city_title": ("Город {city}: {resource}", "City {city}: {resource}"),
    "limits.save": ("Сохранить", "Save"),
    "limits.cancel": ("Отмена", "Cancel"),
    "limits.to_default": ("По умолчанию", "Default"),
    "limits.bad_value": ("Введите число от 0 до 100.", "Enter a number from 0 to 100."),
    "limits.saved": ("Сохранено: {count}", "Saved: {count}"),
    "limits.confirm_set": ("Установить допустимый небаланс {value} % ({resource}) для объектов: {count}?",
                           "Set the allowed imbalance to {value} % ({resource}) for {count} buildings?"),
    "limits.confirm_revert": ("Вернуть значение по умолчанию ({resource}) для объектов: {count}?",
                              "Return {count} buildings to the default ({resource})?"),
    "limits.confirm": ("Подтвердите изменение", "Confirm the change"),
    "limits.yes": ("Да, изменить", "Yes, change"),
    "limits.nothing_found": ("Ничего не найдено.", "Nothing found."),
    "limits.no_buildings": ("В выбранном городе нет объектов компании.",
                            "The company has no buildings in the chosen city."),
    "limits.shown": ("Показаны {first}–{last} из {count}", "Showing {first}–{last} of {count}"),
    "limits.source.building": ("задано для объекта", "set for the building"),
    "limits.source.city": ("по умолчанию для города", "the city's default"),
    "limits.source.built_in": ("встроенное значение по умолчанию", "the built-in default"),
    "limits.scroll_hint": ("Таблица прокручивается вбок →", "The table scrolls sideways →"),
})

_CSS = """
.du-lim { border-collapse: separate; border-spacing: 0; width: 100%; }
.du-lim th { font-weight: 600; color: #334e68; background: #f7f9fb; font-size: .8rem; padding: 6px 10px;
  white-space: nowrap; text-align: right; }
.du-lim td { padding: 2px 10px; border-top: 1px solid #edf1f5; text-align: right; white-space: nowrap; }
.du-lim th.du-key, .du-lim td.du-key { position: sticky; left: 0; z-index: 1; background: #fff; text-align: left;
  box-shadow: 1px 0 0 #e3e8ef; max-width: 16rem; overflow: hidden; text-overflow: ellipsis; }
.du-lim th.du-key { background: #f7f9fb; }
"""


def parse_percent(value: object) -> float | None:
    """A percent the person typed, or None when it is no number from 0 to 100 (Russian decimal comma allowed)."""
    if isinstance(value, str):
        value = value.strip().replace(",", ".")
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or not 0 <= value <= 100:
        return None
    return float(value)


def register(services: Services) -> None:
    """Register /settings/imbalance."""
    overview = cast(OverviewServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def imbalance_page(request: Request, city: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        cities = await overview.cities.list(viewer.token)
        problems: list[str] = []
        try:
            table = await overview.overview.imbalance_limits(viewer.token, city_choice(cities, city, problems))
        except NotFound:
            with theme.frame(t("error.not_found"), viewer.user, active=PATH):
                widgets.problem(t("error.not_found"), t("limits.no_buildings"), back=False)
            return None
        LimitsPage(overview, viewer, cities, table, problems).render()
        return None


class LimitsPage:
    def __init__(self, services: OverviewServices, viewer: auth.Viewer, cities: list[CityInfo], table: ImbalanceLimits,
                 problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.cities = cities
        self.table = table
        self.problems = problems
        self.editable = access.may_change_settings(viewer.user)
        self.search = ""
        self.page = 0
        self.selected: set[int] = set()
        self.bulk_resource: Resource = table.resources[0]
        self.bulk_value: float | None = None
        self.progress: ui.linear_progress | None = None

    def render(self) -> None:
        ui.add_css(_CSS)
        with theme.frame(t("limits.title"), self.viewer.user, subtitle=t("limits.subtitle"), active=PATH):
            for problem in self.problems:
                widgets.warning(problem)
            if not self.editable:
                theme.message(t("limits.read_only"), icon="visibility")
            if len(self.cities) > 1:
                ui.select({c.id: c.name for c in self.cities}, value=self.table.city_id, label=t("overview.city"),
                          on_change=lambda e: self._city(e.value)).props("outlined dense").classes(
                    "min-w-[12rem]").mark("limits-city")
            self.progress = ui.linear_progress(show_value=False).props("indeterminate color=primary").mark(
                "limits-progress")
            self.progress.visible = False
            self.defaults()
            self.buildings()

    # --- the city's defaults -----------------------------------------------------------------------------

    @ui.refreshable_method
    def defaults(self) -> None:
        table = self.table
        with theme.card(t("limits.defaults", city=table.city or "—")).mark("limits-defaults"):
            ui.label(t("limits.defaults_hint", built_in=fmt.number(table.built_in_percent, 1))).classes(
                "text-xs du-muted")
            with ui.row().classes("gap-3"):
                for limit in table.defaults:
                    text = f"{fmt.resource(limit.resource)}: {fmt.number(limit.percent, 1)} %"
                    button = ui.button(text, on_click=lambda _, lim=limit: self._edit_city(lim)).props(
                        "outline no-caps").classes(OWN_CLASS if limit.source == "city" else DEFAULT_CLASS).mark(
                        f"limit-default-{limit.resource.value}")
                    button.tooltip(t(f"limits.source.{limit.source}"))
                    if not self.editable:
                        button.disable()

    # --- the buildings ---------------------------------------------------------------------------------------

    @ui.refreshable_method
    def buildings(self) -> None:
        with theme.card():
            if not self.table.buildings:
                theme.message(t("limits.no_buildings"))
                return
            with ui.row().classes("w-full items-end gap-x-6 gap-y-2"):
                ui.input(t("limits.search"), value=self.search, on_change=lambda e: self._search(e.value)).props(
                    "outlined dense clearable debounce=300").classes("min-w-[14rem]").mark("limits-search")
            if self.editable:
                self.bulk_bar()
            self.rows()

    @ui.refreshable_method
    def bulk_bar(self) -> None:
        with ui.row().classes("w-full items-end gap-x-4 gap-y-2 px-3 py-2 rounded-lg bg-[#f0f4f8]").mark(
                "limits-bulk"):
            ui.label(t("limits.selected", count=len(self.selected))).classes("text-sm font-medium self-center").mark(
                "limits-selected")
            ui.button(t("limits.select_found"), on_click=self._select_found).props("flat dense no-caps").mark(
                "limits-select-found")
            ui.button(t("limits.clear"), on_click=self._clear).props("flat dense no-caps")
            ui.select({r: fmt.resource(r) for r in self.table.resources}, value=self.bulk_resource,
                      label=t("limits.bulk_resource"),
                      on_change=lambda e: setattr(self, "bulk_resource", e.value)).props("outlined dense").classes(
                "min-w-[10rem]").mark("limits-bulk-resource")
            ui.number(t("limits.bulk_value"), value=self.bulk_value, min=0, max=100, step=0.1, format="%.1f",
                      on_change=lambda e: setattr(self, "bulk_value", e.value)).props("outlined dense").classes(
                "w-36").mark("limits-bulk-value")
            apply = ui.button(t("limits.apply"), icon="done_all", on_click=self._bulk_set).props(
                "unelevated no-caps").mark("limits-bulk-apply")
            revert = ui.button(t("limits.revert"), icon="undo", on_click=self._bulk_revert).props(
                "outline no-caps").mark("limits-bulk-revert")
            if not self.selected:
                apply.disable()
                revert.disable()

    @ui.refreshable_method
    def rows(self) -> None:
        shown = self._found()
        if not shown:
            theme.message(t("limits.nothing_found"))
            return
        pages = (len(shown) + PAGE_SIZE - 1) // PAGE_SIZE
        self.page = min(self.page, pages - 1)
        first = self.page * PAGE_SIZE
        part = shown[first:first + PAGE_SIZE]
        ui.label(t("limits.scroll_hint")).classes("text-xs du-muted sm:hidden")
        with ui.element("div").classes("w-full overflow-x-auto"), ui.element("table").classes("du-lim").mark(
                "limits-table"):
            with ui.element("thead"), ui.element("tr"):
                with ui.element("th").classes("du-key"):
                    ui.label(t("limits.col.address"))
                for resource in self.table.resources:
                    with ui.element("th"):
                        ui.label(f"{fmt.resource(resource)}, %")
            with ui.element("tbody"):
                for building in part:
                    with ui.element("tr").mark(f"limits-row-{building.building_id}"):
                        with ui.element("td").classes("du-key"), ui.row().classes("items-center gap-1 no-wrap"):
                            if self.editable:
                                ui.checkbox(value=building.building_id in self.selected,
                                            on_change=lambda e, b=building.building_id: self._select(b, e.value)) \
                                    .props("dense").mark(f"limit-select-{building.building_id}")
                            label = ui.label(building.address).classes("truncate")
                            label.props["title"] = building.address  # cut with "…": the whole address on hover
                        for limit in building.limits:
                            with ui.element("td"):
                                self._cell(building.building_id, building.address, limit)
        with ui.row().classes("w-full items-center justify-between gap-2"):
            ui.label(t("limits.shown", first=first + 1, last=first + len(part), count=len(shown))).classes(
                "text-sm du-muted")
            if pages > 1:
                ui.pagination(1, pages, direction_links=True, value=self.page + 1,
                              on_change=lambda e: self._go(e.value)).props("max-pages=7 boundary-numbers")

    def _cell(self, building_id: int, address: str, limit: ImbalanceLimit) -> None:
        text = fmt.number(limit.percent, 1)
        own = limit.source == "building"
        marker = f"limit-{building_id}-{limit.resource.value}"
        if not self.editable:
            ui.label(text).classes(OWN_CLASS if own else DEFAULT_CLASS).mark(marker).tooltip(
                t(f"limits.source.{limit.source}"))
            return
        ui.button(text, on_click=lambda: self._edit(building_id, address, limit)).props(
            "flat dense no-caps").classes(OWN_CLASS if own else DEFAULT_CLASS).mark(marker).tooltip(
            t(f"limits.source.{limit.source}"))

    # --- editing ------------------------------------------------------------------------------------------

    def _editor(self, title: str, limit: ImbalanceLimit, own: bool, save, revert) -> None:
        """A small dialog: the value, ✓ to save it, ✗ to cancel, «по умолчанию» when the value is the own one."""
        with ui.dialog() as dialog, ui.card().classes("min-w-[20rem]"):
            ui.label(title).classes("du-card-title")
            value = ui.input(t("limits.bulk_value"), value=fmt.number(limit.percent, 1)).props(
                "outlined dense autofocus").mark("limits-editor-value")

            async def on_save() -> None:
                percent = parse_percent(value.value)
                if percent is None:
                    ui.notify(t("limits.bad_value"), type="warning")
                    return
                dialog.close()
                await save(percent)

            async def on_revert() -> None:
                dialog.close()
                await revert()

            with ui.row().classes("w-full justify-end gap-2"):
                if own:
                    ui.button(t("limits.to_default"), icon="undo", on_click=on_revert).props(
                        "flat no-caps").mark("limits-editor-revert")
                ui.button(icon="close", on_click=dialog.close) \
                    .props(f'flat round aria-label="{t("limits.cancel")}"') \
                    .tooltip(t("limits.cancel")).mark(
                    "limits-editor-cancel")
                ui.button(icon="check", on_click=on_save) \
                    .props(f'unelevated round aria-label="{t("limits.save")}"') \
                    .tooltip(t("limits.save")).mark(
                    "limits-editor-save")
        dialog.open()

    def _edit(self, building_id: int, address: str, limit: ImbalanceLimit) -> None:
        self._editor(t("limits.edit_title", address=address, resource=fmt.resource(limit.resource)), limit,
                     limit.source == "building",
                     lambda percent: self._save([LimitChange(building_id, limit.resource, percent)]),
                     lambda: self._save([LimitChange(building_id, limit.resource, None)]))

    def _edit_city(self, limit: ImbalanceLimit) -> None:
        city_id = self.table.city_id
        if city_id is None:
            return
        self._editor(t("limits.edit_city_title", city=self.table.city or "", resource=fmt.resource(limit.resource)),
                     limit, limit.source == "city",
                     lambda percent: self._save_city(city_id, CityLimitChange(limit.resource, percent)),
                     lambda: self._save_city(city_id, CityLimitChange(limit.resource, None)))

    async def _save(self, changes: list[LimitChange]) -> None:
        done = await self._busy(self.services.overview.set_imbalance_limits(self.viewer.token, changes))
        if done is not None:
            ui.notify(t("limits.saved", count=len(changes)), type="positive")
            await self._reload()

    async def _save_city(self, city_id: int, change: CityLimitChange) -> None:
        done = await self._busy(self.services.overview.set_city_imbalance_limits(self.viewer.token, city_id, [change]))
        if done is not None:
            ui.notify(t("limits.saved", count=1), type="positive")
            await self._reload()

    async def _bulk_set(self) -> None:
        percent = parse_percent(self.bulk_value)
        if percent is None:
            ui.notify(t("limits.bad_value"), type="warning")
            return
        question = t("limits.confirm_set", value=fmt.number(percent, 1), resource=fmt.resource(self.bulk_resource),
                     count=len(self.selected))
        changes = [LimitChange(b, self.bulk_resource, percent) for b in sorted(self.selected)]
        self._confirm(question, changes)

    async def _bulk_revert(self) -> None:
        question = t("limits.confirm_revert", resource=fmt.resource(self.bulk_resource), count=len(self.selected))
        self._confirm(question, [LimitChange(b, self.bulk_resource, None) for b in sorted(self.selected)])

    def _confirm(self, question: str, changes: list[LimitChange]) -> None:
        """A change of many buildings at once is asked once more before it is made."""
        with ui.dialog() as dialog, ui.card():
            ui.label(t("limits.confirm")).classes("du-card-title")
            ui.label(question).mark("limits-confirm-text")

            async def yes() -> None:
                dialog.close()
                await self._save(changes)
                self.selected.clear()
                self.bulk_bar.refresh()
                self.rows.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("limits.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("limits.yes"), on_click=yes).props("unelevated no-caps").mark("limits-confirm-yes")
        dialog.open()

    async def _busy(self, call):
        if self.progress is not None:
            self.progress.visible = True
        try:
            return await auth.attempt(call)
        finally:
            if self.progress is not None:
                self.progress.visible = False

    async def _reload(self) -> None:
        table = await self._busy(self.services.overview.imbalance_limits(self.viewer.token, self.table.city_id))
        if table is not None:
            self.table = table
            self.defaults.refresh()
            self.rows.refresh()

    async def _city(self, city_id: int | None) -> None:
        if city_id is None or city_id == self.table.city_id:
            return
        table = await self._busy(self.services.overview.imbalance_limits(self.viewer.token, city_id))
        if table is None:
            return
        self.table, self.selected, self.page = table, set(), 0
        if self.bulk_resource not in table.resources:
            self.bulk_resource = table.resources[0]
        self.defaults.refresh()
        self.buildings.refresh()
        ui.navigate.history.replace(page_url(PATH, city=city_id))

    # --- selection and paging --------------------------------------------------------------------------

    def _found(self):
        needle = self.search.strip().casefold()
        return [b for b in self.table.buildings if needle in b.address.casefold()]

    def _search(self, value: str | None) -> None:
        self.search, self.page = value or "", 0
        self.rows.refresh()

    def _select(self, building_id: int, chosen: bool) -> None:
        (self.selected.add if chosen else self.selected.discard)(building_id)
        self.bulk_bar.refresh()

    def _select_found(self) -> None:
        self.selected |= {b.building_id for b in self._found()}
        self.bulk_bar.refresh()
        self.rows.refresh()

    def _clear(self) -> None:
        self.selected.clear()
        self.bulk_bar.refresh()
        self.rows.refresh()

    def _go(self, page: int | None) -> None:
        if page:
            self.page = page - 1
            self.rows.refresh()
