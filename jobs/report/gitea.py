"""Gitea and Forgejo commit statuses (`POST /api/v1/repos/{owner}/{repo}/statuses/{sha}`)."""

from __future__ import annotations

from config import Settings
from config.model import GiteaNotify
from jobs.report.delivery import Outbound
from jobs.report.states import gitea_state
from jobs.report.text import status_body
from jobs.state.records import Deploy

DESCRIPTION_LIMIT = 255


def api_base(notify: GiteaNotify) -> str:
    """The server's base URL; tolerate a configured value that already ends in /api/v1."""
    return notify.api_url.rstrip("/").removesuffix("/api/v1")


def status_request(settings: Settings, notify: GiteaNotify, deploy: Deploy) -> Outbound | None:
    state = gitea_state(deploy.state)
    if state is None:
        return None
    body = status_body(settings, deploy, state, ("context", notify.context), DESCRIPTION_LIMIT)
    repo = settings.projects[deploy.project].repo_path
    return Outbound(
        what=f"Gitea commit status {state} for {deploy.short_sha}",
        url=f"{api_base(notify)}/api/v1/repos/{repo}/statuses/{deploy.sha}",
        body=body,
        headers={"Authorization": f"token {notify.token.reveal()}"},
    )
