"""Page "Контроль поступления данных учёта ресурса" (manual 4.2.3, menu "Мониторинг" → "Данные"):
for a building, resource, meter type and archive kind, the periods of the chosen day (hours),
month (days) or year (months): per meter received / partial / missing / lost by the edge,
the completeness in %, a per-period grid, and a button that asks the edge to read the gaps
again (backfill commands) whose states are shown and updated while they run. The second view
(``view=values``) is the manual's table of archive parameter values: per meter and period the
parameters of the resource's channels as the device keeps them, a message icon where the period has
device events or flagged values (a click shows their content), the meter number linking to its page.

Reaches data through cloud/services (arrival.py, commands.py; shapes declared here like
ui.admin does). Route: /monitoring/data. Tests: tests/ui/test_arrival_ui.py.
"""

from __future__ import annotations

import calendar
import html
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.arrival import ArchiveMessage, ArrivalReport, ArrivalValues, MeterArrival, PeriodArrival
from cloud.services.commands import CommandInfo, may_issue
from cloud.services.models import FIRST_DAY, LAST_DAY, BuildingSummary, Granularity, NotFound
from protocol.commands import CommandType
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import MeterRole, Resource

from . import auth, fmt, i18n, pages, theme, widgets
from .building_page import scroll_hint, sticky_css
from .i18n import t
from .ports import Services
from .query import page_url, parse_day, parse_param

PATH = "/monitoring/data"
KINDS = ("hour", "day", "month")
VIEWS = ("completeness", "values")
VALUES_PAGE = 50  # rows of the values table per page (a month of days of 100 meters is 3,100 rows)
GRANULARITY = {"hour": Granularity.HOUR, "day": Granularity.DAY, "month": Granularity.MONTH}
POLL_S = 2.0  # how often running backfill commands are looked at again
_CELL = {"received": "#22a06b", "partial": "#f0b429", "missing": "#d64545", "lost": "#7b8794", "not_due": "#e4e7eb",
         "not_expected": "#ffffff"}
# a shape as well as a colour for the statuses a colour-blind reader must tell apart (WCAG 1.4.1): a partial
# period is half filled, a missing one an empty red frame, a lost one striped; a received one stays solid
_PATTERN = {"partial": "linear-gradient(135deg, #f0b429 50%, #fff 50%); box-shadow: inset 0 0 0 1px #f0b429",
            "missing": "#fff; box-shadow: inset 0 0 0 2px #d64545",
            "lost": "repeating-linear-gradient(45deg, #7b8794 0 2px, #fff 2px 4px)"}


def _cell_background(status: str) -> str:
    return f"background: {_PATTERN.get(status, _CELL[status])}"


class ArrivalService(Protocol):
    async def report(self, token: str, building_id: int, kind: str, first: date, last: date, *,
                     resource: Resource | None = None, role: MeterRole | None = None) -> ArrivalReport: ...

    async def values_of(self, token: str, report: ArrivalReport) -> ArrivalValues: ...

    async def request_backfill(self, token: str, building_id: int, kind: str, first: date, last: date, *,
                               meter_ids: set[int] | None = None, resource: Resource | None = None,
                               role: MeterRole | None = None) -> list[CommandInfo]: ...


class CommandsService(Protocol):
    async def get(self, token: str, command_id: str) -> CommandInfo: ...

    async def list(self, token: str, *, meter_id: int | None = None, site: str | None = None,
                   state: str | None = None, kind: str | None = None, limit: int = 100) -> list[CommandInfo]: ...


class MonitoringServices(Services, Protocol):
    @property
    def arrival(self) -> ArrivalService: ...

    @property
    def commands(self) -> CommandsService: ...


def span(kind: str, period: date) -> tuple[date, date]:
    """The local days a report covers: the day (hours), the month (days) or the year (months)."""
    if kind == "hour":
        return period, period
    if kind == "day":
        first = period.replace(day=1)
        return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return date(period.year, 1, 1), date(period.year, 12, 31)


@dataclass(frozen=True, slots=True)
class Filters:
    building: int
    resource: Resource | None
    role: MeterRole | None
    kind: str
    period: date | None  # None: the day, month or year of the building's newest data
    view: str = "completeness"  # or "values": the table of archive parameter values


def register(services: Services) -> None:
    """Register /monitoring/data."""
    monitoring = cast(MonitoringServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def data_page(request: Request, building: str | None = None, resource: str | None = None,
                        role: str | None = None, kind: str | None = None,
                        period: str | None = None, view: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        buildings = await services.accounting.buildings(viewer.token)
        if not buildings:
            with theme.frame(t("arrival.title"), viewer.user, active=PATH), theme.card():
                theme.message(t("buildings.empty"))
            return None
        problems: list[str] = []
        filters = _parse(buildings, building, resource, role, kind, period, problems, view)
        page = ArrivalPage(monitoring, viewer, buildings, filters, problems)
        if not await pages.explained(viewer.user, page.load(filters), not_found=t("error.building_not_found"),
                                     active=PATH):
            return None
        page.render()
        return None


def _parse(buildings: list[BuildingSummary], building: str | None, resource: str | None, role: str | None,
           kind: str | None, period: str | None, problems: list[str], view: str | None = None) -> Filters:
    """The filters from the address bar; a bad value is named and replaced by the default."""
    chosen = buildings[0].id
    if building:
        if building.isascii() and building.isdigit() and int(building) in {b.id for b in buildings}:
            chosen = int(building)
        else:
            problems.append(t("error.bad_parameter", name="building", value=building))
    parsed_resource = parse_param(Resource, "resource", resource, problems)
    parsed_role = parse_param(MeterRole, "role", role, problems)
    if kind and kind not in KINDS:
        problems.append(t("error.bad_parameter", name="kind", value=kind))
    kind_ = kind if kind in KINDS else "hour"
    parsed_period = parse_param(parse_day, "period", period, problems)
    if view and view not in VIEWS:
        problems.append(t("error.bad_parameter", name="view", value=view))
    return Filters(chosen, parsed_resource, parsed_role, kind_,
                   widgets.normalise(parsed_period, GRANULARITY[kind_]) if parsed_period else None,
                   view if view in VIEWS else "completeness")


class ArrivalPage:
    def __init__(self, services: MonitoringServices, viewer: auth.Viewer, buildings: list[BuildingSummary],
                 filters: Filters, problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.buildings = buildings
        self.filters = filters
        self.problems = problems
        self.resources: tuple[Resource, ...] = ()
        self.report: ArrivalReport | None = None
        self.values: ArrivalValues | None = None  # loaded in the values view only
        self.commands: dict[str, CommandInfo] = {}  # the building's recent backfill commands by id
        self.newest = date.today()
        self._resources_of: int | None = None  # the building self.resources and self.newest are of
        self._request = 0

    @property
    def may_backfill(self) -> bool:
        return may_issue(self.viewer.user, CommandType.BACKFILL)

    async def load(self, f: Filters) -> bool:
        """Fetch the report for the filters ``f`` and make them the page's (services may refuse)."""
        token = self.viewer.token
        if f.building != self._resources_of:
            meters = await self.services.accounting.meters(token, f.building)
            self.resources = fmt.sort_resources(r for m in meters for r in m.resources)
            self.newest = await self.services.accounting.default_period(token, f.building)
            self._resources_of = f.building
        if f.period is None:
            f = replace(f, period=widgets.normalise(self.newest, GRANULARITY[f.kind]))
        if f.resource is not None and f.resource not in self.resources:
            self.problems.append(t("error.bad_parameter", name="resource", value=f.resource.value))
            f = replace(f, resource=None)
        if f.resource is None and self.resources:
            f = replace(f, resource=self.resources[0])
        first, last = span(f.kind, f.period or self.newest)
        report = await self.services.arrival.report(token, f.building, f.kind, first, last, resource=f.resource,
                                                    role=f.role)
        values = await self.services.arrival.values_of(token, report) if f.view == "values" else None
        self.filters, self.report, self.values = f, report, values
        await self._load_commands()
        return True

    async def _load_commands(self) -> None:
        if self.report is None:
            return
        ids = {m.meter.id for m in self.report.meters}
        found = await self.services.commands.list(self.viewer.token, kind="backfill", limit=200)
        self.commands = {c.id: c for c in found if c.meter_id in ids}

    # --- drawing ---------------------------------------------------------------------------------

    def render(self) -> None:
        with theme.frame(t("arrival.title"), self.viewer.user, active=PATH, subtitle=t("arrival.subtitle")):
            for problem in self.problems:
                widgets.warning(problem)
            self.body()
            self.command_panel()
        ui.timer(POLL_S, self._poll)

    @ui.refreshable_method
    def body(self) -> None:
        f, report = self.filters, self.report
        self._controls(f)
        if report is None:
            return
        with ui.row().classes("w-full gap-4"):
            widgets.kpi(t("arrival.kpi.completeness"), f"{fmt.percent(report.completeness_pct)} %",
                        marker="arrival-completeness")
            widgets.kpi(t("arrival.kpi.received"), f"{fmt.integer(report.received)} / {fmt.integer(report.due)}")
            widgets.kpi(t("arrival.kpi.missing"), fmt.integer(sum(m.missing + m.partial for m in report.meters)))
            widgets.kpi(t("arrival.kpi.lost"), fmt.integer(sum(m.lost for m in report.meters)))
        if f.view == "values" and self.values is not None:
            self._values_card(self.values)
            return
        with theme.card():
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(t("arrival.meters")).classes("du-card-title")
                if self.may_backfill:
                    gaps = sum(len(m.gaps) for m in report.meters)
                    button = ui.button(t("arrival.backfill"), icon="cloud_download", on_click=self._backfill).props(
                        "unelevated no-caps").mark("arrival-backfill")
                    if not gaps:
                        button.disable()
                        button.tooltip(t("arrival.no_gaps"))
            if not report.meters:
                theme.message(t("arrival.no_meters"))
                return
            self._meter_table(report)
            _legend()
            _grid(report)

    def _controls(self, f: Filters) -> None:
        with theme.card(), ui.row().classes("w-full items-end gap-x-8 gap-y-3"):
            with ui.column().classes("gap-1"):
                ui.label(t("arrival.building")).classes("du-kpi-label")
                ui.select({b.id: b.address for b in self.buildings}, value=f.building,
                          on_change=lambda e: self.change(building=e.value)).props("outlined dense").classes(
                    "min-w-[16rem]").mark("arrival-building")
            toggles = [
                (t("controls.resource"), {r.value: fmt.resource(r) for r in self.resources},
                 f.resource.value if f.resource else None, lambda v: self.change(resource=Resource(v)),
                 "arrival-resource"),
                (t("arrival.role"), {"all": t("arrival.role.all"), "common": t("meter.role.common"),
                                     "individual": t("meter.role.individual")},
                 f.role.value if f.role else "all", lambda v: self.change(role=v), "arrival-role"),
                (t("arrival.kind"), {k: t(f"arrival.kind.{k}") for k in KINDS}, f.kind,
                 lambda v: self.change(kind=v), "arrival-kind"),
                (t("arrival.values.view"), {v: t(f"arrival.values.view.{v}") for v in VIEWS}, f.view,
                 lambda v: self.change(view=v), "arrival-view"),
            ]
            for label, options, value, handler, marker in toggles:
                with ui.column().classes("gap-1"):
                    ui.label(label).classes("du-kpi-label")
                    ui.toggle(options, value=value, on_change=widgets.on_change(handler)).props(
                        "unelevated no-caps toggle-color=primary color=grey-2 text-color=grey-9").mark(marker)
            with ui.column().classes("gap-1"):
                ui.label(t("controls.period")).classes("du-kpi-label")
                widgets.PeriodPicker(GRANULARITY[f.kind], f.period or self.newest, lambda v: self.change(period=v))

    def _meter_table(self, report: ArrivalReport) -> None:
        latest: dict[int, CommandInfo] = {}
        for command in sorted(self.commands.values(), key=lambda c: c.created_at):
            if command.meter_id is not None:
                latest[command.meter_id] = command
        columns = [
            {"name": "serial", "label": t("arrival.col.meter"), "field": "serial", "align": "left"},
            {"name": "role", "label": t("arrival.col.role"), "field": "role", "align": "left"},
            {"name": "premise", "label": t("arrival.col.premise"), "field": "premise", "align": "left"},
            {"name": "received", "label": t("arrival.col.received"), "field": "received", "align": "right"},
            {"name": "missing", "label": t("arrival.col.missing"), "field": "missing", "align": "right"},
            {"name": "lost", "label": t("arrival.col.lost"), "field": "lost", "align": "right"},
            {"name": "pct", "label": t("arrival.col.completeness"), "field": "pct", "align": "right"},
            {"name": "backfill", "label": t("arrival.col.backfill"), "field": "backfill", "align": "left"},
        ]
        rows = [_meter_row(m, latest.get(m.meter.id)) for m in report.meters]
        table = ui.table(columns=columns, rows=rows, row_key="id", pagination=0).props(
            "flat dense separator=horizontal hide-pagination").classes("du-table w-full").mark("arrival-table")
        table.add_slot("body-cell-serial", '<q-td :props="props"><a class="du-link" :href="props.row.href">'
                                           "{{ props.value }}</a></q-td>")

    def _values_card(self, values: ArrivalValues) -> None:
        """The manual's table: a row per meter and period, the meter number first (kept in view on a
        phone) and linking to its page, the parameters' values, a message icon that opens the content."""
        with theme.card(t("arrival.values.title")):
            if not values.meters:
                theme.message(t("arrival.no_meters"))
                return
            columns, rows = values_table(values)
            sticky_css()
            scroll_hint()
            table = ui.table(columns=columns, rows=rows, row_key="id",
                             pagination={"rowsPerPage": VALUES_PAGE, "sortBy": None}).props(
                "flat dense separator=horizontal wrap-cells").classes("du-table du-sticky w-full").mark(
                "arrival-values")
            table.add_slot("body-cell-serial", '<q-td :props="props" class="du-key">'
                                               '<a class="du-link" :href="props.row.href">{{ props.value }}</a></q-td>')
            table.add_slot("body-cell-messages", '<q-td :props="props"><q-btn v-if="props.row.messages" flat dense '
                                                 'round size="sm" :icon="props.row.icon" :color="props.row.colour" '
                                                 '@click="() => $parent.$emit(\'messages\', props.row.id)">'
                                                 '<q-tooltip>{{ props.row.hint }}</q-tooltip></q-btn></q-td>')
            # the messages stay here, not sent to the browser with the rows
            found = {str(row["id"]): cast(list[dict[str, str]], row.pop("content")) for row in rows}
            table.on("messages", lambda e: self._show_messages(found.get(str(e.args), [])))
            ui.label(t("arrival.values.note")).classes("text-xs du-muted")

    def _show_messages(self, content: list[dict[str, str]]) -> None:
        """The messages of one period, as the device and the archive give them."""
        if not content:
            return
        with ui.dialog().mark("arrival-messages") as dialog, ui.card().classes("min-w-[20rem] max-w-[36rem]"):
            ui.label(content[0]["title"]).classes("du-card-title")
            for item in content:
                with ui.column().classes("gap-0 w-full"):
                    ui.label(item["head"]).classes("text-xs du-muted")
                    ui.label(item["text"]).classes("text-sm break-words")
                    if item["detail"]:
                        ui.label(item["detail"]).classes("text-xs du-muted break-all")
            ui.button(t("arrival.values.close"), on_click=dialog.close).props("flat no-caps")
        dialog.open()

    @ui.refreshable_method
    def command_panel(self) -> None:
        with theme.card(t("arrival.commands")).mark("arrival-commands"):
            if not self.commands:
                theme.message(t("arrival.commands.empty"))
                return
            tz = zone(self.report.building.time_zone) if self.report else zone("UTC")
            shown = sorted(self.commands.values(), key=lambda c: c.created_at, reverse=True)[:20]
            widgets.link_table(
                (t("commands.col.created"), t("arrival.col.meter"), t("commands.col.range"), t("commands.col.state"),
                 t("commands.col.by"), t("commands.col.result")),
                [[fmt.moment(utc_to_local(c.created_at, tz)), c.meter_serial or "", _range(c, tz), state_text(c),
                  c.created_by or "", result_text(c)] for c in shown])

    # --- actions -----------------------------------------------------------------------------------

    async def change(self, *, building: int | None = None, resource: Resource | None = None,
                     role: str | None = None, kind: str | None = None, period: date | None = None,
                     view: str | None = None) -> None:
        f = self.filters
        current = f.period or self.newest
        new = Filters(
            building if building is not None else f.building,
            resource if resource is not None else (None if building is not None else f.resource),
            f.role if role is None else (None if role == "all" else MeterRole(role)),
            kind or f.kind,
            None if building is not None else
            widgets.next_period(period, current, GRANULARITY[f.kind], GRANULARITY[kind or f.kind], self.newest),
            view or f.view,
        )
        self._request += 1
        request = self._request
        self.problems = []
        progress = ui.notification(t("arrival.values.loading"), spinner=True, timeout=None, position="top")
        try:
            loaded = await auth.attempt(self.load(new))
        finally:
            progress.dismiss()
        if not loaded or request != self._request:
            return
        self.body.refresh()
        self.command_panel.refresh()
        g = self.filters
        ui.navigate.history.replace(page_url(PATH, building=g.building, kind=g.kind, period=g.period,
                                             resource=g.resource.value if g.resource else None,
                                             role=g.role.value if g.role else None,
                                             view=g.view if g.view != "completeness" else None))

    async def _backfill(self) -> None:
        f = self.filters
        first, last = span(f.kind, f.period or self.newest)
        issued = await auth.attempt(self.services.arrival.request_backfill(
            self.viewer.token, f.building, f.kind, first, last, resource=f.resource, role=f.role))
        if issued is None:
            return
        for command in issued:
            self.commands[command.id] = command
        ui.notify(t("arrival.backfill_sent", count=len(issued)), type="positive" if issued else "info")
        self.body.refresh()
        self.command_panel.refresh()

    async def _poll(self) -> None:
        """Look again at the commands that have not finished; redraw when one moved."""
        running = [c for c in self.commands.values() if not c.final]
        if not running:
            return
        changed = False
        for command in running:
            try:
                fresh = await self.services.commands.get(self.viewer.token, command.id)
            except NotFound:
                continue
            if fresh.state != command.state:
                self.commands[command.id] = fresh
                changed = True
        if changed:
            self.body.refresh()
            self.command_panel.refresh()



def state_text(command: CommandInfo) -> str:
    return t(f"commands.state.{command.state}")


def result_text(command: CommandInfo) -> str:
    if not command.result:
        return ""
    return ", ".join(f"{key}: {value}" for key, value in sorted(command.result.items()))


_SHOWN_FROM = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC).timestamp()
_SHOWN_TO = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, tzinfo=UTC).timestamp()


def _range(command: CommandInfo, tz) -> str:
    """The backfill's span in the building's time; bounds that are no moment of the sane range (a
    command stored before the bounds of issue 12, with from=1e15) are shown as the numbers they are:
    one odd command must not take the page down for the whole company."""
    if command.type != "backfill":
        return ""
    bounds = [command.args.get(k) for k in ("from", "to")]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and _SHOWN_FROM <= v <= _SHOWN_TO
               for v in bounds):
        return f"{bounds[0]} – {bounds[1]}"
    first, last = (utc_to_local(datetime.fromtimestamp(v, UTC), tz) for v in bounds)
    return f"{fmt.moment(first)} – {fmt.moment(last)}"


def _meter_row(row: MeterArrival, command: CommandInfo | None) -> dict[str, object]:
    meter = row.meter
    return {"id": meter.id, "serial": meter.serial, "href": f"/meters/{meter.id}", "role": fmt.meter_role(meter.role),
            "premise": t("premise.short", number=meter.premise_number) if meter.premise_number else "",
            "received": f"{row.received} / {row.due}", "missing": row.missing + row.partial, "lost": row.lost,
            "pct": fmt.percent(row.completeness_pct), "backfill": state_text(command) if command else ""}


def _legend() -> None:
    with ui.row().classes("items-center gap-4 text-xs du-muted"):
        for status in _CELL:
            with ui.row().classes("items-center gap-1 no-wrap"):
                ui.element("span").classes("du-dot").style(f"{_cell_background(status)}; border-radius: 2px")
                ui.label(t(f"arrival.status.{status}"))
        with ui.row().classes("items-center gap-1 no-wrap"):
            ui.element("span").classes("du-dot").style("background: #fff; box-shadow: 0 0 0 1.5px #102a43")
            ui.label(t("arrival.event_hint"))


def _grid_cell(p: PeriodArrival, granularity: Granularity) -> str:
    """One period: its colour, a mark when the device sent messages, the details in the tooltip."""
    title = f"{fmt.point_label(p.start, granularity)}: {t(f'arrival.status.{p.status}')}"
    if p.reason:
        title += f" — {p.reason}"
    if p.events:
        title += "\n" + "\n".join(f"{t('arrival.event')} ({t(f'arrival.severity.{severity}')}): {code}"
                                   for severity, code in p.events)
    mark = '<span class="du-event"></span>' if p.events else ""
    return (f'<td title="{html.escape(title)}"><span class="du-cell" style="{_cell_background(p.status)}">'
            f"{mark}</span></td>")


def _grid(report: ArrivalReport) -> None:
    """Meters × periods, one coloured cell per period (its status in the tooltip); one HTML element."""
    granularity = GRANULARITY[report.kind.value]
    head = "".join(f"<th>{html.escape(fmt.point_label(p, granularity, short=True))}</th>" for p in report.periods)
    body = []
    for row in report.meters:
        cells = "".join(_grid_cell(p, granularity) for p in row.periods)
        body.append(f"<tr><th>{html.escape(row.meter.serial)}</th>{cells}</tr>")
    ui.add_css(".du-grid th { font-weight: 500; font-size: 11px; color: #486581; padding: 0 2px; text-align: left; }"
               ".du-grid td { padding: 1px; } .du-cell { display: flex; align-items: center; justify-content: "
               "center; width: 14px; height: 14px; border-radius: 3px; } .du-event { width: 6px; height: 6px; "
               "border-radius: 50%; background: #fff; box-shadow: 0 0 0 1.5px #102a43; }")
    ui.html(f'<div class="overflow-x-auto"><table class="du-grid"><thead><tr><th></th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>', sanitize=False).classes("w-full").mark("arrival-grid")


# --- the table of archive parameter values (the manual's 4.2.3 table) -------------------------------

_SEVERITY_ICON = {"alarm": ("report", "negative"), "warning": ("warning", "warning"), "info": ("info", "primary")}
_RANK = {"info": 0, "warning": 1, "alarm": 2}


def values_table(values: ArrivalValues) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Columns and rows of the values table: meter, period, one column per channel parameter of
    the meters shown (a parameter of another meter type stays empty), the messages. A value that
    did not come is «–*» with the period's status in the row, never 0."""
    granularity = GRANULARITY[values.kind.value]
    keys: dict[str, tuple[str, str, str, int]] = {}
    for meter in values.meters:
        for c in meter.columns:
            keys.setdefault(c.key, (c.parameter, c.unit, c.nature, c.channel))
    shared = {p for p, *_ in keys.values() if sum(1 for q, *_ in keys.values() if q == p) > 1}
    columns: list[dict[str, object]] = [
        {"name": "serial", "label": t("arrival.col.meter"), "field": "serial", "align": "left",
         "classes": "du-key", "headerClasses": "du-key"},
        {"name": "period", "label": t("col.period"), "field": "period", "align": "left"},
        {"name": "status", "label": t("arrival.values.status"), "field": "status", "align": "left"},
    ]
    for key, (parameter, unit, nature, channel) in keys.items():
        label = fmt.parameter(parameter, nature)
        if parameter in shared:
            label += " " + t("arrival.values.channel", number=channel)
        columns.append({"name": f"v{key}", "label": f"{label}, {fmt.unit(unit)}" if unit else label,
                        "field": f"v{key}", "align": "right"})
    columns.append({"name": "messages", "label": t("arrival.values.messages"), "field": "messages",
                    "align": "center"})
    rows: list[dict[str, object]] = []
    for meter in values.meters:
        own = {c.key: c for c in meter.columns}
        for row in meter.rows:
            cells: dict[str, object] = {}
            for key in keys:
                if key not in own:
                    cells[f"v{key}"] = ""
                    continue
                value = row.values.get(key)
                cells[f"v{key}"] = "–*" if value is None else fmt.number(value, fmt.digits(own[key].unit))
            title = f"{meter.meter.serial} · {fmt.point_label(row.start, granularity)}"
            worst = max((m.severity for m in row.messages), key=lambda s: _RANK.get(s, 0), default="info")
            icon, colour = _SEVERITY_ICON.get(worst, _SEVERITY_ICON["info"])
            rows.append({
                "id": f"{meter.meter.id}:{row.start.isoformat()}", "serial": meter.meter.serial,
                "href": f"/meters/{meter.meter.id}", "period": fmt.point_label(row.start, granularity),
                "status": "" if row.status == "received" else t(f"arrival.status.{row.status}"), **cells,
                "messages": len(row.messages), "icon": icon, "colour": colour,
                "hint": t("arrival.values.hint", count=len(row.messages)),
                "content": [_message(m, title) for m in row.messages],
            })
    return columns, rows


def _message(message: ArchiveMessage, title: str) -> dict[str, str]:
    text = message.text_en if i18n.current_language() == "en" else message.text
    head = (f"{fmt.moment(message.at)} · {t(f'arrival.values.source.{message.source}')} · "
            f"{t(f'arrival.severity.{message.severity}')} · {message.code}")
    return {"title": title, "head": head, "text": text, "detail": message.detail if message.detail != "{}" else ""}


i18n.extend({
    "arrival.values.view": ("Вид", "View"),
    "arrival.values.view.completeness": ("Полнота", "Completeness"),
    "arrival.values.view.values": ("Значения параметров", "Parameter values"),
    "arrival.values.title": ("Значения параметров архива по приборам учёта", "Archive parameter values by meter"),
    "arrival.values.messages": ("Сообщения", "Messages"),
    "arrival.values.status": ("Поступление", "Arrival"),
    "arrival.values.hint": ("Сообщений: {count} — нажмите, чтобы прочитать", "{count} message(s): click to read"),
    "arrival.values.channel": ("(канал {number})", "(channel {number})"),
    "arrival.values.close": ("Закрыть", "Close"),
    "arrival.values.loading": ("Загрузка данных…", "Loading data…"),
    "arrival.values.note": ("Значения — как их хранит архив прибора (интегральные показания или значения за "
                            "период); «–*» — значение за период не поступило. Пустая ячейка: у прибора нет "
                            "такого параметра.",
                            "Values as the device's archive keeps them (integral readings or values of the "
                            "period); «–*»: nothing came for the period. An empty cell: the meter has no such "
                            "parameter."),
    "arrival.values.source.device": ("прибор", "device"),
    "arrival.values.source.edge": ("шлюз", "edge"),
    "arrival.values.source.cloud": ("сервер", "cloud"),
    "arrival.values.source.archive": ("отметка архива", "archive flag"),
})
