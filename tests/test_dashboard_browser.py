"""The dashboard in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Selenium), a real server on loopback, and a store that a real
`nasforge search` in another process is filling. The page must show the experiment and show
a newly finished trial without being reloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nasforge.run.storage import Store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL = "apt-get install -y chromium chromium-driver (as root), and pip install selenium"

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        reason = f"needs {', '.join(missing)}: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _finished(store: Path, name: str) -> int:
    if not store.exists():
        return 0
    try:
        with Store(store, read_only=True) as journal:
            record = journal.get_experiment(name)
            if record is None:
                return 0
            return sum(1 for t in journal.trials(record.id) if t.finished)
    except Exception:  # the search is creating the file right now
        return 0


def _wait(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.fixture
def search(tmp_path: Path) -> Iterator[Path]:
    """A training search on digits that keeps writing trials for minutes."""
    store = tmp_path / "live.sqlite"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nasforge.cli",
            "search",
            "--task",
            "digits",
            "--budget",
            "300",
            "--epochs",
            "3",
            "--final-epochs",
            "0",
            "--threads",
            "1",
            "--store",
            str(store),
            "--name",
            "live",
            "--out",
            str(tmp_path / "model"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait(
            lambda: _finished(store, "live") >= 1 or process.poll() is not None,
            120,
            "the first trial",
        )
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        yield store
    finally:
        process.terminate()  # a search stops cleanly on SIGTERM, its workers with it
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def dashboard(search: Path) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "nasforge.cli", "dashboard", "--store", str(search), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert " on http://127.0.0.1:" in line, line + (
            process.stderr.read() if process.stderr else ""
        )
        yield line.split(" on ")[1].split()[0]
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def browser() -> Iterator[object]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,2000",
    ):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_new_trial_appears_without_a_reload(
    dashboard: str, search: Path, browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    browser.get(dashboard)
    link = browser.find_element(By.LINK_TEXT, "live")
    link.click()
    assert browser.find_element(By.CSS_SELECTOR, "header h1").text == "live"
    shown = int(browser.find_element(By.ID, "trial-count").text)
    assert shown >= 1
    browser.execute_script("window.nasforgeMarker = 'same page';")
    _wait(lambda: _finished(search, "live") > shown, 180, "the search's next trial")
    _wait(
        lambda: int(browser.find_element(By.ID, "trial-count").text) > shown,
        60,
        "the page to show the new trial",
    )
    assert browser.execute_script("return window.nasforgeMarker;") == "same page"  # no reload
    newest = max(
        int(row.get_attribute("data-trial"))
        for row in browser.find_elements(By.CSS_SELECTOR, "#all-trials tr[data-trial]")
    )
    assert newest >= shown
    assert "updated" in browser.find_element(By.ID, "live-status").text
    screenshot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
