"""The shared page layout: header (product, user, role, company, language, logout), the left
navigation the role may use, and the page title with breadcrumbs; plus small card helpers.

Imports nicegui and ui.access/ui.i18n only; every signed-in page is built inside ``frame``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

from nicegui import app, ui

from cloud.services.models import UserInfo

from . import fmt, selection
from .access import NAV_FACTS_KEY, navigation
from .i18n import LANGUAGES, current_language, extend, set_language, t

# the names screen readers give icon-only buttons that have no tooltip of their own
extend({
    "header.menu": ("Меню разделов", "Sections menu"),
    "common.prev_year": ("Предыдущий год", "Previous year"),
    "common.next_year": ("Следующий год", "Next year"),
    "common.remove": ("Удалить", "Remove"),
})

PRIMARY = "#1d4f7c"
ACCENT = "#0f9d8a"

_CSS = """
body { background: #f3f5f8; color: #1f2933; }
.du-card { background: #fff; border: 1px solid #e3e8ef; border-radius: 10px; box-shadow: none; }
.du-card-title { font-size: 0.95rem; font-weight: 600; color: #243b53; }
/* greys dark enough for text (contrast 4.5:1 on white and on the page's background, WCAG AA) */
.du-muted { color: #486581; }
.du-kpi-value { font-size: 1.35rem; font-weight: 600; color: #102a43; font-variant-numeric: tabular-nums; }
.du-kpi-label { font-size: 0.78rem; color: #486581; text-transform: uppercase; letter-spacing: .03em; }
.du-nav-link { display: flex; align-items: center; gap: 12px; width: 100%; padding: 8px 12px;
  border-radius: 8px; color: #334e68; text-decoration: none; }
.du-nav-link:hover { background: #f0f4f8; }
.du-nav-link.du-active { background: #e6eef7; color: #1d4f7c; font-weight: 600; }
.du-table .q-table th { font-weight: 600; color: #334e68; background: #f7f9fb; }
.du-table .q-table td { font-variant-numeric: tabular-nums; }
.du-table .q-table tbody tr.du-selected td { background: #e6eef7; }
.du-markup th { font-weight: 600; color: #334e68; background: #f7f9fb; text-align: left; }
.du-markup td, .du-markup th { padding: 6px 12px; }
.du-dot { width: 10px; height: 10px; border-radius: 50%; display: inline-block; }
.du-plashka { transition: box-shadow .15s, border-color .15s; cursor: pointer; }
.du-plashka:hover { border-color: #9fb3c8; box-shadow: 0 2px 8px rgba(16, 42, 67, .08); }
a.du-link { color: #1d4f7c; text-decoration: none; font-weight: 500; }
a.du-link:hover { text-decoration: underline; }
a.du-stretched::after { content: ""; position: absolute; inset: 0; }
.du-clickable tbody tr { cursor: pointer; }
/* a toggle with more choices than a phone's width (four resources) wraps instead of widening the page */
.q-btn-toggle { flex-wrap: wrap; max-width: 100%; }
.nicegui-column:has(> .q-btn-toggle) { max-width: 100%; }
/* keyboard focus is always visible: Quasar turns the outline off with .no-outline's !important in NiceGUI's
   last layer, which only an !important of an earlier layer outranks; a field shows its own focused frame, so
   its input draws none; the ring is white on the dark header */
@layer overrides {
  :focus-visible { outline: 2px solid #1d4f7c !important; outline-offset: 2px; }
  .q-header :focus-visible { outline-color: #fff !important; }
  .q-field__native:focus-visible, .q-select__focus-target:focus-visible { outline: none !important; }
}
"""


@contextmanager
def frame(
    title: str,
    user: UserInfo,
    *,
    crumbs: Sequence[tuple[str, str]] = (),
    subtitle: str | None = None,
    status: str | None = None,
    active: str = "/",
) -> Iterator[ui.column]:
    """Lay out a signed-in page and yield its content column.

    ``crumbs`` are (text, href) links above the title; ``status`` is the small data status
    line on the right of the title; ``active`` is the navigation item to highlight.
    """
    _page_setup(title)
    drawer = _drawer(user, active)
    _header(user, drawer)
    _busy_bar()
    with ui.column().classes("w-full max-w-screen-xl mx-auto px-3 sm:px-6 py-5 gap-5") as content:
        with ui.row().classes("w-full items-end justify-between gap-4"):
            with ui.column().classes("gap-1"):
                if crumbs:
                    _breadcrumbs(crumbs)
                # the page's one level-1 heading, and the cards' titles under it (screen readers jump by them)
                ui.label(title).classes("text-2xl font-semibold text-[#102a43]").props("role=heading aria-level=1") \
                    .mark("page-title")
                if subtitle:
                    ui.label(subtitle).classes("du-muted")
            if status:
                ui.label(status).classes("text-xs du-muted").mark("data-status")
        yield content


@contextmanager
def bare(title: str) -> Iterator[ui.column]:
    """Lay out a page for someone not signed in (login): centred, no navigation."""
    _page_setup(title)
    with ui.column().classes("w-full min-h-screen items-center justify-center p-6") as content:
        yield content


def _page_setup(title: str) -> None:
    ui.page_title(f"{title} — {t('app.name')}")
    ui.colors(primary=PRIMARY, secondary=ACCENT)
    ui.add_css(_CSS)
    # the page's language for screen readers and hyphenation: Quasar's language pack writes the default
    # (ru) into <html lang> when the app starts, so the browser's own choice is set once it has connected
    ui.run_javascript(f"document.documentElement.lang = {json.dumps(current_language())}")


page_setup = _page_setup  # the residents' app draws its own frame (ui/resident_frame.py)


_BUSY = "du_busy_bar"


def _busy_bar() -> None:
    """A thin bar at the top of the page, shown while an action waits (see ``working``)."""
    bar = ui.linear_progress(show_value=False, size="3px").props("indeterminate color=accent") \
        .classes("fixed top-0 left-0 right-0 z-[7000]").mark("busy")
    bar.visible = False
    setattr(ui.context.client, _BUSY, bar)


@asynccontextmanager
async def working() -> AsyncIterator[None]:
    """Show the page's progress bar while the body waits (a period switch, a request to the edge)."""
    bar = getattr(ui.context.client, _BUSY, None)
    if bar is not None:
        bar.visible = True
    try:
        yield
    finally:
        if bar is not None:
            bar.visible = False


def _header(user: UserInfo, drawer: ui.left_drawer) -> None:
    with ui.header(elevated=False).classes("items-center justify-between px-4 py-2 bg-[#173a5e]"):
        with ui.row().classes("items-center gap-3 no-wrap"):
            ui.button(icon="menu", on_click=drawer.toggle) \
                .props(f'flat round dense color=white aria-label="{t("header.menu")}"')
            with ui.link(target="/").classes("no-underline text-white flex items-center gap-2"):
                ui.icon("apartment", size="26px")
                ui.label(t("app.name")).classes("text-lg font-semibold tracking-wide").mark("product-name")
        with ui.row().classes("items-center gap-4 no-wrap"):
            city_switch()
            language_switch(dark=True)
            with ui.column().classes("gap-0 items-end gt-xs"):
                ui.label(user.full_name).classes("text-sm font-medium").mark("user-name")
                ui.label(f"{fmt.user_role(user)} · {user.company_name}").classes("text-xs opacity-80").mark("user-role")
            if user.reader:
                ui.badge(t("header.reader"), color="amber-7").props("rounded").classes("text-black")
            ui.button(t("header.logout"), icon="logout", on_click=lambda: ui.navigate.to("/logout")).props(
                "flat no-caps color=white"
            ).mark("logout")


def _drawer(user: UserInfo, active: str) -> ui.left_drawer:
    with ui.left_drawer(bordered=True).props("width=232").classes("bg-white px-2 py-4") as drawer:
        with ui.column().classes("du-nav w-full gap-1"):
            for section in navigation(user, app.storage.client.get(NAV_FACTS_KEY)):  # facts: ui.auth
                ui.label(t(section.label_key)).classes("text-xs font-semibold du-muted uppercase px-3 pt-2")
                for item in section.items:
                    active_class = " du-active" if item.href == active else ""
                    with ui.link(target=item.href).classes(f"du-nav-link{active_class}").mark(f"nav-{item.href}"):
                        ui.icon(item.icon, size="20px")
                        ui.label(t(item.label_key))
    return drawer


def _breadcrumbs(crumbs: Sequence[tuple[str, str]]) -> None:
    with ui.row().classes("items-center gap-1 text-sm"):
        for index, (text, href) in enumerate(crumbs):
            if index:
                ui.icon("chevron_right", size="16px").classes("du-muted")
            ui.link(text, href).classes("du-link")


def city_switch() -> None:
    """The city the pages show (manual 3.4): present only when the company works in more than one."""
    names = selection.company_cities()
    if len(names) < 2:
        return

    def choose(name: str) -> None:
        selection.remember(city=name)
        ui.navigate.reload()

    ui.select(names, value=selection.chosen_city(), on_change=lambda e: choose(e.value) if e.value else None) \
        .props("dense borderless dark options-dark=false").classes("min-w-[8rem] text-white") \
        .tooltip(t("header.city")).mark("city-switch")


def language_switch(*, dark: bool = False) -> None:
    """RU/EN switch; remembers the choice for the browser and rebuilds the page."""

    def choose(lang: str) -> None:
        set_language(lang)
        ui.navigate.reload()

    toggle = ui.toggle(
        {lang: lang.upper() for lang in LANGUAGES},
        value=current_language(),
        on_change=lambda e: choose(e.value) if e.value else None,
    ).props(
        "dense no-caps unelevated size=sm"
        + (" toggle-color=white text-color=white color=transparent toggle-text-color=primary" if dark else "")
    )
    toggle.tooltip(t("header.language"))
    toggle.mark("language")


def card(title: str | None = None) -> ui.card:
    """A flat white card with an optional title; use as a context manager."""
    box = ui.card().classes("du-card w-full p-5 gap-3").props("flat")
    if title:
        with box:
            ui.label(title).classes("du-card-title").props("role=heading aria-level=2")
    return box


def message(text: str, *, icon: str = "info", color: str = "#627d98") -> None:
    """A quiet one-line note inside a card (no data, not applicable, …)."""
    with ui.row().classes("items-center gap-2 no-wrap"):
        ui.icon(icon, size="20px").style(f"color: {color}")
        ui.label(text).classes("du-muted")
