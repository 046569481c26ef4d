"""The `restore` stage: a rollback the operator asked to take the database back with it."""

from __future__ import annotations

from pathlib import Path

from jobs.database.restore import restore_database
from jobs.execution.context import DeployContext
from jobs.failures.errors import StageFailed
from jobs.offsite.fetch import local_or_offsite
from jobs.runbook.stages.retiring import wait_gone
from jobs.runbook.stages.swap import swap


def wants_restore(ctx: DeployContext) -> bool:
    """A rollback the operator asked to take the database back too (`restore_backup`)."""
    return bool(ctx.deploy.restore_backup) and ctx.environment.database is not None


def restore_requested(ctx: DeployContext) -> None:
    """Stop the writers, restore the chosen backup, start them again (after the swap)."""
    backup = local_or_offsite(ctx, Path(str(ctx.deploy.restore_backup)))
    if not backup.is_file():
        raise StageFailed("restore", f"expected the backup {backup} to exist, got no such file")
    ctx.log.info(f"restoring {backup}: the writes made since it was taken are kept aside first")
    wait_gone(ctx)  # draining old containers are writers too: gone before the writers stop
    restore_database(ctx, backup)
    swap(ctx, "restore")
