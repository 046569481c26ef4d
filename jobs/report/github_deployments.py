"""GitHub Deployments: one deployment per deploy, created once, then a status per state change.

The deployment's id is kept in Redis beside the deploy record, so that any consumer (on any
host) posts later statuses to the same deployment.
"""

from __future__ import annotations

from typing import Any

import requests

from config import Settings
from config.model import GithubNotify
from jobs.report.delivery import Outbound, ReportRejected, deliver
from jobs.report.github import DESCRIPTION_LIMIT, github_headers, repo_url
from jobs.report.states import github_deployment_state
from jobs.report.text import clip, describe, log_url
from jobs.state import Connection
from jobs.state.records import Deploy
from jobs.state.reports import github_deployment_id, keep_github_deployment_id


def create_request(settings: Settings, notify: GithubNotify, deploy: Deploy) -> Outbound:
    environment = settings.environment(deploy.project, deploy.environment)
    who = f" by {deploy.sender}" if deploy.sender else ""
    return Outbound(
        what=f"GitHub deployment for {deploy.short_sha}",
        url=f"{repo_url(settings, notify, deploy)}/deployments",
        body={
            "ref": deploy.sha,  # the exact commit: a branch may have moved on since the push
            "auto_merge": False,
            "required_contexts": [],
            "environment": deploy.environment,
            "production_environment": environment.is_production,
            "transient_environment": False,
            "description": clip(f"{deploy.ref_kind} {deploy.ref_name}{who}", DESCRIPTION_LIMIT),
            "payload": {"deploy_id": deploy.id},
        },
        headers=github_headers(notify.token),
    )


def status_request(
    settings: Settings, notify: GithubNotify, deploy: Deploy, deployment_id: int
) -> Outbound | None:
    state = github_deployment_state(deploy.state)
    if state is None:
        return None
    body: dict[str, Any] = {
        "state": state,
        "description": describe(deploy, DESCRIPTION_LIMIT),
    }
    link = log_url(settings, deploy)
    if link:
        body["log_url"] = link
    environment_url = settings.environment(deploy.project, deploy.environment).url
    if state == "success" and environment_url:
        body["environment_url"] = environment_url
    return Outbound(
        what=f"GitHub deployment status {state} for {deploy.short_sha}",
        url=f"{repo_url(settings, notify, deploy)}/deployments/{deployment_id}/statuses",
        body=body,
        headers=github_headers(notify.token),
    )


class GithubDeploymentReporter:
    name: str = "GitHub deployment"
    provider: str | None = "github"

    def __init__(
        self,
        settings: Settings,
        notify: GithubNotify,
        session: requests.Session,
        connection: Connection,
    ) -> None:
        self.settings = settings
        self.notify = notify
        self.session = session
        self.redis = connection

    def report(self, deploy: Deploy) -> None:
        if github_deployment_state(deploy.state) is None:
            return
        deployment_id = self._existing(deploy)
        if deployment_id is None:
            if deploy.state in ("superseded", "cancelled", "blocked", "skipped"):
                return  # never shown on GitHub: nothing to mark inactive
            deployment_id = self._create(deploy)
        request = status_request(self.settings, self.notify, deploy, deployment_id)
        if request is not None:
            deliver(self.session, request, self.settings.notify.delivery)

    def _existing(self, deploy: Deploy) -> int | None:
        return github_deployment_id(self.redis, deploy.id)

    def _create(self, deploy: Deploy) -> int:
        request = create_request(self.settings, self.notify, deploy)
        response = deliver(
            self.session,
            request,
            self.settings.notify.delivery,
            accept=lambda answer: answer.status_code == 201,
        )
        try:
            deployment_id = int(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise ReportRejected(
                f"{request.what}: expected a deployment id in GitHub's answer, got none"
            ) from None
        keep_github_deployment_id(self.redis, deploy.id, deployment_id)
        return deployment_id
