"""GitLab commit statuses (`POST /projects/:id/statuses/:sha`), named `deployhook/<environment>`."""

from __future__ import annotations

from urllib.parse import quote

import requests

from config import Project, Settings
from config.model import GitlabNotify
from jobs.report.delivery import Outbound, answered_2xx
from jobs.report.states import gitlab_state
from jobs.report.text import status_body
from jobs.state.records import Deploy

DESCRIPTION_LIMIT = 255


def project_ref(project: Project) -> str:
    """GitLab's project id: the configured number, else the URL-encoded `group/name` path."""
    if project.gitlab_project_id is not None:
        return str(project.gitlab_project_id)
    return quote(project.repo_path, safe="")


def status_request(settings: Settings, notify: GitlabNotify, deploy: Deploy) -> Outbound | None:
    state = gitlab_state(deploy.state)
    if state is None:
        return None
    body = status_body(settings, deploy, state, ("name", notify.context), DESCRIPTION_LIMIT)
    if deploy.ref_kind in ("branch", "tag"):
        body["ref"] = deploy.ref_name
    project = project_ref(settings.projects[deploy.project])
    return Outbound(
        what=f"GitLab commit status {state} for {deploy.short_sha}",
        url=f"{notify.api_url.rstrip('/')}/projects/{project}/statuses/{deploy.sha}",
        body=body,
        headers={"PRIVATE-TOKEN": notify.token.reveal()},
    )


def accepted(response: requests.Response) -> bool:
    """2xx, or GitLab's 400 for a status that already has this state (posting it again is done)."""
    if answered_2xx(response):
        return True
    return response.status_code == 400 and "Cannot transition status" in response.text
