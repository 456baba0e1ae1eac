"""Section «Настройки», page «Нормативы потребления» (/settings/norms): the company's consumption norm per
resource and a building's own overriding it, which the report «Баланс по МКД» (manual 4.3.3) compares the
apartment meters with. Heat per m² of area, the other resources per resident, per month. A dispatcher
without reader status edits them; everyone else who sees accounting reads them. One row per resource that
wraps on a narrow screen (390 px). Reads and writes through cloud/services/norms.py only.
Tests: tests/ui/test_norms_ui.py.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.norms import Norm, NormsTable

from . import auth, fmt, pages, theme
from .accounting import parse_id
from .i18n import current_language, extend, t
from .query import page_url

PATH = "/settings/norms"

extend({
    "norms.title": ("Нормативы потребления", "Consumption norms"),
    "norms.subtitle": ("Нормативы, с которыми отчёт «Баланс по МКД» сравнивает показания ИПУ: тепло — на м² "
                       "площади, остальные ресурсы — на человека, в месяц.",
                       "The norms the report «Building balance» compares the apartment meters with: heat per m² "
                       "of area, the other resources per resident, per month."),
    "norms.scope": ("Объект", "Building"),
    "norms.scope.company": ("Все объекты (нормативы компании)", "All buildings (the company's norms)"),
    "norms.col.resource": ("Ресурс", "Resource"),
    "norms.col.company": ("Норматив компании", "Company norm"),
    "norms.col.building": ("Свой норматив объекта", "The building's own"),
    "norms.col.in_force": ("Действует", "In force"),
    "norms.unit.area": ("{unit} на м² в месяц", "{unit} per m² per month"),
    "norms.unit.resident": ("{unit} на человека в месяц", "{unit} per resident per month"),
    "norms.unset": ("не задан", "not set"),
    "norms.save": ("Сохранить", "Save"),
    "norms.clear": ("Сбросить", "Clear"),
    "norms.saved": ("Норматив сохранён", "Norm saved"),
    "norms.cleared": ("Норматив сброшен", "Norm cleared"),
    "norms.bad": ("Введите число больше 0 и не больше {high}", "Enter a number above 0 and at most {high}"),
    "norms.read_only": ("Нормативы меняет диспетчер.", "A dispatcher changes the norms."),
    "norms.from_company": ("компании", "company's"),
    "norms.from_building": ("объекта", "building's"),
})
UNITS = {"Gcal": ("Гкал", "Gcal"), "m3": ("м³", "m³"), "kWh": ("кВт·ч", "kWh")}


class NormsServices(Protocol):
    norms: Any
    auth: Any


def unit_text(norm: Norm) -> str:
    """«Гкал на м² в месяц», «м³ на человека в месяц» ..."""
    ru, en = UNITS.get(norm.unit, (norm.unit, norm.unit))
    return t(f"norms.unit.{norm.basis}", unit=en if current_language() == "en" else ru)


def parse_norm(text: object, high: float) -> float | None:
    """A typed norm (a decimal comma is fine) or None when it is not a number above 0 and at most ``high``."""
    raw = str(text if text is not None else "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 < value <= high else None


def shown(value: float | None) -> str:
    return t("norms.unset") if value is None else fmt.number(value, 4).rstrip("0").rstrip(",.")


def register(services: NormsServices) -> None:
    """Register /settings/norms (``?building=<id>``: that building's own norms)."""

    @ui.page(PATH, response_timeout=30.0)
    async def norms_page(request: Request, building: str = "") -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        building_id = parse_id(building) if building else None
        page = NormsPage(services, viewer, building_id)
        if building and building_id is None:
            pages.problem_page(viewer.user, t("error.not_found"), t("error.not_found"), active=PATH)
            return None
        if await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"), active=PATH):
            page.render()
        return None


class NormsPage:
    def __init__(self, services: NormsServices, viewer: auth.Viewer, building_id: int | None) -> None:
        self.services = services
        self.viewer = viewer
        self.building_id = building_id
        self.table: NormsTable | None = None

    async def load(self) -> None:
        self.table = await self.services.norms.norms(self.viewer.token, self.building_id)

    def render(self) -> None:
        with theme.frame(t("norms.title"), self.viewer.user, active=PATH, subtitle=t("norms.subtitle")):
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        table = self.table
        if table is None:
            return
        options = {0: t("norms.scope.company"), **dict(table.buildings)}
        with theme.card():
            ui.select(options, value=table.building_id or 0, label=t("norms.scope"),
                      on_change=lambda e: ui.navigate.to(page_url(PATH, building=e.value or None))) \
                .props("outlined dense").classes("w-full max-w-xl").mark("norms-scope")
            if not table.editable:
                ui.label(t("norms.read_only")).classes("text-sm du-muted").mark("norms-read-only")
        with theme.card():
            for norm in table.norms:
                self._row(table, norm)

    def _row(self, table: NormsTable, norm: Norm) -> None:
        resource = norm.resource.value
        own = norm.company if table.building_id is None else norm.building
        with ui.column().classes("w-full gap-1 pb-3 border-b border-[#edf1f5]").mark(f"norms-row-{resource}"):
            with ui.row().classes("w-full items-baseline gap-x-3 gap-y-0 flex-wrap"):
                ui.label(t(f"resource.{resource}")).classes("font-medium min-w-[9rem]")
                ui.label(unit_text(norm)).classes("text-sm du-muted")
            with ui.row().classes("w-full items-center gap-3 flex-wrap"):
                if table.building_id is not None:
                    ui.label(f"{t('norms.col.company')}: {shown(norm.company)}").classes("text-sm") \
                        .mark(f"norms-company-{resource}")
                title = t("norms.col.company" if table.building_id is None else "norms.col.building")
                if table.editable:
                    field = ui.input(title, value="" if own is None else fmt.number(own, 4).rstrip("0").rstrip(",.")) \
                        .props("outlined dense inputmode=decimal").classes("w-44").mark(f"norms-input-{resource}")
                    error = ui.label("").classes("text-xs text-[#c2413b] break-words").mark(f"norms-error-{resource}")
                    error.visible = False
                    ui.button(t("norms.save"), on_click=lambda n=norm, f=field, e=error: self._save(n, f, e)) \
                        .props("unelevated dense no-caps").mark(f"norms-save-{resource}")
                    if own is not None:
                        ui.button(t("norms.clear"), on_click=lambda n=norm, e=error: self._clear(n, e)) \
                            .props("flat dense no-caps").mark(f"norms-clear-{resource}")
                else:
                    ui.label(f"{title}: {shown(own)}").classes("text-sm").mark(f"norms-value-{resource}")
                if table.building_id is not None:
                    source = {"company": t("norms.from_company"), "building": t("norms.from_building")}
                    ui.label(f"{t('norms.col.in_force')}: {shown(norm.in_force)}"
                             + (f" ({source[norm.source]})" if norm.source else "")) \
                        .classes("text-sm font-medium").mark(f"norms-in-force-{resource}")

    async def _save(self, norm: Norm, field: ui.input, error: ui.label) -> None:
        value = parse_norm(field.value, norm.maximum)
        if value is None:
            error.set_text(t("norms.bad", high=fmt.number(norm.maximum, 3).rstrip("0").rstrip(",.")))
            error.visible = True
            return
        await self._apply(self.services.norms.set_norm(self.viewer.token, norm.resource, value, self.building_id),
                          error, t("norms.saved"))

    async def _clear(self, norm: Norm, error: ui.label) -> None:
        await self._apply(self.services.norms.clear_norm(self.viewer.token, norm.resource, self.building_id),
                          error, t("norms.cleared"))

    async def _apply(self, call: Any, error: ui.label, done: str) -> None:
        """Run a change; a refusal is told as a notification by ``auth.attempt`` and the page keeps its values."""
        error.visible = False
        async with theme.working():
            table = await auth.attempt(call)
        if table is not None:
            self.table = table
            ui.notify(done, type="positive")
            self.body.refresh()
