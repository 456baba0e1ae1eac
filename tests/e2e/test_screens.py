"""Every page of «Учёт», «Мониторинг», «Сервис» and «Настройки» in headless Chromium, on the demo,
at a desktop width (1440 px) and a phone's (390 px).

Each page opens as the demo dispatcher (the engineer's own tools as the demo engineer), shows no
error and no refusal, has no serious or critical axe-core finding at the desktop width
(tests/e2e/axe_check.py), and on the phone the page itself never scrolls sideways (a wide table
scrolls inside its own box instead). The demo's engineer, administrator and reader open theirs. Screenshots go
to ``screenshots/`` in the working directory (or ``$DU_SCREENSHOTS``) as the run's artefacts:
people look at them; the assertions are what the test checks.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.axe_check import violations
from tests.e2e.test_browser_demo import CHROMEDRIVER, CHROMIUM, Demo

pytestmark = pytest.mark.browser

DISPATCHER, ENGINEER, ADMIN = ("dispatcher", "dispatcher-demo"), ("engineer", "engineer-demo"), ("admin", "admin-demo")
READER = ("reader", "reader-demo")  # the demo's dispatcher with reader status: every page, no change
# (screenshot name, address, who opens it): {b} a building, {p} a premise, {m} a meter of the demo
PAGES = (
    ("overview", "/", DISPATCHER),
    ("building", "/buildings/{b}", DISPATCHER),
    ("building-meters", "/buildings/{b}/meters", DISPATCHER),
    ("premises", "/buildings/{b}/premises", DISPATCHER),
    ("register", "/buildings/{b}/register", DISPATCHER),
    ("groups", "/buildings/{b}/groups", DISPATCHER),
    ("premise", "/premises/{p}", DISPATCHER),
    ("meter", "/meters/{m}", DISPATCHER),
    ("deviations", "/monitoring/deviations", DISPATCHER),
    ("events", "/monitoring/events", DISPATCHER),
    ("data", "/monitoring/data", DISPATCHER),
    ("lora", "/monitoring/lora", DISPATCHER),
    ("temperature", "/monitoring/temperature", DISPATCHER),
    ("reports", "/reports", DISPATCHER),
    ("reports-balance", "/reports?report=building_balance", DISPATCHER),
    ("billing-document", "/billing", DISPATCHER),
    ("billing-runs", "/billing/runs", DISPATCHER),
    ("season", "/service/season", DISPATCHER),
    ("verification", "/service/verification", DISPATCHER),
    ("operations", "/service/operations", DISPATCHER),
    ("communicators", "/service/communicators", DISPATCHER),
    ("power", "/service/power", DISPATCHER),
    ("power-premise", "/service/power/premises/{p}", DISPATCHER),
    ("desk", "/service/desk", DISPATCHER),
    ("notices", "/service/notices", DISPATCHER),
    ("settings-buildings", "/settings/buildings", DISPATCHER),
    ("settings-info", "/settings/buildings/{b}/info", DISPATCHER),
    ("settings-premises", "/settings/buildings/{b}/premises", DISPATCHER),
    ("settings-owners", "/settings/buildings/{b}/owners", DISPATCHER),
    ("settings-codes-print", "/settings/buildings/{b}/codes/print", DISPATCHER),
    ("settings-balance", "/settings/buildings/{b}/balance", DISPATCHER),
    ("settings-groups", "/settings/buildings/{b}/groups", DISPATCHER),
    ("settings-deviations", "/settings/buildings/{b}/deviations", DISPATCHER),
    ("settings-temperature", "/settings/buildings/{b}/temperature", DISPATCHER),
    ("settings-billing", "/settings/billing", DISPATCHER),
    ("settings-imbalance", "/settings/imbalance", DISPATCHER),
    ("settings-norms", "/settings/norms", DISPATCHER),
    ("settings-billing-centres", "/settings/billing-centres", DISPATCHER),
    ("settings-relays", "/settings/relays", DISPATCHER),
    ("settings-deadlines", "/settings/deadlines", DISPATCHER),
    ("settings-subscriptions", "/settings/subscriptions", DISPATCHER),
    ("settings-company", "/settings/company", DISPATCHER),
    ("profile", "/profile", DISPATCHER),
    # the service engineer's own tools (manual 2.3: only the engineer adds meters and runs procedures)
    ("meter-channels", "/service/meters/{m}/channels", DISPATCHER),
    ("service-meters", "/service/meters", ENGINEER),
    ("wizard", "/service/meters/new", ENGINEER),
    ("meter-view", "/service/meters/{m}", ENGINEER),
    ("meter-operations", "/service/meters/{m}/operations", ENGINEER),
    ("meter-documents", "/service/meters/{m}/documents", ENGINEER),
    # the administrator's (manual 2.3: users and the company's basic settings)
    ("users", "/users", ADMIN),
    ("company-admin", "/settings/company", ADMIN),
    # reader status (manual 2.3): the dispatcher's and the engineer's pages, every change refused
    ("reader-overview", "/", READER),
    ("reader-settings-premises", "/settings/buildings/{b}/premises", READER),
    ("reader-desk", "/service/desk", READER),
    ("reader-service-meters", "/service/meters", READER),
    ("reader-meter-operations", "/service/meters/{m}/operations", READER),
    ("reader-profile", "/profile", READER),
)
WIDTHS = (1440, 390)
HISTORY_DAYS = 7
ERRORS = ("Страница не найдена", "Нет доступа", "Internal Server Error", "Traceback", "Ошибка сервера")


def _driver(width: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--window-size={width},1000", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or "/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(5)
    # a headless window keeps a minimum width of about 500 px: the phone's viewport is set exactly
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900 if width < 600 else 1000, "deviceScaleFactor": 1,
                            "mobile": width < 600})
    return driver


def _login(driver, base: str, who: tuple[str, str]) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/login")
    inputs = driver.find_elements(By.CSS_SELECTOR, "input")
    inputs[0].send_keys(who[0])
    inputs[1].send_keys(who[1])
    driver.find_element(By.XPATH, "//button[contains(., 'Войти')]").click()
    deadline = time.monotonic() + 30
    while "/login" in driver.current_url and time.monotonic() < deadline:
        time.sleep(0.3)


def _settle(driver, timeout_s: float = 10.0) -> None:
    """Wait until the page has drawn: loaded, its progress bar hidden, then a moment for the charts'
    animation (a fixed pause per page cost minutes on a fast machine and could be short on a slow one)."""
    deadline = time.monotonic() + timeout_s
    busy = ("return document.readyState !== 'complete' || !document.querySelector('.nicegui-content') || "
            "[...document.querySelectorAll('.q-linear-progress')].some(e => e.offsetParent !== null)")
    while driver.execute_script(busy) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.8)


def _ids(driver, base: str) -> dict[str, str]:
    """A building, a premise and a meter of the demo, from the links on its pages."""
    driver.get(base + "/buildings/1")
    time.sleep(2)
    source = driver.page_source
    premise = re.search(r"/premises/(\d+)", source)
    meter = re.search(r"/meters/(\d+)", source)
    if not meter:
        driver.get(base + "/buildings/1/meters")
        time.sleep(2)
        meter = re.search(r"/meters/(\d+)", driver.page_source)
    assert premise, "the demo building page links no premise"
    assert meter, "the demo building pages link no meter"
    return {"b": "1", "p": premise.group(1), "m": meter.group(1)}


def _shoot(driver, base: str, width: int, who: tuple[str, str], ids: dict[str, str], out: Path) -> list[str]:
    """Open the pages ``who`` opens, save each one's picture; what is wrong with them."""
    problems = []
    for name, template, opener in PAGES:
        if opener != who:
            continue
        path = template.format(**ids)
        driver.get(base + path)
        _settle(driver)
        text = driver.find_element("tag name", "body").text
        driver.save_screenshot(str(out / f"{name}-{width}.png"))
        found = [e for e in ERRORS if e in text]
        if found:
            problems.append(f"{path} at {width} px shows {found}")
        if "/login" in driver.current_url:
            problems.append(f"{path} at {width} px sent the {who[0]} to the login page")
        wide = driver.execute_script("return document.documentElement.scrollWidth")
        if wide > width + 2:
            problems.append(f"{path} at {width} px: the page is {wide} px wide and scrolls sideways")
        if width == WIDTHS[0] and not found:  # axe-core once per page, at the desktop width (issue 16)
            problems += violations(driver, name, path)
    return problems


def test_every_page_at_desktop_and_phone_width(tmp_path: Path) -> None:
    out = Path(os.environ.get("DU_SCREENSHOTS", "screenshots")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # a week of history instead of the demo's 62 days: the pages are the same, and it is in within
    # seconds instead of about 85 s (test_browser_demo runs the demo as a newcomer does)
    demo = Demo(tmp_path / "data", free_port(), "--history-days", str(HISTORY_DAYS))
    demo.start()
    problems: list[str] = []
    try:
        base = f"http://127.0.0.1:{demo.port}"
        # the pictures are worth looking at once the demo's history is in (the apartments' radio
        # archives come last); a slow machine takes its pictures of a partial history instead
        deadline = time.monotonic() + 120
        while "history complete" not in demo.text() and time.monotonic() < deadline:
            time.sleep(2)
        ids: dict[str, str] = {}
        for width in WIDTHS:
            for who in (DISPATCHER, ENGINEER, ADMIN, READER):
                driver = _driver(width)
                try:
                    _login(driver, base, who)
                    ids = ids or _ids(driver, base)
                    problems += _shoot(driver, base, width, who, ids, out)
                finally:
                    driver.quit()
    finally:
        assert demo.stop() == 0, demo.text()
    print(f"screenshots: {out}")
    assert not problems, "\n".join(problems)
