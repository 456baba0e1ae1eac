"""Page «Удельное потребление ресурса и баланс в разрезе объектов» (manual 4.1.1), the first page
of «Учёт» at "/": the city's buildings compared by specific consumption (heat per m², other
resources per resident) and imbalance (%) for a chosen resource and one day or one month, with
the two charts of the manual and a table whose addresses open each building's page (4.1.2).

Every figure comes from OverviewService.specific_consumption (cloud/services/overview.py);
the page only formats. Route and guard: ui.accounting's "/". Tests: tests/ui/test_overview_ui.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from nicegui import ui

from cloud.services.cities import CityInfo
from cloud.services.models import DataStatus, Granularity
from cloud.services.overview import (
    BuildingLimits,
    BuildingSpecific,
    CityLimitChange,
    ImbalanceLimit,
    ImbalanceLimits,
    LimitChange,
    SpecificConsumption,
)
from protocol.vocabulary import Resource

from . import auth, fmt, selection, theme, widgets
from .i18n import current_language, extend, t
from .ports import Services
from .query import page_url, parse_day, parse_param

PATH = "/"
PAGE_SIZE = 50  # table rows drawn at once: a city of 1,000 buildings pages through them
SPECIFIC_DIGITS = 4  # Gcal per m² of one day is a few thousandths
GRANULARITIES = {"day": Granularity.DAY, "month": Granularity.MONTH}
# the period picker of a day is the one of the hours of a day, of a month the one of the days of a month
PICKER = {"day": Granularity.HOUR, "month": Granularity.DAY}
SPECIFIC_COLOUR, PARTIAL_OPACITY = "#1d4f7c", 0.4
IMBALANCE_COLOUR, OVER_COLOUR, LIMIT_COLOUR = "#e39b1b", "#c2413b", "#627d98"

extend({
    "overview.title": ("Удельное потребление ресурса и баланс в разрезе объектов",
                       "Specific consumption and balance by buildings"),
    "overview.subtitle": ("Отопление — на 1 м² площади объекта, прочие ресурсы — на одного жильца",
                          "Heating per m² of the building's area, other resources per resident"),
    "overview.city": ("Город", "City"),
    "overview.period_kind": ("Период", "Period"),
    "overview.kind.day": ("День", "Day"),
    "overview.kind.month": ("Месяц", "Month"),
    "overview.date": ("Дата", "Date"),
    "overview.chart.specific": ("Удельное потребление, {unit}", "Specific consumption, {unit}"),
    "overview.chart.imbalance": ("Небаланс (%)", "Imbalance (%)"),
    "overview.series.specific": ("Удельное потребление", "Specific consumption"),
    "overview.series.imbalance": ("Небаланс, %", "Imbalance, %"),
    "overview.series.limit": ("Допустимый небаланс, %", "Allowed imbalance, %"),
    "overview.no_balance": ("Небаланс доступен для объектов, оборудованных одновременно ОДПУ и ИПУ.",
                            "The imbalance is shown for buildings with both building and apartment meters."),
    "overview.no_data": ("нет данных", "no data"),
    "overview.no_data_period": ("Нет данных за выбранный период.", "No data for the chosen period."),
    "overview.no_buildings": ("В выбранном городе нет объектов компании.",
                              "The company has no buildings in the chosen city."),
    "overview.no_meters": ("нет приборов", "no meters"),
    "overview.no_denominator": ("площадь или число жильцов не заданы", "area or residents not set"),
    "overview.per_m2": ("{unit}/м²", "{unit}/m²"),
    "overview.per_resident": ("{unit}/чел.", "{unit}/resident"),
    "overview.kpi.buildings": ("Объектов", "Buildings"),
    "overview.kpi.over": ("Небаланс выше допустимого", "Imbalance above allowed"),
    "overview.kpi.missing": ("Нет данных или неполные", "Missing or incomplete"),
    "overview.col.address": ("Адрес объекта", "Building"),
    "overview.col.basis": ("Учёт по", "Metered by"),
    "overview.col.consumption": ("Потребление, {unit}", "Consumption, {unit}"),
    "overview.col.area": ("Площадь, м²", "Area, m²"),
    "overview.col.residents": ("Жильцов", "Residents"),
    "overview.col.specific": ("Удельное, {unit}", "Specific, {unit}"),
    "overview.col.imbalance": ("Небаланс, {unit}", "Imbalance, {unit}"),
    "overview.col.imbalance_pct": ("Небаланс, %", "Imbalance, %"),
    "overview.col.allowed": ("Допустимый, %", "Allowed, %"),
    "overview.basis.building_meter": ("ОДПУ", "building meter"),
    "overview.basis.apartment_meters": ("Σ ИПУ", "Σ apartment meters"),
    "overview.basis.none": ("—", "—"),
    "overview.basis.apartment_hint": ("Нет ОДПУ: сумма ИПУ на площадь (жильцов) помещений с ИПУ",
                                      "No building meter: Σ apartment meters over the area (residents) of the "
                                      "premises that have meters"),
    "overview.imbalance.not_applicable": ("нет ОДПУ или ИПУ", "no building or apartment meters"),
    "overview.imbalance.incomplete": ("данные неполные", "incomplete data"),
    "overview.imbalance.running": ("период ещё не закончился", "the period is not over yet"),
    "overview.imbalance.no_percent": ("потребление по ОДПУ равно нулю", "the building meter shows zero"),
    "overview.imbalance.over_limit": ("выше допустимого ({limit} %)", "above the allowed {limit} %"),
    "overview.limit.building": ("задан для объекта", "set for the building"),
    "overview.limit.city": ("по умолчанию для города", "the city's default"),
    "overview.limit.built_in": ("по умолчанию", "default"),
    "overview.search": ("Поиск по адресу", "Search by address"),
    "overview.only_over": ("Только выше допустимого", "Only above allowed"),
    "overview.sort": ("Сортировка", "Sort by"),
    "overview.sort.address": ("по адресу", "address"),
    "overview.sort.specific": ("по удельному потреблению", "specific consumption"),
    "overview.sort.imbalance": ("по небалансу", "imbalance"),
    "overview.shown": ("Показаны {first}–{last} из {count}", "Showing {first}–{last} of {count}"),
    "overview.nothing_found": ("Ничего не найдено.", "Nothing found."),
    "overview.scroll_hint": ("Таблица прокручивается вбок →", "The table scrolls sideways →"),
    "overview.legend": ("–* — нет данных прибора; 1,234* — известная часть суммы (не все приборы передали "
                        "данные); значения за неполный период не выдумываются.",
                        "–* no data from a meter; 1.234* the known part of a sum (not every meter reported); "
                        "missing values are never invented."),
})


# --- what the pages need of the services ------------------------------------------------------------


class OverviewService(Protocol):
    async def specific_consumption(self, token: str, resource: Resource, granularity: Granularity, period: date,
                                   city_id: int | None = None) -> SpecificConsumption: ...

    async def imbalance_limits(self, token: str, city_id: int | None = None) -> ImbalanceLimits: ...

    async def set_imbalance_limits(self, token: str, changes: list[LimitChange]) -> list[BuildingLimits]: ...

    async def set_city_imbalance_limits(self, token: str, city_id: int,
                                        changes: list[CityLimitChange]) -> tuple[ImbalanceLimit, ...]: ...


class CitiesService(Protocol):
    async def list(self, token: str) -> list[CityInfo]: ...


class OverviewServices(Services, Protocol):
    @property
    def overview(self) -> OverviewService: ...

    @property
    def cities(self) -> CitiesService: ...


# --- choices from the address bar ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    city_id: int | None
    resource: Resource
    kind: str  # "day" or "month"
    period: date  # the day, or the first of the month


def last_complete_day(latest: datetime | None, today: date) -> date:
    """The day a comparison opens on: the newest day whose last hour has arrived (a page never
    opens on a day or a month just begun, with nothing in it yet); yesterday without data."""
    if latest is None:
        return today - timedelta(days=1)
    return latest.date() if latest.hour == 23 else latest.date() - timedelta(days=1)


def normalise(kind: str, period: date) -> date:
    return period if kind == "day" else period.replace(day=1)


def city_choice(cities: list[CityInfo], asked: str | None, problems: list[str]) -> int | None:
    """The city from the address (an id of the company's cities), else the one chosen last, else the service's."""
    ids = {c.id for c in cities}
    if asked:
        if asked.isascii() and asked.isdigit() and int(asked) in ids:
            return int(asked)
        problems.append(t("error.bad_parameter", name="city", value=asked))
    chosen = selection.current().city
    return next((c.id for c in cities if c.name == chosen), None)


def parse_choice(cities: list[CityInfo], status: DataStatus, city: str | None, resource: str | None,
                 granularity: str | None, period: str | None, problems: list[str]) -> Choice:
    """The page's choice from the address bar; a bad value is named and replaced by the default."""
    parsed_resource = parse_param(Resource, "resource", resource, problems)
    if granularity and granularity not in GRANULARITIES:
        problems.append(t("error.bad_parameter", name="granularity", value=granularity))
    kind = granularity if granularity in GRANULARITIES else "day"
    parsed_period = parse_param(parse_day, "period", period, problems)
    default = last_complete_day(status.latest_period, date.today())
    chosen = selection.period(parsed_period, default)
    return Choice(city_choice(cities, city, problems), parsed_resource or Resource.HEAT, kind, normalise(kind, chosen))


# --- the page -------------------------------------------------------------------------------------------


class SpecificPage:
    def __init__(self, services: OverviewServices, viewer: auth.Viewer, cities: list[CityInfo], status: DataStatus,
                 choice: Choice, data: SpecificConsumption, problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.cities = cities
        self.status = status
        self.choice = choice
        self.data = data
        self.problems = problems
        self.search = ""
        self.only_over = False
        self.sort = "address"
        self.page = 0
        self._request = 0
        self.progress: ui.linear_progress | None = None

    @classmethod
    async def load(cls, services: OverviewServices, viewer: auth.Viewer, city: str | None, resource: str | None,
                   granularity: str | None, period: str | None) -> SpecificPage:
        cities, status = await services.cities.list(viewer.token), await services.accounting.data_status(viewer.token)
        problems: list[str] = []
        choice = parse_choice(cities, status, city, resource, granularity, period, problems)
        data = await _fetch(services, viewer, choice)
        if data.resources and choice.resource not in data.resources:
            if resource:
                problems.append(t("error.bad_parameter", name="resource", value=resource))
            choice = replace(choice, resource=data.resources[0])
            data = await _fetch(services, viewer, choice)
        choice = replace(choice, city_id=data.city_id)
        _remember(data)
        return cls(services, viewer, cities, status, choice, data, problems)

    def render(self) -> None:
        with theme.frame(t("overview.title"), self.viewer.user, subtitle=t("overview.subtitle"),
                         status=widgets.status_text(self.status), active=PATH):
            for problem in self.problems:
                widgets.warning(problem)
            self.controls()
            self.progress = ui.linear_progress(show_value=False).props("indeterminate color=primary").classes(
                "-mt-3").mark("overview-progress")
            self.progress.visible = False
            self.body()

    @ui.refreshable_method
    def controls(self) -> None:
        c = self.choice
        with theme.card(), ui.row().classes("w-full items-end gap-x-8 gap-y-3"):
            if len(self.cities) > 1:
                with ui.column().classes("gap-1"):
                    ui.label(t("overview.city")).classes("du-kpi-label")
                    ui.select({city.id: city.name for city in self.cities}, value=c.city_id,
                              on_change=widgets.on_change(lambda v: self.change(city_id=v))).props(
                        "outlined dense").classes("min-w-[12rem]").mark("overview-city")
            resources = fmt.sort_resources(self.data.resources) or (c.resource,)
            toggles = (
                (t("controls.resource"), {r.value: fmt.resource(r) for r in resources}, c.resource.value,
                 lambda v: self.change(resource=Resource(v)), "overview-resource"),
                (t("overview.period_kind"), {k: t(f"overview.kind.{k}") for k in GRANULARITIES}, c.kind,
                 lambda v: self.change(kind=v), "overview-kind"),
            )
            for label, options, value, handler, marker in toggles:
                with ui.column().classes("gap-1"):
                    ui.label(label).classes("du-kpi-label")
                    ui.toggle(options, value=value, on_change=widgets.on_change(handler)).props(
                        "unelevated no-caps toggle-color=primary color=grey-2 text-color=grey-9").mark(marker)
            with ui.column().classes("gap-1"):
                ui.label(t("overview.date")).classes("du-kpi-label")
                widgets.PeriodPicker(PICKER[c.kind], c.period, lambda v: self.change(period=v))

    @ui.refreshable_method
    def body(self) -> None:
        data = self.data
        if not data.buildings:
            with theme.card():
                theme.message(t("overview.no_buildings"))
            return
        _kpis(data)
        with ui.element("div").classes("grid w-full gap-5 grid-cols-1 lg:grid-cols-2"):
            with theme.card(t("overview.chart.specific", unit=specific_unit(data))):
                if any(line.specific is not None for line in data.buildings):
                    ui.echart(specific_chart(data)).classes("w-full h-80").mark("specific-chart")
                else:
                    theme.message(t("overview.no_data_period"))
            with theme.card(t("overview.chart.imbalance")):
                balanced = [line for line in data.buildings if line.imbalance_status != "not_applicable"]
                if not balanced:
                    theme.message(t("overview.no_balance"))
                elif all(line.imbalance_pct is None for line in balanced):
                    theme.message(t("overview.no_data_period"))
                else:
                    ui.echart(imbalance_chart(data)).classes("w-full h-80").mark("imbalance-chart")
        self.table_card()

    def table_card(self) -> None:
        with theme.card():
            with ui.row().classes("w-full items-end gap-x-6 gap-y-2"):
                ui.input(t("overview.search"), value=self.search, on_change=lambda e: self._filter(search=e.value)) \
                    .props("outlined dense clearable debounce=300").classes("min-w-[14rem]").mark("overview-search")
                ui.select({k: t(f"overview.sort.{k}") for k in ("address", "specific", "imbalance")},
                          value=self.sort, label=t("overview.sort"),
                          on_change=lambda e: self._filter(sort=e.value)).props("outlined dense").classes(
                    "min-w-[12rem]").mark("overview-sort")
                ui.switch(t("overview.only_over"), value=self.only_over,
                          on_change=lambda e: self._filter(only_over=e.value)).mark("overview-only-over")
            self.rows()

    @ui.refreshable_method
    def rows(self) -> None:
        data = self.data
        shown = _filtered(data.buildings, self.search, self.only_over, self.sort)
        if not shown:
            theme.message(t("overview.nothing_found"))
            return
        pages = (len(shown) + PAGE_SIZE - 1) // PAGE_SIZE
        self.page = min(self.page, pages - 1)
        first = self.page * PAGE_SIZE
        part = shown[first:first + PAGE_SIZE]
        ui.label(t("overview.scroll_hint")).classes("text-xs du-muted sm:hidden")
        _table(data, part)
        with ui.row().classes("w-full items-center justify-between gap-2"):
            ui.label(t("overview.shown", first=first + 1, last=first + len(part), count=len(shown))).classes(
                "text-sm du-muted")
            if pages > 1:
                ui.pagination(1, pages, direction_links=True, value=self.page + 1,
                              on_change=lambda e: self._go(e.value)).props("max-pages=7 boundary-numbers").mark(
                    "overview-pages")
        ui.label(t("overview.legend")).classes("text-xs du-muted")

    # --- actions ---------------------------------------------------------------------------------------

    async def change(self, *, city_id: int | None = None, resource: Resource | None = None, kind: str | None = None,
                     period: date | None = None) -> None:
        c = self.choice
        new_kind = kind or c.kind
        new = Choice(city_id if city_id is not None else c.city_id, resource or c.resource, new_kind,
                     normalise(new_kind, period or c.period))
        self._request += 1
        request = self._request
        if self.progress is not None:
            self.progress.visible = True
        try:
            data = await auth.attempt(_fetch(self.services, self.viewer, new))
        finally:
            if self.progress is not None and request == self._request:
                self.progress.visible = False
        if data is None or request != self._request:
            return
        if data.resources and new.resource not in data.resources:  # another city measures other resources
            new = replace(new, resource=data.resources[0])
            data = await auth.attempt(_fetch(self.services, self.viewer, new))
            if data is None or request != self._request:
                return
        self.choice, self.data, self.page = replace(new, city_id=data.city_id), data, 0
        _remember(data)
        self.controls.refresh()
        self.body.refresh()
        c = self.choice
        ui.navigate.history.replace(page_url(PATH, city=c.city_id, resource=c.resource.value, granularity=c.kind,
                                             period=c.period))

    def _filter(self, *, search: str | None = None, only_over: bool | None = None, sort: str | None = None) -> None:
        if search is not None or only_over is not None or sort is not None:
            self.page = 0
        self.search = (search if search is not None else self.search) or ""
        self.only_over = self.only_over if only_over is None else bool(only_over)
        self.sort = sort or self.sort
        self.rows.refresh()

    def _go(self, page: int | None) -> None:
        if page:
            self.page = page - 1
            self.rows.refresh()


async def _fetch(services: OverviewServices, viewer: auth.Viewer, choice: Choice) -> SpecificConsumption:
    return await services.overview.specific_consumption(viewer.token, choice.resource, GRANULARITIES[choice.kind],
                                                        choice.period, choice.city_id)


def _remember(data: SpecificConsumption) -> None:
    selection.remember(city=data.city, period=data.period, span=selection.total_span(data.granularity))



# --- formatting ------------------------------------------------------------------------------------------


def specific_unit(data: SpecificConsumption) -> str:
    unit = fmt.unit(data.unit)
    return t("overview.per_m2", unit=unit) if data.per == "m2" else t("overview.per_resident", unit=unit)


def specific_text(line: BuildingSpecific) -> str:
    """The specific value as the table shows it: ``–*`` missing, ``0,0012*`` the known part, or why there is none."""
    if line.status == "no_data":
        return t("overview.no_data")
    if line.status == "no_meters":
        return t("overview.no_meters")
    if line.status == "no_denominator" or line.specific is None:
        return fmt.MISSING if line.status == "missing" else "—"
    text = fmt.number(line.specific, SPECIFIC_DIGITS)
    return text + fmt.PARTIAL_MARK if line.status == "partial" else text


def imbalance_texts(line: BuildingSpecific, unit: str) -> tuple[str, str]:
    """(imbalance in units, in %) as the table shows them."""
    state = line.imbalance_status
    if state == "not_applicable":
        return "—", "—"
    if state == "no_data":
        return t("overview.no_data"), t("overview.no_data")
    if line.imbalance is None:
        return fmt.MISSING, fmt.MISSING
    return fmt.amount(line.imbalance, unit), fmt.percent(line.imbalance_pct) if line.imbalance_pct is not None else "—"


def imbalance_hint(line: BuildingSpecific) -> str:
    state = line.imbalance_status
    if state == "over_limit":
        return t("overview.imbalance.over_limit", limit=fmt.number(line.limit.percent, 1))
    key = f"overview.imbalance.{state}"
    return t(key) if state in ("not_applicable", "incomplete", "running", "no_percent") else ""


def limit_text(limit: ImbalanceLimit) -> str:
    return fmt.number(limit.percent, 1)


def _filtered(lines: tuple[BuildingSpecific, ...], search: str, only_over: bool, sort: str) -> list[BuildingSpecific]:
    needle = search.strip().casefold()
    shown = [line for line in lines if needle in line.building.address.casefold()
             and (not only_over or line.imbalance_status == "over_limit")]
    if sort == "specific":
        return sorted(shown, key=lambda x: (x.specific is None, -(x.specific or 0.0), x.building.address))
    if sort == "imbalance":
        return sorted(shown, key=lambda x: (x.imbalance_pct is None, -abs(x.imbalance_pct or 0.0),
                                            x.building.address))
    return sorted(shown, key=lambda x: x.building.address)


def _kpis(data: SpecificConsumption) -> None:
    over = sum(1 for line in data.buildings if line.imbalance_status == "over_limit")
    gaps = sum(1 for line in data.buildings if line.status in ("missing", "partial", "no_data"))
    with ui.row().classes("w-full gap-5"):
        widgets.kpi(t("overview.kpi.buildings"), fmt.integer(len(data.buildings)), marker="kpi-buildings")
        widgets.kpi(t("overview.kpi.over"), fmt.integer(over), marker="kpi-over")
        widgets.kpi(t("overview.kpi.missing"), fmt.integer(gaps), marker="kpi-missing")


_TABLE_CSS = """
.du-ov-wrap { overflow-x: auto; width: 100%; }
.du-ov { border-collapse: separate; border-spacing: 0; width: 100%; font-variant-numeric: tabular-nums; }
.du-ov th { font-weight: 600; color: #334e68; background: #f7f9fb; font-size: .8rem; text-align: right;
  padding: 6px 10px; white-space: nowrap; }
.du-ov td { padding: 6px 10px; border-top: 1px solid #edf1f5; text-align: right; white-space: nowrap; }
.du-ov th:first-child, .du-ov td:first-child { position: sticky; left: 0; z-index: 1; text-align: left;
  background: #fff; box-shadow: 1px 0 0 #e3e8ef; max-width: 16rem; }
.du-ov th:first-child { background: #f7f9fb; }
.du-ov td:first-child a { display: block; overflow: hidden; text-overflow: ellipsis; }
.du-ov .du-over { color: #c2413b; font-weight: 600; }
"""


def _table(data: SpecificConsumption, lines: list[BuildingSpecific]) -> None:
    """The rows of one page; each building's row is marked ``building-{id}`` and its address links to 4.1.2."""
    unit = fmt.unit(data.unit)
    per = specific_unit(data)
    heat = data.per == "m2"
    heads = (t("overview.col.address"), t("overview.col.basis"), t("overview.col.consumption", unit=unit),
             t("overview.col.area") if heat else t("overview.col.residents"), t("overview.col.specific", unit=per),
             t("overview.col.imbalance", unit=unit), t("overview.col.imbalance_pct"), t("overview.col.allowed"))
    ui.add_css(_TABLE_CSS)
    query = {"resource": data.resource.value, "granularity": "day" if data.granularity is Granularity.DAY else "month",
             "period": data.period}
    with ui.element("div").classes("du-ov-wrap"), ui.element("table").classes("du-ov").mark("overview-table"):
        with ui.element("thead"), ui.element("tr"):
            for head in heads:
                with ui.element("th"):
                    ui.label(head)
        with ui.element("tbody"):
            for line in lines:
                _row(line, data.unit, heat, query)


def _row(line: BuildingSpecific, unit: str, heat: bool, query: dict[str, Any]) -> None:
    b = line.building
    units, pct = imbalance_texts(line, unit)
    hint = imbalance_hint(line)
    over = line.imbalance_status == "over_limit"
    with ui.element("tr").mark(f"building-{b.id}"):
        with ui.element("td"):
            link = ui.link(b.address, page_url(f"/buildings/{b.id}", **query)).classes("du-link").mark(
                f"address-{b.id}")
            link.props["title"] = b.address  # a long address is cut with "…": the whole one on hover
        with ui.element("td"):
            basis = ui.label(t(f"overview.basis.{line.basis}"))
            if line.basis == "apartment_meters":
                basis.tooltip(t("overview.basis.apartment_hint"))
        with ui.element("td"):
            ui.label(widgets.figure_text(line.consumption, unit) if line.status not in ("no_data", "no_meters")
                     else "—")
        with ui.element("td"):
            denominator = line.denominator
            ui.label("—" if denominator is None else fmt.number(denominator, 1) if heat else fmt.integer(
                int(denominator)))
        with ui.element("td"):
            cell = ui.label(specific_text(line)).mark(f"specific-{b.id}")
            if line.status == "no_denominator":
                cell.tooltip(t("overview.no_denominator"))
        with ui.element("td"):
            ui.label(units)
        with ui.element("td"):
            with ui.row().classes("items-center justify-end gap-1 no-wrap"):
                if over:
                    ui.icon("warning", size="16px").classes("du-over")
                cell = ui.label(pct).classes("du-over" if over else "").mark(f"imbalance-{b.id}")
                if hint:
                    cell.tooltip(hint)
        with ui.element("td"):
            ui.label(limit_text(line.limit)).classes("du-muted" if line.limit.source != "building" else "").tooltip(
                t(f"overview.limit.{line.limit.source}"))


# --- charts (ECharts options) ------------------------------------------------------------------------------


def _short(address: str, width: int = 22) -> str:
    return address if len(address) <= width else address[:width - 1] + "…"


def _base(addresses: list[str], places: int) -> dict[str, Any]:
    """A bar chart by building: the full address in the tooltip, a zoom slider when there are many."""
    many = len(addresses) > 25
    options: dict[str, Any] = {
        "animationDuration": 300,
        "grid": {"left": 8, "right": 8, "top": 40, "bottom": 40 if many else 8, "containLabel": True},
        "legend": {"top": 0, "left": 0, "icon": "roundRect", "itemWidth": 12, "itemHeight": 12},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"},
                    ":formatter": _tooltip_js(addresses, places)},
        "xAxis": {"type": "category", "data": [_short(a) for a in addresses],
                  "axisLabel": {"color": "#486581", "rotate": 30 if len(addresses) > 6 else 0, "interval": 0},
                  "axisLine": {"lineStyle": {"color": "#bcccdc"}}},
        "yAxis": {"type": "value", "splitLine": {"lineStyle": {"color": "#edf1f5"}},
                  "axisLabel": {"color": "#486581"}},
    }
    if many:
        end = max(5, round(25 / len(addresses) * 100))
        options["dataZoom"] = [{"type": "slider", "start": 0, "end": end, "height": 18, "bottom": 4},
                               {"type": "inside"}]
    return options


def _tooltip_js(addresses: list[str], places: int) -> str:
    """Names the whole address; a missing value reads ``–*``, a partial one gets ``*``."""
    locale = json.dumps("en-US" if current_language() == "en" else "ru-RU")
    return (
        "(params) => {"
        f" const names = {json.dumps(addresses, ensure_ascii=False)};"
        " let text = '<b>' + names[params[0].dataIndex] + '</b>';"
        " for (const p of params) {"
        "  const d = p.data; const v = (d !== null && typeof d === 'object') ? d.value : d;"
        "  const shown = (v === null || v === undefined || v === '-') ? '–*'"
        f"   : v.toLocaleString({locale}, {{minimumFractionDigits: {places}, maximumFractionDigits: {places}}})"
        "     + ((d !== null && typeof d === 'object' && d.partial) ? '*' : '');"
        "  text += '<br>' + p.marker + p.seriesName + ': <b>' + shown + '</b>';"
        " }"
        " return text; }"
    )


def specific_chart(data: SpecificConsumption) -> dict[str, Any]:
    """«Удельное потребление»: a bar per building; a partial sum pale, a missing one a gap."""
    lines = sorted(data.buildings, key=lambda x: x.building.address)
    options = _base([x.building.address for x in lines], SPECIFIC_DIGITS)
    options["series"] = [{
        "name": t("overview.series.specific"), "type": "bar", "color": SPECIFIC_COLOUR, "barMaxWidth": 28,
        "data": [None if x.specific is None else
                 {"value": x.specific, "partial": True, "itemStyle": {"opacity": PARTIAL_OPACITY}}
                 if x.status == "partial" else x.specific for x in lines],
    }]
    return options


def imbalance_chart(data: SpecificConsumption) -> dict[str, Any]:
    """«Небаланс (%)»: a bar per building with both kinds of meters, red above its allowed imbalance,
    and the allowed imbalance of each as a dashed line."""
    lines = sorted((x for x in data.buildings if x.imbalance_status != "not_applicable"),
                   key=lambda x: x.building.address)
    options = _base([x.building.address for x in lines], fmt.PERCENT_DIGITS)
    options["series"] = [
        {"name": t("overview.series.imbalance"), "type": "bar", "color": IMBALANCE_COLOUR, "barMaxWidth": 28,
         "data": [None if x.imbalance_pct is None else
                  {"value": x.imbalance_pct, "itemStyle": {"color": OVER_COLOUR}}
                  if x.imbalance_status == "over_limit" else x.imbalance_pct for x in lines]},
        {"name": t("overview.series.limit"), "type": "line", "step": "middle", "color": LIMIT_COLOUR,
         "symbol": "none", "lineStyle": {"type": "dashed", "width": 1.5}, "data": [x.limit.percent for x in lines]},
    ]
    return options
