"""Every row of the reporting table, as the exact requests a loopback provider receives.

Deploys move through the real DeployStore in the real Redis; the real dispatcher reports them.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import redis

from jobs.report import drain
from jobs.state.records import Deploy, DeployStore
from tests.support import github_openapi
from tests.support.provider_server import (
    DEPLOYMENT_ID,
    GITEA,
    GITHUB,
    GITLAB,
    SLACK,
    WEBHOOK,
    ProviderServer,
)
from tests.support.report_setup import (
    GITEA_TOKEN,
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    PREVIOUS,
    PUBLIC_URL,
    SHA,
    queue_deploy,
    settings_for,
)

STATUSES = f"{GITHUB}/repos/acme/crm/statuses/{SHA}"
DEPLOYMENTS = f"{GITHUB}/repos/acme/crm/deployments"
DEPLOYMENT_STATUSES = f"{DEPLOYMENTS}/{DEPLOYMENT_ID}/statuses"
GITLAB_STATUSES = f"{GITLAB}/projects/acme%2Fweb%2Fshop/statuses/{SHA}"
GITEA_STATUSES = f"{GITEA}/api/v1/repos/acme/blog/statuses/{SHA}"
BACKUP = "/var/backups/crm/prod/20260101-120000.sql.gz"
# How each final state is reached: (state, fields the pipeline sets) after queued -> running.
ENDINGS: dict[str, tuple[list[str], dict[str, Any]]] = {
    "succeeded": (["running", "succeeded"], {}),
    "failed": (
        ["running", "failed"],
        {"failed_stage": "backup", "error": "pg_dump: error: could not write: No space left"},
    ),
    "reverted": (
        ["running", "reverted"],
        {
            "failed_stage": "migrate",
            "error": "alembic upgrade head\nProgrammingError: column users.email does not exist",
            "restored_backup": BACKUP,
        },
    ),
    "revert_failed": (
        ["running", "revert_failed"],
        {
            "failed_stage": "health",
            "error": "health: expected HTTP 200 from /healthz, got 502",
            "backup": BACKUP,
            "revert_error": "up -d: image crm-api:9a8b7c6 not found",
        },
    ),
    "superseded": (["superseded"], {}),
    "interrupted": (
        ["running", "interrupted"],
        {
            "failed_stage": "checkout",
            "error": "INTERRUPTED during checkout: lost the lock of crm/prod",
            "interrupted_by": "deploy d-20261127-161530-483-9f1c2a7be04d8c11 on w2 (pid 7)",
        },
    ),
}


def _step_through(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore, project: str, ending: str
) -> Deploy:
    """Queue a deploy and walk it to `ending`, reporting after every change (as it happens)."""
    settings = settings_for(provider)
    deploy = queue_deploy(store, project)
    drain(settings, redis_conn, timeout=10)
    states, fields = ENDINGS[ending]
    for state in states:
        changes = dict(fields) if state == ending else {}
        if state == "running":
            changes["previous_sha"] = PREVIOUS
        store.transition(deploy, state, **changes)  # type: ignore[arg-type]
        drain(settings, redis_conn, timeout=10)
    return deploy


def _bodies(provider: ProviderServer, prefix: str) -> list[Any]:
    return [seen.body for seen in provider.to(prefix)]


def _log_url(deploy: Deploy) -> str:
    return f"{PUBLIC_URL}/deploys/{deploy.id}"


def test_github_success_sends_statuses_and_a_deployment_in_order(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A successful deploy posts pending, pending, success and queued, in_progress, success."""
    deploy = _step_through(redis_conn, provider, store, "crm", "succeeded")
    github = provider.to(GITHUB)
    assert [(seen.path, seen.body["state"]) for seen in github if "state" in seen.body] == [
        (STATUSES, "pending"),
        (DEPLOYMENT_STATUSES, "queued"),
        (STATUSES, "pending"),
        (DEPLOYMENT_STATUSES, "in_progress"),
        (STATUSES, "success"),
        (DEPLOYMENT_STATUSES, "success"),
    ]
    statuses = _bodies(provider, STATUSES)
    assert statuses[0] == {
        "state": "pending",
        "context": "deployhook/prod",
        "description": "queued for prod",
        "target_url": _log_url(deploy),
    }
    assert statuses[1]["description"] == "deploying to prod"
    assert re.fullmatch(r"deployed to prod in \d+s", statuses[2]["description"])
    [create] = [seen.body for seen in github if seen.path == DEPLOYMENTS]
    assert create == {
        "ref": SHA,
        "auto_merge": False,
        "required_contexts": [],
        "environment": "prod",
        "production_environment": True,
        "transient_environment": False,
        "description": "tag v1.4.0 by octocat",
        "payload": {"deploy_id": deploy.id},
    }
    final = _bodies(provider, DEPLOYMENT_STATUSES)[-1]
    assert final["environment_url"] == "https://crm.example.com"
    assert final["log_url"] == _log_url(deploy)
    assert all(
        "environment_url" not in body for body in _bodies(provider, DEPLOYMENT_STATUSES)[:-1]
    )


def test_github_requests_carry_the_api_headers(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """Every GitHub call sends the bearer token, the JSON media type, API version and agent."""
    _step_through(redis_conn, provider, store, "crm", "succeeded")
    for seen in provider.to(GITHUB):
        assert seen.method == "POST"
        assert seen.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
        assert seen.headers["Accept"] == "application/vnd.github+json"
        assert seen.headers["X-Github-Api-Version"] == "2022-11-28"
        assert re.fullmatch(r"deployhook/\S+", seen.headers["User-Agent"])
        assert seen.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_github_bodies_match_githubs_published_schemas(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore, ending: str
) -> None:
    """Status, deployment and deployment-status bodies validate against @octokit/openapi."""
    _step_through(redis_conn, provider, store, "crm", ending)
    operations = {
        STATUSES: "/repos/{owner}/{repo}/statuses/{sha}",
        DEPLOYMENTS: "/repos/{owner}/{repo}/deployments",
        DEPLOYMENT_STATUSES: "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
    }
    seen = provider.to(GITHUB)
    assert seen
    for request in seen:
        github_openapi.validate(operations[request.path], request.body)


@pytest.mark.parametrize(
    "body",
    [
        {"state": "neutral", "context": "deployhook/prod"},  # not a commit status state
        {"state": "success", "contxt": "deployhook/prod"},  # misspelt key
        {"state": "success", "description": 140},  # wrong type
    ],
)
def test_the_schema_check_rejects_what_github_would(body: dict[str, Any]) -> None:
    """The OpenAPI check above can fail: bad states, unknown keys and wrong types are caught."""
    with pytest.raises(jsonschema.ValidationError):
        github_openapi.validate("/repos/{owner}/{repo}/statuses/{sha}", body)


# ending: GitHub status (state, description start), deployment status, GitLab, Gitea
TABLE = [
    ("succeeded", "success", "deployed to prod", "success", "success", "success"),
    ("failed", "failure", "backup failed: pg_dump", "failure", "failed", "failure"),
    ("reverted", "failure", "migrate failed: ProgrammingError", "failure", "failed", "failure"),
    ("revert_failed", "error", "REVERT FAILED, needs attention", "error", "failed", "error"),
    ("superseded", "pending", "not deployed to prod", "inactive", "canceled", "warning"),
    ("interrupted", "error", "INTERRUPTED: lost the lock of prod", "error", "failed", "error"),
]


@pytest.mark.parametrize(("ending", "status", "text", "deployment", "gitlab", "gitea"), TABLE)
def test_final_states_reach_every_provider_as_the_table_says(
    redis_conn: redis.Redis,
    provider: ProviderServer,
    store: DeployStore,
    ending: str,
    status: str,
    text: str,
    deployment: str,
    gitlab: str,
    gitea: str,
) -> None:
    """The last request to each provider carries the table's state for the deploy's ending."""
    _step_through(redis_conn, provider, store, "crm", ending)
    _step_through(redis_conn, provider, store, "shop", ending)
    _step_through(redis_conn, provider, store, "blog", ending)
    last_status = _bodies(provider, STATUSES)[-1]
    assert last_status["state"] == status
    assert last_status["description"].startswith(text)
    assert _bodies(provider, DEPLOYMENT_STATUSES)[-1]["state"] == deployment
    assert _bodies(provider, GITLAB_STATUSES)[-1]["state"] == gitlab
    assert _bodies(provider, GITEA_STATUSES)[-1]["state"] == gitea
    slack_texts = [body["text"] for body in _bodies(provider, SLACK)]
    expected_messages = 0 if ending == "superseded" else 3  # one per project
    assert len(slack_texts) == expected_messages
    events = [body["event"] for body in _bodies(provider, WEBHOOK)]
    assert events == (["queued", *ENDINGS[ending][0]]) * 3


def test_gitlab_statuses_are_exact(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """GitLab gets pending, running, success on the encoded project path with PRIVATE-TOKEN."""
    deploy = _step_through(redis_conn, provider, store, "shop", "succeeded")
    seen = provider.to(GITLAB)
    assert {request.path for request in seen} == {GITLAB_STATUSES}
    assert {request.headers["Private-Token"] for request in seen} == {GITLAB_TOKEN}
    assert [request.body["state"] for request in seen] == ["pending", "running", "success"]
    assert seen[1].body == {
        "state": "running",
        "name": "deployhook/prod",
        "description": "deploying to prod",
        "ref": "v1.4.0",
        "target_url": _log_url(deploy),
    }


def test_gitlab_project_id_overrides_the_path(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """With gitlab_project_id set, statuses go to /projects/<id>/statuses/<sha>."""
    settings = settings_for(provider)
    shop = settings.projects["shop"].model_copy(update={"gitlab_project_id": 278964})
    settings = settings.model_copy(update={"projects": {**settings.projects, "shop": shop}})
    queue_deploy(store, "shop")
    drain(settings, redis_conn, timeout=10)
    assert [request.path for request in provider.to(GITLAB)] == [
        f"{GITLAB}/projects/278964/statuses/{SHA}"
    ]


def test_gitea_statuses_are_exact(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """Gitea gets pending, pending, success under /api/v1 with `Authorization: token`."""
    deploy = _step_through(redis_conn, provider, store, "blog", "succeeded")
    seen = provider.to(GITEA)
    assert {request.path for request in seen} == {GITEA_STATUSES}
    assert {request.headers["Authorization"] for request in seen} == {f"token {GITEA_TOKEN}"}
    assert [request.body["state"] for request in seen] == ["pending", "pending", "success"]
    assert seen[0].body == {
        "state": "pending",
        "context": "deployhook/prod",
        "description": "queued for prod",
        "target_url": _log_url(deploy),
    }


def test_commit_status_reporters_serve_only_their_own_provider(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A GitHub project's deploy reaches GitHub, Slack and the webhook, never GitLab or Gitea."""
    _step_through(redis_conn, provider, store, "crm", "succeeded")
    assert provider.to(GITHUB)
    assert provider.to(SLACK)
    assert provider.to(WEBHOOK)
    assert not provider.to(GITLAB)
    assert not provider.to(GITEA)


LONG_ERROR = (
    "Traceback (most recent call last):\n"
    + '  File "app.py", line 1\n' * 40
    + "RuntimeError: "
    + "naïve café 🚀 crème brûlée déjà vu 👩‍💻 " * 40
)


@pytest.mark.parametrize(
    ("project", "prefix", "limit"),
    [
        ("crm", STATUSES, 140),
        ("crm", DEPLOYMENT_STATUSES, 140),
        ("shop", GITLAB_STATUSES, 255),
        ("blog", GITEA_STATUSES, 255),
    ],
)
def test_descriptions_fit_the_provider_limit_with_long_unicode_errors(
    redis_conn: redis.Redis,
    provider: ProviderServer,
    store: DeployStore,
    project: str,
    prefix: str,
    limit: int,
) -> None:
    """A long multi-line error with accents and emoji is cut to the limit in characters."""
    settings = settings_for(provider)
    deploy = queue_deploy(store, project)
    store.transition(deploy, "running", previous_sha=PREVIOUS)
    store.transition(deploy, "reverted", failed_stage="health", error=LONG_ERROR)
    drain(settings, redis_conn, timeout=10)
    description = _bodies(provider, prefix)[-1]["description"]
    assert len(description) <= limit  # Python counts code points, as GitHub and GitLab do
    assert len(description) >= limit - 4  # cut at the limit, not far before it
    assert "…" in description  # the cause is cut, what became of the environment is kept
    assert description.endswith(f"; reverted to {PREVIOUS[:7]}")
    assert "\n" not in description
    assert description.startswith("health failed: RuntimeError: naïve")


def test_a_warning_after_the_success_is_a_follow_up_report(
    redis_conn: redis.Redis, provider: ProviderServer, store: DeployStore
) -> None:
    """A warning that comes after the success report (an old container not removed) reaches
    each reporter again: a success status that says WARNING, a Slack warning, a second JSON
    event with the warning under its own webhook-id; the outcome stays success everywhere."""
    deploy = _step_through(redis_conn, provider, store, "crm", "succeeded")
    before = len(provider.seen)
    warning = "api: retiring the old container(s) 0123456789ab failed: No such container"
    deploy.warnings.append(warning)
    store.amend(deploy, report=True)
    drain(settings_for(provider), redis_conn, timeout=10)
    after = provider.seen[before:]

    def bodies(prefix: str) -> list[Any]:
        return [seen.body for seen in after if seen.path.startswith(prefix)]

    [status] = bodies(STATUSES)
    assert status["state"] == "success" and len(status["description"]) <= 140
    assert re.fullmatch(
        r"deployed to prod in \d+s; 1 WARNING: api: retiring .*", status["description"]
    )
    [deployment] = bodies(DEPLOYMENT_STATUSES)
    assert deployment["state"] == "success" and "1 WARNING" in deployment["description"]
    [message] = bodies(SLACK)
    assert message["text"].startswith(":warning: Deployed crm → prod, with 1 warning")
    [seen] = [seen for seen in after if seen.path.startswith(WEBHOOK)]
    assert (seen.body["event"], seen.body["deploy"]["warnings"]) == ("succeeded", [warning])
    headers = {name.lower(): value for name, value in seen.headers.items()}
    assert headers["webhook-id"] == f"msg_{deploy.id}_succeeded_w1"
