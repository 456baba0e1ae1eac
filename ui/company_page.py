"""Pages «Компания» (manual 4.6.15, menu "Настройки") and «Профиль» (3.4, the account menu).

/settings/company: the company card (name, legal name, INN, KPP, OGRN, director, actual address,
working hours, phone, the administrator's e-mail) and the company's cities with their time zones;
the full-version request. Every user of the company reads it; an administrator without reader
status edits the card (each field checked by the service: INN/OGRN check digits, KPP, e-mail,
phone), adds a city with its time zone, chooses the main city and removes a city none of the
company's buildings is in (asked first; refused with the reason).

/profile: the person's own login, name, role and company; the working mode, the city the pages
open on (offered only when the company works in more than one city, kept server-side by
cloud/services/profile.py); changing one's own password with the current one.
Tests: tests/ui/test_company_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast
from zoneinfo import available_timezones

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.auth import AuthService
from cloud.services.cities import CityInfo
from cloud.services.models import AuthError, Forbidden, InvalidInput, NotFound
from cloud.services.profile import CARD_FIELDS, CardFields, CompanyCard, Profile, check_card
from protocol.periods import zone

from . import access, auth, errors, fmt, selection, theme, widgets
from .i18n import extend, t
from .ports import Services

COMPANY_PATH = "/settings/company"
PROFILE_PATH = "/profile"
T = TypeVar("T")

extend({
    "company.title": ("Компания", "Company"),
    "company.subtitle": ("Карточка управляющей компании и города, в которых она работает.",
                         "The management company's card and the cities it works in."),
    "company.card": ("Карточка компании", "Company card"),
    "company.name": ("Название", "Name"),
    "company.legal_name": ("Полное наименование", "Legal name"),
    "company.inn": ("ИНН", "INN"),
    "company.kpp": ("КПП", "KPP"),
    "company.ogrn": ("ОГРН / ОГРНИП", "OGRN / OGRNIP"),
    "company.director": ("ФИО руководителя", "Director"),
    "company.address": ("Фактический адрес", "Actual address"),
    "company.hours": ("Время работы", "Working hours"),
    "company.phone": ("Телефон", "Phone"),
    "company.email": ("E-mail администратора", "Administrator's e-mail"),
    "company.hint.inn": ("10 цифр (организация) или 12 (ИП)", "10 digits (company) or 12 (entrepreneur)"),
    "company.hint.kpp": ("9 символов; у ИП не заполняется", "9 characters; empty for an entrepreneur"),
    "company.hint.ogrn": ("13 цифр (ОГРН) или 15 (ОГРНИП)", "13 digits (OGRN) or 15 (OGRNIP)"),
    "company.hint.phone": ("+7 и 10 цифр", "+7 and 10 digits"),
    "company.not_filled": ("не указано", "not given"),
    "company.save": ("Сохранить", "Save"),
    "company.saved": ("Карточка компании сохранена", "The company card is saved"),
    "company.read_only": ("Изменять карточку и города может администратор компании.",
                          "The company's administrator changes the card and the cities."),
    "company.cities": ("Города", "Cities"),
    "company.city": ("Город", "City"),
    "company.time_zone": ("Часовой пояс", "Time zone"),
    "company.buildings": ("Объектов", "Buildings"),
    "company.main": ("основной", "main"),
    "company.main_city": ("Основной город", "Main city"),
    "company.main_city_done": ("Основной город: {city}", "Main city: {city}"),
    "company.no_cities": ("У компании нет городов.", "The company has no cities."),
    "company.add_city": ("Добавить город", "Add a city"),
    "company.city_added": ("Город {city} добавлен", "{city} is added"),
    "company.remove": ("Удалить", "Remove"),
    "company.remove_confirm": ("Удалить город {city} из списка городов компании?",
                               "Remove {city} from the company's cities?"),
    "company.city_removed": ("Город {city} удалён", "{city} is removed"),
    "company.city_in_use": ("В городе {city} есть объекты компании ({count}): удалить город можно, когда "
                            "в нём не останется объектов.",
                            "The company has {count} building(s) in {city}: remove the buildings first."),
    "company.city_is_main": ("{city} — основной город компании: сначала выберите другой основной город.",
                             "{city} is the company's main city: choose another main city first."),
    "company.full_access": ("Полная версия", "Full version"),
    "company.full_access_text": ("Если компания пользуется бесплатным доступом, администратор может запросить "
                                 "доступ к полной версии платформы.",
                                 "With free access, the administrator may ask for the full version."),
    "company.full_access_request": ("Запросить полную версию", "Ask for the full version"),
    "company.full_access_confirm": ("Отправить запрос на доступ к полной версии?",
                                    "Send the request for the full version?"),
    "company.full_access_requested": ("Запрос отправлен {time}", "Requested on {time}"),
    "company.cancel": ("Отмена", "Cancel"),
    "company.error": ("Не сохранено: {reason}", "Not saved: {reason}"),
    "profile.title": ("Профиль", "Profile"),
    "profile.me": ("Учётная запись", "Account"),
    "profile.login": ("Логин", "Login"),
    "profile.full_name": ("ФИО", "Full name"),
    "profile.role": ("Роль", "Role"),
    "profile.company": ("Компания", "Company"),
    "profile.mode": ("Режим работы", "Working mode"),
    "profile.mode_text": ("Город, в котором открываются страницы приложения.",
                          "The city the application's pages open on."),
    "profile.city": ("Город", "City"),
    "profile.company_done": ("Вы работаете в компании {company}", "You work in {company} now"),
    "profile.only_city": ("Компания работает в одном городе: {city}", "The company works in one city: {city}"),
    "profile.no_city": ("У компании нет городов.", "The company has no cities."),
    "profile.apply": ("Применить", "Apply"),
    "profile.city_done": ("Страницы открываются на городе {city}", "Pages open on {city}"),
    "profile.password": ("Смена пароля", "Change password"),
    "profile.current_password": ("Текущий пароль", "Current password"),
    "profile.new_password": ("Новый пароль", "New password"),
    "profile.repeat_password": ("Новый пароль ещё раз", "New password again"),
    "profile.password_hint": ("не короче 8 символов", "at least 8 characters"),
    "profile.mismatch": ("Новый пароль и повтор не совпадают", "The new password and its repetition differ"),
    "profile.change": ("Сменить пароль", "Change password"),
    "profile.password_done": ("Пароль изменён; другие сеансы завершены",
                              "The password is changed; other sessions ended"),
    "profile.no_password": ("Пароль меняется только при входе по логину и паролю.",
                            "A password is changed only in a signed-in session."),
})

_MAX_LENGTHS = {"inn": 12, "kpp": 9, "ogrn": 15, "phone": 40, "email": 254, "director": 200, "hours": 200}
_HINTS = {"inn": "company.hint.inn", "kpp": "company.hint.kpp", "ogrn": "company.hint.ogrn",
          "phone": "company.hint.phone"}
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/",
                                                                                    "right/")))


class ProfileService(Protocol):
    async def card(self, token: str) -> CompanyCard: ...

    async def update_card(self, token: str, card: CardFields) -> CompanyCard: ...

    async def request_full_access(self, token: str) -> CompanyCard: ...

    async def profile(self, token: str) -> Profile: ...

    async def set_working_city(self, token: str, city_id: int) -> Profile: ...

    async def change_password(self, token: str, current: str, new: str) -> None: ...


class CitiesService(Protocol):
    async def add(self, token: str, name: str, time_zone: str) -> CityInfo: ...

    async def remove(self, token: str, city_id: int) -> None: ...


class CompaniesService(Protocol):
    async def update(self, token: str, *, name: str = ..., city_id: int = ...) -> Any: ...


class CompanyServices(Services, Protocol):
    @property
    def auth(self) -> AuthService: ...

    @property
    def profile(self) -> ProfileService: ...

    @property
    def cities(self) -> CitiesService: ...

    @property
    def companies(self) -> CompaniesService: ...


async def _call(call: Awaitable[T], error: ui.label) -> T | None:
    """A form's service call: its InvalidInput shown next to the form (and notified), the rest as usual."""
    error.set_text("")
    error.set_visibility(False)
    try:
        async with theme.working():
            return await call
    except InvalidInput as exc:
        error.set_text(t("company.error", reason=errors.reason(str(exc))))
        error.set_visibility(True)
        ui.notify(t("error.invalid_input", reason=errors.reason(str(exc))), type="warning")
        return None
    except (AuthError, NotFound, Forbidden) as exc:
        return await auth.attempt(_raise(exc))  # the usual handling: sign-in page or a notification


async def _checked(card: CardFields) -> CardFields:
    return check_card(card)


async def _raise(exc: Exception) -> Any:
    raise exc


def _error_label(marker: str) -> ui.label:
    label = ui.label("").classes("text-negative text-sm").mark(marker)
    label.set_visibility(False)
    return label


async def _confirm(text: str, action: str, *, color: str = "negative") -> bool:
    """Ask before a destructive action; True when the person confirmed it."""
    with ui.dialog() as dialog, theme.card().classes("max-w-md"):
        ui.label(text).mark("confirm-text")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(t("company.cancel"), on_click=lambda: dialog.submit(False)).props("flat no-caps") \
                .mark("confirm-no")
            ui.button(action, on_click=lambda: dialog.submit(True)).props(f"unelevated no-caps color={color}") \
                .mark("confirm-yes")
    answer = await dialog
    dialog.delete()
    return bool(answer)


def register(services: Services) -> None:
    """Register /settings/company and /profile."""
    company_services = cast(CompanyServices, services)

    @ui.page(COMPANY_PATH)
    async def company_page(request: Request) -> RedirectResponse | None:
        viewer = await auth.require_viewer(services, request)
        if isinstance(viewer, RedirectResponse):
            return viewer
        with theme.frame(t("company.title"), viewer.user, subtitle=t("company.subtitle"), active=COMPANY_PATH):
            await CompanyPanel(company_services, viewer).build()
        return None

    @ui.page(PROFILE_PATH)
    async def profile_page(request: Request) -> RedirectResponse | None:
        viewer = await auth.require_viewer(services, request)
        if isinstance(viewer, RedirectResponse):
            return viewer
        with theme.frame(t("profile.title"), viewer.user, active=PROFILE_PATH):
            await ProfilePanel(company_services, viewer).build()
        return None


class CompanyPanel:
    """The card (a form for the administrator, facts for everyone else), the cities, the full version."""

    def __init__(self, services: CompanyServices, viewer: auth.Viewer) -> None:
        self.services = services
        self.viewer = viewer
        self.editor = access.may_administer(viewer.user)

    async def build(self) -> None:
        self.body = ui.column().classes("w-full gap-5")
        await self.reload()

    async def reload(self) -> None:
        async with theme.working():
            found = await auth.attempt(self.services.profile.card(self.viewer.token))
        if found is None:
            return
        self.body.clear()
        with self.body:
            if not self.editor:
                theme.message(t("company.read_only"), icon="visibility")
            self._card(found)
            self._cities(found)
            self._full_access(found)

    def _card(self, found: CompanyCard) -> None:
        with theme.card(t("company.card")).mark("company-card"):
            if not self.editor:
                widgets.fact(t("company.name"), found.name)
                for name in CARD_FIELDS:
                    widgets.fact(t(f"company.{name}"), getattr(found.card, name) or t("company.not_filled"))
                return
            name_input = ui.input(t("company.name"), value=found.name).props("outlined maxlength=200") \
                .classes("w-full").mark("card-name")
            inputs: dict[str, ui.input] = {}
            with ui.element("div").classes("w-full grid grid-cols-1 sm:grid-cols-2 gap-3"):
                for name in CARD_FIELDS:
                    hint = f" hint='{t(_HINTS[name])}'" if name in _HINTS else ""
                    inputs[name] = ui.input(t(f"company.{name}"), value=getattr(found.card, name)).props(
                        f"outlined maxlength={_MAX_LENGTHS.get(name, 300)}{hint}").classes("w-full").mark(
                        f"card-{name}")
            error = _error_label("card-error")

            async def save() -> None:
                card = CardFields(**{name: inputs[name].value or "" for name in CARD_FIELDS})
                if await _call(_checked(card), error) is None:  # all fields first: never half a save
                    return
                if (name_input.value or "").strip() != found.name:
                    if await _call(self.services.companies.update(self.viewer.token, name=name_input.value or ""),
                                   error) is None:
                        return
                if await _call(self.services.profile.update_card(self.viewer.token, card), error) is not None:
                    ui.notify(t("company.saved"), type="positive")
                    await self.reload()

            with ui.row().classes("w-full justify-end"):
                ui.button(t("company.save"), icon="save", on_click=save).props("unelevated no-caps") \
                    .mark("card-save")

    def _cities(self, found: CompanyCard) -> None:
        with theme.card(t("company.cities")).mark("company-cities"):
            if not found.cities:
                theme.message(t("company.no_cities"))
            for city in found.cities:
                self._city_row(city, city.name == found.city)
            if not self.editor:
                return
            if len(found.cities) > 1:
                self._main_city(found)
            with ui.row().classes("w-full items-start gap-3"):
                name = ui.input(t("company.city")).props("outlined dense maxlength=100") \
                    .classes("grow min-w-[10rem]").mark("city-name")
                time_zone = ui.select(ZONES, value="Europe/Moscow", with_input=True, label=t("company.time_zone")) \
                    .props("outlined dense").classes("grow min-w-[12rem]").mark("city-zone")
                add = ui.button(t("company.add_city"), icon="add_location_alt").props("unelevated no-caps") \
                    .mark("city-add")
            error = _error_label("city-error")

            async def add_city() -> None:
                added = await _call(self.services.cities.add(self.viewer.token, name.value or "",
                                                             time_zone.value or ""), error)
                if added is not None:
                    ui.notify(t("company.city_added", city=added.name), type="positive")
                    await self.reload()

            add.on_click(add_city)

    def _city_row(self, city: CityInfo, main: bool) -> None:
        with ui.row().classes("w-full items-center justify-between gap-2 no-wrap border-b py-1") \
                .mark(f"city-{city.name}"):
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(city.name + (f" ({t('company.main')})" if main else "")).classes("font-medium")
                ui.label(f"{t('company.time_zone')}: {city.time_zone} · {t('company.buildings')}: "
                         f"{city.buildings}").classes("text-xs du-muted break-all")
            if self.editor:
                ui.button(t("company.remove"), icon="delete", on_click=self._remove(city, main)) \
                    .props("flat dense no-caps color=negative").mark(f"remove-{city.name}")

    def _remove(self, city: CityInfo, main: bool) -> Callable[[], Awaitable[None]]:
        async def remove() -> None:
            if city.buildings:  # the service refuses too; here the reason in the page's language
                ui.notify(t("company.city_in_use", city=city.name, count=city.buildings), type="warning")
                return
            if main:
                ui.notify(t("company.city_is_main", city=city.name), type="warning")
                return
            if not await _confirm(t("company.remove_confirm", city=city.name), t("company.remove")):
                return
            async with theme.working():
                done = await auth.attempt(self._removed(city))
            if done:
                ui.notify(t("company.city_removed", city=city.name), type="positive")
                await self.reload()
        return remove

    async def _removed(self, city: CityInfo) -> bool:
        await self.services.cities.remove(self.viewer.token, city.id)
        return True

    def _main_city(self, found: CompanyCard) -> None:
        options = {c.id: c.name for c in found.cities}
        current = next((c.id for c in found.cities if c.name == found.city), None)

        async def choose(city_id: int | None) -> None:
            if city_id is None or city_id == current:
                return
            async with theme.working():
                done = await auth.attempt(self.services.companies.update(self.viewer.token, city_id=city_id))
            if done is not None:
                ui.notify(t("company.main_city_done", city=options[city_id]), type="positive")
                await self.reload()

        ui.select(options, value=current, label=t("company.main_city"),
                  on_change=lambda e: choose(e.value)).props("outlined dense").classes("w-full sm:w-72") \
            .mark("main-city")

    def _full_access(self, found: CompanyCard) -> None:
        if not self.editor and found.full_access_requested_at is None:
            return  # only the administrator asks (4.6.15)
        with theme.card(t("company.full_access")):
            ui.label(t("company.full_access_text")).classes("du-muted")
            if found.full_access_requested_at is not None:
                local = found.full_access_requested_at.astimezone(zone(selection.city_zone(found.city)))
                ui.label(t("company.full_access_requested", time=fmt.moment(local.replace(tzinfo=None)))) \
                    .mark("full-access-requested")
                return

            async def ask() -> None:
                if not await _confirm(t("company.full_access_confirm"), t("company.full_access_request"),
                                      color="primary"):
                    return
                async with theme.working():
                    done = await auth.attempt(self.services.profile.request_full_access(self.viewer.token))
                if done is not None:
                    await self.reload()

            ui.button(t("company.full_access_request"), icon="workspace_premium", on_click=ask) \
                .props("outline no-caps").mark("full-access")


class ProfilePanel:
    """The person's own account, working city and password."""

    def __init__(self, services: CompanyServices, viewer: auth.Viewer) -> None:
        self.services = services
        self.viewer = viewer

    async def build(self) -> None:
        async with theme.working():
            found = await auth.attempt(self.services.profile.profile(self.viewer.token))
        if found is None:
            return
        with theme.card(t("profile.me")).mark("profile-me"):
            widgets.fact(t("profile.login"), found.login)
            widgets.fact(t("profile.full_name"), found.full_name)
            role = t(f"role.{found.role}") + (f", {t('role.reader').lower()}" if found.reader else "")
            widgets.fact(t("profile.role"), role)
            widgets.fact(t("profile.company"), found.company)
        await self._mode(found)
        self._password(found)

    async def _company(self) -> None:
        """The company to work in (manual 3.4), offered only to someone who works in more than one."""
        members = getattr(self.services, "members", None)
        choices = await auth.attempt(members.choices(self.viewer.token)) if members is not None else None
        if not choices or len(choices) < 2:
            return
        options = {c.id: f"{c.name} ({t(f'role.{c.role}')}{', ' + t('role.reader').lower() if c.reader else ''})"
                   for c in choices}
        current = next((c.id for c in choices if c.name == self.viewer.user.company_name), choices[0].id)
        with ui.row().classes("w-full items-center gap-3"):
            company = ui.select(options, value=current, label=t("profile.company")) \
                .props("outlined dense").classes("grow min-w-[10rem]").mark("profile-company")
            apply = ui.button(t("profile.apply"), icon="check").props("unelevated no-caps") \
                .mark("profile-company-apply")
        error = _error_label("profile-company-error")

        async def choose() -> None:
            if company.value is None or company.value == current:
                return
            done = await _call(members.choose(self.viewer.token, int(company.value)), error)
            if done is not None:
                selection.remember(city=done.city)  # the new company's main city
                ui.notify(t("profile.company_done", company=done.company_name), type="positive")
                ui.navigate.to(PROFILE_PATH)  # the menu and header follow the new role

        apply.on_click(choose)

    async def _mode(self, found: Profile) -> None:
        with theme.card(t("profile.mode")).mark("profile-mode"):
            ui.label(t("profile.mode_text")).classes("du-muted")
            await self._company()
            if found.working_city is None:
                theme.message(t("profile.no_city"))
                return
            if len(found.cities) < 2:  # manual 3.4: the choice is shown only with more than one city
                ui.label(t("profile.only_city", city=found.working_city.name)).mark("profile-only-city")
                return
            options = {c.id: c.name for c in found.cities}
            with ui.row().classes("w-full items-center gap-3"):
                city = ui.select(options, value=found.working_city.id, label=t("profile.city")) \
                    .props("outlined dense").classes("grow min-w-[10rem]").mark("profile-city")
                apply = ui.button(t("profile.apply"), icon="check").props("unelevated no-caps") \
                    .mark("profile-city-apply")
            error = _error_label("profile-city-error")

            async def choose() -> None:
                if city.value is None:
                    return
                done = await _call(self.services.profile.set_working_city(self.viewer.token, int(city.value)), error)
                if done is not None and done.working_city is not None:
                    selection.remember(city=done.working_city.name)  # this browser follows at once
                    ui.notify(t("profile.city_done", city=done.working_city.name), type="positive")

            apply.on_click(choose)

    def _password(self, found: Profile) -> None:
        with theme.card(t("profile.password")).mark("profile-password"):
            if not found.may_change_password:
                theme.message(t("profile.no_password"))
                return
            current = ui.input(t("profile.current_password"), password=True, password_toggle_button=True) \
                .props("outlined").classes("w-full").mark("current-password")
            new = ui.input(t("profile.new_password"), password=True, password_toggle_button=True) \
                .props(f"outlined hint='{t('profile.password_hint')}'").classes("w-full").mark("new-password")
            repeat = ui.input(t("profile.repeat_password"), password=True, password_toggle_button=True) \
                .props("outlined").classes("w-full").mark("repeat-password")
            error = _error_label("password-error")

            async def change() -> None:
                if (new.value or "") != (repeat.value or ""):
                    error.set_text(t("profile.mismatch"))
                    error.set_visibility(True)
                    return
                done = await _call(self._changed(current.value or "", new.value or ""), error)
                if done:
                    for field in (current, new, repeat):
                        field.set_value("")
                    ui.notify(t("profile.password_done"), type="positive")

            with ui.row().classes("w-full justify-end"):
                ui.button(t("profile.change"), icon="key", on_click=change).props("unelevated no-caps") \
                    .mark("password-change")

    async def _changed(self, current: str, new: str) -> bool:
        await self.services.profile.change_password(self.viewer.token, current, new)
        return True
