"""Pages «Ограничение потребления» (manual 4.5.8, menu "Сервис") and «Реле мощности» (4.6.11, menu
"Настройки"): premises with a KARAT-941LW relay meter and their limitation, whose state follows the
relay command (being sent, limited once the device confirmed, failed, timed out, being lifted); a
dispatcher limits a premise (debt with its amount or repairs with their start date, an optional
notice through ЭК with notification and control dates), confirms, lifts and retries; the history of a
premise; city default and per-building relay thresholds in W. Engineers and readers see the pages
read-only; administrators get the forbidden page.

The rules and refusals are the service's (cloud/services/power_limits.py, power_rules.py); this
page words the rule refusals in Russian. Routes: /service/power, /service/power/premises/{id},
/settings/relays. Tests: tests/ui/test_power_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.models import BuildingSummary, InvalidInput
from cloud.services.power_limits import (
    BuildingThreshold,
    CityThreshold,
    Limitation,
    PremisePower,
    RelayThresholds,
    ThresholdChange,
)
from cloud.services.power_rules import STATES, PowerRuleError

from . import access, auth, errors, fmt, pages, selection, theme
from .i18n import extend, has, t
from .ports import Services

PATH = "/service/power"
PREMISE_PATH = "/service/power/premises/{premise_id}"
SETTINGS_PATH = "/settings/relays"
T = TypeVar("T")

STATE_COLOURS = {"sending": "#627d98", "limited": "#c2413b", "failed": "#b7791f", "timed_out": "#b7791f",
                 "lifting": "#627d98", "lifted": "#2f855a", "lift_failed": "#b7791f", "lift_timed_out": "#b7791f",
                 "none": "#2f855a"}

extend({
    "power.title": ("Ограничение потребления", "Power limitation"),
    "power.subtitle": ("Ограничение мощности электроснабжения помещения реле счётчика КАРАТ-941LW при "
                       "задолженности или на время ремонтных работ. Показаны помещения со счётчиком, имеющим реле.",
                       "Limiting a premise's power by the relay of its KARAT-941LW meter for a debt or during "
                       "repairs. Premises with a relay meter are shown."),
    "power.filter.building": ("Объект", "Building"),
    "power.filter.state": ("Состояние", "State"),
    "power.filter.reason": ("Причина", "Reason"),
    "power.filter.all": ("все", "all"),
    "power.empty": ("Нет помещений со счётчиком КАРАТ-941LW.", "No premises with a KARAT-941LW meter."),
    "power.empty_filtered": ("Нет помещений, подходящих под фильтр.", "No premises match the filter."),
    "power.col.premise": ("Помещение", "Premise"),
    "power.col.meter": ("Счётчик", "Meter"),
    "power.col.state": ("Ограничение", "Limitation"),
    "power.col.reason": ("Причина", "Reason"),
    "power.col.threshold": ("Порог, Вт", "Threshold, W"),
    "power.col.notice": ("Уведомление через ЭК", "Notice through ЭК"),
    "power.premise": ("кв. {number}", "flat {number}"),
    "power.state.none": ("нет ограничения", "not limited"),
    "power.state.sending": ("команда отправляется", "command being sent"),
    "power.state.limited": ("ограничено", "limited"),
    "power.state.failed": ("команда не выполнена", "command failed"),
    "power.state.timed_out": ("нет ответа устройства", "no answer from the device"),
    "power.state.lifting": ("снятие: команда отправляется", "lifting: command being sent"),
    "power.state.lifted": ("снято", "lifted"),
    "power.state.lift_failed": ("снятие не выполнено", "lift failed"),
    "power.state.lift_timed_out": ("снятие: нет ответа устройства", "lift: no answer from the device"),
    "power.command.created": ("ожидает отправки", "waiting to be sent"),
    "power.command.sent": ("отправлена", "sent"),
    "power.command.acknowledged": ("принята контроллером", "taken by the edge"),
    "power.command.done": ("выполнена", "done"),
    "power.command.failed": ("ошибка", "failed"),
    "power.command.timed_out": ("истекло время", "timed out"),
    "power.command": ("Команда реле: {state}", "Relay command: {state}"),
    "power.reason.debt": ("задолженность", "debt"),
    "power.reason.repairs": ("ремонтные работы", "repairs"),
    "power.reason.debt_amount": ("долг {amount} ₽", "debt {amount} ₽"),
    "power.reason.repairs_from": ("ремонт с {day}", "repairs from {day}"),
    "power.threshold.building": ("объекта", "the building's"),
    "power.threshold.city": ("по умолчанию для города", "the city's default"),
    "power.threshold.none": ("не задан", "not set"),
    "power.notice": ("{notify} / контроль {control}", "{notify} / control {control}"),
    "power.no_notice": ("нет", "no"),
    "power.start": ("Ограничить", "Limit"),
    "power.start.no_threshold": ("Порог реле не задан: задайте его на странице «Реле мощности».",
                                 "No relay threshold: set one on the «Реле мощности» page."),
    "power.lift": ("Снять ограничение", "Lift"),
    "power.retry": ("Повторить команду", "Send again"),
    "power.history": ("История ограничений", "Limitation history"),
    "power.form.title": ("Ограничение потребления: кв. {number}, {address}",
                         "Power limitation: flat {number}, {address}"),
    "power.form.reason": ("Причина ограничения", "Reason"),
    "power.form.debt_amount": ("Сумма долга, ₽", "Debt, ₽"),
    "power.form.repairs_from": ("Дата начала ремонтных работ", "Start of the repairs"),
    "power.form.notify": ("Уведомление через ЭК", "Notice through ЭК"),
    "power.form.notify_on": ("Дата уведомления", "Notification date"),
    "power.form.control_on": ("Дата контроля", "Control date"),
    "power.form.threshold": ("Реле счётчика {serial} ограничит мощность до {watts} Вт (порог {source}).",
                             "The relay of meter {serial} will limit the power to {watts} W ({source} threshold)."),
    "power.form.next": ("Далее", "Next"),
    "power.form.back": ("Назад", "Back"),
    "power.form.cancel": ("Отмена", "Cancel"),
    "power.form.confirm": ("Подтвердите ограничение", "Confirm the limitation"),
    "power.form.apply": ("Применить ограничение", "Apply the limitation"),
    "power.form.need_amount": ("Укажите сумму долга (больше 0, не более двух знаков после запятой).",
                               "Give the debt (above 0, kopecks at most)."),
    "power.form.need_date": ("Укажите дату в формате ГГГГ-ММ-ДД.", "Give the date as YYYY-MM-DD."),
    "power.form.summary.debt": ("Причина: задолженность {amount} ₽.", "Reason: a debt of {amount} ₽."),
    "power.form.summary.repairs": ("Причина: ремонтные работы с {day}.", "Reason: repairs from {day}."),
    "power.form.summary.notice": ("Абонент будет уведомлён через ЭК {notify}, контроль {control}.",
                                  "The resident is told through ЭК on {notify}, control on {control}."),
    "power.form.summary.no_notice": ("Без уведомления через ЭК.", "No notice through ЭК."),
    "power.started": ("Команда ограничения отправлена на реле", "The limit command is on its way to the relay"),
    "power.lift.confirm": ("Снять ограничение потребления кв. {number}, {address}? Реле счётчика {serial} будет "
                           "включено без ограничения мощности.",
                           "Lift the limitation of flat {number}, {address}? The relay of meter {serial} is "
                           "switched on without a power limit."),
    "power.lift.yes": ("Снять ограничение", "Lift"),
    "power.lifted": ("Команда снятия ограничения отправлена", "The lift command is on its way"),
    "power.retry.confirm": ("Повторно отправить команду ограничения ({watts} Вт) на реле счётчика {serial}?",
                            "Send the limit command ({watts} W) to the relay of meter {serial} again?"),
    "power.retry.yes": ("Отправить", "Send"),
    "power.retried": ("Команда отправлена повторно", "The command was sent again"),
    "power.refresh": ("Обновить", "Refresh"),
    "power.history.title": ("История ограничений: кв. {number}, {address}", "Limitation history: flat {number}, "
                            "{address}"),
    "power.history.empty": ("Ограничений потребления по помещению не было.", "The premise was never limited."),
    "power.history.col.created": ("Ограничено", "Limited"),
    "power.history.col.by": ("Диспетчер", "Dispatcher"),
    "power.history.col.lifted": ("Снято", "Lifted"),
    "power.history.back": ("К списку помещений", "Back to the premises"),
    "power.history.current": ("Сейчас: {state}", "Now: {state}"),
    "power.refused.in_force": ("у помещения уже есть действующее ограничение ({state}).",
                               "the premise has a limitation in force already ({state})."),
    "power.refused.no_limitation": ("у помещения нет ограничения.", "the premise has no limitation."),
    "power.refused.lift_refused": ("снять можно только действующее ограничение (сейчас: {state}).",
                                   "only a limitation in force can be lifted (now: {state})."),
    "power.refused.retry_refused": ("повторить можно только невыполненную команду (сейчас: {state}).",
                                    "only a failed command can be sent again (now: {state})."),
    "power.refused.not_latest": ("по помещению есть более новое ограничение.",
                                 "the premise has a newer limitation."),
    "power.refused.no_relay": ("в помещении {number} нет счётчика КАРАТ-941LW в эксплуатации.",
                               "premise {number} has no KARAT-941LW meter in service."),
    "power.refused.no_threshold": ("не задан порог реле ни для объекта {address}, ни для города {city}: задайте его "
                                   "на странице «Реле мощности».", "no relay threshold for {address} nor for "
                                   "{city}: set one on the «Реле мощности» page."),
    "power.refused.debt_amount_missing": ("укажите сумму долга.", "give the debt."),
    "power.refused.debt_amount_range": ("сумма долга должна быть больше 0 и не больше {high:.0f} ₽.",
                                        "the debt must be above 0 and at most {high:.0f} ₽."),
    "power.refused.debt_amount_kopecks": ("сумма долга — не более двух знаков после запятой.",
                                          "the debt has at most two decimals."),
    "power.refused.repairs_from_missing": ("укажите дату начала ремонтных работ.", "give the start of the repairs."),
    "power.refused.repairs_from_range": ("дата начала ремонта — с {low} по {high}.",
                                         "the start of the repairs: from {low} to {high}."),
    "power.refused.notice_dates_missing": ("для уведомления через ЭК укажите даты уведомления и контроля.",
                                           "a notice through ЭК needs the notification and control dates."),
    "power.refused.notify_on_range": ("дата уведомления — с {low} по {high}.",
                                      "the notification date: from {low} to {high}."),
    "power.refused.control_on_range": ("дата контроля — с {low} по {high}.", "the control date: from {low} to {high}."),
    "power.relays.title": ("Реле мощности", "Power relays"),
    "power.relays.subtitle": ("Пороги ограничения реле мощности, Вт: значение по умолчанию для города и, при "
                        "необходимости, своё для объекта. Если у объекта порог не задан, действует городской.",
                        "Relay limit thresholds, W: the city's default and, where needed, a building's own. A "
                        "building without its own follows the city's."),
    "power.relays.cities": ("По умолчанию для города", "City defaults"),
    "power.relays.buildings": ("Объекты", "Buildings"),
    "power.relays.col.city": ("Город", "City"),
    "power.relays.col.building": ("Объект", "Building"),
    "power.relays.col.own": ("Порог объекта, Вт", "Building's threshold, W"),
    "power.relays.col.in_force": ("Действует, Вт", "In force, W"),
    "power.relays.col.default": ("Порог, Вт", "Threshold, W"),
    "power.relays.col.updated": ("Изменено", "Changed"),
    "power.relays.placeholder": ("как у города", "the city's"),
    "power.relays.unset": ("не задан", "not set"),
    "power.relays.save": ("Сохранить", "Save"),
    "power.relays.save_all": ("Сохранить изменения", "Save the changes"),
    "power.relays.revert": ("Отменить изменения", "Discard the changes"),
    "power.relays.changed": ("Изменено значений: {count}", "Values changed: {count}"),
    "power.relays.bounds": ("Целое число от {low} до {high} Вт; пусто — как у города.",
                      "A whole number from {low} to {high} W; empty: the city's."),
    "power.relays.bad": ("{field}: целое число от {low} до {high} Вт.",
                         "{field}: a whole number from {low} to {high} W."),
    "power.relays.saved": ("Пороги сохранены", "Thresholds saved"),
    "power.relays.confirm": ("Сохранить пороги реле? Новые ограничения будут отправляться с этими значениями.",
                       "Save the relay thresholds? New limitations will use them."),
    "power.relays.no_buildings": ("У компании нет объектов.", "The company has no buildings."),
    "power.relays.no_cities": ("У компании нет городов.", "The company has no cities."),
})


class PowerService(Protocol):
    async def premises(self, token: str, *, building_id: int | None = None, state: str | None = None,
                       reason: str | None = None) -> list[PremisePower]: ...

    async def premise(self, token: str, premise_id: int) -> PremisePower: ...

    async def history(self, token: str, premise_id: int) -> list[Limitation]: ...

    async def start(self, token: str, premise_id: int, reason: str, *, debt_amount: float | None = None,
                    repairs_from: date | None = None, notify: bool = False, notify_on: date | None = None,
                    control_on: date | None = None) -> Limitation: ...

    async def lift(self, token: str, limitation_id: int) -> Limitation: ...

    async def retry(self, token: str, limitation_id: int) -> Limitation: ...

    async def thresholds(self, token: str) -> RelayThresholds: ...

    async def set_city_threshold(self, token: str, city_id: int, threshold_w: int | None) -> CityThreshold: ...

    async def set_building_thresholds(self, token: str, changes: Sequence[ThresholdChange]
                                      ) -> list[BuildingThreshold]: ...


class PowerServices(Services, Protocol):
    @property
    def power(self) -> PowerService: ...


# --- wording and calls -------------------------------------------------------------------------------

def refusal(error: PowerRuleError) -> str:
    """A rule's refusal in the page's language."""
    key = f"power.refused.{error.reason}"
    if not has(key):
        return str(error)
    params = {k: (state_text(v) if k == "state" and isinstance(v, str) else
                  fmt.day(v) if isinstance(v, date) else v) for k, v in error.params.items() if k != "lang"}
    return t(key, lang=None, **params)


def state_text(state: str | None) -> str:
    return t(f"power.state.{state or 'none'}")


async def _russian(call: Awaitable[T]) -> T:
    try:
        return await call
    except PowerRuleError as error:
        raise InvalidInput(refusal(error)) from error


async def attempt(call: Awaitable[T], error: ui.label | None = None) -> T | None:
    """``auth.attempt`` with the rules' refusals in Russian; with ``error``, an invalid input is
    shown in that label (next to the form) instead of a notification."""
    if error is None:
        return await auth.attempt(_russian(call))

    async def shown() -> T | None:
        try:
            return await _russian(call)
        except InvalidInput as refused:
            error.set_text(t("error.invalid_input", reason=errors.reason(str(refused))))
            error.visible = True
            return None
    return await auth.attempt(shown())


def _parse_day(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text or "").strip())
    except ValueError:
        return None


def _state_chip(state: str, marker: str) -> None:
    colour = STATE_COLOURS.get(state, "#627d98")
    ui.label(state_text(state)).classes("text-sm font-medium").style(f"color: {colour}").mark(marker)


def _reason_text(lim: Limitation) -> str:
    if lim.reason == "debt" and lim.debt_amount is not None:
        return t("power.reason.debt_amount", amount=fmt.number(lim.debt_amount, 2))
    if lim.repairs_from is not None:
        return t("power.reason.repairs_from", day=fmt.day(lim.repairs_from))
    return t(f"power.reason.{lim.reason}")


def _notice_text(lim: Limitation) -> str:
    if not lim.notify or lim.notify_on is None or lim.control_on is None:
        return t("power.no_notice")
    return t("power.notice", notify=fmt.day(lim.notify_on), control=fmt.day(lim.control_on))


TABLE_CSS = (".du-power th:first-child, .du-power td:first-child { position: sticky; left: 0; background: #fff; "
              "z-index: 1; } .du-power td, .du-power th { padding: 6px 10px; border-bottom: 1px solid #edf1f5; "
              "text-align: left; vertical-align: top; } .du-power th { background: #f7f9fb; font-weight: 600; "
              "color: #334e68; } .du-power th:first-child { background: #f7f9fb; }")


def header_row(keys: Sequence[str]) -> None:
    with ui.element("tr"):
        for key in keys:
            with ui.element("th"):
                ui.label(t(key) if key else "")


# --- actions shared by the list and the history ----------------------------------------------------

class Actions:
    """Start, lift and retry with their dialogs; ``done`` reloads the page that owns them."""

    def __init__(self, services: PowerServices, viewer: auth.Viewer, done: Callable[[], Awaitable[None]]) -> None:
        self.services = services
        self.viewer = viewer
        self.done = done

    @property
    def may_change(self) -> bool:
        return access.may_change_settings(self.viewer.user)

    def buttons(self, row: PremisePower, lim: Limitation | None) -> None:
        """The buttons a dispatcher may use on this premise now (none for anyone else)."""
        if not self.may_change:
            return
        if lim is not None and "lift" in lim.actions:
            ui.button(t("power.lift"), icon="power", on_click=lambda: self.confirm_lift(row, lim)) \
                .props("flat dense no-caps color=positive").classes("whitespace-nowrap") \
                .mark(f"power-lift-{row.premise_id}")
        if lim is not None and "retry" in lim.actions:
            ui.button(t("power.retry"), icon="replay", on_click=lambda: self.confirm_retry(lim)) \
                .props("flat dense no-caps").classes("whitespace-nowrap").mark(f"power-retry-{row.premise_id}")
        if row.may_start:
            ui.button(t("power.start"), icon="power_off", on_click=lambda: self.start_dialog(row)) \
                .props("flat dense no-caps color=negative").classes("whitespace-nowrap") \
                .mark(f"power-start-{row.premise_id}")
        elif row.threshold_w is None and (lim is None or lim.state not in ("sending", "limited", "lifting")):
            ui.label(t("power.start.no_threshold")).classes("text-xs du-muted max-w-[14rem]")

    def start_dialog(self, row: PremisePower) -> None:
        """The limitation form; "Далее" checks each field, then a confirmation before the command goes."""
        with ui.dialog() as dialog, theme.card().classes("max-w-lg").mark("power-dialog"):
            ui.label(t("power.form.title", number=row.premise_number, address=row.address)) \
                .classes("du-card-title break-words")
            form = ui.column().classes("w-full gap-2")
            confirm = ui.column().classes("w-full gap-2")
            confirm.visible = False
            with form:
                ui.label(t("power.form.reason")).classes("text-xs du-muted")
                reason = ui.radio({"debt": t("power.reason.debt"), "repairs": t("power.reason.repairs")},
                                  value="debt").props("inline").mark("power-reason")
                amount = ui.number(t("power.form.debt_amount"), min=0.01, step=0.01, format="%.2f") \
                    .props("outlined dense").classes("w-full").mark("power-amount")
                repairs = ui.input(t("power.form.repairs_from")).props("outlined dense type=date") \
                    .classes("w-full").mark("power-repairs")
                amount.bind_visibility_from(reason, "value", backward=lambda v: v == "debt")
                repairs.bind_visibility_from(reason, "value", backward=lambda v: v == "repairs")
                notify = ui.checkbox(t("power.form.notify")).mark("power-notify")
                with ui.row().classes("w-full gap-2 no-wrap") as dates:
                    notify_on = ui.input(t("power.form.notify_on")).props("outlined dense type=date") \
                        .classes("flex-1 min-w-0").mark("power-notify-on")
                    control_on = ui.input(t("power.form.control_on")).props("outlined dense type=date") \
                        .classes("flex-1 min-w-0").mark("power-control-on")
                dates.bind_visibility_from(notify, "value")
                ui.label(t("power.form.threshold", serial=row.meter_serial, watts=fmt.integer(row.threshold_w or 0),
                           source=t(f"power.threshold.{row.threshold_source or 'none'}"))) \
                    .classes("text-sm break-words")
                error = ui.label("").classes("text-sm text-[#c2413b] break-words").mark("power-error")
                error.visible = False

            def fields() -> dict[str, Any] | None:
                """The form's values, each checked for its form; None with the first problem shown."""
                error.visible = False
                out: dict[str, Any] = {"reason": reason.value, "notify": bool(notify.value)}
                if reason.value == "debt":
                    if amount.value is None or amount.value <= 0 or round(amount.value, 2) != amount.value:
                        problem(error, t("power.form.need_amount"))
                        return None
                    out["debt_amount"] = float(amount.value)
                else:
                    day = _parse_day(repairs.value)
                    if day is None:
                        problem(error, f"{t('power.form.repairs_from')}: {t('power.form.need_date')}")
                        return None
                    out["repairs_from"] = day
                if notify.value:
                    for key, field in (("notify_on", notify_on), ("control_on", control_on)):
                        day = _parse_day(field.value)
                        if day is None:
                            problem(error, f"{t('power.form.' + key)}: {t('power.form.need_date')}")
                            return None
                        out[key] = day
                return out

            def next_step() -> None:
                values = fields()
                if values is None:
                    return
                confirm.clear()
                with confirm:
                    ui.label(t("power.form.confirm")).classes("font-semibold")
                    ui.label(t("power.form.summary.debt", amount=fmt.number(values["debt_amount"], 2))
                             if values["reason"] == "debt" else
                             t("power.form.summary.repairs", day=fmt.day(values["repairs_from"]))).classes("text-sm")
                    ui.label(t("power.form.summary.notice", notify=fmt.day(values["notify_on"]),
                               control=fmt.day(values["control_on"])) if values["notify"]
                             else t("power.form.summary.no_notice")).classes("text-sm")
                    ui.label(t("power.form.threshold", serial=row.meter_serial,
                               watts=fmt.integer(row.threshold_w or 0),
                               source=t(f"power.threshold.{row.threshold_source or 'none'}"))) \
                        .classes("text-sm break-words")
                chosen.clear()
                chosen.update(values)
                form.visible, confirm.visible = False, True
                form_buttons.visible, confirm_buttons.visible = False, True

            def back() -> None:
                form.visible, confirm.visible = True, False
                form_buttons.visible, confirm_buttons.visible = True, False

            async def apply() -> None:
                async with theme.working():
                    done = await attempt(self.services.power.start(self.viewer.token, row.premise_id, **chosen), error)
                if done is None:
                    back()
                    return
                dialog.close()
                ui.notify(t("power.started"), type="positive")
                await self.done()

            chosen: dict[str, Any] = {}
            with ui.row().classes("w-full justify-end gap-2") as form_buttons:
                ui.button(t("power.form.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("power.form.next"), on_click=next_step).props("unelevated no-caps").mark("power-next")
            with ui.row().classes("w-full justify-end gap-2") as confirm_buttons:
                ui.button(t("power.form.back"), on_click=back).props("flat no-caps")
                ui.button(t("power.form.apply"), icon="power_off", on_click=apply) \
                    .props("unelevated no-caps color=negative").mark("power-apply")
            confirm_buttons.visible = False
        dialog.open()

    def confirm_lift(self, row: PremisePower, lim: Limitation) -> None:
        self._confirm(t("power.lift.confirm", number=row.premise_number, address=row.address,
                        serial=lim.meter_serial), t("power.lift.yes"), "power-lift-yes",
                      lambda: self.services.power.lift(self.viewer.token, lim.id), t("power.lifted"))

    def confirm_retry(self, lim: Limitation) -> None:
        self._confirm(t("power.retry.confirm", watts=fmt.integer(lim.threshold_w), serial=lim.meter_serial),
                      t("power.retry.yes"), "power-retry-yes",
                      lambda: self.services.power.retry(self.viewer.token, lim.id), t("power.retried"))

    def _confirm(self, text: str, yes: str, marker: str, call: Callable[[], Awaitable[Limitation]],
                 done_text: str) -> None:
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("power-confirm"):
            ui.label(text).classes("break-words")

            async def go() -> None:
                async with theme.working():
                    done = await attempt(call())
                dialog.close()
                if done is not None:
                    ui.notify(done_text, type="positive")
                await self.done()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("power.form.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(yes, on_click=go).props("unelevated no-caps").mark(marker)
        dialog.open()


def problem(label: ui.label, text: str) -> None:
    label.set_text(text)
    label.visible = True


# --- /service/power ----------------------------------------------------------------------------------

class PowerPage:
    def __init__(self, services: PowerServices, viewer: auth.Viewer, filters: dict[str, Any]) -> None:
        self.services = services
        self.viewer = viewer
        self.filters = filters  # building (id), state, reason; None: all
        self.rows: list[PremisePower] = []
        self.total = 0
        self.buildings: list[BuildingSummary] = []
        self.actions = Actions(services, viewer, self.reload)

    async def load(self) -> None:
        self.buildings = selection.city_buildings(await self.services.accounting.buildings(self.viewer.token))
        every = await self.services.power.premises(self.viewer.token)
        shown = {b.id for b in self.buildings}
        self.total = len([r for r in every if r.building_id in shown])
        rows = await self.services.power.premises(self.viewer.token, building_id=self.filters["building"],
                                                  state=self.filters["state"], reason=self.filters["reason"])
        self.rows = [r for r in rows if r.building_id in shown]

    async def reload(self) -> None:
        async with theme.working():
            await self.load()
        self.body.refresh()

    def render(self) -> None:
        with theme.frame(t("power.title"), self.viewer.user, active=PATH, subtitle=t("power.subtitle")):
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        all_text = t("power.filter.all")
        with theme.card(), ui.row().classes("w-full items-end gap-3"):
            ui.select({0: all_text, **{b.id: b.address for b in self.buildings}}, label=t("power.filter.building"),
                      value=self.filters["building"] if self.filters["building"] in {b.id for b in self.buildings}
                      else 0,
                      on_change=lambda e: self._filter("building", e.value or None)) \
                .props("outlined dense").classes("min-w-[14rem] max-w-full").mark("power-filter-building")
            ui.select({"": all_text, "none": state_text(None), **{s: state_text(s) for s in STATES if s != "lifted"}},
                      label=t("power.filter.state"), value=self.filters["state"] or "",
                      on_change=lambda e: self._filter("state", e.value or None)) \
                .props("outlined dense").classes("min-w-[12rem]").mark("power-filter-state")
            ui.select({"": all_text, "debt": t("power.reason.debt"), "repairs": t("power.reason.repairs")},
                      label=t("power.filter.reason"), value=self.filters["reason"] or "",
                      on_change=lambda e: self._filter("reason", e.value or None)) \
                .props("outlined dense").classes("min-w-[10rem]").mark("power-filter-reason")
            ui.button(icon="refresh", on_click=self.reload) \
                .props(f'flat round dense aria-label="{t("power.refresh")}"') \
                .tooltip(t("power.refresh")) \
                .mark("power-refresh")
        with theme.card():
            if not self.rows:
                theme.message(t("power.empty") if not self.total else t("power.empty_filtered"))
                return
            ui.add_css(TABLE_CSS)
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-power w-full min-w-[760px]").mark("power-table"):
                header_row(("power.col.premise", "power.col.state", "power.col.reason", "power.col.threshold",
                             "power.col.notice"))
                for row in self.rows:
                    self._row(row)

    def _row(self, row: PremisePower) -> None:
        lim = row.limitation
        with ui.element("tr").mark(f"power-row-{row.premise_id}"):
            with ui.element("td").classes("max-w-[14rem]"):
                ui.link(t("power.premise", number=row.premise_number),
                        PREMISE_PATH.format(premise_id=row.premise_id)).classes("font-medium") \
                    .mark(f"power-history-{row.premise_id}")
                ui.label(row.address).classes("text-xs du-muted truncate").tooltip(row.address)
                ui.label(f"{t('power.col.meter')}: {row.meter_serial}").classes("text-xs du-muted")
            with ui.element("td"):
                _state_chip(lim.state if lim else "none", f"power-state-{row.premise_id}")
                if lim is not None and lim.state not in ("limited", "lifted"):
                    ui.label(t("power.command", state=t(f"power.command.{lim.command_state}"))) \
                        .classes("text-xs du-muted")
                if lim is not None and lim.command_detail:
                    ui.label(lim.command_detail).classes("text-xs text-[#b7791f] break-words max-w-[14rem]")
                with ui.column().classes("gap-0 items-start mt-1"):  # beside the state: in view on a phone
                    self.actions.buttons(row, lim)
            with ui.element("td"):
                ui.label(_reason_text(lim) if lim else "—").classes("text-sm")
                if lim is not None:
                    ui.label(fmt.moment(lim.created_at)).classes("text-xs du-muted")
            with ui.element("td"):
                watts = lim.threshold_w if lim else row.threshold_w
                source = lim.threshold_source if lim else row.threshold_source
                ui.label(fmt.integer(watts) if watts else t("power.threshold.none")).classes("text-sm")
                if source:
                    ui.label(t(f"power.threshold.{source}")).classes("text-xs du-muted")
            with ui.element("td"):
                ui.label(_notice_text(lim) if lim else "—").classes("text-sm")

    async def _filter(self, name: str, value: Any) -> None:
        self.filters[name] = value
        await self.reload()


# --- /service/power/premises/{id} ----------------------------------------------------------------------

class HistoryPage:
    def __init__(self, services: PowerServices, viewer: auth.Viewer, premise_id: int) -> None:
        self.services = services
        self.viewer = viewer
        self.premise_id = premise_id
        self.row: PremisePower | None = None
        self.history: list[Limitation] = []
        self.actions = Actions(services, viewer, self.reload)

    async def load(self) -> None:
        self.row = await self.services.power.premise(self.viewer.token, self.premise_id)
        self.history = await self.services.power.history(self.viewer.token, self.premise_id)

    async def reload(self) -> None:
        async with theme.working():
            await self.load()
        self.body.refresh()

    def render(self) -> None:
        assert self.row is not None  # noqa: S101 - render follows a successful load
        with theme.frame(t("power.history.title", number=self.row.premise_number, address=self.row.address),
                         self.viewer.user, active=PATH, crumbs=((t("power.title"), PATH),)):
            self.body()

    @ui.refreshable_method
    def body(self) -> None:
        row = self.row
        if row is None:
            return
        with theme.card(), ui.row().classes("w-full items-center justify-between gap-3"):
            with ui.column().classes("gap-1"):
                with ui.row().classes("items-center gap-2"):
                    ui.label(t("power.history.current", state="")).classes("text-sm")
                    _state_chip(row.limitation.state if row.limitation else "none", "power-current")
                ui.label(f"{t('power.col.meter')}: {row.meter_serial}").classes("text-sm du-muted")
                ui.label(f"{t('power.col.threshold')}: " + (
                    f"{fmt.integer(row.threshold_w)} ({t(f'power.threshold.{row.threshold_source}')})"
                    if row.threshold_w else t("power.threshold.none"))).classes("text-sm du-muted")
            with ui.row().classes("gap-2 items-center"):
                self.actions.buttons(row, row.limitation)
                ui.button(icon="refresh", on_click=self.reload) \
                    .props(f'flat round dense aria-label="{t("power.refresh")}"') \
                    .tooltip(t("power.refresh"))
        with theme.card(t("power.history")):
            if not self.history:
                theme.message(t("power.history.empty"))
                return
            ui.add_css(TABLE_CSS)
            with ui.element("div").classes("w-full overflow-x-auto"), \
                    ui.element("table").classes("du-power w-full min-w-[760px]").mark("power-history-table"):
                header_row(("power.history.col.created", "power.col.state", "power.col.reason",
                             "power.col.threshold", "power.col.notice", "power.history.col.lifted"))
                for lim in self.history:
                    with ui.element("tr").mark(f"power-limitation-{lim.id}"):
                        with ui.element("td"):
                            ui.label(fmt.moment(lim.created_at)).classes("text-sm")
                            ui.label(lim.created_by or "—").classes("text-xs du-muted")
                        with ui.element("td"):
                            _state_chip(lim.state, f"power-limitation-state-{lim.id}")
                            ui.label(t("power.command", state=t(f"power.command.{lim.command_state}"))) \
                                .classes("text-xs du-muted")
                            if lim.command_detail:
                                ui.label(lim.command_detail).classes("text-xs text-[#b7791f] break-words")
                        with ui.element("td"):
                            ui.label(_reason_text(lim)).classes("text-sm")
                        with ui.element("td"):
                            ui.label(fmt.integer(lim.threshold_w)).classes("text-sm")
                            ui.label(t(f"power.threshold.{lim.threshold_source}")).classes("text-xs du-muted")
                        with ui.element("td"):
                            ui.label(_notice_text(lim)).classes("text-sm")
                        with ui.element("td"):
                            if lim.lifted_at is not None:
                                ui.label(fmt.moment(lim.lifted_at)).classes("text-sm")
                                ui.label(lim.lifted_by or "—").classes("text-xs du-muted")
                            else:
                                ui.label("—")


def register(services: PowerServices) -> None:
    """Register /service/power, its premise history pages and /settings/relays."""
    from . import power_relays_page


    @ui.page(PATH, response_timeout=30.0)
    async def power_page(request: Request, building: str | None = None, state: str | None = None,
                         reason: str | None = None) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        filters = {"building": int(building) if building and building.isdigit() else None,
                   "state": state if state in ("none", *STATES) else None,
                   "reason": reason if reason in ("debt", "repairs") else None}
        page = PowerPage(services, viewer, filters)
        if await pages.explained(viewer.user, page.load(), not_found=t("power.empty"), active=PATH):
            page.render()
        return None

    @ui.page(PREMISE_PATH, response_timeout=30.0)
    async def power_premise_page(request: Request, premise_id: int) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = HistoryPage(services, viewer, premise_id)
        if await pages.explained(viewer.user, page.load(), not_found=t("power.empty"), active=PATH):
            page.render()
        return None

    power_relays_page.register(services)
