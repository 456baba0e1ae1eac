"""Page «Сезон» (manual 4.5.7, menu "Сервис"): each building of the chosen city with its heating or
non-heating season (two icons, the one in force coloured, both grey when none is set), the start
date, who set it and when; a dispatcher sets a season by clicking the grey icon and choosing the
start date, sets it for a group of buildings in the same season, undoes a change on the day it
was made; the history of each building. Readers and engineers see the page read-only.

The rules are the service's (cloud/services/heating.py); this page words its refusals in Russian.
Route: /service/season. Tests: tests/ui/test_heating_ui.py.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.heating import BuildingSeason, SeasonChange

from . import access, auth, fmt, pages, selection, theme
from .heating_page import SEASON_PATH, HeatingServices, attempt
from .i18n import extend, t

ICONS = {"heating": ("local_fire_department", "#d64545"), "non_heating": ("wb_sunny", "#e39b1b")}
GREY = "#778da5"  # the other season's icon: 3.4:1 on white, a control still seen as one (WCAG 1.4.11)
FILTERS = ("heating", "non_heating", "none")

extend({
    "season.title": ("Сезон", "Season"),
    "season.subtitle": ("Отопительный и межотопительный период объектов: от него зависит контроль "
                        "температурного графика и обработка нештатных ситуаций тепловычислителей.",
                        "Heating and non-heating season of the buildings: schedule control and the handling of "
                        "heat calculators' events depend on it."),
    "season.name.heating": ("отопительный", "heating"),
    "season.name.non_heating": ("межотопительный", "non-heating"),
    "season.name.none": ("не установлен", "not set"),
    "season.filter": ("Показать объекты", "Show buildings"),
    "season.filter.hint": ("все, если ничего не выбрано", "all when nothing is chosen"),
    "season.col.building": ("Объект", "Building"),
    "season.col.status": ("Статус", "Status"),
    "season.col.date": ("Дата начала", "Start date"),
    "season.col.dispatcher": ("Диспетчер", "Dispatcher"),
    "season.empty": ("Нет объектов.", "No buildings."),
    "season.set_to.heating": ("Установить отопительный сезон", "Set the heating season"),
    "season.set_to.non_heating": ("Установить межотопительный сезон", "Set the non-heating season"),
    "season.group.heating": ("Перевести в отопительный", "To the heating season"),
    "season.group.non_heating": ("Перевести в межотопительный", "To the non-heating season"),
    "season.group.count": ("Выбрано объектов: {count}", "Buildings chosen: {count}"),
    "season.group.mixed": ("Выбраны объекты в разных сезонах: групповой перевод невозможен.",
                           "The chosen buildings are in different seasons: no group change."),
    "season.dialog.title": ("{season} сезон: дата начала", "{season} season: start date"),
    "season.dialog.buildings": ("Объекты: {names}", "Buildings: {names}"),
    "season.dialog.date": ("Дата начала сезона", "Season start date"),
    "season.dialog.rule": ("Не раньше предыдущей смены сезона и не позже {today}.",
                           "Not before the previous change and not after {today}."),
    "season.dialog.confirm": ("Установить", "Set"),
    "season.dialog.cancel": ("Отмена", "Cancel"),
    "season.dialog.bad_date": ("Укажите дату в формате ГГГГ-ММ-ДД.", "Give the date as YYYY-MM-DD."),
    "season.done": ("Сезон установлен: {count}", "Season set: {count}"),
    "season.undo": ("Отменить установку сезона", "Undo the season change"),
    "season.undo.confirm": ("Отменить установку сезона «{season}» с {day} для объекта {address}?",
                            "Undo the {season} season from {day} for {address}?"),
    "season.undo.yes": ("Отменить установку", "Undo"),
    "season.undo.done": ("Установка сезона отменена", "Season change undone"),
    "season.history": ("История установок сезона", "Season history"),
    "season.history.title": ("История установок сезона: {address}", "Season history: {address}"),
    "season.history.empty": ("Сезон для объекта не устанавливался.", "No season was ever set for the building."),
    "season.history.col.season": ("Сезон", "Season"),
    "season.history.col.start": ("Начало", "Start"),
    "season.history.col.by": ("Кто установил", "Set by"),
    "season.history.col.at": ("Когда", "When"),
    "season.history.col.undone": ("Отменена", "Undone"),
    "season.history.close": ("Скрыть", "Hide"),
    "heating.refused.season_unknown": ("неизвестный сезон «{season}».", "unknown season “{season}”."),
    "heating.refused.after_today": ("дата начала {starts_on} позже текущей даты {today}.",
                                   "the start {starts_on} is after today, {today}."),
    "heating.refused.same_season": ("объект уже в сезоне «{season}» (с {since}).",
                                   "the building is in the {season} season already (since {since})."),
    "heating.refused.before_previous": ("дата начала {starts_on} раньше предыдущей смены сезона ({previous}).",
                                       "the start {starts_on} is before the previous change ({previous})."),
    "heating.refused.same_start": ("с {starts_on} уже начинается сезон: две смены сезона на одну дату "
                                  "недопустимы.", "a season starts on {starts_on} already: two changes cannot "
                                  "start on one date."),
    "heating.refused.changed_today": ("сезон объекта сегодня уже устанавливался; сначала отмените ту установку.",
                                     "the building's season was changed today already; undo that change first."),
    "heating.refused.group_mixed": ("в группу можно собрать только объекты, находящиеся в одном сезоне.",
                                   "a group may only hold buildings in the same season."),
    "heating.refused.nothing_to_undo": ("у объекта нет установки сезона для отмены.",
                                       "the building has no season change to undo."),
    "heating.refused.undo_not_today": ("отменить можно только установку, сделанную сегодня; последняя сделана "
                                      "{made_on}.", "only a change made today can be undone; the latest was made "
                                      "on {made_on}."),
})


def register(services: HeatingServices) -> None:
    """Register /service/season."""

    @ui.page(SEASON_PATH, response_timeout=30.0)
    async def season_page(request: Request, show: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=SEASON_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = SeasonPage(services, viewer, [s for s in (show or "").split(",") if s in FILTERS])
        await page.load()
        page.render()
        return None


def _status(row: BuildingSeason) -> str:
    return row.season or "none"


class SeasonPage:
    def __init__(self, services: HeatingServices, viewer: auth.Viewer, shown: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.shown = shown  # seasons shown; empty: all (all equals none)
        self.rows: list[BuildingSeason] = []
        self.chosen: set[int] = set()
        self.history_of: BuildingSeason | None = None
        self.history: list[SeasonChange] = []

    @property
    def may_change(self) -> bool:
        return access.may_change_settings(self.viewer.user)

    async def load(self) -> None:
        rows = await self.services.heating.seasons(self.viewer.token)
        cities = selection.company_cities()
        city = selection.chosen_city()
        if len(cities) > 1 and city is not None:
            rows = [r for r in rows if r.city == city]
        self.rows = rows
        self.chosen &= {r.building_id for r in rows}

    async def reload(self) -> None:
        async with theme.working():
            await self.load()
            if self.history_of is not None:
                self.history = await self.services.heating.season_history(self.viewer.token,
                                                                          self.history_of.building_id)
        self.body.refresh()

    def render(self) -> None:
        with theme.frame(t("season.title"), self.viewer.user, active=SEASON_PATH, subtitle=t("season.subtitle")):
            self.body()

    def _visible(self) -> list[BuildingSeason]:
        return [r for r in self.rows if not self.shown or _status(r) in self.shown]

    @ui.refreshable_method
    def body(self) -> None:
        with theme.card(), ui.row().classes("w-full items-end justify-between gap-4"):
            with ui.column().classes("gap-1"):
                ui.label(t("season.filter")).classes("du-kpi-label")
                ui.select({s: t(f"season.name.{s}") for s in FILTERS}, multiple=True, value=list(self.shown),
                          on_change=self._filter).props(f"outlined dense use-chips hint='{t('season.filter.hint')}'") \
                    .classes("min-w-[16rem]").mark("season-filter")
            if self.may_change and self.chosen:
                self._group_bar()
        with theme.card():
            rows = self._visible()
            if not rows:
                theme.message(t("season.empty"))
            else:
                self._table(rows)
        if self.history_of is not None:
            self._history()

    def _group_bar(self) -> None:
        chosen = [r for r in self.rows if r.building_id in self.chosen]
        seasons = {r.season for r in chosen}
        with ui.column().classes("gap-1 items-end").mark("season-group"):
            ui.label(t("season.group.count", count=len(chosen))).classes("text-sm du-muted")
            if len(seasons) > 1:
                ui.label(t("season.group.mixed")).classes("text-sm text-[#c2413b]").mark("season-group-mixed")
                return
            (current,) = seasons
            with ui.row().classes("gap-2"):
                for season in ICONS:
                    if season != current:
                        icon, colour = ICONS[season]
                        ui.button(t(f"season.group.{season}"), icon=icon,
                                  on_click=lambda s=season: self._dialog(chosen, s)) \
                            .props("unelevated no-caps").style(f"background: {colour} !important") \
                            .mark(f"season-group-{season}")

    def _table(self, rows: list[BuildingSeason]) -> None:
        ui.add_css(".du-season th:first-child, .du-season td:first-child { position: sticky; left: 0; "
                   "background: #fff; z-index: 1; } .du-season td, .du-season th { padding: 6px 10px; "
                   "border-bottom: 1px solid #edf1f5; text-align: left; vertical-align: middle; } "
                   ".du-season th { background: #f7f9fb; font-weight: 600; color: #334e68; }")
        with ui.element("div").classes("w-full overflow-x-auto"), \
                ui.element("table").classes("du-season w-full min-w-[640px]").mark("season-table"):
            with ui.element("tr"):
                for key in ("season.col.building", "season.col.status", "season.col.date", "season.col.dispatcher"):
                    with ui.element("th"):
                        ui.label(t(key))
                with ui.element("th"):
                    ui.label("")
            for row in rows:
                self._row(row)

    def _row(self, row: BuildingSeason) -> None:
        with ui.element("tr").mark(f"season-row-{row.building_id}"):
            with ui.element("td").classes("max-w-[18rem]"), ui.row().classes("items-center gap-2 no-wrap"):
                if self.may_change:
                    ui.checkbox(value=row.building_id in self.chosen,
                                on_change=lambda e, i=row.building_id: self._choose(i, e.value)) \
                        .props("dense").mark(f"season-check-{row.building_id}")
                ui.label(row.address).classes("truncate").tooltip(row.address)
            with ui.element("td"), ui.row().classes("gap-1 no-wrap"):
                for season, (icon, colour) in ICONS.items():
                    current = row.season == season
                    tip = (t(f"season.name.{season}") if current or not self.may_change
                           else t(f"season.set_to.{season}"))
                    # the current season is ringed, not only coloured, and read out as current (WCAG 1.4.1)
                    looks = f'outline round dense aria-current=true aria-label="{tip}"' if current \
                        else f'flat round dense aria-label="{tip}"'
                    button = ui.button(icon=icon).props(looks).style(
                        f"color: {colour if current else GREY} !important").mark(
                        f"season-icon-{row.building_id}-{season}" + ("-on" if current else ""))
                    button.tooltip(tip)
                    if self.may_change and not current:  # the grey icon of the other season sets it
                        button.on_click(lambda s=season, r=row: self._dialog([r], s))
            with ui.element("td"):
                ui.label(fmt.day(row.starts_on) if row.starts_on else "—").mark(f"season-date-{row.building_id}")
            with ui.element("td"):
                if row.set_by:
                    ui.label(row.set_by).classes("text-sm")
                if row.set_at:
                    ui.label(fmt.moment(row.set_at)).classes("text-xs du-muted")
            with ui.element("td"), ui.row().classes("gap-1 no-wrap justify-end"):
                if self.may_change and row.undoable:
                    ui.button(icon="undo", on_click=lambda r=row: self._confirm_undo(r)) \
                        .props(f'flat round dense aria-label="{t("season.undo")}"') \
                        .tooltip(t("season.undo")).mark(f"season-undo-{row.building_id}")
                ui.button(icon="history", on_click=lambda r=row: self._open_history(r)) \
                    .props(f'flat round dense aria-label="{t("season.history")}"') \
                    .tooltip(t("season.history")).mark(f"season-history-{row.building_id}")

    # --- actions ---------------------------------------------------------------------------------

    async def _filter(self, event) -> None:
        self.shown = [s for s in (event.value or []) if s in FILTERS]
        self.body.refresh()

    def _choose(self, building_id: int, on: bool) -> None:
        if on:
            self.chosen.add(building_id)
        else:
            self.chosen.discard(building_id)
        self.body.refresh()

    def _dialog(self, rows: list[BuildingSeason], season: str) -> None:
        """The start date of ``season`` for ``rows``, confirmed before anything is changed."""
        today = min(r.today for r in rows)
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("season-dialog"):
            ui.label(t("season.dialog.title", season=t(f"season.name.{season}").capitalize())) \
                .classes("du-card-title")
            names = ", ".join(r.address for r in rows[:5]) + (" …" if len(rows) > 5 else "")
            ui.label(t("season.dialog.buildings", names=names)).classes("text-sm break-words")
            field = ui.input(t("season.dialog.date"), value=today.isoformat()) \
                .props(f"outlined dense type=date max={today.isoformat()}").classes("w-full").mark("season-start")
            ui.label(t("season.dialog.rule", today=fmt.day(today))).classes("text-xs du-muted")

            async def confirm() -> None:
                try:
                    starts_on = date.fromisoformat((field.value or "").strip())
                except ValueError:
                    ui.notify(t("season.dialog.bad_date"), type="warning")
                    return
                async with theme.working():
                    done = await attempt(self.services.heating.set_season(
                        self.viewer.token, [r.building_id for r in rows], season, starts_on))
                if done is None:
                    return
                dialog.close()
                self.chosen.clear()
                ui.notify(t("season.done", count=len(done)), type="positive")
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("season.dialog.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("season.dialog.confirm"), on_click=confirm).props("unelevated no-caps") \
                    .mark("season-confirm")
        dialog.open()

    def _confirm_undo(self, row: BuildingSeason) -> None:
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("season-undo-dialog"):
            ui.label(t("season.undo.confirm", season=t(f"season.name.{row.season or 'none'}"),
                       day=fmt.day(row.starts_on) if row.starts_on else "—", address=row.address)) \
                .classes("break-words")

            async def undo() -> None:
                async with theme.working():
                    done = await attempt(self.services.heating.undo_season(self.viewer.token, row.building_id))
                if done is None:
                    return
                dialog.close()
                ui.notify(t("season.undo.done"), type="positive")
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("season.dialog.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("season.undo.yes"), on_click=undo).props("unelevated no-caps color=negative") \
                    .mark("season-undo-yes")
        dialog.open()

    async def _open_history(self, row: BuildingSeason) -> None:
        async with theme.working():
            found = await attempt(self.services.heating.season_history(self.viewer.token, row.building_id))
        if found is None:
            return
        self.history_of, self.history = row, found
        self.body.refresh()

    def _close_history(self) -> None:
        self.history_of = None
        self.body.refresh()

    def _history(self) -> None:
        row = self.history_of
        if row is None:
            return
        with theme.card().mark("season-history"):
            with ui.row().classes("w-full items-center justify-between no-wrap"):
                ui.label(t("season.history.title", address=row.address)).classes("du-card-title break-words")
                ui.button(t("season.history.close"), icon="close", on_click=self._close_history) \
                    .props("flat no-caps dense")
            if not self.history:
                theme.message(t("season.history.empty"))
                return
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-season w-full min-w-[560px]"):
                with ui.element("tr"):
                    for key in ("season.history.col.start", "season.history.col.season", "season.history.col.by",
                                "season.history.col.at", "season.history.col.undone"):
                        with ui.element("th"):
                            ui.label(t(key))
                for change in self.history:
                    with ui.element("tr").classes("du-muted line-through" if change.undone_at else ""):
                        for text in (fmt.day(change.starts_on), t(f"season.name.{change.season}"),
                                     change.set_by or "—", fmt.moment(change.set_at),
                                     fmt.moment(change.undone_at) if change.undone_at else ""):
                            with ui.element("td"):
                                ui.label(text)
