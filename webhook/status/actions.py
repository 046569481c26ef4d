"""Actions on environments, each behind the bearer token: operator lock and unlock."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from webhook.status.auth import require_token
from webhook.status.context import context, problem
from webhook.status.locking import LockConflict, lock_environment, unlock_environment

actions = Blueprint("status_actions", __name__, url_prefix="/api/environments")


def _unknown(project: str, environment: str) -> bool:
    known = context().settings.projects.get(project)
    return known is None or environment not in known.environments


@actions.post("/<project>/<environment>/lock")
@require_token
def lock(project: str, environment: str) -> ResponseReturnValue:
    """Hold the environment: no deploy starts there until it is unlocked."""
    if _unknown(project, environment):
        return problem(404, f"no environment {project}/{environment} in the configuration")
    body = request.get_json(silent=True)
    reason = body.get("reason") if isinstance(body, dict) else None
    target = f"{project}/{environment}"
    try:
        held = lock_environment(context().connection, target, reason)
    except ValueError as error:
        return problem(400, str(error))
    except LockConflict as error:
        return problem(409, str(error))
    return jsonify(target=target, lock=asdict(held))


@actions.post("/<project>/<environment>/unlock")
@require_token
def unlock(project: str, environment: str) -> ResponseReturnValue:
    """Release an operator lock; a lock held by a running deploy is refused with 409."""
    if _unknown(project, environment):
        return problem(404, f"no environment {project}/{environment} in the configuration")
    target = f"{project}/{environment}"
    try:
        previous = unlock_environment(context().connection, target)
    except LockConflict as error:
        return problem(409, str(error))
    return jsonify(target=target, lock={"state": "free"}, previous=asdict(previous))
