"""Balance groups: the building page «Балансовые группы объекта» (manual 4.1.8) and the settings
page «Балансовые группы» (4.6.6).

4.1.8: choose a group («Выберите группу») and days of a month or months of a year; the root meter
against the signed children's sum, the imbalance in units and in % of the root, the consumption of
each of the group's meters with its sign. 4.6.6: the building's groups (name, resource, root
meter); a dispatcher creates, edits and deletes them: name, resource, root meter, then the meters
of that resource each with + or −, a sign for several selected meters at once from the column
header, an apartment-range filter («Квартиры» from..to) and its reset, removing a meter, save,
cancel, delete after a confirmation. Readers see everything read-only; administrators get the
forbidden page. Every figure and rule is cloud/services/balance_groups.py's.

Routes: /buildings/{id}/groups, /settings/buildings/{id}/groups. Tests: tests/ui/test_groups_ui.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.balance_groups import BalanceGroup, GroupConsumption, GroupDraft, GroupMeter
from cloud.services.meter_series import Cell
from cloud.services.models import BuildingSummary, Granularity, InvalidInput, MeterInfo
from protocol.vocabulary import Resource

from . import access, auth, charts, fmt, selection, theme, widgets
from .building_menu import building_menu, settings_menu
from .i18n import extend, t
from .ports import Services
from .query import page_url, parse_day, parse_param
from .register_page import PAGE_TIMEOUT, STICKY_CSS, guarded, loading_bar, parse_granularity

extend({
    "groups.title": ("Балансовые группы объекта", "Balance groups of the building"),
    "groups.settings_title": ("Балансовые группы", "Balance groups"),
    "groups.choose": ("Выберите группу", "Choose a group"),
    "groups.granularity": ("Разрез", "Breakdown"),
    "groups.none": ("У объекта нет балансовых групп.", "The building has no balance groups."),
    "groups.configure": ("Настроить балансовые группы", "Set up balance groups"),
    "groups.no_data": ("Нет данных за выбранный период.", "No data for the chosen period."),
    "groups.series.root": ("Корневой ПУ", "Root meter"),
    "groups.series.children": ("Σ дочерних ПУ (±)", "Σ child meters (±)"),
    "groups.chart.consumption": ("Потребление, {unit}", "Consumption, {unit}"),
    "groups.chart.imbalance": ("Небаланс, {unit} и %", "Imbalance, {unit} and %"),
    "groups.kpi.root": ("Корневой ПУ за период", "Root meter, period"),
    "groups.kpi.children": ("Σ дочерних ПУ за период", "Σ child meters, period"),
    "groups.kpi.imbalance": ("Небаланс за период", "Imbalance, period"),
    "groups.kpi.pending": ("есть неполные или незавершённые периоды", "some periods are incomplete or running"),
    "groups.meters": ("Потребление по приборам группы за период, {unit}", "Consumption by the group's meters, {unit}"),
    "groups.periods": ("Значения по периодам, {unit}", "Values by period, {unit}"),
    "groups.col.meter": ("Прибор учёта", "Meter"),
    "groups.col.premise": ("Помещение", "Premise"),
    "groups.col.sign": ("Знак", "Sign"),
    "groups.col.total": ("Потребление", "Consumption"),
    "groups.col.period": ("Период", "Period"),
    "groups.col.root": ("Корневой ПУ", "Root meter"),
    "groups.col.children": ("Σ дочерних ПУ", "Σ child meters"),
    "groups.col.imbalance": ("Небаланс", "Imbalance"),
    "groups.col.imbalance_pct": ("Небаланс, %", "Imbalance, %"),
    "groups.col.name": ("Название", "Name"),
    "groups.col.resource": ("Ресурс", "Resource"),
    "groups.col.members": ("Дочерних ПУ", "Child meters"),
    "groups.sign.root": ("корневой", "root"),
    "groups.row.children": ("Σ дочерних (с учётом знаков)", "Σ children (with signs)"),
    "groups.row.imbalance": ("Небаланс", "Imbalance"),
    "groups.building_meter": ("ОДПУ", "building meter"),
    "groups.add": ("Добавить группу", "Add a group"),
    "groups.edit": ("Изменить", "Edit"),
    "groups.view": ("Открыть", "Open"),
    "groups.delete": ("Удалить группу", "Delete the group"),
    "groups.empty_list": ("Балансовых групп нет.", "There are no balance groups."),
    "groups.new": ("Новая балансовая группа", "New balance group"),
    "groups.editing": ("Группа «{name}»", "Group “{name}”"),
    "groups.name": ("Название группы", "Group name"),
    "groups.resource": ("Ресурс", "Resource"),
    "groups.root": ("Корневой прибор учёта", "Root meter"),
    "groups.root_first": ("Выберите ресурс, затем корневой прибор учёта.", "Choose the resource, then the root meter."),
    "groups.choose_root": ("Выберите корневой прибор учёта (приборов этого ресурса: {count}).",
                           "Choose the root meter (meters of this resource: {count})."),
    "groups.candidates": ("Приборы учёта ресурса", "Meters of the resource"),
    "groups.apartments": ("Квартиры", "Apartments"),
    "groups.range_from": ("с", "from"),
    "groups.range_to": ("по", "to"),
    "groups.range_apply": ("Найти", "Search"),
    "groups.range_reset": ("Сбросить фильтр", "Reset the filter"),
    "groups.range_shown": ("Квартиры {low}–{high}", "Apartments {low}–{high}"),
    "groups.range_bad": ("Укажите диапазон квартир числами: «с» не больше «по».",
                         "Give the apartment range as numbers, “from” not above “to”."),
    "groups.bulk_hint": ("Знак для выбранных", "Sign for the selected"),
    "groups.nothing_selected": ("Отметьте приборы, которым нужно установить знак.",
                                "Tick the meters to set the sign of."),
    "groups.remove": ("Убрать из группы", "Remove from the group"),
    "groups.member_count": ("В группе дочерних приборов: {count}", "Child meters in the group: {count}"),
    "groups.no_candidates": ("Других приборов этого ресурса нет.", "There are no other meters of this resource."),
    "groups.save": ("Сохранить", "Save"),
    "groups.cancel": ("Отмена", "Cancel"),
    "groups.saved": ("Балансовая группа сохранена.", "The balance group is saved."),
    "groups.deleted": ("Балансовая группа удалена.", "The balance group is deleted."),
    "groups.confirm_delete": ("Удалить балансовую группу «{name}»? Настройку нельзя будет восстановить.",
                              "Delete the balance group “{name}”? It cannot be restored."),
    "groups.err.name": ("Укажите название группы.", "Give the group a name."),
    "groups.err.name_taken": ("Группа с таким названием у объекта уже есть.",
                              "The building already has a group of that name."),
    "groups.err.resource": ("Выберите ресурс группы.", "Choose the group's resource."),
    "groups.err.root": ("Выберите корневой прибор учёта, измеряющий ресурс группы.",
                        "Choose a root meter that measures the group's resource."),
    "groups.err.members": ("Дочерние приборы должны измерять ресурс группы и не совпадать с корневым.",
                           "Child meters must measure the group's resource and differ from the root."),
    "groups.read_only": ("Только просмотр: изменять балансовые группы может диспетчер.",
                         "Read only: a dispatcher changes balance groups."),
})

SETTINGS_PATH = "/settings/buildings/{id}/groups"
PAGE_PATH = "/buildings/{id}/groups"
GRANULARITIES = (Granularity.DAY, Granularity.MONTH)


class GroupsService(Protocol):
    async def groups(self, token: str, building_id: int) -> list[BalanceGroup]: ...

    async def candidates(self, token: str, building_id: int, resource: Resource) -> list[MeterInfo]: ...

    async def create(self, token: str, building_id: int, draft: GroupDraft) -> BalanceGroup: ...

    async def update(self, token: str, group_id: int, draft: GroupDraft) -> BalanceGroup: ...

    async def delete(self, token: str, group_id: int) -> None: ...

    async def consumption(self, token: str, group_id: int, granularity: Granularity,
                          period: date) -> GroupConsumption: ...


class GroupsServices(Services, Protocol):
    @property
    def balance_groups(self) -> GroupsService: ...


def register(services: Services) -> None:
    """Register /buildings/{id}/groups (4.1.8) and /settings/buildings/{id}/groups (4.6.6)."""
    typed = cast(GroupsServices, services)

    @ui.page("/buildings/{building_id}/groups", response_timeout=PAGE_TIMEOUT)
    async def groups_page(request: Request, building_id: str, group: str | None = None,
                          granularity: str | None = None, period: str | None = None) -> RedirectResponse | None:
        problems: list[str] = []
        gran = parse_granularity(granularity, problems)
        asked = parse_param(parse_day, "period", period, problems)
        chosen = parse_param(int, "group", group, problems)
        return await guarded(services, request, building_id,
                             lambda viewer, ident: GroupsPage.load(typed, viewer, ident, chosen, gran, asked,
                                                                   problems))

    @ui.page("/settings/buildings/{building_id}/groups", response_timeout=PAGE_TIMEOUT)
    async def groups_settings(request: Request, building_id: str) -> RedirectResponse | None:
        return await guarded(services, request, building_id,
                             lambda viewer, ident: GroupsEditor.load(typed, viewer, ident))


def sign_text(sign: str) -> str:
    """«+», «−», or «корневой» for the root."""
    return {"+": "+", "-": "−"}.get(sign) or t("groups.sign.root")


def meter_label(meter: GroupMeter | MeterInfo) -> str:
    """The premise of a meter («кв. 12») or «ОДПУ» for a building meter."""
    return t("premise.short", number=meter.premise_number) if meter.premise_number else t("groups.building_meter")


# --- 4.1.8: the group's consumption ---------------------------------------------------------------


class GroupsPage:
    def __init__(self, services: GroupsServices, viewer: auth.Viewer, building: BuildingSummary,
                 groups: list[BalanceGroup], chosen: int | None, granularity: Granularity, period: date,
                 data: GroupConsumption | None, problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.building = building
        self.groups = groups
        self.chosen = chosen
        self.granularity = granularity
        self.period = period
        self.data = data
        self.problems = problems
        self._request = 0
        self.progress: ui.linear_progress | None = None

    @classmethod
    async def load(cls, services: GroupsServices, viewer: auth.Viewer, building_id: int, asked_group: int | None,
                   granularity: Granularity, asked: date | None, problems: list[str]) -> GroupsPage:
        token = viewer.token
        building = await services.accounting.building(token, building_id)
        groups = await services.balance_groups.groups(token, building_id)
        ids = [g.id for g in groups]
        if asked_group is not None and asked_group not in ids:
            problems.append(t("error.bad_parameter", name="group", value=asked_group))
        chosen = asked_group if asked_group in ids else (ids[0] if ids else None)
        default = await services.accounting.default_period(token, building_id)
        period = widgets.normalise(selection.period(asked, default), granularity)
        data = None
        if chosen is not None:
            data = await services.balance_groups.consumption(token, chosen, granularity, period)
        return cls(services, viewer, building, groups, chosen, granularity, period, data, problems)

    def render(self) -> None:
        selection.remember(building_id=self.building.id, period=self.period, span=selection.view_span(self.granularity))
        ui.add_css(STICKY_CSS)
        with theme.frame(t("groups.title"), self.viewer.user,
                         crumbs=[(t("nav.buildings"), "/"), (self.building.address, f"/buildings/{self.building.id}")],
                         subtitle=f"{self.building.address}, {self.building.city}"):
            building_menu(self.building.id, "/groups")
            for problem in self.problems:
                widgets.warning(problem)
            if not self.groups:
                with theme.card().mark("groups-none"):
                    theme.message(t("groups.none"))
                    ui.link(t("groups.configure"), SETTINGS_PATH.format(id=self.building.id)).classes("du-link")
                return
            self.controls()
            self.progress = loading_bar().mark("groups-loading")
            self.body()

    @ui.refreshable_method
    def controls(self) -> None:
        with theme.card(), ui.row().classes("w-full items-end gap-x-8 gap-y-3"):
            with ui.column().classes("gap-1"):
                ui.label(t("groups.choose")).classes("du-kpi-label")
                ui.select({g.id: g.name for g in self.groups}, value=self.chosen, label=t("groups.choose"),
                          on_change=lambda e: self.change(group=e.value) if e.value != self.chosen else None) \
                    .props("outlined dense").classes("min-w-[16rem] max-w-full").mark("groups-choose")
            with ui.column().classes("gap-1"):
                ui.label(t("groups.granularity")).classes("du-kpi-label")
                ui.toggle({g: t(f"granularity.{g.value}") for g in GRANULARITIES}, value=self.granularity,
                          on_change=lambda e: self.change(granularity=e.value) if e.value != self.granularity
                          else None).props(
                    "unelevated no-caps toggle-color=primary color=grey-2 text-color=grey-9").mark(
                    "groups-granularity")
            with ui.column().classes("gap-1"):
                ui.label(t("controls.period")).classes("du-kpi-label")
                widgets.PeriodPicker(self.granularity, self.period, lambda value: self.change(period=value))

    @ui.refreshable_method
    def body(self) -> None:
        data = self.data
        if data is None:
            return
        unit = fmt.unit(data.unit)
        if not data.points:
            with theme.card().mark("groups-empty"):
                theme.message(t("groups.no_data"))
            return
        with ui.row().classes("w-full gap-5"):
            widgets.kpi(t("groups.kpi.root"), f"{_text(data.root_total, data.unit)} {unit}", marker="groups-kpi-root")
            widgets.kpi(t("groups.kpi.children"), f"{_text(data.children_total, data.unit)} {unit}",
                        marker="groups-kpi-children")
            value = fmt.MISSING if data.imbalance is None else f"{fmt.amount(data.imbalance, data.unit)} {unit}"
            hint = t("groups.kpi.pending") if data.imbalance is None else f"{fmt.percent(data.imbalance_pct)} %"
            widgets.kpi(t("groups.kpi.imbalance"), value, hint=hint, marker="groups-kpi-imbalance")
        with ui.element("div").classes("grid w-full gap-5 grid-cols-1 lg:grid-cols-2"):
            with theme.card(t("groups.chart.consumption", unit=unit)):
                ui.echart(consumption_chart(data)).classes("w-full h-80").mark("groups-chart")
            with theme.card(t("groups.chart.imbalance", unit=unit)):
                ui.echart(imbalance_chart(data)).classes("w-full h-80").mark("groups-imbalance-chart")
        with theme.card(t("groups.meters", unit=unit)):
            _meter_table(data)
            widgets.consumption_notes(data.derived_from)
        with theme.card(t("groups.periods", unit=unit)):
            _period_table(data)

    async def change(self, *, group: int | None = None, granularity: Granularity | None = None,
                     period: date | None = None) -> None:
        """Reload for another group, breakdown or period (the newest request wins); update the address."""
        chosen = group or self.chosen
        gran = granularity or self.granularity
        default = self.period if self.data is None or not self.data.points else self.data.points[-1].period.date()
        new_period = widgets.next_period(period, self.period, self.granularity, gran, default)
        if chosen is None:
            return
        self._request += 1
        request = self._request
        if self.progress is not None:
            self.progress.set_visibility(True)
        try:
            data = await auth.attempt(self.services.balance_groups.consumption(self.viewer.token, chosen, gran,
                                                                               new_period))
        finally:
            if request == self._request and self.progress is not None:
                self.progress.set_visibility(False)
        if data is None or request != self._request:
            return
        self.chosen, self.granularity, self.period, self.data = chosen, gran, new_period, data
        selection.remember(building_id=self.building.id, period=new_period, span=selection.view_span(gran))
        self.controls.refresh()
        self.body.refresh()
        ui.navigate.history.replace(page_url(PAGE_PATH.format(id=self.building.id), group=chosen,
                                             granularity=gran.value, period=new_period))


def _text(cell: Cell, unit: str) -> str:
    return widgets.figure_text(cell.figure, unit)


# the accounting charts' frame, axes and marked items (ui/charts.py) keep these charts like 4.1.2's
def consumption_chart(data: GroupConsumption) -> dict[str, Any]:
    """Bars of the root meter against the signed children's sum, marked like the table (manual 4.1.8, left)."""
    places = fmt.digits(data.unit)
    options = charts._base([p.period for p in data.points], data.granularity, [places, places])
    options["yAxis"] = charts._value_axis(fmt.unit(data.unit))
    options["series"] = [
        {"name": t("groups.series.root"), "type": "bar", "color": charts.BUILDING, "barMaxWidth": 22,
         "data": [charts._sum_item(p.root.value, p.root.complete, p.root.figure) for p in data.points]},
        {"name": t("groups.series.children"), "type": "bar", "color": charts.APARTMENTS, "barMaxWidth": 22,
         "data": [charts._sum_item(p.children.value, p.children.complete, p.children.figure)
                  for p in data.points]},
    ]
    return options


def imbalance_chart(data: GroupConsumption) -> dict[str, Any]:
    """The imbalance in units (bars) and in % of the root (line, right axis); gaps where it is not given."""
    options = charts._base([p.period for p in data.points], data.granularity,
                           [fmt.digits(data.unit), fmt.PERCENT_DIGITS])
    options["yAxis"] = [charts._value_axis(fmt.unit(data.unit)),
                        charts._value_axis("%", splitLine={"show": False},
                                           nameTextStyle={"color": "#627d98", "align": "right"})]
    options["series"] = [
        {"name": t("series.imbalance"), "type": "bar", "color": charts.IMBALANCE, "barMaxWidth": 22,
         "data": [p.imbalance for p in data.points]},
        {"name": t("series.imbalance_pct"), "type": "line", "yAxisIndex": 1, "color": charts.IMBALANCE_PCT,
         "symbolSize": 6, "connectNulls": False, "data": [p.imbalance_pct for p in data.points]},
    ]
    return options


def meter_rows(data: GroupConsumption) -> list[list[widgets.Cell]]:
    """The root, each child with its sign and total over the view, the signed sum and the imbalance."""
    rows: list[list[widgets.Cell]] = []
    for m in data.meters:
        rows.append([widgets.Link(m.meter.serial, f"/meters/{m.meter.meter_id}"), meter_label(m.meter),
                     sign_text(m.meter.sign), _text(m.total, data.unit)])
    rows.append([t("groups.row.children"), "", "", _text(data.children_total, data.unit)])
    imbalance = fmt.MISSING if data.imbalance is None else (
        f"{fmt.amount(data.imbalance, data.unit)} ({fmt.percent(data.imbalance_pct)} %)")
    rows.append([t("groups.row.imbalance"), "", "", imbalance])
    return rows


def _meter_table(data: GroupConsumption) -> None:
    with ui.element("div").classes("w-full overflow-x-auto"):
        widgets.link_table([t("groups.col.meter"), t("groups.col.premise"), t("groups.col.sign"),
                            t("groups.col.total")], meter_rows(data), numeric=(3,)).classes("du-sticky").mark(
            "groups-meters")


def _period_table(data: GroupConsumption) -> None:
    columns = [{"name": "period", "label": t("groups.col.period"), "field": "period", "align": "left"},
               {"name": "root", "label": t("groups.col.root"), "field": "root", "align": "right"},
               {"name": "children", "label": t("groups.col.children"), "field": "children", "align": "right"},
               {"name": "imbalance", "label": t("groups.col.imbalance"), "field": "imbalance", "align": "right"},
               {"name": "pct", "label": t("groups.col.imbalance_pct"), "field": "pct", "align": "right"}]
    rows = [{"key": p.period.isoformat(), "period": fmt.point_label(p.period, data.granularity),
             "root": _text(p.root, data.unit), "children": _text(p.children, data.unit),
             "imbalance": fmt.amount(p.imbalance, data.unit), "pct": fmt.percent(p.imbalance_pct)}
            for p in data.points]
    ui.table(columns=columns, rows=rows, row_key="key", pagination=0).props(
        "flat dense separator=horizontal hide-pagination").classes("du-table du-sticky w-full").mark("groups-periods")


# --- 4.6.6: the editor -------------------------------------------------------------------------------


@dataclass
class Draft:
    """The group being edited: what the form holds until it is saved or cancelled."""

    group_id: int | None
    name: str = ""
    resource: Resource | None = None
    root: int | None = None
    signs: dict[int, str] = field(default_factory=dict)  # meter id -> "+" or "-": the children
    selected: set[int] = field(default_factory=set)
    low: int | None = None  # the apartment range shown («Квартиры» from..to); None: every meter
    high: int | None = None


def in_range(meter: MeterInfo, low: int | None, high: int | None) -> bool:
    """Whether the apartment-range filter shows ``meter``: every meter without a filter; with one,
    the meters of apartments numbered low..high (a building meter or a named premise is not)."""
    if low is None or high is None:
        return True
    number = meter.premise_number or ""
    return number.isdigit() and low <= int(number) <= high


def russian(error: InvalidInput) -> str:
    """The service's refusal in the page's language, by the field it names."""
    text = str(error)
    if text.startswith("name:"):
        return t("groups.err.name_taken") if "already has" in text else t("groups.err.name")
    if text.startswith("resource:"):
        return t("groups.err.resource")
    if text.startswith("root_meter_id:"):
        return t("groups.err.root")
    if text.startswith("members"):
        return t("groups.err.members")
    return t("error.invalid_input", reason=text)


class GroupsEditor:
    def __init__(self, services: GroupsServices, viewer: auth.Viewer, building: BuildingSummary,
                 groups: list[BalanceGroup], resources: tuple[Resource, ...]) -> None:
        self.services = services
        self.viewer = viewer
        self.building = building
        self.groups = groups
        self.resources = resources
        self.draft: Draft | None = None
        self.candidates: list[MeterInfo] = []
        self.progress: ui.linear_progress | None = None

    @classmethod
    async def load(cls, services: GroupsServices, viewer: auth.Viewer, building_id: int) -> GroupsEditor:
        building = await services.accounting.building(viewer.token, building_id)
        groups = await services.balance_groups.groups(viewer.token, building_id)
        meters = await services.accounting.meters(viewer.token, building_id)
        return cls(services, viewer, building, groups, fmt.sort_resources(r for m in meters for r in m.resources))

    @property
    def editable(self) -> bool:
        return access.may_change_settings(self.viewer.user)

    def render(self) -> None:
        selection.remember(building_id=self.building.id)
        with theme.frame(t("groups.settings_title"), self.viewer.user, active="/settings/buildings",
                         crumbs=[(t("settings.buildings.title"), "/settings/buildings")],
                         subtitle=f"{self.building.address}, {self.building.city}"):
            settings_menu(self.building.id, "/groups")
            if not self.editable:
                widgets.warning(t("groups.read_only"))
            self.group_list()
            self.progress = loading_bar().mark("groups-loading")
            self.editor()

    # --- the list ---------------------------------------------------------------------------
    @ui.refreshable_method
    def group_list(self) -> None:
        with theme.card().mark("groups-list"):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(t("groups.settings_title")).classes("du-card-title")
                if self.editable:
                    ui.button(t("groups.add"), icon="add", on_click=self.start_new).props(
                        "unelevated no-caps").mark("groups-add")
            if not self.groups:
                theme.message(t("groups.empty_list"))
                return
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-markup du-sticky w-full"):
                with ui.element("tr"):
                    for key in ("groups.col.name", "groups.col.resource", "groups.root", "groups.col.members"):
                        with ui.element("th"):
                            ui.label(t(key))
                    ui.element("th")
                for g in self.groups:
                    with ui.element("tr").mark(f"groups-row-{g.id}"):
                        with ui.element("td"):
                            ui.label(g.name).classes("du-clip font-medium").tooltip(g.name)
                        with ui.element("td"):
                            ui.label(fmt.resource(g.resource))
                        with ui.element("td"):
                            ui.label(f"{g.root.serial} · {meter_label(g.root)}")
                        with ui.element("td").classes("text-right"):
                            ui.label(fmt.integer(len(g.members)))
                        with ui.element("td"), ui.row().classes("gap-1 no-wrap"):
                            tip = t("groups.edit") if self.editable else t("groups.view")
                            ui.button(icon="edit" if self.editable else "visibility",
                                      on_click=lambda _, g=g: self.start_edit(g)) \
                                .props(f'flat round dense aria-label="{tip}"').tooltip(tip).mark(f"groups-edit-{g.id}")
                            if self.editable:
                                ui.button(icon="delete", on_click=lambda _, g=g: self.confirm_delete(g)).props(
                                    f'flat round dense color=negative aria-label="{t("groups.delete")}"') \
                                    .tooltip(t("groups.delete")).mark(f"groups-del-{g.id}")

    async def start_new(self) -> None:
        self.draft = Draft(None)
        self.candidates = []
        self.editor.refresh()

    async def start_edit(self, group: BalanceGroup) -> None:
        self.draft = Draft(group.id, group.name, group.resource, group.root.meter_id,
                           {m.meter_id: m.sign for m in group.members})
        await self._load_candidates(group.resource)
        self.editor.refresh()

    async def _load_candidates(self, resource: Resource) -> None:
        if self.progress is not None:
            self.progress.set_visibility(True)
        try:
            found = await auth.attempt(self.services.balance_groups.candidates(self.viewer.token, self.building.id,
                                                                              resource))
        finally:
            if self.progress is not None:
                self.progress.set_visibility(False)
        self.candidates = found or []

    # --- the form ---------------------------------------------------------------------------
    @ui.refreshable_method
    def editor(self) -> None:
        draft = self.draft
        if draft is None:
            return
        title = t("groups.new") if draft.group_id is None else t("groups.editing", name=draft.name)
        with theme.card(title).mark("groups-editor"):
            with ui.row().classes("w-full items-end gap-4"):
                name = ui.input(t("groups.name"), value=draft.name,
                                on_change=lambda e: setattr(draft, "name", e.value or "")).props(
                    "outlined dense maxlength=200").classes("min-w-[16rem] flex-1").mark("groups-name")
                resource = ui.select({r: fmt.resource(r) for r in self.resources}, value=draft.resource,
                                     label=t("groups.resource"), on_change=lambda e: self.set_resource(e.value)) \
                    .props("outlined dense").classes("min-w-[12rem]").mark("groups-resource")
                roots = {m.id: f"{m.serial} · {meter_label(m)}" for m in self.candidates}
                root = ui.select(roots, value=draft.root if draft.root in roots else None, label=t("groups.root"),
                                 on_change=lambda e: self.set_root(e.value)).props("outlined dense").classes(
                    "min-w-[14rem]").mark("groups-root")
                if draft.resource is None:
                    root.disable()
                if not self.editable:
                    for element in (name, resource, root):
                        element.disable()
            if draft.resource is None:
                theme.message(t("groups.root_first"))
            elif draft.root is None:
                theme.message(t("groups.choose_root", count=len(self.candidates)))
            else:
                self.members(draft)
            with ui.row().classes("w-full gap-2 justify-end"):
                if self.editable and draft.group_id is not None:
                    group = next((g for g in self.groups if g.id == draft.group_id), None)
                    if group is not None:
                        ui.button(t("groups.delete"), icon="delete", on_click=lambda: self.confirm_delete(group)) \
                            .props("flat no-caps color=negative").mark("groups-delete")
                ui.button(t("groups.cancel"), icon="close", on_click=self.cancel).props("flat no-caps").mark(
                    "groups-cancel")
                if self.editable:
                    ui.button(t("groups.save"), icon="save", on_click=self.save).props("unelevated no-caps").mark(
                        "groups-save")

    def members(self, draft: Draft) -> None:
        """The meters of the resource with their signs, the range filter and the bulk sign."""
        shown = [m for m in self.candidates if m.id != draft.root and in_range(m, draft.low, draft.high)]
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(t("groups.candidates")).classes("du-card-title")
            with ui.button(t("groups.apartments"), icon="filter_list").props("outline no-caps dense").mark(
                    "groups-range"):
                with ui.menu(), ui.row().classes("p-3 items-end gap-2 no-wrap"):
                    low = ui.number(t("groups.range_from"), value=draft.low, format="%d", min=0).props(
                        "outlined dense").classes("w-20").mark("groups-range-from")
                    high = ui.number(t("groups.range_to"), value=draft.high, format="%d", min=0).props(
                        "outlined dense").classes("w-20").mark("groups-range-to")
                    ui.button(icon="search", on_click=lambda: self.set_range(low.value, high.value)).props(
                        f'flat round dense aria-label="{t("groups.range_apply")}"').tooltip(t("groups.range_apply")) \
                        .mark("groups-range-apply")
                    ui.button(icon="filter_alt_off", on_click=lambda: self.set_range(None, None)).props(
                        f'flat round dense aria-label="{t("groups.range_reset")}"').tooltip(t("groups.range_reset")) \
                        .mark("groups-range-reset")
            if draft.low is not None and draft.high is not None:
                ui.chip(t("groups.range_shown", low=draft.low, high=draft.high), icon="filter_list",
                        removable=True, on_value_change=lambda: self.set_range(None, None)).props("dense").mark(
                    "groups-range-chip")
            ui.label(t("groups.member_count", count=len(draft.signs))).classes("text-sm du-muted ml-auto").mark(
                "groups-member-count")
        if not shown:
            theme.message(t("groups.no_candidates"))
            return
        with ui.element("div").classes("w-full overflow-x-auto"), \
                ui.element("table").classes("du-markup du-sticky w-full").mark("groups-members"):
            with ui.element("tr"):
                with ui.element("th"):
                    ui.label(t("groups.col.meter"))
                with ui.element("th"):
                    ui.label(t("groups.col.premise"))
                with ui.element("th"), ui.row().classes("items-center gap-1 no-wrap"):
                    ui.label(t("groups.col.sign"))
                    if self.editable:
                        ui.button("+", on_click=lambda: self.bulk("+")).props("outline dense size=sm").tooltip(
                            t("groups.bulk_hint")).mark("groups-bulk-plus")
                        ui.button("−", on_click=lambda: self.bulk("-")).props("outline dense size=sm").tooltip(
                            t("groups.bulk_hint")).mark("groups-bulk-minus")
                ui.element("th")
            for m in shown:
                with ui.element("tr").mark(f"groups-member-{m.serial}"):
                    with ui.element("td"), ui.row().classes("items-center gap-2 no-wrap"):
                        box = ui.checkbox(value=m.id in draft.selected,
                                          on_change=lambda e, i=m.id: self.select(i, e.value)).props("dense").mark(
                            f"groups-select-{m.serial}")
                        ui.label(m.serial).classes("du-clip").tooltip(f"{m.serial} · {m.model}")
                        if not self.editable:
                            box.disable()
                    with ui.element("td"):
                        ui.label(meter_label(m))
                    with ui.element("td"):
                        toggle = ui.toggle({"+": "+", "-": "−"}, value=draft.signs.get(m.id),
                                           on_change=lambda e, i=m.id: self.set_sign(i, e.value)).props(
                            "dense unelevated no-caps toggle-color=primary color=grey-2 text-color=grey-9").mark(
                            f"groups-sign-{m.serial}")
                        if not self.editable:
                            toggle.disable()
                    with ui.element("td"):
                        if self.editable and m.id in draft.signs:
                            ui.button(icon="close", on_click=lambda _, i=m.id: self.set_sign(i, None)).props(
                                f'flat round dense size=sm aria-label="{t("groups.remove")}"') \
                                .tooltip(t("groups.remove")).mark(f"groups-remove-{m.serial}")

    # --- actions ----------------------------------------------------------------------------
    async def set_resource(self, value: Resource | str | None) -> None:
        draft = self.draft
        if draft is None or value is None or value == draft.resource:
            return
        draft.resource, draft.root, draft.signs, draft.selected = Resource(value), None, {}, set()
        await self._load_candidates(draft.resource)
        self.editor.refresh()

    def set_root(self, value: int | None) -> None:
        draft = self.draft
        if draft is None or value == draft.root:
            return
        draft.root = value
        if value is not None:
            draft.signs.pop(value, None)  # the root is no child
            draft.selected.discard(value)
        self.editor.refresh()

    def set_sign(self, meter_id: int, sign: str | None) -> None:
        draft = self.draft
        if draft is None or draft.signs.get(meter_id) == sign:
            return
        if sign is None:
            draft.signs.pop(meter_id, None)
        else:
            draft.signs[meter_id] = sign
        self.editor.refresh()

    def select(self, meter_id: int, chosen: bool) -> None:
        if self.draft is not None:
            (self.draft.selected.add if chosen else self.draft.selected.discard)(meter_id)

    def bulk(self, sign: str) -> None:
        """Set ``sign`` for every selected meter the filter shows (manual 4.6.6: the sign in the column header)."""
        draft = self.draft
        if draft is None:
            return
        shown = {m.id for m in self.candidates if m.id != draft.root and in_range(m, draft.low, draft.high)}
        chosen = draft.selected & shown
        if not chosen:
            ui.notify(t("groups.nothing_selected"), type="warning")
            return
        for meter_id in chosen:
            draft.signs[meter_id] = sign
        draft.selected -= chosen
        self.editor.refresh()

    def set_range(self, low: float | None, high: float | None) -> None:
        draft = self.draft
        if draft is None:
            return
        if low is None and high is None:
            draft.low = draft.high = None
        elif low is None or high is None or low < 0 or high < low:
            ui.notify(t("groups.range_bad"), type="warning")
            return
        else:
            draft.low, draft.high = int(low), int(high)
        self.editor.refresh()

    def cancel(self) -> None:
        self.draft = None
        self.candidates = []
        self.editor.refresh()

    async def save(self) -> None:
        draft = self.draft
        if draft is None:
            return
        if not draft.name.strip():
            ui.notify(t("groups.err.name"), type="warning")
            return
        if draft.resource is None:
            ui.notify(t("groups.err.resource"), type="warning")
            return
        if draft.root is None:
            ui.notify(t("groups.err.root"), type="warning")
            return
        order = {m.id: i for i, m in enumerate(self.candidates)}
        members = tuple(sorted(draft.signs.items(), key=lambda ms: order.get(ms[0], 0)))
        payload = GroupDraft(draft.name, draft.resource, draft.root, members)
        groups = self.services.balance_groups
        if self.progress is not None:
            self.progress.set_visibility(True)
        try:
            if draft.group_id is None:
                await groups.create(self.viewer.token, self.building.id, payload)
            else:
                await groups.update(self.viewer.token, draft.group_id, payload)
        except InvalidInput as error:
            ui.notify(russian(error), type="warning")
            return
        finally:
            if self.progress is not None:
                self.progress.set_visibility(False)
        ui.notify(t("groups.saved"), type="positive")
        await self._reload()
        self.cancel()

    async def _reload(self) -> None:
        found = await auth.attempt(self.services.balance_groups.groups(self.viewer.token, self.building.id))
        if found is not None:
            self.groups = found
        self.group_list.refresh()

    def confirm_delete(self, group: BalanceGroup) -> None:
        """Ask before deleting: the setting cannot be restored."""
        with ui.dialog() as dialog, ui.card().classes("p-5 gap-4"):
            ui.label(t("groups.confirm_delete", name=group.name)).classes("max-w-[28rem]")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("groups.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("groups.delete"), icon="delete", on_click=lambda: self.delete(group, dialog)).props(
                    "unelevated no-caps color=negative").mark("groups-confirm-delete")
        dialog.open()

    async def delete(self, group: BalanceGroup, dialog: ui.dialog) -> None:
        dialog.close()
        done = await auth.attempt(self._delete(group.id))
        if done is None:
            return
        ui.notify(t("groups.deleted"), type="positive")
        if self.draft is not None and self.draft.group_id == group.id:
            self.cancel()
        await self._reload()

    async def _delete(self, group_id: int) -> bool:
        await self.services.balance_groups.delete(self.viewer.token, group_id)
        return True
