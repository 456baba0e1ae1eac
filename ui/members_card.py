"""The administrator's card of people of other companies who work in this one (manual 3.4), on /users:
who they are, their own company, the role and reader status they have here; add one by login, change
the role, remove. The rules are cloud/services/members.py's. Tests: tests/ui/test_members_ui.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from cloud.services.models import Role

from . import auth, i18n, theme
from .i18n import t

i18n.extend({
    "members.title": ("Сотрудники других компаний", "People of other companies"),
    "members.text": ("Пользователь другой компании, добавленный здесь, выбирает эту компанию в режиме работы своего "
                     "профиля и работает в ней с указанной ролью.",
                     "A user of another company added here picks this company in their profile's working mode and "
                     "works in it with the role given here."),
    "members.none": ("Никого из других компаний.", "Nobody from other companies."),
    "members.login": ("Логин пользователя другой компании", "Login of a user of another company"),
    "members.add": ("Добавить", "Add"),
    "members.added": ("{login} может работать в компании", "{login} may work in the company"),
    "members.home": ("Своя компания", "Own company"),
    "members.remove": ("Убрать {login} из компании", "Remove {login} from the company"),
    "members.removed": ("{login} больше не работает в компании", "{login} no longer works in the company"),
    "members.save": ("Сохранить роль {login}", "Save the role of {login}"),
    "members.saved": ("Роль {login} сохранена", "The role of {login} is saved"),
})


class MembersCard:
    def __init__(self, members: Any, viewer: auth.Viewer, changed: Callable[[], Awaitable[None]]) -> None:
        self.members = members
        self.viewer = viewer
        self.changed = changed

    def build(self) -> None:
        with theme.card(t("members.title")).mark("members"):
            ui.label(t("members.text")).classes("du-muted text-sm")
            self.view = ui.column().classes("w-full gap-2")
            with ui.row().classes("w-full items-center gap-3"):
                self.login = ui.input(t("members.login")).props("outlined dense maxlength=100") \
                    .classes("grow min-w-[12rem]").mark("member-login")
                self.role = ui.select(_roles(), value=Role.ENGINEER.value, label=t("users.role")) \
                    .props("outlined dense").classes("min-w-[10rem]").mark("member-role")
                self.reader = ui.checkbox(t("users.reader")).mark("member-reader")
                ui.button(t("members.add"), icon="person_add", on_click=self._add) \
                    .props("unelevated no-caps").mark("member-add")

    async def reload(self) -> None:
        found = await auth.attempt(self.members.members(self.viewer.token))
        if found is None:
            return
        self.view.clear()
        with self.view:
            if not found:
                theme.message(t("members.none"))
            for member in found:
                with ui.row().classes("w-full items-center gap-3 flex-wrap").mark(f"member-{member.login}"):
                    ui.label(f"{member.login} — {member.full_name}").classes("font-medium grow")
                    ui.label(f"{t('members.home')}: {member.home_company}").classes("du-muted text-sm")
                    role = ui.select(_roles(), value=member.role).props(
                        f'outlined dense aria-label="{t("users.role")}"').classes("min-w-[10rem]")
                    reader = ui.checkbox(t("users.reader"), value=member.reader)
                    ui.button(icon="save", on_click=self._save(member, role, reader)).props(
                        f'flat round dense aria-label="{t("members.save", login=member.login)}"') \
                        .mark(f"member-save-{member.login}")
                    ui.button(icon="person_remove", on_click=self._remove(member)).props(
                        f'flat round dense color=negative aria-label="{t("members.remove", login=member.login)}"') \
                        .mark(f"member-remove-{member.login}")

    async def _add(self) -> None:
        added = await auth.attempt(self.members.add(self.viewer.token, self.login.value or "",
                                                    self.role.value or "", bool(self.reader.value)))
        if added is not None:
            self.login.value = ""
            ui.notify(t("members.added", login=added.login), type="positive")
            await self.reload()
            await self.changed()

    def _save(self, member: Any, role: ui.select, reader: ui.checkbox) -> Callable[[], Awaitable[None]]:
        async def save() -> None:
            done = await auth.attempt(self.members.update(self.viewer.token, member.user_id, role.value or "",
                                                          bool(reader.value)))
            if done is not None:
                ui.notify(t("members.saved", login=member.login), type="positive")
                await self.changed()
        return save

    def _remove(self, member: Any) -> Callable[[], Awaitable[None]]:
        async def removed() -> bool:  # the service answers nothing: a refusal raises
            await self.members.remove(self.viewer.token, member.user_id)
            return True

        async def remove() -> None:
            if await auth.attempt(removed()) is None:
                return
            ui.notify(t("members.removed", login=member.login), type="positive")
            await self.reload()
            await self.changed()
        return remove


def _roles() -> dict[str, str]:
    return {r.value: t(f"role.{r.value}") for r in Role}
