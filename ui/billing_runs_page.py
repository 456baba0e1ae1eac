"""Pages «Протоколы выгрузки» (/billing/runs) and one protocol (/billing/runs/{id}) of the automatic export
of readings to billing centres (manual 4.4.2; cloud/billing/service.py).

The list: newest first, start, end, duration, state and status each with its icon and Russian words,
pages at the bottom right; a row opens the protocol. The protocol: the summary figures of 4.4.2 in the
manual's order, the reason of a failure, and the lists «Аккаунты», «Приборы», «Данные без ответа» (the
package sent, in a dialog) and «Данные с ответом» (the centre's error, in a dialog). A dispatcher
without reader status may do a finished run again (the manual's retry icon); engineers and readers read;
administrators get the «нет доступа» page. Times are local to the company's first building.
Tests: tests/ui/test_billing_runs_ui.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.billing.reconcile import ACCOUNT_TEXT
from cloud.billing.service import RunInfo, RunItem
from protocol.periods import utc_to_local, zone
from protocol.vocabulary import Resource

from . import access, auth, fmt, pages, theme
from .i18n import extend, t
from .ports import Services

PATH = "/billing/runs"
PAGE_SIZE = 20
DEFAULT_ZONE = "Europe/Moscow"
FOLLOW_SECONDS = 2.0

extend({
    "bruns.title": ("Протоколы выгрузки", "Export protocols"),
    "bruns.subtitle": ("Автоматическая выгрузка показаний в расчётно-информационные центры (РИЦ) в день сдачи "
                       "показаний", "Automatic export of readings to billing centres on the submission day"),
    "bruns.none": ("Выгрузок ещё не было. Настройте РИЦ в разделе «Настройки» → «Расчётные центры».",
                   "No exports yet. Set up a billing centre in Settings."),
    "bruns.col.centre": ("РИЦ", "Centre"), "bruns.col.period": ("Период", "Period"),
    "bruns.col.start": ("Начало выгрузки", "Started"), "bruns.col.end": ("Завершение", "Finished"),
    "bruns.col.duration": ("Время выполнения", "Duration"), "bruns.col.state": ("Состояние", "State"),
    "bruns.col.status": ("Статус", "Status"),
    "bruns.state.waiting": ("ожидание начала выгрузки", "waiting"),
    "bruns.state.running": ("обработка", "running"), "bruns.state.finished": ("интеграция завершена", "finished"),
    "bruns.status.success": ("успешно завершен", "success"),
    "bruns.status.errors": ("завершен с ошибками", "with errors"),
    "bruns.status.failed": ("завершен провалом", "failed"),
    "bruns.retry": ("Повторить выгрузку", "Run again"),
    "bruns.retried": ("Выгрузка запущена повторно", "The export is running again"),
    "bruns.detail": ("Протокол выгрузки № {id}", "Export protocol {id}"),
    "bruns.attempts": ("Попыток", "Attempts"), "bruns.reason": ("Причина", "Reason"),
    "bruns.s.premises": ("Помещений на объектах, связанных с РИЦ", "Premises on linked buildings"),
    "bruns.s.with_account": ("в том числе с указанным ЛС", "of them with a personal account"),
    "bruns.s.account_failures": ("Помещений с неуспешным сопоставлением ЛС", "Failed account matches"),
    "bruns.s.meters": ("ПУ в помещениях с сопоставленным ЛС", "Meters of matched premises"),
    "bruns.s.device_failures": ("Ошибок сопоставления заводских № ПУ", "Failed serial matches"),
    "bruns.s.first_time": ("ПУ, сопоставленных впервые", "First-time matches"),
    "bruns.s.relinked": ("ПУ, связанных повторно", "Re-linked meters"),
    "bruns.s.sent": ("Передано показаний", "Readings sent"),
    "bruns.s.rejected": ("Отклонено РИЦ", "Rejected by the centre"),
    "bruns.s.errors": ("Ошибок подготовки показаний", "Preparation errors"),
    "bruns.tab.account": ("Аккаунты", "Accounts"), "bruns.tab.device": ("Приборы", "Meters"),
    "bruns.tab.accepted": ("Данные без ответа", "Sent"), "bruns.tab.rejected": ("Данные с ответом", "Answered"),
    "bruns.c.address": ("Адрес", "Address"), "bruns.c.premise": ("Помещение", "Premise"),
    "bruns.c.account": ("ЛС", "Account"), "bruns.c.serial": ("№ ПУ", "Serial"),
    "bruns.c.resource": ("Ресурс", "Resource"), "bruns.c.error": ("Ошибка", "Error"),
    "bruns.c.date": ("Дата показания", "Reading date"), "bruns.c.values": ("Показания", "Readings"),
    "bruns.package": ("Состав пакета", "Package"), "bruns.answer": ("Ответ РИЦ", "Centre's answer"),
    "bruns.empty": ("Нет записей.", "Nothing here."), "bruns.close": ("Закрыть", "Close"),
    "bruns.not_found": ("Такого протокола нет.", "No such protocol."),
    "bruns.code.no_recent_readings": ("за последние 10 дней не поступали показания по прибору учёта",
                                      "no readings for 10 days"),
})
STATE_ICON = {"waiting": ("schedule", "#627d98"), "running": ("autorenew", "#2680c2"),
              "finished": ("done_all", "#3e7c17")}
STATUS_ICON = {"success": ("check_circle", "#3e7c17"), "errors": ("warning", "#c77d00"),
               "failed": ("cancel", "#c53030")}
TABS = ("account", "device", "accepted", "rejected")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def resource_text(value: str) -> str:
    try:
        return fmt.resource(Resource(value))
    except ValueError:
        return value


def by_resource(counts: dict[str, int]) -> str:
    if not counts:
        return "0"
    return ", ".join(f"{resource_text(r)}: {n}" for r, n in sorted(counts.items()))


def _badge(icon: str, color: str, text: str, marker: str) -> None:
    with ui.row().classes("items-center gap-1 no-wrap").mark(marker):
        ui.icon(icon, size="18px").style(f"color: {color}")
        ui.label(text).classes("text-sm")


async def _zone(services: Services, token: str) -> ZoneInfo:
    buildings = await services.accounting.buildings(token)
    return zone(buildings[0].time_zone if buildings else DEFAULT_ZONE)


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return "—" if value is None else fmt.moment(utc_to_local(value, tz))


def register(services: Services) -> None:
    billing: Any = services.billing  # type: ignore[attr-defined]

    @ui.page(PATH, response_timeout=30.0)
    async def billing_runs(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        runs, total = await billing.runs(viewer.token, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        tz = await _zone(services, viewer.token)
        with theme.frame(t("bruns.title"), viewer.user, active=PATH, subtitle=t("bruns.subtitle")), theme.card():
            if not runs:
                theme.message(t("bruns.none"))
                return None
            _runs_table(runs, tz)
            _follow(billing, viewer, [r for r in runs if r.state != "finished"])
            pages_count = (total + PAGE_SIZE - 1) // PAGE_SIZE
            if pages_count > 1:
                with ui.row().classes("w-full justify-end"):
                    ui.pagination(1, pages_count, direction_links=True, value=min(page, pages_count),
                                  on_change=lambda e: ui.navigate.to(f"{PATH}?page={e.value}")) \
                        .props("max-pages=5 boundary-numbers").mark("bruns-pages")
        return None

    @ui.page(PATH + "/{run_id}", response_timeout=30.0)
    async def billing_run(request: Request, run_id: str) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        if not run_id.isdigit() or not 1 <= int(run_id) < 2**63:
            pages.problem_page(viewer.user, t("error.not_found"), t("bruns.not_found"), active=PATH)
            return None
        loaded: dict[str, Any] = {}

        async def load() -> None:
            loaded["run"] = await billing.run(viewer.token, int(run_id))
            for kind in TABS:
                loaded[kind] = await billing.run_items(viewer.token, int(run_id), kind)
        if not await pages.explained(viewer.user, load(), not_found=t("bruns.not_found"), active=PATH):
            return None
        run: RunInfo = loaded["run"]
        tz = await _zone(services, viewer.token)
        crumbs = ((t("bruns.title"), PATH),)
        with theme.frame(t("bruns.detail", id=run.id), viewer.user, active=PATH, crumbs=crumbs,
                         subtitle=f"{run.centre_name} · {run.period}"):
            _run_card(billing, viewer, run, tz)
            if run.summary:
                _summary(run)
            _lists(loaded)
        if run.state != "finished":
            _follow(billing, viewer, [run])
        return None


def _follow(billing: Any, viewer: auth.Viewer, active: list[RunInfo]) -> None:
    """While a shown run is waiting or running, look every few seconds; redraw the page when it changes."""
    if not active:
        return

    async def look() -> None:
        for run in active:
            now = await auth.attempt(billing.run(viewer.token, run.id))
            if now is not None and now.state != run.state:
                timer.deactivate()
                ui.navigate.reload()
                return
    timer = ui.timer(FOLLOW_SECONDS, look)


def _runs_table(runs: list[RunInfo], tz: ZoneInfo) -> None:
    """A table on a wide screen; on a phone one card per run (the table's status columns would sit
    off to the right)."""
    with ui.column().classes("w-full gap-0 sm:hidden"):
        for run in runs:
            href = f"{PATH}/{run.id}"
            with ui.column().classes("w-full gap-1 py-2 border-b border-[#edf1f5] cursor-pointer") \
                    .mark(f"run-card-{run.id}").on("click", lambda _e, h=href: ui.navigate.to(h)):
                with ui.row().classes("w-full items-center justify-between gap-2"):
                    ui.link(_when(run.started_at or run.created_at, tz), href).classes("du-link font-medium")
                    ui.label(duration_text(run.duration_seconds)).classes("text-sm du-muted")
                with ui.row().classes("w-full gap-x-4 gap-y-1"):
                    _badge(*STATE_ICON[run.state], t(f"bruns.state.{run.state}"), f"run-card-state-{run.id}")
                    if run.status:
                        _badge(*STATUS_ICON[run.status], t(f"bruns.status.{run.status}"),
                               f"run-card-status-{run.id}")
                ui.label(f"{run.centre_name} · {run.period}").classes("text-sm du-muted break-words")
    headers = [t(f"bruns.col.{c}") for c in ("start", "end", "duration", "state", "status", "centre", "period")]
    with ui.element("div").classes("w-full overflow-x-auto hidden sm:block"), \
            ui.element("q-markup-table").props("flat dense separator=horizontal wrap-cells") \
            .classes("du-markup w-full"), \
            ui.element("table").classes("w-full"):
        with ui.element("thead"), ui.element("tr"):
            for header in headers:
                with ui.element("th").classes("text-left"):
                    ui.label(header)
        with ui.element("tbody"):
            for run in runs:
                href = f"{PATH}/{run.id}"
                with ui.element("tr").classes("cursor-pointer hover:bg-[#f0f4f8]").mark(f"run-row-{run.id}") \
                        .on("click", lambda _e, h=href: ui.navigate.to(h)):
                    with ui.element("td"):
                        ui.link(_when(run.started_at or run.created_at, tz), href).classes("du-link")
                    with ui.element("td"):
                        ui.label(_when(run.finished_at, tz))
                    with ui.element("td"):
                        ui.label(duration_text(run.duration_seconds))
                    with ui.element("td"):
                        icon, color = STATE_ICON[run.state]
                        _badge(icon, color, t(f"bruns.state.{run.state}"), f"run-state-{run.id}")
                    with ui.element("td"):
                        if run.status:
                            icon, color = STATUS_ICON[run.status]
                            _badge(icon, color, t(f"bruns.status.{run.status}"), f"run-status-{run.id}")
                    with ui.element("td"):
                        ui.label(run.centre_name)
                    with ui.element("td"):
                        ui.label(run.period)


def _run_card(billing: Any, viewer: auth.Viewer, run: RunInfo, tz: ZoneInfo) -> None:
    with theme.card().mark("run-card"), ui.element("div").classes("grid grid-cols-1 sm:grid-cols-3 gap-3 w-full"):
        for label, value in ((t("bruns.col.start"), _when(run.started_at, tz)),
                             (t("bruns.col.end"), _when(run.finished_at, tz)),
                             (t("bruns.col.duration"), duration_text(run.duration_seconds)),
                             (t("bruns.attempts"), str(run.attempts))):
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(label).classes("text-xs du-muted")
                ui.label(value)
        with ui.column().classes("gap-1 min-w-0"):
            _badge(*STATE_ICON[run.state], t(f"bruns.state.{run.state}"), "run-state")
            if run.status:
                _badge(*STATUS_ICON[run.status], t(f"bruns.status.{run.status}"), "run-status")
        if run.reason:
            with ui.column().classes("gap-0 min-w-0 sm:col-span-3"):
                ui.label(t("bruns.reason")).classes("text-xs du-muted")
                ui.label(run.reason).classes("text-red-900 break-words").mark("run-reason")
        if run.state == "finished" and access.may_change_settings(viewer.user):
            async def retry() -> None:
                new = await auth.attempt(billing.retry(viewer.token, run.id, wait=False))
                if new is not None:
                    ui.notify(t("bruns.retried"), type="positive")
                    ui.navigate.to(f"{PATH}/{new.id}")
            ui.button(t("bruns.retry"), icon="replay", on_click=retry) \
                .props("unelevated no-caps color=primary").mark("run-retry")


def _summary(run: RunInfo) -> None:
    s = run.summary
    split = (f"{ACCOUNT_TEXT['account_unknown']}: {s['account_unknown']}, "
             f"{ACCOUNT_TEXT['account_missing']}: {s['account_missing']}")
    figures = (("premises", str(s["premises"])), ("with_account", str(s["with_account"])),
               ("account_failures", f"{s['account_failures']} ({split})"),
               ("meters", str(s["meters_matched_accounts"])), ("device_failures", str(s["device_failures"])),
               ("first_time", str(s["first_time"])), ("relinked", str(s["relinked"])),
               ("sent", by_resource(s["sent_by_resource"])), ("rejected", by_resource(s["rejected_by_resource"])),
               ("errors", by_resource(s["errors_by_resource"])))
    with theme.card().mark("run-summary"), ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 gap-2 w-full"):
        for key, value in figures:
            with ui.row().classes("w-full justify-between gap-2 no-wrap border-b border-[#edf1f5] py-1"):
                ui.label(t(f"bruns.s.{key}")).classes("text-sm du-muted min-w-0 break-words")
                ui.label(value).classes("text-sm font-medium text-right").mark(f"run-s-{key}")


def _lists(loaded: dict[str, Any]) -> None:
    with theme.card().classes("w-full"):
        with ui.tabs().props("dense no-caps align=left outside-arrows mobile-arrows").classes("w-full") as tabs:
            made = {k: ui.tab(k, t(f"bruns.tab.{k}") + f" ({len(loaded[k])})").mark(f"run-tab-{k}") for k in TABS}
        with ui.tab_panels(tabs, value=made["account"]).classes("w-full"):
            for kind in TABS:
                with ui.tab_panel(made[kind]).classes("px-0"):
                    _items(kind, loaded[kind])


def _items(kind: str, items: list[RunItem]) -> None:
    if not items:
        ui.label(t("bruns.empty")).classes("du-muted")
        return
    for item in items:
        with ui.column().classes("w-full gap-0 py-2 border-b border-[#edf1f5]").mark(f"run-item-{kind}-{item.id}"):
            where = f"{item.address}, {item.premise}" if item.premise else item.address
            head = f"{t('bruns.c.account')} {item.account or '—'} · {where}"
            if kind != "account":
                head = f"{item.serial} · {resource_text(item.resource)} · " + head
            ui.label(head).classes("text-sm font-medium break-words")
            if kind in ("account", "device"):
                ui.label(item.message).classes("text-sm text-red-900 break-words")
                continue
            values = ", ".join(f"{k}: {fmt.number(v, 3)}" for k, v in item.payload.get("values", {}).items())
            with ui.row().classes("items-center gap-2 w-full"):
                ui.label(f"{t('bruns.c.date')}: {item.payload.get('reading_date', '')} · {values}").classes("text-sm")
                ui.button(icon="inventory_2", on_click=lambda i=item: _package(i)) \
                    .props(f'flat dense round aria-label="{t("bruns.package")}"') \
                    .tooltip(t("bruns.package")).mark(f"run-package-{item.id}")
                if kind == "rejected":
                    ui.button(icon="error_outline", on_click=lambda i=item: _answer(i)) \
                        .props(f'flat dense round aria-label="{t("bruns.answer")}"') \
                        .classes("text-red-800").tooltip(t("bruns.answer")).mark(f"run-answer-{item.id}")
            if kind == "rejected":
                ui.label(_error_text(item)).classes("text-sm text-red-900 break-words")


CODE_WORDS = {"no_recent_readings": "bruns.code.no_recent_readings"}


def _error_text(item: RunItem) -> str:
    """The centre's own words; without them the protocol's wording of its code, else the code."""
    if item.message:
        return item.message
    return t(CODE_WORDS[item.code]) if item.code in CODE_WORDS else item.code


def _package(item: RunItem) -> None:
    with ui.dialog() as dialog, theme.card(t("bruns.package")).classes("w-full max-w-lg").mark("run-package-dialog"):
        ui.code(json.dumps(item.payload, ensure_ascii=False, indent=2), language="json").classes("w-full text-xs")
        ui.button(t("bruns.close"), on_click=dialog.close).props("flat no-caps")
    dialog.open()


def _answer(item: RunItem) -> None:
    with ui.dialog() as dialog, theme.card(t("bruns.answer")).classes("w-full max-w-md").mark("run-answer-dialog"):
        ui.label(_error_text(item)).classes("break-words")
        if item.code:
            ui.label(f"code: {item.code}").classes("text-xs du-muted")
        ui.button(t("bruns.close"), on_click=dialog.close).props("flat no-caps")
    dialog.open()
