"""Actions on environments, for deployers and admins: lock, unlock, deploy and roll back.

Deploy and rollback queue an ordinary deploy (the same pipeline, lock and reports as a push)
and answer 202 with its id; GET /api/deploys and the log endpoint follow it from there.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from config.targets import target_of
from jobs.operations.queueing import queue_deploy, queue_rollback, rollback_plan
from jobs.operations.targets import OperationError
from jobs.state import RedisError
from jobs.state.operator_lock import LockConflict, lock_environment, unlock_environment
from jobs.state.records import Deploy
from jobs.state.submit import QueueUnavailable
from webhook.auth import auth_context, current_identity
from webhook.status.context import context, problem

log = logging.getLogger("deployhook.audit")
actions = Blueprint("status_actions", __name__, url_prefix="/api/environments")
# A manual deploy asks the remote for its ref inside the request; a slow remote must not hold
# the request (or a gunicorn worker) for the fetch timeout's 300 s. A full SHA needs no asking.
REMOTE_SECONDS = 10


def _sender() -> str:
    identity = current_identity()
    return f"{identity.name if identity else '?'} via the status API"


@actions.after_request
def _audit(response: Response) -> Response:
    """Every action a signed-in caller attempts is recorded, refused ones too."""
    identity = current_identity()
    if identity is not None and request.endpoint and request.view_args is not None:
        body = response.get_json(silent=True) if response.is_json else None
        deploy_id = body.get("deploy_id") if isinstance(body, dict) else None
        target = target_of(
            str(request.view_args.get("project", "?")),
            str(request.view_args.get("environment", "?")),
        )
        try:
            auth_context().audit(
                request.endpoint.rsplit(".", 1)[-1], identity.name, target=target,
                outcome=str(response.status_code), method=identity.method, role=identity.role,
                detail=str(deploy_id or ""),
            )  # fmt: skip
        except RedisError:
            # The action is done (or was refused); its answer must not turn into a 503 now.
            log.error(
                "audit: could not record %s by %s on %s", request.endpoint, identity.name, target
            )
    return response


def _unknown(project: str, environment: str) -> bool:
    known = context().settings.projects.get(project)
    return known is None or environment not in known.environments


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _queued(deploy: Deploy) -> ResponseReturnValue:
    answer = jsonify(
        deploy_id=deploy.id,
        target=deploy.target,
        ref=f"{deploy.ref_kind} {deploy.ref_name}",
        sha=deploy.sha,
        trigger=deploy.trigger,
        restore_backup=deploy.restore_backup,
    )
    answer.status_code = 202
    answer.headers["Location"] = f"/deploys/{deploy.id}"
    return answer


@actions.post("/<project>/<environment>/lock")
def lock(project: str, environment: str) -> ResponseReturnValue:
    """Hold the environment: no deploy starts there until it is unlocked."""
    target = target_of(project, environment)
    if _unknown(project, environment):
        return problem(404, f"no environment {target} in the configuration")
    try:
        held = lock_environment(context().connection, target, _body().get("reason"))
    except ValueError as error:
        return problem(400, str(error))
    except LockConflict as error:
        return problem(409, str(error))
    return jsonify(target=target, lock=asdict(held))


@actions.post("/<project>/<environment>/unlock")
def unlock(project: str, environment: str) -> ResponseReturnValue:
    """Release an operator lock and queue again the deploys it held; 409 while a deploy runs."""
    target = target_of(project, environment)
    if _unknown(project, environment):
        return problem(404, f"no environment {target} in the configuration")
    ctx = context()
    try:
        previous, requeued = unlock_environment(ctx.connection, ctx.settings, target)
    except LockConflict as error:
        return problem(409, str(error))
    return jsonify(
        target=target, lock={"state": "free"}, previous=asdict(previous), requeued=requeued
    )


@actions.post("/<project>/<environment>/deploy")
def deploy(project: str, environment: str) -> ResponseReturnValue:
    """Queue a deploy of `ref` (branch, tag or full SHA; null: the trigger's newest)."""
    target = target_of(project, environment)
    if _unknown(project, environment):
        return problem(404, f"no environment {target} in the configuration")
    ref, force = _body().get("ref"), _body().get("force")
    if ref is not None and not isinstance(ref, str):
        return problem(400, 'ref must be a string or null, e.g. {"ref": "main"}')
    if force is not None and not isinstance(force, str):
        return problem(400, 'force must be a reason or null, e.g. {"force": "hotfix for #42"}')
    ctx = context()
    try:
        queued = queue_deploy(
            ctx.connection,
            ctx.settings,
            target,
            ref,
            _sender(),
            force,
            current_app.config.get("ACTION_REMOTE_SECONDS", REMOTE_SECONDS),
        )
    except OperationError as error:
        return problem(422, str(error))
    except QueueUnavailable as error:
        return problem(503, str(error))
    return _queued(queued)


@actions.post("/<project>/<environment>/rollback")
def rollback(project: str, environment: str) -> ResponseReturnValue:
    """Queue a rollback to `to` (null: the previous good deploy); restore the database if asked."""
    target = target_of(project, environment)
    if _unknown(project, environment):
        return problem(404, f"no environment {target} in the configuration")
    body = _body()
    to, restore = body.get("to"), body.get("restore_database", False)
    if to is not None and not isinstance(to, str):
        return problem(400, "to must be a deploy id or null")
    if not isinstance(restore, bool):
        return problem(400, "restore_database must be true or false")
    ctx = context()
    try:
        plan = rollback_plan(ctx.connection, ctx.settings, target, to)
        queued = queue_rollback(ctx.connection, ctx.settings, plan, restore, _sender())
    except OperationError as error:
        return problem(422, str(error))
    except QueueUnavailable as error:
        return problem(503, str(error))
    return _queued(queued)
