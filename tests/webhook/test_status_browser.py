"""The status page in a real headless Chromium: it shows deploys and follows a log live."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import redis
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from jobs.state.keys import last_good as last_good_key
from jobs.state.keys import lock as lock_key
from jobs.state.records import DeployStore, utc_time
from tests.support.browser import browser_missing, chromium, serving, sign_in
from tests.support.status import make_deploy, set_json, stage, status_app

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
# Set to docs/screenshots to refresh the README's pictures; by default they go to tmp_path.
SCREENSHOT_DIR = os.environ.get("DEPLOYHOOK_SCREENSHOT_DIR")
WAIT = 30  # an upper bound for slow machines, not a speed requirement


def _history(store: DeployStore, connection: redis.Redis) -> None:
    """A few finished deploys, so the pages look like a week of real use."""
    day = "2026-11-23T09:"
    good = make_deploy(
        store, "prod", ref_kind="tag", ref_name="v1.4.0", sha="9f1c2e4b" + "0" * 32,
        trigger="github tag push", sender="alice", state="succeeded",
        started_at=f"{day}00:01Z", finished_at=f"{day}02:39Z",
        stages=[stage("lock", f"{day}00:01Z", f"{day}00:01.2Z"),
                stage("backup", f"{day}00:01.2Z", f"{day}00:19Z"),
                stage("checkout", f"{day}00:19Z", f"{day}00:21Z"),
                stage("build", f"{day}00:21Z", f"{day}01:58Z"),
                stage("swap", f"{day}01:58Z", f"{day}02:09Z"),
                stage("migrate", f"{day}02:09Z", f"{day}02:14Z"),
                stage("health", f"{day}02:14Z", f"{day}02:39Z")],
    )  # fmt: skip
    make_deploy(
        store, "dev", ref_name="main", sha="4be07d1a" + "0" * 32, sender="bob",
        state="reverted", started_at=f"{day}30:00Z", finished_at=f"{day}33:10Z",
        failed_stage="health", error="health: expected 200 from /api/v1/healthz, got 502",
        restored_backup="crm_dev-20261123-093000.sql.gz",
    )  # fmt: skip
    set_json(connection, last_good_key("crm/prod"),
             {"deploy_id": good.id, "sha": good.sha, "at": f"{day}02:39Z"})  # fmt: skip
    set_json(connection, lock_key("crm/prod"),
             {"deploy_id": None, "reason": "locked by operator via API: quarterly audit",
              "since": "2026-11-24T08:00:00Z"})  # fmt: skip


def _text(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def test_deploy_page_follows_log_and_state_live(redis_conn: redis.Redis, tmp_path: Path) -> None:
    """Chromium sees the deploy on /, then its new log lines, its final state, and a warning
    that comes after it (an old container not removed after its drain), without a reload."""
    store = DeployStore(redis_conn)
    _history(store, redis_conn)
    deploy = make_deploy(store, "dev", sha="c0ffee12" + "0" * 32, sender="carol")
    store.append_log(deploy.id, "queued by github push from carol")
    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)

    with serving(status_app(redis_conn)) as base, chromium(tmp_path / "profile") as driver:
        wait = WebDriverWait(driver, WAIT)
        sign_in(driver, base)
        driver.get(f"{base}/")
        card = driver.find_element(By.ID, "env-crm-dev")
        assert "main @ c0ffee1" in card.text and "queued" in card.text
        assert "quarterly audit" in _text(driver, "#env-crm-prod")
        driver.save_screenshot(str(shots / "environments.png"))
        driver.set_window_size(400, 900)  # a phone: cards stack, nothing overflows sideways
        assert driver.execute_script("return document.body.scrollWidth <= window.innerWidth;")
        driver.save_screenshot(str(shots / "environments-phone.png"))
        driver.set_window_size(1280, 1000)

        driver.get(f"{base}/deploys")
        assert deploy.id in _text(driver, "table.history")
        driver.save_screenshot(str(shots / "deploys.png"))

        driver.get(f"{base}/")
        driver.find_element(By.CSS_SELECTOR, "#env-crm-dev a.deploy-link").click()
        wait.until(lambda d: d.current_url.endswith(f"/deploys/{deploy.id}"))
        wait.until(lambda d: _text(d, "#live-status") == "live")
        # A reload would drop this marker: its survival proves the updates came in place.
        driver.execute_script("window.stillTheSamePage = true;")

        running = store.transition(
            store.get(deploy.id), "running", worker="deploy-1:4242",
            stages=[stage("backup", "2026-11-24T10:00:00Z", "2026-11-24T10:00:12Z"),
                    stage("build", "2026-11-24T10:00:12Z", None, "running")],
        )  # fmt: skip
        store.append_log(deploy.id, "backup: wrote crm_dev.sql.gz (2.1 MB)", "build: api <ok>")
        wait.until(lambda d: "build: api <ok>" in _text(d, "#log"))
        wait.until(lambda d: _text(d, "#deploy-state") == "running")
        assert "backup: wrote crm_dev.sql.gz" in _text(driver, "#log")

        store.append_log(deploy.id, "health: 200 OK after 3 s")
        done = store.transition(
            running, "succeeded", draining={"0ld0a1b2c3d4e5f6": utc_time(time.time() + WAIT)},
            stages=[stage("backup", "2026-11-24T10:00:00Z", "2026-11-24T10:00:12Z"),
                    stage("build", "2026-11-24T10:00:12Z", "2026-11-24T10:01:40Z"),
                    stage("health", "2026-11-24T10:01:40Z", "2026-11-24T10:01:43Z")],
        )  # fmt: skip
        wait.until(lambda d: _text(d, "#deploy-state") == "succeeded")
        wait.until(lambda d: "old containers draining (0ld0a1b2c3d4)" in _text(d, "#live-status"))
        assert "health: 200 OK after 3 s" in _text(driver, "#log")
        assert not driver.find_element(By.ID, "deploy-warnings").is_displayed()

        warning = "api: retiring the old container(s) 0ld0a1b2c3d4 failed: <No such container>"
        store.append_log(deploy.id, warning)
        done.draining, done.warnings = {}, [warning]
        store.amend(done, report=True)
        wait.until(lambda d: _text(d, "#live-status") == "finished")
        assert _text(driver, "#deploy-warnings li") == warning
        assert warning in _text(driver, "#log")
        assert "1m 28s" in _text(driver, "#stages")
        assert driver.execute_script("return window.stillTheSamePage === true;")
        driver.save_screenshot(str(shots / "deploy.png"))
