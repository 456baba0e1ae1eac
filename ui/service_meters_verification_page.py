"""Page «Поверка» (manual 4.5.4, menu "Сервис"): meters and sensors whose next verification falls in a
chosen period, overdue ones included and marked; a list view (a table whose date column stays visible
at phone width) and a calendar view (the months of a year with their counts; a month as a grid of days
with counts; a day's items as tiles: sensor, apartment meter or building meter). Filters: building,
model, number, resource, ИПУ/ОДПУ, meter or sensor. Read-only: dispatchers, engineers and readers;
administrators get the forbidden page.

Data and rules: cloud/services/verification.py. Registered by ui/service_meters_page.py.
Tests: tests/ui/test_service_meters_ui.py.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.verification import (
    VerificationCalendar,
    VerificationFilter,
    VerificationItem,
    VerificationList,
)
from cloud.services.verification_rules import month_span
from protocol.vocabulary import MeterRole

from . import auth, fmt, pages, theme
from .i18n import extend, t
from .ports import Services
from .query import parse_day, parse_param

PATH = "/service/verification"
RED = "#c2413b"
ICONS = {"sensor": "sensors", "individual": "home", "common": "apartment"}

extend({
    "verification.title": ("Поверка", "Verification"),
    "verification.subtitle": ("Приборы учёта и подключённые к ним сенсоры, которым предстоит поверка в выбранный "
                              "период, в том числе с пропущенным сроком.",
                              "Meters and their sensors due for verification in the chosen period, missed ones "
                              "included."),
    "verification.view.list": ("Список", "List"),
    "verification.view.calendar": ("Календарь", "Calendar"),
    "verification.f.building": ("Объект", "Building"),
    "verification.f.model": ("Модель ПУ", "Model"),
    "verification.f.number": ("Номер ПУ или сенсора", "Meter or sensor number"),
    "verification.f.resource": ("Ресурс", "Resource"),
    "verification.f.role": ("ИПУ / ОДПУ", "Apartment / building"),
    "verification.f.kind": ("Что поверяется", "What is verified"),
    "verification.f.all": ("все, если ничего не выбрано", "all when nothing is chosen"),
    "verification.kind.meter": ("прибор учёта", "meter"),
    "verification.kind.sensor": ("сенсор", "sensor"),
    "verification.from": ("С", "From"),
    "verification.to": ("По", "To"),
    "verification.bad_period": ("Укажите период датами ГГГГ-ММ-ДД, начало не позже конца.",
                                "Give the period as YYYY-MM-DD dates, the start not after the end."),
    "verification.found": ("Предстоит поверок: {count}, из них просрочено: {overdue}",
                           "Due: {count}, of them overdue: {overdue}"),
    "verification.empty": ("В выбранном периоде поверок нет.", "Nothing is due in the chosen period."),
    "verification.col.date": ("Дата поверки", "Verification date"),
    "verification.col.building": ("Объект", "Building"),
    "verification.col.premise": ("Помещение", "Premise"),
    "verification.col.meter": ("Номер ПУ", "Meter number"),
    "verification.col.model": ("Модель ПУ", "Model"),
    "verification.col.sensor": ("Номер сенсора", "Sensor number"),
    "verification.col.resource": ("Ресурс", "Resource"),
    "verification.overdue": ("просрочена", "overdue"),
    "verification.scroll": ("Таблица прокручивается вбок →", "The table scrolls sideways →"),
    "verification.year": ("{year} год: {count}", "{year}: {count}"),
    "verification.overdue_before": ("Просрочено с более ранними датами: {count} — см. список.",
                                    "Overdue with earlier dates: {count} — see the list."),
    "verification.month.count": ("{count}", "{count}"),
    "verification.month.title": ("{month} {year}: {count}", "{month} {year}: {count}"),
    "verification.day.title": ("Поверки на {day}", "Due on {day}"),
    "verification.day.models": ("По моделям: {models}", "By model: {models}"),
    "verification.day.empty": ("На этот день поверок нет.", "Nothing is due on this day."),
    "verification.back_year": ("К году", "Back to the year"),
    "verification.item.meter": ("ПУ {serial}", "Meter {serial}"),
    "verification.item.sensor": ("Сенсор {serial} (ПУ {meter})", "Sensor {serial} (meter {meter})"),
    "verification.weekdays": ("Пн,Вт,Ср,Чт,Пт,Сб,Вс", "Mo,Tu,We,Th,Fr,Sa,Su"),
})


class VerificationService(Protocol):
    async def today(self, token: str) -> date: ...

    async def due(self, token: str, first: date, last: date, filters: VerificationFilter | None = None
                  ) -> VerificationList: ...

    async def scheduled(self, token: str, first: date, last: date, filters: VerificationFilter | None = None
                        ) -> VerificationList: ...

    async def calendar(self, token: str, year: int, month: int | None = None,
                       filters: VerificationFilter | None = None) -> VerificationCalendar: ...


class VerificationServices(Services, Protocol):
    @property
    def verification(self) -> VerificationService: ...


def register(services: Services) -> None:
    """Register /service/verification."""
    mine = cast(VerificationServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def verification_page(request: Request, view: str | None = None, first: str | None = None,
                                last: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        problems: list[str] = []
        page = VerificationPage(mine, viewer, "calendar" if view == "calendar" else "list",
                                parse_param(parse_day, "first", first, problems),
                                parse_param(parse_day, "last", last, problems))
        if await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"), active=PATH):
            page.render(problems)
        return None


def _item_title(i: VerificationItem) -> str:
    return t("verification.item.meter", serial=i.meter_serial) if i.sensor_serial is None else \
        t("verification.item.sensor", serial=i.sensor_serial, meter=i.meter_serial)


class VerificationPage:
    def __init__(self, services: VerificationServices, viewer: auth.Viewer, view: str, first: date | None,
                 last: date | None) -> None:
        self.services = services
        self.viewer = viewer
        self.view = view
        self.first, self.last = first, last
        self.filters = VerificationFilter()
        self.today = date(2000, 1, 1)
        self.listing: VerificationList | None = None
        self.calendar: VerificationCalendar | None = None
        self.year = 2000
        self.month: int | None = None
        self.day: date | None = None
        self.day_items: VerificationList | None = None

    async def load(self) -> None:
        service = self.services.verification
        self.today = await service.today(self.viewer.token)
        month_first, month_last = month_span(self.today.year, self.today.month)
        if self.first is None or self.last is None or self.last < self.first:
            self.first, self.last = month_first, month_last
        self.year = self.today.year
        await self._fetch()

    async def _fetch(self) -> None:
        service, token = self.services.verification, self.viewer.token
        if self.view == "list":
            if self.first is not None and self.last is not None:
                self.listing = await service.due(token, self.first, self.last, self.filters)
        else:
            self.calendar = await service.calendar(token, self.year, self.month, self.filters)
            if self.day is not None:
                self.day_items = await service.scheduled(token, self.day, self.day, self.filters)

    async def reload(self) -> None:
        async with theme.working():
            await auth.attempt(self._fetch())
        self.body.refresh()

    def render(self, problems: Sequence[str]) -> None:
        with theme.frame(t("verification.title"), self.viewer.user, active=PATH, subtitle=t("verification.subtitle")):
            for problem in problems:
                theme.message(problem, icon="warning", color=RED)
            self.body()

    async def _set(self, **changes: Any) -> None:
        values = {n: getattr(self.filters, n) for n in VerificationFilter.__slots__}  # type: ignore[attr-defined]
        values.update(changes)
        self.filters = VerificationFilter(**values)
        await self.reload()

    async def _switch(self, view: str) -> None:
        self.view = view
        await self.reload()

    @ui.refreshable_method
    def body(self) -> None:
        shown = self.listing if self.view == "list" else self.calendar
        options = shown.options if shown is not None else None
        with theme.card().mark("verification-filters"), ui.row().classes("w-full items-start gap-3"):
            ui.toggle({"list": t("verification.view.list"), "calendar": t("verification.view.calendar")},
                      value=self.view, on_change=lambda e: self._switch(e.value)).props("no-caps") \
                .mark("verification-view")
            if options is not None:
                self._chips("verification.f.building", dict(options.buildings), self.filters.building_ids,
                            "vf-building", lambda e: self._set(building_ids=tuple(e.value or ())))
                self._chips("verification.f.model", {m: m for m in options.models}, self.filters.models,
                            "vf-model", lambda e: self._set(models=tuple(e.value or ())))
                self._chips("verification.f.resource", {r: fmt.resource(r) for r in options.resources},
                            self.filters.resources, "vf-resource", lambda e: self._set(resources=tuple(e.value or ())))
            self._chips("verification.f.role", {r: t(f"service_meters.role.{r.value}") for r in MeterRole},
                        self.filters.roles, "vf-role", lambda e: self._set(roles=tuple(e.value or ())))
            self._chips("verification.f.kind", {k: t(f"verification.kind.{k}") for k in ("meter", "sensor")},
                        self.filters.kinds, "vf-kind", lambda e: self._set(kinds=tuple(e.value or ())))
            ui.input(t("verification.f.number"), value=self.filters.number,
                     on_change=lambda e: self._set(number=(e.value or "").strip())) \
                .props("outlined dense clearable debounce=400").classes("w-full sm:w-48").mark("vf-number")
        if self.view == "list":
            self._list()
        else:
            self._calendar()

    @staticmethod
    def _chips(key: str, options: dict[Any, str], value: Sequence[Any], marker: str, on_change: Any) -> None:
        with ui.column().classes("gap-1 w-full sm:w-auto"):
            ui.label(t(key)).classes("du-kpi-label")
            ui.select(options, multiple=True, value=list(value), on_change=on_change) \
                .props(f"outlined dense use-chips clearable hint='{t('verification.f.all')}'") \
                .classes("w-full sm:min-w-[12rem]").mark(marker)

    # --- list -------------------------------------------------------------------------------------

    def _list(self) -> None:
        with theme.card().mark("verification-list"):
            with ui.row().classes("w-full items-end gap-3"):
                first = ui.input(t("verification.from"), value=self.first.isoformat() if self.first else "") \
                    .props("outlined dense type=date").classes("w-40").mark("verification-from")
                last = ui.input(t("verification.to"), value=self.last.isoformat() if self.last else "") \
                    .props("outlined dense type=date").classes("w-40").mark("verification-to")

                async def apply() -> None:
                    try:
                        a, b = parse_day(first.value or ""), parse_day(last.value or "")
                    except ValueError:
                        ui.notify(t("verification.bad_period"), type="warning")
                        return
                    if b < a:
                        ui.notify(t("verification.bad_period"), type="warning")
                        return
                    self.first, self.last = a, b
                    await self.reload()
                first.on("change", apply)
                last.on("change", apply)
            listing = self.listing
            if listing is None:
                return
            if not listing.items:
                theme.message(t("verification.empty"))
                return
            overdue = sum(i.overdue for i in listing.items)
            ui.label(t("verification.found", count=len(listing.items), overdue=overdue)).classes("text-sm") \
                .mark("verification-found")
            ui.label(t("verification.scroll")).classes("text-xs du-muted sm:hidden")
            ui.add_css(".du-verif th:first-child, .du-verif td:first-child { position: sticky; left: 0; "
                       "background: #fff; z-index: 1; } .du-verif td, .du-verif th { padding: 6px 10px; "
                       "border-bottom: 1px solid #edf1f5; text-align: left; vertical-align: top; } "
                       ".du-verif th { background: #f7f9fb; font-weight: 600; color: #334e68; } "
                       ".du-verif tr.du-late td { color: #c2413b; }")
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-verif w-full min-w-[760px]").mark("verification-table"):
                with ui.element("tr"):
                    for key in ("date", "building", "premise", "meter", "model", "sensor", "resource"):
                        with ui.element("th"):
                            ui.label(t(f"verification.col.{key}"))
                for i in listing.items:
                    marker = f"verification-row-{i.meter_serial}-{i.sensor_serial or 'meter'}"
                    with ui.element("tr").classes("du-late" if i.overdue else "").mark(
                            marker + ("-overdue" if i.overdue else "")):
                        with ui.element("td"), ui.column().classes("gap-0"):
                            ui.label(fmt.day(i.next_verification_on))
                            if i.overdue:
                                ui.label(t("verification.overdue")).classes("text-xs font-semibold")
                        for text in (i.address, i.premise_number or "—", i.meter_serial, i.model,
                                     i.sensor_serial or "", fmt.resources(i.resources)):
                            with ui.element("td"):
                                ui.label(text).classes("break-words")

    # --- calendar ---------------------------------------------------------------------------------

    async def _year(self, step: int) -> None:
        self.year += step
        self.month, self.day = None, None
        await self.reload()

    async def _open_month(self, month: int | None) -> None:
        self.month, self.day = month, None
        await self.reload()

    async def _open_day(self, day: date) -> None:
        self.day = None if self.day == day else day
        await self.reload()

    def _calendar(self) -> None:
        cal = self.calendar
        if cal is None:
            return
        with theme.card().mark("verification-calendar"):
            with ui.row().classes("w-full items-center justify-between no-wrap"):
                ui.button(icon="chevron_left", on_click=lambda: self._year(-1)) \
                    .props(f'flat round dense aria-label="{t("common.prev_year")}"').mark("verification-year-prev")
                ui.label(t("verification.year", year=cal.year, count=cal.total)).classes("du-card-title") \
                    .mark("verification-year")
                ui.button(icon="chevron_right", on_click=lambda: self._year(1)) \
                    .props(f'flat round dense aria-label="{t("common.next_year")}"').mark("verification-year-next")
            if cal.overdue_before:
                theme.message(t("verification.overdue_before", count=cal.overdue_before), icon="warning", color=RED)
            if cal.month is None:
                with ui.element("div").classes("grid w-full gap-2 grid-cols-2 sm:grid-cols-3 lg:grid-cols-4"):
                    for c in cal.months:
                        box = ui.card().classes("du-card du-plashka p-3 gap-0").props("flat") \
                            .mark(f"verification-month-{c.month}")
                        box.on("click", lambda _=None, m=c.month: self._open_month(m))
                        with box:
                            ui.label(fmt.month_name(c.month).capitalize()).classes("text-sm")
                            ui.label(str(c.count)).classes("text-xl font-semibold" + (" text-[#c2413b]" if c.overdue
                                                                                       else ""))
                return
            self._month(cal)

    def _month(self, cal: VerificationCalendar) -> None:
        month = cal.month or 1
        with ui.row().classes("w-full items-center justify-between"):
            ui.label(t("verification.month.title", month=fmt.month_name(month).capitalize(), year=cal.year,
                       count=cal.months[month - 1].count)).classes("font-semibold").mark("verification-month-title")
            ui.button(t("verification.back_year"), icon="calendar_view_month",
                      on_click=lambda: self._open_month(None)).props("flat no-caps dense").mark("verification-back")
        lead = calendar.monthrange(cal.year, month)[0]  # Monday = 0
        with ui.element("div").classes("grid w-full gap-1 grid-cols-7"):
            for name in t("verification.weekdays").split(","):
                ui.label(name).classes("text-xs du-muted text-center")
            for _ in range(lead):
                ui.element("div")
            for c in cal.days:
                day = date(cal.year, month, c.day or 1)
                chosen = day == self.day
                box = ui.element("div").classes(
                    "rounded border p-1 min-h-[3rem] flex flex-col items-center cursor-pointer"
                    + (" ring-2 ring-[#1d4f7c]" if chosen else "")
                    + (" bg-[#fdecea]" if c.overdue else " bg-[#e8f1fb]" if c.count else "")) \
                    .mark(f"verification-day-{c.day}")
                box.on("click", lambda _=None, d=day: self._open_day(d))
                with box:
                    ui.label(str(c.day)).classes("text-xs du-muted")
                    if c.count:
                        ui.label(str(c.count)).classes("text-base font-semibold")
        if self.day is not None and self.day_items is not None:
            self._day(cal)

    def _day(self, cal: VerificationCalendar) -> None:
        day = self.day
        items = self.day_items
        if day is None or items is None:
            return
        with ui.column().classes("w-full gap-2 border-t pt-3").mark("verification-day"):
            ui.label(t("verification.day.title", day=fmt.day(day))).classes("font-semibold")
            counts = next((c for c in cal.days if c.day == day.day), None)
            if counts is not None and counts.by_model:
                ui.label(t("verification.day.models", models=", ".join(f"{m}: {n}" for m, n in counts.by_model.items()))
                         ).classes("text-xs du-muted")
            if not items.items:
                theme.message(t("verification.day.empty"))
                return
            with ui.element("div").classes("grid w-full gap-2 grid-cols-1 sm:grid-cols-2 lg:grid-cols-3"):
                for i in items.items:
                    icon = ICONS["sensor" if i.kind == "sensor" else i.role.value]
                    with ui.card().classes("du-card p-3 gap-1 min-w-0").props("flat") \
                            .mark(f"verification-item-{i.meter_serial}-{i.sensor_serial or 'meter'}"):
                        with ui.row().classes("items-center gap-2 no-wrap"):
                            ui.icon(icon, size="20px").style(f"color: {RED if i.overdue else '#1d4f7c'}")
                            ui.label(_item_title(i)).classes("font-semibold break-all")
                        ui.label(f"{i.address}" + (f", {i.premise_number}" if i.premise_number else "")) \
                            .classes("text-xs du-muted break-words")
                        ui.label(fmt.resources(i.resources)).classes("text-xs")
                        if i.overdue:
                            ui.label(t("verification.overdue")).classes("text-xs font-semibold text-[#c2413b]")
