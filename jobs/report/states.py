"""What each provider is told for each deploy state: the README's table, one function per column.

`None` means "tell this provider nothing for this state".
"""

from __future__ import annotations

from typing import Literal

from jobs.state.records import FINAL_STATES

SlackKind = Literal[
    "start", "success", "failure", "revert_failed", "cancelled", "blocked", "interrupted"
]

_GITHUB_STATUS = {
    "queued": "pending",
    "running": "pending",
    "succeeded": "success",
    "failed": "failure",
    "reverted": "failure",
    "revert_failed": "error",
    # GitHub has no neutral state: keep `pending` and say in words that nothing was deployed.
    "superseded": "pending",
    "cancelled": "error",
    "interrupted": "error",
    # A release gate said no: the commit is not deployed; the description says why.
    "blocked": "failure",
    # Like a CI job skipped by a path filter: this commit needs nothing in this environment.
    "skipped": "success",
}
_GITHUB_DEPLOYMENT = {
    "queued": "queued",
    "running": "in_progress",
    "succeeded": "success",
    "failed": "failure",
    "reverted": "failure",
    "revert_failed": "error",
    "superseded": "inactive",
    "cancelled": "inactive",
    "interrupted": "error",
    "blocked": "failure",
    "skipped": "inactive",
}
_GITLAB = {
    "queued": "pending",
    "running": "running",
    "succeeded": "success",
    "failed": "failed",
    "reverted": "failed",
    "revert_failed": "failed",
    "superseded": "canceled",
    "cancelled": "canceled",
    "interrupted": "failed",
    "blocked": "failed",
    "skipped": "skipped",
}
_GITEA = {
    "queued": "pending",
    "running": "pending",
    "succeeded": "success",
    "failed": "failure",
    "reverted": "failure",
    "revert_failed": "error",
    "superseded": "warning",
    "cancelled": "warning",
    "interrupted": "error",
    "blocked": "failure",
    "skipped": "success",
}
_SLACK: dict[str, SlackKind] = {
    "succeeded": "success",
    "failed": "failure",
    "reverted": "failure",
    "revert_failed": "revert_failed",
    "cancelled": "cancelled",
    "interrupted": "interrupted",
    "blocked": "blocked",
}


def github_status_state(state: str) -> str | None:
    return _GITHUB_STATUS.get(state)


def github_deployment_state(state: str) -> str | None:
    return _GITHUB_DEPLOYMENT.get(state)


def gitlab_state(state: str) -> str | None:
    return _GITLAB.get(state)


def gitea_state(state: str) -> str | None:
    return _GITEA.get(state)


def slack_kind(state: str, notify_start: bool) -> SlackKind | None:
    if state == "running":
        return "start" if notify_start else None
    return _SLACK.get(state)


def events_to_report(states: list[str], cursor: int) -> list[int]:
    """Indexes from `cursor` on that are still worth reporting, oldest first.

    A deploy's snapshots arrive in order, but reporting can lag behind: once a final state exists
    (reported before or waiting after), earlier non-final snapshots are stale and would make a
    provider show `pending` over `success`, so they are skipped.
    """
    finished = any(state in FINAL_STATES for state in states)
    return [
        index
        for index in range(cursor, len(states))
        if states[index] in FINAL_STATES or not finished
    ]
