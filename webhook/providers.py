"""What the headers say: which provider sent a delivery, which event, which delivery id.

Gitea and Forgejo also send GitHub's headers, so they are recognised first. Delivery ids
become parts of Redis keys, so they are checked against a strict pattern and a length limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.datastructures import Headers

from config import Project
from webhook import signatures
from webhook.errors import BadRequest, Unauthorized
from webhook.push import Provider

_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HOOK_ID = re.compile(r"[0-9]{1,20}")
_PUSH_EVENTS = {"github": {"push"}, "gitlab": {"Push Hook", "Tag Push Hook"}, "gitea": {"push"}}


@dataclass(frozen=True)
class Delivery:
    provider: Provider
    event: str
    delivery_id: str  # the provider's own id, for records and logs ("" when none was sent)
    key: str | None  # the idempotency key handed to submit; None: the provider sent no id

    @property
    def is_push(self) -> bool:
        return self.event in _PUSH_EVENTS[self.provider]

    @property
    def is_ping(self) -> bool:
        return self.provider == "github" and self.event == "ping"


def detect(headers: Headers) -> Provider | None:
    if "X-Gitea-Event" in headers or "X-Forgejo-Event" in headers:
        return "gitea"
    if "X-Gitlab-Event" in headers:
        return "gitlab"
    if "X-GitHub-Event" in headers:
        return "github"
    return None


def authenticate(
    project: Project, signing_key: bytes | None, headers: Headers, body: bytes
) -> Provider:
    """Check that the delivery comes from the project's provider and carries its secret."""
    provider = detect(headers)
    if provider is None:
        raise Unauthorized(
            "no X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event header: not a git host webhook"
        )
    if provider != project.provider:
        raise Unauthorized(f"this project takes {project.provider} webhooks, not {provider}")
    secret = project.secret.reveal()
    if provider == "github":
        signatures.verify_github(secret, headers, body)
    elif provider == "gitea":
        signatures.verify_gitea(secret, headers, body)
    else:
        signatures.verify_gitlab_token(secret, headers)
        if signing_key is not None:
            signatures.verify_standard_webhooks(signing_key, headers, body)
    return provider


def describe(project_name: str, provider: Provider, headers: Headers) -> Delivery:
    """The event and the delivery's idempotency key, validated."""
    name = delivery_header(provider, headers)
    delivery_id = _delivery_id(headers, name, required=provider != "gitlab")
    if provider == "github":
        event = headers.get("X-GitHub-Event", "")
        hook_id = headers.get("X-GitHub-Hook-ID", "")
        if hook_id and not _HOOK_ID.fullmatch(hook_id):
            raise BadRequest("malformed X-GitHub-Hook-ID header: expected digits")
        key: str | None = f"{project_name}:github:{hook_id}:{delivery_id}"
    elif provider == "gitea":
        event = headers.get("X-Gitea-Event") or headers.get("X-Forgejo-Event", "")
        key = f"{project_name}:gitea:{delivery_id}"
    else:
        event = headers.get("X-Gitlab-Event", "")
        key = f"{project_name}:gitlab:{delivery_id}" if delivery_id else None
    return Delivery(provider, event[:64], delivery_id, key)


def delivery_header(provider: str, headers: Headers) -> str:
    """Which header carries the provider's delivery id (GitLab: not X-Gitlab-Event-UUID)."""
    if provider == "github":
        return "X-GitHub-Delivery"
    if provider == "gitea":
        return "X-Gitea-Delivery" if "X-Gitea-Delivery" in headers else "X-Forgejo-Delivery"
    return "webhook-id" if "webhook-id" in headers else "Idempotency-Key"


def claimed_delivery_id(provider: str, headers: Headers) -> str:
    """The delivery id a not yet verified request claims, for logs; "" if odd or absent."""
    value = headers.get(delivery_header(provider, headers), "")
    return value if _DELIVERY_ID.fullmatch(value) else ""


def _delivery_id(headers: Headers, name: str, *, required: bool) -> str:
    value = headers.get(name, "")
    if not value and not required:
        return ""
    if not _DELIVERY_ID.fullmatch(value):
        raise BadRequest(f"missing or malformed {name} header: expected an id of 1-128 characters")
    return value
