"""Queue a deploy by hand: a ref, the same commit again, or a rollback.

Every one becomes an ordinary deploy record and RQ job through `jobs.state.submit.submit`, so it
takes the environment lock, backs up, checks out, health-checks and reports like a push.
"""

from __future__ import annotations

from config import Settings
from jobs.operations.resolve_ref import resolve_ref
from jobs.operations.rollback import RollbackPlan, plan_rollback
from jobs.operations.targets import OperationError, parse_target
from jobs.state import Connection
from jobs.state.lastgood import read_last_good
from jobs.state.records import Deploy, DeployStore, RecordError
from jobs.state.submit import DeployRequest, Submitted, submit

HISTORY_SCAN = 500  # how far back a rollback looks for its target


def queue_deploy(
    connection: Connection,
    settings: Settings,
    target: str,
    ref: str | None,
    sender: str,
    force: str | None = None,
    remote_timeout: float | None = None,
) -> Deploy:
    """Resolve `ref` on the environment's remote and queue a manual deploy of it.

    `force`: the operator's reason for passing the release gates, recorded on the deploy.
    `remote_timeout`: seconds to wait for the remote (default: the environment's fetch timeout).
    """
    environment = parse_target(settings, target)
    kind, name, sha = resolve_ref(environment, ref, remote_timeout)
    return _submit(connection, settings, DeployRequest(
        environment.project_name, environment.name, kind, name, sha, "manual", sender=sender,
        override_reason=override_reason(force),
    ))  # fmt: skip


def queue_redeploy(
    connection: Connection,
    settings: Settings,
    deploy_id: str,
    sender: str,
    force: str | None = None,
) -> Deploy:
    """Queue the commit and ref of an earlier deploy again."""
    earlier = get_deploy(connection, deploy_id)
    parse_target(settings, earlier.target)  # still configured?
    return _submit(connection, settings, DeployRequest(
        earlier.project, earlier.environment, earlier.ref_kind, earlier.ref_name, earlier.sha,
        "manual", sender=sender, redeploy_of=earlier.id,
        override_reason=override_reason(force),
    ))  # fmt: skip


def override_reason(force: str | None) -> str | None:
    """The reason given with --force, refused when empty: an override must say why."""
    if force is None:
        return None
    reason = " ".join(force.split())
    if not reason:
        raise OperationError("--force needs a reason, e.g. --force 'hotfix for incident 42'")
    return reason[:500]


def rollback_plan(
    connection: Connection, settings: Settings, target: str, to: str | None
) -> RollbackPlan:
    environment = parse_target(settings, target)
    history = DeployStore(connection).history(environment.target, limit=HISTORY_SCAN)
    last_good = read_last_good(connection, environment.target) or {}
    plan = plan_rollback(history, last_good.get("deploy_id"), to)
    if environment.database is None:
        return RollbackPlan(plan.target, plan.over, None)
    return plan


def queue_rollback(
    connection: Connection, settings: Settings, plan: RollbackPlan, restore: bool, sender: str
) -> Deploy:
    """Queue the rollback `plan` describes; `restore`: its backup is restored after the swap."""
    target = plan.target
    if restore and plan.restore_backup is None:
        raise OperationError(
            "there is no backup to restore for this rollback (no deploy since the target "
            "took one): roll back without restoring the database"
        )
    return _submit(connection, settings, DeployRequest(
        target.project, target.environment, target.ref_kind, target.ref_name, target.sha,
        "rollback", sender=sender, rollback_to=target.id,
        restore_backup=plan.restore_backup if restore else None,
    ))  # fmt: skip


def get_deploy(connection: Connection, deploy_id: str) -> Deploy:
    try:
        return DeployStore(connection).get(deploy_id)
    except RecordError as error:
        raise OperationError(f"{error}: list deploys with `deployhook history`") from None


def _submit(connection: Connection, settings: Settings, request: DeployRequest) -> Deploy:
    result = submit(connection, settings, [request])
    if not isinstance(result, Submitted):  # no delivery id is given, so this cannot happen
        raise OperationError("the deploy was not queued: try again")
    return result.deploys[0]
