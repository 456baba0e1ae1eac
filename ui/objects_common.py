"""What the pages of settings «Объекты», «Помещения», «Собственники» and «Биллинг» share (manual
4.6.1-4.6.4, 4.6.9): their texts, the service's shape they use, a form's error line that shows the
service's refusal next to the form, the page guard with the building, and the map.

Imports nicegui, the service's models and ui's own modules; the pages are ui/settings_page.py,
ui/objects_page.py and ui/objects_owners_page.py. Tests: tests/ui/test_objects_ui.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Protocol, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.models import AuthError, Forbidden, InvalidInput, NotFound
from cloud.services.objects import BuildingCard, ObjectsService

from . import access, auth, fmt, pages, theme
from .accounting import parse_id
from .building_menu import settings_menu
from .i18n import current_language, extend, has, t
from .ports import Services

T = TypeVar("T")
LIST_PATH = "/settings/buildings"
BILLING_PATH = "/settings/billing"

extend({
    "menu.settings.info": ("Объект", "Building"),
    "menu.settings.premises": ("Помещения", "Premises"),
    "menu.settings.owners": ("Собственники", "Owners"),
    "menu.settings.billing": ("Биллинг", "Billing"),
    "objects.title": ("Объекты", "Buildings"),
    "objects.not_found": ("Объект не найден или принадлежит другой компании.",
                          "The building was not found or belongs to another company."),
    "objects.kind.apartment_block": ("Многоквартирный дом", "Apartment block"),
    "objects.kind.house": ("Жилой дом", "House"),
    "objects.kind.nonresidential": ("Нежилое здание", "Non-residential building"),
    "objects.refused": ("{field}: {reason}", "{field}: {reason}"),
    "objects.field.address": ("Адрес", "Address"),
    "objects.field.city_id": ("Город", "City"),
    "objects.field.site": ("Шлюз", "Edge site"),
    "objects.field.area_m2": ("Площадь", "Area"),
    "objects.field.residents": ("Жильцы", "Residents"),
    "objects.field.latitude": ("Широта", "Latitude"),
    "objects.field.longitude": ("Долгота", "Longitude"),
    "objects.field.fias_code": ("Код ФИАС", "FIAS code"),
    "objects.field.building_kind": ("Тип строения", "Building type"),
    "objects.field.numbers": ("Номера помещений", "Premise numbers"),
    "objects.field.number": ("Название", "Name"),
    "objects.field.account": ("Лицевой счёт", "Personal account"),
    "objects.field.email": ("E-mail", "E-mail"),
    "objects.field.full_name": ("ФИО", "Full name"),
    "objects.field.phone": ("Телефон", "Phone"),
    "objects.field.premise_id": ("Помещение", "Premise"),
    "objects.field.building_id": ("Объект", "Building"),
    "objects.field.code": ("Код активации", "Activation code"),
    "objects.not_a_number": ("{field}: введите число.", "{field}: enter a number."),
    "objects.map.building": ("Объект", "Building"),
    "objects.map.station": ("Метеостанция", "Weather station"),
    "objects.map.offline": ("Подложка карты загружается из интернета; без неё точки остаются на своих местах.",
                            "The map tiles load from the internet; without them the points stay where they are."),
    "objects.map.none": ("Координаты объектов не заданы: карта появится, когда они будут указаны.",
                         "No building has coordinates yet: the map appears once they are given."),
    "objects.cancel": ("Отмена", "Cancel"),
    "objects.save": ("Сохранить", "Save"),
    "objects.saved": ("Сохранено", "Saved"),
    "objects.readonly": ("Только просмотр: изменять настройки объектов может диспетчер.",
                         "View only: a dispatcher changes the buildings' settings."),
})


class ObjectsServices(Services, Protocol):
    @property
    def objects(self) -> ObjectsService: ...


def may_change(viewer: auth.Viewer) -> bool:
    """Settings of 4.6 are changed by a dispatcher without reader status; the service checks it too."""
    return access.may_change_settings(viewer.user)


class FormError:
    """A red line under a form with the service's refusal (never a traceback)."""

    def __init__(self, marker: str) -> None:
        self.label = ui.label("").classes("text-sm text-[#c2413b] break-words").mark(marker)
        self.label.visible = False

    def show(self, text: str) -> None:
        self.label.set_text(text)
        self.label.visible = True

    def clear(self) -> None:
        self.label.set_text("")
        self.label.visible = False


# the service's refusals of these pages (English, as the API gives them) in Russian: (reason pattern, text)
_RUSSIAN: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), text) for pattern, text in (
    (r"^give apartment numbers", "укажите номера квартир, например 1-120 или 1-3, 7"),
    (r"^'(.*)' is neither a number nor a range", "«{0}» — не номер и не диапазон вида 1-120"),
    (r"^the range (\S+) is reversed: write (\S+)$", "диапазон {0} записан наоборот: укажите {1}"),
    (r"^apartment numbers run from 1 to (\d+), got (.*)$", "номера квартир — от 1 до {0}, указано {1}"),
    (r"^at most (\d+) premises at a time, got (\d+)", "не больше {0} помещений за раз, указано {1}"),
    (r"^apartment (\S+) is given twice$", "квартира {0} указана дважды"),
    (r"^the building has none of the apartments (.*)$", "в объекте нет квартир {0}"),
    (r"^nothing removed: apartments with meters or owners are not deleted: (.*)$",
     "ничего не удалено: квартиры с приборами учёта или собственниками не удаляются: {0}"),
    (r"^premise (.*) has (\d+) meter\(s\) registered", "в помещении {0} зарегистрировано ПУ: {1}; помещение с "
                                                       "приборами учёта не удаляется"),
    (r"^premise (.*) has (\d+) owner\(s\)", "у помещения {0} есть собственники ({1}); помещение с собственниками "
                                            "не удаляется"),
    (r"^'(.*)' is not a registered address", "«{0}» — не адрес из справочника адресов: укажите улицу и номер дома, "
                                             "например «ул. Ленина, 5», или отметьте незавершённое строительство"),
    (r"^'(.*)' is not a house number", "«{0}» — не номер дома (например 5, д. 12а, 5/2, 7 корп. 1); для временного "
                                       "адреса отметьте незавершённое строительство"),
    (r"^'(.*)' names no street of the register", "«{0}» — не улица из справочника (ул., пр-т, пер., ш., наб., пл., "
                                                 "мкр. … и название); для временного адреса отметьте незавершённое "
                                                 "строительство"),
    (r"^the company has a building at '(.*)'$", "у компании уже есть объект по адресу «{0}»"),
    (r"^1 to 300 characters$", "от 1 до 300 символов"),
    (r"^square metres > 0", "число квадратных метров больше нуля"),
    (r"^a whole number >= 0", "целое число, не меньше нуля"),
    (r"^give latitude and longitude together", "укажите широту и долготу вместе (или очистите обе)"),
    (r"^(-?\d+) to (\d+) degrees, got (.*)$", "от {0} до {1} градусов, указано {2}"),
    (r"^(.*) is not a city of the company$", "город не из списка городов компании"),
    (r"^'(.*)' is not an edge site of the company", "«{0}» — не шлюз компании (шлюзы регистрирует администратор)"),
    (r"^'(.*)' is not a ФИАС GUID", "«{0}» — не код ФИАС (вида 0c5b2444-70a0-4932-980c-b4dc0d3f02b5)"),
    (r"^write the GUID with hyphens", "запишите код ФИАС с дефисами: 8-4-4-4-12 символов"),
    (r"^building (\d+) has a premise '(.*)' already$", "в объекте уже есть помещение «{1}»"),
    (r"^1 to 50 characters", "от 1 до 50 символов"),
    (r"^'(.*)' is the personal account of (.*), premise (.*) already$",
     "лицевой счёт {0} уже задан помещению {2} ({1})"),
    (r"^1 to 30 letters", "от 1 до 30 букв, цифр, «-» или «/», первой — буква или цифра"),
    (r"^e-mail is not set up on this server", "отправка почты на сервере не настроена ([cloud] smtp_host); "
                                             "распечатайте код активации для собственника"),
    (r"^not an e-mail address: '(.*)'$", "«{0}» — не адрес электронной почты"),
    (r"^1 to 200 characters$", "от 1 до 200 символов"),
    (r"^digits, spaces", "цифры, пробелы, «()-» и «+» в начале"),
))
_UNITS = ((re.compile(r"(\d+) meter\(s\)"), "ПУ: {0}"), (re.compile(r"(\d+) owner\(s\)"), "собственников: {0}"))


def _unit(word: str, found: re.Match[str]) -> str:
    return word.format(found.group(1))


def russian(reason: str) -> str | None:
    """The Russian wording of one of these pages' refusals, or None when it is not one of them."""
    for pattern, text in _RUSSIAN:
        found = pattern.match(reason)
        if found:
            out = text.format(*found.groups())
            for unit, word in _UNITS:
                out = unit.sub(partial(_unit, word), out)
            return out
    return None


def refusal_text(error: InvalidInput) -> str:
    """The service's refusal with the field named in the page's language ("Адрес: …"), worded in
    Russian where the page knows the refusal (the English of the API otherwise)."""
    text = str(error)
    field, sep, reason = text.partition(": ")
    key = f"objects.field.{field}"
    if not sep or not has(key):
        return t("error.invalid_input", reason=text)
    worded = russian(reason) if current_language() == "ru" else None
    return t("objects.refused", field=t(key), reason=worded or reason)


async def submit(call: Awaitable[T], error: FormError | None) -> T | None:
    """Await a change with the progress bar on; a refusal goes to the form's error line (or a
    notification), an ended session to the login page. None when refused."""
    if error is not None:
        error.clear()
    try:
        async with theme.working():
            return await call
    except InvalidInput as exc:
        if error is not None:
            error.show(refusal_text(exc))
        else:
            ui.notify(refusal_text(exc), type="warning", multi_line=True)
    except AuthError:
        auth.session_ended()
    except NotFound:
        ui.notify(t("error.not_found"), type="negative")
    except Forbidden:
        ui.notify(t("error.forbidden_text"), type="negative")
    return None


def number_value(raw: object, field: str, error: FormError, *, whole: bool = False) -> float | int | None:
    """A number typed in a form field, or None after saying so on the error line."""
    text = str(raw if raw is not None else "").strip().replace(",", ".").replace(" ", "")
    try:
        value = float(text)
        if whole:
            if not value.is_integer():
                raise ValueError(text)
            return int(value)
    except ValueError:
        error.show(t("objects.not_a_number", field=t(f"objects.field.{field}")))
        return None
    return value


def coordinates(lat: object, lon: object, error: FormError) -> tuple[float | None, float | None] | None:
    """The latitude and longitude typed in a building form (an empty box: not known), or None after
    saying on the error line which one is not a number."""
    out: list[float | None] = []
    for field, raw in (("latitude", lat), ("longitude", lon)):
        if not str(raw or "").strip():
            out.append(None)
            continue
        value = number_value(raw, field, error)
        if value is None:
            return None
        out.append(float(value))
    return out[0], out[1]


async def building_page(services: ObjectsServices, request: Request, building_id: str, active: str
                        ) -> tuple[auth.Viewer, BuildingCard] | RedirectResponse | None:
    """The page guard of one building's settings page: the viewer and the building, else a redirect
    or None once the page that says why is drawn (a bad id, another company's building, a role)."""
    viewer = await pages.operational_viewer(services, request, active=LIST_PATH)
    if viewer is None or isinstance(viewer, RedirectResponse):
        return viewer
    ident = parse_id(building_id)
    if ident is None:
        pages.problem_page(viewer.user, t("error.not_found"), t("objects.not_found"), active=LIST_PATH)
        return None
    found: list[BuildingCard] = []

    async def load() -> None:
        found.append(await services.objects.building(viewer.token, ident))
    if not await pages.explained(viewer.user, load(), not_found=t("objects.not_found"), active=LIST_PATH):
        return None
    return viewer, found[0]


def building_header(card: BuildingCard, active: str) -> None:
    """The building's horizontal settings menu under the page title."""
    settings_menu(card.id, active)


def crumbs(card: BuildingCard) -> list[tuple[str, str]]:
    return [(t("objects.title"), LIST_PATH), (card.address, f"{LIST_PATH}/{card.id}/info")]


def buildings_map(cards: Sequence[BuildingCard], *, stations: bool = True, height: str = "h-72") -> None:
    """Markers at the buildings' coordinates and circles at their weather stations. The tiles come
    from the internet; without them the map still draws its points (Leaflet ships with NiceGUI)."""
    placed = [c for c in cards if c.latitude is not None and c.longitude is not None]
    if not placed:
        theme.message(t("objects.map.none"), icon="map")
        return
    shown_stations = list({c.station.code: c.station for c in placed if c.station is not None}.values()) \
        if stations else []
    points = [(c.latitude or 0.0, c.longitude or 0.0) for c in placed] + \
        [(s.latitude, s.longitude) for s in shown_stations]
    center, zoom = map_view(points)
    with ui.element("div").classes(f"w-full {height} rounded-lg overflow-hidden").mark("objects-map"):
        board = ui.leaflet(center=center, zoom=zoom).classes("w-full h-full")
    for card in placed:
        board.marker(latlng=(card.latitude or 0.0, card.longitude or 0.0), options={"title": card.address})
    for station in shown_stations:
        board.generic_layer(name="circleMarker", args=[[station.latitude, station.longitude],
                                                       {"radius": 9, "color": theme.ACCENT, "weight": 3}])
    with ui.row().classes("items-center gap-4 text-xs du-muted"):
        with ui.row().classes("items-center gap-1"):
            ui.icon("location_on", size="16px").style("color: #2a81cb")
            ui.label(t("objects.map.building"))
        if stations:
            with ui.row().classes("items-center gap-1"):
                ui.icon("radio_button_unchecked", size="16px").style(f"color: {theme.ACCENT}")
                ui.label(t("objects.map.station"))
        ui.label(t("objects.map.offline"))


def map_view(points: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], int]:
    """The centre and zoom that show every point on a map about 280 px high: at zoom z the world's
    360 degrees are 256 * 2**z px, so a span of d degrees fits in 200 px while 2**z <= 200 * 360 / (256 * d)."""
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    center = ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
    span = max(max(lats) - min(lats), (max(lons) - min(lons)) * math.cos(math.radians(center[0])), 1e-6)
    return center, max(3, min(16, math.floor(math.log2(200 * 360 / (256 * span)))))


def kind_text(kind: str) -> str:
    return t(f"objects.kind.{kind}")


def area_text(value: float) -> str:
    return f"{fmt.number(value, 2)} {t('unit.m2')}"


def confirm(text: str, action: str, run: Callable[[], Awaitable[object]], *, marker: str = "objects-confirm",
            yes_marker: str = "objects-confirm-yes") -> None:
    """Ask before a destructive or replacing action; ``run()`` gives the coroutine that does it.
    The dialog is removed once answered: a page asks anew each time."""
    with ui.dialog() as dialog, theme.card().classes("max-w-md").mark(marker):
        ui.label(text).classes("break-words")

        async def yes() -> None:
            dialog.close()
            try:
                await run()  # in the dialog's context: it goes once the action is done (or the page redraws)
            finally:
                dismiss(dialog)

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(t("objects.cancel"), on_click=lambda: dismiss(dialog)).props("flat no-caps")
            ui.button(action, on_click=yes).props("unelevated no-caps color=negative").mark(yes_marker)
    dialog.open()


def dismiss(dialog: ui.dialog) -> None:
    """Close a dialog and remove it from the page (a closed one left behind would answer to its markers)."""
    if not dialog.is_deleted:
        dialog.close()
        dialog.delete()
