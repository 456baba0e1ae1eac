"""Page «Уведомления» (manual 4.5.10, menu "Сервис"): notices to residents, published or not (a switch
between the two), each with its dates (created, published, end of the works), text, buildings, author
and editor; a dispatcher writes and edits drafts, publishes and unpublishes them (confirmed), deletes a
draft never published. Engineers and readers see the page read-only.

Rules are the service's (cloud/services/notices.py, desk_rules.py). Registered by ui/desk_page.py at
/service/notices. Tests: tests/ui/test_desk_ui.py.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.notices import Notice

from . import access, auth, fmt, pages, theme, widgets
from .desk_page import NOTICES_PATH, DeskServices, attempt, problem_label
from .i18n import extend, t

extend({
    "notices.title": ("Уведомления", "Notices"),
    "notices.subtitle": ("Информационные сообщения для владельцев помещений", "Messages to the residents"),
    "notices.published": ("Опубликованные", "Published"),
    "notices.drafts": ("Неопубликованные", "Unpublished"),
    "notices.empty.published": ("Опубликованных уведомлений нет.", "No published notices."),
    "notices.empty.drafts": ("Неопубликованных уведомлений нет.", "No unpublished notices."),
    "notices.new": ("Новое уведомление", "New notice"),
    "notices.created": ("Создано", "Created"),
    "notices.published_at": ("Опубликовано", "Published"),
    "notices.unpublished_at": ("Снято с публикации", "Unpublished"),
    "notices.period": ("Период актуальности", "Relevant"),
    "notices.period.value": ("с {start} по {end}", "from {start} to {end}"),
    "notices.period.open": ("с {start}, до снятия с публикации", "from {start} until unpublished"),
    "notices.works_end": ("Окончание работ", "Works end"),
    "notices.buildings": ("Объекты", "Buildings"),
    "notices.author": ("Автор", "Author"),
    "notices.editor": ("Редактор", "Editor"),
    "notices.field.title": ("Заголовок", "Title"),
    "notices.field.body": ("Содержание уведомления", "Text"),
    "notices.field.buildings": ("Объекты (адресаты)", "Buildings (addressees)"),
    "notices.field.from": ("Актуально с", "Relevant from"),
    "notices.field.to": ("Дата окончания проведения работ (необязательно)", "End of the works (optional)"),
    "notices.bad_date": ("Укажите дату в формате ГГГГ-ММ-ДД.", "Give the date as YYYY-MM-DD."),
    "notices.edit": ("Редактировать", "Edit"),
    "notices.edit.title": ("Уведомление", "Notice"),
    "notices.publish": ("Опубликовать", "Publish"),
    "notices.publish.confirm": ("Опубликовать «{title}»? Его увидят владельцы помещений выбранных объектов.",
                                "Publish “{title}”? The residents of its buildings will see it."),
    "notices.unpublish": ("Снять с публикации", "Unpublish"),
    "notices.unpublish.confirm": ("Снять «{title}» с публикации? Владельцы помещений перестанут его видеть.",
                                  "Unpublish “{title}”? The residents will no longer see it."),
    "notices.delete": ("Удалить черновик", "Delete the draft"),
    "notices.delete.confirm": ("Удалить черновик «{title}»?", "Delete the draft “{title}”?"),
    "notices.done": ("Сохранено", "Saved"),
    "desk.refused.no_buildings": ("выберите хотя бы один объект.", "choose at least one building."),
    "desk.refused.period_reversed": ("дата окончания раньше даты начала.", "the end is before the start."),
    "desk.refused.notice_published": ("опубликованное уведомление не редактируется: сначала снимите его с "
                                      "публикации.", "unpublish the notice first."),
    "desk.refused.notice_published_already": ("уведомление уже опубликовано.", "published already."),
    "desk.refused.notice_period_over": ("период актуальности закончился {relevant_to}: измените его.",
                                        "the period ended on {relevant_to}: change it."),
    "desk.refused.notice_not_published": ("уведомление не опубликовано.", "the notice is not published."),
    "desk.refused.notice_was_published": ("уведомление публиковалось: его можно снять с публикации, но не "
                                          "удалить.", "it was published: unpublish it instead."),
})


def register(services: DeskServices) -> None:
    """Register /service/notices."""

    @ui.page(NOTICES_PATH, response_timeout=30.0)
    async def notices_page(request: Request, show: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=NOTICES_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = NoticesPage(services, viewer, show != "drafts")
        if not await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"), active=NOTICES_PATH):
            return None
        page.render()
        return None


class NoticesPage:
    def __init__(self, services: DeskServices, viewer: auth.Viewer, published: bool) -> None:
        self.services = services
        self.viewer = viewer
        self.published = published
        self.rows: list[Notice] = []

    @property
    def may_change(self) -> bool:
        return access.may_change_settings(self.viewer.user)  # a dispatcher without reader status

    async def load(self) -> None:
        self.rows = await self.services.notices.notices(self.viewer.token, published=self.published)

    async def reload(self) -> None:
        async with theme.working():
            rows = await attempt(self.services.notices.notices(self.viewer.token, published=self.published))
        if rows is not None:
            self.rows = rows
        self.body.refresh()

    def render(self) -> None:
        with theme.frame(t("notices.title"), self.viewer.user, active=NOTICES_PATH, subtitle=t("notices.subtitle")):
            self.body()

    async def _switch(self, published: bool) -> None:
        self.published = published
        await self.reload()

    @ui.refreshable_method
    def body(self) -> None:
        with ui.row().classes("w-full items-center justify-between gap-3 flex-wrap"):
            ui.toggle({True: t("notices.published"), False: t("notices.drafts")}, value=self.published,
                      on_change=lambda e: self._switch(bool(e.value))).props("no-caps unelevated") \
                .mark("notices-switch")
            if self.may_change:
                ui.button(t("notices.new"), icon="add", on_click=lambda: self._form(None)) \
                    .props("unelevated no-caps").mark("notices-new")
        if not self.rows:
            with theme.card():
                theme.message(t("notices.empty.published" if self.published else "notices.empty.drafts"))
            return
        for notice in self.rows:
            self._card(notice)

    def _card(self, n: Notice) -> None:
        with theme.card().mark(f"notice-{n.id}"):
            ui.label(n.title).classes("du-card-title break-words")
            ui.label(n.body).classes("whitespace-pre-wrap break-words")
            widgets.fact(t("notices.buildings"), ", ".join(b.address for b in n.buildings))
            widgets.fact(t("notices.period"), t("notices.period.value", start=fmt.day(n.relevant_from),
                                                 end=fmt.day(n.relevant_to)) if n.relevant_to
                         else t("notices.period.open", start=fmt.day(n.relevant_from)))
            widgets.fact(t("notices.created"), fmt.moment(n.created_at))
            if n.published_at:
                widgets.fact(t("notices.published_at"), f"{fmt.moment(n.published_at)}, {n.publisher or ''}")
            elif n.unpublished_at:
                widgets.fact(t("notices.unpublished_at"), fmt.moment(n.unpublished_at))
            if n.relevant_to:
                widgets.fact(t("notices.works_end"), fmt.day(n.relevant_to))
            widgets.fact(t("notices.author"), n.author)
            if n.editor and n.updated_at:
                widgets.fact(t("notices.editor"), f"{n.editor}, {fmt.moment(n.updated_at)}")
            if self.may_change:
                with ui.row().classes("w-full justify-end gap-2 flex-wrap"):
                    if n.published:
                        ui.button(t("notices.unpublish"), icon="unpublished",
                                  on_click=lambda x=n: self._confirm(x, "unpublish")) \
                            .props("outline no-caps").mark(f"notice-unpublish-{n.id}")
                    else:
                        if not n.ever_published:
                            ui.button(t("notices.delete"), icon="delete",
                                      on_click=lambda x=n: self._confirm(x, "delete")) \
                                .props("flat no-caps color=negative").mark(f"notice-delete-{n.id}")
                        ui.button(t("notices.edit"), icon="edit", on_click=lambda x=n: self._form(x)) \
                            .props("outline no-caps").mark(f"notice-edit-{n.id}")
                        ui.button(t("notices.publish"), icon="publish",
                                  on_click=lambda x=n: self._confirm(x, "publish")) \
                            .props("unelevated no-caps").mark(f"notice-publish-{n.id}")

    def _confirm(self, n: Notice, action: str) -> None:
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("notice-confirm-dialog"):
            ui.label(t(f"notices.{action}.confirm", title=n.title)).classes("break-words")
            problem = problem_label()

            async def go() -> None:
                notices, token = self.services.notices, self.viewer.token
                call = {"publish": notices.publish, "unpublish": notices.unpublish, "delete": notices.delete}[action]
                async with theme.working():
                    done = await attempt(call(token, n.id), problem)
                if (done is None and action != "delete") or problem.text:
                    return
                dialog.close()
                ui.notify(t("notices.done"), type="positive")
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("desk.cancel_button"), on_click=dialog.close).props("flat no-caps")
                ui.button(t(f"notices.{action}"), on_click=go) \
                    .props("unelevated no-caps" + (" color=negative" if action == "delete" else "")) \
                    .mark("notice-confirm")
        dialog.open()

    async def _form(self, n: Notice | None) -> None:
        async with theme.working():
            buildings = await attempt(self.services.accounting.buildings(self.viewer.token))
            today = n.relevant_from if n is not None else await attempt(self.services.notices.today(self.viewer.token))
        if buildings is None or today is None:
            return
        with ui.dialog() as dialog, theme.card(t("notices.edit.title")).classes("w-full max-w-lg") \
                .mark("notice-form"):
            title = ui.input(t("notices.field.title"), value=n.title if n else "").props("outlined dense") \
                .classes("w-full").mark("notice-title")
            body = ui.textarea(t("notices.field.body"), value=n.body if n else "") \
                .props("outlined dense autogrow").classes("w-full").mark("notice-body")
            chosen = ui.select({b.id: b.address for b in buildings}, multiple=True,
                               value=[b.id for b in n.buildings] if n else [], label=t("notices.field.buildings")) \
                .props("outlined dense use-chips").classes("w-full").mark("notice-buildings")
            start = ui.input(t("notices.field.from"), value=today.isoformat()).props("outlined dense type=date") \
                .classes("w-full").mark("notice-from")
            end = ui.input(t("notices.field.to"), value=n.relevant_to.isoformat() if n and n.relevant_to else "") \
                .props("outlined dense type=date clearable").classes("w-full").mark("notice-to")
            problem = problem_label()

            async def save() -> None:
                try:
                    first = date.fromisoformat((start.value or "").strip())
                    last = date.fromisoformat(end.value.strip()) if (end.value or "").strip() else None
                except ValueError:
                    problem.text = t("notices.bad_date")
                    return
                notices, token = self.services.notices, self.viewer.token
                ids = [int(i) for i in chosen.value or []]
                async with theme.working():
                    done = await attempt(
                        notices.create(token, title.value or "", body.value or "", ids, first, last) if n is None
                        else notices.edit(token, n.id, title.value or "", body.value or "", ids, first, last), problem)
                if done is None:
                    return
                dialog.close()
                ui.notify(t("notices.done"), type="positive")
                self.published = done.published
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("desk.cancel_button"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("desk.save"), on_click=save).props("unelevated no-caps").mark("notice-save")
        dialog.open()
