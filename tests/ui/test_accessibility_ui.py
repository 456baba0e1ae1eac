"""Accessibility of the pages as built (issue 16), as a simulated user meets them.

A meter's status is never told by colour alone: the dot is read out by name, and a meter out of service
says so in words on its tile. Every icon-only button has a name a screen reader can say.
(tests/e2e/test_accessibility.py runs axe-core on every page in Chromium, checks the keyboard focus ring
and the page's language there.)
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from cloud.storage.registry import Registry
from tests.ui.conftest import login

R = 100  # should_see retries (0.1 s apart)


async def _signed_in(user: User) -> None:
    await login(user, "disp", "disp-pass")
    await user.should_see("ул. Тестовая, 1", retries=R)  # the landing page: the login's navigation is done


def _unnamed_buttons(user: User) -> list[str]:
    """The buttons on the open page that show only an icon and have no aria-label."""
    return [f"icon={button.props.get('icon')}" for button in user.client.elements.values()
            if isinstance(button, ui.button) and not button.text and not button.props.get("aria-label")]


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_a_decommissioned_meter_says_so_in_words(seeded, user: User) -> None:
    with Registry(Path(os.environ["DU_TEST_REGISTRY"])).connect() as db:
        db.execute("UPDATE meters SET status = 'decommissioned', decommissioned_at = ? WHERE serial = '223T0002'",
                   (datetime(2026, 1, 13, tzinfo=UTC).isoformat(),))
    await _signed_in(user)
    await user.open(f"/buildings/{seeded.building_id}/meters")
    await user.should_see(marker="meter-223T0001", retries=R)
    user.find(marker="active-switch").click()  # show the decommissioned meters too
    await user.should_see(marker="meter-223T0002")
    # the decommissioned meter's tile names its status; the meters in service stay quiet
    (tile,) = user.find(marker="meter-223T0002").elements
    assert "Выведен из эксплуатации" in [e.text for e in tile.descendants() if isinstance(e, ui.label)]
    await user.should_not_see(marker="status-text-in_service")
    # and every dot is read out by its status, not only painted
    dots = user.find(marker="status-decommissioned").elements | user.find(marker="status-in_service").elements
    assert {(d.props.get("role"), d.props.get("aria-label")) for d in dots} == {
        ("img", "Выведен из эксплуатации"), ("img", "В эксплуатации")}


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
@pytest.mark.parametrize("path", ["/buildings/{b}", "/settings/buildings/{b}/premises", "/meters/{m}",
                                  "/settings/buildings/{b}/balance"])
async def test_icon_only_buttons_have_a_name(seeded, user: User, path: str) -> None:
    with Registry(Path(os.environ["DU_TEST_REGISTRY"])).connect() as db:
        meter = db.execute("SELECT id FROM meters WHERE building_id = ? ORDER BY id",
                           (seeded.building_id,)).fetchone()[0]
    await _signed_in(user)
    await user.open(path.format(b=seeded.building_id, m=meter))
    await user.should_see(marker="page-title", retries=R)
    assert any(isinstance(e, ui.button) and not e.text for e in user.client.elements.values()), \
        "the page has no icon-only button to check"  # the header's menu button at least
    assert _unnamed_buttons(user) == []
