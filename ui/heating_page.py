"""Page «Контроль температурного графика» (manual 4.2.5, menu "Мониторинг" → "Температурный
график"): for a building and one of its building heat meters, per day of the chosen month the
outdoor temperature Tнв, the supply and return temperatures against the building's schedule, their
deviations, violations in red; the hours of a day as information only; a chart whose outdoor
series is hidden until switched on in its legend; nothing outside the heating season.

Also registers the season page (ui/season_page.py, 4.5.7) and the schedule settings page
(ui/schedule_page.py, 4.6.8). Reaches data through cloud/services/heating.py (shapes declared
here as a Protocol). Routes: /monitoring/temperature. Tests: tests/ui/test_heating_ui.py.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.heating import (
    BuildingSeason,
    ControlRow,
    SchedulePoint,
    SeasonChange,
    TemperatureControl,
    TemperatureSchedule,
)
from cloud.services.heating_rules import RuleError
from cloud.services.models import BuildingSummary, Granularity, InvalidInput, NotFound

from . import auth, fmt, pages, selection, theme, widgets
from .i18n import current_language, extend, t
from .ports import Services
from .query import page_url, parse_day, parse_param

PATH = "/monitoring/temperature"
SEASON_PATH = "/service/season"
RED = "#c2413b"
T = TypeVar("T")

extend({
    "heating.title": ("Контроль температурного графика по объекту", "Temperature schedule control"),
    "heating.subtitle": ("Среднесуточные температуры теплоносителя в сравнении с температурным графиком объекта",
                         "Daily mean heating water temperatures against the building's schedule"),
    "heating.building": ("Объект", "Building"),
    "heating.meter": ("ОДПУ тепла", "Building heat meter"),
    "heating.view": ("Разрез", "View"),
    "heating.view.day": ("По суткам", "Daily"),
    "heating.view.hour": ("По часам", "Hourly"),
    "heating.no_meter": ("На объекте нет ОДПУ тепла с температурами подачи и обратки.",
                         "The building has no building heat meter with supply and return temperatures."),
    "heating.no_season": ("Контроль температурного графика ведётся только в отопительный период. В выбранном "
                          "периоде объект в межотопительном периоде или сезон не установлен.",
                          "The schedule is controlled in the heating season only. In the chosen period the "
                          "building is outside it, or no season is set."),
    "heating.season_link": ("Проверить и установить сезон на странице «Сезон»", "Check and set the season"),
    "heating.outside_days": ("Дни вне отопительного периода не показаны: {days}.",
                             "Days outside the heating season are not shown: {days}."),
    "heating.hourly_note": ("Почасовые значения приводятся для информации (например, чтобы оценить "
                            "целесообразность установки САРТ): правилами нормируются только среднесуточные "
                            "параметры, нарушения по часам не определяются.",
                            "Hourly values are information only (e.g. to judge whether automatic heat control "
                            "pays off): the rules bind daily means only, hours are not judged."),
    "heating.tolerance": ("Допустимое отклонение: подача ±{supply} %, обратка +{back} % (понижение обратки не "
                          "лимитируется).",
                          "Allowed deviation: supply ±{supply} %, return +{back} % (a lower return is not "
                          "limited)."),
    "heating.station": ("Температура наружного воздуха: метеостанция «{name}».",
                        "Outdoor temperature: weather station “{name}”."),
    "heating.no_station": ("Метеостанция не определена: у объекта не заданы координаты.",
                           "No weather station: the building has no coordinates."),
    "heating.schedule_source.building": ("График объекта", "The building's schedule"),
    "heating.schedule_source.city": ("Типовой график населённого пункта", "The city's default schedule"),
    "heating.schedule_source.builtin": ("Типовой график 95/70", "The standard 95/70 schedule"),
    "heating.schedule_link": ("Настроить температурный график", "Edit the temperature schedule"),
    "heating.no_data": ("нет данных", "no data"),
    "heating.legend": ("Красным — отклонение больше допустимого. «*» — среднее не за все часы суток (не "
                       "оценивается); «–» — нет данных.",
                       "Red: outside the tolerance. “*”: a mean of not all hours of the day (not judged); "
                       "“–”: no data."),
    "heating.violations": ("Нарушений: {count}", "Violations: {count}"),
    "heating.scroll": ("Таблица прокручивается вбок →", "The table scrolls sideways →"),
    "heating.col.date": ("Дата", "Date"),
    "heating.col.hour": ("Час", "Hour"),
    "heating.col.outdoor": ("Т нв, °C", "T out, °C"),
    "heating.col.supply": ("Т подачи, °C", "T supply, °C"),
    "heating.col.supply_target": ("по графику", "scheduled"),
    "heating.col.delta": ("∆", "∆"),
    "heating.col.delta_pct": ("% ∆", "% ∆"),
    "heating.col.return": ("Т обратки, °C", "T return, °C"),
    "heating.col.return_target": ("по графику", "scheduled"),
    "heating.series.outdoor": ("Т нв", "T out"),
    "heating.series.supply": ("Т подачи", "T supply"),
    "heating.series.supply_target": ("Т подачи по графику", "T supply scheduled"),
    "heating.series.return": ("Т обратки", "T return"),
    "heating.series.return_target": ("Т обратки по графику", "T return scheduled"),
})


class HeatingService(Protocol):
    async def seasons(self, token: str) -> list[BuildingSeason]: ...

    async def set_season(self, token: str, building_ids: Sequence[int], season: str, starts_on: date
                         ) -> list[BuildingSeason]: ...

    async def undo_season(self, token: str, building_id: int) -> BuildingSeason: ...

    async def season_history(self, token: str, building_id: int) -> list[SeasonChange]: ...

    async def schedule(self, token: str, building_id: int) -> TemperatureSchedule: ...

    async def set_schedule(self, token: str, building_id: int, points: Sequence[SchedulePoint]
                           ) -> TemperatureSchedule: ...

    async def reset_schedule(self, token: str, building_id: int) -> TemperatureSchedule: ...

    async def control(self, token: str, building_id: int, *, meter_id: int | None = None,
                      granularity: Granularity = Granularity.DAY, period: date | None = None
                      ) -> TemperatureControl: ...


class HeatingServices(Services, Protocol):
    @property
    def heating(self) -> HeatingService: ...


async def _russian(call: Awaitable[T]) -> T:
    try:
        return await call
    except RuleError as error:
        raise InvalidInput(refusal(error)) from error


async def attempt(call: Awaitable[T]) -> T | None:
    """``auth.attempt`` whose refusals by the heating rules are worded in the page's language."""
    return await auth.attempt(_russian(call))


def refusal(error: RuleError) -> str:
    """A rule's refusal in the page's language (the service's message is the API's English)."""
    params: dict[str, Any] = {k: fmt.day(v) if isinstance(v, date) else v for k, v in error.params.items()}
    if "season" in params:
        params["season"] = t(f"season.name.{params['season']}")
    text = t(f"heating.refused.{error.reason}", **params)
    address = params.get("address")
    return f"{address}: {text}" if address else text



def register(services: Services) -> None:
    """Register /monitoring/temperature, /settings/buildings/{id}/temperature and /service/season."""
    from . import schedule_page, season_page

    heating = cast(HeatingServices, services)
    season_page.register(heating)
    schedule_page.register(heating)

    @ui.page(PATH, response_timeout=30.0)
    async def control_page(request: Request, building: str | None = None, meter: str | None = None,
                           granularity: str | None = None, period: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        buildings = selection.city_buildings(await services.accounting.buildings(viewer.token))
        if not buildings:
            with theme.frame(t("heating.title"), viewer.user, active=PATH), theme.card():
                theme.message(t("buildings.empty"))
            return None
        problems: list[str] = []
        filters = _parse(buildings, building, meter, granularity, period, problems)
        page = ControlPage(heating, viewer, buildings, problems)
        if not await pages.explained(viewer.user, page.load(filters), not_found=t("error.meter_not_found"),
                                     active=PATH):
            return None
        page.render()
        return None


@dataclass(frozen=True, slots=True)
class Filters:
    building: int
    meter: int | None
    granularity: Granularity  # DAY: the days of a month; HOUR: the hours of a day
    period: date | None  # None: today (the service's)


def _parse(buildings: list[BuildingSummary], building: str | None, meter: str | None, granularity: str | None,
           period: str | None, problems: list[str]) -> Filters:
    """The filters from the address bar, else the last choice; a bad value is named and replaced."""
    asked = None
    if building:
        if building.isascii() and building.isdigit() and int(building) in {b.id for b in buildings}:
            asked = int(building)
        else:
            problems.append(t("error.bad_parameter", name="building", value=building))
    chosen = selection.building(buildings, asked) or buildings[0]
    meter_id = None
    if meter:
        if meter.isascii() and meter.isdigit() and len(meter) < 19:
            meter_id = int(meter)
        else:
            problems.append(t("error.bad_parameter", name="meter", value=meter))
    view = Granularity.DAY
    if granularity in ("day", "hour"):
        view = Granularity(granularity)
    elif granularity:
        problems.append(t("error.bad_parameter", name="granularity", value=granularity))
    day = parse_param(parse_day, "period", period, problems) or selection.current().period
    return Filters(chosen.id, meter_id, view, widgets.normalise(day, view) if day else None)


class ControlPage:
    def __init__(self, services: HeatingServices, viewer: auth.Viewer, buildings: list[BuildingSummary],
                 problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.buildings = buildings
        self.problems = problems
        self.filters = Filters(buildings[0].id, None, Granularity.DAY, None)
        self.report: TemperatureControl | None = None
        self._request = 0

    async def load(self, f: Filters) -> bool:
        """Fetch the report for ``f``; without a period, the current month, or the last one on its 1st."""
        token = self.viewer.token
        try:
            report = await self.services.heating.control(token, f.building, meter_id=f.meter,
                                                         granularity=f.granularity, period=f.period)
        except (InvalidInput, NotFound):
            if f.meter is None:
                raise
            # a meter of another building (an old link): named, and the building's first heat meter shown
            self.problems.append(t("error.bad_parameter", name="meter", value=str(f.meter)))
            f = replace(f, meter=None)
            report = await self.services.heating.control(token, f.building, granularity=f.granularity,
                                                         period=f.period)
        if f.period is None and f.granularity is Granularity.DAY and report.period.day == 1:
            report = await self.services.heating.control(token, f.building, meter_id=f.meter,
                                                         period=report.period - timedelta(days=1))
        self.report = report
        self.filters = replace(f, meter=report.meter.id if report.meter else None,
                               period=widgets.normalise(report.period, f.granularity))
        selection.remember(city=report.building.city, building_id=f.building, period=self.filters.period,
                           span=selection.view_span(f.granularity))
        return True

    def render(self) -> None:
        with theme.frame(t("heating.title"), self.viewer.user, active=PATH, subtitle=t("heating.subtitle")):
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        for problem in self.problems:
            widgets.warning(problem)
        report = self.report
        if report is None:
            return
        self._controls(report)
        if report.meter is None:
            with theme.card():
                theme.message(t("heating.no_meter"))
            return
        if not report.heating_days and not report.outside_days:  # a period after today
            with theme.card():
                theme.message(t("heating.no_data"))
            return
        if not report.heating_days:
            with theme.card().mark("heating-no-season"):
                theme.message(t("heating.no_season"), icon="ac_unit")
                ui.link(t("heating.season_link"), SEASON_PATH).classes("du-link").mark("heating-season-link")
            return
        with theme.card():
            with ui.row().classes("w-full items-center justify-between gap-2"):
                ui.label(fmt.period_title(self.filters.period or report.period, report.granularity)) \
                    .classes("du-card-title")
                if report.granularity is Granularity.DAY:
                    ui.badge(t("heating.violations", count=report.violations),
                             color="negative" if report.violations else "positive").mark("heating-violations")
            _notes(report)
            if not _has_values(report.rows):
                theme.message(t("heating.no_data"))
                return
            ui.echart(chart(report)).classes("w-full h-80").mark("heating-chart")
            if report.granularity is Granularity.HOUR:
                theme.message(t("heating.hourly_note"), icon="info")
            _table(report)
            ui.label(t("heating.legend")).classes("text-xs du-muted")

    def _controls(self, report: TemperatureControl) -> None:
        f = self.filters
        with theme.card(), ui.row().classes("w-full items-end gap-x-8 gap-y-3"):
            with ui.column().classes("gap-1 max-w-full"):
                ui.label(t("heating.building")).classes("du-kpi-label")
                ui.select({b.id: b.address for b in self.buildings}, value=f.building,
                          on_change=lambda e: self.change(building=e.value) if e.value != f.building else None) \
                    .props("outlined dense").classes("min-w-[16rem] max-w-full").mark("heating-building")
            if report.meters:
                with ui.column().classes("gap-1"):
                    ui.label(t("heating.meter")).classes("du-kpi-label")
                    ui.select({m.id: m.serial for m in report.meters}, value=f.meter,
                              on_change=lambda e: self.change(meter=e.value) if e.value != f.meter else None) \
                        .props("outlined dense").classes("min-w-[10rem]").mark("heating-meter")
            with ui.column().classes("gap-1"):
                ui.label(t("heating.view")).classes("du-kpi-label")
                ui.toggle({"day": t("heating.view.day"), "hour": t("heating.view.hour")},
                          value=f.granularity.value,
                          on_change=lambda e: self.change(granularity=Granularity(e.value))
                          if e.value and e.value != f.granularity.value else None) \
                    .props("unelevated no-caps toggle-color=primary color=grey-2 text-color=grey-9") \
                    .mark("heating-view")
            with ui.column().classes("gap-1"):
                ui.label(t("controls.period")).classes("du-kpi-label")
                widgets.PeriodPicker(f.granularity, f.period or report.period, lambda v: self.change(period=v))

    async def change(self, *, building: int | None = None, meter: int | None = None,
                     granularity: Granularity | None = None, period: date | None = None) -> None:
        f = self.filters
        view = granularity or f.granularity
        current = f.period or (self.report.period if self.report else date.today())
        if view is Granularity.HOUR and f.granularity is Granularity.DAY and self.report and self.report.heating_days:
            current = self.report.heating_days[-1]  # a month → the hours of its last heating day shown
        new = Filters(building if building is not None else f.building,
                      None if building is not None else (meter if meter is not None else f.meter),
                      view, widgets.normalise(period or current, view))
        self._request += 1
        request = self._request
        self.problems = []
        async with theme.working():
            loaded = await attempt(self.load(new))
        if not loaded or request != self._request:
            return
        self.body.refresh()
        g = self.filters
        ui.navigate.history.replace(page_url(PATH, building=g.building, meter=g.meter,
                                             granularity=g.granularity.value, period=g.period))


def _has_values(rows: Sequence[ControlRow]) -> bool:
    return any(r.outdoor_c is not None or r.supply_c is not None or r.return_c is not None for r in rows)


def _notes(report: TemperatureControl) -> None:
    with ui.column().classes("gap-0 text-sm du-muted"):
        ui.label(t("heating.tolerance", supply=fmt.number(report.supply_tolerance_pct, 0),
                   back=fmt.number(report.return_tolerance_pct, 0)))
        ui.label(t("heating.station", name=report.station) if report.station else t("heating.no_station"))
        with ui.row().classes("gap-2 items-center"):
            ui.label(t(f"heating.schedule_source.{report.schedule_source}")).mark("heating-schedule-source")
            ui.link(t("heating.schedule_link"), f"/settings/buildings/{report.building.id}/temperature") \
                .classes("du-link")
        outside = report.outside_days
        if outside and report.granularity is Granularity.DAY:
            ui.label(t("heating.outside_days", days=_day_ranges(outside))).mark("heating-outside")


def _day_ranges(days: Sequence[date]) -> str:
    """"01.01–11.01, 14.01": consecutive days joined."""
    spans: list[list[date]] = []
    for day in sorted(days):
        if spans and day - spans[-1][-1] == timedelta(days=1):
            spans[-1].append(day)
        else:
            spans.append([day])
    short = lambda d: d.strftime("%d.%m")  # noqa: E731 - a one-line formatter
    return ", ".join(short(s[0]) if len(s) == 1 else f"{short(s[0])}–{short(s[-1])}" for s in spans)


def _temp(value: float | None, places: int = 1) -> str:
    return "–" if value is None else fmt.number(value, places)


def _mean(value: float | None, hours: int, expected: int, granularity: Granularity) -> str:
    """A daily mean, marked ``*`` when made of fewer hours than the day has (not judged)."""
    if value is None:
        return "–"
    partial = granularity is Granularity.DAY and hours < expected
    return fmt.number(value, 1) + ("*" if partial else "")


def _label(row: ControlRow, granularity: Granularity) -> str:
    return row.start.strftime("%d.%m.%Y") if granularity is Granularity.DAY else row.start.strftime("%H:%M")


def _table(report: TemperatureControl) -> None:
    """Date | Tнв | supply, scheduled, ∆, %∆ | return, scheduled, ∆, %∆; violations in red; the
    date column stays in view while the table scrolls sideways on a phone."""
    g = report.granularity
    headers = [t("heating.col.date" if g is Granularity.DAY else "heating.col.hour"), t("heating.col.outdoor"),
               t("heating.col.supply"), t("heating.col.supply_target"), t("heating.col.delta"),
               t("heating.col.delta_pct"), t("heating.col.return"), t("heating.col.return_target"),
               t("heating.col.delta"), t("heating.col.delta_pct")]
    ui.add_css(".du-heat { border-collapse: collapse; min-width: 760px; } .du-heat th, .du-heat td { padding: 4px "
               "10px; text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; border-bottom: "
               "1px solid #edf1f5; } .du-heat th { font-weight: 600; color: #334e68; background: #f7f9fb; } "
               ".du-heat th:first-child, .du-heat td:first-child { position: sticky; left: 0; background: #fff; "
               "text-align: left; z-index: 1; box-shadow: 1px 0 0 #e3e8ef; } .du-heat th:first-child { "
               "background: #f7f9fb; } .du-heat .du-bad { color: " + RED + "; font-weight: 600; }")
    ui.label(t("heating.scroll")).classes("text-xs du-muted sm:hidden")
    with ui.element("div").classes("w-full overflow-x-auto").mark("heating-table"):
        with ui.element("table").classes("du-heat w-full"):
            with ui.element("thead"), ui.element("tr"):
                for header in headers:
                    with ui.element("th"):
                        ui.label(header)
            with ui.element("tbody"):
                for row in report.rows:
                    _row(row, g)


def _row(row: ControlRow, g: Granularity) -> None:
    def pct(value: float | None) -> str:
        return "–" if value is None else fmt.number(value, 1)

    bad_supply, bad_return = bool(row.supply_violation), bool(row.return_violation)
    cells = [
        (_label(row, g), False, "date"),
        (_temp(row.outdoor_c), False, "outdoor"),
        (_mean(row.supply_c, row.supply_hours, row.hours, g), bad_supply, "supply"),
        (_temp(row.prescribed_supply_c), False, "supply-target"),
        (_temp(row.supply_delta), bad_supply, "supply-delta"),
        (pct(row.supply_delta_pct), bad_supply, "supply-pct"),
        (_mean(row.return_c, row.return_hours, row.hours, g), bad_return, "return"),
        (_temp(row.prescribed_return_c), False, "return-target"),
        (_temp(row.return_delta), bad_return, "return-delta"),
        (pct(row.return_delta_pct), bad_return, "return-pct"),
    ]
    key = row.start.strftime("%Y-%m-%dT%H")
    with ui.element("tr").mark(f"heating-row-{key}"):
        for text, bad, name in cells:
            with ui.element("td").classes("du-bad" if bad else ""):
                ui.label(text).mark(f"heating-{name}-{key}" + ("-bad" if bad else ""))


def chart(report: TemperatureControl) -> dict[str, Any]:
    """ECharts option: Tнв (hidden until switched on in the legend), supply and return with their
    scheduled values dashed; a day that violates shows its point as a red diamond."""
    g = report.granularity
    names = {k: t(f"heating.series.{k}") for k in ("outdoor", "supply", "supply_target", "return", "return_target")}

    def points(values: Sequence[float | None], flags: Sequence[bool | None] = ()) -> list[Any]:
        out: list[Any] = []
        for index, value in enumerate(values):
            rounded = None if value is None else round(value, 2)
            if rounded is not None and index < len(flags) and flags[index]:
                out.append({"value": rounded, "symbol": "diamond", "symbolSize": 13,
                            "itemStyle": {"color": RED, "borderColor": RED}})
            else:
                out.append(rounded)
        return out

    rows = report.rows
    series = [
        ("outdoor", [r.outdoor_c for r in rows], (), "#7b8794", "solid", 1),
        ("supply", [r.supply_c for r in rows], [r.supply_violation for r in rows], "#d9822b", "solid", 0),
        ("supply_target", [r.prescribed_supply_c for r in rows], (), "#d9822b", "dashed", 0),
        ("return", [r.return_c for r in rows], [r.return_violation for r in rows], "#1d4f7c", "solid", 0),
        ("return_target", [r.prescribed_return_c for r in rows], (), "#1d4f7c", "dashed", 0),
    ]
    locale = json.dumps("en-US" if current_language() == "en" else "ru-RU")
    return {
        "animationDuration": 300,
        "grid": {"left": 8, "right": 8, "top": 56, "bottom": 8, "containLabel": True},
        # Tнв hidden by default (4.2.5); one scrolling line, so it never covers the plot on a phone
        "legend": {"type": "scroll", "top": 0, "left": 0, "selected": {names["outdoor"]: False}},
        "tooltip": {"trigger": "axis", ":valueFormatter": f"v => v == null ? '–' : v.toLocaleString({locale}, "
                                                          "{maximumFractionDigits: 1}) + ' °C'"},
        "xAxis": {"type": "category", "data": [_label(r, g)[:5] for r in rows],
                  "axisLabel": {"color": "#486581"}},
        "yAxis": [{"type": "value", "name": "°C", "scale": True, "splitLine": {"lineStyle": {"color": "#edf1f5"}}},
                  {"type": "value", "name": names["outdoor"], "scale": True, "splitLine": {"show": False}}],
        "series": [{"name": names[key], "type": "line", "data": points(values, flags), "yAxisIndex": axis,
                    "connectNulls": False, "showSymbol": True, "symbolSize": 5,
                    "lineStyle": {"type": style, "width": 2}, "itemStyle": {"color": colour}}
                   for key, values, flags, colour, style, axis in series],
    }
