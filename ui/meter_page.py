"""Page "Измерения (архивы) ПУ" (manual 4.1.7): the meter's own archive values of one channel,
by hours of a day, days of a month or months of a year; a line chart of one parameter
(click a parameter row to chart it) and the archive table, a column per parameter.

Loaded by ``MeterPage.load`` (may raise NotFound), drawn by ``render``. Route: ui.accounting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from nicegui import ui
from nicegui.events import GenericEventArguments

from cloud.services.commands import CommandInfo
from cloud.services.models import BuildingSummary, DataStatus, Granularity, MeterArchive, MeterInfo
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import CONSUMPTION_PARAMETER

from . import auth, charts, fmt, selection, theme, widgets
from .arrival_page import MonitoringServices, result_text, state_text
from .auth import Viewer
from .i18n import t
from .ports import Services
from .query import PageQuery, page_url

GRANULARITIES = (Granularity.HOUR, Granularity.DAY, Granularity.MONTH)


@dataclass(slots=True)
class _State:
    channel: int
    granularity: Granularity
    period: date
    data: MeterArchive
    parameter: str | None  # the charted parameter


def default_parameter(data: MeterArchive) -> str | None:
    """Chart the resource's consumption parameter first (∆Q, ∆V, ∆E), else the first one."""
    wanted = CONSUMPTION_PARAMETER.get(data.channel.resource)
    if wanted in data.parameters:
        return wanted
    return data.parameters[0] if data.parameters else None


def column_label(data: MeterArchive, code: str) -> str:
    unit = data.units.get(code)
    name = fmt.parameter(code, data.nature)
    return f"{name}, {fmt.unit(unit)}" if unit else name


class MeterPage:
    def __init__(
        self,
        services: Services,
        viewer: Viewer,
        meter: MeterInfo,
        building: BuildingSummary,
        status: DataStatus,
        newest: date,
        state: _State | None,
        problems: tuple[str, ...],
    ) -> None:
        self.services = services
        self.viewer = viewer
        self.meter = meter
        self.building = building
        self.status = status
        self.newest = newest  # the local date of the newest data: where period pickers open
        self.state = state
        self.problems = problems
        self.history: tuple[CommandInfo, ...] = ()  # the newest commands to the edge about this meter
        self._request = 0

    @classmethod
    async def load(cls, services: Services, viewer: Viewer, meter_id: int, query: PageQuery) -> MeterPage:
        accounting, token = services.accounting, viewer.token
        meter = await accounting.meter(token, meter_id)
        building, status, default = await asyncio.gather(
            accounting.building(token, meter.building_id),
            accounting.data_status(token),
            accounting.default_period(token, meter.building_id),
        )
        problems = list(query.problems)
        numbers = [c.number for c in meter.channels]
        history = await _command_history(services, viewer, meter.id)
        if not numbers:
            page = cls(services, viewer, meter, building, status, default, None, tuple(problems))
            page.history = history
            return page
        channel = numbers[0]
        if query.channel is not None:
            if query.channel in numbers:
                channel = query.channel
            else:
                problems.append(t("error.bad_parameter", name="channel", value=query.channel))
        granularity = query.granularity or Granularity.HOUR
        period = widgets.normalise(selection.period(query.period, default), granularity)
        selection.remember(building_id=meter.building_id, period=period, span=selection.view_span(granularity))
        data = await accounting.meter_archive(token, meter.id, channel, granularity, period)
        state = _State(channel, granularity, period, data, default_parameter(data))
        page = cls(services, viewer, meter, building, status, default, state, tuple(problems))
        page.history = history
        return page

    def render(self) -> None:
        meter = self.meter
        crumbs = [(t("nav.buildings"), "/"), (self.building.address, f"/buildings/{self.building.id}")]
        if meter.premise_id is not None and meter.premise_number:
            crumbs.append((t("premise.short", number=meter.premise_number), f"/premises/{meter.premise_id}"))
        with theme.frame(
            t("meter.title"),
            self.viewer.user,
            crumbs=crumbs,
            subtitle=f"{fmt.meter_role(meter.role)} {t('meter.serial', serial=meter.serial)} · {meter.model}",
            status=widgets.status_text(self.status),
        ):
            for problem in self.problems:
                widgets.warning(problem)
            with ui.element("div").classes("grid w-full gap-5 grid-cols-1 md:grid-cols-[18rem_1fr]"):
                with ui.column().classes("self-start gap-5 w-full items-stretch"):
                    widgets.plashka(meter)
                    if self.history:
                        _command_list(self.history, self.building.time_zone)
                self.archive()

    @ui.refreshable_method
    def archive(self) -> None:
        with ui.column().classes("w-full gap-5 min-w-0"):
            if self.state is None:
                with theme.card():
                    theme.message(t("meter.no_channels"))
                return
            self._controls(self.state)
            self._chart(self.state)
            _parameter_table(self.state, self._chart_parameter)
            _archive_table(self.state.data)

    def _controls(self, state: _State) -> None:
        channels = {
            c.number: t("meter.channel", resource=fmt.resource(c.resource), number=c.number)
            for c in self.meter.channels
        }
        widgets.control_bar(
            [
                widgets.Choice(
                    t("controls.channel"),
                    channels,
                    state.channel,
                    lambda v: self.change(channel=int(v)),
                    "channel-toggle",
                ),
                widgets.Choice(
                    t("controls.granularity"),
                    {g: t(f"granularity.{g.value}") for g in GRANULARITIES},
                    state.granularity,
                    lambda v: self.change(granularity=Granularity(v)),
                    "granularity-toggle",
                ),
            ],
            state.granularity,
            state.period,
            lambda v: self.change(period=v),
        )

    def _chart(self, state: _State) -> None:
        data = state.data
        nature = t(f"archive.{data.nature}") if data.nature in ("integral", "interval") else data.nature
        if data.derived_from:  # the meter keeps no archive of this kind: the rows come from a finer one
            nature = f"{fmt.archives(data.derived_from)}, {nature}"
        with theme.card():
            with ui.row().classes("w-full items-center justify-between"):
                title = (
                    f"{column_label(data, state.parameter)} — {fmt.parameter_description(state.parameter)}"
                    if state.parameter
                    else t("archive.table")
                )
                ui.label(title).classes("du-card-title").mark("chart-title")
                ui.label(t("meter.nature", nature=nature)).classes("text-xs du-muted")
            if not data.rows or state.parameter is None:
                theme.message(t("archive.empty"))
                return
            ui.echart(charts.meter_parameter(data, state.parameter)).classes("w-full h-72").mark("parameter-chart")

    def _chart_parameter(self, event: GenericEventArguments) -> None:
        row: dict[str, Any] = event.args[1] if isinstance(event.args, list) and len(event.args) > 1 else {}
        code = row.get("code")
        if self.state is None or code not in self.state.data.parameters:
            return
        self.state.parameter = code
        self.archive.refresh()

    async def change(
        self, *, channel: int | None = None, granularity: Granularity | None = None, period: date | None = None
    ) -> None:
        if self.state is None:
            return
        state = self.state
        new_channel = channel if channel is not None else state.channel
        new_granularity = granularity or state.granularity
        new_period = widgets.next_period(period, state.period, state.granularity, new_granularity, self.newest)
        self._request += 1
        request = self._request
        async with theme.working():
            data = await auth.attempt(
                self.services.accounting.meter_archive(
                    self.viewer.token, self.meter.id, new_channel, new_granularity, new_period
                )
            )
        if data is None or request != self._request:
            return
        selection.remember(period=new_period, span=selection.view_span(new_granularity))
        parameter = state.parameter if state.parameter in data.parameters else default_parameter(data)
        self.state = _State(new_channel, new_granularity, new_period, data, parameter)
        self.archive.refresh()
        ui.navigate.history.replace(
            page_url(
                f"/meters/{self.meter.id}",
                channel=new_channel,
                granularity=new_granularity.value,
                period=new_period,
            )
        )


async def _command_history(services: Services, viewer: Viewer, meter_id: int) -> tuple[CommandInfo, ...]:
    return tuple(await cast(MonitoringServices, services).commands.list(viewer.token, meter_id=meter_id, limit=10))


def _command_list(history: tuple[CommandInfo, ...], time_zone: str) -> None:
    """The meter's recent commands to the edge (backfill, time sync ...), newest first, with their state."""
    tz = zone(time_zone)
    with theme.card(t("commands.title")).classes("p-4").mark("command-history"):
        for command in history:
            with ui.column().classes("gap-0 w-full"):
                with ui.row().classes("w-full items-center justify-between no-wrap"):
                    ui.label(t(f"commands.type.{command.type}")).classes("text-sm font-medium")
                    ui.badge(state_text(command), color=_STATE_COLOURS.get(command.state, "grey-6")).props("outline")
                ui.label(f"{fmt.moment(utc_to_local(command.created_at, tz))} · {command.created_by or ''}").classes(
                    "text-xs du-muted")
                if command.result:
                    ui.label(result_text(command)).classes("text-xs text-[#334e68] break-words")


_STATE_COLOURS = {"done": "positive", "failed": "negative", "timed_out": "negative", "acknowledged": "primary",
                  "sent": "primary", "created": "grey-7"}


def _parameter_table(state: _State, on_click: Callable[[GenericEventArguments], None]) -> None:
    data = state.data
    with theme.card(t("archive.parameters")):
        columns = [
            {"name": "parameter", "label": t("col.parameter"), "field": "parameter", "align": "left"},
            {"name": "description", "label": t("col.description"), "field": "description", "align": "left"},
            {"name": "unit", "label": t("col.unit"), "field": "unit", "align": "left"},
            {"name": "count", "label": t("col.count"), "field": "count", "align": "right"},
            {"name": "min", "label": t("col.min"), "field": "min", "align": "right"},
            {"name": "max", "label": t("col.max"), "field": "max", "align": "right"},
            {"name": "last", "label": t("col.last"), "field": "last", "align": "right"},
        ]
        rows = []
        for code in data.parameters:
            unit = data.units.get(code, "")
            values = [row.values.get(code) for row in data.rows]
            known = [v for v in values if v is not None]
            rows.append(
                {
                    "code": code,
                    "selected": code == state.parameter,
                    "parameter": fmt.parameter(code, data.nature),
                    "description": fmt.parameter_description(code),
                    "unit": fmt.unit(unit),
                    "count": f"{len(known)} / {len(values)}",
                    "min": fmt.amount(min(known), unit) if known else fmt.MISSING,
                    "max": fmt.amount(max(known), unit) if known else fmt.MISSING,
                    "last": fmt.amount(known[-1], unit) if known else fmt.MISSING,
                }
            )
        table = (
            ui.table(columns=columns, rows=rows, row_key="code")
            .props("flat dense separator=horizontal hide-bottom")
            .classes("du-table du-clickable w-full")
            .mark("parameter-table")
        )
        table.add_slot(
            "body-cell-parameter",
            "<q-td :props=\"props\" :class=\"props.row.selected ? 'text-primary text-weight-bold' : ''\">"
            '<q-icon v-if="props.row.selected" name="show_chart" size="18px" class="q-mr-xs" />'
            "{{ props.value }}</q-td>",
        )
        table.on("rowClick", on_click, [[], ["code"], None])
        ui.label(t("archive.hint")).classes("text-xs du-muted")


def _archive_table(data: MeterArchive) -> None:
    with theme.card(t("archive.table")):
        if not data.rows:
            theme.message(t("archive.empty"))
            return
        columns = [{"name": "period", "label": t("col.period"), "field": "period", "align": "left"}]
        columns += [
            {"name": f"p_{i}", "label": column_label(data, code), "field": f"p_{i}", "align": "right"}
            for i, code in enumerate(data.parameters)
        ]
        rows = []
        for row in data.rows:
            cells = {"key": row.period.isoformat(), "period": fmt.point_label(row.period, data.granularity)}
            for i, code in enumerate(data.parameters):
                cells[f"p_{i}"] = fmt.amount(row.values.get(code), data.units.get(code, "")) + (
                    widgets.SUSPECT_MARK if code in row.suspect else "")  # an implausible increment into it
            rows.append(cells)
        ui.table(columns=columns, rows=rows, row_key="key", pagination=0).props(
            "flat dense separator=horizontal hide-pagination"
        ).classes("du-table w-full").mark("archive-table")
