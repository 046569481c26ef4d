"""`POST /hooks/<project>`: verify, parse, route, dedupe, enqueue, answer. Nothing slow.

The order is fixed: unknown project, body size, signature over the raw bytes, then parsing.
Every delivery ends in exactly one counted result and one JSON log line.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, request

from config import Project
from jobs.runbook.freshness import intake_reason
from jobs.state import RedisError
from jobs.state.submit import DeployRequest, Duplicate, QueueUnavailable, submit
from jobs.triggers.paths import NO_WATCHED_CHANGE
from webhook.body import decode_payload, read_body
from webhook.deliveries import count_delivery
from webhook.errors import Forbidden, IntakeError, NotFound, RequestTimeout, Unavailable
from webhook.path_filter import split_by_paths
from webhook.providers import authenticate, claimed_delivery_id, describe, detect
from webhook.push import OtherRef, Push, parse_push
from webhook.routing import route
from webhook.services import Services, services

hooks = Blueprint("hooks", __name__)
log = logging.getLogger("deployhook.intake")
Answer = tuple[dict[str, Any], int]


@dataclass
class Note:
    """What one delivery's log line and counter say about it."""

    project: str
    provider: str
    result: str = "error"
    status: int = 500
    fields: dict[str, Any] = field(default_factory=dict)


@hooks.post("/hooks/<project_name>")
def receive(project_name: str) -> Answer:
    found = services()
    provider = detect(request.headers) or "unknown"
    note = Note(project=project_name[:64], provider=provider)
    # Logged before verification so a refused delivery can be matched with the git host's
    # delivery list; only ids of the expected shape, so nothing odd reaches the log.
    note.fields["delivery"] = claimed_delivery_id(provider, request.headers)
    try:
        body, status = _receive(found, project_name, note)
        note.status = status
        return body, status
    except IntakeError as error:
        note.result, note.status = error.result, error.status
        note.fields["reason"] = error.message
        raise
    finally:
        count_delivery(found.redis, note.provider, note.result, note.fields.get("delivery", ""))
        log.info("delivery", extra={"fields": _log_fields(note)})


def _receive(found: Services, project_name: str, note: Note) -> Answer:
    project = found.settings.projects.get(project_name)
    if project is None:
        raise NotFound("no such project: the URL must be /hooks/<project name in the config>")
    server = found.settings.server
    try:
        raw = read_body(
            request.stream, request.content_length, server.max_body_bytes, server.body_timeout
        )
    except RequestTimeout:
        _stop_reading()
        raise
    provider = authenticate(project, found.signing_keys.get(project_name), request.headers, raw)
    delivery = describe(project_name, provider, request.headers)
    note.fields.update(delivery=delivery.delivery_id, event=delivery.event)
    if delivery.is_ping:
        return _ignored(note, "ping: the webhook reaches deployhook and is signed correctly")
    if not delivery.is_push:
        return _ignored(note, f"event {delivery.event!r} does not deploy")
    payload = decode_payload(raw, request.mimetype)
    push = parse_push(provider, payload, delivery.delivery_id)
    if isinstance(push, OtherRef):
        return _ignored(note, "the ref is neither a branch nor a tag")
    _check_repository(project, push)
    note.fields.update(ref=f"{push.ref_kind}:{push.ref_name}", sha=push.sha)
    if push.deleted:
        return _ignored(note, f"{push.ref_kind} {push.ref_name} was deleted")
    environments = route(project, push)
    if not environments:
        return _ignored(note, f"no environment deploys {push.ref_kind} {push.ref_name}")
    stale = _stale(found, project, project_name, environments, push.sha, delivery.key)
    fresh = [name for name in environments if name not in stale]
    # Path filters: environments whose watched paths the payload provably missed.
    fresh, unwatched = split_by_paths(found, project_name, push, payload, fresh)
    stale.update({name: NO_WATCHED_CHANGE for name in unwatched})
    if not fresh:
        note.fields["environments"] = stale
        return _ignored(note, _stale_text(stale))
    requests = [_deploy_request(project_name, name, push) for name in fresh]
    try:
        outcome = submit(found.redis, found.settings, requests, delivery.key)
    except QueueUnavailable:
        raise Unavailable("the deploy queue is unavailable; retry in a few seconds") from None
    if isinstance(outcome, Duplicate):
        note.result = "duplicate"
        note.fields["deploys"] = [outcome.deploy_id]
        return {"duplicate_of": outcome.deploy_id}, 200
    note.result = "accepted"
    note.fields["deploys"] = [deploy.id for deploy in outcome.deploys]
    base = (found.settings.server.public_url or request.host_url).rstrip("/")
    first = outcome.deploys[0]
    answer: dict[str, Any] = {
        "deploy_id": first.id,
        "environment": first.environment,
        "sha": first.sha,
        "status_url": f"{base}/api/deploys/{first.id}",
        "deploys": [{"deploy_id": d.id, "environment": d.environment} for d in outcome.deploys],
    }
    if stale:
        answer["skipped"] = stale  # environments this push does not deploy, and why
    return answer, 202


def _stale(
    found: Services,
    project: Project,
    project_name: str,
    environments: list[str],
    sha: str,
    delivery: str | None,
) -> dict[str, str]:
    """environment -> why this push must not deploy it (live, queued, older than either)."""
    reasons = {}
    for name in environments:
        environment = project.environments[name]
        try:
            reason = intake_reason(found.redis, environment, environment.target, sha, delivery)
        except RedisError:
            raise Unavailable("the deploy queue is unavailable; retry in a few seconds") from None
        if reason:
            reasons[name] = reason
    return reasons


def _stale_text(stale: dict[str, str]) -> str:
    if len(stale) == 1:
        return next(iter(stale.values()))
    return "; ".join(f"{name}: {reason}" for name, reason in sorted(stale.items()))


def _stop_reading() -> None:
    """Let gunicorn close the connection after the 408 instead of waiting for the rest of it."""
    connection: Any = request.environ.get("gunicorn.socket")
    if connection is not None:
        with contextlib.suppress(OSError, AttributeError):
            connection.shutdown(socket.SHUT_RD)


def _ignored(note: Note, reason: str) -> Answer:
    note.result = "ignored"
    note.fields["reason"] = reason
    # 200, not 4xx: GitLab pauses a hook after repeated 4xx answers.
    return {"ignored": reason}, 200


def _check_repository(project: Project, push: Push) -> None:
    """A valid signature from another repository's hook must still deploy nothing here."""
    host = urlsplit(f"//{project.repo.split('/', 1)[0]}").hostname
    same_path = push.repository.lower() == project.repo_path.lower()
    same_host = push.repository_host is None or push.repository_host == host
    if not (same_path and same_host):
        arrived = f"{push.repository_host or '(no host)'}/{push.repository}"
        printable = "".join(char for char in arrived if char.isprintable())[:200]
        raise Forbidden(
            f"expected repository {project.repo}, but the payload's repository is {printable}: "
            "check the project's repo, or the webhook's URL (/hooks/<project>)"
        )


def _deploy_request(project_name: str, environment: str, push: Push) -> DeployRequest:
    return DeployRequest(
        project=project_name,
        environment=environment,
        ref_kind=push.ref_kind,
        ref_name=push.ref_name,
        sha=push.sha,
        trigger=push.trigger,
        delivery_id=push.delivery_id,
        sender=push.pusher,
        before_sha=push.before,
        dedupe_commit=True,
    )


def _log_fields(note: Note) -> dict[str, Any]:
    return {
        "project": note.project,
        "provider": note.provider,
        "result": note.result,
        "status": note.status,
        **note.fields,
    }
