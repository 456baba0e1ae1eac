"""What every signed-in page of «Учёт», «Мониторинг» and their settings does before it draws:
the sign-in guard and the role check (manual 2.3), and the Russian page for a refusal.

Imports the service models and ui's frame only; the pages' own modules decide what they draw.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse

from cloud.services.models import Forbidden, InvalidInput, NotFound, UserInfo

from . import access, auth, errors, theme, widgets
from .i18n import t


async def operational_viewer(services: Any, request: Request, *, active: str = "/"
                             ) -> auth.Viewer | RedirectResponse | None:
    """The signed-in viewer who may use these sections; else a redirect to the login page, or None
    once the «нет доступа» page is drawn (an administrator). Callers test for the last two, not
    ``isinstance(viewer, auth.Viewer)``: the UI tests import ui's modules anew per test, and a
    class of the previous import is not the class of this one."""
    viewer = await auth.require_viewer(services, request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    if not access.may_use_accounting(viewer.user):
        with theme.frame(t("error.forbidden"), viewer.user, active=active):
            widgets.problem(t("error.forbidden"), t("error.forbidden_text"), icon="lock", back=False)
        return None
    return viewer


def problem_page(user: UserInfo, title: str, text: str, *, icon: str = "search_off", active: str = "/") -> None:
    """A page that says why there is nothing to show, inside the frame."""
    with theme.frame(title, user, active=active):
        widgets.problem(title, text, icon=icon)


async def explained(user: UserInfo, load: Awaitable[Any], *, not_found: str, active: str = "/") -> bool:
    """Await the page's load; on a refusal draw the page that says why and give False."""
    try:
        await load
    except NotFound:
        problem_page(user, t("error.not_found"), not_found, active=active)
    except Forbidden:
        problem_page(user, t("error.forbidden"), t("error.forbidden_text"), icon="lock", active=active)
    except InvalidInput as error:
        problem_page(user, t("error.invalid_title"), t("error.invalid_input", reason=errors.reason(str(error))),
                     icon="error_outline", active=active)
    else:
        return True
    return False
