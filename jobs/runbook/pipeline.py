"""The deploy, top to bottom, as the runbook it replaces.

gates -> lock -> snapshot -> fetch -> [paths] -> [secrets] -> [hooks] -> backup -> [offsite]
  (+ standby restore in the background, jobs/database/standby.py) -> checkout
  -> [write secrets] -> build|pull
  -> [rehearse] -> [migrate if before_swap] -> swap -> [restore]
  -> [migrate if after_swap, the default] -> [hooks] -> health -> [hooks] -> commit
gates (jobs/gates/): promote_from and wait_for_checks end it `blocked`, windows hold it
[hooks] (jobs/runbook/deploy_hooks.py): the environment's before_backup, after_migrate,
after_health hooks
a webhook whose commit is live already, or older than live: `superseded` after the fetch
on failure after the backup: revert (jobs/runbook/revert.py), then report reverted or revert_failed;
  a failed rehearsal puts back checkout and image names only and ends `failed`
an operator's lock: the deploy stays queued on the environment's held list (jobs/state/held.py)
[secrets]: SOPS files of the new commit decrypted (in memory), written after the checkout
[offsite]: with backups.offsite, the backup copied with restic (jobs/offsite/copy.py)
[restore]: only for a rollback the operator asked to take the database back with it
lost the lock (any changing command is fenced by it): stop at once, end `interrupted`
[paths]: with `paths:`, a push that changed no watched file ends `skipped` here (jobs/triggers)
"""

from __future__ import annotations

from config import Settings
from jobs.database.keep import dump_kept_aside
from jobs.database.restore import prepare_restore
from jobs.database.standby import discard
from jobs.execution.context import DeployContext, new_context, secret_values
from jobs.execution.deploylog import DeployLog
from jobs.failures.errors import LockLost, LockTimeout, NothingToDeploy, OperatorHold, StageFailed
from jobs.gates import pass_gates
from jobs.offsite.copy import copy_backup, wants_offsite
from jobs.runbook.deploy_hooks import has_hooks, run_hooks
from jobs.runbook.freshness import worker_reason
from jobs.runbook.outcome import finish_failed, finish_interrupted, revert_after, stage
from jobs.runbook.revert import restore_requested, wants_restore
from jobs.runbook.stages.backup import take_backup
from jobs.runbook.stages.build import build
from jobs.runbook.stages.checkout import checkout, fetch_and_verify
from jobs.runbook.stages.commit import commit_point
from jobs.runbook.stages.health import wait_healthy
from jobs.runbook.stages.migrate import migrate, migrates_before_swap
from jobs.runbook.stages.pull import pull
from jobs.runbook.stages.rehearse import rehearse, wants_rehearsal
from jobs.runbook.stages.snapshot import take_snapshot
from jobs.runbook.stages.swap import swap
from jobs.secrets.decrypt import decrypt_secrets, install_secrets, wants_secrets
from jobs.state import Connection
from jobs.state.held import hold
from jobs.state.locks import EnvironmentLock, LockOwner
from jobs.state.records import Deploy, DeployStore
from jobs.state.submit import superseded
from jobs.state.workers import worker_name
from jobs.swarm import is_swarm
from jobs.swarm.images import build_and_push
from jobs.triggers.paths import check_watched_paths, filters

LOCK_WAIT_SECONDS = 3600.0


def deploy(deploy_id: str, settings: Settings, connection: Connection) -> str:
    store = DeployStore(connection, keep_days=settings.history.keep_days)
    record = store.get(deploy_id)
    if record.state != "queued":
        return record.state  # already handled (a re-run of the same job does nothing)
    log = DeployLog(store, record.id, secret_values(settings))
    if not pass_gates(connection, settings, record, log, lambda: superseded(connection, record)):
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
        if superseded(connection, record):
            log.info("a newer push for this environment is queued: skipping this one")
            store.transition(record, "superseded")
            return record.state
        ctx = new_context(record, settings, store, log, lock)
        try:
            run_stages(ctx)
        except LockLost as lost:
            finish_interrupted(ctx, lost)
        finally:
            ctx.close()
        return ctx.deploy.state
    finally:
        lock.release()


def take_lock(
    connection: Connection, lock: EnvironmentLock, record: Deploy, log: DeployLog
) -> None:
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
    store.transition(record, "running", worker=worker_name())
    try:
        stage(ctx, "snapshot", take_snapshot)
        stale = stage(ctx, "fetch", fetch)
        if stale:
            ctx.log.info(f"not deploying {record.sha[:12]}: {stale}")
            store.transition(record, "superseded", error=stale)
            return
        if filters(ctx):
            stage(ctx, "paths", check_watched_paths)
        if wants_secrets(ctx):
            stage(ctx, "secrets", decrypt_secrets)  # SOPS files, decrypted before any change
        hooks(ctx, "before_backup")
        stage(ctx, "backup", take_backup)
        if wants_offsite(ctx):
            stage(ctx, "offsite", copy_backup)  # off the host, before anything changes
        prepare_restore(ctx)  # a head start for a revert that would restore (in the background)
    except StageFailed as failure:
        finish_failed(ctx, failure, "failed", "nothing was changed")
        return
    except NothingToDeploy as reason:
        ctx.log.info(f"not deployed: {reason}; nothing was changed")
        store.transition(record, "skipped", error=str(reason))
        return
    try:
        stage(ctx, "checkout", checkout)
        if ctx.plaintexts is not None:
            stage(ctx, "write secrets", install_secrets)
        # images: pull: CI built them; the build stage pulls and pins them by digest instead.
        # A swarm: built once on the worker's engine and pushed, or resolved in the registry.
        if is_swarm(ctx.environment):
            stage(ctx, "build", build_and_push)
        else:
            stage(ctx, "build", pull if ctx.environment.images == "pull" else build)
        if wants_rehearsal(ctx):
            stage(ctx, "rehearse", rehearse)
        # A rollback that restores the database migrates after its restore, whatever `when` says.
        before = migrates_before_swap(ctx) and not wants_restore(ctx)
        if before:
            stage(ctx, "migrate", migrate)
            hooks(ctx, "after_migrate")
        stage(ctx, "swap", swap)
        if wants_restore(ctx):
            stage(ctx, "restore", restore_requested)
        if not before:
            stage(ctx, "migrate", migrate)
            hooks(ctx, "after_migrate")
        stage(ctx, "health", wait_healthy)
        hooks(ctx, "after_health")
        stage(ctx, "commit", commit_point)
        # A rollback's restore renamed the live database aside: dumped before the reports,
        # so that they name the kept file.
        dump_kept_aside(ctx)
        store.transition(record, "succeeded")
    except StageFailed as failure:
        revert_after(ctx, failure)
    finally:
        discard(ctx)  # the standby restore, when no revert used it


def fetch(ctx: DeployContext) -> str | None:
    """Fetch and verify; then why a webhook's commit must not deploy (live or older), or None."""
    fetch_and_verify(ctx)
    return worker_reason(ctx)


def hooks(ctx: DeployContext, point: str) -> None:
    """The environment's hooks at `point`, as a stage of their own when there are any."""
    if has_hooks(ctx, point):
        stage(ctx, f"{point} hooks", lambda ctx: run_hooks(ctx, point))
