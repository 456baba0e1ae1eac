"""The residents' app pages under /kv (manual 3.6, the КВ application), mobile-first.

- /kv/login, /kv/register?code=…: sign in by e-mail, or register with a premise's activation code
  (printed, or e-mailed in an invitation) and be signed in at once (ui/resident_signin.py).
- /kv: the premise's consumption by resource and period, by the rules of the staff's premise page
  (manual 4.1.6: hours of a day, days of a month or months of a year; ``x*`` partly known, ``–*`` unknown);
  drawn by ui/resident_consumption.py.
- /kv/meters: its meters with their newest readings and dates.
- /kv/tickets, /kv/tickets/{id}: requests to the dispatch desk and the stages they passed (4.5.9).
- /kv/notices: the management company's published notices (4.5.10).

Everything goes through ``services.resident_app`` (cloud/services/resident_app.py), which lets a
resident see only their own premises. One set of credentials per browser (manual 3.5): a resident's
sign-in ends the staff session the browser held. Tests: tests/ui/test_resident_ui.py,
tests/e2e/test_resident_journey.py.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from cloud.services.models import AuthError, InvalidInput, NotFound
from cloud.services.resident_app import HomePremise, ResidentHome

from . import auth, errors, fmt, i18n, theme, widgets
from . import resident_consumption as consumption
from . import resident_frame as kv
from . import resident_signin as signin
from .i18n import t
from .ports import Services
from .query import PageQuery

T = TypeVar("T")

i18n.extend({
    "kv.no_premises": ("К вашей учётной записи не привязано ни одно помещение. Обратитесь в управляющую компанию.",
                       "No premise is linked to your account. Contact your management company."),
    "kv.no_meters": ("В помещении нет приборов учёта, подключённых к системе.",
                     "The premise has no meters connected to the system."),
    "kv.meters.title": ("Приборы учёта", "Meters"),
    "kv.meters.serial": ("Заводской номер {serial}", "Serial number {serial}"),
    "kv.meters.none": ("Показаний за последние два месяца нет", "No readings in the last two months"),
    "kv.meters.at": ("на {at}", "at {at}"),
    "kv.meters.status": ("Состояние: {status}", "Status: {status}"),
    "kv.tickets.title": ("Заявки в диспетчерскую", "Requests to the dispatch desk"),
    "kv.tickets.new": ("Новая заявка", "New request"),
    "kv.tickets.text": ("Опишите, что случилось", "Describe what happened"),
    "kv.tickets.submit": ("Отправить", "Send"),
    "kv.tickets.sent": ("Заявка № {id} отправлена", "Request No. {id} is sent"),
    "kv.tickets.none": ("Заявок пока нет.", "No requests yet."),
    "kv.tickets.number": ("Заявка № {id}", "Request No. {id}"),
    "kv.tickets.stage": ("Этап: {stage}", "Stage: {stage}"),
    "kv.tickets.cancelled": ("Отменена", "Cancelled"),
    "kv.tickets.created": ("Подана {at}", "Filed {at}"),
    "kv.tickets.stages": ("Этапы", "Stages"),
    "kv.tickets.passed": ("пройден {at}", "reached {at}"),
    "kv.tickets.now": ("сейчас, с {at}", "now, since {at}"),
    "kv.tickets.not_yet": ("ещё не начат", "not reached yet"),
    "kv.tickets.back": ("Все заявки", "All requests"),
    "kv.notices.title": ("Уведомления", "Notices"),
    "kv.notices.none": ("Действующих уведомлений нет.", "No current notices."),
    "kv.notices.until": ("с {start} по {end}", "from {start} to {end}"),
    "kv.notices.from": ("с {start}", "from {start}"),
    "kv.not_found": ("Не найдено", "Not found"),
    "kv.not_found_text": ("Такого помещения или заявки в вашем кабинете нет.",
                          "There is no such premise or request in your account."),
})

STAGES = ("registration", "qualification", "execution", "completion")


async def _attempt(call: Awaitable[T]) -> T | None:
    """A service call from an event handler: a refusal becomes a notification, an ended session the login."""
    try:
        return await call
    except AuthError:
        kv.session_ended()
    except NotFound:
        ui.notify(t("kv.not_found_text"), type="negative")
    except InvalidInput as error:
        ui.notify(errors.reason(str(error)), type="warning", multi_line=True)
    return None


def _not_found(home: ResidentHome, active: str) -> None:
    with kv.frame(t("kv.not_found"), home, active):
        widgets.problem(t("kv.not_found"), t("kv.not_found_text"), back=False)


def _pick(home: ResidentHome, premise: int | None) -> HomePremise | None:
    if premise is None:
        return home.premises[0] if home.premises else None
    return next((p for p in home.premises if p.id == premise), None)


_premise_name = kv.premise_name


def _parse_int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return -1  # no premise has it: "not found"


def register(services: Services) -> None:
    """Register the residents' pages."""
    s: Any = services

    @ui.page(kv.LOGIN)
    async def login_page(request: Request, next: str | None = None) -> RedirectResponse | None:
        target = auth.safe_next(next)
        target = target if target and target.startswith(kv.BASE) else kv.BASE
        if app.storage.user.get(auth.RESIDENT_TOKEN_KEY):
            found = await kv.resident(s, request)
            if not isinstance(found, RedirectResponse):
                return RedirectResponse(target, status_code=303)
        signin.login_form(s, request, target)
        return None

    @ui.page(kv.REGISTER)
    async def register_page(code: str | None = None) -> None:
        signin.register_form(s, code or "")

    @ui.page(f"{kv.BASE}/logout")
    async def logout_page() -> RedirectResponse:
        token = app.storage.user.pop(auth.RESIDENT_TOKEN_KEY, None)
        if token:
            await s.resident_app.logout(token)
        return RedirectResponse(kv.LOGIN, status_code=303)

    @ui.page(kv.BASE, response_timeout=30.0)
    async def home_page(request: Request, premise: str | None = None, resource: str | None = None,
                        granularity: str | None = None, period: str | None = None) -> RedirectResponse | None:
        found = await kv.resident(s, request)
        if isinstance(found, RedirectResponse):
            return found
        home, token = found
        chosen = _pick(home, _parse_int(premise))
        if chosen is None and home.premises:
            _not_found(home, kv.BASE)
            return None
        query = PageQuery.parse(resource=resource, granularity=granularity, period=period)
        await consumption.consumption(s, home, token, chosen, query)
        return None

    @ui.page(f"{kv.BASE}/meters", response_timeout=30.0)
    async def meters_page(request: Request, premise: str | None = None) -> RedirectResponse | None:
        found = await kv.resident(s, request)
        if isinstance(found, RedirectResponse):
            return found
        home, token = found
        chosen = _pick(home, _parse_int(premise))
        if chosen is None:
            if home.premises:
                _not_found(home, f"{kv.BASE}/meters")
            else:
                with kv.frame(t("kv.meters.title"), home, f"{kv.BASE}/meters"):
                    theme.message(t("kv.no_premises"))
            return None
        meters = await s.resident_app.meters(token, chosen.id)
        with kv.frame(t("kv.meters.title"), home, f"{kv.BASE}/meters", premise=chosen):
            kv.premise_selector(home, chosen, f"{kv.BASE}/meters")
            if not meters:
                theme.message(t("kv.no_meters"))
            for meter in meters:
                _meter_card(meter)
        return None

    @ui.page(f"{kv.BASE}/tickets")
    async def tickets_page(request: Request) -> RedirectResponse | None:
        found = await kv.resident(s, request)
        if isinstance(found, RedirectResponse):
            return found
        home, token = found
        tickets = await s.resident_app.tickets(token)
        with kv.frame(t("kv.tickets.title"), home, f"{kv.BASE}/tickets"):
            if home.premises:
                _ticket_form(s, home, token)
            if not tickets:
                theme.message(t("kv.tickets.none"))
            for ticket in tickets:
                _ticket_line(ticket)
        return None

    @ui.page(f"{kv.BASE}/tickets/{{ticket_id}}")
    async def ticket_page(request: Request, ticket_id: str) -> RedirectResponse | None:
        found = await kv.resident(s, request)
        if isinstance(found, RedirectResponse):
            return found
        home, token = found
        number = _parse_int(ticket_id)
        try:
            detail = await s.resident_app.ticket(token, number if number and number > 0 else -1)
        except (NotFound, InvalidInput):
            _not_found(home, f"{kv.BASE}/tickets")
            return None
        _ticket_detail(home, detail)
        return None

    @ui.page(f"{kv.BASE}/notices")
    async def notices_page(request: Request) -> RedirectResponse | None:
        found = await kv.resident(s, request)
        if isinstance(found, RedirectResponse):
            return found
        home, token = found
        notices = await s.resident_app.notices_for(token)
        with kv.frame(t("kv.notices.title"), home, f"{kv.BASE}/notices"):
            if not notices:
                theme.message(t("kv.notices.none"))
            for notice in notices:
                with theme.card(notice.title).mark(f"kv-notice-{notice.id}"):
                    end = notice.relevant_to
                    ui.label(t("kv.notices.until", start=fmt.day(notice.relevant_from), end=fmt.day(end)) if end
                             else t("kv.notices.from", start=fmt.day(notice.relevant_from))).classes("du-muted text-sm")
                    ui.label(notice.body).classes("whitespace-pre-line")
                    ui.label(f"{notice.company} · {', '.join(notice.addresses)}").classes("du-muted text-xs")
        return None


# --- meters, tickets ----------------------------------------------------------------------------

def _meter_card(meter: Any) -> None:
    with theme.card(f"{meter.model}").mark(f"kv-meter-{meter.serial}"):
        ui.label(t("kv.meters.serial", serial=meter.serial)).classes("du-muted text-sm")
        if meter.status != "in_service":
            ui.label(t("kv.meters.status", status=fmt.meter_status(meter.status))).classes("text-sm")
        for reading in meter.readings:
            with ui.row().classes("w-full items-baseline justify-between gap-2 flex-wrap"):
                zone = "" if reading.tariff == "total" else f" ({widgets.tariff_label(reading.tariff)})"
                ui.label(f"{fmt.resource(reading.resource)}{zone}").classes("font-medium")
                if reading.value is None:
                    ui.label(t("kv.meters.none")).classes("du-muted text-sm")
                else:
                    ui.label(f"{fmt.number(reading.value, fmt.digits(reading.unit))} {fmt.unit(reading.unit)} "
                             f"{t('kv.meters.at', at=fmt.moment(reading.at))}") \
                        .mark(f"kv-reading-{meter.serial}-{reading.channel}")


def _ticket_form(services: Any, home: ResidentHome, token: str) -> None:
    with theme.card(t("kv.tickets.new")).mark("kv-ticket-form"):
        premise = home.premises[0].id
        if len(home.premises) > 1:
            select = ui.select({p.id: _premise_name(p) for p in home.premises}, value=premise,
                               label=t("kv.premise")).props("outlined dense").classes("w-full")
        else:
            select = None
            ui.label(_premise_name(home.premises[0])).classes("du-muted text-sm")
        text = ui.textarea(t("kv.tickets.text")).props("outlined maxlength=2000 counter").classes("w-full") \
            .mark("kv-ticket-text")

        async def send() -> None:
            chosen = int(select.value) if select is not None and select.value is not None else premise
            async with theme.working():
                ticket = await _attempt(services.resident_app.submit_ticket(token, chosen, text.value or ""))
            if ticket is not None:
                ui.notify(t("kv.tickets.sent", id=ticket.id), type="positive")
                ui.navigate.to(f"{kv.BASE}/tickets/{ticket.id}")

        ui.button(t("kv.tickets.submit"), icon="send", on_click=send).props("unelevated no-caps") \
            .mark("kv-ticket-submit")


def _stage_text(ticket: Any) -> str:
    return t("kv.tickets.cancelled") if ticket.cancelled else t(f"desk.stage.{ticket.stage}")


def _ticket_line(ticket: Any) -> None:
    with theme.card().classes("du-plashka relative").mark(f"kv-ticket-{ticket.id}"):
        ui.link(t("kv.tickets.number", id=ticket.id), f"{kv.BASE}/tickets/{ticket.id}") \
            .classes("du-link du-stretched font-semibold")
        ui.label(ticket.description).classes("text-sm line-clamp-2")
        with ui.row().classes("gap-3 text-xs du-muted"):
            ui.label(t("kv.tickets.stage", stage=_stage_text(ticket))).mark(f"kv-ticket-stage-{ticket.id}")
            ui.label(t("kv.tickets.created", at=fmt.moment(ticket.created_at)))


def _ticket_detail(home: ResidentHome, detail: Any) -> None:
    ticket = detail.ticket
    with kv.frame(t("kv.tickets.number", id=ticket.id), home, f"{kv.BASE}/tickets",
                  subtitle=t("kv.tickets.created", at=fmt.moment(ticket.created_at))):
        ui.link(t("kv.tickets.back"), f"{kv.BASE}/tickets").classes("du-link text-sm")
        with theme.card():
            ui.label(ticket.description).classes("whitespace-pre-line")
            ui.label(t("kv.tickets.stage", stage=_stage_text(ticket))).classes("font-medium") \
                .mark("kv-ticket-stage")
        reached = {m.stage: m for m in detail.stages}
        with theme.card(t("kv.tickets.stages")):
            for stage in STAGES:
                mark = reached.get(stage)
                if mark is None:
                    icon, colour, text = "radio_button_unchecked", "#486581", t("kv.tickets.not_yet")
                elif mark.left_at is None and not ticket.cancelled:
                    icon, colour, text = "pending", "#1d4f7c", t("kv.tickets.now", at=fmt.moment(mark.entered_at))
                else:
                    icon, colour, text = "check_circle", "#2f855a", t("kv.tickets.passed",
                                                                         at=fmt.moment(mark.entered_at))
                with ui.row().classes("items-center gap-2").mark(f"kv-stage-{stage}"):
                    ui.icon(icon, size="20px").style(f"color: {colour}").props('aria-hidden="true"')
                    ui.label(t(f"desk.stage.{stage}")).classes("font-medium")
                    ui.label(text).classes("du-muted text-sm")


