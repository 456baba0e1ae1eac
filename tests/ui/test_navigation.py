"""The main menu (manual 3.1), the shared selectors and the Russian 404 page, as people see them.

The menu shows the manual's sections the role may use and nothing else: a dispatcher gets
Учёт, Мониторинг, Сервис and Настройки; an administrator gets only Настройки → Пользователи and
Компания (and their own profile and API tokens); an address no page takes answers 404 with a Russian page inside
the frame (tests/integration/test_web_security.py checks that /api keeps its JSON errors in the
real cloud process). The items also follow the data (manual 2.3): power limitation needs an electricity
meter, and a company without buildings or without a meter in service starts on the first steps (3.3, 3.6).
"""

from __future__ import annotations

import pytest
from nicegui.testing import User

from cloud.seed import UserSeed, seed_company
from tests.ui.conftest import login as ui_login

ELECTRICITY_ONLY = ("/service/power", "/settings/relays")  # the seeded building has heat and water meters only

DISPATCHER_ITEMS = ("/", "/monitoring/deviations", "/monitoring/events", "/monitoring/data", "/monitoring/lora",
                    "/monitoring/temperature", "/service/meters", "/service/verification", "/service/operations",
                    "/service/communicators", "/service/season", "/service/desk",
                    "/service/notices", "/reports", "/billing", "/billing/runs", "/settings/buildings",
                    "/settings/billing", "/settings/billing-centres", "/settings/norms", "/settings/imbalance",
                    "/settings/deadlines",
                    "/settings/subscriptions", "/settings/company", "/profile", "/tokens")


async def login(user: User, name: str, password: str) -> None:
    """Sign in and wait for the landing page, so the next ``open`` is not overtaken by its redirect."""
    await ui_login(user, name, password)
    await user.should_see(marker="nav-/tokens")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_dispatcher_menu_has_the_manuals_sections(seeded, user: User) -> None:
    await login(user, "disp", "disp-pass")
    await user.open("/settings/buildings")
    for section in ("Учёт", "Мониторинг", "Отчёты", "Биллинг", "Сервис", "Настройки"):
        await user.should_see(section)
    for href in DISPATCHER_ITEMS:
        await user.should_see(marker=f"nav-{href}")
    await user.should_not_see(marker="nav-/users")  # users are the administrator's
    for href in ELECTRICITY_ONLY:
        await user.should_not_see(marker=f"nav-{href}")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_power_limitation_appears_with_an_electricity_meter(seeded, ui_registry, user: User) -> None:
    with ui_registry.connect() as db:  # a channel measuring electricity on a meter of the building
        meter = db.execute("SELECT id FROM meters WHERE building_id = ? ORDER BY id", (seeded.building_id,)).fetchone()
        db.execute("INSERT INTO meter_channels (meter_id, number, resource, parameters) "
                   "VALUES (?, 9, 'electricity', 'E')", (meter[0],))
    await login(user, "disp", "disp-pass")
    await user.open("/settings/buildings")
    for href in ELECTRICITY_ONLY:
        await user.should_see(marker=f"nav-{href}")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_a_company_without_buildings_starts_on_the_first_steps(seeded, ui_registry, user: User) -> None:
    seed_company(ui_registry, "УК Новая", "Казань", (UserSeed("new-disp", "Новый Диспетчер", "dispatcher", "new-pass"),
                                                     UserSeed("new-eng", "Новый Инженер", "engineer", "new-pass")))
    await login(user, "new-disp", "new-pass")
    await user.open("/")
    await user.should_see("Начало работы")
    await user.should_see("У компании пока нет объектов", marker="start-why")
    await user.should_see(marker="start-state-1-todo")  # buildings: to do, with the dispatcher's link
    await user.should_see(marker="start-go-1")
    await user.should_see(marker="start-state-3-todo")
    await user.should_not_see(marker="start-go-3")  # the first meter is the engineer's, and needs a building
    # the menu offers the first steps only: nothing to monitor, report, bill or service without buildings
    for href in ("/settings/buildings", "/settings/company", "/settings/deadlines", "/profile"):
        await user.should_see(marker=f"nav-{href}")
    for href in ("/monitoring/deviations", "/reports", "/billing", "/service/meters", "/service/desk",
                 "/settings/imbalance"):
        await user.should_not_see(marker=f"nav-{href}")
    await user.should_not_see("Мониторинг")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_buildings_without_a_meter_in_service_start_on_the_meter_step(seeded, ui_registry, user: User) -> None:
    with ui_registry.connect() as db:  # every meter of the company is still being commissioned
        db.execute("UPDATE meters SET commissioned_at = '2099-01-01T00:00:00+00:00' WHERE company_id = ?",
                   (seeded.company_id,))
    seed_company(ui_registry, "УК Тест", "Казань", (UserSeed("eng2", "Инженер Два", "engineer", "eng2-pass"),))
    await login(user, "eng2", "eng2-pass")
    await user.open("/")
    await user.should_see("нет приборов учёта, введённых в эксплуатацию", marker="start-why")
    await user.should_see(marker="start-state-1-done")
    await user.should_not_see(marker="start-go-1")  # buildings are the dispatcher's
    await user.should_see(marker="start-state-3-todo")
    await user.should_see(marker="start-go-3")  # the engineer registers the first meter
    await user.should_see(marker="nav-/monitoring/deviations")  # with buildings, the sections are there


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_administrator_menu_has_users_and_the_company_only(seeded, user: User) -> None:
    await login(user, "admin", "admin-pass")
    await user.open("/users")
    for href in ("/users", "/settings/company", "/profile", "/tokens"):
        await user.should_see(marker=f"nav-{href}")
    for href in DISPATCHER_ITEMS[:-3]:
        await user.should_not_see(marker=f"nav-{href}")
    await user.should_not_see("Мониторинг")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_settings_list_links_each_buildings_settings(seeded, user: User) -> None:
    await login(user, "disp", "disp-pass")
    await user.open("/settings/buildings")
    await user.should_see("ул. Тестовая, 1")
    await user.should_not_see("ул. Чужая, 2")  # another company's building
    for suffix in ("/balance", "/groups", "/deviations", "/temperature"):
        await user.should_see(marker=f"settings-{seeded.building_id}{suffix}")


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_unknown_address_gets_a_russian_404_inside_the_frame(seeded, user: User) -> None:
    await login(user, "disp", "disp-pass")
    response = await user.http_client.get("/no/such/page")
    assert response.status_code == 404  # not a 200 with an error text: crawlers and scripts see it too
    page = response.text
    assert "Страница не найдена" in page
    assert "/monitoring/data" in page  # the menu is there: the person can go on


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_unknown_address_without_a_session_offers_the_login(seeded, user: User) -> None:
    response = await user.http_client.get("/no/such/page")
    assert response.status_code == 404
    assert "Страница не найдена" in response.text
    assert "/login" in response.text
    assert "/monitoring/data" not in response.text  # no menu for someone not signed in


@pytest.mark.nicegui_main_file("tests/ui/ui_main.py")
async def test_the_period_survives_navigation_between_month_and_day_pages(seeded, user: User) -> None:
    await login(user, "disp", "disp-pass")
    # the building's days of December 2025 (a month view: its period stands for the whole month)
    await user.open(f"/buildings/{seeded.building_id}?resource=heat&granularity=day&period=2025-12-01")
    await user.should_see("Декабрь 2025")
    # a one-day page then opens on a day of that month, its last one, not on the 1st
    await user.open("/")
    await user.should_see("31.12.2025")
    # and the register, a one-period page too, opens on the same day
    await user.open(f"/buildings/{seeded.building_id}/register")
    await user.should_see("31.12.2025")
