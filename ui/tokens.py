"""API tokens in the UI: the card that lists, issues and revokes them, and the page «Мои API-токены».

A token acts as its owner (cloud/services/api_tokens.py), so it is issued to whoever will use
it: on /tokens any signed-in user issues and revokes their own; on /users (ui/admin.py) an
administrator issues tokens for themself and for the company's integration accounts and sees
and revokes every token of the company. The service checks the same rules again.
Route: /tokens. Tests: tests/ui/test_cloud_admin_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.api_tokens import ApiTokenInfo, NewApiToken

from . import auth, fmt, theme
from .i18n import t
from .ports import Services

PATH = "/tokens"


class ApiTokenService(Protocol):
    async def create(self, token: str, user_id: int, name: str, days: int = 365) -> NewApiToken: ...

    async def list(self, token: str) -> list[ApiTokenInfo]: ...

    async def revoke(self, token: str, token_id: int) -> None: ...


class TokenServices(Protocol):
    @property
    def api_tokens(self) -> ApiTokenService: ...


class TokensCard:
    """The tokens the viewer may see, with "issue" and "revoke". ``owners`` gives the users a new
    token may belong to (id -> label), asked each time the dialog opens; ``changed`` runs after a
    change (the admin page reloads its audit log)."""

    def __init__(self, tokens: ApiTokenService, viewer: auth.Viewer, owners: Callable[[], dict[int, str]],
                 changed: Callable[[], Awaitable[None]] | None = None, hint: str = "") -> None:
        self.tokens = tokens
        self.viewer = viewer
        self.owners = owners
        self.changed = changed
        self.hint = hint

    def build(self) -> None:
        with theme.card():
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(t("tokens.title")).classes("du-card-title")
                ui.button(t("tokens.add"), icon="vpn_key", on_click=self._dialog).props(
                    "unelevated no-caps").mark("tokens-add")
            ui.label(self.hint or t("tokens.hint")).classes("text-sm du-muted")
            self._view = ui.column().classes("w-full")

    async def reload(self) -> None:
        found = await auth.attempt(self.tokens.list(self.viewer.token))
        if found is None:
            return
        self._view.clear()
        with self._view:
            self._table(found)

    async def _after_change(self) -> None:
        await self.reload()
        if self.changed is not None:
            await self.changed()

    def _table(self, tokens: Sequence[ApiTokenInfo]) -> None:
        if not tokens:
            theme.message(t("tokens.empty"))
            return
        with ui.column().classes("w-full gap-1").mark("tokens-table"):
            for info in tokens:
                with ui.row().classes("w-full items-center justify-between no-wrap").mark(f"token-{info.id}"):
                    state = t("tokens.revoked") if info.revoked else t("tokens.until", day=fmt.day(info.expires_at))
                    ui.label(f"{info.name} — {info.user_login} · {state}").classes(
                        "du-muted line-through" if info.revoked else "")
                    if not info.revoked:
                        ui.button(t("tokens.revoke"), icon="block", on_click=self._revoke(info)).props(
                            "flat dense no-caps").mark(f"revoke-{info.id}")

    def _revoke(self, info: ApiTokenInfo) -> Callable[[], Awaitable[None]]:
        async def revoked() -> bool:  # revoke() gives None; attempt() gives None for a refusal
            await self.tokens.revoke(self.viewer.token, info.id)
            return True

        async def revoke() -> None:
            if not await auth.attempt(revoked()):
                return
            ui.notify(t("tokens.revoked_done", name=info.name), type="positive")
            await self._after_change()
        return revoke

    def _dialog(self) -> None:
        owners = self.owners()
        with ui.dialog() as dialog, ui.card().classes("du-card p-5 gap-3 min-w-[360px]"):
            ui.label(t("tokens.add")).classes("du-card-title")
            owner = ui.select(owners, value=next(iter(owners)) if len(owners) == 1 else None,
                              label=t("tokens.user")).props("outlined").classes("w-full").mark("token-user")
            name = ui.input(t("tokens.name")).props("outlined").classes("w-full").mark("token-name")
            days = ui.number(t("tokens.days"), value=365, min=1, max=366, precision=0).props("outlined").classes(
                "w-full").mark("token-days")
            shown = ui.column().classes("w-full gap-1")

            async def create() -> None:
                if owner.value is None:
                    ui.notify(t("tokens.pick_user"), type="warning")
                    return
                made = await auth.attempt(self.tokens.create(self.viewer.token, int(owner.value), name.value or "",
                                                             int(days.value or 0)))
                if made is None:
                    return
                shown.clear()
                with shown:  # shown once: only its hash is stored
                    ui.label(t("tokens.copy_now")).classes("text-sm text-[#8a5a00]")
                    ui.input(value=made.token).props("outlined readonly dense").classes("w-full font-mono").mark(
                        "token-value")
                create_button.set_visibility(False)
                await self._after_change()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("users.cancel"), on_click=dialog.close).props("flat no-caps")
                create_button = ui.button(t("users.create"), on_click=create).props("unelevated no-caps").mark(
                    "token-create")
        dialog.open()


def register(services: Services) -> None:
    """Register /tokens: the signed-in user's own API tokens."""
    token_services = cast(TokenServices, services)

    @ui.page(PATH)
    async def my_tokens_page(request: Request) -> RedirectResponse | None:
        viewer = await auth.require_viewer(services, request)
        if isinstance(viewer, RedirectResponse):
            return viewer
        me = viewer.user
        with theme.frame(t("tokens.mine"), me, active=PATH):
            card = TokensCard(token_services.api_tokens, viewer, lambda: {me.id: f"{me.login} — {me.full_name}"},
                              hint=t("tokens.mine_hint"))
            card.build()
            await card.reload()
        return None
