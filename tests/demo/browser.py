"""Headless Chromium (Debian's `chromium` + `chromium-driver`) driven by Selenium."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Without the background-networking flags Chromium keeps calling home on a closed network.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1680,1050", "--hide-scrollbars",
)  # fmt: skip


def chromium(profile: Path) -> webdriver.Chrome:
    """A fresh headless Chromium; fails the test (never skips it) when it cannot start."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.fail(
            f"the browser test needs {' and '.join(missing)}: run ./dev setup "
            "(it runs apt-get install -y chromium chromium-driver)"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    try:
        return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    except Exception as exc:  # the WebDriver error names what went wrong
        pytest.fail(f"headless Chromium did not start: {exc}")
