"""Page "Потребление ресурса по объекту" (manual 4.1.2) with the building's premises and meters
(4.1.3): building meter against the sum of apartment meters, the imbalance in units and %.

Loaded in one go by ``BuildingPage.load`` (which may raise NotFound), drawn by ``render``;
selector changes reload only the consumption part. Route and guard: ui.accounting.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from datetime import date

from nicegui import ui

from cloud.services import consumption as calc
from cloud.services.models import (
    BuildingConsumption,
    BuildingSummary,
    DataStatus,
    Granularity,
    MeterInfo,
    PremiseInfo,
)
from protocol.vocabulary import MeterRole, Resource

from . import charts, fmt, theme, widgets
from .auth import Viewer
from .consumption_view import ConsumptionState, ConsumptionView, initial_choice
from .i18n import t
from .ports import Services
from .query import PageQuery

ACTIVE_STATUSES = ("in_service", "commissioning")


class BuildingPage(ConsumptionView):
    def __init__(
        self,
        services: Services,
        viewer: Viewer,
        building: BuildingSummary,
        premises: list[PremiseInfo],
        meters: list[MeterInfo],
        status: DataStatus,
        newest: date,
        state: ConsumptionState,
        problems: tuple[str, ...],
    ) -> None:
        self.services = services
        self.viewer = viewer
        self.building = building
        self.premises = premises
        self.meters = meters
        self.status = status
        self.newest = newest
        self.state = state
        self.problems = problems
        self.active_only = True

    @classmethod
    async def load(cls, services: Services, viewer: Viewer, building_id: int, query: PageQuery) -> BuildingPage:
        accounting, token = services.accounting, viewer.token
        building, premises, meters, status, default = await asyncio.gather(
            accounting.building(token, building_id),
            accounting.premises(token, building_id),
            accounting.meters(token, building_id),
            accounting.data_status(token),
            accounting.default_period(token, building_id),
        )
        resource, granularity, period, problems = initial_choice(meters, query, default)
        data = None
        if resource is not None:
            data = await accounting.building_consumption(token, building_id, resource, granularity, period)
        state = ConsumptionState(resource, granularity, period, data)
        return cls(services, viewer, building, premises, meters, status, default, state, tuple(problems))

    # --- drawing ---------------------------------------------------------------------------

    def render(self) -> None:
        with theme.frame(
            t("building.title"),
            self.viewer.user,
            crumbs=[(t("nav.buildings"), "/")],
            subtitle=f"{self.building.address}, {self.building.city}",
            status=widgets.status_text(self.status),
        ):
            for problem in self.problems:
                widgets.warning(problem)
            self.consumption()
            self._premises()
            self.meter_cards()

    @ui.refreshable_method
    def consumption(self) -> None:
        state, data = self.state, self.state.data
        if state.resource is None or data is None:
            with theme.card():
                theme.message(t("building.no_meters"))
            return
        widgets.consumption_controls(data.available_resources, state.resource, state.granularity, state.period,
                                     self.change)
        _kpis(data)
        with ui.element("div").classes("grid w-full gap-5 grid-cols-1 lg:grid-cols-2"):
            with theme.card(t("chart.consumption", unit=fmt.unit(data.unit))):
                ui.echart(charts.building_consumption(data)).classes("w-full h-80").mark("consumption-chart")
            with theme.card(t("chart.imbalance", unit=fmt.unit(data.unit))):
                if data.has_building_meter and data.has_apartment_meters:
                    ui.echart(charts.building_imbalance(data)).classes("w-full h-80").mark("imbalance-chart")
                else:
                    theme.message(t("chart.no_imbalance"))
        _points_table(data)

    def fetch(self, resource: Resource, granularity: Granularity, period: date) -> Awaitable[BuildingConsumption]:
        return self.services.accounting.building_consumption(self.viewer.token, self.building.id, resource,
                                                             granularity, period)

    def path(self) -> str:
        return f"/buildings/{self.building.id}"

    def redraw(self) -> None:
        self.consumption.refresh()

    def _premises(self) -> None:
        with theme.card(t("premises.title")).mark("premises"):
            if not self.premises:
                theme.message(t("premises.empty"))
                return
            by_premise: dict[int, list[MeterInfo]] = {}
            for meter in self.meters:
                if meter.premise_id is not None:
                    by_premise.setdefault(meter.premise_id, []).append(meter)
            rows: list[list[widgets.Cell]] = []
            for premise in sorted(self.premises, key=lambda p: natural_key(p.number)):
                rows.append(
                    [
                        widgets.Link(premise.number, f"/premises/{premise.id}"),
                        fmt.premise_kind(premise.kind),
                        fmt.number(premise.area_m2, 1),
                        fmt.integer(premise.residents),
                        premise.account,
                        [widgets.Link(m.serial, widgets.meter_href(m)) for m in by_premise.get(premise.id, [])],
                    ]
                )
            widgets.link_table(
                [t("col.number"), t("col.kind"), t("col.area"), t("col.residents"), t("col.account"), t("col.meters")],
                rows,
                numeric=(2, 3),
            )

    @ui.refreshable_method
    def meter_cards(self) -> None:
        with theme.card().mark("meters"):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(t("meters.title")).classes("du-card-title")
                ui.switch(
                    t("meters.active_only"), value=self.active_only, on_change=lambda e: self._show_active(e.value)
                ).mark("active-only")
            shown = [m for m in self.meters if not self.active_only or m.status in ACTIVE_STATUSES]
            if not shown:
                theme.message(t("meters.empty"))
                return
            common = [m for m in shown if m.role == MeterRole.COMMON]
            individual = sorted(
                (m for m in shown if m.role != MeterRole.COMMON),
                key=lambda m: (natural_key(m.premise_number or ""), m.serial),
            )
            for title, group in ((t("meters.common"), common), (t("meters.individual"), individual)):
                if group:
                    ui.label(title).classes("text-sm font-medium du-muted mt-2")
                    widgets.plashka_grid(group, premise_label=_premise_label)

    def _show_active(self, active_only: bool) -> None:
        self.active_only = active_only
        self.meter_cards.refresh()


def _premise_label(meter: MeterInfo) -> str | None:
    return t("premise.short", number=meter.premise_number) if meter.premise_number else None


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort "2" before "10", "10а" after "10", and numbers before letters ("Н1" last)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part)


def _kpis(data: BuildingConsumption) -> None:
    """The period's totals: a total is partial (``*``) when any of its periods is, and the
    imbalance is given only when both totals are complete (manual 4.1.5)."""
    unit = fmt.unit(data.unit)
    building = calc.total(p.building_figure for p in data.points)
    apartments = calc.total(p.apartments_figure for p in data.points)
    with ui.row().classes("w-full gap-5"):
        if data.has_building_meter:
            widgets.kpi(t("kpi.building"), f"{widgets.figure_text(building, data.unit)} {unit}", marker="kpi-building")
        else:
            widgets.kpi(t("kpi.building"), "—", hint=t("kpi.no_building_meter"), marker="kpi-building")
        if data.has_apartment_meters:
            widgets.kpi(t("kpi.apartments"), f"{widgets.figure_text(apartments, data.unit)} {unit}",
                        marker="kpi-apartments")
        else:
            widgets.kpi(t("kpi.apartments"), "—", hint=t("kpi.no_apartment_meters"), marker="kpi-apartments")
        if data.has_building_meter and data.has_apartment_meters:
            imbalance, share = calc.imbalance(building, apartments)
            value = f"{fmt.amount(imbalance, data.unit)} {unit}" if imbalance is not None else fmt.MISSING
            hint = t("kpi.incomplete") if imbalance is None else (f"{fmt.percent(share)} %" if share is not None
                                                                  else None)
            widgets.kpi(t("kpi.imbalance"), value, hint=hint, marker="kpi-imbalance")


def _points_table(data: BuildingConsumption) -> None:
    balanced = data.has_building_meter and data.has_apartment_meters
    with theme.card(t("table.values", unit=fmt.unit(data.unit))):
        columns = [
            {"name": "period", "label": t("col.period"), "field": "period", "align": "left"},
            {"name": "building", "label": t("col.building"), "field": "building", "align": "right"},
            {"name": "apartments", "label": t("col.apartments"), "field": "apartments", "align": "right"},
            {"name": "imbalance", "label": t("col.imbalance"), "field": "imbalance", "align": "right"},
            {"name": "imbalance_pct", "label": t("col.imbalance_pct"), "field": "imbalance_pct", "align": "right"},
        ]
        # electricity: each tariff zone in its own columns, never added to the total
        columns += widgets.tariff_columns(data.building_tariffs, "b_", t("col.building"))
        columns += widgets.tariff_columns(data.apartment_tariffs, "a_", t("col.apartments"))
        rows = []
        for index, p in enumerate(data.points):
            row = {
                "key": p.period.isoformat(),
                "period": fmt.point_label(p.period, data.granularity),
                "building": widgets.figure_text(p.building_figure, data.unit) if data.has_building_meter else "—",
                "apartments": widgets.figure_text(p.apartments_figure, data.unit)
                if data.has_apartment_meters
                else "—",
                "imbalance": fmt.amount(p.imbalance, data.unit) if balanced else "—",
                "imbalance_pct": fmt.percent(p.imbalance_pct) if balanced else "—",
            }
            row |= widgets.tariff_cells(data.building_tariffs, index, "b_", data.unit)
            row |= widgets.tariff_cells(data.apartment_tariffs, index, "a_", data.unit)
            rows.append(row)
        ui.table(columns=columns, rows=rows, row_key="key", pagination=0).props(
            "flat dense separator=horizontal hide-pagination"
        ).classes("du-table w-full").mark("consumption-table")
        widgets.consumption_notes(data.derived_from)
