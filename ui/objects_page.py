"""Settings of one building (manual 4.6.2, 4.6.3): «Объект» — its information (name, type, area,
residents, address, ФИАС code, coordinates, construction flag) with the map of the building and
its weather station, edited by a dispatcher; «Помещения» — premises added and removed by number
ranges and by name, area and residents edited in the row, activation codes per premise or for
all, and the printable sheet of codes. Owners and personal accounts: ui/objects_owners_page.py.

Routes: /settings/buildings/{id}/info, /settings/buildings/{id}/premises,
/settings/buildings/{id}/codes/print (one premise: ui/objects_premise_page.py). Readers and
engineers see the pages read-only.
Tests: tests/ui/test_objects_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.objects import BuildingCard, PremiseRow, premise_label

from . import auth, fmt, objects_owners_page, objects_premise_page, theme, widgets
from .i18n import extend, t
from .objects_common import (
    LIST_PATH,
    FormError,
    ObjectsServices,
    area_text,
    building_header,
    building_page,
    buildings_map,
    confirm,
    coordinates,
    crumbs,
    kind_text,
    may_change,
    number_value,
    submit,
)
from .ports import Services

extend({
    "objects.info.title": ("Объект: {address}", "Building: {address}"),
    "objects.info.kind": ("Тип строения", "Building type"),
    "objects.info.area": ("Общая площадь", "Total area"),
    "objects.info.residents": ("Количество жильцов", "Residents"),
    "objects.info.address": ("Адрес", "Address"),
    "objects.info.fias": ("Код ФИАС", "FIAS code"),
    "objects.info.coordinates": ("Координаты", "Coordinates"),
    "objects.info.station": ("Метеостанция", "Weather station"),
    "objects.info.premises": ("Помещений", "Premises"),
    "objects.info.city": ("Город", "City"),
    "objects.info.none": ("не задано", "not set"),
    "objects.info.unfinished": ("Незавершённое строительство: адрес не проверяется по справочнику адресов.",
                                "Construction unfinished: the address is not checked against the address register."),
    "objects.info.edit": ("Изменить данные объекта", "Edit the building"),
    "objects.info.unfinished_box": ("Незавершённое строительство", "Construction unfinished"),
    "objects.premises.title": ("Помещения: {address}", "Premises: {address}"),
    "objects.premises.apartments": ("Квартиры по номерам", "Apartments by number"),
    "objects.premises.numbers_hint": ("Диапазон и отдельные номера: 1-120 или 1-3, 7. Одна квартира: 5 или 5-5.",
                                      "A range and single numbers: 1-120 or 1-3, 7. One apartment: 5 or 5-5."),
    "objects.premises.add": ("Добавить", "Add"),
    "objects.premises.remove": ("Удалить", "Remove"),
    "objects.premises.added": ("Добавлено помещений: {count}", "Premises added: {count}"),
    "objects.premises.skipped": ("Уже были: {numbers}", "There already: {numbers}"),
    "objects.premises.removed": ("Удалено помещений: {count}", "Premises removed: {count}"),
    "objects.premises.absent": ("Не найдены: {numbers}", "Not found: {numbers}"),
    "objects.premises.remove.confirm": ("Удалить квартиры {numbers}? Квартиры с приборами учёта или собственниками "
                                        "не удаляются.", "Remove apartments {numbers}? Apartments with meters or "
                                        "owners are not removed."),
    "objects.premises.named": ("Нежилое помещение", "Non-residential premise"),
    "objects.premises.named.name": ("Название (офис, магазин…)", "Name (office, shop…)"),
    "objects.premises.empty": ("В объекте нет помещений.", "The building has no premises."),
    "objects.premises.col.number": ("Помещение", "Premise"),
    "objects.premises.col.area": ("Площадь, м²", "Area, m²"),
    "objects.premises.col.residents": ("Жильцы", "Residents"),
    "objects.premises.col.meters": ("ПУ", "Meters"),
    "objects.premises.col.owners": ("Собственники", "Owners"),
    "objects.premises.col.code": ("Код активации", "Activation code"),
    "objects.premises.edit": ("Изменить площадь и жильцов", "Edit area and residents"),
    "objects.premises.delete": ("Удалить помещение", "Remove the premise"),
    "objects.premises.delete.confirm": ("Удалить помещение «{name}»?", "Remove the premise “{name}”?"),
    "objects.premises.deleted": ("Помещение удалено", "Premise removed"),
    "objects.codes.title": ("Коды активации", "Activation codes"),
    "objects.codes.hint": ("Код действует одну неделю. Владелец входит с ним в систему и указывает свой e-mail "
                           "как логин.", "A code is valid for one week. The owner signs in with it and gives their "
                           "e-mail as the login."),
    "objects.codes.all": ("Сгенерировать коды для всех помещений", "Generate codes for all premises"),
    "objects.codes.all.confirm": ("Сгенерировать коды для всех помещений, кроме тех, где код уже активирован? "
                                  "Неиспользованные коды этих помещений перестанут действовать.",
                                  "Generate codes for every premise except those whose code was activated? The "
                                  "premises' unused codes stop working."),
    "objects.codes.all.done": ("Сгенерировано кодов: {count}", "Codes generated: {count}"),
    "objects.codes.one": ("Сгенерировать код", "Generate a code"),
    "objects.codes.one.confirm": ("Сгенерировать новый код для «{name}»? Прежний неиспользованный код перестанет "
                                  "действовать.", "Generate a new code for “{name}”? The earlier unused code stops "
                                  "working."),
    "objects.codes.one.done": ("Код {code} сгенерирован: действует одну неделю", "Code {code} generated: valid for "
                               "one week"),
    "objects.codes.print": ("Печать кодов", "Print the codes"),
    "objects.codes.none": ("нет кода", "no code"),
    "objects.codes.until": ("до {until}", "until {until}"),
    "objects.codes.state.active": ("действует", "valid"),
    "objects.codes.state.expired": ("истёк", "expired"),
    "objects.codes.state.activated": ("активирован", "activated"),
    "objects.print.title": ("Коды активации: {address}", "Activation codes: {address}"),
    "objects.print.button": ("Печать", "Print"),
    "objects.print.card": ("Код активации личного кабинета ДомУчёт", "DomUchet activation code"),
    "objects.print.valid": ("Действует до {until} (время объекта)", "Valid until {until} (building time)"),
    "objects.print.how": ("Войдите в личный кабинет, введите код и укажите свой e-mail как логин.",
                          "Sign in, enter the code and give your e-mail as the login."),
    "objects.print.empty": ("Нет действующих кодов: сгенерируйте их на странице «Помещения».",
                            "No valid codes: generate them on the «Premises» page."),
    "objects.print.without": ("Без действующего кода: {names}", "Without a valid code: {names}"),
})

PRINT_CSS = """
.du-code-card { border: 1px dashed #9fb3c8; border-radius: 8px; padding: 12px 14px; background: #fff;
  break-inside: avoid; page-break-inside: avoid; }
.du-code { font-family: ui-monospace, monospace; font-size: 1.4rem; letter-spacing: .08em; font-weight: 700; }
@media print {
  .q-header, .q-drawer, .q-drawer-container, .du-no-print, .q-notifications { display: none !important; }
  .q-page-container { padding: 0 !important; }
  body { background: #fff !important; }
  .du-code-grid { display: grid !important; grid-template-columns: 1fr 1fr; gap: 8mm; }
}
"""


def register(services: Services) -> None:
    """Register the building's «Объект», «Помещения» and print pages, and the owners' and billing pages."""
    objects = cast(ObjectsServices, services)
    objects_owners_page.register(objects)
    objects_premise_page.register(objects)

    @ui.page(LIST_PATH + "/{building_id}/info", response_timeout=30.0)
    async def building_info(request: Request, building_id: str) -> RedirectResponse | None:
        guarded = await building_page(objects, request, building_id, "/info")
        if guarded is None or isinstance(guarded, RedirectResponse):
            return guarded
        viewer, card = guarded
        with theme.frame(t("objects.info.title", address=card.address), viewer.user, crumbs=crumbs(card),
                         active=LIST_PATH):
            building_header(card, "/info")
            _info(card)
            with theme.card():
                buildings_map([card])
            if may_change(viewer):
                await _edit_form(objects, viewer, card)
            else:
                theme.message(t("objects.readonly"), icon="visibility")
        return None

    @ui.page(LIST_PATH + "/{building_id}/premises", response_timeout=30.0)
    async def building_premises(request: Request, building_id: str) -> RedirectResponse | None:
        guarded = await building_page(objects, request, building_id, "/premises")
        if guarded is None or isinstance(guarded, RedirectResponse):
            return guarded
        viewer, card = guarded
        page = PremisesPage(objects, viewer, card)
        await page.load()
        with theme.frame(t("objects.premises.title", address=card.address), viewer.user, crumbs=crumbs(card),
                         active=LIST_PATH):
            building_header(card, "/premises")
            page.body()
        return None

    @ui.page(LIST_PATH + "/{building_id}/codes/print", response_timeout=30.0)
    async def codes_print(request: Request, building_id: str) -> RedirectResponse | None:
        guarded = await building_page(objects, request, building_id, "/premises")
        if guarded is None or isinstance(guarded, RedirectResponse):
            return guarded
        viewer, card = guarded
        sheet = await objects.objects.code_sheet(viewer.token, card.id)
        ui.add_css(PRINT_CSS)
        with theme.frame(t("objects.print.title", address=card.address), viewer.user, crumbs=crumbs(card),
                         active=LIST_PATH):
            with ui.row().classes("du-no-print w-full justify-end"):
                ui.button(t("objects.print.button"), icon="print",
                          on_click=lambda: ui.run_javascript("window.print()")).props("unelevated no-caps") \
                    .mark("objects-print")
            if not sheet.cards:
                with theme.card():
                    theme.message(t("objects.print.empty"))
            with ui.element("div").classes("du-code-grid w-full grid grid-cols-1 sm:grid-cols-2 gap-3") \
                    .mark("objects-code-sheet"):
                for code_card in sheet.cards:
                    with ui.element("div").classes("du-code-card").mark(f"objects-code-card-{code_card.premise_id}"):
                        ui.label(t("objects.print.card")).classes("text-xs du-muted uppercase")
                        ui.label(f"{code_card.address}, {code_card.premise}").classes("font-semibold break-words")
                        ui.label(code_card.code).classes("du-code")
                        ui.label(t("objects.print.valid", until=fmt.moment(code_card.expires_at))).classes("text-sm")
                        ui.label(t("objects.print.how")).classes("text-xs du-muted")
            if sheet.without_code:
                ui.label(t("objects.print.without", names=", ".join(sheet.without_code))) \
                    .classes("du-no-print text-sm du-muted break-words")
        return None


def _info(card: BuildingCard) -> None:
    coordinates = (f"{fmt.number(card.latitude, 5)}, {fmt.number(card.longitude, 5)}"
                   if card.latitude is not None and card.longitude is not None else t("objects.info.none"))
    station = (t("settings.buildings.station.km", name=card.station.name, km=fmt.number(card.station.distance_km, 1))
               if card.station is not None else t("objects.info.none"))
    with theme.card().mark("objects-info"):
        ui.label(card.address).classes("text-lg font-semibold break-words")
        with ui.row().classes("w-full gap-x-8 gap-y-3"):
            for label, value in ((t("objects.info.kind"), kind_text(card.building_kind)),
                                 (t("objects.info.area"), area_text(card.area_m2)),
                                 (t("objects.info.residents"), fmt.integer(card.residents)),
                                 (t("objects.info.premises"), fmt.integer(card.premises)),
                                 (t("objects.info.city"), card.city),
                                 (t("objects.info.fias"), card.fias_code or t("objects.info.none")),
                                 (t("objects.info.coordinates"), coordinates),
                                 (t("objects.info.station"), station)):
                widgets.fact(label, value)
        if card.construction_unfinished:
            theme.message(t("objects.info.unfinished"), icon="construction", color="#b7791f")


async def _edit_form(services: ObjectsServices, viewer: auth.Viewer, card: BuildingCard) -> None:
    cities = await services.objects.cities(viewer.token)
    with theme.card(t("objects.info.edit")).mark("objects-edit"):
        address = ui.input(t("objects.field.address"), value=card.address).props("outlined dense") \
            .classes("w-full").mark("objects-edit-address")
        unfinished = ui.checkbox(t("objects.info.unfinished_box"), value=card.construction_unfinished) \
            .mark("objects-edit-unfinished")
        with ui.row().classes("w-full gap-2"):
            city = ui.select({c.id: c.name for c in cities}, label=t("objects.field.city_id"), value=card.city_id) \
                .props("outlined dense").classes("flex-1 min-w-[10rem]")
            kind = ui.select({k: kind_text(k) for k in ("apartment_block", "house", "nonresidential")},
                             label=t("objects.field.building_kind"), value=card.building_kind) \
                .props("outlined dense").classes("flex-1 min-w-[10rem]")
        with ui.row().classes("w-full gap-2 no-wrap"):
            area = ui.input(t("objects.field.area_m2"), value=f"{card.area_m2:g}") \
                .props("outlined dense inputmode=decimal").classes("flex-1").mark("objects-edit-area")
            residents = ui.input(t("objects.field.residents"), value=str(card.residents)) \
                .props("outlined dense inputmode=numeric").classes("flex-1").mark("objects-edit-residents")
        with ui.row().classes("w-full gap-2 no-wrap"):
            lat = ui.input(t("objects.field.latitude"), value="" if card.latitude is None else f"{card.latitude:g}") \
                .props("outlined dense inputmode=decimal").classes("flex-1").mark("objects-edit-lat")
            lon = ui.input(t("objects.field.longitude"),
                           value="" if card.longitude is None else f"{card.longitude:g}") \
                .props("outlined dense inputmode=decimal").classes("flex-1").mark("objects-edit-lon")
        fias = ui.input(t("objects.field.fias_code"), value=card.fias_code).props("outlined dense").classes("w-full")
        error = FormError("objects-edit-error")

        async def save() -> None:
            error.clear()
            area_m2 = number_value(area.value, "area_m2", error)
            people = number_value(residents.value, "residents", error, whole=True)
            if area_m2 is None or people is None:
                return
            coords = coordinates(lat.value, lon.value, error)
            if coords is None:
                return
            changes = {"address": str(address.value or ""), "construction_unfinished": bool(unfinished.value),
                       "building_kind": str(kind.value), "area_m2": float(area_m2), "residents": int(people),
                       "latitude": coords[0], "longitude": coords[1], "fias_code": str(fias.value or "")}
            if city.value != card.city_id:
                changes["city_id"] = city.value
            done = await submit(services.objects.update_building(viewer.token, card.id, **changes), error)
            if done is not None:
                ui.notify(t("objects.saved"), type="positive")
                ui.navigate.reload()

        with ui.row().classes("w-full justify-end"):
            ui.button(t("objects.save"), on_click=save).props("unelevated no-caps").mark("objects-edit-save")


def _code_text(row: PremiseRow) -> str:
    if row.code is None:
        return t("objects.codes.none")
    return f"{row.code.code} · {t(f'objects.codes.state.{row.code.state}')}"


class PremisesPage:
    """«Помещения» (4.6.3): the forms of ranges and names, the codes and the table with the row edit."""

    def __init__(self, services: ObjectsServices, viewer: auth.Viewer, card: BuildingCard) -> None:
        self.services = services
        self.viewer = viewer
        self.card = card
        self.rows: list[PremiseRow] = []
        self.editing: int | None = None

    @property
    def may_change(self) -> bool:
        return may_change(self.viewer)

    async def load(self) -> None:
        self.rows = await self.services.objects.premises(self.viewer.token, self.card.id)

    async def reload(self) -> None:
        async with theme.working():
            await self.load()
        self.body.refresh()

    @ui.refreshable_method
    def body(self) -> None:
        if self.may_change:
            self._range_form()
            self._named_form()
        self._codes()
        with theme.card():
            if not self.rows:
                theme.message(t("objects.premises.empty"))
            else:
                self._table()

    def _range_form(self) -> None:
        with theme.card(t("objects.premises.apartments")).mark("objects-range"):
            numbers = ui.input(t("objects.field.numbers")).props("outlined dense").classes("w-full") \
                .mark("objects-range-numbers")
            ui.label(t("objects.premises.numbers_hint")).classes("text-xs du-muted")
            with ui.row().classes("w-full gap-2 no-wrap"):
                area = ui.input(t("objects.field.area_m2")).props("outlined dense inputmode=decimal") \
                    .classes("flex-1").mark("objects-range-area")
                residents = ui.input(t("objects.field.residents"), value="0") \
                    .props("outlined dense inputmode=numeric").classes("flex-1").mark("objects-range-residents")
            error = FormError("objects-range-error")

            async def add() -> None:
                error.clear()
                area_m2 = number_value(area.value, "area_m2", error)
                people = number_value(residents.value, "residents", error, whole=True)
                if area_m2 is None or people is None:
                    return
                done = await submit(self.services.objects.add_premises(
                    self.viewer.token, self.card.id, str(numbers.value or ""), area_m2=float(area_m2),
                    residents=int(people)), error)
                if done is None:
                    return
                ui.notify(t("objects.premises.added", count=len(done.done)), type="positive")
                if done.skipped:
                    ui.notify(t("objects.premises.skipped", numbers=", ".join(done.skipped[:20])), type="info")
                await self.reload()

            def remove() -> None:
                error.clear()
                text = str(numbers.value or "").strip()
                self._confirm(t("objects.premises.remove.confirm", numbers=text or "—"), t("objects.premises.remove"),
                              lambda: self._remove_range(text, error))

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("objects.premises.remove"), icon="delete_outline", on_click=remove) \
                    .props("outline no-caps color=negative").mark("objects-range-remove")
                ui.button(t("objects.premises.add"), icon="add", on_click=add).props("unelevated no-caps") \
                    .mark("objects-range-add")

    async def _remove_range(self, text: str, error: FormError) -> bool:
        done = await submit(self.services.objects.remove_premises(self.viewer.token, self.card.id, text), error)
        if done is None:
            return True  # the dialog closes; the refusal stays under the form
        ui.notify(t("objects.premises.removed", count=len(done.done)), type="positive")
        if done.skipped:
            ui.notify(t("objects.premises.absent", numbers=", ".join(done.skipped[:20])), type="info")
        await self.reload()
        return True

    def _named_form(self) -> None:
        with theme.card(t("objects.premises.named")).mark("objects-named"):
            with ui.row().classes("w-full gap-2"):
                name = ui.input(t("objects.premises.named.name")).props("outlined dense") \
                    .classes("flex-[2] min-w-[10rem]").mark("objects-named-name")
                area = ui.input(t("objects.field.area_m2")).props("outlined dense inputmode=decimal") \
                    .classes("flex-1 min-w-[6rem]").mark("objects-named-area")
            error = FormError("objects-named-error")

            async def add() -> None:
                error.clear()
                area_m2 = number_value(area.value, "area_m2", error)
                if area_m2 is None:
                    return
                done = await submit(self.services.objects.add_named_premise(
                    self.viewer.token, self.card.id, str(name.value or ""), area_m2=float(area_m2)), error)
                if done is not None:
                    ui.notify(t("objects.premises.added", count=1), type="positive")
                    await self.reload()

            with ui.row().classes("w-full justify-end"):
                ui.button(t("objects.premises.add"), icon="add", on_click=add).props("unelevated no-caps") \
                    .mark("objects-named-add")

    def _codes(self) -> None:
        with theme.card(t("objects.codes.title")).mark("objects-codes"):
            ui.label(t("objects.codes.hint")).classes("text-sm du-muted")
            with ui.row().classes("gap-2"):
                if self.may_change:
                    ui.button(t("objects.codes.all"), icon="key",
                              on_click=lambda: self._confirm(t("objects.codes.all.confirm"), t("objects.codes.all"),
                                                             self._generate_all)) \
                        .props("unelevated no-caps").mark("objects-codes-all")
                ui.link(t("objects.codes.print"), f"{LIST_PATH}/{self.card.id}/codes/print") \
                    .classes("du-link self-center").mark("objects-codes-print")

    async def _generate_all(self) -> bool:
        done = await submit(self.services.objects.generate_codes(self.viewer.token, self.card.id), None)
        if done is None:
            return True
        ui.notify(t("objects.codes.all.done", count=len(done)), type="positive")
        await self.reload()
        return True

    def _table(self) -> None:
        ui.add_css(".du-premises td:first-child, .du-premises th:first-child { position: sticky; left: 0; "
                   "background: #fff; z-index: 1; } .du-premises td, .du-premises th { padding: 6px 8px; "
                   "border-bottom: 1px solid #edf1f5; text-align: left; vertical-align: middle; } "
                   ".du-premises th { background: #f7f9fb; font-weight: 600; color: #334e68; }")
        keys = ["objects.premises.col.number", "objects.premises.col.area", "objects.premises.col.residents",
                "objects.premises.col.meters", "objects.premises.col.owners", "objects.premises.col.code"]
        with ui.element("div").classes("w-full overflow-x-auto"), \
                ui.element("table").classes("du-premises w-full min-w-[720px]").mark("objects-premises"):
            with ui.element("tr"):
                for key in keys + ([""] if self.may_change else []):
                    with ui.element("th"):
                        ui.label(t(key) if key else "")
            for row in self.rows:
                self._row(row)

    def _row(self, row: PremiseRow) -> None:
        name = premise_label(row.number, row.kind)
        with ui.element("tr").mark(f"objects-premise-{row.number}"):
            with ui.element("td"):
                ui.link(name, objects_premise_page.premise_href(self.card.id, row.id)) \
                    .classes("du-link whitespace-nowrap").mark(f"objects-open-premise-{row.number}")
            if self.editing == row.id:
                self._edit_cells(row)
            else:
                with ui.element("td"):
                    ui.label(fmt.number(row.area_m2, 2))
                with ui.element("td"):
                    ui.label(fmt.integer(row.residents))
            with ui.element("td"):
                ui.label(fmt.integer(row.meters))
            with ui.element("td"):
                ui.label(fmt.integer(row.owners))
            with ui.element("td"):
                ui.label(_code_text(row)).classes("text-sm whitespace-nowrap").mark(f"objects-code-{row.number}")
                if row.code is not None:
                    ui.label(t("objects.codes.until", until=fmt.moment(row.code.expires_at))).classes(
                        "text-xs du-muted whitespace-nowrap")
            if self.may_change:
                with ui.element("td"), ui.row().classes("gap-0 no-wrap justify-end"):
                    if self.editing != row.id:
                        ui.button(icon="edit", on_click=lambda r=row: self._start_edit(r)) \
                            .props(f'flat round dense aria-label="{t("objects.premises.edit")}"') \
                            .tooltip(t("objects.premises.edit")) \
                            .mark(f"objects-edit-{row.number}")
                    ui.button(icon="key", on_click=lambda r=row: self._confirm(
                        t("objects.codes.one.confirm", name=premise_label(r.number, r.kind)), t("objects.codes.one"),
                        lambda: self._generate_one(r))) \
                            .props(f'flat round dense aria-label="{t("objects.codes.one")}"') \
                        .tooltip(t("objects.codes.one")).mark(f"objects-code-one-{row.number}")
                    ui.button(icon="delete_outline", on_click=lambda r=row: self._confirm(
                        t("objects.premises.delete.confirm", name=premise_label(r.number, r.kind)),
                        t("objects.premises.remove"), lambda: self._delete(r))) \
                        .props(f'flat round dense color=negative aria-label="{t("objects.premises.delete")}"') \
                        .tooltip(t("objects.premises.delete")) \
                        .mark(f"objects-delete-{row.number}")

    def _edit_cells(self, row: PremiseRow) -> None:
        with ui.element("td"):
            area = ui.input(value=f"{row.area_m2:g}").props("outlined dense inputmode=decimal") \
                .classes("w-24").mark(f"objects-area-{row.number}")
        with ui.element("td"):
            residents = ui.input(value=str(row.residents)).props("outlined dense inputmode=numeric") \
                .classes("w-20").mark(f"objects-residents-{row.number}")
            error = FormError(f"objects-row-error-{row.number}")

            async def save() -> None:
                error.clear()
                area_m2 = number_value(area.value, "area_m2", error)
                people = number_value(residents.value, "residents", error, whole=True)
                if area_m2 is None or people is None:
                    return
                done = await submit(self.services.objects.update_premise(
                    self.viewer.token, row.id, area_m2=float(area_m2), residents=int(people)), error)
                if done is not None:
                    self.editing = None
                    ui.notify(t("objects.saved"), type="positive")
                    await self.reload()

            with ui.row().classes("gap-0 no-wrap"):
                ui.button(icon="check", on_click=save) \
                    .props(f'flat round dense color=positive aria-label="{t("objects.save")}"') \
                    .tooltip(t("objects.save")).mark(f"objects-save-{row.number}")
                ui.button(icon="close", on_click=self._stop_edit) \
                    .props(f'flat round dense aria-label="{t("objects.cancel")}"') \
                    .tooltip(t("objects.cancel"))

    def _start_edit(self, row: PremiseRow) -> None:
        self.editing = row.id
        self.body.refresh()

    def _stop_edit(self) -> None:
        self.editing = None
        self.body.refresh()

    async def _generate_one(self, row: PremiseRow) -> bool:
        done = await submit(self.services.objects.generate_code(self.viewer.token, row.id), None)
        if done is None:
            return True
        ui.notify(t("objects.codes.one.done", code=done.code), type="positive")
        await self.reload()
        return True

    async def _delete(self, row: PremiseRow) -> bool:
        done = await submit(self._remove(row.id), None)
        if done is None:
            return True
        ui.notify(t("objects.premises.deleted"), type="positive")
        await self.reload()
        return True

    async def _remove(self, premise_id: int) -> bool:
        await self.services.objects.remove_premise(self.viewer.token, premise_id)
        return True

    def _confirm(self, text: str, action: str, run: Callable[[], Awaitable[object]]) -> None:
        confirm(text, action, run)
