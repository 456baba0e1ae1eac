"""Building blocks shared by the accounting pages: the period picker, the meter "plashka"
(manual 4.1.3), the data status line, KPI tiles, a table with links and problem notices.

Imports nicegui, the service models and ui.fmt/ui.i18n/ui.theme only.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from nicegui import ui
from nicegui.events import ValueChangeEventArguments

from cloud.services.models import DataStatus, Figure, Granularity, MeterInfo, TariffSeries
from protocol.vocabulary import Resource

from . import fmt
from .i18n import extend, has, t
from .theme import card

extend({"upload.pick": ("Выбрать файл", "Choose a file")})

OnPeriod = Callable[[date], Awaitable[None]]

_STATUS_COLOURS = {"in_service": "#22a06b", "decommissioned": "#9aa5b1", "commissioning": "#102a43"}


# --- periods -------------------------------------------------------------------------------


def normalise(period: date, granularity: Granularity) -> date:
    """The first day of the period that ``granularity`` looks at (a day, a month, a year)."""
    if granularity == Granularity.DAY:
        return period.replace(day=1)
    if granularity == Granularity.MONTH:
        return date(period.year, 1, 1)
    return period


def shift(period: date, granularity: Granularity, steps: int) -> date:
    """The period ``steps`` periods after (or before) ``period``."""
    if granularity == Granularity.HOUR:
        return period + timedelta(days=steps)
    if granularity == Granularity.DAY:
        months = period.year * 12 + period.month - 1 + steps
        return date(months // 12, months % 12 + 1, 1)
    return date(period.year + steps, 1, 1)


_FINENESS = {Granularity.HOUR: 0, Granularity.DAY: 1, Granularity.MONTH: 2}


def regranulate(period: date, old: Granularity, new: Granularity, newest: date) -> date:
    """The period to show after switching ``old`` → ``new`` granularity.

    Going finer, stay inside the period being looked at, on the newest data if it lies there
    (year → its month with data, month → its day with data); going coarser, take the enclosing one.
    """
    if _FINENESS[new] < _FINENESS[old]:
        start = normalise(period, old)
        if start <= newest < shift(start, old, 1):
            return normalise(newest, new)
    return normalise(period, new)


def next_period(picked: date | None, current: date, old: Granularity, new: Granularity, newest: date) -> date:
    """The period after a selector change: a picked date snapped to ``new``, else the current one carried over."""
    return normalise(picked, new) if picked is not None else regranulate(current, old, new, newest)


class PeriodPicker:
    """‹ period › with a drop-down to pick a day (hours), a month (days) or a year (months)."""

    def __init__(self, granularity: Granularity, value: date, on_change: OnPeriod) -> None:
        self.granularity = granularity
        self.value = normalise(value, granularity)
        self._on_change = on_change
        self._year = self.value.year  # the year the month grid shows
        with ui.row().classes("items-center gap-0 no-wrap").mark("period-picker"):
            ui.button(icon="chevron_left", on_click=lambda: self._choose(shift(self.value, granularity, -1))).props(
                f'flat round dense aria-label="{t("period.prev")}"'
            ).tooltip(t("period.prev")).mark("period-prev")
            with (
                ui.button(fmt.period_title(self.value, granularity), icon="event")
                .props("outline no-caps")
                .classes("min-w-[11rem]")
                .mark("period-label")
            ):
                with ui.menu() as self._menu:
                    self._menu_body()
            ui.button(icon="chevron_right", on_click=lambda: self._choose(shift(self.value, granularity, 1))).props(
                f'flat round dense aria-label="{t("period.next")}"'
            ).tooltip(t("period.next")).mark("period-next")

    async def _choose(self, value: date) -> None:
        self._menu.close()
        await self._on_change(normalise(value, self.granularity))

    @ui.refreshable_method
    def _menu_body(self) -> None:
        if self.granularity == Granularity.HOUR:
            self._day_menu()
        elif self.granularity == Granularity.DAY:
            self._month_menu()
        else:
            self._year_menu()

    def _day_menu(self) -> None:
        picker = ui.date(value=self.value.isoformat(), on_change=self._on_date).props("minimal")
        picker.props["locale"] = _date_locale()

    async def _on_date(self, event: ValueChangeEventArguments) -> None:
        if event.value:
            await self._choose(date.fromisoformat(event.value))

    def _month_menu(self) -> None:
        with ui.column().classes("p-3 gap-2"):
            with ui.row().classes("w-full items-center justify-between no-wrap"):
                ui.button(icon="chevron_left", on_click=lambda: self._scroll_year(-1)) \
                    .props(f'flat round dense aria-label="{t("common.prev_year")}"')
                ui.label(str(self._year)).classes("font-semibold")
                ui.button(icon="chevron_right", on_click=lambda: self._scroll_year(1)) \
                    .props(f'flat round dense aria-label="{t("common.next_year")}"')
            with ui.grid(columns=3).classes("gap-1"):
                for month in range(1, 13):
                    chosen = (self._year, month) == (self.value.year, self.value.month)
                    ui.button(
                        fmt.month_name(month, short=True),
                        on_click=lambda m=month: self._choose(date(self._year, m, 1)),
                    ).props("unelevated no-caps dense" if chosen else "flat no-caps dense").classes("w-16")

    def _scroll_year(self, steps: int) -> None:
        self._year += steps
        self._menu_body.refresh()

    def _year_menu(self) -> None:
        with ui.grid(columns=3).classes("p-3 gap-1"):
            for year in range(self.value.year - 7, self.value.year + 2):
                chosen = year == self.value.year
                ui.button(str(year), on_click=lambda y=year: self._choose(date(y, 1, 1))).props(
                    "unelevated no-caps dense" if chosen else "flat no-caps dense"
                ).classes("w-16")


def _date_locale() -> dict[str, object]:
    return {
        "days": [t(f"weekday.{d}").capitalize() for d in range(7)],
        "daysShort": [t(f"weekday.short.{d}") for d in range(7)],
        "months": [fmt.month_name(m).capitalize() for m in range(1, 13)],
        "monthsShort": [fmt.month_name(m, short=True).capitalize() for m in range(1, 13)],
        "firstDayOfWeek": 1,
    }


def days_in(period: date) -> int:
    return calendar.monthrange(period.year, period.month)[1]


# --- the control bar of a consumption or archive page --------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """One toggle of the control bar: what it chooses, among what, and what to do on a change."""

    label: str
    options: dict[Any, str]
    value: Any
    on_change: Callable[[Any], Awaitable[None]]
    marker: str


def control_bar(choices: Sequence[Choice], granularity: Granularity, period: date, on_period: OnPeriod) -> None:
    """The filter panel at the top of manual 4.1.2/4.1.6/4.1.7: toggles, then the period."""
    with card(), ui.row().classes("w-full items-end gap-x-8 gap-y-3"):
        for choice in choices:
            with ui.column().classes("gap-1"):
                ui.label(choice.label).classes("du-kpi-label")
                ui.toggle(choice.options, value=choice.value, on_change=on_change(choice.on_change)).props(
                    "unelevated no-caps toggle-color=primary color=grey-2 text-color=grey-9"
                ).mark(choice.marker)
        with ui.column().classes("gap-1"):
            ui.label(t("controls.period")).classes("du-kpi-label")
            PeriodPicker(granularity, period, on_period)


CONSUMPTION_GRANULARITIES = (Granularity.DAY, Granularity.MONTH)


def consumption_controls(available: Sequence[Resource], resource: Resource, granularity: Granularity, period: date,
                         change: Callable[..., Awaitable[None]]) -> None:
    """The control bar of the consumption pages (manual 4.1.2, 4.1.6): resource, days or months, period;
    ``change`` gets the one keyword that changed (resource=, granularity= or period=)."""
    resources = fmt.sort_resources(available) or (resource,)
    control_bar(
        [
            Choice(t("controls.resource"), {r: fmt.resource(r) for r in resources}, resource,
                   lambda value: change(resource=Resource(value)), "resource-toggle"),
            Choice(t("controls.granularity"), {g: t(f"granularity.{g.value}") for g in CONSUMPTION_GRANULARITIES},
                   granularity, lambda value: change(granularity=Granularity(value)), "granularity-toggle"),
        ],
        granularity,
        period,
        lambda value: change(period=value),
    )


def on_change(handler: Callable[[Any], Awaitable[None]]) -> Callable[[ValueChangeEventArguments], Awaitable[None]]:
    """A change handler that calls ``handler(value)`` only for a real new value (not a reset to None)."""

    async def changed(event: ValueChangeEventArguments) -> None:
        if event.value is not None and event.value != event.previous_value:
            await handler(event.value)

    return changed


# --- data status, KPI, notices -----------------------------------------------------------------


def status_text(status: DataStatus) -> str:
    """The status line "Данные: N значений, последний период …", or that nothing has arrived yet."""
    if status.latest_period is None:
        return t("status.empty")
    return t("status.line", count=fmt.integer(status.archive_values), period=fmt.moment(status.latest_period))


def kpi(label: str, value: str, *, hint: str | None = None, marker: str | None = None) -> None:
    with ui.card().classes("du-card px-5 py-4 gap-1 min-w-[13rem] flex-1").props("flat") as box:
        ui.label(label).classes("du-kpi-label")
        ui.label(value).classes("du-kpi-value")
        if hint:
            ui.label(hint).classes("text-xs du-muted")
    if marker:
        box.mark(marker)


def fact(label: str, value: str) -> None:
    """A small label over a value, for rows of facts about a building or a premise."""
    with ui.column().classes("gap-0"):
        ui.label(label).classes("text-[11px] uppercase tracking-wide du-muted whitespace-nowrap")
        ui.label(value).classes("text-sm font-semibold text-[#243b53] whitespace-nowrap")


def problem(title: str, text: str, *, icon: str = "search_off", back: bool = True) -> None:
    """A notice in place of a page's content: not found, no access, nothing to show."""
    with card():
        with ui.row().classes("items-center gap-4 no-wrap"):
            ui.icon(icon, size="40px").classes("du-muted")
            with ui.column().classes("gap-1"):
                ui.label(title).classes("text-lg font-semibold").mark("problem-title")
                ui.label(text).classes("du-muted").mark("problem-text")
                if back:
                    ui.link(t("error.back_to_list"), "/").classes("du-link mt-1")


def warning(text: str) -> None:
    # amber-50 and amber-900 as plain hex: the accessibility check's axe-core cannot read Tailwind 4's oklch()
    with ui.row().classes("w-full items-center gap-2 px-4 py-2 rounded-lg bg-[#fffbeb] text-[#78350f] no-wrap"):
        ui.icon("warning_amber", size="20px")
        ui.label(text).mark("warning")


# --- consumption cells (manual 4.1.5) --------------------------------------------------------------

NOT_EXPECTED = "—"  # no meter in service in the period: nothing was to be measured
SUSPECT_MARK = "!"  # a meter's increment was implausible (above the device's limit) and is left out


def figure_text(figure: Figure, unit: str) -> str:
    """A consumption cell: ``–*`` nothing known, ``1,770*`` the known part of several meters,
    ``!`` added where an implausible increment was left out (``–!`` when that was all there was)."""
    missing = figure.expected - figure.known - figure.suspect
    suspect = SUSPECT_MARK if figure.suspect else ""
    if figure.value is None:
        if not figure.expected:
            return NOT_EXPECTED
        return fmt.MISSING[0] + (fmt.PARTIAL_MARK if missing else "") + suspect
    return fmt.amount(figure.value, unit, complete=not missing) + suspect


def tariff_label(code: str) -> str:
    """A tariff zone's name: its translation when the table has one ("T1" day, "T2" night), else the code."""
    return t(f"tariff.{code}") if has(f"tariff.{code}") else code


def tariff_columns(series: Sequence[TariffSeries], prefix: str, title: str) -> list[dict[str, Any]]:
    """ui.table columns of electricity tariff zones, named ``<title> <zone>``; fields ``<prefix><zone>``."""
    return [{"name": f"{prefix}{s.tariff}", "label": f"{title} {tariff_label(s.tariff)}",
             "field": f"{prefix}{s.tariff}", "align": "right"} for s in series]


def tariff_cells(series: Sequence[TariffSeries], index: int, prefix: str, unit: str) -> dict[str, str]:
    return {f"{prefix}{s.tariff}": figure_text(s.figures[index], unit) for s in series}


def consumption_notes(derived_from: Sequence[str]) -> None:
    """The legend under a consumption table: the marks, and which finer archives values came from."""
    ui.label(t("table.legend")).classes("text-xs du-muted")
    if has("table.legend_suspect"):
        ui.label(t("table.legend_suspect")).classes("text-xs du-muted")
    if derived_from:
        kinds = fmt.archives(", ".join(derived_from))
        text = t("table.derived", kinds=kinds) if has("table.derived") else t("meter.nature", nature=kinds)
        ui.label(text).classes("text-xs du-muted").mark("derived-note")


# --- tables ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    href: str


Cell = str | Link | Sequence[Link]


def link_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, numeric: Sequence[int] = ()) -> ui.element:
    """A plain table whose cells may hold links (which ``ui.table`` cells cannot as elements)."""
    table = (
        ui.element("q-markup-table")
        .props("flat bordered dense separator=horizontal wrap-cells")
        .classes("du-markup w-full")
    )
    with table, ui.element("table").classes("w-full"):
        with ui.element("thead"), ui.element("tr"):
            for index, header in enumerate(headers):
                with ui.element("th").classes("text-right" if index in numeric else "text-left"):
                    ui.label(header)
        with ui.element("tbody"):
            for row in rows:
                with ui.element("tr"):
                    for index, cell in enumerate(row):
                        with ui.element("td").classes("text-right" if index in numeric else "text-left"):
                            _cell(cell)
    return table


def _cell(cell: Cell) -> None:
    if isinstance(cell, str):
        ui.label(cell)
    elif isinstance(cell, Link):
        ui.link(cell.text, cell.href).classes("du-link")
    else:
        with ui.row().classes("gap-x-3 gap-y-1"):
            for link in cell:
                ui.link(link.text, link.href).classes("du-link text-sm")


# --- meters ------------------------------------------------------------------------------------


def meter_href(meter: MeterInfo) -> str:
    return f"/meters/{meter.id}"


def plashka(meter: MeterInfo, *, premise_label: str | None = None) -> None:
    """The meter card of manual 4.1.3: role and status, number, resources, link, archives.

    The whole card opens the meter's archive page (its number is a stretched link).
    """
    colour = _STATUS_COLOURS.get(meter.status, "#9aa5b1")
    box = ui.card().classes("du-card du-plashka relative p-4 gap-2 h-full").props("flat")
    with box.mark(f"meter-{meter.serial}"):
        with ui.row().classes("w-full items-center justify-between no-wrap"):
            with ui.row().classes("items-center gap-2 no-wrap"):
                status_dot(meter.status, colour).mark(f"status-{meter.status}")
                ui.label(fmt.meter_role(meter.role)).classes("text-xs font-semibold tracking-wide du-muted")
            if premise_label:
                ui.label(premise_label).classes("text-xs du-muted")
        ui.link(t("meter.serial", serial=meter.serial), meter_href(meter)).classes(
            "du-link du-stretched text-base font-semibold"
        )
        ui.label(meter.model).classes("text-xs du-muted -mt-2")
        status_words(meter.status)
        with ui.row().classes("gap-1"):
            for resource in meter.resources:
                ui.badge(fmt.resource(resource)).props("outline color=primary").classes("text-xs")
        _fact("cell_tower", meter.communicator)
        _fact("history", fmt.archives(meter.archives))


def status_dot(status: str, colour: str) -> ui.element:
    """A meter's status as a coloured dot that screen readers read out by its name (the tooltip shows it too)."""
    text = fmt.meter_status(status)
    dot = ui.element("span").classes("du-dot shrink-0").style(f"background: {colour}").props("role=img")
    dot.props["aria-label"] = text
    return dot.tooltip(text)


def status_words(status: str) -> None:
    """The status in words unless the meter is in service: colour is never the only sign that a meter is out of
    service or not yet commissioned (WCAG 1.4.1); the usual case stays quiet."""
    if status != "in_service":
        ui.label(fmt.meter_status(status)).classes("text-xs font-medium text-[#243b53]").mark(f"status-text-{status}")


def name_uploader(upload: ui.upload) -> None:
    """Name the icon button and the file input Quasar draws inside an uploader (it gives them no name of their
    own): screen readers announce "choose a file" instead of an unnamed button."""
    name = json.dumps(t("upload.pick"))
    ui.run_javascript(f"getHtmlElement({upload.id})?.querySelectorAll('.q-uploader__input, .q-uploader__header .q-btn')"
                      f".forEach(e => e.setAttribute('aria-label', {name}))")


def _fact(icon: str, text: str) -> None:
    with ui.row().classes("items-center gap-2 no-wrap text-sm"):
        ui.icon(icon, size="16px").classes("du-muted")
        ui.label(text).classes("text-[#334e68] text-xs break-words min-w-0")


def plashka_grid(meters: Sequence[MeterInfo], *, premise_label: Callable[[MeterInfo], str | None]) -> None:
    with ui.element("div").classes("grid w-full gap-3 grid-cols-1 sm:grid-cols-2 lg:grid-cols-3 xl:grid-cols-4"):
        for meter in meters:
            plashka(meter, premise_label=premise_label(meter))
