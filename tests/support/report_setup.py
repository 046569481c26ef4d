"""What the reporter tests share: settings that aim every reporter at one loopback provider
server, and deploys created through the real DeployStore."""

from __future__ import annotations

from typing import Any

from config import Settings
from jobs.state.records import Deploy, DeployStore, new_deploy_id
from tests.support.provider_server import GITEA, GITHUB, GITLAB, SLACK, WEBHOOK, ProviderServer

SHA = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"
PREVIOUS = "9a8b7c6d5e4f30219a8b7c6d5e4f30219a8b7c6d"
GITHUB_TOKEN = "ghp_testtoken0123456789"
GITLAB_TOKEN = "glpat-testtoken0123456789"
GITEA_TOKEN = "gitea0123456789testtoken"
PUBLIC_URL = "https://deploy.example.com"
# Small waits so retries take milliseconds; only a provider's Retry-After makes a test wait.
# The JSON webhook's Standard Webhooks key (tests verify its signatures with the reference library).
WEBHOOK_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST_DELIVERY = {
    "attempts": 3,
    "give_up_after": 8,
    "request_timeout": 3,
    "first_wait": 0.01,
    "max_wait": 0.05,
}


def _environment(trigger: dict[str, str], **more: Any) -> dict[str, Any]:
    return {
        "trigger": trigger,
        "path": "/srv/app",
        "compose": {"files": ["docker-compose.yml"], "project": "app"},
        "health": {"url": "http://127.0.0.1:9/healthz"},
        **more,
    }


def settings_for(provider: ProviderServer, **notify: Any) -> Settings:
    """Three projects, one per git host, and every reporter aimed at the loopback server."""
    reporters: dict[str, Any] = {
        "github": {"token": GITHUB_TOKEN, "api_url": provider.url(GITHUB)},
        "gitlab": {"token": GITLAB_TOKEN, "api_url": provider.url(GITLAB)},
        "gitea": {"token": GITEA_TOKEN, "api_url": provider.url(GITEA)},
        "slack": {"webhook_url": provider.url(SLACK), "mention": "<!subteam^S0123|oncall>"},
        "webhook": {"url": provider.url(WEBHOOK), "secret": WEBHOOK_KEY, "allow_http": True},
        "delivery": FAST_DELIVERY,
    }
    reporters.update(notify)
    prod = _environment({"tag": "v*"}, url="https://crm.example.com")
    dev = _environment({"branch": "main"})
    return Settings.model_validate(
        {
            "server": {"public_url": PUBLIC_URL},
            "projects": {
                "crm": {
                    "repo": "github.com/acme/crm",
                    "provider": "github",
                    "secret": "s3cret-for-the-tests",
                    "environments": {"prod": prod, "dev": dev},
                },
                "shop": {
                    "repo": "gitlab.com/acme/web/shop",
                    "provider": "gitlab",
                    "secret": "s3cret-for-the-tests",
                    "environments": {"prod": prod},
                },
                "blog": {
                    "repo": "git.example.org/acme/blog",
                    "provider": "gitea",
                    "secret": "s3cret-for-the-tests",
                    "environments": {"prod": prod},
                },
            },
            "notify": {key: value for key, value in reporters.items() if value is not None},
        }
    )


def new_deploy(project: str = "crm", **fields: Any) -> Deploy:
    """A prod deploy of tag v1.4.0 pushed by octocat; `fields` override any field."""
    values: dict[str, Any] = {
        "id": new_deploy_id(),
        "project": project,
        "environment": "prod",
        "ref_kind": "tag",
        "ref_name": "v1.4.0",
        "sha": SHA,
        "trigger": "github tag push",
        "delivery_id": "guid-1",
        "sender": "octocat",
    }
    return Deploy(**{**values, **fields})


def queue_deploy(store: DeployStore, project: str = "crm") -> Deploy:
    deploy = new_deploy(project)
    store.create(deploy)
    return deploy
