"""Real deploys of the sample app, reported to loopback stand-ins for GitHub and Slack.

The whole sequence a team sees, for a success, a revert and a revert that fails: commit
statuses on the deployed commit, the GitHub Deployment's statuses, and the Slack messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import Settings
from tests.support.deploying import config_for, deploy
from tests.support.failures import assert_cause
from tests.support.provider_server import GITHUB, SLACK, ProviderServer
from tests.support.report_setup import FAST_DELIVERY, GITHUB_TOKEN
from tests.support.sample_app import SHORT_HEALTH

pytestmark = pytest.mark.docker
STATUSES = f"{GITHUB}/repos/acme/sample/statuses/"
DEPLOYMENTS = f"{GITHUB}/repos/acme/sample/deployments"


def _settings(
    sample_app: Any, provider: ProviderServer, tmp_path: Path, redis_url: str,
    health_timeout: float = 30, **environment: Any,
) -> Settings:  # fmt: skip
    configured = sample_app.environment_config(health_timeout)
    config = config_for({**configured, **environment}, tmp_path / "state", redis_url)
    config["server"] = {"public_url": "https://deploy.example.com"}
    config["notify"] = {
        "github": {"token": GITHUB_TOKEN, "api_url": provider.url(GITHUB)},
        "slack": {"webhook_url": provider.url(SLACK), "mention": "<!here>"},
        "delivery": FAST_DELIVERY,
    }
    config["projects"]["sample"]["repo"] = "github.com/acme/sample"
    return Settings.model_validate(config)


def _reported(provider: ProviderServer, sha: str) -> dict[str, Any]:
    statuses = [seen.body for seen in provider.to(STATUSES + sha)]
    created = [seen.body for seen in provider.seen if seen.path == DEPLOYMENTS]
    deployment = [seen.body["state"] for seen in provider.to(DEPLOYMENTS + "/")]
    slack = [seen.body["text"] for seen in provider.to(SLACK)]
    return {"statuses": statuses, "created": created, "deployment": deployment, "slack": slack}


def test_success_is_reported_in_order(
    sample_app, provider, tmp_path, redis_url, redis_conn
) -> None:
    """queued -> running -> succeeded reaches GitHub and Slack, on the deployed commit."""
    settings = _settings(sample_app, provider, tmp_path, redis_url)
    sha = sample_app.good_change()
    record = deploy(settings, redis_conn, sha)
    assert record.state == "succeeded", record.error
    seen = _reported(provider, sha)
    assert [s["state"] for s in seen["statuses"]] == ["pending", "pending", "success"]
    assert all(s["context"] == "deployhook/dev" for s in seen["statuses"])
    assert seen["statuses"][-1]["target_url"] == f"https://deploy.example.com/deploys/{record.id}"
    assert [c["ref"] for c in seen["created"]] == [sha]
    assert seen["deployment"] == ["queued", "in_progress", "success"]
    assert len(seen["slack"]) == 1 and "dev" in seen["slack"][0]


def test_revert_is_reported_as_a_failure(
    sample_app, provider, tmp_path, redis_url, redis_conn
) -> None:
    """A reverted deploy is a failure everywhere, never a success, naming what it went back to."""
    settings = _settings(sample_app, provider, tmp_path, redis_url)
    previous = sample_app.checked_out()
    sha = sample_app.failing_migration()
    record = deploy(settings, redis_conn, sha)
    assert record.state == "reverted", record.error
    assert_cause(record, "RuntimeError: migration failed midway on purpose")
    seen = _reported(provider, sha)
    assert [s["state"] for s in seen["statuses"]] == ["pending", "pending", "failure"]
    assert f"reverted to {previous[:7]}" in seen["statuses"][-1]["description"]
    assert seen["deployment"] == ["queued", "in_progress", "failure"]
    [message] = seen["slack"]
    assert "reverted" in message and "migrate" in message
    assert "success" not in [s["state"] for s in seen["statuses"]]


def test_failed_revert_is_loud(sample_app, provider, tmp_path, redis_url, redis_conn) -> None:
    """A revert that cannot bring the old version back is an error, with the mention in Slack.

    The environment has no database backup configured, so the destructive migration's damage
    cannot be undone and the previous code stays unhealthy.
    """
    settings = _settings(
        sample_app, provider, tmp_path, redis_url, health_timeout=SHORT_HEALTH, database=None
    )
    sha = sample_app.destructive_migration_unhealthy_code()
    record = deploy(settings, redis_conn, sha)
    assert record.state == "revert_failed", record.error
    assert "REVERT FAILED, needs a human" in (record.error or "")
    assert_cause(record, "not healthy within")
    seen = _reported(provider, sha)
    assert [s["state"] for s in seen["statuses"]] == ["pending", "pending", "error"]
    assert seen["statuses"][-1]["description"].startswith("REVERT FAILED")
    assert seen["deployment"] == ["queued", "in_progress", "error"]
    [message] = seen["slack"]
    assert message.startswith("<!here>") and "REVERT FAILED" in message
