"""The residents' app's own layout and sign-in guard (manual 3.6, the КВ application), mobile-first:
a header with the app's name and the way out, the premise's address, and a row of tabs (Потребление,
Приборы, Заявки, Уведомления) that wraps on a phone. The resident's session token lives in
``app.storage.user[auth.RESIDENT_TOKEN_KEY]``, apart from the staff's; an expired or unknown one sends
the person to /kv/login and back. Tests: tests/ui/test_resident_ui.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from cloud.services.models import AuthError
from cloud.services.resident_app import HomePremise, ResidentHome

from . import auth, i18n, theme
from .i18n import t
from .query import page_url

BASE = "/kv"
LOGIN = f"{BASE}/login"
REGISTER = f"{BASE}/register"
ENDED_KEY = "resident_session_ended"

i18n.extend({
    "kv.app": ("Личный кабинет жителя", "Resident's account"),
    "kv.tab.home": ("Потребление", "Consumption"),
    "kv.tab.meters": ("Приборы", "Meters"),
    "kv.tab.tickets": ("Заявки", "Requests"),
    "kv.tab.notices": ("Уведомления", "Notices"),
    "kv.logout": ("Выйти", "Sign out"),
    "kv.premise": ("Помещение", "Premise"),
    "kv.tabs": ("Разделы кабинета", "Account sections"),
    "kv.apartment": ("кв. {number}", "apt. {number}"),
    "kv.for_residents": ("Вход для жителей", "Residents' sign-in"),
})

TABS = (("kv.tab.home", "bar_chart", BASE), ("kv.tab.meters", "speed", f"{BASE}/meters"),
        ("kv.tab.tickets", "support_agent", f"{BASE}/tickets"), ("kv.tab.notices", "campaign", f"{BASE}/notices"))


def premise_name(p: HomePremise) -> str:
    """"ул. Тестовая, 1, кв. 1": the address and the apartment (a non-residential premise by its number)."""
    number = t("kv.apartment", number=p.number) if p.kind == "apartment" else p.number
    return f"{p.address}, {number}"


def premise_selector(home: ResidentHome, current: HomePremise, path: str) -> None:
    """Shown only when the resident has more than one premise (as the working mode's selectors)."""
    if len(home.premises) < 2:
        return  # the header names the only one
    ui.select({p.id: premise_name(p) for p in home.premises}, value=current.id, label=t("kv.premise"),
              on_change=lambda e: ui.navigate.to(page_url(path, premise=e.value))) \
        .props("outlined dense").classes("w-full").mark("kv-premise")



def login_url(next_path: str | None) -> str:
    target = auth.safe_next(next_path)
    return f"{LOGIN}?next={quote(target, safe='/')}" if target and target.startswith(BASE) else LOGIN


async def resident(services: Any, request: Request) -> tuple[ResidentHome, str] | RedirectResponse:
    """The signed-in resident's home and token, or a redirect to the residents' sign-in page."""
    token = app.storage.user.get(auth.RESIDENT_TOKEN_KEY)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        return RedirectResponse(login_url(path), status_code=303)
    try:
        return await services.resident_app.home(token), token
    except AuthError:
        app.storage.user.pop(auth.RESIDENT_TOKEN_KEY, None)
        app.storage.user[ENDED_KEY] = True
        return RedirectResponse(login_url(path), status_code=303)


def session_ended() -> None:
    """From an event handler, when a service said the resident's session is gone."""
    app.storage.user.pop(auth.RESIDENT_TOKEN_KEY, None)
    app.storage.user[ENDED_KEY] = True
    ui.navigate.to(LOGIN)


@contextmanager
def frame(title: str, home: ResidentHome, active: str, subtitle: str | None = None,
          premise: HomePremise | None = None) -> Iterator[ui.column]:
    """A signed-in page of the app: header (the app, the premise's address or, with several premises
    and none chosen, the person's name), tabs, the page's heading; yields its content column."""
    shown = premise or (home.premises[0] if len(home.premises) == 1 else None)
    theme.page_setup(title)
    with ui.header(elevated=False).classes("items-center justify-between px-3 py-2 bg-[#173a5e] gap-2"):
        with ui.row().classes("items-center gap-2 no-wrap min-w-0"):
            ui.icon("home", size="24px").classes("text-white").props('aria-hidden="true"')
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(t("kv.app")).classes("text-white font-semibold leading-tight")
                ui.label(premise_name(shown) if shown else home.full_name) \
                    .classes("text-xs text-[#d9e2ec] truncate").mark("kv-person")
        with ui.row().classes("items-center gap-1 no-wrap"):
            theme.language_switch(dark=True)
            ui.link(t("kv.logout"), f"{BASE}/logout").classes("text-white text-sm px-2").mark("kv-logout")
    with ui.element("nav").props(f'aria-label="{t("kv.tabs")}"').classes("w-full bg-white border-b"):
        with ui.row().classes("w-full max-w-screen-md mx-auto px-1 gap-0 no-wrap"):
            for key, icon, href in TABS:
                current = " du-kv-active" if href == active else ""
                link = ui.link(target=href).classes(f"du-kv-tab{current}").mark(f"kv-tab-{href}")
                if current:
                    link.props('aria-current="page"')
                with link:
                    ui.icon(icon, size="20px").props('aria-hidden="true"')
                    ui.label(t(key))
    ui.add_css(_CSS)
    with ui.column().classes("w-full max-w-screen-md mx-auto px-3 py-4 gap-4") as content:
        ui.label(title).classes("text-xl font-semibold text-[#102a43]").props("role=heading aria-level=1") \
            .mark("page-title")
        if subtitle:
            ui.label(subtitle).classes("du-muted text-sm").mark("kv-subtitle")
        yield content


_CSS = """
.du-kv-tab { display: flex; flex-direction: column; align-items: center; gap: 2px; padding: 6px 2px;
  color: #334e68; text-decoration: none; font-size: 12px; border-bottom: 3px solid transparent; flex: 1 1 0;
  min-width: 0; text-align: center; }
.du-kv-tab:hover { color: #102a43; }
.du-kv-active { color: #1d4f7c; border-bottom-color: #1d4f7c; font-weight: 600; }
"""
