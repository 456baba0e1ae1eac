"""Section for the administrator (manual 2.3): managing the company's users. For now a
placeholder page, so that an administrator's navigation leads somewhere honest.

Imports ui.auth/ui.theme; route: /users.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from . import access, auth, theme, widgets
from .i18n import t
from .ports import Services


def register(services: Services) -> None:
    """Register /users."""

    @ui.page("/users")
    async def users_page(request: Request) -> RedirectResponse | None:
        viewer = await auth.require_viewer(services, request)
        if isinstance(viewer, RedirectResponse):
            return viewer
        with theme.frame(t("users.title"), viewer.user, active="/users"):
            if access.may_administer(viewer.user):
                with theme.card():
                    theme.message(t("users.placeholder"), icon="construction")
            else:
                widgets.problem(t("error.forbidden"), t("error.forbidden_text"), icon="lock", back=False)
        return None
