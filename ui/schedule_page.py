"""Page «Настройка температурного графика объекта» (manual 4.6.8, "Настройки" → "Объекты" → a
building → "Температурный график"): supply and return water temperature per outdoor temperature.
Grey values: the building has no schedule of its own and the city's default is shown; black: the
building's own. A dispatcher edits the cells, saves or cancels, and reverts to the default
(after a confirmation); everyone else sees the table read-only.

Route: /settings/buildings/{id}/temperature. Tests: tests/ui/test_heating_ui.py.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.heating import SchedulePoint, TemperatureSchedule
from cloud.services.models import NotFound

from . import access, auth, fmt, pages, selection, theme, widgets
from .accounting import parse_id
from .building_menu import settings_menu
from .heating_page import HeatingServices, attempt
from .i18n import extend, t

SETTINGS_PATH = "/settings/buildings"
GREY = "#5f7389"  # the default schedule's values: lighter than the own, still 4.9:1 on white (WCAG AA)
BLACK = "#102a43"

extend({
    "schedule.title": ("Температурный график объекта", "The building's temperature schedule"),
    "schedule.crumb": ("Настройки объектов", "Building settings"),
    "schedule.intro": ("Температуры сетевой воды в подающем и обратном трубопроводах в зависимости от "
                       "среднесуточной температуры наружного воздуха.",
                       "Network water temperature in the supply and return pipes by the daily mean outdoor "
                       "temperature."),
    "schedule.default.city": ("Значения серым: для объекта график не задан, показан типовой график населённого "
                              "пункта.", "Grey values: the building has no schedule of its own; the city's "
                              "default is shown."),
    "schedule.default.builtin": ("Значения серым: для объекта график не задан, показан типовой график 95/70 "
                                 "(расчётная температура −30 °C).",
                                 "Grey values: the building has no schedule of its own; the standard 95/70 "
                                 "schedule (design temperature −30 °C) is shown."),
    "schedule.own": ("График объекта задан: {who}, {when}.", "The building's own schedule: {who}, {when}."),
    "schedule.range": ("Диапазон температур наружного воздуха утверждён для населённого пункта; если он неверен, "
                       "обратитесь к Оператору данных.",
                       "The outdoor temperature range is the city's; if it is wrong, ask the data operator."),
    "schedule.col.outdoor": ("Т нв, °C", "T out, °C"),
    "schedule.col.supply": ("Т подачи, °C", "T supply, °C"),
    "schedule.col.return": ("Т обратки, °C", "T return, °C"),
    "schedule.edit": ("Изменить", "Edit"),
    "schedule.save": ("Сохранить", "Save"),
    "schedule.cancel": ("Отмена", "Cancel"),
    "schedule.reset": ("Вернуть типовой график", "Revert to the default"),
    "schedule.reset.confirm": ("Удалить график объекта {address} и вернуть типовой график населённого пункта?",
                               "Delete the schedule of {address} and return to the city's default?"),
    "schedule.reset.yes": ("Удалить и вернуть типовой", "Delete and revert"),
    "schedule.saved": ("График объекта сохранён", "Schedule saved"),
    "schedule.reverted": ("Возвращён типовой график", "Reverted to the default"),
    "schedule.empty_cell": ("Заполните все ячейки: пустая при {outdoor} °C.", "Fill every cell: one at {outdoor} °C "
                            "is empty."),
    "schedule.read_only": ("Изменять график может только диспетчер.", "Only a dispatcher may change the schedule."),
    "schedule.scroll": ("Таблица прокручивается →", "The table scrolls →"),
    "heating.refused.points_few": ("в графике должно быть не меньше двух строк.",
                                   "a schedule needs at least two rows."),
    "heating.refused.outdoor_bad": ("недопустимая температура наружного воздуха {value}.",
                                    "bad outdoor temperature {value}."),
    "heating.refused.outdoor_twice": ("температура наружного воздуха {outdoor} °C повторяется.",
                                      "outdoor temperature {outdoor} °C appears twice."),
    "heating.refused.water_bad": ("при {outdoor} °C температура воды должна быть от 0 до 200 °C.",
                                  "at {outdoor} °C the water temperature must be 0 to 200 °C."),
    "heating.refused.return_above_supply": ("при {outdoor} °C температура обратки выше температуры подачи.",
                                            "at {outdoor} °C the return is above the supply."),
    "heating.refused.outdoor_not_city": ("температуры наружного воздуха должны быть от {warmest} до {coldest} °C, "
                                         "как утверждено для населённого пункта.",
                                         "the outdoor temperatures must be {warmest} to {coldest} °C, as approved "
                                         "for the city."),
})


def register(services: HeatingServices) -> None:
    """Register /settings/buildings/{id}/temperature."""

    @ui.page(SETTINGS_PATH + "/{building_id}/temperature", response_timeout=30.0)
    async def schedule_page(request: Request, building_id: str) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=SETTINGS_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        ident = parse_id(building_id)
        try:
            if ident is None:
                raise NotFound(t("error.building_not_found"))
            schedule = await services.heating.schedule(viewer.token, ident)
        except NotFound:
            with theme.frame(t("error.not_found"), viewer.user, active=SETTINGS_PATH,
                             crumbs=[(t("schedule.crumb"), SETTINGS_PATH)]):
                widgets.problem(t("error.not_found"), t("error.building_not_found"))
            return None
        selection.remember(city=schedule.city, building_id=schedule.building_id)
        SchedulePage(services, viewer, schedule).render()
        return None


class SchedulePage:
    def __init__(self, services: HeatingServices, viewer: auth.Viewer, schedule: TemperatureSchedule) -> None:
        self.services = services
        self.viewer = viewer
        self.schedule = schedule
        self.editing = False
        self.cells: dict[tuple[int, str], ui.number] = {}

    @property
    def may_change(self) -> bool:
        return access.may_change_settings(self.viewer.user)

    def render(self) -> None:
        s = self.schedule
        with theme.frame(t("schedule.title"), self.viewer.user, active=SETTINGS_PATH, subtitle=s.address,
                         crumbs=[(t("schedule.crumb"), SETTINGS_PATH)]):
            settings_menu(s.building_id, "/temperature")
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        s = self.schedule
        with theme.card():
            with ui.row().classes("w-full items-start justify-between gap-3"):
                with ui.column().classes("gap-1 text-sm"):
                    ui.label(t("schedule.intro")).classes("du-muted")
                    if s.own:
                        ui.label(t("schedule.own", who=s.updated_by or "—",
                                   when=fmt.moment(s.updated_at) if s.updated_at else "—")).mark("schedule-own")
                    else:
                        ui.label(t(f"schedule.default.{'builtin' if s.source == 'builtin' else 'city'}")) \
                            .style(f"color: {GREY}").mark("schedule-default")
                    ui.label(t("schedule.range")).classes("text-xs du-muted")
                self._toolbar()
            self._table()

    def _toolbar(self) -> None:
        if not self.may_change:
            ui.label(t("schedule.read_only")).classes("text-xs du-muted").mark("schedule-read-only")
            return
        with ui.row().classes("gap-2"):
            if self.editing:
                ui.button(t("schedule.save"), icon="save", on_click=self._save).props("unelevated no-caps") \
                    .mark("schedule-save")
                ui.button(t("schedule.cancel"), icon="close", on_click=self._cancel).props("flat no-caps") \
                    .mark("schedule-cancel")
            else:
                ui.button(t("schedule.edit"), icon="edit", on_click=self._edit).props("outline no-caps") \
                    .mark("schedule-edit")
                if self.schedule.own:
                    ui.button(t("schedule.reset"), icon="restart_alt", on_click=self._confirm_reset) \
                        .props("flat no-caps color=negative").mark("schedule-reset")

    def _table(self) -> None:
        s = self.schedule
        colour = BLACK if s.own else GREY
        ui.add_css(".du-sched { border-collapse: collapse; } .du-sched th, .du-sched td { padding: 4px 14px; "
                   "text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; border-bottom: 1px "
                   "solid #edf1f5; } .du-sched th { background: #f7f9fb; font-weight: 600; color: #334e68; } "
                   ".du-sched th:first-child, .du-sched td:first-child { position: sticky; left: 0; background: "
                   "#fff; z-index: 1; } .du-sched th:first-child { background: #f7f9fb; }")
        ui.label(t("schedule.scroll")).classes("text-xs du-muted sm:hidden")
        self.cells = {}
        with ui.element("div").classes("w-full overflow-x-auto max-h-[70vh] overflow-y-auto"), \
                ui.element("table").classes("du-sched").mark("schedule-table"):
            with ui.element("tr"):
                for key in ("schedule.col.outdoor", "schedule.col.supply", "schedule.col.return"):
                    with ui.element("th"):
                        ui.label(t(key))
            for p in s.points:
                with ui.element("tr"):
                    with ui.element("td"):
                        ui.label(f"{p.outdoor_c:+d}" if p.outdoor_c else "0")
                    for name, value in (("supply", p.supply_c), ("return", p.return_c)):
                        with ui.element("td"):
                            if self.editing:
                                named = f'{t(f"schedule.col.{name}")}, {p.outdoor_c:+d}'
                                self.cells[(p.outdoor_c, name)] = ui.number(value=value, format="%.1f", step=0.1) \
                                    .props(f'dense outlined input-class=text-right aria-label="{named}"') \
                                    .classes("w-24") \
                                    .mark(f"schedule-{name}-{p.outdoor_c}")
                            else:
                                ui.label(fmt.number(value, 1)).style(f"color: {colour}") \
                                    .mark(f"schedule-{name}-{p.outdoor_c}-{'own' if s.own else 'default'}")

    # --- actions ---------------------------------------------------------------------------------

    def _edit(self) -> None:
        self.editing = True
        self.body.refresh()

    def _cancel(self) -> None:
        self.editing = False
        self.body.refresh()

    async def _save(self) -> None:
        points = []
        for p in self.schedule.points:
            supply, back = (self.cells[(p.outdoor_c, n)].value for n in ("supply", "return"))
            if supply is None or back is None:
                ui.notify(t("schedule.empty_cell", outdoor=p.outdoor_c), type="warning")
                return
            points.append(SchedulePoint(p.outdoor_c, float(supply), float(back)))
        async with theme.working():
            saved = await attempt(self.services.heating.set_schedule(self.viewer.token, self.schedule.building_id,
                                                                     points))
        if saved is None:
            return
        self.schedule, self.editing = saved, False
        ui.notify(t("schedule.saved"), type="positive")
        self.body.refresh()

    def _confirm_reset(self) -> None:
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("schedule-reset-dialog"):
            ui.label(t("schedule.reset.confirm", address=self.schedule.address)).classes("break-words")

            async def reset() -> None:
                async with theme.working():
                    done = await attempt(self.services.heating.reset_schedule(self.viewer.token,
                                                                              self.schedule.building_id))
                if done is None:
                    return
                dialog.close()
                self.schedule = done
                ui.notify(t("schedule.reverted"), type="positive")
                self.body.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("schedule.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("schedule.reset.yes"), on_click=reset).props("unelevated no-caps color=negative") \
                    .mark("schedule-reset-yes")
        dialog.open()
