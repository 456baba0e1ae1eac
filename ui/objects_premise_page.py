"""One premise of a building's settings (manual 4.6.3, fig. 4.6.6): its name, area, residents, the
activation code with its period and state, and its owners; the previous and next premise and back
to the list. A dispatcher edits area and residents, generates the premise's code and invites an
owner by e-mail. Route: /settings/buildings/{id}/premises/{premise_id}. Tests: tests/ui/test_objects_ui.py.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.objects import BuildingCard, OwnerRow, PremiseRow, premise_label

from . import auth, fmt, pages, theme, widgets
from .accounting import parse_id
from .i18n import extend, t
from .objects_common import (
    LIST_PATH,
    FormError,
    ObjectsServices,
    building_header,
    building_page,
    confirm,
    crumbs,
    may_change,
    number_value,
    submit,
)
from .objects_owners_page import invite_dialog

extend({
    "objects.premise.title": ("{premise}: {address}", "{premise}: {address}"),
    "objects.premise.not_found": ("Помещение не найдено в этом объекте.",
                                  "The premise was not found in this building."),
    "objects.premise.previous": ("Предыдущее помещение", "Previous premise"),
    "objects.premise.next": ("Следующее помещение", "Next premise"),
    "objects.premise.back": ("К списку помещений", "Back to the premises"),
    "objects.premise.area": ("Площадь", "Area"),
    "objects.premise.residents": ("Количество жильцов", "Residents"),
    "objects.premise.code": ("Код активации", "Activation code"),
    "objects.premise.code.period": ("Период действия", "Valid"),
    "objects.premise.code.state": ("Состояние", "State"),
    "objects.premise.code.generate": ("Сгенерировать код активации", "Generate an activation code"),
    "objects.premise.owners": ("Жильцы (собственники)", "Residents (owners)"),
    "objects.premise.owners.none": ("Собственники не добавлены.", "No owners yet."),
    "objects.premise.invite": ("Добавить собственника", "Add an owner"),
})


def register(services: ObjectsServices) -> None:
    """Register /settings/buildings/{id}/premises/{premise_id}."""

    @ui.page(LIST_PATH + "/{building_id}/premises/{premise_id}", response_timeout=30.0)
    async def premise_settings(request: Request, building_id: str, premise_id: str) -> RedirectResponse | None:
        guarded = await building_page(services, request, building_id, "/premises")
        if guarded is None or isinstance(guarded, RedirectResponse):
            return guarded
        viewer, card = guarded
        page = PremisePage(services, viewer, card, parse_id(premise_id))
        await page.load()
        if page.row is None:
            pages.problem_page(viewer.user, t("error.not_found"), t("objects.premise.not_found"), active=LIST_PATH)
            return None
        with theme.frame(t("objects.premise.title", premise=premise_label(page.row.number, page.row.kind),
                           address=card.address), viewer.user, crumbs=crumbs(card), active=LIST_PATH):
            building_header(card, "/premises")
            page.body()
        return None


def premise_href(building_id: int, premise_id: int) -> str:
    return f"{LIST_PATH}/{building_id}/premises/{premise_id}"


class PremisePage:
    def __init__(self, services: ObjectsServices, viewer: auth.Viewer, card: BuildingCard,
                 premise_id: int | None) -> None:
        self.services = services
        self.viewer = viewer
        self.card = card
        self.premise_id = premise_id
        self.rows: list[PremiseRow] = []
        self.owners: list[OwnerRow] = []
        self.editing = False

    @property
    def row(self) -> PremiseRow | None:
        return next((r for r in self.rows if r.id == self.premise_id), None)

    async def load(self) -> None:
        self.rows = await self.services.objects.premises(self.viewer.token, self.card.id)
        self.owners = [o for o in await self.services.objects.owners(self.viewer.token, self.card.id)
                       if o.premise_id == self.premise_id and o.resident_id is not None]

    async def reload(self) -> None:
        async with theme.working():
            await self.load()
        self.body.refresh()

    @ui.refreshable_method
    def body(self) -> None:
        row = self.row
        if row is None:
            return
        self._navigation(row)
        with theme.card().mark("premise-card"):
            with ui.row().classes("w-full gap-x-8 gap-y-3"):
                widgets.fact(t("objects.premise.area"), f"{fmt.number(row.area_m2, 2)} {t('unit.m2')}")
                widgets.fact(t("objects.premise.residents"), fmt.integer(row.residents))
                if row.code is not None:
                    widgets.fact(t("objects.premise.code"), row.code.code)
                    widgets.fact(t("objects.premise.code.period"),
                                 f"{fmt.moment(row.code.created_at)} – {fmt.moment(row.code.expires_at)}")
                    widgets.fact(t("objects.premise.code.state"), t(f"objects.codes.state.{row.code.state}"))
                else:
                    widgets.fact(t("objects.premise.code"), t("objects.codes.none"))
            if may_change(self.viewer):
                self._actions(row)
        with theme.card(t("objects.premise.owners")).mark("premise-owners"):
            if not self.owners:
                theme.message(t("objects.premise.owners.none"))
            for owner in self.owners:
                with ui.column().classes("gap-0"):
                    ui.label(owner.full_name).classes("font-medium break-words")
                    ui.label(" · ".join(x for x in (owner.email, owner.phone) if x)).classes("text-sm du-muted "
                                                                                          "break-words")

    def _navigation(self, row: PremiseRow) -> None:
        index = self.rows.index(row)
        previous = self.rows[index - 1] if index > 0 else None
        following = self.rows[index + 1] if index + 1 < len(self.rows) else None
        with ui.row().classes("w-full items-center gap-2"):
            for target, icon, key, marker in (
                    (previous, "chevron_left", "objects.premise.previous", "premise-previous"),
                    (following, "chevron_right", "objects.premise.next", "premise-next")):
                button = ui.button(icon=icon, on_click=lambda r=target: ui.navigate.to(
                    premise_href(self.card.id, r.id)) if r else None) \
                        .props(f'outline round dense aria-label="{t(key)}"') \
                    .tooltip(t(key)).mark(marker)
                button.enabled = target is not None
            ui.button(t("objects.premise.back"), icon="list",
                      on_click=lambda: ui.navigate.to(f"{LIST_PATH}/{self.card.id}/premises")) \
                .props("flat no-caps").mark("premise-back")

    def _actions(self, row: PremiseRow) -> None:
        if self.editing:
            with ui.row().classes("w-full gap-2 no-wrap"):
                area = ui.input(t("objects.field.area_m2"), value=f"{row.area_m2:g}") \
                    .props("outlined dense inputmode=decimal").classes("flex-1").mark("premise-area")
                residents = ui.input(t("objects.field.residents"), value=str(row.residents)) \
                    .props("outlined dense inputmode=numeric").classes("flex-1").mark("premise-residents")
            error = FormError("premise-error")

            async def save() -> None:
                error.clear()
                area_m2 = number_value(area.value, "area_m2", error)
                people = number_value(residents.value, "residents", error, whole=True)
                if area_m2 is None or people is None:
                    return
                done = await submit(self.services.objects.update_premise(
                    self.viewer.token, row.id, area_m2=float(area_m2), residents=int(people)), error)
                if done is not None:
                    self.editing = False
                    ui.notify(t("objects.saved"), type="positive")
                    await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("objects.cancel"), on_click=self._stop).props("flat no-caps")
                ui.button(t("objects.save"), on_click=save).props("unelevated no-caps").mark("premise-save")
            return
        with ui.row().classes("gap-2"):
            ui.button(t("objects.premises.edit"), icon="edit", on_click=self._start).props("outline no-caps") \
                .mark("premise-edit")
            ui.button(t("objects.premise.code.generate"), icon="key", on_click=lambda: confirm(
                t("objects.codes.one.confirm", name=premise_label(row.number, row.kind)), t("objects.codes.one"),
                lambda: self._generate(row))).props("outline no-caps").mark("premise-code")
            ui.button(t("objects.premise.invite"), icon="person_add", on_click=lambda: invite_dialog(
                self.services, self.viewer, row.id, premise_label(row.number, row.kind), self.reload)) \
                .props("outline no-caps").mark("premise-invite")

    def _start(self) -> None:
        self.editing = True
        self.body.refresh()

    def _stop(self) -> None:
        self.editing = False
        self.body.refresh()

    async def _generate(self, row: PremiseRow) -> None:
        done = await submit(self.services.objects.generate_code(self.viewer.token, row.id), None)
        if done is not None:
            ui.notify(t("objects.codes.one.done", code=done.code), type="positive")
            await self.reload()
