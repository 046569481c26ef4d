"""The reporting table (deploy state -> each provider's state) and the shared texts, as tables."""

from __future__ import annotations

import unicodedata

import pytest

from jobs.report.states import (
    events_to_report,
    gitea_state,
    github_deployment_state,
    github_status_state,
    gitlab_state,
    slack_kind,
)
from jobs.report.text import clip, describe, duration
from jobs.state.records import Deploy

# deploy state: GitHub status, GitHub deployment, GitLab, Gitea, Slack (notify_start off / on)
TABLE = [
    ("queued", "pending", "queued", "pending", "pending", None, None),
    ("running", "pending", "in_progress", "running", "pending", None, "start"),
    ("succeeded", "success", "success", "success", "success", "success", "success"),
    ("failed", "failure", "failure", "failed", "failure", "failure", "failure"),
    ("reverted", "failure", "failure", "failed", "failure", "failure", "failure"),
    ("revert_failed", "error", "error", "failed", "error", "revert_failed", "revert_failed"),
    ("superseded", "pending", "inactive", "canceled", "warning", None, None),
    ("cancelled", "error", "inactive", "canceled", "warning", "cancelled", "cancelled"),
    ("interrupted", "error", "error", "failed", "error", "interrupted", "interrupted"),
    ("skipped", "success", "inactive", "skipped", "success", None, None),
]


@pytest.mark.parametrize(
    ("state", "status", "deployment", "gitlab", "gitea", "slack", "slack_with_start"), TABLE
)
def test_state_table(
    state: str,
    status: str,
    deployment: str,
    gitlab: str,
    gitea: str,
    slack: str | None,
    slack_with_start: str | None,
) -> None:
    """Each deploy state maps to the provider states of the README's table."""
    assert github_status_state(state) == status
    assert github_deployment_state(state) == deployment
    assert gitlab_state(state) == gitlab
    assert gitea_state(state) == gitea
    assert slack_kind(state, notify_start=False) == slack
    assert slack_kind(state, notify_start=True) == slack_with_start


@pytest.mark.parametrize(
    ("states", "cursor", "expected"),
    [
        (["queued"], 0, [0]),
        (["queued", "running"], 1, [1]),
        (["queued", "running", "succeeded"], 0, [2]),  # running after succeeded is stale
        (["queued", "running", "succeeded"], 1, [2]),
        (["queued", "running", "succeeded"], 3, []),
        (["queued", "superseded"], 0, [1]),
        (["queued", "running"], 0, [0, 1]),
    ],
)
def test_events_to_report(states: list[str], cursor: int, expected: list[int]) -> None:
    """Snapshots are reported in order, and none older than a final state is reported at all."""
    assert events_to_report(states, cursor) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 140, "short"),
        ("two\n  lines\tjoined", 140, "two lines joined"),
        ("abcdefghij", 5, "abcd…"),
        ("ab  cdefgh", 4, "ab…"),  # no space before the ellipsis
        ("abce\u0301fg", 5, "abc…"),  # é as e + combining accent is not split
        ("ab\U0001f468\u200d\U0001f4bbcd", 5, "ab…"),  # a joined emoji stays whole or goes
        ("é" * 200, 140, "é" * 139 + "…"),  # code points, not bytes
    ],
)
def test_clip(text: str, limit: int, expected: str) -> None:
    """Descriptions fit the limit in characters, on one line, without half a character."""
    assert clip(text, limit) == expected
    assert len(clip(text, limit)) <= limit


def test_clip_never_leaves_a_combining_mark_first_after_the_cut() -> None:
    """Cutting a long accented text keeps each accent with its letter."""
    text = "e\u0301" * 200
    clipped = clip(text, 140)
    assert len(clipped) <= 140
    body = clipped.removesuffix("…")
    assert text.startswith(body)
    assert not unicodedata.combining(text[len(body)])


def _deploy(**changes: object) -> Deploy:
    deploy = Deploy(
        id="d-20260101-120000-abcdef",
        project="crm",
        environment="prod",
        ref_kind="tag",
        ref_name="v1.4.0",
        sha="a" * 40,
        trigger="github tag push",
        created_at="2026-01-01T12:00:00.000Z",
        started_at="2026-01-01T12:00:05.000Z",
        finished_at="2026-01-01T12:02:18.000Z",
        previous_sha="b" * 40,
    )
    for name, value in changes.items():
        setattr(deploy, name, value)
    return deploy


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": "queued"}, "queued for prod"),
        ({"state": "running"}, "deploying to prod"),
        ({"state": "succeeded"}, "deployed to prod in 2m 13s"),
        (
            {"state": "failed", "failed_stage": "backup", "error": "pg_dump: no\nspace left"},
            "backup failed: space left; nothing changed",
        ),
        (
            {"state": "reverted", "failed_stage": "health", "error": "HTTP 502"},
            "health failed: HTTP 502; reverted to bbbbbbb",
        ),
        (
            {"state": "revert_failed", "failed_stage": "migrate", "error": "boom"},
            "REVERT FAILED, needs attention: migrate failed: boom",
        ),
        (
            {"state": "revert_failed", "failed_stage": None, "error": None},
            "REVERT FAILED, needs attention: a stage failed",
        ),
        (
            {"state": "reverted", "previous_sha": None},
            "a stage failed; reverted to the previous commit",
        ),
        ({"state": "superseded"}, "not deployed to prod: a newer push replaced it"),
        ({"state": "cancelled"}, "deploy to prod cancelled"),
    ],
)
def test_describe(changes: dict[str, object], expected: str) -> None:
    """Commit status texts name the stage once, then the cause, then what became of the env."""
    assert describe(_deploy(**changes)) == expected


@pytest.mark.parametrize(
    ("started", "finished", "expected"),
    [
        ("2026-01-01T12:00:00.000Z", "2026-01-01T12:00:09.900Z", "9s"),
        ("2026-01-01T12:00:00.000Z", "2026-01-01T12:01:00.000Z", "1m 0s"),
        ("2026-01-01T12:00:00.000Z", "2026-01-01T14:05:00.000Z", "2h 5m"),
        ("2026-01-01T12:00:00.000Z", None, None),
    ],
)
def test_duration(started: str, finished: str | None, expected: str | None) -> None:
    """Durations read like people say them, and a running deploy has none."""
    assert duration(_deploy(started_at=started, finished_at=finished)) == expected
