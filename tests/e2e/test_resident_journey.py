"""A resident's journey through the residents' app (/kv, manual 3.6) on the demo, in headless Chromium.

On a phone (390 px): the activation code the demo printed for apartment 2, registration with it, the
apartment's consumption, a request to the dispatch desk and its stage, the management company's notice.
On a desktop (1440 px): the demo's resident of apartment 1 signs in and sees the same pages. Each page
is saved as a screenshot (resident-<page>-<width>.png in ``screenshots/`` or ``$DU_SCREENSHOTS``), never
scrolls sideways, and has no serious or critical axe-core finding (tests/e2e/test_accessibility.py).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_accessibility import _check
from tests.e2e.test_browser_demo import Demo
from tests.e2e.test_screens import ERRORS, HISTORY_DAYS, _driver, _settle

pytestmark = pytest.mark.browser

CODE = re.compile(r"activation code for apartment 2 \(valid a week\): ([A-Z0-9-]+)")


def _until(driver, condition: str, what: str, timeout_s: float = 30.0) -> None:
    """Poll a JavaScript condition until it holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not driver.execute_script(f"return {condition}"):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s at {driver.current_url}\n"
                        f"{driver.find_element('tag name', 'body').text[:800]}")
        time.sleep(0.2)


def _text_has(text: str) -> str:
    return f"document.body.innerText.includes({text!r})"


def _click(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//button[contains(., '{label}')]").click()


def _shoot(driver, out: Path, name: str, width: int, problems: list[str]) -> None:
    _settle(driver)
    driver.save_screenshot(str(out / f"resident-{name}-{width}.png"))
    text = driver.find_element("tag name", "body").text
    problems += [f"{name} at {width} px shows {e}" for e in ERRORS if e in text]
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    if wide > width + 2:
        problems.append(f"{name} at {width} px: the page is {wide} px wide and scrolls sideways")
    problems += _check(driver, "", f"resident-{name}", driver.current_url, load=False)


def _pages(driver, base: str, out: Path, width: int, problems: list[str], ticket: str) -> None:
    """From the signed-in home page: consumption, meters, a new request and its stage, the notices."""
    from selenium.webdriver.common.by import By

    _until(driver, _text_has("Всего за период"), "the apartment's consumption")
    _shoot(driver, out, "consumption", width, problems)
    driver.get(base + "/kv/meters")
    _until(driver, _text_has("Заводской номер"), "the apartment's meters")
    _shoot(driver, out, "meters", width, problems)
    driver.get(base + "/kv/tickets")
    _until(driver, _text_has("Новая заявка"), "the requests page")
    driver.find_element(By.CSS_SELECTOR, "textarea").send_keys(ticket)
    _click(driver, "Отправить")
    _until(driver, "location.pathname.startsWith('/kv/tickets/')", "the new request's page")
    _until(driver, _text_has("Этап: Регистрация"), "the request's stage")
    _shoot(driver, out, "ticket", width, problems)
    driver.get(base + "/kv/notices")
    _until(driver, _text_has("Плановое отключение горячей воды"), "the demo's notice")
    _shoot(driver, out, "notices", width, problems)


def test_from_an_activation_code_to_consumption_on_a_phone(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    out = Path(os.environ.get("DU_SCREENSHOTS", "screenshots")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    demo = Demo(tmp_path / "data", free_port(), "--history-days", str(HISTORY_DAYS))
    demo.start()
    problems: list[str] = []
    try:
        base = f"http://127.0.0.1:{demo.port}"
        found = CODE.search(demo.text())
        assert found, f"the demo printed no activation code:\n{demo.text()}"
        deadline = time.monotonic() + 120  # the week of history, so that there is consumption to see
        while "history complete" not in demo.text() and time.monotonic() < deadline:
            time.sleep(2)

        phone = _driver(390)
        try:
            phone.get(f"{base}/kv/register?code={found[1]}")
            _until(phone, "document.querySelectorAll('input').length >= 6", "the registration form")
            _shoot(phone, out, "register", 390, problems)
            fields = phone.find_elements(By.CSS_SELECTOR, "input")
            assert fields[0].get_attribute("value") == found[1]  # the code from the link, filled in
            for field, value in zip(fields[1:6], ("kv2@example.ru", "Пётр Жилец", "+7 900 000-00-02",
                                                  "phone-pass-1", "phone-pass-1"), strict=True):
                field.send_keys(value)
            _click(phone, "Зарегистрироваться")
            _until(phone, "location.pathname === '/kv'", "the home page after registration")
            _until(phone, _text_has("кв. 2"), "apartment 2 on the home page")
            _pages(phone, base, out, 390, problems, "Не греет батарея на кухне")
        finally:
            phone.quit()

        desktop = _driver(1440)
        try:
            desktop.get(f"{base}/kv/login")
            _until(desktop, "document.querySelectorAll('input').length >= 2", "the sign-in form")
            _shoot(desktop, out, "login", 1440, problems)
            email, password = desktop.find_elements(By.CSS_SELECTOR, "input")[:2]
            email.send_keys("resident@demo.local")
            password.send_keys("resident-demo")
            _click(desktop, "Войти")
            _until(desktop, "location.pathname === '/kv'", "the home page after signing in")
            _until(desktop, _text_has("кв. 1"), "apartment 1 on the home page")
            _pages(desktop, base, out, 1440, problems, "Шумит стояк в ванной")
        finally:
            desktop.quit()
    finally:
        assert demo.stop() == 0, demo.text()
    print(f"screenshots: {out}")
    assert not problems, "\n".join(problems)
