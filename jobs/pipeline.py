"""The deploy, top to bottom, as the runbook it replaces.

gates -> lock -> snapshot -> fetch -> [paths] -> [hooks] -> backup -> checkout -> build
  -> [rehearse] -> swap -> [restore] -> migrate -> [hooks] -> health -> [hooks] -> commit
gates (jobs/gates/): promote_from and wait_for_checks end it `blocked`, windows hold it
[hooks] (jobs/hooks.py): the environment's before_backup, after_migrate, after_health hooks
a webhook whose commit is live already, or older than live: `superseded` after the fetch
on failure after the backup: revert (jobs/revert.py), then report reverted or revert_failed;
  a failed rehearsal puts back checkout and image names only and ends `failed`
an operator's lock: the deploy stays queued on the environment's held list (jobs/held.py)
[restore]: only for a rollback the operator asked to take the database back with it
[paths]: with `paths:`, a push that changed no watched file ends `skipped` here (jobs/triggers)
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import TypeVar

from redis import Redis

from config import Settings
from jobs.commands.compose import Compose, detect_compose
from jobs.context import DeployContext, command_environ
from jobs.deploylog import DeployLog
from jobs.errors import LockTimeout, NothingToDeploy, OperatorHold, StageFailed
from jobs.freshness import worker_reason
from jobs.gates import pass_gates
from jobs.held import hold
from jobs.hooks import has_hooks, run_hooks
from jobs.lock import EnvironmentLock, LockOwner
from jobs.record import Deploy, DeployStore, Outcome, StageRecord, State, utcnow
from jobs.redistext import as_text
from jobs.revert import restore_requested, revert, wants_restore
from jobs.runner import Runner
from jobs.stages.backup import take_backup
from jobs.stages.build import build
from jobs.stages.checkout import checkout, fetch_and_verify
from jobs.stages.commit import commit_point
from jobs.stages.health import wait_healthy
from jobs.stages.migrate import migrate
from jobs.stages.pull import pull
from jobs.stages.rehearse import rehearse, wants_rehearsal
from jobs.stages.snapshot import take_snapshot
from jobs.stages.swap import swap
from jobs.submit import latest_queued_key
from jobs.triggers.paths import check_watched_paths, filters

logger = logging.getLogger("deployhook.pipeline")
T = TypeVar("T")
LOCK_WAIT_SECONDS = 3600.0


def deploy(deploy_id: str, settings: Settings, connection: Redis) -> str:
    store = DeployStore(connection)
    record = store.get(deploy_id)
    if record.state != "queued":
        return record.state  # already handled (a re-run of the same job does nothing)
    log = DeployLog(store, record.id, secret_values(settings))
    if not pass_gates(connection, settings, record, log, lambda: _superseded(connection, record)):
        # Blocked, held for a window, superseded while it waited, or run by another copy.
        return store.get(record.id).state
    lock = EnvironmentLock(connection, record.target, LockOwner.for_deploy(record.id, "deploy"))
    try:
        take_lock(connection, lock, record, log)
    except LockTimeout as error:
        store.transition(record, "cancelled", error=str(error))
        return record.state
    except OperatorHold as held:
        log.info(f"not started: {held}")
        return record.state  # still queued; `deployhook unlock` queues it again
    try:
        current = store.get(record.id).state
        if current != "queued":
            return current  # another run of this job started it while this one waited
        if _superseded(connection, record):
            log.info("a newer push for this environment is queued: skipping this one")
            store.transition(record, "superseded")
            return record.state
        ctx = new_context(record, settings, store, log)
        try:
            run_stages(ctx)
        finally:
            ctx.close()
        return ctx.deploy.state
    finally:
        lock.release()


def take_lock(connection: Redis, lock: EnvironmentLock, record: Deploy, log: DeployLog) -> None:
    """Wait for another deploy (bounded); on an operator's lock, join the held list instead."""
    while True:
        try:
            lock.acquire(
                LOCK_WAIT_SECONDS,
                on_wait=lambda holder: log.info(f"waiting: {holder.describe()}"),
                hold_on_operator=True,
            )
            return
        except OperatorHold:
            if hold(connection, record.target, record.id):
                raise
            # The operator unlocked between our look and our note: try the lock again.


def run_stages(ctx: DeployContext) -> None:
    store, record = ctx.store, ctx.deploy
    store.transition(record, "running", worker=f"{socket.gethostname()}:{os.getpid()}")
    try:
        stage(ctx, "snapshot", take_snapshot)
        stale = stage(ctx, "fetch", fetch)
        if stale:
            ctx.log.info(f"not deploying {record.sha[:12]}: {stale}")
            store.transition(record, "superseded", error=stale)
            return
        if filters(ctx):
            stage(ctx, "paths", check_watched_paths)
        hooks(ctx, "before_backup")
        stage(ctx, "backup", take_backup)
    except StageFailed as failure:
        finish_failed(ctx, failure, "failed", "nothing was changed")
        return
    except NothingToDeploy as reason:
        ctx.log.info(f"not deployed: {reason}; nothing was changed")
        store.transition(record, "skipped", error=str(reason))
        return
    try:
        stage(ctx, "checkout", checkout)
        # images: pull: CI built them; the build stage pulls and pins them by digest instead.
        stage(ctx, "build", pull if ctx.environment.images == "pull" else build)
        if wants_rehearsal(ctx):
            stage(ctx, "rehearse", rehearse)
        stage(ctx, "swap", swap)
        if wants_restore(ctx):
            stage(ctx, "restore", restore_requested)
        stage(ctx, "migrate", migrate)
        hooks(ctx, "after_migrate")
        stage(ctx, "health", wait_healthy)
        hooks(ctx, "after_health")
        stage(ctx, "commit", commit_point)
    except StageFailed as failure:
        revert_after(ctx, failure)
        return
    store.transition(record, "succeeded")


def fetch(ctx: DeployContext) -> str | None:
    """Fetch and verify; then why a webhook's commit must not deploy (live or older), or None."""
    fetch_and_verify(ctx)
    return worker_reason(ctx)


def revert_after(ctx: DeployContext, failure: StageFailed) -> None:
    ctx.log.info(f"{failure.stage} failed: {failure}; reverting to {str(ctx.previous_sha)[:12]}")
    problems = stage(ctx, "revert", revert)
    after = after_revert_hooks(ctx)
    if problems:
        detail = "; ".join(problems)
        where = (
            f"the database was restored from {ctx.deploy.restored_backup}"
            if ctx.deploy.restored_backup
            else f"backup to restore by hand: {ctx.backup or 'none taken'}"
        )
        ctx.deploy.extra["revert_error"] = detail
        finish_failed(
            ctx,
            failure,
            "revert_failed",
            f"REVERT FAILED, needs a human: {detail}. {where}{after}",
        )
        return
    if failure.stage == "rehearse":
        # Nothing running had changed: the checkout and image names are back as they were.
        finish_failed(ctx, failure, "failed", f"nothing was changed (rehearsal on a copy){after}")
        return
    restored = (
        f"; database restored from {ctx.deploy.restored_backup} (writes since the backup were "
        "discarded)"
        if ctx.deploy.restored_backup
        else ""
    )
    finish_failed(
        ctx, failure, "reverted", f"reverted to {str(ctx.previous_sha)[:12]}{restored}{after}"
    )


def finish_failed(ctx: DeployContext, failure: StageFailed, state: State, outcome: str) -> None:
    message = f"{failure.stage} failed: {failure} -> {outcome}"
    ctx.log.info(message)
    ctx.store.transition(ctx.deploy, state, error=message, failed_stage=failure.stage)


def hooks(ctx: DeployContext, point: str) -> None:
    """The environment's hooks at `point`, as a stage of their own when there are any."""
    if has_hooks(ctx, point):
        stage(ctx, f"{point} hooks", lambda ctx: run_hooks(ctx, point))


def after_revert_hooks(ctx: DeployContext) -> str:
    """Run the after_revert hooks as a stage; a failure is only reported: " (after_revert ...)"."""
    if not has_hooks(ctx, "after_revert"):
        return ""
    try:
        stage(ctx, "after_revert hooks", lambda ctx: run_hooks(ctx, "after_revert"))
    except StageFailed as failed:
        ctx.log.info(f"after_revert hooks: {failed} (reported only; the outcome stands)")
        return f" (after_revert hooks: {failed})"
    return ""


def stage(ctx: DeployContext, name: str, action: Callable[[DeployContext], T]) -> T:
    """Run one stage, recording start, end and outcome; any error becomes StageFailed."""
    entry = StageRecord(name=name, started_at=utcnow())
    ctx.deploy.stages.append(entry)
    ctx.save()
    ctx.log.info(f"== {name}")
    try:
        result = action(ctx)
    except NothingToDeploy as reason:
        _finish(ctx, entry, "skipped", str(reason))
        raise
    except StageFailed as failure:
        failure.stage = name  # the pipeline's stage, whichever helper raised it
        _finish(ctx, entry, "failed", str(failure))
        raise
    except Exception as error:
        logger.exception("stage %s of %s raised", name, ctx.deploy.id)
        _finish(ctx, entry, "failed", f"{type(error).__name__}: {error}")
        raise StageFailed(name, f"{type(error).__name__}: {ctx.log.mask(str(error))}") from error
    _finish(ctx, entry, "ok", "")
    return result


def _finish(ctx: DeployContext, entry: StageRecord, outcome: Outcome, detail: str) -> None:
    entry.finished_at = utcnow()
    entry.outcome = outcome
    entry.detail = ctx.log.mask(detail)[:2000]
    ctx.save()


def new_context(
    record: Deploy, settings: Settings, store: DeployStore, log: DeployLog
) -> DeployContext:
    environment = settings.environment(record.project, record.environment)
    compose = Compose.for_environment(environment, detect_compose(environment.compose.command))
    return DeployContext(
        deploy=record,
        settings=settings,
        environment=environment,
        store=store,
        log=log,
        runner=Runner(log, command_environ(environment)),
        compose=compose,
    )


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, so the deploy log can mask them wherever they show up."""
    found: list[str] = []

    def walk(node: object) -> None:
        from config.secrets import Secret

        if isinstance(node, Secret):
            found.append(node.reveal())
        elif hasattr(node, "__pydantic_fields__"):
            for field in type(node).__pydantic_fields__:
                walk(getattr(node, field))
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(settings)
    return found


def _superseded(connection: Redis, record: Deploy) -> bool:
    newest = connection.get(latest_queued_key(record.target))
    newest_id = as_text(newest) if newest is not None else None
    return newest_id is not None and newest_id != record.id and record.trigger != "rollback"
