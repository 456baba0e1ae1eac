"""Page «Документ для биллинга» (manual 4.4.1, menu «Биллинг»): the month's readings in the ГИС ЖКХ
import layout (cloud/billing/document.py). The person picks the reporting month and, if they wish, one
building (else every building of the company), presses «Сформировать»; the file is made in the
background through the reports service (its progress shown, the page stays usable), then «Скачать»
and a summary: the meters listed on each import sheet and the errors, the first of them shown, since
a meter there reaches the billing centre only once its cause is put right.

Dispatchers, engineers and readers (a document changes nothing); administrators get the «нет доступа»
page. Route: /billing. Tests: tests/ui/test_billing_document_ui.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.billing.document import Summary, summarise
from cloud.reports.jobs import JobInfo, TooManyJobs
from cloud.services.models import BuildingSummary, InvalidInput

from . import auth, fmt, job_widgets, pages, selection, theme
from .i18n import extend, t
from .ports import Services

PATH = "/billing"
KEY = "billing_document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
POLL_SECONDS = 0.5
FIRST_ERRORS = 10
YEARS_BACK = 5

extend({
    "billdoc.title": ("Документ для биллинга", "Billing document"),
    "billdoc.subtitle": ("Показания приборов учёта за месяц в формате импорта ГИС ЖКХ: листы «Импорт показаний "
                         "ИПУ», «Импорт показаний ОДПУ» и «Ошибки»",
                         "The month's meter readings in the ГИС ЖКХ import layout: sheets for apartment meters, "
                         "building meters and errors"),
    "billdoc.month": ("Отчётный месяц", "Reporting month"),
    "billdoc.year": ("Год", "Year"),
    "billdoc.building": ("Объект", "Building"),
    "billdoc.all": ("Все объекты компании", "All the company's buildings"),
    "billdoc.start": ("Сформировать", "Create"),
    "billdoc.download": ("Скачать", "Download"),
    "billdoc.note": ("Показание, которого нет в архиве прибора, не подставляется: такой прибор попадает на лист "
                     "«Ошибки» с числом месяцев подряд без показаний, а расчёт по нему ведёт расчётный центр "
                     "(п. 59–60 Правил, утв. постановлением Правительства РФ № 354).",
                     "A reading the meter's archive lacks is never filled in: the meter goes to the «Ошибки» "
                     "sheet with the months in a row without readings, and the billing centre calculates it "
                     "(Government Decree 354, points 59–60)."),
    "billdoc.ipu": ("ИПУ в документе", "Apartment meters listed"),
    "billdoc.odpu": ("ОДПУ в документе", "Building meters listed"),
    "billdoc.errors": ("Ошибки", "Errors"),
    "billdoc.first_errors": ("Первые ошибки (все — на листе «Ошибки»):", "First errors (all on the «Ошибки» sheet):"),
    "billdoc.no_errors": ("Ошибок нет: все приборы в документе.", "No errors: every meter is in the document."),
    "billdoc.premise": ("кв. {number}", "apt {number}"),
    "billdoc.refused": ("Документ не сформирован: {reason}", "The document was not made: {reason}"),
    "billdoc.bug": ("Документ не сформирован из-за внутренней ошибки; подробности — в журнале сервера.",
                    "The document was not made because of an internal error; the server log has the details."),
    "billdoc.too_many": ("Уже формируются три ваших отчёта: дождитесь, пока один из них будет готов.",
                         "Three of your reports are being made already: wait until one is ready."),
    "billdoc.future": ("Месяц ещё не начался: выберите прошедший или текущий месяц.",
                       "The month has not begun: choose a past or the current month."),
    "billdoc.no_buildings": ("У компании нет объектов.", "The company has no buildings."),
})


class ReportsService(Protocol):
    clock: Callable[[], datetime]

    async def start(self, token: str, key: str, raw: Mapping[str, Any]) -> JobInfo: ...

    async def job(self, token: str, job_id: str) -> JobInfo: ...

    async def job_file(self, token: str, job_id: str) -> tuple[Path, str]: ...


class BillingServices(Services, Protocol):
    @property
    def reports(self) -> ReportsService: ...


def last_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def raw_params(month: date, building: int | None) -> dict[str, str]:
    """The form's values as the report engine parses them."""
    raw = {"month": f"{month:%Y-%m}"}
    if building:
        raw["building"] = str(building)
    return raw


def register(services: Services) -> None:
    """Register /billing."""
    billing = cast(BillingServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def billing_document(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        buildings = selection.city_buildings(await services.accounting.buildings(viewer.token))
        page = DocumentPage(billing, viewer, buildings)
        page.render()
        return None


class DocumentPage:
    def __init__(self, services: BillingServices, viewer: auth.Viewer, buildings: list[BuildingSummary]) -> None:
        self.services = services
        self.viewer = viewer
        self.buildings = buildings
        self.today = services.reports.clock().date()
        self.month = last_month(self.today)
        self.building: int | None = None
        self.job: JobInfo | None = None
        self.summary: Summary | None = None
        self.error: str | None = None

    def render(self) -> None:
        with theme.frame(t("billdoc.title"), self.viewer.user, active=PATH, subtitle=t("billdoc.subtitle")):
            with theme.card().mark("billdoc-form"):
                if not self.buildings:
                    theme.message(t("billdoc.no_buildings"))
                    return
                with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 gap-3 w-full max-w-3xl"):
                    self._month_fields()
                    ui.select({0: t("billdoc.all"), **{b.id: b.address for b in self.buildings}}, value=0,
                              label=t("billdoc.building"), on_change=lambda e: self._set_building(e.value)) \
                        .props("outlined dense options-dense").classes("w-full min-w-0").mark("billdoc-building")
                ui.label(t("billdoc.note")).classes("text-sm du-muted break-words")
                self.form_error()
                ui.button(t("billdoc.start"), icon="description", on_click=self.start) \
                    .props("unelevated no-caps color=primary").mark("billdoc-start")
                self.progress()
        ui.timer(POLL_SECONDS, self.poll)

    def _month_fields(self) -> None:
        years = {y: str(y) for y in range(self.today.year - YEARS_BACK, self.today.year + 1)}
        months = {m: fmt.month_name(m).capitalize() for m in range(1, 13)}
        with ui.row().classes("w-full gap-2 no-wrap items-center").mark("billdoc-month"):
            ui.select(months, value=self.month.month, label=t("billdoc.month"),
                      on_change=lambda e: self._set_month(month=e.value)) \
                .props("outlined dense options-dense").classes("grow min-w-0").mark("billdoc-month-month")
            ui.select(years, value=self.month.year, label=t("billdoc.year"),
                      on_change=lambda e: self._set_month(year=e.value)) \
                .props("outlined dense options-dense").classes("w-28").mark("billdoc-month-year")

    def _set_month(self, *, month: int | None = None, year: int | None = None) -> None:
        self.month = self.month.replace(month=month or self.month.month, year=year or self.month.year)
        self._clear_error()

    def _set_building(self, value: int | None) -> None:
        self.building = value or None
        self._clear_error()

    def _clear_error(self) -> None:
        if self.error is not None:
            self.error = None
            self.form_error.refresh()

    @ui.refreshable_method
    def form_error(self) -> None:
        if self.error:
            job_widgets.error_banner(self.error, "billdoc-error")

    @ui.refreshable_method
    def progress(self) -> None:
        job = self.job
        if job is None:
            return
        with ui.column().classes("w-full max-w-3xl gap-2").mark("billdoc-current"):
            if job.state == "running":
                job_widgets.running(job, "billdoc")
            elif job.state == "done":
                with ui.row().classes("items-center gap-3 w-full"):
                    ui.icon("check_circle", size="22px").classes("text-green-700")
                    ui.label(job.file_name or "").classes("text-sm break-all min-w-0").mark("billdoc-file-name")
                    ui.button(t("billdoc.download"), icon="download", on_click=self.download) \
                        .props("unelevated no-caps color=primary dense").classes("px-3").mark("billdoc-download")
                self._summary()
            else:
                job_widgets.error_banner(job_widgets.failure(job, "billdoc"), "billdoc-failed")

    def _summary(self) -> None:
        s = self.summary
        if s is None:
            return
        with ui.element("div").classes("grid grid-cols-3 gap-2 w-full max-w-md").mark("billdoc-summary"):
            for key, value, marker in (("billdoc.ipu", s.ipu, "ipu"), ("billdoc.odpu", s.odpu, "odpu"),
                                       ("billdoc.errors", s.errors, "errors")):
                with ui.column().classes("gap-0 min-w-0"):
                    ui.label(t(key)).classes("text-xs du-muted break-words")
                    ui.label(fmt.integer(value)).classes("text-lg font-semibold").mark(f"billdoc-count-{marker}")
        if not s.errors:
            theme.message(t("billdoc.no_errors"), icon="check")
            return
        ui.label(t("billdoc.first_errors")).classes("text-sm font-medium")
        with ui.column().classes("w-full gap-1").mark("billdoc-first-errors"):
            for address, premise, serial, reason in s.first_errors:
                where = f"{address}, {t('billdoc.premise', number=premise)}" if premise else address
                with ui.column().classes("w-full gap-0 py-1 border-b border-[#edf1f5]"):
                    ui.label(f"{serial} · {where}").classes("text-sm font-medium break-words")
                    ui.label(reason).classes("text-sm text-red-900 break-words")

    async def start(self) -> None:
        if self.month > self.today.replace(day=1):
            self.error = t("billdoc.future")
            self.form_error.refresh()
            return
        self.error = None
        job = await auth.attempt(self._start())
        if job is not None:
            self.job, self.summary = job, None
            self.progress.refresh()
        self.form_error.refresh()

    async def _start(self) -> JobInfo | None:
        try:
            return await self.services.reports.start(self.viewer.token, KEY, raw_params(self.month, self.building))
        except InvalidInput as error:
            self.error = t("billdoc.refused", reason=str(error))
        except TooManyJobs:
            self.error = t("billdoc.too_many")
        return None

    async def poll(self) -> None:
        """While the document is being made, follow it; when done, read its summary."""
        if self.job is None or self.job.state != "running":
            return
        job = await auth.attempt(self.services.reports.job(self.viewer.token, self.job.id))
        if job is None or job == self.job:
            return
        self.job = job
        if job.state == "done":
            found = await auth.attempt(self.services.reports.job_file(self.viewer.token, job.id))
            if found is not None:
                self.summary = await asyncio.to_thread(summarise, found[0], FIRST_ERRORS)
        self.progress.refresh()

    async def download(self) -> None:
        if self.job is None:
            return
        found = await auth.attempt(self.services.reports.job_file(self.viewer.token, self.job.id))
        if found is not None:
            path, name = found
            ui.download(path, name, XLSX)
