"""Working in several companies as people see it (manual 3.4): the administrator of "УК Тест" lets the
dispatcher of "УК Чужая" work there as an engineer on /users; that person's profile then offers the
company (hidden while there is one choice) and, once "УК Тест" is chosen, the pages are an engineer's of
"УК Тест"."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from tests.ui.conftest import login


def _set(user: User, marker: str, value: object) -> None:
    for element in user.find(marker=marker).elements:
        element.set_value(value)  # type: ignore[attr-defined]


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_a_member_picks_the_company_in_the_profile(seeded, ui_registry, user: User) -> None:
    await login(user, "stranger", "x-pass")
    await user.should_see(marker="nav-/tokens")
    await user.open("/profile")
    await user.should_see(marker="profile-mode")
    await user.should_not_see(marker="profile-company")  # one company: no choice to offer

    await user.open("/logout")
    await login(user, "admin", "admin-pass")
    await user.should_see(marker="nav-/tokens")
    await user.open("/users")
    await user.should_see(marker="members")
    await user.should_see("Никого из других компаний.")
    user.find(marker="member-login").type("stranger")
    _set(user, "member-role", "engineer")
    user.find(marker="member-add").click()
    await user.should_see(marker="member-stranger")
    await user.should_see("Своя компания: УК Чужая")

    await user.open("/logout")
    await login(user, "stranger", "x-pass")
    await user.should_see(marker="nav-/tokens")
    await user.open("/profile")
    await user.should_see(marker="profile-company")
    mine = ui_registry.one("SELECT id FROM companies WHERE name = 'УК Тест'")["id"]
    _set(user, "profile-company", mine)
    user.find(marker="profile-company-apply").click()
    await user.should_see("Вы работаете в компании УК Тест")
    await user.open("/")
    await user.should_see("ул. Тестовая, 1")  # УК Тест's building, as its engineer
    await user.should_not_see("ул. Чужая, 2")
    await user.open("/profile")
    await user.should_see("Сервис-инженер")  # the role given in УК Тест, not their own dispatcher's
