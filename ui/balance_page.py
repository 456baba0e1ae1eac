"""Building pages «Приборы учета объекта» (manual 4.1.3), «Потребление в разрезе помещений объекта»
(4.1.4) and the setting «Приборы» (4.6.5: each apartment meter added to, subtracted from or left out
of the building balance).

Figures come from cloud/services/balance.py (the shape this module uses: ui.building_page's
BalanceApi); nothing is recomputed here. Routes: /buildings/{id}/meters, /buildings/{id}/premises,
/settings/buildings/{id}/balance. Tests: tests/ui/test_balance_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.balance import BalanceMeter, BalanceSigns, PremiseFigures, PremisesConsumption, SignChange
from cloud.services.balance_rules import Sign
from cloud.services.models import (
    BuildingSummary,
    Forbidden,
    Granularity,
    InvalidInput,
    MeterInfo,
    NotFound,
    PremiseInfo,
)
from protocol.vocabulary import MeterRole, Resource

from . import access, auth, charts, errors, fmt, pages, selection, theme, widgets
from .building_menu import building_menu, settings_menu
from .building_page import ACTIVE_STATUSES, BalanceServices, natural_key, scroll_hint, sticky_css
from .i18n import extend, t
from .ports import Services
from .query import PageQuery, page_url

PAGE_TIMEOUT = 30.0
SETTINGS = "/settings/buildings"

extend({
    # 4.1.3
    "balance.meters.title": ("Приборы учета объекта", "Building meters"),
    "balance.meters.active": ("активный", "active"),
    "balance.meters.active_hint": ("Включено: работающие приборы и приборы на вводе в эксплуатацию; выключено: "
                                   "все, с выведенными из эксплуатации.",
                                   "On: meters in service and being commissioned; off: all, decommissioned "
                                   "included."),
    "balance.meters.hidden": ("Скрыто выведенных из эксплуатации: {count}", "Decommissioned meters hidden: {count}"),
    "balance.meters.legend.in_service": ("в эксплуатации", "in service"),
    "balance.meters.legend.decommissioned": ("выведен из эксплуатации", "decommissioned"),
    "balance.meters.legend.commissioning": ("ввод в эксплуатацию не завершён", "commissioning not finished"),
    "balance.meters.building": ("Общедомовые приборы учёта", "Building meters"),
    "balance.meters.no_meters": ("Приборов нет", "No meters"),
    "balance.meters.premises_nav": ("Помещения", "Premises"),
    # 4.1.4
    "balance.premises.title": ("Потребление в разрезе помещений объекта", "Consumption by premises"),
    "balance.premises.day": ("за день", "a day"),
    "balance.premises.month": ("за месяц", "a month"),
    "balance.premises.chart.absolute": ("Потребление помещений, {unit}", "Consumption of the premises, {unit}"),
    "balance.premises.chart.specific": ("Удельное потребление, {unit}", "Specific consumption, {unit}"),
    "balance.premises.chart.share": ("Доля помещения в ОДП, %", "Share of the building consumption, %"),
    "balance.premises.per_m2": ("{unit}/м²", "{unit}/m²"),
    "balance.premises.per_resident": ("{unit}/чел.", "{unit}/resident"),
    "balance.premises.no_building_meter": ("Доля в общедомовом потреблении не рассчитывается: на объекте нет ОДПУ "
                                           "по ресурсу «{resource}».",
                                           "No share of the building consumption: the building has no building "
                                           "meter of {resource}."),
    "balance.premises.building_incomplete": ("Доли не рассчитаны: показания ОДПУ за период неполные ({value}).",
                                             "No shares: the building meter's figure of the period is incomplete "
                                             "({value})."),
    "balance.premises.no_residents": ("Удельное потребление не рассчитано — в помещении нет жильцов: {numbers}.",
                                      "No specific consumption: no residents in premises {numbers}."),
    "balance.premises.no_area": ("Удельное потребление не рассчитано — не указана площадь: {numbers}.",
                                 "No specific consumption: no area given for premises {numbers}."),
    "balance.premises.unmetered": ("Помещений без приборов учёта по ресурсу: {count} (не показаны).",
                                   "Premises without a meter of the resource: {count} (not shown)."),
    "balance.premises.empty": ("Ни в одном помещении нет приборов учёта по ресурсу.",
                               "No premise has a meter of the resource."),
    "balance.premises.kpi.building": ("ОДПУ за период", "Building meter, period"),
    "balance.premises.kpi.premises": ("Σ помещений за период", "Σ premises, period"),
    "balance.premises.col.premise": ("Помещение", "Premise"),
    "balance.premises.col.meters": ("Приборы", "Meters"),
    "balance.premises.col.value": ("Потребление, {unit}", "Consumption, {unit}"),
    "balance.premises.col.specific": ("Удельное, {unit}", "Specific, {unit}"),
    "balance.premises.col.share": ("Доля в ОДП, %", "Share, %"),
    "balance.premises.no_residents_cell": ("нет жильцов", "no residents"),
    "balance.premises.no_area_cell": ("нет площади", "no area"),
    "balance.premises.series": ("Потребление", "Consumption"),
    "balance.premises.series.specific": ("Удельное", "Specific"),
    "balance.premises.series.share": ("Доля", "Share"),
    # 4.6.5
    "balance.settings.title": ("Приборы: расчёт баланса", "Meters: the building balance"),
    "balance.settings.hint": ("Небаланс = ОДПУ − Σ ИПУ. Показания ИПУ прибавляются к сумме, отнимаются от неё или "
                              "не участвуют в расчёте. Чтобы перенести прибор, нажмите значок рядом с ним.",
                              "Imbalance = building meter − Σ apartment meters. An apartment meter is added to the "
                              "sum, subtracted from it or left out. Click an icon next to a meter to move it."),
    "balance.settings.read_only": ("Только просмотр: привязку приборов меняет диспетчер.",
                                   "Read only: a dispatcher changes these."),
    "balance.settings.column.+": ("Прибавляются к потреблению", "Added"),
    "balance.settings.column.-": ("Отнимаются от потребления", "Subtracted"),
    "balance.settings.column.excluded": ("Не участвуют в расчётах", "Left out"),
    "balance.settings.to.+": ("Прибавлять", "Add"),
    "balance.settings.to.-": ("Отнимать", "Subtract"),
    "balance.settings.to.excluded": ("Не учитывать", "Leave out"),
    "balance.settings.moved": ("Прибор {serial}: {column}", "Meter {serial}: {column}"),
    "balance.settings.empty": ("Нет приборов", "No meters"),
    "balance.settings.no_meters": ("На объекте нет индивидуальных приборов учёта.",
                                   "The building has no apartment meters."),
    "balance.settings.saving": ("Сохранение…", "Saving…"),
})

_SIGN_ICON = {Sign.ADDED: "add_circle", Sign.SUBTRACTED: "remove_circle", Sign.EXCLUDED: "block"}
_SIGN_NAME = {Sign.ADDED: "plus", Sign.SUBTRACTED: "minus", Sign.EXCLUDED: "excluded"}  # for markers
_SIGN_COLOUR = {Sign.ADDED: "#22a06b", Sign.SUBTRACTED: "#c2413b", Sign.EXCLUDED: "#7b8794"}
_STATUS_COLOURS = {"in_service": "#22a06b", "decommissioned": "#9aa5b1", "commissioning": "#102a43"}
PREMISE_GRANULARITIES = (Granularity.DAY, Granularity.MONTH)  # one day, one month (4.1.4)
_PICKER = {Granularity.DAY: Granularity.HOUR, Granularity.MONTH: Granularity.DAY}  # the picker that picks it


class _Page(Protocol):
    def render(self) -> None: ...


def register(services: Services) -> None:
    """Register the pages: /buildings/{id}/premises, /buildings/{id}/meters, /settings/buildings/{id}/balance."""
    balance_services = cast(BalanceServices, services)

    @ui.page("/buildings/{building_id}/meters", response_timeout=PAGE_TIMEOUT)
    async def meters_page(request: Request, building_id: str) -> RedirectResponse | None:
        return await _guarded(services, request, _parse_id(building_id),
                              lambda viewer, ident: MetersPage.load(services, viewer, ident))

    @ui.page("/buildings/{building_id}/premises", response_timeout=PAGE_TIMEOUT)
    async def premises_page(request: Request, building_id: str, resource: str | None = None,
                            granularity: str | None = None, period: str | None = None) -> RedirectResponse | None:
        query = PageQuery.parse(resource=resource, granularity=granularity, period=period)
        return await _guarded(services, request, _parse_id(building_id),
                              lambda viewer, ident: PremisesPage.load(balance_services, viewer, ident, query))

    @ui.page(SETTINGS + "/{building_id}/balance", response_timeout=PAGE_TIMEOUT)
    async def balance_settings(request: Request, building_id: str) -> RedirectResponse | None:
        return await _guarded(services, request, _parse_id(building_id),
                              lambda viewer, ident: SignsPage.load(balance_services, viewer, ident),
                              active=SETTINGS)


def _parse_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


async def _guarded(services: Services, request: Request, ident: int | None,
                   load: Callable[[auth.Viewer, int], Awaitable[_Page]], active: str = "/") -> RedirectResponse | None:
    """Sign-in guard, role check (administrators: the forbidden page), then load and draw; what the
    services refuse becomes the not-found, forbidden or invalid-input page inside the frame."""
    viewer = await pages.operational_viewer(services, request, active=active)
    if viewer is None or isinstance(viewer, RedirectResponse):
        return viewer
    crumbs = [(t("nav.buildings"), "/")]
    try:
        if ident is None:
            raise NotFound(t("error.building_not_found"))
        page = await load(viewer, ident)
    except NotFound:
        with theme.frame(t("error.not_found"), viewer.user, crumbs=crumbs, active=active):
            widgets.problem(t("error.not_found"), t("error.building_not_found"))
        return None
    except Forbidden:
        with theme.frame(t("error.forbidden"), viewer.user, crumbs=crumbs, active=active):
            widgets.problem(t("error.forbidden"), t("error.forbidden_text"), icon="lock")
        return None
    except InvalidInput as error:
        with theme.frame(t("error.invalid_title"), viewer.user, crumbs=crumbs, active=active):
            widgets.problem(t("error.invalid_title"), t("error.invalid_input", reason=errors.reason(str(error))),
                            icon="error_outline")
        return None
    page.render()
    return None


def _crumbs(building: BuildingSummary) -> list[tuple[str, str]]:
    return [(t("nav.buildings"), "/"), (building.address, f"/buildings/{building.id}")]


# --- 4.1.3 the building's meters ------------------------------------------------------------------------


class MetersPage:
    """The meter tiles by premise with the «активный» switch (manual 4.1.3)."""

    def __init__(self, viewer: auth.Viewer, building: BuildingSummary, premises: list[PremiseInfo],
                 meters: list[MeterInfo]) -> None:
        self.viewer = viewer
        self.building = building
        self.premises = premises
        self.meters = meters
        self.active_only = True

    @classmethod
    async def load(cls, services: Services, viewer: auth.Viewer, building_id: int) -> MetersPage:
        accounting, token = services.accounting, viewer.token
        building = await accounting.building(token, building_id)
        premises = await accounting.premises(token, building_id)
        meters = await accounting.meters(token, building_id)
        selection.remember(building_id=building_id, city=building.city)
        return cls(viewer, building, premises, meters)

    def render(self) -> None:
        with theme.frame(t("balance.meters.title"), self.viewer.user, crumbs=_crumbs(self.building),
                         subtitle=f"{self.building.address}, {self.building.city}"):
            building_menu(self.building.id, "/meters")
            with theme.card():
                with ui.row().classes("w-full items-center justify-between gap-3"):
                    with ui.row().classes("items-center gap-2"):
                        ui.switch(t("balance.meters.active"), value=self.active_only,
                                  on_change=lambda e: self._show_active(bool(e.value))).mark("active-switch")
                        ui.icon("help_outline", size="18px").classes("du-muted").tooltip(
                            t("balance.meters.active_hint"))
                    _status_legend()
            self.tiles()

    def _show_active(self, active_only: bool) -> None:
        self.active_only = active_only
        self.tiles.refresh()

    @ui.refreshable_method
    def tiles(self) -> None:
        shown = [m for m in self.meters if not self.active_only or m.status in ACTIVE_STATUSES]
        hidden = len(self.meters) - len(shown)
        if hidden:
            ui.label(t("balance.meters.hidden", count=hidden)).classes("text-sm du-muted").mark("hidden-count")
        if not shown:
            with theme.card():
                theme.message(t("meters.empty"))
            return
        by_premise: dict[int, list[MeterInfo]] = {}
        for meter in shown:
            if meter.premise_id is not None:
                by_premise.setdefault(meter.premise_id, []).append(meter)
        premises = [p for p in sorted(self.premises, key=lambda p: natural_key(p.number)) if p.id in by_premise]
        if premises:
            with theme.card(t("balance.meters.premises_nav")).mark("premise-nav"), ui.row().classes("gap-2"):
                for premise in premises:
                    ui.link(t("premise.short", number=premise.number), f"#premise-{premise.id}").classes(
                        "du-link text-sm px-2 py-1 rounded bg-[#f0f4f8]")
        common = [m for m in shown if m.role is MeterRole.COMMON]
        if common:
            with theme.card(t("balance.meters.building")).mark("meters-building"):
                widgets.plashka_grid(common, premise_label=lambda _m: None)
        for premise in premises:
            with theme.card().props(f"id=premise-{premise.id}").mark(f"premise-block-{premise.number}"):
                with ui.row().classes("items-baseline gap-3"):
                    ui.link(t("premise.short", number=premise.number), f"/premises/{premise.id}").classes(
                        "du-link text-base font-semibold")
                    ui.label(f"{fmt.premise_kind(premise.kind)} · {fmt.number(premise.area_m2, 1)} {t('unit.m2')}"
                             ).classes("text-xs du-muted")
                group = sorted(by_premise[premise.id], key=lambda m: m.serial)
                widgets.plashka_grid(group, premise_label=lambda _m: None)


def _status_legend() -> None:
    with ui.row().classes("items-center gap-4 text-xs du-muted").mark("status-legend"):
        for status in ("in_service", "decommissioned", "commissioning"):
            with ui.row().classes("items-center gap-1 no-wrap"):
                ui.element("span").classes("du-dot").style(f"background: {_STATUS_COLOURS[status]}")
                ui.label(t(f"balance.meters.legend.{status}"))


# --- 4.1.4 consumption by premises -----------------------------------------------------------------------


class PremisesPage:
    """Absolute, specific and share of each premise for one day or one month (manual 4.1.4)."""

    def __init__(self, services: BalanceServices, viewer: auth.Viewer, building: BuildingSummary,
                 resources: tuple[Resource, ...], newest: date, data: PremisesConsumption | None,
                 problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.building = building
        self.resources = resources
        self.newest = newest
        self.data = data
        self.problems = problems
        self._request = 0

    @classmethod
    async def load(cls, services: BalanceServices, viewer: auth.Viewer, building_id: int,
                   query: PageQuery) -> PremisesPage:
        accounting, token = services.accounting, viewer.token
        building = await accounting.building(token, building_id)
        meters = await accounting.meters(token, building_id)
        newest = await accounting.default_period(token, building_id)
        problems = list(query.problems)
        resources = fmt.sort_resources(r for m in meters if m.role is MeterRole.INDIVIDUAL for r in m.resources)
        resource = resources[0] if resources else None
        if query.resource is not None:
            if query.resource in resources:
                resource = query.resource
            else:
                problems.append(t("error.bad_parameter", name="resource", value=query.resource.value))
        granularity = Granularity.DAY
        if query.granularity is not None:
            if query.granularity in PREMISE_GRANULARITIES:
                granularity = query.granularity
            else:
                problems.append(t("error.bad_parameter", name="granularity", value=query.granularity.value))
        period = _normalise(selection.period(query.period, newest), granularity)
        data = None
        if resource is not None:
            data = await services.balance.premises_consumption(token, building_id, resource, granularity, period)
        selection.remember(building_id=building_id, period=period, city=building.city,
                           span=selection.total_span(granularity))
        return cls(services, viewer, building, resources, newest, data, problems)

    def render(self) -> None:
        with theme.frame(t("balance.premises.title"), self.viewer.user, crumbs=_crumbs(self.building),
                         subtitle=f"{self.building.address}, {self.building.city}"):
            sticky_css()
            building_menu(self.building.id, "/premises")
            for problem in self.problems:
                widgets.warning(problem)
            self.body()

    async def change(self, *, resource: Resource | None = None, granularity: Granularity | None = None,
                     period: date | None = None) -> None:
        """Reload for a new resource, day/month or period (the newest request wins), with a progress note."""
        if self.data is None:
            return
        new_resource = resource or self.data.resource
        new_granularity = granularity or self.data.granularity
        base = period or (self.data.period if granularity is None else _carry(self.data.period, new_granularity,
                                                                               self.newest))
        new_period = _normalise(base, new_granularity)
        self._request += 1
        request = self._request
        progress = ui.notification(t("balance.loading"), spinner=True, timeout=None, position="top")
        try:
            data = await auth.attempt(self.services.balance.premises_consumption(
                self.viewer.token, self.building.id, new_resource, new_granularity, new_period))
        finally:
            progress.dismiss()
        if data is None or request != self._request:
            return
        self.data = data
        selection.remember(period=new_period, span=selection.total_span(new_granularity))
        self.body.refresh()
        ui.navigate.history.replace(page_url(f"/buildings/{self.building.id}/premises", resource=new_resource.value,
                                             granularity=new_granularity.value, period=new_period))

    @ui.refreshable_method
    def body(self) -> None:
        data = self.data
        if data is None:
            with theme.card():
                theme.message(t("building.no_meters"))
            return
        widgets.control_bar(
            [widgets.Choice(t("controls.resource"), {r: fmt.resource(r) for r in self.resources}, data.resource,
                            lambda value: self.change(resource=Resource(value)), "resource-toggle"),
             widgets.Choice(t("controls.granularity"),
                            {g: t(f"balance.premises.{g.value}") for g in PREMISE_GRANULARITIES},
                            data.granularity, lambda value: self.change(granularity=Granularity(value)),
                            "granularity-toggle")],
            _PICKER[data.granularity], data.period, lambda value: self.change(period=value))
        if not data.premises:
            with theme.card().mark("no-data"):
                theme.message(t("balance.premises.empty"))
            return
        if data.period_start is None:
            with theme.card().mark("no-data"):
                theme.message(t("balance.no_data"))
            return
        unit = fmt.unit(data.unit)
        specific_unit = t("balance.premises.per_m2" if data.specific_basis == "area"
                          else "balance.premises.per_resident", unit=unit)
        with ui.row().classes("w-full gap-5"):
            if data.has_building_meter:
                widgets.kpi(t("balance.premises.kpi.building"),
                            f"{widgets.figure_text(data.building_figure, data.unit)} {unit}", marker="kpi-building")
            else:
                widgets.kpi(t("balance.premises.kpi.building"), "—", hint=t("kpi.no_building_meter"),
                            marker="kpi-building")
            widgets.kpi(t("balance.premises.kpi.premises"),
                        f"{widgets.figure_text(data.premises_figure, data.unit)} {unit}", marker="kpi-premises")
        with ui.element("div").classes("grid w-full gap-5 grid-cols-1 lg:grid-cols-3"):
            with theme.card(t("balance.premises.chart.absolute", unit=unit)):
                ui.echart(charts.premises_absolute(data, t("balance.premises.series"))).classes("w-full h-72") \
                    .mark("premises-absolute-chart")
            with theme.card(t("balance.premises.chart.specific", unit=specific_unit)):
                ui.echart(charts.premises_specific(data, specific_unit, t("balance.premises.series.specific"))) \
                    .classes("w-full h-72").mark("premises-specific-chart")
            with theme.card(t("balance.premises.chart.share")).mark("share-card"):
                if not data.has_building_meter:
                    theme.message(t("balance.premises.no_building_meter", resource=fmt.resource(data.resource)))
                else:
                    if not data.building_figure.complete or data.building_figure.value is None:
                        theme.message(t("balance.premises.building_incomplete",
                                        value=widgets.figure_text(data.building_figure, data.unit)),
                                      icon="warning_amber")
                    ui.echart(charts.premises_share(data, t("balance.premises.series.share"))).classes(
                        "w-full h-72").mark("premises-share-chart")
        _notes(data)
        _premises_table(data, unit, specific_unit)


def _normalise(period: date, granularity: Granularity) -> date:
    """One day as it is; one month by its first day."""
    return period.replace(day=1) if granularity is Granularity.MONTH else period


def _carry(period: date, granularity: Granularity, newest: date) -> date:
    """The period after switching day ↔ month: the month of the day; from a month, its newest day with data
    when the month has it, else its first day."""
    if granularity is Granularity.DAY and (period.year, period.month) == (newest.year, newest.month):
        return newest
    return period


def _notes(data: PremisesConsumption) -> None:
    without = [r.premise.number for r in data.premises if r.specific_missing == "no_residents"]
    no_area = [r.premise.number for r in data.premises if r.specific_missing == "no_area"]
    with ui.column().classes("gap-1"):
        if without:
            ui.label(t("balance.premises.no_residents", numbers=", ".join(without))).classes("text-sm du-muted") \
                .mark("no-residents-note")
        if no_area:
            ui.label(t("balance.premises.no_area", numbers=", ".join(no_area))).classes("text-sm du-muted")
        if data.unmetered:
            ui.label(t("balance.premises.unmetered", count=data.unmetered)).classes("text-sm du-muted")


def _specific_cell(row: PremiseFigures) -> str:
    if row.specific_missing == "no_residents":
        return t("balance.premises.no_residents_cell")
    if row.specific_missing == "no_area":
        return t("balance.premises.no_area_cell")
    if row.specific is None:
        return fmt.MISSING
    text = fmt.number(row.specific, charts.SPECIFIC_DIGITS)
    return text if row.figure.complete else text + fmt.PARTIAL_MARK


def _share_cell(row: PremiseFigures) -> str:
    if row.share_missing == "no_building_meter":
        return widgets.NOT_EXPECTED
    return fmt.percent(row.share_pct)


def _premises_table(data: PremisesConsumption, unit: str, specific_unit: str) -> None:
    with theme.card(fmt.period_title(data.period, _PICKER[data.granularity])):
        scroll_hint()
        rows: list[list[widgets.Cell]] = []
        for row in sorted(data.premises, key=lambda r: natural_key(r.premise.number)):
            rows.append([
                widgets.Link(row.premise.number, f"/premises/{row.premise.id}"),
                ", ".join(row.meters),
                widgets.figure_text(row.figure, data.unit),
                _specific_cell(row),
                _share_cell(row),
            ])
        with ui.element("div").classes("w-full overflow-x-auto du-sticky-first").mark("premises-table"):
            widgets.link_table([t("balance.premises.col.premise"), t("balance.premises.col.meters"),
                                t("balance.premises.col.value", unit=unit),
                                t("balance.premises.col.specific", unit=specific_unit),
                                t("balance.premises.col.share")], rows, numeric=(2, 3, 4))
        widgets.consumption_notes(data.derived_from)


# --- 4.6.5 the signs ---------------------------------------------------------------------------------------


class SignsPage:
    """Three columns of apartment meters: added, subtracted, left out; an icon moves a meter (a dispatcher)."""

    def __init__(self, services: BalanceServices, viewer: auth.Viewer, signs: BalanceSigns) -> None:
        self.services = services
        self.viewer = viewer
        self.signs = signs

    @classmethod
    async def load(cls, services: BalanceServices, viewer: auth.Viewer, building_id: int) -> SignsPage:
        signs = await services.balance.balance_signs(viewer.token, building_id)
        selection.remember(building_id=building_id, city=signs.building.city)
        return cls(services, viewer, signs)

    @property
    def editable(self) -> bool:
        return self.signs.editable and access.may_change_settings(self.viewer.user)

    def render(self) -> None:
        building = self.signs.building
        with theme.frame(t("balance.settings.title"), self.viewer.user,
                         crumbs=[(t("nav.settings_buildings"), SETTINGS)],
                         subtitle=f"{building.address}, {building.city}", active=SETTINGS):
            settings_menu(building.id, "/balance")
            ui.label(t("balance.settings.hint")).classes("text-sm du-muted")
            if not self.editable:
                widgets.warning(t("balance.settings.read_only"))
            self.columns()

    @ui.refreshable_method
    def columns(self) -> None:
        if not self.signs.meters:
            with theme.card():
                theme.message(t("balance.settings.no_meters"))
            return
        with ui.element("div").classes("grid w-full gap-5 grid-cols-1 md:grid-cols-3"):
            for sign in Sign:
                meters = sorted((m for m in self.signs.meters if m.sign is sign),
                                key=lambda m: (natural_key(m.premise_number or ""), m.serial))
                with theme.card().mark(f"column-{_SIGN_NAME[sign]}"):
                    with ui.row().classes("items-center gap-2 no-wrap"):
                        ui.icon(_SIGN_ICON[sign], size="20px").style(f"color: {_SIGN_COLOUR[sign]}")
                        ui.label(t(f"balance.settings.column.{sign.value}")).classes("du-card-title")
                        ui.badge(str(len(meters))).props("outline color=grey-7")
                    if not meters:
                        ui.label(t("balance.settings.empty")).classes("text-sm du-muted")
                    for meter in meters:
                        self._meter_row(meter)

    def _meter_row(self, meter: BalanceMeter) -> None:
        with ui.row().classes("w-full items-center justify-between gap-2 no-wrap py-1 border-b border-[#edf1f5]") \
                .mark(f"sign-row-{meter.serial}"):
            with ui.row().classes("items-center gap-2 no-wrap min-w-0"):
                widgets.status_dot(meter.status, _STATUS_COLOURS.get(meter.status, "#9aa5b1"))
                with ui.column().classes("gap-0 min-w-0"):
                    ui.link(meter.serial, f"/meters/{meter.meter_id}").classes("du-link truncate").tooltip(meter.model)
                    where = t("premise.short", number=meter.premise_number) if meter.premise_number else ""
                    detail = " · ".join(x for x in (where, fmt.resources(meter.resources)) if x)
                    ui.label(detail).classes("text-xs du-muted truncate").tooltip(detail)
                    widgets.status_words(meter.status)
            if self.editable:
                with ui.row().classes("gap-0 no-wrap shrink-0"):
                    for target in Sign:
                        if target is meter.sign:
                            continue
                        tip = t(f"balance.settings.to.{target.value}")
                        ui.button(icon=_SIGN_ICON[target], on_click=lambda m=meter, s=target: self.move(m, s)) \
                            .props(f'flat round dense size=sm aria-label="{tip}"') \
                            .style(f"color: {_SIGN_COLOUR[target]}").tooltip(tip) \
                            .mark(f"to-{_SIGN_NAME[target]}-{meter.serial}")

    async def move(self, meter: BalanceMeter, sign: Sign) -> None:
        """Give ``meter`` the sign ``sign`` (the service checks the role and audits it), then redraw."""
        progress = ui.notification(t("balance.settings.saving"), spinner=True, timeout=None, position="top")
        try:
            result = await auth.attempt(self.services.balance.set_balance_signs(
                self.viewer.token, self.signs.building.id, [SignChange(meter.meter_id, sign)]))
        finally:
            progress.dismiss()
        if result is None:
            return
        self.signs = result
        self.columns.refresh()
        ui.notify(t("balance.settings.moved", serial=meter.serial, column=t(f"balance.settings.column.{sign.value}")),
                  type="positive")
