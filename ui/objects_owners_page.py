"""«Собственники» of a building (manual 4.6.4) and «Интеграция с биллинговыми компаниями» (4.6.9):
the owners of each premise with its activation code (code, period, state), name, phone, e-mail
(the login) and when they signed in; a dispatcher invites an owner by e-mail (the premise's code
goes with it). Personal accounts of the premises of the chosen building, edited in the row,
saved, or removed after a confirmation; the numbers in ГИС ЖКХ of the building's meters (4.4.1) the
same way, or loaded from a file («serial;number» lines, all or nothing).

Routes: /settings/buildings/{id}/owners, /settings/billing (?building=id),
/settings/buildings/{id}/billing (opens the former). Tests: tests/ui/test_objects_ui.py.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.billing.gis_numbers import BulkResult, GisNumber, parse_lines
from cloud.services.models import InvalidInput
from cloud.services.objects import BuildingCard, OwnerRow, PremiseRow, premise_label
from protocol.vocabulary import Resource

from . import auth, fmt, pages, selection, theme
from .accounting import parse_id
from .i18n import extend, t
from .objects_common import (
    BILLING_PATH,
    LIST_PATH,
    FormError,
    ObjectsServices,
    building_header,
    building_page,
    confirm,
    crumbs,
    dismiss,
    may_change,
    refusal_text,
    submit,
)

extend({
    "owners.title": ("Собственники: {address}", "Owners: {address}"),
    "owners.empty": ("В объекте нет помещений.", "The building has no premises."),
    "owners.col.premise": ("Помещение", "Premise"),
    "owners.col.code": ("Код активации", "Activation code"),
    "owners.col.name": ("ФИО", "Full name"),
    "owners.col.phone": ("Телефон", "Phone"),
    "owners.col.email": ("E-mail (логин)", "E-mail (login)"),
    "owners.col.login": ("Последний вход", "Last sign-in"),
    "owners.none": ("—", "—"),
    "owners.invited": ("приглашение отправлено {at}", "invitation sent {at}"),
    "owners.not_registered": ("не входил", "never"),
    "owners.invite": ("Пригласить собственника", "Invite an owner"),
    "owners.invite.title": ("Приглашение собственника: {premise}", "Invite an owner: {premise}"),
    "owners.invite.hint": ("На этот адрес будет отправлено приглашение с кодом активации помещения.",
                           "An invitation with the premise's activation code goes to this address."),
    "owners.invite.send": ("Отправить приглашение", "Send the invitation"),
    "owners.invite.sent": ("Приглашение отправлено на {email}", "Invitation sent to {email}"),
    "owners.invite.failed": ("Собственник добавлен, но письмо не отправлено: {reason}. Распечатайте код активации.",
                             "The owner was added but the e-mail was not sent: {reason}. Print the activation code."),
    "billing.title": ("Интеграция с биллинговыми компаниями", "Billing integration"),
    "billing.subtitle": ("Лицевые счета помещений: по ним биллинговая компания узнаёт помещение. Номер лицевого "
                         "счёта в компании не повторяется.", "The premises' personal accounts: the billing company "
                         "finds a premise by it. An account number is used once in the company."),
    "billing.building": ("Объект", "Building"),
    "billing.col.premise": ("Помещение", "Premise"),
    "billing.col.account": ("Лицевой счёт", "Personal account"),
    "billing.none": ("не задан", "not set"),
    "billing.edit": ("Изменить лицевой счёт", "Edit the personal account"),
    "billing.remove": ("Удалить номер лицевого счёта", "Remove the personal account"),
    "billing.remove.confirm": ("Удалить лицевой счёт {account} помещения «{premise}»?",
                               "Remove personal account {account} of “{premise}”?"),
    "billing.remove.yes": ("Удалить", "Remove"),
    "billing.empty": ("У компании нет объектов в выбранном городе.",
                      "The company has no buildings in the chosen city."),
    "billing.no_premises": ("В объекте нет помещений.", "The building has no premises."),
    "billing.gis.title": ("Номера приборов учёта в ГИС ЖКХ", "Meters' numbers in ГИС ЖКХ"),
    "billing.gis.subtitle": ("По этому номеру прибор указан в документе для биллинга; прибор без номера попадает "
                             "на лист «Ошибки». Номер в компании не повторяется.",
                             "The billing document names a meter by this number; a meter without one goes to "
                             "the «Ошибки» sheet. A number is used once in the company."),
    "billing.gis.col.meter": ("Прибор учёта", "Meter"),
    "billing.gis.col.number": ("Номер в ГИС ЖКХ", "Number in ГИС ЖКХ"),
    "billing.gis.common": ("ОДПУ", "Building meter"),
    "billing.gis.no_meters": ("В объекте нет приборов учёта.", "The building has no meters."),
    "billing.gis.edit": ("Изменить номер в ГИС ЖКХ", "Edit the number in ГИС ЖКХ"),
    "billing.gis.clear": ("Удалить номер в ГИС ЖКХ", "Remove the number in ГИС ЖКХ"),
    "billing.gis.clear.confirm": ("Удалить номер {number} прибора {serial}?",
                                  "Remove number {number} of meter {serial}?"),
    "billing.gis.import": ("Загрузить номера из файла", "Load the numbers from a file"),
    "billing.gis.import.hint": ("Строка на прибор: «заводской номер;номер в ГИС ЖКХ» (разделитель — точка с запятой, "
                                "табуляция или запятая; пустой номер удаляет). Файл CSV или TXT, или вставьте строки. "
                                "Если хоть одна строка неверна, ничего не меняется.",
                                "One meter a line: “serial;number in ГИС ЖКХ” (separated by a semicolon, a tab or a "
                                "comma; an empty number removes it). A CSV or TXT file, or paste the lines. If any "
                                "line is wrong, nothing changes."),
    "billing.gis.import.apply": ("Применить", "Apply"),
    "billing.gis.import.empty": ("Нет ни одной строки.", "No lines."),
    "billing.gis.import.done": ("Номера загружены: изменено {changed}, без изменений {unchanged}",
                                "Numbers loaded: {changed} changed, {unchanged} unchanged"),
})


def register(services: ObjectsServices) -> None:
    """Register /settings/buildings/{id}/owners, /settings/billing and /settings/buildings/{id}/billing."""

    @ui.page(LIST_PATH + "/{building_id}/owners", response_timeout=30.0)
    async def building_owners(request: Request, building_id: str) -> RedirectResponse | None:
        guarded = await building_page(services, request, building_id, "/owners")
        if guarded is None or isinstance(guarded, RedirectResponse):
            return guarded
        viewer, card = guarded
        page = OwnersPage(services, viewer, card)
        await page.load()
        with theme.frame(t("owners.title", address=card.address), viewer.user, crumbs=crumbs(card),
                         active=LIST_PATH):
            building_header(card, "/owners")
            page.body()
        return None

    @ui.page(LIST_PATH + "/{building_id}/billing")
    async def building_billing(building_id: str) -> RedirectResponse:
        ident = parse_id(building_id)
        return RedirectResponse(BILLING_PATH + (f"?building={ident}" if ident else ""), status_code=303)

    @ui.page(BILLING_PATH, response_timeout=30.0)
    async def billing(request: Request, building: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=BILLING_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        cards = await services.objects.buildings(viewer.token)
        shown_ids = {b.id for b in selection.city_buildings(await services.accounting.buildings(viewer.token))}
        shown = [c for c in cards if c.id in shown_ids]
        asked = parse_id(building) if building else None
        chosen = next((c for c in cards if c.id == asked), None) or next(
            (c for c in shown if c.id == selection.current().building_id), shown[0] if shown else None)
        with theme.frame(t("billing.title"), viewer.user, subtitle=t("billing.subtitle"), active=BILLING_PATH):
            if chosen is None:
                with theme.card():
                    theme.message(t("billing.empty"))
                return None
            selection.remember(building_id=chosen.id)
            building_header(chosen, "/billing")
            page = BillingPage(services, viewer, chosen, shown if chosen in shown else [chosen, *shown])
            await page.load()
            page.body()
        return None


def _code_cell(row: OwnerRow) -> None:
    if row.code is None:
        ui.label(t("owners.none"))
        return
    ui.label(row.code.code).classes("font-mono text-sm whitespace-nowrap")
    ui.label(f"{fmt.moment(row.code.created_at)} – {fmt.moment(row.code.expires_at)}") \
        .classes("text-xs du-muted whitespace-nowrap")
    ui.label(t(f"objects.codes.state.{row.code.state}")).classes("text-xs")


class OwnersPage:
    def __init__(self, services: ObjectsServices, viewer: auth.Viewer, card: BuildingCard) -> None:
        self.services = services
        self.viewer = viewer
        self.card = card
        self.rows: list[OwnerRow] = []

    async def load(self) -> None:
        self.rows = await self.services.objects.owners(self.viewer.token, self.card.id)

    async def reload(self) -> None:
        async with theme.working():
            await self.load()
        self.body.refresh()

    @ui.refreshable_method
    def body(self) -> None:
        with theme.card():
            if not self.rows:
                theme.message(t("owners.empty"))
                return
            ui.add_css(".du-owners td:first-child, .du-owners th:first-child { position: sticky; left: 0; "
                       "background: #fff; z-index: 1; } .du-owners td, .du-owners th { padding: 6px 8px; "
                       "border-bottom: 1px solid #edf1f5; text-align: left; vertical-align: top; } "
                       ".du-owners th { background: #f7f9fb; font-weight: 600; color: #334e68; }")
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-owners w-full min-w-[760px]").mark("owners-table"):
                with ui.element("tr"):
                    for key in ("owners.col.premise", "owners.col.code", "owners.col.name", "owners.col.phone",
                                "owners.col.email", "owners.col.login"):
                        with ui.element("th"):
                            ui.label(t(key))
                seen: set[int] = set()
                for row in self.rows:
                    first = row.premise_id not in seen
                    seen.add(row.premise_id)
                    self._row(row, first)

    def _row(self, row: OwnerRow, first: bool) -> None:
        with ui.element("tr").mark(f"owners-row-{row.premise_id}-{row.resident_id or 0}"):
            with ui.element("td"):
                if first:
                    with ui.row().classes("items-center gap-1 no-wrap"):
                        ui.link(row.premise, f"{LIST_PATH}/{self.card.id}/premises/{row.premise_id}") \
                            .classes("du-link whitespace-nowrap")
                        if may_change(self.viewer):
                            ui.button(icon="person_add", on_click=lambda r=row: self._invite(r)) \
                                .props(f'flat round dense aria-label="{t("owners.invite")}"') \
                                .tooltip(t("owners.invite")) \
                                .mark(f"owners-invite-{row.premise_id}")
            with ui.element("td"):
                if first:
                    _code_cell(row)
            for text in (row.full_name or t("owners.none"), row.phone or t("owners.none"),
                         row.email or t("owners.none")):
                with ui.element("td"):
                    ui.label(text).classes("break-words")
            with ui.element("td"):
                if row.resident_id is not None:  # manual 4.6.4: the date of the last sign-in
                    last = row.last_login_at or row.registered_at
                    ui.label(fmt.moment(last) if last else t("owners.not_registered")) \
                        .classes("text-sm whitespace-nowrap").mark(f"owners-login-{row.resident_id}")
                if row.invited_at is not None:
                    ui.label(t("owners.invited", at=fmt.moment(row.invited_at))).classes("text-xs du-muted")

    def _invite(self, row: OwnerRow) -> None:
        invite_dialog(self.services, self.viewer, row.premise_id, row.premise, self.reload)


def invite_dialog(services: ObjectsServices, viewer: auth.Viewer, premise_id: int, premise: str,
                  done: Callable[[], Awaitable[None]]) -> None:
    """The invitation form (manual 4.6.3, 4.6.4): e-mail, name and phone of the owner; the premise's
    activation code goes with the e-mail. ``done`` redraws the page once the owner is added."""
    with ui.dialog() as dialog, theme.card().classes("w-full max-w-md").mark("owners-invite-dialog"):
        ui.label(t("owners.invite.title", premise=premise)).classes("du-card-title")
        ui.label(t("owners.invite.hint")).classes("text-sm du-muted")
        email = ui.input(t("objects.field.email")).props("outlined dense type=email").classes("w-full") \
            .mark("owners-invite-email")
        name = ui.input(t("objects.field.full_name")).props("outlined dense").classes("w-full") \
            .mark("owners-invite-name")
        phone = ui.input(t("objects.field.phone")).props("outlined dense type=tel").classes("w-full")
        error = FormError("owners-invite-error")

        async def send() -> None:
            sent = await submit(services.objects.invite_owner(viewer.token, premise_id, str(email.value or ""),
                                                              str(name.value or ""), str(phone.value or "")), error)
            if sent is None:
                return
            if not sent.sent:  # the owner was added: the form stays open with the server's reason
                error.show(t("owners.invite.failed", reason=sent.error or ""))
                return
            ui.notify(t("owners.invite.sent", email=sent.email), type="positive")
            dialog.close()
            await done()  # in the dialog's context: removed after (a redraw of the page may take it first)
            dismiss(dialog)

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(t("objects.cancel"), on_click=lambda: dismiss(dialog)).props("flat no-caps")
            ui.button(t("owners.invite.send"), icon="send", on_click=send).props("unelevated no-caps") \
                .mark("owners-invite-send")
    dialog.open()


class BillingPage:
    def __init__(self, services: ObjectsServices, viewer: auth.Viewer, card: BuildingCard,
                 choices: list[BuildingCard]) -> None:
        self.services = services
        self.viewer = viewer
        self.card = card
        self.choices = choices
        self.rows: list[PremiseRow] = []
        self.editing: int | None = None
        self.gis_rows: list[GisNumber] = []  # the building's meters with their numbers in ГИС ЖКХ
        self.gis_editing: int | None = None  # the meter whose number is being edited

    async def load(self) -> None:
        self.rows = await self.services.objects.premises(self.viewer.token, self.card.id)
        gis = gis_service(self.services)
        self.gis_rows = await gis.numbers(self.viewer.token, self.card.id) if gis is not None else []

    async def reload(self) -> None:
        async with theme.working():
            await self.load()
        self.body.refresh()

    @ui.refreshable_method
    def body(self) -> None:
        self._accounts()
        self._gis_card()

    def _accounts(self) -> None:
        with theme.card():
            ui.select({c.id: c.address for c in self.choices}, label=t("billing.building"), value=self.card.id,
                      on_change=lambda e: ui.navigate.to(f"{BILLING_PATH}?building={e.value}") if e.value else None) \
                .props("outlined dense").classes("w-full max-w-md").mark("billing-building")
        with theme.card():
            if not self.rows:
                theme.message(t("billing.no_premises"))
                return
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-markup w-full").mark("billing-table"):
                with ui.element("tr"):
                    for key in ("billing.col.premise", "billing.col.account"):
                        with ui.element("th"):
                            ui.label(t(key))
                    with ui.element("th"):
                        ui.label("")
                for row in self.rows:
                    self._row(row)

    def _row(self, row: PremiseRow) -> None:
        name = premise_label(row.number, row.kind)
        with ui.element("tr").mark(f"billing-row-{row.number}"):
            with ui.element("td"):
                ui.label(name).classes("font-medium whitespace-nowrap")
            if self.editing == row.id:
                with ui.element("td"):
                    box = ui.input(value=row.account).props("outlined dense").classes("min-w-[9rem]") \
                        .mark(f"billing-input-{row.number}")
                    error = FormError(f"billing-error-{row.number}")
                with ui.element("td"), ui.row().classes("gap-0 no-wrap justify-end"):
                    ui.button(icon="check", on_click=lambda: self._save(row, str(box.value or ""), error)) \
                        .props(f'flat round dense color=positive aria-label="{t("objects.save")}"') \
                        .tooltip(t("objects.save")) \
                        .mark(f"billing-save-{row.number}")
                    ui.button(icon="close", on_click=self._stop) \
                        .props(f'flat round dense aria-label="{t("objects.cancel")}"') \
                        .tooltip(t("objects.cancel"))
                return
            with ui.element("td"):
                ui.label(row.account or t("billing.none")).classes("" if row.account else "du-muted") \
                    .mark(f"billing-account-{row.number}")
            with ui.element("td"), ui.row().classes("gap-0 no-wrap justify-end"):
                if may_change(self.viewer):
                    ui.button(icon="edit", on_click=lambda r=row: self._start(r)) \
                        .props(f'flat round dense aria-label="{t("billing.edit")}"') \
                        .tooltip(t("billing.edit")).mark(f"billing-edit-{row.number}")
                    if row.account:
                        ui.button(icon="delete_outline", on_click=lambda r=row: self._confirm_remove(r)) \
                            .props(f'flat round dense color=negative aria-label="{t("billing.remove")}"') \
                            .tooltip(t("billing.remove")) \
                            .mark(f"billing-remove-{row.number}")

    def _start(self, row: PremiseRow) -> None:
        self.editing = row.id
        self.body.refresh()

    def _stop(self) -> None:
        self.editing = None
        self.body.refresh()

    async def _save(self, row: PremiseRow, account: str, error: FormError | None) -> None:
        done = await submit(self.services.objects.set_account(self.viewer.token, row.id, account), error)
        if done is None:
            return
        self.editing = None
        ui.notify(t("objects.saved"), type="positive")
        await self.reload()

    def _confirm_remove(self, row: PremiseRow) -> None:
        confirm(t("billing.remove.confirm", account=row.account, premise=premise_label(row.number, row.kind)),
                t("billing.remove.yes"), lambda: self._save(row, "", None), marker="billing-remove-dialog",
                yes_marker="billing-remove-yes")

    # --- meters' numbers in ГИС ЖКХ (manual 4.4.1): the billing document names a meter by it ------------
    def _gis_card(self) -> None:
        if gis_service(self.services) is None:
            return
        with theme.card(t("billing.gis.title")).mark("gis-card"):
            ui.label(t("billing.gis.subtitle")).classes("text-sm du-muted break-words")
            if not self.gis_rows:
                theme.message(t("billing.gis.no_meters"))
            else:
                with ui.element("div").classes("w-full overflow-x-auto"), \
                        ui.element("table").classes("du-markup w-full").mark("gis-table"):
                    with ui.element("tr"):
                        for key in ("billing.gis.col.meter", "billing.gis.col.number"):
                            with ui.element("th"):
                                ui.label(t(key))
                        with ui.element("th"):
                            ui.label("")
                    for row in self.gis_rows:
                        self._gis_row(row)
            if may_change(self.viewer):
                self._gis_import()

    def _gis_row(self, row: GisNumber) -> None:
        where = premise_label(row.premise_number, "apartment") if row.premise_number else t("billing.gis.common")
        resources = ", ".join(fmt.resource(Resource(r)) for r in row.resources)
        with ui.element("tr").mark(f"gis-row-{row.serial}"):
            with ui.element("td"):
                ui.label(row.serial).classes("font-medium whitespace-nowrap")
                ui.label(" · ".join(x for x in (where, resources) if x)).classes("text-xs du-muted break-words")
            if self.gis_editing == row.meter_id:
                with ui.element("td"):
                    box = ui.input(value=row.gis_number).props("outlined dense maxlength=40") \
                        .classes("min-w-[9rem]").mark(f"gis-input-{row.serial}")
                    error = FormError(f"gis-error-{row.serial}")
                with ui.element("td"), ui.row().classes("gap-0 no-wrap justify-end"):
                    ui.button(icon="check", on_click=lambda: self._gis_save(row, str(box.value or ""), error)) \
                        .props(f'flat round dense color=positive aria-label="{t("objects.save")}"') \
                        .tooltip(t("objects.save")) \
                        .mark(f"gis-save-{row.serial}")
                    ui.button(icon="close", on_click=lambda: self._gis_edit(None)) \
                        .props(f'flat round dense aria-label="{t("objects.cancel")}"') \
                        .tooltip(t("objects.cancel"))
                return
            with ui.element("td"):
                ui.label(row.gis_number or t("billing.none")).classes("break-all" if row.gis_number else "du-muted") \
                    .mark(f"gis-number-{row.serial}")
            with ui.element("td"), ui.row().classes("gap-0 no-wrap justify-end"):
                if may_change(self.viewer):
                    ui.button(icon="edit", on_click=lambda r=row: self._gis_edit(r.meter_id)) \
                        .props(f'flat round dense aria-label="{t("billing.gis.edit")}"') \
                        .tooltip(t("billing.gis.edit")).mark(f"gis-edit-{row.serial}")
                    if row.gis_number:
                        ui.button(icon="delete_outline", on_click=lambda r=row: self._gis_confirm_clear(r)) \
                            .props(f'flat round dense color=negative aria-label="{t("billing.gis.clear")}"') \
                            .tooltip(t("billing.gis.clear")) \
                            .mark(f"gis-clear-{row.serial}")

    def _gis_import(self) -> None:
        with ui.expansion(t("billing.gis.import"), icon="upload_file").classes("w-full").mark("gis-import"):
            ui.label(t("billing.gis.import.hint")).classes("text-sm du-muted break-words")
            text = ui.textarea(placeholder="223T0001;1234567890").props("outlined dense autogrow") \
                .classes("w-full font-mono").mark("gis-import-text")
            error = FormError("gis-import-error")

            async def uploaded(e: Any) -> None:
                text.value = await e.file.text()
            with ui.row().classes("w-full items-center gap-2"):
                ui.upload(on_upload=uploaded, auto_upload=True, max_file_size=1_000_000) \
                    .props("accept=.csv,.txt flat dense bordered").classes("max-w-full").mark("gis-import-file")
                ui.button(t("billing.gis.import.apply"), icon="done_all",
                          on_click=lambda: self._gis_apply(str(text.value or ""), error)) \
                    .props("unelevated no-caps color=primary").mark("gis-import-apply")

    def _gis_edit(self, meter_id: int | None) -> None:
        self.gis_editing = meter_id
        self.body.refresh()

    async def _gis_save(self, row: GisNumber, number: str, error: FormError | None) -> None:
        gis = gis_service(self.services)
        if gis is None or await submit(_in_russian(gis.set_number(self.viewer.token, row.meter_id, number)),
                                       error) is None:
            return
        self.gis_editing = None
        ui.notify(t("objects.saved"), type="positive")
        await self.reload()

    def _gis_confirm_clear(self, row: GisNumber) -> None:
        confirm(t("billing.gis.clear.confirm", number=row.gis_number, serial=row.serial), t("billing.remove.yes"),
                lambda: self._gis_save(row, "", None), marker="gis-clear-dialog", yes_marker="gis-clear-yes")

    async def _gis_apply(self, text: str, error: FormError) -> None:
        gis = gis_service(self.services)
        if gis is None:
            return
        try:
            pairs = parse_lines(text)
        except InvalidInput as exc:
            error.show(refusal_text(InvalidInput(gis_refusal(str(exc)))))
            return
        if not pairs:
            error.show(t("billing.gis.import.empty"))
            return
        done = await submit(_in_russian(gis.set_numbers(self.viewer.token, self.card.id, pairs)), error)
        if done is None:
            return
        ui.notify(t("billing.gis.import.done", changed=len(done.changed), unchanged=len(done.unchanged)),
                  type="positive")
        await self.reload()


T = TypeVar("T")


class GisNumbers(Protocol):
    async def numbers(self, token: str, building_id: int) -> list[GisNumber]: ...

    async def set_number(self, token: str, meter_id: int, gis_number: str) -> GisNumber: ...

    async def set_numbers(self, token: str, building_id: int, pairs: Sequence[tuple[str, str]]) -> BulkResult: ...


def gis_service(services: object) -> GisNumbers | None:
    """``services.gis_numbers`` (cloud/billing/gis_numbers.py), or None where a service layer has none."""
    return getattr(services, "gis_numbers", None)


_GIS_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"^gis_number: '(.+)' is the number of meter (\S+) already", "номер «{0}» уже у прибора {1}: номер в ГИС ЖКХ "
                                                                  "в компании не повторяется"),
    (r"^(?:gis_number|line (\d+)): at most (\d+) characters", "{0}номер в ГИС ЖКХ не длиннее {1} знаков"),
    (r"^(?:gis_number|line (\d+)): printable characters only", "{0}номер в ГИС ЖКХ — только печатные знаки, без "
                                                               "табуляции и переносов строк"),
    (r"^line (\d+): no meter (\S+) in this building", "строка {0}: в объекте нет прибора {1}"),
    (r"^line (\d+): serial (\S+) is on line (\d+) too", "строка {0}: прибор {1} уже есть в строке {2}"),
    (r"^line (\d+): number '(.+)' is on line (\d+) too", "строка {0}: номер «{1}» уже есть в строке {2}"),
    (r"^line (\d+): the serial is empty", "строка {0}: не указан заводской номер"),
    (r"^line (\d+): «", "строка {0}: нужна запись «заводской номер;номер в ГИС ЖКХ»"),
))


def gis_refusal(text: str) -> str:
    """The GIS numbers service's refusal in Russian (its English otherwise)."""
    for pattern, russian_text in _GIS_REFUSALS:
        found = pattern.match(text)
        if found:
            parts = [g or "" for g in found.groups()]
            if russian_text.startswith("{0}номер"):  # "line N: ..." of an import, or the one number
                parts[0] = f"строка {parts[0]}: " if parts[0] else ""
            return russian_text.format(*parts)
    return text


async def _in_russian(call: Awaitable[T]) -> T:
    try:
        return await call
    except InvalidInput as exc:
        raise InvalidInput(gis_refusal(str(exc))) from exc
