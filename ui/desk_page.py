"""Page «Диспетчерская» (manual 4.5.9, menu "Сервис"): the company's tickets with the filters of the
manual (sphere, management category, stage, cancelled, grouped; number, building, premise, applicant,
period) and a search; a ticket's page with every stage passed (date, who, comments) and the actions
the viewer may take: a dispatcher registers, qualifies, assigns, moves, cancels and groups; an engineer
registers tickets and changes only those assigned to them; readers see everything read-only.

Who may do what is the service's (cloud/services/desk.py, desk_rules.py); this page words its
refusals in Russian. Also registers «Уведомления» (ui/desk_notices_page.py). Routes: /service/desk,
/service/desk/{ticket_id}. Tests: tests/ui/test_desk_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.desk import Engineer, Ticket, TicketDetail, TicketList, TicketQuery
from cloud.services.desk_rules import CATEGORIES, SPHERES, STAGES, DeskRuleError
from cloud.services.models import AuthError, Forbidden, InvalidInput, NotFound, Role

from . import auth, errors, fmt, pages, theme, widgets
from .i18n import extend, t
from .ports import Services

if TYPE_CHECKING:
    from cloud.services.desk import DeskService
    from cloud.services.notices import NoticesService

    from .ports import AccountingService

PATH = "/service/desk"
NOTICES_PATH = "/service/notices"
T = TypeVar("T")
SPHERE_ICONS = {"heating": "local_fire_department", "hot_water": "water_drop", "cold_water": "water",
                "sewerage": "plumbing", "electricity": "bolt", "gas": "propane", "metering": "speed",
                "other": "build"}

extend({
    "desk.title": ("Диспетчерская", "Dispatch desk"),
    "desk.subtitle": ("Обращения владельцев помещений и сервис-инженеров", "Tickets from residents and engineers"),
    "desk.sphere.heating": ("Теплоснабжение", "Heating"),
    "desk.sphere.hot_water": ("Горячее водоснабжение", "Hot water"),
    "desk.sphere.cold_water": ("Холодное водоснабжение", "Cold water"),
    "desk.sphere.sewerage": ("Водоотведение", "Sewerage"),
    "desk.sphere.electricity": ("Электроснабжение", "Electricity"),
    "desk.sphere.gas": ("Газоснабжение", "Gas"),
    "desk.sphere.metering": ("Приборы учёта", "Meters"),
    "desk.sphere.other": ("Прочее", "Other"),
    "desk.category.azo": ("АЗО", "AZO"),
    "desk.category.ppr": ("ППР", "PPR"),
    "desk.category.off_journal": ("Вне журнальные", "Off-journal"),
    "desk.stage.registration": ("Регистрация", "Registration"),
    "desk.stage.qualification": ("Квалификация", "Qualification"),
    "desk.stage.execution": ("Выполнение", "Execution"),
    "desk.stage.completion": ("Завершение", "Completion"),
    "desk.source.resident": ("владелец помещения", "resident"),
    "desk.source.engineer": ("сервис-инженер", "engineer"),
    "desk.source.dispatcher": ("диспетчер", "dispatcher"),
    "desk.filter.spheres": ("Сфера работ", "Sphere"),
    "desk.filter.categories": ("Категория управления", "Management category"),
    "desk.filter.stages": ("Статус", "Status"),
    "desk.filter.cancelled": ("Отменённые", "Cancelled"),
    "desk.filter.cancelled.any": ("все", "all"),
    "desk.filter.cancelled.only": ("только отменённые", "cancelled only"),
    "desk.filter.cancelled.none": ("без отменённых", "not cancelled"),
    "desk.filter.grouped": ("Только сгруппированные", "Grouped only"),
    "desk.filter.mine": ("Назначенные мне", "Assigned to me"),
    "desk.filter.text": ("Поиск: номер, объект, помещение, заявитель, текст", "Search: number, building, premise, "
                         "applicant, text"),
    "desk.filter.applicant": ("ФИО заявителя", "Applicant"),
    "desk.filter.premise": ("Помещение", "Premise"),
    "desk.filter.from": ("С даты", "From"),
    "desk.filter.to": ("По дату", "To"),
    "desk.filter.reset": ("Сбросить фильтры", "Reset filters"),
    "desk.filter.bad_date": ("Дата в формате ГГГГ-ММ-ДД", "A date as YYYY-MM-DD"),
    "desk.empty": ("Обращений нет.", "No tickets."),
    "desk.empty_filtered": ("Нет обращений, отвечающих фильтрам.", "No tickets match the filters."),
    "desk.more": ("Показаны последние {shown} из {total}: уточните фильтры.",
                  "The latest {shown} of {total} are shown: narrow the filters."),
    "desk.col.number": ("№", "No."),
    "desk.col.created": ("Дата", "Date"),
    "desk.col.place": ("Объект, помещение", "Building, premise"),
    "desk.col.applicant": ("Заявитель", "Applicant"),
    "desk.col.type": ("Сфера, категория", "Sphere, category"),
    "desk.col.stage": ("Статус", "Status"),
    "desk.col.assignee": ("Исполнитель", "Assignee"),
    "desk.cancelled": ("Отменено", "Cancelled"),
    "desk.grouped": ("В группе", "Grouped"),
    "desk.new": ("Новое обращение", "New ticket"),
    "desk.new.title": ("Регистрация обращения", "Register a ticket"),
    "desk.field.building": ("Объект", "Building"),
    "desk.field.premise": ("Помещение (необязательно)", "Premise (optional)"),
    "desk.field.sphere": ("Сфера работ", "Sphere"),
    "desk.field.category": ("Категория управления", "Management category"),
    "desk.field.description": ("Описание обращения", "Description"),
    "desk.field.applicant": ("ФИО владельца, если обратился он (иначе заявитель — вы)",
                             "The resident's name if they called (else you are the applicant)"),
    "desk.field.phone": ("Телефон для связи", "Phone"),
    "desk.field.none": ("—", "—"),
    "desk.save": ("Сохранить", "Save"),
    "desk.cancel_button": ("Отмена", "Cancel"),
    "desk.register": ("Зарегистрировать", "Register"),
    "desk.ticket.title": ("Обращение № {number}", "Ticket No. {number}"),
    "desk.ticket.not_found": ("Обращение не найдено или недоступно.", "The ticket was not found or is not available."),
    "desk.ticket.place": ("Объект", "Building"),
    "desk.ticket.premise": ("Помещение", "Premise"),
    "desk.ticket.applicant": ("Заявитель", "Applicant"),
    "desk.ticket.source": ("Источник", "Source"),
    "desk.ticket.author": ("Зарегистрировал", "Registered by"),
    "desk.ticket.assignee": ("Исполнитель", "Assignee"),
    "desk.ticket.none": ("не назначен", "not assigned"),
    "desk.ticket.head": ("Прикреплено к обращению № {number}", "Attached to ticket No. {number}"),
    "desk.ticket.attached": ("Прикреплённые обращения", "Attached tickets"),
    "desk.ticket.cancelled_at": ("Обращение отменено {at}", "Cancelled on {at}"),
    "desk.stages": ("Этапы обращения", "Stages"),
    "desk.stage.reached": ("{at}, {who}", "{at}, {who}"),
    "desk.stage.not_reached": ("не пройден", "not reached"),
    "desk.history": ("Журнал обращения", "Ticket log"),
    "desk.action.register": ("Зарегистрировано", "Registered"),
    "desk.action.move": ("Этап: {source} → {target}", "Stage: {source} → {target}"),
    "desk.action.assign": ("Назначен исполнитель: {name}", "Assigned: {name}"),
    "desk.action.edit": ("Изменены данные обращения", "Ticket changed"),
    "desk.action.comment": ("Комментарий", "Comment"),
    "desk.action.cancel": ("Обращение отменено", "Cancelled"),
    "desk.action.attach": ("Прикреплено к обращению № {head}", "Attached to ticket No. {head}"),
    "desk.action.detach": ("Откреплено от обращения № {head}", "Detached from ticket No. {head}"),
    "desk.move.to": ("На этап «{stage}»", "To {stage}"),
    "desk.move.return": ("Вернуть на квалификацию", "Return for qualification"),
    "desk.move.reopen": ("Возобновить выполнение", "Reopen"),
    "desk.move.title": ("Перевести обращение № {number} на этап «{stage}»?",
                        "Move ticket No. {number} to {stage}?"),
    "desk.note": ("Комментарий к этапу (обязательно)", "Comment (required)"),
    "desk.confirm": ("Подтвердить", "Confirm"),
    "desk.done": ("Сохранено", "Saved"),
    "desk.edit": ("Изменить", "Edit"),
    "desk.assign": ("Назначить исполнителя", "Assign"),
    "desk.assign.engineer": ("Сервис-инженер", "Engineer"),
    "desk.assign.nobody": ("Нет сервис-инженеров, которых можно назначить.", "No engineer can be assigned."),
    "desk.comment": ("Добавить комментарий", "Add a comment"),
    "desk.comment.text": ("Комментарий", "Comment"),
    "desk.cancel": ("Отменить обращение", "Cancel the ticket"),
    "desk.cancel.title": ("Отменить обращение № {number}? Отмена окончательна.",
                          "Cancel ticket No. {number}? This is final."),
    "desk.cancel.reason": ("Причина отмены (обязательно)", "Reason (required)"),
    "desk.attach": ("Прикрепить к обращению", "Attach to a ticket"),
    "desk.attach.head": ("Номер главного обращения", "Head ticket number"),
    "desk.attach.title": ("Прикрепить обращение № {number} к группе", "Attach ticket No. {number} to a group"),
    "desk.detach": ("Открепить от группы", "Detach from the group"),
    "desk.detach.title": ("Открепить обращение № {number} от обращения № {head}?",
                          "Detach ticket No. {number} from ticket No. {head}?"),
    "desk.back": ("К списку обращений", "Back to the desk"),
    "desk.read_only": ("Изменять обращение могут диспетчер и назначенный на него сервис-инженер.",
                       "A dispatcher and the engineer assigned to it may change this ticket."),
    "desk.refused.cancelled": ("обращение отменено и больше не изменяется.", "the ticket is cancelled."),
    "desk.refused.stage_unknown": ("неизвестный этап.", "unknown stage."),
    "desk.refused.move_illegal": ("с этапа «{source}» нельзя перейти на «{target}».",
                                  "a ticket at {source} cannot move to {target}."),
    "desk.refused.needs_sphere": ("сначала укажите сферу работ.", "set the sphere first."),
    "desk.refused.needs_category": ("сначала укажите категорию управления.", "set the category first."),
    "desk.refused.needs_assignee": ("сначала назначьте исполнителя.", "assign an engineer first."),
    "desk.refused.completed": ("обращение завершено: чтобы изменить его, возобновите выполнение.",
                               "the ticket is completed: reopen it first."),
    "desk.refused.cancel_completed": ("завершённое обращение нельзя отменить; сначала возобновите его.",
                                      "a completed ticket cannot be cancelled; reopen it first."),
    "desk.refused.attach_self": ("обращение нельзя прикрепить к самому себе.", "a ticket cannot head itself."),
    "desk.refused.head_cancelled": ("обращение № {head} отменено.", "ticket No. {head} is cancelled."),
    "desk.refused.head_attached": ("обращение № {head} само прикреплено к № {parent}: прикрепите к нему.",
                                   "ticket No. {head} is attached to No. {parent}: attach to that one."),
    "desk.refused.has_children": ("к этому обращению прикреплены другие: оно главное в своей группе.",
                                  "other tickets are attached to this one."),
    "desk.refused.attached_already": ("обращение уже прикреплено к № {head}.", "already attached to No. {head}."),
    "desk.refused.not_attached": ("обращение не прикреплено к группе.", "the ticket is not in a group."),
    "desk.refused.assigned_already": ("этот исполнитель уже назначен.", "already assigned so."),
    "desk.refused.required": ("заполните поле «{field}».", "fill in “{field}”."),
    "desk.refused.too_long": ("поле «{field}» длиннее {limit} символов.", "“{field}” is longer than {limit}."),
    "desk.field_name.note": ("комментарий", "comment"),
    "desk.field_name.description": ("описание", "description"),
    "desk.field_name.title": ("заголовок", "title"),
    "desk.field_name.body": ("текст", "text"),
    "desk.field_name.applicant_name": ("ФИО заявителя", "applicant"),
    "desk.field_name.applicant": ("ФИО заявителя", "applicant"),
    "desk.field_name.address": ("объект", "building"),
    "desk.field_name.premise": ("помещение", "premise"),
    "desk.field_name.text": ("поиск", "search"),
})


FIELD_NAMES = frozenset(f"desk.field_name.{f}" for f in ("note", "description", "title", "body", "applicant_name",
                                                           "applicant", "address", "premise", "text"))


class DeskServices(Protocol):
    @property
    def auth(self) -> Any: ...

    @property
    def accounting(self) -> AccountingService: ...

    @property
    def desk(self) -> DeskService: ...

    @property
    def notices(self) -> NoticesService: ...


def refusal(error: DeskRuleError) -> str:
    """A rule's refusal in the page's language (the service's message is the API's English)."""
    params: dict[str, Any] = {k: fmt.day(v) if isinstance(v, date) else v for k, v in error.params.items()}
    for key in ("source", "target", "stage"):
        if params.get(key) in STAGES:
            params[key] = t(f"desk.stage.{params[key]}")
    if "field" in params and f"desk.field_name.{params['field']}" in FIELD_NAMES:
        params["field"] = t(f"desk.field_name.{params['field']}")
    return t(f"desk.refused.{error.reason}", **params)


async def attempt(call: Awaitable[T], problem: ui.label | None = None) -> T | None:
    """Await a service call from an event handler; a refusal is shown next to the form (``problem``) in
    Russian, or as a notification; an ended session goes to the login page."""
    if problem is not None:
        problem.text = ""
    try:
        return await call
    except DeskRuleError as error:
        text = refusal(error)
    except InvalidInput as error:
        text = t("error.invalid_input", reason=errors.reason(str(error)))
    except AuthError:
        auth.session_ended()
        return None
    except NotFound:
        text = t("error.not_found")
    except Forbidden:
        text = t("error.forbidden_text")
    if problem is not None:
        problem.text = text
    else:
        ui.notify(text, type="warning")
    return None


def problem_label() -> ui.label:
    return ui.label("").classes("text-sm text-[#c2413b] break-words").mark("desk-problem")


def may_register(viewer: auth.Viewer) -> bool:
    return not viewer.user.reader and viewer.user.role in (Role.DISPATCHER, Role.ENGINEER)


def stage_chip(ticket: Ticket) -> None:
    colour = {"registration": "grey-7", "qualification": "indigo-6", "execution": "orange-8",
              "completion": "green-7"}[ticket.stage]
    ui.badge(t(f"desk.stage.{ticket.stage}"), color=colour).props("rounded outline" if ticket.cancelled else "rounded")


def register(services: Services) -> None:
    """Register /service/desk, /service/desk/{ticket_id} and /service/notices."""
    from .desk_notices_page import register as register_notices

    desk = cast(DeskServices, services)
    register_notices(desk)

    @ui.page(PATH, response_timeout=30.0)
    async def desk_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = DeskPage(desk, viewer)
        if not await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"), active=PATH):
            return None
        page.render()
        return None

    @ui.page(PATH + "/{ticket_id}", response_timeout=30.0)
    async def ticket_page(request: Request, ticket_id: str) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        if not ticket_id.isdigit() or not 1 <= int(ticket_id) < 2**63:
            pages.problem_page(viewer.user, t("error.not_found"), t("desk.ticket.not_found"), active=PATH)
            return None
        from .desk_ticket_page import TicketPage

        page = TicketPage(desk, viewer, int(ticket_id))
        if not await pages.explained(viewer.user, page.load(), not_found=t("desk.ticket.not_found"), active=PATH):
            return None
        page.render()
        return None


class DeskPage:
    def __init__(self, services: DeskServices, viewer: auth.Viewer) -> None:
        self.services = services
        self.viewer = viewer
        self.query = TicketQuery()
        self.found = TicketList((), 0)

    async def load(self) -> None:
        self.found = await self.services.desk.tickets(self.viewer.token, self.query)

    async def reload(self) -> None:
        async with theme.working():
            found = await attempt(self.services.desk.tickets(self.viewer.token, self.query))
        if found is not None:
            self.found = found
        self.body.refresh()

    def render(self) -> None:
        with theme.frame(t("desk.title"), self.viewer.user, active=PATH, subtitle=t("desk.subtitle")):
            self.filters()
            self.body()

    # --- filters -----------------------------------------------------------------------------------

    def filters(self) -> None:
        q = self.query
        with theme.card(), ui.row().classes("w-full items-end gap-3 flex-wrap"):
            self._multi("spheres", SPHERES, "sphere", q.spheres)
            self._multi("categories", CATEGORIES, "category", q.categories)
            self._multi("stages", STAGES, "stage", q.stages)
            cancelled = {"any": t("desk.filter.cancelled.any"), "only": t("desk.filter.cancelled.only"),
                         "none": t("desk.filter.cancelled.none")}
            ui.select(cancelled, value="any", label=t("desk.filter.cancelled"),
                      on_change=lambda e: self._set(cancelled={"any": None, "only": True, "none": False}[e.value])) \
                .props("outlined dense").classes("w-full sm:w-48").mark("desk-filter-cancelled")
            ui.checkbox(t("desk.filter.grouped"), on_change=lambda e: self._set(grouped=True if e.value else None)) \
                .mark("desk-filter-grouped")
            if self.viewer.user.role is Role.ENGINEER:
                ui.checkbox(t("desk.filter.mine"), on_change=lambda e: self._set(mine=bool(e.value))) \
                    .mark("desk-filter-mine")
        with theme.card(), ui.row().classes("w-full items-end gap-3 flex-wrap"):
            ui.input(t("desk.filter.text"), on_change=lambda e: self._set(text=e.value or "")) \
                .props("outlined dense clearable debounce=400").classes("w-full sm:w-80").mark("desk-search")
            ui.input(t("desk.filter.applicant"), on_change=lambda e: self._set(applicant=e.value or "")) \
                .props("outlined dense clearable debounce=400").classes("w-full sm:w-56").mark("desk-applicant")
            ui.input(t("desk.filter.premise"), on_change=lambda e: self._set(premise=e.value or "")) \
                .props("outlined dense clearable debounce=400").classes("w-full sm:w-32").mark("desk-premise")
            for key, name in (("day_from", "desk.filter.from"), ("day_to", "desk.filter.to")):
                ui.input(t(name), on_change=lambda e, k=key: self._day(k, e.value)) \
                    .props("outlined dense clearable type=date").classes("w-full sm:w-44").mark(f"desk-{key}")

    def _multi(self, name: str, choices: tuple[str, ...], prefix: str, value: tuple[str, ...]) -> None:
        ui.select({c: t(f"desk.{prefix}.{c}") for c in choices}, multiple=True, value=list(value),
                  label=t(f"desk.filter.{name}"),
                  on_change=lambda e: self._set(**{name: tuple(e.value or ())})) \
            .props("outlined dense use-chips").classes("w-full sm:w-64").mark(f"desk-filter-{name}")

    async def _set(self, **changes: Any) -> None:
        self.query = replace(self.query, **changes)
        await self.reload()

    async def _day(self, key: str, value: str | None) -> None:
        try:
            day = date.fromisoformat(value) if value else None
        except ValueError:
            ui.notify(t("desk.filter.bad_date"), type="warning")
            return
        await self._set(**{key: day})

    # --- list --------------------------------------------------------------------------------------

    @ui.refreshable_method
    def body(self) -> None:
        with theme.card():
            if may_register(self.viewer):
                ui.button(t("desk.new"), icon="add", on_click=self._new).props("unelevated no-caps") \
                    .mark("desk-new")
            rows = self.found.rows
            if not rows:
                theme.message(t("desk.empty_filtered" if self.query != TicketQuery() else "desk.empty"))
                return
            if self.found.total > len(rows):
                theme.message(t("desk.more", shown=len(rows), total=self.found.total))
            self._table(rows)

    def _table(self, rows: tuple[Ticket, ...]) -> None:
        ui.add_css(".du-desk th:first-child, .du-desk td:first-child { position: sticky; left: 0; background: #fff; "
                   "z-index: 1; } .du-desk td, .du-desk th { padding: 6px 10px; border-bottom: 1px solid #edf1f5; "
                   "text-align: left; vertical-align: top; } .du-desk th { background: #f7f9fb; font-weight: 600; "
                   "color: #334e68; } .du-desk tr.du-cancelled td { color: #829ab1; }")
        with ui.element("div").classes("w-full overflow-x-auto"), \
                ui.element("table").classes("du-desk w-full min-w-[760px]").mark("desk-table"):
            with ui.element("tr"):
                for key in ("number", "created", "place", "applicant", "type", "stage", "assignee"):
                    with ui.element("th"):
                        ui.label(t(f"desk.col.{key}"))
            for row in rows:
                self._row(row)

    def _row(self, row: Ticket) -> None:
        with ui.element("tr").classes("du-cancelled" if row.cancelled else "").mark(f"desk-row-{row.id}"):
            with ui.element("td"), ui.row().classes("items-center gap-1 no-wrap"):
                ui.link(str(row.id), f"{PATH}/{row.id}").classes("du-link").mark(f"desk-open-{row.id}")
                if row.cancelled:
                    ui.icon("block", size="16px").classes("text-[#c2413b]").tooltip(t("desk.cancelled")) \
                        .mark(f"desk-cancelled-{row.id}")
                if row.grouped:
                    ui.icon("link", size="16px").tooltip(t("desk.grouped")).mark(f"desk-grouped-{row.id}")
            with ui.element("td"):
                ui.label(fmt.moment(row.created_at)).classes("text-sm")
            with ui.element("td").classes("max-w-[16rem]"):
                ui.label(row.address).classes("truncate").tooltip(row.address)
                if row.premise_number:
                    ui.label(t("desk.ticket.premise") + f" {row.premise_number}").classes("text-xs du-muted")
            with ui.element("td"):
                ui.label(row.applicant_name).classes("text-sm")
                ui.label(row.description).classes("text-xs du-muted line-clamp-2 max-w-[18rem]")
            with ui.element("td"), ui.row().classes("items-center gap-1 no-wrap"):
                if row.sphere:
                    ui.icon(SPHERE_ICONS[row.sphere], size="18px").tooltip(t(f"desk.sphere.{row.sphere}"))
                ui.label(t(f"desk.category.{row.category}") if row.category else "—").classes("text-sm")
            with ui.element("td"):
                stage_chip(row)
            with ui.element("td"):
                ui.label(row.assignee or "—").classes("text-sm")

    # --- registering -------------------------------------------------------------------------------

    async def _new(self) -> None:
        async with theme.working():
            buildings = await attempt(self.services.accounting.buildings(self.viewer.token))
        if not buildings:
            return
        is_dispatcher = self.viewer.user.role is Role.DISPATCHER
        with ui.dialog() as dialog, theme.card(t("desk.new.title")).classes("max-w-lg").mark("desk-new-dialog"):
            building = ui.select({b.id: b.address for b in buildings}, value=buildings[0].id,
                                 label=t("desk.field.building")).props("outlined dense").classes("w-full") \
                .mark("desk-new-building")
            premise = ui.select({0: t("desk.field.none")}, value=0, label=t("desk.field.premise")) \
                .props("outlined dense").classes("w-full").mark("desk-new-premise")

            async def premises() -> None:
                found = await attempt(self.services.accounting.premises(self.viewer.token, int(building.value)))
                premise.options = {0: t("desk.field.none"), **{p.id: p.number for p in found or ()}}
                premise.value = 0
                premise.update()
            building.on_value_change(premises)
            await premises()
            sphere = ui.select({"": t("desk.field.none"), **{s: t(f"desk.sphere.{s}") for s in SPHERES}}, value="",
                               label=t("desk.field.sphere")).props("outlined dense").classes("w-full") \
                .mark("desk-new-sphere")
            category = ui.select({"": t("desk.field.none"), **{c: t(f"desk.category.{c}") for c in CATEGORIES}},
                                 value="", label=t("desk.field.category")).props("outlined dense") \
                .classes("w-full").mark("desk-new-category")
            category.set_visibility(is_dispatcher)
            description = ui.textarea(t("desk.field.description")).props("outlined dense autogrow") \
                .classes("w-full").mark("desk-new-description")
            applicant = ui.input(t("desk.field.applicant")).props("outlined dense").classes("w-full") \
                .mark("desk-new-applicant")
            phone = ui.input(t("desk.field.phone")).props("outlined dense type=tel").classes("w-full") \
                .mark("desk-new-phone")
            problem = problem_label()

            async def register_ticket() -> None:
                async with theme.working():
                    done = await attempt(self.services.desk.create(
                        self.viewer.token, int(building.value), description.value or "",
                        premise_id=int(premise.value) or None, sphere=sphere.value or None,
                        category=category.value or None, applicant_name=applicant.value or "",
                        applicant_phone=phone.value or ""), problem)
                if done is None:
                    return
                dialog.close()
                ui.navigate.to(f"{PATH}/{done.ticket.id}")

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("desk.cancel_button"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("desk.register"), on_click=register_ticket).props("unelevated no-caps") \
                    .mark("desk-new-save")
        dialog.open()


def detail_facts(detail: TicketDetail) -> None:
    """The ticket's fields as label/value pairs."""
    ticket = detail.ticket
    widgets.fact(t("desk.ticket.place"), ticket.address)
    if ticket.premise_number:
        widgets.fact(t("desk.ticket.premise"), ticket.premise_number)
    widgets.fact(t("desk.ticket.applicant"), ticket.applicant_name + (f", {ticket.applicant_phone}"
                                                                      if ticket.applicant_phone else ""))
    widgets.fact(t("desk.ticket.source"), t(f"desk.source.{ticket.source}"))
    widgets.fact(t("desk.ticket.author"), f"{ticket.author}, {fmt.moment(ticket.created_at)}")
    widgets.fact(t("desk.field.sphere"), t(f"desk.sphere.{ticket.sphere}") if ticket.sphere else "—")
    widgets.fact(t("desk.field.category"), t(f"desk.category.{ticket.category}") if ticket.category else "—")
    widgets.fact(t("desk.ticket.assignee"), ticket.assignee or t("desk.ticket.none"))


def engineers_options(engineers: list[Engineer]) -> dict[int, str]:
    return {e.id: e.full_name for e in engineers}
