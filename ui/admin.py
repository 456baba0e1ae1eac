"""Section for the administrator (manual 2.3, 4.6 "Пользователи"): the company's users, API tokens
for integrations, and the audit log. An administrator adds a user (role, reader status, initial
password), blocks and unblocks accounts, resets passwords, creates and revokes API tokens; every
change goes through cloud/services (users.py, api_tokens.py), which check the rights again and
write the audit entry shown at the bottom. Each user row shows the contacts (4.6.14) and opens an
edit dialog (name, role, reader status, e-mail, phone; not one's own role or reader status).

Imports ui.auth/ui.theme and the users service's shape (declared here); route: /users.
Tests: tests/ui/test_cloud_admin_ui.py, tests/ui/test_company_ui.py.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC
from typing import Any, Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.audit import AuditEntry
from cloud.services.models import InvalidInput, Role, ServiceError
from cloud.services.users import UserRecord
from protocol.periods import zone

from . import access, auth, errors, fmt, i18n, selection, theme, widgets
from .i18n import t
from .members_card import MembersCard
from .ports import Services
from .tokens import ApiTokenService, TokensCard

i18n.extend({
    "users.contacts": ("Почта и телефон", "E-mail and phone"),
    "users.edit": ("Изменить", "Edit"),
    "users.email": ("Почта", "E-mail"),
    "users.phone": ("Телефон", "Phone"),
    "users.phone_hint": ("+7 и 10 цифр", "+7 and 10 digits"),
    "users.own_rights": ("Свою роль и статус «Читатель» администратор не меняет.",
                         "An administrator does not change their own role and reader status."),
    "users.edited": ("Данные пользователя {login} сохранены", "The details of {login} are saved"),
})


class UsersService(Protocol):
    async def list(self, token: str) -> list[UserRecord]: ...

    async def create(self, token: str, login: str, full_name: str, role: str, reader: bool,
                     password: str, integration: bool = False) -> UserRecord: ...

    async def set_blocked(self, token: str, user_id: int, blocked: bool) -> UserRecord: ...

    async def update(self, token: str, user_id: int, *, role: str | None = None, reader: bool | None = None,
                     full_name: str | None = None, email: str | None = None,
                     phone: str | None = None) -> UserRecord: ...

    async def unlock(self, token: str, user_id: int) -> UserRecord: ...

    async def reset_password(self, token: str, user_id: int, password: str) -> UserRecord: ...

    async def audit_log(self, token: str, limit: int = 200) -> builtins.list[AuditEntry]: ...


class AdminServices(Services, Protocol):
    @property
    def users(self) -> UsersService: ...

    @property
    def api_tokens(self) -> ApiTokenService: ...


def register(services: Services) -> None:
    """Register /users."""
    admin_services = cast(AdminServices, services)

    @ui.page("/users")
    async def users_page(request: Request) -> RedirectResponse | None:
        viewer = await auth.require_viewer(services, request)
        if isinstance(viewer, RedirectResponse):
            return viewer
        with theme.frame(t("users.title"), viewer.user, active="/users"):
            if access.may_administer(viewer.user):
                await UsersPanel(admin_services.users, admin_services.api_tokens, viewer,
                                 getattr(services, "members", None)).build()
            else:
                widgets.problem(t("error.forbidden"), t("error.forbidden_text"), icon="lock", back=False)
        return None


class UsersPanel:
    """The user list with its actions, the "add user" dialog and the audit log."""

    def __init__(self, users: UsersService, tokens: ApiTokenService, viewer: auth.Viewer, members: Any = None) -> None:
        self.users = users
        self.tokens = tokens
        self.members = members  # people of other companies working here (ui/members_card.py)
        self.viewer = viewer
        self._known: list[UserRecord] = []

    async def build(self) -> None:
        with theme.card():
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(t("users.list")).classes("du-card-title")
                ui.button(t("users.add"), icon="person_add", on_click=self._add_dialog).props(
                    "unelevated no-caps").mark("users-add")
            self._list_view = ui.column().classes("w-full")
        self._members = MembersCard(self.members, self.viewer, changed=self._reload_log) if self.members else None
        if self._members is not None:
            self._members.build()
        self._tokens = TokensCard(self.tokens, self.viewer, self._token_owners, changed=self._reload_log)
        self._tokens.build()
        with theme.card(t("audit.title")):
            self._audit_view = ui.column().classes("w-full")
        await self.reload()

    async def reload(self) -> None:
        found = await auth.attempt(self.users.list(self.viewer.token))
        if found is None:
            return
        self._known = found
        self._list_view.clear()
        with self._list_view:
            self._user_table(found)
        if self._members is not None:
            await self._members.reload()
        await self._tokens.reload()
        await self._reload_log()

    async def _reload_log(self) -> None:
        log = await auth.attempt(self.users.audit_log(self.viewer.token))
        if log is None:
            return
        self._audit_view.clear()
        with self._audit_view:
            _audit_table(log, selection.city_zone(self.viewer.user.city))

    def _token_owners(self) -> dict[int, str]:
        """A token acts as its owner: the administrator's own, or an integration account's (never a person's)."""
        return {u.id: f"{u.login} — {u.full_name}" for u in self._known
                if not u.blocked and (u.integration or u.id == self.viewer.user.id)}

    def _user_table(self, users: Sequence[UserRecord]) -> None:
        headers = (t("users.login"), t("users.full_name"), t("users.contacts"), t("users.role"), t("users.state"),
                   "")
        with ui.element("q-markup-table").props("flat bordered dense separator=horizontal wrap-cells").classes(
                "du-markup w-full").mark("users-table"), ui.element("table").classes("w-full"):
            with ui.element("thead"), ui.element("tr"):
                for header in headers:
                    with ui.element("th"):
                        ui.label(header)
            with ui.element("tbody"):
                for user in users:
                    self._user_row(user)

    def _user_row(self, user: UserRecord) -> None:
        me = user.id == self.viewer.user.id
        with ui.element("tr").mark(f"user-{user.login}"):
            with ui.element("td"):
                ui.label(user.login + (f" ({t('users.you')})" if me else ""))
            with ui.element("td"):
                ui.label(user.full_name)
            with ui.element("td"), ui.column().classes("gap-0"):
                if user.email:
                    ui.label(user.email).classes("break-all")
                if user.phone:
                    ui.label(user.phone).classes("whitespace-nowrap")
            with ui.element("td"):
                ui.label(_role_text(user))
            with ui.element("td"):
                state = (t("users.blocked") if user.blocked else t("users.login_locked") if user.login_locked
                         else t("users.active"))
                ui.label(state).classes("text-negative" if user.blocked or user.login_locked else "").mark(
                    f"state-{user.login}")
            with ui.element("td"), ui.row().classes("gap-1 no-wrap justify-end"):
                ui.button(t("users.edit"), icon="edit", on_click=self._edit_dialog(user)).props(
                    "flat dense no-caps").mark(f"edit-{user.login}")
                if user.login_locked:
                    ui.button(t("users.login_unlock"), icon="lock_open", on_click=self._unlock(user)).props(
                        "flat dense no-caps").mark(f"unlock-{user.login}")
                if not me:
                    label = t("users.unblock") if user.blocked else t("users.block")
                    ui.button(label, icon="lock_open" if user.blocked else "block",
                              on_click=self._toggle_block(user)).props("flat dense no-caps").mark(
                        f"block-{user.login}")
                ui.button(t("users.reset_password"), icon="key", on_click=self._password_dialog(user)).props(
                    "flat dense no-caps").mark(f"password-{user.login}")

    def _toggle_block(self, user: UserRecord) -> Callable[[], Awaitable[None]]:
        async def toggle() -> None:
            if not user.blocked and not await _confirm(t("users.block_confirm", login=user.login, name=user.full_name),
                                                       t("users.block")):
                return
            done = await auth.attempt(self.users.set_blocked(self.viewer.token, user.id, not user.blocked))
            if done is not None:
                ui.notify(t("users.unblocked_done" if user.blocked else "users.blocked_done", login=user.login),
                          type="positive")
                await self.reload()
        return toggle

    def _unlock(self, user: UserRecord) -> Callable[[], Awaitable[None]]:
        async def unlock() -> None:
            if await auth.attempt(self.users.unlock(self.viewer.token, user.id)) is not None:
                ui.notify(t("users.login_unlocked_done", login=user.login), type="positive")
                await self.reload()
        return unlock

    def _edit_dialog(self, user: UserRecord) -> Callable[[], None]:
        """Name, role, reader status and contacts; one's own role and reader status stay as they are."""
        me = user.id == self.viewer.user.id

        def open_dialog() -> None:
            with ui.dialog() as dialog, ui.card().classes("du-card p-5 gap-3 w-full max-w-md"):
                ui.label(f"{t('users.edit')}: {user.login}").classes("du-card-title")
                name = ui.input(t("users.full_name"), value=user.full_name).props("outlined maxlength=200") \
                    .classes("w-full").mark("useredit-name")
                role = ui.select({r.value: t(f"role.{r.value}") for r in Role}, value=user.role.value,
                                 label=t("users.role")).props("outlined").classes("w-full").mark("useredit-role")
                reader = ui.checkbox(t("users.reader"), value=user.reader).mark("useredit-reader")
                if me:  # the service refuses it too: an administrator never takes away their own rights
                    role.disable()
                    reader.disable()
                    ui.label(t("users.own_rights")).classes("text-xs du-muted")
                email = ui.input(t("users.email"), value=user.email).props("outlined maxlength=254") \
                    .classes("w-full").mark("useredit-email")
                phone = ui.input(t("users.phone"), value=user.phone).props(
                    f"outlined maxlength=40 hint='{t('users.phone_hint')}'").classes("w-full").mark("useredit-phone")
                error = ui.label("").classes("text-negative text-sm").mark("useredit-error")
                error.set_visibility(False)

                async def save() -> None:
                    try:
                        async with theme.working():
                            done = await self.users.update(
                                self.viewer.token, user.id, full_name=name.value or "", email=email.value or "",
                                phone=phone.value or "", role=None if me else role.value or "",
                                reader=None if me else bool(reader.value))
                    except InvalidInput as exc:  # next to the form, the dialog stays open
                        error.set_text(t("error.invalid_input", reason=errors.reason(str(exc))))
                        error.set_visibility(True)
                        return
                    except ServiceError as exc:
                        await auth.attempt(_raise(exc))
                        return
                    dialog.close()
                    ui.notify(t("users.edited", login=done.login), type="positive")
                    await self.reload()

                with ui.row().classes("w-full justify-end gap-2"):
                    ui.button(t("users.cancel"), on_click=dialog.close).props("flat no-caps")
                    ui.button(t("users.save"), on_click=save).props("unelevated no-caps").mark("useredit-save")
            dialog.open()
        return open_dialog

    def _password_dialog(self, user: UserRecord) -> Callable[[], None]:
        def open_dialog() -> None:
            with ui.dialog() as dialog, ui.card().classes("du-card p-5 gap-3 min-w-[320px]"):
                ui.label(f"{t('users.reset_password')}: {user.login}").classes("du-card-title")
                password = ui.input(t("users.new_password"), password=True, password_toggle_button=True).props(
                    f"outlined hint='{t('users.password_hint')}'").classes("w-full").mark("new-password")

                async def save() -> None:
                    done = await auth.attempt(self.users.reset_password(self.viewer.token, user.id,
                                                                        password.value or ""))
                    if done is not None:
                        dialog.close()
                        ui.notify(t("users.password_done", login=user.login), type="positive")
                        await self.reload()

                with ui.row().classes("w-full justify-end gap-2"):
                    ui.button(t("users.cancel"), on_click=dialog.close).props("flat no-caps")
                    ui.button(t("users.save"), on_click=save).props("unelevated no-caps").mark("password-save")
            dialog.open()
        return open_dialog

    def _add_dialog(self) -> None:
        with ui.dialog() as dialog, ui.card().classes("du-card p-5 gap-3 min-w-[360px]"):
            ui.label(t("users.add")).classes("du-card-title")
            login = ui.input(t("users.login")).props("outlined").classes("w-full").mark("new-login")
            name = ui.input(t("users.full_name")).props("outlined").classes("w-full").mark("new-name")
            role = ui.select({r.value: t(f"role.{r.value}") for r in Role}, value=Role.DISPATCHER.value,
                             label=t("users.role")).props("outlined").classes("w-full").mark("new-role")
            reader = ui.checkbox(t("users.reader")).mark("new-reader")
            integration = ui.checkbox(t("users.integration")).mark("new-integration")
            password = ui.input(t("users.password"), password=True, password_toggle_button=True).props(
                f"outlined hint='{t('users.password_hint')}'").classes("w-full").mark("new-password")
            password.bind_visibility_from(integration, "value", backward=lambda on: not on)

            async def create() -> None:
                created = await auth.attempt(self.users.create(
                    self.viewer.token, login.value or "", name.value or "", role.value or "", bool(reader.value),
                    password.value or "", integration=bool(integration.value)))
                if created is not None:
                    dialog.close()
                    ui.notify(t("users.created", login=created.login), type="positive")
                    await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("users.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("users.create"), on_click=create).props("unelevated no-caps").mark("new-create")
        dialog.open()


async def _raise(exc: Exception) -> None:
    raise exc  # through auth.attempt: the sign-in page or a notification naming the reason


def _role_text(user: UserRecord) -> str:
    role = t(f"role.{user.role.value}")
    role = f"{role}, {t('users.reader_short').lower()}" if user.reader else role
    return f"{role}, {t('users.integration_short')}" if user.integration else role


async def _confirm(text: str, action: str) -> bool:
    """Ask before a blocking action; True when the person confirmed it."""
    with ui.dialog() as dialog, theme.card().classes("max-w-md"):
        ui.label(text).mark("confirm-text")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(t("users.cancel"), on_click=lambda: dialog.submit(False)).props("flat no-caps") \
                .mark("confirm-no")
            ui.button(action, on_click=lambda: dialog.submit(True)).props("unelevated no-caps color=negative") \
                .mark("confirm-yes")
    answer = await dialog
    dialog.delete()
    return bool(answer)


def _audit_table(entries: Sequence[AuditEntry], time_zone: str) -> None:
    """The audit log with times in the company's city's time zone (stored in UTC)."""
    if not entries:
        theme.message(t("audit.empty"))
        return
    tz = zone(time_zone)
    rows = [[fmt.moment((e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)).astimezone(tz).replace(tzinfo=None)),
             (e.user_login or "") + (f" ({e.via})" if e.via else ""), e.action,
             e.object, _change(e)]
            for e in entries]
    widgets.link_table([t("audit.time_in", zone=time_zone), t("audit.user"), t("audit.action"), t("audit.object"),
                        t("audit.change")],
                       rows).mark("audit-table")


def _change(entry: AuditEntry) -> str:
    """The fields that changed, as "field: before → after" (or the new state for a creation)."""
    before, after = entry.before or {}, entry.after or {}
    keys = [k for k in after if before.get(k) != after.get(k)] if before else list(after)
    return "; ".join(f"{k}: {_value(before[k])} → {_value(after[k])}" if k in before else f"{k}: {_value(after[k])}"
                     for k in keys)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return t("users.yes") if value else t("users.no")
    return str(value)
