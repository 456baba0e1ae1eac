"""A ticket of the dispatch desk (manual 4.5.9, "Рис. 4.5.36"): its fields, every stage passed with its
date, who moved it there and the comments of that stage, the whole log, and the actions the service
says the viewer may take now (move with a note, assign, edit, comment, cancel, group), each confirmed.
Registered by ui/desk_page.py at /service/desk/{ticket_id}. Tests: tests/ui/test_desk_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from cloud.services.desk import TicketDetail, TicketStep
from cloud.services.desk_rules import CATEGORIES, SPHERES, STAGES, move_of

from . import auth, fmt, theme
from .desk_page import PATH, DeskServices, attempt, detail_facts, problem_label, stage_chip
from .i18n import t


class TicketPage:
    def __init__(self, services: DeskServices, viewer: auth.Viewer, ticket_id: int) -> None:
        self.services = services
        self.viewer = viewer
        self.ticket_id = ticket_id
        self.detail: TicketDetail | None = None

    async def load(self) -> None:
        self.detail = await self.services.desk.ticket(self.viewer.token, self.ticket_id)

    def render(self) -> None:
        with theme.frame(t("desk.ticket.title", number=self.ticket_id), self.viewer.user, active=PATH,
                         crumbs=((t("desk.title"), PATH),)):
            self.body()

    async def _done(self, result: TicketDetail | None, dialog: ui.dialog | None = None) -> None:
        if result is None:
            return
        if dialog is not None:
            dialog.close()
        self.detail = result
        ui.notify(t("desk.done"), type="positive")
        self.body.refresh()

    @ui.refreshable_method
    def body(self) -> None:
        detail = self.detail
        assert detail is not None  # noqa: S101 - load() ran before render()
        ticket = detail.ticket
        with theme.card().mark("desk-ticket"):
            with ui.row().classes("items-center gap-2"):
                stage_chip(ticket)
                if ticket.cancelled and ticket.cancelled_at:
                    ui.label(t("desk.ticket.cancelled_at", at=fmt.moment(ticket.cancelled_at))) \
                        .classes("text-sm text-[#c2413b]").mark("desk-ticket-cancelled")
                if ticket.parent_id:
                    ui.link(t("desk.ticket.head", number=ticket.parent_id), f"{PATH}/{ticket.parent_id}") \
                        .classes("du-link text-sm").mark("desk-ticket-head")
            ui.label(ticket.description).classes("whitespace-pre-wrap break-words").mark("desk-ticket-description")
            with ui.column().classes("w-full gap-1"):
                detail_facts(detail)
            if detail.attached:
                ui.label(t("desk.ticket.attached")).classes("du-card-title")
                with ui.row().classes("gap-2 flex-wrap"):
                    for child in detail.attached:
                        ui.link(f"№ {child.id}", f"{PATH}/{child.id}").classes("du-link")
        self._actions(detail)
        self._stages(detail)
        self._log(detail)

    # --- what was done -----------------------------------------------------------------------------

    def _stages(self, detail: TicketDetail) -> None:
        marks = {m.stage: m for m in detail.stages}
        with theme.card(t("desk.stages")).mark("desk-stages"):
            for stage in STAGES:
                mark = marks.get(stage)
                with ui.row().classes("w-full items-start gap-3 no-wrap").mark(f"desk-stage-{stage}"):
                    ui.icon("check_circle" if mark else "radio_button_unchecked", size="22px") \
                        .classes("text-[#2f855a]" if mark else "du-muted")
                    with ui.column().classes("gap-0 min-w-0"):
                        ui.label(t(f"desk.stage.{stage}")).classes("font-medium")
                        ui.label(t("desk.stage.reached", at=fmt.moment(mark.entered_at), who=mark.entered_by)
                                 if mark else t("desk.stage.not_reached")).classes("text-xs du-muted")
                        for step in detail.steps:
                            if step.stage == stage and step.note:
                                ui.label(f"{fmt.moment(step.at)} {step.who}: {step.note}") \
                                    .classes("text-sm break-words")

    def _log(self, detail: TicketDetail) -> None:
        with theme.card(t("desk.history")).mark("desk-log"):
            for step in reversed(detail.steps):
                with ui.column().classes("w-full gap-0"):
                    ui.label(f"{fmt.moment(step.at)} · {step.who}").classes("text-xs du-muted")
                    ui.label(_step_text(step)).classes("text-sm")
                    if step.note:
                        ui.label(step.note).classes("text-sm break-words whitespace-pre-wrap")

    # --- actions -----------------------------------------------------------------------------------

    def _actions(self, detail: TicketDetail) -> None:
        ticket = detail.ticket
        if not (detail.moves or detail.may_edit or detail.may_assign or detail.may_comment or detail.may_cancel
                or detail.may_group):
            with theme.card():
                theme.message(t("desk.read_only"), icon="lock")
            return
        with theme.card(), ui.row().classes("w-full gap-2 flex-wrap"):
            for target in detail.moves:
                move = move_of(ticket.stage, target)
                label = t(f"desk.move.{move.kind}") if move and move.kind != "forward" else \
                    t("desk.move.to", stage=t(f"desk.stage.{target}"))
                ui.button(label, icon="arrow_forward" if move and move.kind == "forward" else "undo",
                          on_click=lambda s=target: self._move(s)).props("unelevated no-caps") \
                    .mark(f"desk-move-{target}")
            if detail.may_assign:
                ui.button(t("desk.assign"), icon="engineering", on_click=self._assign).props("outline no-caps") \
                    .mark("desk-assign")
            if detail.may_edit:
                ui.button(t("desk.edit"), icon="edit", on_click=self._edit).props("outline no-caps").mark("desk-edit")
            if detail.may_comment:
                ui.button(t("desk.comment"), icon="chat", on_click=self._comment).props("outline no-caps") \
                    .mark("desk-comment")
            if detail.may_group and not ticket.cancelled:
                if ticket.parent_id:
                    ui.button(t("desk.detach"), icon="link_off", on_click=self._detach).props("outline no-caps") \
                        .mark("desk-detach")
                elif not detail.attached:
                    ui.button(t("desk.attach"), icon="link", on_click=self._attach).props("outline no-caps") \
                        .mark("desk-attach")
            if detail.may_cancel:
                ui.button(t("desk.cancel"), icon="block", on_click=self._cancel) \
                    .props("outline no-caps color=negative").mark("desk-cancel")

    def _dialog(self, title: str, marker: str, fields: Callable[[], Any],
                submit: Callable[[Any, ui.label], Awaitable[TicketDetail | None]], *, danger: bool = False) -> None:
        """A confirmation dialog: ``fields`` draws the inputs, ``submit`` acts on them; refusals stay in it."""
        with ui.dialog() as dialog, theme.card().classes("w-full max-w-lg").mark(marker):
            ui.label(title).classes("du-card-title break-words")
            values = fields()
            problem = problem_label()

            async def confirm() -> None:
                async with theme.working():
                    result = await submit(values, problem)
                await self._done(result, dialog if result is not None else None)

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("desk.cancel_button"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("desk.confirm"), on_click=confirm) \
                    .props("unelevated no-caps" + (" color=negative" if danger else "")).mark(f"{marker}-confirm")
        dialog.open()

    def _note(self, label: str = "desk.note") -> ui.textarea:
        return ui.textarea(t(label)).props("outlined dense autogrow").classes("w-full").mark("desk-note")

    def _move(self, target: str) -> None:
        desk, token = self.services.desk, self.viewer.token
        self._dialog(t("desk.move.title", number=self.ticket_id, stage=t(f"desk.stage.{target}")), "desk-move-dialog",
                     self._note, lambda note, problem: attempt(desk.move(token, self.ticket_id, target,
                                                                         note.value or ""), problem))

    def _comment(self) -> None:
        desk, token = self.services.desk, self.viewer.token
        self._dialog(t("desk.comment"), "desk-comment-dialog", lambda: self._note("desk.comment.text"),
                     lambda note, problem: attempt(desk.comment(token, self.ticket_id, note.value or ""), problem))

    def _cancel(self) -> None:
        desk, token = self.services.desk, self.viewer.token
        self._dialog(t("desk.cancel.title", number=self.ticket_id), "desk-cancel-dialog",
                     lambda: self._note("desk.cancel.reason"),
                     lambda note, problem: attempt(desk.cancel(token, self.ticket_id, note.value or ""), problem),
                     danger=True)

    async def _assign(self) -> None:
        desk, token = self.services.desk, self.viewer.token
        async with theme.working():
            engineers = await attempt(desk.engineers(token))
        if engineers is None:
            return
        if not engineers:
            ui.notify(t("desk.assign.nobody"), type="warning")
            return
        assert self.detail is not None  # noqa: S101
        current = self.detail.ticket.assignee_id

        def fields() -> tuple[ui.select, ui.textarea]:
            chosen = ui.select({e.id: e.full_name for e in engineers},
                               value=current if current in {e.id for e in engineers} else engineers[0].id,
                               label=t("desk.assign.engineer")).props("outlined dense").classes("w-full") \
                .mark("desk-assign-engineer")
            note = ui.textarea(t("desk.comment.text")).props("outlined dense autogrow").classes("w-full")
            return chosen, note

        self._dialog(t("desk.assign"), "desk-assign-dialog", fields,
                     lambda v, problem: attempt(desk.assign(token, self.ticket_id, int(v[0].value), v[1].value or ""),
                                                problem))

    async def _edit(self) -> None:
        desk, token = self.services.desk, self.viewer.token
        assert self.detail is not None  # noqa: S101
        ticket = self.detail.ticket
        async with theme.working():
            premises = await attempt(self.services.accounting.premises(token, ticket.building_id))
        if premises is None:
            return

        def fields() -> tuple[ui.textarea, ui.select, ui.select, ui.select]:
            description = ui.textarea(t("desk.field.description"), value=ticket.description) \
                .props("outlined dense autogrow").classes("w-full").mark("desk-edit-description")
            sphere = ui.select({"": t("desk.field.none"), **{s: t(f"desk.sphere.{s}") for s in SPHERES}},
                               value=ticket.sphere or "", label=t("desk.field.sphere")) \
                .props("outlined dense").classes("w-full").mark("desk-edit-sphere")
            category = ui.select({"": t("desk.field.none"), **{c: t(f"desk.category.{c}") for c in CATEGORIES}},
                                 value=ticket.category or "", label=t("desk.field.category")) \
                .props("outlined dense").classes("w-full").mark("desk-edit-category")
            premise = ui.select({0: t("desk.field.none"), **{p.id: p.number for p in premises}},
                                value=ticket.premise_id or 0, label=t("desk.field.premise")) \
                .props("outlined dense").classes("w-full").mark("desk-edit-premise")
            return description, sphere, category, premise

        self._dialog(t("desk.edit"), "desk-edit-dialog", fields,
                     lambda v, problem: attempt(desk.edit(token, self.ticket_id, description=v[0].value or "",
                                                          sphere=v[1].value or None, category=v[2].value or None,
                                                          premise_id=int(v[3].value) or None), problem))

    def _attach(self) -> None:
        desk, token = self.services.desk, self.viewer.token

        def fields() -> ui.number:
            return ui.number(t("desk.attach.head"), min=1, precision=0, format="%d").props("outlined dense") \
                .classes("w-full").mark("desk-attach-head")

        async def submit(head: ui.number, problem: ui.label) -> TicketDetail | None:
            if not head.value or head.value < 1:
                problem.text = t("desk.refused.required", field=t("desk.attach.head"))
                return None
            return await attempt(desk.attach(token, self.ticket_id, int(head.value)), problem)

        self._dialog(t("desk.attach.title", number=self.ticket_id), "desk-attach-dialog", fields, submit)

    def _detach(self) -> None:
        desk, token = self.services.desk, self.viewer.token
        assert self.detail is not None  # noqa: S101
        self._dialog(t("desk.detach.title", number=self.ticket_id, head=self.detail.ticket.parent_id),
                     "desk-detach-dialog", lambda: None,
                     lambda _v, problem: attempt(desk.detach(token, self.ticket_id), problem))


def _step_text(step: TicketStep) -> str:
    if step.action == "move":
        return t("desk.action.move", source=t(f"desk.stage.{step.from_stage}"), target=t(f"desk.stage.{step.stage}"))
    if step.action == "assign":
        return t("desk.action.assign", name=step.details.get("assignee") or t("desk.ticket.none"))
    if step.action in ("attach", "detach"):
        return t(f"desk.action.{step.action}", head=step.details.get("head"))
    return t(f"desk.action.{step.action}")
