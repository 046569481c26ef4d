"""Signed deliveries as GitHub, GitLab and Gitea send them, and a settings file to take them."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from flask.testing import FlaskClient
from rq import Queue
from standardwebhooks import Webhook
from werkzeug.test import TestResponse

from config import Settings, parse_settings
from tests.support.users import SESSION_SECRET, shared_users_path

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
GITHUB_SECRET = "github-secret-for-tests"
GITLAB_SECRET = "gitlab-token-for-tests"
GITEA_SECRET = "gitea-secret-for-tests"
# 32 random bytes, base64: the shape GitLab shows for a webhook's signing key.
SIGNING_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# name -> (repo, provider, extra keys): one project per provider, GitLab with and without key.
PROJECTS = {
    "crm": ("github.com/acme/crm", "github", "secret: ${GITHUB_SECRET}"),
    "shop": (
        "gitlab.example.com/acme/platform/crm",
        "gitlab",
        "secret: ${GITLAB_SECRET}\n    signing_key: ${SIGNING_KEY}",
    ),
    "legacy": ("gitlab.example.com/acme/platform/crm", "gitlab", "secret: ${GITLAB_SECRET}"),
    "wiki": ("gitea.example.com/acme/crm", "gitea", "secret: ${GITEA_SECRET}"),
}
_PROJECT = """
  %(name)s:
    repo: %(repo)s
    provider: %(provider)s
    %(extra)s
    environments:
      dev:
        trigger: {branch: main}
        path: /srv/%(name)s-dev
        compose: {files: [compose.yml], project: %(name)s_dev}
        health: {url: "http://127.0.0.1:8000/healthz"}
      prod:
        trigger: {tag: "v*"}
        path: /srv/%(name)s
        compose: {files: [compose.yml], project: %(name)s_prod}
        health: {url: "http://127.0.0.1:9000/healthz"}
"""
SECRETS = {
    "GITHUB_SECRET": GITHUB_SECRET,
    "GITLAB_SECRET": GITLAB_SECRET,
    "SIGNING_KEY": SIGNING_KEY,
    "GITEA_SECRET": GITEA_SECRET,
    "SESSION_SECRET": SESSION_SECRET,
}


def config_text(state_dir: Path, redis_url: str | None = None) -> str:
    text = f"state_dir: {state_dir}\nprojects:\n" + "".join(
        _PROJECT % {"name": name, "repo": repo, "provider": provider, "extra": extra}
        for name, (repo, provider, extra) in PROJECTS.items()
    )
    # The test users (tests/support/users.py): every route but /hooks needs one of them.
    text += f"auth:\n  users_path: {shared_users_path()}\n"
    text += "  sessions: {secret: '${SESSION_SECRET}'}\n"
    return text + (f"redis: {{url: {redis_url}}}\n" if redis_url else "")


def make_settings(state_dir: Path, redis_url: str | None) -> Settings:
    return parse_settings(config_text(state_dir, redis_url), "test config", SECRETS)


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return loaded


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def github_push(sha: str, repo: str, branch: str = "main") -> bytes:
    """A minimal push to `branch` of `repo` (host/owner/name) as GitHub sends it, encoded."""
    full_name = repo.split("/", 1)[1]
    return encode({
        "ref": f"refs/heads/{branch}", "before": "0" * 40, "after": sha,
        "repository": {"full_name": full_name, "html_url": f"https://{repo}"},
        "head_commit": {"id": sha}, "pusher": {"name": "me"}, "sender": {"login": "me"},
    })  # fmt: skip


def github_headers(
    body: bytes, event: str = "push", delivery: str | None = None, secret: str = GITHUB_SECRET
) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "421337",
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def gitea_headers(body: bytes, event: str = "push", secret: str = GITEA_SECRET) -> dict[str, str]:
    """Gitea sends its own headers and GitHub's, with the same signature in both."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    delivery = str(uuid.uuid4())
    return {
        "X-Gitea-Event": event,
        "X-Gitea-Delivery": delivery,
        "X-Gitea-Signature": digest,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def gitlab_headers(
    body: bytes,
    event: str = "Push Hook",
    token: str = GITLAB_SECRET,
    signing_key: str | None = SIGNING_KEY,
    message_id: str | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """GitLab's token header, plus Standard Webhooks headers signed by the reference library."""
    headers = {
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": token,
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "Idempotency-Key": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if signing_key is not None:
        message_id = message_id or f"msg_{uuid.uuid4().hex}"
        when = when or datetime.now(UTC)
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = str(int(when.timestamp()))
        headers["webhook-signature"] = Webhook(signing_key).sign(message_id, when, body.decode())
    return headers


def queued_jobs(connection: redis.Redis) -> list[str]:
    return Queue("deploys.local", connection=connection).job_ids


def post_github(
    client: FlaskClient, data: dict[str, Any], event: str = "push", delivery: str | None = None
) -> TestResponse:
    body = encode(data)
    return client.post("/hooks/crm", data=body, headers=github_headers(body, event, delivery))
