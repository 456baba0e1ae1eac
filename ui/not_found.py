"""The Russian «Страница не найдена» page for an address no page took, inside the usual frame.

NiceGUI answers an unknown address with its own English error page; this handler answers
instead, with the signed-in person's menu so they can go on (or the sign-in link when nobody
is signed in). Addresses under /api/ and NiceGUI's own resources keep their JSON answers: the
handler hands them to the one that was installed before. Tests: tests/ui/test_navigation.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.exception_handlers import http_exception_handler
from nicegui import Client, app, ui
from nicegui.page import page

from . import auth, theme, widgets
from .i18n import t
from .ports import Services


def register(services: Services) -> None:
    """Install the handler; call after every page is registered."""
    previous = app.exception_handlers.get(404)

    async def not_found(request: Request, exc: Exception) -> Response:
        if _not_a_page(request):
            if previous is not None:
                return await previous(request, exc)
            return await http_exception_handler(request, exc)  # type: ignore[arg-type]
        user = await auth.current_user(services)
        with Client(page(""), request=request) as client:
            if user is None:
                with theme.bare(t("error.page_not_found")):
                    with theme.card().classes("max-w-md"):
                        ui.label(t("error.page_not_found")).classes("text-lg font-semibold").mark("problem-title")
                        ui.label(t("error.page_not_found_text")).classes("du-muted").mark("problem-text")
                        ui.link(t("login.submit"), auth.login_url(None)).classes("du-link")
            else:
                with theme.frame(t("error.page_not_found"), user):
                    widgets.problem(t("error.page_not_found"), t("error.page_not_found_text"))
        return client.build_response(request, 404)

    app.add_exception_handler(404, not_found)


def _not_a_page(request: Request) -> bool:
    """API and resource addresses, and endpoints that raised 404 themselves (not pages): JSON, as before."""
    path = request.url.path
    if path.startswith(("/api/", "/_nicegui")) or path in ("/api", "/docs", "/redoc", "/openapi.json"):
        return True
    endpoint: Any = request.scope.get("endpoint")
    return endpoint is not None and endpoint is not app and not request.scope.get("nicegui_page_path")
