"""Gate fixtures: settings for one GitHub, GitLab and Gitea project each, with a staging and a
prod environment, every reporter and CI API aimed at the shared loopback provider server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from config import Settings
from jobs.execution.deploylog import DeployLog
from jobs.state.records import Deploy, DeployStore
from tests.support.provider_server import ProviderServer
from tests.support.report_setup import SHA, new_deploy, settings_for

GatedSettings = Callable[..., Settings]


@pytest.fixture
def store(redis_conn: redis.Redis) -> DeployStore:
    return DeployStore(redis_conn)


@pytest.fixture
def gated(provider: ProviderServer) -> GatedSettings:
    """Settings whose prod environments carry `prod_options` (promote_from, windows, ...)."""

    def build(**prod_options: Any) -> Settings:
        base = settings_for(provider)
        data: dict[str, Any] = {
            "server": {"public_url": base.server.public_url},
            "notify": _notify(base),
            "projects": {},
        }
        for name, project in base.projects.items():
            prod = project.environments["prod"].model_dump(mode="json", exclude_defaults=True)
            staging = {**prod, "trigger": {"branch": "main"}, "path": "/srv/staging"}
            data["projects"][name] = {
                "repo": project.repo,
                "provider": project.provider,
                "secret": "s3cret-for-the-tests",
                "environments": {"staging": staging, "prod": {**prod, **prod_options}},
            }
        return Settings.model_validate(data)

    return build


def _notify(base: Settings) -> dict[str, Any]:
    notify: dict[str, Any] = {"delivery": base.notify.delivery.model_dump()}
    for name in ("github", "gitlab", "gitea"):
        reporter = getattr(base.notify, name)
        notify[name] = {"token": reporter.token.reveal(), "api_url": reporter.api_url}
    assert base.notify.slack is not None and base.notify.webhook is not None
    notify["slack"] = {"webhook_url": base.notify.slack.webhook_url.reveal()}
    webhook = base.notify.webhook
    notify["webhook"] = {"url": webhook.url.reveal(), "secret": webhook.secret.reveal()}
    notify["webhook"]["allow_http"] = webhook.allow_http
    return notify


def queued(store: DeployStore, project: str = "crm", **fields: Any) -> Deploy:
    """A queued prod deploy of SHA (tag v1.4.0), written through the real store."""
    deploy = new_deploy(project, **fields)
    store.create(deploy)
    return deploy


def succeeded(store: DeployStore, project: str, environment: str, sha: str = SHA) -> Deploy:
    """A finished, succeeded deploy of `sha` to `environment`."""
    deploy = queued(store, project, environment=environment, sha=sha)
    store.transition(deploy, "running")
    return store.transition(deploy, "succeeded")


def log_of(store: DeployStore, deploy: Deploy) -> DeployLog:
    return DeployLog(store, deploy.id)
