"""Page "Потребление ресурса по помещению" (manual 4.1.6): the consumption parameter of the
chosen resource (∆V, ∆Q, ∆E) summed over the premise's meters, by day or by month, and the
premise's meters. Only resources the premise has meters for can be chosen.

Loaded by ``PremisePage.load`` (may raise NotFound), drawn by ``render``. Route: ui.accounting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import date

from nicegui import ui

from cloud.services import consumption as calc
from cloud.services.models import BuildingSummary, DataStatus, Granularity, MeterInfo, PremiseConsumption, PremiseInfo
from protocol.vocabulary import CONSUMPTION_PARAMETER, Resource

from . import charts, fmt, theme, widgets
from .auth import Viewer
from .consumption_view import ConsumptionState, ConsumptionView, initial_choice
from .i18n import t
from .ports import Services
from .query import PageQuery


def consumption_label(resource: Resource, unit: str) -> str:
    """The column and series name: ``∆V, м³``, ``∆Q, Гкал`` (manual 4.1.6, table 1)."""
    return f"{fmt.parameter(CONSUMPTION_PARAMETER[resource], 'interval')}, {fmt.unit(unit)}"


class PremisePage(ConsumptionView):
    def __init__(
        self,
        services: Services,
        viewer: Viewer,
        premise: PremiseInfo,
        building: BuildingSummary,
        meters: list[MeterInfo],
        status: DataStatus,
        newest: date,
        state: ConsumptionState,
        problems: tuple[str, ...],
    ) -> None:
        self.services = services
        self.viewer = viewer
        self.premise = premise
        self.building = building
        self.meters = meters
        self.status = status
        self.newest = newest
        self.state = state
        self.problems = problems

    @classmethod
    async def load(cls, services: Services, viewer: Viewer, premise_id: int, query: PageQuery) -> PremisePage:
        accounting, token = services.accounting, viewer.token
        premise = await accounting.premise(token, premise_id)
        building, all_meters, status, default = await asyncio.gather(
            accounting.building(token, premise.building_id),
            accounting.meters(token, premise.building_id),
            accounting.data_status(token),
            accounting.default_period(token, premise.building_id),
        )
        meters = [m for m in all_meters if m.premise_id == premise.id]
        resource, granularity, period, problems = initial_choice(meters, query, default)
        data = None
        if resource is not None:
            data = await accounting.premise_consumption(token, premise.id, resource, granularity, period)
        state = ConsumptionState(resource, granularity, period, data)
        return cls(services, viewer, premise, building, meters, status, default, state, tuple(problems))

    def render(self) -> None:
        premise = self.premise
        kind = fmt.premise_kind(premise.kind)
        with theme.frame(
            t("premise.title"),
            self.viewer.user,
            crumbs=[(t("nav.buildings"), "/"), (self.building.address, f"/buildings/{self.building.id}")],
            subtitle=f"{t('premise.heading', kind=kind, number=premise.number)} · {self.building.address}",
            status=widgets.status_text(self.status),
        ):
            for problem in self.problems:
                widgets.warning(problem)
            with theme.card(), ui.row().classes("w-full gap-x-10 gap-y-2"):
                widgets.fact(t("col.kind"), kind)
                widgets.fact(t("col.area"), fmt.number(premise.area_m2, 1))
                widgets.fact(t("col.residents"), fmt.integer(premise.residents))
                widgets.fact(t("col.account"), premise.account or "—")
                widgets.fact(t("meters.title"), fmt.integer(len(self.meters)))
            self.consumption()
            with ui.element("div").classes("grid w-full gap-5 grid-cols-1 lg:grid-cols-[minmax(0,26rem)_1fr]"):
                with ui.element("div").classes("min-w-0"):
                    self.values()
                with theme.card(t("meters.title")).classes("self-start").mark("meters"):
                    if self.meters:
                        with ui.element("div").classes("grid w-full gap-3 grid-cols-1 xl:grid-cols-2"):
                            for meter in self.meters:
                                widgets.plashka(meter)
                    else:
                        theme.message(t("meters.empty"))

    @ui.refreshable_method
    def consumption(self) -> None:
        state, data = self.state, self.state.data
        if state.resource is None or data is None:
            with theme.card():
                theme.message(t("premise.no_meters"))
            return
        widgets.consumption_controls(data.available_resources, state.resource, state.granularity, state.period,
                                     self.change)
        total = widgets.figure_text(calc.total(data.figures), data.unit)
        with theme.card():
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(f"{t('premise.consumption')}, {fmt.unit(data.unit)}").classes("du-card-title")
                ui.label(
                    t(
                        "premise.total",
                        period=fmt.period_title(state.period, state.granularity, capital=False),
                        value=f"{total} {fmt.unit(data.unit)}",
                    )
                ).classes("text-sm font-semibold text-[#243b53]").mark("premise-total")
            label = consumption_label(state.resource, data.unit)
            ui.echart(charts.premise_consumption(data, label)).classes("w-full h-80").mark("consumption-chart")

    @ui.refreshable_method
    def values(self) -> None:
        state, data = self.state, self.state.data
        if state.resource is None or data is None:
            return
        with theme.card(t("table.values", unit=fmt.unit(data.unit))):
            columns = [
                {"name": "period", "label": t("col.period"), "field": "period", "align": "left"},
                {
                    "name": "value",
                    "label": consumption_label(state.resource, data.unit),
                    "field": "value",
                    "align": "right",
                },
            ]
            # electricity: each tariff zone in a column of its own, never added to the total
            columns += widgets.tariff_columns(data.tariffs, "t_", fmt.parameter(CONSUMPTION_PARAMETER[state.resource],
                                                                                "interval"))
            rows = [
                {
                    "key": period.isoformat(),
                    "period": fmt.point_label(period, data.granularity),
                    "value": widgets.figure_text(figure, data.unit),
                    **widgets.tariff_cells(data.tariffs, index, "t_", data.unit),
                }
                for index, ((period, _), figure) in enumerate(zip(data.points, data.figures, strict=True))
            ]
            ui.table(columns=columns, rows=rows, row_key="key", pagination=0).props(
                "flat dense separator=horizontal hide-pagination"
            ).classes("du-table w-full").mark("consumption-table")
            widgets.consumption_notes(data.derived_from)

    def fetch(self, resource: Resource, granularity: Granularity, period: date) -> Awaitable[PremiseConsumption]:
        return self.services.accounting.premise_consumption(self.viewer.token, self.premise.id, resource,
                                                            granularity, period)

    def path(self) -> str:
        return f"/premises/{self.premise.id}"

    def redraw(self) -> None:
        self.consumption.refresh()
        self.values.refresh()
