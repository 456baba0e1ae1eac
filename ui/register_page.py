"""Building page «Реестр потребления ресурсов на объекте» (manual 4.1.5): the consumption of one
day or one month as a map, a row per premise (and the building meters), a column per resource;
electricity's total and tariff zones apart. A missing value reads «–*», the known part of several
meters «1,770*» (the rules and numbers are cloud/services/register.py's; this page only draws).

Route /buildings/{id}/register?granularity=day|month&period=YYYY-MM-DD, under the building's
horizontal menu; ``guarded`` (also used by ui.groups_page) is the sign-in guard, role check and
not-found pages. Tests: tests/ui/test_register_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.meter_series import Cell
from cloud.services.models import BuildingSummary, Forbidden, Granularity, InvalidInput, NotFound
from cloud.services.register import ConsumptionRegister, RegisterColumn, RegisterRow

from . import auth, errors, fmt, pages, selection, theme, widgets
from .accounting import parse_id
from .building_menu import building_menu
from .i18n import extend, t
from .ports import Services
from .query import page_url, parse_day, parse_param

extend({
    "register.title": ("Реестр потребления ресурсов на объекте", "Consumption register of the building"),
    "register.granularity": ("Период учёта", "Period"),
    "register.day": ("Сутки", "Day"),
    "register.month": ("Месяц", "Month"),
    "register.col.premise": ("Помещение", "Premise"),
    "register.col.meters": ("Приборы учёта", "Meters"),
    "register.building_row": ("ОДПУ (общедомовые)", "Building meters"),
    "register.total_row": ("Итого по помещениям", "Premises total"),
    "register.no_data": ("Нет данных за выбранный период.", "No data for the chosen period."),
    "register.no_meters": ("У объекта нет приборов учёта.", "The building has no meters."),
    "register.running": ("Период ещё не закончился: значения за него неполные.",
                         "The period has not ended yet: its values are incomplete."),
    "register.source.day": ("Потребление за сутки — по суточным архивам приборов учёта.",
                            "A day's consumption comes from the meters' daily archives."),
    "register.source.month": (
        "Потребление за месяц — по месячным архивам (отчётный период каждого прибора со своего отчётного дня): "
        "месяцы разных приборов могут не совпадать по датам.",
        "A month's consumption comes from the monthly archives (each meter's reporting period from its own "
        "reporting day): months of different meters need not line up."),
    "register.scroll": ("Таблица прокручивается по горизонтали →", "The table scrolls sideways →"),
    "register.loading": ("Загрузка…", "Loading…"),
})

PAGE_TIMEOUT = 30.0
GRANULARITIES = (Granularity.DAY, Granularity.MONTH)
# the period picker of a day is the day picker (hours of a day), of a month the month picker (days of a month)
PICKER = {Granularity.DAY: Granularity.HOUR, Granularity.MONTH: Granularity.DAY}
STICKY_CSS = (".du-sticky th:first-child, .du-sticky td:first-child { position: sticky; left: 0; z-index: 1; "
              "background: #fff; box-shadow: 1px 0 0 #e3e8ef; } .du-sticky thead th:first-child { background: "
              "#f7f9fb; } .du-sticky .du-clip { max-width: 14rem; overflow: hidden; text-overflow: ellipsis; "
              "white-space: nowrap; }")


class RegisterService(Protocol):
    async def register(self, token: str, building_id: int, granularity: Granularity,
                       period: date) -> ConsumptionRegister: ...

    async def default_period(self, token: str, building_id: int, granularity: Granularity) -> date: ...


class RegisterServices(Services, Protocol):
    @property
    def register(self) -> RegisterService: ...


async def guarded(services: Services, request: Request, building_id: str,
                  load: Callable[[auth.Viewer, int], Awaitable[Any]]) -> RedirectResponse | None:
    """Sign-in guard and role check, then ``load`` (which may say NotFound/Forbidden/InvalidInput)
    and draw what it returned with its ``render()``."""
    viewer = await pages.operational_viewer(services, request)
    if viewer is None or isinstance(viewer, RedirectResponse):
        return viewer
    crumbs = [(t("nav.buildings"), "/")]
    ident = parse_id(building_id)
    try:
        if ident is None:
            raise NotFound(building_id)
        page = await load(viewer, ident)
    except NotFound:
        with theme.frame(t("error.not_found"), viewer.user, crumbs=crumbs):
            widgets.problem(t("error.not_found"), t("error.building_not_found"))
        return None
    except Forbidden:
        with theme.frame(t("error.forbidden"), viewer.user, crumbs=crumbs):
            widgets.problem(t("error.forbidden"), t("error.forbidden_text"), icon="lock")
        return None
    except InvalidInput as error:
        with theme.frame(t("error.invalid_title"), viewer.user, crumbs=crumbs):
            widgets.problem(t("error.invalid_title"), t("error.invalid_input", reason=errors.reason(str(error))),
                            icon="error_outline")
        return None
    page.render()
    return None


def parse_granularity(value: str | None, problems: list[str]) -> Granularity:
    """Days or months from the address bar; anything else is named and replaced by days."""
    if value in ("day", "month"):
        return Granularity(value)
    if value:
        problems.append(t("error.bad_parameter", name="granularity", value=value))
    return Granularity.DAY


def loading_bar() -> ui.linear_progress:
    """The progress line a page shows while it waits for the services (hidden until then)."""
    bar = ui.linear_progress(show_value=False).props("indeterminate color=primary").classes("w-full")
    bar.set_visibility(False)
    return bar


def register(services: Services) -> None:
    """Register the page /buildings/{id}/register."""
    typed = cast(RegisterServices, services)

    @ui.page("/buildings/{building_id}/register", response_timeout=PAGE_TIMEOUT)
    async def register_page(request: Request, building_id: str, granularity: str | None = None,
                            period: str | None = None) -> RedirectResponse | None:
        problems: list[str] = []
        gran = parse_granularity(granularity, problems)
        asked = parse_param(parse_day, "period", period, problems)
        return await guarded(services, request, building_id,
                             lambda viewer, ident: RegisterPage.load(typed, viewer, ident, gran, asked, problems))


class RegisterPage:
    def __init__(self, services: RegisterServices, viewer: auth.Viewer, building: BuildingSummary,
                 data: ConsumptionRegister, problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.building = building
        self.data = data
        self.problems = problems
        self._request = 0
        self.progress: ui.linear_progress | None = None

    @classmethod
    async def load(cls, services: RegisterServices, viewer: auth.Viewer, building_id: int, granularity: Granularity,
                   asked: date | None, problems: list[str]) -> RegisterPage:
        building = await services.accounting.building(viewer.token, building_id)
        default = await services.register.default_period(viewer.token, building_id, granularity)
        period = selection.period(asked, default)
        data = await services.register.register(viewer.token, building_id, granularity, period)
        return cls(services, viewer, building, data, problems)

    def render(self) -> None:
        selection.remember(building_id=self.building.id, period=self.data.period.date(),
                           span=selection.total_span(self.data.granularity))
        ui.add_css(STICKY_CSS)
        with theme.frame(t("register.title"), self.viewer.user,
                         crumbs=[(t("nav.buildings"), "/"), (self.building.address, f"/buildings/{self.building.id}")],
                         subtitle=f"{self.building.address}, {self.building.city}"):
            building_menu(self.building.id, "/register")
            for problem in self.problems:
                widgets.warning(problem)
            self.controls()
            self.progress = loading_bar().mark("register-loading")
            self.body()

    @ui.refreshable_method
    def controls(self) -> None:
        data = self.data
        widgets.control_bar(
            [widgets.Choice(t("register.granularity"), {g: t(f"register.{g.value}") for g in GRANULARITIES},
                            data.granularity, lambda value: self.change(granularity=Granularity(value)),
                            "register-granularity")],
            PICKER[data.granularity], data.period.date(), lambda value: self.change(period=value))

    @ui.refreshable_method
    def body(self) -> None:
        data = self.data
        if not data.columns:
            with theme.card():
                theme.message(t("register.no_meters"))
            return
        if not data.has_data:
            with theme.card().mark("register-empty"):
                theme.message(t("register.no_data"))
            return
        if data.running:
            widgets.warning(t("register.running"))
        with theme.card(fmt.period_title(data.period.date(), PICKER[data.granularity])):
            ui.label(t(f"register.source.{data.granularity.value}")).classes("text-xs du-muted")
            ui.label(t("register.scroll")).classes("text-xs du-muted sm:hidden")
            _table(data)
            widgets.consumption_notes(data.derived_from)

    async def change(self, *, granularity: Granularity | None = None, period: date | None = None) -> None:
        """Reload for a new granularity or period (the newest request wins) and update the address."""
        old = self.data.granularity
        new = granularity or old
        if period is None:
            period = self.data.period.date()
            if new is Granularity.DAY and old is Granularity.MONTH:  # into the month: on its newest day with data
                newest = await self.services.register.default_period(self.viewer.token, self.building.id, new)
                period = newest if newest.replace(day=1) == period else period
        self._request += 1
        request = self._request
        if self.progress is not None:
            self.progress.set_visibility(True)
        try:
            data = await auth.attempt(self.services.register.register(self.viewer.token, self.building.id, new,
                                                                       period))
        finally:
            if request == self._request and self.progress is not None:
                self.progress.set_visibility(False)
        if data is None or request != self._request:
            return
        self.data = data
        selection.remember(building_id=self.building.id, period=data.period.date(),
                           span=selection.total_span(data.granularity))
        self.controls.refresh()
        self.body.refresh()
        ui.navigate.history.replace(page_url(f"/buildings/{self.building.id}/register",
                                             granularity=data.granularity.value, period=data.period.date()))


def column_title(column: RegisterColumn) -> str:
    """«Отопление, Гкал»; electricity zones «Электроэнергия T1 (день), кВт·ч»."""
    name = fmt.resource(column.resource)
    if column.tariff != "total":
        name = f"{name} {widgets.tariff_label(column.tariff)}"
    return f"{name}, {fmt.unit(column.unit)}"


def cell_text(cell: Cell, unit: str) -> str:
    return widgets.figure_text(cell.figure, unit)


def _row(key: str, label: str, meters: str, cells: tuple[Cell, ...], columns: tuple[RegisterColumn, ...],
         href: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"key": key, "premise": label, "meters": meters, "href": href or ""}
    for index, (column, cell) in enumerate(zip(columns, cells, strict=True)):
        row[f"c{index}"] = cell_text(cell, column.unit)
    return row


def table_rows(data: ConsumptionRegister) -> list[dict[str, Any]]:
    """The register's rows as the table shows them: the building meters, the premises, the total."""
    rows = []
    if data.building_row is not None:
        rows.append(_row("building", t("register.building_row"), ", ".join(data.building_row.meters),
                         data.building_row.cells, data.columns))
    for r in data.rows:
        rows.append(_premise_row(r, data.columns))
    rows.append(_row("total", t("register.total_row"), "", data.totals, data.columns))
    return rows


def _premise_row(r: RegisterRow, columns: tuple[RegisterColumn, ...]) -> dict[str, Any]:
    assert r.premise is not None  # noqa: S101 - premise rows only
    label = t("premise.short", number=r.premise.number) if r.premise.kind == "apartment" else r.premise.number
    return _row(f"p{r.premise.id}", label, ", ".join(r.meters), r.cells, columns, f"/premises/{r.premise.id}")


def _table(data: ConsumptionRegister) -> None:
    columns = [{"name": "premise", "label": t("register.col.premise"), "field": "premise", "align": "left"},
               {"name": "meters", "label": t("register.col.meters"), "field": "meters", "align": "left"}]
    columns += [{"name": f"c{i}", "label": column_title(c), "field": f"c{i}", "align": "right"}
                for i, c in enumerate(data.columns)]
    table = ui.table(columns=columns, rows=table_rows(data), row_key="key", pagination=0).props(
        "flat dense separator=cell hide-pagination wrap-cells").classes("du-table du-sticky w-full").mark(
        "register-table")
    table.add_slot("body-cell-premise", '<q-td :props="props"><a v-if="props.row.href" class="du-link" '
                   ':href="props.row.href">{{ props.value }}</a><b v-else>{{ props.value }}</b></q-td>')
    table.add_slot("body-cell-meters", '<q-td :props="props"><div class="du-clip text-xs" :title="props.value">'
                   "{{ props.value }}</div></q-td>")

