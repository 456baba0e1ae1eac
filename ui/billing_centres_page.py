"""Page «Расчётные центры» (/settings/billing-centres): the company's billing centres (РИЦ) for the
automatic export of readings (manual 4.4.2; cloud/billing/service.py): name, the exchange's address,
the token (write-only: shown as its last four characters; a blank field keeps it), the submission day
of the month, enabled, and the linked buildings whose apartment meters' readings are sent. A dispatcher
without reader status adds, changes, removes a centre and starts its export now; engineers and readers
read; administrators get the «нет доступа» page. Cards that wrap at 390 px.
Tests: tests/ui/test_billing_runs_ui.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.billing.service import CentreInfo
from cloud.services.models import BuildingSummary

from . import access, auth, pages, theme
from .i18n import extend, t
from .ports import Services

PATH = "/settings/billing-centres"
RUNS = "/billing/runs"

extend({
    "bcentres.title": ("Расчётные центры", "Billing centres"),
    "bcentres.subtitle": ("Расчётно-информационные центры (РИЦ), которым показания ИПУ связанных объектов "
                          "передаются автоматически в день сдачи показаний",
                          "Billing centres that get the apartment meters' readings of the linked buildings "
                          "on the submission day"),
    "bcentres.none": ("РИЦ не настроены.", "No billing centres yet."),
    "bcentres.add": ("Добавить РИЦ", "Add a centre"), "bcentres.edit": ("Изменить", "Edit"),
    "bcentres.delete": ("Удалить", "Delete"), "bcentres.run": ("Выгрузить сейчас", "Export now"),
    "bcentres.name": ("Название", "Name"), "bcentres.url": ("Адрес обмена (URL)", "Exchange URL"),
    "bcentres.token": ("Токен доступа", "Access token"),
    "bcentres.token_keep": ("оставьте пустым, чтобы не менять ({hint})", "leave blank to keep ({hint})"),
    "bcentres.day": ("День сдачи показаний (1–28)", "Submission day (1–28)"),
    "bcentres.enabled": ("Выгрузка включена", "Export enabled"), "bcentres.disabled": ("выключена", "disabled"),
    "bcentres.buildings": ("Связанные объекты", "Linked buildings"),
    "bcentres.no_buildings": ("нет связанных объектов", "no linked buildings"),
    "bcentres.day_text": ("сдача показаний {day}-го числа", "submission on day {day}"),
    "bcentres.save": ("Сохранить", "Save"), "bcentres.cancel": ("Отмена", "Cancel"),
    "bcentres.saved": ("РИЦ сохранён", "Saved"), "bcentres.deleted": ("РИЦ удалён", "Deleted"),
    "bcentres.confirm": ("Удалить РИЦ «{name}» вместе с его протоколами?", "Delete «{name}» with its protocols?"),
    "bcentres.started": ("Выгрузка запущена", "The export is running"),
    "bcentres.read_only": ("РИЦ настраивает диспетчер (Оператор данных).", "A dispatcher sets up the centres."),
    "bcentres.protocols": ("Протоколы выгрузки", "Export protocols"),
})


def register(services: Services) -> None:
    billing: Any = services.billing  # type: ignore[attr-defined]

    @ui.page(PATH, response_timeout=30.0)
    async def billing_centres(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        buildings = await services.accounting.buildings(viewer.token)
        page = CentresPage(billing, viewer, buildings)
        with theme.frame(t("bcentres.title"), viewer.user, active=PATH, subtitle=t("bcentres.subtitle")):
            await page.load()
            page.render()
        return None


class CentresPage:
    def __init__(self, billing: Any, viewer: auth.Viewer, buildings: list[BuildingSummary]) -> None:
        self.billing = billing
        self.viewer = viewer
        self.buildings = {b.id: b.address for b in buildings}
        self.centres: list[CentreInfo] = []
        self.editable = access.may_change_settings(viewer.user)

    async def load(self) -> None:
        self.centres = await self.billing.centres(self.viewer.token)

    @ui.refreshable_method
    def render(self) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            if self.editable:
                ui.button(t("bcentres.add"), icon="add", on_click=lambda: self.edit(None)) \
                    .props("unelevated no-caps color=primary").mark("centre-add")
            else:
                theme.message(t("bcentres.read_only"))
            ui.link(t("bcentres.protocols"), RUNS).classes("du-link")
        if not self.centres:
            theme.message(t("bcentres.none"))
        for c in self.centres:
            self._card(c)

    def _card(self, c: CentreInfo) -> None:
        with theme.card().classes("w-full").mark(f"centre-{c.id}"):
            with ui.row().classes("w-full items-center justify-between gap-2"):
                ui.label(c.name).classes("text-lg font-semibold break-words min-w-0")
                if not c.enabled:
                    ui.label(t("bcentres.disabled")).classes("text-sm du-muted")
            ui.label(f"{c.url} · {c.connector}").classes("text-sm break-all")
            hint = c.token_hint or "—"
            ui.label(f"{t('bcentres.token')}: {hint} · {t('bcentres.day_text', day=c.submission_day)}") \
                .classes("text-sm du-muted").mark(f"centre-facts-{c.id}")
            names = [self.buildings.get(b, f"#{b}") for b in c.building_ids]
            ui.label(f"{t('bcentres.buildings')}: {', '.join(names) or t('bcentres.no_buildings')}") \
                .classes("text-sm break-words")
            if self.editable:
                with ui.row().classes("gap-2 flex-wrap"):
                    ui.button(t("bcentres.run"), icon="send", on_click=lambda c=c: self.run(c)) \
                        .props("unelevated no-caps color=primary dense").classes("px-3").mark(f"centre-run-{c.id}")
                    ui.button(t("bcentres.edit"), icon="edit", on_click=lambda c=c: self.edit(c)) \
                        .props("flat no-caps dense").mark(f"centre-edit-{c.id}")
                    ui.button(t("bcentres.delete"), icon="delete", on_click=lambda c=c: self.delete(c)) \
                        .props("flat no-caps dense color=negative").mark(f"centre-delete-{c.id}")

    async def run(self, c: CentreInfo) -> None:
        started = await auth.attempt(self.billing.start_run(self.viewer.token, c.id))
        if started is not None:
            ui.notify(t("bcentres.started"), type="positive")
            ui.navigate.to(f"{RUNS}/{started.id}")

    def edit(self, c: CentreInfo | None) -> None:
        with ui.dialog() as dialog, theme.card(t("bcentres.edit") if c else t("bcentres.add")) \
                .classes("w-full max-w-lg").mark("centre-form"):
            name = ui.input(t("bcentres.name"), value=c.name if c else "").props("outlined dense") \
                .classes("w-full").mark("centre-name")
            url = ui.input(t("bcentres.url"), value=c.url if c else "https://").props("outlined dense") \
                .classes("w-full").mark("centre-url")
            secret = ui.input(t("bcentres.token"), password=True, password_toggle_button=True,
                              placeholder=t("bcentres.token_keep", hint=c.token_hint) if c and c.token_hint else "") \
                .props("outlined dense").classes("w-full").mark("centre-token")
            day = ui.number(t("bcentres.day"), value=c.submission_day if c else 20, min=1, max=28, step=1,
                            precision=0).props("outlined dense").classes("w-full").mark("centre-day")
            enabled = ui.switch(t("bcentres.enabled"), value=c.enabled if c else True).mark("centre-enabled")
            linked = ui.select(self.buildings, multiple=True, value=list(c.building_ids) if c else [],
                               label=t("bcentres.buildings")).props("outlined dense use-chips") \
                .classes("w-full").mark("centre-buildings")

            async def save() -> None:
                values = {"name": name.value or "", "url": url.value or "", "submission_day": int(day.value or 0),
                          "building_ids": list(linked.value or []), "enabled": bool(enabled.value)}
                if c is None:
                    done = await auth.attempt(self.billing.create_centre(
                        self.viewer.token, values["name"], values["url"], secret.value or "",
                        values["submission_day"], values["building_ids"], values["enabled"]))
                else:
                    done = await auth.attempt(self.billing.update_centre(
                        self.viewer.token, c.id, secret=secret.value or None, **values))
                if done is not None:
                    dialog.close()
                    ui.notify(t("bcentres.saved"), type="positive")
                    await self.load()
                    self.render.refresh()
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("bcentres.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("bcentres.save"), icon="save", on_click=save) \
                    .props("unelevated no-caps color=primary").mark("centre-save")
        dialog.open()

    def delete(self, c: CentreInfo) -> None:
        with ui.dialog() as dialog, theme.card().classes("max-w-md"):
            ui.label(t("bcentres.confirm", name=c.name)).classes("break-words")

            async def yes() -> None:
                if await auth.attempt(self.billing.delete_centre(self.viewer.token, c.id)) is None and \
                        any(x.id == c.id for x in await self.billing.centres(self.viewer.token)):
                    return
                dialog.close()
                ui.notify(t("bcentres.deleted"), type="positive")
                await self.load()
                self.render.refresh()
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("bcentres.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("bcentres.delete"), on_click=yes).props("unelevated no-caps color=negative") \
                    .mark("centre-delete-yes")
        dialog.open()
