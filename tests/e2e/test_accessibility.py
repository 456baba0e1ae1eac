"""axe-core on the pages of someone not signed in, and the keyboard's focus (issue 16, the interface's quality).

The staff login (in Russian and in English), the residents' app's login and registration are checked by
axe-core (bundled by axe-selenium-python; tests/e2e/axe_check.py) for "serious" and "critical"
violations; every signed-in page is checked where tests/e2e/test_screens.py photographs it, and the
residents' pages in tests/e2e/test_resident_journey.py. Walking the dispatcher's first page with Tab,
every control shows that it has the focus."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.axe_check import violations
from tests.e2e.test_browser_demo import Demo
from tests.e2e.test_screens import (
    DISPATCHER,
    ERRORS,
    HISTORY_DAYS,
    _driver,
    _login,
    _settle,
)

pytestmark = pytest.mark.browser

WIDTH = 1440
SIGNED_OUT = (("login", "/login"), ("kv-login", "/kv/login"), ("kv-register", "/kv/register"))


def _check(driver, base: str, name: str, path: str, *, load: bool = True) -> list[str]:
    """Open ``path`` (unless it is open already): an error page, or axe-core's serious and critical findings."""
    if load:
        driver.get(base + path)
        _settle(driver)
    text = driver.find_element("tag name", "body").text
    found = [e for e in ERRORS if e in text]
    if found:  # an error page is not the page to check
        return [f"{name} {path}: shows {found}"]
    return violations(driver, name, path)


def _wait_for(driver, script: str, timeout_s: float = 15.0) -> object:
    """Poll ``script`` until it returns something true, or the deadline; its last answer."""
    deadline = time.monotonic() + timeout_s
    while not (answer := driver.execute_script(script)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return answer


def _english_login(driver, base: str) -> list[str]:
    """Switch the login page to English: the page then tells the browser (and screen readers) so."""
    from selenium.webdriver.common.by import By

    driver.get(base + "/login")
    _settle(driver)
    driver.find_element(By.XPATH, "//button[normalize-space(.)='EN']").click()
    lang = _wait_for(driver, "return document.documentElement.lang === 'en' && document.documentElement.lang")
    problems = [] if lang == "en" else [
        f"/login in English: <html lang> is {driver.execute_script('return document.documentElement.lang')!r}"]
    _settle(driver)
    return problems + _check(driver, base, "login-en", "/login", load=False)


# the focused element draws an outline, or is the input of a Quasar field that shows its own focused frame
_FOCUS = """
const e = document.activeElement;
if (!e || e === document.body) return null;
const s = getComputedStyle(e);
if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1) return '';
const field = e.closest('.q-field');
if (field && field.classList.contains('q-field--focused')) return '';
return e.outerHTML.slice(0, 120);
"""
TABS = 40  # the header, the menu and the top of the page


def _focus_visible(driver, base: str, path: str) -> list[str]:
    """Walk the page with Tab: every control the keyboard reaches shows that it has the focus."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.get(base + path)
    _settle(driver)
    problems, reached = [], 0
    for _ in range(TABS):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        hidden = driver.execute_script(_FOCUS)
        if hidden is None:
            continue
        reached += 1
        if hidden:
            problems.append(f"{path}: keyboard focus not visible on {hidden}")
    if reached < TABS // 2:
        problems.append(f"{path}: Tab reached only {reached} controls in {TABS} presses")
    return problems


def test_no_serious_accessibility_violation_on_any_page(tmp_path: Path) -> None:
    demo = Demo(tmp_path / "data", free_port(), "--history-days", str(HISTORY_DAYS))
    demo.start()
    problems: list[str] = []
    try:
        base = f"http://127.0.0.1:{demo.port}"
        driver = _driver(WIDTH)
        try:  # signed out first: the login page and the residents' app before anyone signs in
            for name, path in SIGNED_OUT:
                problems += _check(driver, base, name, path)
            problems += _english_login(driver, base)
        finally:
            driver.quit()
        # every signed-in page is checked where it is photographed (tests/e2e/test_screens.py): here the
        # keyboard's walk over the dispatcher's first page
        driver = _driver(WIDTH)
        try:
            _login(driver, base, DISPATCHER)
            problems += _focus_visible(driver, base, "/")
        finally:
            driver.quit()
    finally:
        assert demo.stop() == 0, demo.text()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
