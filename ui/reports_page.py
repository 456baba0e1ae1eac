"""Page «Отчёты» (manual 4.3, menu «Отчёты» → «Отчёты и ведомости»): the drop-down «Тип отчета»
with the reports of 4.3 in the manual's order, a form made from the chosen report's parameters
(cloud/reports/engine.py ``Param``), «Сформировать» that makes the file in the background with its
progress (the page stays usable: another report can be started meanwhile), «Скачать» when it is
done, and «Мои отчёты», the person's reports of the last day. The billing document (4.4.1) has a
page of its own (ui/billing_page.py).

Reaches data through cloud/reports/service.py and the accounting and balance-group services
(shapes declared here as Protocols). Route: /reports?report=<key>. Tests: tests/ui/test_reports_ui.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.reports.engine import RESOURCE_CHOICES, Param, ReportSpec
from cloud.reports.jobs import JobInfo, TooManyJobs
from cloud.services.balance_groups import BalanceGroup
from cloud.services.models import FIRST_DAY, LAST_DAY, BuildingSummary, InvalidInput, MeterInfo, PremiseInfo
from protocol.periods import utc_to_local, zone

from . import auth, fmt, job_widgets, pages, selection, theme, widgets
from .i18n import extend, t
from .ports import Services
from .query import page_url

PATH = "/reports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
POLL_SECONDS = 0.5
SITE_KINDS = ("premise", "meter", "group")  # the parameters whose choices are the chosen building's

extend({
    "reports.title": ("Отчёты", "Reports"),
    "reports.subtitle": ("Ведомости и отчёты в формате XLSX: выберите тип отчёта, задайте параметры и нажмите "
                         "«Сформировать»", "Reports as XLSX files: choose the type, set the parameters and press "
                                          "“Create”"),
    "reports.type": ("Тип отчета", "Report type"),
    "reports.none": ("Отчёты пока недоступны.", "No reports are available yet."),
    "reports.no_buildings": ("Нет объектов для отчёта.", "No buildings to report on."),
    "reports.no_params": ("Параметры не требуются.", "No parameters needed."),
    "reports.empty_choice": ("—", "—"),
    "reports.month": ("Месяц", "Month"),
    "reports.year": ("Год", "Year"),
    "reports.start": ("Сформировать", "Create"),
    "reports.download": ("Скачать", "Download"),
    "reports.required": ("Параметр «{label}»: обязательный, не задан.", "Parameter “{label}”: required, not set."),
    "reports.bad_day": ("Параметр «{label}»: укажите дату с {first} по {last}.",
                        "Parameter “{label}”: a date from {first} to {last}."),
    "reports.param_error": ("Параметр «{label}»: {reason}", "Parameter “{label}”: {reason}"),
    "reports.refused": ("Отчёт не сформирован: {reason}", "The report was not made: {reason}"),
    "reports.bug": ("Отчёт не сформирован из-за внутренней ошибки; подробности — в журнале сервера.",
                    "The report was not made because of an internal error; the server log has the details."),
    "reports.too_many": ("Уже формируются три ваших отчёта: дождитесь, пока один из них будет готов.",
                         "Three of your reports are being made already: wait until one is ready."),
    "reports.mine": ("Мои отчёты", "My reports"),
    "reports.mine_empty": ("За последние сутки отчётов не было.", "No reports in the last 24 hours."),
    "reports.mine_note": ("Готовые файлы хранятся сутки.", "Ready files are kept for 24 hours."),
    "reports.state.running": ("формируется", "being made"),
    "reports.state.done": ("готов", "ready"),
    "reports.state.failed": ("ошибка", "failed"),
    "reports.started": ("Запущен {when}", "Started {when}"),
    "reports.rows": ("строк: {rows}", "rows: {rows}"),
})


class ReportsService(Protocol):
    clock: Callable[[], datetime]

    def specs(self) -> tuple[ReportSpec, ...]: ...

    async def start(self, token: str, key: str, raw: Mapping[str, Any]) -> JobInfo: ...

    async def my_jobs(self, token: str) -> list[JobInfo]: ...

    async def job_file(self, token: str, job_id: str) -> tuple[Path, str]: ...


class GroupsService(Protocol):
    async def groups(self, token: str, building_id: int) -> list[BalanceGroup]: ...


class ReportsServices(Services, Protocol):
    @property
    def reports(self) -> ReportsService: ...

    @property
    def balance_groups(self) -> GroupsService: ...


def page_specs(specs: Sequence[ReportSpec]) -> list[ReportSpec]:
    """The reports of 4.3 in the catalogue's (the manual's) order; 4.4's billing document has its own page."""
    return [s for s in specs if s.section.startswith("4.3")]


def register(services: Services) -> None:
    """Register /reports."""
    reporting = cast(ReportsServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def reports_page(request: Request, report: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        specs = page_specs(reporting.reports.specs())
        if not specs:
            with theme.frame(t("reports.title"), viewer.user, active=PATH), theme.card():
                theme.message(t("reports.none"))
            return None
        problems: list[str] = []
        chosen = next((s for s in specs if s.key == report), None)
        if report and chosen is None:
            problems.append(t("error.bad_parameter", name="report", value=report[:64]))
        buildings = selection.city_buildings(await services.accounting.buildings(viewer.token))
        page = ReportsPage(reporting, viewer, specs, buildings, problems)
        if not await pages.explained(viewer.user, page.choose(chosen or specs[0]),
                                     not_found=t("error.building_not_found"), active=PATH):
            return None
        if not await pages.explained(viewer.user, page.refresh_jobs(), not_found=t("error.not_found"), active=PATH):
            return None
        page.render()
        return None


@dataclass(slots=True)
class Options:
    """The chosen building's objects the form offers."""

    premises: list[PremiseInfo] = field(default_factory=list)
    meters: list[MeterInfo] = field(default_factory=list)
    groups: list[BalanceGroup] = field(default_factory=list)


def default_value(p: Param, today: date, buildings: Sequence[BuildingSummary]) -> Any:
    """What the form shows before the person changes it (the engine works defaults out the same way)."""
    text = p.default
    if p.kind == "building":
        return int(text) if text and text.isdigit() else (buildings[0].id if buildings and p.required else None)
    if p.kind == "month":
        first = today.replace(day=1)
        if text == "this_month":
            return first
        if text == "last_month" or (text is None and p.required):
            return (first - timedelta(days=1)).replace(day=1)
        try:
            return date.fromisoformat(f"{text}-01") if text else None
        except ValueError:
            return None
    if p.kind == "day":
        return today.isoformat() if text == "today" else (text or "")
    if p.kind == "flag":
        return (text or "").lower() in ("true", "1", "yes")
    if p.kind in ("resource", "choice"):
        return text or (choices(p)[0][0] if p.required and choices(p) else None)
    if p.kind == "text":
        return text or ""
    return int(text) if text and text.isdigit() else None  # premise, meter, group: chosen when loaded


def choices(p: Param) -> tuple[tuple[str, str], ...]:
    return p.choices or (RESOURCE_CHOICES if p.kind == "resource" else ())


def raw_values(spec: ReportSpec, values: Mapping[str, Any]) -> dict[str, str]:
    """The form's values as the text the engine parses; an empty one is left out (its default applies,
    or the engine says it is required)."""
    raw: dict[str, str] = {}
    for p in spec.params:
        value = values.get(p.name)
        if isinstance(value, bool):
            raw[p.name] = "true" if value else "false"
        elif isinstance(value, date):
            raw[p.name] = f"{value:%Y-%m}" if p.kind == "month" else value.isoformat()
        elif value is not None and str(value).strip():
            raw[p.name] = str(value).strip()
    return raw


def form_problem(spec: ReportSpec, raw: Mapping[str, str]) -> str | None:
    """A problem the form can name in Russian before asking the service: a required value not set, a
    date that is not one."""
    for p in spec.params:
        if p.required and p.name not in raw and p.default is None:
            return t("reports.required", label=p.label)
        if p.kind == "day" and p.name in raw:
            try:
                day = date.fromisoformat(raw[p.name])
            except ValueError:
                day = None
            if day is None or not FIRST_DAY <= day <= LAST_DAY:
                return t("reports.bad_day", label=p.label, first=fmt.day(FIRST_DAY), last=fmt.day(LAST_DAY))
    return None


def parameter_error(spec: ReportSpec, message: str) -> str:
    """The engine's "name: reason" with the parameter's Russian label."""
    name, _, reason = message.partition(": ")
    label = next((p.label for p in spec.params if p.name == name), None)
    return t("reports.param_error", label=label, reason=reason) if label and reason else \
        t("error.invalid_input", reason=message)


def meter_label(m: MeterInfo) -> str:
    where = f" · кв. {m.premise_number}" if m.premise_number else ""
    return f"{m.serial} · {m.model} · {t(f'meter.role.{m.role.value}')}{where}"


class ReportsPage:
    def __init__(self, services: ReportsServices, viewer: auth.Viewer, specs: list[ReportSpec],
                 buildings: list[BuildingSummary], problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.specs = specs
        self.buildings = buildings
        self.problems = problems
        self.spec = specs[0]
        self.values: dict[str, Any] = {}
        self.options = Options()
        self.error: str | None = None
        self.current: str | None = None  # the job this page started last
        self.jobs: list[JobInfo] = []
        self.tz: ZoneInfo = zone(buildings[0].time_zone) if buildings else ZoneInfo("UTC")

    # --- state --------------------------------------------------------------------------------
    async def choose(self, spec: ReportSpec) -> bool:
        """Make ``spec`` the chosen report with its parameters' defaults."""
        today = self.services.reports.clock().date()
        self.spec = spec
        self.values = {p.name: default_value(p, today, self.buildings) for p in spec.params}
        self.error = None
        await self.load_options()
        return True

    def _building(self) -> int | None:
        return next((self.values.get(p.name) for p in self.spec.params if p.kind == "building"), None)

    async def load_options(self) -> None:
        """The chosen building's premises, meters and groups, as far as the report asks for them."""
        kinds = {p.kind for p in self.spec.params}
        building, token, accounting = self._building(), self.viewer.token, self.services.accounting
        self.options = Options()
        if building is not None:
            if "premise" in kinds:
                self.options.premises = await accounting.premises(token, building)
            if "meter" in kinds:
                self.options.meters = await accounting.meters(token, building)
            if "group" in kinds:
                self.options.groups = await self.services.balance_groups.groups(token, building)
        for p in self.spec.params:
            if p.kind in SITE_KINDS:
                ids = [o.id for o in getattr(self.options, f"{p.kind}s")]
                if self.values.get(p.name) not in ids:
                    self.values[p.name] = ids[0] if ids and p.required else None

    async def refresh_jobs(self) -> bool:
        self.jobs = await self.services.reports.my_jobs(self.viewer.token)
        return True

    def _running(self) -> bool:
        return any(j.state == "running" for j in self.jobs)

    # --- drawing ------------------------------------------------------------------------------
    def render(self) -> None:
        with theme.frame(t("reports.title"), self.viewer.user, active=PATH, subtitle=t("reports.subtitle")):
            for problem in self.problems:
                widgets.warning(problem)
            with theme.card().mark("reports-form-card"):
                ui.select({s.key: s.title for s in self.specs}, value=self.spec.key, label=t("reports.type"),
                          on_change=lambda e: self.change_report(e.value)) \
                    .props("outlined dense options-dense").classes("w-full max-w-3xl").mark("reports-type")
                self.form()
                self.form_error()
                ui.button(t("reports.start"), icon="save", on_click=self.start) \
                    .props("unelevated no-caps color=primary").mark("reports-start")
                self.progress()
            self.mine()
        ui.timer(POLL_SECONDS, self.poll)

    @ui.refreshable_method
    def form(self) -> None:
        spec = self.spec
        if spec.description:
            ui.label(spec.description).classes("du-muted break-words").mark("reports-description")
        if not spec.params:
            ui.label(t("reports.no_params")).classes("text-sm du-muted")
            return
        with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 gap-3 w-full max-w-3xl"):
            for p in spec.params:
                self._field(p)

    def _field(self, p: Param) -> None:
        value, marker, label = self.values.get(p.name), f"reports-param-{p.name}", p.label
        if p.kind == "building":
            self._select(p, {b.id: b.address for b in self.buildings}, marker, self.change_building)
        elif p.kind == "premise":
            self._select(p, {o.id: o.number for o in self.options.premises}, marker)
        elif p.kind == "meter":
            self._select(p, {o.id: meter_label(o) for o in self.options.meters}, marker)
        elif p.kind == "group":
            self._select(p, {o.id: o.name for o in self.options.groups}, marker)
        elif p.kind in ("resource", "choice"):
            self._select(p, dict(choices(p)), marker)
        elif p.kind == "month":
            self._month(p, value, marker)
        elif p.kind == "day":
            ui.input(label, value=value or "", on_change=lambda e, n=p.name: self._set(n, e.value)) \
                .props("outlined dense type=date stack-label" + ("" if p.required else " clearable")) \
                .classes("w-full").mark(marker)
        elif p.kind == "flag":
            ui.checkbox(label, value=bool(value), on_change=lambda e, n=p.name: self._set(n, bool(e.value))) \
                .mark(marker)
        else:
            ui.input(label, value=value or "", on_change=lambda e, n=p.name: self._set(n, e.value)) \
                .props("outlined dense maxlength=300" + ("" if p.required else " clearable")) \
                .classes("w-full").mark(marker)

    def _select(self, p: Param, options: dict[Any, str], marker: str,
                then: Callable[[], Any] | None = None) -> None:
        async def changed(e: Any) -> None:
            self._set(p.name, e.value)
            if then is not None:
                await then()
        props = "outlined dense options-dense" + ("" if p.required else " clearable")
        ui.select(options, value=self.values.get(p.name) if self.values.get(p.name) in options else None,
                  label=p.label, on_change=changed).props(props).classes("w-full min-w-0").mark(marker)

    def _month(self, p: Param, value: date | None, marker: str) -> None:
        """Year and month selects: a month can only be a real one."""
        today = self.services.reports.clock().date()
        years = {y: str(y) for y in range(max(FIRST_DAY.year, today.year - 10),
                                          min(LAST_DAY.year, today.year + 1) + 1)}
        if value is not None and value.year not in years:  # a default far back: offered too
            years = dict(sorted({**years, value.year: str(value.year)}.items()))
        months = {m: fmt.month_name(m).capitalize() for m in range(1, 13)}
        if not p.required:
            months = {0: t("reports.empty_choice"), **months}

        def chosen(year: int | None = None, month: int | None = None) -> None:
            current: date | None = self.values.get(p.name)
            if year is not None:  # a year without a month (an optional one left empty) stays empty
                self._set(p.name, current.replace(year=year) if current else None)
            elif month is not None:
                self._set(p.name, date(current.year if current else today.year, month, 1) if month else None)

        shown_month = value.month if value else (None if p.required else 0)
        with ui.row().classes("w-full gap-2 no-wrap items-center").mark(marker):
            ui.select(months, value=shown_month, label=p.label, on_change=lambda e: chosen(month=e.value)) \
                .props("outlined dense options-dense").classes("grow min-w-0").mark(f"{marker}-month")
            ui.select(years, value=value.year if value else today.year, label=t("reports.year"),
                      on_change=lambda e: chosen(year=e.value)) \
                .props("outlined dense options-dense").classes("w-28").mark(f"{marker}-year")

    def _set(self, name: str, value: Any) -> None:
        self.values[name] = value
        if self.error is not None:
            self.error = None
            self.form_error.refresh()

    @ui.refreshable_method
    def form_error(self) -> None:
        if self.error:
            job_widgets.error_banner(self.error, "reports-error")

    @ui.refreshable_method
    def progress(self) -> None:
        job = next((j for j in self.jobs if j.id == self.current), None)
        if job is None:
            return
        with ui.column().classes("w-full max-w-3xl gap-1").mark("reports-current"):
            ui.label(job.title).classes("font-medium break-words")
            if job.state == "running":
                job_widgets.running(job, "reports")
            elif job.state == "done":
                with ui.row().classes("items-center gap-3"):
                    ui.icon("check_circle", size="22px").classes("text-green-700")
                    ui.label(job.file_name or "").classes("text-sm break-all").mark("reports-file-name")
                    self._download(job, "reports-download")
            else:
                job_widgets.error_banner(job_widgets.failure(job, "reports"), "reports-failed")

    def _download(self, job: JobInfo, marker: str) -> None:
        ui.button(t("reports.download"), icon="download", on_click=lambda: self.download(job.id)) \
            .props("unelevated no-caps color=primary dense").classes("px-3").mark(marker)

    @ui.refreshable_method
    def mine(self) -> None:
        with theme.card(t("reports.mine")).mark("reports-mine"):
            if not self.jobs:
                theme.message(t("reports.mine_empty"))
                return
            ui.label(t("reports.mine_note")).classes("text-xs du-muted")
            for job in self.jobs:
                self._job_row(job)

    def _job_row(self, job: JobInfo) -> None:
        when = fmt.moment(utc_to_local(job.started_at.astimezone(UTC), self.tz))
        with ui.row().classes("w-full items-center justify-between gap-x-4 gap-y-1 py-2 border-b "
                              "border-[#edf1f5]").mark(f"reports-job-{job.id}"):
            with ui.column().classes("gap-0 min-w-0 grow basis-64"):
                ui.label(job.title).classes("font-medium break-words")
                facts = [t("reports.started", when=when), t(f"reports.state.{job.state}")]
                if job.state == "running":
                    facts.append(f"{round(job.progress * 100)} %")
                elif job.state == "done":
                    facts.append(t("reports.rows", rows=job.rows))
                ui.label(" · ".join(facts)).classes("text-sm du-muted break-words").mark(f"reports-job-state-{job.id}")
                if job.state == "failed":
                    ui.label(job_widgets.failure(job, "reports")).classes("text-sm text-red-900 break-words")
            if job.state == "running":
                ui.linear_progress(value=round(job.progress, 3), show_value=False, size="6px") \
                    .props("rounded color=primary").classes("w-32")
            elif job.state == "done":
                self._download(job, f"reports-job-download-{job.id}")

    # --- actions ------------------------------------------------------------------------------
    async def change_report(self, key: str | None) -> None:
        spec = next((s for s in self.specs if s.key == key), None)
        if spec is None or spec is self.spec:
            return
        async with theme.working():
            if await auth.attempt(self.choose(spec)) is None:
                return
        self.form.refresh()
        self.form_error.refresh()
        ui.navigate.history.replace(page_url(PATH, report=spec.key))

    async def change_building(self) -> None:
        async with theme.working():
            await auth.attempt(self.load_options())
        self.form.refresh()

    async def start(self) -> None:
        spec, raw = self.spec, raw_values(self.spec, self.values)
        self.error = form_problem(spec, raw)
        if self.error is None:
            job = await auth.attempt(self._start(spec, raw))
            if job is not None:
                self.current = job.id
                await auth.attempt(self.refresh_jobs())
                self.progress.refresh()
                self.mine.refresh()
        self.form_error.refresh()

    async def _start(self, spec: ReportSpec, raw: dict[str, str]) -> JobInfo | None:
        """Start the job; a bad parameter or too many jobs is said next to the form (None)."""
        try:
            return await self.services.reports.start(self.viewer.token, spec.key, raw)
        except InvalidInput as error:
            self.error = parameter_error(spec, str(error))
        except TooManyJobs:
            self.error = t("reports.too_many")
        return None

    async def poll(self) -> None:
        """While a job runs, follow it (the timer's tick; nothing is asked when none runs)."""
        if not self._running():
            return
        before = [(j.id, j.state, j.progress, j.stage) for j in self.jobs]
        if await auth.attempt(self.refresh_jobs()) is None:
            return
        if [(j.id, j.state, j.progress, j.stage) for j in self.jobs] != before:
            self.progress.refresh()
            self.mine.refresh()

    async def download(self, job_id: str) -> None:
        found = await auth.attempt(self.services.reports.job_file(self.viewer.token, job_id))
        if found is not None:
            path, name = found
            ui.download(path, name, XLSX)
