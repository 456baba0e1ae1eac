"""The controls that change data, per role, on representative pages (manual 2.3, 4.5, 4.6): shown to the roles
the manual lets make the change, hidden from the others, and from the reader status whatever the role.

One test per role signs in once and opens the pages in turn; a control the role should see is waited for, and
one it should not see is looked for on the drawn page (the same page shows it to the permitted role in that
role's test, on the same seed). The last test tries a reader's change through the service the pages call.
tests/ui/test_role_matrix_ui.py checks which pages open at all; tests/integration/test_role_matrix_writes.py
the same rules over /api/v1.
"""

from __future__ import annotations

import pytest
from nicegui.testing import User

from cloud.seed import UserSeed, seed_company
from cloud.services.container import Services
from cloud.services.models import Forbidden
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry
from tests import cloud_data
from tests.ui.conftest import login as ui_login

# "reader" is an engineer with reader status (tests/cloud_data.py USERS); the status overrides the role (2.3)
EXTRA_USERS = (UserSeed("eng", "Инженер Тест", "engineer", "eng-pass"),
               UserSeed("disp-reader", "Диспетчер Читатель", "dispatcher", "dr-pass", reader=True))
PASSWORDS = {"disp": "disp-pass", "reader": "reader-pass"} | {u.login: u.password for u in EXTRA_USERS}
DISP, ENG, DESK = frozenset({"disp"}), frozenset({"eng"}), frozenset({"disp", "eng"})
# (page, the control's marker, the roles that see it, the manual's rule); {b} the building, {m} its meter
CONTROLS = (
    ("/settings/buildings", "objects-add", DISP, "4.6, 4.6.1"),
    ("/settings/buildings/{b}/premises", "objects-range", DISP, "4.6.3"),
    ("/settings/buildings/{b}/groups", "groups-add", DISP, "4.6.6"),
    ("/settings/buildings/{b}/temperature", "schedule-edit", DISP, "4.6.8"),
    ("/settings/imbalance", "limits-bulk", DISP, "4.6.10"),
    ("/settings/norms", "norms-save-heat", DISP, "4.6"),
    ("/settings/deadlines", "procedures-save-repair-repair", DISP, "4.6.12"),
    ("/settings/billing-centres", "centre-add", DISP, "4.6"),
    ("/service/season", "season-check-{b}", DISP, "4.5.7"),
    ("/service/notices", "notices-new", DISP, "4.5.10"),
    ("/service/desk", "desk-new", DESK, "4.5.9"),
    ("/service/meters", "service-meters-add", ENG, "4.5.1"),
    ("/service/meters/{m}/operations", "procedures-start", ENG, "2.3, 4.5.2"),
    ("/service/meters/{m}/channels", "sm-add-channel", DISP, "4.5.3"),
)
FORBIDDEN = "Нет доступа"


def _present(user: User, marker: str) -> bool:
    try:
        return bool(user.find(marker=marker).elements)
    except AssertionError:  # ``find`` raises when nothing matches
        return False


@pytest.mark.parametrize("role", ["disp", "eng", "reader", "disp-reader"])
@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_each_role_sees_the_controls_the_manual_gives_it(
        role: str, seeded: cloud_data.Seeded, ui_registry: Registry, user: User) -> None:
    seed_company(ui_registry, "УК Тест", "Казань", EXTRA_USERS)
    meter = ui_registry.one("SELECT id FROM meters WHERE serial = '307T0001'")
    ids = {"b": seeded.building_id, "m": meter["id"]}
    await ui_login(user, role, PASSWORDS[role])
    await user.should_see(marker="nav-/tokens")  # landed: the next open is not overtaken by the login's redirect
    wrong = {}
    for page, marker, allowed, rule in CONTROLS:
        path, control = page.format(**ids), marker.format(**ids)
        await user.open(path)
        await user.should_see(marker="page-title")
        if role in allowed:
            try:
                await user.should_see(marker=control, retries=30)
            except AssertionError:
                wrong[path] = f"{control} missing ({rule})"
        elif _present(user, control):
            wrong[path] = f"{control} shown ({rule})"
        if _present(user, FORBIDDEN):
            wrong[path] = "the page refused"
    assert not wrong, "\n".join(f"{path}: {what}" for path, what in wrong.items())


async def test_a_readers_change_through_the_pages_service_is_refused(
        seeded: cloud_data.Seeded, ui_registry: Registry, clickhouse: ClickHouse) -> None:
    """What a page would call, called by a reader anyway (a hidden button is for the person, not security)."""
    seed_company(ui_registry, "УК Тест", "Казань", EXTRA_USERS)
    services = Services.create(ui_registry, clickhouse)
    services.set_clock(lambda: cloud_data.NOW)
    b = seeded.building_id
    for login in ("reader", "disp-reader"):
        token = (await services.auth.login(login, PASSWORDS[login])).token
        with pytest.raises(Forbidden, match="reader"):
            await services.norms.set_norm(token, "heat", 0.02)
        with pytest.raises(Forbidden, match="reader"):
            await services.desk.create(token, b, "Течь в подвале")
        with pytest.raises(Forbidden, match="reader"):
            await services.premises.create(token, b, number="99", area_m2=40.0, residents=1)
    disp = (await services.auth.login("disp", "disp-pass")).token  # the same calls by the dispatcher go through
    assert (await services.norms.set_norm(disp, "heat", 0.02)) is not None
    assert (await services.desk.create(disp, b, "Течь в подвале")).ticket.id > 0
    assert (await services.premises.create(disp, b, number="99", area_m2=40.0, residents=1)) is not None
