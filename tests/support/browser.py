"""A real headless Chromium (Debian's), driven through Debian's chromedriver, loopback only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from tests.support.http_thread import in_thread
from tests.support.users import PASSWORDS, user_name

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    # Anything not on loopback goes to a closed local port: no request can leave the machine.
    "--proxy-server=http://127.0.0.1:9",
    "--window-size=1280,900",
]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and its driver exist."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} is missing: run scripts/install-system-packages test"
    return None


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 with werkzeug in a thread; yield its base URL."""
    with in_thread(make_server("127.0.0.1", 0, app, threaded=True)) as base:
        yield base


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """Start Chromium with a fresh profile in `profile`; quit it on exit."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # Both paths are given, so Selenium Manager has nothing to look up or download.
    os.environ["SE_OFFLINE"] = "true"
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver: webdriver.Chrome, base: str, role: str = "viewer") -> None:
    """Sign in through the login form as the test user of `role` (tests/support/users.py)."""
    driver.get(f"{base}/login")
    driver.find_element(By.NAME, "username").send_keys(user_name(role))
    driver.find_element(By.NAME, "password").send_keys(PASSWORDS[role])
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)
