"""Pages of service procedures (manual 4.5.5) and their deadlines (4.6.12), menu «Сервис» / «Настройки»:

- /service/operations: the company's active operations (meter, procedure, operation, planned
  deadline, overdue in red) with forced completion after a confirmation;
- /service/meters/{meter_id}/operations: the meter's procedures and their history; a service
  engineer starts one by its starting operation, completes the current operation with its actual
  date, notes and settings (commissioning: next verification date, archive kinds, initial
  readings of each counter), runs a failed automatic one again, cancels; automatic operations
  run through the edge and the page follows them;
- /settings/deadlines: the planned duration of each operation, edited by a dispatcher.

Rules and roles are the service's (cloud/services/procedures.py); a refusal is shown next to the
form. Times are the building's local times. Tests: tests/ui/test_procedures_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.models import AuthError, Forbidden, InvalidInput, NotFound, Role, UserInfo
from cloud.services.procedure_models import ActiveOperation, Deadline, MeterOperations, ProcedureInfo, StepInfo
from protocol.periods import zone

from . import access, auth, fmt, pages, theme
from .i18n import extend, t
from .ports import Services

T = TypeVar("T")
OPERATIONS_PATH = "/service/operations"
METER_PATH = "/service/meters/{meter_id}/operations"
DEADLINES_PATH = "/settings/deadlines"
STATE_COLOURS = {"active": "#2680c2", "done": "#3f9142", "failed": "#c2413b", "cancelled": "#829ab1",
                 "forced": "#c2413b", "completed": "#3f9142"}

extend({
    "procedures.operations.title": ("Активные операции", "Active operations"),
    "procedures.operations.subtitle": ("Незавершённые сервисные операции. Принудительное завершение операции "
                                       "отменяет процедуру; настройки ПУ, сделанные в завершённых операциях, "
                                       "сохраняются.", "Unfinished service operations. Forcing an operation's "
                                       "completion cancels its procedure; meter settings made in completed "
                                       "operations stay."),
    "procedures.operations.empty": ("Активных сервисных операций нет.", "No active service operations."),
    "procedures.col.meter": ("ПУ", "Meter"),
    "procedures.col.place": ("Адрес", "Address"),
    "procedures.col.procedure": ("Процедура", "Procedure"),
    "procedures.col.operation": ("Операция", "Operation"),
    "procedures.col.deadline": ("Плановый срок", "Planned deadline"),
    "procedures.col.days": ("Срок, дней", "Days"),
    "procedures.overdue": ("просрочена", "overdue"),
    "procedures.failed": ("не выполнена", "failed"),
    "procedures.auto": ("автоматическая", "automatic"),
    "procedures.optional": ("необязательная", "optional"),
    "procedures.force": ("Завершить принудительно", "Force completion"),
    "procedures.force.confirm": ("Завершить операцию «{operation}» ПУ {meter} принудительно? Процедура «{procedure}» "
                                 "будет отменена; настройки завершённых операций сохранятся.",
                                 "Force the completion of “{operation}” of meter {meter}? The procedure "
                                 "“{procedure}” is cancelled; settings of completed operations stay."),
    "procedures.notes": ("Примечание", "Notes"),
    "procedures.cancel": ("Отмена", "Cancel"),
    "procedures.done.forced": ("Операция завершена принудительно, процедура отменена",
                               "Operation forced, procedure cancelled"),
    "procedures.meter.title": ("Сервисные операции ПУ {serial}", "Service operations of meter {serial}"),
    "procedures.meter.status": ("Состояние: {status}", "Status: {status}"),
    "procedures.meter.out": ("Выведен из эксплуатации с {day}: не опрашивается", "Out of service since {day}: "
                             "not polled"),
    "procedures.start.title": ("Новая процедура", "New procedure"),
    "procedures.start.kind": ("Процедура", "Procedure"),
    "procedures.start.operation": ("Начать с операции", "Start with the operation"),
    "procedures.start": ("Начать", "Start"),
    "procedures.start.confirm": ("Начать процедуру «{procedure}» для ПУ {meter}?", "Start “{procedure}” for meter "
                                 "{meter}?"),
    "procedures.start.none": ("Начать процедуру сейчас нельзя.", "No procedure can start now."),
    "procedures.current": ("Текущая процедура", "Current procedure"),
    "procedures.history": ("История процедур", "Procedure history"),
    "procedures.history.empty": ("Сервисных процедур по ПУ не было.", "The meter had no service procedures."),
    "procedures.complete": ("Завершить операцию", "Complete the operation"),
    "procedures.complete.confirm": ("Завершить операцию «{operation}» с фактической датой {day}?",
                                    "Complete “{operation}” with the actual date {day}?"),
    "procedures.done_on": ("Фактическая дата", "Actual date"),
    "procedures.next": ("Следующая операция", "Next operation"),
    "procedures.next.end": ("завершить процедуру", "end the procedure"),
    "procedures.next_verification": ("Дата следующей поверки", "Next verification date"),
    "procedures.archives": ("Передаваемые архивы", "Archives transferred"),
    "procedures.initial": ("Начальные показания", "Initial readings"),
    "procedures.final": ("Конечные показания", "Final readings"),
    "procedures.new_serial": ("Серийный номер нового ПУ (если заменяется сейчас)",
                              "New meter's serial (if replaced now)"),
    "procedures.sensor.counter": ("Счётчик (канал:параметр)", "Counter (channel:parameter)"),
    "procedures.sensor.kind": ("Архив", "Archive"),
    "procedures.sensor.period": ("Начало периода (местное время)", "Period start (local time)"),
    "procedures.sensor.value": ("Действительное показание", "True reading"),
    "procedures.automatic.running": ("Выполняется автоматически через контроллер объекта…",
                                     "Running automatically through the site's edge…"),
    "procedures.automatic.lora": ("ПУ с LoRa-модулем: активируйте модуль связи штатным образом (например, поднесите "
                                  "магнит к панели прибора).", "A LoRa meter: wake its radio module (e.g. hold the "
                                  "magnet to the meter's panel)."),
    "procedures.retry": ("Повторить", "Run again"),
    "procedures.refresh": ("Обновить", "Refresh"),
    "procedures.cancel_procedure": ("Отменить процедуру", "Cancel the procedure"),
    "procedures.cancel.confirm": ("Отменить процедуру «{procedure}»? Настройки ПУ, сделанные в завершённых "
                                  "операциях, сохранятся.", "Cancel “{procedure}”? Meter settings made in completed "
                                  "operations stay."),
    "procedures.log": ("Журнал", "Log"),
    "procedures.system": ("система", "system"),
    "procedures.bad_date": ("Укажите дату в формате ГГГГ-ММ-ДД.", "Give the date as YYYY-MM-DD."),
    "procedures.bad_number": ("{field}: введите число.", "{field}: enter a number."),
    "procedures.state.active": ("выполняется", "in progress"),
    "procedures.state.done": ("выполнена", "done"),
    "procedures.state.failed": ("не выполнена", "failed"),
    "procedures.state.cancelled": ("отменена", "cancelled"),
    "procedures.state.forced": ("завершена принудительно", "forced"),
    "procedures.state.completed": ("завершена", "completed"),
    "procedures.deadlines.title": ("Сроки выполнения СО", "Service operation deadlines"),
    "procedures.deadlines.subtitle": ("Плановые сроки выполнения сервисных операций, дней.",
                                      "Planned durations of service operations, days."),
    "procedures.save": ("Сохранить", "Save"),
    "procedures.saved": ("Срок сохранён", "Deadline saved"),
    "procedures.start.ok": ("Процедура начата", "Procedure started"),
    "procedures.complete.ok": ("Операция завершена", "Operation completed"),
    "procedures.cancel.ok": ("Процедура отменена", "Procedure cancelled"),
    "procedures.kind.install": ("установка ПУ", "installation"),
    "procedures.kind.verification": ("поверка ПУ", "verification"),
    "procedures.kind.repair": ("ремонт ПУ", "repair"),
    "procedures.kind.decommissioning": ("выбытие ПУ", "decommissioning"),
    "procedures.kind.correction": ("коррекция показаний ПУ", "correction of readings"),
    "procedures.kind.reconciliation": ("сверка показаний ПУ", "reconciliation of readings"),
    "procedures.meter.link": ("Сервисные операции", "Service operations"),
})


def _may_run(user: UserInfo) -> bool:
    """A service engineer without reader status runs procedures (manual 2.3)."""
    return user.role is Role.ENGINEER and not user.reader


def _may_force(user: UserInfo) -> bool:
    return user.role in (Role.DISPATCHER, Role.ENGINEER) and not user.reader


def _local(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(zone(time_zone))


async def _guarded(error: ui.label, call: Awaitable[T]) -> T | None:
    """A form's service call: its InvalidInput shown next to the form; other refusals notified."""
    error.text = ""
    try:
        async with theme.working():
            return await call
    except InvalidInput as exc:
        error.text = str(exc)
    except NotFound:
        ui.notify(t("error.not_found"), type="negative")
    except Forbidden:
        ui.notify(t("error.forbidden_text"), type="negative")
    except AuthError:
        auth.session_ended()
    return None


def _close(dialog: ui.dialog) -> None:
    """Close a dialog and take it off the page (one dialog per question, never two of the same)."""
    dialog.close()
    dialog.delete()


def _confirm(text: str, yes: str, action: Callable[[], Awaitable[bool]], *, marker: str,
             negative: bool = False) -> None:
    """A confirmation dialog; ``action`` returns True when it succeeded (the dialog closes)."""
    with ui.dialog() as dialog, theme.card().classes("max-w-md").mark(marker):
        ui.label(text).classes("break-words")

        async def go() -> None:
            if await action():
                _close(dialog)

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(t("procedures.cancel"), on_click=lambda: _close(dialog)).props("flat no-caps")
            ui.button(yes, on_click=go).props("unelevated no-caps" + (" color=negative" if negative else "")) \
                .mark(f"{marker}-yes")
    dialog.open()


_TABLE_CSS = (".du-proc th:first-child, .du-proc td:first-child { position: sticky; left: 0; background: #fff; "
              "z-index: 1; } .du-proc td, .du-proc th { padding: 6px 10px; border-bottom: 1px solid #edf1f5; "
              "text-align: left; vertical-align: top; } .du-proc th { background: #f7f9fb; font-weight: 600; "
              "color: #334e68; } .du-overdue { color: #c2413b; font-weight: 600; }")


def register(services: Services) -> None:
    """Register /service/operations, /service/meters/{meter_id}/operations and /settings/deadlines."""
    procedures: Any = services.procedures  # type: ignore[attr-defined]

    @ui.page(OPERATIONS_PATH, response_timeout=30.0)
    async def operations_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=OPERATIONS_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = ActivePage(procedures, viewer)
        if not await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"),
                                     active=OPERATIONS_PATH):
            return None
        with theme.frame(t("procedures.operations.title"), viewer.user, active=OPERATIONS_PATH,
                         subtitle=t("procedures.operations.subtitle")):
            page.body()
        return None

    @ui.page(METER_PATH, response_timeout=30.0)
    async def meter_operations_page(request: Request, meter_id: int) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=OPERATIONS_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = MeterPage(procedures, viewer, meter_id)
        if not await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"),
                                     active=OPERATIONS_PATH):
            return None
        page.render()
        return None

    @ui.page(DEADLINES_PATH, response_timeout=30.0)
    async def deadlines_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=DEADLINES_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = DeadlinesPage(procedures, viewer)
        if not await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"),
                                     active=DEADLINES_PATH):
            return None
        with theme.frame(t("procedures.deadlines.title"), viewer.user, active=DEADLINES_PATH,
                         subtitle=t("procedures.deadlines.subtitle")):
            page.body()
        return None


# --- /service/operations --------------------------------------------------------------------------

class ActivePage:
    def __init__(self, procedures: Any, viewer: auth.Viewer) -> None:
        self.procedures = procedures
        self.viewer = viewer
        self.rows: list[ActiveOperation] = []

    async def load(self) -> None:
        self.rows = await self.procedures.active(self.viewer.token)

    @ui.refreshable_method
    def body(self) -> None:
        ui.add_css(_TABLE_CSS)
        with theme.card():
            if not self.rows:
                theme.message(t("procedures.operations.empty"))
                return
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-proc w-full min-w-[720px]").mark("procedures-active"):
                with ui.element("tr"):
                    for key in ("procedures.col.meter", "procedures.col.place", "procedures.col.procedure",
                                "procedures.col.operation", "procedures.col.deadline"):
                        with ui.element("th"):
                            ui.label(t(key))
                    with ui.element("th"):
                        ui.label("")
                for row in self.rows:
                    self._row(row)

    def _row(self, row: ActiveOperation) -> None:
        with ui.element("tr").mark(f"procedures-row-{row.step_id}"):
            with ui.element("td"):
                ui.link(row.meter_serial, METER_PATH.format(meter_id=row.meter_id)).classes("font-semibold")
            with ui.element("td").classes("max-w-[14rem]"):
                place = row.address + (f", кв. {row.premise_number}" if row.premise_number else "")
                ui.label(place).classes("break-words text-sm")
            with ui.element("td"):
                ui.label(t(f"procedures.kind.{row.procedure}"))
            with ui.element("td"):
                ui.label(row.operation_name)
                if row.automatic:
                    ui.label(t("procedures.auto")).classes("text-xs du-muted")
                if row.state == "failed":
                    ui.label(f"{t('procedures.failed')}: {row.notes}").classes("text-xs du-overdue break-words") \
                        .mark(f"procedures-failed-{row.step_id}")
            with ui.element("td"):
                ui.label(fmt.moment(_local(row.planned_at, row.time_zone))) \
                    .classes("du-overdue" if row.overdue else "")
                if row.overdue:
                    ui.label(t("procedures.overdue")).classes("text-xs du-overdue") \
                        .mark(f"procedures-overdue-{row.step_id}")
            with ui.element("td"):
                if _may_force(self.viewer.user):
                    ui.button(t("procedures.force"), icon="stop_circle", on_click=lambda r=row: self._force(r)) \
                        .props("flat dense no-caps color=negative").mark(f"procedures-force-{row.step_id}")

    def _force(self, row: ActiveOperation) -> None:
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("procedures-force-dialog"):
            ui.label(t("procedures.force.confirm", operation=row.operation_name, meter=row.meter_serial,
                       procedure=t(f"procedures.kind.{row.procedure}"))).classes("break-words")
            notes = ui.textarea(t("procedures.notes")).props("outlined dense autogrow").classes("w-full")
            error = ui.label("").classes("text-sm du-overdue break-words").mark("procedures-error")

            async def go() -> None:
                done = await _guarded(error, self.procedures.force_complete(self.viewer.token, row.procedure_id,
                                                                            notes.value or ""))
                if done is None:
                    return
                _close(dialog)
                ui.notify(t("procedures.done.forced"), type="positive")
                await self.load()
                self.body.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("procedures.cancel"), on_click=lambda: _close(dialog)).props("flat no-caps")
                ui.button(t("procedures.force"), on_click=go).props("unelevated no-caps color=negative") \
                    .mark("procedures-force-yes")
        dialog.open()


# --- /service/meters/{meter_id}/operations ------------------------------------------------------------

class MeterPage:
    def __init__(self, procedures: Any, viewer: auth.Viewer, meter_id: int) -> None:
        self.procedures = procedures
        self.viewer = viewer
        self.meter_id = meter_id
        self.data: MeterOperations | None = None

    async def load(self) -> None:
        self.data = await self.procedures.meter_operations(self.viewer.token, self.meter_id)

    async def reload(self) -> None:
        await self.load()
        self.body.refresh()

    def render(self) -> None:
        data = self.data
        assert data is not None  # noqa: S101 - loaded before
        with theme.frame(t("procedures.meter.title", serial=data.serial), self.viewer.user, active=OPERATIONS_PATH,
                         crumbs=((t("procedures.operations.title"), OPERATIONS_PATH),)):
            self.body()
        # automatic operations move when the edge answers: follow them while one runs
        ui.timer(3.0, self._follow)

    async def _follow(self) -> None:
        current = self._active()
        if current is not None and current.current is not None and current.current.automatic \
                and current.current.state == "active":
            await self.reload()

    def _active(self) -> ProcedureInfo | None:
        assert self.data is not None  # noqa: S101
        return next((p for p in self.data.procedures if p.state == "active"), None)

    @ui.refreshable_method
    def body(self) -> None:
        ui.add_css(_TABLE_CSS)
        data = self.data
        assert data is not None  # noqa: S101
        with theme.card():
            ui.label(f"{data.model}, {data.address}" + (f", кв. {data.premise_number}" if data.premise_number
                                                        else "")).classes("break-words")
            ui.label(t("procedures.meter.status", status=fmt.meter_status(data.status))).classes("text-sm du-muted")
            if data.out_of_service_since is not None:
                ui.label(t("procedures.meter.out", day=fmt.day(_local(data.out_of_service_since, data.time_zone)
                                                               .date()))).classes("text-sm du-overdue") \
                    .mark("procedures-out-of-service")
        active = self._active()
        if active is not None:
            self._procedure(active, current=True)
        elif _may_run(self.viewer.user):
            self._start_form(data)
        with theme.card(t("procedures.history")):
            done = [p for p in data.procedures if p.state != "active"]
            if not done:
                theme.message(t("procedures.history.empty"))
            for procedure in done:
                with ui.expansion(f"{procedure.name}: {t('procedures.state.' + procedure.state)}, "
                                  f"{fmt.moment(_local(procedure.started_at, data.time_zone))}") \
                        .classes("w-full").mark(f"procedures-history-{procedure.id}"):
                    self._steps(procedure)

    # --- starting ---------------------------------------------------------------------------------
    def _start_form(self, data: MeterOperations) -> None:
        with theme.card(t("procedures.start.title")).mark("procedures-start"):
            if not data.startable:
                theme.message(t("procedures.start.none"))
                for why in data.refusals.values():
                    ui.label(why).classes("text-xs du-muted break-words")
                return
            kinds = {k: t(f"procedures.kind.{k}") for k in data.startable}
            first = next(iter(kinds))
            kind = ui.select(kinds, value=first, label=t("procedures.start.kind")).props("outlined dense") \
                .classes("w-full sm:w-72").mark("procedures-start-kind")
            operation = ui.select({}, label=t("procedures.start.operation")).props("outlined dense") \
                .classes("w-full sm:w-72").mark("procedures-start-operation")
            names = self._names()

            def fill() -> None:
                codes = data.startable.get(kind.value, ())
                operation.options = {c: names.get((kind.value, c), c) for c in codes}
                operation.value = codes[0] if codes else None
                operation.update()
            kind.on_value_change(lambda _: fill())
            fill()
            notes = ui.textarea(t("procedures.notes")).props("outlined dense autogrow").classes("w-full")
            error = ui.label("").classes("text-sm du-overdue break-words").mark("procedures-error")

            async def start() -> bool:
                started = await _guarded(error, self.procedures.start(self.viewer.token, self.meter_id, kind.value,
                                                                      operation.value, notes.value or ""))
                if started is None:
                    return False
                ui.notify(t("procedures.start.ok"), type="positive")
                await self.reload()
                return True

            ui.button(t("procedures.start"), icon="play_arrow", on_click=lambda: _confirm(
                t("procedures.start.confirm", procedure=kinds[kind.value], meter=data.serial), t("procedures.start"),
                start, marker="procedures-start-dialog")).props("unelevated no-caps").mark("procedures-start-button")

    @staticmethod
    def _names() -> dict[tuple[str, str], str]:
        from cloud.services import procedure_rules as rules  # the operation names of the one table
        return {(k.value, op.code): op.name for k in rules.Kind for op in rules.operations(k)}

    # --- a procedure ---------------------------------------------------------------------------------
    def _procedure(self, procedure: ProcedureInfo, *, current: bool) -> None:
        data = self.data
        assert data is not None  # noqa: S101
        with theme.card(f"{t('procedures.current')}: {procedure.name}").mark("procedures-current"):
            self._steps(procedure)
            step = procedure.current
            if step is None:
                return
            if step.automatic:
                self._automatic(procedure, step)
            elif _may_run(self.viewer.user):
                self._complete_form(procedure, step)
            if _may_run(self.viewer.user):
                ui.button(t("procedures.cancel_procedure"), icon="cancel", on_click=lambda: _confirm(
                    t("procedures.cancel.confirm", procedure=procedure.name), t("procedures.cancel_procedure"),
                    lambda: self._cancel(procedure), marker="procedures-cancel-dialog", negative=True)) \
                    .props("flat no-caps color=negative").mark("procedures-cancel")

    async def _cancel(self, procedure: ProcedureInfo) -> bool:
        done = await auth.attempt(self.procedures.cancel(self.viewer.token, procedure.id))
        if done is None:
            return False
        ui.notify(t("procedures.cancel.ok"), type="positive")
        await self.reload()
        return True

    def _steps(self, procedure: ProcedureInfo) -> None:
        data = self.data
        assert data is not None  # noqa: S101
        tz = data.time_zone
        with ui.column().classes("w-full gap-2"):
            for step in procedure.steps:
                with ui.row().classes("w-full items-start gap-2 no-wrap").mark(f"procedures-step-{step.id}"):
                    ui.icon("circle", size="12px").classes("mt-1").style(f"color: {STATE_COLOURS[step.state]}")
                    with ui.column().classes("gap-0 min-w-0"):
                        ui.label(step.name + (f" ({t('procedures.auto')})" if step.automatic else "")) \
                            .classes("font-medium break-words")
                        when = fmt.day(step.done_on) if step.done_on else (
                            fmt.moment(_local(step.finished_at, tz)) if step.finished_at else "")
                        ui.label(f"{t('procedures.state.' + step.state)} {when}".strip()
                                 + (f" · {step.finished_by}" if step.finished_by else "")) \
                            .classes("text-xs du-muted")
                        if step.state in ("active", "failed"):
                            ui.label(f"{t('procedures.col.deadline')}: {fmt.moment(_local(step.planned_at, tz))}"
                                     + (f" — {t('procedures.overdue')}" if step.overdue else "")) \
                                .classes("text-xs" + (" du-overdue" if step.overdue else " du-muted"))
                        if step.notes:
                            ui.label(step.notes).classes("text-sm break-words").mark(f"procedures-notes-{step.id}")
            if procedure.log:
                with ui.expansion(t("procedures.log")).classes("w-full text-sm"):
                    for entry in procedure.log:
                        ui.label(f"{fmt.moment(_local(entry.at, tz))} · {entry.user or t('procedures.system')} · "
                                 f"{entry.action}{' · ' + entry.operation if entry.operation else ''}"
                                 f"{' · ' + entry.notes if entry.notes else ''}").classes("text-xs break-words")

    def _automatic(self, procedure: ProcedureInfo, step: StepInfo) -> None:
        data = self.data
        assert data is not None  # noqa: S101
        if step.state == "active":
            with ui.row().classes("items-center gap-2"):
                ui.spinner(size="sm")
                ui.label(t("procedures.automatic.running")).mark("procedures-running")
        if step.operation == "availability_test" and data.lora:
            ui.label(t("procedures.automatic.lora")).classes("text-sm du-muted break-words")
        with ui.row().classes("gap-2"):
            ui.button(t("procedures.refresh"), icon="refresh", on_click=self._refresh).props("flat no-caps") \
                .mark("procedures-refresh")
            if step.state == "failed" and _may_run(self.viewer.user):
                ui.button(t("procedures.retry"), icon="replay", on_click=lambda: self._retry(procedure)) \
                    .props("unelevated no-caps").mark("procedures-retry")

    async def _refresh(self) -> None:
        async with theme.working():
            await self.reload()

    async def _retry(self, procedure: ProcedureInfo) -> None:
        async with theme.working():
            done = await auth.attempt(self.procedures.retry(self.viewer.token, procedure.id))
        if done is not None:
            await self.reload()

    def _complete_form(self, procedure: ProcedureInfo, step: StepInfo) -> None:
        data = self.data
        assert data is not None  # noqa: S101
        today = data.today or date.today()
        names = self._names()
        with ui.column().classes("w-full gap-2").mark("procedures-complete-form"):
            ui.label(f"{t('procedures.complete')}: {step.name}").classes("font-semibold")
            done_on = ui.input(t("procedures.done_on"), value=today.isoformat()) \
                .props(f"outlined dense type=date max={today.isoformat()}").classes("w-full sm:w-60") \
                .mark("procedures-done-on")
            settings = self._settings_fields(procedure, step, data)
            options = {c: names.get((procedure.kind, c), c) for c in procedure.next_operations}
            next_value: str = procedure.default_next or "__end"
            if procedure.default_next is None:
                options = {"__end": t("procedures.next.end"), **options}
            if options:
                nxt = ui.select(options, value=next_value, label=t("procedures.next")).props("outlined dense") \
                    .classes("w-full sm:w-96").mark("procedures-next")
            notes = ui.textarea(t("procedures.notes")).props("outlined dense autogrow").classes("w-full") \
                .mark("procedures-notes")
            error = ui.label("").classes("text-sm du-overdue break-words").mark("procedures-error")

            def ask() -> None:
                try:
                    day = date.fromisoformat((done_on.value or "").strip())
                except ValueError:
                    error.text = t("procedures.bad_date")
                    return
                try:
                    given = settings()
                except ValueError as exc:
                    error.text = str(exc)
                    return
                chosen = nxt.value if options else None
                following = None if chosen in (None, "__end") else chosen

                async def go() -> bool:
                    done = await _guarded(error, self.procedures.complete(
                        self.viewer.token, procedure.id, done_on=day, notes=notes.value or "", settings=given,
                        next_operation=following))
                    if done is None:
                        return True  # the dialog closes; the refusal stays next to the form
                    ui.notify(t("procedures.complete.ok"), type="positive")
                    await self.reload()
                    return True
                _confirm(t("procedures.complete.confirm", operation=step.name, day=fmt.day(day)),
                         t("procedures.complete"), go, marker="procedures-complete-dialog")

            ui.button(t("procedures.complete"), icon="check", on_click=ask).props("unelevated no-caps") \
                .mark("procedures-complete")

    def _settings_fields(self, procedure: ProcedureInfo, step: StepInfo,
                         data: MeterOperations) -> Callable[[], dict[str, Any]]:
        """The fields of the operation's settings; returns the function that reads them (ValueError: a bad field)."""
        if step.operation == "commissioning":
            nxt = ui.input(t("procedures.next_verification")).props("outlined dense type=date") \
                .classes("w-full sm:w-60").mark("procedures-next-verification")
            kinds = ui.select({k: fmt.archives(k) for k in data.archive_kinds}, multiple=True,
                              value=list(data.archive_kinds), label=t("procedures.archives")) \
                .props("outlined dense use-chips").classes("w-full sm:w-96").mark("procedures-archives")
            readings = self._readings(t("procedures.initial"), data.counters, "initial")

            def read() -> dict[str, Any]:
                out: dict[str, Any] = {"archive_kinds": list(kinds.value or []),
                                       "initial_readings": readings()}
                if nxt.value:
                    out["next_verification_on"] = nxt.value
                return out
            return read
        if procedure.kind == "decommissioning" and step.operation == "out_of_service":
            finals = self._readings(t("procedures.final"), data.counters, "final")
            return lambda: {"final_readings": finals()}
        if step.operation == "replacement_decision":
            serial = ui.input(t("procedures.new_serial")).props("outlined dense").classes("w-full sm:w-72") \
                .mark("procedures-new-serial")
            return lambda: {"new_serial": serial.value.strip()} if (serial.value or "").strip() else {}
        if step.operation == "choose_sensor":
            counter = ui.select(list(data.counters), value=data.counters[0] if data.counters else None,
                                label=t("procedures.sensor.counter")).props("outlined dense") \
                .classes("w-full sm:w-60").mark("procedures-sensor-counter")
            kind = ui.select({k: fmt.archives(k) for k in data.archive_kinds},
                             value=data.archive_kinds[0] if data.archive_kinds else None,
                             label=t("procedures.sensor.kind")).props("outlined dense").classes("w-full sm:w-60")
            period = ui.input(t("procedures.sensor.period"), placeholder="2026-01-11T10:00") \
                .props("outlined dense type=datetime-local").classes("w-full sm:w-72").mark("procedures-sensor-period")
            value = ui.input(t("procedures.sensor.value")).props("outlined dense inputmode=decimal") \
                .classes("w-full sm:w-60").mark("procedures-sensor-value")

            def read_sensor() -> dict[str, Any]:
                channel, _, parameter = (counter.value or ":").partition(":")
                return {"channel": int(channel) if channel.isdigit() else channel, "parameter": parameter,
                        "kind": kind.value, "period": period.value or "",
                        "value": _number(t("procedures.sensor.value"), value.value)}
            return read_sensor
        return dict

    @staticmethod
    def _readings(title: str, counters: tuple[str, ...], marker: str) -> Callable[[], dict[str, float]]:
        if not counters:
            return dict
        ui.label(title).classes("du-kpi-label")
        fields = {}
        with ui.row().classes("w-full gap-2"):
            for counter in counters:
                fields[counter] = ui.input(counter).props("outlined dense inputmode=decimal") \
                    .classes("w-40").mark(f"procedures-{marker}-{counter}")

        def read() -> dict[str, float]:
            return {c: _number(c, f.value) for c, f in fields.items() if (f.value or "").strip()}
        return read


def _number(field: str, text: object) -> float:
    try:
        return float(str(text or "").strip().replace(",", "."))
    except ValueError:
        raise ValueError(t("procedures.bad_number", field=field)) from None


# --- /settings/deadlines -------------------------------------------------------------------------------

class DeadlinesPage:
    def __init__(self, procedures: Any, viewer: auth.Viewer) -> None:
        self.procedures = procedures
        self.viewer = viewer
        self.rows: list[Deadline] = []

    async def load(self) -> None:
        self.rows = await self.procedures.deadlines(self.viewer.token)

    @ui.refreshable_method
    def body(self) -> None:
        ui.add_css(_TABLE_CSS)
        editable = access.may_change_settings(self.viewer.user)
        error = ui.label("").classes("text-sm du-overdue break-words").mark("procedures-error")
        kinds = list(dict.fromkeys(r.procedure for r in self.rows))
        for kind in kinds:
            rows = [r for r in self.rows if r.procedure == kind]
            with theme.card(rows[0].procedure_name.capitalize()), ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-proc w-full").mark(f"procedures-deadlines-{kind}"):
                with ui.element("tr"):
                    for key in ("procedures.col.operation", "procedures.col.days"):
                        with ui.element("th"):
                            ui.label(t(key))
                for row in rows:
                    with ui.element("tr"):
                        with ui.element("td").classes("max-w-[16rem]"):
                            ui.label(row.operation_name).classes("break-words")
                            if row.automatic:
                                ui.label(t("procedures.auto")).classes("text-xs du-muted")
                        with ui.element("td"):
                            if editable:
                                self._editor(row, error)
                            else:
                                ui.label(str(row.days)).mark(f"procedures-days-{kind}-{row.operation}")

    def _editor(self, row: Deadline, error: ui.label) -> None:
        with ui.row().classes("items-center gap-1 no-wrap"):
            field = ui.number(value=row.days, min=1, max=365, step=1, format="%d").props("outlined dense") \
                .classes("w-24").mark(f"procedures-days-{row.procedure}-{row.operation}")
            field.props["aria-label"] = row.operation_name  # the row's name: the field has no label of its own

            async def save() -> None:
                value = field.value
                if value is None or value != int(value):
                    error.text = t("procedures.bad_number", field=row.operation_name)
                    return
                done = await _guarded(error, self.procedures.set_deadline(self.viewer.token, row.procedure,
                                                                          row.operation, int(value)))
                if done is not None:
                    ui.notify(t("procedures.saved"), type="positive")
                    await self.load()

            ui.button(icon="save", on_click=save) \
                .props(f'flat round dense aria-label="{t("procedures.save")}"') \
                .tooltip(t("procedures.save")) \
                .mark(f"procedures-save-{row.procedure}-{row.operation}")
