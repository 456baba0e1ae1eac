"""Deviation monitoring (manual 4.2.1, menu «Мониторинг» → «Отклонения») and its settings (4.6.7,
«Настройки» → «Объекты» → «Отклонения»).

/monitoring/deviations: the buildings of the company in the chosen city (ui.selection), each with
its building meters (ОДПУ) in service and, beside each, a tile per violation of the enabled rules
in the chosen period; a click on a tile shows the rule, the allowed deviation, the value and the
reference; the meter number opens /meters/{id}. It opens on the last closed hour of today by the
service clock (not on a period remembered from another page: the manual names this default); the
control panel picks an hour, a whole day of hours or a day's daily value.
/settings/buildings/{id}/deviations: each parameter the building meters record, with a switch,
the rule, the limited side, the tolerance and its unit, and a save per parameter (a dispatcher;
readers and engineers see it read-only).

Reaches data through cloud/services/deviations.py (its shape declared here, as ui.arrival_page
does). Tests: tests/ui/test_deviations_ui.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.deviations import (
    DIRECTIONS,
    RULES,
    BuildingDeviations,
    DeviationCheck,
    DeviationRule,
    DeviationsReport,
    MeterDeviations,
)
from cloud.services.models import BuildingSummary, Granularity, InvalidInput, NotFound
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import Resource

from . import access, auth, errors, fmt, pages, selection, theme, widgets
from .accounting import parse_id
from .building_menu import settings_menu
from .i18n import extend, t
from .ports import Services
from .query import page_url, parse_day, parse_param

PATH = "/monitoring/deviations"
SETTINGS_PATH = "/settings/buildings/{building_id}/deviations"
KINDS = ("hour", "day")
ALL_HOURS = "all"
MAX_TILES = 60  # tiles drawn per meter; the rest are counted

extend({
    "deviations.title": ("Мониторинг отклонений", "Deviation monitoring"),
    "deviations.subtitle": ("Значения параметров ОДПУ, вышедшие за допустимые отклонения",
                            "Building meter values outside the allowed deviations"),
    "deviations.kind": ("Архив", "Archive"),
    "deviations.kind.hour": ("Часовой", "Hourly"),
    "deviations.kind.day": ("Суточный", "Daily"),
    "deviations.day": ("Сутки", "Day"),
    "deviations.hour": ("Час", "Hour"),
    "deviations.all_hours": ("Все часы суток", "All hours of the day"),
    "deviations.summary": ("Период: {period} · нарушений: {count}", "Period: {period} · violations: {count}"),
    "deviations.no_buildings": ("У компании нет объектов в выбранном городе.",
                                "The company has no buildings in the chosen city."),
    "deviations.off": ("Мониторинг отключён — не задано ни одного правила (объектов: {count}):",
                       "Monitoring is off — no rule is set (buildings: {count}):"),
    "deviations.configure": ("Настроить отклонения", "Set up deviations"),
    "deviations.no_meters": ("Нет ОДПУ в эксплуатации за период.", "No building meter in service in the period."),
    "deviations.none": ("Отклонений нет", "No deviations"),
    "deviations.no_data": ("нет данных", "no data"),
    "deviations.nothing_checked": ("Нечего проверять: период ещё не закончился или прибор не измеряет параметры "
                                   "с правилами", "Nothing to check: the period has not ended, or the meter "
                                   "measures no parameter with a rule"),
    "deviations.more": ("и ещё {count}", "and {count} more"),
    "deviations.note.no_data": ("{parameter}: нет данных ({periods})", "{parameter}: no data ({periods})"),
    "deviations.note.suspect": ("{parameter}: значение недостоверно, не проверено ({periods})",
                                "{parameter}: implausible value, not checked ({periods})"),
    "deviations.note.no_mean": ("{parameter}: среднее за три предыдущих дня не вычисляется — известно {known} из "
                                "{needed} значений ({periods})",
                                "{parameter}: the mean of the three previous days cannot be computed — {known} of "
                                "{needed} values known ({periods})"),
    "deviations.rule.mean3d": ("Отклонение от среднего за три предыдущих дня",
                               "Deviation from the mean of the previous three days"),
    "deviations.rule.constant": ("Отклонение от константы", "Deviation from a constant"),
    "deviations.rule.short.mean3d": ("от среднего за 3 дня", "from the 3-day mean"),
    "deviations.rule.short.constant": ("от константы", "from a constant"),
    "deviations.direction.both": ("в обе стороны", "both ways"),
    "deviations.direction.above": ("только превышение", "above only"),
    "deviations.direction.below": ("только понижение", "below only"),
    "deviations.detail.title": ("Отклонение параметра {parameter}", "Deviation of parameter {parameter}"),
    "deviations.detail.meter": ("Прибор учёта", "Meter"),
    "deviations.detail.period": ("Период", "Period"),
    "deviations.detail.rule": ("Правило", "Rule"),
    "deviations.detail.direction": ("Контроль", "Checked"),
    "deviations.detail.allowed": ("Допустимое отклонение", "Allowed deviation"),
    "deviations.detail.value": ("Значение", "Value"),
    "deviations.detail.mean": ("Среднее за три предыдущих дня", "Mean of the previous three days"),
    "deviations.detail.constant": ("Константа", "Constant"),
    "deviations.detail.deviation": ("Отклонение", "Deviation"),
    "deviations.detail.derived": ("Суточное значение рассчитано по часовому архиву",
                                  "The daily value is computed from the hourly archive"),
    "deviations.close": ("Закрыть", "Close"),
    "deviations.meter": ("№ {serial}", "No. {serial}"),
    "deviations.settings.title": ("Настройка допустимых отклонений для мониторинга",
                                  "Allowed deviations for monitoring"),
    "deviations.settings.hint": ("По умолчанию все параметры не учитываются. Включите параметр, выберите правило и "
                                 "допустимое отклонение и сохраните.",
                                 "By default no parameter is monitored. Switch a parameter on, choose the rule and "
                                 "the allowed deviation, and save."),
    "deviations.settings.empty": ("У ОДПУ объекта нет параметров для мониторинга.",
                                  "The building meters record no parameter to monitor."),
    "deviations.settings.read_only": ("Только просмотр: изменять настройки может диспетчер.",
                                      "Read-only: a dispatcher changes these settings."),
    "deviations.settings.enabled": ("Учитывать", "Monitor"),
    "deviations.settings.rule": ("Правило", "Rule"),
    "deviations.settings.direction": ("Диапазон", "Range"),
    "deviations.settings.tolerance": ("Отклонение", "Deviation"),
    "deviations.settings.unit": ("Единица", "Unit"),
    "deviations.settings.reference": ("Константа", "Constant"),
    "deviations.settings.save": ("Сохранить", "Save"),
    "deviations.settings.saved": ("Сохранено: {parameter}", "Saved: {parameter}"),
    "deviations.settings.changed": ("Изменено: {login}, {at}", "Changed: {login}, {at}"),
    "deviations.settings.not_set": ("Не настраивался", "Never set"),
    "deviations.settings.need_number": ("Укажите допустимое отклонение числом не меньше 0",
                                        "Enter the allowed deviation as a number of 0 or more"),
    "deviations.settings.need_reference": ("Для правила «от константы» укажите константу",
                                           "The rule «from a constant» needs the constant"),
})

_ICONS: dict[Resource, tuple[str, str]] = {
    Resource.HEAT: ("local_fire_department", "#d9480f"),
    Resource.HOT_WATER: ("water_drop", "#e03131"),
    Resource.COLD_WATER: ("water_drop", "#1c7ed6"),
    Resource.GAS: ("propane_tank", "#f08c00"),
    Resource.ELECTRICITY: ("bolt", "#f59f00"),
    Resource.SEWAGE: ("plumbing", "#495057"),
}


class DeviationsService(Protocol):
    async def deviations(self, token: str, first: datetime | None = None, last: datetime | None = None, *,
                         kind: str = "hour", building_ids: Sequence[int] | None = None) -> DeviationsReport: ...

    async def rules(self, token: str, building_id: int) -> list[DeviationRule]: ...

    async def set_rule(self, token: str, building_id: int, resource: Resource | str, parameter: str, *,
                       enabled: bool, rule: str = "mean3d", reference: float | None = None,
                       direction: str = "both", tolerance: float = 10.0,
                       tolerance_unit: str = "percent") -> DeviationRule: ...

    def default_period(self, kind: str, time_zone: str) -> datetime: ...


class DeviationServices(Services, Protocol):
    @property
    def deviations(self) -> DeviationsService: ...


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # "hour" or "day"
    day: date
    hour: int | None  # kind hour: the hour, or None for every hour of the day

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """Local starts of the first and the last period checked."""
        start = datetime(self.day.year, self.day.month, self.day.day)
        if self.kind == "day":
            return start, start
        if self.hour is None:
            return start, start + timedelta(hours=23)
        return start + timedelta(hours=self.hour), start + timedelta(hours=self.hour)


def resource_icon(resource: Resource, size: str = "20px") -> ui.icon:
    name, colour = _ICONS.get(resource, ("sensors", "#627d98"))
    return ui.icon(name, size=size).style(f"color: {colour}").tooltip(fmt.resource(resource))


def register(services: Services) -> None:
    """Register /monitoring/deviations and /settings/buildings/{id}/deviations."""
    typed = cast(DeviationServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def monitoring_page(request: Request, kind: str | None = None, day: str | None = None,
                              hour: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        buildings = selection.city_buildings(await services.accounting.buildings(viewer.token))
        if not buildings:
            with theme.frame(t("deviations.title"), viewer.user, active=PATH), theme.card():
                theme.message(t("deviations.no_buildings"))
            return None
        problems: list[str] = []
        period = _parse(typed, buildings, kind, day, hour, problems)
        page = MonitoringPage(typed, viewer, buildings, period, problems)
        try:
            await page.load(period)
        except InvalidInput as error:
            with theme.frame(t("error.invalid_title"), viewer.user, active=PATH):
                widgets.problem(t("error.invalid_title"), t("error.invalid_input", reason=errors.reason(str(error))),
                                icon="error_outline")
            return None
        page.render()
        return None

    @ui.page(SETTINGS_PATH, response_timeout=30.0)
    async def settings_page(request: Request, building_id: str) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active="/settings/buildings")
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        ident = parse_id(building_id)
        try:
            if ident is None:
                raise NotFound(building_id)
            building = await services.accounting.building(viewer.token, ident)
            rules = await typed.deviations.rules(viewer.token, ident)
        except NotFound:
            with theme.frame(t("error.not_found"), viewer.user, active="/settings/buildings"):
                widgets.problem(t("error.not_found"), t("error.building_not_found"))
            return None
        selection.remember(building_id=building.id, city=building.city)
        SettingsPage(typed, viewer, building, rules).render()
        return None



def _parse(services: DeviationServices, buildings: list[BuildingSummary], kind: str | None, day: str | None,
           hour: str | None, problems: list[str]) -> Period:
    """The period from the address bar; what is not given (or bad, then named) is the page's default:
    the last closed hour of today in the city's time (kind day: yesterday)."""
    if kind and kind not in KINDS:
        problems.append(t("error.bad_parameter", name="kind", value=kind))
    kind_ = kind if kind in KINDS else "hour"
    default = services.deviations.default_period(kind_, buildings[0].time_zone)
    parsed_day = parse_param(parse_day, "day", day, problems)
    chosen_hour: int | None = default.hour
    if hour == ALL_HOURS:
        chosen_hour = None
    elif hour:
        if hour.isascii() and hour.isdigit() and 0 <= int(hour) <= 23:
            chosen_hour = int(hour)
        else:
            problems.append(t("error.bad_parameter", name="hour", value=hour))
    if parsed_day is not None and not hour:
        chosen_hour = None  # a day asked for without an hour: all its hours
    return Period(kind_, parsed_day or default.date(), chosen_hour if kind_ == "hour" else None)


def _span_text(period: Period) -> str:
    first, last = period.bounds
    if period.kind == "day":
        return fmt.day(first)
    if period.hour is None:
        return f"{fmt.day(first)} 00:00–24:00"
    return f"{fmt.day(first)} {first:%H:%M}–{last + timedelta(hours=1):%H:%M}"


def period_text(check: DeviationCheck, kind: str) -> str:
    if kind == "day":
        return fmt.day(check.period)
    end = "24:00" if check.period.hour == 23 else f"{check.period + timedelta(hours=1):%H:%M}"
    return f"{fmt.day(check.period)} {check.period:%H:%M}–{end}"


def value_text(value: float | None, unit: str, *, signed: bool = False) -> str:
    """A value with its unit; «нет данных» when it is missing (never zero)."""
    if value is None:
        return t("deviations.no_data")
    text = fmt.number(value, max(fmt.digits(unit), _places(value)))
    if signed and value > 0:
        text = "+" + text
    return f"{text} {fmt.unit(unit)}"


def _places(value: float) -> int:
    """Enough decimals that a small value (0.0175) is not shown rounded away."""
    text = f"{abs(value):.6f}".rstrip("0")
    return min(6, len(text.split(".")[1])) if "." in text else 0


def tolerance_text(rule: DeviationRule | DeviationCheck) -> str:
    """``±40 %``, ``+5 °C``, ``−0,01 Гкал``: the tolerance and the limited side."""
    sign = {"both": "±", "above": "+", "below": "−"}[rule.direction]
    unit = "%" if rule.tolerance_unit == "percent" else fmt.unit(rule.unit)
    return f"{sign}{fmt.number(rule.tolerance, _places(rule.tolerance))} {unit}"


class MonitoringPage:
    def __init__(self, services: DeviationServices, viewer: auth.Viewer, buildings: list[BuildingSummary],
                 period: Period, problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.buildings = buildings
        self.period = period
        self.problems = problems
        self.report: DeviationsReport | None = None
        self.spinner: ui.spinner | None = None
        self._request = 0

    async def load(self, period: Period) -> bool:
        """Fetch the report of ``period`` and make it the page's (the service may refuse)."""
        first, last = period.bounds
        self.report = await self.services.deviations.deviations(
            self.viewer.token, first, last, kind=period.kind, building_ids=[b.id for b in self.buildings])
        self.period = period
        return True

    def render(self) -> None:
        with theme.frame(t("deviations.title"), self.viewer.user, active=PATH, subtitle=t("deviations.subtitle")):
            for problem in self.problems:
                widgets.warning(problem)
            self.controls()
            self.body()

    @ui.refreshable_method
    def controls(self) -> None:
        p = self.period
        with theme.card(), ui.row().classes("w-full items-end gap-x-8 gap-y-3"):
            with ui.column().classes("gap-1"):
                ui.label(t("deviations.kind")).classes("du-kpi-label")
                ui.toggle({k: t(f"deviations.kind.{k}") for k in KINDS}, value=p.kind,
                          on_change=lambda e: self._changed(e, kind=e.value)).props(
                    "unelevated no-caps toggle-color=primary color=grey-2 text-color=grey-9").mark("deviations-kind")
            with ui.column().classes("gap-1"):
                ui.label(t("deviations.day")).classes("du-kpi-label")
                widgets.PeriodPicker(Granularity.HOUR, p.day, lambda d: self.change(day=d))
            if p.kind == "hour":
                with ui.column().classes("gap-1"):
                    ui.label(t("deviations.hour")).classes("du-kpi-label")
                    options: dict[str, str] = {ALL_HOURS: t("deviations.all_hours")}
                    options.update({str(h): f"{h:02d}:00–{(h + 1) % 24:02d}:00" for h in range(24)})
                    ui.select(options, value=ALL_HOURS if p.hour is None else str(p.hour),
                              on_change=lambda e: self._changed(e, hour=e.value)).props("outlined dense").classes(
                        "min-w-[11rem]").mark("deviations-hour")
            self.spinner = ui.spinner(size="md").mark("deviations-loading")
            self.spinner.set_visibility(False)

    async def _changed(self, event, **change: str) -> None:
        if event.value is not None and event.value != event.previous_value:
            await self.change(**change)

    async def change(self, *, kind: str | None = None, day: date | None = None, hour: str | None = None) -> None:
        p = self.period
        new_kind = kind or p.kind
        new_hour = p.hour if hour is None else (None if hour == ALL_HOURS else int(hour))
        if kind == "hour" and p.kind == "day":
            new_hour = None
        new_day = day or p.day
        if kind == "day" and day is None:  # a day is judged once it has ended: not later than yesterday
            new_day = min(new_day, self.services.deviations.default_period("day", self.buildings[0].time_zone).date())
        new = Period(new_kind, new_day, new_hour if new_kind == "hour" else None)
        self._request += 1
        request = self._request
        if self.spinner is not None:
            self.spinner.set_visibility(True)
        self.problems = []
        try:
            loaded = await auth.attempt(self.load(new))
        finally:
            if self.spinner is not None and not self.spinner.is_deleted:
                self.spinner.set_visibility(False)
        if not loaded or request != self._request:
            return
        self.controls.refresh()
        self.body.refresh()
        q = self.period
        ui.navigate.history.replace(page_url(PATH, kind=q.kind, day=q.day,
                                             hour=(ALL_HOURS if q.hour is None else q.hour) if q.kind == "hour"
                                             else None))

    @ui.refreshable_method
    def body(self) -> None:
        report = self.report
        if report is None:
            return
        ui.label(t("deviations.summary", period=_span_text(self.period), count=report.violations)).classes(
            "text-sm du-muted").mark("deviations-summary")
        for building in report.buildings:
            if building.rules:
                self._building(building)
        off = [b.building for b in report.buildings if not b.rules]
        if off:  # one card for them all: a city of buildings without rules is a list, not a page of empty cards
            with theme.card().mark("deviations-off"):
                theme.message(t("deviations.off", count=len(off)), icon="notifications_off")
                with ui.row().classes("gap-x-5 gap-y-1"):
                    for building in off:
                        ui.link(building.address, SETTINGS_PATH.format(building_id=building.id)).classes(
                            "du-link text-sm break-words").tooltip(t("deviations.configure")).mark(
                            f"deviations-configure-{building.id}")

    def _building(self, b: BuildingDeviations) -> None:
        with theme.card().mark(f"deviations-building-{b.building.id}"):
            with ui.row().classes("w-full items-center justify-between gap-2"):
                ui.link(b.building.address, f"/buildings/{b.building.id}").classes("du-link text-base break-words")
                if access.may_change_settings(self.viewer.user):
                    ui.link(t("deviations.configure"), SETTINGS_PATH.format(building_id=b.building.id)).classes(
                        "du-link text-sm").mark(f"deviations-configure-{b.building.id}")
            if not b.meters:
                theme.message(t("deviations.no_meters"))
                return
            for m in b.meters:
                self._meter(b, m)

    def _meter(self, b: BuildingDeviations, m: MeterDeviations) -> None:
        with ui.row().classes("w-full items-start gap-4 py-2 border-t border-[#e3e8ef] flex-wrap sm:flex-nowrap"):
            with ui.column().classes("gap-0 w-full sm:w-52 shrink-0").mark(f"deviations-meter-{m.meter.serial}"):
                ui.link(t("deviations.meter", serial=m.meter.serial), f"/meters/{m.meter.id}").classes(
                    "du-link font-semibold")
                ui.label(m.meter.model).classes("text-xs du-muted truncate max-w-full").tooltip(m.meter.model)
                with ui.row().classes("gap-1"):
                    for resource in m.meter.resources:
                        resource_icon(resource, "16px")
            with ui.column().classes("gap-2 min-w-0 flex-1"):
                if m.violations:
                    with ui.element("div").classes(
                            "grid w-full gap-2 grid-cols-1 sm:grid-cols-2 lg:grid-cols-3 xl:grid-cols-4"):
                        for check in m.violations[:MAX_TILES]:
                            self._tile(b, m, check)
                    if len(m.violations) > MAX_TILES:
                        ui.label(t("deviations.more", count=len(m.violations) - MAX_TILES)).classes("text-sm du-muted")
                elif m.checked:
                    with ui.row().classes("items-center gap-2"):
                        ui.icon("check_circle", size="18px").classes("text-positive")
                        ui.label(t("deviations.none")).classes("text-sm du-muted").mark("deviations-none")
                elif not m.notes:
                    ui.label(t("deviations.nothing_checked")).classes("text-sm du-muted").mark("deviations-none")
                for text in _notes(m.notes, b.kind):
                    ui.label(text).classes("text-xs du-muted break-words").mark("deviations-note")

    def _tile(self, b: BuildingDeviations, m: MeterDeviations, check: DeviationCheck) -> None:
        box = ui.card().classes("du-card du-plashka p-3 gap-1 border-l-4 border-l-[#d64545]").props("flat")
        box.on("click", lambda: self._details(b, m, check))
        with box.mark(f"deviation-{m.meter.serial}-{check.parameter}-{check.period:%Y%m%d%H}"):
            with ui.row().classes("w-full items-center justify-between no-wrap"):
                with ui.row().classes("items-center gap-1 no-wrap"):
                    resource_icon(check.resource, "18px")
                    ui.label(check.parameter).classes("font-semibold").tooltip(
                        fmt.parameter_description(check.parameter))
                ui.label(_tile_period(check, b.kind)).classes("text-xs du-muted whitespace-nowrap")
            ui.label(value_text(check.value, check.unit)).classes("text-lg font-semibold text-[#b42318]")
            ui.label(f"{t('deviations.rule.short.' + check.rule)}: {tolerance_text(check)}").classes(
                "text-xs du-muted")
            ui.label(_reference_line(check)).classes("text-xs du-muted")

    def _details(self, b: BuildingDeviations, m: MeterDeviations, check: DeviationCheck) -> None:
        with ui.dialog() as dialog, ui.card().classes("du-card p-5 gap-3 min-w-[18rem] max-w-lg").mark(
                "deviation-details"):
            with ui.row().classes("items-center gap-2"):
                resource_icon(check.resource)
                ui.label(t("deviations.detail.title", parameter=check.parameter)).classes("du-card-title")
            ui.label(fmt.parameter_description(check.parameter)).classes("text-sm du-muted -mt-2")
            rows = [
                (t("deviations.detail.meter"), f"{m.meter.serial} · {b.building.address}"),
                (t("deviations.detail.period"), period_text(check, b.kind)),
                (t("deviations.detail.rule"), t(f"deviations.rule.{check.rule}")),
                (t("deviations.detail.direction"), t(f"deviations.direction.{check.direction}")),
                (t("deviations.detail.allowed"), tolerance_text(check)
                 + (f" ({value_text(check.allowed, check.unit)})" if check.tolerance_unit == "percent" else "")),
                (t("deviations.detail.value"), value_text(check.value, check.unit)),
                (t("deviations.detail.mean" if check.rule == "mean3d" else "deviations.detail.constant"),
                 value_text(check.reference, check.unit)),
                (t("deviations.detail.deviation"), _deviation_text(check)),
            ]
            with ui.grid(columns=2).classes("gap-x-4 gap-y-1 text-sm"):
                for label, value in rows:
                    ui.label(label).classes("du-muted")
                    ui.label(value).classes("font-medium break-words")
            if check.derived:
                ui.label(t("deviations.detail.derived")).classes("text-xs du-muted")
            with ui.row().classes("w-full justify-end"):
                ui.link(t("deviations.meter", serial=m.meter.serial), f"/meters/{m.meter.id}").classes("du-link")
                ui.button(t("deviations.close"), on_click=dialog.close).props("flat no-caps")
        dialog.open()


def _tile_period(check: DeviationCheck, kind: str) -> str:
    """The tile's period: the hour (its day is the page's), or the day."""
    if kind == "day":
        return fmt.day(check.period)
    return period_text(check, kind).split(" ", 1)[1]


def _reference_line(check: DeviationCheck) -> str:
    key = "deviations.detail.mean" if check.rule == "mean3d" else "deviations.detail.constant"
    return f"{t(key)}: {value_text(check.reference, check.unit)}"


def _deviation_text(check: DeviationCheck) -> str:
    text = value_text(check.deviation, check.unit, signed=True)
    if check.deviation_pct is not None:
        sign = "+" if check.deviation_pct > 0 else ""
        text += f" ({sign}{fmt.number(check.deviation_pct, 2)} %)"
    return text


def _notes(notes: Sequence[DeviationCheck], kind: str) -> list[str]:
    """One line per parameter and reason, with the periods it concerns."""
    grouped: dict[tuple[str, str, int, int], list[DeviationCheck]] = {}
    for note in notes:
        key = (note.parameter, note.status, note.mean_known, note.mean_needed)
        grouped.setdefault(key, []).append(note)
    lines = []
    for (parameter, status, known, needed), items in grouped.items():
        periods = ", ".join(f"{c.period:%H:%M}" if kind == "hour" else fmt.day(c.period) for c in items[:6])
        if len(items) > 6:
            periods += " …"
        lines.append(t(f"deviations.note.{status}", parameter=parameter, periods=periods, known=known,
                       needed=needed))
    return lines


# --- settings (4.6.7) --------------------------------------------------------------------------------------


class SettingsPage:
    def __init__(self, services: DeviationServices, viewer: auth.Viewer, building: BuildingSummary,
                 rules: list[DeviationRule]) -> None:
        self.services = services
        self.viewer = viewer
        self.building = building
        self.rules = rules
        self.editable = access.may_change_settings(viewer.user)

    def render(self) -> None:
        with theme.frame(t("deviations.settings.title"), self.viewer.user, active="/settings/buildings",
                         crumbs=[(t("settings.buildings.title"), "/settings/buildings")],
                         subtitle=self.building.address):
            settings_menu(self.building.id, "/deviations")
            with theme.card():
                ui.label(t("deviations.settings.hint")).classes("text-sm du-muted")
                if not self.editable:
                    theme.message(t("deviations.settings.read_only"), icon="lock")
                if not self.rules:
                    theme.message(t("deviations.settings.empty"))
                for rule in self.rules:
                    RuleRow(self, rule)


class RuleRow:
    """One parameter: the resource icon and mnemonic (its description on hover), the switch, rule,
    limited side, tolerance and unit, the constant, and save."""

    def __init__(self, page: SettingsPage, rule: DeviationRule) -> None:
        self.page = page
        self.rule = rule
        key = f"{rule.resource.value}-{rule.parameter}"
        with ui.row().classes("w-full items-center gap-x-3 gap-y-2 py-3 border-t border-[#e3e8ef] flex-wrap "
                              "xl:flex-nowrap").mark(f"rule-{key}"):
            with ui.column().classes("gap-0 w-36 shrink-0"):
                with ui.row().classes("items-center gap-1 no-wrap"):
                    resource_icon(rule.resource)
                    ui.label(rule.parameter).classes("font-semibold")
                    ui.icon("info", size="16px").classes("du-muted cursor-help").tooltip(
                        f"{fmt.parameter_description(rule.parameter)}, {fmt.unit(rule.unit)}").mark(f"rule-info-{key}")
                self.status = ui.label(self._status_text()).classes("text-[11px] du-muted leading-tight").mark(
                    f"rule-status-{key}")
            self.enabled = ui.switch(t("deviations.settings.enabled"), value=rule.enabled).classes("shrink-0").mark(
                f"rule-enabled-{key}")
            self.kind = ui.select({r: t(f"deviations.rule.short.{r}") for r in RULES}, value=rule.rule,
                                  label=t("deviations.settings.rule"),
                                  on_change=lambda _: self._reference_state()).props("outlined dense").classes(
                "w-52 shrink-0").mark(f"rule-kind-{key}")
            self.direction = ui.select({d: t(f"deviations.direction.{d}") for d in DIRECTIONS}, value=rule.direction,
                                       label=t("deviations.settings.direction")).props("outlined dense").classes(
                "w-44 shrink-0").mark(f"rule-direction-{key}")
            self.tolerance = ui.number(t("deviations.settings.tolerance"), value=rule.tolerance, min=0,
                                       format="%g").props("outlined dense").classes("w-28 shrink-0").mark(
                f"rule-tolerance-{key}")
            self.unit = ui.select({"percent": "%", "absolute": fmt.unit(rule.unit)}, value=rule.tolerance_unit,
                                  label=t("deviations.settings.unit")).props("outlined dense").classes(
                "w-28 shrink-0").mark(f"rule-unit-{key}")
            self.reference = ui.number(t("deviations.settings.reference"), value=rule.reference,
                                       format="%g").props("outlined dense").classes("w-28 shrink-0").mark(
                f"rule-reference-{key}")
            self.save_button = ui.button(icon="save", on_click=self.save) \
                .props(f'round unelevated aria-label="{t("deviations.settings.save")}"') \
                .tooltip(
                t("deviations.settings.save")).mark(f"rule-save-{key}")
            self.save_button.set_visibility(page.editable)
        if not page.editable:
            for control in (self.enabled, self.kind, self.direction, self.tolerance, self.unit, self.reference):
                control.disable()
        self._reference_state()

    def _reference_state(self) -> None:
        if self.page.editable:
            self.reference.set_enabled(self.kind.value == "constant")

    def _status_text(self) -> str:
        if not self.rule.configured or self.rule.updated_at is None:
            return t("deviations.settings.not_set")
        at = utc_to_local(self.rule.updated_at, zone(self.page.building.time_zone))
        return t("deviations.settings.changed", login=self.rule.updated_by or "", at=fmt.moment(at))

    async def save(self) -> None:
        tolerance = self.tolerance.value
        if tolerance is None or tolerance < 0:
            ui.notify(t("deviations.settings.need_number"), type="warning")
            return
        if self.kind.value == "constant" and self.reference.value is None:
            ui.notify(t("deviations.settings.need_reference"), type="warning")
            return
        self.save_button.props("loading")  # the progress of the request
        try:
            saved = await auth.attempt(self.page.services.deviations.set_rule(
                self.page.viewer.token, self.page.building.id, self.rule.resource, self.rule.parameter,
                enabled=bool(self.enabled.value), rule=self.kind.value, reference=self.reference.value,
                direction=self.direction.value, tolerance=float(tolerance), tolerance_unit=self.unit.value))
        finally:
            self.save_button.props(remove="loading")
        if saved is None:
            return
        self.rule = saved
        self.status.text = self._status_text()
        ui.notify(t("deviations.settings.saved", parameter=saved.parameter), type="positive")
