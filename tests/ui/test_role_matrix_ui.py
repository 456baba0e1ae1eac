"""Every staff page as every role (manual 2.3): reachable or refused exactly as the manual says.

The administrator (no reader status) manages users and the company card only: every operational page
shows «Нет доступа». The dispatcher sees every section; the service engineer the operational pages; the
reader status (on any role) the dispatcher's and the engineer's pages. Adding a meter (the first step of
a service procedure) is the engineer's alone, and managing users the administrator's alone.

"ok" means the page's title is drawn, is not an error page's («Не найдено», «Запрос не выполнен») and neither
«Нет доступа» nor «Страница не найдена» is on the page;
"refused" means «Нет доступа» is. The residents' pages (/kv...) and /login, /logout are not staff pages.
One test per role signs in once and opens every page in turn; a failure lists every page that differs.
"""

from __future__ import annotations

import re

import pytest
from nicegui.testing import User

from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data, support_power
from tests.ui.conftest import login as ui_login

OK, REFUSED = "ok", "refused"
FORBIDDEN, NOT_FOUND = "Нет доступа", "Страница не найдена"
# the titles of the pages that say why there is nothing to show (ui/i18n.py error.*): not an "ok"
PROBLEM_TITLES = {"Не найдено": "not found", NOT_FOUND: "not found", "Запрос не выполнен": "invalid"}

# every @ui.page of ui/*.py but the residents' app (/kv...), /login and /logout; {b}, {p}, {m} are the seeded
# building, its first premise and its building meter, {t} a desk ticket assigned to the engineer
OPERATIONAL = (
    "/", "/buildings/{b}", "/premises/{p}", "/meters/{m}", "/buildings/{b}/meters", "/buildings/{b}/premises",
    "/buildings/{b}/groups", "/buildings/{b}/register",
    "/monitoring/deviations", "/monitoring/events", "/monitoring/data", "/monitoring/lora", "/monitoring/temperature",
    "/reports", "/billing", "/billing/runs",
    "/service/meters", "/service/meters/{m}", "/service/meters/{m}/documents", "/service/meters/{m}/channels",
    "/service/meters/{m}/operations", "/service/verification", "/service/operations", "/service/communicators",
    "/service/season", "/service/power", "/service/power/premises/{p}", "/service/desk", "/service/desk/{t}",
    "/service/notices",
    "/settings/buildings", "/settings/buildings/{b}", "/settings/buildings/{b}/info",
    "/settings/buildings/{b}/premises", "/settings/buildings/{b}/premises/{p}", "/settings/buildings/{b}/codes/print",
    "/settings/buildings/{b}/owners", "/settings/buildings/{b}/billing", "/settings/buildings/{b}/balance",
    "/settings/buildings/{b}/groups", "/settings/buildings/{b}/deviations", "/settings/buildings/{b}/temperature",
    "/settings/billing", "/settings/billing-centres", "/settings/norms", "/settings/imbalance", "/settings/relays",
    "/settings/deadlines", "/settings/subscriptions",
)
NEW_METER = "/service/meters/new"  # the wizard: an engineer without reader status only (manual 2.3, 5.1)
USERS_PAGE = "/users"  # an administrator without reader status only
EVERYONE = ("/settings/company", "/profile", "/tokens")  # the company card (read by all), one's profile and tokens
SKIP = {  # pages not opened, with the reason
    "/billing/runs/{run_id}": "needs a billing run; the seed has none",
}
PAGES = (*OPERATIONAL, NEW_METER, USERS_PAGE, *EVERYONE)
# pages that send on to another page, for everyone (the landing page is checked on every page)
REDIRECTS = {"/settings/buildings/{b}": "/settings/buildings/{b}/info",
             "/settings/buildings/{b}/billing": "/settings/billing"}


def _expected(role: str) -> dict[str, str]:
    """The manual's 2.3 per page, written out per role rather than derived from ui/access.py."""
    if role == "admin":  # without reader status
        table = {page: OK if page in (USERS_PAGE, *EVERYONE) else REFUSED for page in PAGES}
        table["/"] = "ok at /users"  # "/" is the start page: an administrator's is the users' list, not a refusal
        return table
    table = {page: OK for page in (*OPERATIONAL, *EVERYONE)}
    table[USERS_PAGE] = REFUSED
    table[NEW_METER] = OK if role == "eng" else REFUSED  # a reader's role is ignored
    return table


# "reader" is an engineer with reader status (tests/cloud_data.py); the status overrides any role, so an
# administrator and a dispatcher with it are signed in too
EXTRA_USERS = (UserSeed("eng", "Инженер Тест", "engineer", "eng-pass"),
               UserSeed("admin-reader", "Админ Читатель", "administrator", "ar-pass", reader=True),
               UserSeed("disp-reader", "Диспетчер Читатель", "dispatcher", "dr-pass", reader=True))
LOGINS = {"disp": "disp-pass", "reader": "reader-pass", "admin": "admin-pass"} | {
    u.login: u.password for u in EXTRA_USERS}


async def _ids(registry: Registry, clickhouse: ClickHouse, building_id: int) -> dict[str, int]:
    """The seeded building, premise (given an electricity meter) and meter, and a desk ticket the dispatcher
    assigns to the engineer (an engineer's desk holds the tickets assigned to them)."""
    meter = registry.one("SELECT id FROM meters WHERE building_id = ? ORDER BY role, id LIMIT 1", building_id)
    premise = registry.one("SELECT id FROM premises WHERE building_id = ? ORDER BY id LIMIT 1", building_id)
    with registry.connect() as db:  # a KARAT-941LW with its load relay: the power limitation pages have a premise
        support_power.add_meter(db, registry.one("SELECT company_id FROM buildings WHERE id = ?", building_id)[
            "company_id"], building_id, premise["id"], "941T0001", "70B3D5E75E2A0941")
    services = Services.create(registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    disp = (await services.auth.login("disp", "disp-pass")).token
    ticket = (await services.desk.create(disp, building_id, "Течёт кран на кухне")).ticket.id
    await services.desk.move(disp, ticket, "qualification", "принято")
    await services.desk.assign(disp, ticket, registry.one("SELECT id FROM users WHERE login = 'eng'")["id"])
    return {"b": building_id, "m": meter["id"], "p": premise["id"], "t": ticket}


def _present(user: User, text: str) -> bool:
    """Whether the page shows ``text`` now (``find`` raises when nothing matches)."""
    try:
        return bool(user.find(content=text).elements)
    except AssertionError:
        return False


def _template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


async def _outcome(user: User, page: str, ids: dict[str, int]) -> str:
    """"ok" or "refused", with " at <page>" when the page landed on is not the one expected."""
    await user.open(page.format(**ids))
    await user.should_see(marker="page-title")  # the page is drawn (waits for its loads)
    title = next(iter(user.find(marker="page-title").elements)).text
    if _present(user, FORBIDDEN):
        outcome = REFUSED
    elif _present(user, NOT_FOUND) or title in PROBLEM_TITLES:
        outcome = PROBLEM_TITLES.get(title, "not found")
    else:
        outcome = OK
    landed = user.client.page.path if user.client and user.client.page else "?"
    if _template(landed) != _template(REDIRECTS.get(page, page)):
        outcome += f" at {landed}"
    return outcome


@pytest.mark.parametrize("role", ["disp", "eng", "admin", "reader", "admin-reader", "disp-reader"])
@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_each_page_is_reachable_or_refused_as_the_manual_says(
        role: str, seeded: cloud_data.Seeded, ui_registry: Registry, clickhouse: ClickHouse, user: User) -> None:
    seed_company(ui_registry, "УК Тест", "Казань", EXTRA_USERS)
    ids = await _ids(ui_registry, clickhouse, seeded.building_id)
    await ui_login(user, role, LOGINS[role])
    await user.should_see(marker="nav-/tokens")  # landed: the next open is not overtaken by the login's redirect
    expected = _expected(role)
    actual = {page: await _outcome(user, page, ids) for page in PAGES}
    assert {p: a for p, a in actual.items() if a != expected[p]} == {}


NOT_STAFF = ("/login", "/logout", "/favicon.ico")  # and every page under the residents' /kv


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_the_table_names_every_page(seeded: cloud_data.Seeded, user: User) -> None:
    """A page added later must be put in the table (or SKIP), so the matrix keeps covering every page."""
    from nicegui import app

    await user.open("/login")  # the main file has registered the pages
    registered = {_template(r.path.replace(":int}", "}")) for r in app.routes
                  if getattr(r, "path", "").startswith("/") and not r.path.startswith(("/_nicegui", "/api", "/kv"))
                  and "GET" in (getattr(r, "methods", None) or ()) and r.path not in NOT_STAFF}
    named = {_template(p) for p in (*PAGES, *SKIP)}
    assert registered - named == set()
    assert named - registered == set()
