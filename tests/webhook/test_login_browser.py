"""Signing in with a real headless Chromium: password, sign-out, a wrong password, a forged CSRF
token, and OpenID Connect against a loopback provider built from authlib's server pieces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from config import Secret
from config.auth import Oidc
from jobs.state import audit
from tests.support.browser import browser_missing, chromium, serving
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Person, Provider, provider_app
from tests.support.status import example_settings, status_app
from tests.support.users import PASSWORDS, user_name

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
WAIT = 30  # an upper bound for slow machines, not a speed requirement


def _text(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def _fill(driver: WebDriver, role: str, password: str) -> None:
    driver.find_element(By.NAME, "username").send_keys(user_name(role))
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[WebDriver]:
    with chromium(tmp_path / "profile") as started:
        yield started


def test_password_sign_in_wrong_password_and_sign_out(
    redis_conn: redis.Redis, driver: WebDriver
) -> None:
    """A page sends the browser to /login; a wrong password is refused there; the right one
    opens the page asked for; signing out closes it again."""
    wait = WebDriverWait(driver, WAIT)
    with serving(status_app(redis_conn, role=None)) as base:
        driver.get(f"{base}/deploys")
        wait.until(lambda d: "/login" in d.current_url)
        _fill(driver, "deployer", "not the password at all")
        wait.until(lambda d: d.find_elements(By.ID, "login-error"))
        assert _text(driver, "#login-error") == "wrong user name or password"
        assert not driver.find_elements(By.ID, "who")
        _fill(driver, "deployer", PASSWORDS["deployer"])
        wait.until(lambda d: d.current_url == f"{base}/deploys")
        assert _text(driver, "#who") == "deployer-user (deployer)"
        cookie = driver.get_cookie("deployhook_session")
        assert cookie is not None
        assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
        driver.find_element(By.ID, "sign-out").click()
        wait.until(lambda d: "/login" in d.current_url)
        driver.get(f"{base}/")
        wait.until(lambda d: "/login" in d.current_url)
    actions = [(entry.action, entry.actor) for entry in audit.export(redis_conn)]
    assert actions == [("login-failed", "deployer-user"), ("login", "deployer-user"),
                       ("logout", "deployer-user")]  # fmt: skip


def test_a_forged_csrf_token_is_refused(redis_conn: redis.Redis, driver: WebDriver) -> None:
    """A sign-in form whose CSRF token is not this session's is refused and signs no one in."""
    wait = WebDriverWait(driver, WAIT)
    with serving(status_app(redis_conn, role=None)) as base:
        driver.get(f"{base}/login")
        driver.execute_script(
            "document.querySelector('input[name=csrf_token]').value = arguments[0];",
            "IjVmYjJiZTU0YzQ4ZGYwNDUxN2NhZjU3YmJhNjQ5NTk5YmM0ODQ1MGUi.forged.signature",
        )
        _fill(driver, "admin", PASSWORDS["admin"])
        wait.until(lambda d: "CSRF" in d.page_source)
        driver.get(f"{base}/audit")
        wait.until(lambda d: "/login" in d.current_url)
    assert list(audit.export(redis_conn)) == []


def test_oidc_sign_in_against_a_loopback_provider(
    redis_conn: redis.Redis, driver: WebDriver
) -> None:
    """Single sign-on: the provider (another site: localhost, not 127.0.0.1) sends the browser
    back with a code; deployhook checks the ID token and maps the group to a role."""
    provider = Provider("", "", Person("carol@example.com", ["staff", "deployers"]))
    wait = WebDriverWait(driver, WAIT)
    with serving(provider_app(provider)) as idp:
        provider.issuer = idp.replace("127.0.0.1", "localhost")
        settings = example_settings()
        oidc = Oidc(
            issuer=provider.issuer, client_id=CLIENT_ID, client_secret=Secret(CLIENT_SECRET),
            roles={"deployers": "deployer"}, label="Loopback ID",
        )  # fmt: skip
        settings = settings.model_copy(
            update={"auth": settings.auth.model_copy(update={"oidc": oidc})}
        )
        with serving(status_app(redis_conn, settings, role=None)) as base:
            provider.client.redirect_uri = f"{base}/login/oidc/callback"
            driver.get(f"{base}/deploys")
            wait.until(lambda d: "/login" in d.current_url)
            driver.find_element(By.ID, "sign-in-oidc").click()
            wait.until(lambda d: d.find_elements(By.ID, "consent"))
            assert driver.current_url.startswith(provider.issuer)
            driver.find_element(By.ID, "consent").click()
            wait.until(lambda d: d.current_url == f"{base}/deploys")
            assert _text(driver, "#who") == "carol@example.com (deployer)"
            assert provider.logins == 1
            # The session holds: another page opens without a new trip to the provider.
            driver.get(f"{base}/")
            assert _text(driver, "#who") == "carol@example.com (deployer)"
            assert provider.logins == 1
    [entry] = list(audit.export(redis_conn))
    assert (entry.action, entry.actor, entry.method, entry.role) == (
        "login",
        "carol@example.com",
        "oidc",
        "deployer",
    )
