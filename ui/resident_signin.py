"""The residents' app's sign-in (/kv/login) and registration with an activation code (/kv/register):
a resident's sign-in ends the staff session this browser held (one set of credentials, manual 3.5).
Pages registered by ui/resident_app.py; tests: tests/ui/test_resident_ui.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from nicegui import app, ui

from cloud.services.models import AuthError, InvalidInput, LoginThrottled

from . import auth, errors, i18n, theme
from . import resident_frame as kv
from .i18n import t

i18n.extend({
    "kv.login.title": ("Вход в личный кабинет", "Sign in to your account"),
    "kv.login.email": ("E-mail", "E-mail"),
    "kv.login.password": ("Пароль", "Password"),
    "kv.login.submit": ("Войти", "Sign in"),
    "kv.login.failed": ("Неверный e-mail или пароль", "Wrong e-mail or password"),
    "kv.login.empty": ("Введите e-mail и пароль", "Enter your e-mail and password"),
    "kv.login.register": ("Есть код активации? Зарегистрируйтесь", "Have an activation code? Register"),
    "kv.login.staff": ("Вход для сотрудников", "Staff sign-in"),
    "kv.register.title": ("Регистрация по коду активации", "Register with an activation code"),
    "kv.register.text": ("Код активации выдаёт управляющая компания: он напечатан или пришёл в письме-приглашении и "
                         "действует неделю. Ваш e-mail станет логином.",
                         "Your management company gives the activation code: printed or in the invitation e-mail, "
                         "valid for a week. Your e-mail becomes your login."),
    "kv.register.code": ("Код активации", "Activation code"),
    "kv.register.full_name": ("ФИО", "Full name"),
    "kv.register.phone": ("Телефон (необязательно)", "Phone (optional)"),
    "kv.register.password": ("Пароль", "Password"),
    "kv.register.password_hint": ("Не короче 8 символов", "At least 8 characters"),
    "kv.register.repeat": ("Пароль ещё раз", "Password again"),
    "kv.register.mismatch": ("Пароли не совпадают", "The passwords differ"),
    "kv.register.submit": ("Зарегистрироваться", "Register"),
    "kv.register.login": ("Уже зарегистрированы? Войдите", "Registered already? Sign in"),
    "kv.expired": ("Сеанс завершён. Войдите снова.", "Your session has ended. Please sign in again."),
    "kv.throttled": ("Слишком много попыток. Повторите через {seconds} с.", "Too many attempts. Try again in "
                     "{seconds} s."),
    "kv.locked": ("Вход заблокирован после многих неудачных попыток: зарегистрируйтесь снова с новым кодом "
                  "активации.", "Sign-in is locked after many failed attempts: register again with a new "
                  "activation code."),
})


def _address(request: Request | None) -> str:
    return request.client.host if request is not None and request.client is not None else ""


async def _signed_in(services: Any, token: str) -> None:
    """Keep the resident's session; end the staff session this browser held (one set of credentials)."""
    staff = app.storage.user.pop(auth.TOKEN_KEY, None)
    if staff:
        try:
            await services.auth.logout(staff)
        except AuthError:
            pass  # it had ended already: nothing to close
    app.storage.user[auth.RESIDENT_TOKEN_KEY] = token


def login_form(services: Any, request: Request, target: str) -> None:
    with theme.bare(t("kv.login.title")):
        _brand()
        with ui.card().classes("du-card w-full max-w-sm p-6 gap-4").props("flat"):
            ui.label(t("kv.login.title")).classes("text-lg font-semibold").props("role=heading aria-level=1")
            email = ui.input(t("kv.login.email")).props("outlined autofocus autocomplete=email type=email") \
                .classes("w-full").mark("kv-email")
            password = ui.input(t("kv.login.password"), password=True, password_toggle_button=True) \
                .props("outlined autocomplete=current-password").classes("w-full").mark("kv-password")
            if app.storage.user.pop(kv.ENDED_KEY, False):
                ui.label(t("kv.expired")).classes("text-sm text-[#486581]").mark("kv-expired")
            error = ui.label("").classes("text-negative text-sm").mark("kv-login-error")
            error.set_visibility(False)

            async def submit() -> None:
                if not (email.value or "").strip() or not password.value:
                    error.set_text(t("kv.login.empty"))
                    error.set_visibility(True)
                    return
                try:
                    session = await services.resident_app.login(email.value, password.value, _address(request))
                except LoginThrottled as refused:
                    error.set_text(t("kv.locked") if refused.locked else t("kv.throttled", seconds=refused.wait_s))
                    error.set_visibility(True)
                    return
                except AuthError:
                    error.set_text(t("kv.login.failed"))
                    error.set_visibility(True)
                    password.value = ""
                    return
                await _signed_in(services, session.token)
                ui.navigate.to(target)

            password.on("keydown.enter", submit)
            ui.button(t("kv.login.submit"), on_click=submit).props("unelevated no-caps").classes("w-full") \
                .mark("kv-login-submit")
            ui.link(t("kv.login.register"), kv.REGISTER).classes("du-link text-sm").mark("kv-to-register")
        with ui.row().classes("mt-4 items-center gap-4"):
            ui.link(t("kv.login.staff"), auth.LOGIN_PATH).classes("du-link text-sm")
            theme.language_switch()


def _brand() -> None:
    with ui.row().classes("items-center gap-2 mb-2"):
        ui.icon("home", size="32px").classes("text-primary").props('aria-hidden="true"')
        ui.label(t("kv.app")).classes("text-2xl font-semibold text-primary")


def register_form(services: Any, code_value: str) -> None:
    with theme.bare(t("kv.register.title")):
        _brand()
        with ui.card().classes("du-card w-full max-w-sm p-6 gap-3").props("flat"):
            ui.label(t("kv.register.title")).classes("text-lg font-semibold").props("role=heading aria-level=1")
            ui.label(t("kv.register.text")).classes("du-muted text-sm")
            code = ui.input(t("kv.register.code"), value=code_value).props(
                "outlined autocomplete=off maxlength=20").classes("w-full").mark("kv-code")
            email = ui.input(t("kv.login.email")).props("outlined autocomplete=email type=email maxlength=254") \
                .classes("w-full").mark("kv-email")
            name = ui.input(t("kv.register.full_name")).props("outlined autocomplete=name maxlength=200") \
                .classes("w-full").mark("kv-name")
            phone = ui.input(t("kv.register.phone")).props("outlined autocomplete=tel type=tel maxlength=20") \
                .classes("w-full").mark("kv-phone")
            password = ui.input(t("kv.register.password"), password=True, password_toggle_button=True) \
                .props(f'outlined autocomplete=new-password hint="{t("kv.register.password_hint")}"') \
                .classes("w-full").mark("kv-password")
            repeat = ui.input(t("kv.register.repeat"), password=True, password_toggle_button=True) \
                .props("outlined autocomplete=new-password").classes("w-full").mark("kv-repeat")
            error = ui.label("").classes("text-negative text-sm whitespace-pre-line").mark("kv-register-error")
            error.set_visibility(False)

            async def submit() -> None:
                if (password.value or "") != (repeat.value or ""):
                    error.set_text(t("kv.register.mismatch"))
                    error.set_visibility(True)
                    return
                try:
                    session = await services.resident_app.register(code.value or "", email.value or "",
                                                                   name.value or "", phone.value or "",
                                                                   password.value or "")
                except InvalidInput as refused:
                    error.set_text(errors.reason(str(refused)))
                    error.set_visibility(True)
                    return
                await _signed_in(services, session.token)
                ui.navigate.to(kv.BASE)

            ui.button(t("kv.register.submit"), on_click=submit).props("unelevated no-caps").classes("w-full") \
                .mark("kv-register-submit")
            ui.link(t("kv.register.login"), kv.LOGIN).classes("du-link text-sm")
        with ui.row().classes("mt-4"):
            theme.language_switch()
