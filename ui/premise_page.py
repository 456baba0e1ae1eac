"""Page "Потребление ресурса по помещению" (manual 4.1.6): the consumption parameter of the
chosen resource (∆V, ∆Q, ∆E) summed over the premise's meters, by day or by month, and the
premise's meters. Only resources the premise has meters for can be chosen. The chart also shows
the outdoor temperature of the building's nearest weather station (second axis, °C; a note says
why when there is none) and, for short gaps only, a hatched estimate labelled «оценка»
(cloud/services/estimate.py): never in the table or the total.

Loaded by ``PremisePage.load`` (may raise NotFound), drawn by ``render``. Route: ui.accounting.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any, Protocol, cast

from nicegui import ui

from cloud.services import consumption as calc
from cloud.services.estimate import chart_estimate
from cloud.services.models import BuildingSummary, DataStatus, Granularity, MeterInfo, PremiseConsumption, PremiseInfo
from cloud.services.weather import OutdoorTemperature
from protocol.vocabulary import CONSUMPTION_PARAMETER, Resource

from . import charts, fmt, i18n, theme, widgets
from .auth import Viewer
from .consumption_view import ConsumptionState, ConsumptionView, initial_choice
from .i18n import t
from .ports import Services
from .query import PageQuery

OUTDOOR = "#8e5cc2"  # the temperature line: apart from the consumption colours
ESTIMATE_DECAL = {"symbol": "rect", "symbolSize": 1, "dashArrayX": [1, 0], "dashArrayY": [2, 4], "rotation": 0.785,
                  "color": "rgba(15, 157, 138, 0.55)"}

i18n.extend({
    "outdoor.series": ("Температура наружного воздуха", "Outdoor temperature"),
    "outdoor.station": ("Температура наружного воздуха — метеостанция «{name}», {distance} км от дома",
                        "Outdoor temperature from the weather station \"{name}\", {distance} km from the building"),
    "outdoor.no_coordinates": ("Температура наружного воздуха не показана: у дома не заданы координаты "
                               "(ближайшая метеостанция выбирается по ним)",
                               "No outdoor temperature: the building has no coordinates (the nearest weather "
                               "station is chosen by them)"),
    "outdoor.no_station": ("Температура наружного воздуха не показана: в системе нет ни одной метеостанции",
                           "No outdoor temperature: there is no weather station yet"),
    "outdoor.no_data": ("Метеостанция «{name}» не передавала данных за этот период",
                        "The weather station \"{name}\" sent nothing for this period"),
    "outdoor.empty_period": ("Нет данных за выбранный период.", "No data for the chosen period."),
    "estimate.series": ("оценка", "estimate"),
    "estimate.note": ("Заштрихованные столбцы «оценка» — расчёт короткого пропуска (не более {limit}) по соседним "
                      "значениям, только для наглядности графика; в таблице и в итогах их нет",
                      "Hatched bars \"estimate\" bridge a short gap (at most {limit}) between the neighbouring "
                      "values, for the chart only; they are in neither the table nor the total"),
    "estimate.limit.hour": ("6 часов", "6 hours"),
    "estimate.limit.day": ("2 суток", "2 days"),
})


class WeatherService(Protocol):
    async def premise_outdoor(self, token: str, premise_id: int, granularity: Granularity,
                              period: date) -> OutdoorTemperature: ...


class PremiseServices(Services, Protocol):
    @property
    def weather(self) -> WeatherService: ...


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
        outdoor: OutdoorTemperature | None = None,
    ) -> None:
        self.services = cast(PremiseServices, services)
        self.viewer = viewer
        self.premise = premise
        self.building = building
        self.meters = meters
        self.status = status
        self.newest = newest
        self.state = state
        self.problems = problems
        # outdoor temperatures by (granularity, period): a reload that lost the race leaves no wrong line
        self.outdoor: dict[tuple[Granularity, date], OutdoorTemperature] = {}
        if outdoor is not None:
            self.outdoor[(outdoor.granularity, outdoor.period)] = outdoor

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
        data, outdoor = None, None
        if resource is not None:
            weather = cast(PremiseServices, services).weather
            data, outdoor = await asyncio.gather(
                accounting.premise_consumption(token, premise.id, resource, granularity, period),
                weather.premise_outdoor(token, premise.id, granularity, period))
        state = ConsumptionState(resource, granularity, period, data)
        return cls(services, viewer, premise, building, meters, status, default, state, tuple(problems), outdoor)

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
        if not data.points:  # nothing stored for the period: say so, never a blank chart
            with theme.card().mark("no-data"):
                theme.message(t("outdoor.empty_period"))
            return
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
            outdoor = self.outdoor.get((state.granularity, state.period))
            estimate = estimate_values(data)
            ui.echart(premise_chart(data, label, outdoor, estimate)).classes("w-full h-80").mark("consumption-chart")
            with ui.column().classes("gap-1 text-xs du-muted"):
                if any(v is not None for v in estimate):
                    ui.label(t("estimate.note", limit=t(f"estimate.limit.{state.granularity.value}"))).mark(
                        "estimate-note")
                if outdoor is not None:
                    ui.label(outdoor_note(outdoor)).mark("outdoor-note")

    @ui.refreshable_method
    def values(self) -> None:
        state, data = self.state, self.state.data
        if state.resource is None or data is None or not data.points:
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

    async def fetch(self, resource: Resource, granularity: Granularity, period: date) -> PremiseConsumption:
        """The consumption and, beside it, the outdoor temperature of the same periods."""
        data, outdoor = await asyncio.gather(
            self.services.accounting.premise_consumption(self.viewer.token, self.premise.id, resource, granularity,
                                                         period),
            self.services.weather.premise_outdoor(self.viewer.token, self.premise.id, granularity, period))
        self.outdoor[(granularity, period)] = outdoor
        return data

    def path(self) -> str:
        return f"/premises/{self.premise.id}"

    def redraw(self) -> None:
        self.consumption.refresh()
        self.values.refresh()


# --- the chart: consumption, the bounded estimate, the outdoor temperature ---------------------------


def estimate_values(data: PremiseConsumption) -> list[float | None]:
    """The chart's estimate of each period (None: none): only periods where every expected meter is
    missing and none was left out as suspect (a suspect value keeps its own mark), bridged by the
    bound of the granularity (cloud/services/estimate.py)."""
    figures = data.figures or ()
    if len(figures) != len(data.points):
        return [None] * len(data.points)
    values = [value for _, value in data.points]
    missing = [f.missing and not f.suspect for f in figures]
    return chart_estimate(values, missing, data.granularity)


def outdoor_note(outdoor: OutdoorTemperature) -> str:
    """Where the temperature comes from, or why there is none."""
    if outdoor.station is None:
        return t(f"outdoor.{outdoor.reason or 'no_station'}")
    if all(value is None for _, value in outdoor.points):
        return t("outdoor.no_data", name=outdoor.station.name)
    distance = fmt.number(outdoor.distance_km, 1) if outdoor.distance_km is not None else "—"
    return t("outdoor.station", name=outdoor.station.name, distance=distance)


def premise_chart(data: PremiseConsumption, series_name: str, outdoor: OutdoorTemperature | None,
                  estimate: list[float | None]) -> dict[str, Any]:
    """charts.premise_consumption plus a hatched «оценка» bar in each bridged gap (drawn in the gap's
    own slot) and the outdoor temperature on a second axis, °C. The tooltip names each of them."""
    options = charts.premise_consumption(data, series_name)
    places = [fmt.digits(data.unit)]
    kinds = ["value"]
    if any(v is not None for v in estimate):
        options["series"].append({
            "name": t("estimate.series"), "type": "bar", "barMaxWidth": 26, "barGap": "-100%",
            "color": charts.APARTMENTS,
            "itemStyle": {"color": "rgba(15, 157, 138, 0.12)", "borderColor": charts.APARTMENTS, "borderWidth": 1,
                          "borderType": "dashed", "decal": ESTIMATE_DECAL},
            "data": estimate,
        })
        places.append(fmt.digits(data.unit))
        kinds.append("estimate")
    # the consumption shows only the periods its meters have data for: the temperature of those periods
    by_period = dict(outdoor.points) if outdoor is not None and outdoor.station is not None else {}
    temperatures = [by_period.get(period) for period, _ in data.points] if by_period else []
    if any(v is not None for v in temperatures):
        options["yAxis"] = [options["yAxis"], {
            "type": "value", "name": "°C", "position": "right", "splitLine": {"show": False},
            "nameTextStyle": {"color": "#627d98", "align": "right"}, "axisLabel": {"color": "#486581"},
        }]
        options["series"].append({
            "name": t("outdoor.series"), "type": "line", "yAxisIndex": 1, "color": OUTDOOR, "symbolSize": 4,
            "connectNulls": False, "z": 5, "data": temperatures,
        })
        places.append(1)
        kinds.append("temperature")
    options["tooltip"][":formatter"] = _tooltip_js([fmt.point_label(p, data.granularity) for p, _ in data.points],
                                                   places, kinds)
    return options


def _tooltip_js(titles: list[str], places: list[int], kinds: list[str]) -> str:
    """As charts' tooltip (``–*`` for a missing sum, ``*``/``!`` marks), but an estimate is shown
    only where there is one, marked «оценка», and the temperature in °C."""
    locale = "en-US" if i18n.current_language() == "en" else "ru-RU"
    return (
        "(params) => {"
        f" const titles = {json.dumps(titles, ensure_ascii=False)};"
        f" const places = {json.dumps(places)}; const kinds = {json.dumps(kinds)};"
        f" const locale = {json.dumps(locale)}; const mark = {json.dumps(t('estimate.series'), ensure_ascii=False)};"
        " let text = '<b>' + titles[params[0].dataIndex] + '</b>';"
        " for (const p of params) {"
        "  const d = p.data; const v = (d !== null && typeof d === 'object') ? d.value : d;"
        "  const n = places[p.seriesIndex]; const kind = kinds[p.seriesIndex];"
        "  const none = (v === null || v === undefined || v === '-');"
        "  if (none && kind !== 'value') continue;"
        "  const number = none ? '' : v.toLocaleString(locale, {minimumFractionDigits: n, maximumFractionDigits: n});"
        "  let shown = none ? '–*' : number"
        "   + ((d !== null && typeof d === 'object' && d.partial) ? '*' : '')"
        "   + ((d !== null && typeof d === 'object' && d.suspect) ? '!' : '');"
        "  if (kind === 'estimate') shown = number + ' (' + mark + ')';"
        "  if (kind === 'temperature') shown = number + ' °C';"
        "  text += '<br>' + p.marker + p.seriesName + ': <b>' + shown + '</b>';"
        " }"
        " return text; }"
    )
