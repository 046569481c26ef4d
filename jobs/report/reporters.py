"""Which reporters the configuration turns on, and which of them apply to a deploy."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import requests

from config import Settings
from jobs.report import gitea, github, gitlab, json_webhook, slack
from jobs.report.apprise_notify import AppriseReporter
from jobs.report.delivery import Outbound
from jobs.report.github_deployments import GithubDeploymentReporter
from jobs.report.redact import hide_url
from jobs.report.reporter import Reporter, RequestReporter
from jobs.state import Connection
from jobs.state.records import Deploy

Build = Callable[[Deploy], Outbound | None]


def build_reporters(
    settings: Settings, connection: Connection, session: requests.Session
) -> list[Reporter]:
    notify = settings.notify
    policy = notify.delivery
    found: list[Reporter] = []
    build: Build
    if notify.github is not None:
        build = partial(github.status_request, settings, notify.github)
        found.append(RequestReporter("GitHub commit status", "github", build, session, policy))
        if notify.github.deployments:
            found.append(GithubDeploymentReporter(settings, notify.github, session, connection))
    if notify.gitlab is not None:
        build = partial(gitlab.status_request, settings, notify.gitlab)
        found.append(
            RequestReporter(
                "GitLab commit status", "gitlab", build, session, policy, gitlab.accepted
            )
        )
    if notify.gitea is not None:
        build = partial(gitea.status_request, settings, notify.gitea)
        found.append(RequestReporter("Gitea commit status", "gitea", build, session, policy))
    if notify.slack is not None:
        hide_url(notify.slack.webhook_url.reveal())
        build = partial(slack.message_request, settings, notify.slack)
        found.append(RequestReporter("Slack", None, build, session, policy, slack.accepted))
    if notify.webhook is not None:
        hide_url(notify.webhook.url.reveal())
        build = partial(json_webhook.payload_request, settings, notify.webhook)
        found.append(RequestReporter("JSON webhook", None, build, session, policy))
    if notify.apprise:
        found.append(AppriseReporter(settings, notify.apprise, policy))
    return found


def applicable(reporters: list[Reporter], settings: Settings, deploy: Deploy) -> list[Reporter]:
    """Commit-status reporters serve their own provider's projects; chat and webhooks serve all.

    A deploy of a project or environment no longer configured gets no reports: its settings
    (repository, links) are gone.
    """
    project = settings.projects.get(deploy.project)
    if project is None or deploy.environment not in project.environments:
        return []
    return [reporter for reporter in reporters if reporter.provider in (None, project.provider)]
