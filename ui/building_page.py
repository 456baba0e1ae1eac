"""Page "Потребление ресурса по объекту" (manual 4.1.2): building meter against the apartments' sum
with their balance signs (4.6.5), the imbalance in units and %, and the building's premises with
links to their pages. The horizontal menu under the title leads to 4.1.3 (meter tiles, their own
page: ui.balance_page), 4.1.4, 4.1.5 and 4.1.8.

The period's totals and their imbalance come from BalanceService.building_balance: the total's
imbalance is «–*» while any period of the view up to now, today included, is incomplete.
Loaded in one go by ``BuildingPage.load`` (which may raise NotFound), drawn by ``render``;
selector changes reload only the consumption part. Route and guard: ui.accounting.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from datetime import date
from typing import Protocol, cast

from nicegui import ui

from cloud.services.balance import BalanceSigns, BuildingBalance, PremisesConsumption, SignChange
from cloud.services.balance_rules import PeriodTotal, Sign
from cloud.services.models import (
    BuildingConsumption,
    BuildingSummary,
    DataStatus,
    Granularity,
    MeterInfo,
    PremiseInfo,
)
from protocol.vocabulary import Resource

from . import charts, fmt, selection, theme, widgets
from .auth import Viewer
from .building_menu import building_menu
from .consumption_view import ConsumptionState, ConsumptionView, initial_choice
from .i18n import extend, t
from .ports import Services
from .query import PageQuery

ACTIVE_STATUSES = ("in_service", "commissioning")

extend({
    "balance.total.pending": ("неполные данные: {periods}", "incomplete data: {periods}"),
    "balance.total.today": ("{period} (идёт сейчас)", "{period} (in progress)"),
    "balance.no_data": ("Нет данных за выбранный период.", "No data for the chosen period."),
    "balance.signs.note": ("Σ ИПУ с учётом знаков: вычитаются {minus}, не участвуют {excluded}.",
                           "Σ apartment meters with their signs: {minus} subtracted, {excluded} left out."),
    "balance.signs.link": ("Настроить", "Set up"),
})


class BalanceApi(Protocol):
    """What the pages of this slice use of cloud/services/balance.py."""

    async def building_balance(self, token: str, building_id: int, resource: Resource, granularity: Granularity,
                               period: date) -> BuildingBalance: ...

    async def balance_signs(self, token: str, building_id: int) -> BalanceSigns: ...

    async def set_balance_signs(self, token: str, building_id: int,
                                changes: list[SignChange]) -> BalanceSigns: ...

    async def premises_consumption(self, token: str, building_id: int, resource: Resource,
                                   granularity: Granularity, period: date) -> PremisesConsumption: ...


class BalanceServices(Services, Protocol):
    @property
    def balance(self) -> BalanceApi: ...


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
        signs: BalanceSigns | None = None,
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
        self.signs = signs

    @classmethod
    async def load(cls, services: Services, viewer: Viewer, building_id: int, query: PageQuery) -> BuildingPage:
        accounting, token = services.accounting, viewer.token
        balance = cast(BalanceServices, services).balance
        building, premises, meters, status, default, signs = await asyncio.gather(
            accounting.building(token, building_id),
            accounting.premises(token, building_id),
            accounting.meters(token, building_id),
            accounting.data_status(token),
            accounting.default_period(token, building_id),
            balance.balance_signs(token, building_id),
        )
        resource, granularity, period, problems = initial_choice(meters, query, selection.period(None, default))
        data = None
        if resource is not None:
            data = await balance.building_balance(token, building_id, resource, granularity, period)
        selection.remember(building_id=building_id, period=period, city=building.city,
                           span=selection.view_span(granularity))
        state = ConsumptionState(resource, granularity, period, data)
        return cls(services, viewer, building, premises, meters, status, default, state, tuple(problems), signs)

    # --- drawing ---------------------------------------------------------------------------

    def render(self) -> None:
        with theme.frame(
            t("building.title"),
            self.viewer.user,
            crumbs=[(t("nav.buildings"), "/")],
            subtitle=f"{self.building.address}, {self.building.city}",
            status=widgets.status_text(self.status),
        ):
            sticky_css()
            building_menu(self.building.id, "")
            for problem in self.problems:
                widgets.warning(problem)
            self.consumption()
            self._premises()

    @ui.refreshable_method
    def consumption(self) -> None:
        state, balance = self.state, self.state.data
        if state.resource is None or balance is None:
            with theme.card():
                theme.message(t("building.no_meters"))
            return
        data: BuildingConsumption = balance.consumption
        widgets.consumption_controls(data.available_resources, state.resource, state.granularity, state.period,
                                     self.change)
        if not data.points:
            with theme.card().mark("no-data"):
                theme.message(t("balance.no_data"))
            return
        _kpis(data, balance.total)
        self._sign_note()
        with ui.element("div").classes("grid w-full gap-5 grid-cols-1 lg:grid-cols-2"):
            with theme.card(t("chart.consumption", unit=fmt.unit(data.unit))):
                ui.echart(charts.building_consumption(data)).classes("w-full h-80").mark("consumption-chart")
            with theme.card(t("chart.imbalance", unit=fmt.unit(data.unit))):
                if data.has_building_meter and data.has_apartment_meters:
                    ui.echart(charts.building_imbalance(data)).classes("w-full h-80").mark("imbalance-chart")
                else:
                    theme.message(t("chart.no_imbalance"))
        _points_table(data)

    def _sign_note(self) -> None:
        """Say when the apartments' sum is not a plain sum (some meters subtracted or left out, 4.6.5)."""
        if self.signs is None:
            return
        minus = sum(1 for m in self.signs.meters if m.sign is Sign.SUBTRACTED)
        excluded = sum(1 for m in self.signs.meters if m.sign is Sign.EXCLUDED)
        if not minus and not excluded:
            return
        with ui.row().classes("items-center gap-2 text-sm du-muted").mark("sign-note"):
            ui.icon("balance", size="18px")
            ui.label(t("balance.signs.note", minus=minus, excluded=excluded))
            ui.link(t("balance.signs.link"), f"/settings/buildings/{self.building.id}/balance").classes("du-link")

    def fetch(self, resource: Resource, granularity: Granularity, period: date) -> Awaitable[BuildingBalance]:
        return cast(BalanceServices, self.services).balance.building_balance(
            self.viewer.token, self.building.id, resource, granularity, period)

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
            scroll_hint()
            with ui.element("div").classes("w-full overflow-x-auto du-sticky-first"):
                widgets.link_table(
                    [t("col.number"), t("col.kind"), t("col.area"), t("col.residents"), t("col.account"),
                     t("col.meters")],
                    rows,
                    numeric=(2, 3),
                )


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort "2" before "10", "10а" after "10", and numbers before letters ("Н1" last)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part)


def pending_text(total: PeriodTotal, granularity: Granularity) -> str:
    """The periods that keep the total open, the running one marked (at most five named)."""
    names = []
    for start in total.pending:
        name = fmt.point_label(start, granularity)
        names.append(t("balance.total.today", period=name) if start == total.running else name)
    shown = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
    return t("balance.total.pending", periods=shown)


def _kpis(data: BuildingConsumption, total: PeriodTotal) -> None:
    """The view's totals: a total is partial (``*``) when any of its periods is; the imbalance is
    given only when every period up to now is complete (manual 4.1.2, 4.1.5)."""
    unit = fmt.unit(data.unit)
    with ui.row().classes("w-full gap-5"):
        if data.has_building_meter:
            widgets.kpi(t("kpi.building"), f"{widgets.figure_text(total.building, data.unit)} {unit}",
                        marker="kpi-building")
        else:
            widgets.kpi(t("kpi.building"), "—", hint=t("kpi.no_building_meter"), marker="kpi-building")
        if data.has_apartment_meters:
            widgets.kpi(t("kpi.apartments"), f"{widgets.figure_text(total.apartments, data.unit)} {unit}",
                        marker="kpi-apartments")
        else:
            widgets.kpi(t("kpi.apartments"), "—", hint=t("kpi.no_apartment_meters"), marker="kpi-apartments")
        if data.has_building_meter and data.has_apartment_meters:
            if total.imbalance is None:
                hint = pending_text(total, data.granularity) if total.pending else t("kpi.incomplete")
                widgets.kpi(t("kpi.imbalance"), fmt.MISSING, hint=hint, marker="kpi-imbalance")
            else:
                share = f"{fmt.percent(total.imbalance_pct)} %" if total.imbalance_pct is not None else None
                widgets.kpi(t("kpi.imbalance"), f"{fmt.amount(total.imbalance, data.unit)} {unit}", hint=share,
                            marker="kpi-imbalance")


def _points_table(data: BuildingConsumption) -> None:
    balanced = data.has_building_meter and data.has_apartment_meters
    with theme.card(t("table.values", unit=fmt.unit(data.unit))):
        columns = [
            {"name": "period", "label": t("col.period"), "field": "period", "align": "left", "classes": "du-key",
             "headerClasses": "du-key"},
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
        scroll_hint()
        ui.table(columns=columns, rows=rows, row_key="key", pagination=0).props(
            "flat dense separator=horizontal hide-pagination"
        ).classes("du-table du-sticky w-full").mark("consumption-table")
        widgets.consumption_notes(data.derived_from)


_STICKY_CSS = """
.du-sticky .q-table__middle { overflow-x: auto; }
.du-sticky .q-table th.du-key, .du-sticky .q-table td.du-key { position: sticky; left: 0; z-index: 1;
  background: #fff; box-shadow: 1px 0 0 #e3e8ef; }
.du-sticky .q-table th.du-key { background: #f7f9fb; }
.du-sticky-first { position: relative; }
.du-sticky-first table th:first-child, .du-sticky-first table td:first-child { position: sticky; left: 0;
  z-index: 1; background: #fff; box-shadow: 1px 0 0 #e3e8ef; }
.du-sticky-first table th:first-child { background: #f7f9fb; }
.du-scroll-hint { display: none; }
@media (max-width: 640px) { .du-scroll-hint { display: flex; } }
"""


def sticky_css() -> None:
    """Tables keep their key column in view when they scroll sideways (a 390-px phone): once per page."""
    ui.add_css(_STICKY_CSS)


def scroll_hint() -> None:
    """On a phone, say above a wide table that it scrolls sideways."""
    with ui.row().classes("du-scroll-hint items-center gap-1 text-xs du-muted"):
        ui.icon("swipe", size="16px")
        ui.label(t("balance.scroll_hint"))


extend({"balance.scroll_hint": ("Таблица прокручивается вбок", "The table scrolls sideways")})
