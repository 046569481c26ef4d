"""How reports word a migration rehearsal and a webhook that a live or newer commit made moot."""

from __future__ import annotations

from typing import Any

import pytest

from config import Settings
from jobs.report import slack
from jobs.report.text import describe
from tests.support.provider_server import ProviderServer
from tests.support.report_setup import new_deploy, settings_for

STAMPS = {
    "created_at": "2026-01-01T12:00:00.000Z",
    "started_at": "2026-01-01T12:00:05.000Z",
    "finished_at": "2026-01-01T12:02:18.000Z",
}


@pytest.fixture
def settings(provider: ProviderServer) -> Settings:
    return settings_for(provider)


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({"state": "succeeded"}, "deployed to prod in 2m 13s"),
        (
            {"state": "succeeded", "rehearsal_seconds": 95.24, "rehearsal_slow": True},
            "deployed to prod in 2m 13s; slow migration rehearsal: 95.2s (slow)",
        ),
        ({"state": "succeeded", "rehearsal_seconds": 3.0}, "deployed to prod in 2m 13s"),
        ({"state": "superseded"}, "not deployed to prod: a newer push replaced it"),
        ({"state": "superseded", "error": "already live"}, "not deployed to prod: already live"),
    ],
)
def test_describe(changes: dict[str, Any], text: str) -> None:
    """Commit statuses say when the rehearsal was slow and why a webhook deployed nothing."""
    assert describe(new_deploy("crm", **STAMPS, **changes)) == text


def test_slack_shows_the_rehearsal_time(settings: Settings) -> None:
    """Slack's facts carry the rehearsal's time, marked when slow."""
    assert settings.notify.slack is not None
    deploy = new_deploy(
        "crm", state="succeeded", rehearsal_seconds=95.24, rehearsal_slow=True, **STAMPS
    )
    body = slack.message(settings, settings.notify.slack, deploy)
    assert body is not None
    fields = [item["text"] for block in body["blocks"] for item in block.get("fields", [])]
    assert "*Migration rehearsal*\n95.2s (slow)" in fields
