"""Put the previous version back after a failed deploy, step by step, never stopping early.

The steps and their order are data (UNDO in jobs/runbook/table.py): restore the database
only when it changed (the migrate stage's fingerprints differ, or could not be compared, or
the operator asked for a restore): stop the writers fast, keep the database as it is, restore
(jobs/database/restore.py); then return the checkout to the previous commit, point image names
back at the previous images, start them without a build (the services whose image changed
first, jobs/runbook/revert_start.py), then prove health and that the previous images really
run. A step that fails is logged and the rest still run; any failure makes the outcome
`revert_failed`.
"""

from __future__ import annotations

from jobs.database.keep import dump_kept_aside
from jobs.database.standby import discard
from jobs.database.watch import settle_database_change
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed, LockLost
from jobs.failures.finder import lines_that_matter
from jobs.runbook.table import Done, to_undo
from jobs.swarm import is_swarm

UNCHANGED = "database unchanged: not restored"


def revert(ctx: DeployContext) -> list[str]:
    """Undo what the deploy changed; returns the problems (empty when fully reverted)."""
    problems: list[str] = []
    settle_database_change(ctx)  # whether to restore follows from it
    done = what_was_done(ctx)
    if not done.restores and ctx.deploy.database_change == "unchanged":
        ctx.log.info(f"revert: {UNCHANGED}")
    for step in to_undo(done):
        ctx.log.info(f"revert: {step.name}")
        try:
            step.action(ctx)
        except LockLost:
            raise  # another deploy owns the environment now: change nothing more
        except Exception as error:  # noqa: BLE001 - compensation keeps going and reports all
            detail = str(error)
            if isinstance(error, CommandFailed) and error.output_tail:
                detail += " (" + " | ".join(lines_that_matter(error.output_tail)) + ")"
            problems.append(f"{step.name}: {detail}")
            ctx.log.info(f"revert: {step.name} FAILED: {detail}")
    # Off the critical path: the previous version serves already. Neither step can fail the
    # revert; both say in the log and the record where the kept writes are.
    dump_kept_aside(ctx)
    discard(ctx)
    return problems


def what_was_done(ctx: DeployContext) -> Done:
    return Done(
        started=frozenset(stage.name for stage in ctx.deploy.stages),
        swarm=is_swarm(ctx.environment),
        has_database=ctx.environment.database is not None,
        database_change=ctx.deploy.database_change,
        has_backup=bool(ctx.backup),
        has_previous=bool(ctx.previous_sha),
    )
