"""Browser smoke test: `domuchet demo` as a newcomer runs it, driven by headless Chromium.

Starts the demo on free ports, logs in as the demo dispatcher, waits for a whole day of
consumption on the building page and saves a screenshot under the test's output directory;
then stops the demo with Ctrl-C (SIGINT), checks it stopped cleanly, starts it again on the
same data directory and checks that it continues from the stored state.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.browser

if not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"):
    pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)", allow_module_level=True)


class Demo:
    def __init__(self, data_dir: Path, port: int, *extra: str) -> None:
        self.data_dir = data_dir
        self.port = port
        self.extra = list(extra)  # more command-line arguments of `domuchet demo`
        self.ports = [str(free_port()) for _ in range(5)]
        self.out = data_dir.parent / f"demo-{time.monotonic_ns()}.out"

    def start(self) -> None:
        self.log = open(self.out, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "domuchet", "demo", "--data-dir", str(self.data_dir), "--port", str(self.port),
             "--nats-port", self.ports[0], "--mqtt-port", self.ports[1], "--modbus-port", self.ports[2],
             "--weather-port", self.ports[3], "--billing-port", self.ports[4], "--speed", "3600", *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=_plain_env(), cwd=self.data_dir.parent)
        deadline = time.monotonic() + 90
        while "demo is up" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"demo did not come up:\n{self.text()}")
            time.sleep(0.3)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            code = self.proc.wait(timeout=90)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()
        return code

    def sql(self, query: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "domuchet", "sql", "--data-dir", str(self.data_dir), query],
                              capture_output=True, text=True, timeout=60, check=False)


def _plain_env() -> dict[str, str]:
    """The environment without pytest's and NiceGUI's test markers: NiceGUI switches ui.run
    into test mode when it sees PYTEST_CURRENT_TEST, and the demo must run as a user runs it."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or "/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def test_demo_in_a_browser(tmp_path: Path, browser) -> None:
    from selenium.webdriver.common.by import By

    demo = Demo(tmp_path / "data", free_port())
    demo.start()
    try:
        base = f"http://127.0.0.1:{demo.port}"
        browser.get(base + "/buildings/1")  # not logged in: sent to the login page
        inputs = browser.find_elements(By.CSS_SELECTOR, "input")
        inputs[0].send_keys("dispatcher")
        inputs[1].send_keys("dispatcher-demo")
        browser.find_element(By.XPATH, "//button[contains(., 'Войти')]").click()
        # wait for a whole day of heat consumption on the building page (commissioning 23:00 + 25 h at x3600)
        deadline = time.monotonic() + 120
        while True:
            browser.get(base + "/buildings/1")
            time.sleep(2)
            cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "td")]
            if any(re.fullmatch(r"\d+,\d{3}", c) for c in cells):
                break
            if time.monotonic() > deadline:
                browser.save_screenshot(str(tmp_path / "building-no-data.png"))
                pytest.fail(f"no whole day of consumption on the building page; cells: {cells[:20]}")
        assert "Потребление ресурса по объекту" in browser.page_source
        shot = tmp_path / "building.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
        # the signed-in browser's storage (its session token) is in the data directory, owner-only
        stored = list((demo.data_dir / "cloud" / "ui-storage").glob("storage-user-*.json"))
        assert stored
        assert all(p.stat().st_mode & 0o077 == 0 for p in stored)
        assert not (demo.data_dir.parent / ".nicegui").exists()

        through_api = demo.sql("SELECT count() FROM domuchet.archive FINAL")
        assert through_api.returncode == 0, through_api.stderr
        before = int(through_api.stdout.strip())
        assert before > 0
        refused = demo.sql("ALTER TABLE domuchet.archive DELETE WHERE 1")
        assert refused.returncode == 2
        assert "refused" in refused.stderr
    finally:
        code = demo.stop()
    assert code == 0, demo.text()
    assert "demo stopped" in demo.text()

    # started again on the same data directory: it continues, nothing stored is lost
    direct = demo.sql("SELECT count() FROM domuchet.archive FINAL")  # no cloud running: reads the directory
    assert direct.returncode == 0, direct.stderr
    assert int(direct.stdout.strip()) >= before
    state = (demo.data_dir / "sim" / "state.json").read_text()
    demo.start()
    try:
        time.sleep(5)
        again = demo.sql("SELECT count() FROM domuchet.archive FINAL")
        assert again.returncode == 0, again.stderr
        assert int(again.stdout.strip()) >= before
        assert (demo.data_dir / "sim" / "state.json").read_text() != state  # the simulated clock moved on
        first_commissioning = re.search(r'"commissioning": "([^"]+)"', state).group(1)
        assert first_commissioning in (demo.data_dir / "sim" / "state.json").read_text()
    finally:
        assert demo.stop() == 0
