"""Signing in and out, and the per-page guard.

The session token lives in ``app.storage.user["token"]``; ``current_user`` asks the auth
service who it belongs to on every page build, so an expired or revoked session sends the
person to ``/login?next=<path>`` (the service decides expiry, manual 3.5). Imports the auth
service through ui.ports; tests: tests/ui/test_auth.py.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import suppress
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from cloud.services.models import AuthError, Forbidden, InvalidInput, LoginThrottled, NotFound, UserInfo

from . import access, errors, selection, theme
from .i18n import t
from .ports import Services

TOKEN_KEY = "token"  # noqa: S105 - the storage key, not a secret
ENDED_KEY = "session_ended"  # set when a session was refused, so the login page can say why
LOGIN_PATH = "/login"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person a page is built for, and the token to act as them."""

    user: UserInfo
    token: str


def safe_next(value: str | None) -> str | None:
    """A local path to return to after signing in; anything else (other hosts) is dropped."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if value.startswith(LOGIN_PATH):
        return None
    return value


def login_url(next_path: str | None) -> str:
    target = safe_next(next_path)
    return f"{LOGIN_PATH}?next={quote(target, safe='/')}" if target else LOGIN_PATH


def _request_path(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def current_user(services: Services) -> UserInfo | None:
    """The user of this browser's session, or None when not signed in or expired."""
    token = app.storage.user.get(TOKEN_KEY)
    if not token:
        return None
    try:
        return await services.auth.user(token)
    except AuthError:
        app.storage.user.pop(TOKEN_KEY, None)  # expired or revoked: forget it, sign in again
        app.storage.user[ENDED_KEY] = True
        return None


async def require_viewer(services: Services, request: Request) -> Viewer | RedirectResponse:
    """The page guard: the viewer, or a redirect to the login page that comes back here."""
    user = await current_user(services)
    if user is None:
        return RedirectResponse(login_url(_request_path(request)), status_code=303)
    token = app.storage.user[TOKEN_KEY]
    navigation = getattr(services, "navigation", None)
    if navigation is not None:  # what data exist: the menu's items and the start page (manual 2.3, 3.3)
        app.storage.client[access.NAV_FACTS_KEY] = await navigation.facts(token)
    cities = getattr(services, "cities", None)
    if cities is not None:  # the header's city selector (manual 3.4) lists the company's cities
        found = await cities.list(token)
        app.storage.user[selection.CITIES_KEY] = [c.name for c in found]
        app.storage.user[selection.ZONES_KEY] = {c.name: c.time_zone for c in found}
    profile = getattr(services, "profile", None)
    if profile is not None and selection.current().city is None:  # a new browser: the profile's city (3.4)
        city = await profile.working_city(token)
        if city is not None:
            selection.remember(city=city.name)
    return Viewer(user=user, token=token)


def session_ended() -> None:
    """Call from an event handler when a service said the session is gone (AuthError)."""
    app.storage.user.pop(TOKEN_KEY, None)
    app.storage.user[ENDED_KEY] = True
    request = ui.context.client.request
    ui.navigate.to(login_url(_request_path(request)) if request is not None else LOGIN_PATH)


async def attempt(call: Awaitable[T]) -> T | None:
    """Await a service call made from an event handler; on a refusal, tell the person and give None.

    An ended session goes to the login page; not found, forbidden and invalid input become a
    notification naming the reason, and the page keeps what it showed.
    """
    try:
        return await call
    except AuthError:
        session_ended()
    except NotFound:
        ui.notify(t("error.not_found"), type="negative")
    except Forbidden:
        ui.notify(t("error.forbidden_text"), type="negative")
    except InvalidInput as error:
        ui.notify(t("error.invalid_input", reason=errors.reason(str(error))), type="warning")
    return None


RESIDENT_TOKEN_KEY = "resident_token"  # noqa: S105 - the residents' app's storage key (ui/resident_app.py)


async def end_resident_session(services: Services) -> None:
    """Close the residents' app session this browser holds, if any: signing in as staff replaces it."""
    token = app.storage.user.pop(RESIDENT_TOKEN_KEY, None)
    resident_app = getattr(services, "resident_app", None)
    if token and resident_app is not None:
        await resident_app.logout(token)


def register(services: Services) -> None:
    """Register /login and /logout."""

    @ui.page(LOGIN_PATH)
    async def login_page(next: str | None = None) -> RedirectResponse | None:
        target = safe_next(next)
        user = await current_user(services)
        if user is not None:
            return RedirectResponse(target or access.home(user), status_code=303)
        _login_form(services, target)
        return None

    @ui.page("/logout")
    async def logout_page() -> RedirectResponse:
        token = app.storage.user.pop(TOKEN_KEY, None)
        if token:
            with suppress(AuthError):  # the session had already ended: there is nothing left to close
                await services.auth.logout(token)
        return RedirectResponse(LOGIN_PATH, status_code=303)


def _login_form(services: Services, target: str | None) -> None:
    with theme.bare(t("login.title")):
        with ui.row().classes("items-center gap-2 mb-2"):
            ui.icon("apartment", size="34px").classes("text-primary")
            ui.label(t("app.name")).classes("text-3xl font-semibold text-primary").mark("product-name")
        ui.label(t("app.tagline")).classes("du-muted mb-4 text-center")
        with ui.card().classes("du-card w-full max-w-sm p-6 gap-4").props("flat"):
            ui.label(t("login.title")).classes("text-lg font-semibold").props("role=heading aria-level=1")
            login = ui.input(t("login.login")).props("outlined autofocus autocomplete=username").classes("w-full")
            password = (
                ui.input(t("login.password"), password=True, password_toggle_button=True)
                .props("outlined autocomplete=current-password")
                .classes("w-full")
            )
            if app.storage.user.pop(ENDED_KEY, False):
                ui.label(t("login.expired")).classes("text-sm text-[#486581]").mark("login-expired")
            error = ui.label("").classes("text-negative text-sm").mark("login-error")
            error.set_visibility(False)
            # the client address the login guard counts failures by (the socket's peer: behind a
            # reverse proxy, run uvicorn with its proxy headers so this is the real client)
            request = ui.context.client.request
            address = request.client.host if request is not None and request.client is not None else ""

            async def submit() -> None:
                name = (login.value or "").strip()
                secret = password.value or ""
                if not name or not secret:
                    error.text = t("login.empty")
                    error.set_visibility(True)
                    return
                try:
                    session = await services.auth.login(name, secret, address)
                except LoginThrottled as refused:
                    error.text = (t("login.locked") if refused.locked
                                  else t("login.throttled", seconds=refused.wait_s))
                    error.set_visibility(True)
                    password.value = ""
                    return
                except (AuthError, InvalidInput):
                    error.text = t("login.failed")
                    error.set_visibility(True)
                    password.value = ""
                    return
                await end_resident_session(services)  # one set of credentials per browser (manual 3.5)
                app.storage.user[TOKEN_KEY] = session.token
                ui.navigate.to(target or access.home(session.user))

            login.on("keydown.enter", submit)
            password.on("keydown.enter", submit)
            ui.button(t("login.submit"), on_click=submit).props("unelevated no-caps size=md").classes("w-full").mark(
                "login-submit"
            )
        with ui.row().classes("mt-4 items-center gap-4"):
            ui.link(t("kv.for_residents"), "/kv/login").classes("du-link text-sm").mark("to-kv-login")
            theme.language_switch()
