"""The event journal (manual 4.2.2, menu "Мониторинг" → "События") and event subscriptions
(4.6.13, "Настройки" → "Подписка на события").

Journal: for a building and local days (the building's time zone), its meters' events grouped
per meter in time order, each with its classification and Russian description; after a meter's
events its current state (status, last archive period, last readings). Filters by meter type,
effect and kind are multi-select buttons where all pressed equals none pressed; a click on an
event opens its details with the meter's state. Subscriptions: the user's own, added and edited
in a dialog (at least one value of each characteristic, an e-mail address), deleted after a
confirmation; readers see them read-only, administrators not at all.

Every figure comes from cloud/services/events.py (``events``, ``event_subscriptions`` ... in the
API). Routes: /monitoring/events?building=&from=&to=&role=…&effect=…&severity=…,
/settings/subscriptions. Tests: tests/ui/test_events_ui.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol, cast
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.events import (
    EventJournal,
    JournalEvent,
    MeterEvents,
    MeterState,
    Subscription,
    check_email,
    subscription_values,
)
from cloud.services.models import BuildingSummary, Forbidden, InvalidInput, NotFound, UserInfo
from protocol.event_classes import EventEffect, EventSeverity, MeterType

from . import access, auth, fmt, i18n, pages, selection, theme, widgets
from .i18n import t
from .ports import Services
from .query import parse_day

PATH = "/monitoring/events"
SUBSCRIPTIONS_PATH = "/settings/subscriptions"
TYPES = (MeterType.COMMON, MeterType.INDIVIDUAL)
EFFECTS = tuple(EventEffect)
SEVERITIES = tuple(EventSeverity)
DASH = "—"
_SEVERITY_COLOURS = {"info": "#2680c2", "warning": "#de911d", "alarm": "#d64545"}
_EFFECT_ICONS = {"integrity": "lock_open", "interference": "sensors_off", "limit": "speed", "other": "info"}

i18n.extend({
    "events.title": ("Журнал событий", "Event journal"),
    "events.subtitle": ("События приборов учёта объекта: классификация, описание и время (время объекта)",
                        "The building's meter events: classification, description and time (building time)"),
    "events.building": ("Объект", "Building"),
    "events.from": ("С", "From"),
    "events.to": ("По", "To"),
    "events.types": ("Тип ПУ", "Meter type"),
    "events.effects": ("Принцип воздействия", "Effect"),
    "events.severities": ("Вид события", "Kind"),
    "events.multi_hint": ("Можно выбрать несколько; все нажатые кнопки равнозначны ни одной нажатой.",
                          "Several may be chosen; all pressed is the same as none pressed."),
    "events.empty": ("нет данных: событий с выбранными признаками за период нет",
                     "no data: no events with the chosen characteristics in the period"),
    "events.truncated": ("Показаны последние {count} событий: сузьте период или фильтры.",
                         "The newest {count} events are shown: narrow the period or the filters."),
    "events.total": ("Событий: {count}", "Events: {count}"),
    "events.click_hint": ("Нажмите на строку события, чтобы открыть подробности.",
                          "Click an event's row for its details."),
    "events.scroll_hint": ("Таблица прокручивается вбок →", "The table scrolls sideways →"),
    "events.col.at": ("Время", "Time"),
    "events.col.effect": ("Воздействие", "Effect"),
    "events.col.severity": ("Вид", "Kind"),
    "events.col.description": ("Описание", "Description"),
    "events.state": ("Текущее состояние", "Current state"),
    "events.state.last": ("последний архив {at}", "last archive {at}"),
    "events.state.none": ("архивов нет", "no archives"),
    "events.state.readings": ("показания: {values}", "readings: {values}"),
    "events.premise": ("кв. {number}", "apt. {number}"),
    "events.detail.title": ("Событие прибора {serial}", "Event of meter {serial}"),
    "events.detail.at": ("Время (время объекта)", "Time (building time)"),
    "events.detail.type": ("Тип ПУ", "Meter type"),
    "events.detail.code": ("Код", "Code"),
    "events.detail.source": ("Источник", "Source"),
    "events.detail.data": ("Данные события", "Event data"),
    "events.source.device": ("прибор", "device"),
    "events.source.edge": ("концентратор", "edge"),
    "events.source.cloud": ("проверка в облаке", "cloud check"),
    "events.close": ("Закрыть", "Close"),
    "events.bad_range": ("Дата «по» раньше даты «с»", "'To' is before 'from'"),
    "events.effect.integrity": ("Нарушение целостности ПУ", "Integrity violation"),
    "events.effect.interference": ("Вмешательство в работу прибора", "Interference"),
    "events.effect.limit": ("Нарушение границы значения параметра", "Parameter limit violation"),
    "events.effect.other": ("Иное контролируемое событие", "Other controlled event"),
    "events.severity.info": ("Информационное", "Information"),
    "events.severity.warning": ("Предупреждение", "Warning"),
    "events.severity.alarm": ("Аварийный случай", "Alarm"),
    "events.type.common": ("ОДПУ", "Building meter"),
    "events.type.individual": ("ИПУ", "Apartment meter"),
    "subs.title": ("Подписка на события", "Event subscriptions"),
    "subs.subtitle": ("Оповещения по e-mail о событиях приборов учёта вашей компании",
                      "E-mail notices about the events of your company's meters"),
    "subs.add": ("Подписаться", "Subscribe"),
    "subs.empty": ("нет данных: подписок нет", "no data: no subscriptions"),
    "subs.read_only": ("Статус «читатель»: подписки только для просмотра.",
                       "Reader status: subscriptions are read-only."),
    "subs.col.types": ("Тип ПУ", "Meter types"),
    "subs.col.effects": ("Вид контролируемого события", "Effects"),
    "subs.col.severities": ("Статус события", "Kinds"),
    "subs.col.method": ("Способ оповещения", "Method"),
    "subs.col.actions": ("Действия", "Actions"),
    "subs.method": ("e-mail: {email}", "e-mail: {email}"),
    "subs.dialog.new": ("Новая подписка", "New subscription"),
    "subs.dialog.edit": ("Изменить подписку", "Edit subscription"),
    "subs.email": ("E-mail для оповещений", "E-mail for notices"),
    "subs.hint": ("Для подписки выберите хотя бы по одной характеристике события; можно выбрать все.",
                  "Choose at least one value of each characteristic; all may be chosen."),
    "subs.need.meter_types": ("Выберите хотя бы один тип ПУ", "Choose at least one meter type"),
    "subs.need.effects": ("Выберите хотя бы один вид контролируемого события", "Choose at least one effect"),
    "subs.need.severities": ("Выберите хотя бы один статус события", "Choose at least one kind"),
    "subs.bad_email": ("Укажите правильный адрес e-mail", "Enter a valid e-mail address"),
    "subs.save": ("Сохранить", "Save"),
    "subs.cancel": ("Отменить", "Cancel"),
    "subs.saved": ("Подписка сохранена", "Subscription saved"),
    "subs.edit": ("Изменить", "Edit"),
    "subs.delete": ("Удалить", "Delete"),
    "subs.delete.confirm": ("Удалить подписку на {email}? Оповещения по ней больше не придут.",
                            "Delete the subscription to {email}? Its notices stop."),
    "subs.deleted": ("Подписка удалена", "Subscription deleted"),
})


class EventsService(Protocol):
    async def journal(self, token: str, building_id: int, first: date | None = None, last: date | None = None, *,
                      meter_types: Iterable[str] | None = None, effects: Iterable[str] | None = None,
                      severities: Iterable[str] | None = None) -> EventJournal: ...

    async def subscriptions(self, token: str) -> list[Subscription]: ...

    async def create_subscription(self, token: str, meter_types: Iterable[str], effects: Iterable[str],
                                  severities: Iterable[str], email: str, method: str = "email") -> Subscription: ...

    async def update_subscription(self, token: str, subscription_id: int, meter_types: Iterable[str],
                                  effects: Iterable[str], severities: Iterable[str], email: str,
                                  method: str = "email") -> Subscription: ...

    async def delete_subscription(self, token: str, subscription_id: int) -> None: ...


class EventServices(Services, Protocol):
    @property
    def events(self) -> EventsService: ...


@dataclass(frozen=True, slots=True)
class State:
    building: int
    first: date | None = None  # None: the service's default (the last week)
    last: date | None = None
    types: tuple[str, ...] = ()  # pressed buttons; none pressed = all
    effects: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()


def url(state: State) -> str:
    pairs: list[tuple[str, str]] = [("building", str(state.building))]
    pairs += [(k, v.isoformat()) for k, v in (("from", state.first), ("to", state.last)) if v is not None]
    pairs += [("role", v) for v in state.types] + [("effect", v) for v in state.effects]
    pairs += [("severity", v) for v in state.severities]
    return f"{PATH}?{urlencode(pairs)}"


def _multi(values: Sequence[str], allowed: Iterable[str], name: str, problems: list[str]) -> tuple[str, ...]:
    known = [v for v in dict.fromkeys(values) if v in set(allowed)]
    problems += [t("error.bad_parameter", name=name, value=v) for v in values if v not in set(allowed)]
    return tuple(known)


def parse(buildings: Sequence[BuildingSummary], params: Any, problems: list[str]) -> State | None:
    """The page state from the address bar; a bad value is named and left out."""
    asked = None
    building = params.get("building")
    if building:
        if building.isascii() and building.isdigit() and int(building) in {b.id for b in buildings}:
            asked = int(building)
        else:
            problems.append(t("error.bad_parameter", name="building", value=building))
    chosen = selection.building(buildings, asked)
    if chosen is None:
        return None
    first = _day(params.get("from"), "from", problems)
    last = _day(params.get("to"), "to", problems)
    if first and last and last < first:
        problems.append(t("events.bad_range"))
        first = last = None
    return State(chosen.id, first, last, _multi(params.getlist("role"), (m.value for m in TYPES), "role", problems),
                 _multi(params.getlist("effect"), (e.value for e in EFFECTS), "effect", problems),
                 _multi(params.getlist("severity"), (s.value for s in SEVERITIES), "severity", problems))


def _day(text: str | None, name: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        return parse_day(text)
    except ValueError:
        problems.append(t("error.bad_parameter", name=name, value=text))
        return None


def register(services: Services) -> None:
    """Register the pages: /monitoring/events, /settings/subscriptions."""
    events = cast(EventServices, services)

    @ui.page(PATH, response_timeout=30.0)
    async def events_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        buildings = await services.accounting.buildings(viewer.token)
        problems: list[str] = []
        state = parse(buildings, request.query_params, problems)
        if state is None:
            with theme.frame(t("events.title"), viewer.user, active=PATH), theme.card():
                theme.message(t("buildings.empty"))
            return None
        page = JournalPage(events, viewer, buildings, problems)
        if not await pages.explained(viewer.user, page.load(state), not_found=t("error.building_not_found"),
                                     active=PATH):
            return None
        selection.remember(building_id=page.state.building)
        page.render()
        return None

    @ui.page(SUBSCRIPTIONS_PATH, response_timeout=30.0)
    async def subscriptions_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = SubscriptionsPage(events, viewer)
        try:
            await page.load()
        except (NotFound, Forbidden):
            pages.problem_page(viewer.user, t("error.forbidden"), t("error.forbidden_text"), icon="lock",
                               active=SUBSCRIPTIONS_PATH)
            return None
        page.render()
        return None


# --- texts -----------------------------------------------------------------------------------------

def effect_text(value: str) -> str:
    return t(f"events.effect.{value}")


def severity_text(value: str) -> str:
    return t(f"events.severity.{value}")


def type_text(value: str) -> str:
    return t(f"events.type.{value}")


def description(event: JournalEvent) -> str:
    return event.description_en if i18n.current_language() == "en" else event.description


def state_text(state: MeterState) -> str:
    """One line: status · last archive · readings (in the building's time, units of the catalogue)."""
    parts = [fmt.meter_status(state.status)]
    if state.last_archive_at is None:
        parts.append(t("events.state.none"))
    else:
        parts.append(t("events.state.last", at=fmt.moment(state.last_archive_at)))
    if state.readings:
        values = ", ".join(f"{r.parameter}{'' if len(state.readings) == 1 else f' ({r.channel})'} "
                           f"{fmt.number(r.value, fmt.digits(r.unit))} {fmt.unit(r.unit)}" for r in state.readings)
        parts.append(t("events.state.readings", values=values))
    return " · ".join(parts)


def meter_title(group: MeterEvents) -> str:
    m = group.meter
    where = f", {t('events.premise', number=m.premise_number)}" if m.premise_number else ""
    return f"{type_text(m.role.value)} {m.serial} ({m.model}{where})"


def _detail_text(detail: dict[str, Any]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in sorted(detail.items())) or DASH


_CSS = """
.du-events-table { overflow-x: auto; }
.du-events-table table { border-collapse: collapse; width: 100%; min-width: 36rem; }
.du-events-table th, .du-events-table td { padding: 6px 10px; text-align: left; vertical-align: top;
  border-bottom: 1px solid #eef2f6; }
.du-events-table th { font-weight: 600; color: #334e68; background: #f7f9fb; font-size: 13px; }
.du-events-table th:first-child, .du-events-table td:first-child { position: sticky; left: 0; background: #fff;
  z-index: 1; white-space: nowrap; }
.du-events-table thead th:first-child { background: #f7f9fb; z-index: 2; }
.du-events-table tbody tr.du-event { cursor: pointer; }
.du-events-table tbody tr.du-event:hover td { background: #f0f4f8; }
.du-events-table .du-desc { max-width: 28rem; overflow-wrap: anywhere; }
.du-events-state td { background: #f7f9fb; color: #334e68; font-size: 13px; }
"""


# --- journal ---------------------------------------------------------------------------------------

class JournalPage:
    def __init__(self, services: EventServices, viewer: auth.Viewer, buildings: list[BuildingSummary],
                 problems: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.buildings = buildings
        self.problems = problems
        self.state = State(buildings[0].id)
        self.journal: EventJournal | None = None
        self._wanted = self.state  # the state last asked for (shown, or still loading)
        self._request = 0

    async def fetch(self, state: State) -> tuple[EventJournal, State]:
        """The journal of ``state``, and the state with the days the service chose (services may refuse)."""
        journal = await self.services.events.journal(self.viewer.token, state.building, state.first, state.last,
                                                     meter_types=state.types, effects=state.effects,
                                                     severities=state.severities)
        return journal, replace(state, first=journal.first, last=journal.last)

    async def load(self, state: State) -> None:
        self.journal, self.state = await self.fetch(state)
        self._wanted = self.state

    def render(self) -> None:
        ui.add_css(_CSS)
        with theme.frame(t("events.title"), self.viewer.user, active=PATH, subtitle=t("events.subtitle")):
            for problem in self.problems:
                widgets.warning(problem)
            self.controls()
            self.body()

    @ui.refreshable_method
    def controls(self) -> None:
        s = self.state
        with theme.card(), ui.column().classes("w-full gap-3"):
            with ui.row().classes("w-full items-end gap-x-6 gap-y-3"):
                with ui.column().classes("gap-1 max-w-full"):
                    ui.label(t("events.building")).classes("du-kpi-label")
                    shown = {b.id: b.address for b in selection.city_buildings(self.buildings)}
                    if self.journal is not None:
                        shown[self.journal.building.id] = self.journal.building.address
                    ui.select(shown, value=s.building,
                              on_change=lambda e: self._go(building=e.value) if e.value != self.state.building
                              else None).props("outlined dense").classes("min-w-[16rem] max-w-full").mark(
                        "events-building")
                for name, value in (("from", s.first), ("to", s.last)):
                    with ui.column().classes("gap-1"):
                        ui.label(t(f"events.{name}")).classes("du-kpi-label")
                        ui.input(value=value.isoformat() if value else "",
                                 on_change=lambda e, n=name: self._day(n, e.value)).props(
                            f'type=date outlined dense aria-label="{t(f"events.{name}")}"').classes("w-[11rem]") \
                            .mark(f"events-{name}")
            groups: tuple[tuple[str, str, Sequence[str], tuple[str, ...], Callable[[str], str]], ...] = (
                ("types", "events.types", [m.value for m in TYPES], s.types, type_text),
                ("effects", "events.effects", [e.value for e in EFFECTS], s.effects, effect_text),
                ("severities", "events.severities", [v.value for v in SEVERITIES], s.severities, severity_text))
            with ui.row().classes("w-full items-start gap-x-6 gap-y-3"):
                for field_name, label, options, pressed, text in groups:
                    with ui.column().classes("gap-1"):
                        ui.label(t(label)).classes("du-kpi-label")
                        with ui.row().classes("gap-1"):
                            for option in options:
                                on = option in pressed
                                ui.button(text(option),
                                          on_click=lambda _e, f=field_name, o=option: self._toggle(f, o)) \
                                    .props("no-caps dense unelevated" + (" color=primary" if on
                                                                         else " outline color=grey-8")) \
                                    .props(f'aria-pressed="{str(on).lower()}"').mark(f"events-{field_name}-{option}")
            ui.label(t("events.multi_hint")).classes("text-xs du-muted")

    @ui.refreshable_method
    def body(self) -> None:
        journal = self.journal
        if journal is None:
            return
        with theme.card().mark("events-journal"):
            with ui.row().classes("w-full items-center justify-between gap-2"):
                ui.label(f"{journal.building.address}: {fmt.day(journal.first)} – {fmt.day(journal.last)}").classes(
                    "du-card-title")
                ui.label(t("events.total", count=fmt.integer(journal.total))).classes("text-sm du-muted").mark(
                    "events-total")
            if journal.truncated:
                widgets.warning(t("events.truncated", count=fmt.integer(journal.total)))
            if not journal.meters:
                theme.message(t("events.empty"))
                return
            ui.label(t("events.click_hint")).classes("text-xs du-muted")
            ui.label(t("events.scroll_hint")).classes("text-xs du-muted sm:hidden")
        for group in journal.meters:
            self._meter(group)

    def _meter(self, group: MeterEvents) -> None:
        with theme.card().mark(f"events-meter-{group.meter.serial}"):
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.icon("apartment" if group.meter.role.value == "common" else "door_front", size="20px").classes(
                    "du-muted")
                ui.link(meter_title(group), f"/meters/{group.meter.id}").classes("du-link break-all")
            with ui.element("div").classes("du-events-table w-full"), ui.element("table"):
                with ui.element("thead"), ui.element("tr"):
                    for key in ("at", "effect", "severity", "description"):
                        with ui.element("th"):
                            ui.label(t(f"events.col.{key}"))
                with ui.element("tbody"):
                    for event in group.events:
                        row = ui.element("tr").classes("du-event").mark(f"event-{event.key}")
                        row.on("click", lambda _e, ev=event, g=group: self._details(g, ev))
                        with row:
                            with ui.element("td"):
                                ui.label(fmt.moment(event.at))
                            with ui.element("td"), ui.row().classes("items-center gap-1 no-wrap"):
                                ui.icon(_EFFECT_ICONS[event.effect], size="18px").classes("du-muted")
                                ui.label(effect_text(event.effect))
                            with ui.element("td"):
                                ui.badge(severity_text(event.severity)).style(
                                    f"background: {_SEVERITY_COLOURS[event.severity]}")
                            with ui.element("td"):
                                ui.label(description(event)).classes("du-desc")
                    with ui.element("tr").classes("du-events-state").mark(f"events-state-{group.meter.serial}"):
                        with ui.element("td"):
                            ui.label(t("events.state"))
                        with ui.element("td").props('colspan="3"'):
                            ui.label(state_text(group.state))

    def _details(self, group: MeterEvents, event: JournalEvent) -> None:
        """The event with everything stored about it and the meter's state (manual fig. 4.2.5)."""
        with ui.dialog() as dialog, ui.card().classes("du-card w-[36rem] max-w-full gap-2").mark("events-detail"):
            ui.label(t("events.detail.title", serial=group.meter.serial)).classes("du-card-title")
            for label, value in (
                    (t("events.detail.at"), fmt.moment(event.at)),
                    (t("events.detail.type"), type_text(event.meter_type)),
                    (t("events.col.effect"), effect_text(event.effect)),
                    (t("events.col.severity"), severity_text(event.severity)),
                    (t("events.col.description"), description(event)),
                    (t("events.detail.code"), event.code + (f" / 0x{event.device_code:04X}"
                                                            if event.device_code is not None else "")),
                    (t("events.detail.source"), t(f"events.source.{event.source}")
                     if i18n.has(f"events.source.{event.source}") else event.source),
                    (t("events.detail.data"), _detail_text(event.detail)),
                    (t("events.state"), state_text(group.state))):
                with ui.row().classes("w-full gap-2 no-wrap items-start"):
                    ui.label(label).classes("du-muted text-sm w-40 shrink-0")
                    ui.label(value).classes("text-sm break-all")
            with ui.row().classes("w-full justify-end"):
                ui.button(t("events.close"), on_click=dialog.close).props("flat no-caps")
        dialog.open()

    # --- actions ----------------------------------------------------------------------------------

    async def _day(self, name: str, text: str) -> None:
        try:
            value = parse_day(text) if text else None
        except ValueError:
            return  # a date still being typed
        if value is None or value == (self.state.first if name == "from" else self.state.last):
            return
        first, last = (value, self.state.last) if name == "from" else (self.state.first, value)
        if first and last and last < first:
            ui.notify(t("events.bad_range"), type="warning")
            return
        await self._go(first=first, last=last)

    async def _toggle(self, name: str, value: str) -> None:
        pressed: tuple[str, ...] = getattr(self._wanted, name)  # a click while the last one loads adds to it
        await self._go(**{name: tuple(v for v in pressed if v != value) if value in pressed else (*pressed, value)})

    async def _go(self, **changes: Any) -> None:
        """Show another state: load it (with the progress bar), redraw, and put it in the address bar."""
        new = replace(self._wanted, **changes)
        self._wanted = new
        self._request += 1
        request = self._request
        async with theme.working():
            loaded = await auth.attempt(self.fetch(new))
        if request != self._request:
            return  # a newer request is on its way
        if loaded is None:
            self._wanted = self.state  # refused: the page keeps what it shows
            return
        self.journal, self.state = loaded
        self._wanted = self.state
        self.problems = []
        selection.remember(building_id=self.state.building)
        self.controls.refresh()
        self.body.refresh()
        ui.navigate.history.replace(url(self.state))


# --- subscriptions ---------------------------------------------------------------------------------

def may_subscribe(user: UserInfo) -> bool:
    """Dispatchers and engineers own subscriptions; reader status looks only (the service checks too)."""
    return access.may_use_accounting(user) and not user.reader


def form_problem(meter_types: Sequence[str], effects: Sequence[str], severities: Sequence[str],
                 email: str) -> str | None:
    """What is wrong with a subscription form, in the page's language; None when it may be saved."""
    try:
        subscription_values(meter_types, effects, severities)
    except InvalidInput as error:
        name = str(error).split(":", 1)[0]
        return t(f"subs.need.{name}") if i18n.has(f"subs.need.{name}") else str(error)
    try:
        check_email(email)
    except InvalidInput:
        return t("subs.bad_email")
    return None


class SubscriptionsPage:
    def __init__(self, services: EventServices, viewer: auth.Viewer) -> None:
        self.services = services
        self.viewer = viewer
        self.items: list[Subscription] = []

    async def load(self) -> None:
        self.items = await self.services.events.subscriptions(self.viewer.token)

    def render(self) -> None:
        ui.add_css(_CSS)
        with theme.frame(t("subs.title"), self.viewer.user, active=SUBSCRIPTIONS_PATH, subtitle=t("subs.subtitle")):
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        writable = may_subscribe(self.viewer.user)
        with theme.card().mark("subs-list"):
            with ui.row().classes("w-full items-center justify-between gap-2"):
                ui.label(t("subs.hint")).classes("text-sm du-muted")
                if writable:
                    ui.button(t("subs.add"), icon="add", on_click=lambda: self._edit(None)).props(
                        "unelevated no-caps").mark("subs-add")
            if not writable:
                theme.message(t("subs.read_only"), icon="visibility")
            if not self.items:
                theme.message(t("subs.empty"))
                return
            ui.label(t("events.scroll_hint")).classes("text-xs du-muted sm:hidden")
            with ui.element("div").classes("du-events-table w-full"), ui.element("table"):
                with ui.element("thead"), ui.element("tr"):
                    for key in ("method", "types", "effects", "severities", *(("actions",) if writable else ())):
                        with ui.element("th"):
                            ui.label(t(f"subs.col.{key}"))
                with ui.element("tbody"):
                    for item in self.items:
                        with ui.element("tr").mark(f"subs-row-{item.id}"):
                            with ui.element("td"):
                                ui.label(t("subs.method", email=item.email)).classes("break-all")
                            for values, text in ((item.meter_types, type_text), (item.effects, effect_text),
                                                 (item.severities, severity_text)):
                                with ui.element("td"):
                                    ui.label(", ".join(text(v) for v in values))
                            if writable:
                                with ui.element("td"), ui.row().classes("gap-1 no-wrap"):
                                    ui.button(icon="edit", on_click=lambda _e, s=item: self._edit(s)).props(
                                        f'flat round dense aria-label="{t("subs.edit")}"').tooltip(t("subs.edit")) \
                                        .mark(f"subs-edit-{item.id}")
                                    ui.button(icon="delete", on_click=lambda _e, s=item: self._confirm_delete(s)) \
                                        .props(f'flat round dense color=negative aria-label="{t("subs.delete")}"') \
                                        .tooltip(t("subs.delete")) \
                                        .mark(f"subs-delete-{item.id}")

    def _edit(self, item: Subscription | None) -> None:
        """The form of manual 4.6.13: meter types, effects, kinds (a checkbox each), the e-mail."""
        boxes: dict[str, dict[str, ui.checkbox]] = {}
        with ui.dialog() as dialog, ui.card().classes("du-card w-[32rem] max-w-full gap-3").mark("subs-dialog"):
            ui.label(t("subs.dialog.edit" if item else "subs.dialog.new")).classes("du-card-title")
            for name, label, options, text in (
                    ("meter_types", "subs.col.types", [m.value for m in TYPES], type_text),
                    ("effects", "subs.col.effects", [e.value for e in EFFECTS], effect_text),
                    ("severities", "subs.col.severities", [v.value for v in SEVERITIES], severity_text)):
                ui.label(t(label)).classes("du-kpi-label")
                current = getattr(item, name) if item else ()
                with ui.row().classes("gap-x-4 gap-y-0"):
                    boxes[name] = {o: ui.checkbox(text(o), value=o in current).mark(f"subs-{name}-{o}")
                                   for o in options}
            email = ui.input(t("subs.email"), value=item.email if item else "").props(
                "outlined dense type=email").classes("w-full").mark("subs-email")
            ui.label(t("subs.hint")).classes("text-xs du-muted")
            error = ui.label("").classes("text-sm text-negative").mark("subs-error")

            async def save() -> None:
                chosen = {name: [o for o, box in group.items() if box.value] for name, group in boxes.items()}
                problem = form_problem(chosen["meter_types"], chosen["effects"], chosen["severities"],
                                       email.value or "")
                error.text = problem or ""
                if problem:
                    return
                events = self.services.events
                call = (events.update_subscription(self.viewer.token, item.id, chosen["meter_types"],
                                                   chosen["effects"], chosen["severities"], email.value)
                        if item else events.create_subscription(self.viewer.token, chosen["meter_types"],
                                                                chosen["effects"], chosen["severities"], email.value))
                async with theme.working():
                    saved = await auth.attempt(call)
                    if saved is None:
                        return
                    await self.load()
                dialog.close()
                ui.notify(t("subs.saved"), type="positive")
                self.body.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("subs.cancel"), on_click=dialog.close).props("flat no-caps").mark("subs-cancel")
                ui.button(t("subs.save"), icon="check", on_click=save).props("unelevated no-caps").mark("subs-save")
        dialog.open()

    def _confirm_delete(self, item: Subscription) -> None:
        with ui.dialog() as dialog, ui.card().classes("du-card gap-3").mark("subs-confirm"):
            ui.label(t("subs.delete.confirm", email=item.email))

            async def delete() -> None:
                async with theme.working():
                    done = await auth.attempt(self._delete(item.id))
                dialog.close()
                if done:
                    ui.notify(t("subs.deleted"), type="positive")
                    self.body.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("subs.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("subs.delete"), icon="delete", on_click=delete).props(
                    "unelevated no-caps color=negative").mark("subs-confirm-delete")
        dialog.open()

    async def _delete(self, ident: int) -> bool:
        await self.services.events.delete_subscription(self.viewer.token, ident)
        await self.load()
        return True
