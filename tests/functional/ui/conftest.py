"""Shared headless Chromium for the web UI's browser tests.

One ``browser`` fixture (Debian chromium + chromedriver through selenium) and
``screenshot(browser, name)``, which keeps a picture of what a test saw in
``<repo>/artifacts/`` for the docs and for whoever reads a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
ARTIFACTS = os.path.join(ROOT, "artifacts")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1200,800")


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium driven by selenium, quit after the test."""
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("Debian chromium and chromium-driver are needed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(10)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(browser: Any, name: str) -> str:
    """Save the current viewport as ``artifacts/<name>.png`` and return its path; a blank
    or failed capture fails the test."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, f"{name}.png")
    assert browser.save_screenshot(path), path
    assert os.path.getsize(path) > 1000, path
    return path
