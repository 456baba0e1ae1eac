"""The administrator's users page as a person uses it (NiceGUI's simulated user over the real
services): the company's users only, adding a user, blocking one, the audit log; other roles
are refused."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.services.auth import token_hash
from cloud.storage.registry import Registry
from tests.ui.conftest import login


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_adds_and_blocks_users(seeded, ui_registry: Registry, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see("Пользователи компании")
    await user.should_see(marker="user-disp")
    await user.should_not_see(marker="user-stranger")  # another company's user

    user.find(marker="users-add").click()
    user.find(marker="new-login").type("operator")
    user.find(marker="new-name").type("Оператор Тестовый")
    user.find(marker="new-password").type("short")
    user.find(marker="new-create").click()
    await user.should_see("«Пароль»: не короче 8 символов")  # refused with the reason; nothing created
    assert ui_registry.one("SELECT 1 FROM users WHERE login = 'operator'") is None
    user.find(marker="new-password").clear().type("operator-pass")
    user.find(marker="new-create").click()
    await user.should_see("Пользователь operator создан")
    await user.should_see(marker="user-operator")
    row = ui_registry.one("SELECT role, reader, blocked FROM users WHERE login = 'operator'")
    assert (row["role"], row["reader"], row["blocked"]) == ("dispatcher", 0, 0)

    user.find(marker="block-disp").click()  # blocking asks first: «Отмена» leaves the account as it was
    await user.should_see(marker="confirm-text")
    user.find(marker="confirm-no").click()
    await user.should_not_see(marker="confirm-text")
    assert ui_registry.one("SELECT blocked FROM users WHERE login = 'disp'")["blocked"] == 0
    user.find(marker="block-disp").click()
    await user.should_see("Заблокировать пользователя disp (Диспетчер Тест)?")
    user.find(marker="confirm-yes").click()
    await user.should_see("Пользователь disp заблокирован")
    assert ui_registry.one("SELECT blocked FROM users WHERE login = 'disp'")["blocked"] == 1
    await user.should_see("user.block")  # the audit log below the list
    await user.should_see("user.create")
    await user.should_see("Время (Europe/Moscow)")  # the company's city (Казань) keeps Moscow time, not UTC


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_is_refused_the_users_page(seeded, ui_registry: Registry, user: User) -> None:
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1")
    await user.open("/users")
    await user.should_see("Этот раздел недоступен для вашей роли.")
    await user.should_not_see(marker="users-table")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_issues_and_revokes_an_api_token(seeded, ui_registry: Registry, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.should_see("API-токены интеграций")
    # the integration account the token will act as: an administrator mints tokens for no person but themself
    user.find(marker="users-add").click()
    user.find(marker="new-login").type("int-1c")
    user.find(marker="new-name").type("Интеграция 1С")
    user.find(marker="new-integration").click()
    user.find(marker="new-create").click()
    await user.should_see("Пользователь int-1c создан")
    user.find(marker="tokens-add").click()
    user.find(marker="token-create").click()
    await user.should_see("Выберите пользователя")
    user.find(marker="token-user").click()
    await user.should_not_see("disp — Диспетчер Тест")  # a dispatcher makes their own tokens
    user.find("int-1c — Интеграция 1С").click()
    user.find(marker="token-name").type("1С интеграция")
    user.find(marker="token-create").click()
    await user.should_see("Скопируйте токен сейчас")
    shown = user.find(marker="token-value").elements.pop()
    assert isinstance(shown, ui.input)
    assert shown.value.startswith("duapi.")
    row = ui_registry.one("SELECT id, name, token_hash FROM api_tokens")
    assert (row["name"], row["token_hash"]) == ("1С интеграция", token_hash(shown.value))
    await user.open("/users")
    await user.should_see("1С интеграция — int-1c")
    user.find(marker=f"revoke-{row['id']}").click()
    await user.should_see("Токен «1С интеграция» отозван")
    assert ui_registry.one("SELECT revoked_at FROM api_tokens")["revoked_at"] is not None
    await user.should_see("api_token.revoke")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_wrong_passwords_slow_the_login_and_the_administrator_lifts_a_lock(seeded, ui_registry: Registry,
                                                                                user: User) -> None:
    for _ in range(5):  # five free failures (cloud/services/login_guard.py); the sixth waits 2 ** 0 = 1 s
        await login(user, "disp", "wrong-pass")
        await user.should_see("Неверный логин или пароль")
    await login(user, "disp", "disp-pass")
    await user.should_see("Слишком много попыток входа. Повторите через 1 с.")
    # ten failures lock the account; the lock is the administrator's to lift
    with ui_registry.connect() as db:
        db.execute("UPDATE login_failures SET failures = 10 WHERE kind = 'login' AND subject = 'disp'")
    await user.open("/logout")
    await login(user, "admin", "admin-pass")
    await user.should_see("Вход заблокирован после ошибок пароля")
    user.find(marker="unlock-disp").click()
    await user.should_see("Вход для disp снова открыт")
    assert ui_registry.one("SELECT 1 FROM login_failures WHERE kind = 'login' AND subject = 'disp'") is None
    await user.should_see("user.login_unlock")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_a_dispatcher_issues_and_revokes_their_own_token(seeded, ui_registry: Registry, user: User) -> None:
    await login(user, "disp", "disp-pass")
    await user.should_see(marker="nav-/tokens")  # «Учётная запись → Мои API-токены» for every role
    await user.open("/tokens")
    await user.should_see("Мои API-токены")
    await user.should_see("Токенов нет.")
    user.find(marker="tokens-add").click()
    user.find(marker="token-name").type("мой скрипт")  # the only owner, the dispatcher, is chosen already
    user.find(marker="token-create").click()
    await user.should_see("Скопируйте токен сейчас")
    row = ui_registry.one("SELECT t.id, u.login FROM api_tokens t JOIN users u ON u.id = t.user_id")
    assert row["login"] == "disp"
    await user.open("/tokens")
    await user.should_see("мой скрипт — disp")
    user.find(marker=f"revoke-{row['id']}").click()
    await user.should_see("Токен «мой скрипт» отозван")
    assert ui_registry.one("SELECT revoked_at FROM api_tokens")["revoked_at"] is not None
