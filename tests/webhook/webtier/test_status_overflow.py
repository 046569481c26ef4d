"""The status pages on a phone-sized Chromium: full SHAs and long names never widen the page."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from jobs.state.keys import last_good as last_good_key
from jobs.state.records import DeployStore
from tests.support.browser import browser_missing, chromium, serving, sign_in
from tests.support.status import make_deploy, set_json, stage, status_app

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
SHA256 = "5e1f" * 16  # a SHA-256 repository's commit id: 64 characters, no break opportunity
LONG_REF = "release/" + "x" * 120


def test_full_shas_and_long_names_do_not_overflow_a_phone(
    redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """At 400 px, every page with a full SHA in errors, stages and names fits sideways."""
    store = DeployStore(redis_conn)
    deploy = make_deploy(
        store, "dev", sha=SHA256, ref_name=LONG_REF, state="reverted", failed_stage="fetch",
        previous_sha=SHA256, error=f"fetch failed: fetch failed: expected {SHA256}, got {SHA256}",
        stages=[stage("fetch", "2026-01-01T00:00:00Z", "2026-01-01T00:00:02Z", "failed")],
    )  # fmt: skip
    deploy.stages[0].detail = f"git fetch origin {SHA256}:{SHA256} failed"
    store.save(deploy)
    store.append_log(deploy.id, f"checkout {SHA256}{SHA256}")
    set_json(redis_conn, last_good_key("crm/dev"), {"sha": SHA256, "deploy_id": deploy.id})
    with serving(status_app(redis_conn)) as base, chromium(tmp_path / "profile") as driver:
        driver.set_window_size(400, 900)
        sign_in(driver, base)
        for path in ("/", "/deploys", f"/deploys/{deploy.id}"):
            driver.get(f"{base}{path}")
            assert deploy.id in driver.page_source or path == "/", path  # the page, not a refusal
            widths = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth];"
            )
            assert widths[0] <= widths[1], (path, widths)
        page = driver.page_source
        assert "fetch failed: fetch failed" not in page
