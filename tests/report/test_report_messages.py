"""What people read: Slack messages and the generic JSON webhook's versioned payload."""

from __future__ import annotations

from typing import Any

import pytest

from config import Settings
from jobs.report import json_webhook, slack
from jobs.report.text import describe
from jobs.state.records import Deploy
from tests.support.provider_server import ProviderServer
from tests.support.report_setup import PREVIOUS, PUBLIC_URL, SHA, new_deploy, settings_for

DEPLOY_ID = "d-20260101-120000-abcdef"
BACKUP = "/var/backups/crm/prod/d-20260101-120000-abcdef.sql.gz"


@pytest.fixture
def settings(provider: ProviderServer) -> Settings:
    return settings_for(provider)


def _deploy(state: str, project: str = "crm", **changes: Any) -> Deploy:
    return new_deploy(
        project,
        id=DEPLOY_ID,
        state=state,
        created_at="2026-01-01T12:00:00.000Z",
        started_at="2026-01-01T12:00:05.000Z",
        finished_at="2026-01-01T12:02:18.000Z" if state != "running" else None,
        previous_sha=PREVIOUS,
        **changes,
    )


def _slack(settings: Settings, deploy: Deploy) -> dict[str, Any]:
    assert settings.notify.slack is not None
    body = slack.message(settings, settings.notify.slack, deploy)
    assert body is not None
    return body


def _texts(body: dict[str, Any]) -> str:
    """All the words of a message's blocks, as Slack would show them, one block per line."""
    parts = []
    for block in body["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(item["text"] for item in block.get("fields", []))
        parts.extend(item["text"] for item in block.get("elements", []))
    return "\n".join(parts)


def test_success_message(settings: Settings) -> None:
    """A success names project, environment, ref, linked commit, pusher, duration and log."""
    body = _slack(settings, _deploy("succeeded"))
    assert body["text"] == (
        ":white_check_mark: Deployed crm → prod: tag v1.4.0 (1f2e3d4) by octocat in 2m 13s"
    )
    assert body["blocks"] == [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": ":white_check_mark: Deployed crm → prod",
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Ref*\ntag `v1.4.0`"},
                {
                    "type": "mrkdwn",
                    "text": f"*Commit*\n<https://github.com/acme/crm/commit/{SHA}|1f2e3d4>",
                },
                {"type": "mrkdwn", "text": "*Pushed by*\noctocat (github tag push)"},
                {"type": "mrkdwn", "text": "*Duration*\n2m 13s"},
            ],
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"<{PUBLIC_URL}/deploys/{DEPLOY_ID}|Deploy log> · {DEPLOY_ID}",
                }
            ],
        },
    ]


def test_reverted_message_says_what_failed_and_what_was_restored(settings: Settings) -> None:
    """A revert names the failing stage, the error's last lines and the restored backup."""
    error = "\n".join(f"line {number}" for number in range(1, 41))
    deploy = _deploy("reverted", failed_stage="migrate", error=error, restored_backup=BACKUP)
    body = _slack(settings, deploy)
    assert body["text"] == (
        ":rewind: Deploy to crm → prod failed and was reverted: tag v1.4.0 (1f2e3d4) "
        "by octocat in 2m 13s - migrate failed"
    )
    words = _texts(body)
    assert "*Failed stage*\nmigrate" in words
    assert "```" + "\n".join(f"line {n}" for n in range(29, 41)) + "```" in words
    assert "line 28" not in words
    assert (
        f"*Restored*: code and images back to `{PREVIOUS[:7]}`; database restored from "
        f"{BACKUP.rsplit('/', 1)[-1]}."
    ) in words


def test_reverted_message_names_the_kept_database(settings: Settings) -> None:
    """A restore's Slack message says since when writes were kept, and the kept file's path."""
    kept = "/var/backups/crm/prod/prod-kept-20260101T120150Z-d-20260101-120000-abcdef.dump"
    deploy = _deploy(
        "reverted",
        failed_stage="health",
        restored_backup=BACKUP,
        kept_database=kept,
        kept_writes_since="2026-01-01T12:00:06Z",
    )
    words = _texts(_slack(settings, deploy))
    assert "writes since 12:00:06 kept in prod-kept-20260101T120150Z-d-" in words
    assert f"Kept copy: `{kept}`" in words


def test_reverted_without_a_database_change_says_not_restored(settings: Settings) -> None:
    """A revert that left the data alone says so in Slack."""
    deploy = _deploy("reverted", failed_stage="health", database_change="unchanged")
    words = _texts(_slack(settings, deploy))
    assert "; database unchanged: not restored." in words


def test_failure_before_any_change_says_nothing_changed(settings: Settings) -> None:
    """A failure before any change says the environment still runs the previous commit."""
    body = _slack(settings, _deploy("failed", failed_stage="backup", error="disk full"))
    assert body["text"].startswith(":x: Deploy to crm → prod failed; nothing was changed")
    assert f"*Nothing changed*: the environment still runs `{PREVIOUS[:7]}`." in _texts(body)


def test_revert_failure_is_loud(settings: Settings) -> None:
    """A failed revert mentions the on-call group and says the state left and the backup."""
    deploy = _deploy(
        "revert_failed",
        failed_stage="health",
        error="health: expected HTTP 200, got 502",
        backup=BACKUP,
        revert_error="up -d: image crm-api:9a8b7c6 not found",
    )
    body = _slack(settings, deploy)
    assert body["text"].startswith(
        "<!subteam^S0123|oncall> :rotating_light: REVERT FAILED on crm → prod: needs attention"
    )
    words = _texts(body)
    assert "<!subteam^S0123|oncall> *the deploy needs you*" in words
    assert "*The revert failed too*\n```up -d: image crm-api:9a8b7c6 not found```" in words
    assert f"*Left in*: an unknown mix of `1f2e3d4` (new) and `{PREVIOUS[:7]}`" in words
    assert f"*Backup to restore*: `{BACKUP}`" in words


def test_interrupted_deploy_is_loud_and_names_the_holder(settings: Settings) -> None:
    """A deploy that lost its lock mentions the on-call group and says who holds the lock."""
    holder = "deploy d-20261127-161530-483-9f1c2a7be04d8c11 on w2 (pid 7) since t: deploy"
    deploy = _deploy(
        "interrupted",
        failed_stage="checkout",
        error="INTERRUPTED during checkout: lost the lock of crm/prod",
        interrupted_by=holder,
    )
    body = _slack(settings, deploy)
    assert body["text"].startswith(
        "<!subteam^S0123|oncall> :rotating_light: Deploy to crm → prod INTERRUPTED: "
        "it lost the lock"
    )
    words = _texts(body)
    assert "<!subteam^S0123|oncall> *the deploy needs you*" in words
    assert f"*Stopped*: the lock is now held by {holder}; this deploy changed nothing" in words
    assert describe(deploy) == f"INTERRUPTED: lost the lock of prod to {holder}"


def test_user_text_cannot_become_markup(settings: Settings) -> None:
    """Errors and names with <, > and & are escaped so they never turn into links or pings."""
    deploy = _deploy(
        "failed", failed_stage="build", error="<!channel> & <http://x|y>", sender="<@U1>"
    )
    body = _slack(settings, deploy)
    words = _texts(body)
    assert "&lt;!channel&gt; &amp; &lt;http://x|y&gt;" in words
    assert "<!channel>" not in words + body["text"]
    assert "<@U1>" not in words + body["text"]


def test_start_message_only_when_asked(provider: ProviderServer) -> None:
    """`running` is silent in Slack unless notify_start is on."""
    quiet = settings_for(provider)
    loud = settings_for(provider, slack={"webhook_url": provider.url("/s/x"), "notify_start": True})
    assert quiet.notify.slack is not None and loud.notify.slack is not None
    assert slack.message(quiet, quiet.notify.slack, _deploy("running")) is None
    started = slack.message(loud, loud.notify.slack, _deploy("running"))
    assert started is not None
    assert started["text"] == ":rocket: Deploying crm → prod: tag v1.4.0 (1f2e3d4) by octocat"


def test_gitlab_commit_links_use_gitlabs_path(settings: Settings) -> None:
    """Commits of a GitLab project link to https://gitlab.com/<path>/-/commit/<sha>."""
    body = _slack(settings, _deploy("succeeded", project="shop"))
    assert f"<https://gitlab.com/acme/web/shop/-/commit/{SHA}|1f2e3d4>" in _texts(body)


def test_json_webhook_payload_is_the_documented_v1_schema(settings: Settings) -> None:
    """The generic webhook sends schema deployhook.deploy/v1 with exactly the documented keys."""
    deploy = _deploy(
        "reverted",
        failed_stage="migrate",
        error="boom",
        restored_backup=BACKUP,
        backup=BACKUP,
    )
    assert json_webhook.payload(settings, deploy) == {
        "schema": "deployhook.deploy/v1",
        "event": "reverted",
        "deploy": {
            "id": DEPLOY_ID,
            "project": "crm",
            "environment": "prod",
            "production": True,
            "state": "reverted",
            "ref": {"kind": "tag", "name": "v1.4.0"},
            "sha": SHA,
            "previous_sha": PREVIOUS,
            "sender": "octocat",
            "trigger": "github tag push",
            "delivery_id": "guid-1",
            "created_at": "2026-01-01T12:00:00.000Z",
            "started_at": "2026-01-01T12:00:05.000Z",
            "finished_at": "2026-01-01T12:02:18.000Z",
            "failed_stage": "migrate",
            "error": "boom",
            "backup": BACKUP,
            "restored_backup": BACKUP,
            "database_change": None,
            "kept_database": None,
            "kept_writes_since": None,
            "offsite_snapshot": None,
            "offsite_error": None,
            "database": f"database restored from {BACKUP.rsplit('/', 1)[-1]}",
            "revert_error": None,
            "interrupted_by": None,
            "warnings": [],
            "deployed": False,
            "blocked_by": None,
            "waiting_for": None,
            "override_reason": None,
            "log_url": f"{PUBLIC_URL}/deploys/{DEPLOY_ID}",
            "commit_url": f"https://github.com/acme/crm/commit/{SHA}",
            "environment_url": "https://crm.example.com",
        },
    }


def test_warnings_are_in_slack_messages_after_what_matters_more(settings: Settings) -> None:
    """A success with a warning says so in its headline and text; a failure keeps its cause
    and error first and adds the warning after them; without warnings nothing changes."""
    warning = "api: retiring the old container(s) 0123456789ab failed: <No such container>"
    body = _slack(settings, _deploy("succeeded", warnings=[warning]))
    assert body["text"].startswith(":warning: Deployed crm → prod, with 1 warning: tag v1.4.0")
    assert "*Warning*: api: retiring the old container(s) 0123456789ab failed: &lt;No such" in (
        _texts(body)
    )
    failed = _texts(_slack(settings, _deploy("failed", error="boom", warnings=[warning])))
    assert failed.index("*Error*") < failed.index("*Warning*")
    assert "Warning" not in _texts(_slack(settings, _deploy("succeeded")))
