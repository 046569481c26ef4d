"""The deploy, top to bottom, as the runbook it replaces.

The stages, the conditions each runs under and what a failure in each puts back are one table,
jobs/runbook/table.py; this module passes the gates, takes the lock and runs that table:
gates -> lock -> snapshot -> fetch -> [paths] -> [secrets] -> [hooks] -> backup -> [offsite]
  (+ in the background: the standby restore and the migration's first fingerprint,
  jobs/database/head_start.py) -> checkout
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

from collections.abc import Callable, Iterable
from typing import Any

from config import Settings
from jobs.database.head_start import start_after_backup
from jobs.database.keep import dump_kept_aside
from jobs.database.standby import discard
from jobs.execution.context import DeployContext, new_context, secret_values
from jobs.execution.deploylog import DeployLog
from jobs.failures.errors import LockLost, LockTimeout, NothingToDeploy, OperatorHold, StageFailed
from jobs.gates import Candidate, Meanwhile, decide
from jobs.gates.waiting import SUPERSEDED
from jobs.runbook.outcome import Ending, failed, interrupted, revert_after, stage
from jobs.runbook.table import BEFORE_CHANGES, CHANGES, Condition, Stage, planned
from jobs.state import Connection
from jobs.state.held import hold, hold_for_window
from jobs.state.locks import EnvironmentLock, LockOwner
from jobs.state.records import Deploy, DeployStore, State
from jobs.state.submit import superseded
from jobs.state.workers import worker_name

LOCK_WAIT_SECONDS = 3600.0


def deploy(deploy_id: str, settings: Settings, connection: Connection) -> str:
    store = DeployStore(connection, keep_days=settings.history.keep_days)
    record = read(store, deploy_id)
    if record.state != "queued":
        return record.state  # already handled (a re-run of the same job does nothing)
    log = DeployLog(store, record.id, secret_values(settings))

    def newer() -> bool:  # a newer push for this environment is queued
        return superseded(connection, record)

    if not pass_gates(connection, settings, record, log, newer, store):
        # Blocked, held for a window, superseded while it waited, or run by another copy.
        return read(store, record.id).state
    lock = EnvironmentLock(connection, record.target, LockOwner.for_deploy(record.id, "deploy"))
    try:
        take_lock(connection, lock, record, log)
    except LockTimeout as error:
        return end(store, record, log, "cancelled", error=str(error))
    except OperatorHold:
        return record.state  # still queued; `deployhook unlock` queues it again
    try:
        current = read(store, record.id).state
        if current != "queued":
            return current  # another run of this job started it while this one waited
        if newer():
            return end(store, record, log, "superseded", says=SUPERSEDED.says)
        ctx = new_context(record, settings, store, log, lock)
        try:
            run_stages(ctx)
        except LockLost as lost:
            finish(store, record, log, interrupted(record.stages, lost))
        finally:
            ctx.close()
        return ctx.deploy.state
    finally:
        lock.release()


def read(store: DeployStore, deploy_id: str) -> Deploy:
    """The stored record: during a long wait another run of the same job (queued again by an
    unlock or a restart) may have moved it on, and a stale copy must not overwrite that."""
    return store.get(deploy_id)


def end(store: DeployStore, record: Deploy, log: DeployLog, state: State, says: str = "",
        **changes: Any) -> str:  # fmt: skip
    """The one place the runbook moves the record on (a stage's end is recorded by stage())."""
    if says:
        log.info(says)
    store.transition(record, state, **changes)
    return record.state


def finish(store: DeployStore, record: Deploy, log: DeployLog, ending: Ending) -> str:
    return end(store, record, log, ending.state, ending.says, **ending.changes)


def pass_gates(
    connection: Connection,
    settings: Settings,
    record: Deploy,
    log: DeployLog,
    newer: Callable[[], bool],
    store: DeployStore | None = None,
) -> bool:
    """True when the deploy may go on; otherwise what the gates decided is on the record:
    blocked, superseded, or held for a window (still queued), or another run has it."""
    store = store or DeployStore(connection, keep_days=settings.history.keep_days)

    def taken() -> bool:
        return read(store, record.id).state != "queued"

    def waiting(what: str) -> None:
        # Who waits: a worker that dies mid-wait leaves the deploy queued; the next worker
        # on this host queues it again (jobs/gates/waker.py requeue_interrupted_waits).
        note(store, record, waiting_for=what, worker=worker_name())

    candidate = Candidate(
        record.project,
        record.environment,
        record.sha,
        rollback=record.trigger == "rollback",
        override_reason=record.override_reason,
        sender=record.sender,
    )
    decision = decide(settings, store, log, candidate, Meanwhile(newer, taken, waiting))
    if decision.outcome == "go":
        if (record.waiting_for, record.worker) != (None, None) and not taken():
            # e.g. held for a window that is open now: it waits for nothing any more
            note(store, record, waiting_for=None, worker=None, event=False)
        return True
    if decision.outcome == "held":
        note(store, record, waiting_for=decision.reason, worker=record.worker)
        if decision.opens is not None:  # the gates hold only until a window they found
            hold_for_window(connection, record.target, record.id, decision.opens)
        log.info(decision.says)
    elif decision.outcome == "taken":
        log.info(decision.says)
    else:
        state: State = "blocked" if decision.outcome == "blocked" else "superseded"
        why = {"error": decision.reason, "blocked_by": decision.gate} if state == "blocked" else {}
        end(store, record, log, state, decision.says, waiting_for=None, worker=None, **why)
    return False


def note(
    store: DeployStore,
    record: Deploy,
    *,
    waiting_for: str | None,
    worker: str | None,
    event: bool = True,
) -> None:
    """What a queued deploy waits for, and which worker waits: with `event`, the reporters
    are told (pages and commit statuses show it)."""
    record.waiting_for, record.worker = waiting_for, worker
    if event:
        store.note(record)
    else:
        store.save(record)


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
        except OperatorHold as held:
            if hold(connection, record.target, record.id):
                log.info(f"not started: {held}")
                raise
            # The operator unlocked between our look and our note: try the lock again.


def run_stages(ctx: DeployContext) -> None:
    """The stages of jobs/runbook/table.py in order: before the changes, then the changes."""
    store, record, log = ctx.store, ctx.deploy, ctx.log
    end(store, record, log, "running", worker=worker_name())

    def holds(condition: Condition) -> bool:
        return condition(ctx)

    try:
        stale = run_steps(ctx, planned(BEFORE_CHANGES, holds))
        if stale:
            says = f"not deploying {record.sha[:12]}: {stale}"
            end(store, record, log, "superseded", says, error=str(stale))
            return
        # In the background: the migration's first fingerprint, and the standby restore a
        # revert would use (jobs/database/head_start.py).
        start_after_backup(ctx)
    except StageFailed as failure:
        finish(store, record, log, failed(failure, "failed", "nothing was changed"))
        return
    except NothingToDeploy as reason:
        says = f"not deployed: {reason}; nothing was changed"
        end(store, record, log, "skipped", says, error=str(reason))
        return
    try:
        run_steps(ctx, planned(CHANGES, holds))
        # A rollback's restore renamed the live database aside: dumped before the reports,
        # so that they name the kept file.
        dump_kept_aside(ctx)
        end(store, record, log, "succeeded")
    except StageFailed as failure:
        finish(store, record, log, revert_after(ctx, failure))
    finally:
        discard(ctx)  # the standby restore, when no revert used it


def run_steps(ctx: DeployContext, steps: Iterable[Stage]) -> object:
    """Each step as a recorded stage, in order; what a superseding step found stale, if any."""
    for step in steps:
        stale = stage(ctx, step.name, step.action)
        if step.supersedes and stale:
            return stale
    return None
