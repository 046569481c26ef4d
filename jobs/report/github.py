"""GitHub commit statuses: one `deployhook/<environment>` status per deploy on its commit."""

from __future__ import annotations

from config import Settings
from config.model import GithubNotify
from config.secrets import Secret
from jobs.report.delivery import Outbound
from jobs.report.states import github_status_state
from jobs.report.text import status_body, user_agent
from jobs.state.records import Deploy

DESCRIPTION_LIMIT = 140  # GitHub answers 422 above this


def github_headers(token: Secret) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token.reveal()}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": user_agent(),
    }


def repo_url(settings: Settings, notify: GithubNotify, deploy: Deploy) -> str:
    repo = settings.projects[deploy.project].repo_path
    return f"{notify.api_url.rstrip('/')}/repos/{repo}"


def status_request(settings: Settings, notify: GithubNotify, deploy: Deploy) -> Outbound | None:
    state = github_status_state(deploy.state)
    if state is None:
        return None
    body = status_body(settings, deploy, state, ("context", notify.context), DESCRIPTION_LIMIT)
    return Outbound(
        what=f"GitHub commit status {state} for {deploy.short_sha}",
        url=f"{repo_url(settings, notify, deploy)}/statuses/{deploy.sha}",
        body=body,
        headers=github_headers(notify.token),
    )
