"""Off-site retention: `restic forget --prune` with the local backups' keep_count and keep_days.

Runs after every successful deploy (beside the local retention, at the commit point) and, with
`retention_every`, on the worker's schedule (jobs/offsite/schedule.py). Never raises: a copy
that stays longer than it should costs space, not data; the failure is logged.
"""

from __future__ import annotations

from jobs.commands import restic
from jobs.execution.context import DeployContext
from jobs.failures.errors import CommandFailed
from jobs.offsite.repository import OffsiteError, offsite_of, run_restic


def forget_old_copies(ctx: DeployContext) -> bool:
    """Forget and prune what the retention no longer keeps; whether that worked."""
    offsite = offsite_of(ctx.tools)
    if offsite is None:
        return True
    keep = ctx.environment.backups
    argv = restic.forget(offsite, ctx.deploy.target, keep.keep_count, keep.keep_days)
    try:
        run_restic(ctx.tools, argv, quiet=True)
    except (CommandFailed, OffsiteError, OSError) as error:
        ctx.log.info(f"off-site retention failed (the copies stay for now): {error}")
        return False
    ctx.log.info(
        f"off-site retention: kept the newest {keep.keep_count} and those of the last "
        f"{keep.keep_days} days"
    )
    return True
